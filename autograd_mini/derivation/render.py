"""Pass 5 of `derive`: render: the equations (plain NumPy) and the source (buffers)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import ops
from ..tensor import mark_written
from .names import function_name
from .plan import _ZERO_WHERE, Plan, _bases_of_args, _elementwise, layout
from .program import Program, Value
from .refusals import DeriveError

_INFIX = {"add": ("+", 1), "sub": ("-", 1), "mul": ("*", 2), "div": ("/", 2), "matmul": ("@", 2)}

_DATA = "_data"  # where a Tensor keeps its array (generated code reads it without the read hook)


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
        if (op is ops.matmul and out is not None and all(a.array.ndim == 2 for a in v.args)
                and not all(a.array.size == 1 for a in v.args)):
            # the same BLAS call as np.matmul for 2-D operands (tested), with less overhead per call; but
            # (1, 1) @ (1, 1) is one multiplication in np.dot, where matmul adds it to 0 (0 * -1 is +0 there)
            fn = "np.dot"
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
        elementwise = (op.name in _INFIX and op is not ops.matmul or _elementwise(op)
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
    if program.captured or program.bindings:
        env["check_captured"] = None  # set by Derived
        lines.append("check_captured()  # the arrays loss_fn holds are constants: refuse if one changed")
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
