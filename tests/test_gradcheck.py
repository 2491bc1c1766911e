"""gradcheck and gradgradcheck: they pass right derivatives and catch wrong ones, naming the worst entry.

The wrong derivatives come from custom `am.Op`s whose VJP is deliberately mistaken, so each test
knows exactly which entry must be reported and what its analytic and numeric values are.
"""
from __future__ import annotations

import numpy as np
import pytest

import autograd_mini as am

pytestmark = pytest.mark.filterwarnings("error")

X = np.array([[0.3, -1.2, 0.7], [2.0, 0.1, -0.4]])
WRONG_AT = (1, 2)  # the one entry where the bad VJP below is off
OFF_BY = 0.75


def _sin_vjp_wrong_at_one_entry(g, ans, x):
    grad = g * np.cos(x)
    grad[WRONG_AT] += OFF_BY
    return (grad,)


sin_right = am.Op("sin", np.sin, lambda g, ans, x: (g * np.cos(x),))
sin_wrong = am.Op("sin_wrong", np.sin, _sin_vjp_wrong_at_one_entry)


def test_gradcheck_passes_a_right_op_and_counts_every_entry():
    result = am.gradcheck(lambda x: sin_right(x).sum(), X)
    assert result.passed and result.checked == X.size
    assert result.relative_error < 1e-8


def test_gradcheck_error_names_the_worst_entry_with_analytic_and_numeric_values():
    with pytest.raises(am.GradcheckError) as caught:
        am.gradcheck(lambda x: sin_wrong(x).sum(), X)
    result = caught.value.result
    assert isinstance(caught.value, AssertionError) and isinstance(caught.value, am.AutogradMiniError)
    assert not result.passed and result.input == 0 and result.index == WRONG_AT
    assert result.analytic == pytest.approx(np.cos(X[WRONG_AT]) + OFF_BY, abs=1e-12)
    assert result.numeric == pytest.approx(np.cos(X[WRONG_AT]), abs=1e-8)
    message = str(caught.value)
    assert "gradcheck" in message and "FAILED" in message and f"index {WRONG_AT}" in message
    assert f"{result.analytic:.10g}" in message and f"{result.numeric:.10g}" in message


def test_gradcheck_names_the_input_that_is_wrong():
    """The wrong entry is in the second of two inputs: the report says input 1."""
    f = lambda a, x: (a * 2).sum() + sin_wrong(x).sum()  # noqa: E731
    with pytest.raises(am.GradcheckError) as caught:
        am.gradcheck(f, np.ones(4), X)
    assert caught.value.result.input == 1 and caught.value.result.index == WRONG_AT


def test_gradcheck_without_raising_returns_the_failed_result():
    result = am.gradcheck(lambda x: sin_wrong(x).sum(), X, raise_exception=False)
    assert not result.passed and result.index == WRONG_AT and "FAILED" in str(result)


def test_gradcheck_of_a_non_scalar_output_checks_the_whole_vjp():
    """A VJP that forgets to transpose (g @ A instead of g @ A.T) agrees on a scalar sum only by
    chance; the random cotangent of a non-scalar check catches it."""
    a = np.array([[1.0, 2.0], [-3.0, 0.5]])
    right = am.Op("times_a", lambda x: x @ a, lambda g, ans, x: (g @ a.T,))
    wrong = am.Op("times_a_wrong", lambda x: x @ a, lambda g, ans, x: (g @ a,))
    x = np.array([[0.5, -1.0], [2.0, 1.0], [0.0, 3.0]])
    assert am.gradcheck(right, x).passed
    with pytest.raises(am.GradcheckError):
        am.gradcheck(wrong, x)


def test_gradcheck_accepts_tensors_lists_and_float32_and_checks_in_float64():
    assert am.gradcheck(lambda x: (x * x).sum(), [1.0, 2.0]).passed
    assert am.gradcheck(lambda x: (x * x).sum(), am.Tensor(np.array([1.5, -0.5], np.float32))).passed


def test_gradcheck_tolerances_are_honoured():
    """An error of 1e-4 fails at the default tolerance and passes a looser one."""
    slightly = am.Op("slightly_wrong", np.sin, lambda g, ans, x: (g * np.cos(x) + 1e-4,))
    with pytest.raises(am.GradcheckError):
        am.gradcheck(lambda x: slightly(x).sum(), X)
    assert am.gradcheck(lambda x: slightly(x).sum(), X, atol=1e-3).passed


# ---- second derivatives ----------------------------------------------------------------------------


def _sin_of(x):
    return sin(x) if isinstance(x, am.Tensor) else np.sin(x)


def _cos_of(x):
    return cos(x) if isinstance(x, am.Tensor) else np.cos(x)


# Written like the rows of autograd_mini/ops/: the VJP calls an Op when it meets Tensors, so it is differentiable.
sin = am.Op("sin", np.sin, lambda g, ans, x: (g * _cos_of(x),))
cos = am.Op("cos", np.cos, lambda g, ans, x: (-g * _sin_of(x),))
# The same first derivative computed on plain arrays only: right values, but no graph for the second.
sin_flat = am.Op("sin_flat", np.sin, lambda g, ans, x: (g * np.cos(x.data if isinstance(x, am.Tensor) else x),))
# Right first derivative, and differentiable, but its own derivative is wrong (+sin instead of -sin).
cos_wrong = am.Op("cos_wrong", np.cos, lambda g, ans, x: (g * _sin_of(x),))
sin_wrong_second = am.Op("sin_wrong_second", np.sin, lambda g, ans, x: (g * (cos_wrong(x) if isinstance(x, am.Tensor)
                                                                                   else np.cos(x)),))


def test_gradgradcheck_passes_a_twice_differentiable_op():
    result = am.gradgradcheck(lambda x: sin(x) * sin(x), X)
    assert result.passed and result.checked == X.size
    am.gradgradcheck(lambda x: cos(x).sum(), X)


def test_first_order_gradcheck_cannot_see_a_broken_second_derivative_but_gradgradcheck_does():
    for op in (sin_flat, sin_wrong_second):
        assert am.gradcheck(lambda x: op(x).sum(), X).passed
        with pytest.raises(am.GradcheckError) as caught:
            am.gradgradcheck(lambda x: op(x).sum(), X)
        result = caught.value.result
        assert "gradgradcheck" in str(caught.value) and not result.passed


def test_gradgradcheck_reports_the_second_derivative_it_expected():
    """f = sum(sin(x)): d/dx ⟨∇f, u⟩ = -sin(x) u. With the wrong sign the analytic value is +sin(x) u."""
    with pytest.raises(am.GradcheckError) as caught:
        am.gradgradcheck(lambda x: sin_wrong_second(x).sum(), X)
    result = caught.value.result
    assert result.analytic == pytest.approx(-result.numeric, rel=1e-5)


def test_gradgradcheck_of_a_function_whose_gradient_is_constant():
    """Second derivative zero everywhere: nothing to differentiate twice, and the check says so."""
    assert am.gradgradcheck(lambda x, y: x * 2 + y, X, X).passed


# ---- what a checker cannot verify is a failure, named -----------------------------------------------

def test_gradcheck_fails_the_nan_gradient_of_sqrt_of_a_square_at_zero():
    with pytest.raises(am.GradcheckError) as caught:
        am.gradcheck(lambda x: ((x * x) ** 0.5).sum(), np.array([0.0, 1.0]))
    result = caught.value.result
    assert not result.passed and result.input == 0 and result.index == (0,)
    assert "analytic derivative of input 0 is nan at index (0,)" in str(caught.value)


@pytest.mark.parametrize("poison", [np.nan, np.inf, -np.inf])
def test_gradcheck_fails_an_op_whose_vjp_returns_a_non_finite_entry(poison):
    def vjp(g, ans, x):
        grad = g * np.cos(x)
        grad[WRONG_AT] = poison
        return (grad,)
    op = am.Op("sin_poisoned", np.sin, vjp)
    result = am.gradcheck(lambda x: op(x).sum(), X, raise_exception=False)
    assert not result.passed and (result.input, result.index) == (0, WRONG_AT)
    assert f"is {poison} at index {WRONG_AT}" in str(result)
    with pytest.raises(am.GradcheckError, match=r"cannot verify"):
        am.gradcheck(lambda x: op(x).sum(), X)


def test_gradcheck_fails_a_non_finite_value_naming_the_output_entry():
    with pytest.raises(am.GradcheckError, match=r"value at the inputs is -inf at output index \(1,\)"):
        am.gradcheck(lambda x: x.log(), np.array([1.0, 0.0, 2.0]))


def test_gradcheck_fails_a_non_finite_numeric_derivative():
    """sqrt at 0 with a VJP that claims 0: the analytic side is finite, but f(0 - eps) is NaN."""
    op = am.Op("sqrt_claims_zero", np.sqrt, lambda g, ans, x: (g * 0.0,))
    with pytest.raises(am.GradcheckError) as caught:
        am.gradcheck(lambda x: op(x).sum(), np.array([1.0, 0.0]))
    assert caught.value.result.index == (1,) and "numeric derivative of input 0 is nan at index (1,)" in str(
        caught.value)


def test_gradgradcheck_fails_a_nan_second_derivative():
    """sin whose VJP is cos, and a cos whose own VJP gives NaN at one entry: first order right,
    second order poisoned there."""
    def cos_vjp(g, ans, x):
        grad = -g * np.sin(x)
        grad[WRONG_AT] = np.nan
        return (grad,)
    cos = am.Op("cos_poisoned", np.cos, cos_vjp)
    sin = am.Op("sin", np.sin, lambda g, ans, x: (g * (cos(x) if isinstance(x, am.Tensor) else np.cos(x)),))
    assert am.gradcheck(lambda x: sin(x).sum(), X).passed
    with pytest.raises(am.GradcheckError) as caught:
        am.gradgradcheck(lambda x: sin(x).sum(), X)
    assert (caught.value.result.input, caught.value.result.index) == (0, WRONG_AT)
    assert "gradgradcheck" in str(caught.value) and "nan" in str(caught.value)


def test_gradgradcheck_fails_the_nan_of_sqrt_at_zero():
    with pytest.raises(am.GradcheckError, match="nan"):
        am.gradgradcheck(lambda x: ((x * x) ** 0.5).sum(), np.array([0.0, 1.0]))


@pytest.mark.parametrize("check", [am.gradcheck, am.gradgradcheck])
@pytest.mark.parametrize("returned, named", [
    (lambda x: x.data.sum(), "numpy.float64"), (lambda x: x.data * 2, "numpy.ndarray of shape (2, 3)"),
    (lambda x: 3.0, "float"), (lambda x: [x], "list"), (lambda x: None, "NoneType")])
def test_checkers_refuse_a_function_that_does_not_return_a_tensor(check, returned, named):
    with pytest.raises(TypeError) as caught:
        check(returned, X)
    message = str(caught.value)
    assert message.startswith(check.__name__) and f"f returned {named}" in message and "expected" in message


def test_a_function_that_ignores_its_inputs_has_zero_derivatives():
    assert am.gradcheck(lambda x: am.Tensor(3.0), X).passed
    assert am.gradgradcheck(lambda x: am.Tensor([1.0, 2.0]), X).passed


@pytest.mark.parametrize("eps", [0.0, -1e-6, float("nan"), float("inf")])
def test_checkers_refuse_a_bad_step(eps):
    with pytest.raises(ValueError, match="eps"):
        am.gradcheck(lambda x: (x * x).sum(), X, eps=eps)


def test_a_passing_check_does_not_hide_an_overflow_in_f():
    """NumPy's warnings are held back while checking; a check that passes repeats them, one that fails
    on a mismatch names them in its error."""
    naive = am.Op("naive_sigmoid", lambda x: 1 / (1 + np.exp(-x)), lambda g, ans, x: (g * ans * (1 - ans),))
    with pytest.warns(RuntimeWarning, match="gradcheck: NumPy reported overflow while evaluating f"):
        assert am.gradcheck(lambda x: naive(x).sum(), np.array([-1000.0, 1.0])).passed
    wrong = am.Op("naive_sigmoid_wrong", naive.forward, lambda g, ans, x: (g * ans,))
    with pytest.raises(am.GradcheckError, match="NumPy reported overflow while evaluating f"):
        am.gradcheck(lambda x: wrong(x).sum(), np.array([-1000.0, 1.0]))
