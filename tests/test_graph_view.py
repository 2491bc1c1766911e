"""The graph node's public, read-only view (op, parents, op_params, graph_freed) and the audit's
one-VJP substitution as a context manager (am.substituted_vjps)."""
import numpy as np
import pytest

import autograd_mini as am
from autograd_mini.errors import GraphError


def test_node_view_names_the_op_its_inputs_and_parameters():
    x = am.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    s = (x * 2.0).sum(axis=1)
    assert s.op is not None and s.op.name == s.op_name
    (product,) = s.parents
    assert product.parents[0] is x and x.op is None and x.parents == ()
    assert dict(s.op_params)["axis"] == 1
    with pytest.raises(TypeError):
        s.op_params["axis"] = 0  # type: ignore[index]
    with pytest.raises(AttributeError):
        s.op = None  # type: ignore[misc]


def test_graph_freed_after_backward_and_kept_with_retain_graph():
    x = am.Tensor([1.0, 2.0], requires_grad=True)
    kept = (x * x).sum()
    kept.backward(retain_graph=True)
    assert not kept.graph_freed and kept.parents
    freed = (x * x).sum()
    freed.backward()
    assert freed.graph_freed and freed.parents == ()
    assert not x.graph_freed  # a leaf has no graph to free


def test_substituted_vjps_runs_the_given_rule_and_puts_the_op_back():
    x = am.Tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = x.sigmoid()
    loss = y.sum()
    own = y.op

    def doubled(g, ans, a):  # a deliberately wrong rule: twice the true derivative
        return (2.0 * g * ans * (1.0 - ans),)

    with am.substituted_vjps([(y, doubled)]):
        loss.backward(retain_graph=True)
    swapped, x.grad = x.grad.copy(), None
    loss.backward()
    s = 1.0 / (1.0 + np.exp(-x.data))
    np.testing.assert_allclose(swapped, 2.0 * s * (1.0 - s), rtol=1e-15)
    np.testing.assert_allclose(x.grad, s * (1.0 - s), rtol=1e-15)
    assert y.op is own


def test_substituted_vjps_restores_on_error_and_refuses_a_leaf():
    x = am.Tensor([1.0], requires_grad=True)
    y = x.exp()
    own = y.op
    with pytest.raises(RuntimeError), am.substituted_vjps([(y, lambda g, ans, a: (g,))]):
        raise RuntimeError("inside")
    assert y.op is own
    with pytest.raises(GraphError, match="leaf"), am.substituted_vjps([(x, lambda g, ans, a: (g,))]):
        pass
