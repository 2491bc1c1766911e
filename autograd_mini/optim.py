"""Optimizers: they read each parameter's `.grad` and update `.data` in place.

Frozen entries: `SGD(params, lr, frozen={param: mask})` keeps the entries where `mask` is True at
their current values. Document 001's "freezing one weight" instead subtracts the update and then
sets W[0] = 0: the same run only because W[0] starts at 0 there; from any other start it would
snap the weight to 0 rather than keep it.

Every hyper-parameter is checked whenever it is set (at construction or later, e.g. by a schedule):
a NaN, infinite or negative learning rate, a momentum or beta outside [0, 1), a non-positive eps is
an error naming the optimizer, the argument and the value. A learning rate may be an array (one
rate per member of a batched sweep): every entry is checked, and it must broadcast to each
parameter's shape without changing it.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import numpy as np

from .errors import ShapeError
from .tensor import Tensor, unwrap


def _numbers(owner: str, name: str, value: Any) -> np.ndarray:
    array = np.asarray(unwrap(value))
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{owner}: {name} must be a real number (or an array of them), got {value!r}")
    return array.astype(np.float64)


def _in_range(owner: str, name: str, value: Any, ok: Callable[[np.ndarray], np.ndarray], expected: str) -> Any:
    """`value` if `ok` holds for every entry (NaN fails any comparison), else an error naming the entry."""
    array = _numbers(owner, name, value)
    bad = ~ok(array)
    if np.any(bad):
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        entry = f" at entry {where}" if array.ndim else ""
        raise ValueError(f"{owner}: {name} must be {expected}, got {array[where]}{entry}")
    return float(array) if array.ndim == 0 else array


def _rate(owner: str, name: str, value: Any) -> Any:
    return _in_range(owner, name, value, lambda a: np.isfinite(a) & (a >= 0), "a finite number >= 0")


def _single(owner: str, name: str, value: Any) -> Any:
    if np.ndim(unwrap(value)) != 0:
        raise ValueError(f"{owner}: {name} must be a single number, got shape {np.shape(value)}")
    return value


def _decay(owner: str, name: str, value: Any) -> float:
    return _in_range(owner, name, _single(owner, name, value), lambda a: (a >= 0) & (a < 1), "in [0, 1)")


def _positive(owner: str, name: str, value: Any) -> float:
    return _in_range(owner, name, _single(owner, name, value), lambda a: np.isfinite(a) & (a > 0),
                     "a finite number > 0")


class _Checked:
    """A hyper-parameter validated on every assignment, by `check(optimizer, name, value)`."""

    def __init__(self, check: Callable[[Any, str, Any], Any]) -> None:
        self.check = check

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        return self if obj is None else obj.__dict__[self.name]

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.name] = self.check(obj, self.name, value)


def _label(p: Tensor, position: int) -> str:
    return f"'{p.name}' (shape {p.shape})" if p.name else f"#{position} (shape {p.shape})"


class Optimizer:
    def __init__(self, params: Iterable[Tensor], frozen: Mapping[Tensor, Any] | None = None) -> None:
        self.params = self._distinct(params)
        self.frozen: dict[int, np.ndarray] = {}
        for p, mask in (frozen or {}).items():
            self.frozen[id(p)] = self._frozen_mask(p, mask)

    def _distinct(self, params: Iterable[Tensor]) -> list[Tensor]:
        """The parameters, refused if one is not a Tensor or appears twice (one step would move it twice)."""
        owner, held, first = type(self).__name__, [], {}  # type: str, list[Tensor], dict[int, int]
        for position, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{owner}: parameter #{position} is a {type(p).__name__}, expected a Tensor "
                                f"(e.g. model.parameters())")
            if id(p) in first:
                raise ValueError(f"{owner}: parameter {_label(p, position)} is given twice (positions "
                                 f"{first[id(p)]} and {position}); each step would move it twice. Pass each once")
            first[id(p)] = position
            held.append(p)
        return held

    def _frozen_mask(self, p: Any, mask: Any) -> np.ndarray:
        owner = type(self).__name__
        position = next((i for i, q in enumerate(self.params) if q is p), None)
        if position is None:
            raise ValueError(f"{owner}: frozen mask given for a {type(p).__name__}"
                             f"{' of shape ' + str(p.shape) if isinstance(p, Tensor) else ''} that is not one of "
                             f"this optimizer's parameters; key each mask by a parameter passed to it")
        array = np.asarray(mask)
        if array.dtype.kind in "iu" and np.all((array == 0) | (array == 1)):
            array = array.astype(bool)
        if array.dtype.kind != "b":
            raise ValueError(f"{owner}: frozen mask for parameter {_label(p, position)} must be boolean (or integers "
                            f"0/1), got dtype {array.dtype}" + (f" with values {np.unique(array)[:4]}"
                                                                 if array.dtype.kind in "iuf" else ""))
        if array.shape != p.shape:
            raise ShapeError(f"{owner}: frozen mask has shape {array.shape}, parameter {_label(p, position)} "
                             f"has shape {p.shape}")
        return array

    def _learning_rate(self, name: str, value: Any) -> Any:
        rate = _rate(type(self).__name__, name, value)
        for position, p in enumerate(self.__dict__.get("params", ()) if np.ndim(rate) else ()):
            try:
                fits = np.broadcast_shapes(np.shape(rate), p.shape) == p.shape
            except ValueError:
                fits = False
            if not fits:
                raise ShapeError(f"{type(self).__name__}: {name} has shape {np.shape(rate)}, which does not "
                                 f"broadcast to parameter {_label(p, position)} without changing its shape")
        return rate

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def _gradient(self, p: Tensor) -> np.ndarray | None:
        g = p.grad
        mask = self.frozen.get(id(p))
        if g is not None and mask is not None:
            g = np.where(mask, 0.0, g)
        return g


class SGD(Optimizer):
    """p ← p − lr·g, or with momentum v ← μ·v + g, p ← p − lr·v (PyTorch's form).

    `lr` may be an array broadcastable to a parameter (one rate per member of a batched sweep)."""

    lr = _Checked(lambda self, name, value: self._learning_rate(name, value))
    momentum = _Checked(lambda self, name, value: _decay(type(self).__name__, name, value))

    def __init__(self, params: Iterable[Tensor], lr: Any, momentum: float = 0.0,
                 frozen: Mapping[Tensor, Any] | None = None) -> None:
        super().__init__(params, frozen)
        self.lr, self.momentum = lr, momentum
        self.velocity: dict[int, np.ndarray] = {}

    def step(self) -> None:
        frozen, lr = self.frozen, self.lr
        for p in self.params:
            g = self._gradient(p) if frozen else p.grad  # (no call per parameter when nothing is frozen)
            if g is None:
                continue
            if self.momentum:
                v = self.velocity.get(id(p))
                v = g.copy() if v is None else self.momentum * v + g
                self.velocity[id(p)] = v
                g = v
            p.data -= lr * g  # in place, through the setter: one write counted


def _betas(self: Any, name: str, value: Any) -> tuple[float, float]:
    owner = type(self).__name__
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise ValueError(f"{owner}: betas must be a pair (beta1, beta2), got {value!r}")
    return (_decay(owner, "betas[0]", value[0]), _decay(owner, "betas[1]", value[1]))


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction."""

    lr = _Checked(lambda self, name, value: self._learning_rate(name, value))
    betas = _Checked(_betas)
    eps = _Checked(lambda self, name, value: _positive(type(self).__name__, name, value))

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, frozen: Mapping[Tensor, Any] | None = None) -> None:
        super().__init__(params, frozen)
        self.lr, self.betas, self.eps = lr, betas, eps
        self.t = 0
        self.moments: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def step(self) -> None:
        self.t += 1
        b1, b2 = self.betas
        for p in self.params:
            g = self._gradient(p)
            if g is None:
                continue
            m, v = self.moments.get(id(p), (np.zeros_like(p.data), np.zeros_like(p.data)))
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            self.moments[id(p)] = (m, v)
            m_hat, v_hat = m / (1 - b1 ** self.t), v / (1 - b2 ** self.t)
            p.data -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), PyTorch's form: a running mean of squared gradients,
    v = alpha v + (1 - alpha) g^2, scales each step, p -= lr g / (sqrt(v) + eps)."""

    lr = _Checked(lambda self, name, value: self._learning_rate(name, value))
    alpha = _Checked(lambda self, name, value: _decay(type(self).__name__, name, value))
    eps = _Checked(lambda self, name, value: _positive(type(self).__name__, name, value))

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 frozen: Mapping[Tensor, Any] | None = None) -> None:
        super().__init__(params, frozen)
        self.lr, self.alpha, self.eps = lr, alpha, eps
        self.square_means: dict[int, np.ndarray] = {}

    def step(self) -> None:
        for p in self.params:
            g = self._gradient(p)
            if g is None:
                continue
            v = self.alpha * self.square_means.get(id(p), np.zeros_like(p.data)) + (1 - self.alpha) * g * g
            self.square_means[id(p)] = v
            p.data -= self.lr * g / (np.sqrt(v) + self.eps)
