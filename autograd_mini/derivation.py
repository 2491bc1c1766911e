"""`am.derive(loss_fn, params, update=...)`: a training step written out as readable NumPy, compiled.

    derived = am.derive(loss_fn, {"synapse_0": w0, "synapse_1": w1}, update=SGD([w0, w1], lr=10))
    print(derived.equations)      # forward, backward and update, as the document would write them
    print(derived.source)         # the same program with preallocated buffers: what actually runs
    for _ in range(steps):
        derived.function()        # one step: forward, backward, .grad set, w -= lr * d_w in place
    derived.loss()                # the loss of the last step, computed only when asked

How it works, in named steps:
1. record: run `loss_fn` once (forward) in this thread's tracing mode, in which every op whose inputs
   trace back to a tensor `loss_fn` did not create keeps its inputs even when nothing requires grad
   (and `detach()` is a stop-gradient op); then the ops' own VJPs on Tensors (`create_graph`), so the
   gradient is a graph of the same primitives; nothing here knows an op's derivative by name. No
   user tensor is changed.
2. build the program: one `Value` per graph node, simplified as it is built: parts computed from
   constants alone are folded; `x * 1` is dropped; scalings by uniform powers of two combine (they
   are exact), so the ½ of ½·SSE meets the 2 of the square and the gradient becomes `p - y`;
   equal computations are shared. σ'(z) is `s * (1 - s)` from the saved output because that is
   how the op table writes the sigmoid's VJP.
3. name: parameters and data by their names, forward results by op kind (`matmul_1`,
   `sigmoid_1`), gradients as `d_<what>`.
4. plan: every result gets a preallocated buffer (`out=`), reusing buffers whose values are dead
   (in place where NumPy allows); views of the inputs are remade only when an input array is
   replaced; values only the loss needs go to a separate `loss()` computed on demand.
5. render the plan twice: `.equations` (plain NumPy expressions for reading, which run with only
   `np` in scope: the few helpers NumPy lacks are defined in the text, constants printed or taken
   as keyword arguments listed on `.equations_arguments`, shapes in comments) and `.source` (the
   buffered form), and compile `.source` into `.function`.

Numbers: the same NumPy calls on the same values in the same order as eager mode, so eager's
numbers bit for bit (tests check it over many steps). Two stated exceptions: a combined power-of-two
scaling differs from eager only where eager's intermediate over- or underflows (|p - y| > 2**1022);
2-D products run as `np.dot`, which calls the same BLAS routine as eager's `np.matmul` for
contiguous or transposed operands (equal bits, tested); for other strided inputs the summation
order may differ (agreement to ~1e-15 relative).

What a step reads anew at every call: each parameter's and each data tensor's array (a Tensor
`loss_fn` uses but did not create, even one it reaches only through data-only ops or one that
requires grad without being a parameter: assign `x.data = next_batch`), and, with `update=`, whether
the optimizer's lr, momentum and frozen entries are still the objects compiled in (if not, the step
refuses: derive again). Fixed at derive time: constants `loss_fn` creates itself, and arrays it
captures from closures or globals (listed on `.constants`); shapes and dtypes (a step refuses,
naming the tensor, when one changes); the layout of views of inputs (a reshape that has become a copy
is refused). Masks from ordering comparisons, `where`'s condition, sort orders, argmax/argmin
positions (integer values of the program) with `take_along_axis` gathers, class labels of
`cross_entropy` and clip bounds given as Tensors are ops, recomputed at every call. A value Python
reads while recording (`.item()`, `if (t > 0).any()`, `t.numpy()`, `t == u`, a Tensor index) would be
frozen: a `TraceWarning` says so (`fit` then trains eagerly), and random draws from `np.random` are
refused. Gradients are set, not accumulated,
as buffers the next step overwrites, so one derived step runs in one thread at a time (a second
thread gets a DeriveError; derive one per thread to train in several). An in-place update ticks the
engine's write clock for the parameters, as `w.data -= ...` does, so a graph recorded before the step
refuses to backward through old values. docs/compiled-step.md says all this for users.
"""
from __future__ import annotations

import builtins
import contextlib
import inspect
import keyword
import math
import os
import re
import sys
import threading
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from . import ops
from .errors import AutogradMiniError, ShapeError
from .tensor import Op, Tensor, backprop, enable_grad, mark_written, recording, walk
if TYPE_CHECKING:  # (fused imports this module)
    from .fused import FusedStep
_DATA = "_data"  # where a Tensor keeps its array (generated code reads it without the read hook)


class DeriveError(AutogradMiniError):
    """The step cannot be derived (or run) as asked."""


class TraceWarning(UserWarning):
    """`loss_fn` read a value while it was recorded: the derived step keeps whatever that value decided."""


def _warn_value_read(t: Tensor, how: str) -> None:
    what = f"'{t.name}'" if t.name else f"of shape {t.shape}"
    access = {"data": ".data", "numpy": ".numpy() or np.asarray()", "item": ".item()"}.get(how, f"{how}()")
    if how in ("==", "!=", "<", "<=", ">", ">="):
        access = f"a comparison ({how})"
    elif how not in ("data", "numpy", "item", "bool", "float", "int"):  # a library function deciding by values
        access = f"{how} (the order, positions, mask or labels it takes from the values)"
    message = (f"derive: loss_fn read the value of a tensor {what} (a parameter, a data input or computed "
               f"from them) through {access} while it was recorded; a derived step runs the ops recorded now, "
               f"so any Python branch, loop count or number that this value decides is frozen as it was "
               f"(the step keeps the branch taken now). Keep values inside tensor ops (am.maximum, masks) or "
               f"train this loss_fn eagerly")
    reads = getattr(_collected, "reads", None)
    if reads is not None:
        reads.append(message)
    else:
        warnings.warn(message, TraceWarning, stacklevel=_first_frame_outside_package())


_collected = threading.local()


@contextlib.contextmanager
def collected_value_reads() -> Iterator[list[str]]:
    """Within this block (this thread), the TraceWarnings of `derive` are not issued but collected in
    the list given (for a caller such as `fit` that decides what to do about them itself)."""
    previous = getattr(_collected, "reads", None)
    reads: list[str] = []
    _collected.reads = reads
    try:
        yield reads
    finally:
        _collected.reads = previous


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _first_frame_outside_package() -> int:
    """The stacklevel of the innermost caller outside autograd_mini (the line of loss_fn that read)."""
    frame: Any = sys._getframe(1)  # (a frame, then None past the outermost)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


# ==== 1. record ==================================================================================

@dataclass
class Recording:
    """The recorded step: forward graph, gradient graph, and which tensors are inputs."""
    loss: Tensor
    aux: dict[str, Tensor]
    inputs: list[Tensor]            # the params, then the data tensors
    names: list[str]                # a Python name for each input
    n_params: int
    grads: list[Tensor | None]      # each param's gradient, as a node of the gradient graph
    grad_of: dict[int, Tensor]      # id(forward node) -> its gradient node (for naming)
    forward: set[int]               # ids of the forward graph's nodes
    impure: dict[int, str]          # id(constant made from an array inside a VJP) -> that op's name


def record(loss_fn: Callable, params: list[Tensor], names: list[str]) -> Recording:
    """Run `loss_fn(*params)` once and its gradient once, tracing every op that reads a tensor
    `loss_fn` did not create (as JAX traces what its arguments reach); no user tensor is changed."""
    made: dict[int, Tensor] = {}  # tensors loss_fn created (and values computed from them alone)
    random_state = np.random.get_state(legacy=False)
    loss, aux = _run(loss_fn, params, made)
    if not _same_random_state(random_state, np.random.get_state(legacy=False)):
        raise DeriveError("derive: loss_fn drew random numbers from np.random while it was recorded (dropout?); a "
                          "derived step would keep this one draw at every step. Train it eagerly, or pass the "
                          "random mask in as a data Tensor (assign a new draw to its .data before each step)")
    forward = walk([loss, *aux.values()], grad_only=False)
    captured, impure = _record_backward(loss, forward, made)
    ours = {id(p) for p in params}
    data = [t for t in forward if t._op is None and id(t) not in ours and id(t) not in made]
    grads = [captured.get(id(p)) for p in params]
    for p, g, name in zip(params, grads, names):
        if g is not None and g.shape != p.shape:
            raise DeriveError(f"derive: the gradient of {name} (shape {p.shape}) came out with shape {g.shape}")
    data_names = [t.name or f"data_{i}" for i, t in enumerate(data)]
    return Recording(loss, aux, params + data, names + data_names, len(params), grads,
                     captured, {id(t) for t in forward}, impure)


def _same_random_state(before: dict, after: dict) -> bool:
    return before["state"]["pos"] == after["state"]["pos"] and np.array_equal(before["state"]["key"],
                                                                              after["state"]["key"])


def _note_untracked(made: dict) -> Callable[[Tensor], None]:
    """A data-only op result computed from loss_fn's own constants alone is one of them too."""
    def note(t: Tensor) -> None:
        if all(id(p) in made for p in t._parents or ()):  # (a just-made node: its parents are there)
            made[id(t)] = t
    return note


def _run(loss_fn: Callable, params: list, made: dict) -> tuple[Tensor, dict]:
    def on_constant(t: Tensor, from_number: bool) -> None:
        made[id(t)] = t

    def on_value_read(t: Tensor, how: str) -> None:
        if id(t) not in made:
            _warn_value_read(t, how)

    with recording(on_constant=on_constant, on_value_read=on_value_read,
                   on_untracked_op=_note_untracked(made)), enable_grad():
        result = loss_fn(*params)
    loss, aux = result if isinstance(result, tuple) else (result, {})
    if not isinstance(loss, Tensor):
        raise DeriveError(f"derive: loss_fn must return a Tensor, got {type(loss).__name__}")
    if loss.size != 1:
        raise DeriveError(f"derive: loss_fn must return a scalar Tensor, got shape {loss.shape}")
    if not loss.requires_grad:
        raise DeriveError("derive: the loss does not depend on the params (it does not require grad)")
    return loss, dict(aux)


def _record_backward(loss: Tensor, forward: list[Tensor], made: dict) -> tuple[dict, dict]:
    """The gradient graph. Each node's op is swapped (on our private recording, then restored) for
    one whose VJP notes the constants it makes, so a VJP that reads values as plain arrays (a
    mask a step could not update) is caught and named."""
    # the seed "requires grad" only so that the engine records every op of the backward
    seed = Tensor(np.ones(loss.shape, dtype=loss.dtype), requires_grad=True)
    made[id(seed)] = seed
    noted: list = []
    impure: dict[int, str] = {}
    swapped = [(t, t._op) for t in forward if t._op is not None]
    for t, op in swapped:
        t._op = _noting_constants(op, noted, impure)
    try:
        with recording(on_constant=lambda t, from_number: noted.append((t, from_number)),
                       on_untracked_op=_note_untracked(made)):
            captured = backprop([loss], [seed], retain_graph=True, create_graph=True, accumulate_leaves=False,
                                capture=forward)
    finally:
        for t, op in swapped:
            t._op = op
    return captured, impure


def _noting_constants(op: Op, made: list, impure: dict) -> Op:
    def vjp(*args: Any, **kwargs: Any) -> tuple:
        start = len(made)
        result = op.vjp(*args, **kwargs)
        for t, from_number in made[start:]:
            if not from_number:
                impure.setdefault(id(t), op.name)
        return result
    return Op(op.name, op.forward, vjp)


# ==== 2. the program: values, simplified as they are built ========================================

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


class Program:
    """The values of one step in an order that computes each after its arguments."""

    def __init__(self, rec: Recording) -> None:
        self.rec = rec
        self.values: list[Value] = []
        self.of: dict[int, Value] = {}          # id(graph node) -> its value
        self._shared: dict[Any, Value] = {}     # common-subexpression table
        self.rates: list[Value] = []            # the update's learning rates (named lr)
        self.update: Any = None                 # the optimizer compiled into the step, if any
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
        self.loss = self.of[id(rec.loss)]
        self.aux = {name: self.of[id(t)] for name, t in rec.aux.items()}
        self.grads = [None if g is None else self.of[id(g)] for g in rec.grads]

    def _add(self, value: Value) -> Value:
        self.values.append(value)
        return value

    def _value_of(self, t: Tensor) -> Value:
        if t._op is None:
            if id(t) in self.rec.impure:
                raise DeriveError(f"derive: the VJP of '{self.rec.impure[id(t)]}' uses its inputs' values as a plain "
                                  f"array (a mask or sign, shape {t.shape}), which a compiled step would not update; "
                                  f"this op cannot be derived yet, train it in eager mode")
            value = self.constant(t._data)
            value.captured = value.captured or (id(t) in self.rec.forward and t._data.ndim > 0)
            return value
        parents = t._parents or ()
        args = tuple(self.of[id(p)] for p in parents)
        params = dict(t._params or {})
        view = any(isinstance(p._data, np.ndarray) and np.may_share_memory(t._data, p._data) for p in parents)
        if all(_fixed(a) for a in args) and not view:
            return self.constant(t._data)  # computed from constants only: once, now (views stay, as `X.T`)
        simpler = _simplify(t._op, args, t._data)
        if simpler is not None:
            return simpler
        return self.operation(t._op, args, params, t._data, view)

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


# ==== 3. names =====================================================================================

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


# ==== 4. plan: what runs where, and in which buffer =================================================

def _copy_forward(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    if out is None:
        return np.array(x)
    np.copyto(out, x)
    return out


def _zero_where_forward(g: np.ndarray, mask: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """np.where(mask, 0.0, g) (SGD's frozen entries), writing into out."""
    out = _copy_forward(g, out)
    np.copyto(out, 0.0, where=mask)
    return out


_COPY = Op("copy", _copy_forward, lambda g, ans, x: (g,))
_ZERO_WHERE = Op("zero_where", _zero_where_forward, lambda g, ans, x, mask: (None, None))


def _takes_out(op: Op) -> bool:
    forward = op.forward
    if isinstance(forward, np.ufunc):
        return True
    try:
        return "out" in inspect.signature(forward).parameters
    except (TypeError, ValueError):
        return False


@dataclass
class Plan:
    """The lines of `step()` (forward, backward, update) and of `loss()`, and each value's storage."""
    main: list[Value]
    tail: list[Value]
    storage: dict[int, str]           # id(value) -> "buffer", "fresh", "view", "fixed_view", "input_view", "into"
    buffers: dict[int, np.ndarray]    # id(buffer value) -> its array
    handed: list[tuple[int, Value]]   # (param index, the buffer given as its .grad)
    reuses: list[tuple[str, str]]     # (value, value whose buffer it takes over)

    def lines(self) -> list[Value]:
        return [v for v in self.main + self.tail if self.storage[id(v)] in ("buffer", "fresh", "view", "into")]


def add_update(program: Program, update: Any) -> list[Value]:
    """The update rule as values of the program (SGD: w -= lr * d_w, in place)."""
    if update is None:
        return []
    program.update = update
    from .optim import SGD
    if type(update) is not SGD or update.momentum:
        raise DeriveError(f"derive: update must be a plain SGD optimizer (array lr and frozen entries are fine), "
                          f"got {type(update).__name__}{' with momentum' if getattr(update, 'momentum', 0) else ''}; "
                          f"derive without update= and call optimizer.step() after each step")
    where = {id(p): i for i, p in enumerate(program.rec.inputs[:program.rec.n_params])}
    steps = []
    for p in update.params:
        if id(p) not in where:
            raise DeriveError("derive: the optimizer updates a tensor that is not one of the derived params")
        i = where[id(p)]
        g, param = program.grads[i], program.inputs[i]
        if g is None:
            continue
        mask = update.frozen.get(id(p))
        if mask is not None:
            g = program.operation(_ZERO_WHERE, (g, program.constant(mask)), {}, np.where(mask, 0.0, g.array))
        lr = update.lr if isinstance(update.lr, np.ndarray) else np.asarray(update.lr, dtype=p.dtype)
        args = (program.rate(lr), g)
        scaled = _simplify(ops.mul, args, lr * g.array) or program.operation(ops.mul, args, {}, lr * g.array)
        steps.append(program._add(Value("op", param.array, ops.sub, (param, scaled), into=param)))
    return steps


def _closure(roots: Sequence[Value]) -> set[int]:
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        v = stack.pop()
        if id(v) not in seen:
            seen.add(id(v))
            stack.extend(v.args)
    return seen


def make_plan(program: Program, updates: list[Value]) -> Plan:
    """Split the values into step() and loss() and give each a storage (buffers come later)."""
    handed = _hand_out_outputs(program)
    main = _closure([g for _, g in handed] + list(program.aux.values()) + updates)
    updated = {id(u.into) for u in updates}
    tail = _closure([program.loss]) - main
    while updated:  # loss-only values that read a parameter must run before the update changes it
        late = [v for v in program.values if id(v) in tail and any(id(a) in updated for a in _bases_of_args(v))]
        if not late:
            break
        main |= _closure(late)
        tail -= main
    storage: dict[int, str] = {}
    for v in program.values:
        storage[id(v)] = _storage(v, storage)
    order = _gradients_early([v for v in program.values if id(v) in main], {id(g) for _, g in handed}, storage)
    return Plan(order, [v for v in program.values if id(v) in tail], storage, {}, handed, [])


def _gradients_early(order: list[Value], gradients: set[int], storage: dict) -> list[Value]:
    """Move each parameter's gradient up to just after its last argument: it is kept to the end
    anyway, and computing it early ends the activations it reads sooner (their buffers get reused)."""
    def sources(v: Value) -> set[int]:  # the lines whose results v reads, through views made once
        found: set[int] = set()
        for a in v.args:
            if storage[id(a)] in ("fixed_view", "input_view", "view"):
                found |= sources(a)
            if storage[id(a)] not in ("fixed_view", "input_view", "const", "input"):
                found.add(id(a))
        return found

    for g in [v for v in order if id(v) in gradients and v.into is None]:
        order.remove(g)
        needed = sources(g)
        at = max((i + 1 for i, v in enumerate(order) if id(v) in needed), default=0)
        order.insert(at, g)
    return order


def _bases_of_args(v: Value) -> list[Value]:
    """The values whose memory `v` reads (through views)."""
    out: list[Value] = []
    for a in v.args:
        out.extend(_bases_of_args(a) if a.view else [a])
    return out


def _hand_out_outputs(program: Program) -> list[tuple[int, Value]]:
    """Each param's gradient as a buffer of its own (a copy where the gradient is shared, a view,
    an input, a constant, or of another dtype); unused params get zeros. Auxiliary outputs too."""
    for name, v in program.aux.items():
        if v.kind != "op" or v.view or not _takes_out(v.op) or v.into is not None:
            program.aux[name] = program._add(Value("op", np.array(v.array), _COPY, (v,)))
    handed, seen = [], set()
    for i, g in enumerate(program.grads):
        param = program.inputs[i]
        if g is None:
            zeros = np.zeros(param.shape, dtype=param.dtype)
            g = program.grads[i] = program.constant(zeros) if zeros.size > 16 else program._add(Value("const", zeros))
        elif (g.kind != "op" or g.view or id(g) in seen or g.dtype != param.dtype or not _takes_out(g.op)
              or g.into is not None):
            g = program.grads[i] = program._add(Value("op", np.array(g.array, dtype=param.dtype), _COPY, (g,)))
        seen.add(id(g))
        handed.append((i, g))
    return handed


def _storage(v: Value, storage: dict) -> str:
    if v.kind != "op":
        return v.kind
    if v.into is not None:
        return "into"
    if v.view:
        kinds = {storage[id(a)] for a in v.args}
        if kinds <= {"const", "fixed_view", "buffer"}:
            return "fixed_view"
        if kinds <= {"const", "fixed_view", "input", "input_view"}:
            return "input_view"
        return "view"
    return "buffer" if _takes_out(v.op) else "fresh"


def _buffer_bases(v: Value, storage: dict) -> set[int]:
    kind = storage[id(v)]
    if kind == "buffer":
        return {id(v)}
    if kind in ("view", "fixed_view"):
        return set().union(*[_buffer_bases(a, storage) for a in v.args])
    return set()


def place_buffers(program: Program, plan: Plan) -> None:
    """Give each buffered value an array, reusing one whose value nobody reads any more (same shape
    and dtype), in place when the op is elementwise and reads that very value; outputs keep theirs."""
    outputs = {id(g) for _, g in plan.handed} | {id(v) for v in program.aux.values()} | {id(program.loss)}
    storage, lines = plan.storage, plan.lines()
    last_read: dict[int, float] = {}
    for at, v in enumerate(lines):
        for a in v.args:
            for base in _buffer_bases(a, storage):
                last_read[base] = at
    for base in outputs:
        last_read[base] = math.inf
    free: list[tuple[float, Value]] = []  # (last line reading it, the value that held it)
    tail = {id(v) for v in plan.tail}
    for at, v in enumerate(lines):
        if storage[id(v)] != "buffer":
            continue
        # loss() may run any number of times after a step: it must not overwrite what step() left
        pick = next((j for j, (until, old) in enumerate(free) if _reusable(v, old, until, at, storage)
                     and (id(v) not in tail or id(old) in tail)), None)
        if pick is None:
            plan.buffers[id(v)] = np.empty_like(np.asarray(v.array))  # (its layout too: views of it stay views)
        else:
            old = free.pop(pick)[1]
            plan.buffers[id(v)] = plan.buffers[id(old)]
            plan.reuses.append((v.name, old.name))
        free.append((last_read.get(id(v), at), v))


def layout(array: Any) -> str:
    """The memory order NumPy's results follow (order='K'): "C", "F", or the axes from the largest
    stride; a later sum adds in this order, so a buffer keeps eager's layout and an input its own."""
    flags = np.asarray(array).flags
    if flags.c_contiguous or flags.f_contiguous:
        return "C" if flags.c_contiguous else "F"
    return ",".join(str(axis) for axis in np.argsort([-abs(s) for s in np.asarray(array).strides], kind="stable"))


def _strides(v: Value) -> tuple:
    return np.asarray(v.array).strides


def _reusable(v: Value, old: Value, until: float, at: int, storage: dict) -> bool:
    if old.shape != v.shape or old.dtype != v.dtype or _strides(old) != _strides(v) or until > at:
        return False
    if until < at:
        return True
    # read on this very line: only an elementwise op reading exactly that array may write over it
    return (isinstance(v.op.forward, np.ufunc) and any(a is old for a in v.args)
            and all(a is old or id(old) not in _buffer_bases(a, storage) for a in v.args))


# ==== 5. render: the equations (plain NumPy) and the source (buffers) ===============================

_INFIX = {"add": ("+", 1), "sub": ("-", 1), "mul": ("*", 2), "div": ("/", 2), "matmul": ("@", 2)}
_BUILTINS = set(dir(builtins))


def function_name(op: Op) -> str:
    """How generated code calls an op's forward: NumPy's ufuncs by their NumPy name, others by the op's."""
    if isinstance(op.forward, np.ufunc):
        return f"np.{op.forward.__name__}"
    name = _identifier(op.name)
    return f"{name}_" if name in _BUILTINS else name


def _literal(value: Any) -> str | None:
    """Source text for a simple parameter value, or None when it must be passed as a name."""
    if isinstance(value, (type(None), bool, int, str)) or (isinstance(value, float) and np.isfinite(value)):
        return repr(value)
    if isinstance(value, tuple) and all(isinstance(v, (int, type(None))) for v in value):
        return repr(value)
    return None


def _is_full_transpose(v: Value) -> bool:
    axes = v.params.get("axes")
    return v.op is ops.transpose_op and (axes is None or tuple(axes) == tuple(range(len(axes) - 1, -1, -1)))


# -- the plain form's NumPy: each op as NumPy text (the same calls as its forward, so the same bits); a few,
# too long for one expression, as short functions the text defines above `step`

def _plain_literal(value: Any) -> str | None:
    """Python text for a parameter value with only `np` in scope (index tuples, slices, dtypes), else None."""
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        value = value.item()
    if isinstance(value, (type(None), bool, int, str, type(Ellipsis))) or (
            isinstance(value, float) and np.isfinite(value)):
        return repr(value)
    if isinstance(value, slice):
        return f"slice({_plain_literal(value.start)}, {_plain_literal(value.stop)}, {_plain_literal(value.step)})"
    if isinstance(value, (np.dtype, type)) and np.dtype(value).kind in "biuf":
        return f"np.{np.dtype(value).name}"
    if isinstance(value, (tuple, list)):
        parts = [_plain_literal(v) for v in value]
        if None in parts:
            return None
        text = ", ".join(p for p in parts if p is not None)
        text += "," if isinstance(value, tuple) and len(value) == 1 else ""
        return f"({text})" if isinstance(value, tuple) else f"[{text}]"
    return None


def _subscript(index: Any) -> str | None:
    """An index as it is written between brackets (`1:, ::2`, `..., 0`), else None (an array: by name)."""
    def item(i: Any) -> str | None:
        if i is Ellipsis:
            return "..."
        if isinstance(i, slice):
            ends = [_plain_literal(e) if e is not None else "" for e in (i.start, i.stop, i.step)]
            if None in ends:
                return None
            return ":".join(str(e) for e in ends[:2]) + (f":{ends[2]}" if ends[2] else "")
        return _plain_literal(i)
    items = [item(i) for i in (index if isinstance(index, tuple) else (index,))]
    if None in items:
        return None
    return ", ".join(t for t in items if t is not None) + ("," if isinstance(index, tuple) and len(index) == 1 else "")


def _keywords(params: dict, names: tuple[str, ...], defaults: tuple) -> str:
    """`, axis=(0,)` for the parameters that differ from the NumPy function's defaults."""
    return "".join(f", {k}={params[k]}" for k, d in zip(names, defaults) if k in params and params[k] != repr(d))


_COMPARISONS = {">": ">", ">=": ">=", "<": "<", "<=": "<="}


def _compare_text(a: list[str], p: dict, dtype: str) -> str:
    rule = p["rule"].strip("'\"")
    if rule in _COMPARISONS:
        return f"({a[0]} {_COMPARISONS[rule]} {a[1]}).astype({dtype})"
    # (the arguments are expressions of arithmetic, which binds tighter than a comparison: no parentheses)
    if rule == "share":  # x's share of maximum(x, y): 1 above, 1/2 at a tie, 0 below
        return f"(({a[0]} >= {a[1]}) - 0.5 * ({a[0]} == {a[1]})).astype({dtype})"
    symbol = rule.split(" ")[0]  # ">= or y NaN": x's part of fmax / fmin
    return f"(({a[0]} {symbol} {a[1]}) | np.isnan({a[1]})).astype({dtype})"


_REDUCE_KEYWORDS = (("axis", "keepdims"), (None, False))
_PLAIN: dict[str, Callable[[list[str], dict, str], str]] = {
    "pow": lambda a, p, t: f"np.power({a[0]}, {a[1] if len(a) > 1 else p['exponent']})",
    "sum": lambda a, p, t: f"np.sum({a[0]}{_keywords(p, *_REDUCE_KEYWORDS)})",
    "mean": lambda a, p, t: f"np.mean({a[0]}{_keywords(p, *_REDUCE_KEYWORDS)})",
    "max": lambda a, p, t: f"np.max({a[0]}{_keywords(p, *_REDUCE_KEYWORDS)})",
    "min": lambda a, p, t: f"np.min({a[0]}{_keywords(p, *_REDUCE_KEYWORDS)})",
    "prod": lambda a, p, t: f"np.prod({a[0]}{_keywords(p, *_REDUCE_KEYWORDS)})",
    "norm": lambda a, p, t: f"np.sqrt(np.sum({a[0]} * {a[0]}{_keywords(p, *_REDUCE_KEYWORDS)}))",
    "cumsum": lambda a, p, t: f"np.cumsum({a[0]}{_keywords(p, ('axis',), (None,))})",
    "broadcast_to": lambda a, p, t: f"np.broadcast_to({a[0]}, {p['shape']})",
    "reshape": lambda a, p, t: f"np.reshape({a[0]}, {p['shape']})",
    "transpose": lambda a, p, t: f"np.transpose({a[0]}{_keywords(p, ('axes',), (None,))})",
    "getitem": lambda a, p, t: f"{a[0]}[{p['index']}]",
    "scatter": lambda a, p, t: f"{'scatter' if ops._is_basic_index(p['index_value']) else 'scatter_add'}"
                               f"({a[0]}, np.s_[{p['index']}], {p['shape']})",
    "index_add": lambda a, p, t: f"index_add({a[0]}, {a[1]}, np.s_[{p['index']}])",
    "index_set": lambda a, p, t: f"index_set({a[0]}, {a[1]}, np.s_[{p['index']}])",
    "compare": _compare_text,
    "relu": lambda a, p, t: f"np.maximum({a[0]}, 0)",
    "softplus": lambda a, p, t: f"np.logaddexp(0.0, {a[0]})",
    "einsum": lambda a, p, t: f"np.einsum({p['subscripts']}, {', '.join(a)})",
    "astype": lambda a, p, t: f"{a[0]}.astype({p['dtype']})",
    "copy": lambda a, p, t: f"np.copy({a[0]})",
    "stop_gradient": lambda a, p, t: a[0],
    "zero_where": lambda a, p, t: f"np.where({a[1]}, 0.0, {a[0]})",
    "round": lambda a, p, t: f"np.round({a[0]}{_keywords(p, ('decimals',), (0,))})",
    "clip": lambda a, p, t: f"np.clip({a[0]}, {p.get('lo', 'None')}, {p.get('hi', 'None')})",
    "where": lambda a, p, t: f"np.where({', '.join(a)})",
    "elu": lambda a, p, t: f"np.where({a[0]} > 0, {a[0]}, {p.get('alpha', '1.0')} * np.expm1(np.minimum({a[0]}, 0)))",
    "leaky_relu": lambda a, p, t: f"np.where({a[0]} > 0, {a[0]}, {p.get('slope', '0.01')} * {a[0]})",
    "flip": lambda a, p, t: f"np.flip({a[0]}{_keywords(p, ('axis',), (None,))})",
    "roll": lambda a, p, t: f"np.roll({a[0]}, {p['shift']}{_keywords(p, ('axis',), (None,))})",
    "pad": lambda a, p, t: f"np.pad({a[0]}, {p['widths']}, constant_values={p.get('value', '0.0')})",
    "concatenate": lambda a, p, t: f"np.concatenate([{', '.join(a)}]{_keywords(p, ('axis',), (0,))})",
    "stack": lambda a, p, t: f"np.stack([{', '.join(a)}]{_keywords(p, ('axis',), (0,))})",
    "inv": lambda a, p, t: f"np.linalg.inv({a[0]})",
    "det": lambda a, p, t: f"np.linalg.det({a[0]})",
    "cofactors": lambda a, p, t: f"cofactors({a[0]})",
    "solve": lambda a, p, t: f"np.linalg.solve({a[0]}, {a[1]})",
    "sigmoid": lambda a, p, t: f"sigmoid({a[0]})",
    "erf": lambda a, p, t: f"erf({a[0]})",
    "log_softmax": lambda a, p, t: f"log_softmax({a[0]}{_keywords(p, ('axis',), (-1,))})",
    "logsumexp": lambda a, p, t: f"logsumexp({a[0]}{_keywords(p, *_REDUCE_KEYWORDS)})",
    "argsort": lambda a, p, t: f"np.argsort({a[0]}, axis={p['axis']}, kind='stable')",
    "argmax": lambda a, p, t: f"np.argmax({a[0]}{_keywords(p, *_REDUCE_KEYWORDS)})",
    "argmin": lambda a, p, t: f"np.argmin({a[0]}{_keywords(p, *_REDUCE_KEYWORDS)})",
    "take_along_axis": lambda a, p, t: f"np.take_along_axis({a[0]}, {a[1]}, {p['axis']})",
    "add_along_axis": lambda a, p, t: f"add_along_axis({a[0]}, {a[1]}, {p['axis']}, {p['shape']})",
    "class_positions": lambda a, p, t: f"class_positions({a[0]}, {p['logits_shape']})",
}

# the functions the text defines where it uses them: the op table's forwards, written with NumPy alone
_DEFINED = {
    "erf": '''def erf(x):  # math.erf entry by entry (NumPy has no erf)
    import math
    return np.asarray(np.frompyfunc(math.erf, 1, 1)(x), dtype=x.dtype)
''',
    "scatter": '''def scatter(g, index, shape):  # getitem's gradient: g placed at `index` in zeros
    out = np.zeros(shape, dtype=g.dtype)
    out[index] = g
    return out
''',
    "scatter_add": '''def scatter_add(g, index, shape):  # the same for an index that may repeat: repeats add up
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, index, g)
    return out
''',
    "index_add": '''def index_add(x, values, index):  # x with values added at index (repeated indices add up)
    out = x.copy()
    np.add.at(out, index, values)
    return out
''',
    "index_set": '''def index_set(x, values, index):  # x with the entries at index set to values
    out = x.copy()
    out[index] = values
    return out
''',
    "add_along_axis": '''def add_along_axis(g, positions, axis, shape):  # take_along_axis's gradient: repeats add up
    out = np.zeros(shape, dtype=g.dtype)
    grid = np.indices(positions.shape, sparse=True)
    np.add.at(out, tuple(positions if a == axis % positions.ndim else grid[a] for a in range(positions.ndim)), g)
    return out
''',
    "class_positions": '''def class_positions(labels, logits_shape):  # class labels as positions (..., 1), checked
    if not np.all((labels == np.round(labels)) & (labels >= 0) & (labels < logits_shape[-1])):
        raise ValueError(f"cross_entropy: class labels must be whole numbers in [0, {logits_shape[-1]})")
    return labels.astype(np.intp)[..., None]
''',
    "sigmoid": '''def sigmoid(x):  # 1 / (1 + e^-x): e^x where e^-x overflows (x < -709 in float64)
    floor = -709.0 if x.dtype == np.float64 else -88.0
    return np.where(x < floor, np.exp(np.minimum(x, 0)), 1 / (1 + np.exp(-np.maximum(x, floor))))
''',
    "log_softmax": '''def log_softmax(x, axis=-1):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
''',
    "cofactors": '''def cofactors(a):  # det's gradient adj(a)^T, from the SVD (it exists at singular a too)
    finite = np.isfinite(a).all(axis=(-2, -1))
    if not finite.all():  # NaN where a matrix holds a NaN or inf (its SVD would not converge)
        out = cofactors(np.where(finite[..., None, None], a, 0.0))
        out[~finite] = np.nan
        return out
    u, sv, vt = np.linalg.svd(a)
    n = sv.shape[-1]
    others = np.stack([np.prod(np.delete(sv, i, axis=-1), axis=-1) for i in range(n)], axis=-1) if n > 1 \\
        else np.ones_like(sv)
    signs = (np.linalg.det(u) * np.linalg.det(vt))[..., None, None]
    return (signs * (vt.swapaxes(-1, -2) * others[..., None, :]) @ u.swapaxes(-1, -2)).swapaxes(-1, -2)
''',
    "logsumexp": '''def logsumexp(x, axis=None, keepdims=False):
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0)  # all -inf (or inf) along an axis: do not subtract it
    total = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    return total if keepdims else total.reshape(np.sum(x, axis=axis).shape)
''',
}


def _dtype_text(dtype: Any) -> str:
    return f"np.{np.dtype(dtype).name}"


def _array_text(array: np.ndarray) -> str | None:
    """A small array as `np.array([...])` (exact: a float's repr reads back as the same float), else None."""
    if array.size > 16 or array.dtype.kind not in "biuf" or (
            array.dtype.kind == "f" and not np.all(np.isfinite(array))):
        return None
    dtype = "" if array.dtype == np.float64 else f", dtype={_dtype_text(array.dtype)}"
    return f"np.array({array.tolist()!r}{dtype})"


def _others_make(result: Value, skip: int) -> bool:
    """Do the other arguments alone give the result's shape and dtype? (A uniform constant there may
    then be written as a Python number, which NumPy takes in the array's dtype.)"""
    others = [a for i, a in enumerate(result.args) if i != skip]
    try:
        shape = np.broadcast_shapes(*[a.shape for a in others])
    except ValueError:
        return False
    return bool(others) and shape == result.shape and np.result_type(*[a.dtype for a in others]) == result.dtype


class Renderer:
    """Writes values as Python text; collects what the text refers to in `env`."""

    def __init__(self, program: Program, plan: Plan) -> None:
        self.program, self.plan = program, plan
        self.env: dict[str, Any] = {"np": np}
        self.plain = False                      # writing the plain form (only `np` in scope), not the source
        self.arguments: dict[str, Any] = {}     # what the plain form's step() takes by name (arrays, lr)
        self.defined: dict[str, str] = {}       # the functions the plain form defines above step()
        uses: dict[int, int] = {}
        for v in plan.main + plan.tail:
            for a in v.args:
                uses[id(a)] = uses.get(id(a), 0) + 1
        self.uses = uses
        for v in program.values:
            if plan.storage.get(id(v)) == "buffer" and id(v) in plan.buffers:
                self.env[v.name] = plan.buffers[id(v)]
            elif v.kind == "const":
                self.env[v.name] = v.array

    def call(self, v: Value, args: list[str], out: str | None = None) -> str:
        op = v.op
        if op is ops.matmul and out is not None and all(a.array.ndim == 2 for a in v.args):
            fn = "np.dot"  # the same BLAS call as np.matmul for 2-D operands (tested), with less overhead per call
        else:
            fn = function_name(op)
            if not fn.startswith("np."):
                self.env[fn] = op.forward
        params = [f"{key}={self.param_text(v, key, value)}" for key, value in v.params.items()]
        return f"{fn}({', '.join(args + params + ([f'out={out}'] if out else []))})"

    def param_text(self, v: Value, key: str, value: Any) -> str:
        text = _literal(value)
        if text is None:
            text = f"{v.name}_{key}"
            self.env[text] = value
        return text

    def name(self, v: Value) -> str:
        if v.kind == "const":
            self.env[v.name] = v.array
            if self.plain:
                self.arguments[v.name] = v.array
        return v.name

    def constant_text(self, v: Value, dtype: Any, scalar_ok: bool) -> str | None:
        """A constant as NumPy text: a number where it broadcasts to the same result, else a small array
        written out, or None (passed by name): a large one, a learning rate (`lr`), and data `loss_fn`
        captured (read like the documents' `X`, `y`; app/derived.py names them after the hand code's)."""
        array = np.asarray(v.array)
        if any(v is r for r in self.program.rates) or array.size == 0:
            return None
        uniform = (array.dtype.kind in "biuf" and bool(np.all(np.isfinite(array)))
                   and bool(np.all(array == array.flat[0])))
        if uniform and scalar_ok and array.dtype == dtype and array.dtype.kind == "f":
            return repr(float(array.flat[0]))
        if v.captured and array.ndim > 0:
            return None
        if uniform and array.ndim > 0:
            kind = "" if array.dtype == np.float64 else f", dtype={_dtype_text(array.dtype)}"
            return f"np.full({array.shape!r}, {array.flat[0].item()!r}{kind})"
        return _array_text(array)

    def plain_call(self, v: Value, args: list[str]) -> str:
        """An op as NumPy text (the table above), or, for an op it has none for, a call of its forward
        passed to step() by name (listed with the arrays it takes)."""
        params = {key: self.plain_param(v, key, value) for key, value in v.params.items()}
        keywords = [f"{key}={text}" for key, text in params.items()]
        if v.op.name in _PLAIN:
            index = {"index_value": v.params["index"]} if "index" in v.params else {}  # (scatter: basic or not)
            text = _PLAIN[v.op.name](args, {**params, **index}, _dtype_text(v.dtype))
            called = text.split("(")[0]
            if called in _DEFINED:
                self.defined[called] = _DEFINED[called]
            return text
        if isinstance(v.op.forward, np.ufunc):
            return f"np.{v.op.forward.__name__}({', '.join(args + keywords)})"
        fn = function_name(v.op)
        self.arguments[fn] = v.op.forward
        return f"{fn}({', '.join(args + keywords)})"

    def plain_param(self, v: Value, key: str, value: Any) -> str:
        text = _subscript(value) if key == "index" else _plain_literal(value)
        if text is None:
            text = f"{v.name}_{key}"
            self.arguments[text] = value
        return text

    # -- the plain form: expressions, with single-use intermediate results written inline
    def inline(self, v: Value) -> bool:
        if v.kind != "op" or v.into is not None:
            return False
        if v.view:
            return True
        named = (v.name.startswith("d_") or v is self.program.loss or any(v is a for a in self.program.aux.values())
                 or any(id(t) in self.program.rec.forward for t in v.nodes))
        return not named and self.uses.get(id(v), 0) <= 1

    def expression(self, v: Value, dtype: Any = None, precedence: int = 0, right: bool = False,
                   scalar_ok: bool = False) -> str:
        if self.plain and v.kind == "const":
            text = self.constant_text(v, dtype, scalar_ok)
            if text is not None:
                return text
        elif (v.kind == "const" and v.array.ndim == 0 and v.dtype == dtype and np.isfinite(v.array)
                and not any(v is r for r in self.program.rates)):
            return repr(float(v.array))
        if not self.inline(v):
            return self.name(v)
        return self.formula(v, precedence, right)

    def formula(self, v: Value, precedence: int = 0, right: bool = False) -> str:
        op, args = v.op, v.args
        if _is_full_transpose(v):
            return f"{self.expression(args[0], v.dtype, 4)}.T"
        elementwise = (op.name in _INFIX and op is not ops.matmul or isinstance(op.forward, np.ufunc)
                       or op in (ops.pow_op, ops.compare))
        scalar_ok = [elementwise and _others_make(v, i) for i in range(len(args))]
        if op.name in _INFIX and len(args) == 2:
            symbol, level = _INFIX[op.name]
            text = (f"{self.expression(args[0], v.dtype, level, scalar_ok=scalar_ok[0])} {symbol} "
                    f"{self.expression(args[1], v.dtype, level, right=True, scalar_ok=scalar_ok[1])}")
        elif op is ops.neg:
            text, level = f"-{self.expression(args[0], v.dtype, 3)}", 3
        elif self.plain:
            return self.plain_call(v, [self.expression(a, v.dtype, scalar_ok=ok) for a, ok in zip(args, scalar_ok)])
        else:
            return self.call(v, [self.expression(a, v.dtype) for a in args])
        # Python groups equal operators from the left: a right operand of equal rank keeps its parentheses
        return f"({text})" if level < precedence or (right and level == precedence) else text

    def equation(self, v: Value) -> str:
        if v.into is not None:
            return f"{self.name(v.into)} -= {self.expression(v.args[1], v.dtype, 1, right=True)}"
        line = f"{v.name} = {self.formula(v)}"
        return f"{line}  # {v.shape!r} {v.dtype.name}" if self.plain else line  # (as a jaxpr shows them)

    # -- the buffered form: one NumPy call per line, results written into preallocated arrays
    def statement(self, v: Value) -> str:
        kind = self.plan.storage[id(v)]
        args = [self.name(a) for a in v.args]
        if kind == "into":
            assert v.into is not None  # (planned "into" only where the value has one)
            return f"{self.call(v, args, out=v.into.name)}"
        if kind == "buffer":
            self.env[v.name] = self.plan.buffers[id(v)]
            return self.call(v, args, out=v.name)
        return f"{v.name} = {self.formula_of_names(v)}"

    def formula_of_names(self, v: Value) -> str:
        saved, self.inline = self.inline, lambda v: False  # type: ignore[method-assign]
        try:
            return self.formula(v)
        finally:
            self.inline = saved  # type: ignore[method-assign]


def _section(program: Program, v: Value) -> str:
    if v.into is not None or v.op is _ZERO_WHERE or (v.op is ops.mul and any(v.args[0] is r for r in program.rates)):
        return "update"
    return "forward" if any(id(t) in program.rec.forward for t in v.nodes) else "backward"


def _sections(program: Program, values: list[Value], render: Callable[[Value], str]) -> list[str]:
    lines, current = [], None
    for v in values:
        section = _section(program, v)
        if section != current:
            lines.append(f"# {section}")
            current = section
        lines.append(render(v))
    return lines


def render_equations(program: Program, plan: Plan, r: Renderer) -> str:
    """Plain NumPy that runs with only `np` in scope: `step(<inputs>, *, <named arrays>)` returns the loss
    and the gradients (and updates in place); the few helpers it calls are defined above it. What it
    takes by name (large constants, `lr`, an op's forward it has no NumPy text for) is in `r.arguments`."""
    r.plain = True
    try:
        shown = [v for v in plan.main + plan.tail if v.kind == "op" and not r.inline(v)]
        body = _sections(program, [v for v in shown if id(v) in {id(m) for m in plan.main}], r.equation)
        tail = [v for v in shown if v not in plan.main]
        if tail:
            body += ["# loss"] + [r.equation(v) for v in tail]
        grads = ", ".join(r.expression(g) for _, g in plan.handed)
        body.append(f"return {r.expression(program.loss)}, [{grads}]")
    finally:
        r.plain = False
    signature = [v.name for v in program.inputs]
    if r.arguments:
        signature.append("*")
    for name, value in r.arguments.items():  # a number-valued one (lr) shows its value as the default
        default = _plain_literal(value.item()) if isinstance(value, np.ndarray) and value.ndim == 0 else None
        signature.append(name if default is None else f"{name}={default}")
    preamble = "".join(f"{text}\n\n" for text in r.defined.values())
    return preamble + f"def step({', '.join(signature)}):\n" + "".join(f"    {line}\n" for line in body)


def render_source(program: Program, plan: Plan, r: Renderer) -> str:
    """The compiled form: rebind() (an input array was replaced), step() and loss()."""
    inputs = program.inputs
    input_views = [v for v in program.values if plan.storage.get(id(v)) == "input_view"]
    seen = [f"seen_{v.name}" for v in inputs]
    r.env.update({s: None for s in seen})
    r.env.update({v.name: None for v in input_views})
    r.env["refuse"] = None  # set by Derived
    rebind = [f"global {', '.join(seen + [v.name for v in input_views])}"]
    for v in inputs:
        dtype = f"dtype_{v.dtype.name}"
        r.env[dtype] = v.dtype
        r.env[f"t_{v.name}"] = program.rec.inputs[v.index]
        rebind.append(f"if {v.name}.shape != {v.shape!r} or {v.name}.dtype != {dtype}: refuse({v.index}, {v.name})")
    rebind += [f"{v.name} = {r.formula_of_names(v)}" for v in input_views]
    r.env["may_share"], r.env["layout"] = np.may_share_memory, layout
    for v in input_views:  # a reshape of a non-contiguous array copies: the step would train the copy
        for base in {id(b): b for b in _bases_of_args(v) if b.kind == "input"}.values():
            rebind.append(f"if not may_share({v.name}, {base.name}): refuse({base.index}, {base.name}, {v.name!r})")
    for v in inputs:  # eager's results follow an input's layout, and its sums add in that order
        rebind.append(f"if layout({v.name}) != {layout(v.array)!r}: refuse({v.index}, {v.name}, layout_changed=True)")
    rebind.append(f"{', '.join(seen)} = {', '.join(v.name for v in inputs)}")
    shared = _read_by_loss(program, plan)
    step = [f"{v.name} = t_{v.name}.{_DATA}" for v in inputs]
    step.append("if " + " or ".join(f"{v.name} is not seen_{v.name}" for v in inputs) + ":")
    step.append(f"    rebind({', '.join(v.name for v in inputs)})")
    lines = plan.lines()
    step += _sections(program, [v for v in lines if any(v is m for m in plan.main)], r.statement)
    updated = [f"t_{v.into.name}" for v in plan.main if v.into is not None]
    if updated:
        r.env["written"] = mark_written
        step.append(f"written({', '.join(updated)})  # as `w.data = ...` would: graphs of the old values refuse")
    step += [f"t_{inputs[i].name}.grad = {r.name(g)}" for i, g in plan.handed]
    step = _guarded(program, r.env, step, shared)
    loss = [f"{v.name} = seen_{v.name}" for v in inputs if any(v is b for t in plan.tail for b in _bases_of_args(t))]
    loss += [r.statement(v) for v in lines if any(v is t for t in plan.tail)]
    loss.append(f"return {r.name(program.loss)}")
    for v in program.values:  # views of buffers and constants: made once, here
        if plan.storage.get(id(v)) == "fixed_view":
            r.env[v.name] = view = _evaluate(v, r.env)
            if not all(np.may_share_memory(view, r.env[b.name]) for b in _bases_of_args(v) if b.kind == "op"):
                raise DeriveError(f"derive: {v.name} ({v.op.name} of a result, shape {v.shape}) was a view when "
                                  f"recorded but would be a copy of the step's buffer, which the step would not "
                                  f"update; this step cannot be derived yet, train it eagerly")
    reuse = "".join(f"# {new} reuses the buffer of {old}\n" for new, old in plan.reuses)
    return (reuse + _function("rebind", [v.name for v in inputs], rebind) + _function("step", [], step)
            + _function("loss", [], loss))


def _guarded(program: Program, env: dict, body: list[str], shared: list[str]) -> list[str]:
    """step()'s body run by one thread at a time (its buffers are shared), after checking that the
    optimizer compiled in still has the rate, momentum and frozen entries it had (by identity)."""
    env["busy"] = None  # set by Derived: a lock
    lines = [f"global {', '.join(shared)}"] if shared else []
    if program.update is not None:
        settings = _update_settings(program.update)
        env["update_settings"] = program.update.__dict__
        for i, (key, value) in enumerate(settings.items()):
            env[f"setting_{i}"], env[f"seen_setting_{i}"] = key, value
        lines.append("if " + " or ".join(f"update_settings[setting_{i}] is not seen_setting_{i}"
                                         for i in range(len(settings))) + ":")
        lines.append("    refuse(-1, None)")
    lines.append("if not busy.acquire(False):")
    lines.append("    refuse(-2, None)")
    return lines + ["try:"] + [f"    {line}" for line in body] + ["finally:", "    busy.release()"]


def _update_settings(update: Any) -> dict[str, Any]:
    """What a fused update compiles in (the optimizer's own stored objects, compared by identity)."""
    return {key: update.__dict__[key] for key in ("lr", "momentum", "frozen")}


def _read_by_loss(program: Program, plan: Plan) -> list[str]:
    """Values step() computes without a buffer that loss() reads: they live as globals."""
    main = {id(v) for v in plan.main}
    wanted = [a for t in plan.tail for a in t.args] + [program.loss]
    return sorted({a.name for a in wanted if id(a) in main and plan.storage[id(a)] in ("fresh", "view")})


def _evaluate(v: Value, env: dict) -> Any:
    return v.op.forward(*[env[a.name] for a in v.args], **v.params)


def _function(name: str, args: list[str], body: list[str]) -> str:
    return f"def {name}({', '.join(args)}):\n" + "".join(f"    {line}\n" for line in body) + "\n"


# ==== 6. the derived step =========================================================================

class Derived:
    """A derived training step: `.function()` runs it; `.source`, `.equations` and `.names` explain it."""

    # set by fused.attach as derive makes the step: the back end that runs it, and why not numba if not
    backend: str
    fallback_reason: str | None
    fused: FusedStep | None

    def __init__(self, program: Program, plan: Plan) -> None:
        rec = program.rec
        self.params, self.data = rec.inputs[:rec.n_params], rec.inputs[rec.n_params:]
        self.input_names = list(rec.names)
        renderer = Renderer(program, plan)
        self.source = render_source(program, plan, renderer)
        self.equations = render_equations(program, plan, renderer)
        self.names: dict[str, list[Tensor]] = {v.name: v.nodes for v in program.values if v.name and v.nodes}
        env = renderer.env
        env["refuse"] = self._refuse
        env["busy"] = self._busy = threading.Lock()
        self.update = program.update
        self._settings = _update_settings(program.update) if program.update is not None else {}
        self.constants: dict[str, tuple] = {v.name: v.shape for v in program.values
                                            if v.kind == "const" and v.captured}
        exec(compile(self.source, "<autograd_mini.derivation>", "exec"), env)
        self.function: Callable[[], None] = env["step"]
        self._loss: Callable[[], Any] = env["loss"]
        self.equations_arguments: dict[str, Any] = dict(renderer.arguments)  # what `.equations`' step takes by name
        plain: dict[str, Any] = {"np": np}  # the plain form runs with NumPy alone (tests check it)
        exec(compile(self.equations, "<autograd_mini.derivation equations>", "exec"), plain)
        self.equations_function: Callable[..., tuple] = plain["step"]
        self.equations_function.__kwdefaults__ = {**(self.equations_function.__kwdefaults__ or {}),
                                                  **self.equations_arguments}
        self.aux = {name: plan.buffers[id(v)] for name, v in program.aux.items()}
        self.shapes = [t.shape for t in rec.inputs]
        self.dtypes = [t.dtype for t in rec.inputs]
        self.layouts = [layout(v.array) for v in program.inputs]
        unique = {id(b): b for b in plan.buffers.values()}
        self.buffers: list[np.ndarray] = list(unique.values())
        self.nodes = sum(1 for v in program.values if v.kind == "op")
        self.calls = len(plan.main)

    def run(self, n_steps: int, record_every: int = 1, feed: Mapping[Any, np.ndarray] | None = None) -> np.ndarray:
        """`n_steps` steps (forward, backward, update); returns the losses of steps k-1, 2k-1, ...
        (k = `record_every`). `feed` = {data tensor or name: samples stacked on a first axis}: step s
        reads sample s % len. On the numba back end all steps run in one compiled call."""
        from .fused import run_numpy
        if self.fused is not None:
            return self.exclusive(self.fused.run, n_steps, record_every, feed)
        return run_numpy(self, n_steps, record_every, feed)

    def exclusive(self, call: Callable[..., Any], *args: Any) -> Any:
        """`call` (a fused step or run) under the NumPy program's own checks: the optimizer still has
        the settings compiled in, and one thread at a time (the buffers and gradients are shared)."""
        update = self.update.__dict__ if self._settings else {}
        if any(update[key] is not value for key, value in self._settings.items()):
            self._refuse(-1, None)
        if not self._busy.acquire(False):
            self._refuse(-2, None)
        try:
            return call(*args)
        finally:
            self._busy.release()

    def __call__(self) -> float:
        """One step (forward, backward, update if any); returns the loss as a float (`am.trace`'s replay)."""
        self.function()
        return self._loss().item()

    def loss(self) -> float:
        """The loss of the last step, computed now (the step itself does not compute it)."""
        return self._loss().item()

    def loss_array(self) -> np.ndarray:
        """The loss of the last step as a 0-d array of the loss's dtype (a copy)."""
        return np.array(self._loss())

    @property
    def buffer_bytes(self) -> int:
        return sum(b.nbytes for b in self.buffers)

    def _refuse(self, index: int, array: Any, view: str | None = None, layout_changed: bool = False) -> None:
        if index == -1:
            raise DeriveError("derive: the optimizer's lr, momentum or frozen entries were assigned after the step "
                              "was derived with update=; the step has the old ones compiled in. Derive again "
                              "(fit does so itself when a record callback changes them)")
        if index == -2:
            raise DeriveError("derive: this derived step is already running in another thread; its buffers (and "
                              "the gradients it hands out) are shared, so one step runs at a time. Derive one step "
                              "per thread to train in several")
        n_params = len(self.params)
        tensor = (self.params + self.data)[index]
        what = (f"params[{index}]" if index < n_params else
                f"data input {index - n_params} (a Tensor loss_fn reads but did not create)")
        label = f"{what} {self.input_names[index]!r}"
        if view is not None:
            raise DeriveError(f"derive: {label} is read through a view ({view}) made when the step was derived; its "
                              f"new array (strides {getattr(array, 'strides', None)}) gives a copy there, so the step "
                              f"would train a copy. Assign an array of the original layout (np.ascontiguousarray), "
                              f"or derive again")
        shape, dtype = np.shape(array), getattr(array, "dtype", None)
        if shape != self.shapes[index]:
            raise ShapeError(f"derive: {label} had shape {self.shapes[index]} when the step was derived but has "
                             f"shape {shape} now; a derived step runs fixed shapes: derive again for the new shapes")
        if layout_changed:
            raise DeriveError(f"derive: {label} had memory layout {self.layouts[index]!r} when the step was "
                              f"derived but has {layout(array)!r} now (strides {array.strides}); eager mode's "
                              f"results, and so the order its sums add in, follow the layout: assign an array of "
                              f"the original layout (np.ascontiguousarray or np.asfortranarray), or derive again")
        raise ShapeError(f"derive: {label} had dtype {self.dtypes[index]} when the step was derived but has dtype "
                         f"{dtype} now; derive again for it ({tensor.shape})")

    def _repr_html_(self) -> str:  # Jupyter shows the equations, with the generated code folded
        from .display import derived_html
        return derived_html(self)

    def __repr__(self) -> str:
        return (f"Derived({len(self.params)} params, {len(self.data)} data inputs, {self.nodes} ops, "
                f"{self.calls} lines per step, {self.buffer_bytes} bytes of buffers)")


def derive(loss_fn: Callable[..., Any], params: Mapping[str, Tensor] | Sequence[Tensor],
           update: Any = None, backend: str = "numpy") -> Derived:
    """Record `loss_fn(*params)` (a scalar Tensor, or `(loss, {name: tensor})` to keep other results)
    and its gradient once; return the step as generated NumPy, compiled. `update`: a plain SGD
    optimizer over these params, made part of the step (`w -= lr * d_w` in place). `backend`:
    "numpy" (the NumPy program, eager's bits), "numba" (fused.py: machine code, 1e-12 relative;
    warns when it falls back to the NumPy program) or "auto" (numba where it can, silently)."""
    names, params = _named_params(params)
    program = Program(record(loss_fn, params, names))
    updates = add_update(program, update)
    plan = make_plan(program, updates)
    name_values(program)
    place_buffers(program, plan)
    derived = Derived(program, plan)
    from .fused import attach
    attach(derived, program, plan, backend)
    fused = derived.fused
    if fused is not None:
        derived.function = lambda: derived.exclusive(fused.step)
        derived._loss = lambda: fused.last_loss
    return derived


def _named_params(params: Any) -> tuple[list[str], list[Tensor]]:
    if isinstance(params, Mapping):
        names, tensors = list(params.keys()), list(params.values())
    else:
        tensors = list(params)
        names = [t.name if isinstance(t, Tensor) and t.name else f"w{i}" for i, t in enumerate(tensors)]
    for i, p in enumerate(tensors):
        if not isinstance(p, Tensor):
            raise DeriveError(f"derive: params[{i}] is a {type(p).__name__}, not a Tensor")
        if not p.requires_grad or p._op is not None:
            raise DeriveError(f"derive: params[{i}] (shape {p.shape}) must be a leaf Tensor with requires_grad=True"
                              + (f", not the result of '{p.op_name}'" if p._op is not None else ""))
    return [_identifier(n) for n in names], tensors
