"""`am.trace(loss_fn, params)`: record one training step's graph once, then replay it.

    step = am.trace(loss_fn, [w0, w1])    # loss_fn(w0, w1) -> scalar Tensor
    for _ in range(steps):
        loss = step()                      # forward and backward; sets w.grad; returns the loss (float)
        for w in (w0, w1):
            w.data -= lr * w.grad

How: the step is recorded twice over — the forward by running `loss_fn`, the backward by running
the ops' own VJPs on Tensors (`create_graph`), so the gradient is a graph of the same primitives and
nothing here knows any op by name. That one graph is then pruned to what the loss and the
gradients need, parts that depend only on constants are computed once (the seed, `0.5 * seed`, its
broadcast), every other result gets a preallocated buffer filled by the op's `into` form
(`out=`), and the whole step is written out as one straight-line Python function. A replay
builds no Tensor and allocates nothing but what ops without an `into` form allocate.

The numbers are the eager ones, bit for bit: the same NumPy calls on the same values in the same
order (the tests check it over many steps).

What is read anew at every call: each parameter's `.data`, and the `.data` of every Tensor that
`loss_fn` uses but did not create (the data: assign `x.data = next_batch` to feed new data).
Constants that `loss_fn` creates itself (numbers, arrays converted inside it) are fixed at trace
time. Shapes and dtypes are fixed too: a replay refuses, naming the tensor, when one changes.

Also fixed at trace time: the ops `loss_fn` called and their order, every Python decision (`if`,
loop counts, indices) and every number it computed from tensor values as Python or NumPy data
(`bool()`, `float()`, `int()`, `.item()`, `.data`, `.numpy()`, `np.asarray`, comparisons). A replay
runs the recorded ops only, so after the values change it keeps the branch taken at trace time.
Reading the value of a parameter, of a data input or of anything computed from them while
tracing therefore warns with a `TraceWarning` (as `torch.jit.trace` does). Keep data-dependent
choices inside ops (`am.maximum`, `am.relu`), or train such a `loss_fn` eagerly.

Gradients are *set*, not accumulated: after `step()`, `w.grad` is this step's gradient (a buffer
the next call overwrites; copy it to keep it).
"""
from __future__ import annotations

import os
import sys
import warnings
from typing import Any, Callable, Sequence

import numpy as np

from .errors import AutogradMiniError, ShapeError
from .tensor import Op, Tensor, backprop, enable_grad, recording, walk

_SIMPLE = (type(None), bool, int, float, str)


class TraceError(AutogradMiniError):
    """The step cannot be traced (or replayed) as asked."""


class TraceWarning(UserWarning):
    """`loss_fn` read a value while it was traced: the replay keeps whatever that value decided."""


def _warn_value_read(t: Tensor, how: str) -> None:
    what = f"'{t.name}'" if t.name else f"of shape {t.shape}"
    access = {"data": ".data", "numpy": ".numpy() or np.asarray()", "item": ".item()"}.get(how, f"{how}()")
    if how in ("==", "!=", "<", "<=", ">", ">="):
        access = f"a comparison ({how})"
    warnings.warn(f"trace: loss_fn read the value of a tensor {what} (a parameter, a data input or computed "
                  f"from them) through {access} while "
                  f"it was traced; a traced step replays the ops recorded now, so any Python branch, loop count "
                  f"or number that this value decides stays as it was at trace time (the replay keeps the branch "
                  f"taken now). Keep values inside tensor ops (am.maximum, masks) or train this loss_fn eagerly",
                  TraceWarning, stacklevel=_first_frame_outside_package())


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _first_frame_outside_package() -> int:
    """The stacklevel of the innermost caller outside autograd_mini (the line of loss_fn that read)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


def trace(loss_fn: Callable[..., Tensor], params: Sequence[Tensor]) -> "TracedStep":
    """Record `loss_fn(*params)` and its gradient once; return a callable that replays both."""
    params = list(params)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TraceError(f"trace: params[{i}] is a {type(p).__name__}, not a Tensor")
        if not p.requires_grad or p._op is not None:
            raise TraceError(f"trace: params[{i}] (shape {p.shape}) must be a leaf Tensor with requires_grad=True"
                             + (f", not the result of '{p.op_name}'" if p._op is not None else ""))
    # pass 1: which tensors does loss_fn read that it did not make? Those are its data inputs.
    loss, made = _record(loss_fn, params, on_value_read=None)
    ours = {id(p) for p in params} | {id(t) for t, _ in made}
    data = [t for t in walk([loss], grad_only=False) if t._op is None and id(t) not in ours and not t.requires_grad]
    # pass 2: record again with the data marked as requiring grad, so that every op reading it is
    # recorded (and replayed) instead of folded into a constant; then record the backward.
    for t in data:
        t.requires_grad = True
    try:
        loss, made = _record(loss_fn, params, _warn_value_read)  # (now the data "requires grad" too)
        nodes = walk([loss], grad_only=False)
        forward = {id(t) for t in nodes}
        # the seed "requires grad" only so that the engine records every op of the backward (none is
        # folded out of sight); the plan below folds what depends on constants alone, itself
        seed = Tensor(np.ones(loss.shape, dtype=loss.dtype), requires_grad=True)
        log: list = []
        origin: dict[int, str] = {}  # id(constant made inside a VJP) -> that VJP's op name

        def named(op: Op) -> Op:  # the same op, its VJP noting which constants it makes
            def vjp(*args: Any, **kwargs: Any) -> tuple:
                start = len(log)
                result = op.vjp(*args, **kwargs)
                for made_here, _ in log[start:]:
                    origin[id(made_here)] = op.name
                return result
            return Op(op.name, op.forward, vjp, op.explain)

        # this graph is ours alone (recorded just now): swap each node's op for the named one, then back
        swapped = [(t, t._op) for t in nodes if t._op is not None]
        for t, op in swapped:
            t._op = named(op)
        try:
            with recording(on_constant=lambda t, from_number: log.append((t, from_number))):
                grads = backprop([loss], [seed], retain_graph=True, create_graph=True, accumulate_leaves=False,
                                 capture=params)
        finally:
            for t, op in swapped:
                t._op = op
    finally:
        for t in data:
            t.requires_grad = False
    grad_nodes: list[Tensor | None] = []
    for p in params:
        g = grads.get(id(p))
        if g is not None and g.shape != p.shape:
            raise TraceError(f"trace: the gradient of a parameter of shape {p.shape} came out with shape {g.shape}")
        grad_nodes.append(g)
    data = [t for t in data if id(t) in forward]  # (tensors made inside loss_fn in pass 1 are gone)
    impure = {id(t): origin.get(id(t), "?") for t, from_number in log if not from_number and id(t) not in forward}
    return TracedStep(loss, params, data, grad_nodes, impure)


def _record(loss_fn: Callable[..., Tensor], params: list,
            on_value_read: Callable[[Tensor, str], None] | None) -> tuple[Tensor, list]:
    made: list = []
    with recording(on_constant=lambda t, from_number: made.append((t, from_number)), on_value_read=on_value_read):
        with enable_grad():
            loss = loss_fn(*params)
    if not isinstance(loss, Tensor):
        raise TraceError(f"trace: loss_fn must return a Tensor, got {type(loss).__name__}")
    if loss.size != 1:
        raise TraceError(f"trace: loss_fn must return a scalar Tensor, got shape {loss.shape}")
    if not loss.requires_grad:
        raise TraceError("trace: the loss does not depend on the params (it does not require grad)")
    return loss, made


def _literal(value: Any) -> str | None:
    """Source text for a simple parameter value, or None when it must be passed as a name."""
    if isinstance(value, _SIMPLE) and not (isinstance(value, float) and not np.isfinite(value)):
        return repr(value)
    if isinstance(value, tuple) and all(isinstance(v, (int, type(None))) for v in value):
        return repr(value)
    return None


class TracedStep:
    """One recorded training step, replayed by calling it: forward, backward, `.grad` set, loss returned."""

    def __init__(self, loss: Tensor, params: list, data: list, grad_nodes: list, impure: dict) -> None:
        self.params, self.data = params, data
        inputs = {id(t): i for i, t in enumerate(params + data)}
        roots = [loss] + [g for g in grad_nodes if g is not None]
        nodes = walk(roots, grad_only=False)
        names: dict[int, str] = {}           # id(tensor) -> the variable holding its value
        env: dict[str, Any] = {"_np": np, "_refuse": self._refuse}
        stable: set[int] = set()             # values whose array object never changes between calls
        constant: set[int] = set()           # values that never change at all
        lines: list[str] = []                # the replay, after the input check
        reads: list[set[str]] = []           # per line: the buffers it reads (directly or through views)
        bases: dict[str, set[str]] = {}      # value name -> the buffers it lives in (itself, or a view's)
        allocs: list[tuple[str, int, tuple, Any]] = []  # (buffer name, line, shape, dtype), to place later
        deferred: list[Callable[[], None]] = []  # views of buffers, made once the buffers exist

        def emit(line: str, parents: Sequence[Tensor] = ()) -> None:
            lines.append(line)
            reads.append(set().union(*[bases.get(names[id(p)], set()) for p in parents]))
        rebind: list[str] = []               # run when an input's array object changed: check, remake views
        cells: list[str] = []                # variables the rebind block sets (closure cells)
        self.buffers: list[np.ndarray] = []  # preallocated results, for memory accounting

        n_inputs = len(params) + len(data)
        for i, t in enumerate(params + data):
            names[id(t)] = f"a{i}"
            env[f"t{i}"] = t
            env[f"s{i}"], env[f"d{i}"] = t.data.shape, t.data.dtype
            rebind.append(f"if a{i}.shape != s{i} or a{i}.dtype != d{i}: _refuse({i}, a{i})")
            cells.append(f"k{i}")
        rebind.append(", ".join(f"k{i}" for i in range(n_inputs)) + " = " + ", ".join(f"a{i}" for i in range(n_inputs))
                      + ("," if n_inputs == 1 else ""))
        per_input: set[int] = {id(t) for t in params + data}  # values that change only on a rebind
        self.shapes = [t.data.shape for t in params + data]
        self.dtypes = [t.data.dtype for t in params + data]

        for k, t in enumerate(nodes):
            if id(t) in names:
                continue
            if t._op is None:  # a constant: computed at trace time, fixed
                if id(t) in impure:
                    raise TraceError(
                        f"trace: the VJP of '{impure[id(t)]}' uses its inputs' values as a plain "
                        f"array (a mask or sign, shape {t.shape}), which a replay would not update; this op "
                        f"cannot be traced yet, train it in eager mode")
                names[id(t)] = f"c{k}"
                env[f"c{k}"] = t.data
                stable.add(id(t))
                constant.add(id(t))
                continue
            op, params_k = t._op, t._params or {}
            if all(id(p) in constant for p in t._parents):  # computed from constants only: once, now
                env[f"c{k}"] = op.forward(*[env[names[id(p)]] for p in t._parents], **params_k)
                names[id(t)] = f"c{k}"
                stable.add(id(t))
                constant.add(id(t))
                continue
            args = [names[id(p)] for p in t._parents]
            kwargs = []
            for key, value in params_k.items():
                text = _literal(value)
                if text is None:
                    env[f"p{k}_{key}"] = value
                    text = f"p{k}_{key}"
                kwargs.append(f"{key}={text}")
            env[f"f{k}"] = op.forward
            value = np.asarray(t.data)
            inputs_arrays = [p.data for p in t._parents]
            is_view = any(isinstance(a, np.ndarray) and np.may_share_memory(value, a) for a in inputs_arrays)
            if is_view:
                # a view of its input (transpose, reshape, broadcast): of a stable array, once; else each call
                parent_names = [names[id(p)] for p in t._parents]
                if all(id(p) in stable for p in t._parents):  # a view of our buffers, made once
                    def make_view(k: int = k, op: Any = op, parent_names: list = parent_names,
                                  params_k: dict = params_k) -> None:
                        env[f"c{k}"] = op.forward(*[env[n] for n in parent_names], **params_k)
                    deferred.append(make_view)
                    names[id(t)] = f"c{k}"
                    stable.add(id(t))
                elif all(id(p) in stable or id(p) in per_input for p in t._parents):  # of an input: on rebind
                    names[id(t)] = f"v{k}"
                    rebind.append(f"v{k} = f{k}({', '.join(args + kwargs)})")
                    cells.append(f"v{k}")
                    per_input.add(id(t))
                else:
                    names[id(t)] = f"v{k}"
                    emit(f"v{k} = f{k}({', '.join(args + kwargs)})", t._parents)
                bases[names[id(t)]] = set().union(*[bases.get(n, set()) for n in parent_names])
                continue
            if op.into is not None:
                env[f"i{k}"] = op.into
                names[id(t)] = f"b{k}"
                stable.add(id(t))
                if isinstance(op.into, np.ufunc) and not kwargs and op.into not in (np.maximum, np.minimum):
                    emit(f"i{k}({', '.join(args)}, b{k})", t._parents)
                else:
                    emit(f"i{k}({', '.join(args + kwargs)}, out=b{k})", t._parents)
                allocs.append((f"b{k}", len(lines) - 1, value.shape, value.dtype))
                bases[f"b{k}"] = {f"b{k}"}
            else:
                names[id(t)] = f"v{k}"
                emit(f"v{k} = f{k}({', '.join(args + kwargs)})", t._parents)

        # gradients: a node's own buffer is handed out as .grad; anything else is copied into one
        outputs = set(bases.get(names[id(loss)], set()))
        handed: set[int] = set()
        for i, (p, g) in enumerate(zip(params, grad_nodes)):
            if g is None:
                env[f"g{i}"] = np.zeros(p.data.shape, dtype=p.data.dtype)
                emit(f"t{i}.grad = g{i}")
            elif names[id(g)].startswith("b") and id(g) not in handed and g.dtype == p.dtype:
                handed.add(id(g))
                outputs.add(names[id(g)])
                emit(f"t{i}.grad = {names[id(g)]}")
            else:
                env[f"g{i}"] = np.empty(p.data.shape, dtype=p.data.dtype)
                self.buffers.append(env[f"g{i}"])
                emit(f"_np.copyto(g{i}, {names[id(g)]})", [g])
                emit(f"t{i}.grad = g{i}")
        lines.append(f"return {names[id(loss)]}.item()")
        self._place_buffers(env, allocs, reads, outputs)
        for make_view in deferred:
            make_view()

        head = [f"nonlocal {', '.join(cells)}"]
        head += [f"a{i} = t{i}.data" for i in range(n_inputs)]
        head.append("if " + " or ".join(f"a{i} is not k{i}" for i in range(n_inputs)) + ":")
        head += [f"    {line}" for line in rebind]
        self.source = "def replay():\n" + "".join(f"    {line}\n" for line in head + lines)
        outer = "def _make(" + ", ".join(env) + "):\n"
        outer += f"    {' = '.join(cells)} = None\n"
        outer += "".join(f"    {line}\n" for line in self.source.splitlines())
        outer += "    return replay\n"
        namespace: dict[str, Any] = {}
        exec(compile(outer, "<autograd_mini.trace>", "exec"), namespace)
        self._replay = namespace["_make"](**env)
        self.nodes = sum(1 for t in nodes if t._op is not None)
        self.calls = sum(1 for line in lines if line.startswith(("i", "v", "_np.copyto")))  # per replay

    def _place_buffers(self, env: dict, allocs: list, reads: list, outputs: set) -> None:
        """Give each result a buffer, reusing one whose value nobody reads any more (same shape and
        dtype); the loss and the gradients handed out as .grad keep theirs."""
        last_read: dict[str, int] = {}
        for line, names in enumerate(reads):
            for name in names:
                last_read[name] = line
        free: list[tuple[int, np.ndarray]] = []  # (line after which it is free, buffer)
        for name, line, shape, dtype in allocs:
            reuse = next((j for j, (until, b) in enumerate(free)
                          if until < line and b.shape == shape and b.dtype == dtype), None)
            if reuse is None:
                buffer = np.empty(shape, dtype=dtype)
                self.buffers.append(buffer)
            else:
                buffer = free.pop(reuse)[1]
            env[name] = buffer
            if name not in outputs:
                free.append((last_read.get(name, line), buffer))

    def __call__(self) -> float:
        return self._replay()

    @property
    def buffer_bytes(self) -> int:
        return sum(b.nbytes for b in self.buffers)

    def _refuse(self, index: int, array: Any) -> None:
        tensors = self.params + self.data
        t = tensors[index]
        what = (f"params[{index}]" if index < len(self.params) else f"data input {index - len(self.params)} "
                f"(a Tensor loss_fn reads but did not create)")
        label = f"{what}{' ' + repr(t.name) if t.name else ''}"
        expected_shape, expected_dtype = self.shapes[index], self.dtypes[index]
        shape, dtype = np.shape(array), getattr(array, "dtype", None)
        if shape != expected_shape:
            raise ShapeError(f"trace: {label} had shape {expected_shape} when the step was traced but has shape "
                             f"{shape} now; a traced step replays fixed shapes: trace again for the new shapes")
        raise ShapeError(f"trace: {label} had dtype {expected_dtype} when the step was traced but has dtype "
                         f"{dtype} now; trace again for it")

    def __repr__(self) -> str:
        return (f"TracedStep({len(self.params)} params, {len(self.data)} data inputs, {self.nodes} ops, "
                f"{self.calls} calls per replay, {self.buffer_bytes} bytes of buffers)")
