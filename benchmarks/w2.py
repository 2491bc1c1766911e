"""W2: the digits MLP (64->128 tanh ->10, mean softmax cross-entropy over all 1797 images, SGD lr 0.5),
with its hand-NumPy reference and autograd_mini's contenders (the peers are in peers.py)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .harness import Problem, Workload, _import, contender, register_workload
from .ours import _am_compiled, _am_eager, _am_traced


def w2_problem() -> Problem:
    datasets = _import("sklearn.datasets")
    digits = datasets.load_digits()
    x = digits.data.astype(np.float64) / 16.0
    onehot = np.eye(10)[digits.target]
    rng = np.random.default_rng(0)
    params = {"w1": rng.normal(0, 1 / 8, (64, 128)), "b1": np.zeros(128),
              "w2": rng.normal(0, 1 / np.sqrt(128), (128, 10)), "b2": np.zeros(10)}
    n = len(x)

    def hand_grads(p: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
        h = np.tanh(x @ p["w1"] + p["b1"])
        z = h @ p["w2"] + p["b2"]
        shifted = z - z.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        dz = (np.exp(logp) - onehot) / n
        dh = (dz @ p["w2"].T) * (1.0 - h * h)
        return (-float(np.sum(logp * onehot)) / n,
                {"w1": x.T @ dh, "b1": dh.sum(axis=0), "w2": h.T @ dz, "b2": dz.sum(axis=0)})

    return Problem({"x": x, "onehot": onehot}, params, 0.5, hand_grads)


register_workload(Workload("W2", "digits MLP 64->128 tanh ->10, mean softmax cross-entropy over the full "
                                 "1797-image batch (scikit-learn's digits), SGD lr 0.5", problem=w2_problem))


RECORD_EVERY = 25  # the digits experiment records its loss every 25 epochs


def _w2_hand(pb: Problem, loss_every: int):
    """Hand NumPy (fresh temporaries), computing the loss every `loss_every` steps."""
    x, onehot = pb.data["x"], pb.data["onehot"]
    p = {k: v.copy() for k, v in pb.params.items()}
    w1, b1, w2, b2 = p["w1"], p["b1"], p["w2"], p["b2"]
    n, lr = len(x), pb.lr
    count = 0

    def step() -> Any:
        nonlocal w1, b1, w2, b2, count  # updated in place
        h = np.tanh(x @ w1 + b1)
        z = h @ w2 + b2
        shifted = z - z.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -np.sum(logp * onehot) / n if count % loss_every == 0 else None
        count += 1
        dz = (np.exp(logp) - onehot) / n
        dh = (dz @ w2.T) * (1.0 - h * h)
        w2 -= lr * (h.T @ dz)
        b2 -= lr * dz.sum(axis=0)
        w1 -= lr * (x.T @ dh)
        b1 -= lr * dh.sum(axis=0)
        return loss

    step.weights = lambda: {"w1": w1, "b1": b1, "w2": w2, "b2": b2}  # type: ignore[attr-defined]
    return step, lambda: pb.hand_grads(pb.params)[1]


contender("W2", "hand NumPy")(lambda pb: _w2_hand(pb, RECORD_EVERY))  # the reference: loss on recorded steps
contender("W2", "hand NumPy, loss every step")(lambda pb: _w2_hand(pb, 1))


def _am_w2(pb: Problem):
    import autograd_mini as am
    params = tuple(am.Tensor(pb.params[k], requires_grad=True) for k in ("w1", "b1", "w2", "b2"))
    x, onehot = am.Tensor(pb.data["x"]), am.Tensor(pb.data["onehot"])
    n = len(pb.data["x"])

    def loss_fn(w1: Any, b1: Any, w2: Any, b2: Any) -> Any:
        h = (x @ w1 + b1).tanh()
        logp = am.log_softmax(h @ w2 + b2, axis=1)
        return -(logp * onehot).sum() / n

    return am, params, loss_fn


contender("W2", "autograd_mini eager")(_am_eager(_am_w2))
contender("W2", "autograd_mini traced")(_am_traced(_am_w2))
contender("W2", "autograd_mini compiled")(_am_compiled(_am_w2))
contender("W2", "autograd_mini fused (numba)")(_am_compiled(_am_w2, backend="numba"))
