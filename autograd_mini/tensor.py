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

    __slots__ = ("data", "grad", "requires_grad", "name", "scope", "_op", "_parents", "_params", "__weakref__")
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

    @staticmethod
    def _from_op(data: np.ndarray, op: Op | None, parents: tuple, params: dict) -> "Tensor":
        """Fast constructor for op results: no copy, no conversion."""
        t = object.__new__(Tensor)
        t.data = data
        t.grad = None
        t.name = None
        t.scope = _scope
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
        """Add d(self)/d(leaf) into every leaf's `.grad` (accumulating, as PyTorch does)."""
        if not self.requires_grad:
            raise GraphError(
                f"backward: this tensor (shape {self.shape}) does not require grad: none of the "
                f"tensors it was computed from had requires_grad=True, or it was computed inside no_grad()")
        if gradient is None:
            if self.data.size != 1:
                raise GraphError(
                    f"backward: output has shape {self.shape}; a gradient can be created implicitly only "
                    f"for a scalar output. Pass gradient= an array of shape {self.shape} (d loss / d output)")
            seed = np.ones_like(self.data)
        else:
            seed = as_float_array(_value(gradient))
            if seed.shape != self.shape:
                raise ShapeError(f"backward: gradient has shape {seed.shape} but the output has shape {self.shape}")
        if create_graph:
            seed = Tensor(seed)
        backprop([self], [seed], retain_graph=retain_graph or create_graph, create_graph=create_graph,
                 accumulate_leaves=True)

    def retain_graph_nodes(self) -> list["Tensor"]:
        """Every tensor of the recorded graph that requires grad, inputs before outputs."""
        return topological_order([self])


def _value(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


class Op:
    """A primitive: a name (for errors and pictures), a NumPy forward and its vector-Jacobian product.

    `vjp(g, ans, *inputs, **params)` returns one gradient per input (None where there is none),
    each of the *broadcast* shape; the engine sums it back to the input's shape in one place.
    `explain(*arrays, **params)` is asked, only after forward fails, for a sentence naming the rule broken.
    """

    __slots__ = ("name", "forward", "vjp", "explain", "__weakref__")

    def __init__(self, name: str, forward: Callable[..., np.ndarray], vjp: Callable[..., tuple],
                 explain: Callable[..., str] | None = None) -> None:
        self.name, self.forward, self.vjp, self.explain = name, forward, vjp, explain

    def __repr__(self) -> str:
        return f"Op({self.name!r})"

    def __call__(self, *inputs: Any, **params: Any) -> Tensor:
        dtype = next((x.data.dtype for x in inputs if isinstance(x, Tensor)), np.float64)
        tensors = tuple(x if isinstance(x, Tensor) else constant(x, dtype) for x in inputs)
        arrays = [t.data for t in tensors]
        try:
            out = self.forward(*arrays, **params)
        except (ValueError, IndexError) as error:
            shapes = " and ".join(str(a.shape) for a in arrays)
            reason = self.explain(*arrays, **params) if self.explain else str(error)
            raise ShapeError(f"{self.name}: inputs of shape {shapes}: {reason}") from error
        if _grad_enabled and any(t.requires_grad for t in tensors):
            return Tensor._from_op(out, self, tensors, params)
        return Tensor._from_op(out, None, (), None)


def constant(value: Any, dtype: Any = np.float64) -> Tensor:
    """A tensor that needs no grad; a Python number takes the dtype of the tensor it meets."""
    if isinstance(value, (int, float, bool)):
        return Tensor._from_op(np.asarray(value, dtype=dtype), None, (), None)
    array = np.asarray(value)
    if array.dtype.kind == "b":  # masks take the dtype of the tensor they scale
        return Tensor._from_op(array.astype(dtype), None, (), None)
    return Tensor._from_op(as_float_array(array), None, (), None)


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
    """Tensors that require grad, each after all its inputs; iterative, so deep graphs are fine."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(r, False) for r in reversed(roots)]
    while stack:
        t, inputs_done = stack.pop()
        if inputs_done:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        if t._op is not None:
            if t._parents is None:
                raise GraphError(
                    f"backward: the graph through '{t._op.name}' (output shape {t.shape}) was already freed by "
                    f"an earlier backward(); call backward(retain_graph=True) the first time to go through it again")
            for p in reversed(t._parents):
                if p.requires_grad and id(p) not in seen:
                    stack.append((p, False))
    return order


def backprop(roots: Sequence[Tensor], seeds: Sequence[Any], *, retain_graph: bool = False,
             create_graph: bool = False, accumulate_leaves: bool = True,
             capture: Iterable[Tensor] = ()) -> dict[int, Any]:
    """The reverse sweep. Returns the total gradient of every tensor in `capture`, by id.

    With `accumulate_leaves`, leaf gradients are added into `.grad` (as NumPy arrays).
    With `create_graph`, gradients are Tensors recorded in a graph of their own.
    """
    order = topological_order(roots)
    wanted = {id(t) for t in capture}
    captured: dict[int, Any] = {}
    grads: dict[int, Any] = {}
    owned: set[int] = set()  # gradient arrays we allocated, so adding into them in place is safe
    for root, seed in zip(roots, seeds):
        _accumulate(grads, owned, root, seed, create_graph)
    mode = enable_grad() if create_graph else contextlib.nullcontext()
    with mode:
        for t in reversed(order):
            g = grads.pop(id(t), None)
            if g is None:
                continue
            owned.discard(id(g))  # its id may be reused by a new array once g is gone
            if id(t) in wanted:
                captured[id(t)] = g
            if t._op is None:
                if accumulate_leaves:
                    _add_to_leaf(t, g)
                continue
            parents = t._parents
            if create_graph:
                input_grads = t._op.vjp(g, t, *parents, **t._params)
            else:
                input_grads = t._op.vjp(g, t.data, *[p.data for p in parents], **t._params)
            for p, gp in zip(parents, input_grads):
                if gp is None or not p.requires_grad:
                    continue
                if gp.shape != p.data.shape:
                    gp = unbroadcast(gp, p.data.shape)
                _accumulate(grads, owned, p, gp, create_graph)
    if not retain_graph:
        for t in order:
            if t._op is not None:
                t._parents, t._params = None, None
    return captured


def _accumulate(grads: dict, owned: set, t: Tensor, g: Any, create_graph: bool) -> None:
    key = id(t)
    previous = grads.get(key)
    if previous is None:
        grads[key] = g
    elif create_graph:
        grads[key] = previous + g
    elif id(previous) in owned and previous.shape == g.shape:
        previous += g
    else:
        total = previous + g
        owned.add(id(total))
        grads[key] = total


def _add_to_leaf(t: Tensor, g: Any) -> None:
    g = _value(g)
    if t.grad is None:
        t.grad = np.array(np.broadcast_to(g, t.data.shape), dtype=t.data.dtype)  # a copy we own
    else:
        np.add(t.grad, g, out=t.grad, casting="same_kind")
