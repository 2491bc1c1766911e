"""Reductions (sum, mean, max, min, prod, cumulative sums and products, logsumexp, var, std, average,
median) and the functions normalised along an axis (softmax, log_softmax).

Read each row as in every module of ops/: name, forward, `vjp(g, ans, *inputs, **params)`; `axis` is
None (all entries), an int or a tuple of ints, `keepdims` as NumPy's. Ties in max and min share the
gradient equally (as torch.amax).
"""
from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from ..errors import ShapeError, checked_axis
from ..tensor import Op, Tensor, read_value, unwrap
from ._helpers import _as_tensor, _axes, _kept, _poly
from ._registry import register
from .compare import _fmask, compare, where_op
from .creation import full
from .elementwise import _exp, exp, sqrt
from .kernels import _broadcast_array
from .shape import _broadcast_to, _median, _stack_last, broadcast_to_op, moveaxis, ravel, reshape_op, squeeze


def _sum_vjp(g, ans, x, axis=None, keepdims=False):
    if not keepdims and axis is not None and x.ndim:  # (a 0-d x: axis 0 or -1 reduced nothing)
        g = g.reshape(_kept_shape(x.shape, axis))
    return (broadcast_to_op(g, shape=x.shape) if isinstance(g, Tensor) else _broadcast_array(g, x.shape),)


def _mean_vjp(g, ans, x, axis=None, keepdims=False):
    count = x.size // builtins.max(ans.size, 1) if x.size else 1
    return (_sum_vjp(g, ans, x, axis, keepdims)[0] / count,)


def _kept_shape(shape: tuple, axis: Any) -> tuple:
    axes = {a % len(shape) for a in (axis if isinstance(axis, tuple) else (axis,))}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


# np.add.reduce is what np.sum calls, without its Python wrapper (same numbers, less overhead)
sum_op = Op("sum", lambda x, axis=None, keepdims=False, out=None: np.add.reduce(x, axis=axis, keepdims=keepdims,
                                                                                 out=out), _sum_vjp)
mean_op = Op("mean", lambda x, axis=None, keepdims=False, out=None: np.mean(x, axis=axis, keepdims=keepdims, out=out),
             _mean_vjp)


def _reduction(op: Op):
    def reduce(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
        if axis is None and not keepdims:
            return op(x)  # the defaults: a full reduction (skips building keyword arguments)
        if isinstance(axis, list):
            axis = tuple(axis)
        return op(x, axis=axis, keepdims=keepdims)
    reduce.__name__ = op.name
    return reduce


# public functions in NumPy's keyword style: am.sum(x, axis=0), am.mean(x, axis=(0, 1)), ...
sum = _reduction(sum_op)
mean = _reduction(mean_op)
register(sum, np.sum, reduce=np.add)
register(mean, np.mean)


def _reduce(op: Op, x: Any, axis: Any, keepdims: bool) -> Tensor:
    return op(x, axis=tuple(axis) if isinstance(axis, list) else axis, keepdims=keepdims)


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


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """The largest entry (along axis); ties share the gradient equally, as torch.amax."""
    return _reduce(max_op, x, axis, keepdims)
register(max, np.max, np.amax, names=("max", "amax"), reduce=np.maximum)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return _reduce(min_op, x, axis, keepdims)
register(min, np.min, np.amin, names=("min", "amin"), reduce=np.minimum)


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


def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return _reduce(prod_op, x, axis, keepdims)
register(prod, np.prod, reduce=np.multiply)


_cumsum = _poly(lambda a, axis: np.cumsum(a, axis), lambda a, axis: a.cumsum(axis))


def _cumsum_vjp(g, ans, x, axis=None):
    if axis is None:  # NumPy flattens
        return (_cumsum(g[::-1], 0)[::-1].reshape(x.shape),)
    backwards = (slice(None),) * (axis % x.ndim) + (slice(None, None, -1),)
    return (_cumsum(g[backwards], axis)[backwards],)


cumsum_op = Op("cumsum", lambda x, axis=None, out=None: np.cumsum(x, axis, out=out), _cumsum_vjp)


def _flat_if_0d(x: Any, axis: int | None, who: str) -> int | None:
    """np.cumsum(s, axis=0) of a 0-d s is its one entry as shape (1,), as with axis None (NumPy's rule)."""
    if axis is not None and np.ndim(x) == 0:
        checked_axis(axis, 1, who)
        return None
    return axis


def cumsum(x: Any, axis: int | None = None) -> Tensor:
    return cumsum_op(x, axis=_flat_if_0d(x, axis, "cumsum"))
register(cumsum, np.cumsum, accumulate=np.add)


def cumprod(x: Any, axis: int | None = None) -> Tensor:
    """Running products, as a chain of products (exact at zeros; second order from the same chain)."""
    x = _as_tensor(x)
    if _flat_if_0d(x, axis, "cumprod") is None:
        x, axis = ravel(x), 0
    moved = moveaxis(x, axis, -1)
    running = [moved[..., 0]]
    for i in range(1, moved.shape[-1]):
        running.append(running[-1] * moved[..., i])
    if not running[0].shape and moved.shape[-1] == 0:
        return moved
    return moveaxis(_stack_last(running), -1, axis)
register(cumprod, np.cumprod)


def nansum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """The sum with NaN entries counted as 0 (their gradient is 0)."""
    x = _as_tensor(x)
    kept = where_op(~np.isnan(read_value(x, "nansum")), x, 0.0)  # the NaN mask decides: a tracer must know
    return _reduce(sum_op, kept, axis, keepdims)
register(nansum, np.nansum)


def _logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    top = np.max(x, axis=axis, keepdims=True, initial=-np.inf)  # (initial: an empty axis has a max of -inf)
    top = np.where(np.isfinite(top), top, 0)  # all -inf (or inf) along an axis: do not subtract it
    with np.errstate(divide="ignore"):  # log 0 = -inf: the sum of no terms, or of exp(-inf)s, is exactly that
        total = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    return total if keepdims else total.reshape(np.sum(x, axis=axis).shape)


logsumexp_op = Op("logsumexp", _logsumexp,
                  lambda g, ans, x, axis=None, keepdims=False: (_kept(g, x.shape, axis, keepdims)
                                                                * _exp(x - _kept(ans, x.shape, axis, keepdims)),))


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return _reduce(logsumexp_op, x, axis, keepdims)
register(logsumexp)


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
register(var, np.var)


def std(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    """sqrt(var); where it is 0 (all entries of a group equal, a group of one) its gradient is 0, as torch's."""
    variance = var(x, axis=axis, ddof=ddof, keepdims=keepdims)
    zero = compare(variance, 0.0, rule="<=")  # 1 where the variance is 0 (a mask: no gradient of its own)
    # sqrt(v + zero) * (1 - zero): sqrt(v) itself where v > 0 (+0 and *1 are exact); 0 with slope 0 where
    # v == 0, as torch's std_backward masks std == 0 (sqrt's own slope there is infinite: NaN after * 0)
    return sqrt(variance + zero) * (1 - zero)
register(std, np.std)


def _log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _log_softmax_vjp(g, ans, x, axis=-1):
    if type(ans) is not np.ndarray or type(g) is not np.ndarray or g.dtype != ans.dtype:
        return (g - _exp(ans) * g.sum(axis=axis, keepdims=True),)
    t = np.exp(ans)  # the same three steps in one buffer (a*b == b*a exactly): same bits, two temporaries less
    t *= g.sum(axis=axis, keepdims=True)
    return (np.subtract(g, t, out=t),)


log_softmax_op = Op("log_softmax", _log_softmax, _log_softmax_vjp)  # g - exp(ans) * g.sum(axis, keepdims=True)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    return log_softmax_op(x, axis=axis)
register(log_softmax)


def softmax(x: Any, axis: int = -1) -> Tensor:
    return exp(log_softmax_op(x, axis=axis))
register(softmax)


def average(x: Any, axis: Any = None, weights: Any = None, returned: bool = False, keepdims: bool = False) -> Any:
    """np.average: the mean, or sum(x w) / sum(w) along axis; weights (differentiable too) shaped like x,
    or 1-D along a single axis."""
    x = _as_tensor(x)
    if weights is None:
        mean = x.mean(axis=axis, keepdims=keepdims)
        count = x.size // builtins.max(mean.size, 1)
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
register(average, np.average)


def median(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """np.median: the middle of the sorted entries (the mean of the two middle ones for an even count),
    so the gradient goes to those entries (split in two halves for an even count)."""
    x = _as_tensor(x)
    if axis is None:
        middle = _median(ravel(x), 0)
        return reshape_op(middle, shape=(1,) * x.ndim if keepdims else ())
    if isinstance(axis, (tuple, list)):
        raise ValueError(f"median: axis={axis!r}; one axis or None is supported")
    axis = checked_axis(axis, x.ndim, "median")
    if x.shape[axis] == 0:
        raise ShapeError(f"median: axis {axis} of shape {x.shape} is empty")
    middle = _median(x, axis)
    return middle if keepdims else squeeze(middle, axis)
register(median, np.median)
