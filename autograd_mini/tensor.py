"""The engine: Tensor, the Op mechanism, and the reverse-mode graph walk.

Nothing here knows any op by name. An op is an `Op(name, forward, vjp)`: `forward` maps NumPy
arrays to a NumPy array, `vjp(g, ans, *inputs, **params)` returns one gradient per input.
The op table lives in `ops/` (one module per kind of op).

A VJP is written once and runs in two modes: on plain arrays (ordinary backward, fast) and on
Tensors (`create_graph=True`), where the same arithmetic records a differentiable graph of the
gradient, so derivatives of derivatives need no second set of rules.

Gradients accumulate into leaves' `.grad` across backward calls (the PyTorch convention): call
`zero_grad()` (or an optimizer's) between steps.

Shared state: grad mode, the scope label and the recording hooks are per thread; the graph walk
keeps its scratch state in local variables, never on the (possibly shared) nodes; writes through
`t.data = ...` (and `t.data -= ...`) are counted, and backward refuses a node whose inputs were
written after it was recorded.
"""
from __future__ import annotations

import contextlib
import dis
import sys
import threading
import warnings
import weakref
from types import MappingProxyType
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .errors import AxisError, GraphError, IndexOutOfRangeError, LinAlgError, ShapeError
from .tensor_methods import (ArithmeticMixin, ElementwiseMixin, InPlaceMixin, MovementMixin, NumPyMixin, ProductMixin,
                             ReduceMixin)


class _ThreadState(threading.local):
    """Per-thread settings (class attributes are each new thread's defaults). Grad mode and scope
    are one tuple, so an op reads both with one thread-local lookup (each lookup costs, and every op makes one)."""
    mode: tuple[bool, str | None] = (True, None)  # (grad enabled, dotted name of the module being called)
    on_constant: Callable[[Any, bool, Any], None] | None = None
    on_value_read: Callable[[Any, str], None] | None = None
    on_untracked_op: Callable[[Any], None] | None = None  # tracing: an op result that records no gradient


_state = _ThreadState()
_lock = threading.Lock()  # guards the counters below (changing them is rare: off the hot path)
_modes_set = 0  # how many no_grad/enable_grad/scope blocks are open in any thread: while 0, every
#                 thread's mode is the default (recording, no scope) and ops skip the thread-local lookup
_writes = 0  # how many `.data` assignments so far, in all threads: the version clock
_recordings = 0  # how many recording() blocks are open in any thread: one cheap test before the thread's hooks


@contextlib.contextmanager
def _set_mode(enabled: bool | None = None, scope_name: str | None = None) -> Iterator[None]:
    """This thread's (grad enabled, scope) changed for the block, then restored whatever happens."""
    global _modes_set
    state = _state
    previous = state.mode
    enabled = previous[0] if enabled is None else enabled
    if scope_name is not None:
        scope_name = scope_name if previous[1] is None else f"{previous[1]}.{scope_name}"
    with _lock:  # counted before the mode changes and after it is restored, so never 0 while changed
        _modes_set += 1
    state.mode = (enabled, previous[1] if scope_name is None else scope_name)
    try:
        yield
    finally:
        state.mode = previous
        with _lock:
            _modes_set -= 1


def no_grad() -> contextlib.AbstractContextManager:
    """Within this block, ops record no graph (for evaluation and in-place parameter updates).
    The mode is per thread: another thread keeps recording."""
    return _set_mode(enabled=False)


def enable_grad() -> contextlib.AbstractContextManager:
    """Within this block (in this thread), ops record a graph again."""
    return _set_mode(enabled=True)


def is_grad_enabled() -> bool:
    return _state.mode[0] if _modes_set else True


def scope(name: str) -> contextlib.AbstractContextManager:
    """Label the ops recorded inside (nested scopes join with '.'), so pictures can group them."""
    return _set_mode(scope_name=name)


@contextlib.contextmanager
def recording(on_constant: Callable[[Any, bool, Any], None] | None = None,
              on_value_read: Callable[[Any, str], None] | None = None,
              on_untracked_op: Callable[[Any], None] | None = None) -> Iterator[None]:
    """Hooks for a caller that records what a function does (am.trace), in this thread only.

    `on_constant(tensor, from_python_number, source)` is called for every constant an op makes from a
    number or an array, and for every Tensor constructed (`source`: the array it was made from, which
    its own array may be a converted copy of; None for a number); `on_value_read(tensor, how)` whenever the
    value of a tensor is read as Python or NumPy data (`how` is 'bool', 'float', 'int', 'item',
    'data', 'numpy' (also for np.asarray), a comparison such as '>', or the name of a library
    function that reads values, such as 'sort'): for every tensor while `on_untracked_op` is set,
    else for tensors that require grad. `on_untracked_op(tensor)` is called for each op result that
    records no gradient (no input requires grad); it may call `trace_parents` on it, so that the
    result keeps its op and inputs (still requiring no grad) and a tracer can replay it.
    The previous hooks are restored on exit.
    """
    global _recordings
    state = _state
    previous = state.on_constant, state.on_value_read, state.on_untracked_op
    state.on_constant, state.on_value_read, state.on_untracked_op = on_constant, on_value_read, on_untracked_op
    with _lock:
        _recordings += 1
    try:
        yield
    finally:
        with _lock:
            _recordings -= 1
        state.on_constant, state.on_value_read, state.on_untracked_op = previous


def trace_parents(t: Tensor, op: Op, parents: tuple, params: dict | None) -> None:
    """Keep the op and inputs of a result that requires no grad (a tracer's data-only op): walks with
    `grad_only=False` see how it was computed; backward still passes it by (it requires no grad)."""
    t._op, t._parents, t._params, t._stamp = op, parents, params if params is not None else {}, _writes


def read_value(x: Any, how: str) -> Any:
    """The array behind a Tensor for library code that uses the *values* (sort orders, argmax
    positions, masks, class labels), telling an open recording that a value decides the result;
    x itself when it is not a Tensor."""
    return x._read(how) if isinstance(x, Tensor) else x


def _read_hook(t: Tensor, how: str) -> None:
    state = _state
    if state.on_value_read is not None and (t.requires_grad or state.on_untracked_op is not None):
        state.on_value_read(t, how)


def mark_written(*tensors: Tensor) -> None:
    """Count a write to each tensor's values: one tick of the write clock. The `.data` setter calls
    it; so does code that updates arrays in place without it (a compiled step's `w -= lr * d_w`), so
    that a graph recorded before refuses to backward through the old values."""
    global _writes
    _lock.acquire()  # (cheaper than `with`; nothing in between can raise)
    _writes += 1
    version = _writes
    _lock.release()
    for t in tensors:
        t._version = version


def as_float_array(data: Any, copy: bool = False) -> np.ndarray:
    """float64 for numbers, lists, ints and bools; float32 stays float32."""
    array = np.array(data, copy=copy) if copy else np.asarray(data)
    if array.dtype == np.float64 or array.dtype == np.float32:
        return array
    if array.dtype.kind in "biuf":
        return array.astype(np.float64)
    raise TypeError(f"Tensor: cannot hold data of dtype {array.dtype}; expected numbers (float, int or bool)")


class Tensor(ArithmeticMixin, InPlaceMixin, ElementwiseMixin, ReduceMixin, MovementMixin, ProductMixin, NumPyMixin):
    """A NumPy array that remembers the op that made it, so backward() can find gradients.
    Its operators and NumPy-style methods (x + y, x.sigmoid(), x.sum(axis=0), ...) are written in
    tensor_methods.py, one line each, grouped by kind."""

    # `_stamp` (op results only): the write clock when the op was recorded; `_version` (set only
    # once written): the write clock at the last `.data` assignment. Unset slots cost nothing.
    # `_rebases` (set only once changed in place): ((write clock, the node it was before), ...);
    # `_view` (basic-index results only): (the tensor indexed, the index, the write clock then).
    # `_views` (set only once viewed): [(weakref to a result sharing this tensor's memory, its op,
    # its params)], so that an in-place change reaches views made before it, as in NumPy.
    __slots__ = ("_data", "grad", "requires_grad", "name", "scope", "_op", "_parents", "_params",
                 "_stamp", "_version", "_rebases", "_view", "_views", "_from_booleans", "__weakref__")
    _data: np.ndarray
    grad: np.ndarray | None
    requires_grad: bool
    name: str | None
    scope: str | None
    _op: Op | None  # None for leaves and constants
    _parents: tuple[Tensor, ...] | None  # None once backward freed the graph
    _params: dict[str, Any] | None
    _stamp: int
    _version: int
    _rebases: tuple[tuple[int, Tensor], ...]
    _view: tuple[Tensor, Any, int]
    _views: list[tuple[Any, Op, dict]]
    _from_booleans: bool
    __array_priority__ = 1000

    def __init__(self, data: Any, requires_grad: bool = False, name: str | None = None) -> None:
        source = data
        if isinstance(data, Tensor):
            if data.requires_grad:
                warnings.warn("Tensor(t): t requires grad, and the new tensor copies its values without its graph "
                              "(no gradient flows back to t); to say so, write t.detach() (shares memory) or "
                              "Tensor(t.detach()) (a copy)", UserWarning, stacklevel=2)
            data = data._data
        self._data = as_float_array(data, copy=True)
        if self._data.dtype.kind == "f" and np.asarray(data).dtype == bool:
            # its 0.0/1.0 values index as a mask (x[am.Tensor(mask)]), as torch's bool tensors
            self._from_booleans = True
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self.scope = _state.mode[1]
        self._op: Op | None = None
        self._parents: tuple[Tensor, ...] | None = ()
        self._params: dict | None = None
        if _recordings and _state.on_constant is not None:
            _state.on_constant(self, False, source)  # made by the recorded function: a constant of it

    @staticmethod
    def _from_op(data: np.ndarray, op: Op | None, parents: tuple, params: dict | None) -> Tensor:
        """Fast constructor for op results: no copy, no conversion."""
        t = object.__new__(Tensor)
        t._data = data
        t.grad = None
        t.name = None
        t.scope = _state.mode[1] if _modes_set else None
        if op is None:
            t.requires_grad, t._op, t._parents, t._params = False, None, (), None
        else:
            t.requires_grad, t._op, t._parents, t._params = True, op, parents, params
            t._stamp = _writes
        return t

    @property
    def data(self) -> np.ndarray:
        """The values, a NumPy array. Assigning to it (`t.data = a`, and `t.data -= d`, which assigns
        too) counts as a write: a graph recorded from the old values then refuses to backward.
        Writing into the array itself (`t.data[0] = 1`) goes around the count and is not detected."""
        if _recordings:
            _read_hook(self, "data")
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        if type(value) is not np.ndarray or value.dtype.kind != "f":
            value = _same_kind(self, value)
        mark_written(self)
        self._data = value

    # ---- array-like facts ------------------------------------------------------------------
    shape = property(lambda self: self._data.shape)
    ndim = property(lambda self: self._data.ndim)
    dtype = property(lambda self: self._data.dtype)
    size = property(lambda self: self._data.size)
    op_name = property(lambda self: None if self._op is None else self._op.name)
    is_leaf = property(lambda self: self._op is None)

    # ---- the graph node, read-only: what pictures, the audit and the derivation read ----------
    @property
    def op(self) -> Op | None:
        """The Op that made this tensor; None for leaves and constants."""
        return self._op

    @property
    def parents(self) -> tuple[Tensor, ...]:
        """The op's inputs, in its argument order (empty for leaves, constants and a freed graph:
        see `graph_freed`)."""
        return self._parents or ()

    @property
    def op_params(self) -> Mapping[str, Any]:
        """The op's keyword parameters (axis, shape, ...), read-only."""
        return MappingProxyType(self._params or {})

    @property
    def graph_freed(self) -> bool:
        """True once backward released this op's inputs (run it with retain_graph=True to keep them)."""
        return self._op is not None and self._parents is None

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor (shape ()): it has no first axis")
        return len(self._data)

    def __iter__(self) -> Iterator[Tensor]:
        """The rows along the first axis, each a differentiable `self[i]` (so `a, b = x`, `sum(x)` work)."""
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor (shape ())")
        return (self[i] for i in range(len(self._data)))

    def _read(self, how: str) -> np.ndarray:
        """The array, telling an open recording (am.trace) that a value left the graph."""
        if _recordings:
            _read_hook(self, how)
        return self._data

    def _scalar(self, how: str, error: type = TypeError) -> Any:
        array = self._read(how)
        if array.size != 1:
            raise error(f"{how}(): only a tensor with one element converts to a Python number; "
                        f"this one has shape {array.shape}")
        return array.item()

    def item(self) -> float:
        """The one value as a Python number (ValueError for more than one element, as NumPy's)."""
        return self._scalar("item", ValueError)

    def __float__(self) -> float:
        if self.requires_grad and _storing_into_container():
            raise _conversion_refused(self, "writing it into a NumPy array (out[i] = t)")
        return float(self._scalar("float"))

    def __int__(self) -> int:
        if self.requires_grad and _storing_into_container():
            raise _conversion_refused(self, "writing it into a NumPy array (out[i] = t)")
        return int(self._scalar("int"))

    def numpy(self) -> np.ndarray:
        """The values as a NumPy array. For a tensor that requires grad it is a read-only view (writing
        into it would change values a recorded graph depends on); `t.detach().numpy()` is the same
        memory, writable, with no check."""
        array = self._read("numpy")
        if self.requires_grad:
            array = np.asarray(array).view()  # (a 0-d result may be held as a NumPy scalar: no flags to set)
            array.flags.writeable = False
        return array

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """`np.asarray(t)` and every implicit conversion (`ndarray.dot(t)`, `np.array([t, u])`,
        `np.mean([t, u])`): the values of a tensor that needs no grad; refused for one that requires
        grad (a leaf with requires_grad=True or an op's result), whose graph the array would drop."""
        if self.requires_grad:
            raise _conversion_refused(self, "converting it to a NumPy array")
        array = np.asarray(self._data)
        if getattr(self, "_from_booleans", False):  # a mask (x > 0, am.Tensor(bool_array)) converts as booleans
            array = array != 0
        if dtype is not None and np.dtype(dtype) != array.dtype:
            if copy is False:
                raise ValueError(f"Tensor.__array__: dtype {np.dtype(dtype)} needs a copy of the {array.dtype} "
                                 f"values, but copy=False")
            return array.astype(dtype)
        return array.copy() if copy else array

    def detach(self) -> Tensor:
        """The same values, cut from the graph (shares memory, like PyTorch). While a tracer records,
        a stop-gradient op (`stop_gradient`), so that a replay computes it from the new values; while
        a function transform watches (am.grad), a value read that leaves the graph."""
        t = Tensor._from_op(self._data, None, (), None)
        if _recordings:
            if _state.on_untracked_op is not None:
                trace_parents(t, _STOP_GRADIENT, (self,), None)
                _state.on_untracked_op(t)
            elif self.requires_grad:
                _read_hook(self, "detach")
        return t

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self._op is not None and not requires_grad:
            raise GraphError(f"requires_grad_: cannot switch off gradients of a non-leaf tensor "
                             f"(made by '{self._op.name}'); use .detach() instead")
        self.requires_grad = requires_grad
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def __repr__(self) -> str:
        body = np.array2string(self._data, precision=6, separator=", ", prefix="tensor(")
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

    def __format__(self, spec: str) -> str:
        """f"{loss:.4f}": a one-element tensor formats as its number (a value read); no spec: its repr."""
        return format(self._scalar("format"), spec) if spec else str(self)

    def __bool__(self) -> bool:
        return bool(self._read("bool"))

    # identity hash (tensors are graph nodes; `==` is elementwise): object's own, in C, so the
    # graph walk's sets and dicts keyed by tensors cost no Python call
    __hash__ = object.__hash__

    # == and != give plain boolean arrays (a value read): tensors are graph nodes, hashed by identity
    def __eq__(self, other: Any) -> np.ndarray:  # type: ignore[override]
        return self._read("==") == read_value(other, "==")

    def __ne__(self, other: Any) -> np.ndarray:  # type: ignore[override]
        return self._read("!=") != read_value(other, "!=")

    # the ordering comparisons (<, <=, >, >=) are ops giving 0/1 masks: ArithmeticMixin in tensor_methods.py

    def any(self, axis: Any = None) -> Any:
        """np.any of the values (a value read: Python decides on it)."""
        return np.any(self._read("any"), axis=axis)

    def all(self, axis: Any = None) -> Any:
        """np.all of the values (a value read: Python decides on it)."""
        return np.all(self._read("all"), axis=axis)

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
        data = self._data
        if gradient is None:
            if data.size != 1:
                raise GraphError(
                    f"backward: output has shape {self.shape}; a gradient can be created implicitly only "
                    f"for a scalar output. Pass gradient= an array of shape {self.shape} (d loss / d output)")
            # (np.array for 0-d: np.ones(()) is slower for a scalar)
            seed = np.array(1, dtype=data.dtype) if data.ndim == 0 else np.ones(data.shape, data.dtype)
        else:
            seed = as_float_array(unwrap(gradient))
            if seed.shape != self.shape:
                raise ShapeError(f"backward: gradient has shape {seed.shape} but the output has shape {self.shape}")
        backprop([self], [seed], retain_graph=retain_graph or create_graph, accumulate_leaves=True)

    def retain_graph_nodes(self) -> list[Tensor]:
        """Every tensor of the recorded graph that requires grad, inputs before outputs."""
        return walk([self])


_STORE_SUBSCR = dis.opmap["STORE_SUBSCR"]


def _storing_into_container() -> bool:
    """True when the Python line calling into `__float__` is an item assignment (`out[i] = t`): NumPy
    converts the value with float() there, where only an explicit `float(t)` is meant to read it."""
    frame = sys._getframe(2)  # (0: this function, 1: __float__, 2: the user's line; NumPy's C code has no frame)
    return frame.f_code.co_code[frame.f_lasti] == _STORE_SUBSCR


def _conversion_refused(t: Tensor, what: str) -> TypeError:
    """The error for an implicit conversion that would drop t's graph, naming spellings that keep it."""
    return TypeError(
        f"Tensor of shape {t.shape} requires grad: {what} would drop its graph, so the gradient would be lost "
        f"silently. Keep it a Tensor: np.dot(X, t) or X @ t (not X.dot(t) with X an ndarray), "
        f"am.stack([a, b]) / am.concatenate (not np.array([a, b]), np.mean([a, b]), np.sum([a, b])), "
        f"a Tensor built with am.stack instead of an ndarray buffer filled by out[i] = t, or wrap the array: "
        f"am.Tensor(X). If you only want the values, say so: t.numpy() (read-only), t.item(), float(t), "
        f"or t.detach()")


def unwrap(x: Any) -> Any:
    """The NumPy array behind a Tensor (without telling a recording: library code, not user code,
    reads it), or x itself when it is not a Tensor."""
    return x._data if isinstance(x, Tensor) else x


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
    To run a different VJP at one node of a graph you recorded yourself (the audit, trace), use
    `substituted_vjps`: backward takes every VJP from the node's op.
    """

    __slots__ = ("name", "forward", "vjp", "explain", "vjp_parts", "__weakref__")

    def __init__(self, name: str, forward: Callable[..., Any], vjp: Callable[..., tuple],
                 explain: Callable[..., str] | None = None) -> None:
        self.name, self.forward, self.vjp, self.explain = name, forward, vjp, explain
        self.vjp_parts: tuple | None = vjp.parts if isinstance(vjp, per_input) else None

    def __repr__(self) -> str:
        return f"Op({self.name!r})"

    def __call__(self, *inputs: Any, **params: Any) -> Tensor:
        # The hot path of eager mode, so written flat: one- and two-Tensor calls skip the generic
        # conversion; no generator expressions; the result is built without __init__; the thread's
        # mode is looked up only when an input requires grad (a result that records nothing
        # carries no scope: pictures read the scope of recorded ops only).
        if len(inputs) == 2:
            x, y = inputs
            if not isinstance(y, Tensor):  # x * 0.5: the number takes x's dtype
                x, y = inputs = (x, constant(y, x._data.dtype)) if isinstance(x, Tensor) else _as_tensors(inputs)
            elif not isinstance(x, Tensor):
                x = constant(x, y._data.dtype)
                inputs = (x, y)
            arrays: Sequence[np.ndarray] = (x._data, y._data)
            track = x.requires_grad or y.requires_grad
        elif len(inputs) == 1 and isinstance(inputs[0], Tensor):
            x = inputs[0]
            arrays = (x._data,)
            track = x.requires_grad
        else:
            inputs = _as_tensors(inputs)
            arrays = [t._data for t in inputs]
            track = any([t.requires_grad for t in inputs])
        try:
            out = self.forward(*arrays, **params) if params else self.forward(*arrays)  # (`**{}` is not free)
        except (ValueError, IndexError) as error:
            shapes = " and ".join(str(a.shape) for a in arrays)
            reason = self.explain(*arrays, **params) if self.explain else str(error)
            kind = (AxisError if isinstance(error, np.exceptions.AxisError) else
                    LinAlgError if isinstance(error, np.linalg.LinAlgError) else
                    IndexOutOfRangeError if isinstance(error, IndexError) else ShapeError)
            raise kind(f"{self.name}: inputs of shape {shapes}: {reason}") from error
        t = _new_tensor(Tensor)  # one statement per slot: cheaper than packing a tuple to unpack it
        t._data = out
        if len(inputs) == 1 and getattr(out, "base", None) is not None:  # a view (reshape, x[0], .T, ...)
            _note_view(inputs[0], t, self, params)
        t.grad = t.name = None
        if track and _modes_set:  # some thread is in a no_grad/scope block: is this one?
            track, t.scope = _state.mode
        else:
            t.scope = None
        if track:
            t.requires_grad = True
            t._op = self
            t._parents = inputs
            t._params = params
            t._stamp = _writes
        else:
            t.requires_grad = False
            t._op = t._params = None
            t._parents = ()
            if _recordings and _state.on_untracked_op is not None:  # a tracer keeps data-only ops too
                trace_parents(t, self, inputs, params)
                _state.on_untracked_op(t)
        return t


_new_tensor = object.__new__


@contextlib.contextmanager
def substituted_vjps(pairs: Iterable[tuple[Tensor, Callable[..., tuple]]]) -> Iterator[None]:
    """Within the block, backward through each pair's node runs that VJP in place of its op's own
    (the audit's question "what if this node's rule were the hand one?"); every node's op is put
    back on leaving, also on an error. The nodes must be op results of a graph you recorded yourself:
    other threads see the substitution too."""
    pairs = list(pairs)
    originals = []
    for node, _ in pairs:
        if node._op is None:
            raise GraphError(f"substituted_vjps: {node!r} is a leaf or a constant, not an op's result")
        originals.append((node, node._op))
    try:
        for node, vjp in pairs:
            node._op = Op(node._op.name, node._op.forward, vjp)  # type: ignore[union-attr]
        yield
    finally:
        for node, original in originals:
            node._op = original


def _note_view(base: Tensor, view: Tensor, op: Op, params: dict) -> None:
    """Remember that `view` shares `base`'s memory, so that an in-place change of base (rebase) makes
    it op(base) again, as NumPy's view would show the change. Dead entries go when the list doubles."""
    owner = base._data if base._data.base is None else base._data.base  # NumPy points a view at the owner
    if view._data.base is not owner:
        return
    views = getattr(base, "_views", None)
    if views is None:
        base._views = views = []
    views.append((weakref.ref(view), op, params))
    if len(views) >= 32 and len(views) & (len(views) - 1) == 0:
        views[:] = [entry for entry in views if entry[0]() is not None]


def _refresh_views(base: Tensor) -> None:
    """After base changed in place: each live view made from it before becomes op(base) again (a
    rebase, so its earlier uses keep the values they read), and so, in turn, do views of those."""
    views = getattr(base, "_views", None)
    if not views:
        return
    base._views = []
    for ref, op, params in views:
        view = ref()
        if view is None or view is base:
            continue
        writes_through = getattr(view, "_view", None)  # x[0]'s link to x, for writes into the view
        def remade(_old: Tensor, op: Any = op, params: Any = params) -> Tensor:
            return op(base, **params)
        rebase(view, remade, "a view of a tensor changed in place")
        if writes_through is not None:
            view._view = (writes_through[0], writes_through[1], _writes)
        base._views.append((ref, op, params))


def _same_kind(t: Tensor, value: Any) -> np.ndarray:
    """What `t.data = value` stores for a value that is not a float array: numbers, lists, integer
    and boolean arrays become an array of t's dtype (never integers in a float tensor)."""
    if isinstance(value, Tensor):
        value = value._data
    array = np.asarray(value)
    if array.dtype.kind == "f":
        return array
    if array.dtype.kind not in "biu":
        raise TypeError(f"Tensor.data = ...: expected numbers (an array, list or number of float, int or bool), got "
                        f"{type(value).__name__} of dtype {array.dtype}; the tensor (shape {t.shape}) holds {t.dtype}")
    return array.astype(t._data.dtype)


def _stop_gradient_forward(x: np.ndarray) -> np.ndarray:
    return x


_STOP_GRADIENT = Op("stop_gradient", _stop_gradient_forward, lambda g, ans, x: (None,))


def _as_tensors(inputs: tuple) -> tuple:
    """Inputs as Tensors; plain numbers and arrays become constants of the first Tensor's dtype."""
    dtype: Any = np.float64
    for x in inputs:
        if isinstance(x, Tensor):
            dtype = x._data.dtype
            break
    return tuple([x if isinstance(x, Tensor) else constant(x, dtype) for x in inputs])


_number_constants: dict[tuple, Tensor] = {}  # (number, dtype) -> a shared read-only constant


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
        from_number = True
    else:
        array = np.asarray(value)
        if array.dtype.kind == "b":  # masks take the dtype of the tensor they scale
            t = Tensor._from_op(array.astype(dtype), None, (), None)
        else:
            t = Tensor._from_op(as_float_array(array), None, (), None)
        from_number = False
    if _recordings:
        hook = _state.on_constant
        if hook is not None:
            hook(t, from_number, None if from_number else value)
    return t


def constant_positions(positions: Any) -> Tensor:
    """Integer positions (an index array loss_fn holds) as a constant Tensor that stays integer."""
    t = Tensor._from_op(np.asarray(positions), None, (), None)
    if _recordings:
        hook = _state.on_constant
        if hook is not None:
            hook(t, False, positions)
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


def walk(roots: Sequence[Tensor], grad_only: bool = True) -> list[Tensor]:
    """The graph the roots were computed from, each tensor after all its inputs (the one graph walk:
    backward, trace and pictures use it). `grad_only` keeps only tensors that require grad; with
    False, constants and tensors computed without grad are included too.

    Iterative, so deep graphs are fine; its scratch state (the stack, the positions) is local, so
    walks in several threads over shared nodes do not meet.
    """
    return _walk(roots, grad_only)[0]


def _walk(roots: Sequence[Tensor], grad_only: bool) -> tuple[list[Tensor], dict[Tensor, int]]:
    """walk(), and each listed tensor's position in the list (-1 while its inputs are being placed).
    A `None` on the stack means "the tensor below me has all its inputs placed": list it."""
    order: list[Tensor] = []
    position: dict[Tensor, int] = {}
    stack: list[Any] = list(reversed(roots))  # tensors, and a None above each tensor whose inputs are placed
    while stack:
        t = stack.pop()
        if t is None:
            t = stack.pop()
            position[t] = len(order)
            order.append(t)
            continue
        if t in position:
            continue
        if t._op is None:
            position[t] = len(order)
            order.append(t)
            continue
        if t._stamp != _writes and t._parents:  # something was written or changed in place since t was made
            _follow_rebased_inputs(t)
        if t._parents is None:
            raise GraphError(
                f"backward: the graph through '{t._op.name}' (output shape {t.shape}) was already freed by "
                f"an earlier backward(); call backward(retain_graph=True) the first time to go through it again")
        position[t] = -1
        stack.append(t)
        stack.append(None)
        for p in reversed(t._parents):
            if (grad_only and not p.requires_grad) or p in position:
                continue
            stack.append(p)
    return order, position




def backprop(roots: Sequence[Tensor], seeds: Sequence[Any], *, retain_graph: bool = False,
             create_graph: bool = False, accumulate_leaves: bool = True,
             capture: Iterable[Tensor] = ()) -> dict[int, Any]:
    """The reverse sweep. Returns the total gradient of every tensor in `capture`, by id.

    With `accumulate_leaves`, leaf gradients are added into `.grad` (as NumPy arrays).
    With `create_graph`, gradients are Tensors recorded in a graph of their own.
    Every gradient in flight lives in this call's `pending` list (by position in the walk), never on
    the nodes, so threads may run backward over graphs that share nodes (with retain_graph) or leaves.
    """
    order, position = _walk(roots, True)
    wanted = {id(t) for t in capture} if capture else set()  # (a comprehension costs a call even when empty)
    captured: dict[int, Any] = {}
    owned: set[int] = set()  # gradient arrays we allocated, so adding into them in place is safe
    pending: list[Any] = [None] * len(order)  # the gradient collected so far for order[i]
    for root, seed in zip(roots, seeds):
        i = position[root]
        pending[i] = seed if pending[i] is None else _combine(pending[i], seed, owned, create_graph)
    if create_graph:
        with enable_grad():
            _sweep(order, position, pending, owned, wanted, captured, accumulate_leaves, True)
    else:
        _sweep(order, position, pending, owned, wanted, captured, accumulate_leaves, False)
    if not retain_graph:
        for t in order:
            if t._op is not None:
                t._parents, t._params = None, None
    return captured


def _sweep(order: list, position: dict, pending: list, owned: set, wanted: set, captured: dict,
           accumulate_leaves: bool, create_graph: bool) -> None:
    """Walk `order` backwards, turning each node's total gradient into its inputs' (the hot loop)."""
    clock = _writes
    for i in range(len(order) - 1, -1, -1):
        g = pending[i]
        if g is None:
            continue
        pending[i] = None  # (frees it as the sweep passes)
        t = order[i]
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
        if t._stamp != clock:  # something was written since this node was recorded: was it ours?
            _check_unwritten(t)
        # the common shapes of call spelled out (one or two inputs, no parameters): cheaper than *, **
        if create_graph:
            input_grads = op.vjp(g, t, *parents, **t._params)
        elif t._params or len(parents) > 2:
            input_grads = _vjp_on_arrays(op, g, t, parents)
        elif op.vjp_parts is not None:  # only the parts whose input needs a gradient
            if len(parents) == 2:
                x, y = parents
                gx, gy = op.vjp_parts
                input_grads = (gx(g, t._data, x._data, y._data) if x.requires_grad else None,
                               gy(g, t._data, x._data, y._data) if y.requires_grad else None)
            else:
                input_grads = _vjp_on_arrays(op, g, t, parents)
        elif len(parents) == 2:
            input_grads = op.vjp(g, t._data, parents[0]._data, parents[1]._data)
        else:
            input_grads = op.vjp(g, t._data, parents[0]._data)
        for p, gp in zip(parents, input_grads):
            if gp is None or not p.requires_grad:
                continue
            shape = p._data.shape
            if gp.shape != shape:
                gp = unbroadcast(gp, shape)
            j = position[p]
            previous = pending[j]
            pending[j] = gp if previous is None else _combine(previous, gp, owned, create_graph)


def _follow_rebased_inputs(t: Tensor) -> None:
    """Point t's inputs that were changed in place after t was recorded at the node each was then
    (see rebase): t's VJP needs the values it was computed from, and its gradient goes to that node."""
    assert t._parents is not None, "called only for a node whose graph is not freed"
    stamp, parents, changed = t._stamp, list(t._parents), False
    for i, p in enumerate(parents):
        for version, before in getattr(p, "_rebases", ()):
            if version > stamp:
                parents[i], changed = before, True
                break
    if changed:
        t._parents = tuple(parents)


def rebase(t: Tensor, compute: Callable[[Tensor], Tensor], what: str) -> Tensor:
    """An in-place op, recorded as PyTorch does: `t` (the Python object) becomes the node
    `compute(old)`, where `old` is a new object holding t's node as it was, which keeps it for every
    op already recorded from t (the graph walk points them there). The values are never written
    over, so a VJP that saved them stays right. A leaf that requires grad is refused while grad mode
    is on; under no_grad its values are replaced through `.data` (a counted write), as an optimizer does."""
    global _writes
    if t._op is None and t.requires_grad:
        if is_grad_enabled():
            label = f" '{t.name}'" if t.name else ""
            raise GraphError(
                f"{what}: the tensor{label} (shape {t.shape}) is a leaf that requires grad, and changing it in place "
                f"would lose the value its gradient is of (PyTorch: 'a leaf Variable that requires grad is being "
                f"used in an in-place operation'). Write a new tensor (w = w - ...), or update it inside "
                f"am.no_grad() as an optimizer does")
        t.data = compute(t.detach())._data
        _refresh_views(t)
        return t
    old = object.__new__(Tensor)
    for slot in ("_data", "grad", "requires_grad", "name", "scope", "_op", "_parents", "_params", "_stamp",
                 "_version"):
        if hasattr(t, slot):
            setattr(old, slot, getattr(t, slot))
    new = compute(old)
    _lock.acquire()
    _writes += 1
    version = _writes
    _lock.release()
    t._rebases = getattr(t, "_rebases", ()) + ((version, old),)
    t._data, t.requires_grad, t.scope, t._op, t._parents, t._params = (
        new._data, new.requires_grad, new.scope, new._op, new._parents, new._params)
    if new._op is not None:
        t._stamp = new._stamp  # before the tick: an input that is t itself (x[i] = x) is followed to `old`
    if hasattr(t, "_view"):
        del t._view
    _refresh_views(t)
    return t


def _vjp_on_arrays(op: Op, g: Any, t: Tensor, parents: tuple) -> Sequence[Any]:
    """A node's input gradients in the general form of the call: any inputs, any parameters."""
    arrays = [p._data for p in parents]
    params = t._params or {}
    if op.vjp_parts is None:
        return op.vjp(g, t._data, *arrays, **params)
    return [part(g, t._data, *arrays, **params) if p.requires_grad else None
            for part, p in zip(op.vjp_parts, parents)]


def _check_unwritten(t: Tensor) -> None:
    """Refuse a node whose inputs (or its own value) were assigned after it was recorded: its VJP
    would mix the new values with the old graph (PyTorch: 'modified by an inplace operation')."""
    stamp = t._stamp
    for i, p in enumerate((t,) + (t._parents or ())):
        if getattr(p, "_version", 0) > stamp:
            what, label = "its output" if i == 0 else f"input {i - 1}", f" '{p.name}'" if p.name else ""
            raise GraphError(
                f"backward: {what}{label} of '{t.op_name}' (a tensor of shape {p.shape}, dtype {p.dtype}) "
                f"was modified after it was used in the forward pass: its .data was assigned (e.g. an optimizer "
                f"step or `t.data -= ...`) after '{t.op_name}' was recorded, so the gradient would mix the new "
                f"values with the old graph. Run backward before changing the data, or compute the forward "
                f"again after the change")


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
    """Add into `.grad` under a lock: backward passes in several threads may share a leaf, and the
    read-add-write of `.grad` must not lose one of their contributions."""
    if isinstance(g, Tensor):
        g = g._data
    _leaf_lock.acquire()  # (cheaper than `with`)
    try:
        if t.grad is None:
            if g.shape == t._data.shape:
                t.grad = np.array(g, dtype=t._data.dtype)  # a copy we own
            else:
                t.grad = np.array(np.broadcast_to(g, t._data.shape), dtype=t._data.dtype)
        else:
            np.add(t.grad, g, out=t.grad, casting="same_kind")
    finally:
        _leaf_lock.release()


_leaf_lock = threading.Lock()
