"""A checker never passes what it cannot verify: for random shapes, one entry of the derivative
is poisoned with NaN or ±inf (through a custom op whose VJP injects it at a drawn index), and every
checker (gradcheck, gradgradcheck, the audit) must fail or flag it, naming the entry."""
from __future__ import annotations

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_mini as am

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")  # NumPy overflow, 0/0, ...: errors here

FAST = settings(max_examples=25, deadline=None)


@st.composite
def poisoned_points(draw):
    """(x, index, poison): a point of random shape, one entry of it, and a non-finite value."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))
    x = draw(hnp.arrays(np.float64, shape, elements=st.floats(-2.0, 2.0)))
    index = draw(st.tuples(*[st.integers(0, n - 1) for n in shape]))
    return x, index, draw(st.sampled_from([np.nan, np.inf, -np.inf]))


def _mask(shape, index, poison):
    mask = np.zeros(shape)
    mask[index] = poison
    return mask


COS = am.Op("cos", np.cos, lambda g, ans, x: (-g * (SIN(x) if isinstance(x, am.Tensor) else np.sin(x)),))
SIN = am.Op("sin", np.sin, lambda g, ans, x: (g * (COS(x) if isinstance(x, am.Tensor) else np.cos(x)),))


def sin_with_poisoned_derivative(index, poison):
    """sin whose first derivative is poisoned at `index` (on arrays and on Tensors alike)."""
    def vjp(g, ans, x):
        return (g * (COS(x) if isinstance(x, am.Tensor) else np.cos(x)) + _mask(x.shape, index, poison),)
    return am.Op("sin_poisoned", np.sin, vjp)


def sin_with_poisoned_second_derivative(index, poison):
    """sin with a right first derivative, cos, whose own derivative is poisoned at `index`."""
    cos = am.Op("cos_poisoned", np.cos, lambda g, ans, x: (-g * np.sin(x) + _mask(x.shape, index, poison),))
    return am.Op("sin", np.sin, lambda g, ans, x: (g * (cos(x) if isinstance(x, am.Tensor) else np.cos(x)),))


def assert_fails_naming_the_entry(check, f, x, index, poison):
    with pytest.raises(am.GradcheckError) as caught:
        check(f, x)
    result = caught.value.result
    assert not result.passed and (result.input, result.index) == (0, index)
    assert f"input 0 is {poison} at index {index}" in str(caught.value)


@FAST
@given(point=poisoned_points(), reduce=st.booleans())
def test_gradcheck_fails_a_non_finite_entry_of_the_derivative(point, reduce):
    x, index, poison = point
    op = sin_with_poisoned_derivative(index, poison)
    assert_fails_naming_the_entry(am.gradcheck, lambda t: op(t).sum() if reduce else op(t), x, index, poison)


@FAST
@given(point=poisoned_points())
def test_gradgradcheck_fails_a_non_finite_entry_of_the_second_derivative(point):
    x, index, poison = point
    op = sin_with_poisoned_second_derivative(index, poison)
    assert am.gradcheck(lambda t: op(t).sum(), x).passed  # the first derivative is right
    assert_fails_naming_the_entry(am.gradgradcheck, lambda t: op(t).sum(), x, index, poison)


@FAST
@given(point=poisoned_points())
def test_gradgradcheck_fails_a_non_finite_first_derivative(point):
    x, index, poison = point
    op = sin_with_poisoned_derivative(index, poison)
    with pytest.raises(am.GradcheckError, match="not finite"):
        am.gradgradcheck(lambda t: op(t).sum(), x)


@FAST
@given(point=poisoned_points())
def test_the_audit_refuses_a_non_finite_autodiff_gradient(point):
    x, index, poison = point
    op = sin_with_poisoned_derivative(index, poison)
    with pytest.raises(ValueError) as caught:
        am.audit(lambda p: op(p["w"]).sum(), {"w": x}, lambda p: {"w": np.cos(p["w"])}, n_random=2)
    assert f"autodiff gradient of 'w' is {poison} at entry {index} at given point 0" in str(caught.value)


@FAST
@given(point=poisoned_points())
def test_the_audit_flags_a_rule_with_a_non_finite_entry(point):
    x, index, poison = point
    report = am.audit(lambda p: SIN(p["w"]).sum(), {"w": x},
                      lambda p: {"w": np.cos(p["w"]) + _mask(x.shape, index, poison)}, n_random=2)
    w = report.params["w"]
    assert w.kind == "non_finite" and f"gives {poison} at entry {index}" in w.verdict
    assert report.kinds == {"w": "non_finite"}


def test_the_right_sin_passes_every_checker():
    """The control: without the poison, the same ops pass, so the failures above are the poison's."""
    x = np.array([[0.3, -1.2, 0.7], [2.0, 0.1, -0.4]])
    assert am.gradcheck(lambda t: SIN(t).sum(), x).passed
    assert am.gradgradcheck(lambda t: SIN(t).sum(), x).passed
    assert am.audit(lambda p: SIN(p["w"]).sum(), {"w": x}, lambda p: {"w": np.cos(p["w"])}).kind == "exact"
