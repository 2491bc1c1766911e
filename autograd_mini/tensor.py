"""The engine: Tensor, the Op mechanism, and the reverse-mode graph walk.

Nothing here knows any op by name. An op is an `Op(name, forward, vjp)`: `forward` maps NumPy
arrays to a NumPy array, `vjp(g, ans, *inputs, **params)` returns one gradient per input.
The op table lives in `ops.py`.

A VJP is written once and runs in two modes: on plain arrays (ordinary backward, fast) and on
Tensors (`create_graph=True`), where the same arithmetic records a differentiable graph of the
gradient, so derivatives of derivatives need no second set of rules.

Gradients accumulate into leaves' `.grad` across backward calls (the PyTorch convention): call
`zero_grad()` (or an optimizer's) between steps.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from .errors import GraphError, ShapeError

_grad_enabled = True
_scope: str | None = None  # dotted name of the module being called, recorded on op results for pictures


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Within this block, ops record no graph (for evaluation and in-place parameter updates)."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


@contextlib.contextmanager
def enable_grad() -> Iterator[None]:
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, True
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled() -> bool:
    return _grad_enabled


@contextlib.contextmanager
def scope(name: str) -> Iterator[None]:
    """Label the ops recorded inside (nested scopes join with '.'), so pictures can group them."""
    global _scope
    previous = _scope
    _scope = name if previous is None else f"{previous}.{name}"
    try:
        yield
    finally:
        _scope = previous


def as_float_array(data: Any, copy: bool = False) -> np.ndarray:
    """float64 for numbers, lists, ints and bools; float32 stays float32."""
    array = np.array(data, copy=copy) if copy else np.asarray(data)
    if array.dtype == np.float64 or array.dtype == np.float32:
        return array
    if array.dtype.kind in "biuf":
        return array.astype(np.float64)
    raise TypeError(f"Tensor: cannot hold data of dtype {array.dtype}; expected numbers (float, int or bool)")


class Tensor:
    """A NumPy array that remembers the op that made it, so backward() can find gradients."""

    # `_visit` and `_pending` are the graph walk's scratch space: the token of the last walk that
    # reached this tensor, and the gradient collected for it during the current reverse sweep
    # (an attribute is cheaper than a dict keyed by id(), and is cleared as the sweep passes).
    __slots__ = ("data", "grad", "requires_grad", "name", "scope", "_op", "_parents", "_params",
                 "_visit", "_pending", "__weakref__")
    __array_ufunc__ = None  # `ndarray <op> Tensor` defers to Tensor's reflected operators
    __array_priority__ = 1000

    def __init__(self, data: Any, requires_grad: bool = False, name: str | None = None) -> None:
        self.data = as_float_array(data.data if isinstance(data, Tensor) else data, copy=True)
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self.scope = _scope
        self._op: Op | None = None
        self._parents: tuple[Tensor, ...] | None = ()
        self._params: dict | None = None
        self._visit: object = None
        self._pending: Any = None

    @staticmethod
    def _from_op(data: np.ndarray, op: Op | None, parents: tuple, params: dict) -> "Tensor":
        """Fast constructor for op results: no copy, no conversion."""
        t = object.__new__(Tensor)
        t.data = data
        t.grad = None
        t.name = None
        t.scope = _scope
        t._visit = t._pending = None
        if op is None:
            t.requires_grad, t._op, t._parents, t._params = False, None, (), None
        else:
            t.requires_grad, t._op, t._parents, t._params = True, op, parents, params
        return t

    # ---- array-like facts ------------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)
    op_name = property(lambda self: None if self._op is None else self._op.name)
    is_leaf = property(lambda self: self._op is None)

    def __len__(self) -> int:
        return len(self.data)

    def item(self) -> float:
        return self.data.item()

    def numpy(self) -> np.ndarray:
        return self.data

    def detach(self) -> "Tensor":
        """The same values, cut from the graph (shares memory, like PyTorch)."""
        return Tensor._from_op(self.data, None, (), None)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if self._op is not None and not requires_grad:
            raise GraphError(f"requires_grad_: cannot switch off gradients of a non-leaf tensor "
                             f"(made by '{self._op.name}'); use .detach() instead")
        self.requires_grad = requires_grad
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=6, separator=", ", prefix="tensor(")
        extras = []
        if self.dtype != np.float64:
            extras.append(f"dtype={self.dtype}")
        if self._op is not None:
            extras.append(f"op={self._op.name}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def __bool__(self) -> bool:
        return bool(self.data)

    def __hash__(self) -> int:  # identity hash: tensors are graph nodes, `==` is elementwise
        return id(self)

    # comparisons give plain boolean arrays: they have no useful derivative
    def __eq__(self, other: Any) -> np.ndarray:  # type: ignore[override]
        return self.data == _value(other)

    def __ne__(self, other: Any) -> np.ndarray:  # type: ignore[override]
        return self.data != _value(other)

    def __lt__(self, other: Any) -> np.ndarray:
        return self.data < _value(other)

    def __le__(self, other: Any) -> np.ndarray:
        return self.data <= _value(other)

    def __gt__(self, other: Any) -> np.ndarray:
        return self.data > _value(other)

    def __ge__(self, other: Any) -> np.ndarray:
        return self.data >= _value(other)

    # ---- reverse mode ----------------------------------------------------------------------
    def backward(self, gradient: Any = None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Add d(self)/d(leaf) into every leaf's `.grad` (accumulating, as PyTorch does).

        `.grad` is always a NumPy array, so optimizers and pictures never meet a graph.
        `create_graph=True` therefore cannot hand back a differentiable gradient here; it keeps the
        forward graph (it implies `retain_graph=True`), so it can be differentiated again, and the
        sweep itself runs on plain arrays. For gradients that are Tensors with a graph of their own
        (second and higher derivatives) use `am.autograd.grad(..., create_graph=True)`, or the
        transforms `am.grad`, `am.hessian`, `am.hvp`.
        """
        if not self.requires_grad:
            raise GraphError(
                f"backward: this tensor (shape {self.shape}) does not require grad: none of the "
                f"tensors it was computed from had requires_grad=True, or it was computed inside no_grad()")
        if gradient is None:
            if self.data.size != 1:
                raise GraphError(
                    f"backward: output has shape {self.shape}; a gradient can be created implicitly only "
                    f"for a scalar output. Pass gradient= an array of shape {self.shape} (d loss / d output)")
            dtype = self.data.dtype  # (np.array for 0-d: np.ones(()) costs ~1 us)
            seed = np.array(1, dtype=dtype) if self.data.ndim == 0 else np.ones(self.data.shape, dtype)
        else:
            seed = as_float_array(_value(gradient))
            if seed.shape != self.shape:
                raise ShapeError(f"backward: gradient has shape {seed.shape} but the output has shape {self.shape}")
        backprop([self], [seed], retain_graph=retain_graph or create_graph, accumulate_leaves=True)

    def retain_graph_nodes(self) -> list["Tensor"]:
        """Every tensor of the recorded graph that requires grad, inputs before outputs."""
        return topological_order([self])


def _value(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


class per_input:
    """A VJP given as one function per input, each `part(g, ans, *inputs, **params)` -> that input's
    gradient. Called whole it returns the tuple, like any VJP; the engine calls single parts."""

    __slots__ = ("parts",)

    def __init__(self, *parts: Callable[..., Any]) -> None:
        self.parts = parts

    def __call__(self, g: Any, ans: Any, *inputs: Any, **params: Any) -> tuple:
        return tuple([part(g, ans, *inputs, **params) for part in self.parts])


class Op:
    """A primitive: a name (for errors and pictures), a NumPy forward and its vector-Jacobian product.

    `vjp(g, ans, *inputs, **params)` returns one gradient per input (None where there is none),
    each of the *broadcast* shape; the engine sums it back to the input's shape in one place.
    `explain(*arrays, **params)` is asked, only after forward fails, for a sentence naming the rule broken.
    A `vjp` written as `per_input(vjp_x, vjp_y, ...)` lets the engine compute only the gradients of
    inputs that need one (no gradient for the data in `x @ w`).
    """

    __slots__ = ("name", "forward", "vjp", "explain", "vjp_parts", "__weakref__")

    def __init__(self, name: str, forward: Callable[..., np.ndarray], vjp: Callable[..., tuple],
                 explain: Callable[..., str] | None = None) -> None:
        self.name, self.forward, self.vjp, self.explain = name, forward, vjp, explain
        self.vjp_parts: tuple | None = vjp.parts if isinstance(vjp, per_input) else None

    def __repr__(self) -> str:
        return f"Op({self.name!r})"

    def __call__(self, *inputs: Any, **params: Any) -> Tensor:
        # The hot path of eager mode, so written flat: one- and two-Tensor calls skip the generic
        # conversion; no generator expressions; the result is built without __init__.
        if len(inputs) == 2:
            x, y = inputs
            if not isinstance(y, Tensor):  # x * 0.5: the number takes x's dtype
                x, y = inputs = (x, constant(y, x.data.dtype)) if isinstance(x, Tensor) else _as_tensors(inputs)
            elif not isinstance(x, Tensor):
                x = constant(x, y.data.dtype)
                inputs = (x, y)
            arrays: Sequence[np.ndarray] = (x.data, y.data)
            track = _grad_enabled and (x.requires_grad or y.requires_grad)
        elif len(inputs) == 1 and isinstance(inputs[0], Tensor):
            x = inputs[0]
            arrays = (x.data,)
            track = _grad_enabled and x.requires_grad
        else:
            inputs = _as_tensors(inputs)
            arrays = [t.data for t in inputs]
            track = _grad_enabled and any([t.requires_grad for t in inputs])
        try:
            out = self.forward(*arrays, **params)
        except (ValueError, IndexError) as error:
            shapes = " and ".join(str(a.shape) for a in arrays)
            reason = self.explain(*arrays, **params) if self.explain else str(error)
            raise ShapeError(f"{self.name}: inputs of shape {shapes}: {reason}") from error
        t = _new_tensor(Tensor)  # one statement per slot: cheaper than packing a tuple to unpack it
        t.data = out
        t.grad = t.name = t._visit = t._pending = None
        t.scope = _scope
        if track:
            t.requires_grad = True
            t._op = self
            t._parents = inputs
            t._params = params
        else:
            t.requires_grad = False
            t._op = t._params = None
            t._parents = ()
        return t


_new_tensor = object.__new__


def _as_tensors(inputs: tuple) -> tuple:
    """Inputs as Tensors; plain numbers and arrays become constants of the first Tensor's dtype."""
    dtype = np.float64
    for x in inputs:
        if isinstance(x, Tensor):
            dtype = x.data.dtype
            break
    return tuple([x if isinstance(x, Tensor) else constant(x, dtype) for x in inputs])


_number_constants: dict[tuple, Tensor] = {}  # (number, dtype) -> a shared read-only constant
_constants_log: list | None = None  # while a trace records: (constant, made from a Python number?)


def constant(value: Any, dtype: Any = np.float64) -> Tensor:
    """A tensor that needs no grad; a Python number takes the dtype of the tensor it meets."""
    if isinstance(value, (int, float, bool)):
        t = _number_constants.get((value, dtype))
        if t is None:
            array = np.asarray(value, dtype=dtype)
            array.flags.writeable = False
            t = Tensor._from_op(array, None, (), None)
            # zeros (0.0 == -0.0 as keys) and NaN (never equal) are not shared; the table stays small
            if value and value == value and len(_number_constants) < 1024:
                _number_constants[(value, dtype)] = t
        if _constants_log is not None:
            _constants_log.append((t, True))
        return t
    array = np.asarray(value)
    if array.dtype.kind == "b":  # masks take the dtype of the tensor they scale
        t = Tensor._from_op(array.astype(dtype), None, (), None)
    else:
        t = Tensor._from_op(as_float_array(array), None, (), None)
    if _constants_log is not None:
        _constants_log.append((t, False))
    return t


def unbroadcast(grad: Any, shape: tuple) -> Any:
    """Sum a gradient of a broadcast result back to the shape of the input that was broadcast."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def topological_order(roots: Sequence[Tensor]) -> list[Tensor]:
    """Tensors that require grad, each after all its inputs; iterative, so deep graphs are fine.

    The stack holds tensors to visit; a `None` on it means "the tensor below me has all its
    inputs placed": pop it into the order. A fresh token marks the tensors this walk has seen.
    """
    token = object()
    order: list[Tensor] = []
    stack: list[Tensor | None] = list(reversed(roots))
    while stack:
        t = stack.pop()
        if t is None:
            order.append(stack.pop())  # type: ignore[arg-type]
            continue
        if t._visit is token:
            continue
        t._visit = token
        if t._op is None:
            order.append(t)
            continue
        if t._parents is None:
            raise GraphError(
                f"backward: the graph through '{t._op.name}' (output shape {t.shape}) was already freed by "
                f"an earlier backward(); call backward(retain_graph=True) the first time to go through it again")
        stack.append(t)
        stack.append(None)
        for p in reversed(t._parents):
            if p.requires_grad and p._visit is not token:
                stack.append(p)
    return order


def backprop(roots: Sequence[Tensor], seeds: Sequence[Any], *, retain_graph: bool = False,
             create_graph: bool = False, accumulate_leaves: bool = True,
             capture: Iterable[Tensor] = (),
             vjp_overrides: dict[int, Callable[..., tuple]] | None = None) -> dict[int, Any]:
    """The reverse sweep. Returns the total gradient of every tensor in `capture`, by id.

    `vjp_overrides` maps id(tensor) to a VJP used for that node instead of its op's (the audit
    swaps in a catalogued hand-derivation mistake at one node and compares the result).

    With `accumulate_leaves`, leaf gradients are added into `.grad` (as NumPy arrays).
    With `create_graph`, gradients are Tensors recorded in a graph of their own.
    """
    order = topological_order(roots)
    wanted = {id(t) for t in capture}
    captured: dict[int, Any] = {}
    owned: set[int] = set()  # gradient arrays we allocated, so adding into them in place is safe
    try:
        for root, seed in zip(roots, seeds):
            root._pending = seed if root._pending is None else _combine(root._pending, seed, owned, create_graph)
        if create_graph:
            with enable_grad():
                _sweep(order, owned, wanted, captured, accumulate_leaves, True, vjp_overrides)
        else:
            _sweep(order, owned, wanted, captured, accumulate_leaves, False, vjp_overrides)
    except BaseException:
        for t in order:
            t._pending = None
        raise
    if not retain_graph:
        for t in order:
            if t._op is not None:
                t._parents, t._params = None, None
    return captured


def _sweep(order: list, owned: set, wanted: set, captured: dict, accumulate_leaves: bool,
           create_graph: bool, vjp_overrides: dict | None) -> None:
    """Walk `order` backwards, turning each node's total gradient into its inputs' (the hot loop)."""
    for t in reversed(order):
        g = t._pending
        if g is None:
            continue
        t._pending = None
        if owned:
            owned.discard(id(g))  # its id may be reused by a new array once g is gone
        if wanted and id(t) in wanted:
            captured[id(t)] = g
        op = t._op
        if op is None:
            if accumulate_leaves:
                _add_to_leaf(t, g)
            continue
        parents = t._parents
        vjp = op.vjp if vjp_overrides is None else vjp_overrides.get(id(t), op.vjp)
        if create_graph:
            input_grads = vjp(g, t, *parents, **t._params)
        elif op.vjp_parts is not None and vjp is op.vjp:  # only the parts whose input needs a gradient
            if len(parents) == 2:
                x, y = parents
                gx, gy = op.vjp_parts
                input_grads = (gx(g, t.data, x.data, y.data, **t._params) if x.requires_grad else None,
                               gy(g, t.data, x.data, y.data, **t._params) if y.requires_grad else None)
            else:
                arrays = [p.data for p in parents]
                input_grads = [part(g, t.data, *arrays, **t._params) if p.requires_grad else None
                               for part, p in zip(op.vjp_parts, parents)]
        elif len(parents) == 2:
            input_grads = vjp(g, t.data, parents[0].data, parents[1].data, **t._params)
        elif len(parents) == 1:
            input_grads = vjp(g, t.data, parents[0].data, **t._params)
        else:
            input_grads = vjp(g, t.data, *[p.data for p in parents], **t._params)
        for p, gp in zip(parents, input_grads):
            if gp is None or not p.requires_grad:
                continue
            shape = p.data.shape
            if gp.shape != shape:
                gp = unbroadcast(gp, shape)
            previous = p._pending
            p._pending = gp if previous is None else _combine(previous, gp, owned, create_graph)


def _combine(previous: Any, g: Any, owned: set, create_graph: bool) -> Any:
    """previous + g, in place when `previous` is an array this sweep allocated."""
    if create_graph:
        return previous + g
    if id(previous) in owned and previous.shape == g.shape:
        previous += g
        return previous
    total = previous + g
    if isinstance(total, np.ndarray):  # 0-d sums are NumPy scalars, which `+=` cannot change in place
        owned.add(id(total))
    return total


def _add_to_leaf(t: Tensor, g: Any) -> None:
    g = _value(g)
    if t.grad is None:
        if g.shape == t.data.shape:
            t.grad = np.array(g, dtype=t.data.dtype)  # a copy we own
        else:
            t.grad = np.array(np.broadcast_to(g, t.data.shape), dtype=t.data.dtype)
    else:
        np.add(t.grad, g, out=t.grad, casting="same_kind")
