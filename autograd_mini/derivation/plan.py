"""Pass 4 of `derive`: plan: what runs where, and in which buffer."""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .. import ops
from ..tensor import Op
from .program import Program, Value, _simplify
from .refusals import DeriveError


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
    from ..optim import SGD
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
        if g.dtype != param.dtype:  # (eager's update reads .grad, in the parameter's dtype: float64 products
            # of a float32 parameter with float64 data are rounded to float32 before lr * g)
            g = program.grads[i] = program._add(Value("op", np.array(g.array, dtype=param.dtype), _COPY, (g,)))
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
    tail = _closure([program.loss]) - main
    # loss-only values that read an input run in step(): loss() may run after the update has changed a
    # parameter, or after an input's array was written into, and a data input may share a parameter's memory
    main |= _closure([v for v in program.values if id(v) in tail
                      and any(b.kind == "input" for b in _bases_of_args(v))])
    tail -= main
    storage: dict[int, str] = {}
    for v in program.values:
        storage[id(v)] = _storage(v, storage)
    order = _gradients_early([v for v in program.values if id(v) in main and v.into is None],
                             {id(g) for _, g in handed}, storage)
    # the updates write the parameters in place: last, after every value that reads them (a gradient or
    # an aux output that is a parameter or a view of one, copied out), as eager updates after backward
    order += [v for v in program.values if id(v) in main and v.into is not None]
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
    handed, seen = [], {id(v) for v in program.aux.values()}  # (a gradient that is an aux output too: a copy)
    for i, g in enumerate(program.grads):
        param = program.inputs[i]
        if g is None:  # (zeros copied into its own buffer at every step, as any constant gradient: what a
            g = program.constant(np.zeros(param.shape, dtype=param.dtype))  # caller writes into .grad is gone)
        if (g.kind != "op" or g.view or id(g) in seen or g.dtype != param.dtype or not _takes_out(g.op)
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


def _elementwise(op: Op) -> bool:
    """A ufunc that maps entry to entry (np.matmul is a ufunc too, with a core signature: not one)."""
    return isinstance(op.forward, np.ufunc) and op.forward.signature is None


def _reusable(v: Value, old: Value, until: float, at: int, storage: dict) -> bool:
    if old.shape != v.shape or old.dtype != v.dtype or _strides(old) != _strides(v) or until > at:
        return False
    if until < at:
        return True
    # read on this very line: only an elementwise op reading exactly that array may write over it
    return (_elementwise(v.op) and any(a is old for a in v.args)
            and all(a is old or id(old) not in _buffer_bases(a, storage) for a in v.args))
