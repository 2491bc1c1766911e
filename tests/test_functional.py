"""Function transforms (am.grad, value_and_grad, jacobian, hessian, hvp) against closed forms,
finite differences and each other; nesting; the NumPy/Tensor type rule; backward(create_graph)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import numeric_jacobian

import autograd_mini as am
from autograd_mini import transforms

rng = np.random.default_rng(0)


def value(f, x):
    """f evaluated as plain NumPy (f is written with Tensor methods)."""
    with am.no_grad():
        return f(am.Tensor(x)).data


# ---- closed forms ------------------------------------------------------------------------------

A = rng.standard_normal((4, 4))  # not symmetric, so A and A + A^T differ


def quadratic(x):
    return x @ (A @ x)


def test_gradient_of_quadratic_form_is_a_plus_a_transpose_times_x():
    x = rng.standard_normal(4)
    np.testing.assert_allclose(am.grad(quadratic)(x), (A + A.T) @ x, rtol=1e-12)


def test_hessian_of_quadratic_form_is_a_plus_a_transpose():
    h = am.hessian(quadratic)(rng.standard_normal(4))
    assert h.shape == (4, 4)
    np.testing.assert_allclose(h, A + A.T, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("lse", [
    lambda x: x.exp().sum().log(),                 # composed from exp, sum, log
    lambda x: (x - x.log_softmax()).mean(),         # through the log_softmax op's own VJP
], ids=["exp-sum-log", "log_softmax"])
def test_log_sum_exp_gradient_is_softmax_and_hessian_is_diag_p_minus_p_p_transpose(lse):
    x = rng.standard_normal(5)
    p = np.exp(x) / np.exp(x).sum()
    np.testing.assert_allclose(am.grad(lse)(x), p, rtol=1e-12)
    np.testing.assert_allclose(am.hessian(lse)(x), np.diag(p) - np.outer(p, p), atol=1e-13)


W = rng.standard_normal((3, 4))


def sum_sigmoid(w, x):
    return (w @ x).sigmoid().sum()


def test_gradient_and_hessian_of_sum_sigmoid_wx():
    x = rng.standard_normal(4)
    s = 1 / (1 + np.exp(-W @ x))
    ds, dds = s * (1 - s), s * (1 - s) * (1 - 2 * s)
    np.testing.assert_allclose(am.grad(sum_sigmoid, argnums=1)(W, x), W.T @ ds, rtol=1e-12)
    np.testing.assert_allclose(am.grad(sum_sigmoid, argnums=0)(W, x), np.outer(ds, x), rtol=1e-12)
    np.testing.assert_allclose(am.hessian(sum_sigmoid, argnums=1)(W, x), W.T @ np.diag(dds) @ W, atol=1e-13)


def test_jacobian_of_matrix_vector_product_is_the_matrix():
    np.testing.assert_allclose(am.jacobian(lambda x: A @ x)(rng.standard_normal(4)), A, rtol=0, atol=0)


def test_jacobian_of_matmul_with_respect_to_the_left_matrix():
    x, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 5))
    j = am.jacobian(lambda x: x @ b)(x)
    assert j.shape == (2, 5, 2, 3)
    expected = np.einsum("ip,qj->ijpq", np.eye(2), b)  # d(xb)[i,j] / dx[p,q] = [i=p] b[q,j]
    np.testing.assert_allclose(j, expected, atol=1e-15)


@pytest.mark.parametrize("f, derivative", [
    (lambda x: x.tanh(), lambda x: 1 - np.tanh(x) ** 2),
    (lambda x: x.sigmoid(), lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
    (lambda x: x.exp() * x, lambda x: np.exp(x) * (1 + x)),
    (lambda x: x.softplus(), lambda x: 1 / (1 + np.exp(-x))),
], ids=["tanh", "sigmoid", "x-exp", "softplus"])
def test_jacobian_of_elementwise_function_is_diagonal_with_out_shape_plus_in_shape(f, derivative):
    x = rng.standard_normal((2, 3))
    j = am.jacobian(f)(x)
    assert j.shape == (2, 3, 2, 3)
    expected = (np.eye(6) * derivative(x).ravel()).reshape(2, 3, 2, 3)
    np.testing.assert_allclose(j, expected, atol=1e-14)


# ---- finite differences --------------------------------------------------------------------------

def mlp_loss(x):
    """A scalar function with broadcasting, matmul, several ops, and a non-trivial Hessian."""
    h = (x.reshape(2, 3) @ W + np.array([0.1, -0.2, 0.3, 0.0])).tanh()
    return (h.softmax(axis=1) * np.arange(4.0)).sum() + (h * h).mean()


def test_grad_and_hessian_match_central_differences():
    x = rng.standard_normal(6)
    np.testing.assert_allclose(am.grad(mlp_loss)(x), numeric_jacobian(lambda z: value(mlp_loss, z), x),
                               atol=1e-8)
    h = am.hessian(mlp_loss)(x)
    np.testing.assert_allclose(h, numeric_jacobian(am.grad(mlp_loss), x), atol=1e-7)
    np.testing.assert_allclose(h, h.T, atol=1e-12)


def test_jacobian_of_vector_function_matches_central_differences():
    def f(x):
        return (W @ x.tanh()).softmax() * x[:3]
    x = rng.standard_normal(4)
    np.testing.assert_allclose(am.jacobian(f)(x), numeric_jacobian(lambda z: value(f, z), x), atol=1e-8)


def test_gradcheck_of_the_gradient_function_checks_its_graph():
    # am.grad(f) called on tensors that require grad returns a gradient with a graph;
    # gradcheck compares that graph's backward with finite differences of the gradient itself
    am.gradcheck(am.grad(mlp_loss), rng.standard_normal(6))
    # mixed second derivatives: the gradient in x, differentiated in both W and x
    am.gradcheck(lambda w, x: am.grad(sum_sigmoid, argnums=1)(w, x), W, rng.standard_normal(4))


def test_gradgradcheck_of_the_functions_used_here():
    am.gradgradcheck(mlp_loss, rng.standard_normal(6))
    am.gradgradcheck(sum_sigmoid, W, rng.standard_normal(4))


# ---- composition -------------------------------------------------------------------------------------

@pytest.mark.parametrize("x", [-1.5, -0.2, 0.0, 0.7, 2.0])
def test_second_derivative_of_tanh_by_grad_of_grad(x):
    t = np.tanh(x)
    np.testing.assert_allclose(am.grad(am.grad(lambda x: x.tanh()))(x), -2 * t * (1 - t * t), atol=1e-15)


def test_second_derivative_elementwise_by_grad_of_summed_grad():
    x = np.linspace(-2, 2, 7)
    d2 = am.grad(lambda x: am.grad(lambda y: y.tanh().sum())(x).sum())(x)
    t = np.tanh(x)
    np.testing.assert_allclose(d2, -2 * t * (1 - t * t), atol=1e-15)


def test_third_derivatives():
    d3 = am.grad(am.grad(am.grad(lambda x: x.tanh())))
    for x in (-0.8, 0.3, 1.1):
        t, s2 = np.tanh(x), 1 - np.tanh(x) ** 2
        np.testing.assert_allclose(d3(x), -2 * s2 * s2 + 4 * t * t * s2, rtol=1e-12)
    np.testing.assert_allclose(am.grad(am.grad(am.grad(lambda x: x ** 4)))(1.5), 24 * 1.5, rtol=1e-14)


def test_derivatives_of_a_polynomial_run_out_to_zero():
    f = lambda x: x ** 4  # noqa: E731
    d = f
    for expected in (4 * 8, 12 * 4, 24 * 2, 24, 0):
        d = am.grad(d)
        np.testing.assert_allclose(d(2.0), expected)


def test_nested_grad_does_not_confuse_the_outer_variable_with_the_inner_one():
    # d/dx [x * d/dy (x*y)] = d/dx x^2 = 2x; differentiating the inner x too would give 4x
    f = lambda x: x * am.grad(lambda y: x * y)(x)  # noqa: E731
    np.testing.assert_allclose(am.grad(f)(3.0), 6.0)


def test_inner_grad_at_numpy_point_keeps_the_graph_of_a_closed_over_tensor():
    x0 = np.array([1.0, -2.0, 0.5])

    def outer(w):  # d/dw sum(d/dx sum(w x^2)) = d/dw sum(2 w x) = 2 sum(x)
        inner = am.grad(lambda x: (w * x * x).sum())(x0)
        assert isinstance(inner, am.Tensor)  # it depends on w, so it cannot be returned as NumPy
        return inner.sum()
    np.testing.assert_allclose(am.grad(outer)(0.7), 2 * x0.sum())


def test_jacobian_of_grad_equals_hessian_and_composes_with_argnums():
    x, y = rng.standard_normal(3), rng.standard_normal(3)
    f = lambda x, y: (x * y * y).sum() + (x * x).sum() * y[0]  # noqa: E731
    h_xy = am.jacobian(am.grad(f, argnums=0), argnums=1)(x, y)  # d/dy of df/dx
    expected = np.diag(2 * y)
    expected[:, 0] += 2 * x
    np.testing.assert_allclose(h_xy, expected, atol=1e-14)


# ---- hvp ---------------------------------------------------------------------------------------------

def test_hvp_equals_hessian_times_vector():
    x, v = rng.standard_normal(6), rng.standard_normal(6)
    np.testing.assert_allclose(am.hvp(mlp_loss, x, v), am.hessian(mlp_loss)(x) @ v, atol=1e-13)


def test_hvp_of_matrix_argument_and_of_quadratic_form():
    x, v = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    f = lambda w: sum_sigmoid(w, np.arange(4.0))  # noqa: E731
    h = am.hessian(f)(x)
    assert h.shape == (3, 4, 3, 4)
    np.testing.assert_allclose(am.hvp(f, x, v), np.tensordot(h, v, axes=2), atol=1e-13)
    u, z = rng.standard_normal(4), rng.standard_normal(4)
    np.testing.assert_allclose(am.hvp(quadratic, z, u), (A + A.T) @ u, rtol=1e-12)


def test_hvp_with_several_arguments_gives_block_rows():
    w, x = rng.standard_normal((3, 4)), rng.standard_normal(4)
    vw, vx = rng.standard_normal((3, 4)), rng.standard_normal(4)
    hw, hx = am.hvp(sum_sigmoid, (w, x), (vw, vx))
    blocks = am.hessian(sum_sigmoid, argnums=(0, 1))(w, x)
    np.testing.assert_allclose(hw, np.tensordot(blocks[0][0], vw, 2) + np.tensordot(blocks[0][1], vx, 1),
                               atol=1e-13)
    np.testing.assert_allclose(hx, np.tensordot(blocks[1][0], vw, 2) + blocks[1][1] @ vx, atol=1e-13)


def test_hvp_never_forms_the_hessian(monkeypatch):
    calls = []
    original = transforms.gradients

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)
    monkeypatch.setattr(transforms, "gradients", counting)
    n = 500  # a Hessian would take n reverse passes; hvp takes two
    a = rng.standard_normal(n)
    out = am.hvp(lambda x: (x * x * a).sum() + x.tanh().sum(), rng.standard_normal(n), np.ones(n))
    assert out.shape == (n,)
    assert len(calls) == 2


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(0, 2 ** 31))
def test_hvp_and_hessian_agree_and_hessian_is_symmetric(n, seed):
    r = np.random.default_rng(seed)
    m, x, v = r.standard_normal((n, n)), r.standard_normal(n), r.standard_normal(n)
    f = lambda x: ((m @ x).tanh() * x).sum() + (x * x).sigmoid().sum()  # noqa: E731
    h = am.hessian(f)(x)
    np.testing.assert_allclose(h, h.T, atol=1e-12)
    np.testing.assert_allclose(am.hvp(f, x, v), h @ v, atol=1e-12)


# ---- argnums and value_and_grad ------------------------------------------------------------------

def product(x, y):
    return (x * y * y).sum()


def test_argnums_tuple_returns_a_tuple_in_the_order_asked():
    x, y = rng.standard_normal(3), rng.standard_normal(3)
    gx, gy = am.grad(product, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx, y * y)
    np.testing.assert_allclose(gy, 2 * x * y)
    gy2, gx2 = am.grad(product, argnums=(1, 0))(x, y)
    np.testing.assert_allclose(gy2, gy)
    np.testing.assert_allclose(gx2, gx)
    np.testing.assert_allclose(am.grad(product, argnums=-1)(x, y), gy)
    (g,) = am.grad(product, argnums=(1,))(x, y)
    np.testing.assert_allclose(g, gy)


def test_hessian_with_argnums_tuple_gives_all_blocks():
    x, y = rng.standard_normal(3), rng.standard_normal(3)
    (hxx, hxy), (hyx, hyy) = am.hessian(product, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(hxx, np.zeros((3, 3)))
    np.testing.assert_allclose(hxy, np.diag(2 * y))
    np.testing.assert_allclose(hyx, np.diag(2 * y))
    np.testing.assert_allclose(hyy, np.diag(2 * x))


def test_jacobian_of_tuple_output_nests_output_then_argument():
    x, y = rng.standard_normal(2), rng.standard_normal(3)
    (jax_, jay), (jbx, jby) = am.jacobian(lambda x, y: (x * 2.0, (y * x[0]).sum()), argnums=(0, 1))(x, y)
    assert (jax_.shape, jay.shape, jbx.shape, jby.shape) == ((2, 2), (2, 3), (2,), (3,))
    np.testing.assert_allclose(jax_, 2 * np.eye(2))
    np.testing.assert_allclose(jay, np.zeros((2, 3)))
    np.testing.assert_allclose(jbx, [y.sum(), 0.0])
    np.testing.assert_allclose(jby, np.full(3, x[0]))


def test_value_and_grad_gives_the_value_of_the_same_pass():
    x, y = rng.standard_normal(3), rng.standard_normal(3)
    v, (gx, gy) = am.value_and_grad(product, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(v, np.sum(x * y * y))
    np.testing.assert_allclose(gx, y * y)
    np.testing.assert_allclose(gy, 2 * x * y)
    v, g = am.value_and_grad(quadratic)(x := rng.standard_normal(4))
    np.testing.assert_allclose(v, x @ A @ x)
    np.testing.assert_allclose(g, (A + A.T) @ x)


def test_keyword_arguments_pass_through_undifferentiated():
    f = lambda x, scale=1.0: (x * x).sum() * scale  # noqa: E731
    np.testing.assert_allclose(am.grad(f)(np.array([1.0, 2.0]), scale=3.0), [6.0, 12.0])


# ---- types and graph rules ----------------------------------------------------------------------

def test_numpy_in_numpy_out_and_tensor_in_tensor_out():
    x = np.array([0.5, -1.0])
    f = lambda x: x.tanh().sum()  # noqa: E731
    for transform in (am.grad(f), am.hessian(f), am.jacobian(lambda x: x.tanh()), lambda x: am.hvp(f, x, x)):
        assert type(transform(x)) is np.ndarray
        assert type(transform(2.0)) is np.ndarray  # Python numbers count as NumPy
        out = transform(am.Tensor(x))
        assert isinstance(out, am.Tensor) and not out.requires_grad
    v, g = am.value_and_grad(f)(x)
    assert type(v) is np.ndarray and v.shape == () and type(g) is np.ndarray
    v, g = am.value_and_grad(f)(am.Tensor(x))
    assert isinstance(v, am.Tensor) and not v.requires_grad and isinstance(g, am.Tensor)


def test_tensor_that_requires_grad_gets_a_gradient_with_a_graph():
    w = am.Tensor(rng.standard_normal(6), requires_grad=True)
    g = am.grad(mlp_loss)(w)
    assert isinstance(g, am.Tensor) and g.requires_grad
    g.sum().backward()
    np.testing.assert_allclose(w.grad, am.hessian(mlp_loss)(w.data) @ np.ones(6), atol=1e-13)


def test_under_no_grad_transforms_still_work_but_return_no_graph():
    w = am.Tensor(rng.standard_normal(4), requires_grad=True)
    with am.no_grad():
        g = am.grad(quadratic)(w)
        h = am.hessian(quadratic)(w)
    assert not g.requires_grad and not h.requires_grad
    np.testing.assert_allclose(g.data, (A + A.T) @ w.data)
    np.testing.assert_allclose(h.data, A + A.T, atol=1e-12)


def test_transforms_leave_the_callers_graph_and_grads_alone():
    w = am.Tensor(rng.standard_normal(4), requires_grad=True)
    z = w * 2.0
    am.grad(quadratic)(z)
    am.hessian(quadratic)(z)
    assert w.grad is None
    (z * z).sum().backward()  # the caller's graph through z was not freed
    np.testing.assert_allclose(w.grad, 8 * w.data)


def test_function_that_ignores_its_input_has_zero_gradient():
    np.testing.assert_array_equal(am.grad(lambda x: am.Tensor(3.0))(np.ones(2)), np.zeros(2))
    np.testing.assert_array_equal(am.hessian(lambda x: x.sum())(np.ones(2)), np.zeros((2, 2)))


def test_grad_of_non_scalar_function_is_refused_with_a_pointer_to_jacobian():
    with pytest.raises(am.ShapeError, match="jacobian"):
        am.grad(lambda x: x * 2.0)(np.ones(3))
    with pytest.raises(ValueError, match="argnums"):
        am.grad(product, argnums=2)(np.ones(2), np.ones(2))


def test_top_level_names():
    assert am.grad is transforms.grad
    assert am.autograd.grad is transforms.gradients  # torch's spelling stays reachable


# ---- Tensor.backward(create_graph=True) and engine regressions --------------------------------------

def test_backward_with_create_graph_fills_numpy_grad_and_keeps_the_graph():
    x = am.Tensor([0.3, -1.2], requires_grad=True)
    y = (x.tanh() * x).sum()
    y.backward(create_graph=True)
    assert type(x.grad) is np.ndarray
    first = np.tanh(x.data) + x.data * (1 - np.tanh(x.data) ** 2)
    np.testing.assert_allclose(x.grad, first, rtol=1e-14)
    # the graph was kept: higher derivatives of it go through am.autograd.grad ...
    (g,) = am.autograd.grad(y, x, create_graph=True)
    (gg,) = am.autograd.grad(g.sum(), x, retain_graph=True)
    t = np.tanh(x.data)
    np.testing.assert_allclose(gg.data, 2 * (1 - t * t) - 2 * x.data * t * (1 - t * t), rtol=1e-13)
    y.backward()  # ... and another plain pass works and accumulates
    np.testing.assert_allclose(x.grad, 2 * first, rtol=1e-14)


def test_backward_without_create_graph_frees_the_graph():
    x = am.Tensor([0.3, -1.2], requires_grad=True)
    y = (x.tanh() * x).sum()
    y.backward()
    with pytest.raises(am.GraphError, match="retain_graph"):
        y.backward()


def test_zero_dimensional_gradients_add_up_from_every_path():
    # a 0-d sum is a NumPy scalar; adding into it "in place" once lost every path after the second
    x = am.Tensor(2.0, requires_grad=True)
    (x * x + x * x + x).backward()
    assert x.grad == 4 * 2.0 + 1
    np.testing.assert_allclose(am.Tensor(0.0).sigmoid().data, 0.5)
