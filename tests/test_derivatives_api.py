"""The JAX / HIPS-style derivatives API beyond grad of one array: pytrees, argnums, has_aux, jvp,
vjp, elementwise_grad and checkpoint, each against central differences or a closed form."""
from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import numeric_jacobian

import autograd_mini as am

rng = np.random.default_rng(5)


def numeric_grad(fn, x, eps=1e-6):
    """Central differences of a scalar NumPy function of one array."""
    x = np.array(x, dtype=float)
    out = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        out[index] = (fn(plus) - fn(minus)) / (2 * eps)
    return out


def model(params, x):
    """A pytree of parameters: a dict with a nested tuple and a list."""
    w, (b, scale), extra = params["w"], params["b_scale"], params["extra"]
    return ((x @ w + b).tanh() * scale).sum() + (extra[0] * extra[1]).sum()


def numpy_model(params, x):
    with am.no_grad():
        tree = {k: (tuple(am.Tensor(a) for a in v) if isinstance(v, tuple) else
                    [am.Tensor(a) for a in v] if isinstance(v, list) else am.Tensor(v)) for k, v in params.items()}
        return model(tree, am.Tensor(x)).item()


def make_params():
    return {"w": rng.standard_normal((3, 2)), "b_scale": (rng.standard_normal(2), rng.standard_normal(())),
            "extra": [rng.standard_normal(4), rng.standard_normal(4)]}


def test_grad_of_a_pytree_has_the_same_structure_and_matches_finite_differences():
    params, x = make_params(), rng.standard_normal((5, 3))
    g = am.grad(model)(params, x)
    assert set(g) == {"w", "b_scale", "extra"} and isinstance(g["b_scale"], tuple) and isinstance(g["extra"], list)
    for key, path in (("w", None), ("b_scale", 0), ("b_scale", 1), ("extra", 0), ("extra", 1)):
        def f(value, key=key, path=path):
            changed = {k: (type(v)(v) if isinstance(v, (tuple, list)) else v) for k, v in params.items()}
            if path is None:
                changed[key] = value
            else:
                parts = list(changed[key])
                parts[path] = value
                changed[key] = type(params[key])(parts)
            return numpy_model(changed, x)
        leaf = params[key] if path is None else params[key][path]
        got = g[key] if path is None else g[key][path]
        np.testing.assert_allclose(got, numeric_grad(f, leaf), rtol=1e-6, atol=1e-8)


def test_argnums_tuple_with_pytrees_and_has_aux():
    params, x = make_params(), rng.standard_normal((5, 3))

    def loss(p, inputs):
        value = model(p, inputs)
        return value, {"value_twice": value * 2, "note": "aux passes through"}

    (gp, gx), aux = am.grad(loss, argnums=(0, 1), has_aux=True)(params, x)
    np.testing.assert_allclose(gx, numeric_grad(lambda v: numpy_model(params, v), x), rtol=1e-6, atol=1e-8)
    assert aux["note"] == "aux passes through" and type(aux["value_twice"]) is np.ndarray
    (value, aux2), g = am.value_and_grad(loss, has_aux=True)(params, x)
    np.testing.assert_allclose(value, numpy_model(params, x))
    np.testing.assert_allclose(aux2["value_twice"], 2 * value)
    np.testing.assert_allclose(g["w"], gp["w"])
    with pytest.raises(TypeError, match="pair"):
        am.grad(lambda p: model(p, x), has_aux=True)(params)


def test_jacobian_and_hessian_of_pytree_arguments():
    a, b = rng.standard_normal(3), rng.standard_normal(2)

    def f(pair):
        u, v = pair
        return (u.sum() * v * v).tanh()

    jac = am.jacobian(f)((a, b))
    np.testing.assert_allclose(jac[0], numeric_jacobian(lambda u: np.tanh(u.sum() * b * b), a), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(jac[1], numeric_jacobian(lambda v: np.tanh(a.sum() * v * v), b), rtol=1e-6, atol=1e-9)
    h = am.hessian(lambda d: (d["u"].sum() ** 2 * d["v"]).sum())({"u": a, "v": b})
    np.testing.assert_allclose(h["u"]["u"], 2 * b.sum() * np.ones((3, 3)), rtol=1e-12)
    np.testing.assert_allclose(h["u"]["v"], 2 * a.sum() * np.ones((3, 2)), rtol=1e-12)
    np.testing.assert_allclose(h["v"]["v"], np.zeros((2, 2)), atol=1e-14)


def smooth(x, y):
    return (x[:, None] * y[None, :]).sin() + x[:, None].exp()


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 2 ** 31))
def test_jvp_is_the_jacobian_times_the_tangent(n, m, seed):
    r = np.random.default_rng(seed)
    x, y, vx, vy = r.standard_normal(n), r.standard_normal(m), r.standard_normal(n), r.standard_normal(m)
    value, tangent = am.jvp(smooth, (x, y), (vx, vy))
    with am.no_grad():
        np.testing.assert_allclose(value, smooth(am.Tensor(x), am.Tensor(y)).data)
    jx = numeric_jacobian(lambda u: np.sin(u[:, None] * y[None, :]) + np.exp(u[:, None]), x)
    jy = numeric_jacobian(lambda u: np.sin(x[:, None] * u[None, :]) + np.exp(x[:, None]), y)
    expected = np.tensordot(jx, vx, axes=1) + np.tensordot(jy, vy, axes=1)
    np.testing.assert_allclose(tangent, expected, rtol=1e-6, atol=1e-8)


def test_jvp_of_tuple_outputs_and_of_a_constant_function():
    x, v = rng.standard_normal(3), rng.standard_normal(3)
    (a, b), (ta, tb) = am.jvp(lambda t: (t * t, t.sum()), (x,), (v,))
    np.testing.assert_allclose(ta, 2 * x * v)
    np.testing.assert_allclose(tb, v.sum())
    _, zero = am.jvp(lambda t: am.Tensor(np.ones(2)), (x,), (v,))
    np.testing.assert_array_equal(zero, np.zeros(2))
    with pytest.raises(am.ShapeError):
        am.jvp(lambda t: t, (x,), (np.ones(4),))


def test_vjp_pullback_is_the_transposed_jacobian_and_can_be_called_twice():
    x, y = rng.standard_normal(3), rng.standard_normal(2)
    value, pullback = am.vjp(smooth, x, y)
    jx = numeric_jacobian(lambda u: np.sin(u[:, None] * y[None, :]) + np.exp(u[:, None]), x)
    jy = numeric_jacobian(lambda u: np.sin(x[:, None] * u[None, :]) + np.exp(x[:, None]), y)
    for _ in range(2):
        u = rng.standard_normal(value.shape)
        gx, gy = pullback(u)
        np.testing.assert_allclose(gx, np.tensordot(u, jx, axes=2), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(gy, np.tensordot(u, jy, axes=2), rtol=1e-6, atol=1e-8)


def test_elementwise_grad_is_the_derivative_at_every_entry():
    x = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(am.elementwise_grad(am.sin)(x), np.cos(x), rtol=1e-14)
    np.testing.assert_allclose(am.elementwise_grad(am.elementwise_grad(am.tanh))(x),
                               -2 * np.tanh(x) * (1 - np.tanh(x) ** 2), rtol=1e-12, atol=1e-15)


# ---- checkpoint --------------------------------------------------------------------------------

def block_factory(seen):
    def block(h, w):
        z = h @ w
        seen.append(weakref.ref(z))
        a = z.tanh()
        seen.append(weakref.ref(a))
        return (a * a).sum(axis=1, keepdims=True) + a
    return block


def test_checkpoint_keeps_no_intermediate_and_gives_the_same_gradients():
    x, w1, w2 = rng.standard_normal((4, 3)), rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    grads = {}
    for checkpointed in (False, True):
        seen: list = []
        block = block_factory(seen)
        run = am.checkpoint(block) if checkpointed else block
        p1, p2 = am.Tensor(w1, requires_grad=True), am.Tensor(w2, requires_grad=True)
        loss = run(run(am.Tensor(x), p1), p2).sum()
        gc.collect()
        alive = [r() is not None for r in seen]
        assert all(alive) if not checkpointed else not any(alive), alive
        loss.backward()
        grads[checkpointed] = (p1.grad, p2.grad)
    np.testing.assert_allclose(grads[True][0], grads[False][0], rtol=1e-14)
    np.testing.assert_allclose(grads[True][1], grads[False][1], rtol=1e-14)
    am.gradcheck(lambda h, w: am.checkpoint(block_factory([]))(h, w), x, w1)


def test_checkpoint_refuses_a_closed_over_parameter():
    w = am.Tensor(rng.standard_normal(3), requires_grad=True)
    x = am.Tensor(rng.standard_normal(3), requires_grad=True)
    out = am.checkpoint(lambda h: (h * w).sum())(x)
    with pytest.raises(am.GraphError, match="not an argument"):
        out.backward()


def test_second_derivatives_go_through_a_checkpoint():
    x, w = rng.standard_normal((2, 3)), rng.standard_normal((3, 3))
    am.gradgradcheck(lambda h, v: am.checkpoint(block_factory([]))(h, v), x, w)
    plain = am.hessian(lambda v: block_factory([])(am.Tensor(x), v).sum())(w)
    through = am.hessian(lambda v: am.checkpoint(block_factory([]))(am.Tensor(x), v).sum())(w)
    np.testing.assert_allclose(through, plain, rtol=1e-12, atol=1e-12)


def test_a_traced_step_through_checkpoints_replays_eager_numbers():
    x = am.Tensor(rng.standard_normal((4, 3)))
    w1, w2 = (am.Tensor(rng.standard_normal((3, 3)), requires_grad=True) for _ in range(2))
    block = am.checkpoint(lambda h, w: (h @ w).tanh())
    loss_fn = lambda a, b: block(block(x, a), b).sum()  # noqa: E731
    step = am.trace(loss_fn, [w1, w2])
    for _ in range(2):
        traced_loss = float(np.asarray(step()))
        traced = [w1.grad.copy(), w2.grad.copy()]
        w1.grad = w2.grad = None
        eager = loss_fn(w1, w2)
        eager.backward()
        assert traced_loss == eager.item()
        np.testing.assert_array_equal(traced[0], w1.grad)
        np.testing.assert_array_equal(traced[1], w2.grad)
        w1.grad = w2.grad = None
        w1.data = w1.data * 0.5
