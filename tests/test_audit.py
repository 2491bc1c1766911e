"""The gradient audit on deliberately broken hand rules.

Each network below has a correct hand rule with switches that inject one mistake; every test audits
one injected mistake and asserts the verdict and its factor or its variant (op, node, mistake).
Networks: a linear model with SSE and with MSE, a 1-hidden-layer sigmoid net, a 2-hidden-layer
tanh/sigmoid net, softmax regression. Rules return the direction that is SUBTRACTED.
"""
from __future__ import annotations

import importlib
import json

import numpy as np
import pytest

import autograd_mini as am
from autograd_mini import ops
from autograd_mini.audit_variants import VJP_VARIANTS, Variant
from autograd_mini.ops import Op
from autograd_mini.tensor import backprop

pytestmark = pytest.mark.filterwarnings("error")
audit_module = importlib.import_module("autograd_mini.audit")  # am.audit is the function


def sig(z):
    return 1 / (1 + np.exp(-z))


rng = np.random.default_rng(7)

# ---- a linear model, X @ W ----------------------------------------------------------------------

X_LIN = rng.normal(size=(6, 3))
Y_LIN = rng.normal(size=(6, 2))
W_LIN = {"W": rng.normal(size=(3, 2))}


def sse_loss(p):
    return ((am.Tensor(X_LIN) @ p["W"]) - Y_LIN).square().sum()


def sse_rule(p, scale=2.0):
    return {"W": scale * X_LIN.T @ (X_LIN @ p["W"] - Y_LIN)}


def test_exact_rule_is_exact():
    report = am.audit(sse_loss, W_LIN, sse_rule)
    assert report.verdicts == {"W": "exact gradient"}
    assert report.kind == "exact" and report.params["W"].max_rel_error < 1e-12


def test_dropped_factor_2_is_a_factor_one_half():
    report = am.audit(sse_loss, W_LIN, lambda p: sse_rule(p, scale=1.0))
    w = report.params["W"]
    assert w.kind == "factor" and w.factor == pytest.approx(0.5, rel=1e-9)
    assert "1/2" in w.meaning and "gradient of 0.5*L" in report.summary
    assert w.cosines[0] == pytest.approx(1.0) and w.scale == pytest.approx(0.5)


def test_sign_flipped():
    report = am.audit(sse_loss, W_LIN, lambda p: sse_rule(p, scale=-2.0))
    assert report.params["W"].kind == "sign_flipped" and report.params["W"].factor == -1.0
    assert all(d < 0 for d in report.descent)  # subtracting it climbs


def test_sign_flipped_with_a_factor_names_both():
    report = am.audit(sse_loss, W_LIN, lambda p: sse_rule(p, scale=-1.0))
    w = report.params["W"]
    assert w.kind == "sign_flipped" and w.factor == pytest.approx(-0.5)
    assert "y - p" in w.meaning and "1/2" in w.meaning


def test_transposed_shape():
    report = am.audit(sse_loss, W_LIN, lambda p: {"W": sse_rule(p)["W"].T})
    w = report.params["W"]
    assert w.kind == "transposed" and w.transposed_shape and w.factor == 1.0


def test_wrong_shape_is_refused():
    with pytest.raises(am.ShapeError, match="shape"):
        am.audit(sse_loss, W_LIN, lambda p: {"W": sse_rule(p)["W"].sum(axis=1)})


def test_weight_decay_is_the_gradient_of_another_function():
    report = am.audit(sse_loss, W_LIN, lambda p: {"W": sse_rule(p)["W"] + 0.1 * p["W"]})
    w = report.params["W"]
    assert w.kind == "other_gradient" and w.asymmetry < 1e-6
    assert "gradient of some other function" in report.explain()


def test_factor_that_changes_from_point_to_point_is_not_a_factor():
    # rule = (1 + |W|^2) * gradient: a multiple at every point, but never the same one
    report = am.audit(sse_loss, W_LIN, lambda p: {"W": (1 + np.sum(p["W"] ** 2)) * sse_rule(p)["W"]})
    w = report.params["W"]
    assert w.kind == "not_a_gradient" and w.asymmetry > 1e-3
    assert all(c == pytest.approx(1.0) for c in w.cosines)  # it points the right way everywhere...
    assert np.ptp([s for s in w.scales if s is not None]) > 0.1  # ...with a different factor at each point


def test_rule_exact_only_at_the_given_point_is_not_exact():
    w0 = W_LIN["W"]
    report = am.audit(sse_loss, W_LIN, lambda p: {"W": sse_rule(p)["W"] + (p["W"] - w0)})
    assert report.params["W"].cosines[0] == pytest.approx(1.0)  # coincides at the given point
    assert report.params["W"].kind == "other_gradient"  # the points nearby tell it apart


# ---- square weights: transposed by accident; a point where the gradient is symmetric -------------

X_SQ = rng.normal(size=(3, 3))
W_SQ = rng.normal(size=(3, 3))
S_SQ = rng.normal(size=(3, 3))
Y_SQ = X_SQ @ W_SQ - np.linalg.inv(X_SQ.T) @ (S_SQ + S_SQ.T)  # at W_SQ the gradient is 2(S + S^T)


def sq_loss(p):
    return ((am.Tensor(X_SQ) @ p["W"]) - Y_SQ).square().sum()


def sq_transposed_rule(p):
    return {"W": (2 * X_SQ.T @ (X_SQ @ p["W"] - Y_SQ)).T}


def test_transposed_square_matrix():
    report = am.audit(sq_loss, {"W": rng.normal(size=(3, 3))}, sq_transposed_rule)
    w = report.params["W"]
    assert w.kind == "transposed" and not w.transposed_shape
    assert "only because the matrix is square" in report.explain()


def test_transposed_rule_at_a_symmetric_gradient_needs_the_random_points():
    alone = am.audit(sq_loss, {"W": W_SQ}, sq_transposed_rule, n_random=0)
    assert alone.params["W"].kind == "exact"  # one point cannot tell W from W.T here
    report = am.audit(sq_loss, {"W": W_SQ}, sq_transposed_rule)
    assert report.params["W"].kind == "transposed"


# ---- a linear model with MSE: factors with N, zero-error points -----------------------------------

N_MSE = 8
X_MSE = rng.normal(size=(N_MSE, 3))
W_TRUE = rng.normal(size=(3, 1))
Y_MSE = X_MSE @ W_TRUE  # an exact fit exists: W_TRUE is a zero-error point


def mse_loss(p):
    return ((am.Tensor(X_MSE) @ p["w"]) - Y_MSE).square().mean()


def mse_rule(p, scale=2.0 / N_MSE):
    return {"w": scale * X_MSE.T @ (X_MSE @ p["w"] - Y_MSE)}


@pytest.mark.parametrize("scale, factor, words", [
    (2.0 / N_MSE, 1.0, None),
    (1.0, N_MSE / 2, "N/2 with N = 8: the rule is the gradient of 1/2*SSE while the loss is the MSE"),
    (2.0, N_MSE, "N with N = 8: the rule sums"),
    (1.0 / N_MSE, 0.5, "1/2: the 2 from differentiating the square was dropped"),
])
def test_mse_factors_are_named_with_n_from_the_mean(scale, factor, words):
    report = am.audit(mse_loss, {"w": np.zeros((3, 1))}, lambda p: mse_rule(p, scale))
    w = report.params["w"]
    assert w.factor == pytest.approx(factor, rel=1e-9)
    assert w.kind == ("exact" if factor == 1 else "factor")
    if words:
        assert words in w.meaning


def test_n_given_explicitly_names_the_factor_without_a_mean_in_the_loss():
    def sum_loss(p):
        return ((am.Tensor(X_MSE) @ p["w"]) - Y_MSE).square().sum()
    report = am.audit(sum_loss, {"w": np.zeros((3, 1))}, lambda p: mse_rule(p, 2.0 / N_MSE), n_samples=N_MSE)
    assert report.params["w"].factor == pytest.approx(1 / N_MSE)
    assert "1/N with N = 8" in report.params["w"].meaning


W_FIT = np.linalg.lstsq(X_MSE, Y_MSE, rcond=None)[0]  # zero error up to rounding: gradient ~1e-16, not 0


def test_zero_error_points_are_flagged_and_do_not_change_the_verdict():
    trajectory = [W_TRUE + 0.5 ** k for k in range(1, 4)]
    report = am.audit(mse_loss, {"w": np.zeros((3, 1))}, lambda p: mse_rule(p, 1.0),
                      points=[{"w": W_TRUE}, {"w": W_FIT}, *({"w": w} for w in trajectory)])
    w = report.params["w"]
    assert w.kind == "factor" and w.factor == pytest.approx(4.0)
    assert w.zero_points == [1, 2] and w.cosines[1] is None and report.descent[2] is None
    assert "~0" in report.explain()


def test_only_zero_error_points_give_no_verdict():
    assert 0 < np.abs(mse_rule({"w": W_FIT})["w"]).max() < 1e-13
    for rule in (lambda p: mse_rule(p), lambda p: mse_rule(p, 1.0), lambda p: {"w": 0 * p["w"]}):
        report = am.audit(mse_loss, {"w": W_TRUE}, rule, points=[{"w": W_FIT}], n_random=0)
        assert report.params["w"].kind == "undetermined"
        assert report.params["w"].zero_points == [0, 1]


def test_verdict_is_stable_across_seeds_and_points():
    start = np.zeros((3, 1))
    trajectory = [start]
    for _ in range(5):
        trajectory.append(trajectory[-1] - 0.05 * mse_rule({"w": trajectory[-1]}, 1.0)["w"])
    for seed in range(3):
        report = am.audit(mse_loss, {"w": start}, lambda p: mse_rule(p, 1.0),
                          points=[{"w": w} for w in trajectory[1:]], seed=seed)
        assert report.params["w"].factor == pytest.approx(4.0)
        assert {round(s, 9) for s in report.params["w"].scales} == {4.0}


# ---- document 001's 3x3 rule: each row updated with x_i (p_i - t_i) -----------------------------

X_001 = np.array([8.5, 0.65, 1.2])
T_001 = np.array([0.1, 1.0, 0.1])
W_001 = {"W": np.array([[0.1, 0.1, -0.3], [0.1, 0.2, 0.0], [0.0, 1.3, 0.1]])}


def loss_001(p):
    return ((p["W"] @ am.Tensor(X_001)) - T_001).square().sum()


def rowwise_rule_001(p):
    delta = X_001 * (p["W"] @ X_001 - T_001)  # one number per row...
    return {"W": np.repeat(delta[:, None], 3, axis=1)}  # ...subtracted from the whole row


def test_rowwise_update_is_not_a_gradient_yet_descends_elsewhere():
    report = am.audit(loss_001, W_001, rowwise_rule_001, learning_rate=0.01, steps=2000)
    w = report.params["W"]
    assert w.kind == "not_a_gradient" and w.asymmetry > 0.1 and report.asymmetry > 0.1
    assert all(d > 0 for d in report.descent)  # still downhill
    c = report.convergence
    assert c.rule_loss < 1e-12 and c.gradient_loss < 1e-12  # both reach zero error...
    assert c.distance > 0.01  # ...at different weights
    assert "not the gradient of any function" in report.explain()


# ---- a 1-hidden-layer sigmoid net (document 000's shape) ------------------------------------------

X_000 = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
Y_000 = np.array([[0], [1], [1], [0]], dtype=float)
P_000 = {"W0": rng.uniform(-1, 1, (3, 4)), "W1": rng.uniform(-1, 1, (4, 1))}


def loss_000(p):
    out = ((am.Tensor(X_000) @ p["W0"]).sigmoid() @ p["W1"]).sigmoid()
    return 0.5 * (out - Y_000).square().sum()


def rule_000(p, mistake=None):
    z1 = X_000 @ p["W0"]
    h = sig(z1)
    out = sig(h @ p["W1"])
    d_out = {None: out * (1 - out), "output at output": sig(out) * (1 - sig(out)),
             "output dropped": 1.0}.get(mistake, out * (1 - out))
    d2 = (out - Y_000) * d_out
    d_hidden = {"hidden at output": sig(h) * (1 - sig(h)), "hidden input as output": z1 * (1 - z1)}.get(
        mistake, h * (1 - h))
    d1 = d2 @ p["W1"].T * d_hidden
    return {"W0": X_000.T @ d1, "W1": h.T @ d2}


def test_backprop_rule_is_exact():
    assert am.audit(loss_000, P_000, rule_000).kind == "exact"


@pytest.mark.parametrize("mistake, wrong, node, variant", [
    ("output at output", ["W0", "W1"], "sigmoid node #2 of 2", "at_output"),
    ("output dropped", ["W0", "W1"], "sigmoid node #2 of 2", "dropped"),
    ("hidden at output", ["W0"], "sigmoid node #1 of 2", "at_output"),
    ("hidden input as output", ["W0"], "sigmoid node #1 of 2", "input_as_output"),
])
def test_sigmoid_net_mistakes_are_found_at_their_node(mistake, wrong, node, variant):
    report = am.audit(loss_000, P_000, lambda p: rule_000(p, mistake))
    for name, result in report.params.items():
        if name in wrong:
            assert result.kind == "wrong_derivative"
            assert (result.variant.op, result.variant.variant, result.variant.factor) == ("sigmoid", variant, 1.0)
            assert result.variant.label.startswith(node) and "(4, " in result.variant.label
            assert result.verdict.startswith(node)
        else:
            assert result.kind == "exact"
    nodes = report.variant_nodes
    assert set(nodes) == set(wrong) and all(t.op_name == "sigmoid" for t in nodes.values())
    node_of_rule = nodes[wrong[0]]
    assert node_of_rule._parents is not None  # its graph is kept, so a picture can draw it
    assert report.to_dict()["params"][wrong[0]]["variant"]["node_id"] == id(node_of_rule)


def test_document_003_rule_is_derivative_at_the_output_times_n_over_2():
    """delta = e * sigmoid(l1, deriv=True) with l1 already the output; loss MSE; weights += l0.T @ d."""
    x, y = X_000, np.array([[0, 0, 1, 1]], dtype=float).T

    def loss(p):
        return ((am.Tensor(x) @ p["w"]).sigmoid() - y).square().mean()

    def rule(p):
        l1 = sig(x @ p["w"])
        d = (y - l1) * (sig(l1) * (1 - sig(l1)))
        return {"w": -(x.T @ d)}  # the document adds x.T @ d

    report = am.audit(loss, {"w": rng.uniform(-1, 1, (3, 1))}, rule)
    w = report.params["w"]
    assert w.kind == "wrong_derivative" and w.variant.variant == "at_output"
    assert w.factor == pytest.approx(2.0) and "N/2 with N = 4" in w.meaning
    assert json.loads(json.dumps(report.to_dict()))["params"]["w"]["variant"]["op"] == "sigmoid"


# ---- a 2-hidden-layer tanh/sigmoid net --------------------------------------------------------------

X_2H = rng.normal(size=(5, 3))
Y_2H = rng.normal(size=(5, 1))
P_2H = {"W0": rng.normal(size=(3, 4)), "W1": rng.normal(size=(4, 4)), "W2": rng.normal(size=(4, 1))}


def loss_2h(p):
    h1 = (am.Tensor(X_2H) @ p["W0"]).tanh()
    h2 = (h1 @ p["W1"]).sigmoid()
    return 0.5 * ((h2 @ p["W2"]) - Y_2H).square().sum()


def rule_2h(p, mistake=None):
    h1 = np.tanh(X_2H @ p["W0"])
    h2 = sig(h1 @ p["W1"])
    d3 = h2 @ p["W2"] - Y_2H
    d2 = d3 @ p["W2"].T * h2 * (1 - h2)
    back = d2 @ p["W1"] if mistake == "W not transposed" else d2 @ p["W1"].T
    d_tanh = {"tanh at output": 1 - np.tanh(h1) ** 2, "tanh as sigmoid": h1 * (1 - h1),
              "tanh dropped": 1.0}.get(mistake, 1 - h1 ** 2)
    d1 = back * d_tanh
    return {"W0": X_2H.T @ d1, "W1": h1.T @ d2, "W2": h2.T @ d3}


def test_two_layer_rule_is_exact():
    assert am.audit(loss_2h, P_2H, rule_2h).verdicts == {name: "exact gradient" for name in P_2H}


def rule_2h_updating_as_it_goes(p, lr):
    """Back-propagation that updates each weight before propagating the error through it."""
    h1 = np.tanh(X_2H @ p["W0"])
    h2 = sig(h1 @ p["W1"])
    d3 = h2 @ p["W2"] - Y_2H
    g2 = h2.T @ d3
    d2 = d3 @ (p["W2"] - lr * g2).T * h2 * (1 - h2)
    g1 = h1.T @ d2
    d1 = d2 @ (p["W1"] - lr * g1).T * (1 - h1 ** 2)
    return {"W0": X_2H.T @ d1, "W1": g1, "W2": g2}


@pytest.mark.parametrize("lr", [0.01, 0.3])
def test_update_order_mistake_is_named_given_the_step(lr):
    report = am.audit(loss_2h, P_2H, lambda p: rule_2h_updating_as_it_goes(p, lr), learning_rate=lr, steps=3)
    assert report.params["W2"].kind == "exact"
    assert report.params["W1"].kind == report.params["W0"].kind == "updated_in_step"
    assert report.params["W1"].updated_before == ["W2"] and report.params["W0"].updated_before == ["W2", "W1"]
    assert "already updated in this step" in report.explain()
    # another step than the rule's own (a different learning rate) does not explain it
    other = am.audit(loss_2h, P_2H, lambda p: rule_2h_updating_as_it_goes(p, lr), learning_rate=2 * lr, steps=3)
    assert other.params["W0"].kind not in ("updated_in_step", "exact")
    # nor does a correct rule turn into one, given a step
    assert am.audit(loss_2h, P_2H, rule_2h, learning_rate=lr, steps=3).kind == "exact"


def test_update_order_mistake_without_a_step_is_not_called_a_gradient():
    report = am.audit(loss_2h, P_2H, lambda p: rule_2h_updating_as_it_goes(p, 0.3))
    assert report.params["W0"].kind in ("other_gradient", "not_a_gradient")


@pytest.mark.parametrize("mistake, op, node, variant", [
    ("tanh at output", "tanh", "tanh node #1 of 1", "at_output"),
    ("tanh as sigmoid", "tanh", "tanh node #1 of 1", "sigmoid_formula"),
    ("tanh dropped", "tanh", "tanh node #1 of 1", "dropped"),
    ("W not transposed", "matmul", "matmul node #2 of 3", "w_not_transposed"),
])
def test_two_layer_mistakes_in_the_first_layer(mistake, op, node, variant):
    report = am.audit(loss_2h, P_2H, lambda p: rule_2h(p, mistake))
    assert report.params["W1"].kind == report.params["W2"].kind == "exact"
    w0 = report.params["W0"]
    assert w0.kind == "wrong_derivative" and report.kind == "mixed"
    assert (w0.variant.op, w0.variant.variant, w0.variant.factor) == (op, variant, 1.0)
    assert w0.variant.label.startswith(node)


# ---- softmax regression -------------------------------------------------------------------------------

X_SM = rng.normal(size=(6, 3))
Y_SM = np.eye(3)[rng.integers(0, 3, 6)]
W_SM = {"W": rng.normal(size=(3, 3))}


def loss_sm(p):
    return -(Y_SM * am.log_softmax(am.Tensor(X_SM) @ p["W"], axis=1)).sum(axis=1).mean()


def rule_sm(p, mistake=None):
    z = X_SM @ p["W"]
    prob = np.exp(z - z.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    error = -Y_SM if mistake == "normaliser dropped" else prob - Y_SM
    grad = X_SM.T @ error / (1 if mistake == "no 1/N" else len(X_SM))
    return {"W": {"sign": -grad, "transposed": grad.T}.get(mistake, grad)}


@pytest.mark.parametrize("mistake, kind, factor", [
    (None, "exact", 1.0), ("no 1/N", "factor", 6.0), ("sign", "sign_flipped", -1.0),
    ("transposed", "transposed", 1.0), ("normaliser dropped", "wrong_derivative", 1.0),
])
def test_softmax_regression(mistake, kind, factor):
    report = am.audit(loss_sm, W_SM, lambda p: rule_sm(p, mistake))
    w = report.params["W"]
    assert w.kind == kind and w.factor == pytest.approx(factor)
    if mistake == "no 1/N":
        assert w.meaning.startswith("N with N = 6")
    if kind == "wrong_derivative":
        assert (w.variant.op, w.variant.variant) == ("log_softmax", "normaliser_dropped")


# ---- the catalogue and the engine hook ------------------------------------------------------------

OPS = {op.name: op for op in vars(ops).values() if isinstance(op, Op)}


@pytest.mark.parametrize("op_name", sorted(VJP_VARIANTS))
def test_every_variant_is_a_real_change_shaped_like_its_op(op_name):
    x = np.random.default_rng(1).uniform(0.2, 0.9, (3, 3))
    special = {"matmul": ((x, x.T + 1), {}), "pow": ((x,), {"exponent": 3.0}), "relu": ((x - 0.5,), {}),
               "div": ((x, x.T + 1), {}), "mul": ((x, x.T + 1), {}), "add": ((x, x[0] + 1), {}),
               "maximum": ((x - 0.5, np.zeros_like(x)), {}),
               "getitem": ((x,), {"index": (np.array([0, 0, 2]), [1, 1, 0])})}  # entry (0, 1) picked twice
    inputs, params = special.get(op_name, ((x,), {}))
    op = OPS[op_name]
    ans = op.forward(*inputs, **params)
    g = np.random.default_rng(2).normal(size=np.shape(ans))
    want = op.vjp(g, ans, *inputs, **params)
    for variant in VJP_VARIANTS[op_name]:
        got = variant.vjp(g, ans, *inputs, **params)
        assert [np.shape(a) for a in got] == [np.shape(b) for b in want]
        assert any(not np.allclose(a, b) for a, b in zip(got, want)), variant.name
        assert variant.description


def test_a_swapped_in_variant_replaces_one_node_only_and_the_true_op_comes_back():
    """The audit swaps a node's op on its own graph for one with the mistaken VJP, then restores it."""
    x = np.array([[1.0, 2.0]])
    point, _ = audit_module._evaluate(lambda p: ((am.Tensor(x) @ p["w"]).sigmoid() - 1.0).square().sum(),
                                      lambda p: {"w": np.zeros((2, 1))}, {"w": np.array([[0.3], [-0.2]])}, "point")
    (index,) = [k for k, t in enumerate(point.nodes) if t.op_name == "sigmoid"]
    node, true_op = point.nodes[index], point.nodes[index]._op
    dropped = audit_module._variant_gradient(point, index, Variant("dropped", "", lambda g, ans, x: (g,)))
    s = node.data
    np.testing.assert_allclose(point.grad["w"], x.T * 2 * (s - 1) * s * (1 - s))
    np.testing.assert_allclose(dropped["w"], x.T * 2 * (s - 1))
    assert node._op is true_op
    np.testing.assert_array_equal(audit_module._gradient(point.loss, point.leaves)["w"], point.grad["w"])


def test_vjp_override_replaces_one_node_only():
    w = am.Tensor(np.array([[0.3], [-0.2]]), requires_grad=True)
    hidden = am.Tensor([[1.0, 2.0]]) @ w
    out = hidden.sigmoid()
    loss = (out - 1.0).square().sum()
    plain = backprop([loss], [np.ones(())], retain_graph=True, accumulate_leaves=False, capture=[w])
    original = out._op  # the engine takes each VJP from the node's op: swap it at this node only
    out._op = am.Op(original.name, original.forward, lambda g, ans, x: (g,))
    dropped = backprop([loss], [np.ones(())], retain_graph=True, accumulate_leaves=False, capture=[w])
    out._op = original
    s = out.data
    np.testing.assert_allclose(plain[id(w)], np.array([[1.0], [2.0]]) * 2 * (s - 1) * s * (1 - s))
    np.testing.assert_allclose(dropped[id(w)], np.array([[1.0], [2.0]]) * 2 * (s - 1))


def test_report_to_dict_and_explain():
    report = am.audit(loss_000, P_000, lambda p: rule_000(p, "hidden at output"), learning_rate=0.5, steps=50)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["params"]["W0"]["kind"] == "wrong_derivative" and data["convergence"]["steps"] == 50
    text = report.explain()
    assert "W1: the rule is the exact gradient" in text and "sigmoid node #1 of 2" in text
    assert isinstance(report, am.AuditReport)


# ---- non-finite input and malformed rules ---------------------------------------------------------

def _poison(array, entry, value):
    out = np.array(array, dtype=float)
    out[entry] = value
    return out


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_a_rule_giving_non_finite_values_gets_its_own_verdict(value):
    report = am.audit(sse_loss, W_LIN, lambda p: {"W": _poison(sse_rule(p)["W"], (2, 1), value)})
    w = report.params["W"]
    assert w.kind == "non_finite" and report.kinds == {"W": "non_finite"} and report.kind == "non_finite"
    assert f"gives {value} at entry (2, 1)" in w.verdict and "given point 0" in w.evidence
    assert "not finite" in report.explain() and "other function" not in report.explain()
    assert all(d is None for d in report.descent)


def test_a_rule_non_finite_at_some_points_names_them_and_other_parameters_keep_their_verdicts():
    calls = []

    def rule(p):
        calls.append(1)
        return {"W0": rule_000(p, "")["W0"] if len(calls) != 3 else np.full(P_000["W0"].shape, np.nan),
                "W1": rule_000(p, "")["W1"]}
    report = am.audit(loss_000, P_000, rule, n_random=3)
    w0 = report.params["W0"]
    assert w0.kind == "non_finite" and "non-finite at point(s) [2] of 4" in w0.evidence
    assert report.params["W1"].kind == "exact" and report.kind == "mixed"
    assert report.descent[2] is None and report.descent[0] > 0


def test_a_rule_that_is_not_finite_near_the_points_is_not_called_another_functions_gradient():
    """Finite at every point, NaN when moved by the Jacobian's finite differences: a NaN Jacobian
    would look symmetric (its asymmetry NaN compares as small); it gets the non-finite verdict."""
    seen = []

    def rule(p):
        seen.append(1)
        decay = sse_rule(p)["W"] + 0.1 * p["W"]  # the gradient of another function, at the points
        return {"W": decay if len(seen) <= 3 else np.full_like(decay, np.nan)}
    report = am.audit(sse_loss, W_LIN, rule, n_random=2)
    w = report.params["W"]
    assert w.kind == "non_finite" and "Jacobian" in w.verdict and report.asymmetry is None


@pytest.mark.parametrize("where", ["params", "points"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_parameters_are_an_error_naming_parameter_point_and_entry(where, value):
    bad = {"W": _poison(W_LIN["W"], (1, 0), value)}
    args = (bad, None) if where == "params" else (W_LIN, [W_LIN, bad])
    point = 0 if where == "params" else 2
    with pytest.raises(ValueError, match=rf"audit: parameter 'W' is {value} at entry \(1, 0\) at given point {point}"):
        am.audit(sse_loss, args[0], sse_rule, args[1])


def test_a_non_finite_true_gradient_is_an_error_not_a_zero_gradient():
    """|w| via sqrt(w*w) has a NaN gradient at w = 0: nothing can be compared there."""
    def loss(p):
        return ((p["w"] * p["w"]) ** 0.5).sum()
    with pytest.raises(ValueError, match=r"autodiff gradient of 'w' is nan at entry \(1,\) at given point 0"):
        am.audit(loss, {"w": np.array([1.0, 0.0])}, lambda p: {"w": np.sign(p["w"])}, n_random=0)


def test_a_non_finite_loss_is_an_error():
    with pytest.raises(ValueError, match=r"audit: the loss is -inf at given point 0; nothing non-finite"):
        am.audit(lambda p: p["w"].log().sum(), {"w": np.array([0.0, 1.0])}, lambda p: {"w": 1 / p["w"]},
                 n_random=0)


def test_a_complex_rule_is_refused_not_cast():
    with pytest.raises(TypeError, match=r"complex array for 'W'.*imaginary part"):
        am.audit(sse_loss, W_LIN, lambda p: {"W": sse_rule(p)["W"] + 0j})


@pytest.mark.parametrize("rule, error, words", [
    (lambda p: [sse_rule(p)["W"]], TypeError, "manual_rule returned list; expected a dict name -> array"),
    (lambda p: None, TypeError, "manual_rule returned NoneType; expected a dict"),
    (lambda p: {"W": None}, TypeError, "returned None for 'W'; expected a real array of shape (3, 2)"),
    (lambda p: {}, ValueError, "returned directions for [] but the parameters are ['W']"),
    (lambda p: {"W": sse_rule(p)["W"], "V": 1.0}, ValueError, "directions for ['V', 'W']"),
    (lambda p: {"W": "downhill"}, TypeError, "returned str of dtype <U8 for 'W'"),
    (lambda p: {"W": [[1.0], [1.0, 2.0]]}, TypeError, "ragged list for 'W'"),
    (lambda p: {"W": np.zeros(5)}, am.ShapeError, "gave shape (5,) for 'W' of shape (3, 2)"),
])
def test_a_malformed_rule_is_a_clear_error_naming_the_parameter(rule, error, words):
    with pytest.raises(error) as caught:
        am.audit(sse_loss, W_LIN, rule)
    assert str(caught.value).startswith("audit: manual_rule") and words in str(caught.value)


def test_a_rule_may_return_tensors():
    report = am.audit(sse_loss, W_LIN, lambda p: {"W": am.Tensor(sse_rule(p)["W"])})
    assert report.kinds == {"W": "exact"}


# ---- precision: a rule is judged at the precision of the program it comes from -------------------

def _linear_rule_in(dtype):
    def rule(p):  # the same correct rule, computed in `dtype` from the parameter as given
        X = X_LIN.astype(dtype)
        return {"W": 2 * X.T @ (X @ p["W"] - Y_LIN.astype(dtype))}
    return rule


def test_a_float32_rule_is_judged_at_float32_precision_and_float64_keeps_its_bound():
    w32 = {"W": W_LIN["W"].astype(np.float32)}
    report = am.audit(sse_loss, w32, _linear_rule_in(np.float32))
    assert report.kind == "exact", report.explain()  # float64's 1e-9 called this correct rule "not a gradient"
    assert any("coarser float dtype" in note for note in report.notes)
    assert am.audit(sse_loss, w32, lambda p: {"W": 2 * _linear_rule_in(np.float32)(p)["W"]}).params["W"].mistake \
        == "a factor 2 too many (e.g. the loss's 1/2 left out)"  # a factor is still named in float32
    pattern = 1e-6 * rng.normal(size=(3, 2))
    off_by_1e_6 = lambda p: {"W": _linear_rule_in(np.float64)(p)["W"] * (1 + pattern)}  # noqa: E731
    assert am.audit(sse_loss, W_LIN, off_by_1e_6).kind != "exact"  # float64: 1e-6 is a real difference
    assert audit_module.Tolerance(float(np.finfo(np.float32).eps)).relative < 1e-3


def test_a_rule_rounding_in_float32_inside_is_judged_at_the_rounding_measured():
    def rule(p):  # returns float64, but its sum goes through a float32 buffer: no dtype shows it
        buffer = np.zeros((3, 2), dtype=np.float32)
        buffer += 2 * X_LIN.T @ (X_LIN @ p["W"] - Y_LIN)
        return {"W": buffer + 0 * p["W"]}
    report = am.audit(sse_loss, W_LIN, rule)
    assert report.kind == "exact", report.explain()  # it was "not a gradient" at float64's 1e-9
    assert any("rounds at" in note and "measured" in note for note in report.notes)
    assert am.audit(sse_loss, W_LIN, lambda p: {"W": 0.5 * rule(p)["W"]}).params["W"].mistake.startswith(
        "a factor 1/2")
    noisy = np.random.default_rng(9)  # a random rule's differences are not rounding: float64's bound stays
    assert am.audit(sse_loss, W_LIN, lambda p: {"W": rule(p)["W"] * (1 + 1e-6 * noisy.normal(size=(3, 2)))}
                    ).kind != "exact"
