"""The autograd_mini contenders, for any step workload: eager (record, backward, update) and traced."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .harness import Factory, Missing, Problem


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

        def grads() -> dict[str, np.ndarray]:
            _, fresh, fn = make(pb)
            fn(*fresh).backward()
            return dict(zip(pb.params, (p.grad for p in fresh)))

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

        def grads() -> dict[str, np.ndarray]:
            _, fresh, fn = make(pb)
            am.trace(fn, fresh)()
            return dict(zip(pb.params, (p.grad.copy() for p in fresh)))

        return step, grads
    return factory
