"""NumPy's functions on Tensors: `np.exp(t)`, `np.sum(t, axis=0)`, `ndarray + t` run our ops.

NumPy hands a call with a Tensor argument to `Tensor.__array_ufunc__` (ufuncs: np.exp, np.add,
...) or `Tensor.__array_function__` (the rest: np.sum, np.reshape, ...). Each is looked up here:
- a differentiable function we have runs as that op, so the result is a Tensor on the graph;
- a question about values (np.shape, np.allclose, np.isfinite, comparisons, ...) runs on the values
  and returns what NumPy returns: no gradient is lost, none existed;
- anything else raises TypeError naming the am. function to use, or saying there is none:
  never a silent conversion to an array that would drop the graph.
`out=` is refused for the same reason (writing into an array cannot be recorded).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .ops import _registry
from .ops.compare import logical_and, logical_not, logical_or, logical_xor
from .tensor import Tensor, read_value, unwrap
from .tensor_methods import use_table


# what each NumPy function runs on Tensors: the registry's tables (each op registers its own, in ops/)
_UFUNCS = _registry.UFUNCS
_BY_METHOD = _registry.UFUNC_METHODS  # np.add(t, u), np.add.reduce(t), np.add.accumulate(t)
_FUNCTIONS = _registry.FUNCTIONS
# ordering comparisons: mask Tensors made by ops (no gradient), as `t > 0`: a traced step computes them
_MASK_UFUNCS = _registry.MASK_UFUNCS
# ufuncs whose result carries no derivative (booleans): run on the values
_VALUE_UFUNCS = {np.isfinite, np.isnan, np.isinf, np.signbit, np.equal, np.not_equal, np.logical_and,
                 np.logical_or, np.logical_not, np.logical_xor}
# np.logical_and(t > 0, t < 1) and the like on masks: mask ops too (on other tensors, the values' truth)
_LOGICAL_UFUNCS: dict[Any, Callable] = {np.logical_and: logical_and, np.logical_or: logical_or,
                                        np.logical_xor: logical_xor, np.logical_not: logical_not}


def _is_mask(x: Any) -> bool:
    """A mask Tensor (x > 0, am.Tensor(bool_array)) or NumPy booleans."""
    return bool(getattr(x, "_from_booleans", False)) if isinstance(x, Tensor) else np.asarray(x).dtype == bool


# questions about values: the answer is the same array NumPy gives, no gradient to lose
_VALUE_FUNCTIONS = {np.shape, np.ndim, np.size, np.allclose, np.isclose, np.array_equal, np.array_equiv,
                    np.argmax, np.argmin, np.argsort, np.nonzero, np.count_nonzero, np.all, np.any,
                    np.array2string, np.array_repr, np.array_str, np.result_type, np.can_cast, np.iscomplexobj,
                    np.isrealobj, np.isscalar, np.searchsorted, np.unique, np.nanargmax, np.nanargmin}


# of those, the ones whose answer depends on the shape or dtype only (fixed in a compiled step anyway)
_LAYOUT_FUNCTIONS = {np.shape, np.ndim, np.size, np.zeros_like, np.ones_like, np.empty_like, np.full_like,
                     np.result_type, np.can_cast, np.iscomplexobj, np.isrealobj, np.isscalar}


def _note_read(name: str, args: Any) -> None:
    """Tell an open recording (am.derive) that np.<name> reads these tensors' values."""
    if isinstance(args, Tensor):
        read_value(args, f"np.{name}")
    elif isinstance(args, (list, tuple)):
        for a in args:
            _note_read(name, a)


def _values(x: Any) -> Any:
    if isinstance(x, Tensor):
        return unwrap(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_values(i) for i in x)
    return x


def _am_name(numpy_name: str) -> str:
    import autograd_mini as am
    if hasattr(am, numpy_name):
        return f"use am.{numpy_name}(...) (or the Tensor method) directly"
    return "autograd_mini has no differentiable version of it"


def _refuse(what: str, name: str, reason: str = "") -> TypeError:
    return TypeError(f"{what} on a Tensor is not supported{reason}: {_am_name(name)}; or call it on t.numpy() "
                     f"explicitly if you do not need its gradient")


def _call(target: Callable, name: str, args: tuple, kwargs: dict) -> Any:
    try:
        return target(*args, **kwargs)
    except TypeError as error:
        raise TypeError(f"np.{name} on a Tensor runs autograd_mini's {name}, which does not take these "
                        f"arguments: {error}") from error


# ufunc keywords that change nothing at these values (NumPy's defaults); any other value is refused by name
_UFUNC_DEFAULTS = {"where": True, "casting": "same_kind", "order": "K", "subok": True, "signature": None}
_UFUNC_ADVICE = {"where": "np.<f>(t, where=mask) leaves the other entries uninitialized (or as out= held them); "
                          "write am.where(mask, np.<f>(t), other)",
                 "initial": "add the initial value to the result instead",
                 "dtype": "the result keeps the Tensor's dtype; convert the input first"}


def _ufunc_keywords(name: str, method: str, kwargs: dict) -> dict:
    """The keywords our op takes (axis, keepdims of a reduction); NumPy's defaults dropped; the rest refused."""
    kept = {}
    for key, value in kwargs.items():
        if key in ("axis", "keepdims") and method != "__call__":
            kept[key] = value
        elif not (key in _UFUNC_DEFAULTS and _is_default(value, _UFUNC_DEFAULTS[key])) and \
                not (key == "dtype" and value is None):
            advice = _UFUNC_ADVICE.get(key, "it is not supported on Tensors").replace("<f>", name)
            raise TypeError(f"np.{name}(..., {key}={value!r}) with a Tensor: {advice}")
    return kept


def _is_default(value: Any, default: Any) -> bool:
    return value is default or (isinstance(value, str) and value == default)


def array_ufunc(self: Any, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
    """Tensor.__array_ufunc__ (tensor_methods.py), which sends `ndarray * t` straight to the op itself."""
    name = ufunc.__name__
    if kwargs.get("out") is not None:
        raise TypeError(f"np.{name}(..., out=...) with a Tensor: writing into an array cannot be recorded, so the "
                        f"gradient would be lost; assign the result instead (y = np.{name}(...))")
    if ufunc in _LOGICAL_UFUNCS and method == "__call__" and not kwargs and all(map(_is_mask, inputs)):
        return _LOGICAL_UFUNCS[ufunc](*inputs)  # masks stay mask ops (a traced step recomputes them)
    if ufunc in _VALUE_UFUNCS and method == "__call__":
        _note_read(name, inputs)
        return getattr(ufunc, method)(*_values(inputs), **kwargs)
    if ufunc in _MASK_UFUNCS and method == "__call__" and not kwargs:
        return _MASK_UFUNCS[ufunc](*inputs)
    target = _BY_METHOD.get(method, {}).get(ufunc)
    if target is None:
        what = f"np.{name}" if method == "__call__" else f"np.{name}.{method}"
        raise _refuse(what, name)
    kwargs.pop("out", None)
    return _call(target, name, inputs, _ufunc_keywords(name, method, kwargs))


def array_function(self: Any, func: Any, types: tuple, args: tuple, kwargs: dict) -> Any:
    name = func.__name__
    if func in _VALUE_FUNCTIONS:
        if func not in _LAYOUT_FUNCTIONS:
            _note_read(name, (args, tuple(kwargs.values())))
        return func(*_values(args), **{k: _values(v) for k, v in kwargs.items()})
    target = _FUNCTIONS.get(func)
    if target is None:
        raise _refuse(f"np.{name}", name)
    if kwargs.get("out") is not None:
        raise TypeError(f"np.{name}(..., out=...) with a Tensor: writing into an array cannot be recorded; "
                        f"assign the result instead")
    kwargs = {k: v for k, v in kwargs.items() if k != "out"}
    return _call(target, name, args, kwargs)


use_table(__name__)  # Tensor.__array_ufunc__ and __array_function__ (tensor_methods.py) call the two above
