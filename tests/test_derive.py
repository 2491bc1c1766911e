"""am.derive: the derived step gives eager's numbers bit for bit (every experiment, random graphs of the
op table, the simplified equations too), reads like document 000's hand code, refuses what it cannot run."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import autograd_mini as am
from autograd_mini.derivation import DeriveError, derive
from autograd_mini.app.experiments import all_experiments
from autograd_mini.losses import half_sse
from models import digits, doc000, doc002
from autograd_mini.optim import SGD
from autograd_mini.train import eager_by_default

X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
Y = np.array([[0], [1], [1], [0]], dtype=float)


def doc000_step(lr=10.0):
    model = doc000.TwoLayerNet()
    layer_0, y = am.Tensor(X, name="layer_0"), am.Tensor(Y, name="y")
    params = dict(model.named_parameters())
    return model, params, lambda *_: half_sse(model(layer_0), y), SGD(model.parameters(), lr=lr)


# ---- every experiment: compiled (the default) against eager, bit for bit -----------------------------------

def assert_same(a, b, where=""):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)) and not (a and isinstance(a[0], (int, float, np.number))):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, (np.ndarray, np.number, float, int, list)):
        assert np.array_equal(np.asarray(a), np.asarray(b)), f"{where}: {a!r} != {b!r}"
    elif hasattr(a, "rows"):
        assert_same(a.rows, b.rows, where)


def both_ways(train):
    with eager_by_default(True):
        eager = train()
    return eager, train()


def test_doc000_sweep_compiled_equals_eager():
    eager, compiled = both_ways(lambda: doc000.train_alphas("autodiff", steps=3_000))
    assert_same(eager, compiled, "000")


@pytest.mark.parametrize("name", ["linear", "xor"])
def test_doc002_per_sample_compiled_equals_eager(name):
    eager, compiled = both_ways(lambda: doc002.train(name, seed=3, epochs=40))
    assert_same(eager[1].rows, compiled[1].rows, name)
    assert_same(eager[0].state_dict(), compiled[0].state_dict(), name)


@pytest.mark.parametrize("name", [n for n in all_experiments() if n.startswith(("001.", "003."))])
def test_doc001_doc003_runs_compiled_equal_eager(name):
    run = all_experiments()[name].run
    eager, compiled = both_ways(lambda: run(quiet=True))
    assert eager.lines == compiled.lines
    for key in eager.histories:
        assert_same(eager.histories[key].rows, compiled.histories[key].rows, f"{name}.{key}")


def test_digits_adam_compiled_step_equals_eager():
    eager, compiled = both_ways(lambda: digits.train(epochs=4))
    assert_same(eager[1].rows, compiled[1].rows, "digits")
    assert_same(eager[0].state_dict(), compiled[0].state_dict(), "digits")


# ---- the derived step against eager over many steps -----------------------------------------------------------

def test_doc000_derived_step_with_update_equals_eager_over_many_steps():
    _, params, loss_fn, sgd = doc000_step()
    step = derive(loss_fn, params, update=sgd)
    _, eager_params, eager_loss, eager_sgd = doc000_step()
    for i in range(2_000):
        for p in eager_params.values():
            p.grad = None
        loss = eager_loss()
        loss.backward()
        eager_sgd.step()
        step.function()
        if i % 97 == 0:
            assert step.loss() == loss.item(), i
    for name in params:
        assert np.array_equal(params[name].data, eager_params[name].data), name
        assert np.array_equal(params[name].grad, eager_params[name].grad), name


def test_frozen_entries_and_per_member_rates_are_eager_sgd():
    rng = np.random.default_rng(0)
    x = am.Tensor(rng.normal(size=(6, 3)), name="x")

    def make():
        w = am.Tensor(np.arange(24.0).reshape(2, 3, 4) / 10, requires_grad=True, name="w")
        mask = np.zeros((2, 3, 4), dtype=bool)
        mask[0, 1] = True
        return w, SGD([w], lr=np.array([0.1, 0.3]).reshape(2, 1, 1), frozen={w: mask})

    w, sgd = make()
    step = derive(lambda w: ((x @ w).tanh() ** 2).sum(), [w], update=sgd)
    w2, sgd2 = make()
    for _ in range(50):
        step.function()
        w2.grad = None
        ((x @ w2).tanh() ** 2).sum().backward()
        sgd2.step()
    assert np.array_equal(w.data, w2.data)


# ---- random graphs of the op table (hypothesis) ----------------------------------------------------------

UNARY = [lambda h: h.tanh(), lambda h: h.sigmoid(), lambda h: h.square(), lambda h: -h, lambda h: h.relu(),
         lambda h: h.abs(), lambda h: am.softplus(h), lambda h: (h.square() + 1.0).log(), lambda h: h.tanh().exp(),
         lambda h: am.log_softmax(h, axis=1), lambda h: h.T.T, lambda h: h.mean(axis=0, keepdims=True) + h,
         lambda h: 0.5 * (2.0 * h), lambda h: 0.25 * (h * 4.0), lambda h: h * 1.0, lambda h: 3.0 * (h / 3.0),
         lambda h: 3.0 * (h * (1.0 / 3.0)), lambda h: 10.0 * (0.1 * h),
         lambda h: (h ** 3) * 0.5, lambda h: h.sum(axis=1, keepdims=True) * h]
BINARY = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / (b.square() + 1.0),
          lambda a, b: am.maximum(a, b), lambda a, b: am.minimum(a, b), lambda a, b: a @ b.T @ a]
LOSSES = [lambda h: h.sum(), lambda h: h.mean(), lambda h: 0.5 * h.square().sum(), lambda h: (h * h).mean() * 2.0]


def random_model(program, seed, unary=UNARY):
    rng = np.random.default_rng(seed)
    w = am.Tensor(rng.normal(0, 0.5, (3, 4)), requires_grad=True, name="w")
    b = am.Tensor(rng.normal(0, 0.5, (4,)), requires_grad=True, name="b")
    x = am.Tensor(rng.normal(size=(5, 3)), name="x")

    def loss_fn(w, b):
        pool = [x @ w + b]
        for kind, i, j in program["ops"]:
            if kind == "unary":
                pool.append(unary[i](pool[j % len(pool)]))
            else:
                pool.append(BINARY[i](pool[j % len(pool)], pool[-1]))
        return LOSSES[program["loss"]](pool[-1])
    return [w, b], loss_fn


def program_strategy(unary):
    """Programs over these unary ops (and BINARY, LOSSES): what random_model(program, seed, unary) builds."""
    return st.fixed_dictionaries({
        "ops": st.lists(st.one_of(st.tuples(st.just("unary"), st.integers(0, len(unary) - 1), st.integers(0, 5)),
                                  st.tuples(st.just("binary"), st.integers(0, len(BINARY) - 1), st.integers(0, 5))),
                        min_size=1, max_size=6),
        "loss": st.integers(0, len(LOSSES) - 1)})


programs = program_strategy(UNARY)


@settings(max_examples=60, deadline=None)
@given(programs, st.integers(0, 1000))
def test_random_graphs_derived_steps_equal_eager(program, seed):
    params, loss_fn = random_model(program, seed)
    eager_params, _ = random_model(program, seed)
    with np.errstate(all="ignore"):
        step = derive(loss_fn, params, update=SGD(params, lr=0.01))
        eager_sgd = SGD(eager_params, lr=0.01)
        for _ in range(5):
            for p in eager_params:
                p.grad = None
            loss = loss_fn(*eager_params)
            loss.backward()
            eager_sgd.step()
            step.function()
            assert np.array_equal(step.loss_array(), loss.data, equal_nan=True)
    for p, q in zip(params, eager_params):
        assert np.array_equal(p.data, q.data, equal_nan=True)
        assert np.array_equal(p.grad, q.grad, equal_nan=True)


@settings(max_examples=60, deadline=None)
@given(programs, st.integers(0, 1000))
def test_the_simplified_equations_compute_eagers_values(program, seed):
    """The plain form is the simplified program as expressions (scalings folded, sharing): same numbers."""
    params, loss_fn = random_model(program, seed)
    with np.errstate(all="ignore"):
        step = derive(loss_fn, params)
        loss, grads = step.equations_function(*[p.data.copy() for p in params], *[t.data for t in step.data])
        eager = loss_fn(*params)
        eager.backward()
    assert np.array_equal(loss, eager.data, equal_nan=True)
    for g, p in zip(grads, params):
        assert np.array_equal(g, p.grad, equal_nan=True)


# ---- reading like the document ------------------------------------------------------------------------------

DOC000_EQUATIONS = """\
def sigmoid(x):  # 1 / (1 + e^-x): e^x where e^-x overflows (x < -709 in float64)
    floor = -709.0 if x.dtype == np.float64 else -88.0
    return np.where(x < floor, np.exp(np.minimum(x, 0)), 1 / (1 + np.exp(-np.maximum(x, floor))))


def step(synapse_0, synapse_1, layer_0, y, *, lr=10.0):
    # forward
    matmul_1 = layer_0 @ synapse_0  # (4, 4) float64
    sigmoid_1 = sigmoid(matmul_1)  # (4, 4) float64
    matmul_2 = sigmoid_1 @ synapse_1  # (4, 1) float64
    sigmoid_2 = sigmoid(matmul_2)  # (4, 1) float64
    sub_1 = sigmoid_2 - y  # (4, 1) float64
    # backward
    d_matmul_2 = sub_1 * (sigmoid_2 * (1.0 - sigmoid_2))  # (4, 1) float64
    d_synapse_1 = sigmoid_1.T @ d_matmul_2  # (4, 1) float64
    d_sigmoid_1 = d_matmul_2 @ synapse_1.T  # (4, 4) float64
    d_matmul_1 = d_sigmoid_1 * (sigmoid_1 * (1.0 - sigmoid_1))  # (4, 4) float64
    d_synapse_0 = layer_0.T @ d_matmul_1  # (3, 4) float64
    # update
    synapse_0 -= lr * d_synapse_0
    synapse_1 -= lr * d_synapse_1
    # loss
    square_1 = np.square(sub_1)  # (4, 1) float64
    total_1 = np.sum(square_1)  # () float64
    loss_value = 0.5 * total_1  # () float64
    return loss_value, [d_synapse_0, d_synapse_1]
"""


def test_doc000_equations_read_like_the_documents_hand_code():
    """½·SSE's gradient is `p - y` (the ½ meets the square's 2), σ' is s·(1 − s) of the saved output,
    and every line's number matches the document's hand rule."""
    _, params, loss_fn, sgd = doc000_step()
    step = derive(loss_fn, params, update=sgd)
    assert step.equations == DOC000_EQUATIONS
    hand = doc000.document_rule({k: p.data for k, p in params.items()}, X, Y)
    _, grads = step.equations_function(*[p.data.copy() for p in params.values()], X, Y)
    assert np.array_equal(grads[0], hand["synapse_0"]) and np.array_equal(grads[1], hand["synapse_1"])
    assert {"d_synapse_0", "sigmoid_2", "layer_0"} <= set(step.names)
    assert all(isinstance(t, am.Tensor) for t in step.names["sigmoid_2"])


def test_the_source_is_what_runs_and_allocates_nothing_per_step():
    _, params, loss_fn, sgd = doc000_step()
    step = derive(loss_fn, params, update=sgd)
    assert "out=" in step.source and "np.subtract(synapse_0, mul_" in step.source
    namespace = dict(step.function.__globals__)
    assert compile(step.source, "<test>", "exec")
    step.function()
    grads = [p.grad for p in params.values()]
    step.function()
    assert all(p.grad is g for p, g in zip(params.values(), grads))  # the same buffers, refilled
    assert namespace["np"] is np


# ---- refusals and warnings -----------------------------------------------------------------------------------

def test_refuses_a_changed_shape_and_an_unsupported_update():
    _, params, loss_fn, sgd = doc000_step()
    step = derive(loss_fn, params)
    params["synapse_1"].data = np.zeros((5, 1))
    with pytest.raises(am.ShapeError, match=r"params\[1\] 'synapse_1'.*\(4, 1\).*\(5, 1\)"):
        step.function()
    _, params, loss_fn, _ = doc000_step()
    with pytest.raises(DeriveError, match="plain SGD"):
        derive(loss_fn, params, update=am.optim.Adam(list(params.values())))


def test_warns_when_python_control_flow_reads_a_value():
    w = am.Tensor(np.ones(3), requires_grad=True)

    def loss_fn(w):
        s = (w * w).sum()
        return s * 2.0 if s.item() > 1 else s
    with pytest.warns(am.TraceWarning, match="frozen"):
        derive(loss_fn, [w])


def test_the_derived_code_page_shows_document_000s_step_as_generated():
    import re
    from pages import page
    shown = re.search(r"```text derived-doc000\n(.*?)```", page("derived-code.md"), re.S)
    assert shown, "docs/derived-code.md lost its generated block"
    model = doc000.TwoLayerNet()
    layer_0, y = am.Tensor(doc000.X, name="layer_0"), am.Tensor(doc000.y, name="y")
    step = derive(lambda *_: half_sse(model(layer_0), y), dict(model.named_parameters()),
                  update=SGD(model.parameters(), lr=10))
    assert shown.group(1) == step.equations == DOC000_EQUATIONS


def test_the_derive_command_marks_each_line_against_the_hand_rule():
    from autograd_mini.app.cli import main
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["derive", "000"]) == 0
    text = out.getvalue()
    assert "= layer_2_delta" in text and "= layer_1_delta" in text and "exact gradient" in text
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["derive", "003.ols"]) == 0
    assert "d_weights = " in out.getvalue() and "≠ differs from the hand rule" in out.getvalue()
    assert "factor" in out.getvalue()


def test_one_input_is_bound_once_and_its_loss_read_back():
    """A step with a single input (no data): rebinding happens once, not at every step."""
    w = am.Tensor([0.5, -1.0], requires_grad=True)
    step = derive(lambda w: (w * w).sum(), [w])
    assert step() == 1.25
    namespace = step.function.__globals__
    assert namespace["seen_w0"] is w._data
    w.data = np.array([2.0, 1.0])
    assert step() == 5.0 and np.array_equal(w.grad, [4.0, 2.0])


def test_a_learning_rate_of_one_drops_its_multiply_and_is_not_shared_with_other_ones():
    _, params, loss_fn, sgd = doc000_step(lr=1.0)
    step = derive(loss_fn, params, update=sgd)
    assert "    synapse_0 -= d_synapse_0\n" in step.equations
    assert "(1.0 - sigmoid_2)" in step.equations and "lr" not in step.source.split("def step")[1]
    _, eager_params, eager_loss, eager_sgd = doc000_step(lr=1.0)
    for _ in range(300):
        step.function()
        for p in eager_params.values():
            p.grad = None
        eager_loss().backward()
        eager_sgd.step()
    assert all(np.array_equal(params[k].data, eager_params[k].data) for k in params)


def test_fit_compiles_per_sample_class_labels_and_matches_eager():
    """cross_entropy picks each row's class by an op whose input is the labels tensor fit feeds, so
    the compiled step reads every row's label anew: it compiles, with eager=True's numbers."""
    import warnings
    from autograd_mini import nn
    from autograd_mini.losses import cross_entropy
    from autograd_mini.train import fit
    rng = np.random.default_rng(0)
    X, labels = rng.normal(size=(6, 3)), rng.integers(0, 2, 6)

    def train(eager):
        model = nn.Linear(3, 2, rng=np.random.RandomState(0))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), X, labels, epochs=3, per_sample=True,
                          record=lambda info: {"loss": float(info.loss)}, quiet=True, eager=eager)
        return model.state_dict(), history["loss"], [str(w.message) for w in caught]

    compiled, eager = train(False), train(True)
    assert not any("training eagerly" in m for m in compiled[2])
    assert_same(compiled[0], eager[0])
    assert np.array_equal(compiled[1], eager[1])


def test_fit_compiled_follows_a_learning_rate_schedule_set_in_the_record_callback():
    """The fused SGD step compiles the rate in; fit derives again when a record callback assigns a new
    one, so the compiled run equals the eager run (which reads lr at every step)."""
    from autograd_mini import nn
    from autograd_mini.losses import half_sse
    from autograd_mini.optim import SGD
    from autograd_mini.train import fit

    def run(eager: bool) -> np.ndarray:
        m = nn.Linear(3, 1, bias=False)
        m.weight.data = np.array([[0.1], [0.2], [0.3]])
        opt = SGD(m.parameters(), lr=0.1)

        def record(info):
            if info.epoch == 1:
                opt.lr = 0.0
            if info.epoch == 3:
                opt.lr = 0.05
        fit(m, half_sse, opt, np.eye(3), np.ones((3, 1)), epochs=6, record=record, eager=eager, quiet=True)
        return m.weight.data

    assert np.array_equal(run(eager=False), run(eager=True))


def test_a_derived_update_counts_as_a_write_for_graphs_recorded_before_it():
    """The compiled step updates w in place, around the `.data` setter; it still ticks the engine's
    write clock, so an older graph through w refuses to backward instead of using the new values."""
    import autograd_mini as am
    from autograd_mini.optim import SGD
    w = am.Tensor([1.0, 2.0], requires_grad=True)
    old_loss = (w * w).sum()
    step = am.derive(lambda w: (w * w).sum(), [w], update=SGD([w], lr=0.1))
    step()
    with pytest.raises(am.GraphError):
        old_loss.backward()


def test_loss_can_be_read_twice_after_a_step():
    """loss() computes the loss on demand; reading it again must not find its own buffers overwritten."""
    _, params, loss_fn, sgd = doc000_step()
    step = derive(loss_fn, params, update=sgd)
    step.function()
    first = step.loss()
    assert step.loss() == first == step.loss()
