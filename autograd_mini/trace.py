"""`am.trace(loss_fn, params)`: record one training step once, then run it compiled.

    step = am.trace(loss_fn, [w0, w1])    # loss_fn(w0, w1) -> scalar Tensor
    for _ in range(steps):
        loss = step()                      # forward and backward; sets w.grad; returns the loss (float)
        for w in (w0, w1):
            w.data -= lr * w.grad

`trace` is `am.derive` without an update rule (one mechanism: see derivation/ for how the step is
recorded, simplified and compiled, and `derived.source` for the code that runs). Calling the
result runs the step and returns the loss as a float; the numbers are eager's, bit for bit.

What is read anew at every call: each parameter's array, and the array of every Tensor that
`loss_fn` uses but did not create, however it reaches it (through data-only ops such as `X.T.T`,
or a data tensor that requires grad): assign `x.data = next_batch` to feed new data.
Constants `loss_fn` creates itself and arrays it captures (listed on `.constants`) are fixed at
trace time; a captured array changed in place since is refused at the next call (derive again).
Shapes and dtypes are fixed too: a call refuses, naming the tensor, when one changes.
Masks (`x > 0`), `where`'s condition, sort orders, argmax positions, class labels and Tensor clip
bounds are ops recomputed at every call. A value Python reads while tracing (`if (x > 0).any()`,
`.item()`, `t.numpy()`, a Tensor index) raises a `TraceWarning`: the step would keep it.
Gradients are *set*, not accumulated: after `step()`, `w.grad` is this step's gradient (a buffer
the next call overwrites; copy it to keep it); one thread runs a step at a time. See docs/compiled-step.md.
"""
from __future__ import annotations

from typing import Callable, Sequence

from .derivation import Derived, DeriveError, TraceWarning, derive  # noqa: F401 (TraceWarning: public here too)
from .tensor import Tensor

TraceError = DeriveError  # the name this module has always raised
TracedStep = Derived


def trace(loss_fn: Callable[..., Tensor], params: Sequence[Tensor]) -> Derived:
    """Record `loss_fn(*params)` and its gradient once; return a callable that runs both, compiled."""
    return derive(loss_fn, params)
