"""One registration per op: its `am.` name and the NumPy functions that run it on Tensors.

The line after each row or public function of ops/ registers it, `register(exp, np.exp)`: then `am.exp`
is that op and `np.exp(t)` runs it. The package's `am.` names (`__init__.py`, `am.linalg`) and NumPy's
dispatch (interop.py) are read from the tables below, so adding an op edits one module of ops/ (and
writes its typed method line in tensor_methods.py, which type checkers need to see).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, TypeVar

import numpy as np

from ..tensor import Op

PUBLIC: dict[str, Callable[..., Any]] = {}  # am.<name>, in the order registered
LINALG: dict[str, Callable[..., Any]] = {}  # am.linalg.<name>
# the element-wise rows of one input: each is also the method x.<name>() (tests/test_typing.py checks)
ELEMENTWISE: list[Op] = []
# NumPy on Tensors: np.<ufunc>(t), np.<ufunc>.reduce(t), np.<ufunc>.accumulate(t), np.<function>(t)
UFUNCS: dict[Any, Callable[..., Any]] = {}
UFUNC_METHODS: dict[str, dict[Any, Callable[..., Any]]] = {"__call__": UFUNCS, "reduce": {}, "accumulate": {}}
MASK_UFUNCS: dict[Any, Callable[..., Any]] = {}  # ordering comparisons: mask Tensors without gradient
FUNCTIONS: dict[Any, Callable[..., Any]] = {}

_Registered = TypeVar("_Registered", bound=Callable[..., Any])


def register(op: _Registered, *numpy: Any, names: Iterable[str] | None = None, linalg: bool = False,
             reduce: Any = None, accumulate: Any = None, mask: Any = None, elementwise: bool = False) -> _Registered:
    """Make `op` (a row or a function) `am.<name>` for each of `names` (by default its own name; `()`
    for none), also `am.linalg.<name>` with `linalg`, and what each NumPy ufunc or function in `numpy`
    runs when given a Tensor. `reduce` / `accumulate`: the ufunc whose `.reduce` / `.accumulate` is
    `op` (with NumPy's default axis 0); `mask`: the comparison ufunc `op` stands for; `elementwise`: a
    row of one input, whose method `x.<name>()` must be written in tensor_methods.py."""
    for name in ((op.name if isinstance(op, Op) else op.__name__,) if names is None else names):
        _add(PUBLIC, name, op)
        if linalg:
            _add(LINALG, name, op)
    for function in numpy:
        _add(UFUNCS if isinstance(function, np.ufunc) else FUNCTIONS, function, op)
    if reduce is not None:
        _add(UFUNC_METHODS["reduce"], reduce, lambda x, axis=0, keepdims=False: op(x, axis=axis, keepdims=keepdims))
    if accumulate is not None:
        _add(UFUNC_METHODS["accumulate"], accumulate, lambda x, axis=0: op(x, axis=axis))
    if mask is not None:
        _add(MASK_UFUNCS, mask, op)
    if elementwise:
        ELEMENTWISE.append(op)  # type: ignore[arg-type]
    return op


def _add(table: dict, key: Any, op: Callable[..., Any]) -> None:
    """One entry per key: a second registration of a name or a NumPy function is a mistake, said at import."""
    if key in table:
        raise ValueError(f"register: {getattr(key, '__name__', key)!r} is already registered "
                         f"(to {table[key]!r}); each name and NumPy function runs one op")
    table[key] = op
