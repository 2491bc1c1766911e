"""The engine's ops at their edges: Python's abs, astype's copy, checkpoint with a repeated argument,
linear algebra at singular matrices and with bad shapes, element-wise functions at extreme inputs,
and writes into non-leaf tensors; each against float64 central differences or PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_mini as am

rng = np.random.default_rng(11)


# ---- abs(t) ------------------------------------------------------------------------------------

def test_python_abs_records_the_abs_op():
    x = am.Tensor(np.array([-1.5, 0.0, 2.0]), requires_grad=True)
    y = abs(x)
    assert y.op_name == "abs"
    np.testing.assert_array_equal(y.numpy(), [1.5, 0.0, 2.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, 0.0, 1.0])  # torch's: sign(x), 0 at 0


# ---- astype copies -----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, bool])
def test_astype_returns_a_copy_that_changes_independently(dtype):
    x = am.Tensor(np.array([1.0, 2.0, 0.0]))
    y = x.astype(dtype)
    y[...] = 0
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0, 0.0])
    assert y is not x


def test_astype_to_the_same_dtype_passes_the_gradient_and_copy_false_is_x():
    x = am.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x.astype(np.float64) * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    assert x.astype(np.float64, copy=False) is x


# ---- checkpoint with one tensor at two positions -------------------------------------------------

def _product_sine(a, b):
    return (a * b).sin()


def test_checkpoint_counts_a_repeated_argument_once_in_first_and_second_order():
    x0 = np.array([0.3, 0.7, -1.1])
    plain = am.hessian(lambda x: _product_sine(x, x).sum())(x0)
    checkpointed = am.hessian(lambda x: am.checkpoint(_product_sine)(x, x).sum())(x0)
    np.testing.assert_allclose(checkpointed, plain, rtol=1e-14)
    np.testing.assert_allclose(np.diag(plain), 2 * np.cos(x0 ** 2) - 4 * x0 ** 2 * np.sin(x0 ** 2), rtol=1e-12)
    x = am.Tensor(x0, requires_grad=True)
    am.checkpoint(_product_sine)(x, x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x0 * np.cos(x0 ** 2), rtol=1e-14)


# ---- linear algebra: bad shapes and singular matrices ---------------------------------------------

def _t(*shape):
    return am.Tensor(rng.standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("call, words", [
    (lambda: am.solve(_t(2, 3), _t(2)), ["solve", "(2, 3)", "square"]),
    (lambda: am.solve(_t(2, 3, 3), _t(4, 3, 1)), ["solve", "(2, 3, 3)", "(4, 3, 1)", "batch axes (2,)", "(4,)"]),
    (lambda: am.solve(_t(3, 3), _t(4)), ["solve", "(3, 3)", "(4,)", "vector of length 3"]),
    (lambda: am.solve(_t(3, 3), _t(2, 3)), ["solve", "(2, 3)", "(..., 3, k)"]),
    (lambda: am.solve(_t(2, 3, 3), _t(2, 3)), ["solve", "(2, 3, 3)", "(2, 3)", "b[..., None]"]),
    (lambda: am.inv(_t(2, 3)), ["inv", "(2, 3)", "square"]),
    (lambda: am.inv(_t(3)), ["inv", "(3,)", "square"]),
    (lambda: am.det(_t(3)), ["det", "(3,)", "square"]),
    (lambda: am.det(_t(2, 3)), ["det", "(2, 3)", "square"]),
    (lambda: am.matmul(_t(), _t(3)), ["matmul", "()", "at least 1-D"]),
    (lambda: _t(2, 3) @ _t(4, 2), ["matmul", "(2, 3)", "(4, 2)", "inner dimensions"]),
    (lambda: _t(2, 2, 3) @ _t(3, 3, 2), ["matmul", "batch"]),
    (lambda: _t(3) @ _t(4), ["matmul", "(3,)", "(4,)", "only axis"]),
])
def test_linear_algebra_names_the_op_the_shapes_and_the_rule(call, words):
    with pytest.raises(am.ShapeError) as caught:
        call()
    for word in words:
        assert word in str(caught.value), (word, str(caught.value))


@pytest.mark.parametrize("call", [lambda a: am.inv(a), lambda a: am.solve(a, am.Tensor(np.ones(3))),
                                  lambda a: np.linalg.inv(a)])
def test_a_singular_matrix_is_refused_as_numpys_linalg_error_naming_the_op(call):
    singular = am.Tensor(np.ones((3, 3)))
    with pytest.raises(np.linalg.LinAlgError, match=r"(inv|solve): inputs of shape \(3, 3\).*singular"):
        call(singular)
    with pytest.raises(am.LinAlgError):
        call(singular)


def test_a_non_square_matrix_is_numpys_linalg_error_too():
    with pytest.raises(np.linalg.LinAlgError, match="square"):
        am.inv(_t(2, 3))


# ---- det: NumPy's value, and its gradient where the matrix has no inverse ----------------------------

def _central(f, a, eps=1e-6):
    """Central differences of f (array -> array) at a, of shape f(a).shape + a.shape."""
    columns = []
    for index in np.ndindex(a.shape):
        plus, minus = a.copy(), a.copy()
        plus[index] += eps
        minus[index] -= eps
        columns.append((np.asarray(f(plus)) - np.asarray(f(minus))) / (2 * eps))
    return np.moveaxis(np.array(columns), 0, -1).reshape(np.shape(f(a)) + a.shape)


SINGULAR = {
    "rank 2 of 3": np.array([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]]),
    "repeated row": np.array([[1.0, 2, 3], [2, 4, 6], [0, 1, 5]]),
    "rank 1": np.outer([1.0, 2, 3], [4.0, 5, 6]),
    "zero": np.zeros((3, 3)),
    "one zero pivot": np.diag([0.0, 2.0, 3.0]),
    "2x2 exactly singular": np.array([[1.0, 2], [2, 4]]),
    "batch with a singular one": np.stack([np.array([[1.0, 2], [2, 4]]), np.array([[2.0, 1], [1, 3]])]),
}


@pytest.mark.parametrize("name", SINGULAR)
def test_det_gradient_and_hessian_at_singular_matrices_match_central_differences(name):
    a = SINGULAR[name]
    total_det = lambda m: am.det(m).sum()  # noqa: E731
    gradient = am.grad(total_det)(a)
    np.testing.assert_allclose(gradient, _central(lambda m: np.linalg.det(m).sum(), a), atol=1e-8)
    hessian = np.asarray(am.hessian(total_det)(a)).reshape(a.shape + a.shape)
    np.testing.assert_allclose(hessian, _central(lambda m: am.grad(total_det)(m), a), atol=1e-7)
    # the adjugate, transposed: on the rank-2 matrix it is not 0 (a VJP through inv would give NaN or 0)
    if name == "rank 2 of 3":
        np.testing.assert_allclose(gradient, [[-3, 6, -3], [6, -12, 6], [-3, 6, -3]], atol=1e-12)


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 4, 4), (2, 1, 3, 3)])
def test_det_forward_is_numpys_bit_for_bit_and_its_derivatives_are_torchs(shape):
    torch = pytest.importorskip("torch")
    a = rng.standard_normal(shape)
    np.testing.assert_array_equal(am.det(am.Tensor(a)).numpy(), np.linalg.det(a))
    weights = rng.standard_normal(shape[:-2])

    def weighted(m):
        return (am.det(m) * weights).sum()
    reference = torch.tensor(a, requires_grad=True)
    (torch.linalg.det(reference) * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(am.grad(weighted)(a), reference.grad.numpy(), rtol=1e-10, atol=1e-12)
    if len(shape) == 2:
        hessian = torch.autograd.functional.hessian(lambda m: torch.linalg.det(m) * float(weights),
                                                    torch.tensor(a)).numpy()
        np.testing.assert_allclose(np.asarray(am.hessian(weighted)(a)).reshape(hessian.shape), hessian,
                                   rtol=1e-9, atol=1e-12)


# ---- element-wise functions at extreme inputs: torch's numbers, first and second order ---------------

EXTREMES = [1e300, -1e300, np.inf, -np.inf, 0.0, -0.0, 1e-300, -1e-300, 50.0, -50.0, 800.0, -800.0, 1.0, -1.0]
UNARY = {  # ours, torch's (by name in torch / torch.nn.functional)
    "elu": (lambda t: am.elu(t), ("nn.functional.elu", {})),
    "elu alpha 2": (lambda t: am.elu(t, 2.0), ("nn.functional.elu", {"alpha": 2.0})),
    "gelu": (am.gelu, ("nn.functional.gelu", {})),
    "gelu tanh": (lambda t: am.gelu(t, "tanh"), ("nn.functional.gelu", {"approximate": "tanh"})),
    "expm1": (am.expm1, ("expm1", {})), "log1p": (am.log1p, ("log1p", {})),
    "softplus": (am.softplus, ("nn.functional.softplus", {})),
    "logsigmoid": (am.logsigmoid, ("nn.functional.logsigmoid", {})),
    "sigmoid": (am.sigmoid, ("sigmoid", {})), "tanh": (am.tanh, ("tanh", {})), "exp": (am.exp, ("exp", {})),
    "sinh": (am.sinh, ("sinh", {})), "cosh": (am.cosh, ("cosh", {})), "arcsinh": (am.arcsinh, ("asinh", {})),
    "arctan": (am.arctan, ("atan", {})), "erf": (am.erf, ("erf", {})), "exp2": (am.exp2, ("exp2", {})),
}


def _torch_function(torch, dotted):
    target = torch
    for part in dotted.split("."):
        target = getattr(target, part)
    return target


def _first_and_second(f, value):
    x = am.Tensor(np.array(value), requires_grad=True)
    y = f(x)
    (slope,) = am.autograd.grad([y], [x], create_graph=True)
    (curvature,) = am.autograd.grad([slope], [x], allow_unused=True)
    return y.item(), slope.item(), 0.0 if curvature is None else float(np.asarray(curvature))


@pytest.mark.parametrize("name", UNARY)
def test_unary_functions_at_extreme_inputs_give_torchs_numbers_in_first_and_second_order(name):
    torch = pytest.importorskip("torch")
    ours, (torch_name, keywords) = UNARY[name]
    reference = _torch_function(torch, torch_name)
    for value in EXTREMES:
        x = torch.tensor(value, dtype=torch.float64, requires_grad=True)
        y = reference(x, **keywords)
        (slope,) = torch.autograd.grad(y, x, create_graph=True)
        curvature = torch.autograd.grad(slope, x)[0].item() if slope.requires_grad else 0.0
        with np.errstate(all="ignore"):  # (the warnings are the next test's subject)
            got = _first_and_second(ours, value)
        for order, (mine, theirs) in enumerate(zip(got, (y.item(), slope.item(), curvature))):
            if np.isfinite(theirs):  # where torch overflows to NaN, ours may be a number (gelu'' at 1e300 is 0)
                assert mine == pytest.approx(theirs, rel=1e-9, abs=1e-20), (name, value, order, got)


def test_elu_at_infinity_and_far_below_zero_is_torchs_without_a_warning():
    with np.errstate(all="raise"):
        assert _first_and_second(am.elu, np.inf) == (np.inf, 1.0, 0.0)  # the unused e^x branch gave 0 * inf = NaN
        value, slope, curvature = _first_and_second(lambda t: am.elu(t, 2.0), -50.0)
    assert value == -2.0
    assert slope == pytest.approx(2 * np.exp(-50.0), rel=1e-14)  # ans + alpha rounded this to 0
    assert curvature == pytest.approx(2 * np.exp(-50.0), rel=1e-14)


@pytest.mark.parametrize("y, x", [(1e300, 1e300), (1e300, 1.0), (-1e300, 3e299), (1e-300, 0.0), (1e-300, 1e-300),
                                  (3e-200, -4e-200), (0.0, 0.0), (-0.0, 0.0), (1e200, 1.0)])
def test_arctan2_gradient_neither_overflows_nor_underflows(y, x):
    from fractions import Fraction
    ty, tx = am.Tensor(np.array(y), requires_grad=True), am.Tensor(np.array(x), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # (underflow to 0 is silent in NumPy too)
        am.arctan2(ty, tx).backward()
    if y == 0 and x == 0:
        assert (ty.grad, tx.grad) == (0.0, 0.0)  # torch's at the origin
        return
    r2 = Fraction(x) ** 2 + Fraction(y) ** 2  # exact: x / r^2 and -y / r^2 in rationals, then rounded
    np.testing.assert_allclose([ty.grad, tx.grad], [float(Fraction(x) / r2), float(-Fraction(y) / r2)], rtol=1e-14)


def test_arctan2_first_and_second_order_match_torch_and_central_differences_on_ordinary_points():
    torch = pytest.importorskip("torch")
    y, x = rng.standard_normal(6), rng.standard_normal(6)
    am.gradgradcheck(am.arctan2, y, x)
    ty, tx = torch.tensor(y, requires_grad=True), torch.tensor(x, requires_grad=True)
    gy, gx = torch.autograd.grad(torch.atan2(ty, tx).sum(), [ty, tx], create_graph=True)
    hy, hx = torch.autograd.grad((gy * gx).sum(), [ty, tx])
    ours_y, ours_x = am.Tensor(y, requires_grad=True), am.Tensor(x, requires_grad=True)
    ay, ax = am.autograd.grad([am.arctan2(ours_y, ours_x).sum()], [ours_y, ours_x], create_graph=True)
    by, bx = am.autograd.grad([(ay * ax).sum()], [ours_y, ours_x])
    np.testing.assert_allclose(np.asarray(ay.numpy()), gy.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(by), hy.numpy(), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(bx), hx.numpy(), rtol=1e-10)


@pytest.mark.parametrize("base", [0.0, -0.0])
@pytest.mark.parametrize("exponent", [-2.0, -1e300, -np.inf])
def test_power_exponent_gradient_at_a_zero_base_and_negative_exponent_is_minus_infinity(base, exponent):
    x, y = am.Tensor(np.array(base), requires_grad=True), am.Tensor(np.array(exponent), requires_grad=True)
    with np.errstate(all="ignore"):
        am.power(x, y).backward()
    assert y.grad == -np.inf  # 0^y log 0 for y < 0: inf * -inf, torch's (it was inf * 0 = NaN)


@pytest.mark.parametrize("value", [1e300, -1e300, 1e160, np.inf, -np.inf, 27.9, -28.1])
def test_erf_and_gelu_gradients_far_out_raise_no_overflow(value):
    with np.errstate(over="raise", invalid="raise"):
        _, slope, curvature = _first_and_second(am.erf, value)
        far = abs(value) > 30  # e^(-x^2) is 0 in float64 from |x| = 27.3
        exact = 0.0 if far else 2 / np.sqrt(np.pi) * np.exp(-value * value)
        assert slope == pytest.approx(exact, rel=1e-14, abs=0.0)
        assert curvature == pytest.approx(0.0 if far else -2 * value * exact, rel=1e-14, abs=0.0)
        if far and np.isfinite(value):
            assert _first_and_second(am.gelu, value)[1:] == ((1.0, 0.0) if value > 0 else (0.0, 0.0))


# ---- writes into tensors: recorded ops on non-leaves, refused on leaves that require grad -------------

def _write_programs(lib, w, t, labels):
    """Three course idioms of writing into an intermediate, in NumPy/torch spelling (`lib` is am or torch)."""
    h = w * 1.5 - 0.5
    h[h < 0] = 0  # relu by mask
    probs = lib.exp(h) / lib.exp(h).sum(1, keepdims=True) if lib is am else h.softmax(1).clone()  # (torch saved it)
    probs[range(len(labels)), labels] -= 1  # softmax-minus-one-hot
    x = h * probs
    x[:, 0] = t  # a column from another tensor
    return (x * x).sum() + (probs * w).sum()


def test_masked_and_indexed_writes_into_intermediates_match_torch():
    torch = pytest.importorskip("torch")
    w0, t0, labels = rng.standard_normal((4, 3)), rng.standard_normal(4), np.array([2, 0, 1, 2])
    w, t = am.Tensor(w0, requires_grad=True), am.Tensor(t0, requires_grad=True)
    _write_programs(am, w, t, labels).backward()
    tw, tt = torch.tensor(w0, requires_grad=True), torch.tensor(t0, requires_grad=True)
    _write_programs(torch, tw, tt, torch.tensor(labels)).backward()
    np.testing.assert_allclose(w.grad, tw.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(t.grad, tt.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_a_write_after_a_use_keeps_the_value_that_use_saw():
    # torch refuses `y = h * h; h[0] = 5; y.backward()` (h was saved); here the write makes h a new node
    # and y's VJP keeps the values it was computed from, so the gradient is the one of the program as run
    w0 = rng.standard_normal(3)
    w = am.Tensor(w0, requires_grad=True)
    h = w * 2
    y = (h * h).sum()
    h[0] = 5.0
    (y + h.sum()).backward()
    np.testing.assert_allclose(w.grad, 8 * w0 + np.array([0.0, 2.0, 2.0]), rtol=1e-14)


@pytest.mark.parametrize("write", [lambda w: w.__setitem__(0, 1.0), lambda w: w.__setitem__(w > 0, 0.0),
                                   lambda w: w.__iadd__(1.0)])
def test_a_write_into_a_leaf_that_requires_grad_is_refused(write):
    w = am.Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True, name="w")
    with pytest.raises(am.GraphError, match="leaf that requires grad"):
        write(w)
    np.testing.assert_array_equal(w.numpy(), [1.0, -2.0, 3.0])
    with am.no_grad():  # an optimizer's update
        write(w)


@pytest.mark.parametrize("a", [rng.standard_normal((4, 4)), SINGULAR["rank 2 of 3"], rng.standard_normal((2, 3, 3))])
def test_det_gradient_is_the_same_bits_in_an_ordinary_and_a_recorded_backward(a):
    x = am.Tensor(a, requires_grad=True)
    am.det(x).sum().backward()
    (recorded,) = am.autograd.grad([am.det(x).sum()], [x], create_graph=True)
    np.testing.assert_array_equal(recorded.numpy(), x.grad)  # one op, `cofactors`, computes both


def test_det_third_derivative_matches_central_differences_of_the_second():
    a = rng.standard_normal((3, 3))
    second = lambda m: np.asarray(am.hessian(lambda t: am.det(t))(m))  # noqa: E731
    x = am.Tensor(a, requires_grad=True)
    (g,) = am.autograd.grad([am.det(x)], [x], create_graph=True)
    direction = rng.standard_normal((3, 3))
    (h,) = am.autograd.grad([(g * direction).sum()], [x], create_graph=True)
    (third,) = am.autograd.grad([(h * direction).sum()], [x])
    numeric = _central(lambda m: np.tensordot(np.tensordot(second(m), direction, 2), direction, 2), a)
    np.testing.assert_allclose(np.asarray(third), numeric, atol=1e-7)


def test_det_keeps_float32_in_every_order():
    a = (rng.standard_normal((3, 3)) + 2 * np.eye(3)).astype(np.float32)
    assert am.grad(lambda t: am.det(t))(a).dtype == np.float32
    assert np.asarray(am.hessian(lambda t: am.det(t))(a)).dtype == np.float32


# ---- Python's operators on Tensors: //, divmod, round, & | ^ ~ on masks, format -----------------------

def test_floor_division_divmod_and_round_are_numpys_with_zero_gradient():
    values = np.array([1.0, -2.5, 7.25, 0.3])
    x = am.Tensor(values, requires_grad=True)
    np.testing.assert_array_equal((x // 0.1).numpy(), values // 0.1)  # NumPy's exact floor division
    np.testing.assert_array_equal((3.0 // x).numpy(), 3.0 // values)
    quotient, remainder = divmod(x, 2.0)
    np.testing.assert_array_equal([quotient.numpy(), remainder.numpy()], divmod(values, 2.0))
    np.testing.assert_array_equal(round(x, 1).numpy(), np.round(values, 1))
    (x // 2.0 + round(x) + x).sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones(4))


def test_masks_combine_with_and_or_xor_not_and_other_tensors_are_refused():
    values = np.array([-2.0, -0.5, 0.5, 2.0])
    x = am.Tensor(values, requires_grad=True)
    inside = (x > -1) & (x < 1)
    assert not inside.requires_grad
    np.testing.assert_array_equal(x[inside].numpy(), values[(values > -1) & (values < 1)])  # indexes as a mask
    np.testing.assert_array_equal(np.asarray(((x < -1) | (x > 1)).numpy()), [1, 0, 0, 1])
    np.testing.assert_array_equal(np.asarray(((x > 0) ^ (x > 1)).numpy()), [0, 0, 1, 0])
    np.testing.assert_array_equal(np.asarray((~(x > 0)).numpy()), [1, 1, 0, 0])
    np.testing.assert_array_equal(np.asarray((np.array([True, False, True, True]) & (x > 0)).numpy()), [0, 0, 1, 1])
    am.where(inside, x * 3, x).sum().backward()
    np.testing.assert_array_equal(x.grad, [1, 3, 3, 1])
    with pytest.raises(TypeError, match=r"logical_and: combines masks .* shape \(4,\)"):
        x & (x > 0)


def test_a_one_element_tensor_formats_as_its_number():
    loss = am.Tensor(np.array(0.123456), requires_grad=True) * 2
    assert f"{loss:.3f}" == "0.247" and f"{am.Tensor([3.0]):g}" == "3"
    assert f"{loss}" == str(loss)
    with pytest.raises(TypeError, match="one element"):
        f"{am.Tensor([1.0, 2.0]):.2f}"


def test_a_derived_step_recomputes_combined_masks_and_floor_division():
    x = am.Tensor(rng.standard_normal((4, 3)), name="x")
    w = am.Tensor(rng.standard_normal((3, 3)), requires_grad=True, name="w")

    def loss(w):
        h = x @ w
        return am.where((h > -0.5) & ~(h > 0.5), h * h, h // 1.0 + h).sum()
    step = am.derive(loss, [w])
    x.data = rng.standard_normal((4, 3))  # new data: the masks must be computed again
    expected = loss(w)
    expected.backward()
    gradient, w.grad = w.grad.copy(), None
    assert step() == expected.item()
    np.testing.assert_array_equal(w.grad, gradient)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_det_gradient_of_a_matrix_with_a_nan_or_inf_is_nan_not_an_svd_error(bad):
    a = np.stack([np.array([[1.0, bad], [2.0, 3.0]]), np.array([[2.0, 1.0], [1.0, 3.0]])])
    x = am.Tensor(a, requires_grad=True)
    with np.errstate(invalid="ignore"):
        am.det(x).sum().backward()
    assert np.isnan(x.grad[0]).all()
    np.testing.assert_allclose(x.grad[1], [[3.0, -1.0], [-1.0, 2.0]], rtol=1e-14)  # the finite one is untouched


def test_numpys_logical_functions_on_masks_give_mask_tensors_and_on_numbers_the_values_truth():
    values = np.array([-2.0, -0.5, 0.5, 2.0])
    x = am.Tensor(values, requires_grad=True)
    both = np.logical_and(x > -1, x < 1)
    assert isinstance(both, am.Tensor) and not both.requires_grad
    np.testing.assert_array_equal(x[both].numpy(), [-0.5, 0.5])
    np.testing.assert_array_equal(np.asarray(np.logical_not(x > 0).numpy()), [1, 1, 0, 0])
    truth = np.logical_and(am.Tensor(values), 1.0)  # numbers: NumPy's truth of the values, an array
    np.testing.assert_array_equal(truth, np.logical_and(values, 1.0))
