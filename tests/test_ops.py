"""Every differentiable op, gradient-checked against float64 central differences.

Each property draws random small shapes (≤ 3 axes, ≤ 4 per axis), random values and, for binary
ops, mutually broadcastable shape pairs, then runs `am.gradcheck`, which compares backward() with
finite differences of the forward values: the two never share a code path. Values stay away from
the kinks of relu/abs/maximum/minimum, where no derivative exists. Any warning is an error here,
so an overflow in a forward pass (sigmoid at -1000, say) fails the test.

The strategies take `max_side`, so tests/test_ops_second_order.py reuses them with smaller shapes.
"""
from __future__ import annotations

import functools
import operator

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import autograd_mini as am

pytestmark = pytest.mark.filterwarnings("error")

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WIRING = settings(PROPERTY, max_examples=50)  # the same op reached another way: fewer examples suffice
MAX_DIMS, MAX_SIDE = 3, 4

# ---- strategies ---------------------------------------------------------------------------------


def floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def away_from_zero(gap: float, hi: float = 3) -> st.SearchStrategy[float]:
    """Values in [-hi, -gap] or [gap, hi]: a finite difference (step 1e-6) never straddles the kink at 0."""
    return st.one_of(floats(gap, hi), floats(-hi, -gap))


MODERATE = floats(-3, 3)
NONZERO = away_from_zero(1e-3)  # relu and abs
DENOMINATOR = away_from_zero(0.5)
POSITIVE = st.one_of(floats(1e-3, 1.0), floats(1.0, 1e3))  # log's domain, small and large
WIDE = st.one_of(floats(-10, 10), floats(-1000, 1000))  # sigmoid/softplus: extremes must not overflow


def shapes(min_dims: int = 0, max_side: int = MAX_SIDE) -> st.SearchStrategy[tuple]:
    return hnp.array_shapes(min_dims=min_dims, max_dims=MAX_DIMS, min_side=1, max_side=max_side)


def arrays(shape: tuple, elements: st.SearchStrategy[float] = MODERATE) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, shape, elements=elements)


@st.composite
def array(draw, elements=MODERATE, min_dims: int = 0, max_side: int = MAX_SIDE) -> np.ndarray:
    return draw(arrays(draw(shapes(min_dims, max_side)), elements))


@st.composite
def broadcast_pair(draw, left=MODERATE, right=MODERATE, max_side: int = MAX_SIDE) -> tuple:
    """Two arrays of mutually broadcastable shapes: (3, 1) with (4,), () with (2, 2), ..."""
    sx, sy = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=MAX_DIMS, max_side=max_side)).input_shapes
    return draw(arrays(sx, left)), draw(arrays(sy, right))


@st.composite
def untied_pair(draw, max_side: int = MAX_SIDE) -> tuple:
    """A broadcastable pair whose entries never come within 0.025 of each other (maximum's kink):
    x lies in [k/4, k/4 + 0.1] and y in [j/4 + 0.125, j/4 + 0.225]."""
    x_grid = st.builds(lambda k, u: k / 4 + u, st.integers(-8, 8), floats(0, 0.1))
    y_grid = st.builds(lambda k, u: k / 4 + 0.125 + u, st.integers(-8, 8), floats(0, 0.1))
    return draw(broadcast_pair(x_grid, y_grid, max_side))


@st.composite
def matmul_pair(draw, max_batch_dims: int = 1, max_side: int = MAX_SIDE) -> tuple:
    """Operands for matmul: 1-D or 2-D, or batched with broadcast batch axes ((2, m, n) @ (1, n, p))."""
    shapes_ = draw(hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=max_batch_dims,
                                                     max_side=max_side)).input_shapes
    return tuple(draw(arrays(s, floats(-2, 2))) for s in shapes_)


@st.composite
def array_and_axis(draw, max_side: int = MAX_SIDE) -> tuple:
    """An array, a reduction axis (None, int, tuple; negative ones too; a list now and then) and keepdims."""
    x = draw(array(max_side=max_side))
    nd = x.ndim
    single = st.integers(-nd, nd - 1) if nd else st.none()
    axis = draw(st.one_of(st.none(), single, hnp.valid_tuple_axes(nd), hnp.valid_tuple_axes(nd).map(list)))
    return x, axis, draw(st.booleans())


@st.composite
def pow_case(draw, max_side: int = MAX_SIDE) -> tuple:
    """A constant exponent and a base in its domain: any real base (0 included) for a natural
    exponent, nonzero for a negative integer one, positive otherwise."""
    exponent = draw(st.one_of(st.sampled_from([0, 1, 2, 3, -1, -2, 0.5, -0.5, 1.5]), floats(-3, 3)))
    if float(exponent).is_integer() and exponent >= 0:
        elements = floats(-2, 2)
    elif float(exponent).is_integer():
        elements = away_from_zero(0.5, 2)
    else:
        elements = floats(0.5, 2)
    return draw(array(elements, max_side=max_side)), exponent


@functools.cache
def _factorizations(n: int, dims: int) -> tuple[tuple, ...]:
    """Every shape of `dims` axes whose sizes multiply to n."""
    if dims == 0:
        return ((),) if n == 1 else ()
    return tuple((d,) + rest for d in range(1, n + 1) if n % d == 0 for rest in _factorizations(n // d, dims - 1))


@st.composite
def reshape_case(draw, max_side: int = MAX_SIDE) -> tuple:
    """An array and a new shape of the same size (≤ 3 axes), one entry -1 now and then."""
    x = draw(array(max_side=max_side))
    shape = list(draw(st.sampled_from([s for d in range(MAX_DIMS + 1) for s in _factorizations(x.size, d)])))
    if shape and draw(st.booleans()):
        shape[draw(st.integers(0, len(shape) - 1))] = -1
    return x, tuple(shape)


@st.composite
def transpose_case(draw, max_side: int = MAX_SIDE) -> tuple:
    """An array and None or a permutation of its axes, each axis written positive or negative."""
    x = draw(array(max_side=max_side))
    if draw(st.booleans()):
        return x, None
    perm = draw(st.permutations(range(x.ndim)))
    return x, tuple(a - x.ndim if draw(st.booleans()) else a for a in perm)


@st.composite
def basic_index_case(draw, max_side: int = MAX_SIDE) -> tuple:
    """Ints (negative too), slices with any step, None and Ellipsis."""
    x = draw(array(max_side=max_side))
    return x, draw(hnp.basic_indices(x.shape, allow_newaxis=True, allow_ellipsis=True))


@st.composite
def fancy_index_case(draw, max_side: int = MAX_SIDE) -> tuple:
    """Integer arrays, with at least one index repeated, on every axis or on one axis after slices."""
    x = draw(array(min_dims=1, max_side=max_side))
    if draw(st.booleans()):
        index = draw(hnp.integer_array_indices(x.shape, result_shape=hnp.array_shapes(max_dims=2, max_side=4)))
        if index[0].size == 1:
            return x, tuple(np.append(i, i) for i in index)  # the one position, picked twice
        index = tuple(i.copy() for i in index)
        for i in index:
            i.flat[-1] = i.flat[0]  # the last pick repeats the first
        return x, index
    axis = draw(st.integers(0, x.ndim - 1))
    n = x.shape[axis]
    picks = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=5))
    return x, (slice(None),) * axis + (picks + picks[:1],)


@st.composite
def mask_case(draw, max_side: int = MAX_SIDE) -> tuple:
    """A boolean mask over the leading axes (all of them, or fewer)."""
    x = draw(array(min_dims=1, max_side=max_side))
    k = draw(st.integers(1, x.ndim))
    return x, draw(hnp.arrays(np.bool_, x.shape[:k]))


@st.composite
def concatenate_case(draw, max_side: int = MAX_SIDE) -> tuple:
    """One to three arrays agreeing on every axis but `axis` (negative axes too)."""
    shape = draw(shapes(min_dims=1, max_side=max_side))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        part = list(shape)
        part[axis] = draw(st.integers(1, max_side))
        parts.append(draw(arrays(tuple(part))))
    return parts, axis


@st.composite
def stack_case(draw, max_side: int = MAX_SIDE) -> tuple:
    shape = draw(shapes(max_side=max_side))
    parts = [draw(arrays(shape)) for _ in range(draw(st.integers(1, 3)))]
    return parts, draw(st.integers(-len(shape) - 1, len(shape)))


@st.composite
def softmax_case(draw, max_side: int = MAX_SIDE) -> tuple:
    x = draw(array(floats(-5, 5), min_dims=1, max_side=max_side))
    return x, draw(st.integers(-x.ndim, x.ndim - 1))


@st.composite
def broadcast_to_case(draw, max_side: int = MAX_SIDE) -> tuple:
    """A target shape and an array that broadcasts to it: a suffix of it with some sides set to 1."""
    target = draw(shapes(max_side=max_side))
    kept = target[len(target) - draw(st.integers(0, len(target))):]
    shape = tuple(1 if draw(st.booleans()) else n for n in kept)
    return draw(arrays(shape)), target


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
    """1-D, 2-D and batched operands, batch axes broadcast: (2, m, n) @ (n, p), (1, m, n) @ (3, n, p), (n,) @ (2, n, p)."""
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
