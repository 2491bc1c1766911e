"""More of NumPy: the op table continued (element-wise, reductions, shape, products, linear algebra).

Read each row like a row of ops.py: name, forward on NumPy arrays, `vjp(g, ans, *inputs, **params)`.
The VJPs are polymorphic in the same way: only arithmetic, methods that arrays and Tensors share, and
the `_poly` helpers, so one line gives the NumPy gradient of an ordinary backward and the
differentiable Tensor gradient under `create_graph=True` (second order from the same line). Masks in a
VJP are `compare` ops on Tensors (a traced replay recomputes them from the current values).
Forwards that NumPy lets write into a buffer take `out=None` (ufunc forwards are the ufunc itself).

Below the rows, composites: functions built from primitives (var, std, gelu, squeeze, repeat,
tile, split, sort, tensordot, dot, ...), whose gradients need no code of their own.

Non-differentiable points: ties in max/min share the gradient equally (as torch.amax); sign, argmax
and argmin have no gradient; clip passes the gradient at the bounds themselves (x == lo or x == hi,
as torch.clamp); norm's gradient at 0 is 0 (the minimum-norm subgradient, as torch); its second
derivative at 0 does not exist and is not defined here; d(x^y)/dy is NaN for x < 0 (as torch).
"""
from __future__ import annotations

import math
import string
from typing import Any, Sequence

import numpy as np

from . import tensor as _tensor
from .errors import AxisError, GraphError, ShapeError, checked_axis
from .ops import (_broadcast_to, _exp, _explain_broadcast, _poly, _scatter, abs_op, compare, matmul, maximum, mul,
                  power, reshape, sigmoid_of, sign, softplus, sum_op, transpose)
from .ops import _getitem as _index_tensor, plain_index
from .tensor import Op, Tensor, per_input, read_value, rebase, unwrap
from .tensor_methods import use_table

_IMPORTED = frozenset(globals())  # names brought in above (ops.py's rows among them): not this module's to export

# ---- helpers that work on arrays and on Tensors ---------------------------------------------


def _fmask(x: Any, y: Any, rule: str) -> Any:
    """A 0/1 mask in x's dtype: NumPy's comparison on arrays, a `compare` op on Tensors."""
    if isinstance(x, Tensor) or isinstance(y, Tensor):
        return compare(x, y, rule=rule)
    return compare.forward(x, y, rule=rule)


def _is_zero(x: Any) -> Any:
    return _fmask(x, 0, ">=") * _fmask(x, 0, "<=")


def _any_tensor(*xs: Any) -> bool:
    return any(isinstance(x, Tensor) for x in xs)


_sqrt = _poly(np.sqrt, lambda a: a.sqrt())
_sin = _poly(np.sin, lambda a: a.sin())
_cos = _poly(np.cos, lambda a: a.cos())
_sinh = _poly(np.sinh, lambda a: a.sinh())
_cosh = _poly(np.cosh, lambda a: a.cosh())
_log = _poly(np.log, lambda a: a.log())
_flip = _poly(lambda a, axis: np.flip(a, axis), lambda a, axis: a.flip(axis))
_roll = _poly(lambda a, shift, axis: np.roll(a, shift, axis), lambda a, shift, axis: a.roll(shift, axis))
_cumsum = _poly(lambda a, axis: np.cumsum(a, axis), lambda a, axis: a.cumsum(axis))


def _where(condition: Any, a: Any, b: Any) -> Any:
    return where_op(condition, a, b) if _any_tensor(condition, a, b) else np.where(condition, a, b)


def _einsum(subscripts: str, *operands: Any) -> Any:
    if _any_tensor(*operands):
        return einsum_op(*operands, subscripts=subscripts)
    return np.einsum(subscripts, *operands)


def _stack_last(parts: list) -> Any:
    if _any_tensor(*parts):
        from .ops import stack
        return stack(parts, axis=-1)
    return np.stack(parts, axis=-1)


def _axes(axis: Any, ndim: int) -> tuple:
    """The reduced axes as sorted non-negative ints (all of them for None)."""
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    return tuple(sorted(checked_axis(a, max(ndim, 1), "reduction") for a in items))


def _kept(g: Any, x_shape: tuple, axis: Any, keepdims: bool) -> Any:
    """g of a reduction, with the reduced axes back as length-1 axes (ready to broadcast against x)."""
    if keepdims or not x_shape:
        return g
    shape = tuple(1 if i in _axes(axis, len(x_shape)) else n for i, n in enumerate(x_shape))
    return g.reshape(shape)


# ---- element-wise ---------------------------------------------------------------------------------

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _erf(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    # math.erf element by element (NumPy has no erf; SciPy is not a dependency): exact, not fast
    values = np.asarray(np.frompyfunc(math.erf, 1, 1)(x), dtype=x.dtype)
    if out is None:
        return values
    out[...] = values
    return out


_UNARY: list[Op] = []  # the element-wise rows of one input, in order


def _elementwise(name: str, forward: Any, vjp: Any) -> Op:
    """An element-wise row of one input. Registering here makes it `am.<name>` and what `np.<name>(t)`
    runs when NumPy has that ufunc; its method `x.<name>()` is one line in tensor_methods.py's
    ElementwiseMixin (a test fails until it is written)."""
    op = Op(name, forward, vjp)
    _UNARY.append(op)
    return op


sqrt = _elementwise("sqrt", np.sqrt, lambda g, ans, x: (g / (2 * ans),))
sin = _elementwise("sin", np.sin, lambda g, ans, x: (g * _cos(x),))
cos = _elementwise("cos", np.cos, lambda g, ans, x: (-g * _sin(x),))
tan = _elementwise("tan", np.tan, lambda g, ans, x: (g * (1 + ans * ans),))
arcsin = _elementwise("arcsin", np.arcsin, lambda g, ans, x: (g / _sqrt(1 - x * x),))
arccos = _elementwise("arccos", np.arccos, lambda g, ans, x: (-g / _sqrt(1 - x * x),))
arctan = _elementwise("arctan", np.arctan, lambda g, ans, x: (g / (1 + x * x),))
sinh = _elementwise("sinh", np.sinh, lambda g, ans, x: (g * _cosh(x),))
cosh = _elementwise("cosh", np.cosh, lambda g, ans, x: (g * _sinh(x),))
arcsinh = _elementwise("arcsinh", np.arcsinh, lambda g, ans, x: (g / _sqrt(1 + x * x),))
log1p = _elementwise("log1p", np.log1p, lambda g, ans, x: (g / (1 + x),))
expm1 = _elementwise("expm1", np.expm1, lambda g, ans, x: (g * (ans + 1),))
log2 = _elementwise("log2", np.log2, lambda g, ans, x: (g / (x * _LN2),))
exp2 = _elementwise("exp2", np.exp2, lambda g, ans, x: (g * (ans * _LN2),))
reciprocal = _elementwise("reciprocal", np.reciprocal, lambda g, ans, x: (-g * (ans * ans),))
log10 = _elementwise("log10", np.log10, lambda g, ans, x: (g / (x * _LN10),))
arccosh = _elementwise("arccosh", np.arccosh, lambda g, ans, x: (g / _sqrt(x * x - 1),))
arctanh = _elementwise("arctanh", np.arctanh, lambda g, ans, x: (g / (1 - x * x),))
cbrt = _elementwise("cbrt", np.cbrt, lambda g, ans, x: (g / (3 * (ans * ans)),))  # inf at 0, as x ** (1/3)
# steps: the gradient is 0 wherever it exists (as torch's floor, ceil, trunc, round)
floor = _elementwise("floor", np.floor, lambda g, ans, x: (g * 0,))
ceil = _elementwise("ceil", np.ceil, lambda g, ans, x: (g * 0,))
trunc = _elementwise("trunc", np.trunc, lambda g, ans, x: (g * 0,))
round_op = Op("round", lambda x, decimals=0: np.round(x, decimals), lambda g, ans, x, decimals=0: (g * 0,))
_floor = _poly(np.floor, lambda a: floor(a))
_trunc = _poly(np.trunc, lambda a: trunc(a))
# x mod y = x - y floor(x / y) (the sign of y, NumPy's % and np.mod); fmod uses trunc (the sign of x, C's)
mod = Op("mod", np.mod, per_input(lambda g, ans, x, y: g, lambda g, ans, x, y: -g * _floor(x / y)),
         _explain_broadcast)
fmod = Op("fmod", np.fmod, per_input(lambda g, ans, x, y: g, lambda g, ans, x, y: -g * _trunc(x / y)),
          _explain_broadcast)
# x // y, NumPy's (exact: 1 // 0.1 is 9, where floor(1 / 0.1) is 10): a step in both inputs, gradient 0
floor_divide = Op("floor_divide", np.floor_divide, lambda g, ans, x, y: (g * 0, g * 0), _explain_broadcast)


_largest = _poly(lambda a, b: np.maximum(np.abs(a), np.abs(b)), lambda a, b: maximum(abs_op(a), abs_op(b)))


def _arctan2_scaled(y, x):
    """(x / s, y / s, s) with s = max(|x|, |y|), so that x^2 + y^2 = s^2 (x'^2 + y'^2) is computed without
    overflow (x = 1e300) or underflow (1e-300, where r^2 = 0 gave a gradient of 0 instead of 1e300);
    s is 1 where it is 0 (the origin) or not finite (the plain formula then gives torch's values)."""
    s = _largest(x, y)
    s = _where(_fmask(s, 0, ">") * _fmask(s, np.inf, "<"), s, 1.0)
    return x / s, y / s, s


def _arctan2_partial(g, y, x, numerator):
    xs, ys, s = _arctan2_scaled(y, x)
    r2 = xs * xs + ys * ys
    r2 = r2 + _is_zero(r2)  # 1 at the origin: the gradient there is 0 (PyTorch's), not 0/0
    return g * numerator(xs, ys) / (s * r2)


arctan2 = Op("arctan2", np.arctan2,  # the angle of (x, y): d/dy = x / r^2, d/dx = -y / r^2
             per_input(lambda g, ans, y, x: _arctan2_partial(g, y, x, lambda xs, ys: xs),
                       lambda g, ans, y, x: _arctan2_partial(g, y, x, lambda xs, ys: -ys)),
             _explain_broadcast)
hypot = Op("hypot", np.hypot, per_input(lambda g, ans, x, y: g * x / ans, lambda g, ans, x, y: g * y / ans),
           _explain_broadcast)
# fmax / fmin: maximum / minimum that skip a NaN; the gradient goes to the input taken, to x at a tie (torch's)
def _taken_vjp(rule: str):
    def vjp(g, ans, x, y):
        taken = _fmask(x, y, rule)  # 1 where the result is x
        return g * taken, g * (1 - taken)
    return vjp


fmax = Op("fmax", np.fmax, _taken_vjp(">= or y NaN"), _explain_broadcast)
fmin = Op("fmin", np.fmin, _taken_vjp("<= or y NaN"), _explain_broadcast)
_astype = _poly(lambda a, dtype: a.astype(dtype), lambda a, dtype: astype_op(a, dtype=dtype))
astype_op: Op = Op("astype", lambda x, dtype: x.astype(dtype), lambda g, ans, x, dtype: (_astype(g, x.dtype),))
copy_op = Op("copy", np.copy, lambda g, ans, x: (g,))


def _erf_vjp(g, ans, x):
    # 2/sqrt(pi) e^(-x^2), with x held at 28 beyond |x| = 28: e^-784 is already 0 in float64 (and in every
    # derivative of it), and x * x would overflow (a warning) beyond 1e154
    near = _fmask(x, -28.0, ">") * _fmask(x, 28.0, "<")
    held = _where(near, x, 28.0)
    return (g * (_TWO_OVER_SQRT_PI * _exp(-(held * held))),)


erf = _elementwise("erf", _erf, _erf_vjp)


def _elu_vjp(g, ans, x, alpha=1.0):
    # below 0 the slope is alpha e^x, from e^x itself rather than ans + alpha (which is 0 from about
    # x = -37, where expm1 rounds to -1; torch's e^-50 is 2e-22), taken of min(x, 0) so that the branch
    # not used above 0 never overflows (0 * inf would be NaN at x = inf); at x == 0 the slope is alpha,
    # a constant there, so the second derivative at 0 is 0 (torch's)
    below = _fmask(x, 0, "<")
    return (g * (_fmask(x, 0, ">") + below * (alpha * _exp(_where(below, x, 0))) + _is_zero(x) * alpha),)


elu_op = Op("elu", lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))), _elu_vjp)
leaky_relu_op = Op("leaky_relu", lambda x, slope=0.01: np.where(x > 0, x, slope * x),
                   lambda g, ans, x, slope=0.01: (g * (_fmask(x, 0, ">") + _fmask(x, 0, "<=") * slope),))
clip_op = Op("clip", lambda x, lo=None, hi=None, out=None: np.clip(x, lo, hi, out=out),
             lambda g, ans, x, lo=None, hi=None: (g * (1 if lo is None else _fmask(x, lo, ">="))
                                                  * (1 if hi is None else _fmask(x, hi, "<=")),))
# d/dx log(e^x + e^y) = 1 / (1 + e^(y - x)) = sigmoid(x - y) (torch's rule): 1/2 each at a tie, 1 and 0 at
# (inf, finite), NaN where both are the same infinity
logaddexp_op = Op("logaddexp", np.logaddexp, lambda g, ans, x, y: (g * sigmoid_of(x - y), g * sigmoid_of(y - x)))
# the condition is an input without a gradient (not a parameter), so that a mask computed by a
# `compare` op inside a VJP is recomputed from the current values when a traced step replays
where_op = Op("where", lambda condition, x, y: np.where(condition, x, y),
              lambda g, ans, condition, x, y: (None, _where(condition, g, 0), _where(condition, 0, g)))


# Positions as values of the program: orders and indices are integer arrays computed by ops (no
# gradient), and gathers take them as inputs, so a traced step recomputes them at every call.
def _along(positions: np.ndarray, axis: int) -> tuple:
    """The full fancy index that np.take_along_axis(_, positions, axis) reads."""
    grid = np.indices(positions.shape, sparse=True)
    return tuple(positions if a == axis % positions.ndim else grid[a] for a in range(positions.ndim))


def _add_along_array(g: np.ndarray, positions: np.ndarray, axis: int, shape: tuple) -> np.ndarray:
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, _along(positions, axis), g)  # repeated positions add up
    return out


_take_along = _poly(lambda x, positions, axis: np.take_along_axis(x, positions, axis),
                    lambda x, positions, axis: take_along_op(x, positions, axis=axis))
_add_along = _poly(_add_along_array, lambda g, positions, axis, shape: add_along_op(g, positions, axis=axis,
                                                                                       shape=shape))
take_along_op: Op = Op("take_along_axis", lambda x, positions, axis: np.take_along_axis(x, positions, axis),
                       lambda g, ans, x, positions, axis: (_add_along(g, positions, axis, x.shape), None))
add_along_op: Op = Op("add_along_axis", _add_along_array,  # take_along_axis's adjoint
                      lambda g, ans, x, positions, axis, shape: (_take_along(g, positions, axis), None))
argsort_op = Op("argsort", lambda x, axis: np.argsort(x, axis=axis, kind="stable"), lambda g, ans, x, axis: (None,))
argmax_op = Op("argmax", lambda x, axis=None, keepdims=False: np.argmax(x, axis=axis, keepdims=keepdims),
               lambda g, ans, x, axis=None, keepdims=False: (None,))
argmin_op = Op("argmin", lambda x, axis=None, keepdims=False: np.argmin(x, axis=axis, keepdims=keepdims),
               lambda g, ans, x, axis=None, keepdims=False: (None,))


def _power_vjp_base(g, ans, x, y):
    # y x^(y-1); at x == y == 0 the exponent becomes 0 (not -1), so the gradient of 0^0 is 0 * 1, not
    # 0 * inf (torch's choice); only there, so that d/dy of this gradient stays right elsewhere
    return g * (y * x ** (y - 1 + _is_zero(x) * _is_zero(y)))


def _power_vjp_exponent(g, ans, x, y):
    # x^y log x; at x == 0 and y >= 0 log is taken of 1 (the limit x^y log x -> 0 for y > 0, torch's
    # choice); at x == 0 and y < 0 it is inf * log 0 = -inf, the limit, as torch (not inf * 0 = NaN);
    # a negative base has no derivative in y (x^y is real only at integers): NaN, as torch
    # (|x| is taken before the log so that no warning is raised for a gradient nobody asked for:
    # under create_graph every input's part is computed)
    modulus = x * (1 - 2 * _fmask(x, 0, "<")) + _is_zero(x) * _fmask(y, 0, ">=")
    return _where(_fmask(x, 0, "<"), np.nan, g * (ans * _log(modulus)))


power_op = Op("power", np.power, per_input(_power_vjp_base, _power_vjp_exponent))  # both inputs differentiable

# ---- reductions --------------------------------------------------------------------------------


def _extremum_vjp(rule: str):
    def vjp(g, ans, x, axis=None, keepdims=False):
        winners = _fmask(x, _kept(ans, x.shape, axis, keepdims), rule)  # x == the extremum (x <= max always)
        share = winners / winners.sum(axis=_axes(axis, x.ndim), keepdims=True)  # ties split equally
        return (_kept(g, x.shape, axis, keepdims) * share,)
    return vjp


# (keepdims positional: NumPy takes it so, its type stubs only as a keyword, hence the ignores)
max_op = Op("max", lambda x, axis=None, keepdims=False, out=None:
                   np.maximum.reduce(x, axis, None, out, keepdims),  # type: ignore[call-overload]
            _extremum_vjp(">="))
min_op = Op("min", lambda x, axis=None, keepdims=False, out=None:
                   np.minimum.reduce(x, axis, None, out, keepdims),  # type: ignore[call-overload]
            _extremum_vjp("<="))


def _exclusive_cumprod(flat: Any) -> Any:
    """Along the last axis, the product of the entries before each one (1 for the first)."""
    if not isinstance(flat, Tensor):
        ones = np.ones(flat.shape[:-1] + (1,), flat.dtype)
        return np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    running, parts = flat[..., 0] * 0 + 1, []  # on Tensors, a chain of products (create_graph only)
    for i in range(flat.shape[-1]):
        parts.append(running)
        running = running * flat[..., i]
    return _stack_last(parts)


def _prod_vjp(g, ans, x, axis=None, keepdims=False):
    """g times the product of the *other* entries, as products before and after each entry: exact
    with zeros (no division by x)."""
    if x.size == 0:  # an empty product is 1, a constant: no entry to differentiate
        return (x * 0,)
    reduced = _axes(axis, x.ndim)
    kept_axes = [a for a in range(x.ndim) if a not in reduced]
    order = kept_axes + list(reduced)
    moved = x.transpose(order) if x.ndim else x
    flat = moved.reshape(moved.shape[:len(kept_axes)] + (-1,))
    others = _exclusive_cumprod(flat) * _exclusive_cumprod(flat[..., ::-1])[..., ::-1]
    others = others.reshape(moved.shape)
    if x.ndim:
        others = others.transpose(tuple(np.argsort(order)))
    return (_kept(g, x.shape, axis, keepdims) * others,)


prod_op = Op("prod", lambda x, axis=None, keepdims=False, out=None:
                     np.multiply.reduce(x, axis, None, out, keepdims),  # type: ignore[call-overload]
             _prod_vjp)


def _cumsum_vjp(g, ans, x, axis=None):
    if axis is None:  # NumPy flattens
        return (_cumsum(g[::-1], 0)[::-1].reshape(x.shape),)
    backwards = (slice(None),) * (axis % x.ndim) + (slice(None, None, -1),)
    return (_cumsum(g[backwards], axis)[backwards],)


cumsum_op = Op("cumsum", lambda x, axis=None, out=None: np.cumsum(x, axis, out=out), _cumsum_vjp)


def _logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    top = np.max(x, axis=axis, keepdims=True, initial=-np.inf)  # (initial: an empty axis has a max of -inf)
    top = np.where(np.isfinite(top), top, 0)  # all -inf (or inf) along an axis: do not subtract it
    with np.errstate(divide="ignore"):  # log 0 = -inf: the sum of no terms, or of exp(-inf)s, is exactly that
        total = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    return total if keepdims else total.reshape(np.sum(x, axis=axis).shape)


logsumexp_op = Op("logsumexp", _logsumexp,
                  lambda g, ans, x, axis=None, keepdims=False: (_kept(g, x.shape, axis, keepdims)
                                                                * _exp(x - _kept(ans, x.shape, axis, keepdims)),))


def _norm(x: np.ndarray, axis: Any = None, keepdims: bool = False, out: np.ndarray | None = None) -> np.ndarray:
    squares = np.add.reduce(x * x, axis=axis, keepdims=keepdims)  # type: ignore[call-overload]  # (as max_op)
    return np.sqrt(squares, out=out)


def _norm_vjp(g, ans, x, axis=None, keepdims=False):
    safe = _kept(ans, x.shape, axis, keepdims)
    safe = safe + _is_zero(safe)  # x / |x|, and 0 where |x| = 0 (x is 0 there): no 0/0
    return (_kept(g, x.shape, axis, keepdims) * (x / safe),)


norm_op = Op("norm", _norm, _norm_vjp)  # the 2-norm of vectors, Frobenius of matrices

# ---- shape ------------------------------------------------------------------------------------

flip_op = Op("flip", lambda x, axis=None: np.flip(x, axis), lambda g, ans, x, axis=None: (_flip(g, axis),))


def _negated(shift: Any) -> Any:
    return tuple(-s for s in shift) if isinstance(shift, tuple) else -shift


roll_op = Op("roll", lambda x, shift, axis=None: np.roll(x, shift, axis),
             lambda g, ans, x, shift, axis=None: (_roll(g, _negated(shift), axis).reshape(x.shape),))


def _pad_inner(x_shape: tuple, widths: tuple) -> tuple:
    return tuple(slice(before, before + n) for n, (before, _) in zip(x_shape, widths))


pad_op = Op("pad", lambda x, widths, value=0.0: np.pad(x, widths, mode="constant", constant_values=value),
            lambda g, ans, x, widths, value=0.0: (g[_pad_inner(x.shape, widths)],))


def _index_add(x: np.ndarray, values: np.ndarray, index: Any) -> np.ndarray:
    out = x.copy()
    np.add.at(out, index, values)  # repeated indices add up
    return out


def _index_set(x: np.ndarray, values: Any, index: Any) -> np.ndarray:
    out = x.copy()
    out[index] = values
    return out


_index_set_poly = _poly(_index_set, lambda g, values, index: index_set_op(g, values, index=index))
_getitem_poly = _poly(lambda g, index: g[index], lambda g, index: g[index])

index_add_op = Op("index_add", _index_add, per_input(lambda g, ans, x, v, index: g,
                                                     lambda g, ans, x, v, index: _getitem_poly(g, index)))
index_set_op: Op = Op("index_set", _index_set,  # x's gradient is g with the overwritten entries zeroed
                  per_input(lambda g, ans, x, v, index: _index_set_poly(g, 0.0, index),
                            lambda g, ans, x, v, index: _getitem_poly(g, index)))

# ---- products ---------------------------------------------------------------------------------

_LETTERS = string.ascii_letters


def _parse_einsum(subscripts: str, shapes: Sequence[tuple]) -> tuple[list[str], str]:
    """Subscripts with every '...' spelled out as letters and the output made explicit (as NumPy's
    implicit mode: ellipsis axes first, then the letters used once, in ASCII order)."""
    text = subscripts.replace(" ", "")
    inputs, _, output = text.partition("->")
    specs = inputs.split(",")
    if len(specs) != len(shapes):
        raise ShapeError(f"einsum: '{subscripts}' names {len(specs)} operands but {len(shapes)} were given")
    unused = iter(c for c in _LETTERS if c not in text)
    width = max([len(shape) - (len(spec) - 3) for spec, shape in zip(specs, shapes) if "..." in spec] or [0])
    ellipsis = "".join(next(unused) for _ in range(width))
    spelled = [spec.replace("...", ellipsis[width - (len(shape) - len(spec) + 3):] if "..." in spec else "")
               for spec, shape in zip(specs, shapes)]
    if "->" in text:
        return spelled, output.replace("...", ellipsis)
    joined = "".join(spelled)
    once = sorted(c for c in set(joined) if joined.count(c) == 1 and c not in ellipsis)
    return spelled, ellipsis + "".join(once)


def _einsum_operand_grad(i: int, g: Any, xs: Sequence[Any], specs: list[str], output: str) -> Any:
    """d/d operand i: the einsum of g with the other operands, written to operand i's letters.
    A letter found only in operand i (summed there alone) is broadcast back afterwards; a letter
    repeated in operand i (a diagonal, 'ii') is computed once and scattered onto that diagonal."""
    spec, x = specs[i], xs[i]
    letters = "".join(dict.fromkeys(spec))  # each letter once, in order of first appearance
    operands = [(g, output)] + [(xs[j], specs[j]) for j in range(len(xs)) if j != i]
    available = "".join(s for _, s in operands)
    kept = "".join(c for c in letters if c in available)
    result = _einsum(",".join(s for _, s in operands) + "->" + kept, *[o for o, _ in operands])
    if kept != letters:
        lifted = tuple(result.shape[kept.index(c)] if c in kept else 1 for c in letters)
        result = _broadcast_to(result.reshape(lifted), tuple(n if c in kept else x.shape[spec.index(c)]
                                                           for n, c in zip(lifted, letters)))
    if letters != spec:
        grid = np.indices(result.shape, sparse=True)
        result = _scatter(result, tuple(grid[letters.index(c)] for c in spec), x.shape)
    return result


def _einsum_vjp(g, ans, *xs, subscripts):
    specs, output = _parse_einsum(subscripts, [x.shape for x in xs])
    return tuple(_einsum_operand_grad(i, g, xs, specs, output) for i in range(len(xs)))


def _explain_einsum(*xs: np.ndarray, subscripts: str, out: Any = None) -> str:
    terms = subscripts.partition("->")[0].count(",") + 1
    if terms != len(xs):
        return f"subscripts {subscripts!r} names {terms} operands but {len(xs)} were given"
    return (f"subscripts {subscripts!r} do not fit the operands: each operand needs one letter per axis "
            f"('...' for the rest), and a letter must have one length (or 1) everywhere")


einsum_op = Op("einsum", lambda *xs, subscripts, out=None: np.einsum(subscripts, *xs, out=out), _einsum_vjp,
               _explain_einsum)

# ---- linear algebra (square matrices, batched over leading axes) ---------------------------------


def _mT(a: Any) -> Any:
    return a.swapaxes(-1, -2)


def _explain_square(*xs: np.ndarray, **_: Any) -> str:
    a = xs[0]
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        return "expected square matrices in the last two axes (..., n, n)"
    return "the matrix is singular (no inverse): its determinant is 0"


_inv = _poly(np.linalg.inv, lambda a: inv(a))
_solve = _poly(np.linalg.solve, lambda a, b: solve(a, b))

inv: Op = Op("inv", np.linalg.inv, lambda g, ans, x: (-(_mT(ans) @ g @ _mT(ans)),), _explain_square)


def _cofactors_array(a: np.ndarray) -> np.ndarray:
    """The cofactor matrix adj(A)^T from the SVD A = U S V^T: adj(A) = det(V) V adj(S) U^T det(U), adj(S)
    the products of the other singular values; it exists at a singular A too, where det(A) A^-T does not.
    A matrix with a NaN or inf entry has NaN cofactors (torch's NaN gradient; its SVD would not converge)."""
    finite = np.isfinite(a).all(axis=(-2, -1))
    if not finite.all():
        cofactors = _cofactors_array(np.where(finite[..., None, None], a, 0.0))
        cofactors[~finite] = np.nan
        return cofactors
    u, sv, vt = np.linalg.svd(a)
    n = sv.shape[-1]
    others = np.stack([np.prod(np.delete(sv, i, axis=-1), axis=-1) for i in range(n)], axis=-1) if n > 1 \
        else np.ones_like(sv)
    signs = (np.linalg.det(u) * np.linalg.det(vt))[..., None, None]
    return _mT(signs * (_mT(vt) * others[..., None, :]) @ _mT(u))


def _minor_positions(n: int) -> tuple:
    """Index arrays of shape (n, n, n-1, n-1) that pick from an n x n matrix, for each (k, l), the minor
    without row k and column l; and the cofactor signs (-1)^(k + l)."""
    keep = np.array([[j for j in range(n) if j != i] for i in range(n)])
    rows = np.broadcast_to(keep[:, None, :, None], (n, n, n - 1, n - 1))
    cols = np.broadcast_to(keep[None, :, None, :], (n, n, n - 1, n - 1))
    return rows, cols, (-1.0) ** np.add.outer(np.arange(n), np.arange(n))


def _cofactors_vjp(g, ans, x):
    """Cofactor (k, l) is det(minor without row k, column l), so its gradient is that minor's cofactor
    matrix, put back in the minor's rows and columns: the same rule one size down, down to 1 x 1 (whose
    cofactor is the constant 1). No inverse is taken, so it holds at singular matrices too."""
    n = x.shape[-1]
    if n == 1:
        return (x * 0,)
    rows, cols, signs = _minor_positions(n)
    minors = _getitem_poly(x, (Ellipsis, rows, cols))  # (..., n, n, n-1, n-1)
    weighted = _cofactors(minors) * (g * signs.astype(x.dtype)).reshape(g.shape + (1, 1))
    return (_scatter(weighted, (Ellipsis, rows, cols), x.shape),)  # repeated positions add up


_cofactors_op = Op("cofactors", _cofactors_array, _cofactors_vjp, _explain_square)  # (det's helper: not exported)
_cofactors = _poly(_cofactors_array, lambda a: _cofactors_op(a))
# d det(A) = tr(adj(A) dA): the gradient is adj(A)^T, the cofactors (det(A) A^-T where A is invertible),
# one op so that an ordinary backward and a recorded one (create_graph, derived steps) compute the same bits
det = Op("det", np.linalg.det, lambda g, ans, x: (g.reshape(ans.shape + (1, 1)) * _cofactors(x),), _explain_square)


def _solve_vjp_b(g, ans, a, b):
    if b.ndim == 1:  # a vector right-hand side: solve with it as one column
        return _solve(_mT(a), g.reshape(g.shape + (1,))).reshape(g.shape)
    return _solve(_mT(a), g)


def _solve_vjp_a(g, ans, a, b):
    gb = _solve_vjp_b(g, ans, a, b)  # x = A^-1 b: dA = -A^-T g x^T
    if b.ndim == 1:
        return -(gb.reshape(gb.shape + (1,)) @ ans.reshape((1,) + ans.shape))
    return -(gb @ _mT(ans))


def _explain_solve(a: np.ndarray, b: np.ndarray) -> str:
    """Which rule of solve(a, b) the operands break: a square, b a vector of n or (..., n, k), batches broadcast."""
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        return _explain_square(a)
    n = a.shape[-1]
    if b.ndim == 0 or b.shape[0 if b.ndim == 1 else -2] != n:
        batch_of_vectors = b.ndim > 1 and b.shape[-1] == n and b.shape[:-1] == a.shape[:-2]
        return (f"the right-hand side must be a vector of length {n} or a stack of columns (..., {n}, k) "
                f"to match the {n}x{n} matrices" + (" (NumPy's rule; for a batch of vectors, as torch reads "
                                                    "this shape, solve with b[..., None])" if batch_of_vectors else ""))
    if b.ndim > 1:
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            return (f"the batch axes {a.shape[:-2]} of the matrices and {b.shape[:-2]} of the right-hand side "
                    f"cannot be broadcast")
    return _explain_square(a)


solve: Op = Op("solve", np.linalg.solve, per_input(_solve_vjp_a, _solve_vjp_b), _explain_solve)


# ---- public functions (also Tensor methods); composites need no VJP -----------------------------


def _reduce(op: Op, x: Any, axis: Any, keepdims: bool) -> Tensor:
    return op(x, axis=tuple(axis) if isinstance(axis, list) else axis, keepdims=keepdims)


def amax(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """The largest entry (along axis); ties share the gradient equally, as torch.amax."""
    return _reduce(max_op, x, axis, keepdims)


def amin(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return _reduce(min_op, x, axis, keepdims)


def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return _reduce(prod_op, x, axis, keepdims)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return _reduce(logsumexp_op, x, axis, keepdims)


def logaddexp(x: Any, y: Any) -> Tensor:
    """log(e^x + e^y), NumPy's values (exact at ±inf, where a shift by the larger would give inf - inf)."""
    return logaddexp_op(x, y)


def _positions(op: Op, x: Any, **params: Any) -> Tensor:
    """An integer Tensor computed by `op` from x, requiring no grad (positions have none): an op of the
    program while a step is traced, so it is recomputed from the new values at every call."""
    with _tensor.no_grad():
        return op(_as_tensor(x), **params)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Positions, not values: a Tensor of integers (no gradient); gather with them by
    `take_along_axis(x, positions, axis)` (keepdims=True gives the shape it wants)."""
    return _positions(argmax_op, x, axis=checked_axis(axis, np.ndim(unwrap(x)), "argmax") if axis is not None
                      else None, keepdims=keepdims)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return _positions(argmin_op, x, axis=checked_axis(axis, np.ndim(unwrap(x)), "argmin") if axis is not None
                      else None, keepdims=keepdims)


def argsort(x: Any, axis: int = -1) -> Tensor:
    """The stable order along axis, as a Tensor of integers (no gradient)."""
    x = _as_tensor(x)
    return _positions(argsort_op, x, axis=checked_axis(axis, x.ndim, "argsort"))


def take_along_axis(x: Any, positions: Any, axis: int) -> Tensor:
    """np.take_along_axis: x's entries at integer `positions` (a Tensor from argmax/argsort, or an
    integer array) along axis; the gradient adds back to where each entry came from."""
    x = _as_tensor(x)
    axis = checked_axis(axis, x.ndim, "take_along_axis")
    kind = np.asarray(unwrap(positions)).dtype.kind
    if kind not in "iu":
        raise TypeError(f"take_along_axis: positions must be integers (from am.argmax, am.argsort or an int "
                        f"array), got dtype {np.asarray(unwrap(positions)).dtype}")
    if np.ndim(unwrap(positions)) != x.ndim:
        raise ShapeError(f"take_along_axis: positions of shape {np.shape(unwrap(positions))} into x of shape "
                         f"{x.shape}: they need as many axes as x (argmax with keepdims=True gives that)")
    if not isinstance(positions, Tensor):
        positions = _tensor.constant_positions(positions)
    return take_along_op(x, positions, axis=axis)


def cumsum(x: Any, axis: int | None = None) -> Tensor:
    return cumsum_op(x, axis=axis)


def _reduced_count(shape: tuple, axis: Any) -> int:
    return math.prod(shape[a] for a in _axes(axis, len(shape))) if shape else 1


def var(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    """Mean squared deviation from the mean, divided by n - ddof (ddof=1: the unbiased estimate)."""
    x = _as_tensor(x)
    n = _reduced_count(x.shape, axis)
    if n - ddof <= 0:
        raise ShapeError(f"var: {n} entries along axis {axis} of shape {x.shape} with ddof={ddof}: "
                         f"need more entries than ddof")
    axis = tuple(axis) if isinstance(axis, list) else axis
    centred = x - x.mean(axis=axis, keepdims=True)
    return (centred * centred).sum(axis=axis, keepdims=keepdims) / (n - ddof)


def std(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    """sqrt(var); where it is 0 (all entries of a group equal, a group of one) its gradient is 0, as torch's."""
    variance = var(x, axis=axis, ddof=ddof, keepdims=keepdims)
    zero = compare(variance, 0.0, rule="<=")  # 1 where the variance is 0 (a mask: no gradient of its own)
    # sqrt(v + zero) * (1 - zero): sqrt(v) itself where v > 0 (+0 and *1 are exact); 0 with slope 0 where
    # v == 0, as torch's std_backward masks std == 0 (sqrt's own slope there is infinite: NaN after * 0)
    return sqrt(variance + zero) * (1 - zero)


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A002
    """The 2-norm of vectors / Frobenius norm of matrices (ord None, 2 on a vector, or 'fro'), or
    ord 1 and inf on vectors. Gradient x/|x|, and 0 at x = 0 (the smallest subgradient, as torch)."""
    x = _as_tensor(x)
    reduced = len(_axes(axis, x.ndim))
    if ord is None or ord == "fro" and reduced == 2 or ord == 2 and reduced == 1:
        return _reduce(norm_op, x, axis, keepdims)
    if ord == 1 and reduced == 1:
        return _abs_of(x).sum(axis=axis, keepdims=keepdims)
    if ord == np.inf and reduced == 1:
        return amax(_abs_of(x), axis=axis, keepdims=keepdims)
    raise ValueError(f"norm: ord={ord!r} over {reduced} axes of shape {x.shape} is not supported; "
                     f"use ord=None (2-norm / Frobenius), 1 or inf for vectors")


def _abs_of(x: Any) -> Tensor:
    from .ops import abs_op
    return abs_op(x)


def clip(x: Any, a_min: Any = None, a_max: Any = None) -> Tensor:
    """Limit to [a_min, a_max]; the gradient passes to x where a_min <= x <= a_max, and to a bound that is
    a Tensor requiring grad where that bound is the result (as torch.clamp)."""
    if a_min is None and a_max is None:
        raise ValueError("clip: give a_min or a_max (or both)")
    if all(b is None or (not isinstance(b, Tensor) and np.ndim(b) == 0) for b in (a_min, a_max)):
        return clip_op(x, lo=a_min, hi=a_max)  # number bounds: one NumPy call, its masks made from numbers
    # Array and Tensor bounds are inputs of ops, so that a traced step compares with them at every call
    # (a Tensor's new values, an array as a listed constant); a bound that requires grad gets the
    # gradient where it is the result (torch.clamp's rule): max(x, lo) then min(., hi), x where lo <= x <= hi
    if a_min is not None:
        x = where_op(compare(x, a_min, rule="<"), a_min, x)
    if a_max is not None:
        x = where_op(compare(x, a_max, rule=">"), a_max, x)
    return x


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """x where condition holds (is nonzero), else y (condition: no gradient; x and y differentiable).
    A Tensor condition (am.greater(x, 0), x > 0) is an input of the op, so a traced step computes the
    mask anew at every call."""
    if isinstance(condition, Tensor):
        return where_op(condition, x, y)
    return where_op(np.asarray(condition).astype(bool), x, y)


def _compared(x: Any, y: Any, rule: str) -> Tensor:
    """A 0/1 mask Tensor (no gradient; it indexes as a mask, as torch's bool tensors): a `compare`
    op, so a traced step computes it from the new values at every call."""
    with _tensor.no_grad():
        mask = compare(x, y, rule=rule)
    mask._from_booleans = True
    return mask


def greater(x: Any, y: Any) -> Tensor:
    return _compared(x, y, ">")


def greater_equal(x: Any, y: Any) -> Tensor:
    return _compared(x, y, ">=")


def less(x: Any, y: Any) -> Tensor:
    return _compared(x, y, "<")


def less_equal(x: Any, y: Any) -> Tensor:
    return _compared(x, y, "<=")


def _mask_tensor(who: str, x: Any) -> Tensor:
    """x as a 0/1 mask Tensor: a mask made by a comparison (x > 0), a Tensor made from booleans, or
    NumPy booleans; anything else is refused (NumPy's & on floats is a TypeError too)."""
    if isinstance(x, Tensor) and getattr(x, "_from_booleans", False):
        return x
    if not isinstance(x, Tensor) and np.asarray(x).dtype == bool:
        return _tensor.constant(np.asarray(x))
    shown = f"a Tensor of shape {x.shape} (not a mask)" if isinstance(x, Tensor) else f"{type(x).__name__}"
    raise TypeError(f"{who}: combines masks (x > 0, am.Tensor(bool_array), NumPy booleans), got {shown}; "
                    f"for numbers use arithmetic (x * y, am.maximum(x, y))")


def _mask_logic(who: str, combine: Any, *masks: Any) -> Tensor:
    """A mask from masks, by ops on their 0/1 values (no gradient), so a traced step recomputes it."""
    parts = [_mask_tensor(who, m) for m in masks]
    with _tensor.no_grad():
        result = combine(*parts)
    result._from_booleans = True
    return result


def logical_and(x: Any, y: Any) -> Tensor:
    """The mask of entries where both masks hold (also `mask & mask`)."""
    return _mask_logic("logical_and", mul, x, y)


def logical_or(x: Any, y: Any) -> Tensor:
    return _mask_logic("logical_or", maximum, x, y)


def logical_xor(x: Any, y: Any) -> Tensor:
    return _mask_logic("logical_xor", lambda a, b: abs_op(a - b), x, y)


def logical_not(x: Any) -> Tensor:
    return _mask_logic("logical_not", lambda a: 1 - a, x)


def pow(x: Any, exponent: Any) -> Tensor:  # noqa: A001 (NumPy's name)
    """x ** exponent. A constant scalar exponent uses the `pow` row; a Tensor or an array exponent
    the `power` row, which differentiates both (d/dexponent = x^e log x, NaN for a negative base)."""
    if isinstance(exponent, Tensor) or np.ndim(exponent) != 0:
        return power_op(x, exponent)
    return power(x, float(exponent))


def sign_of(x: Any) -> Tensor:
    """-1, 0 or 1; gradient zero."""
    return sign(x)


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """x Φ(x) with the exact normal CDF (erf), or torch's 'tanh' approximation."""
    if approximate == "tanh":
        return 0.5 * x * (1 + (math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)).tanh())
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return 0.5 * x * (1 + erf(x * (1 / math.sqrt(2))))


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    return elu_op(x, alpha=float(alpha))


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu_op(x, slope=float(negative_slope))


def logsigmoid(x: Any) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x): finite at ±1000."""
    return -softplus(-_as_tensor(x))


# torch.nn.functional's other activations, as compositions (their gradients follow); at the kinks of the
# piecewise ones the gradient is torch's: 0 at hardtanh's (and relu6's, hardsigmoid's) bounds themselves

_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def silu(x: Any) -> Tensor:
    """x sigmoid(x) (swish)."""
    x = _as_tensor(x)
    return x * sigmoid_of(x)


def selu(x: Any) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants."""
    return _SELU_SCALE * elu_op(x, alpha=_SELU_ALPHA)


def celu(x: Any, alpha: float = 1.0) -> Tensor:
    """x above 0, alpha (e^(x / alpha) - 1) below: alpha * elu(x / alpha)."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    return alpha * elu_op(_as_tensor(x) * (1.0 / alpha), alpha=1.0) if alpha != 1.0 else elu_op(x, alpha=1.0)


def softsign(x: Any) -> Tensor:
    """x / (1 + |x|)."""
    x = _as_tensor(x)
    return x / (1 + x.abs())


def hardtanh(x: Any, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clipped to [min_val, max_val]; the gradient is 1 strictly inside and 0 at and beyond the bounds (torch's)."""
    x = _as_tensor(x)
    inside = compare(x, min_val, rule=">") * compare(x, max_val, rule="<")
    bound = min_val + (max_val - min_val) * compare(x, max_val, rule=">=")  # a constant where x is outside
    bound = where_op(compare(x, x, rule="<="), bound, np.nan)  # NaN stays NaN (torch's), not min_val
    return where_op(inside, x, bound)


def relu6(x: Any) -> Tensor:
    return hardtanh(x, 0.0, 6.0)


def hardsigmoid(x: Any) -> Tensor:
    """relu6(x + 3) / 6."""
    return hardtanh((_as_tensor(x) + 3.0) / 6.0, 0.0, 1.0)


def hardswish(x: Any) -> Tensor:
    """x hardsigmoid(x)."""
    x = _as_tensor(x)
    return x * hardsigmoid(x)


def mish(x: Any) -> Tensor:
    """x tanh(softplus(x))."""
    x = _as_tensor(x)
    return x * softplus(x).tanh()


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _shape_after(numpy_fn: Any, shape: tuple, *args: Any, who: str) -> tuple:
    """The shape NumPy's shape function gives, found on a zero-stride view (no data copied)."""
    try:
        return numpy_fn(np.broadcast_to(np.empty((), bool), shape), *args).shape
    except np.exceptions.AxisError as error:
        raise AxisError(f"{who}: input of shape {shape}: {error}") from error
    except (ValueError, IndexError, TypeError) as error:
        raise ShapeError(f"{who}: input of shape {shape}: {error}") from error


def squeeze(x: Any, axis: Any = None) -> Tensor:
    x = _as_tensor(x)
    return reshape(x, shape=_shape_after(np.squeeze, x.shape, axis, who="squeeze"))


def expand_dims(x: Any, axis: Any) -> Tensor:
    x = _as_tensor(x)
    return reshape(x, shape=_shape_after(np.expand_dims, x.shape, axis, who="expand_dims"))


unsqueeze = expand_dims


def _reshape_in_order(x: Any, shape: Any, order: str = "C") -> Tensor:
    """np.reshape with NumPy's `order`: 'C' reads and writes the last axis fastest, 'F' the first (the
    reshape of the transpose, transposed back), 'A' is 'F' for values laid out Fortran-contiguously."""
    x = _as_tensor(x)
    shape = tuple(np.atleast_1d(shape).astype(int)) if np.ndim(shape) else (int(shape),)
    if order == "A":
        flags = np.asarray(unwrap(x)).flags
        order = "F" if flags.f_contiguous and not flags.c_contiguous else "C"
    if order == "C":
        return reshape(x, shape=shape)
    if order != "F":
        raise ValueError(f"reshape: order={order!r}; NumPy takes 'C', 'F' or 'A'")
    target = _shape_after(np.reshape, x.shape, shape, who="reshape")
    return transpose(reshape(transpose(x), shape=target[::-1]))


def ravel(x: Any, order: str = "C") -> Tensor:
    return _reshape_in_order(x, (-1,), order)


flatten = ravel


def flip(x: Any, axis: Any = None) -> Tensor:
    return flip_op(x, axis=tuple(axis) if isinstance(axis, list) else axis)


def roll(x: Any, shift: Any, axis: Any = None) -> Tensor:
    listed = (lambda v: tuple(v) if isinstance(v, (list, tuple)) else v)
    return roll_op(x, shift=listed(shift), axis=listed(axis))


def moveaxis(x: Any, source: Any, destination: Any) -> Tensor:
    x = _as_tensor(x)
    sources = [checked_axis(a, x.ndim, "moveaxis") for a in np.atleast_1d(source)]
    destinations = [checked_axis(a, x.ndim, "moveaxis") for a in np.atleast_1d(destination)]
    if len(sources) != len(destinations) or len(set(sources)) != len(sources):
        raise ShapeError(f"moveaxis: shape {x.shape}: source {source} and destination {destination} must be "
                         f"distinct axes, as many of each")
    order = [a for a in range(x.ndim) if a not in sources]
    for d, s in sorted(zip(destinations, sources)):
        order.insert(d, s)
    return transpose(x, axes=tuple(order))


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    x = _as_tensor(x)
    return x.swapaxes(checked_axis(axis1, x.ndim, "swapaxes"), checked_axis(axis2, x.ndim, "swapaxes"))


def _gather(x: Tensor, axis: int, positions: np.ndarray) -> Tensor:
    return _index_tensor(x, (slice(None),) * axis + (positions,))


def repeat(x: Any, repeats: Any, axis: int | None = None) -> Tensor:
    """np.repeat, as indexing with repeated positions (the gradient adds the copies up)."""
    x = _as_tensor(x)
    if axis is None:
        x, axis = ravel(x), 0
    axis = checked_axis(axis, x.ndim, "repeat")
    try:
        positions = np.repeat(np.arange(x.shape[axis]), repeats)
    except ValueError as error:
        raise ShapeError(f"repeat: shape {x.shape}, repeats {repeats} along axis {axis}: {error}") from error
    return _gather(x, axis, positions)


def tile(x: Any, reps: Any) -> Tensor:
    """np.tile, as a broadcast: each axis n becomes (r, n), then the pairs merge into r * n."""
    x = _as_tensor(x)
    reps = tuple(np.atleast_1d(reps).astype(int))
    depth = max(x.ndim, len(reps))
    shape = (1,) * (depth - x.ndim) + x.shape
    reps = (1,) * (depth - len(reps)) + reps
    interleaved = reshape(x, shape=tuple(v for n in shape for v in (1, n)))
    spread = interleaved.broadcast_to(tuple(v for r, n in zip(reps, shape) for v in (r, n)))
    return reshape(spread, shape=tuple(r * n for r, n in zip(reps, shape)))



_PICKING_MODES = ("edge", "reflect", "symmetric", "wrap")  # pad with existing entries: indexing


def _pad_widths(x: Tensor, pad_width: Any) -> tuple:
    try:
        widths = tuple(tuple(int(w) for w in pair) for pair in np.broadcast_to(pad_width, (x.ndim, 2)))
    except ValueError as error:
        raise ShapeError(f"pad: pad_width {pad_width!r} for shape {x.shape}: expected an int, a (before, after) "
                         f"pair or one pair per axis") from error
    if any(w < 0 for pair in widths for w in pair):
        raise ValueError(f"pad: pad_width {pad_width!r} has a negative width")
    return widths


def _median(x: Tensor, axis: int) -> Tensor:
    """The median along axis (keepdims): the middle of the sorted entries, the mean of the two middle ones."""
    n = x.shape[axis]
    ordered = sort(x, axis=axis)
    middle = sorted({(n - 1) // 2, n // 2})
    lead = (slice(None),) * axis
    value = _index_tensor(ordered, lead + (middle,)).mean(axis=axis, keepdims=True)
    # NaN where the axis holds a NaN, as NumPy's (a sort puts NaNs last; the middle would skip them)
    last = _index_tensor(ordered, lead + ([n - 1],))
    return where_op(compare(last, last, rule="<="), value, np.nan)


_STATISTICS = {"maximum": lambda x, axis: amax(x, axis=axis, keepdims=True),
               "minimum": lambda x, axis: amin(x, axis=axis, keepdims=True),
               "mean": lambda x, axis: x.mean(axis=axis, keepdims=True), "median": _median}


def _padding(x: Tensor, axis: int, width: int, side: int, mode: str, end_value: float) -> Tensor:
    """The block added on one side (0 before, 1 after) of axis, for the modes that compute values."""
    shape = x.shape[:axis] + (width,) + x.shape[axis + 1:]
    if mode in _STATISTICS:
        return _STATISTICS[mode](x, axis).broadcast_to(shape)
    # linear_ramp: from end_value at the outer end to the edge entry next to the data (NumPy's linspace)
    edge = _index_tensor(x, (slice(None),) * axis + ([0] if side == 0 else [-1],))
    weights = (np.arange(width) if side == 0 else np.arange(width - 1, -1, -1)) / width
    weights = weights.reshape((width,) + (1,) * (x.ndim - axis - 1))
    return edge * weights + end_value * (1 - weights)


def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: float = 0.0,
        end_values: float = 0.0) -> Tensor:
    """np.pad. 'constant' is a row of its own; 'edge', 'reflect', 'symmetric' and 'wrap' pick existing
    entries, so they are indexing (the gradient adds the copies up); 'maximum', 'minimum', 'mean',
    'median' and 'linear_ramp' pad with values computed from the whole axis (NumPy's default
    stat_length), axis after axis as NumPy does, so the gradient flows through those computations."""
    x = _as_tensor(x)
    widths = _pad_widths(x, pad_width)
    if mode == "constant":
        return pad_op(x, widths=widths, value=float(constant_values))
    if mode not in _PICKING_MODES and mode not in _STATISTICS and mode != "linear_ramp":
        raise ValueError(f"pad: mode {mode!r} is not supported; use one of 'constant', "
                         f"{', '.join(map(repr, _PICKING_MODES))}, "
                         f"{', '.join(map(repr, _STATISTICS))} or 'linear_ramp'")
    for axis, pair in enumerate(widths):
        if mode in _PICKING_MODES:
            try:
                positions = np.pad(np.arange(x.shape[axis]), pair, mode=mode)  # type: ignore[call-overload]
            except ValueError as error:
                raise ShapeError(f"pad: mode {mode!r} on axis {axis} of shape {x.shape}: {error}") from error
            x = _gather(x, axis, positions)
        elif any(pair):
            if x.shape[axis] == 0:
                raise ShapeError(f"pad: mode {mode!r} on axis {axis} of shape {x.shape}: no entries to compute from")
            blocks = [_padding(x, axis, w, side, mode, float(end_values)) for side, w in enumerate(pair) if w]
            from .ops import concatenate
            x = concatenate(([blocks[0]] if pair[0] else []) + [x] + ([blocks[-1]] if pair[1] else []), axis=axis)
    return x


def _split_by(numpy_split: Any, x: Any, indices_or_sections: Any, axis: int) -> list[Tensor]:
    x = _as_tensor(x)
    who = numpy_split.__name__
    axis = checked_axis(axis, x.ndim, who)
    try:
        parts = numpy_split(np.arange(x.shape[axis]), indices_or_sections)
    except ValueError as error:
        raise ShapeError(f"{who}: axis {axis} of shape {x.shape} into {indices_or_sections}: {error}") from error
    lead = (slice(None),) * axis
    bounds = np.cumsum([0] + [len(p) for p in parts])
    return [_index_tensor(x, lead + (slice(int(lo), int(hi)),)) for lo, hi in zip(bounds[:-1], bounds[1:])]


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """np.split: equal sections (an int that divides the axis) or split points; each part is a slice."""
    return _split_by(np.split, x, indices_or_sections, axis)


def array_split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """np.array_split: as split, and an int need not divide the axis (the first parts get one more)."""
    return _split_by(np.array_split, x, indices_or_sections, axis)


def _einsum_arguments(arguments: tuple) -> tuple[str, list]:
    """einsum's two calling forms, ('ij,jk', a, b) and (a, [0, 1], b, [1, 2], [0, 2]), as a string."""
    if isinstance(arguments[0], str):
        return arguments[0], list(arguments[1:])

    def letters(sublist: Any) -> str:
        return "".join("..." if s is Ellipsis else _LETTERS[s] for s in sublist)
    operands, specs = list(arguments[0::2]), [letters(s) for s in arguments[1::2]]
    if len(arguments) % 2:
        operands.pop()
        return ",".join(specs) + "->" + letters(arguments[-1]), operands
    return ",".join(specs), operands


def einsum(*arguments: Any, optimize: Any = False) -> Tensor:
    """np.einsum with any subscripts NumPy accepts (ellipsis, implicit output, repeated letters);
    each operand's gradient is the einsum of the output's gradient with the other operands.
    `optimize` is accepted for NumPy's signature: it only chooses an order of contraction, and the
    result is the same sum (computed in NumPy's default order, which may differ in the last bits)."""
    if optimize not in (False, True, "greedy", "optimal") and not isinstance(optimize, (list, tuple)):
        raise ValueError(f"einsum: optimize={optimize!r}; NumPy takes False, True, 'greedy', 'optimal' or a path")
    subscripts, operands = _einsum_arguments(arguments)
    return einsum_op(*operands, subscripts=subscripts)


def tensordot(x: Any, y: Any, axes: Any = 2) -> Tensor:
    """np.tensordot, as an einsum."""
    nx, ny = np.ndim(unwrap(x)), np.ndim(unwrap(y))
    if isinstance(axes, (int, np.integer)):
        pairs = (list(range(nx - axes, nx)), list(range(axes)))
    else:
        pairs = ([int(a) for a in np.atleast_1d(axes[0])], [int(a) for a in np.atleast_1d(axes[1])])
    if len(pairs[0]) != len(pairs[1]):
        raise ShapeError(f"tensordot: shapes {np.shape(unwrap(x))} and {np.shape(unwrap(y))}: axes {axes} "
                         f"must name as many axes of each operand")
    left = list(_LETTERS[:nx])
    right = list(_LETTERS[nx:nx + ny])
    for a, b in zip(*pairs):
        right[b % ny] = left[a % nx]
    summed = {left[a % nx] for a in pairs[0]}
    output = [c for c in left if c not in summed] + [c for c in right if c not in summed]
    return einsum_op(x, y, subscripts="".join(left) + "," + "".join(right) + "->" + "".join(output))


def outer(x: Any, y: Any) -> Tensor:
    return mul(reshape(_as_tensor(x), shape=(-1, 1)), reshape(_as_tensor(y), shape=(1, -1)))


def dot(x: Any, y: Any) -> Tensor:
    """np.dot: a product for 0-d operands, matmul for 1-D and 2-D, and for N-D the sum over the last
    axis of x and the second-to-last of y (the last, if y is 1-D)."""
    nx, ny = np.ndim(unwrap(x)), np.ndim(unwrap(y))
    if nx == 0 or ny == 0:
        return mul(x, y)
    if nx <= 2 and ny <= 2:
        return matmul(x, y)
    return tensordot(x, y, axes=([-1], [0 if ny == 1 else -2]))


def sort(x: Any, axis: int | None = -1, kind: str | None = None) -> Tensor:
    """Sorted along axis, as picking entries (the gradient goes back to where each came from). The sort
    is always stable (`kind` is accepted for NumPy's signature: the sorted values are the same), so
    equal entries keep their order and each gets its own gradient back."""
    x = _as_tensor(x)
    if axis is None:  # NumPy's: sort the flattened array
        x, axis = ravel(x), 0
    axis = checked_axis(axis, x.ndim, "sort")
    return take_along_op(x, _positions(argsort_op, x, axis=axis), axis=axis)


def inner(x: Any, y: Any) -> Tensor:
    """np.inner: the sum over the last axis of both (a product for 0-d operands)."""
    if np.ndim(unwrap(x)) == 0 or np.ndim(unwrap(y)) == 0:
        return mul(x, y)
    return tensordot(x, y, axes=([-1], [-1]))


def _at_least(t: Any, ndim: int) -> Any:
    """np.atleast_1d / atleast_2d: a 0-d entry becomes (1,) or (1, 1), a 1-D one (1, n) for 2."""
    shape = np.shape(unwrap(t))
    return t if len(shape) >= ndim else reshape(_as_tensor(t), shape=(1,) * (ndim - len(shape)) + shape)


def hstack(tensors: Sequence[Any]) -> Tensor:
    from .ops import concatenate
    parts = [_at_least(t, 1) for t in list(tensors)]  # (one Tensor: its rows, as NumPy reads an array)
    return concatenate(parts, axis=0 if np.ndim(unwrap(parts[0])) == 1 else 1)


def vstack(tensors: Sequence[Any]) -> Tensor:
    from .ops import concatenate
    return concatenate([_at_least(t, 2) for t in list(tensors)], axis=0)


def triu(x: Any, k: int = 0) -> Tensor:
    """The upper triangle (x times a 0/1 mask made from the shape alone)."""
    return mul(x, np.triu(np.ones(np.shape(unwrap(x))[-2:], bool), k))  # booleans take x's dtype


def tril(x: Any, k: int = 0) -> Tensor:
    return mul(x, np.tril(np.ones(np.shape(unwrap(x))[-2:], bool), k))


# ---- creation: constant tensors (requires_grad=True makes a leaf to differentiate) --------------


def _created(values: np.ndarray, requires_grad: bool) -> Tensor:
    return Tensor(values, requires_grad=requires_grad)


def _float_dtype(dtype: Any, default: Any = np.float64) -> Any:
    """A Tensor holds float64 or float32; NumPy's default int/bool dtypes of arange and friends become float64."""
    dtype = np.dtype(default if dtype is None else dtype)
    return dtype if dtype in (np.float64, np.float32) else np.dtype(np.float64)


def zeros(shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: a buffer to fill in place (out[i] = ...), each write recorded."""
    return _created(np.zeros(shape, _float_dtype(dtype)), requires_grad)


def ones(shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _created(np.ones(shape, _float_dtype(dtype)), requires_grad)


def full(shape: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _created(np.full(shape, fill_value, _float_dtype(dtype)), requires_grad)


def eye(n: int, m: int | None = None, k: int = 0, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _created(np.eye(n, m, k, dtype=_float_dtype(dtype)), requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """np.arange as float values (a Tensor holds floats; index with np.arange)."""
    values = np.arange(start, step=step) if stop is None else np.arange(start, stop, step)
    return _created(values.astype(_float_dtype(dtype)), requires_grad)


def _like(fill: Any):
    def like(x: Any, dtype: Any = None, order: str = "K", subok: bool = True, shape: Any = None,
             requires_grad: bool = False) -> Tensor:
        values = np.asarray(unwrap(x))
        return _created(fill(values.shape if shape is None else shape, _float_dtype(dtype, values.dtype)),
                        requires_grad)
    return like


zeros_like = _like(np.zeros)
ones_like = _like(np.ones)
empty_like = _like(np.zeros)  # zeros: an uninitialised buffer's values are unspecified, and these are defined
zeros_like.__name__, ones_like.__name__, empty_like.__name__ = "zeros_like", "ones_like", "empty_like"


def full_like(x: Any, fill_value: float, dtype: Any = None, order: str = "K", subok: bool = True, shape: Any = None,
              requires_grad: bool = False) -> Tensor:
    return _like(lambda shape, dtype: np.full(shape, fill_value, dtype))(x, dtype, shape=shape,
                                                                        requires_grad=requires_grad)


# ---- casts, copies, NaN handling, rounding ---------------------------------------------------------


def astype(x: Any, dtype: Any, copy: bool = True) -> Any:
    """A cast. To float64/float32 it is differentiable (the gradient is cast back); to an integer or
    bool dtype the result has no gradient (as in PyTorch): it is a plain NumPy array, like a comparison.
    As NumPy's, it returns a new tensor even for the dtype x already has (so changing the result in
    place never changes x), unless copy=False."""
    x = _as_tensor(x)
    dtype = np.dtype(dtype)
    if dtype in (np.float64, np.float32):
        if dtype == x.dtype:
            return copy_op(x) if copy else x
        return astype_op(x, dtype=dtype)
    return x._read("astype").astype(dtype)


def copy(x: Any) -> Tensor:
    """A copy of the values (its own memory), on the graph: the gradient passes unchanged."""
    return copy_op(x)


def nansum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """The sum with NaN entries counted as 0 (their gradient is 0)."""
    x = _as_tensor(x)
    kept = where_op(~np.isnan(read_value(x, "nansum")), x, 0.0)  # the NaN mask decides: a tracer must know
    return _reduce(sum_op, kept, axis, keepdims)


def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """NaN and ±inf replaced by numbers (np.nan_to_num's defaults: 0 and the dtype's largest); the
    replaced entries are constants (gradient 0), the rest pass their gradient."""
    x = _as_tensor(x)
    array = read_value(x, "nan_to_num")  # which entries are replaced decides: a tracer must know
    values = np.nan_to_num(array, nan=nan, posinf=posinf, neginf=neginf)
    return where_op(np.isfinite(array), x, values)


def round(x: Any, decimals: int = 0) -> Tensor:  # noqa: A001 (NumPy's name)
    """np.round (halves to even); the gradient is 0."""
    return round_op(x, decimals=int(decimals))


# ---- diagonals, running products, differences, joining ---------------------------------------------


def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """np.diagonal: the diagonal of axes (axis1, axis2) as the last axis, as picking entries."""
    x = _as_tensor(x)
    if x.ndim < 2:
        raise ShapeError(f"diagonal: input of shape {x.shape}: needs at least 2 axes")
    moved = moveaxis(x, (axis1, axis2), (-2, -1))
    rows, cols = moved.shape[-2:]
    length = max(0, min(rows + min(offset, 0), cols - max(offset, 0)))
    steps = np.arange(length)
    return _index_tensor(moved, (Ellipsis, steps - min(offset, 0), steps + max(offset, 0)))


def diag(x: Any, k: int = 0) -> Tensor:
    """np.diag: a vector's diagonal matrix (with the vector on diagonal k), or a matrix's diagonal k."""
    x = _as_tensor(x)
    if x.ndim == 2:
        return diagonal(x, k)
    if x.ndim != 1:
        raise ShapeError(f"diag: input of shape {x.shape}: expected a vector or a matrix")
    n = x.shape[0] + abs(k)
    steps = np.arange(x.shape[0])
    return index_set_op(zeros((n, n), x.dtype), x, index=(steps - min(k, 0), steps + max(k, 0)))


def matrix_trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """The sum of a diagonal: np.trace(t) and t.trace() run it. (`am.trace` is the step tracer, so
    the matrix trace has this name.)"""
    return diagonal(x, offset, axis1, axis2).sum(axis=-1)


def cumprod(x: Any, axis: int | None = None) -> Tensor:
    """Running products, as a chain of products (exact at zeros; second order from the same chain)."""
    x = _as_tensor(x)
    if axis is None:
        x, axis = ravel(x), 0
    moved = moveaxis(x, axis, -1)
    running = [moved[..., 0]]
    for i in range(1, moved.shape[-1]):
        running.append(running[-1] * moved[..., i])
    if not running[0].shape and moved.shape[-1] == 0:
        return moved
    return moveaxis(_stack_last(running), -1, axis)


def diff(x: Any, n: int = 1, axis: int = -1) -> Tensor:
    """np.diff: differences of neighbours along axis, n times."""
    x = _as_tensor(x)
    axis = checked_axis(axis, x.ndim, "diff")
    lead = (slice(None),) * axis
    for _ in range(n):
        x = x[lead + (slice(1, None),)] - x[lead + (slice(None, -1),)]
    return x


def append(x: Any, values: Any, axis: int | None = None) -> Tensor:
    """np.append: both flattened and joined (axis None), or joined along axis."""
    from .ops import concatenate
    if axis is None:
        return concatenate([ravel(_as_tensor(x)), ravel(_as_tensor(values))])
    return concatenate([x, values], axis=axis)


def _atleast(numpy_fn: Any):
    def atleast(*xs: Any) -> Any:
        shaped = [reshape(_as_tensor(x), shape=_shape_after(numpy_fn, np.shape(unwrap(x)), who=numpy_fn.__name__))
                  for x in xs]
        return shaped[0] if len(shaped) == 1 else shaped
    atleast.__name__ = numpy_fn.__name__
    return atleast


atleast_1d, atleast_2d, atleast_3d = _atleast(np.atleast_1d), _atleast(np.atleast_2d), _atleast(np.atleast_3d)


# ---- more of NumPy's surface, as compositions of the rows above (HIPS autograd has each) -------------


def take(x: Any, indices: Any, axis: int | None = None, mode: str = "raise") -> Tensor:
    """np.take: entries at integer `indices` along axis (of the flattened x for None), as indexing
    (repeated indices add their gradients up)."""
    if mode != "raise":
        raise ValueError(f"take: mode={mode!r}; only NumPy's default 'raise' (indices must be in range) is supported")
    x = _as_tensor(x)
    positions = np.asarray(read_value(indices, "take"))
    if positions.dtype.kind not in "iu":
        raise TypeError(f"take: indices must be integers, got dtype {positions.dtype}")
    if axis is None:
        return _index_tensor(ravel(x), positions)
    return _gather(x, checked_axis(axis, x.ndim, "take"), positions)


def flipud(x: Any) -> Tensor:
    x = _as_tensor(x)
    if x.ndim < 1:
        raise ShapeError(f"flipud: input of shape {x.shape}: needs at least 1 axis")
    return flip(x, 0)


def fliplr(x: Any) -> Tensor:
    x = _as_tensor(x)
    if x.ndim < 2:
        raise ShapeError(f"fliplr: input of shape {x.shape}: needs at least 2 axes")
    return flip(x, 1)


def rot90(x: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Tensor:
    """np.rot90: k quarter turns from axes[0] towards axes[1], as flips and a transpose."""
    x = _as_tensor(x)
    if len(axes) != 2 or checked_axis(axes[0], x.ndim, "rot90") == checked_axis(axes[1], x.ndim, "rot90"):
        raise ShapeError(f"rot90: axes {tuple(axes)} for shape {x.shape}: expected two different axes")
    first, second = checked_axis(axes[0], x.ndim, "rot90"), checked_axis(axes[1], x.ndim, "rot90")
    k %= 4
    if k == 0:
        return x
    if k == 2:
        return flip(flip(x, first), second)
    order = list(range(x.ndim))
    order[first], order[second] = order[second], order[first]
    return transpose(flip(x, second), axes=tuple(order)) if k == 1 else flip(transpose(x, axes=tuple(order)), second)


def average(x: Any, axis: Any = None, weights: Any = None, returned: bool = False, keepdims: bool = False) -> Any:
    """np.average: the mean, or sum(x w) / sum(w) along axis; weights (differentiable too) shaped like x,
    or 1-D along a single axis."""
    x = _as_tensor(x)
    if weights is None:
        mean = x.mean(axis=axis, keepdims=keepdims)
        count = x.size // max(mean.size, 1)
        return (mean, full(mean.shape, count, x.dtype)) if returned else mean
    w_shape = np.shape(unwrap(weights))
    if w_shape != x.shape:
        if axis is None or isinstance(axis, (tuple, list)) or len(w_shape) != 1 or w_shape[0] != x.shape[axis]:
            raise ShapeError(f"average: weights of shape {w_shape} for x of shape {x.shape} and axis {axis}: "
                             f"expected x's shape, or 1-D of the length of that one axis")
        lifted = [1] * x.ndim
        lifted[checked_axis(axis, x.ndim, "average")] = w_shape[0]
        weights = weights.reshape(tuple(lifted)) if isinstance(weights, Tensor) else np.reshape(weights, lifted)
    if not isinstance(weights, Tensor):
        weights = np.asarray(weights, x.dtype)
    scale = _reduce(sum_op, _broadcast_to(weights, x.shape), axis, keepdims)  # sum(w), with w spread like x
    result = _reduce(sum_op, x * weights, axis, keepdims) / scale
    return (result, scale) if returned else result


def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: int | None = None) -> Tensor:
    """np.cross of 3-vectors along the given axes (broadcast over the others), as products of components."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = moveaxis(_as_tensor(a), axisa, -1), moveaxis(_as_tensor(b), axisb, -1)
    if a.shape[-1] != 3 or b.shape[-1] != 3:
        raise ShapeError(f"cross: vectors of length {a.shape[-1]} and {b.shape[-1]}: only 3-vectors are supported "
                         f"(NumPy 2 deprecates the 2-vector form)")
    a0, a1, a2 = (a[..., i] for i in range(3))
    b0, b1, b2 = (b[..., i] for i in range(3))
    c = _stack_last([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0])
    return moveaxis(c, -1, axisc)


def kron(a: Any, b: Any) -> Tensor:
    """np.kron: every product a[i] b[j] at position i * b.shape + j, as one broadcast product."""
    a, b = _as_tensor(a), _as_tensor(b)
    depth = max(a.ndim, b.ndim)
    a_shape, b_shape = (1,) * (depth - a.ndim) + a.shape, (1,) * (depth - b.ndim) + b.shape
    spread_a = reshape(a, shape=tuple(v for n in a_shape for v in (n, 1)))
    spread_b = reshape(b, shape=tuple(v for n in b_shape for v in (1, n)))
    return reshape(spread_a * spread_b, shape=tuple(n * m for n, m in zip(a_shape, b_shape)))


def column_stack(tensors: Sequence[Any]) -> Tensor:
    """np.column_stack: 1-D entries become columns, 2-D ones join as they are."""
    from .ops import concatenate
    parts = [_as_tensor(t) for t in list(tensors)]
    return concatenate([reshape(t, shape=(-1, 1)) if t.ndim < 2 else t for t in parts], axis=1)


def dstack(tensors: Sequence[Any]) -> Tensor:
    """np.dstack: each entry made at least 3-D (NumPy's rule), joined along the third axis."""
    from .ops import concatenate
    return concatenate([atleast_3d(t) for t in list(tensors)], axis=2)


def median(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """np.median: the middle of the sorted entries (the mean of the two middle ones for an even count),
    so the gradient goes to those entries (split in two halves for an even count)."""
    x = _as_tensor(x)
    if axis is None:
        middle = _median(ravel(x), 0)
        return reshape(middle, shape=(1,) * x.ndim if keepdims else ())
    if isinstance(axis, (tuple, list)):
        raise ValueError(f"median: axis={axis!r}; one axis or None is supported")
    axis = checked_axis(axis, x.ndim, "median")
    if x.shape[axis] == 0:
        raise ShapeError(f"median: axis {axis} of shape {x.shape} is empty")
    middle = _median(x, axis)
    return middle if keepdims else squeeze(middle, axis)


class _IndexedUpdate:
    """`x.at[index]`: functional updates in JAX's style, new Tensors differentiable in x and values."""

    __slots__ = ("x", "index")

    def __init__(self, x: Tensor, index: Any) -> None:
        self.x, self.index = x, index

    def set(self, values: Any) -> Tensor:
        return index_update(self.x, self.index, values)

    def add(self, values: Any) -> Tensor:
        return index_add(self.x, self.index, values)

    def get(self) -> Tensor:
        return self.x[self.index]


class _At:
    __slots__ = ("x",)

    def __init__(self, x: Any) -> None:
        self.x = x

    def __getitem__(self, index: Any) -> _IndexedUpdate:
        return _IndexedUpdate(self.x, index)


def _checked_update(who: str, x: Any, index: Any, values: Any, unique: bool) -> tuple:
    x = _as_tensor(x)
    for part in index if isinstance(index, tuple) else (index,):
        read_value(part, "index")  # positions decide which entries: a tracer must know
    index = plain_index(index, x.shape, who)
    try:
        positions = np.arange(x.size).reshape(x.shape)[index]
    except (IndexError, ValueError) as error:
        raise IndexError(f"{who}: index {index!r} into shape {x.shape}: {error}") from error
    value_shape = np.shape(unwrap(values))
    try:
        np.broadcast_shapes(value_shape, positions.shape)
    except ValueError:
        raise ShapeError(f"{who}: values of shape {value_shape} cannot be broadcast to the indexed shape "
                         f"{positions.shape} of x[{index!r}] (x has shape {x.shape})") from None
    if len(np.broadcast_shapes(value_shape, positions.shape)) > positions.ndim:
        raise ShapeError(f"{who}: values of shape {value_shape} have more axes than x[{index!r}] "
                         f"of shape {positions.shape}")
    if unique and np.unique(positions).size != positions.size:
        raise ValueError(f"{who}: index {index!r} names an entry of x more than once; which write wins is "
                         f"undefined, so its gradient would be too (use index_add to add up repeats)")
    return x, index


def index_update(x: Any, index: Any, values: Any) -> Tensor:
    """A copy of x with x[index] = values (broadcast); differentiable in x and in values."""
    x, index = _checked_update("index_update", x, index, values, unique=True)
    return index_set_op(x, values, index=index)


def index_add(x: Any, index: Any, values: Any) -> Tensor:
    """A copy of x with values added at x[index]; repeated indices add up (np.add.at)."""
    x, index = _checked_update("index_add", x, index, values, unique=False)
    return index_add_op(x, values, index=index)


# ---- in-place updates (x[i] = v, x += v, ...): recorded as the functional rows above -------------


def _in_place(x: Tensor, compute: Any, what: str) -> Tensor:
    """x changed in place, the way NumPy code writes it: x becomes the node compute(x as it was),
    through the engine's rebase (earlier uses of x keep the old node). A view made by basic
    indexing (`row = x[0]`, and the temporary of `x[0] += v`) passes its new value on to the tensor
    it views, as NumPy's view would; other views cannot, and are refused."""
    view = getattr(x, "_view", None)
    if view is None:
        _refuse_other_views(x, what)
        return rebase(x, compute, what)
    base, index, taken = view
    if any(version > taken for version, _ in getattr(base, "_rebases", ())):
        raise GraphError(f"{what}: this tensor (shape {x.shape}) is a view x[{index!r}] taken before x was changed "
                         f"in place; in NumPy the view would show that change, here it holds the values from before. "
                         f"Index x again after changing it (x[{index!r}] ...) instead of reusing the old view")
    rebase(x, compute, what)
    base[index] = x
    x._view = (base, index, _tensor._writes)
    return x


def _refuse_other_views(x: Tensor, what: str) -> None:
    """A tensor whose values are a view of an input's (reshape, transpose, broadcast_to, ...): NumPy
    would change that input too, which cannot be recorded here."""
    if x._data.base is None or not x._parents:
        return
    for p in x._parents:
        if np.may_share_memory(x._data, p._data):
            raise GraphError(f"{what}: this tensor (shape {x.shape}, made by '{x.op_name}') is a view of another "
                             f"tensor's values (shape {p.shape}); in NumPy the change would show in both, which "
                             f"autograd_mini cannot record. Change a copy (y = x.copy()) or the original tensor")


def _setitem(x: Tensor, index: Any, values: Any) -> None:
    checked_x, plain = _checked_update("x[index] = values", x, index, values, unique=True)
    _in_place(x, lambda old: index_set_op(old, values, index=plain), "x[index] = values")


# The public names (`am.<name>` through `from .ops_numpy import *`): every public function defined here
# and every row whose variable is named after its op, so a new op is exported by being written.
__all__ = [name for name, value in list(globals().items()) if not name.startswith("_") and name not in _IMPORTED and (
    (isinstance(value, Op) and value.name == name)
    or (callable(value) and getattr(value, "__module__", None) == __name__ and not isinstance(value, (type, Op))))]

use_table(__name__)  # Tensor's methods (tensor_methods.py) call this table's functions
