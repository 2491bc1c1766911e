"""Optimizers: they read each parameter's `.grad` and update `.data` in place.

Frozen entries: `SGD(params, lr, frozen={param: mask})` keeps the entries where `mask` is True at
their current values. Document 001's "freezing one weight" instead subtracts the update and then
sets W[0] = 0: the same run only because W[0] starts at 0 there; from any other start it would
snap the weight to 0 rather than keep it.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np

from .errors import ShapeError
from .tensor import Tensor


class Optimizer:
    def __init__(self, params: Iterable[Tensor], frozen: Mapping[Tensor, Any] | None = None) -> None:
        self.params = list(params)
        self.frozen: dict[int, np.ndarray] = {}
        for p, mask in (frozen or {}).items():
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != p.shape:
                raise ShapeError(f"{type(self).__name__}: frozen mask has shape {mask.shape}, parameter {p.name or ''} "
                                 f"has shape {p.shape}")
            self.frozen[id(p)] = mask

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


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction."""

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
