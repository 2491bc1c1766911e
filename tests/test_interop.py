"""NumPy's own functions on Tensors run our ops (the gradient is kept) or refuse clearly.

Every entry of the dispatch tables is exercised: the NumPy call on a Tensor must give a Tensor on
the graph whose value is NumPy's own answer on the array, and whose gradient is the gradient of the
am. spelling of the same function (checked against finite differences by gradcheck).
"""
from __future__ import annotations

import numpy as np
import pytest

import autograd_mini as am
from autograd_mini import interop

pytestmark = pytest.mark.filterwarnings("error")

rng = np.random.default_rng(3)
X = rng.uniform(0.2, 0.9, (3, 4))  # inside every unary op's domain (arcsin, log, ...)
Y = rng.uniform(0.2, 0.9, (3, 4))

UFUNC_CALLS = {ufunc.__name__: ufunc for ufunc in interop._UFUNCS}
UNARY_NAMES = [n for n, u in UFUNC_CALLS.items() if u.nin == 1]
BINARY_NAMES = [n for n, u in UFUNC_CALLS.items() if u.nin == 2 and n != "matmul"]


@pytest.mark.parametrize("name", UNARY_NAMES)
def test_unary_ufunc_on_a_tensor_is_our_op(name):
    ufunc = UFUNC_CALLS[name]
    x = X + 1 if name == "arccosh" else X  # (its domain is x >= 1)
    y = ufunc(am.Tensor(x, requires_grad=True))
    assert isinstance(y, am.Tensor) and y.requires_grad
    np.testing.assert_allclose(y.data, ufunc(x), rtol=1e-14)
    am.gradcheck(lambda t: ufunc(t), x)


@pytest.mark.parametrize("name", BINARY_NAMES)
def test_binary_ufunc_with_a_tensor_on_either_side_is_our_op(name):
    ufunc = UFUNC_CALLS[name]
    for left, right in ((am.Tensor(X, requires_grad=True), Y), (X, am.Tensor(Y, requires_grad=True)),
                        (am.Tensor(X, requires_grad=True), 0.5)):
        y = ufunc(left, right)
        assert isinstance(y, am.Tensor) and y.requires_grad
        np.testing.assert_allclose(y.data, ufunc(getattr(left, "data", left), getattr(right, "data", right)),
                                   rtol=1e-13)
    am.gradcheck(lambda a, b: ufunc(a, b), X, Y)


def test_ndarray_operators_on_the_left_give_tensors():
    t = am.Tensor(Y, requires_grad=True)
    for y in (X + t, X - t, X * t, X / t, X ** t, X[:, :3] @ t[:3]):
        assert isinstance(y, am.Tensor) and y.requires_grad


FUNCTION_CALLS = [
    (np.sum, {}), (np.sum, {"axis": 0, "keepdims": True}), (np.mean, {"axis": 1}), (np.max, {"axis": 0}),
    (np.amax, {}), (np.min, {}), (np.amin, {"axis": 1}), (np.prod, {"axis": 1}), (np.var, {"ddof": 1}),
    (np.std, {"axis": 0}), (np.cumsum, {"axis": 1}), (np.reshape, {"shape": (4, 3)}), (np.transpose, {}),
    (np.swapaxes, {"axis1": 0, "axis2": 1}), (np.moveaxis, {"source": 0, "destination": 1}),
    (np.squeeze, {}), (np.expand_dims, {"axis": 1}), (np.ravel, {}), (np.flip, {"axis": 1}),
    (np.repeat, {"repeats": 2, "axis": 0}), (np.tile, {"reps": (2, 1)}), (np.pad, {"pad_width": 1}),
    (np.roll, {"shift": 1, "axis": 1}), (np.clip, {"a_min": 0.3, "a_max": 0.6}),
    (np.broadcast_to, {"shape": (2, 3, 4)}), (np.linalg.norm, {}), (np.linalg.norm, {"axis": 1}),
]


@pytest.mark.parametrize("func, kwargs", FUNCTION_CALLS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_numpy_function_on_a_tensor_is_our_op(func, kwargs):
    y = func(am.Tensor(X, requires_grad=True), **kwargs)
    assert isinstance(y, am.Tensor) and y.requires_grad
    np.testing.assert_allclose(y.data, func(X, **kwargs), rtol=1e-13)
    am.gradcheck(lambda t: func(t, **kwargs), X)


def test_numpy_functions_of_several_tensors():
    a, b = am.Tensor(X, requires_grad=True), am.Tensor(Y, requires_grad=True)
    for y, expected in ((np.concatenate([a, Y]), np.concatenate([X, Y])),
                        (np.stack([X, b], axis=1), np.stack([X, Y], 1)),
                        (np.where(X > 0.5, a, b), np.where(X > 0.5, X, Y)), (np.einsum("ij,ij->i", a, b),
                                                                            np.einsum("ij,ij->i", X, Y)),
                        (np.dot(a, b.T), X @ Y.T), (np.tensordot(a, b, 2), np.tensordot(X, Y, 2)),
                        (np.outer(a[0], b[1]), np.outer(X[0], Y[1])), (np.split(a, 2, axis=1)[1], X[:, 2:])):
        assert isinstance(y, am.Tensor) and y.requires_grad
        np.testing.assert_allclose(y.data, expected, rtol=1e-13)


def test_value_questions_run_on_the_values():
    t = am.Tensor(X, requires_grad=True)
    assert np.shape(t) == (3, 4) and np.ndim(t) == 2 and np.size(t) == 12
    assert np.allclose(t, X) and np.array_equal(t, X) and np.isclose(t, X).all()
    assert np.argmax(t) == np.argmax(X) and np.all(np.isfinite(t)) and not np.any(np.isnan(t))
    assert type(t > 0.5) is am.Tensor and not (t > 0.5).requires_grad  # a mask made by an op (no gradient)
    assert type(np.zeros_like(t)) is am.Tensor and not np.zeros_like(t).requires_grad  # a buffer to fill in place
    np.testing.assert_array_equal(np.asarray(np.greater(X, t)), X > X)


@pytest.mark.parametrize("call, words", [
    (lambda t: np.nancumprod(t), "np.nancumprod"),
    (lambda t: np.percentile(t, 30), "no differentiable version"),
    (lambda t: np.sinc(t), "np.sinc"),
    (lambda t: np.exp(t, out=np.empty((3, 4))), "out="),
    (lambda t: np.sum(t, out=np.empty(())), "out="),
    (lambda t: np.add.outer(t, t), "np.add.outer"),
    (lambda t: np.sum(t, dtype=np.float32), "does not take these arguments"),
])
def test_unsupported_numpy_calls_refuse_with_a_clear_type_error(call, words):
    with pytest.raises(TypeError, match=words.replace(".", r"\.")):
        call(am.Tensor(X, requires_grad=True))


def test_in_place_ndarray_update_by_a_tensor_is_refused():
    a = np.ones((3, 4))
    with pytest.raises(TypeError, match="out="):
        a += am.Tensor(X, requires_grad=True)


def test_a_refusal_names_the_am_function_when_one_exists():
    """np.logsumexp does not exist, but scipy-style names we have are suggested: am.<name>."""
    assert "am.sqrt" in interop._am_name("sqrt") and "no differentiable" in interop._am_name("nancumprod")


def test_asarray_and_numpy_testing_read_the_values_of_a_tensor_without_grad():
    """A tensor that needs no grad converts implicitly (nothing to lose); one that requires grad says
    so explicitly (t.numpy(), t.data), as torch's numpy() of a tensor that requires grad."""
    np.testing.assert_array_equal(np.asarray(am.Tensor(X)), X)
    np.testing.assert_allclose(am.Tensor(X), X)
    t = am.Tensor(X, requires_grad=True)
    np.testing.assert_allclose(t.numpy(), X)
    np.testing.assert_allclose(np.exp(t).data, np.exp(X))


def test_a_function_written_with_numpy_is_differentiated_as_in_hips_autograd():
    """f written with np.* only (no am.): grad, hessian and gradcheck go through the dispatch."""
    def f(w):
        hidden = np.tanh(np.dot(X, w))
        return np.mean(np.maximum(hidden, 0.0) ** 2) + np.linalg.norm(w) + np.sum(np.exp(-w * w))

    w = rng.standard_normal(4)
    am.gradcheck(f, w)
    am.gradgradcheck(f, w)
    h = am.hessian(f)(w)
    np.testing.assert_allclose(h, h.T, atol=1e-12)


@pytest.mark.parametrize("ufunc", [np.add, np.maximum, np.minimum, np.multiply])
def test_ufunc_reduce_defaults_to_axis_0_like_numpy(ufunc):
    """np.add.reduce(t) reduces axis 0, as NumPy does (np.sum reduces everything): same values, same
    shape, and a gradient that matches finite differences."""
    x = np.arange(1.0, 7.0).reshape(2, 3)
    t = am.Tensor(x, requires_grad=True)
    out = ufunc.reduce(t)
    assert isinstance(out, am.Tensor) and np.array_equal(out.data, ufunc.reduce(x))
    assert np.array_equal(ufunc.reduce(t, axis=1, keepdims=True).data, ufunc.reduce(x, axis=1, keepdims=True))
    assert am.gradcheck(lambda a: (ufunc.reduce(a) * np.array([1.0, 2.0, 3.0])).sum(), x).passed
