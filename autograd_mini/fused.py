"""The fused back end: a derived step lowered to numba-compiled machine code.

`am.derive(..., backend="numba")` (or `"auto"`) takes the program and plan that derivation/ built
(the same simplified values the NumPy program runs) and writes them as one numba function, `body`:
element-wise chains become single expressions, which numba fuses into one loop; small 2-D products
are explicit loops (BLAS's call overhead dominates below a few thousand multiply-adds), larger ones
`np.dot`; sums and means are NumPy reductions inside the compiled code. Values are written into
slices of one work array made with the step. On large arrays a transcendental ufunc is NumPy's own
(vectorised) inside `numba.objmode`; an op of the table without a lowering runs its own forward
there too. `body` writes the gradients and auxiliary outputs into the very arrays the NumPy program
hands out, updates the parameters in place, and returns the loss. `loop` runs N steps of `body`
inside one compiled call, feeding data that changes per step (sample `s % m` of a stacked array at
step `s`) and recording the loss (and, if asked, the auxiliary outputs) every k steps, so Python is
not entered per step.

Numbers: the same operations in the same order, except summation order (BLAS, NumPy's pairwise
sums and a loop differ in the last bits) and libm's exp, log and tanh for NumPy's: equal to the
NumPy program to about 1e-15 relative per step; tests hold it to 1e-12 over many steps. The NumPy
program stays bit-exact with eager.

Falling back: an op neither lowered here nor of the op table (or with parameters that are not
plain values), a dtype other than float64 (so positions are never fused, and never frozen), a 0-d
input, or numba not installed; with "auto", also an unlowered op on a small array (its objmode call
would cost more than the NumPy program's): the step runs the NumPy program, `step.backend ==
"numpy"` and `step.fallback_reason` says why. `backend="numba"` asked explicitly warns when it falls
back; `"auto"` does so silently.

Compile cost is paid once per program: the generated module is written to a cache folder
($AUTOGRAD_MINI_CACHE, else ~/.cache/autograd_mini/fused) under a name that hashes its text and the
numba and NumPy versions, and compiled with numba's `cache=True`, so another process running the
same program loads the machine code instead of compiling it; a changed program is a new file.
"""
from __future__ import annotations

import contextlib
import hashlib
import math
import importlib.util
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from . import ops
from .tensor import Op, Tensor, mark_written

# NumPy ufuncs whose numba versions compute the same function (element-wise, float64)
_UFUNCS = {"add", "subtract", "multiply", "divide", "true_divide", "negative", "square", "exp", "log", "tanh",
           "sign", "absolute", "maximum", "minimum", "sqrt", "reciprocal", "sin", "cos", "log1p", "expm1", "power"}
_INFIX = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "true_divide": "/"}
_SMALL_PRODUCT = 4096  # multiply-adds below which a product runs as loops rather than a BLAS call
# Entries from which an element-wise value whose op is a transcendental function runs as NumPy's own
# ufunc (inside `numba.objmode`): NumPy's are vectorised (SIMD), numba's call libm once per entry, and
# above this size that difference outweighs the call's few microseconds.
_LARGE = 8192
_TRANSCENDENTAL = {"exp", "log", "tanh", "sin", "cos", "log1p", "expm1", "power"}

_HELPERS = '''\
import math
import numpy as np
import numba


@numba.njit(cache=True)
def sigmoid(x):
    """The op table's sigmoid, 1 / (1 + e^-x), and e^x below -709 where e^-x would overflow."""
    out = np.empty(x.shape)
    flat_x, flat_out = x.ravel(), out.reshape(out.size)
    for i in range(flat_x.size):
        v = flat_x[i]
        flat_out[i] = math.exp(v) if v < -709.0 else 1.0 / (1.0 + math.exp(-v))
    return out


@numba.njit(cache=True)
def sigmoid1(v):
    """sigmoid of one number (the op table's, as above)."""
    return math.exp(v) if v < -709.0 else 1.0 / (1.0 + math.exp(-v))


@numba.njit(cache=True)
def softplus1(v):
    """log(1 + e^v) as the op table computes it, NumPy's logaddexp(0, v) (exact at 0 and the infinities)."""
    if v == 0.0:
        return math.log(2.0)
    if v < 0.0:
        return math.log1p(math.exp(v))
    if v > 0.0:
        return v + math.log1p(math.exp(-v))
    return v - v  # NaN


@numba.njit(cache=True)
def log_softmax_into(x, out):
    """out[i] = x[i] - max(x[i]) - log(sum(exp(x[i] - max(x[i])))) for each row i of 2-D arrays, as the
    op table computes it (the max a NaN where the row has one, as np.max)."""
    for i in range(x.shape[0]):
        top = x[i, 0]
        for j in range(1, x.shape[1]):
            if x[i, j] > top or x[i, j] != x[i, j]:
                top = x[i, j]
                if top != top:
                    break
        total = 0.0
        for j in range(x.shape[1]):
            out[i, j] = x[i, j] - top
            total += math.exp(out[i, j])
        log_total = math.log(total)
        for j in range(x.shape[1]):
            out[i, j] -= log_total


@numba.njit(cache=True)
def dot_into(a, b, out):
    """out[:] = a @ b for 2-D float64 arrays, with no array made when small (loops), np.dot when large."""
    n, k = a.shape
    m = b.shape[1]
    if n * k * m > SMALL_PRODUCT:
        np.dot(a, b, out)  # (BLAS reads a transpose, F-contiguous, as it is: no copy)
        return
    for i in range(n):
        for j in range(m):
            total = 0.0
            for p in range(k):
                total += a[i, p] * b[p, j]
            out[i, j] = total


@numba.njit(cache=True)
def dot(a, b):
    """a @ b for 2-D float64 arrays, as a new array (dot_into's)."""
    out = np.empty((a.shape[0], b.shape[1]))
    dot_into(a, b, out)
    return out


@numba.njit(cache=True)
def matmul3_into(a, b, out):
    """out[:] = np.matmul(a, b) for 3-D operands whose leading (batch) axes are equal or 1."""
    for i in range(out.shape[0]):
        dot_into(a[min(i, a.shape[0] - 1)], b[min(i, b.shape[0] - 1)], out[i])


@numba.njit(cache=True)
def matmul3(a, b):
    """np.matmul of 3-D operands whose leading (batch) axes are equal or 1."""
    batch = max(a.shape[0], b.shape[0])
    out = np.empty((batch, a.shape[1], b.shape[2]))
    for i in range(batch):
        out[i] = dot(a[min(i, a.shape[0] - 1)], b[min(i, b.shape[0] - 1)])
    return out

'''


HELPERS = _HELPERS.replace("SMALL_PRODUCT", str(_SMALL_PRODUCT))


class Unsupported(Exception):
    """The program has something this back end cannot lower; the message says what."""


def numba_missing() -> str | None:
    """Why numba cannot be used here, or None when it can."""
    try:
        import numba  # noqa: F401
        import scipy  # noqa: F401  (numba's np.dot calls SciPy's BLAS)
    except ImportError as error:
        return f"{error.name} is not installed (pip install 'autograd-mini[fused]')"
    return None


def cache_folder() -> Path:
    root = os.environ.get("AUTOGRAD_MINI_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "autograd_mini")
    return Path(root) / "fused"


# ==== lowering: each value of the program as a numba expression ======================================

class Lowering:
    """The program's values as the text of `body` (and `loop`), and the arrays they are called with."""

    def __init__(self, program: Any, plan: Any) -> None:
        self.program, self.plan = program, plan
        self.values = _arguments_first([v for v in plan.main + plan.tail if v.kind == "op"])
        self.in_tail = {id(v) for v in plan.tail}
        self.outputs = {id(g) for _, g in plan.handed} | {id(v) for v in program.aux.values()} | {id(program.loss)}
        self.users: dict[int, list] = {}
        for v in self.values:
            for a in v.args:
                self.users.setdefault(id(a), []).append(v)
        self.work_size = 0  # entries of `_work` the statements use (set by statements())
        self.constants: list[Any] = []  # array constants (and learning rates), passed as arguments
        self._lowered: dict[int, tuple[str, bool]] = {}
        self._updated: set[int] | None = None  # ids of the parameters updates write (set on first use)
        self._check_types()

    def _check_types(self) -> None:
        for v in self.program.inputs:
            if v.dtype != np.float64 or v.array.ndim == 0:
                raise Unsupported(f"input '{v.name}' is {v.dtype} of shape {v.shape} (the fused back end "
                                  f"takes float64 arrays of at least one axis)")
        for v in self.values:
            if v.dtype != np.float64:
                raise Unsupported(f"'{v.name}' ({v.op.name}) is {v.dtype}; the fused back end computes float64")

    def text(self, v: Any) -> str:
        """How `body` refers to a value: a number, a name, or (used once, element-wise) its expression."""
        if v.kind == "const":
            rate = any(v is r for r in self.program.rates)
            if v.array.ndim == 0 and v.dtype == np.float64 and not rate:
                return _number(float(v.array))
            if not any(v is c for c in self.constants):
                self.constants.append(v)
            return f"{v.name}[0]" if v.array.ndim == 0 else v.name  # (0-d: passed as one entry)
        if v.kind == "input" or not self.inline(v):
            return v.name
        return f"({self.expression(v)[0]})"

    def inline(self, v: Any) -> bool:
        """Written into its one user's expression (fused into its loop): an element-wise value that is
        no output, and whose user runs on the same side of the update (a loss-only line runs after it)."""
        users = self.users.get(id(v), [])  # (into a user computed entry by entry: an array expression would
        return (v.into is None and id(v) not in self.outputs and len(users) == 1 and not _in_numpy(v)  # allocate)
                and _scalar_form(users[0]) is not None
                and (id(users[0]) in self.in_tail) == (id(v) in self.in_tail) and _writes_into(v) is None
                and not (users[0].into is not None and self._reads_updated(v))
                and self.lowerable(v) and self.expression(v)[1])

    def _reads_updated(self, v: Any) -> bool:
        """Does v read (itself or through its arguments) a parameter that an update writes? Such a value
        must be computed before the updates, as the NumPy program does: inlined into a later update's
        loop it would read the parameter already updated (w1 -= lr * w0 after w0 -= ...)."""
        if self._updated is None:
            self._updated = {id(x.into) for x in self.values if x.into is not None}
        seen: set[int] = set()
        todo = [v]
        while todo:
            x = todo.pop()
            if id(x) in self._updated:
                return True
            if id(x) not in seen and x.kind == "op":
                seen.add(id(x))
                todo.extend(x.args)
        return False

    def lowerable(self, v: Any) -> bool:
        try:
            self.expression(v)
        except Unsupported:
            return False
        return True

    def through_numpy(self) -> list[Any]:
        """The values no lowering computes: their op's own NumPy call runs inside the step (objmode)."""
        return [v for v in self.values if v.into is None and not _in_numpy(v) and _scalar_form(v) is None
                and _writes_into(v) is None and not self.lowerable(v)]

    def expression(self, v: Any) -> tuple[str, bool]:
        """(the expression computing v from its arguments, whether it is element-wise)."""
        if id(v) not in self._lowered:
            self._lowered[id(v)] = _lower(v, [self.text(a) for a in v.args])
        return self._lowered[id(v)]

    def statements(self) -> tuple[list[str], list[str]]:
        """The step's lines: (forward, backward and update; the lines only the loss needs). An
        element-wise value or a 2-D product is written into its own slice of `work` (allocated once
        with the step), element by element: a small step then makes no array at all."""
        main: list[str] = []
        tail: list[str] = []
        self.work_size = 0
        for v in self.values:
            lines = tail if id(v) in self.in_tail else main
            if v.into is not None:
                into, by = v.into, v.args[1]

                def subtract(i: Any, into: Any = into, by: Any = by) -> str:
                    return f"{self.at(into, i, into.shape)} -= {self.scalar(by, i, into.shape)}"
                lines += _loops(v.into.shape, subtract)
            elif self.inline(v):
                continue
            elif _in_numpy(v):
                lines += self.numpy_call(v)
            elif _scalar_form(v) is not None or _writes_into(v) is not None:
                lines += self.into_work(v)
            elif self.lowerable(v):
                lines.append(f"{v.name} = {self.expression(v)[0]}")
            else:
                lines += self.op_call(v)
        return main, tail

    def op_call(self, v: Any) -> list[str]:
        """v's lines: its op's own forward (the NumPy program's call) inside `numba.objmode`, writing its
        slice of `work`: for the ops of the table without a lowering, parameters written as literals."""
        try:
            self.expression(v)
        except Unsupported as error:
            reason = str(error)
        path = _table_path(v.op)
        params = {k: _literal(x) for k, x in v.params.items()}
        if path is None or None in params.values():
            why = "is not in the op table" if path is None else f"has parameters {v.params!r} not written as literals"
            raise Unsupported(f"{reason}, and it cannot run through NumPy inside the step: it {why}")
        size = max(int(np.prod(v.shape)), 1)
        out = v.name if len(v.shape) else f"_{v.name}"  # (a 0-d value: a number, read from its slice after)
        lines = [f"{out} = _work[{self.work_size}:{self.work_size + size}].reshape({tuple(v.shape) or (1,)!r})"]
        self.work_size += size
        args = [self.text(a) if len(a.shape) else f"np.asarray({self.text(a)})" for a in v.args]
        call = f"{path}({', '.join(args + [f'{k}={x}' for k, x in params.items()])})"
        lines += ["with numba.objmode():", f"    {out}[...] = {call}"]
        return lines + ([] if len(v.shape) else [f"{v.name} = {out}[0]"])

    def into_work(self, v: Any) -> list[str]:
        """v's lines: a number (0-d), or its slice of `work` filled by loops or by a product."""
        if len(v.shape) == 0:
            return [f"{v.name} = {self.scalar(v, [], (), True)}"]
        size = int(np.prod(v.shape))
        lines = [f"{v.name} = _work[{self.work_size}:{self.work_size + size}].reshape({tuple(v.shape)!r})"]
        self.work_size += size
        writes = _writes_into(v)
        if writes is not None:
            return lines + [writes([self.text(a) for a in v.args], v.name)]
        return lines + _loops(v.shape, lambda i: f"{v.name}[{', '.join(i)}] = {self.scalar(v, i, v.shape, True)}")

    def numpy_call(self, v: Any) -> list[str]:
        """v's lines: NumPy's ufunc itself, writing into v's slice of `work` (a large transcendental value)."""
        size = int(np.prod(v.shape))
        lines = [f"{v.name} = _work[{self.work_size}:{self.work_size + size}].reshape({tuple(v.shape)!r})"]
        self.work_size += size
        ufunc = v.op.forward.__name__
        if len(v.args) == 1 and self.text(v.args[0]) != v.args[0].name:  # an inlined argument: computed by the
            def fill(i: list[str]) -> str:  # loops into v's slice first (no temporary array), then the ufunc in place
                return f"{v.name}[{', '.join(i)}] = {self.scalar(v.args[0], i, v.shape)}"
            return lines + _loops(v.shape, fill) + ["with numba.objmode():", f"    np.{ufunc}({v.name}, out={v.name})"]
        args = ", ".join(self.text(a) for a in v.args)  # (an argument inlined here is a NumPy expression too)
        return lines + ["with numba.objmode():", f"    np.{ufunc}({args}, out={v.name})"]

    def scalar(self, v: Any, index: list[str], shape: tuple, own: bool = False) -> str:
        """v's entry at `index` (the loop indices over `shape`, which v broadcasts to): its element-wise
        expression when it is computed here (`own`) or inlined, else a read of its array."""
        mine = _broadcast_index(v.shape, index, shape)
        form = _scalar_form(v) if v.kind == "op" and (own or self.inline(v)) else None
        if form is not None:
            return f"({form(v, [self.scalar(a, mine, v.shape) for a in v.args])})"
        return self.at(v, mine, v.shape)

    def at(self, v: Any, index: list[str], shape: tuple) -> str:
        text = self.text(v)
        return f"{text}[{', '.join(index)}]" if len(v.shape) else text


def _number(x: float) -> str:
    """A float as source text: repr, except inf and nan, whose repr is a name the module does not have."""
    if math.isnan(x):
        return "math.nan"
    if math.isinf(x):
        return "math.inf" if x > 0 else "-math.inf"
    return repr(x)


def _loops(shape: tuple, line: Callable[[list[str]], str]) -> list[str]:
    """Nested loops over `shape` around `line(indices)`."""
    index = [f"_i{d}" for d in range(len(shape))]  # (no value's name starts with "_")
    loops = [f"{'    ' * d}for {i} in range({n}):" for d, (i, n) in enumerate(zip(index, shape))]
    return loops + ["    " * len(shape) + line(index)]


def _broadcast_index(own: tuple, index: list[str], shape: tuple) -> list[str]:
    """The index into an array of shape `own` that NumPy's broadcasting reads at `index` of `shape`."""
    lead = len(shape) - len(own)
    return [("0" if n == 1 and shape[lead + d] != 1 else index[lead + d]) for d, n in enumerate(own)]


# the modules of the op table (ops/, by kind): private rows such as det's cofactors are found there too
_TABLE_MODULES = ("elementwise", "compare", "reductions", "shape", "products", "linalg")
_TABLE: dict[int, str] = {}


def _table_path(op: Any) -> str | None:
    """`module.name.forward` of an op of the table (how the generated module reaches it), else None."""
    if not _TABLE:
        import importlib
        for module in _TABLE_MODULES:
            for name, value in vars(importlib.import_module(f"autograd_mini.ops.{module}")).items():
                if isinstance(value, Op):
                    _TABLE.setdefault(id(value), f"_{module}.{name}.forward")  # (no value's name starts with _)
    return _TABLE.get(id(op))


def _literal(value: Any) -> str | None:
    """A parameter as source text that evaluates to it, or None when it has none (an array)."""
    if value is None or isinstance(value, (bool, int, str)) or value is Ellipsis:
        return repr(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, (np.integer, np.floating)):
        return _literal(value.item())
    if isinstance(value, slice):
        parts = [_literal(x) for x in (value.start, value.stop, value.step)]
        return None if None in parts else f"slice({', '.join(parts)})"  # type: ignore[arg-type]
    if isinstance(value, (tuple, list)):
        items = [_literal(x) for x in value]
        if None in items:
            return None
        return f"({', '.join(items)},)" if isinstance(value, tuple) else f"[{', '.join(items)}]"  # type: ignore[arg-type]
    return None


def _in_numpy(v: Any) -> bool:
    """Computed by NumPy's own ufunc: a large value of a transcendental ufunc (see _LARGE)."""
    forward = v.op.forward
    return isinstance(forward, np.ufunc) and forward.__name__ in _TRANSCENDENTAL and int(np.prod(v.shape)) >= _LARGE


def _writes_into(v: Any) -> Callable[[list[str], str], str] | None:
    """For a value computed by a helper that writes into a given array (its slice of `work`): the line
    calling it, from the arguments' texts and the array's name; None for the others."""
    ndims = tuple(len(a.shape) for a in v.args)
    if v.op.forward is np.matmul and len(v.shape) == 2 and ndims == (2, 2):
        return lambda a, out: f"dot_into({a[0]}, {a[1]}, {out})"
    if v.op.forward is np.matmul and len(v.shape) == 3 and set(ndims) <= {2, 3}:
        def lifted(a: list[str]) -> list[str]:  # (a 2-D operand as a batch of one: a view)
            return [f"{x}[None, :, :]" if n == 2 else x for x, n in zip(a, ndims)]
        return lambda a, out: f"matmul3_into({', '.join(lifted(a))}, {out})"
    if v.op is ops.log_softmax and len(v.shape) and v.params.get("axis", -1) % len(v.shape) == len(v.shape) - 1:
        rows = (-1, v.shape[-1])  # (the last axis: every other one is a row)
        return lambda a, out: (f"log_softmax_into(np.ascontiguousarray({a[0]}).reshape({rows}), "
                               f"{out}.reshape({rows}))")
    return None


def _scalar_form(v: Any) -> Callable[[Any, list], str] | None:
    """How one entry of an element-wise value is computed from its arguments' entries, or None."""
    forward = v.op.forward
    if isinstance(forward, np.ufunc) and forward.__name__ in _UFUNCS:
        return lambda v, a: _lower(v, a)[0]
    return _SCALAR.get(v.op.name if v.op.name in _BY_NAME else id(v.op))


def _arguments_first(values: list) -> list:
    """The plan's order, with each value after its arguments (the NumPy program makes views of
    inputs and constants once, outside the step, so the plan may list them after their users)."""
    ours, done, ordered = {id(v) for v in values}, set(), []

    def place(v: Any) -> None:
        if id(v) in done:
            return
        done.add(id(v))
        for a in v.args:
            if id(a) in ours:
                place(a)
        ordered.append(v)
    for v in values:
        place(v)
    return ordered


def _lower(v: Any, a: list[str]) -> tuple[str, bool]:
    op, forward = v.op, v.op.forward
    shapes = [x.shape for x in v.args]
    if isinstance(forward, np.ufunc) and forward.__name__ in _UFUNCS:
        name = forward.__name__
        if name in _INFIX and len(a) == 2:
            return f"{a[0]} {_INFIX[name]} {a[1]}", True
        return f"np.{name}({', '.join(a)})", True
    lower = _LOWERINGS.get(op.name if op.name in _BY_NAME else id(op))
    if lower is None and forward is np.matmul:
        lower = _matmul
    if lower is None:
        raise Unsupported(f"op '{op.name}' (of '{v.name}', shape {v.shape}) has no fused lowering")
    return lower(v, a, shapes)


def _power(v: Any, a: list, shapes: list) -> tuple[str, bool]:
    if len(a) == 2:
        fixed = v.args[1].kind == "const" and v.args[1].array.ndim == 0
        if not fixed:
            return f"{a[0]} ** {a[1]}", True
        exponent = v.args[1].array.item()
    else:
        exponent = v.params.get("exponent", next(iter(v.params.values()), None))
    if not isinstance(exponent, (int, float)):
        raise Unsupported(f"pow with a {type(exponent).__name__} exponent has no fused lowering")
    if exponent == 1:
        return a[0], True
    if exponent == 0.5:  # NumPy's power (eager's op) takes sqrt here: -0.0 stays -0.0 and -inf gives NaN,
        return f"np.sqrt({a[0]})", True  # where numba's pow gives 0.0 and inf
    return f"{a[0]} ** {_number(float(exponent))}", True


_ORDER = {">", ">=", "<", "<="}


def _compare(v: Any, a: list, shapes: list) -> tuple[str, bool]:
    rule = v.params["rule"]
    if rule == "share":
        return f"np.where({a[0]} > {a[1]}, 1.0, np.where({a[0]} == {a[1]}, 0.5, 0.0))", True
    if rule in _ORDER:
        return f"np.where({a[0]} {rule} {a[1]}, 1.0, 0.0)", True
    if rule in (">= or y NaN", "<= or y NaN"):
        return f"np.where(({a[0]} {rule[:2]} {a[1]}) | np.isnan({a[1]}), 1.0, 0.0)", True
    raise Unsupported(f"compare with rule {rule!r} (of '{v.name}') has no fused lowering")


def _compare_scalar(v: Any, a: list) -> str:
    rule = v.params["rule"]
    if rule == "share":
        return f"1.0 if {a[0]} > {a[1]} else (0.5 if {a[0]} == {a[1]} else 0.0)"
    if rule in _ORDER:
        return f"1.0 if {a[0]} {rule} {a[1]} else 0.0"
    if rule in (">= or y NaN", "<= or y NaN"):
        return f"1.0 if ({a[0]} {rule[:2]} {a[1]} or {a[1]} != {a[1]}) else 0.0"
    raise Unsupported(f"compare with rule {rule!r} (of '{v.name}') has no fused lowering")


def _matmul(v: Any, a: list, shapes: list) -> tuple[str, bool]:
    ndims = tuple(len(s) for s in shapes)
    if ndims == (2, 2):
        return f"dot({a[0]}, {a[1]})", False
    if ndims in ((1, 2), (2, 1), (1, 1)):  # NumPy's rule: a 1-D operand is a row (left) or a column (right)
        left = f"np.ascontiguousarray({a[0]}).reshape((1, {shapes[0][0]}))" if ndims[0] == 1 else a[0]
        right = f"np.ascontiguousarray({a[1]}).reshape(({shapes[1][0]}, 1))" if ndims[1] == 1 else a[1]
        product = f"dot({left}, {right})"
        return (f"{product}[0, 0]" if ndims == (1, 1) else f"{product}.reshape({v.shape!r})"), False
    if set(ndims) <= {2, 3} and len(v.shape) == 3:
        lifted = [f"np.ascontiguousarray({x}).reshape((1,) + {x}.shape)" if n == 2 else x for x, n in zip(a, ndims)]
        return f"matmul3({lifted[0]}, {lifted[1]})", False
    raise Unsupported(f"matmul of shapes {shapes[0]} and {shapes[1]} has no fused lowering (2-D and 3-D only)")


def _log_softmax(v: Any, a: list, shapes: list) -> tuple[str, bool]:
    """Reached only for an axis other than the last: statements() writes the last one into its work slice."""
    raise Unsupported(f"log_softmax over axis {v.params.get('axis', -1)} of shape {v.shape} (of '{v.name}') has "
                      f"no fused lowering (the last axis only)")


def _sum(v: Any, a: list, shapes: list) -> tuple[str, bool]:
    axis, keepdims = v.params.get("axis"), v.params.get("keepdims", False)
    ndim = len(shapes[0])
    axes = range(ndim) if axis is None else [x % ndim for x in (axis if isinstance(axis, tuple) else (axis,))]
    if len(v.shape) == 0 or len(set(axes)) == ndim:
        total = f"np.sum({a[0]})"
        return (f"np.full({v.shape!r}, {total})" if len(v.shape) else total), False
    text = a[0]
    for ax in sorted(set(axes), reverse=True):
        text = f"np.sum({text}, axis={ax})"
    return (f"{text}.reshape({v.shape!r})" if keepdims else text), False


def _mean(v: Any, a: list, shapes: list) -> tuple[str, bool]:
    count = int(np.prod(shapes[0])) // max(int(np.prod(v.shape)), 1)
    total, _ = _sum(v, a, shapes)
    return f"{total} / {float(count)!r}", False


def _broadcast(v: Any, a: list, shapes: list) -> tuple[str, bool]:
    shape = tuple(v.params["shape"])
    if len(shapes[0]) == 0:
        return f"np.full({shape!r}, {a[0]})", False
    return f"np.broadcast_to({a[0]}, {shape!r})", False


def _transpose(v: Any, a: list, shapes: list) -> tuple[str, bool]:
    axes = v.params.get("axes")
    if axes is None or tuple(axes) == tuple(range(len(shapes[0]) - 1, -1, -1)):
        return f"{a[0]}.T", False
    return f"np.transpose({a[0]}, {tuple(axes)!r})", False


def _copy(v: Any, a: list, shapes: list) -> tuple[str, bool]:
    return (f"np.copy({a[0]})" if len(v.shape) else a[0]), False


_BY_NAME = {"copy", "zero_where"}  # derivation's own ops (made there): found by name, as they are private
_LOWERINGS: dict[Any, Callable[[Any, list, list], tuple[str, bool]]] = {
    id(ops.pow_op): _power,
    id(ops.sigmoid): lambda v, a, s: ((f"sigmoid({a[0]})" if len(v.shape) else
                                       f"(math.exp({a[0]}) if {a[0]} < -709.0 else 1.0 / (1.0 + math.exp(-{a[0]})))"),
                                      False),
    id(ops.relu): lambda v, a, s: (f"np.maximum({a[0]}, 0.0)", True),
    id(ops.compare): _compare,
    id(ops.softplus): lambda v, a, s: (f"np.logaddexp(0.0, {a[0]})", True),
    id(ops.where_op): lambda v, a, s: (f"np.where({a[0]} != 0, {a[1]}, {a[2]})", False),
    id(ops.log_softmax): _log_softmax,
    id(ops.sum_op): _sum,
    id(ops.mean_op): _mean,
    id(ops.broadcast_to_op): _broadcast,
    id(ops.reshape_op): lambda v, a, s: (f"np.ascontiguousarray({a[0]}).reshape({tuple(v.params['shape'])!r})", False),
    id(ops.transpose_op): _transpose,
    "copy": _copy,
    "zero_where": lambda v, a, s: (f"np.where({a[1]}, 0.0, {a[0]})", True),
}


_SCALAR: dict[Any, Callable[[Any, list], str]] = {
    id(ops.pow_op): lambda v, a: _power(v, a, [])[0],
    id(ops.sigmoid): lambda v, a: f"sigmoid1({a[0]})",
    id(ops.relu): lambda v, a: f"np.maximum({a[0]}, 0.0)",
    id(ops.compare): _compare_scalar,
    id(ops.softplus): lambda v, a: f"softplus1({a[0]})",
    id(ops.where_op): lambda v, a: f"{a[1]} if {a[0]} else {a[2]}",
    id(ops.broadcast_to_op): lambda v, a: a[0],
    "copy": lambda v, a: a[0],
    "zero_where": lambda v, a: f"0.0 if {a[1]} else {a[0]}",
}


# ==== the generated module ===========================================================================

def module_text(lowering: Lowering) -> tuple[str, list[str], list[str]]:
    """The module's source, `body`'s argument names (without its two flags), and its output arrays' names.

    `body(..., wanted, final)` computes the loss only when `wanted` (else returns NaN) and writes the
    gradients and auxiliary outputs only when `final`: inside `loop`, the steps between recorded
    ones do neither (the loss-only lines and the copies out are a good part of a small step)."""
    program, plan = lowering.program, lowering.plan
    main, tail = lowering.statements()
    grads = [(f"out_{program.inputs[i].name}", g) for i, g in plan.handed]
    auxes = [(f"aux_{name}", v) for name, v in program.aux.items()]
    outputs = grads + auxes

    def writes(pairs: list) -> list[str]:
        return [f"{out}[:] = {lowering.text(v)}" if len(v.shape) else f"{out}[0] = {lowering.text(v)}"
                for out, v in pairs]
    loss = lowering.text(program.loss)
    body = main + ["if wanted or final:"] + [f"    {line}" for line in tail + writes(auxes)]
    body += ["    if final:"] + [f"        {line}" for line in writes(grads)] + [f"    return {loss}", "return np.nan"]
    inputs = [v.name for v in program.inputs]
    args = inputs + [c.name for c in lowering.constants] + [out for out, _ in outputs] + ["_work"]
    data = inputs[program.rec.n_params:]
    loop_args = [("feed_" + n if n in data else n) for n in args]  # (work: the one of the FusedStep)
    stacks = [f"stack_{out}" for out, _ in auxes]  # each aux output at each recorded step, when `stacked`
    loop = [f"m_{n} = feed_{n}.shape[0]" for n in data] + ["k = 0", "loss = np.nan", "for s in range(n):"]
    loop += [f"    {n} = feed_{n}[s % m_{n}]" for n in data]
    loop += ["    wanted = (s + 1) % every == 0", f"    loss = body({', '.join(args)}, wanted, s == n - 1)",
             "    if wanted:", "        losses[k] = loss"]
    if auxes:
        loop += ["        if stacked:"] + [f"            {stack}[k] = {out}" + ("" if len(v.shape) else "[0]")
                                           for stack, (out, v) in zip(stacks, auxes)]
    loop += ["        k += 1", "return loss"]
    helpers = load(HELPERS)  # compiled once for every program
    imports = (f"from {helpers.__name__} import dot, dot_into, log_softmax_into, matmul3, matmul3_into, sigmoid, "
               "sigmoid1, softplus1")
    table = ", ".join(f"{module} as _{module}" for module in _TABLE_MODULES)
    text = (f"import math\nimport numpy as np\nimport numba\nfrom autograd_mini.ops import {table}\n{imports}\n\n"
            + _njit("body", args + ["wanted", "final"], body)
            + _njit("loop", ["n", "every"] + loop_args + ["losses", "stacked"] + stacks, loop))
    return text, args, [out for out, _ in outputs]


def _njit(name: str, args: list[str], body: list[str]) -> str:
    return (f"\n@numba.njit(cache=True, error_model='numpy')\ndef {name}({', '.join(args)}):\n"
            + "".join(f"    {line}\n" for line in body) + "\n")


def load(text: str) -> Any:
    """Import the generated module from the cache folder (written once; its name hashes its text)."""
    import numba
    key = hashlib.sha256(f"{text}\n{numba.__version__}\n{np.__version__}".encode()).hexdigest()[:20]
    name = f"am_fused_{key}"
    if name in sys.modules:
        return sys.modules[name]
    folder = cache_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    if not path.exists() or path.read_text() != text:
        partial = folder / f".{name}.{os.getpid()}.tmp"
        partial.write_text(text)
        os.replace(partial, path)  # (atomic: another process never imports half a file)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = module  # (first: numba's cache finds the functions' globals by module name)
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except BaseException:
        del sys.modules[name]
        raise
    return module


# ==== the fused step ================================================================================

@contextlib.contextmanager
def _compiling() -> Iterator[None]:
    """Compile without numba's NumbaPerformanceWarning: dot_into is compiled for every operand layout its
    callers pass, and its np.dot branch warns for a non-contiguous one (a slice of a batch) that it will
    copy it, as NumPy's own np.dot does; the warning is about code the NumPy program runs just the same."""
    from numba.core.errors import NumbaPerformanceWarning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaPerformanceWarning)
        yield


class FusedStep:
    """Runs a derived step through the compiled module: `step()` is one step, `run()` many."""

    def __init__(self, derived: Any, program: Any, plan: Any, lowering: Lowering) -> None:
        self.source, args, outputs = module_text(lowering)
        self.module = load(self.source)
        rec = program.rec
        self.tensors = list(rec.inputs)
        self.n_params = rec.n_params
        self.constants = [np.ascontiguousarray(c.array).reshape(c.array.shape or (1,)) for c in lowering.constants]
        arrays = [plan.buffers[id(g)] for _, g in plan.handed] + [derived.aux[name] for name in program.aux]
        self.outputs = [a if a.ndim else a.reshape(1) for a in arrays]  # (a 0-d output is written through a view)
        self.outputs.append(np.empty(lowering.work_size))  # the values' buffers (`work`, after the outputs)
        self.aux_shapes = {name: v.shape for name, v in program.aux.items()}
        self.handed = [(rec.inputs[i], plan.buffers[id(g)]) for i, g in plan.handed]
        self.updated = [rec.inputs[v.into.index] for v in plan.main if v.into is not None]
        self.refuse = derived._refuse
        self.shapes, self.dtypes = derived.shapes, derived.dtypes
        self.seen: list[Any] = [None] * len(self.tensors)
        self.last_loss = np.zeros((), dtype=program.loss.dtype)
        self._compile([t._data for t in self.tensors] + self.constants + self.outputs)

    def _compile(self, arrays: list) -> None:
        """Compile `body` now (or load it from the cache), so that what numba cannot type is a
        fallback to the NumPy program at derive time, not an error at the first step."""
        import numba
        try:
            with _compiling():
                self.module.body.compile(tuple(numba.typeof(a) for a in arrays) + (numba.boolean, numba.boolean))
        except numba.core.errors.NumbaError as error:
            first = str(error).strip().splitlines()[0]
            raise Unsupported(f"numba could not compile the step ({type(error).__name__}: {first})") from None

    def _arrays(self) -> list[np.ndarray]:
        arrays = [t._data for t in self.tensors]
        for i, a in enumerate(arrays):
            if a is not self.seen[i]:
                if np.shape(a) != self.shapes[i] or getattr(a, "dtype", None) != self.dtypes[i]:
                    self.refuse(i, a)
                self.seen[i] = a
        return arrays

    def _finish(self) -> None:
        if self.updated:
            mark_written(*self.updated)
        for t, g in self.handed:
            t.grad = g

    def step(self) -> None:
        self.last_loss[()] = self.module.body(*self._arrays(), *self.constants, *self.outputs, True, True)
        self._finish()

    def run(self, n_steps: int, record_every: int = 1, feed: Mapping[Tensor | str, np.ndarray] | None = None,
            aux_into: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """`n_steps` steps in one compiled call; the losses of steps k-1, 2k-1, ... (k = record_every).
        `feed`: {data tensor or its name: array of samples stacked on a new first axis}; step s reads
        sample s % len(array). Afterwards each fed tensor holds the last sample it read. `aux_into`:
        {aux name: float64 array of shape (n_steps // k, *its shape)}, filled with that auxiliary
        output at each recorded step (inside the compiled call: the recorded values cost no Python)."""
        if n_steps < 0 or record_every < 1:
            raise ValueError(f"run: n_steps must be >= 0 and record_every >= 1, got {n_steps} and {record_every}")
        arrays = self._arrays()
        stacks = self._stacks(arrays, feed or {})
        losses = np.empty(n_steps // record_every)
        recorded = aux_stacks(aux_into or {}, self.aux_shapes, len(losses))
        if n_steps == 0:
            return losses
        params = arrays[:self.n_params]
        into = [recorded.get(name, np.empty((0,) + shape)) for name, shape in self.aux_shapes.items()]
        with _compiling():  # (the first call compiles `loop`)
            last = self.module.loop(n_steps, record_every, *params, *stacks, *self.constants, *self.outputs, losses,
                                    bool(recorded), *into)
        self.last_loss[()] = last
        for t, stack in zip(self.tensors[self.n_params:], stacks):
            if stack.base is not t._data:
                np.copyto(t._data, stack[(n_steps - 1) % stack.shape[0]])
        self._finish()
        return losses

    def _stacks(self, arrays: list, feed: Mapping) -> list[np.ndarray]:
        names = {t.name: i for i, t in enumerate(self.tensors) if t.name}
        fed: dict[int, np.ndarray] = {}
        for key, stack in feed.items():
            index = next((i for i, t in enumerate(self.tensors) if t is key), None) if isinstance(key, Tensor) \
                else names.get(key)
            if index is None or index < self.n_params:
                raise ValueError(f"run: feed key {key!r} is not a data input of this step "
                                 f"(data: {[t.name for t in self.tensors[self.n_params:]]})")
            stack = np.ascontiguousarray(stack, dtype=np.float64)
            if stack.shape[1:] != self.shapes[index] or stack.shape[0] == 0:
                raise ValueError(f"run: feed for '{self.tensors[index].name}' has shape {stack.shape}; expected "
                                 f"(samples, *{self.shapes[index]}) with at least one sample")
            fed[index] = stack
        return [fed.get(i, arrays[i][None]) for i in range(self.n_params, len(self.tensors))]


def aux_stacks(aux_into: Mapping[str, np.ndarray], shapes: Mapping[str, tuple], count: int) -> dict[str, np.ndarray]:
    """`run`'s aux_into, checked: each name an aux output, each array float64, C-contiguous, (count, *shape)."""
    for name, stack in aux_into.items():
        if name not in shapes:
            raise ValueError(f"run: aux_into names {name!r}, which is not an auxiliary output of this step "
                             f"(its outputs: {list(shapes)})")
        expected = (count,) + tuple(shapes[name])
        if not (isinstance(stack, np.ndarray) and stack.shape == expected and stack.dtype == np.float64
                and stack.flags.c_contiguous and stack.flags.writeable):
            raise ValueError(f"run: aux_into[{name!r}] must be a writeable C-contiguous float64 array of shape "
                             f"{expected} (recorded steps, *the output's shape), got "
                             f"{getattr(stack, 'dtype', type(stack).__name__)} of shape {np.shape(stack)}")
    return dict(aux_into)


def _calls_outweigh_work(lowering: Lowering) -> str | None:
    """Why "auto" keeps the NumPy program: an op without a lowering on fewer than _LARGE entries would
    run through NumPy inside the step, a call through objmode costing several times the NumPy
    program's own call of it (backend="numba" runs it so all the same)."""
    lowering.statements()  # (raises Unsupported first for an op that cannot run inside the step at all)
    small = [v for v in lowering.through_numpy() if int(np.prod(v.shape)) < _LARGE]
    if not small:
        return None
    v = small[0]
    return (f"op '{v.op.name}' (of '{v.name}', shape {v.shape}) has no fused lowering: inside the fused step it "
            f"would run through NumPy (numba.objmode), which costs more per call than the NumPy program "
            f"(backend='numba' runs it so)")


def attach(derived: Any, program: Any, plan: Any, backend: str) -> None:
    """Run `derived` on the fused back end where it can; otherwise say why it runs the NumPy program."""
    derived.backend, derived.fallback_reason, derived.fused = "numpy", None, None
    if backend == "numpy":
        return
    if backend not in ("numba", "auto"):
        raise ValueError(f"derive: backend must be 'numpy', 'numba' or 'auto', got {backend!r}")
    reason = numba_missing()
    if reason is None:
        try:
            lowering = Lowering(program, plan)
            reason = _calls_outweigh_work(lowering) if backend == "auto" else None
            if reason is None:
                fused = FusedStep(derived, program, plan, lowering)
        except Unsupported as error:
            reason = str(error)
    if reason is not None:
        derived.fallback_reason = reason
        if backend == "numba":
            warnings.warn(f"derive: backend='numba' falls back to the NumPy program: {reason}", RuntimeWarning,
                          stacklevel=3)
        return
    derived.backend, derived.fused = "numba", fused


def run_numpy(derived: Any, n_steps: int, record_every: int = 1,
              feed: Mapping[Tensor | str, np.ndarray] | None = None,
              aux_into: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """`Derived.run` on the NumPy program: the same steps, losses and recorded outputs, one Python call per step."""
    if n_steps < 0 or record_every < 1:
        raise ValueError(f"run: n_steps must be >= 0 and record_every >= 1, got {n_steps} and {record_every}")
    recorded = aux_stacks(aux_into or {}, {name: np.shape(a) for name, a in derived.aux.items()},
                          n_steps // record_every)
    fed = []
    for key, stack in (feed or {}).items():
        t = next((t for t in derived.data if t is key or (isinstance(key, str) and t.name == key)), None)
        if t is None:
            raise ValueError(f"run: feed key {key!r} is not a data input of this step "
                             f"(data: {[d.name for d in derived.data]})")
        stack = np.asarray(stack, dtype=t.dtype)
        if stack.shape[1:] != t.shape or stack.shape[0] == 0:
            raise ValueError(f"run: feed for '{t.name}' has shape {stack.shape}; expected (samples, *{t.shape}) "
                             f"with at least one sample")
        fed.append((t._data, stack))
    losses = np.empty(n_steps // record_every)
    for s in range(n_steps):
        for target, stack in fed:
            np.copyto(target, stack[s % len(stack)])
        derived.function()
        if (s + 1) % record_every == 0:
            k = (s + 1) // record_every - 1
            losses[k] = derived.loss_array()
            for name, stack in recorded.items():
                stack[k] = derived.aux[name]
    return losses
