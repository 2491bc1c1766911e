"""Every differentiable op, gradient-checked against float64 central differences.

Each property draws random small shapes (≤ 3 axes, ≤ 4 per axis), random values and, for binary
ops, mutually broadcastable shape pairs, then runs `am.gradcheck`, which compares backward() with
finite differences of the forward values: the two never share a code path. Values stay away from
the kinks of relu/abs/maximum/minimum, where no derivative exists. Any warning is an error here,
so an overflow in a forward pass (sigmoid at -1000, say) fails the test.

The strategies (tests/strategies.py) take `max_side`, so tests/test_ops_second_order.py draws smaller shapes.
"""
from __future__ import annotations

import operator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import (DENOMINATOR, MODERATE, NONZERO, POSITIVE, PROPERTY, WIDE, WIRING, array, array_and_axis,
                        basic_index_case, broadcast_pair, broadcast_to_case, concatenate_case, fancy_index_case,
                        floats, mask_case, matmul_pair, pow_case, reshape_case, softmax_case, stack_case,
                        transpose_case, untied_pair)

import autograd_mini as am

pytestmark = pytest.mark.filterwarnings("error")

# ---- binary ops, with broadcasting ---------------------------------------------------------------

BINARY = {
    "add": (operator.add, broadcast_pair()),
    "sub": (operator.sub, broadcast_pair()),
    "mul": (operator.mul, broadcast_pair()),
    "div": (operator.truediv, broadcast_pair(right=DENOMINATOR)),
    "maximum": (None, untied_pair()),
    "minimum": (None, untied_pair()),
}


@pytest.mark.parametrize("name", BINARY)
@PROPERTY
@given(data=st.data())
def test_binary_op_gradient(name, data):
    """The operator (x + y) and the function (am.add) are the same Op: each example tries one."""
    operator_form, pairs = BINARY[name]
    x, y = data.draw(pairs)
    use_operator = operator_form is not None and data.draw(st.booleans())
    am.gradcheck(operator_form if use_operator else getattr(am, name), x, y)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
@WIRING
@given(pair=broadcast_pair(right=DENOMINATOR))
def test_binary_op_with_an_ndarray_constant_on_either_side(name, pair):
    """Only the Tensor is differentiated; the ndarray is a constant, left or right."""
    f = getattr(am, name)
    x, c = pair
    am.gradcheck(lambda t: f(t, c), x)
    am.gradcheck(lambda t: f(x, t), c)


@pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow],
                         ids=["+", "-", "*", "/", "**"])
@WIRING
@given(pair=broadcast_pair(floats(0.5, 2), floats(0.5, 2)))
def test_ndarray_on_the_left_of_an_operator(op, pair):
    """`c <op> t` with c an ndarray runs Tensor's reflected operator (c ** t is exp(t log c))."""
    c, x = pair
    am.gradcheck(lambda t: op(c, t), x)


def test_ties_of_maximum_and_minimum_give_the_whole_gradient_to_one_side():
    """max(x, x) = x, so d/dx is 1: a tie must not count the gradient twice (or drop it)."""
    x = np.array([[-1.0, 0.0, 2.0]])
    am.gradcheck(lambda t: am.maximum(t, t), x)
    am.gradcheck(lambda t: am.minimum(t, t), x)


# ---- unary elementwise ops -----------------------------------------------------------------------

UNARY = {
    "neg": MODERATE,
    "square": MODERATE,
    "exp": MODERATE,
    "log": POSITIVE,
    "tanh": floats(-5, 5),
    "sigmoid": WIDE,
    "softplus": WIDE,
    "relu": NONZERO,
    "abs": NONZERO,
}


@pytest.mark.parametrize("name", UNARY)
@PROPERTY
@given(data=st.data())
def test_unary_op_gradient(name, data):
    """am.exp(t) or t.exp() (-t for neg), one of the two per example."""
    x = data.draw(array(UNARY[name]))
    if data.draw(st.booleans()):
        am.gradcheck(getattr(am, name), x)
    else:
        am.gradcheck((lambda t: -t) if name == "neg" else (lambda t: getattr(t, name)()), x)


@PROPERTY
@given(x=floats(-700, 700))
def test_exp_at_extreme_inputs(x):
    """exp up to 1e304 and down to 1e-304: one entry, so the finite difference keeps its precision."""
    am.gradcheck(am.exp, np.float64(x))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_at_plus_minus_1000_is_finite_and_correct_without_warnings(dtype):
    x = am.Tensor(np.array([-1000.0, -100.0, -30.0, 0.0, 30.0, 100.0, 1000.0], dtype=dtype), requires_grad=True)
    y = x.sigmoid()
    y.backward(np.ones(y.shape, dtype=dtype))
    v = x.data.astype(np.float64)
    # closed forms by another road: sigmoid = exp(-softplus(-x)), sigmoid' = exp(-softplus(x) - softplus(-x))
    np.testing.assert_allclose(y.data, np.exp(-np.logaddexp(0, -v)), rtol=1e-6, atol=np.finfo(dtype).tiny)
    # ans * (1 - ans) is exact to the dtype's precision (not relatively, once 1 - ans rounds)
    np.testing.assert_allclose(x.grad, np.exp(-np.logaddexp(0, v) - np.logaddexp(0, -v)),
                               rtol=1e-6, atol=np.finfo(dtype).eps)
    assert y.dtype == dtype and x.grad.dtype == dtype
    assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(x.grad))
    assert y.data[-1] == 1.0 and y.data[3] == 0.5


def test_softplus_log_softmax_softmax_at_plus_minus_1000_are_finite():
    x = am.Tensor([[-1000.0, 0.0, 1000.0]], requires_grad=True)
    np.testing.assert_allclose(x.softplus().data, [[0.0, np.log(2), 1000.0]], atol=1e-300)
    np.testing.assert_allclose(x.log_softmax().data, [[-2000.0, -1000.0, 0.0]])
    np.testing.assert_allclose(x.softmax().data, [[0.0, 0.0, 1.0]], atol=1e-300)
    x.softplus().sum().backward()
    np.testing.assert_allclose(x.grad, [[0.0, 0.5, 1.0]], atol=1e-300)


@PROPERTY
@given(case=pow_case(), function_form=st.booleans())
def test_pow_with_constant_exponent(case, function_form):
    x, exponent = case
    am.gradcheck((lambda t: am.pow(t, np.float64(exponent))) if function_form else (lambda t: t ** exponent), x)


# ---- products ------------------------------------------------------------------------------------


@PROPERTY
@given(pair=matmul_pair(), operator_form=st.booleans())
def test_matmul_gradient(pair, operator_form):
    """1-D, 2-D and batched operands, batch axes broadcast: (2, m, n) @ (n, p), (1, m, n) @ (3, n, p),
    (n,) @ (2, n, p)."""
    am.gradcheck(operator.matmul if operator_form else am.matmul, *pair)


@WIRING
@given(pair=matmul_pair(max_batch_dims=0))
def test_dot_gradient_for_1d_and_2d(pair):
    am.gradcheck(am.dot, *pair)


def test_matmul_with_two_broadcast_batch_axes():
    rng = np.random.default_rng(1)
    am.gradcheck(am.matmul, rng.standard_normal((2, 1, 3, 2)), rng.standard_normal((3, 2, 4)))
    am.gradcheck(am.matmul, rng.standard_normal((3,)), rng.standard_normal((2, 1, 3, 2)))


# ---- reductions ----------------------------------------------------------------------------------


@pytest.mark.parametrize("reduce", ["sum", "mean"])
@PROPERTY
@given(case=array_and_axis(), method_form=st.booleans())
def test_reduction_gradient(reduce, case, method_form):
    """x.sum(axis, keepdims) or am.sum(x, axis, keepdims); axis None, int, tuple or list, negatives too."""
    x, axis, keepdims = case
    if method_form:
        am.gradcheck(lambda t: getattr(t, reduce)(axis=axis, keepdims=keepdims), x)
    else:
        am.gradcheck(lambda t: getattr(am, reduce)(t, axis, keepdims), x)


# ---- shape ops -----------------------------------------------------------------------------------


@PROPERTY
@given(case=reshape_case(), form=st.sampled_from(["tuple", "varargs", "function"]))
def test_reshape_gradient(case, form):
    x, shape = case
    am.gradcheck({"tuple": lambda t: t.reshape(shape), "varargs": lambda t: t.reshape(*shape),
                  "function": lambda t: am.reshape(t, shape)}[form], x)


@PROPERTY
@given(case=transpose_case(), form=st.sampled_from(["method", "function", ".T"]))
def test_transpose_gradient(case, form):
    x, axes = case
    am.gradcheck({"method": lambda t: t.transpose(axes), "function": lambda t: am.transpose(t, axes=axes),
                  ".T": lambda t: t.T}[form], x)


@WIRING
@given(x=array(min_dims=2), data=st.data())
def test_swapaxes_gradient(x, data):
    a, b = (data.draw(st.integers(-x.ndim, x.ndim - 1)) for _ in range(2))
    am.gradcheck(lambda t: t.swapaxes(a, b), x)


@PROPERTY
@given(case=broadcast_to_case(), method_form=st.booleans())
def test_broadcast_to_gradient(case, method_form):
    x, shape = case
    am.gradcheck((lambda t: t.broadcast_to(shape)) if method_form else (lambda t: am.broadcast_to(t, shape=shape)), x)


@PROPERTY
@given(case=basic_index_case())
def test_getitem_basic_index_gradient(case):
    x, index = case
    am.gradcheck(lambda t: t[index], x)


@PROPERTY
@given(case=fancy_index_case())
def test_getitem_fancy_index_with_repeats_gradient(case):
    x, index = case
    am.gradcheck(lambda t: t[index], x)


@PROPERTY
@given(case=mask_case())
def test_getitem_boolean_mask_gradient(case):
    x, mask = case
    am.gradcheck(lambda t: t[mask], x)


@PROPERTY
@given(case=concatenate_case())
def test_concatenate_gradient(case):
    parts, axis = case
    am.gradcheck(lambda *ts: am.concatenate(ts, axis=axis), *parts)


@PROPERTY
@given(case=stack_case())
def test_stack_gradient(case):
    parts, axis = case
    am.gradcheck(lambda *ts: am.stack(ts, axis=axis), *parts)


# ---- softmax family ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["log_softmax", "softmax"])
@PROPERTY
@given(case=softmax_case(), method_form=st.booleans())
def test_softmax_family_gradient(name, case, method_form):
    x, axis = case
    if method_form:
        am.gradcheck(lambda t: getattr(t, name)(axis=axis), x)
    else:
        am.gradcheck(lambda t: getattr(am, name)(t, axis=axis), x)
