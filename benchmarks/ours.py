"""The autograd_mini contenders, for any step workload: eager (record, backward, update), traced
(`am.trace`: the compiled forward and backward, the update in Python, the loss every step) and
compiled (`am.derive` with the SGD update inside the step, the loss not computed)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .harness import Factory, Missing, Problem, _import


def _am_eager(make: Callable) -> Factory:
    def factory(pb: Problem):
        am, params, loss_fn = make(pb)
        lr = pb.lr

        def step() -> Any:
            loss = loss_fn(*params)
            loss.backward()
            for p in params:
                p.data -= lr * p.grad
                p.grad = None
            return loss

        grads = _fresh_gradients(make, pb, lambda fn, fresh: fn(*fresh).backward())
        step.weights = lambda: dict(zip(pb.params, (p.data for p in params)))  # type: ignore[attr-defined]
        return step, grads
    return factory


def _am_compiled(make: Callable, backend: str = "numpy") -> Factory:
    def factory(pb: Problem):
        if backend != "numpy":
            _import("numba")  # (Missing when it is not installed or hidden)
        am, params, loss_fn = make(pb)
        derived = am.derive(loss_fn, params, update=am.optim.SGD(params, lr=pb.lr), backend=backend)
        if derived.backend != backend:
            raise Missing(f"the {backend} back end falls back: {derived.fallback_reason}")
        run = step = derived.function
        if backend != "numpy":  # (a bound method: a function of our own carries the attributes below)
            def step() -> None:
                run()

        grads = _fresh_gradients(make, pb, lambda fn, fresh: am.derive(fn, fresh)())
        step.state_bytes = derived.buffer_bytes  # type: ignore[attr-defined]  # preallocated: counted as peak
        step.weights = lambda: dict(zip(pb.params, (p.data for p in params)))  # type: ignore[attr-defined]
        return step, grads
    return factory


def _am_traced(make: Callable) -> Factory:
    def factory(pb: Problem):
        am, params, loss_fn = make(pb)
        if not hasattr(am, "trace"):
            raise Missing("autograd_mini.trace not available")
        replay = am.trace(loss_fn, params)
        lr = pb.lr

        def step() -> Any:
            loss = replay()
            for p in params:
                p.data -= lr * p.grad
            return loss

        step.state_bytes = replay.buffer_bytes  # type: ignore[attr-defined]  # preallocated: counted as peak
        step.weights = lambda: dict(zip(pb.params, (p.data for p in params)))  # type: ignore[attr-defined]
        return step, _fresh_gradients(make, pb, lambda fn, fresh: am.trace(fn, fresh)())
    return factory


def _fresh_gradients(make: Callable, pb: Problem, run: Callable) -> Callable[[], dict[str, np.ndarray]]:
    """The check's gradients: `run(loss_fn, params)` on fresh parameters at the starting weights,
    then each parameter's `.grad` (copied: a compiled step reuses its buffers)."""
    def grads() -> dict[str, np.ndarray]:
        _, fresh, fn = make(pb)
        run(fn, fresh)
        return dict(zip(pb.params, (p.grad.copy() for p in fresh)))
    return grads
