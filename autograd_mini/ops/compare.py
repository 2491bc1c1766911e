"""Comparisons, masks and their logic (logical_and, ...), signs, `where` and positions (argmax, argmin,
argsort): no gradient of their own.

Read each row as in every module of ops/: name, forward on NumPy arrays, `vjp(g, ans, *inputs,
**params)`. A mask used inside a VJP is NumPy's comparison on arrays and a `compare` op on Tensors, so a
traced step (and `create_graph`) recomputes it from the current values.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import tensor as _tensor
from ..errors import checked_axis
from ..tensor import Op, Tensor, unwrap
from ._helpers import _any_tensor, _as_tensor, _poly
from ._registry import register


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
register(sign, np.sign, elementwise=True)
_mask = _poly(lambda x, y, rule: _COMPARE[rule](unwrap(x), unwrap(y)), lambda x, y, rule: compare(x, y, rule=rule))
_sign = _poly(np.sign, lambda x: sign(x))


def _fmask(x: Any, y: Any, rule: str) -> Any:
    """A 0/1 mask in x's dtype: NumPy's comparison on arrays, a `compare` op on Tensors."""
    if isinstance(x, Tensor) or isinstance(y, Tensor):
        return compare(x, y, rule=rule)
    return compare.forward(x, y, rule=rule)


def _is_zero(x: Any) -> Any:
    return _fmask(x, 0, ">=") * _fmask(x, 0, "<=")


def _where(condition: Any, a: Any, b: Any) -> Any:
    return where_op(condition, a, b) if _any_tensor(condition, a, b) else np.where(condition, a, b)


# the condition is an input without a gradient (not a parameter), so that a mask computed by a
# `compare` op inside a VJP is recomputed from the current values when a traced step replays
where_op = Op("where", lambda condition, x, y: np.where(condition, x, y),
              lambda g, ans, condition, x, y: (None, _where(condition, g, 0), _where(condition, 0, g)))


# Positions as values of the program: orders and indices are integer arrays computed by ops (no
# gradient), and gathers take them as inputs, so a traced step recomputes them at every call.
argsort_op = Op("argsort", lambda x, axis: np.argsort(x, axis=axis, kind="stable"), lambda g, ans, x, axis: (None,))
argmax_op = Op("argmax", lambda x, axis=None, keepdims=False: np.argmax(x, axis=axis, keepdims=keepdims),
               lambda g, ans, x, axis=None, keepdims=False: (None,))
argmin_op = Op("argmin", lambda x, axis=None, keepdims=False: np.argmin(x, axis=axis, keepdims=keepdims),
               lambda g, ans, x, axis=None, keepdims=False: (None,))


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
register(argmax)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return _positions(argmin_op, x, axis=checked_axis(axis, np.ndim(unwrap(x)), "argmin") if axis is not None
                      else None, keepdims=keepdims)
register(argmin)


def argsort(x: Any, axis: int = -1) -> Tensor:
    """The stable order along axis, as a Tensor of integers (no gradient)."""
    x = _as_tensor(x)
    return _positions(argsort_op, x, axis=checked_axis(axis, x.ndim, "argsort"))
register(argsort)


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """x where condition holds (is nonzero), else y (condition: no gradient; x and y differentiable).
    A Tensor condition (am.greater(x, 0), x > 0) is an input of the op, so a traced step computes the
    mask anew at every call."""
    if isinstance(condition, Tensor):
        return where_op(condition, x, y)
    return where_op(np.asarray(condition).astype(bool), x, y)
register(where)


def _numpy_where(condition: Any, *xy: Any) -> Any:
    """np.where(c, x, y) is `where`; np.where(c) alone asks for the positions of c (values, no gradient)."""
    return where(condition, *xy) if xy else np.where(unwrap(condition))
register(_numpy_where, np.where, names=())


def _compared(x: Any, y: Any, rule: str) -> Tensor:
    """A 0/1 mask Tensor (no gradient; it indexes as a mask, as torch's bool tensors): a `compare`
    op, so a traced step computes it from the new values at every call."""
    with _tensor.no_grad():
        mask = compare(x, y, rule=rule)
    mask._from_booleans = True
    return mask


def greater(x: Any, y: Any) -> Tensor:
    return _compared(x, y, ">")
register(greater, mask=np.greater)


def greater_equal(x: Any, y: Any) -> Tensor:
    return _compared(x, y, ">=")
register(greater_equal, mask=np.greater_equal)


def less(x: Any, y: Any) -> Tensor:
    return _compared(x, y, "<")
register(less, mask=np.less)


def less_equal(x: Any, y: Any) -> Tensor:
    return _compared(x, y, "<=")
register(less_equal, mask=np.less_equal)


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
    """A mask from masks, by arithmetic ops on their 0/1 values (no gradient), so a traced step recomputes it."""
    parts = [_mask_tensor(who, m) for m in masks]
    with _tensor.no_grad():
        result = combine(*parts)
    result._from_booleans = True
    return result


def logical_and(x: Any, y: Any) -> Tensor:
    """The mask of entries where both masks hold (also `mask & mask`)."""
    return _mask_logic("logical_and", lambda a, b: a * b, x, y)
register(logical_and, mask=np.bitwise_and)


def logical_or(x: Any, y: Any) -> Tensor:
    return _mask_logic("logical_or", lambda a, b: a + b - a * b, x, y)
register(logical_or, mask=np.bitwise_or)


def logical_xor(x: Any, y: Any) -> Tensor:
    return _mask_logic("logical_xor", lambda a, b: a + b - 2 * (a * b), x, y)
register(logical_xor, mask=np.bitwise_xor)


def logical_not(x: Any) -> Tensor:
    return _mask_logic("logical_not", lambda a: 1 - a, x)
register(logical_not, mask=np.invert)
