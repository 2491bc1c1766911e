"""Second derivatives of every op, checked with `am.gradgradcheck` against central differences.

gradgradcheck differentiates ⟨∇f(x)·v, u⟩ through the graph that create_graph records while the
VJPs run on Tensors, and compares with finite differences of the first-order gradient computed the
ordinary way (VJPs on arrays). Linear and piecewise-linear ops (add, reshape, getitem, relu, ...)
have zero second derivative, which a check cannot tell from a broken graph, so they are followed
by tanh: then the second derivative runs through their VJP applied to a gradient that depends on x.

Strategies come from tests/test_ops.py, here with at most 3 entries per axis (the check differentiates
a whole backward pass per entry).
"""
from __future__ import annotations

import operator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import (DENOMINATOR, MODERATE, NONZERO, POSITIVE, PROPERTY, WIDE, array, array_and_axis,
                      basic_index_case, broadcast_pair, broadcast_to_case, concatenate_case, fancy_index_case,
                      floats, mask_case, matmul_pair, pow_case, reshape_case, softmax_case, stack_case,
                      transpose_case, untied_pair)

import autograd_mini as am

pytestmark = pytest.mark.filterwarnings("error")

SIDE = 3


def curved(f):
    """f followed by tanh, so that a linear f has a nonzero second derivative to check."""
    return lambda *xs: f(*xs).tanh()


# ---- binary ops, with broadcasting ---------------------------------------------------------------

BINARY = {
    "add": (curved(operator.add), broadcast_pair(max_side=SIDE)),
    "sub": (curved(operator.sub), broadcast_pair(max_side=SIDE)),
    "mul": (operator.mul, broadcast_pair(max_side=SIDE)),
    "div": (operator.truediv, broadcast_pair(right=DENOMINATOR, max_side=SIDE)),
    "maximum": (curved(am.maximum), untied_pair(max_side=SIDE)),
    "minimum": (curved(am.minimum), untied_pair(max_side=SIDE)),
}


@pytest.mark.parametrize("name", BINARY)
@PROPERTY
@given(data=st.data())
def test_binary_op_second_derivative(name, data):
    f, pairs = BINARY[name]
    am.gradgradcheck(f, *data.draw(pairs))


@PROPERTY
@given(pair=matmul_pair(max_side=SIDE))
def test_matmul_second_derivative(pair):
    """Bilinear: the mixed second derivatives d²/dx dy are what is checked."""
    am.gradgradcheck(operator.matmul, *pair)


@PROPERTY
@given(case=pow_case(max_side=SIDE))
def test_pow_second_derivative(case):
    """Natural exponents include base 0, where x**1 and x**0 must give 0 and not 0 * inf."""
    x, exponent = case
    am.gradgradcheck(lambda t: t ** exponent, x)


# ---- unary elementwise ops -----------------------------------------------------------------------

UNARY = {
    "neg": (curved(operator.neg), MODERATE),
    "square": (am.square, MODERATE),
    "exp": (am.exp, MODERATE),
    "log": (am.log, POSITIVE),
    "tanh": (am.tanh, floats(-5, 5)),
    "sigmoid": (am.sigmoid, WIDE),
    "softplus": (am.softplus, WIDE),
    "relu": (curved(am.relu), NONZERO),
    "abs": (curved(am.abs), NONZERO),
}


@pytest.mark.parametrize("name", UNARY)
@PROPERTY
@given(data=st.data())
def test_unary_op_second_derivative(name, data):
    f, elements = UNARY[name]
    am.gradgradcheck(f, data.draw(array(elements, max_side=SIDE)))


# ---- reductions, shape ops, softmax --------------------------------------------------------------


@pytest.mark.parametrize("reduce", ["sum", "mean"])
@PROPERTY
@given(case=array_and_axis(max_side=SIDE))
def test_reduction_second_derivative(reduce, case):
    x, axis, keepdims = case
    am.gradgradcheck(curved(lambda t: getattr(t, reduce)(axis=axis, keepdims=keepdims)), x)


@PROPERTY
@given(case=reshape_case(max_side=SIDE))
def test_reshape_second_derivative(case):
    x, shape = case
    am.gradgradcheck(curved(lambda t: t.reshape(shape)), x)


@PROPERTY
@given(case=transpose_case(max_side=SIDE))
def test_transpose_second_derivative(case):
    x, axes = case
    am.gradgradcheck(curved(lambda t: t.transpose(axes)), x)


@PROPERTY
@given(case=broadcast_to_case(max_side=SIDE))
def test_broadcast_to_second_derivative(case):
    x, shape = case
    am.gradgradcheck(curved(lambda t: t.broadcast_to(shape)), x)


@pytest.mark.parametrize("indexing", [basic_index_case, fancy_index_case, mask_case],
                         ids=["basic", "fancy_with_repeats", "mask"])
@PROPERTY
@given(data=st.data())
def test_getitem_second_derivative(indexing, data):
    x, index = data.draw(indexing(max_side=SIDE))
    am.gradgradcheck(curved(lambda t: t[index]), x)


@PROPERTY
@given(case=concatenate_case(max_side=SIDE))
def test_concatenate_second_derivative(case):
    parts, axis = case
    am.gradgradcheck(curved(lambda *ts: am.concatenate(ts, axis=axis)), *parts)


@PROPERTY
@given(case=stack_case(max_side=SIDE))
def test_stack_second_derivative(case):
    parts, axis = case
    am.gradgradcheck(curved(lambda *ts: am.stack(ts, axis=axis)), *parts)


@pytest.mark.parametrize("name", ["log_softmax", "softmax"])
@PROPERTY
@given(case=softmax_case(max_side=SIDE))
def test_softmax_family_second_derivative(name, case):
    x, axis = case
    am.gradgradcheck(lambda t: getattr(t, name)(axis=axis), x)


def test_second_derivatives_of_a_composite_match_closed_forms():
    """d²/dx² of sum(x³) is 6x and of sum(exp(x) * y) w.r.t. x and y is exp(x) (mixed): closed forms,
    through am.autograd.grad twice."""
    from autograd_mini.autograd import grad

    x = am.Tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = am.Tensor([1.5, 0.25, -0.5], requires_grad=True)
    (gx,) = grad((x ** 3).sum(), x, create_graph=True)
    np.testing.assert_allclose(gx.data, 3 * x.data ** 2)
    (hx,) = grad(gx.sum(), x)
    np.testing.assert_allclose(hx.data, 6 * x.data)
    gx, gy = grad((x.exp() * y).sum(), [x, y], create_graph=True)
    hxx, hxy = grad(gx.sum(), [x, y])
    np.testing.assert_allclose(hxx.data, np.exp(x.data) * y.data)
    np.testing.assert_allclose(hxy.data, np.exp(x.data))
