"""The engine: accumulation, no_grad, retained and freed graphs, deep graphs, memory, order, dtypes,
the Tensor's array-like surface, and the error messages. Gradients are compared with closed forms."""
from __future__ import annotations

import gc
import operator
import weakref

import numpy as np
import pytest

import autograd_mini as am

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture
def no_automatic_gc():
    """Only reference counting frees memory here, so a reference cycle cannot hide behind the collector."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# ---- accumulation (the PyTorch convention) -------------------------------------------------------


def test_gradients_accumulate_across_two_backward_calls():
    x = am.Tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data)
    (x * x * x).sum().backward()  # a second graph: its gradient is added, not substituted
    np.testing.assert_allclose(x.grad, 2 * x.data + 3 * x.data ** 2)
    x.zero_grad()
    assert x.grad is None
    (x * 4.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [4.0, 4.0, 4.0])


def test_a_leaf_used_twice_in_one_graph_gets_both_contributions():
    x = am.Tensor(3.0, requires_grad=True)
    y = x * x + x  # x reaches y by three paths
    y.backward()
    assert x.grad == 7.0


def test_a_broadcast_leaf_gets_its_gradient_summed_to_its_own_shape():
    b = am.Tensor([1.0, 2.0], requires_grad=True)
    (am.Tensor(np.ones((3, 2))) * b).sum().backward()
    assert b.grad.shape == (2,)
    np.testing.assert_array_equal(b.grad, [3.0, 3.0])


def test_backward_with_an_explicit_gradient_gives_the_vector_jacobian_product():
    x = am.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    v = np.array([[0.5, -1.0], [2.0, 0.25]])
    (x * x).backward(gradient=v)
    np.testing.assert_array_equal(x.grad, 2 * x.data * v)


# ---- no_grad ---------------------------------------------------------------------------------------


def test_no_grad_records_no_graph():
    x = am.Tensor([1.0, 2.0], requires_grad=True)
    with am.no_grad():
        assert not am.is_grad_enabled()
        y = (x * 2).exp().sum()
        with am.enable_grad():
            z = x * 2
        assert not am.is_grad_enabled()
    assert am.is_grad_enabled()
    assert y.requires_grad is False and y.is_leaf and y.op_name is None
    assert z.requires_grad and z.op_name == "mul"
    with pytest.raises(am.GraphError, match="does not require grad"):
        y.backward()


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with am.no_grad():
            1 / 0
    assert am.is_grad_enabled()


def test_ops_on_tensors_that_need_no_grad_need_no_grad():
    y = am.Tensor([1.0, 2.0]) * am.Tensor([3.0, 4.0])
    assert y.requires_grad is False and y.is_leaf


# ---- retained and freed graphs ---------------------------------------------------------------------


def test_second_backward_without_retain_graph_raises_a_clear_graph_error():
    x = am.Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(am.GraphError) as caught:
        y.backward()
    message = str(caught.value)
    assert "already freed" in message and "retain_graph=True" in message
    assert isinstance(caught.value, RuntimeError)
    np.testing.assert_array_equal(x.grad, 2 * x.data)  # the failed call added nothing


def test_a_graph_freed_by_one_backward_cannot_be_reached_from_another_root():
    x = am.Tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    h.sum().backward()
    with pytest.raises(am.GraphError, match="already freed"):
        (h * 2).sum().backward()


def test_retain_graph_allows_a_second_backward_which_accumulates():
    x = am.Tensor([0.5, -1.5], requires_grad=True)
    y = x.tanh().sum()
    y.backward(retain_graph=True)
    first = x.grad.copy()
    np.testing.assert_allclose(first, 1 - np.tanh(x.data) ** 2)
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * first)


# ---- deep graphs and memory ------------------------------------------------------------------------


def test_backward_through_a_100000_op_chain_has_no_recursion_error():
    x = am.Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(50_000):
        y = y * 1.00001
        y = y + 0.5
    y.backward()  # 100,000 ops
    assert x.grad == pytest.approx(1.00001 ** 50_000, rel=1e-9)
    del y  # and freeing the chain does not recurse either


def test_an_unused_100000_op_chain_is_freed_without_recursion_error(no_automatic_gc):
    x = am.Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    first = weakref.ref(y._parents[0])
    del y
    assert first() is None


def test_graph_is_freed_by_reference_counting_after_backward(no_automatic_gc):
    x = am.Tensor(np.ones(3), requires_grad=True)
    middle = (x * 2).exp()
    watched = weakref.ref(middle)
    root = (middle * x).sum()
    del middle
    assert watched() is not None  # the graph holds it
    root.backward()
    del root
    assert watched() is None
    assert x.grad is not None


def test_retained_graph_is_freed_by_reference_counting_once_the_root_goes(no_automatic_gc):
    x = am.Tensor(np.ones(3), requires_grad=True)
    middle = (x * 2).exp()
    watched = weakref.ref(middle)
    root = (middle * x).sum()
    del middle
    root.backward(retain_graph=True)
    assert watched() is not None
    del root
    assert watched() is None


def test_a_second_order_graph_is_freed_by_reference_counting(no_automatic_gc):
    from autograd_mini.autograd import grad

    x = am.Tensor(np.array([0.5, 1.0]), requires_grad=True)
    middle = x.sigmoid()
    watched = weakref.ref(middle)
    root = (middle * middle).sum()
    del middle
    (g,) = grad(root, x, create_graph=True)
    (h,) = grad(g.sum(), x)
    assert h is not None
    del root, g, h
    assert watched() is None


# ---- deterministic order ---------------------------------------------------------------------------


def _branching_graph(x):
    """Many paths into x, summed in float32, where a change of order would change the bits."""
    parts = [(x * (k + 1)).tanh() for k in range(20)]
    total = parts[0]
    for p in parts[1:]:
        total = total + p * x
    return total.sum()


def test_order_of_the_graph_walk_and_gradients_are_deterministic():
    values = np.random.default_rng(0).standard_normal(5).astype(np.float32)
    orders, grads = [], []
    for _ in range(3):
        x = am.Tensor(values, requires_grad=True)
        root = _branching_graph(x)
        nodes = root.retain_graph_nodes()
        orders.append([(t.op_name, t.shape) for t in nodes])
        position = {id(t): i for i, t in enumerate(nodes)}
        for t in nodes:  # inputs before outputs
            assert all(position[id(p)] < position[id(t)] for p in t._parents if p.requires_grad)
        root.backward()
        grads.append(x.grad)
    assert orders[0] == orders[1] == orders[2]
    assert grads[0].tobytes() == grads[1].tobytes() == grads[2].tobytes()


# ---- dtypes ----------------------------------------------------------------------------------------


def test_float32_stays_float32_in_data_and_grad():
    x = am.Tensor(np.array([[0.5, -1.0], [2.0, 0.25]], dtype=np.float32), requires_grad=True)
    w = am.Tensor(np.array([[1.0], [-2.0]], dtype=np.float32), requires_grad=True)
    y = ((x @ w).tanh() * 3 + 1.5).sigmoid().mean()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32
    # the same in float64, as the closed form: float32 agrees to float32 precision
    x64, w64 = x.data.astype(np.float64), w.data.astype(np.float64)
    s = 1 / (1 + np.exp(-(np.tanh(x64 @ w64) * 3 + 1.5)))
    dz = s * (1 - s) * 3 * (1 - np.tanh(x64 @ w64) ** 2) / 2
    np.testing.assert_allclose(w.grad, x64.T @ dz, rtol=1e-5)
    np.testing.assert_allclose(x.grad, dz @ w64.T, rtol=1e-5)


@pytest.mark.parametrize("data", [3, 2.5, True, [1, 2], [[1.0, 2.0]], np.arange(3), np.array([True, False]),
                                  np.float16(1.5)], ids=repr)
def test_python_numbers_lists_ints_and_bools_become_float64(data):
    t = am.Tensor(data)
    assert t.dtype == np.float64
    np.testing.assert_array_equal(t.data, np.asarray(data, dtype=np.float64))


def test_a_tensor_copies_its_data_and_refuses_non_numbers():
    source = np.array([1.0, 2.0])
    t = am.Tensor(source)
    source[0] = 100.0
    assert t.data[0] == 1.0
    assert am.Tensor(np.zeros(2, np.float32)).dtype == np.float32
    with pytest.raises(TypeError, match="cannot hold data of dtype"):
        am.Tensor(["a", "b"])


# ---- operators and the array-like surface ----------------------------------------------------------

LEFT_OPERATORS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow]


@pytest.mark.parametrize("op", LEFT_OPERATORS, ids=lambda op: op.__name__)
def test_ndarray_or_number_on_the_left_of_a_tensor_gives_a_tensor(op):
    c = np.array([2.0, 3.0])
    x = am.Tensor([0.5, 1.5], requires_grad=True)
    for left in (c, np.float64(2.0), 2.0):
        y = op(left, x)
        assert isinstance(y, am.Tensor) and y.requires_grad
        np.testing.assert_allclose(y.data, op(left, x.data))


def test_ndarray_on_the_left_of_matmul_gives_a_tensor_and_its_gradient():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    x = am.Tensor([[0.5], [-1.0]], requires_grad=True)
    y = a @ x
    assert isinstance(y, am.Tensor)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, a.T @ np.ones((2, 1)))


def test_equality_gives_boolean_arrays_and_ordering_gives_mask_tensors():
    """== and != are value questions (plain boolean arrays; tensors hash by identity); <, <=, >, >=
    are ops giving a 0/1 mask Tensor without gradient (as torch's boolean tensors), which converts
    to a boolean array and indexes as a mask."""
    x = am.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    other = np.array([2.0, 2.0, 2.0])
    for result in (x == 2.0, x != 2.0, x == am.Tensor(other), other == x):
        assert type(result) is np.ndarray and result.dtype == np.bool_
    for result, expected in ((x < 2.0, [1, 0, 0]), (x <= 2.0, [1, 1, 0]), (x > 2.0, [0, 0, 1]), (x >= 2.0, [0, 1, 1]),
                             (x < other, [1, 0, 0]), (other < x, [0, 0, 1]), (np.less_equal(other, x), [0, 1, 1])):
        assert type(result) is am.Tensor and not result.requires_grad
        assert result.dtype == x.dtype and np.array_equal(result.data, expected)
        assert np.asarray(result).dtype == np.bool_ and np.array_equal(np.asarray(result), np.array(expected) == 1)
        assert np.array_equal(other[result], other[np.array(expected) == 1])
    assert (x > 2.0).any() and not (x > 3.0).any() and (x > 0.0).all()
    assert len({x, x, am.Tensor(x.detach())}) == 2  # hashed by identity: graph nodes, not values


def test_transpose_property_item_numpy_len():
    x = am.Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert x.T.shape == (3, 2)
    np.testing.assert_array_equal(x.T.data, x.data.T)
    (x.T * np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])).sum().backward()
    np.testing.assert_array_equal(x.grad, [[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]])
    assert am.Tensor([[2.5]]).item() == 2.5 and isinstance(am.Tensor(2.5).item(), float)
    assert type(x.numpy()) is np.ndarray
    np.testing.assert_array_equal(x.numpy(), [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert len(x) == 2 and x.ndim == 2 and x.size == 6


def test_detach_shares_values_and_stops_the_gradient():
    x = am.Tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert d.requires_grad is False and d.is_leaf
    assert np.shares_memory(d.data, x.data)
    (x * d).sum().backward()  # d is a constant: d/dx (x * c) = c
    np.testing.assert_array_equal(x.grad, [1.0, 2.0])


def test_requires_grad_():
    x = am.Tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    assert x.requires_grad_(False).requires_grad is False
    y = am.Tensor([1.0], requires_grad=True) * 2
    with pytest.raises(am.GraphError, match="non-leaf"):
        y.requires_grad_(False)


def test_repr():
    assert repr(am.Tensor([1.0, 2.5])) == "tensor([1. , 2.5])"
    assert repr(am.Tensor(2.0, requires_grad=True)) == "tensor(2., requires_grad=True)"
    x = am.Tensor([1.0], requires_grad=True, name="w")
    assert repr(x) == "tensor([1.], requires_grad=True, name='w')"
    assert repr(x * 2) == "tensor([2.], op=mul)"
    assert repr(am.Tensor(np.ones(2, np.float32))) == "tensor([1., 1.], dtype=float32)"


# ---- errors ----------------------------------------------------------------------------------------


def test_our_errors_are_standard_ones_too():
    assert issubclass(am.ShapeError, ValueError) and issubclass(am.GraphError, RuntimeError)
    assert issubclass(am.ShapeError, am.AutogradMiniError) and issubclass(am.GraphError, am.AutogradMiniError)


@pytest.mark.parametrize("left, right", [((2, 3), (4, 5)), ((3,), (2,)), ((2, 2, 3), (2, 4)), ((3,), (4, 2))])
def test_matmul_inner_dimension_mismatch_names_op_shapes_and_inner_dimensions(left, right):
    a, b = am.Tensor(np.ones(left)), am.Tensor(np.ones(right))
    for call in (lambda: a @ b, lambda: am.matmul(a, b)):
        with pytest.raises(am.ShapeError) as caught:
            call()
        message = str(caught.value)
        assert "matmul" in message and str(left) in message and str(right) in message
        assert "inner dimensions" in message


@pytest.mark.parametrize("op, name", [(operator.add, "add"), (operator.sub, "sub"), (operator.mul, "mul"),
                                      (operator.truediv, "div"), (am.maximum, "maximum"), (am.minimum, "minimum")])
def test_broadcasting_mismatch_names_op_and_both_shapes(op, name):
    with pytest.raises(am.ShapeError) as caught:
        op(am.Tensor(np.ones((2, 3))), am.Tensor(np.ones((4,))))
    message = str(caught.value)
    assert message.startswith(name + ":") and "(2, 3)" in message and "(4,)" in message
    assert isinstance(caught.value, ValueError)


def test_backward_on_a_tensor_that_needs_no_grad_says_why():
    with pytest.raises(am.GraphError) as caught:
        (am.Tensor([1.0, 2.0]) * 2).sum().backward()
    message = str(caught.value)
    assert "does not require grad" in message and "requires_grad=True" in message and "no_grad" in message


def test_backward_of_a_non_scalar_without_gradient_says_to_pass_gradient():
    y = am.Tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(am.GraphError) as caught:
        y.backward()
    assert "gradient=" in str(caught.value) and "(2,)" in str(caught.value)


def test_backward_with_a_gradient_of_the_wrong_shape():
    y = am.Tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(am.ShapeError) as caught:
        y.backward(gradient=np.ones((2, 1)))
    assert "(2, 1)" in str(caught.value) and "(2,)" in str(caught.value)
