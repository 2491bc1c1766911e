"""The op table: each primitive's forward and its vector-Jacobian product, side by side.

Read a row as: name, forward on NumPy arrays, `vjp(g, ans, *inputs, **params)` returning one
gradient per input. VJPs use only arithmetic, methods that NumPy arrays and Tensors share, and the
few `_poly` helpers below, so the same line computes a NumPy gradient in an ordinary backward and a
differentiable Tensor gradient under `create_graph=True`. Broadcasting is undone by the engine.

Composite ops (mean of squares, softmax, ...) are built from primitives and need no VJP.
`VJP_VARIANTS` at the end is the catalogue of common hand-derivation mistakes the audit tries.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .errors import ShapeError
from .tensor import Op, Tensor, _value

# ---- helpers that work on arrays and on Tensors ---------------------------------------------


def _poly(array_fn, tensor_fn):
    def apply(a, *args):
        return tensor_fn(a, *args) if isinstance(a, Tensor) else array_fn(a, *args)
    return apply


_exp = _poly(np.exp, lambda a: exp(a))
_broadcast_to = _poly(np.broadcast_to, lambda a, shape: broadcast_to(a, shape=tuple(shape)))


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
sub = Op("sub", np.subtract, lambda g, ans, x, y: (g, -g), _explain_broadcast)
mul = Op("mul", np.multiply, lambda g, ans, x, y: (g * y, g * x), _explain_broadcast)
div = Op("div", np.divide, lambda g, ans, x, y: (g / y, -g * ans / y), _explain_broadcast)
neg = Op("neg", np.negative, lambda g, ans, x: (-g,))
power = Op("pow", lambda x, exponent: np.power(x, exponent),
           lambda g, ans, x, exponent: (g * (exponent * x ** (exponent - 1)),))
square = Op("square", np.square, lambda g, ans, x: (g * (2 * x),))
exp = Op("exp", np.exp, lambda g, ans, x: (g * ans,))
log = Op("log", np.log, lambda g, ans, x: (g / x,))
tanh = Op("tanh", np.tanh, lambda g, ans, x: (g * (1 - ans * ans),))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # 1/(1+e^-x), the documents' formula, bit for bit; the exponent is capped so that x << 0
    # gives ~1e-308 instead of an overflow warning (the true value underflows to 0 anyway)
    e = np.exp(np.minimum(-x, 709.0))
    e += 1.0
    return np.reciprocal(e, out=e)


sigmoid = Op("sigmoid", _sigmoid, lambda g, ans, x: (g * (ans * (1 - ans)),))
relu = Op("relu", lambda x: np.maximum(x, 0), lambda g, ans, x: (g * (_value(x) > 0),))
abs_op = Op("abs", np.abs, lambda g, ans, x: (g * np.sign(_value(x)),))
maximum = Op("maximum", np.maximum,
             lambda g, ans, x, y: (g * (_value(x) >= _value(y)), g * (_value(x) < _value(y))),
             _explain_broadcast)
minimum = Op("minimum", np.minimum,
             lambda g, ans, x, y: (g * (_value(x) <= _value(y)), g * (_value(x) > _value(y))),
             _explain_broadcast)


def _matmul_vjp(g, ans, x, y):
    x2 = x.reshape((1,) + x.shape) if x.ndim == 1 else x
    y2 = y.reshape(y.shape + (1,)) if y.ndim == 1 else y
    if x.ndim == 1:
        g = g.reshape(g.shape[:-1] + (1,) + g.shape[-1:]) if y.ndim > 1 else g.reshape(g.shape + (1,))
    if y.ndim == 1:
        g = g.reshape(g.shape + (1,))
    gx = g @ y2.swapaxes(-1, -2)
    gy = x2.swapaxes(-1, -2) @ g
    if x.ndim == 1:
        gx = gx.reshape(gx.shape[:-2] + gx.shape[-1:])
    if y.ndim == 1:
        gy = gy.reshape(gy.shape[:-1])
    return gx, gy


matmul = Op("matmul", np.matmul, _matmul_vjp, lambda x, y: _explain_matmul(x, y))


def _sum_vjp(g, ans, x, axis=None, keepdims=False):
    if not keepdims and axis is not None:
        g = g.reshape(_kept_shape(x.shape, axis))
    return (_broadcast_to(g, x.shape),)


def _mean_vjp(g, ans, x, axis=None, keepdims=False):
    count = x.size // max(ans.size, 1) if x.size else 1
    return (_sum_vjp(g, ans, x, axis, keepdims)[0] / count,)


def _kept_shape(shape: tuple, axis: Any) -> tuple:
    axes = {a % len(shape) for a in (axis if isinstance(axis, tuple) else (axis,))}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


sum_op = Op("sum", lambda x, axis=None, keepdims=False: np.sum(x, axis=axis, keepdims=keepdims), _sum_vjp)  # noqa: A001
mean_op = Op("mean", lambda x, axis=None, keepdims=False: np.mean(x, axis=axis, keepdims=keepdims), _mean_vjp)
broadcast_to = Op("broadcast_to", lambda x, shape: np.broadcast_to(x, shape),
                  lambda g, ans, x, shape: (g,))  # the engine sums g back to x's shape
reshape = Op("reshape", lambda x, shape: np.reshape(x, shape), lambda g, ans, x, shape: (g.reshape(x.shape),))
transpose = Op("transpose", lambda x, axes=None: np.transpose(x, axes),
               lambda g, ans, x, axes=None: (g.transpose(None if axes is None else tuple(np.argsort(axes))),))
getitem = Op("getitem", lambda x, index: x[index], lambda g, ans, x, index: (_scatter(g, index, x.shape),))
scatter = Op("scatter", _scatter_array, lambda g, ans, x, index, shape: (g[index],))  # getitem's adjoint


def _concatenate_vjp(g, ans, *xs, axis=0):
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


log_softmax = Op("log_softmax", _log_softmax,
                 lambda g, ans, x, axis=-1: (g - _exp(ans) * g.sum(axis=axis, keepdims=True),))


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


def dot(x: Any, y: Any) -> Tensor:
    """np.dot for 1-D and 2-D operands (where it is matmul); use matmul for batches."""
    if _value(x).ndim > 2 or _value(y).ndim > 2:
        raise ShapeError(f"dot: shapes {np.shape(_value(x))} and {np.shape(_value(y))}: dot is defined here for "
                         f"1-D and 2-D operands only; use matmul (@) for batched products")
    return matmul(x, y)


def softmax(x: Any, axis: int = -1) -> Tensor:
    return exp(log_softmax(x, axis=axis))


def pow(x: Any, exponent: Any) -> Tensor:  # noqa: A001 (NumPy's name)
    if isinstance(exponent, Tensor):
        if exponent.requires_grad:
            raise TypeError("pow: the exponent must be a constant; for a learned exponent write exp(y * log(x))")
        exponent = exponent.data
    if np.ndim(exponent) != 0:
        raise ShapeError(f"pow: exponent must be a scalar, got shape {np.shape(exponent)}")
    return power(x, float(exponent))


def _rpow(x: Tensor, base: Any) -> Tensor:
    return exp(x * np.log(base))


def _getitem(x: Tensor, index: Any) -> Tensor:
    if isinstance(index, Tensor):
        index = index.data.astype(np.intp)
    elif isinstance(index, tuple):
        index = tuple(i.data.astype(np.intp) if isinstance(i, Tensor) else i for i in index)
    return getitem(x, index=index)


def _reshape(x: Tensor, *shape: Any) -> Tensor:
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return reshape(x, shape=shape)


def _transpose(x: Tensor, *axes: Any) -> Tensor:
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        axes = axes[0]
    return transpose(x, axes=tuple(axes) if axes else None)


def _swapaxes(x: Tensor, a: int, b: int) -> Tensor:
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return transpose(x, axes=tuple(axes))


def _reduction(op: Op):
    def reduce(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
        if isinstance(axis, list):
            axis = tuple(axis)
        return op(x, axis=axis, keepdims=keepdims)
    reduce.__name__ = op.name
    return reduce


_methods = {
    "__add__": lambda a, b: add(a, b), "__radd__": lambda a, b: add(b, a),
    "__sub__": lambda a, b: sub(a, b), "__rsub__": lambda a, b: sub(b, a),
    "__mul__": lambda a, b: mul(a, b), "__rmul__": lambda a, b: mul(b, a),
    "__truediv__": lambda a, b: div(a, b), "__rtruediv__": lambda a, b: div(b, a),
    "__matmul__": lambda a, b: matmul(a, b), "__rmatmul__": lambda a, b: matmul(b, a),
    "__pow__": lambda a, b: pow(a, b), "__rpow__": _rpow,
    "__neg__": lambda a: neg(a), "__pos__": lambda a: a,
    "__getitem__": _getitem,
    "dot": dot, "matmul": lambda a, b: matmul(a, b), "pow": pow,
    **{op.name: (lambda op: lambda x: op(x))(op) for op in (sigmoid, square, exp, log, tanh, relu, abs_op, softplus)},
    "sum": _reduction(sum_op), "mean": _reduction(mean_op),
    "reshape": _reshape, "transpose": _transpose, "swapaxes": _swapaxes,
    "log_softmax": lambda x, axis=-1: log_softmax(x, axis=axis),
    "softmax": lambda x, axis=-1: softmax(x, axis=axis),
    "broadcast_to": lambda x, shape: broadcast_to(x, shape=tuple(shape)),
    "T": property(lambda x: transpose(x, axes=None)),
}
for _name, _method in _methods.items():
    setattr(Tensor, _name, _method)

# public functions in NumPy's keyword style: am.sum(x, axis=0), am.reshape(x, shape), ...
reduce_sum = _reduction(sum_op)
reduce_mean = _reduction(mean_op)
