"""Helpers of the op table: what works on arrays and on Tensors alike, axes, indices, explanations.

`_poly(array_fn, tensor_fn)` is how a VJP line stays one line for both: NumPy's function on arrays (an
ordinary backward), a row of the table on Tensors (`create_graph=True`, second order). The `_poly`
helpers bound to a row live next to that row, in the module of its kind.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import AxisError, ShapeError, checked_axis
from ..tensor import Tensor


def _poly(array_fn: Callable[..., Any], tensor_fn: Callable[..., Any]) -> Callable[..., Any]:
    def apply(a: Any, *args: Any) -> Any:
        return tensor_fn(a, *args) if isinstance(a, Tensor) else array_fn(a, *args)
    return apply


def _any_tensor(*xs: Any) -> bool:
    return any(isinstance(x, Tensor) for x in xs)


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _axes(axis: Any, ndim: int) -> tuple:
    """The reduced axes as sorted non-negative ints (all of them for None). A 0-d input has none: NumPy's
    reductions take axis 0 or -1 there (np.sum(s, axis=0), np.add.reduce(s)) and reduce nothing."""
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    axes = tuple(sorted(checked_axis(a, max(ndim, 1), "reduction") for a in items))
    return axes if ndim else ()


def _kept(g: Any, x_shape: tuple, axis: Any, keepdims: bool) -> Any:
    """g of a reduction, with the reduced axes back as length-1 axes (ready to broadcast against x)."""
    if keepdims or not x_shape:
        return g
    shape = tuple(1 if i in _axes(axis, len(x_shape)) else n for i, n in enumerate(x_shape))
    return g.reshape(shape)


def _shape_after(numpy_fn: Any, shape: tuple, *args: Any, who: str) -> tuple:
    """The shape NumPy's shape function gives, found on a zero-stride view (no data copied)."""
    try:
        return numpy_fn(np.broadcast_to(np.empty((), bool), shape), *args).shape
    except np.exceptions.AxisError as error:
        raise AxisError(f"{who}: input of shape {shape}: {error}") from error
    except (ValueError, IndexError, TypeError) as error:
        raise ShapeError(f"{who}: input of shape {shape}: {error}") from error


def _is_basic_index(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items)


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


def _explain_broadcast(a: np.ndarray, b: np.ndarray, **_: Any) -> str:
    for axis in range(1, max(a.ndim, b.ndim) + 1):
        n = a.shape[-axis] if axis <= a.ndim else 1
        m = b.shape[-axis] if axis <= b.ndim else 1
        if n != m and 1 not in (n, m):
            return (f"cannot broadcast: NumPy aligns shapes from the last axis and each pair must be equal "
                    f"or 1, but axis -{axis} has {n} vs {m}")
    return "cannot broadcast"
