"""The audit on our corpus of course- and textbook-style NumPy code (tests/corpus, written by us).

Every correct rule must be judged exact, as written and with the whole program in float32; every
injected mistake must be caught (some parameter not exact), and where EXPECTED gives words, named: some
parameter's `mistake` contains them. `python tests/corpus/measure.py` prints the figures as a table. A mistake
that gives the rule the wrong shape is refused with a ShapeError that names it. The tally at the
bottom counts what is named, so a change that loses a name shows there.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import autograd_mini as am
from autograd_mini.audit import KINDS
from autograd_mini.errors import ShapeError
from corpus.heldout import HELDOUT_CASES
from corpus.layers import LAYER_CASES
from corpus.losses import LOSS_CASES, sigmoid, svm_rule, SVM_DATA, SVM_PARAMS, TWO_LAYER_DATA, TWO_LAYER_PARAMS, \
    two_layer_rule

SHAPE = "shape error"  # the rule has the wrong shape: refused, with the mistake named in the error
# case: {mistake: (kind some parameter gets, words its `mistake` contains, or None where it is not named)}
EXPECTED: dict[str, dict[str, tuple[str, str | None]]] = {
    "two-layer net": {
        "no -1 at the true class": ("wrong_derivative", "the -1 at the true class left out"),
        "1/N dropped": ("factor", "the 1/N was dropped (N = 5)"),
        "ReLU derivative dropped": ("wrong_derivative", "missing the ReLU's step derivative"),
        "bias summed over the wrong axis": ("wrong_derivative", "bias gradient summed over the wrong axis"),
        "bias not summed": (SHAPE, "the sum over the batch axis (axis 0, N = 5) was not taken"),
        "L2 factor 2 dropped": ("wrong_term", "the L2 penalty term on W1, is missing its factor 2"),
        "L2 sign flipped": ("wrong_term", "the L2 penalty term on W2, is sign-flipped (the weight decay's sign)"),
        "L2 gradient missing": ("wrong_term", "the L2 penalty term on W1, is missing"),
    },
    "svm loss": {
        "true-class column not subtracted": ("wrong_derivative", "the gradient through the picked entries left out"),
        "1/N dropped": ("wrong_term", "the data term, is scaled by 6: the 1/N was dropped (N = 6)"),
        "L2 factor 2 dropped": ("wrong_term", "the L2 penalty term on W, is missing its factor 2"),
    },
    "textbook sigmoid net": {
        "1/m dropped": ("factor", "the 1/N was dropped (N = 6)"),
        "hidden derivative at the output": ("wrong_derivative", "derivative taken at the output"),
        "hidden derivative at the input": ("wrong_derivative", "z(1-z) instead of s(1-s)"),
        "bias not summed": (SHAPE, "the sum over axis 1 (N = 6) was not taken"),
    },
    "policy gradient": {
        "ReLU derivative dropped": ("wrong_derivative", "missing the ReLU's step derivative"),
        "ascent direction used as descent": ("sign_flipped", "the sign is flipped"),
    },
    "word2vec negative sampling": {
        "sign of the true pair's term": ("wrong_term", "term 1 of 2, the term in v, U, is sign-flipped"),
        "negatives' gradients not accumulated": ("wrong_derivative", "a repeated index (a word drawn twice) keeps "
                                                 "only one"),
    },
    "affine layer": {
        "bias summed over the wrong axis": ("wrong_derivative", "bias gradient summed over the wrong axis"),
        "dw averaged over the batch": ("factor", "divided by N twice"),
        "w not transposed": ("wrong_derivative", "used W instead of W.T"),
    },
    "batch-norm layer": {
        "dgamma without x_hat": ("wrong_derivative", "a factor left out of a product's derivative"),
        "batch statistics treated as constants": ("wrong_derivative", "the batch statistics treated as constants"),
        "1/N dropped from the mean's term": ("wrong_derivative", "1/N of the mean dropped"),
    },
    "dropout layer": {
        "mask missing in the backward": ("wrong_derivative", "the dropout mask missing from the backward"),
        "mask not divided by p in the backward": ("factor", "scaled by dropout_param['p'] = 0.7: a factor "
                                                  "dropout_param['p'] too many"),
    },
    "naive convolution": {
        "dx overwritten instead of accumulated": ("wrong_derivative", "only the last one's is kept (a convolution's "
                                                  "dx overwritten instead of accumulated)"),
        "db averaged over the batch": ("factor", "divided by N twice"),
    },
    "naive max pooling": {
        "gradient spread over the whole window": ("wrong_derivative", "the gradient sent to every entry of the "
                                                  "window, not only to its maximum"),
    },
    "RNN over time steps": {
        "hidden gradient not carried back": ("wrong_derivative", "the hidden state's gradient not passed to the "
                                             "previous step), at every matmul node with Wh (all 3 of them)"),
        "tanh derivative at the output": ("wrong_derivative", "every tanh node (all 3 of them)"),
        "sigmoid's derivative used for tanh": ("wrong_derivative", "the sigmoid's derivative a(1-a) used for tanh"),
    },
    # held-out style (corpus/heldout.py): idioms as written, in place, in loops, in float32, at kinks
    "char-level RNN": {
        "no -1 at the target": ("wrong_derivative", "the -1 at the true class left out, at every div node (all 4"),
        "dhnext not carried back": ("wrong_derivative", "np.dot(Whh, h) over time steps: the hidden state's "
                                    "gradient not passed to the previous step), at every matmul node with Whh (all 4"),
        "tanh derivative at the output": ("wrong_derivative", "derivative taken at the output: 1-tanh(a)^2 applied "
                                          "to a = tanh(z), at every tanh node (all 4 of them)"),
    },
    "softmax, naive loops, float32": {
        "no -1 at the true class": ("wrong_derivative", "the -1 at the true class left out, in an SVM loss the "
                                    "true class's column not subtracted), at every getitem node"),
        "dW not divided by num_train": ("wrong_term", "the data term, is scaled by 6: the 1/N was dropped (N = 6)"),
        "reg gradient without its 2": ("wrong_term", "the L2 penalty term on W, is missing its factor 2"),
    },
    "two-layer net with dropout": {
        "mask missing in the backward": ("wrong_derivative", "the dropout mask missing from the backward"),
        "weight decay's sign flipped": ("wrong_term", "is sign-flipped (the weight decay's sign)"),
    },
    "logistic regression, float32": {
        "sigmoid's derivative multiplied in again": ("other_gradient", None),  # the squared error's gradient
        "1/m dropped": ("factor", "the 1/N was dropped (N = 8)"),
    },
    "network with batch-norm": {  # the softmax's sums over classes are statistics too, but not the batch's
        "batch statistics treated as constants": ("wrong_derivative", "the batch statistics treated as constants in "
                                                  "the backward"),
        "dgamma without a_hat": ("wrong_derivative", "a factor left out of a product's derivative"),
    },
    "XOR net, integer data": {  # X.dot(W) with X an integer array records: the audit hands it in as data
        "deriv of the pre-activation": ("wrong_derivative", "z(1-z) instead of s(1-s), at the hand-written sigmoid"),
        "the update's sign kept": ("sign_flipped", "the sign is flipped"),
    },
}
FAST = {"n_random": 2}  # the corpus is about verdicts: fewer random points keep the suite quick


def _as(dtype, value):
    """value in dtype if it is a float array and dtype is given (None: as written)."""
    return value.astype(dtype) if dtype and isinstance(value, np.ndarray) and value.dtype.kind == "f" else value


def run(case: str, mistake: str | None, dtype=None) -> am.AuditReport:
    """The case's audit, as written or with every float array of the program in `dtype`: the parameters,
    the data and the rule's own arithmetic (a float32 program is judged at float32's precision)."""
    if case in LOSS_CASES or case in HELDOUT_CASES:
        loss, rule, params, data, points = HELDOUT_CASES[case] if case in HELDOUT_CASES else (*LOSS_CASES[case], [])
        return am.audit(loss, {k: _as(dtype, v) for k, v in params.items()},
                        lambda p, d: rule({k: _as(dtype, v) for k, v in p.items()},
                                          {k: _as(dtype, v) for k, v in d.items()}, mistake),
                        [{k: _as(dtype, v) for k, v in point.items()} for point in points],
                        data={k: _as(dtype, v) for k, v in data.items()}, **FAST)
    forward, backward, inputs = LAYER_CASES[case]
    return am.audit_layer(forward, lambda dout, cache: backward(_as(dtype, dout), cache, mistake),
                          [_as(dtype, v) for v in inputs], draws=2, **FAST)


def test_every_case_is_listed():
    assert set(EXPECTED) == set(LOSS_CASES) | set(LAYER_CASES) | set(HELDOUT_CASES)


@pytest.mark.parametrize("dtype", [None, np.float32])
@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_the_correct_rule_is_exact(case, dtype):  # float32: judged by float64's rounding, all were false alarms
    report = run(case, None, dtype)
    assert report.kind == "exact", report.explain()
    assert all(m is None for m in report.mistakes.values())


MISTAKES = [(case, mistake) for case in sorted(EXPECTED) for mistake in EXPECTED[case]]


@pytest.mark.parametrize("dtype", [None, np.float32])
@pytest.mark.parametrize("case,mistake", MISTAKES)
def test_the_mistake_is_caught_and_named(case, mistake, dtype):
    kind, words = EXPECTED[case][mistake]
    if kind == SHAPE:
        with pytest.raises(ShapeError, match=words.replace("(", r"\(").replace(")", r"\)")):
            run(case, mistake, dtype)
        return
    report = run(case, mistake, dtype)
    assert report.kind != "exact"
    assert kind in report.kinds.values(), report.explain()
    if words is not None:
        assert any(m and words in m for m in report.mistakes.values()), report.mistakes
    if kind in ("other_gradient", "not_a_gradient"):  # unnamed: where they first differ, and by how much
        assert all("entries differ, first" in p.first_difference for p in report.params.values()
                   if p.kind in ("other_gradient", "not_a_gradient"))


def test_tally():
    """The corpus's figures (they are printed with -s): correct rules, mistakes, mistakes named."""
    named = sum(words is not None for case in EXPECTED.values() for _, words in case.values())
    assert (len(EXPECTED), len(MISTAKES), named) == (17, 47, 46)
    print(f"correct rules: {len(EXPECTED)}; injected mistakes: {len(MISTAKES)}, caught by the tests above: "
          f"{len(MISTAKES)}, named: {named}")


# ---- a forward that leaves the graph is refused, never a false alarm ---------------------------------

def two_layer_loss_without_data(p):
    """The two-layer forward with X an ndarray closed over: X.dot(W1) is NumPy's, and drops the graph."""
    X, y = TWO_LAYER_DATA["X"], TWO_LAYER_DATA["y"]
    h = np.maximum(0, X.dot(p["W1"]) + p["b1"])
    scores = h.dot(p["W2"]) + p["b2"]
    probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
    return -np.sum(np.log(probs[np.arange(len(y)), y])) / len(y) + 0.05 * (np.sum(p["W1"] * p["W1"])
                                                                           + np.sum(p["W2"] * p["W2"]))


def test_a_forward_that_converts_a_parameter_is_refused_at_that_line_not_a_false_alarm():
    # ndarray.dot(W) would take W's values as a NumPy array: refused there, saying what to write instead
    with pytest.raises(TypeError, match="would drop its graph") as refusal:
        am.audit(two_layer_loss_without_data, TWO_LAYER_PARAMS, lambda p: two_layer_rule(p, TWO_LAYER_DATA), **FAST)
    assert "X.dot(t) with X an ndarray" in str(refusal.value) and "am.Tensor(X)" in str(refusal.value)
    lines = [entry for entry in refusal.traceback if entry.path.name == "test_audit_corpus.py"]
    assert 'X.dot(p["W1"])' in str(lines[-1].statement)  # the user's own line is the last of theirs


def test_a_forward_that_reads_values_explicitly_is_its_own_verdict_not_a_false_alarm():
    def loss(p):  # W1's values taken explicitly (.numpy()): the graph through W1 is cut where the user said so
        X, y = TWO_LAYER_DATA["X"], TWO_LAYER_DATA["y"]
        h = np.maximum(0, am.Tensor(X.dot(p["W1"].numpy())) + p["b1"])
        scores = h.dot(p["W2"]) + p["b2"]
        probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
        return -np.sum(np.log(probs[np.arange(len(y)), y])) / len(y) + 0.05 * (np.sum(p["W1"] * p["W1"])
                                                                               + np.sum(p["W2"] * p["W2"]))
    report = am.audit(loss, TWO_LAYER_PARAMS, lambda p: two_layer_rule(p, TWO_LAYER_DATA), **FAST)
    w1 = report.params["W1"]
    assert w1.kind == "graph_dropped" and "partly" in w1.verdict and "finite differences" in w1.evidence
    assert {report.params[n].kind for n in ("b1", "W2", "b2")} == {"exact"}  # these the graph carries
    assert "other" not in report.explain() and "not a gradient" not in report.explain()


def test_handing_the_data_in_makes_the_same_forward_record():
    def loss(p, d):
        h = np.maximum(0, d["X"].dot(p["W1"]) + p["b1"])  # d["X"] is a constant Tensor: Tensor.dot
        scores = h.dot(p["W2"]) + p["b2"]
        probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
        y = d["y"]
        return -np.sum(np.log(probs[np.arange(len(y)), y])) / len(y) + 0.05 * (np.sum(p["W1"] * p["W1"])
                                                                               + np.sum(p["W2"] * p["W2"]))
    assert am.audit(loss, TWO_LAYER_PARAMS, two_layer_rule, data=TWO_LAYER_DATA, **FAST).kind == "exact"


def test_a_loss_entirely_off_the_graph_is_dropped_for_every_parameter():
    def loss(p, d):  # the sum taken out as a float on purpose (.item()), then put back as a constant
        buffer = np.zeros(2)
        buffer[0] = np.sum(p["W"] * p["W"]).item()
        return am.Tensor(buffer.sum()) + 0 * p["W"].sum()
    report = am.audit(loss, {"W": np.ones(3)}, lambda p, d: {"W": 2 * p["W"]}, data={}, **FAST)
    assert report.params["W"].kind == "graph_dropped" and "partly" in report.params["W"].verdict


def test_a_buffer_write_of_a_recording_tensor_is_refused_at_that_line():
    def loss(p, d):
        buffer = np.zeros(2)
        buffer[0] = np.sum(p["W"] * p["W"])
        return am.Tensor(buffer.sum()) + 0 * p["W"].sum()
    # NumPy turns the refusal of a one-entry store into its own ValueError, with ours as the cause
    with pytest.raises((TypeError, ValueError)) as refusal:
        am.audit(loss, {"W": np.ones(3)}, lambda p, d: {"W": 2 * p["W"]}, data={}, **FAST)
    error = refusal.value if isinstance(refusal.value, TypeError) else refusal.value.__cause__
    assert "would drop its graph" in str(error) and "out[i] = t" in str(error)


def test_a_random_forward_is_refused():
    def loss(p, d):
        return (p["W"] * np.random.rand(3)).sum()
    with pytest.raises(ValueError, match="the forward is random"):
        am.audit(loss, {"W": np.ones(3)}, lambda p, d: {"W": np.ones(3)}, data={})


def test_a_layer_whose_forward_writes_into_a_buffer_is_refused_naming_it():
    def forward(x, w):
        out = np.zeros((x.shape[0], w.shape[1]))
        for n in range(x.shape[0]):
            out[n] = np.asarray(x[n].dot(w))  # the course's buffer write: NumPy keeps the values only
        return out, (x, w)
    with pytest.raises(TypeError, match="would drop its graph"):
        am.audit_layer(forward, lambda dout, cache: (dout.dot(cache[1].T), cache[0].T.dot(dout)),
                       [np.ones((2, 3)), np.ones((3, 2))])


# ---- the rest of the audit's new answers ---------------------------------------------------------

def test_a_hand_written_sigmoid_is_recognised_in_any_spelling():
    X, y = np.random.default_rng(3).normal(size=(5, 2)), np.array([[0.0], [1], [1], [0], [1]])

    def loss(p, d):
        out = 0.5 * (1 + np.tanh(d["X"].dot(p["w"]) / 2))  # the sigmoid, spelled with tanh
        return 0.5 * np.sum((out - d["y"]) ** 2)

    def rule(p, d):
        out = sigmoid(d["X"].dot(p["w"]))
        return {"w": d["X"].T.dot((out - d["y"]) * sigmoid(out) * (1 - sigmoid(out)))}  # s'(s(z))
    report = am.audit(loss, {"w": np.array([[0.3], [-0.2]])}, rule, data={"X": X, "y": y}, **FAST)
    assert report.params["w"].kind == "wrong_derivative"
    assert "derivative taken at the output" in report.params["w"].mistake


def test_kinds_are_a_documented_literal():
    from autograd_mini.audit import KIND_MEANINGS
    assert set(KIND_MEANINGS) == set(KINDS) and all(KIND_MEANINGS.values())
    every = {kind for case in EXPECTED.values() for kind, _ in case.values()} - {SHAPE}
    assert every <= set(KINDS)


def test_svm_written_with_an_in_place_write_is_exact():
    def loss(p, d):
        X, y = d["X"], d["y"]
        scores = X.dot(p["W"])
        margins = np.maximum(0, scores - scores[np.arange(len(y)), y][:, np.newaxis] + 1)
        margins[np.arange(len(y)), y] = 0
        return np.sum(margins) / len(y) + 0.05 * np.sum(p["W"] * p["W"])
    assert am.audit(loss, SVM_PARAMS, svm_rule, data=SVM_DATA, **FAST).kind == "exact"


def test_two_layer_net_written_with_a_masked_write_is_exact():
    def loss(p, d):
        h = d["X"].dot(p["W1"]) + p["b1"]
        h[h < 0] = 0
        scores = h.dot(p["W2"]) + p["b2"]
        probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
        y = d["y"]
        return -np.sum(np.log(probs[np.arange(len(y)), y])) / len(y) + 0.05 * (np.sum(p["W1"] * p["W1"])
                                                                               + np.sum(p["W2"] * p["W2"]))
    assert am.audit(loss, TWO_LAYER_PARAMS, two_layer_rule, data=TWO_LAYER_DATA, **FAST).kind == "exact"


# ---- properties: any data, any sizes -------------------------------------------------------------

@settings(max_examples=12, deadline=None)
@given(n=st.integers(2, 7), d=st.integers(1, 3), h=st.integers(1, 3), seed=st.integers(0, 2 ** 16),
       mistake=st.sampled_from([None, "1/N dropped"]), dtype=st.sampled_from([np.float64, np.float32]))
def test_a_tanh_net_rule_is_exact_or_its_dropped_1_over_n_named_with_n_from_the_data(n, d, h, seed, mistake, dtype):
    rng = np.random.default_rng(seed)
    data = {"X": rng.normal(size=(n, d)).astype(dtype), "y": rng.normal(size=n).astype(dtype)}
    params = {"W1": rng.normal(size=(d, h)).astype(dtype), "b1": rng.normal(size=h).astype(dtype),
              "w2": rng.normal(size=h).astype(dtype)}

    def loss(p, dd):
        hidden = np.tanh(dd["X"].dot(p["W1"]) + p["b1"])
        return np.mean((hidden.dot(p["w2"]) - dd["y"]) ** 2)

    def rule(p, dd):
        X = dd["X"]
        hidden = np.tanh(X.dot(p["W1"]) + p["b1"])
        error = 2 * (hidden.dot(p["w2"]) - dd["y"]) / (1 if mistake else X.shape[0])
        dz = np.outer(error, p["w2"]) * (1 - hidden ** 2)
        return {"W1": X.T.dot(dz), "b1": dz.sum(axis=0), "w2": hidden.T.dot(error)}
    report = am.audit(loss, params, rule, data=data, n_random=2)
    if mistake is None:
        assert report.kind == "exact", report.explain()
    else:
        assert set(report.mistakes.values()) == {f"the 1/N was dropped (N = {n})"}, report.explain()


# ---- kinks: a point where an input sits on one says nothing, and is left out (never a false alarm) --

def test_max_pooling_over_relu_zeros_ties_and_the_tied_points_are_left_out():
    forward, backward, inputs = LAYER_CASES["naive max pooling"]
    x = np.maximum(0, np.random.default_rng(0).normal(size=(2, 2, 4, 4)))  # windows of tied zeros
    # the course's backward gives every tied entry all of it; autodiff splits it: both are subgradients
    report = am.audit_layer(forward, lambda dout, cache: backward(dout, cache), [x, inputs[1]], draws=2, **FAST)
    assert report.kind == "exact", report.explain()  # it was "graph_dropped": the tie fooled the graph check
    assert any("given point 0 (max on its kink)" in note for note in report.notes)


def test_a_masked_write_on_its_boundary_is_left_out():
    X = TWO_LAYER_DATA["X"].copy()
    X[0] = 0  # with b1 = 0 the first sample's hidden units are exactly 0: h[h < 0] = 0 sits on its boundary
    params = {**TWO_LAYER_PARAMS, "b1": np.zeros_like(TWO_LAYER_PARAMS["b1"])}

    def loss(p, d):
        h = d["X"].dot(p["W1"]) + p["b1"]
        h[h < 0] = 0
        scores = h.dot(p["W2"]) + p["b2"]
        probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
        y = d["y"]
        return -np.sum(np.log(probs[np.arange(len(y)), y])) / len(y) + 0.05 * (np.sum(p["W1"] * p["W1"])
                                                                               + np.sum(p["W2"] * p["W2"]))

    def rule(p, d):  # dh[hidden < 0] = 0 passes the error back at 0, another subgradient than relu'(0) = 0
        X, y = d["X"], d["y"]
        hidden = X.dot(p["W1"]) + p["b1"]
        h = np.maximum(0, hidden)
        probs = np.exp(h.dot(p["W2"]) + p["b2"])
        probs /= probs.sum(axis=1, keepdims=True)
        probs[np.arange(len(y)), y] -= 1
        dscores = probs / len(y)
        dh = dscores.dot(p["W2"].T)
        dh[hidden < 0] = 0
        return {"W1": X.T.dot(dh) + 0.1 * p["W1"], "b1": dh.sum(axis=0), "W2": h.T.dot(dscores) + 0.1 * p["W2"],
                "b2": dscores.sum(axis=0)}
    report = am.audit(loss, params, rule, data={"X": X, "y": TWO_LAYER_DATA["y"]}, **FAST)
    assert report.kind == "exact", report.explain()  # b1 was "graph_dropped"
    assert any("a mask or condition on its boundary" in note for note in report.notes)


def test_the_same_mistake_in_every_term_of_a_loop_is_said_once():
    from corpus.heldout import REGSM, SOFTMAX_DATA, SOFTMAX_PARAMS, SOFTMAX_POINTS, softmax_naive_rule

    def loss(p, d):  # the 1/N inside the loop: one term per sample, then the L2 term
        X, y, W = d["X"], d["y"], p["W"]
        loss = 0.0
        for i in range(X.shape[0]):
            scores = X[i].dot(W)
            scores -= np.max(scores)
            loss += (-scores[y[i]] + np.log(np.sum(np.exp(scores)))) / X.shape[0]
        return loss + REGSM * np.sum(W * W)
    report = am.audit(loss, SOFTMAX_PARAMS, lambda p, d: softmax_naive_rule(p, d, "dW not divided by num_train"),
                      SOFTMAX_POINTS, data=SOFTMAX_DATA, **FAST)
    assert report.params["W"].mistake == ("the gradients of terms 1-6 of 7 (one per sample or step), the data term "
                                          "each, are scaled by 6: the 1/N was dropped (N = 6)")


def test_a_layer_that_computes_in_float32_is_judged_not_called_dropped():
    def forward(x, w):  # the forward casts: its loss, and so its finite differences, carry float32 rounding
        return x.astype(np.float32).dot(w.astype(np.float32)), (x, w)

    def forward_reading_w(x, w):  # w's values taken explicitly: the graph through w is cut
        return x.astype(np.float32).dot(am.Tensor(np.asarray(w.numpy() if isinstance(w, am.Tensor) else w,
                                                             dtype=np.float32))), (x, w)

    def backward(dout, cache):
        x, w = cache
        return dout.dot(w.T), x.T.dot(dout)
    rng = np.random.default_rng(4)
    inputs = [rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(3, 2)).astype(np.float32)]
    assert am.audit_layer(forward, backward, inputs, **FAST).kind == "exact"  # was "graph_dropped" for both
    report = am.audit_layer(forward_reading_w, backward, inputs, **FAST)
    assert report.kinds == {"x": "exact", "w": "graph_dropped"}


def test_an_l1_term_written_with_the_builtin_abs_records():
    X, Y = TWO_LAYER_DATA["X"], np.random.default_rng(6).normal(size=(5, 2))

    def loss(p, d):
        return np.mean((d["X"].dot(p["W"]) - d["Y"]) ** 2) + 0.1 * abs(p["W"]).sum()  # abs(t): Tensor.__abs__

    def rule(p, d):
        return {"W": 2 * d["X"].T.dot(d["X"].dot(p["W"]) - d["Y"]) / d["Y"].size + 0.1 * np.sign(p["W"])}
    params = {"W": np.random.default_rng(7).normal(size=(4, 2))}
    assert am.audit(loss, params, rule, data={"X": X, "Y": Y}, **FAST).kind == "exact"
    assert am.audit(loss, params, lambda p, d: {"W": rule(p, d)["W"] - 0.2 * np.sign(p["W"])}, data={"X": X, "Y": Y},
                    **FAST).params["W"].mistake == ("the gradient of term 2 of 2, the L1 penalty term on W, is "
                                                 "sign-flipped (the weight decay's sign)")


def test_a_bias_gradient_kept_as_one_row_is_the_same_numbers_not_a_shape_mistake():
    X = TWO_LAYER_DATA["X"]

    def loss(p, d):
        return 0.5 * np.sum((d["X"].dot(p["W"]) + p["b"]) ** 2)

    def rule(p, d):  # db of shape (1, 2) for b of shape (2,): np.sum(..., axis=0, keepdims=True)
        out = d["X"].dot(p["W"]) + p["b"]
        return {"W": d["X"].T.dot(out), "b": np.sum(out, axis=0, keepdims=True)}
    params = {"W": np.ones((4, 2)), "b": np.zeros(2)}
    assert am.audit(loss, params, rule, data={"X": X}, **FAST).kind == "exact"  # was refused: "N = 1 not summed"


def _relu_net(seed: int, dtype, scale: float):
    """A small ReLU softmax net with an L2 term, its correct rule, its params and data."""
    rng = np.random.default_rng(seed)
    n, d, h = rng.integers(2, 9), rng.integers(1, 4), rng.integers(1, 5)
    data = {"X": rng.normal(size=(n, d)).astype(dtype), "y": rng.integers(0, 3, n)}
    params = {"W1": (scale * rng.normal(size=(d, h))).astype(dtype), "b1": np.zeros(h, dtype),
              "W2": (scale * rng.normal(size=(h, 3))).astype(dtype), "b2": np.zeros(3, dtype)}

    def loss(p, dd):
        s = np.maximum(0, dd["X"].dot(p["W1"]) + p["b1"]).dot(p["W2"]) + p["b2"]
        s = s - s.max(axis=1, keepdims=True)
        probs = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
        return -np.log(probs[np.arange(n), dd["y"]]).mean() + 0.05 * np.sum(p["W1"] ** 2)

    def rule(p, dd):
        X, y = dd["X"], dd["y"]
        z = X.dot(p["W1"]) + p["b1"]
        a = np.maximum(0, z)
        s = a.dot(p["W2"]) + p["b2"]
        probs = np.exp(s - s.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        probs[np.arange(n), y] -= 1
        ds = probs / n
        dz = ds.dot(p["W2"].T) * (z > 0)
        return {"W1": X.T.dot(dz) + 0.1 * p["W1"], "b1": dz.sum(0), "W2": a.T.dot(ds), "b2": ds.sum(0)}
    return loss, rule, params, data


@pytest.mark.parametrize("seed, scale", [(1, 0.1), (79, 3.0)])
def test_a_float32_relu_net_whose_loss_is_float64_is_not_called_dropped(seed, scale):
    # the parameters are float32 but the loss is computed in float64: its graph check keeps float64's small
    # steps (float32's 5e-3 and 5e-2 crossed ReLU kinks, and the check called b1 or W1 "graph_dropped")
    loss, rule, params, data = _relu_net(seed, np.float32, scale)
    assert am.audit(loss, params, rule, data=data, n_random=3, seed=seed).kind == "exact"


@pytest.mark.parametrize("seed", [3, 4, 6, 7, 9, 10])
def test_a_saturating_float32_rnn_is_judged_at_the_rounding_its_gradient_carries(seed):
    # weights of size 5: tanh saturates, and 1 - h*h in float32 is off by float32's eps, not by eps times
    # its value; h0's gradient went through it and was called a factor 0.9996 or "not a gradient"
    forward, backward, inputs = LAYER_CASES["RNN over time steps"]
    rng = np.random.default_rng(seed)
    report = am.audit_layer(forward, backward, [(5 * rng.normal(size=v.shape)).astype(np.float32) for v in inputs],
                            draws=2, n_random=2)
    assert report.kind == "exact", report.explain()


def test_a_random_point_where_the_loss_overflows_is_left_out_with_a_note():
    loss, rule, params, data = _relu_net(58, np.float64, 30.0)  # the softmax's log underflows nearby, not here
    report = am.audit(loss, params, rule, data=data, n_random=3, seed=58)
    assert report.kind == "exact", report.explain()  # the whole audit was refused
    assert any("not finite there (it overflows): random point 1" in note for note in report.notes)


def test_a_forward_that_changes_its_data_in_place_gets_fresh_data_at_every_call():
    X, Y = TWO_LAYER_DATA["X"].copy(), np.random.default_rng(8).normal(size=(5, 1))
    y = np.array([1, 0, 2, 1, 2])
    X_before, y_before = X.copy(), y.copy()

    def loss(p, d):
        Xs = d["X"]
        Xs *= 2.0  # scaling the data in place, inside the forward
        labels = d["y"]
        labels -= 1  # and shifting integer labels in place
        return 0.5 * np.sum((Xs.dot(p["W"]) - d["Y"]) ** 2) + 0 * labels.sum()

    def rule(p, d):
        Xs = 2.0 * d["X"]
        return {"W": Xs.T.dot(Xs.dot(p["W"]) - d["Y"])}
    report = am.audit(loss, {"W": np.ones((4, 1))}, rule, data={"X": X, "Y": Y, "y": y}, **FAST)
    assert report.kind == "exact"  # the shared data drifted between calls: "the forward is random"
    assert np.array_equal(X, X_before) and np.array_equal(y, y_before)  # the caller's arrays untouched


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 16), dtype=st.sampled_from([np.float64, np.float32]),
       scale=st.sampled_from([0.1, 1.0, 5.0]), zero_row=st.booleans())
def test_a_correct_relu_net_rule_is_never_called_wrong(seed, dtype, scale, zero_row):
    # any sizes, precision and weight scale, zero biases, and a zero data row (inputs on ReLU's kink)
    loss, rule, params, data = _relu_net(seed, dtype, scale)
    if zero_row:
        data["X"][0] = 0
    report = am.audit(loss, params, rule, data=data, n_random=3, seed=seed)
    assert set(report.kinds.values()) <= {"exact", "undetermined"}, report.explain()  # (dead units: no gradient)
