"""Tensor's methods, written where readers, IDEs and type checkers see them, grouped by kind.

`Tensor` (tensor.py) inherits these small classes, as tinygrad's Tensor inherits its mixins. Each
method is one typed line that calls a function or a row of the op table (`autograd_mini/ops/`), so an
op is still written once, in the module of its kind, and a method is only its spelling `x.<name>(...)`.

How to add a method: write the op in its module of ops/, then one line in the mixin of its kind here
(an element-wise row of one input, registered with `elementwise=True`, needs its line too; a test
checks that every such row has one).

Why the table is reached through module names bound late: the ops import `Tensor` (their rows build
Tensors), and `Tensor` inherits these classes, so this module cannot import the ops without a cycle.
The ops package (and interop.py), as the last step of its own import, hands itself over
(`use_table(__name__)`); a method therefore works as soon as the package is imported (`import
autograd_mini` imports the whole table). Type checkers read the imports under TYPE_CHECKING instead,
so they check every call below against the real signatures.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TypeVar


if TYPE_CHECKING:  # (not run: see the module docstring)
    from . import interop as _interop, ops as _ops
    from .ops.shape import _At
    from .tensor import Tensor


def use_table(module_name: str) -> None:
    """Let the methods reach the op table `module_name` (one of _TABLES); each table calls it once."""
    globals()[_TABLES[module_name]] = sys.modules[module_name]


_Self = TypeVar("_Self")

_TABLES = {"autograd_mini.ops": "_ops", "autograd_mini.interop": "_interop"}


class ArithmeticMixin:
    """Python's operators: `x + y`, `2 * x`, `x @ w`, `x ** 2`, `-x`. Plain numbers and arrays become
    constants of the tensor's dtype; `ndarray + t` comes here through NumPy (NumPyMixin)."""

    __slots__ = ()  # (no __dict__: Tensor keeps its slots)

    def __add__(self, other: Any) -> Tensor: return _ops.add(self, other)
    def __radd__(self, other: Any) -> Tensor: return _ops.add(other, self)
    def __sub__(self, other: Any) -> Tensor: return _ops.sub(self, other)
    def __rsub__(self, other: Any) -> Tensor: return _ops.sub(other, self)
    def __mul__(self, other: Any) -> Tensor: return _ops.mul(self, other)
    def __rmul__(self, other: Any) -> Tensor: return _ops.mul(other, self)
    def __truediv__(self, other: Any) -> Tensor: return _ops.div(self, other)
    def __rtruediv__(self, other: Any) -> Tensor: return _ops.div(other, self)
    def __matmul__(self, other: Any) -> Tensor: return _ops.matmul(self, other)
    def __rmatmul__(self, other: Any) -> Tensor: return _ops.matmul(other, self)
    def __pow__(self, exponent: Any) -> Tensor: return _ops.power(self, exponent)
    def __rpow__(self, base: Any) -> Tensor: return _ops.power_op(base, self)  # NumPy's: (-2) ** 3 = -8
    def __neg__(self) -> Tensor: return _ops.neg(self)
    def __mod__(self, other: Any) -> Tensor: return _ops.mod(self, other)
    def __rmod__(self, other: Any) -> Tensor: return _ops.mod(other, self)
    def __pos__(self: _Self) -> _Self: return self
    def __abs__(self) -> Tensor: return _ops.abs(self)  # abs(t), as abs(ndarray)
    # ordering comparisons are ops giving a 0/1 mask Tensor without gradient (as torch's and JAX's
    # boolean arrays), so `am.where(x > 0, ...)` is computed by a traced step at every call; Python
    # reads the values only where it decides on them (`if (x > 0).any():`), and a tracer hears of that.
    # (== and != stay on Tensor: they compare values, since tensors are hashed by identity.)
    def __lt__(self, other: Any) -> Tensor: return _ops.less(self, other)
    def __le__(self, other: Any) -> Tensor: return _ops.less_equal(self, other)
    def __gt__(self, other: Any) -> Tensor: return _ops.greater(self, other)
    def __ge__(self, other: Any) -> Tensor: return _ops.greater_equal(self, other)


class InPlaceMixin:
    """NumPy code's in-place updates (`h[h < 0] = 0`, `x += y`): each is recorded as the functional op
    it stands for, and the tensor then stands for that new node (ops/shape.py's `_in_place`)."""

    __slots__ = ()
    # (the ignores: `self` is a Tensor, the one class built on this mixin; the table's functions take Tensors)

    def __setitem__(self, index: Any, values: Any) -> None: _ops._setitem(self, index, values)  # type: ignore[arg-type]
    def __iadd__(self, other: Any) -> Tensor: return _ops._in_place(self, lambda old: old + other, "x += ...")  # type: ignore[arg-type]
    def __isub__(self, other: Any) -> Tensor: return _ops._in_place(self, lambda old: old - other, "x -= ...")  # type: ignore[arg-type]
    def __imul__(self, other: Any) -> Tensor: return _ops._in_place(self, lambda old: old * other, "x *= ...")  # type: ignore[arg-type]
    def __itruediv__(self, other: Any) -> Tensor:
        return _ops._in_place(self, lambda old: old / other, "x /= ...")  # type: ignore[arg-type]
    def __ipow__(self, other: Any) -> Tensor: return _ops._in_place(self, lambda old: old ** other, "x **= ...")  # type: ignore[arg-type]


class ElementwiseMixin:
    """Functions applied to each entry (the rows of one input, and composites of them)."""

    __slots__ = ()

    def sigmoid(self) -> Tensor: return _ops.sigmoid(self)
    def square(self) -> Tensor: return _ops.square(self)
    def exp(self) -> Tensor: return _ops.exp(self)
    def log(self) -> Tensor: return _ops.log(self)
    def tanh(self) -> Tensor: return _ops.tanh(self)
    def relu(self) -> Tensor: return _ops.relu(self)
    def abs(self) -> Tensor: return _ops.abs(self)
    def softplus(self) -> Tensor: return _ops.softplus(self)
    def sign(self) -> Tensor: return _ops.sign(self)
    def sqrt(self) -> Tensor: return _ops.sqrt(self)
    def sin(self) -> Tensor: return _ops.sin(self)
    def cos(self) -> Tensor: return _ops.cos(self)
    def tan(self) -> Tensor: return _ops.tan(self)
    def arcsin(self) -> Tensor: return _ops.arcsin(self)
    def arccos(self) -> Tensor: return _ops.arccos(self)
    def arctan(self) -> Tensor: return _ops.arctan(self)
    def sinh(self) -> Tensor: return _ops.sinh(self)
    def cosh(self) -> Tensor: return _ops.cosh(self)
    def arcsinh(self) -> Tensor: return _ops.arcsinh(self)
    def log1p(self) -> Tensor: return _ops.log1p(self)
    def expm1(self) -> Tensor: return _ops.expm1(self)
    def log2(self) -> Tensor: return _ops.log2(self)
    def exp2(self) -> Tensor: return _ops.exp2(self)
    def reciprocal(self) -> Tensor: return _ops.reciprocal(self)
    def erf(self) -> Tensor: return _ops.erf(self)
    def log10(self) -> Tensor: return _ops.log10(self)
    def arccosh(self) -> Tensor: return _ops.arccosh(self)
    def arctanh(self) -> Tensor: return _ops.arctanh(self)
    def floor(self) -> Tensor: return _ops.floor(self)
    def ceil(self) -> Tensor: return _ops.ceil(self)
    def trunc(self) -> Tensor: return _ops.trunc(self)
    def round(self, decimals: int = 0) -> Tensor: return _ops.round(self, decimals)
    def astype(self, dtype: Any) -> Any: return _ops.astype(self, dtype)
    def copy(self) -> Tensor: return _ops.copy(self)
    def pow(self, exponent: Any) -> Tensor: return _ops.power(self, exponent)
    def clip(self, a_min: Any = None, a_max: Any = None) -> Tensor: return _ops.clip(self, a_min, a_max)
    def gelu(self, approximate: str = "none") -> Tensor: return _ops.gelu(self, approximate)
    def elu(self, alpha: float = 1.0) -> Tensor: return _ops.elu(self, alpha)
    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor: return _ops.leaky_relu(self, negative_slope)
    def logsigmoid(self) -> Tensor: return _ops.logsigmoid(self)
    def logaddexp2(self, other: Any) -> Tensor: return _ops.logaddexp2(self, other)


class ReduceMixin:
    """Reductions over all entries or along `axis` (an int, a tuple or a list of ints), and the
    functions normalised along an axis."""

    __slots__ = ()

    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor: return _ops.sum(self, axis, keepdims)
    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor: return _ops.mean(self, axis, keepdims)
    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor: return _ops.max(self, axis, keepdims)
    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor: return _ops.min(self, axis, keepdims)
    def prod(self, axis: Any = None, keepdims: bool = False) -> Tensor: return _ops.prod(self, axis, keepdims)
    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.logsumexp(self, axis, keepdims)
    def var(self, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
        return _ops.var(self, axis, ddof, keepdims)
    def std(self, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
        return _ops.std(self, axis, ddof, keepdims)
    def norm(self, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A002
        return _ops.norm(self, ord, axis, keepdims)
    def cumsum(self, axis: int | None = None) -> Tensor: return _ops.cumsum(self, axis)
    def cumprod(self, axis: int | None = None) -> Tensor: return _ops.cumprod(self, axis)
    def nansum(self, axis: Any = None, keepdims: bool = False) -> Tensor: return _ops.nansum(self, axis, keepdims)
    def trace(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
        return _ops.matrix_trace(self, offset, axis1, axis2)  # the matrix trace (am.trace traces a step)
    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return _ops.argmax(self, axis, keepdims)
    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return _ops.argmin(self, axis, keepdims)
    def log_softmax(self, axis: int = -1) -> Tensor: return _ops.log_softmax(self, axis)
    def softmax(self, axis: int = -1) -> Tensor: return _ops.softmax(self, axis)


class MovementMixin:
    """Shape and indexing: the same entries, moved, repeated or picked (gradients move back)."""

    __slots__ = ()

    def reshape(self, *shape: Any) -> Tensor: return _ops.reshape(self, *shape)
    def transpose(self, *axes: Any) -> Tensor: return _ops._transpose(self, *axes)
    def swapaxes(self, axis1: int, axis2: int) -> Tensor: return _ops._swapaxes(self, axis1, axis2)
    def broadcast_to(self, shape: Any) -> Tensor: return _ops.broadcast_to_op(self, shape=tuple(shape))
    def squeeze(self, axis: Any = None) -> Tensor: return _ops.squeeze(self, axis)
    def expand_dims(self, axis: Any) -> Tensor: return _ops.expand_dims(self, axis)
    def unsqueeze(self, axis: Any) -> Tensor: return _ops.expand_dims(self, axis)
    def ravel(self) -> Tensor: return _ops.ravel(self)
    def flatten(self) -> Tensor: return _ops.ravel(self)
    def flip(self, axis: Any = None) -> Tensor: return _ops.flip(self, axis)
    def roll(self, shift: Any, axis: Any = None) -> Tensor: return _ops.roll(self, shift, axis)
    def repeat(self, repeats: Any, axis: int | None = None) -> Tensor: return _ops.repeat(self, repeats, axis)
    def sort(self, axis: int = -1) -> Tensor: return _ops.sort(self, axis)
    def __getitem__(self, index: Any) -> Tensor: return _ops._getitem(self, index)
    def diagonal(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
        return _ops.diagonal(self, offset, axis1, axis2)

    @property
    def T(self) -> Tensor:  # noqa: N802 (NumPy's name)
        return _ops.transpose_op(self, axes=None)

    @property
    def at(self) -> _At:
        """`x.at[index].set(values)`, `.add(values)`, `.get()`: functional updates (JAX's spelling)."""
        return _ops._At(self)


class ProductMixin:
    """Products of two tensors (`x @ y` is ArithmeticMixin's)."""

    __slots__ = ()

    def matmul(self, other: Any) -> Tensor: return _ops.matmul(self, other)
    def dot(self, other: Any) -> Tensor: return _ops.dot(self, other)


class NumPyMixin:
    """NumPy's functions on Tensors, `np.exp(t)`, `np.sum(t)`, `ndarray * t`: interop.py's tables."""

    __slots__ = ()

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method == "__call__" and not kwargs:  # the common case, `ndarray * t`: straight to the op
            op = _interop._UFUNCS.get(ufunc)  # (here, not in interop: one Python call less per operator)
            if op is not None:
                return op(*inputs)
        return _interop.array_ufunc(self, ufunc, method, *inputs, **kwargs)

    def __array_function__(self, func: Any, types: tuple, args: tuple, kwargs: dict) -> Any:
        return _interop.array_function(self, func, types, args, kwargs)
