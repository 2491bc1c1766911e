"""am.trace: a recorded step replays eager's numbers bit for bit, reads new data, refuses changed shapes,
refuses what it cannot replay, and neither it nor eager mode keeps memory across many steps."""
from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

import autograd_mini as am
from autograd_mini.errors import ShapeError
from autograd_mini.trace import TraceError

pytestmark = pytest.mark.filterwarnings("error")

X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
Y = np.array([[0], [1], [1], [0]], dtype=float)


def two_layer(dtype=np.float64, seed=1):
    """Document 000's net: weights, data Tensors made outside the loss, and the loss."""
    rng = np.random.default_rng(seed)
    w0 = am.Tensor(rng.uniform(-1, 1, (3, 4)).astype(dtype), requires_grad=True)
    w1 = am.Tensor(rng.uniform(-1, 1, (4, 1)).astype(dtype), requires_grad=True)
    x, y = am.Tensor(X.astype(dtype)), am.Tensor(Y.astype(dtype))

    def loss_fn(w0, w1):
        return 0.5 * (((x @ w0).sigmoid() @ w1).sigmoid() - y).square().sum()

    return [w0, w1], (x, y), loss_fn


def mlp(seed=0, n=50):
    """A small digits-like classifier: biases (broadcast), tanh, log_softmax, mean cross-entropy."""
    rng = np.random.default_rng(seed)
    params = [am.Tensor(rng.normal(0, 0.3, shape), requires_grad=True) for shape in ((8, 16), (16,), (16, 5), (5,))]
    x = am.Tensor(rng.normal(size=(n, 8)))
    onehot = am.Tensor(np.eye(5)[rng.integers(0, 5, n)])

    def loss_fn(w1, b1, w2, b2):
        logp = am.log_softmax((x @ w1 + b1).tanh() @ w2 + b2, axis=1)
        return -(logp * onehot).sum(axis=1).mean()

    return params, (x, onehot), loss_fn


def eager_step(params, loss_fn, lr):
    loss = loss_fn(*params)
    loss.backward()
    for p in params:
        p.data -= lr * p.grad
        p.grad = None
    return loss.item()


def traced_step(step, params, lr):
    loss = step()
    for p in params:
        p.data -= lr * p.grad
    return loss


def big_mlp():  # activations of more than 4096 entries: eager's in-place VJP path
    return mlp(seed=1, n=400)


@pytest.mark.parametrize("model, lr, steps", [(two_layer, 1.0, 3000), (mlp, 0.5, 300), (big_mlp, 0.5, 30)])
def test_traced_training_equals_eager_bit_for_bit(model, lr, steps):
    eager_params, _, eager_loss = model()
    traced_params, _, traced_loss = model()
    step = am.trace(traced_loss, traced_params)
    for i in range(steps):
        want = eager_step(eager_params, eager_loss, lr)
        got = traced_step(step, traced_params, lr)
        assert got == want, f"step {i}: traced loss {got!r} != eager {want!r}"
    for e, t in zip(eager_params, traced_params):
        assert np.array_equal(e.data, t.data)


def test_traced_gradients_equal_eager_and_are_set_not_accumulated():
    params, _, loss_fn = two_layer()
    step = am.trace(loss_fn, params)
    loss = loss_fn(*params)
    loss.backward()
    eager = [p.grad.copy() for p in params]
    for _ in range(3):  # replaying again does not add up
        assert step() == loss.item()
        for p, g in zip(params, eager):
            assert np.array_equal(p.grad, g)


def test_float32_traced_equals_eager():
    eager_params, _, eager_loss = two_layer(np.float32)
    traced_params, _, traced_loss = two_layer(np.float32)
    step = am.trace(traced_loss, traced_params)
    for _ in range(200):
        assert traced_step(step, traced_params, 1.0) == eager_step(eager_params, eager_loss, 1.0)
    assert traced_params[0].grad.dtype == np.float32


def test_data_inputs_are_read_at_every_call():
    params, (x, y), loss_fn = two_layer()
    step = am.trace(loss_fn, params)
    rng = np.random.default_rng(5)
    for _ in range(5):
        x.data = rng.uniform(size=(4, 3))  # a new batch of the same shape
        y.data[:] = rng.integers(0, 2, size=(4, 1))  # or new values in place
        got = step()
        traced = [p.grad.copy() for p in params]
        for p in params:
            p.grad = None
        want = loss_fn(*params)
        want.backward()
        assert got == want.item()
        for g, p in zip(traced, params):
            assert np.array_equal(g, p.grad)


def test_refuses_a_changed_parameter_shape_naming_the_tensor_and_both_shapes():
    params, _, loss_fn = two_layer()
    step = am.trace(loss_fn, params)
    step()
    params[0].data = np.zeros((5, 4))
    with pytest.raises(ShapeError, match=r"params\[0\].*\(3, 4\).*\(5, 4\)"):
        step()


def test_refuses_a_changed_data_shape():
    params, (x, _), loss_fn = two_layer()
    step = am.trace(loss_fn, params)
    x.data = np.zeros((6, 3))
    with pytest.raises(ShapeError, match=r"data input 0.*\(4, 3\).*\(6, 3\)"):
        step()


def test_refuses_a_changed_dtype():
    params, _, loss_fn = two_layer()
    step = am.trace(loss_fn, params)
    params[1].data = params[1].data.astype(np.float32)
    with pytest.raises(ShapeError, match="dtype"):
        step()


def test_masks_and_signs_are_recomputed_at_every_replay():
    rng = np.random.default_rng(3)
    x, y = am.Tensor(rng.normal(size=(10, 4))), am.Tensor(rng.normal(size=(10, 1)))

    def model():
        r = np.random.default_rng(4)
        return [am.Tensor(r.normal(size=shape), requires_grad=True) for shape in ((4, 6), (6, 1))]

    def loss_fn(w1, w2):
        return (am.minimum(am.maximum((x @ w1).relu() @ w2, -0.3), 0.8) - y).abs().sum()

    eager, traced = model(), model()
    step = am.trace(loss_fn, traced)
    for i in range(300):
        assert traced_step(step, traced, 0.01) == eager_step(eager, loss_fn, 0.01), i


def test_refuses_what_it_cannot_replay():
    w = am.Tensor(np.array([[0.5], [-0.5]]), requires_grad=True)
    x = am.Tensor(np.array([[1.0, 2.0]]))
    # a VJP that reads its input's values as a plain array: a replay could not update that mask
    leaky = am.Op("leaky", lambda v: v, lambda g, ans, v: (g * (np.asarray(getattr(v, "data", v)) > 0),))
    with pytest.raises(TraceError, match="VJP of 'leaky'"):
        am.trace(lambda w: leaky(x @ w).sum(), [w])
    with pytest.raises(TraceError, match="scalar"):
        am.trace(lambda w: x.T @ w.T, [w])  # shape (2, 2)
    with pytest.raises(TraceError, match="requires_grad"):
        am.trace(lambda w: (x @ w).sum(), [x])


def test_an_unused_parameter_gets_a_zero_gradient():
    w, unused = am.Tensor(np.ones(3), requires_grad=True), am.Tensor(np.ones(2), requires_grad=True)
    step = am.trace(lambda w, u: (w * w).sum(), [w, unused])
    assert step() == 3.0
    assert np.array_equal(w.grad, 2 * np.ones(3)) and np.array_equal(unused.grad, np.zeros(2))
    unused.grad += 1.0  # (a training loop adding weight decay to every .grad: the next step's zeros are zeros)
    step()
    assert np.array_equal(unused.grad, np.zeros(2))


def test_a_replay_builds_no_tensors():
    params, _, loss_fn = two_layer()
    step = am.trace(loss_fn, params)
    step()
    gc.collect()  # (type(o) is, not isinstance: that asks every object for __class__, and some of torch's warn)
    before = sum(type(o) is am.Tensor for o in gc.get_objects())
    for _ in range(100):
        traced_step(step, params, 1.0)
    gc.collect()
    assert sum(type(o) is am.Tensor for o in gc.get_objects()) == before


@pytest.mark.parametrize("mode", ["eager", "traced"])
def test_memory_does_not_grow_over_many_steps(mode):
    params, _, loss_fn = two_layer()
    if mode == "traced":
        step = am.trace(loss_fn, params)
        run = lambda: traced_step(step, params, 1.0)  # noqa: E731
    else:
        run = lambda: eager_step(params, loss_fn, 1.0)  # noqa: E731
    for _ in range(200):
        run()
    gc.collect()
    live_tensors = sum(type(o) is am.Tensor for o in gc.get_objects())
    tracemalloc.start()
    try:
        for _ in range(100):
            run()
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(3000):
            run()
        growth = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    gc.collect()
    assert sum(type(o) is am.Tensor for o in gc.get_objects()) == live_tensors
    assert growth < 4096, f"{mode}: {growth} bytes more after 3000 steps"
