"""Creation: constant tensors, NumPy's zeros, ones, full, eye, arange and the *_like functions.

A Tensor holds float64 or float32; requires_grad=True makes a leaf to differentiate.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor, unwrap
from ._registry import register


def _created(values: np.ndarray, requires_grad: bool) -> Tensor:
    return Tensor(values, requires_grad=requires_grad)


def _float_dtype(dtype: Any, default: Any = np.float64) -> Any:
    """A Tensor holds float64 or float32; NumPy's default int/bool dtypes of arange and friends become float64."""
    dtype = np.dtype(default if dtype is None else dtype)
    return dtype if dtype in (np.float64, np.float32) else np.dtype(np.float64)


def zeros(shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: a buffer to fill in place (out[i] = ...), each write recorded."""
    return _created(np.zeros(shape, _float_dtype(dtype)), requires_grad)
register(zeros)


def ones(shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _created(np.ones(shape, _float_dtype(dtype)), requires_grad)
register(ones)


def full(shape: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _created(np.full(shape, fill_value, _float_dtype(dtype)), requires_grad)
register(full)


def eye(n: int, m: int | None = None, k: int = 0, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _created(np.eye(n, m, k, dtype=_float_dtype(dtype)), requires_grad)
register(eye)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """np.arange as float values (a Tensor holds floats; index with np.arange)."""
    values = np.arange(start, step=step) if stop is None else np.arange(start, stop, step)
    return _created(values.astype(_float_dtype(dtype)), requires_grad)
register(arange)


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
register(zeros_like, np.zeros_like)
register(ones_like, np.ones_like)
register(empty_like, np.empty_like)


def full_like(x: Any, fill_value: float, dtype: Any = None, order: str = "K", subok: bool = True, shape: Any = None,
              requires_grad: bool = False) -> Tensor:
    return _like(lambda shape, dtype: np.full(shape, fill_value, dtype))(x, dtype, shape=shape,
                                                                        requires_grad=requires_grad)
register(full_like, np.full_like)
