"""W1: one training step of document 000's net (3->4->1 sigmoid, 4 samples, 1/2 SSE, SGD lr 1),
with its hand-NumPy reference and autograd_mini's contenders (the peers are in peers.py)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .harness import Problem, Workload, contender, register_workload
from .ours import _am_eager, _am_traced


def w1_problem() -> Problem:
    x = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64)
    y = np.array([[0], [1], [1], [0]], dtype=np.float64)
    rng = np.random.default_rng(1)
    params = {"w0": rng.uniform(-1, 1, (3, 4)), "w1": rng.uniform(-1, 1, (4, 1))}

    def hand_grads(p: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
        h = 1.0 / (1.0 + np.exp(-(x @ p["w0"])))
        out = 1.0 / (1.0 + np.exp(-(h @ p["w1"])))
        err = out - y
        d2 = err * (out * (1.0 - out))
        d1 = (d2 @ p["w1"].T) * (h * (1.0 - h))
        return 0.5 * float(np.sum(err * err)), {"w0": x.T @ d1, "w1": h.T @ d2}

    return Problem({"x": x, "y": y}, params, 1.0, hand_grads)


register_workload(Workload("W1", "one training step of document 000's net: 3->4->1 sigmoid, 4 samples, "
                                 "1/2 SSE, SGD lr 1 (forward, backward, update)",
                           problem=w1_problem, long_run=True))


@contender("W1", "hand NumPy")
def w1_hand(pb: Problem):
    x, y = pb.data["x"], pb.data["y"]
    w0, w1 = pb.params["w0"].copy(), pb.params["w1"].copy()
    lr = pb.lr

    def step() -> float:
        nonlocal w0, w1  # updated in place
        h = 1.0 / (1.0 + np.exp(-(x @ w0)))
        out = 1.0 / (1.0 + np.exp(-(h @ w1)))
        err = out - y
        loss = 0.5 * np.sum(err * err)
        d2 = err * (out * (1.0 - out))
        d1 = (d2 @ w1.T) * (h * (1.0 - h))
        w1 -= lr * (h.T @ d2)
        w0 -= lr * (x.T @ d1)
        return loss

    return step, lambda: pb.hand_grads(pb.params)[1]


def _am_w1(pb: Problem):
    import autograd_mini as am
    w0 = am.Tensor(pb.params["w0"], requires_grad=True)
    w1 = am.Tensor(pb.params["w1"], requires_grad=True)
    x, y = am.Tensor(pb.data["x"]), am.Tensor(pb.data["y"])

    def loss_fn(w0: Any, w1: Any) -> Any:
        out = ((x @ w0).sigmoid() @ w1).sigmoid()
        return 0.5 * (out - y).square().sum()

    return am, (w0, w1), loss_fn


contender("W1", "autograd_mini eager")(_am_eager(_am_w1))
contender("W1", "autograd_mini traced")(_am_traced(_am_w1))
