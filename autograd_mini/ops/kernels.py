"""Fast kernels of a few hot rows: the same numbers as the plain formula, fewer temporaries.

Each is called by its row (elementwise.py, reductions.py) and is written here rather than between the
rows so that the table reads as forwards and VJPs. Why each is bit for bit the formula it replaces is
said where it is done.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np


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


_TWOS = {np.dtype(t): np.asarray(2.0, t) for t in (np.float64, np.float32)}  # (read-only: set just below)
for _two in _TWOS.values():
    _two.flags.writeable = False


def _in_place_ok(g: Any, ans: Any) -> bool:
    """Should a VJP compute into one fresh temporary instead of three? For large plain arrays of one
    shape and dtype (it saves memory; on small ones the check would cost more than it saves)."""
    return (type(ans) is np.ndarray and ans.size > 4096 and type(g) is np.ndarray
            and g.shape == ans.shape and g.dtype == ans.dtype)


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
