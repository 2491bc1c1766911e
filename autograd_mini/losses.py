"""Losses. Prediction and target must have the same shape: NumPy would silently broadcast a
(4, 1) prediction against a (4,) target into a (4, 4) error, the classic wrong-loss bug.

A target may be a Tensor that requires grad: every loss differentiates with respect to both
arguments (a target can be a learned quantity, e.g. a soft label); class indices have no gradient."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import ShapeError
from .ops import log_softmax, softplus, take_along_op
from .tensor import Op, Tensor, constant, no_grad, read_value


def _as_tensor(name: str, role: str, x: Any, dtype: Any = np.float64) -> Tensor:
    """`x` as a Tensor: an array or number becomes a constant (not copied; a recording sees it as one)."""
    if isinstance(x, Tensor):
        return x
    try:
        return constant(x, dtype)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name}: the {role} must be a Tensor or an array of numbers, got {type(x).__name__}: "
                        f"{error}") from error


def _pair(name: str, prediction: Any, target: Any) -> tuple[Tensor, Tensor]:
    """Both as Tensors, refused unless their shapes are equal (no broadcasting)."""
    prediction = _as_tensor(name, "prediction", prediction)
    target = _as_tensor(name, "target", target, prediction.dtype)
    if prediction.shape != target.shape:
        raise ShapeError(f"{name}: prediction has shape {prediction.shape} but target has shape {target.shape}; "
                         f"they must match (broadcasting them would compare every prediction with every target)")
    return prediction, target


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
    prediction, target = _pair("mse", prediction, target)
    return _reduce("mse", (prediction - target).square(), reduction)


def sse(prediction: Tensor, target: Any) -> Tensor:
    """Sum of squared errors."""
    prediction, target = _pair("sse", prediction, target)
    return (prediction - target).square().sum()


def half_sse(prediction: Tensor, target: Any) -> Tensor:
    """½·Σ(prediction − target)²: the loss whose gradient the documents' delta rules compute."""
    prediction, target = _pair("half_sse", prediction, target)
    return 0.5 * (prediction - target).square().sum()


def binary_cross_entropy(prediction: Tensor, target: Any, reduction: str = "mean", from_logits: bool = False,
                         eps: float = 1e-12) -> Tensor:
    """−[t·log(p + eps) + (1−t)·log(1 − p + eps)]. With from_logits the prediction is z and p = sigmoid(z),
    computed stably as softplus(z) − t·z. Both forms differentiate in the target too: d/dt is
    log(1 − p + eps) − log(p + eps), resp. −z."""
    p, t = _pair("binary_cross_entropy", prediction, target)
    if not (isinstance(eps, (int, float, np.floating)) and math.isfinite(eps) and eps >= 0):
        raise ValueError(f"binary_cross_entropy: eps must be a finite number >= 0, got {eps!r}")
    if from_logits:
        return _reduce("binary_cross_entropy", softplus(p) - p * t, reduction)
    per_entry = -(t * (p + eps).log() + (1 - t) * (1 - p + eps).log())
    return _reduce("binary_cross_entropy", per_entry, reduction)


def cross_entropy(logits: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy from logits (..., C). The target is either class indices of shape
    logits.shape[:-1] (whole numbers in [0, C)), or probabilities (e.g. one-hot) of the logits' shape.
    Anything else is refused: -1 is not "the last class", 0.7 is not class 0."""
    logits = _as_tensor("cross_entropy", "logits", logits)
    if logits.ndim == 0:
        raise ShapeError("cross_entropy: logits have shape (); expected (..., C) with the classes on the last axis")
    if isinstance(target, Tensor) and target.shape == logits.shape:  # probabilities, maybe learned
        probabilities = target
    elif isinstance(target, Tensor):  # class indices fed per batch: checked and picked by ops at every step
        if target.shape != logits.shape[:-1]:
            _checked_classes(logits.shape, np.asarray(target._data))  # refuses, naming the shapes
        with no_grad():
            positions = class_positions(target, logits_shape=logits.shape)
        picked = take_along_op(log_softmax(logits, axis=-1), positions, axis=logits.ndim - 1)
        return _reduce("cross_entropy", -picked.sum(axis=-1), reduction)
    else:
        indices = np.asarray(read_value(target, "cross_entropy"))
        if indices.shape == logits.shape and indices.dtype.kind in "biuf":
            probabilities = constant(indices, logits.dtype)
        else:
            probabilities = constant(_one_hot(logits, indices))
    return _reduce("cross_entropy", -(log_softmax(logits, axis=-1) * probabilities).sum(axis=-1), reduction)


def _one_hot(logits: Tensor, indices: np.ndarray) -> np.ndarray:
    """Class indices as one-hot rows of the logits' dtype, refused unless they are whole numbers
    in [0, C) of shape logits.shape[:-1] (floats like 2.0 are accepted: a Tensor holds floats)."""
    _checked_classes(logits.shape, indices)
    one_hot = np.zeros(logits.shape, dtype=logits.dtype)
    np.put_along_axis(one_hot, indices.astype(np.intp)[..., None], 1.0, axis=-1)
    return one_hot


def _class_positions(labels: np.ndarray, logits_shape: tuple) -> np.ndarray:
    """Class labels (whole numbers in [0, C)) as integer positions of shape (..., 1), checked at every call."""
    _checked_classes(logits_shape, labels)
    return labels.astype(np.intp)[..., None]


# the labels' positions: an op (no gradient), so a traced step checks and uses each new batch of labels
class_positions = Op("class_positions", _class_positions, lambda g, ans, labels, logits_shape: (None,))


def _checked_classes(shape: tuple, indices: np.ndarray) -> None:
    """Refuse class indices that are not whole numbers in [0, C) of shape `shape[:-1]` (the logits' shape)."""
    classes = shape[-1]
    expected = (f"expected class indices of shape {shape[:-1]} (whole numbers in [0, {classes})) or "
                f"probabilities of shape {shape}")
    if indices.shape != shape[:-1]:
        raise ShapeError(f"cross_entropy: logits have shape {shape} but the target has shape {indices.shape}; "
                         + expected)
    if indices.dtype.kind not in "iuf":
        raise TypeError(f"cross_entropy: a target of shape {indices.shape} is read as class indices, but its dtype "
                        f"is {indices.dtype}; {expected}")
    whole = np.isfinite(indices) if indices.dtype.kind == "f" else np.ones(indices.shape, bool)
    whole[whole] = indices[whole] % 1 == 0
    for bad, what in ((~whole, "is not a whole number, so it names no class"),
                      (whole & ((indices < 0) | (indices >= classes)), f"is out of range for {classes} classes")):
        if np.any(bad):
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"cross_entropy: class index {indices[where]} at target position {where} {what} "
                             f"(logits {shape}); {expected}")
