"""Losses. Prediction and target must have the same shape: NumPy would silently broadcast a
(4, 1) prediction against a (4,) target into a (4, 4) error, the classic wrong-loss bug."""
from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ShapeError
from .ops import log_softmax, softplus
from .tensor import Tensor, as_float_array


def _same_shape(name: str, prediction: Tensor, target: Any) -> None:
    shape = np.shape(target.data if isinstance(target, Tensor) else target)
    if prediction.shape != shape:
        raise ShapeError(f"{name}: prediction has shape {prediction.shape} but target has shape {shape}; they must "
                         f"match (broadcasting them would compare every prediction with every target)")


def _reduce(name: str, per_entry: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return per_entry.mean()
    if reduction == "sum":
        return per_entry.sum()
    if reduction == "none":
        return per_entry
    raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def mse(prediction: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error (with reduction='sum' it is the SSE)."""
    _same_shape("mse", prediction, target)
    return _reduce("mse", (prediction - target).square(), reduction)


def sse(prediction: Tensor, target: Any) -> Tensor:
    """Sum of squared errors."""
    _same_shape("sse", prediction, target)
    return (prediction - target).square().sum()


def half_sse(prediction: Tensor, target: Any) -> Tensor:
    """½·Σ(prediction − target)²: the loss whose gradient the documents' delta rules compute."""
    _same_shape("half_sse", prediction, target)
    return 0.5 * (prediction - target).square().sum()


def binary_cross_entropy(prediction: Tensor, target: Any, reduction: str = "mean", from_logits: bool = False,
                         eps: float = 1e-12) -> Tensor:
    """−[t·log p + (1−t)·log(1−p)]. With from_logits the prediction is z and p = sigmoid(z),
    computed stably as softplus(z) − t·z."""
    _same_shape("binary_cross_entropy", prediction, target)
    if from_logits:
        return _reduce("binary_cross_entropy", softplus(prediction) - prediction * target, reduction)
    p = prediction
    per_entry = -(target * (p + eps).log() + (1 - as_float_array(_data(target))) * (1 - p + eps).log())
    return _reduce("binary_cross_entropy", per_entry, reduction)


def cross_entropy(logits: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy from logits (N, C); target as class indices (N,) or one-hot (N, C)."""
    target = np.asarray(_data(target))
    if target.ndim == logits.ndim - 1:
        if target.shape != logits.shape[:-1]:
            raise ShapeError(f"cross_entropy: logits {logits.shape} need class indices of shape {logits.shape[:-1]}, "
                             f"got {target.shape}")
        one_hot = np.zeros(logits.shape, dtype=logits.dtype)
        np.put_along_axis(one_hot, target.astype(np.intp)[..., None], 1.0, axis=-1)
        target = one_hot
    _same_shape("cross_entropy", logits, target)
    return _reduce("cross_entropy", -(log_softmax(logits, axis=-1) * target).sum(axis=-1), reduction)


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x
