"""Hyper-parameter sweeps as one batched computation.

`stack_models` turns B copies of a model into one whose parameters carry a leading member axis:
a weight W (in, out) becomes (B, in, out), a bias (out,) becomes (B, 1, out). `X @ W + b` then
broadcasts over members unchanged. `member_sum(loss_fn)` adds the members' own losses, so each
member's gradient is exactly the one it would get alone, and `member_rates(lrs)` is an SGD learning
rate with one entry per member.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Sequence

import numpy as np

from .nn import Module
from .tensor import Tensor


def stack_models(models: Sequence[Module]) -> Module:
    batched = copy.deepcopy(models[0])
    columns = [dict(m.named_parameters()) for m in models]
    shapes = {}
    for name, p in batched.named_parameters():
        shapes[name] = p.shape
        stacked = np.stack([c[name].data for c in columns])
        p.data = stacked[:, None, :] if p.ndim == 1 else stacked
    batched.__dict__["member_shapes"] = shapes
    return batched


def unstack(model: Module, member: int) -> dict[str, np.ndarray]:
    """The parameters of one member of a stacked model, in their original shapes."""
    return {name: p.data[member].reshape(model.__dict__["member_shapes"][name]) for name, p in model.named_parameters()}


def member_sum(loss_fn: Callable[[Tensor, Any], Tensor], additive: bool = False) -> Callable[[Tensor, Any], Tensor]:
    """The sum of the members' losses. `additive=True` for losses that are plain sums over entries
    (SSE, ½·SSE): then one call on the whole batch is that sum already, and much cheaper."""
    def total(output: Tensor, target: Any) -> Tensor:
        if additive:
            return loss_fn(output, np.broadcast_to(target, output.shape))
        losses = [loss_fn(output[b], target) for b in range(output.shape[0])]
        result = losses[0]
        for loss in losses[1:]:
            result = result + loss
        return result
    return total


def member_rates(lrs: Sequence[float], ndim: int = 3) -> np.ndarray:
    return np.asarray(lrs, dtype=float).reshape((-1,) + (1,) * (ndim - 1))

