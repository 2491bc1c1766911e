"""W1: one training step of document 000's net (3->4->1 sigmoid, 4 samples, 1/2 SSE, SGD lr 1),
with its hand-NumPy reference and autograd_mini's contenders (the peers are in peers.py)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .harness import Missing, Problem, Workload, _import, contender, register_workload
from .ours import _am_compiled, _am_eager, _am_traced


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


PRINT_EVERY = 10_000  # document 000 prints the error every 10,000 steps


def _w1_hand(pb: Problem, loss_every: int):
    """The document's kind of step (fresh temporaries, `@`), computing the loss every `loss_every` steps."""
    x, y = pb.data["x"], pb.data["y"]
    w0, w1 = pb.params["w0"].copy(), pb.params["w1"].copy()
    lr = pb.lr
    count = 0

    def step() -> Any:
        nonlocal w0, w1, count  # updated in place
        h = 1.0 / (1.0 + np.exp(-(x @ w0)))
        out = 1.0 / (1.0 + np.exp(-(h @ w1)))
        err = out - y
        loss = 0.5 * np.sum(err * err) if count % loss_every == 0 else None
        count += 1
        d2 = err * (out * (1.0 - out))
        d1 = (d2 @ w1.T) * (h * (1.0 - h))
        w1 -= lr * (h.T @ d2)
        w0 -= lr * (x.T @ d1)
        return loss

    step.weights = lambda: {"w0": w0, "w1": w1}  # type: ignore[attr-defined]
    return step, lambda: pb.hand_grads(pb.params)[1]


contender("W1", "hand NumPy")(lambda pb: _w1_hand(pb, PRINT_EVERY))  # the reference: loss on printed steps
contender("W1", "hand NumPy, loss every step")(lambda pb: _w1_hand(pb, 1))


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
contender("W1", "autograd_mini compiled")(_am_compiled(_am_w1))
contender("W1", "autograd_mini fused (numba)")(_am_compiled(_am_w1, backend="numba"))


def _hand_numba_kernel() -> Any:
    """The hand NumPy step written for numba (the limit of the fused back end); None without numba."""
    try:
        numba = _import("numba")
    except Missing:
        return None

    @numba.njit(cache=True)
    def step(x, y, w0, w1, lr):  # the document's step, updating w0 and w1 in place; returns the loss
        h = 1.0 / (1.0 + np.exp(-np.dot(x, w0)))
        out = 1.0 / (1.0 + np.exp(-np.dot(h, w1)))
        err = out - y
        d2 = err * (out * (1.0 - out))
        d1 = np.dot(d2, np.ascontiguousarray(w1.T)) * (h * (1.0 - h))
        w1 -= lr * np.dot(np.ascontiguousarray(h.T), d2)
        w0 -= lr * np.dot(np.ascontiguousarray(x.T), d1)
        return 0.5 * np.sum(err * err)

    @numba.njit(cache=True)
    def loop(n, x, y, w0, w1, lr):
        loss = 0.0
        for _ in range(n):
            loss = step(x, y, w0, w1, lr)
        return loss

    return step, loop


def _w1_hand_numba(pb: Problem):
    kernel = _hand_numba_kernel()
    if kernel is None:
        raise Missing("numba not installed (pip install 'autograd-mini[fused]')")
    x, y, lr = pb.data["x"], pb.data["y"], pb.lr
    w0, w1 = pb.params["w0"].copy(), pb.params["w1"].copy()
    kernel[0](x, y, w0.copy(), w1.copy(), lr)  # compile (or load) before timing

    def step() -> Any:
        return kernel[0](x, y, w0, w1, lr)

    step.weights = lambda: {"w0": w0, "w1": w1}  # type: ignore[attr-defined]
    return step, lambda: pb.hand_grads(pb.params)[1]


contender("W1", "hand numba")(_w1_hand_numba)
