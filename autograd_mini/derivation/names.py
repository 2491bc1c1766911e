"""Pass 3 of `derive`: names."""
from __future__ import annotations

import builtins
import keyword
import re

import numpy as np

from ..tensor import Op
from .program import Program, Value

_RESERVED = set(keyword.kwlist) | {"np", "step", "loss", "rebind", "refuse"}


def _identifier(text: str) -> str:
    text = re.sub(r"\W", "_", text)
    return f"_{text}" if not text or text[0].isdigit() or text in _RESERVED else text


def name_values(program: Program) -> None:
    """Inputs by their names; results by op kind in forward order; gradients as d_<what>."""
    rec = program.rec
    taken = set(_RESERVED) | {function_name(v.op) for v in program.values if v.kind == "op"}
    counters: dict[str, int] = {}

    def give(value: Value, name: str) -> None:
        if value.name and value.kind != "input":
            return
        base, n = name, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        value.name = name

    def by_kind(value: Value) -> None:
        kind = {"sum": "total", "mean": "average", "pow": "power", "abs": "absolute"}.get(value.op.name, value.op.name)
        counters[kind] = counters.get(kind, 0) + 1
        give(value, f"{_identifier(kind)}_{counters[kind]}")

    for value in program.inputs:
        value.name = ""
        give(value, _identifier(value.name or rec.names[value.index]))
    for grad, name in zip(program.grads, rec.names):
        if grad is not None and grad.kind == "op" and not grad.view:
            give(grad, f"d_{_identifier(name)}")
    if program.loss.kind == "op":
        give(program.loss, "loss_value")
    for rate in program.rates:
        give(rate, "lr")
    forward = [v for v in program.values if v.kind == "op" and any(id(t) in rec.forward for t in v.nodes)]
    for value in forward:
        by_kind(value)
    for value in forward:  # the gradient of a forward result
        g = rec.grad_of.get(id(value.nodes[0]))
        if g is not None and id(g) in program.of and program.of[id(g)].kind == "op":
            give(program.of[id(g)], f"d_{value.name}")
    for value in program.values:
        if value.kind == "op" and not value.name:
            by_kind(value)
        elif value.kind == "const" and not value.name:
            give(value, _constant_name(value.array))


_SCALAR_NAMES = {1.0: "one", 2.0: "two", 0.5: "half", -1.0: "minus_one", 0.0: "zero"}


def _constant_name(array: np.ndarray) -> str:
    if array.ndim == 0 and float(array) in _SCALAR_NAMES:
        return _SCALAR_NAMES[float(array)]
    return "const"


_BUILTINS = set(dir(builtins))


def function_name(op: Op) -> str:
    """How generated code calls an op's forward: NumPy's ufuncs by their NumPy name, others by the op's."""
    if isinstance(op.forward, np.ufunc):
        return f"np.{op.forward.__name__}"
    name = _identifier(op.name)
    return f"{name}_" if name in _BUILTINS else name
