"""The op table: each primitive's forward and its vector-Jacobian product, side by side.

Read a row as: name, forward on NumPy arrays, `vjp(g, ans, *inputs, **params)` returning one
gradient per input. VJPs use only arithmetic, methods that NumPy arrays and Tensors share, and the
few `_poly` helpers below, so the same line computes a NumPy gradient in an ordinary backward and a
differentiable Tensor gradient under `create_graph=True`. Broadcasting is undone by the engine.
A forward that can write into a given array takes `out=` (NumPy's ufuncs do): a derived step
(derivation.py) reuses that one forward with preallocated buffers; forwards without it allocate.

Composite ops (mean of squares, softmax, ...) are built from primitives and need no VJP.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from . import tensor as _tensor
from .tensor import Op, Tensor, per_input, read_value, unwrap
from .tensor_methods import use_table

# ---- helpers that work on arrays and on Tensors ---------------------------------------------


def _poly(array_fn: Callable[..., Any], tensor_fn: Callable[..., Any]) -> Callable[..., Any]:
    def apply(a: Any, *args: Any) -> Any:
        return tensor_fn(a, *args) if isinstance(a, Tensor) else array_fn(a, *args)
    return apply


_exp = _poly(np.exp, lambda a: exp(a))


def _broadcast_array(a: Any, shape: tuple) -> np.ndarray:
    """np.broadcast_to, with a fast path for the common case, the scalar gradient of a full sum or
    mean (np.broadcast_to's Python overhead dominates there): small, a filled array; large, a read-only
    zero-stride view."""
    if isinstance(a, (np.ndarray, np.generic)) and a.ndim == 0:
        if math.prod(shape) <= 4096:
            out = np.empty(shape, a.dtype)
            out.fill(a)
            return out
        return np.ndarray(shape, a.dtype, a.tobytes(), 0, (0,) * len(shape))  # on bytes: read-only
    return np.broadcast_to(a, shape)


_broadcast_to = _poly(_broadcast_array, lambda a, shape: broadcast_to(a, shape=tuple(shape)))


def _scatter_array(g: np.ndarray, index: Any, shape: tuple) -> np.ndarray:
    out = np.zeros(shape, dtype=g.dtype)
    if _is_basic_index(index):
        out[index] = g
    else:
        np.add.at(out, index, g)  # repeated fancy indices add up
    return out


_scatter = _poly(_scatter_array, lambda g, index, shape: scatter(g, index=index, shape=shape))


def _is_basic_index(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items)


def _explain_broadcast(a: np.ndarray, b: np.ndarray, **_: Any) -> str:
    for axis in range(1, max(a.ndim, b.ndim) + 1):
        n = a.shape[-axis] if axis <= a.ndim else 1
        m = b.shape[-axis] if axis <= b.ndim else 1
        if n != m and 1 not in (n, m):
            return (f"cannot broadcast: NumPy aligns shapes from the last axis and each pair must be equal "
                    f"or 1, but axis -{axis} has {n} vs {m}")
    return "cannot broadcast"


def _explain_matmul(a: np.ndarray, b: np.ndarray) -> str:
    if a.ndim == 0 or b.ndim == 0:
        return "matmul needs at least 1-D operands; use mul (*) for scalars"
    inner_left = a.shape[-1]
    inner_right = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if inner_left != inner_right:
        return (f"inner dimensions differ: the last axis of the left operand ({inner_left}) must equal "
                f"the {'only' if b.ndim == 1 else 'second-to-last'} axis of the right operand ({inner_right})")
    return "batch dimensions cannot be broadcast"


# ---- the table --------------------------------------------------------------------------------

add = Op("add", np.add, lambda g, ans, x, y: (g, g), _explain_broadcast)
sub = Op("sub", np.subtract, per_input(lambda g, ans, x, y: g, lambda g, ans, x, y: -g), _explain_broadcast)
mul = Op("mul", np.multiply, per_input(lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x), _explain_broadcast)
div = Op("div", np.divide, per_input(lambda g, ans, x, y: g / y, lambda g, ans, x, y: -g * ans / y),
         _explain_broadcast)
neg = Op("neg", np.negative, lambda g, ans, x: (-g,))
power = Op("pow", lambda x, exponent, out=None: np.power(x, exponent, out=out),
           lambda g, ans, x, exponent: (g * (exponent * x ** (exponent - 1)) if exponent != 0 else g * 0,))


def _square_vjp(g, ans, x):
    if type(x) is not np.ndarray:  # Tensors (create_graph) and NumPy scalars
        return (g * (2 * x),)
    return (g * (_TWOS.get(x.dtype, 2) * x),)  # (the dtype's cached 2: a Python 2 costs a conversion)


_TWOS = {np.dtype(t): np.asarray(2.0, t) for t in (np.float64, np.float32)}  # (read-only: set just below)
for _two in _TWOS.values():
    _two.flags.writeable = False
square = Op("square", np.square, _square_vjp)  # g * (2 * x)
exp: Op = Op("exp", np.exp, lambda g, ans, x: (g * ans,))
log = Op("log", np.log, lambda g, ans, x: (g / x,))


def _in_place_ok(g: Any, ans: Any) -> bool:
    """Should a VJP compute into one fresh temporary instead of three? For large plain arrays of one
    shape and dtype (it saves memory; on small ones the check would cost more than it saves)."""
    return (type(ans) is np.ndarray and ans.size > 4096 and type(g) is np.ndarray
            and g.shape == ans.shape and g.dtype == ans.dtype)


def _tanh_vjp(g, ans, x):
    if not _in_place_ok(g, ans):
        return (g * (1 - ans * ans),)
    t = ans * ans  # the same products in one buffer (a*b == b*a exactly): less memory, same bits
    np.subtract(1, t, out=t)
    t *= g
    return (t,)


tanh = Op("tanh", np.tanh, _tanh_vjp)  # g * (1 - ans * ans)


def _sigmoid_constants(dtype: Any) -> tuple:
    cap, one = np.asarray(709.0 if dtype == np.float64 else 88.0, dtype), np.asarray(1.0, dtype)
    cap.flags.writeable = one.flags.writeable = False
    return cap, one, -float(cap)


# the cap and the 1 as arrays of the input's dtype: the same numbers as Python floats, converted once;
# and -cap as a Python float, for comparing with Python floats (a 0-d array there costs two ufunc calls)
_SIGMOID_CONSTANTS = {np.dtype(t): _sigmoid_constants(t) for t in (np.float64, np.float32)}


def _maybe_below(x: np.ndarray, limit: float) -> bool:
    """Is some entry of x below `limit`? (True may also mean a NaN came first: the caller's careful
    path then decides per entry.) A NumPy reduction has a fixed cost that dominates on small arrays, so up
    to 32 entries the caller takes Python's min of a list (cheaper there; a list starting with NaN gives NaN, hence
    `not >=`), inline."""
    return bool(np.fmin.reduce(x, axis=None) < limit)  # fmin: a NaN elsewhere must not hide a -1000


def _sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    # 1/(1+e^-x), the documents' formula, bit for bit, wherever e^-x is finite: x >= -cap (709 for
    # float64, 88 for float32, just inside the dtype's overflow). Below -cap, 1 + e^x == 1 in the
    # dtype, so the value is e^x: accurate down to the smallest subnormal, exactly 0 beyond it
    # (sigmoid(-1000) == 0.0), and no overflow warning. With `out`, the same steps write into it.
    cap, one, floor = _SIGMOID_CONSTANTS.get(x.dtype, (88.0, 1.0, -88.0))
    low = _maybe_below(x, floor) if x.size > 32 else x.size != 0 and not min(x.ravel().tolist()) >= floor
    if out is None:
        e = np.negative(x)
        if low:
            e = np.minimum(e, cap)
        if type(e) is np.ndarray:
            np.exp(e, e)  # in place: one temporary less (out positional: faster)
        else:  # 0-d input gives a NumPy scalar, which out= rejects
            e = np.asarray(np.exp(e))
    else:
        e = np.negative(x, out)  # (out positional: faster)
        if low:
            np.minimum(e, cap, out=e)
        np.exp(e, e)
    e += one
    np.reciprocal(e, out=e)
    if low:
        below = x < floor
        e[below] = np.exp(x[below] if np.ndim(x) else x)
    return e


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
# Masks and signs have no gradient. On arrays they are NumPy's comparisons; on Tensors (create_graph,
# and traced steps, which must recompute them from the current values) they are ops of their own.


def _tie_share(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """1 where x > y, 1/2 where x == y, 0 where x < y (in the inputs' dtype): x's share of the
    gradient of maximum(x, y) (PyTorch's convention: a tie splits it equally)."""
    share = np.greater_equal(x, y).astype(np.result_type(x, y))
    share -= 0.5 * np.equal(x, y)
    return share


_COMPARE: dict[str, Callable[..., Any]] = {
    ">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal, "share": _tie_share,
    # x's part of fmax(x, y) / fmin(x, y) (torch's rule: x takes a tie, and all of it where y is NaN)
    ">= or y NaN": lambda x, y: (x >= y) | np.isnan(y), "<= or y NaN": lambda x, y: (x <= y) | np.isnan(y)}
compare = Op("compare", lambda x, y, rule: _COMPARE[rule](x, y).astype(np.result_type(x, y)),
             lambda g, ans, x, y, rule: (None, None))  # a 0/1 mask in the inputs' dtype
sign = Op("sign", np.sign, lambda g, ans, x: (None,))
_mask = _poly(lambda x, y, rule: _COMPARE[rule](unwrap(x), unwrap(y)), lambda x, y, rule: compare(x, y, rule=rule))
_sign = _poly(np.sign, lambda x: sign(x))

# At the points where these have no derivative, the gradient is PyTorch's: relu at 0 gives 0;
# abs at 0 gives 0 (sign(0)); maximum and minimum split a tie equally, 1/2 to each input, so
# maximum(x, 0) at x == 0 gives x 1/2 while relu gives 0; sign and compare pass no gradient (0).
relu = Op("relu", lambda x, out=None: np.maximum(x, 0, out=out), lambda g, ans, x: (g * _mask(x, 0, ">"),))
abs_op = Op("abs", np.abs, lambda g, ans, x: (g * _sign(x),))
maximum = Op("maximum", np.maximum,
             lambda g, ans, x, y: (g * _mask(x, y, "share"), g * _mask(y, x, "share")),
             _explain_broadcast)
minimum = Op("minimum", np.minimum,
             lambda g, ans, x, y: (g * _mask(y, x, "share"), g * _mask(x, y, "share")),
             _explain_broadcast)


def _matmul_vjp_x(g, ans, x, y):
    if x.ndim == 2 and y.ndim == 2:  # the common case, without the 1-D reshapes
        return g @ y.swapaxes(-1, -2)
    y2 = y.reshape(y.shape + (1,)) if y.ndim == 1 else y
    g = _matmul_lift_g(g, x, y)
    gx = g @ y2.swapaxes(-1, -2)
    return gx.reshape(gx.shape[:-2] + gx.shape[-1:]) if x.ndim == 1 else gx


def _matmul_vjp_y(g, ans, x, y):
    if x.ndim == 2 and y.ndim == 2:
        return x.swapaxes(-1, -2) @ g
    x2 = x.reshape((1,) + x.shape) if x.ndim == 1 else x
    g = _matmul_lift_g(g, x, y)
    gy = x2.swapaxes(-1, -2) @ g
    return gy.reshape(gy.shape[:-1]) if y.ndim == 1 else gy


def _matmul_lift_g(g, x, y):
    """g with the axes that 1-D operands lost put back as length-1 axes."""
    if x.ndim == 1:
        g = g.reshape(g.shape[:-1] + (1,) + g.shape[-1:]) if y.ndim > 1 else g.reshape(g.shape + (1,))
    if y.ndim == 1:
        g = g.reshape(g.shape + (1,))
    return g


_matmul_vjp = per_input(_matmul_vjp_x, _matmul_vjp_y)


matmul = Op("matmul", np.matmul, _matmul_vjp, lambda x, y: _explain_matmul(x, y))


def _sum_vjp(g, ans, x, axis=None, keepdims=False):
    if not keepdims and axis is not None:
        g = g.reshape(_kept_shape(x.shape, axis))
    return (broadcast_to(g, shape=x.shape) if isinstance(g, Tensor) else _broadcast_array(g, x.shape),)


def _mean_vjp(g, ans, x, axis=None, keepdims=False):
    count = x.size // max(ans.size, 1) if x.size else 1
    return (_sum_vjp(g, ans, x, axis, keepdims)[0] / count,)


def _kept_shape(shape: tuple, axis: Any) -> tuple:
    axes = {a % len(shape) for a in (axis if isinstance(axis, tuple) else (axis,))}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


# np.add.reduce is what np.sum calls, without its Python wrapper (same numbers, less overhead)
sum_op = Op("sum", lambda x, axis=None, keepdims=False, out=None: np.add.reduce(x, axis=axis, keepdims=keepdims,
                                                                                 out=out), _sum_vjp)
mean_op = Op("mean", lambda x, axis=None, keepdims=False, out=None: np.mean(x, axis=axis, keepdims=keepdims, out=out),
             _mean_vjp)
# (its forward is the array path's own, so that a recorded gradient (create_graph, a compiled step) has
# the layouts eager's has: a small broadcast of a scalar is a filled array there, and results follow it)
broadcast_to: Op = Op("broadcast_to", _broadcast_array,
                      lambda g, ans, x, shape: (g,))  # the engine sums g back to x's shape
reshape = Op("reshape", lambda x, shape: np.reshape(x, shape), lambda g, ans, x, shape: (g.reshape(x.shape),))
transpose = Op("transpose", lambda x, axes=None: np.transpose(x, axes),
               lambda g, ans, x, axes=None: (g.transpose(None if axes is None else
                                                         tuple(np.argsort(np.mod(axes, len(axes))))),))
getitem = Op("getitem", lambda x, index: x[index], lambda g, ans, x, index: (_scatter(g, index, x.shape),))
scatter: Op = Op("scatter", _scatter_array, lambda g, ans, x, index, shape: (g[index],))  # getitem's adjoint


def _concatenate_vjp(g, ans, *xs, axis=0):
    if axis is None:  # NumPy flattened every input first: hand each its stretch, in its shape
        bounds = np.cumsum([0] + [x.size for x in xs])
        return tuple(g[int(lo):int(hi)].reshape(x.shape) for x, lo, hi in zip(xs, bounds[:-1], bounds[1:]))
    axis = axis % ans.ndim
    bounds = np.cumsum([0] + [x.shape[axis] for x in xs])
    lead = (slice(None),) * axis
    return tuple(g[lead + (slice(int(lo), int(hi)),)] for lo, hi in zip(bounds[:-1], bounds[1:]))


def _stack_vjp(g, ans, *xs, axis=0):
    lead = (slice(None),) * (axis % ans.ndim)
    return tuple(g[lead + (i,)] for i in range(len(xs)))


_concatenate = Op("concatenate", lambda *xs, axis=0: np.concatenate(xs, axis=axis), _concatenate_vjp)
_stack = Op("stack", lambda *xs, axis=0: np.stack(xs, axis=axis), _stack_vjp)


def _log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _log_softmax_vjp(g, ans, x, axis=-1):
    if type(ans) is not np.ndarray or type(g) is not np.ndarray or g.dtype != ans.dtype:
        return (g - _exp(ans) * g.sum(axis=axis, keepdims=True),)
    t = np.exp(ans)  # the same three steps in one buffer (a*b == b*a exactly): same bits, two temporaries less
    t *= g.sum(axis=axis, keepdims=True)
    return (np.subtract(g, t, out=t),)


log_softmax = Op("log_softmax", _log_softmax, _log_softmax_vjp)  # g - exp(ans) * g.sum(axis, keepdims=True)


def _logaddexp0(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


softplus = Op("softplus", _logaddexp0, lambda g, ans, x: (g * sigmoid_of(x),))  # log(1 + e^x), stable

# ---- public functions (also Tensor methods) --------------------------------------------------


def sigmoid_of(x: Any) -> Any:
    return sigmoid(x) if isinstance(x, Tensor) else _sigmoid(x)


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    return _concatenate(*tensors, axis=axis)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    return _stack(*tensors, axis=axis)


def softmax(x: Any, axis: int = -1) -> Tensor:
    return exp(log_softmax(x, axis=axis))


def plain_index(index: Any, shape: tuple, who: str = "getitem") -> Any:
    """An index with its Tensors replaced by what they mean (see `_tensor_index`)."""
    if isinstance(index, Tensor):
        return _tensor_index(index, shape, 0, who)
    if isinstance(index, tuple) and any(isinstance(i, Tensor) for i in index):
        return tuple(_tensor_index(i, shape, k, who) if isinstance(i, Tensor) else i for k, i in enumerate(index))
    return index


def _tensor_index(t: Tensor, shape: tuple, axis: int, who: str) -> np.ndarray:
    """A Tensor used as an index holds floats, so say what it means: made from booleans, a mask; whole
    numbers, positions; anything else (fractions, or 0/1 values shaped like the axes they index, which
    could be either) is refused rather than truncated or guessed."""
    values = t._data
    if getattr(t, "_from_booleans", False):
        return values.astype(bool)
    if not np.all(np.isfinite(values) & (values == np.round(values))):
        raise IndexError(f"{who}: a Tensor index of shape {t.shape} holds fractional values (e.g. "
                         f"{values[values != np.round(values)].ravel()[:1]}); index with integers (an int ndarray)")
    if values.size and np.all((values == 0) | (values == 1)) and t.shape == tuple(shape[axis:axis + t.ndim]):
        raise IndexError(f"{who}: a Tensor index of 0s and 1s shaped like the axes it indexes {t.shape} could be a "
                         f"mask or positions; say which: x[mask] with a NumPy boolean array (t.numpy() > 0), or "
                         f"x[positions] with an integer ndarray")
    return values.astype(np.intp)


def _getitem(x: Any, index: Any) -> Tensor:
    for part in index if isinstance(index, tuple) else (index,):
        read_value(part, "index")  # positions decide which entries: a tracer must know
    index = plain_index(index, x.shape)
    t = getitem(x, index=index)
    if _is_basic_index(index):  # NumPy gives a view: an in-place change of t must reach x (ops_numpy's in-place rows)
        t._view = (x, index, _tensor._writes)
    return t


# NumPy's spellings of three rows whose parameters NumPy passes by position (am.broadcast_to(x, (2, 3)),
# am.transpose(x, (1, 0)), am.log_softmax(x, 0)): called as the rows, the position would be an input
def _broadcast_to_public(x: Any, shape: Any) -> Tensor:
    return broadcast_to(x, shape=tuple(int(n) for n in np.atleast_1d(shape)))


def _transpose_public(x: Any, axes: Any = None) -> Tensor:
    return transpose(x) if axes is None else transpose(x, axes=tuple(int(a) for a in axes))


def _log_softmax_public(x: Any, axis: int = -1) -> Tensor:
    return log_softmax(x, axis=axis)


def _reshape(x: Any, *shape: Any) -> Tensor:
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return reshape(x, shape=shape)


def _transpose(x: Any, *axes: Any) -> Tensor:
    given = axes[0] if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))) else axes
    return transpose(x, axes=tuple(given) if given else None)


def _swapaxes(x: Any, a: int, b: int) -> Tensor:
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return transpose(x, axes=tuple(axes))


def _reduction(op: Op):
    def reduce(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
        if axis is None and not keepdims:
            return op(x)  # the defaults: a full reduction (skips building keyword arguments)
        if isinstance(axis, list):
            axis = tuple(axis)
        return op(x, axis=axis, keepdims=keepdims)
    reduce.__name__ = op.name
    return reduce


# public functions in NumPy's keyword style: am.sum(x, axis=0), am.reshape(x, shape), ...
reduce_sum = _reduction(sum_op)
reduce_mean = _reduction(mean_op)

use_table(__name__)  # Tensor's methods (tensor_methods.py) call this table's rows
