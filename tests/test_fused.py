"""The fused back end (autograd_mini/fused.py): numba's machine code equals the NumPy program to 1e-12
relative (document steps over many steps, random programs of the op table), falls back visibly, runs
many steps in one call with per-step data, and caches compiled programs on disk by their text.

Compiling a program takes seconds, so the random programs check the lowering's text through
`body.py_func` (the generated function run by Python on NumPy, with the compiled helpers) for many
examples, and a few compiled for real."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

pytest.importorskip("numba", reason="the fused back end needs numba (pip install 'autograd-mini[fused]')")

import autograd_mini as am  # noqa: E402
from autograd_mini import derivation, fused  # noqa: E402
from autograd_mini.app.experiments import all_experiments  # noqa: E402
from autograd_mini.derivation import derive  # noqa: E402
from autograd_mini.losses import half_sse  # noqa: E402
from models import doc000, doc002  # noqa: E402
from autograd_mini.optim import SGD  # noqa: E402
from autograd_mini.sweep import member_rates, member_sum, stack_models  # noqa: E402
from autograd_mini.tensor import Op, walk  # noqa: E402

from test_derive import UNARY, doc000_step, program_strategy, random_model  # noqa: E402


def assert_close(a, b, what="", scale=0.0):
    """a equals b to 1e-12 relative to the larger of a's magnitude and `scale`, the magnitude of the values
    a was computed from: a result that cancels (h - 3 * (h / 3) summed is 0 or a few ulps of h, as the last
    bit of h falls) is as exact as the terms it cancels, not as its own size."""
    a, b = np.asarray(a), np.asarray(b)
    scale = max(scale, np.max(np.abs(a[np.isfinite(a)]), initial=0.0))  # (NaN and inf must match exactly)
    assert a.shape == b.shape, what
    assert np.allclose(a, b, rtol=1e-12, atol=1e-12 * scale, equal_nan=True), f"{what}: {a!r} != {b!r}"


def magnitude(loss_fn, params):
    """The largest finite magnitude among the values loss_fn computes (every node of its eager graph)."""
    nodes = walk([loss_fn(*params)], grad_only=False)
    return max(np.max(np.abs(t.data[np.isfinite(t.data)]), initial=0.0) for t in nodes)


# ---- document steps: fused against the NumPy program --------------------------------------------------------

def test_doc000_fused_step_and_loop_equal_the_numpy_program_over_many_steps():
    _, p_np, loss_np, sgd_np = doc000_step()
    _, p_nb, loss_nb, sgd_nb = doc000_step()
    slow, fast = derive(loss_np, p_np, update=sgd_np), derive(loss_nb, p_nb, update=sgd_nb, backend="numba")
    assert (slow.backend, fast.backend, fast.fallback_reason) == ("numpy", "numba", None)
    for i in range(2_000):
        slow.function()
        fast.function()
        if i % 199 == 0:
            assert_close(fast.loss(), slow.loss(), f"loss at step {i}")
    for name in p_np:
        assert_close(p_nb[name].data, p_np[name].data, name)
        assert_close(p_nb[name].grad, p_np[name].grad, f"d_{name}")
    assert_close(fast.run(5_000, record_every=500), slow.run(5_000, record_every=500), "recorded losses")
    assert_close(fast.loss(), slow.loss(), "the loss after run")
    for name in p_np:
        assert_close(p_nb[name].data, p_np[name].data, name)


def labnet_step(backend, in_step_rate=None, seed=3):
    rng = np.random.RandomState(seed)
    X, y = doc002.dataset("linear", rng)
    model = doc002.LabNet(rng, in_step_rate=in_step_rate)
    x_in, y_in = am.Tensor(X[:1].copy(), name="X"), am.Tensor(y[:1].copy(), name="y")
    step = derive(lambda *_: half_sse(model(x_in), y_in), dict(model.named_parameters()),
                  update=SGD(model.parameters(), lr=doc002.LEARNING_RATE), backend=backend)
    return step, model, {x_in: X[:, None, :], "y": y[:, None, :]}


@pytest.mark.parametrize("in_step_rate", [None, doc002.LEARNING_RATE])
def test_doc002_per_sample_loop_equals_the_numpy_program(in_step_rate):
    """Point i of the data at step i mod n, 60 epochs of 100 points in one compiled call (002's
    per-sample SGD, and its Discussion's custom op). Per-sample SGD on this net turns chaotic after a
    few hundred epochs (a 1e-15 nudge to the NumPy program's own start grows to 1e-3 by epoch 900),
    so the 1e-12 holds over this horizon, not over any horizon."""
    slow, slow_model, slow_feed = labnet_step("numpy", in_step_rate)
    fast, fast_model, fast_feed = labnet_step("numba", in_step_rate)  # (fed by tensor and by name)
    assert fast.backend == "numba", fast.fallback_reason
    assert_close(fast.run(6_000, 100, fast_feed), slow.run(6_000, 100, slow_feed), "epoch-end losses")
    for (name, p), q in zip(slow_model.named_parameters(), fast_model.parameters()):
        assert_close(q.data, p.data, name)
    assert np.array_equal(fast.data[0].data, slow.data[0].data)  # each fed tensor holds the last sample


def test_fit_per_sample_on_the_fused_back_end_says_so_and_equals_the_numpy_program():
    slow = doc002.train("xor", seed=2, epochs=50, every=10)
    fast = doc002.train("xor", seed=2, epochs=50, every=10, backend="auto")
    assert (slow[1].backend, fast[1].backend) == ("numpy", "numba")
    assert_close(fast[1]["loss"], slow[1]["loss"], "recorded losses")
    assert "fused" in doc002._backend_note(fast[1].backend)


# ---- random programs of the op table ------------------------------------------------------------------------

def lowered(loss_fn, params, update):
    """The stages of am.derive, then the fused lowering (its module is loaded, not compiled)."""
    names, params = derivation.step._named_params(params)
    program = derivation.program.Program(derivation.record.record(loss_fn, params, names))
    plan = derivation.plan.make_plan(program, derivation.plan.add_update(program, update))
    derivation.names.name_values(program)
    derivation.plan.place_buffers(program, plan)
    return fused.Lowering(program, plan), program, plan


ROW, COLUMN = am.Tensor(np.linspace(-1, 1, 5)), am.Tensor(np.linspace(0.5, -0.5, 4))  # (the programs' h: 5 x 4)
FUSED_UNARY = UNARY + [  # the value ops and 1-D products, beside the op table's element-wise ops
    lambda h: am.where(h > 0.1, h, 0.5 * h), lambda h: am.greater_equal(h, 0.0) * h + am.less(h, -0.2),
    lambda h: am.maximum(h, -np.inf) + am.minimum(h, 0.3), lambda h: (h.square() + 1e-3) ** 0.5,
    lambda h: (h @ COLUMN).reshape(5, 1) * h, lambda h: h * ((ROW @ h) @ COLUMN),
    # ops of the table without a lowering: their NumPy call inside the step
    lambda h: h.max(axis=1, keepdims=True) - h, lambda h: am.concatenate([h[:, 2:], h[:, :2] * 2.0], axis=1),
    lambda h: am.pad(h, ((0, 0), (1, 0)))[:, :4] + am.logsumexp(h, axis=0), lambda h: h.cumsum(axis=0) * 0.5]


@settings(max_examples=30, deadline=None)
@given(program_strategy(FUSED_UNARY), st.integers(0, 1000))
def test_random_programs_lowered_compute_the_numpy_programs_values(program, seed):
    """Every op these programs use has a lowering: an Unsupported here fails the test."""
    check_lowered(program, seed)


@settings(max_examples=15, deadline=None)
@given(program_strategy(FUSED_UNARY), st.integers(0, 1000))
def test_random_programs_lowered_with_numpys_ufuncs_for_every_size(program, seed):
    """The large-array path (a transcendental ufunc run by NumPy in objmode, its inlined argument
    filled first) taken for every value, whatever its size: the same numbers."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fused, "_LARGE", 1)
        check_lowered(program, seed)


def check_lowered(program, seed):
    params, loss_fn = random_model(program, seed, FUSED_UNARY)
    twin, twin_loss = random_model(program, seed, FUSED_UNARY)
    with np.errstate(all="ignore"):
        numpy_step = derive(loss_fn, params, update=SGD(params, lr=0.01))
        lowering, prog, plan = lowered(twin_loss, twin, SGD(twin, lr=0.01))
        text, args, outputs = fused.module_text(lowering)
        module = fused.load(text)
        arrays = {v.name: t._data for v, t in zip(prog.inputs, prog.rec.inputs)}
        arrays.update({c.name: np.asarray(c.array).reshape(c.array.shape or (1,)) for c in lowering.constants})
        outs = {f"out_{prog.inputs[i].name}": np.empty(prog.inputs[i].shape) for i, _ in plan.handed}
        outs["_work"] = np.empty(lowering.work_size)
        for _ in range(3):  # each step from the NumPy program's state: a step that diverges (lr=0.01 on a
            for p, q in zip(params, twin):  # loss of 1e4) amplifies any last bit, whatever the back end
                q.data[...] = p.data
            scale = magnitude(loss_fn, params)
            numpy_step.function()
            loss = module.body.py_func(*[{**arrays, **outs}[a] for a in args], True, True)
            if not all(np.all(np.isfinite(v)) for v in [numpy_step.loss(), *(p.grad for p in params)]):
                # overflowed: whether inf - inf or inf + inf comes first is summation order, so only the
                # overflow itself is the NumPy program's number here, and the trajectory ends
                fused_values = [loss, *(outs[f"out_{q.name}"] for q in twin)]
                assert not all(np.all(np.isfinite(v)) for v in fused_values), "the NumPy program overflowed"
                return
            assert_close(loss, numpy_step.loss(), "loss", scale)
            for p, q in zip(params, twin):
                assert_close(q.data, p.data, "updated params", scale)
                assert_close(outs[f"out_{q.name}"], p.grad, "gradients", scale)


@pytest.mark.parametrize("ops", [
    [("unary", 1, 0), ("binary", 3, 1), ("unary", 10, 2)],
    [("unary", 4, 0), ("binary", 4, 0), ("unary", 11, 1), ("binary", 5, 0), ("unary", 0, 2)],
    [("unary", 9, 0), ("unary", 20, 1), ("unary", 6, 2), ("unary", 24, 0), ("binary", 2, 3), ("unary", 25, 1),
     ("unary", 23, 5), ("unary", 21, 4), ("unary", 22, 6)]])
def test_random_programs_compiled_equal_the_numpy_program(ops):
    program = {"ops": ops, "loss": 1}
    params, loss_fn = random_model(program, 5, FUSED_UNARY)
    twin, twin_loss = random_model(program, 5, FUSED_UNARY)
    slow = derive(loss_fn, params, update=SGD(params, lr=0.01))
    fast = derive(twin_loss, twin, update=SGD(twin, lr=0.01), backend="numba")
    assert fast.backend == "numba", fast.fallback_reason
    with np.errstate(all="ignore"):
        scale = magnitude(loss_fn, params)
        losses = fast.run(20, 2)
        assert_close(losses, slow.run(20, 2), "losses", scale)
    assert np.all(np.isfinite(losses))
    for p, q in zip(params, twin):
        assert_close(q.data, p.data, "params")
        assert_close(q.grad, p.grad, "gradients")


def test_ops_without_a_lowering_run_their_numpy_call_inside_the_step():
    """max, getitem, concatenate, pad, einsum, cumsum, clip: no lowering, so each runs its op's NumPy
    forward inside the compiled step (numba.objmode) with backend="numba"; 50 steps equal the NumPy program."""
    def make():
        return [am.Tensor(np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True, name="w")]

    def loss_fn(w):
        top = w.max(axis=1, keepdims=True)
        wide = am.concatenate([w[:, 1:], am.pad(w, ((0, 0), (0, 1)))[:, -1:]], axis=1)
        return (am.einsum("ij,ij->i", wide, w - top) + am.clip(w, -0.5, 0.5).cumsum(axis=1)[:, -1]).square().sum()
    slow, fast, slow_params, fast_params = twin_steps(loss_fn, make, lr=0.01)
    assert fast.backend == "numba", fast.fallback_reason
    assert fast.fused.source.count("numba.objmode()") >= 6
    for s in range(50):  # (one call a step: `loop`, compiled on a first run, is tested elsewhere)
        slow.function()
        fast.function()
        if s % 10 == 9:
            assert_close(fast.loss(), slow.loss(), f"loss at step {s}")
    assert_close(fast_params[0].data, slow_params[0].data, "w")
    assert_close(fast_params[0].grad, slow_params[0].grad, "d_w")


def test_an_op_without_a_lowering_falls_back_saying_which():
    """An op outside the op table cannot run inside the step; one of the table without a lowering runs
    through NumPy there when asked for ("numba"), and "auto" keeps the NumPy program for it when small."""
    params, _ = random_model({"ops": [], "loss": 0}, 1)
    halve = Op("halve", lambda x: x / 2.0, lambda g, ans, x: (g / 2.0,))

    def outside(w, b):
        return halve(w).sum()
    with pytest.warns(RuntimeWarning, match="falls back to the NumPy program: op 'halve'.* not in the op table"):
        step = derive(outside, params, backend="numba")
    assert step.backend == "numpy" and "halve" in step.fallback_reason
    assert derive(outside, params, backend="auto").fallback_reason == step.fallback_reason  # (silently)

    def table(w, b):
        return (w.max(axis=1) * b[:3]).sum()
    auto = derive(table, params, backend="auto")
    assert auto.backend == "numpy" and "op 'max'" in auto.fallback_reason and "objmode" in auto.fallback_reason
    with pytest.raises(ValueError, match="backend must be"):
        derive(table, params, backend="jax")


# ---- without numba; the cache ------------------------------------------------------------------------------

def test_without_numba_everything_runs_on_the_numpy_program_with_the_same_numbers(monkeypatch):
    _, p_plain, loss_plain, sgd_plain = doc000_step()
    plain = derive(loss_plain, p_plain, update=sgd_plain)
    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` raises ImportError
    _, p_auto, loss_auto, sgd_auto = doc000_step()
    auto = derive(loss_auto, p_auto, update=sgd_auto, backend="auto")
    assert auto.backend == "numpy" and "numba is not installed" in auto.fallback_reason
    assert np.array_equal(auto.run(300, 30), plain.run(300, 30))
    for name in p_plain:
        assert np.array_equal(p_auto[name].data, p_plain[name].data)
    with pytest.warns(RuntimeWarning, match="numba is not installed"):
        derive(loss_auto, p_auto, backend="numba")


CACHED_STEP = """
import numpy as np, autograd_mini as am
w = am.Tensor(np.full((3, 2), 0.5), requires_grad=True, name="w")
x = am.Tensor(np.arange(12.0).reshape(4, 3) / 10, name="x")
step = am.derive(lambda w: (x @ w).{reduce}().tanh(), [w], backend="numba")
step.function()
print(step.backend, step.fused.module.__file__, sum(step.fused.module.body.stats.cache_hits.values()))
"""


def cached_run(tmp_path, reduce="sum"):
    env = dict(os.environ, AUTOGRAD_MINI_CACHE=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", CACHED_STEP.format(reduce=reduce)], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    return out[0], out[1], int(out[2])


def test_the_cache_serves_a_second_process_and_a_changed_program_is_a_new_entry(tmp_path):
    backend, first_file, first_hits = cached_run(tmp_path)
    assert backend == "numba" and first_file.startswith(str(tmp_path)) and first_hits == 0
    assert any(f.endswith(".nbi") for f in os.listdir(tmp_path / "fused" / "__pycache__"))
    _, again_file, again_hits = cached_run(tmp_path)
    assert again_file == first_file and again_hits >= 1  # loaded from the cache, not compiled
    _, changed_file, changed_hits = cached_run(tmp_path, reduce="mean")
    assert changed_file != first_file and changed_hits == 0


def test_fit_runs_the_epochs_between_records_in_one_call_with_the_per_epoch_numbers():
    """`record_epochs` tells fit which epochs matter; the fused per-sample epochs between them run as
    one compiled call, whose weights and recorded losses are those of one call per epoch, bit for bit
    (the same steps; only the loss-only lines and copies out are skipped between records)."""
    def trained(**record):
        rng = np.random.RandomState(4)
        X, y = doc002.dataset("linear", rng)
        model = doc002.LabNet(rng)
        history = doc002.fit(model, half_sse, SGD(model.parameters(), lr=doc002.LEARNING_RATE), X, y, epochs=30,
                             per_sample=True, record=doc002._printed_loss(X, y, 10), quiet=True, backend="numba",
                             **record)
        return history, model
    calls = []
    many = doc002.fit.__globals__["_epochs"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(doc002.fit.__globals__, "_epochs",
                      lambda fn, count, wanted: calls.append(count) or many(fn, count, wanted))
        sparse, sparse_model = trained(record_epochs=range(9, 30, 10))
    every, every_model = trained()  # record called after every epoch: one call per epoch
    assert calls == [10, 10, 10] and sparse.backend == "numba"
    assert np.array_equal(sparse["epoch"], [10, 20, 30]) and np.array_equal(sparse["loss"], every["loss"])
    for p, q in zip(sparse_model.parameters(), every_model.parameters()):
        assert np.array_equal(p.data, q.data)


def test_a_fused_step_keeps_the_numpy_programs_checks_settings_and_one_thread_at_a_time():
    import threading
    _, params, loss, sgd = doc000_step()
    step = derive(loss, params, update=sgd, backend="numba")
    assert step.backend == "numba"
    step.function()
    sgd.lr = 0.5  # a new rate after deriving: the compiled-in one would be used silently
    with pytest.raises(derivation.DeriveError, match="assigned after the step"):
        step.function()
    with pytest.raises(derivation.DeriveError, match="assigned after the step"):
        step.run(3)
    step = derive(loss, params, update=sgd, backend="numba")
    entered, release = threading.Event(), threading.Event()
    original = step.fused.step

    def slow_step():  # holds the step, as a long call in another thread would
        entered.set()
        release.wait(5)
        original()
    step.fused.step = slow_step
    worker = threading.Thread(target=step.function)
    worker.start()
    entered.wait(5)
    try:
        with pytest.raises(derivation.DeriveError, match="already running in another thread"):
            step.function()
    finally:
        release.set()
        worker.join()


# ---- regressions: constants, sqrt, positions ---------------------------------------------------------------

def twin_steps(loss_fn, make, backend="numba", lr=0.1):
    """The same step derived twice from fresh parameters (`make()`): on the NumPy program and on `backend`."""
    slow_params, fast_params = make(), make()
    slow = derive(lambda *p: loss_fn(*p), slow_params, update=SGD(slow_params, lr=lr))
    fast = derive(lambda *p: loss_fn(*p), fast_params, update=SGD(fast_params, lr=lr), backend=backend)
    return slow, fast, slow_params, fast_params


def test_infinite_and_nan_constants_are_written_as_math_names():
    """repr(inf) is `inf`, a name the generated module does not have (it failed to compile: a silent
    fallback under "auto"); NaN likewise."""
    def make():
        return [am.Tensor(np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True, name="w"),
                am.Tensor(np.linspace(-2, 2, 4), requires_grad=True, name="b")]

    def loss_fn(w, b):
        return (am.minimum(w, np.inf) + am.maximum(w, -np.inf)).square().sum() + am.maximum(b, np.nan).sum()
    slow, fast, slow_params, fast_params = twin_steps(loss_fn, make)
    assert fast.backend == "numba", fast.fallback_reason
    assert "math.inf" in fast.fused.source and "math.nan" in fast.fused.source
    with np.errstate(invalid="ignore"):
        losses = fast.run(5)
        assert_close(losses, slow.run(5), "losses")
    assert np.all(np.isnan(losses))
    for p, q in zip(slow_params, fast_params):
        assert_close(q.data, p.data, "params")


def test_a_square_root_power_is_numpys_sqrt_bit_for_bit():
    """np.power(x, 0.5), eager's op, is sqrt: -0.0 gives -0.0 (1 / it is -inf) where pow gives +0.0."""
    x = am.Tensor(np.array([-0.0, 4.0, 9.0]), name="x")

    def make():
        return [am.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True, name="w")]
    with np.errstate(divide="ignore", invalid="ignore"):
        slow, fast, slow_params, fast_params = twin_steps(lambda w: (w / x ** 0.5).sum(), make)
        assert fast.backend == "numba", fast.fallback_reason
        slow.function()
        fast.function()
        assert slow.loss() == fast.loss() == -np.inf
    assert np.array_equal(fast_params[0].grad, slow_params[0].grad) and fast_params[0].grad[0] == -np.inf


def test_positions_are_recomputed_at_every_step():
    """argsort and argmax positions change as the parameters train; a fused step must recompute them
    (or fall back saying so), never keep the recorded ones as constants."""
    weights = am.Tensor(np.arange(1.0, 5.0))

    def make():
        return [am.Tensor(np.array([[0.3, -0.2, 0.1, 0.0], [1.0, 0.5, -1.0, 0.2]]), requires_grad=True, name="w")]

    def loss_fn(w):
        ordered = am.take_along_axis(w, am.argsort(w, axis=1), axis=1)
        top = am.take_along_axis(w, am.argmax(w, axis=1)[:, None], axis=1)
        return (ordered * weights).sum() + top.square().sum()
    slow, fast, slow_params, fast_params = twin_steps(loss_fn, make, backend="auto", lr=0.3)
    assert fast.backend == "numba" or "argsort" in fast.fallback_reason or "argmax" in fast.fallback_reason
    losses = slow.run(40, 1)
    assert len(set(np.round(np.diff(losses), 9))) > 1  # the positions did change while training
    assert_close(fast.run(40, 1), losses, "losses")
    assert_close(fast_params[0].data, slow_params[0].data, "w")


# ---- every experiment's step ---------------------------------------------------------------------------------

def experiment_step(case, backend):
    names = list(case.params)
    params = {n: am.Tensor(np.array(case.params[n], dtype=float), requires_grad=True, name=n) for n in names}
    with np.errstate(all="ignore"):
        step = derive(lambda *ps: case.loss_fn(dict(zip(names, ps))), params,
                      update=SGD(list(params.values()), lr=0.01), backend=backend)
    return step, params


@pytest.mark.parametrize("name", [name for name, e in all_experiments().items() if e.audit_case is not None])
def test_every_experiments_step_fused_equals_the_numpy_program(name):
    """Each experiment's loss with an SGD update, 300 steps against the NumPy program (one call a step:
    compiling `loop` too would double the test's compile time, and test_doc000/test_doc002 run loops)."""
    case = all_experiments()[name].audit_case()
    (slow, slow_params), (fast, fast_params) = experiment_step(case, "numpy"), experiment_step(case, "numba")
    assert fast.backend == "numba", fast.fallback_reason
    scale = magnitude(lambda *ps: case.loss_fn(dict(zip(slow_params, ps))), list(slow_params.values()))

    def losses(step):
        recorded = []
        for s in range(300):
            step.function()
            if (s + 1) % 10 == 0:
                recorded.append(step.loss())
        return np.array(recorded)
    with np.errstate(all="ignore"):
        assert_close(losses(fast), losses(slow), "losses", scale)
    for n in slow_params:
        assert_close(fast_params[n].data, slow_params[n].data, n, scale)
        assert_close(fast_params[n].grad, slow_params[n].grad, f"d_{n}", scale)


def test_the_digits_mlp_fused_equals_the_numpy_program():
    """W2 (the digits MLP, the large arrays: products through BLAS, tanh and exp through NumPy's own ufuncs
    inside numba.objmode, log_softmax in a loop) over 30 steps."""
    from benchmarks.w2 import _am_w2, w2_problem
    problem = w2_problem()
    steps = []
    for backend in ("numpy", "numba"):
        _, params, loss_fn = _am_w2(problem)
        steps.append((derive(loss_fn, params, update=SGD(params, lr=problem.lr), backend=backend), params))
    (slow, slow_params), (fast, fast_params) = steps
    assert fast.backend == "numba", fast.fallback_reason
    assert "objmode" in fast.fused.source
    assert_close(fast.run(30, 3), slow.run(30, 3), "losses")
    for p, q in zip(slow_params, fast_params):
        assert_close(q.data, p.data, "params")
        assert_close(q.grad, p.grad, "gradients")


# ---- recorded auxiliary outputs --------------------------------------------------------------------------

def doc000_with_output(backend):
    model, params, _, sgd = doc000_step()
    layer_0, y = am.Tensor(doc000.X, name="layer_0"), am.Tensor(doc000.y, name="y")

    def loss_fn(*_):
        output = model(layer_0)
        return half_sse(output, y), {"output": output, "error": (output - y).abs().mean()}
    return derive(loss_fn, params, update=sgd, backend=backend)


def test_run_records_auxiliary_outputs_at_recorded_steps_on_both_back_ends():
    """aux_into gets each aux output (an array and a 0-d one) at each recorded step: what step.aux
    holds after that step, on the NumPy program one call at a time and inside the compiled loop."""
    one_at_a_time, slow, fast = (doc000_with_output(b) for b in ("numpy", "numpy", "numba"))
    assert fast.backend == "numba", fast.fallback_reason
    expected = {"output": [], "error": []}
    for s in range(60):
        one_at_a_time.function()
        if (s + 1) % 4 == 0:
            for name in expected:
                expected[name].append(np.array(one_at_a_time.aux[name]))
    for step in (slow, fast):
        stacks = {"output": np.empty((15, 4, 1)), "error": np.empty(15)}
        step.run(60, 4, aux_into=stacks)
        for name in expected:
            assert_close(stacks[name], np.array(expected[name]), name)
    assert np.array_equal(slow.run(0, aux_into={"error": np.empty(0)}), [])
    with pytest.raises(ValueError, match="'outputs', which is not an auxiliary output"):
        fast.run(4, aux_into={"outputs": np.empty((4, 4, 1))})
    with pytest.raises(ValueError, match=r"aux_into\['output'\] must be .* shape \(2, 4, 1\)"):
        slow.run(4, 2, aux_into={"output": np.empty((4, 4, 1))})


def test_fit_records_inside_the_compiled_loop_the_per_step_numbers(monkeypatch):
    """Document 000's sweep: a record marked `stacked` is made from the outputs of many steps at once, each
    compiled call running a chunk of epochs; the history equals the NumPy program's one-call-per-epoch run
    to 1e-12 (every 3rd step recorded, chunks of 64 epochs that do not fall on a record). The rates up to
    10: at 100 and 1000 the sigmoids saturate and a last-bit difference grows (as from any nudge)."""
    from autograd_mini import train
    calls = []
    record = doc000.record_mean_abs_error

    def counted(info):
        calls.append(np.size(info.epoch))
        return record(info)
    counted.stacked = True
    monkeypatch.setattr(train, "STACKED_CHUNK", 64)
    histories = {}
    for backend in ("numpy", "numba"):
        rates = [alpha for alpha in doc000.alphas if alpha <= 10]
        model = stack_models([doc000.TwoLayerNet() for _ in rates])
        histories[backend] = train.fit(model, member_sum(half_sse, additive=True),
                                       SGD(model.parameters(), lr=member_rates(rates)), doc000.X, doc000.y,
                                       epochs=300, record=counted, record_every=3, quiet=True, backend=backend)
    slow, fast = histories["numpy"], histories["numba"]
    assert (slow.backend, fast.backend) == ("numpy", "numba")
    assert calls[:100] == [1] * 100 and calls[100:] == [22, 21, 21, 22, 14]  # (300 epochs: 4 x 64 + 44)
    assert np.array_equal(fast["step"], slow["step"]) and np.array_equal(slow["step"], np.arange(0, 300, 3))
    assert_close(fast["mean_abs_error"], slow["mean_abs_error"], "mean |error|")


def test_a_stacked_record_that_changes_the_rate_is_refused(monkeypatch):
    """A stacked record runs after its chunk of epochs: a schedule assigned there would come too late."""
    from autograd_mini import train
    model = stack_models([doc000.TwoLayerNet() for _ in range(2)])
    sgd = SGD(model.parameters(), lr=member_rates([0.1, 1.0]))

    def schedule(info):
        sgd.lr = member_rates([0.05, 0.5])
        return {"step": info.epoch}
    schedule.stacked = True
    monkeypatch.setattr(train, "STACKED_CHUNK", 8)
    with pytest.raises(ValueError, match="marked `stacked`.* assigned new optimizer settings"):
        train.fit(model, member_sum(half_sse, additive=True), sgd, doc000.X, doc000.y, epochs=20, record=schedule,
                  quiet=True, backend="numba")


@pytest.mark.parametrize("with_aux", [False, True])
def test_an_update_reading_another_parameter_reads_it_before_any_update(with_aux):
    # d_b = a and d_a = b: the fused body inlined lr * a into b's update loop, after a's own update had
    # run, so b moved by the new a (0.08 off eager at the first step); the NumPy program scales first
    def run(backend):
        a = am.Tensor(np.array([1.0, 2.0, -0.5]), requires_grad=True)
        b = am.Tensor(np.array([3.0, -1.0, 0.25]), requires_grad=True)
        step = derive(lambda x, y: ((x * y).sum(), {"y": y}) if with_aux else (x * y).sum(), [a, b],
                      update=SGD([a, b], lr=0.25), backend=backend)
        for _ in range(5):
            step.function()
        return step.backend, a.data.copy(), b.data.copy(), a.grad.copy(), b.grad.copy()

    (numpy_backend, *expected), (numba_backend, *fused_values) = run("numpy"), run("numba")
    assert (numpy_backend, numba_backend) == ("numpy", "numba")
    for got, want in zip(fused_values, expected):
        np.testing.assert_array_equal(got, want)
