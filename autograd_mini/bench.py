"""Benchmarks: autograd_mini against hand-written NumPy (the limit) and the libraries people would
pick instead. `python -m benchmarks` or `autograd-mini bench` (options: `--help`).

What is measured, and how:
- every contender is float64 and single-threaded: OMP/OPENBLAS/MKL_NUM_THREADS=1 are set before
  NumPy loads (the command re-executes itself with them when they are missing), torch gets
  `set_num_threads(1)`, XLA gets single-threaded Eigen; the output says which settings were in force;
- before timing, each contender's gradients at the starting weights must equal the hand-written
  closed-form ones (np.allclose, rtol = atol = 1e-10); a contender that disagrees is not timed;
- timing is round-robin: in each round every contender runs a block of steps in turn, so slow drift
  of the machine hits them alike; each contender's **ratio** is the median over rounds of (its time
  per step / hand NumPy's time per step in the same round); medians of time per step are given too;
- peak memory per step with tracemalloc (NumPy's buffers are traced; torch's and XLA's are not);
- memory after a long run: resident set size and the count of live Python objects before and after
  many W1 steps (420,000 in full mode).

Workloads live in a registry (`WORKLOADS`): a step workload gives a problem and one step function
per contender; an end-to-end workload gives one run function per contender (`sweep`, `experiments`:
hooks filled as the models land). A missing peer is reported as skipped, never as a failure.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gc
import importlib
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "VECLIB_MAXIMUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1"}
XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
HIDE_ENV = "AUTOGRAD_MINI_BENCH_HIDE"  # comma-separated peer modules to treat as not installed (tests)
GRAD_TOL = 1e-10

# settings per mode: rounds of round-robin timing, target seconds per timed block, long-run steps
MODES = {
    "full": dict(rounds=21, block=0.05, long_steps=420_000, w2_block=0.25),
    "quick": dict(rounds=7, block=0.01, long_steps=20_000, w2_block=0.04),
    "smoke": dict(rounds=3, block=0.002, long_steps=2_000, w2_block=0.0),
}


# ---- peers: imported on demand, a missing one is a skip ---------------------------------------

class Missing(Exception):
    """A contender cannot run here (a peer not installed, a hook not filled): reported as skipped."""


def _import(name: str) -> Any:
    hidden = {h.strip() for h in os.environ.get(HIDE_ENV, "").split(",") if h.strip()}
    if name.split(".")[0] in hidden:
        raise Missing(f"{name.split('.')[0]} not installed (hidden by {HIDE_ENV})")
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise Missing(f"{name.split('.')[0]} not installed ({error.__class__.__name__}: {error}); "
                      f"`pip install -e .[bench]` adds it") from None


def _torch() -> Any:
    torch = _import("torch")
    if not torch.__version__.startswith("2.13.0"):
        raise Missing(f"torch {torch.__version__} installed; the benchmark pins torch==2.13.0")
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # can only be set once per process, before any parallel work
        pass
    return torch


def _jax() -> Any:
    jax = _import("jax")
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    return jax


# ---- the registry ----------------------------------------------------------------------------

@dataclass
class Problem:
    """One workload's data and starting weights (NumPy float64), plus its hand-written gradient."""
    data: dict[str, np.ndarray]
    params: dict[str, np.ndarray]
    lr: float
    hand_grads: Callable[[dict[str, np.ndarray]], tuple[float, dict[str, np.ndarray]]]


# a contender factory takes the Problem and returns (step, grads): `step()` does one training step
# (forward, backward, SGD update on the contender's own copy of the weights) and returns the loss;
# `grads()` returns {name: gradient as NumPy} at the starting weights, for the check.
Factory = Callable[[Problem], tuple[Callable[[], Any], Callable[[], dict[str, np.ndarray]]]]


@dataclass
class Workload:
    name: str
    description: str
    kind: str = "step"                                     # "step" or "end_to_end"
    problem: Callable[[], Problem] | None = None           # step workloads
    contenders: dict[str, Factory] = field(default_factory=dict)
    runs: Callable[[str], dict[str, Callable[[], Any]]] | None = None  # end-to-end: mode -> {name: run}
    long_run: bool = False                                 # also measure memory over many steps


WORKLOADS: dict[str, Workload] = {}


def register_workload(workload: Workload) -> Workload:
    WORKLOADS[workload.name] = workload
    return workload


def contender(workload: str, name: str) -> Callable[[Factory], Factory]:
    """Decorator: add a contender to a registered workload."""
    def add(factory: Factory) -> Factory:
        WORKLOADS[workload].contenders[name] = factory
        return factory
    return add


def _torch_step(torch: Any, loss_of: Callable, fresh: Callable, lr: float, names: list[str]) -> tuple:
    """A PyTorch contender: an SGD step on its own parameters, and gradients at fresh ones."""
    params = fresh()

    def step() -> Any:
        loss = loss_of(*params)
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad = None
        return loss

    def grads() -> dict[str, np.ndarray]:
        ps = fresh()
        loss_of(*ps).backward()
        return {k: p.grad.numpy() for k, p in zip(names, ps)}

    return step, grads


# ---- W1: one step of document 000's net -------------------------------------------------------

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


def _am_eager(make: Callable) -> Factory:
    def factory(pb: Problem):
        am, params, loss_fn = make(pb)
        lr = pb.lr

        def step() -> Any:
            loss = loss_fn(*params)
            loss.backward()
            for p in params:
                p.data -= lr * p.grad
                p.grad = None
            return loss

        def grads() -> dict[str, np.ndarray]:
            _, fresh, fn = make(pb)
            fn(*fresh).backward()
            return dict(zip(pb.params, (p.grad for p in fresh)))

        return step, grads
    return factory


def _am_traced(make: Callable) -> Factory:
    def factory(pb: Problem):
        am, params, loss_fn = make(pb)
        if not hasattr(am, "trace"):
            raise Missing("autograd_mini.trace not available")
        replay = am.trace(loss_fn, params)
        lr = pb.lr

        def step() -> Any:
            loss = replay()
            for p in params:
                p.data -= lr * p.grad
            return loss

        step.state_bytes = replay.buffer_bytes  # type: ignore[attr-defined]  # preallocated: counted as peak

        def grads() -> dict[str, np.ndarray]:
            _, fresh, fn = make(pb)
            am.trace(fn, fresh)()
            return dict(zip(pb.params, (p.grad.copy() for p in fresh)))

        return step, grads
    return factory


contender("W1", "autograd_mini eager")(_am_eager(_am_w1))
contender("W1", "autograd_mini traced")(_am_traced(_am_w1))


@contender("W1", "PyTorch eager")
def w1_torch(pb: Problem):
    torch = _torch()
    x, y = torch.from_numpy(pb.data["x"]), torch.from_numpy(pb.data["y"])

    def fresh() -> list:
        return [torch.tensor(pb.params[k], dtype=torch.float64, requires_grad=True) for k in ("w0", "w1")]

    def loss_of(w0: Any, w1: Any) -> Any:
        out = torch.sigmoid(torch.sigmoid(x @ w0) @ w1)
        return 0.5 * ((out - y) ** 2).sum()

    return _torch_step(torch, loss_of, fresh, pb.lr, ["w0", "w1"])


@contender("W1", "HIPS autograd")
def w1_hips(pb: Problem):
    autograd = _import("autograd")
    anp = _import("autograd.numpy")
    x, y = pb.data["x"], pb.data["y"]

    def loss_of(w0: Any, w1: Any) -> Any:
        h = 1.0 / (1.0 + anp.exp(-anp.dot(x, w0)))
        out = 1.0 / (1.0 + anp.exp(-anp.dot(h, w1)))
        return 0.5 * anp.sum((out - y) ** 2)

    vg = autograd.value_and_grad(loss_of, argnum=(0, 1))
    w0, w1 = pb.params["w0"].copy(), pb.params["w1"].copy()
    lr = pb.lr

    def step() -> Any:
        nonlocal w0, w1  # updated in place
        loss, (g0, g1) = vg(w0, w1)
        w0 -= lr * g0
        w1 -= lr * g1
        return loss

    def grads() -> dict[str, np.ndarray]:
        _, (g0, g1) = vg(pb.params["w0"], pb.params["w1"])
        return {"w0": g0, "w1": g1}

    return step, grads


@contender("W1", "MyGrad")
def w1_mygrad(pb: Problem):
    mg = _import("mygrad")
    from mygrad.nnet.activations import sigmoid
    x, y = pb.data["x"], pb.data["y"]

    def fresh() -> list:
        return [mg.tensor(pb.params[k].copy()) for k in ("w0", "w1")]

    def loss_of(w0: Any, w1: Any) -> Any:
        out = sigmoid(mg.matmul(sigmoid(mg.matmul(x, w0)), w1))
        return 0.5 * mg.sum((out - y) ** 2)

    params, lr = fresh(), pb.lr

    def step() -> Any:
        loss = loss_of(*params)
        loss.backward()
        for p in params:
            p.data -= lr * p.grad  # after backward the graph is cleared and the arrays writable again
        return loss

    def grads() -> dict[str, np.ndarray]:
        ps = fresh()
        loss_of(*ps).backward()
        return {"w0": np.array(ps[0].grad), "w1": np.array(ps[1].grad)}

    return step, grads


@contender("W1", "micrograd")
def w1_micrograd(pb: Problem):
    engine = _import("micrograd.engine")
    Value = engine.Value
    x, y = pb.data["x"].tolist(), pb.data["y"].ravel().tolist()

    def sigmoid(v: Any) -> Any:  # micrograd has no sigmoid: added the way its relu is written
        s = 1.0 / (1.0 + np.exp(-v.data))
        out = Value(float(s), (v,), "sigmoid")

        def _backward() -> None:
            v.grad += s * (1.0 - s) * out.grad
        out._backward = _backward
        return out

    def fresh() -> tuple[list, list]:
        w0 = [[Value(float(v)) for v in row] for row in pb.params["w0"]]
        w1 = [Value(float(v)) for v in pb.params["w1"].ravel()]
        return w0, w1

    def loss_of(w0: list, w1: list) -> Any:
        loss = Value(0.0)
        for xi, yi in zip(x, y):
            h = [sigmoid(sum((w0[i][j] * xi[i] for i in range(3)), Value(0.0))) for j in range(4)]
            out = sigmoid(sum((h[j] * w1[j] for j in range(4)), Value(0.0)))
            loss = loss + (out - yi) ** 2
        return 0.5 * loss

    (w0, w1), lr = fresh(), pb.lr
    flat = [v for row in w0 for v in row] + w1

    def step() -> Any:
        for p in flat:
            p.grad = 0.0
        loss = loss_of(w0, w1)
        loss.backward()
        for p in flat:
            p.data -= lr * p.grad
        return loss.data

    def grads() -> dict[str, np.ndarray]:
        a, b = fresh()
        loss_of(a, b).backward()
        return {"w0": np.array([[v.grad for v in row] for row in a]), "w1": np.array([[v.grad] for v in b])}

    return step, grads


def _jax_w1(jit: bool) -> Factory:
    def factory(pb: Problem):
        jax = _jax()
        jnp = _import("jax.numpy")
        x, y = jnp.asarray(pb.data["x"]), jnp.asarray(pb.data["y"])
        lr = pb.lr

        def loss_of(params: tuple) -> Any:
            w0, w1 = params
            out = jax.nn.sigmoid(jax.nn.sigmoid(x @ w0) @ w1)
            return 0.5 * jnp.sum((out - y) ** 2)

        vg = jax.value_and_grad(loss_of)

        def update(params: tuple) -> tuple:
            loss, g = vg(params)
            return loss, tuple(p - lr * gp for p, gp in zip(params, g))

        update = jax.jit(update) if jit else update
        state = [(jnp.asarray(pb.params["w0"]), jnp.asarray(pb.params["w1"]))]

        def step() -> Any:
            loss, state[0] = update(state[0])
            return jax.block_until_ready(loss)

        def grads() -> dict[str, np.ndarray]:
            _, g = vg((jnp.asarray(pb.params["w0"]), jnp.asarray(pb.params["w1"])))
            return {"w0": np.asarray(g[0]), "w1": np.asarray(g[1])}

        return step, grads
    return factory


contender("W1", "JAX eager")(_jax_w1(jit=False))
contender("W1", "JAX jit")(_jax_w1(jit=True))


# ---- W2: digits MLP 64 -> 128 tanh -> 10, mean softmax cross-entropy over all 1797 images --------

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


@contender("W2", "hand NumPy")
def w2_hand(pb: Problem):
    x, onehot = pb.data["x"], pb.data["onehot"]
    p = {k: v.copy() for k, v in pb.params.items()}
    w1, b1, w2, b2 = p["w1"], p["b1"], p["w2"], p["b2"]
    n, lr = len(x), pb.lr

    def step() -> float:
        nonlocal w1, b1, w2, b2  # updated in place
        h = np.tanh(x @ w1 + b1)
        z = h @ w2 + b2
        shifted = z - z.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -np.sum(logp * onehot) / n
        dz = (np.exp(logp) - onehot) / n
        dh = (dz @ w2.T) * (1.0 - h * h)
        w2 -= lr * (h.T @ dz)
        b2 -= lr * dz.sum(axis=0)
        w1 -= lr * (x.T @ dh)
        b1 -= lr * dh.sum(axis=0)
        return loss

    return step, lambda: pb.hand_grads(pb.params)[1]


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


@contender("W2", "PyTorch eager")
def w2_torch(pb: Problem):
    torch = _torch()
    x, onehot = torch.from_numpy(pb.data["x"]), torch.from_numpy(pb.data["onehot"])
    n, lr = len(pb.data["x"]), pb.lr
    names = ("w1", "b1", "w2", "b2")

    def fresh() -> list:
        return [torch.tensor(pb.params[k], dtype=torch.float64, requires_grad=True) for k in names]

    def loss_of(w1: Any, b1: Any, w2: Any, b2: Any) -> Any:
        logp = torch.log_softmax(torch.tanh(x @ w1 + b1) @ w2 + b2, dim=1)
        return -(logp * onehot).sum() / n

    return _torch_step(torch, loss_of, fresh, lr, names)


@contender("W2", "HIPS autograd")
def w2_hips(pb: Problem):
    autograd = _import("autograd")
    anp = _import("autograd.numpy")
    x, onehot = pb.data["x"], pb.data["onehot"]
    n, lr = len(x), pb.lr
    names = ("w1", "b1", "w2", "b2")

    def loss_of(w1: Any, b1: Any, w2: Any, b2: Any) -> Any:
        z = anp.dot(anp.tanh(anp.dot(x, w1) + b1), w2) + b2
        shifted = z - anp.max(z, axis=1, keepdims=True)
        logp = shifted - anp.log(anp.sum(anp.exp(shifted), axis=1, keepdims=True))
        return -anp.sum(logp * onehot) / n

    vg = autograd.value_and_grad(loss_of, argnum=(0, 1, 2, 3))
    params = [pb.params[k].copy() for k in names]

    def step() -> Any:
        loss, gs = vg(*params)
        for p, g in zip(params, gs):
            p -= lr * g
        return loss

    def grads() -> dict[str, np.ndarray]:
        return dict(zip(names, vg(*(pb.params[k] for k in names))[1]))

    return step, grads


@contender("W2", "MyGrad")
def w2_mygrad(pb: Problem):
    mg = _import("mygrad")
    from mygrad.nnet.activations import logsoftmax
    x, onehot = pb.data["x"], pb.data["onehot"]
    n, lr = len(x), pb.lr
    names = ("w1", "b1", "w2", "b2")

    def fresh() -> list:
        return [mg.tensor(pb.params[k].copy()) for k in names]

    def loss_of(w1: Any, b1: Any, w2: Any, b2: Any) -> Any:
        logp = logsoftmax(mg.matmul(mg.tanh(mg.matmul(x, w1) + b1), w2) + b2, axis=1)
        return -mg.sum(logp * onehot) / n

    params = fresh()

    def step() -> Any:
        loss = loss_of(*params)
        loss.backward()
        for p in params:
            p.data -= lr * p.grad
        return loss

    def grads() -> dict[str, np.ndarray]:
        ps = fresh()
        loss_of(*ps).backward()
        return {k: np.array(p.grad) for k, p in zip(names, ps)}

    return step, grads


def _jax_w2(jit: bool) -> Factory:
    def factory(pb: Problem):
        jax = _jax()
        jnp = _import("jax.numpy")
        x, onehot = jnp.asarray(pb.data["x"]), jnp.asarray(pb.data["onehot"])
        n, lr = len(pb.data["x"]), pb.lr
        names = ("w1", "b1", "w2", "b2")

        def loss_of(params: tuple) -> Any:
            w1, b1, w2, b2 = params
            logp = jax.nn.log_softmax(jnp.tanh(x @ w1 + b1) @ w2 + b2, axis=1)
            return -jnp.sum(logp * onehot) / n

        vg = jax.value_and_grad(loss_of)

        def update(params: tuple) -> tuple:
            loss, g = vg(params)
            return loss, tuple(p - lr * gp for p, gp in zip(params, g))

        update = jax.jit(update) if jit else update
        state = [tuple(jnp.asarray(pb.params[k]) for k in names)]

        def step() -> Any:
            loss, state[0] = update(state[0])
            return jax.block_until_ready(loss)

        def grads() -> dict[str, np.ndarray]:
            _, g = vg(tuple(jnp.asarray(pb.params[k]) for k in names))
            return {k: np.asarray(v) for k, v in zip(names, g)}

        return step, grads
    return factory


contender("W2", "JAX eager")(_jax_w2(jit=False))
contender("W2", "JAX jit")(_jax_w2(jit=True))


# ---- end-to-end workloads: hooks the models fill ------------------------------------------------

SWEEP_STEPS = {"full": 60_000, "quick": 3_000, "smoke": 200}


def sweep_runs(mode: str) -> dict[str, Callable[[], Any]]:
    """Document 000 end to end (7 alphas; 60,000 steps each in full mode): the document's NumPy loop
    run seven times (the reference), seven separate eager runs, and the batched sweep."""
    from .models import doc000
    steps = SWEEP_STEPS[mode]

    def hand() -> None:
        X, y = doc000.X, doc000.y
        for alpha in doc000.alphas:
            np.random.seed(1)
            params = {"synapse_0": 2 * np.random.random((3, 4)) - 1, "synapse_1": 2 * np.random.random((4, 1)) - 1}
            for _ in range(steps):
                directions = doc000.document_rule(params, X, y)
                for name in params:
                    params[name] = params[name] - alpha * directions[name]

    def eager_separate() -> None:
        for alpha in doc000.alphas:
            doc000.train_alphas("autodiff", steps=steps, learning_rates=[alpha])

    return {"hand NumPy x7": hand, "autograd_mini eager x7": eager_separate,
            "autograd_mini batched sweep": lambda: doc000.train_alphas("autodiff", steps=steps)}


def experiments_runs(mode: str) -> dict[str, Callable[[], Any]]:
    """`autograd-mini run all --quiet` end to end, in full mode only (it takes minutes)."""
    if mode != "full":
        return {}
    from .cli import main as cli_main
    return {"autograd-mini run all": lambda: cli_main(["run", "all", "--quiet"])}


register_workload(Workload("sweep", "all of document 000 (7 alphas x 60,000 steps) end to end",
                           kind="end_to_end", runs=sweep_runs))
register_workload(Workload("experiments", "`autograd-mini run all` end to end", kind="end_to_end",
                           runs=experiments_runs))


# ---- measuring -------------------------------------------------------------------------------

def _check_grads(name: str, got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> str | None:
    for key, expected in want.items():
        value = np.asarray(got.get(key), dtype=np.float64)
        if value.shape != expected.shape:
            return f"gradient of {key} has shape {value.shape}, hand NumPy's {expected.shape}"
        if not np.allclose(value, expected, rtol=GRAD_TOL, atol=GRAD_TOL):
            worst = float(np.max(np.abs(value - expected)))
            return f"gradient of {key} differs from hand NumPy's by up to {worst:.3g} (tolerance {GRAD_TOL:g})"
    return None


def _peak_bytes(step: Callable[[], Any]) -> int:
    """Bytes allocated at the peak of one step, above what was live before it (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        step()  # warm: first-call caches belong to setup, not to the step
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        step()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def _block_size(step: Callable[[], Any], seconds: float) -> int:
    t0 = time.perf_counter()
    step()
    once = max(time.perf_counter() - t0, 1e-7)
    n = 1
    while True:  # grow until a block takes long enough to time
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        took = time.perf_counter() - t0
        if took >= seconds / 4 or n >= 1_000_000:
            return max(1, int(n * seconds / max(took, once)))
        n *= 4


def run_step_workload(workload: Workload, mode: str, only: set[str] | None, log: Callable[[str], None]) -> dict:
    settings = MODES[mode]
    result: dict[str, Any] = {"description": workload.description, "contenders": {}}
    try:
        problem = workload.problem()  # type: ignore[misc]
    except Missing as why:
        result["skipped"] = str(why)
        log(f"{workload.name}: skipped: {why}")
        return result
    _, hand = problem.hand_grads(problem.params)
    steps: dict[str, Callable[[], Any]] = {}
    for name, factory in workload.contenders.items():
        entry: dict[str, Any] = {}
        result["contenders"][name] = entry
        if only and name != "hand NumPy" and not any(o.lower() in name.lower() for o in only):
            entry.update(status="skipped", reason="not selected (--only)")
            continue
        try:
            step, grads = factory(problem)
            problem_error = _check_grads(name, grads(), hand)
        except Missing as why:
            entry.update(status="skipped", reason=str(why))
            log(f"{workload.name}: {name}: skipped: {why}")
            continue
        except Exception as error:  # a peer that breaks is reported, the others still run
            entry.update(status="error", reason=f"{error.__class__.__name__}: {error}")
            log(f"{workload.name}: {name}: error: {error.__class__.__name__}: {error}")
            continue
        if problem_error:
            entry.update(status="wrong gradients", reason=problem_error)
            log(f"{workload.name}: {name}: NOT TIMED: {problem_error}")
            continue
        entry["status"] = "ok"
        steps[name] = step
    block = settings["w2_block"] if workload.name == "W2" and settings["w2_block"] else settings["block"]
    sizes = {name: _block_size(step, block) for name, step in steps.items()}
    per_step: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for r in range(settings["rounds"]):
        order = names[r % len(names):] + names[:r % len(names)]  # rotate who goes first
        for name in order:
            step, n = steps[name], sizes[name]
            t0 = time.perf_counter()
            for _ in range(n):
                step()
            per_step[name].append((time.perf_counter() - t0) / n)
    hand_times = per_step["hand NumPy"]
    for name in names:
        times = per_step[name]
        ratios = [t / h for t, h in zip(times, hand_times)]
        entry = result["contenders"][name]
        entry.update(median_s=statistics.median(times), min_s=min(times), ratio=statistics.median(ratios),
                     ratio_min=min(ratios), ratio_max=max(ratios), steps_per_block=sizes[name],
                     rounds=len(times))
        if not name.startswith(("PyTorch", "JAX")):
            # buffers a contender keeps between steps (the traced step's) count as part of its peak
            state = getattr(steps[name], "state_bytes", 0)
            entry["peak_bytes"] = _peak_bytes(steps[name]) + state
            if state:
                entry["peak_note"] = f"includes {state} bytes of buffers kept between steps"
        else:
            entry["peak_bytes"] = None
            entry["peak_note"] = "not traced: the library allocates outside Python's allocator"
    hand_peak = result["contenders"]["hand NumPy"]["peak_bytes"]
    for name in names:
        entry = result["contenders"][name]
        if entry.get("peak_bytes") is not None and hand_peak:
            entry["peak_ratio"] = entry["peak_bytes"] / hand_peak
    if workload.long_run:
        result["long_run"] = _long_run(workload, problem, settings["long_steps"], log)
    return result


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _long_run(workload: Workload, problem: Problem, steps: int, log: Callable[[str], None]) -> dict:
    """Resident memory and live Python objects before and after `steps` steps (ours and hand's)."""
    out: dict[str, Any] = {"steps": steps}
    for name in ("hand NumPy", "autograd_mini eager", "autograd_mini traced"):
        try:
            step, _ = workload.contenders[name](problem)
        except Missing as why:
            out[name] = {"status": "skipped", "reason": str(why)}
            continue
        warm = min(max(1000, steps // 20), steps)
        for _ in range(warm):
            step()
        gc.collect()
        rss0, objects0 = _rss_bytes(), len(gc.get_objects())
        t0 = time.perf_counter()
        for _ in range(steps // 2):
            step()
        rss_half = _rss_bytes()  # the allocator settles in the first half; a leak keeps growing
        for _ in range(steps - steps // 2):
            step()
        seconds = time.perf_counter() - t0
        gc.collect()
        rss1, objects1 = _rss_bytes(), len(gc.get_objects())
        out[name] = {"rss_growth_bytes": rss1 - rss0, "rss_growth_second_half_bytes": rss1 - rss_half,
                     "object_growth": objects1 - objects0, "seconds": seconds}
        log(f"{workload.name}: long run {name}: {steps} steps in {seconds:.1f} s, resident memory "
            f"{(rss1 - rss0) / 1024:+.0f} KiB (second half {(rss1 - rss_half) / 1024:+.0f} KiB), "
            f"live objects {objects1 - objects0:+d}")
    return out


def run_end_to_end(workload: Workload, mode: str, log: Callable[[str], None]) -> dict:
    result: dict[str, Any] = {"description": workload.description, "contenders": {}}
    runs = workload.runs(mode) if workload.runs else {}  # type: ignore[misc]
    if not runs:
        result["skipped"] = "measured in full mode only"
        log(f"{workload.name}: skipped: {result['skipped']}")
        return result
    times: dict[str, list[float]] = {name: [] for name in runs}
    for r in range(1 if mode == "smoke" else 3):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
    base = next(iter(runs))  # the first run is the reference (the hand loop)
    for name in runs:
        ratios = [t / b for t, b in zip(times[name], times[base])]
        result["contenders"][name] = {"status": "ok", "median_s": statistics.median(times[name]),
                                      "ratio": statistics.median(ratios), "reference": base}
    return result


# ---- reporting --------------------------------------------------------------------------------

def _machine() -> dict:
    info: dict[str, Any] = {"python": platform.python_version(), "numpy": np.__version__,
                            "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                            "cpus": os.cpu_count(),
                            "thread_env": {k: os.environ.get(k) for k in THREAD_ENV}}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [{k: d.get(k) for k in ("internal_api", "num_threads", "version")} for d in threadpool_info()]
    except ImportError:
        info["blas"] = "threadpoolctl not installed: threads set through the environment only"
    return info


def _fmt_bytes(n: int | None) -> str:
    if n is None:
        return "n/a"
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MiB"


def format_table(report: dict) -> str:
    lines = []
    for wname, w in report["workloads"].items():
        lines.append(f"\n{wname}: {w['description']}")
        if "skipped" in w:
            lines.append(f"  skipped: {w['skipped']}")
            continue
        lines.append(f"  {'contender':<22} {'ratio':>7} {'(range)':>15} {'median/step':>12} {'peak mem/step':>14} "
                     f"{'mem ratio':>9}")
        for name, c in w["contenders"].items():
            if c.get("status") != "ok":
                lines.append(f"  {name:<22} {c.get('status')}: {c.get('reason')}")
                continue
            rng = f"{c['ratio_min']:.2f}-{c['ratio_max']:.2f}" if "ratio_min" in c else ""
            pr = f"{c['peak_ratio']:.2f}x" if c.get("peak_ratio") is not None else "n/a"
            lines.append(f"  {name:<22} {c['ratio']:>6.2f}x {rng:>15} {c['median_s'] * 1e6:>10.1f}us "
                         f"{_fmt_bytes(c.get('peak_bytes')):>14} {pr:>9}")
        if "long_run" in w:
            lr = w["long_run"]
            for name, v in lr.items():
                if isinstance(v, dict) and "rss_growth_bytes" in v:
                    lines.append(f"  long run, {name}: {lr['steps']} steps, resident memory "
                                 f"{v['rss_growth_bytes'] / 1024:+.0f} KiB (second half "
                                 f"{v['rss_growth_second_half_bytes'] / 1024:+.0f} KiB), "
                                 f"live objects {v['object_growth']:+d}")
    return "\n".join(lines)


def write_chart(report: dict, path: Path) -> str | None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    shown = {k: w for k, w in report["workloads"].items()
             if any(c.get("status") == "ok" for c in w.get("contenders", {}).values())}
    if not shown:
        return None
    fig, axes = plt.subplots(len(shown), 1, figsize=(8, 2.2 + 0.45 * 9 * len(shown)), squeeze=False)
    for ax, (wname, w) in zip(axes[:, 0], shown.items()):
        items = [(n, c["ratio"]) for n, c in w["contenders"].items() if c.get("status") == "ok"]
        names, ratios = zip(*items)
        colors = ["#777777" if n == "hand NumPy" else "#1f77b4" if n.startswith("autograd_mini") else "#ff7f0e"
                  for n in names]
        ax.barh(range(len(names)), ratios, color=colors)
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.axvline(1.0, color="black", linewidth=0.8)
        for i, r in enumerate(ratios):
            ax.text(r, i, f" {r:.2f}x", va="center", fontsize=8)
        ax.set_title(f"{wname}: time per step / hand NumPy's (same run; lower is better)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


# ---- command line ---------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="autograd-mini bench", description=__doc__.split("\n\n")[0])
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="fewer rounds and a shorter long run (under a minute)")
    group.add_argument("--smoke", action="store_true", help="the least that exercises every path (for tests)")
    ap.add_argument("--workloads", default="W1,W2,sweep,experiments",
                    help=f"comma-separated, from: {', '.join(WORKLOADS)} (default: all)")
    ap.add_argument("--only", default="", help="comma-separated contender names (substrings) besides hand NumPy")
    ap.add_argument("--json", default="bench-out/bench.json", help="where to write the results (default %(default)s)")
    ap.add_argument("--chart", default=None, help="bar chart PNG (default: next to the JSON)")
    ap.add_argument("--no-long-run", action="store_true", help="skip the memory-over-many-steps measurement")
    ap.add_argument("--no-reexec", action="store_true", help=argparse.SUPPRESS)
    return ap


def _single_threaded() -> bool:
    return all(os.environ.get(k) == v for k, v in THREAD_ENV.items()) and os.environ.get("XLA_FLAGS") == XLA_FLAGS


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:  # `autograd-mini bench -- --quick`
        argv = argv[1:]
    args = _parser().parse_args(argv)
    if not _single_threaded() and not args.no_reexec:
        # BLAS reads its thread count when NumPy loads, which has happened: start again with it set
        env = {**os.environ, **THREAD_ENV, "XLA_FLAGS": XLA_FLAGS}
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, "-m", "autograd_mini.bench", *argv], env)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    only = {o.strip() for o in args.only.split(",") if o.strip()} or None
    wanted = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in WORKLOADS]
    if unknown:
        print(f"bench: unknown workload(s) {', '.join(unknown)}; known: {', '.join(WORKLOADS)}", file=sys.stderr)
        return 2

    def log(message: str) -> None:
        print(message, flush=True)

    started = time.perf_counter()
    threads = ("single-threaded BLAS: " + ", ".join(f"{k}={os.environ.get(k)}" for k in THREAD_ENV)
               + "; torch.set_num_threads(1); XLA_FLAGS=" + os.environ.get("XLA_FLAGS", "(unset)"))
    log(f"autograd_mini bench, {mode} mode, float64, {threads}")
    log("ratios = time per step / hand NumPy's time per step in the same round, median over "
        f"{MODES[mode]['rounds']} interleaved rounds")
    report: dict[str, Any] = {"date": _dt.datetime.now().isoformat(timespec="seconds"), "mode": mode,
                              "machine": _machine(), "threads": threads, "gradient_tolerance": GRAD_TOL,
                              "workloads": {}}
    for wname in wanted:
        workload = WORKLOADS[wname]
        if workload.kind == "step":
            if args.no_long_run:
                workload = Workload(**{**workload.__dict__, "long_run": False})
            report["workloads"][wname] = run_step_workload(workload, mode, only, log)
        else:
            report["workloads"][wname] = run_end_to_end(workload, mode, log)
    report["seconds"] = time.perf_counter() - started
    print(format_table(report))
    json_path = Path(args.json)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2, default=str))
    chart = write_chart(report, Path(args.chart) if args.chart else json_path.with_suffix(".png"))
    log(f"\nwrote {json_path}" + (f" and {chart}" if chart else " (no chart: matplotlib not installed)")
        + f" in {report['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
