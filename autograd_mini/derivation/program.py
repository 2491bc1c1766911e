"""Pass 2 of `derive`: the program: values, simplified as they are built."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

try:
    from numpy.lib.array_utils import byte_bounds
except ImportError:  # NumPy < 2
    byte_bounds = np.byte_bounds  # type: ignore[attr-defined]

from .. import ops
from ..tensor import Op, Tensor, walk
from .record import _WATCHED, Binding, Recording, _bits
from .refusals import DeriveError


@dataclass(eq=False)
class Value:
    """One result of the step (or an input, or a constant)."""
    kind: str                        # "input", "const" or "op"
    array: Any                       # its value when recorded (a constant's value; shape and dtype for all)
    op: Any = None                   # the Op of kind "op" (read only there; None for the others)
    args: tuple = ()
    params: dict = field(default_factory=dict)
    view: bool = False               # shares memory with an argument (transpose, reshape, broadcast_to)
    index: int = -1                  # an input's position
    into: Value | None = None        # write the result into this input's array (the update)
    name: str = ""
    nodes: list = field(default_factory=list)  # the graph nodes it stands for
    captured: bool = False           # a constant array loss_fn did not build from Python numbers

    shape = property(lambda self: np.shape(self.array))
    dtype = property(lambda self: np.asarray(self.array).dtype)


@dataclass(eq=False)
class Captured:
    """An array `loss_fn` holds (from a closure, a global, a model's attribute), a list of numbers, or a
    Tensor it copies (`am.Tensor(t)`): a constant of the step. Its bits when derived are kept, and
    compared at every call."""
    name: str
    source: Any                   # the array, list or Tensor as loss_fn holds it
    copy: Any = None              # a copy of its array made already (the step's own), if any
    array: Any = None             # its array when derived
    shape: tuple = ()
    saved: Any = None             # its bits: bytes when small (a compare of bytes costs far less than array_equal)

    def __post_init__(self) -> None:
        self.array = self.current()
        self.shape = self.array.shape
        if self.array.nbytes <= 1 << 16:
            self.saved = self.array.tobytes()
        else:  # (a large array: compared with the step's own copy where it has one, not with a third)
            self.saved = _bits(self.copy if self.copy is not None else self.array.copy())

    def current(self) -> np.ndarray:
        if isinstance(self.source, Tensor):
            return self.source._data
        return self.source if isinstance(self.source, np.ndarray) else np.asarray(self.source)

    def changed(self) -> str | None:
        """How it changed since the step was derived, or None."""
        now = self.current()
        if isinstance(self.source, Tensor) and now is not self.array:
            return "was assigned a new array"
        if isinstance(self.saved, bytes):
            same = now.shape == self.shape and now.dtype == self.array.dtype and now.tobytes() == self.saved
        else:
            same = now.shape == self.shape and np.array_equal(_bits(now), self.saved)
        return None if same else "changed in place"


class Program:
    """The values of one step in an order that computes each after its arguments."""

    def __init__(self, rec: Recording) -> None:
        self.rec = rec
        self.values: list[Value] = []
        self.of: dict[int, Value] = {}          # id(graph node) -> its value
        self._shared: dict[Any, Value] = {}     # common-subexpression table
        self.rates: list[Value] = []            # the update's learning rates (named lr)
        self.update: Any = None                 # the optimizer compiled into the step, if any
        self.captured: dict[int, Captured] = {} # id(array) -> an array loss_fn holds, checked at every call
        self.bindings: dict[tuple, Binding] = {}  # the names it reads values by, checked at every call
        self.inputs = [self._add(Value("input", t._data, index=i, name=rec.names[i])) for i, t in enumerate(rec.inputs)]
        for t, v in zip(rec.inputs, self.inputs):
            self.of[id(t)] = v
            v.nodes.append(t)
        roots = [rec.loss, *rec.aux.values(), *[g for g in rec.grads if g is not None]]
        for t in walk(roots, grad_only=False):
            if id(t) not in self.of:
                value = self._value_of(t)
                value.nodes.append(t)
                self.of[id(t)] = value
        # an array loss_fn's code names is watched even where only NumPy used it (`(fixed * 2) @ w`
        # hands the step a new array computed from it)
        for b in rec.reached:
            if b.direct and isinstance(b.value, np.ndarray):
                self.watch(b.value)
        # a name rebound to another value (`scale = 2.0`, `X = am.Tensor(...)`) would leave the step with the old one
        self.bindings = {(b.name, id(b.value)): b for b in rec.reached
                         if b.read is not None and isinstance(b.value, _WATCHED)}
        self.loss = self.of[id(rec.loss)]
        self.aux = {name: self.of[id(t)] for name, t in rec.aux.items()}
        self.grads = [None if g is None else self.of[id(g)] for g in rec.grads]

    def _add(self, value: Value) -> Value:
        self.values.append(value)
        return value

    def _value_of(self, t: Tensor) -> Value:
        if t.op is None:
            if id(t) in self.rec.impure:
                raise DeriveError(f"derive: the VJP of '{self.rec.impure[id(t)]}' uses its inputs' values as a plain "
                                  f"array (a mask or sign, shape {t.shape}), which a compiled step would not update; "
                                  f"this op cannot be derived yet, train it in eager mode")
            held = self.rec.sources.get(id(t), ())
            # the step keeps its own copy of an array it shares with the user (loss() may run after a change)
            shared = any(np.may_share_memory(t._data, s._data if isinstance(s, Tensor) else s) for s in held
                         if isinstance(s, (Tensor, np.ndarray)))
            array = _private_copy(t._data) if shared else t._data
            for source in held:  # (the copy of the user's very array is the one its checks compare with)
                self.watch(source, array if source is t._data else None)
            value = self.constant(array)
            value.captured = value.captured or (id(t) in self.rec.forward and t._data.ndim > 0)
            return value
        parents = t.parents
        args = tuple(self.of[id(p)] for p in parents)
        params = {key: self.private(value) for key, value in t.op_params.items()}
        view = any(isinstance(p._data, np.ndarray) and np.may_share_memory(t._data, p._data) for p in parents)
        if all(_fixed(a) for a in args) and not view:
            return self.constant(t._data)  # computed from constants only: once, now (views stay, as `X.T`)
        simpler = _simplify(t.op, args, t._data)
        if simpler is not None:
            return simpler
        return self.operation(t.op, args, params, t._data, view)

    def private(self, param: Any) -> Any:
        """An op's parameter with the arrays in it (an index array loss_fn holds, `w[rows]`) watched and
        copied: as fixed as a constant."""
        if isinstance(param, tuple):
            return tuple(self.private(p) for p in param)
        if not isinstance(param, np.ndarray):
            return param
        self.watch(param)
        return _private_copy(param)

    def watch(self, source: Any, copy: np.ndarray | None = None) -> None:
        """Check `source` (an array, a list of numbers or a Tensor loss_fn holds) at every call (against
        `copy`, a copy of the array made already, if given)."""
        array = source._data if isinstance(source, Tensor) else np.asarray(source)
        key = id(source) if isinstance(source, (list, tuple)) else id(array)
        if key in self.captured or array.dtype.kind not in "biufc":
            return
        held = {id(source), id(getattr(array, "base", None))}
        name = next((b.name for b in self.rec.reached if id(b.value) in held), None)
        if name is None and isinstance(source, Tensor) and source.name:
            name = source.name
        label = (f"'{name}'" if name else "held by loss_fn") + f" (shape {array.shape}, {array.dtype})"
        self.captured[key] = Captured(label, source, copy)

    def constant(self, array: Any) -> Value:
        array = np.asarray(array)
        key = ("const", array.shape, array.dtype.str, array.tobytes()) if array.size <= 16 else None
        if key is not None and key in self._shared:
            return self._shared[key]
        value = self._add(Value("const", array))
        if key is not None:
            self._shared[key] = value
        return value

    def rate(self, lr: np.ndarray) -> Value:
        """A learning rate: a constant of its own (named lr, never shared with a 1.0 elsewhere)."""
        for rate in self.rates:
            if rate.array.shape == lr.shape and rate.array.dtype == lr.dtype and np.array_equal(rate.array, lr):
                return rate
        self.rates.append(self._add(Value("const", lr)))
        return self.rates[-1]

    def operation(self, op: Op, args: tuple, params: dict, array: Any, view: bool = False) -> Value:
        key = _params_key(params)
        key = None if key is None else (id(op), tuple(id(a) for a in args), key)
        if key is not None and key in self._shared:
            return self._shared[key]
        value = self._add(Value("op", array, op, args, params, view))
        if key is not None:
            self._shared[key] = value
        return value


def _private_copy(array: np.ndarray) -> np.ndarray:
    """A copy with the very strides of `array` (transposed, reversed, with gaps): eager's sums follow
    them, so the step reads its copy in the same order as eager reads the original."""
    low, high = byte_bounds(array)
    buffer = np.empty(max(1, -(-(high - low) // array.itemsize)), array.dtype)
    start = (array.__array_interface__["data"][0] - low) // array.itemsize
    copy = np.lib.stride_tricks.as_strided(buffer[start:], array.shape, array.strides)
    np.copyto(copy, array)
    return copy


def _fixed(v: Value) -> bool:
    """A constant, or a view of constants (kept as a view, e.g. `X.T`, but as fixed as they are)."""
    return v.kind == "const" or (v.kind == "op" and v.view and all(_fixed(a) for a in v.args))


def _params_key(params: dict) -> Any:
    try:
        key = tuple(sorted(params.items()))
        hash(key)
        return key
    except TypeError:  # an index array: no sharing
        return None


def _power_of_two(value: Value) -> float | None:
    """The factor of a constant (or a view of constants: the all-ones seed of a `.sum()` loss, broadcast)
    that is one power of two everywhere (scaling by it is exact)."""
    if not _fixed(value) or value.array.size == 0 or value.array.dtype.kind != "f":
        return None
    first = value.array.flat[0]
    if not np.isfinite(first) or first == 0 or not np.all(value.array == first):
        return None
    return float(first) if abs(math.frexp(float(first))[0]) == 0.5 else None


def _simplify(op: Op, args: tuple, result: Any) -> Value | None:
    """`x * 1` -> x, `a * (b * x)` -> x when the powers of two a·b = 1, `x ** 1` -> x (IEEE pow(x, 1)
    is x, NaN included: the gradient of `x ** 2` is `2 * x`); None when nothing applies."""
    if (op is ops.pow_op or op.forward is np.power) and len(args) == 2 and _power_of_two(args[1]) == 1:
        return args[0] if _same_layout(args[0], result) else None
    if op is not ops.mul:
        return None
    for scale_at in (0, 1):
        scale, other = _power_of_two(args[scale_at]), args[1 - scale_at]
        if scale is None:
            continue
        if scale == 1 and _same_layout(other, result):
            return other
        if other.kind == "op" and other.op is ops.mul:
            for inner_at in (0, 1):
                inner = _power_of_two(other.args[inner_at])
                x = other.args[1 - inner_at]
                if inner is not None and scale * inner == 1 and _same_layout(x, result):
                    return x
    return None


def _same_layout(value: Value, result: Any) -> bool:
    return value.shape == np.shape(result) and value.dtype == np.asarray(result).dtype
