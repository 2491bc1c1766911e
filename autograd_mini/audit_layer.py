"""The gradient audit of one layer, the way courses write it:

    out, cache = forward(x, w, b)
    dx, dw, db = backward(dout, cache)

    report = am.audit_layer(forward, backward, [x, w, b])

`backward` is a hand-written vector-Jacobian product. The audit runs `forward` on Tensors (the float
arrays among the inputs become parameters, the rest -- a dict of hyperparameters, integer labels --
is passed as given), and compares `backward(dout, cache)` with autodiff's VJP of `forward` for random
upstream gradients `dout`: it audits the scalar sum(out * dout), whose gradient is that VJP, with the
same verdicts and diagnosis as `am.audit`. A forward that draws random numbers (a dropout mask) is
run with NumPy's global random state reset before every call, so each call draws the same mask; the
state is put back afterwards.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .audit import AuditReport, audit
from .tensor import Tensor


def audit_layer(forward: Callable[..., tuple[Any, Any]], backward: Callable[[np.ndarray, Any], Any],
                inputs: Sequence[Any], *, names: Sequence[str] | None = None, draws: int = 3,
                n_random: int = 4, spread: float = 0.3, seed: int = 0) -> AuditReport:
    """Audit `backward(dout, cache) -> (d input, ...)` against autodiff's VJP of `forward(*inputs) -> (out, cache)`.

    inputs: forward's positional arguments. The float arrays are differentiated, in order; backward
            returns one gradient per float array, in the same order (a single array if there is one).
    names:  the float arrays' names in the report (default: forward's parameter names, e.g. x, w, b).
    draws:  how many random upstream gradients dout are tried; every one must get the same verdict.
    """
    arrays = [np.asarray(v) if isinstance(v, np.ndarray) else v for v in inputs]
    wanted = [i for i, v in enumerate(arrays) if isinstance(v, np.ndarray) and v.dtype.kind == "f"]
    if not wanted:
        raise TypeError("audit_layer: none of the inputs is a float array, so there is nothing to differentiate")
    labels = list(names) if names is not None else _argument_names(forward, len(arrays), wanted)
    if len(labels) != len(wanted):
        raise ValueError(f"audit_layer: {len(labels)} names for {len(wanted)} float inputs")
    state = np.random.get_state()
    try:
        def call(params: dict[str, Any]) -> tuple[Any, Any]:
            args = list(arrays)
            for i, name in zip(wanted, labels):
                args[i] = params[name]
            np.random.set_state(state)  # the same random draws (a dropout mask) at every call
            result = forward(*args)
            if not (isinstance(result, tuple) and len(result) == 2):
                raise TypeError(f"audit_layer: forward must return (out, cache), got {type(result).__name__}")
            return result

        out = np.asarray(call({name: arrays[i] for i, name in zip(wanted, labels)})[0])
        dtype = out.dtype if out.dtype.kind == "f" else np.dtype(np.float64)  # a float32 layer gets float32 douts
        rng = np.random.default_rng(seed)
        settings = {name: v for name, v in zip(_argument_names(forward, len(arrays), list(range(len(arrays)))), arrays)
                    if isinstance(v, (Mapping, float))}  # hyperparameters, to name a factor such as p
        reports = [_one_draw(call, backward, labels, {name: arrays[i] for i, name in zip(wanted, labels)},
                             rng.standard_normal(out.shape).astype(dtype), settings, n_random, spread, seed + k)
                   for k in range(draws)]
    finally:
        np.random.set_state(state)
    return _merged(reports)


def _argument_names(forward: Callable, count: int, wanted: list[int]) -> list[str]:
    try:
        parameters = list(inspect.signature(forward).parameters)
    except (TypeError, ValueError):
        parameters = []
    if len(parameters) >= count:
        return [parameters[i] for i in wanted]
    return [f"input{i}" for i in wanted]


def _one_draw(call: Callable, backward: Callable, labels: list[str], params: dict[str, np.ndarray],
              dout: np.ndarray, settings: dict[str, Any], n_random: int, spread: float, seed: int) -> AuditReport:
    def loss_fn(p: dict[str, Tensor], data: dict[str, Any]) -> Tensor:
        out = call(p)[0]
        if not isinstance(out, Tensor):
            raise TypeError(f"audit_layer: forward returned {type(out).__name__} as out for Tensor inputs: it left "
                            f"the graph (an ndarray operation on a Tensor, e.g. a write into an np.zeros buffer)")
        return (out * data["dout"]).sum()

    def rule(p: dict[str, np.ndarray], data: dict[str, Any]) -> dict[str, Any]:
        grads = backward(data["dout"], call(p)[1])
        grads = grads if isinstance(grads, (tuple, list)) else (grads,)
        if len(grads) != len(labels):
            raise ValueError(f"audit_layer: backward returned {len(grads)} gradients; expected {len(labels)}, "
                             f"one per float input ({', '.join(labels)}), in forward's order")
        return dict(zip(labels, grads))
    return audit(loss_fn, params, rule, data={**settings, "dout": dout}, n_random=n_random, spread=spread, seed=seed)


def _merged(reports: list[AuditReport]) -> AuditReport:
    """The first draw's report; a parameter whose kind differs in another draw takes that draw's
    (non-exact) verdict, and a note says so."""
    first, changed = reports[0], False
    for name in list(first.params):
        kinds = [r.params[name].kind for r in reports]
        if len(set(kinds)) > 1:
            worst = next(r.params[name] for r in reports if r.params[name].kind != "exact")
            first.params[name], changed = worst, True
            first.notes.append(f"{name}: the verdicts differ between upstream gradients ({', '.join(kinds)})")
    first.notes.append(f"Upstream gradients: {len(reports)} random draws of dout, each audited.")
    if changed:
        final_kinds = {p.kind for p in first.params.values()}
        first.kind = final_kinds.pop() if len(final_kinds) == 1 else "mixed"
    return first
