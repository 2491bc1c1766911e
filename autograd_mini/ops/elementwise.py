"""Element-wise ops: arithmetic, unary math, activations, casts and rounding.

Read a row as: name, forward on NumPy arrays, `vjp(g, ans, *inputs, **params)` returning one
gradient per input. VJPs use only arithmetic, methods that NumPy arrays and Tensors share, and the
`_poly` helpers, so the same line computes a NumPy gradient in an ordinary backward and a
differentiable Tensor gradient under `create_graph=True`. Broadcasting is undone by the engine.
A forward that can write into a given array takes `out=` (NumPy's ufuncs do): a derived step
(derivation/) reuses that one forward with preallocated buffers; forwards without it allocate.
The line after a row or function registers it (`_registry.register`): its `am.` name and the NumPy
functions that run it on Tensors.

Non-differentiable points: see the comments above relu, clip and the steps; d(x^y)/dy is NaN for
x < 0 (as torch).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..tensor import Op, Tensor, per_input, read_value
from ._helpers import _as_tensor, _explain_broadcast, _poly
from ._registry import register
from .compare import _fmask, _is_zero, _mask, _sign, _where, compare, where_op
from .kernels import _SIGMOID_CONSTANTS, _TWOS, _in_place_ok, _sigmoid


# ---- arithmetic ---------------------------------------------------------------------------------

add = Op("add", np.add, lambda g, ans, x, y: (g, g), _explain_broadcast)
register(add, np.add)
sub = Op("sub", np.subtract, per_input(lambda g, ans, x, y: g, lambda g, ans, x, y: -g), _explain_broadcast)
register(sub, np.subtract)
mul = Op("mul", np.multiply, per_input(lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x), _explain_broadcast)
register(mul, np.multiply)
div = Op("div", np.divide, per_input(lambda g, ans, x, y: g / y, lambda g, ans, x, y: -g * ans / y),
         _explain_broadcast)
register(div, np.true_divide)
neg = Op("neg", np.negative, lambda g, ans, x: (-g,))
register(neg, np.negative)
register(lambda x: x, np.positive, names=())  # +t is t
register(lambda x: x, np.conjugate, np.real, names=())  # real values: the conjugate and the real part are x
register(lambda x: mul(x, math.pi / 180), np.deg2rad, np.radians, names=())  # angles: a constant factor
register(lambda x: mul(x, 180 / math.pi), np.rad2deg, np.degrees, names=())
pow_op = Op("pow", lambda x, exponent, out=None: np.power(x, exponent, out=out),
            lambda g, ans, x, exponent: (g * (exponent * x ** (exponent - 1)) if exponent != 0 else g * 0,))


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


def power(x: Any, exponent: Any) -> Tensor:
    """x ** exponent. A constant scalar exponent uses the `pow_op` row; a Tensor or an array exponent
    the `power_op` row, which differentiates both (d/dexponent = x^e log x, NaN for a negative base)."""
    if isinstance(exponent, Tensor) or np.ndim(exponent) != 0:
        return power_op(x, exponent)
    return pow_op(x, float(exponent))
register(power, np.power, names=("power", "pow"))


# At the points where these have no derivative, the gradient is PyTorch's: relu at 0 gives 0;
# abs at 0 gives 0 (sign(0)); maximum and minimum split a tie equally, 1/2 to each input, so
# maximum(x, 0) at x == 0 gives x 1/2 while relu gives 0; sign and compare pass no gradient (0).
relu = Op("relu", lambda x, out=None: np.maximum(x, 0, out=out), lambda g, ans, x: (g * _mask(x, 0, ">"),))
register(relu, elementwise=True)
abs = Op("abs", np.abs, lambda g, ans, x: (g * _sign(x),))
register(abs, np.absolute, np.fabs, elementwise=True)
maximum = Op("maximum", np.maximum,
             lambda g, ans, x, y: (g * _mask(x, y, "share"), g * _mask(y, x, "share")),
             _explain_broadcast)
register(maximum, np.maximum)
minimum = Op("minimum", np.minimum,
             lambda g, ans, x, y: (g * _mask(y, x, "share"), g * _mask(x, y, "share")),
             _explain_broadcast)
register(minimum, np.minimum)


# ---- unary math -------------------------------------------------------------------------------


def _square_vjp(g, ans, x):
    if type(x) is not np.ndarray:  # Tensors (create_graph) and NumPy scalars
        return (g * (2 * x),)
    return (g * (_TWOS.get(x.dtype, 2) * x),)  # (the dtype's cached 2: a Python 2 costs a conversion)


square = Op("square", np.square, _square_vjp)  # g * (2 * x)
register(square, np.square, elementwise=True)
exp: Op = Op("exp", np.exp, lambda g, ans, x: (g * ans,))
register(exp, np.exp, elementwise=True)
log = Op("log", np.log, lambda g, ans, x: (g / x,))
register(log, np.log, elementwise=True)
_exp = _poly(np.exp, lambda a: exp(a))
_sqrt = _poly(np.sqrt, lambda a: a.sqrt())
_sin = _poly(np.sin, lambda a: a.sin())
_cos = _poly(np.cos, lambda a: a.cos())
_sinh = _poly(np.sinh, lambda a: a.sinh())
_cosh = _poly(np.cosh, lambda a: a.cosh())
_log = _poly(np.log, lambda a: a.log())


def _tanh_vjp(g, ans, x):
    if not _in_place_ok(g, ans):
        return (g * (1 - ans * ans),)
    t = ans * ans  # the same products in one buffer (a*b == b*a exactly): less memory, same bits
    np.subtract(1, t, out=t)
    t *= g
    return (t,)


tanh = Op("tanh", np.tanh, _tanh_vjp)  # g * (1 - ans * ans)
register(tanh, np.tanh, elementwise=True)


def _sigmoid_vjp(g, ans, x):
    if type(ans) is not np.ndarray:  # Tensors (create_graph) and NumPy scalars
        return (g * (ans * (1 - ans)),)
    t = _SIGMOID_CONSTANTS.get(ans.dtype, (None, 1))[1] - ans  # (the dtype's cached 1: a Python 1 costs a conversion)
    t *= ans  # g * (ans * (1 - ans)) with fewer temporaries: a*b == b*a exactly, so the same bits
    if not _in_place_ok(g, ans):
        return (g * t,)
    t *= g
    return (t,)


sigmoid = Op("sigmoid", _sigmoid, _sigmoid_vjp)  # g * (ans * (1 - ans))
register(sigmoid, elementwise=True)


def sigmoid_of(x: Any) -> Any:
    return sigmoid(x) if isinstance(x, Tensor) else _sigmoid(x)


def _logaddexp0(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


softplus = Op("softplus", _logaddexp0, lambda g, ans, x: (g * sigmoid_of(x),))  # log(1 + e^x), stable
register(softplus, elementwise=True)


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


def _elementwise(name: str, forward: Any, vjp: Any) -> Op:
    """An element-wise row of one input, registered: `am.<name>`, what `np.<name>(t)` runs when NumPy
    has that ufunc, and one of the rows whose method `x.<name>()` is a line of tensor_methods.py's
    ElementwiseMixin (a test fails until it is written)."""
    return register(Op(name, forward, vjp), *([getattr(np, name)] if hasattr(np, name) else []), elementwise=True)


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
register(mod, np.mod)
fmod = Op("fmod", np.fmod, per_input(lambda g, ans, x, y: g, lambda g, ans, x, y: -g * _trunc(x / y)),
          _explain_broadcast)
register(fmod, np.fmod)
# x // y, NumPy's (exact: 1 // 0.1 is 9, where floor(1 / 0.1) is 10): a step in both inputs, gradient 0
floor_divide = Op("floor_divide", np.floor_divide, lambda g, ans, x, y: (g * 0, g * 0), _explain_broadcast)
register(floor_divide, np.floor_divide)


_largest = _poly(lambda a, b: np.maximum(np.abs(a), np.abs(b)), lambda a, b: maximum(abs(a), abs(b)))


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
register(arctan2, np.arctan2)
hypot = Op("hypot", np.hypot, per_input(lambda g, ans, x, y: g * x / ans, lambda g, ans, x, y: g * y / ans),
           _explain_broadcast)
register(hypot, np.hypot)
# fmax / fmin: maximum / minimum that skip a NaN; the gradient goes to the input taken, to x at a tie (torch's)
def _taken_vjp(rule: str):
    def vjp(g, ans, x, y):
        taken = _fmask(x, y, rule)  # 1 where the result is x
        return g * taken, g * (1 - taken)
    return vjp


fmax = Op("fmax", np.fmax, _taken_vjp(">= or y NaN"), _explain_broadcast)
register(fmax, np.fmax)
fmin = Op("fmin", np.fmin, _taken_vjp("<= or y NaN"), _explain_broadcast)
register(fmin, np.fmin)
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


def logaddexp(x: Any, y: Any) -> Tensor:
    """log(e^x + e^y), NumPy's values (exact at ±inf, where a shift by the larger would give inf - inf)."""
    return logaddexp_op(x, y)
register(logaddexp, np.logaddexp)
# d/dx log2(2^x + 2^y) = 2^x / (2^x + 2^y) = sigmoid((x - y) ln 2): logaddexp's rule in base 2
logaddexp2 = Op("logaddexp2", np.logaddexp2,
                lambda g, ans, x, y: (g * sigmoid_of((x - y) * _LN2), g * sigmoid_of((y - x) * _LN2)),
                _explain_broadcast)
register(logaddexp2, np.logaddexp2)


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
register(clip, np.clip)


# ---- activations --------------------------------------------------------------------------------


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """x Φ(x) with the exact normal CDF (erf), or torch's 'tanh' approximation."""
    if approximate == "tanh":
        return 0.5 * x * (1 + (math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)).tanh())
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return 0.5 * x * (1 + erf(x * (1 / math.sqrt(2))))
register(gelu)


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    return elu_op(x, alpha=float(alpha))
register(elu)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu_op(x, slope=float(negative_slope))
register(leaky_relu)


def logsigmoid(x: Any) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x): finite at ±1000."""
    return -softplus(-_as_tensor(x))
register(logsigmoid)


# torch.nn.functional's other activations, as compositions (their gradients follow); at the kinks of the
# piecewise ones the gradient is torch's: 0 at hardtanh's (and relu6's, hardsigmoid's) bounds themselves

_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def silu(x: Any) -> Tensor:
    """x sigmoid(x) (swish)."""
    x = _as_tensor(x)
    return x * sigmoid_of(x)
register(silu)


def selu(x: Any) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants."""
    return _SELU_SCALE * elu_op(x, alpha=_SELU_ALPHA)
register(selu)


def celu(x: Any, alpha: float = 1.0) -> Tensor:
    """x above 0, alpha (e^(x / alpha) - 1) below: alpha * elu(x / alpha)."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    return alpha * elu_op(_as_tensor(x) * (1.0 / alpha), alpha=1.0) if alpha != 1.0 else elu_op(x, alpha=1.0)
register(celu)


def softsign(x: Any) -> Tensor:
    """x / (1 + |x|)."""
    x = _as_tensor(x)
    return x / (1 + x.abs())
register(softsign)


def hardtanh(x: Any, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clipped to [min_val, max_val]; the gradient is 1 strictly inside and 0 at and beyond the bounds (torch's)."""
    x = _as_tensor(x)
    inside = compare(x, min_val, rule=">") * compare(x, max_val, rule="<")
    bound = min_val + (max_val - min_val) * compare(x, max_val, rule=">=")  # a constant where x is outside
    bound = where_op(compare(x, x, rule="<="), bound, np.nan)  # NaN stays NaN (torch's), not min_val
    return where_op(inside, x, bound)
register(hardtanh)


def relu6(x: Any) -> Tensor:
    return hardtanh(x, 0.0, 6.0)
register(relu6)


def hardsigmoid(x: Any) -> Tensor:
    """relu6(x + 3) / 6."""
    return hardtanh((_as_tensor(x) + 3.0) / 6.0, 0.0, 1.0)
register(hardsigmoid)


def hardswish(x: Any) -> Tensor:
    """x hardsigmoid(x)."""
    x = _as_tensor(x)
    return x * hardsigmoid(x)
register(hardswish)


def mish(x: Any) -> Tensor:
    """x tanh(softplus(x))."""
    x = _as_tensor(x)
    return x * softplus(x).tanh()
register(mish)


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
register(astype)


def float_power(x: Any, exponent: Any) -> Tensor:
    """np.float_power: x ** exponent in float64 whatever the inputs' dtype (NumPy's rule, the point of
    float_power); a float32 input's gradient is cast back to float32."""
    return power(astype(x, np.float64), astype(exponent, np.float64) if isinstance(exponent, Tensor) else exponent)
register(float_power, np.float_power, names=())


def copy(x: Any) -> Tensor:
    """A copy of the values (its own memory), on the graph: the gradient passes unchanged."""
    return copy_op(x)
register(copy, np.copy)


def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """NaN and ±inf replaced by numbers (np.nan_to_num's defaults: 0 and the dtype's largest); the
    replaced entries are constants (gradient 0), the rest pass their gradient."""
    x = _as_tensor(x)
    array = read_value(x, "nan_to_num")  # which entries are replaced decides: a tracer must know
    values = np.nan_to_num(array, nan=nan, posinf=posinf, neginf=neginf)
    return where_op(np.isfinite(array), x, values)
register(nan_to_num, np.nan_to_num)


def round(x: Any, decimals: int = 0) -> Tensor:
    """np.round (halves to even); the gradient is 0."""
    return round_op(x, decimals=int(decimals))
register(round, np.round, np.around, np.rint)
