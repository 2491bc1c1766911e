"""The engine's guarantees (docs/guarantees.md): per-thread grad mode and hooks, one graph walk whose
scratch state lives off the nodes, stale data refused in backward, tensors that behave like
sequences and arrays, and the gradient at every point where an op has no derivative.
Threads under load are in tests/test_threads.py."""
from __future__ import annotations

import threading
import warnings

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import autograd_mini as am
from autograd_mini import nn, optim
from autograd_mini.errors import GraphError, IndexOutOfRangeError, ShapeError
from autograd_mini.tensor import Op, Tensor, backprop, recording, walk

pytestmark = pytest.mark.filterwarnings("error")

FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _in_thread(fn):
    """Run fn in a new thread; return what it returned (or raise what it raised)."""
    out: dict = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as error:  # noqa: BLE001 (re-raised below, in the test's thread)
            out["error"] = error
    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    if "error" in out:
        raise out["error"]
    return out.get("value")


# ---- grad mode, scope and recording hooks are per thread ------------------------------------------


def test_no_grad_in_one_thread_leaves_another_recording():
    w = am.Tensor([1.0, 2.0], requires_grad=True)
    with am.no_grad():
        assert not am.is_grad_enabled()
        other = _in_thread(lambda: (am.is_grad_enabled(), (w * w).requires_grad))
        assert other == (True, True)
        assert not (w * w).requires_grad
    assert am.is_grad_enabled()


def test_overlapping_no_grad_blocks_in_two_threads_restore_each_threads_mode():
    # A enters, B enters, A leaves, B leaves: on main each block restored the *global* it saw, so
    # A's exit switched recording back on inside B's block, and B's exit left it off for good.
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict = {}

    def a():
        with am.no_grad():
            a_in.set()
            b_in.wait(5)
        seen["a after"] = am.is_grad_enabled()
        a_out.set()

    def b():
        a_in.wait(5)
        with am.no_grad():
            b_in.set()
            a_out.wait(5)
            seen["b inside, after a left"] = am.is_grad_enabled()
        seen["b after"] = am.is_grad_enabled()
    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"a after": True, "b inside, after a left": False, "b after": True}
    assert am.is_grad_enabled()


def test_nested_grad_modes_restore_in_order_and_after_errors():
    with am.no_grad():
        with am.enable_grad():
            assert am.is_grad_enabled()
            with pytest.raises(KeyError):
                with am.no_grad():
                    raise KeyError
            assert am.is_grad_enabled()
        assert not am.is_grad_enabled()
    assert am.is_grad_enabled()


def test_scope_is_per_thread():
    with am.scope("layer"):
        inner = _in_thread(lambda: (am.Tensor([1.0], requires_grad=True) * 2).scope)
        mine = (am.Tensor([1.0], requires_grad=True) * 2).scope
    assert inner is None and mine == "layer"


def test_recording_hooks_see_constants_and_value_reads_of_their_own_thread_only():
    w = am.Tensor([1.0, -2.0], requires_grad=True, name="w")
    plain = am.Tensor([3.0, 4.0])
    constants, reads = [], []
    with recording(on_constant=lambda t, number, source: constants.append(number),
                   on_value_read=lambda t, how: reads.append((t.name, how))):
        y = w * 2.0 + np.array([1.0, 1.0])
        # (np.asarray(w): refused)
        _ = w.data, w.numpy(), w.numpy(), bool(y[0] > 0), float(y[1]), int(y[0]), y.sum().item()
        # a comparison is an op (a mask needing no grad): only a tracer (on_untracked_op) hears bool() of it;
        # a tensor needing no grad is not heard either
        _ = w < 0, plain.data, bool(plain[0])
        _in_thread(lambda: (w.data, float(w[0])))  # another thread is not recording
    assert constants == [True, False, True, True]  # 2.0, the array, the 0 of each comparison
    assert [how for _, how in reads] == ["data", "numpy", "numpy", "float", "int", "item"]
    assert reads[0] == ("w", "data")
    _ = w.data, float(w[0])  # after the block: no hook
    assert len(reads) == 6


def test_recording_blocks_nest_and_restore_the_outer_hooks():
    w = am.Tensor([1.0], requires_grad=True)
    outer, inner = [], []
    with recording(on_value_read=lambda t, how: outer.append(how)):
        with recording(on_value_read=lambda t, how: inner.append(how)):
            float(w)
        w.item()
    assert inner == ["float"] and outer == ["item"]


def test_trace_warns_when_loss_fn_branches_on_a_value():
    w = am.Tensor([0.5, -1.0], requires_grad=True)

    def loss_fn(w):
        if w.data[0] > 0:  # the issue's example: the replay keeps this branch
            return (w * w).sum()
        return (w * 3.0).sum()
    with pytest.warns(am.TraceWarning, match="branch taken") as caught:
        step = am.trace(loss_fn, [w])
    assert caught[0].filename == __file__  # points at the line in loss_fn
    assert issubclass(am.TraceWarning, UserWarning)
    step()
    np.testing.assert_array_equal(w.grad, 2 * w.data)
    w.data = np.array([-0.5, -1.0])  # eagerly the other branch now (gradient 3), but the replay keeps w*w
    step()
    np.testing.assert_array_equal(w.grad, 2 * w.data)


@pytest.mark.parametrize("read", [lambda t: bool(t.sum() > 0), lambda t: float(t.sum()), lambda t: t.sum().item(),
                                  lambda t: t.numpy()[0], lambda t: t.detach().numpy()[0], lambda t: int(t[0] > 0)])
def test_trace_warns_for_every_kind_of_value_read_of_params_and_data(read):
    w, x = am.Tensor([0.5, -1.0], requires_grad=True), am.Tensor([2.0, 3.0])
    with pytest.warns(am.TraceWarning):
        am.trace(lambda w: (w * (2.0 if read(w) else 1.0)).sum(), [w])
    with pytest.warns(am.TraceWarning):  # the data: it changes between replays too
        am.trace(lambda w: (w * x * (2.0 if read(x * 2.0) else 1.0)).sum(), [w])


def test_trace_of_a_loss_that_reads_no_value_does_not_warn():
    w, x = am.Tensor([0.5, -1.0], requires_grad=True), am.Tensor([2.0, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        step = am.trace(lambda w: (am.maximum(w * x, 0.0) + w.shape[0]).sum(), [w])
    step()


# ---- one graph walk, no state on the nodes ---------------------------------------------------------


@st.composite
def random_graph(draw):
    """A random DAG of adds and muls over a few leaves (some constant), with shared subexpressions."""
    leaves = [am.Tensor(np.float64(i + 1), requires_grad=draw(st.booleans())) for i in range(draw(st.integers(1, 4)))]
    nodes = list(leaves)
    for _ in range(draw(st.integers(0, 12))):
        a, b = draw(st.sampled_from(nodes)), draw(st.sampled_from(nodes))
        nodes.append(a * b if draw(st.booleans()) else a + b)
    return nodes[-1], nodes


@FEW
@given(random_graph())
def test_walk_lists_inputs_before_outputs_once_each(case):
    root, nodes = case
    for grad_only in (True, False):
        order = walk([root], grad_only=grad_only)
        position = {id(t): i for i, t in enumerate(order)}
        assert len(position) == len(order)
        assert order[-1] is root
        for t in order:
            for p in t._parents:
                if p.requires_grad or not grad_only:
                    assert position[id(p)] < position[id(t)]
                else:
                    assert id(p) not in position
        reachable = {id(root)}
        for t in reversed(nodes):
            if id(t) in reachable:
                reachable.update(id(p) for p in t._parents)
        expected = {i for i in reachable if grad_only is False or i == id(root)  # a root is always listed
                    or next(t for t in nodes if id(t) == i).requires_grad}
        assert set(position) == expected


def test_walk_of_a_deep_graph_needs_no_recursion():
    x = am.Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(50_000):
        y = y * 1.0
    assert len(walk([y])) == 50_001 and len(walk([y], grad_only=False)) == 50_002
    y.backward()
    assert x.grad == 1.0


def test_tensors_carry_no_walk_scratch_state():
    assert not {"_visit", "_pending"} & set(Tensor.__slots__)


def test_a_backward_inside_a_vjp_over_shared_nodes_loses_nothing():
    # Re-entrant backward: the outer sweep is half done when a VJP runs a second backward through
    # the same nodes. With scratch state on the nodes the inner sweep took the outer's pending gradients.
    w = am.Tensor([1.0, 2.0], requires_grad=True)
    h = w * w  # shared by both sweeps
    inner_grads = []

    def nested_vjp(g, ans, x):
        (gw,) = am.autograd.grad((h * 3.0).sum(), [w], retain_graph=True)
        inner_grads.append(gw.data)
        return (g,)
    probe = Op("probe", lambda x: x.copy(), nested_vjp)
    loss = (probe(h) + h).sum()
    loss.backward(retain_graph=True)
    np.testing.assert_array_equal(inner_grads[0], 6 * w.data)
    np.testing.assert_array_equal(w.grad, 2 * (2 * w.data))  # d/dw of h + h


def test_swapping_a_nodes_op_changes_that_nodes_vjp_only():
    w = am.Tensor([0.5, -0.25], requires_grad=True)
    out = (w * 3.0).tanh()
    loss = (out * out).sum()
    original = out._op
    out._op = Op(original.name, original.forward, lambda g, ans, x: (g,))  # the VJP factor dropped
    swapped = backprop([loss], [np.ones(())], retain_graph=True, accumulate_leaves=False, capture=[w])[id(w)]
    out._op = original
    plain = backprop([loss], [np.ones(())], accumulate_leaves=False, capture=[w])[id(w)]
    t = np.tanh(3 * w.data)
    np.testing.assert_allclose(swapped, 2 * t * 3)
    np.testing.assert_allclose(plain, 2 * t * (1 - t * t) * 3)


def test_backprop_takes_no_overrides():
    with pytest.raises(TypeError):
        backprop([am.Tensor(1.0, requires_grad=True)], [np.ones(())], vjp_overrides={})


# ---- stale data is refused -------------------------------------------------------------------------

UNARY = ["exp", "tanh", "sigmoid", "square", "relu", "abs", "log", "softplus", "sum", "mean"]
BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / b, "matmul": lambda a, b: a @ b, "maximum": am.maximum}
WRITES = {
    "assign": lambda t: setattr(t, "data", t.data + 0.5),
    "in place": lambda t: t.__setattr__("data", t.data.__isub__(0.5)),
    "augmented": None,  # `t.data -= 0.5`, written out in the test (a lambda cannot hold a statement)
    "SGD step": lambda t: (setattr(t, "grad", np.ones_like(t.data)), optim.SGD([t], lr=0.1).step()),
    "Adam step": lambda t: (setattr(t, "grad", np.ones_like(t.data)), optim.Adam([t], lr=0.1).step()),
}


def _write(how, t):
    if how == "augmented":
        t.data -= 0.5
    else:
        WRITES[how](t)


@pytest.mark.parametrize("how", WRITES)
@pytest.mark.parametrize("op", UNARY)
def test_backward_refuses_an_input_written_after_a_unary_op_used_it(op, how):
    x = am.Tensor([[0.5, 1.5], [2.0, 3.0]], requires_grad=True)
    loss = getattr(x, op)().sum() if op not in ("sum", "mean") else getattr(x, op)() * 1.0
    _write(how, x)
    with pytest.raises(GraphError, match=rf"'{op}' \(a tensor of shape \(2, 2\).*modified after it was used "
                                         rf"in the forward.*Run backward before changing"):
        loss.backward()


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("side", [0, 1])
def test_backward_refuses_either_input_of_a_binary_op_written_after_use(op, side):
    xs = [am.Tensor([[0.5, 1.5], [2.0, 3.0]], requires_grad=True), am.Tensor([[1.0, 2.0], [0.5, 4.0]])]
    loss = BINARY[op](*xs).sum()
    xs[side].data = xs[side].data * 2  # the data (no grad) counts too: the VJP of the other input reads it
    with pytest.raises(GraphError, match=rf"input {side} of '{BINARY[op](*xs).op_name}'.*modified"):
        loss.backward()


def test_the_issues_example_and_the_accepted_orders():
    w = am.Tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    w.data -= 0.5
    with pytest.raises(GraphError, match="modified after it was used"):
        loss.backward()
    w.grad = None
    loss = (w * w).sum()  # forward again after the write: fine
    loss.backward()
    w.data -= 0.1 * w.grad  # a write after backward: fine, and the next forward sees it
    np.testing.assert_array_equal(w.grad, 2 * (w.data + 0.1 * w.grad))
    (w * w).sum().backward()


def test_a_write_to_a_tensor_the_graph_does_not_use_is_not_an_error():
    w, unrelated = am.Tensor([1.0, 2.0], requires_grad=True), am.Tensor([5.0], requires_grad=True)
    loss = (w * w).sum()
    unrelated.data = unrelated.data + 1
    loss.backward()
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])


def test_writing_an_intermediate_result_is_refused_where_its_value_is_used():
    x = am.Tensor([0.5, -1.0], requires_grad=True)
    y = x.exp()  # exp's VJP reads its output
    loss = (y * 2.0).sum()
    y.data = y.data * 0
    with pytest.raises(GraphError, match="'mul'"):
        loss.backward()


def test_writes_into_the_array_itself_are_not_detected():
    # documented limitation (docs/guarantees.md): only assignments to .data are counted
    w = am.Tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    w.data[0] = 3.0
    loss.backward()
    np.testing.assert_array_equal(w.grad, [6.0, 4.0])  # the new value with the old graph, silently


def test_a_write_in_another_thread_between_forward_and_backward_is_refused():
    w = am.Tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    _in_thread(lambda: optim.SGD([w], lr=0.1).step() if w.__setattr__("grad", np.ones(2)) is None else None)
    with pytest.raises(GraphError, match="modified after it was used"):
        loss.backward()


def test_a_graph_freed_by_one_threads_backward_is_refused_in_another():
    w = am.Tensor([1.0, 2.0], requires_grad=True)
    loss = (w.exp() * 2.0).sum()
    _in_thread(loss.backward)  # no retain_graph: frees the graph
    with pytest.raises(GraphError, match="already freed"):
        loss.backward()


def test_load_state_dict_counts_as_a_write():
    layer = nn.Linear(2, 1, rng=np.random.default_rng(0))
    loss = layer(am.Tensor([[1.0, 2.0]])).sum()
    layer.load_state_dict(layer.state_dict())
    with pytest.raises(GraphError, match="modified after it was used"):
        loss.backward()


def test_numpy_of_a_tensor_that_requires_grad_is_read_only_and_detach_shares_writable_memory():
    w = am.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="read-only"):
        w.numpy()[0] = 5.0
    with pytest.raises(TypeError, match="requires grad"):
        np.asarray(w)  # implicit: refused (it would drop the graph); t.numpy() says it wants the values
    raw = w.detach().numpy()
    raw[0] = 5.0  # documented: a raw alias goes around the check
    assert w.data[0] == 5.0
    assert am.Tensor([1.0]).numpy().flags.writeable


# ---- sequences and arrays ---------------------------------------------------------------------------


@FEW
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                  elements=st.floats(-3, 3, allow_nan=False)))
def test_a_tensor_iterates_unpacks_and_sums_like_its_array(values):
    x = am.Tensor(values, requires_grad=True)
    rows = list(x)
    assert len(rows) == len(x) == values.shape[0]
    for row, expected in zip(rows, values):
        np.testing.assert_array_equal(row.data, expected)
    total = sum(x)  # 0 + x[0] + x[1] + ...: a graph like any other
    np.testing.assert_allclose(total.data, values.sum(axis=0))
    (total * np.arange(total.size).reshape(total.shape)).sum().backward()
    np.testing.assert_array_equal(x.grad, np.broadcast_to(np.arange(total.size).reshape(total.shape), values.shape))
    for i in (values.shape[0], -values.shape[0] - 1):
        with pytest.raises(IndexError, match="out of bounds"):
            x[i]
    assert x.numpy().shape == values.shape and np.allclose(x, values) and np.allclose(values, x)


def test_unpacking_and_for_loops():
    x = am.Tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
    a, b, c = x
    (a + 2 * b + 3 * c).sum().backward()
    np.testing.assert_array_equal(x.grad, [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    with pytest.raises(ValueError):
        a, b = x
    assert [float(v) for row in x for v in row] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


def test_out_of_range_is_an_index_error_that_says_so_and_other_shape_errors_stay():
    x = am.Tensor([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(IndexOutOfRangeError, match=r"getitem: inputs of shape \(2, 2\).*index 2 is out of bounds"):
        x[2]
    with pytest.raises(IndexError):
        x[0, -3]
    assert issubclass(IndexOutOfRangeError, ShapeError)
    with pytest.raises(ShapeError) as caught:
        x @ am.Tensor([1.0, 2.0, 3.0])
    assert not isinstance(caught.value, IndexError)


def test_zero_d_tensors_have_no_length_and_scalars_convert():
    s = am.Tensor(2.5)
    with pytest.raises(TypeError, match="0-d"):
        len(s)
    with pytest.raises(TypeError, match="0-d"):
        iter(s)
    assert float(s) == 2.5 and int(am.Tensor([[7.9]])) == 7 and float(am.Tensor([3.0])) == 3.0
    with pytest.raises(TypeError, match="one element"):
        float(am.Tensor([1.0, 2.0]))
    assert np.asarray(am.Tensor([1, 2]), dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError, match="copy=False"):
        am.Tensor([1.0]).__array__(np.float32, copy=False)
    t = am.Tensor([1.0])
    assert np.asarray(t) is t.data and np.array(t) is not t.data


def test_tensor_of_a_recording_tensor_warns_and_copies():
    w = am.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match=r"detach\(\)"):
        copy = am.Tensor(w)
    assert not copy.requires_grad and copy.data is not w.data
    copy.data[0] = 9.0
    assert w.data[0] == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        am.Tensor(w.detach())
        am.Tensor(am.Tensor([1.0]))


# ---- non-differentiable points (each against PyTorch's convention, written out) ---------------------


@FEW
@given(st.data())
def test_maximum_and_minimum_split_ties_equally_with_broadcasting(data):
    shape_x = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
    shape_y = data.draw(hnp.broadcastable_shapes(shape_x, max_dims=2, max_side=3))
    small = st.integers(-2, 2).map(float)  # few values: many ties
    xv = data.draw(hnp.arrays(np.float64, shape_x, elements=small))
    yv = data.draw(hnp.arrays(np.float64, shape_y, elements=small))
    g = data.draw(hnp.arrays(np.float64, np.broadcast_shapes(shape_x, shape_y), elements=small))
    for op, wins in ((am.maximum, np.greater), (am.minimum, np.less)):
        x, y = am.Tensor(xv, requires_grad=True), am.Tensor(yv, requires_grad=True)
        (op(x, y) * g).sum().backward()
        share_x = wins(xv, yv) + 0.5 * (xv == yv)
        share_y = wins(yv, xv) + 0.5 * (xv == yv)
        np.testing.assert_array_equal(x.grad, _sum_to(g * share_x, shape_x))
        np.testing.assert_array_equal(y.grad, _sum_to(g * share_y, shape_y))


def _sum_to(a, shape):
    a = a.sum(axis=tuple(range(a.ndim - len(shape)))) if a.ndim > len(shape) else a
    return a.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True) if shape else a


def test_gradients_at_the_kinks():
    x = am.Tensor([-1.0, 0.0, 2.0], requires_grad=True)
    expected = {"relu": [0.0, 0.0, 1.0], "abs": [-1.0, 0.0, 1.0],
                "max0": [0.0, 0.5, 1.0], "min0": [1.0, 0.5, 0.0]}
    for name, f in (("relu", lambda t: t.relu()), ("abs", lambda t: t.abs()),
                    ("max0", lambda t: am.maximum(t, 0.0)), ("min0", lambda t: am.minimum(t, 0.0))):
        x.grad = None
        f(x).sum().backward()
        np.testing.assert_array_equal(x.grad, expected[name], err_msg=name)
    x.grad = None
    am.maximum(x, x).sum().backward()  # a tie everywhere: 1/2 + 1/2
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 1.0])


def test_maximum_second_order_is_zero_curvature_through_the_mask():
    x = am.Tensor([0.0, 1.0, -2.0], requires_grad=True)
    (g,) = am.autograd.grad((am.maximum(x, 0.0) * x).sum(), [x], create_graph=True)  # d/dx max(x,0)*x
    np.testing.assert_array_equal(g.data, [0.0, 2.0, 0.0])  # at 0: 1/2*0 + max(0,0) = 0
    (h,) = am.autograd.grad(g.sum(), [x])
    np.testing.assert_array_equal(h.data, [1.0, 2.0, 0.0])  # at 0: the 1/2 share taken twice


# ---- values at the edges of the existing rows ----------------------------------------------------------


@FEW
@given(st.data())
def test_concatenate_with_axis_none_flattens_like_numpy_forward_and_backward(data):
    parts = [data.draw(hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=3),
                                  elements=st.floats(-3, 3, allow_nan=False)))
             for _ in range(data.draw(st.integers(1, 3)))]
    ts = [am.Tensor(p, requires_grad=True) for p in parts]
    out = am.concatenate(ts, axis=None)
    np.testing.assert_array_equal(out.data, np.concatenate(parts, axis=None))
    weights = np.arange(out.size, dtype=np.float64)
    (out * weights).sum().backward()
    offset = 0
    for t, p in zip(ts, parts):
        np.testing.assert_array_equal(t.grad, weights[offset:offset + p.size].reshape(p.shape))
        offset += p.size
    am.gradcheck(lambda *xs: am.concatenate(xs, axis=None).square(), *parts)
    am.gradgradcheck(lambda *xs: am.concatenate(xs, axis=None).square(), *parts)


def _sigmoid_reference(x: np.ndarray) -> np.ndarray:
    """1/(1+e^-x) in float64 from a stable form (e^x/(1+e^x) for x < 0)."""
    x = x.astype(np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_is_accurate_over_the_whole_range_without_warnings(dtype):
    info = np.finfo(dtype)
    x = np.concatenate([np.linspace(-1200, 60, 40001), -np.geomspace(1e-8, 1200, 4001),
                        [-1000.0, -745.2, -709.5, -104.0, -103.0, -88.7, -88.0, -87.0, 0.0]]).astype(dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # (underflow is NumPy's silent default)
        got = am.sigmoid(am.Tensor(x)).data
    assert got.dtype == dtype
    want = _sigmoid_reference(x)  # float64; for float32 the float64 value is far more precise
    if dtype == np.float64:  # float64's own subnormals are the limit of the reference: compare normals
        normal = want >= info.tiny
        np.testing.assert_allclose(got[normal], want[normal], rtol=4 * info.eps, atol=0)
        assert np.all(np.abs(got[~normal] - want[~normal]) <= 2 * info.smallest_subnormal)
    else:
        # rounding to float32 costs half an ulp of a normal value, half a subnormal step below
        error = np.abs(got.astype(np.float64) - want)
        assert np.all(error <= 4 * info.eps * want + float(info.smallest_subnormal))
    assert am.sigmoid(am.Tensor(-1000.0)).item() == 0.0
    assert am.sigmoid(am.Tensor(np.float32(-200.0))).item() == 0.0
    near = am.sigmoid(am.Tensor(np.array([-88.5, -95.0], dtype=np.float32))).data  # main: 60 % off at -88.5
    np.testing.assert_allclose(near, _sigmoid_reference(np.array([-88.5, -95.0])), rtol=1e-3)


def test_sigmoid_gradient_at_the_far_tail_is_finite_and_tiny():
    x = am.Tensor([-1000.0, -720.0, 0.0], requires_grad=True)
    x.sigmoid().sum().backward()
    np.testing.assert_allclose(x.grad, [0.0, np.exp(-720.0), 0.25], rtol=1e-12)


def test_documented_limit_a_view_made_without_recording_does_not_carry_the_version():
    """docs/guarantees.md, "Not detected": x needs no grad, so x.T is a plain view, not a recorded op;
    a counted write to x changes what matmul saved, and backward uses the new values, silently."""
    x = am.Tensor([[1.0, 2.0], [3.0, 4.0]])
    w = am.Tensor(np.eye(2), requires_grad=True)
    loss = (x.T @ w).sum()
    x.data -= 1.0
    loss.backward()  # not refused: the limit docs/guarantees.md states
    np.testing.assert_array_equal(w.grad, x.data @ np.ones((2, 2)))  # d/dw sum(x.T @ w), with the new x
