"""The peer libraries' contenders for W1 and W2: PyTorch, HIPS autograd, MyGrad, micrograd, JAX.
Each is imported on demand; a missing one is reported as skipped."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from . import w1 as _w1_workload, w2 as _w2_workload  # noqa: F401  (the workloads these contenders join)
from .harness import Factory, Missing, Problem, _import, contender


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


def _jax_module() -> Any:
    jax = _import("jax")
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    return jax



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



# ---- W1 ----

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


def _jax_w1_loss(jax: Any, jnp: Any, pb: Problem) -> Callable:
    x, y = jnp.asarray(pb.data["x"]), jnp.asarray(pb.data["y"])

    def loss_of(params: tuple) -> Any:
        w0, w1 = params
        out = jax.nn.sigmoid(jax.nn.sigmoid(x @ w0) @ w1)
        return 0.5 * jnp.sum((out - y) ** 2)
    return loss_of


def _jax_w2_loss(jax: Any, jnp: Any, pb: Problem) -> Callable:
    x, onehot = jnp.asarray(pb.data["x"]), jnp.asarray(pb.data["onehot"])
    n = len(pb.data["x"])

    def loss_of(params: tuple) -> Any:
        w1, b1, w2, b2 = params
        logp = jax.nn.log_softmax(jnp.tanh(x @ w1 + b1) @ w2 + b2, axis=1)
        return -jnp.sum(logp * onehot) / n
    return loss_of


def _jax(make_loss: Callable, jit: bool) -> Factory:
    """A JAX contender: SGD on a tuple of parameters (in the problem's order), jitted or not."""
    def factory(pb: Problem):
        jax = _jax_module()
        jnp = _import("jax.numpy")
        names, lr = list(pb.params), pb.lr
        vg = jax.value_and_grad(make_loss(jax, jnp, pb))

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


contender("W1", "JAX eager")(_jax(_jax_w1_loss, jit=False))
contender("W1", "JAX jit")(_jax(_jax_w1_loss, jit=True))


# ---- W2 ----

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


contender("W2", "JAX eager")(_jax(_jax_w2_loss, jit=False))
contender("W2", "JAX jit")(_jax(_jax_w2_loss, jit=True))
