"""`step.equations` runs on its own: `exec` of the text in a namespace holding only `np` (plus the named
arrays it asks for) returns the step's loss and gradients, bit for bit (the same NumPy operations on the
same values), for every experiment with a derived step and for random programs of the op table."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import autograd_mini as am
from autograd_mini.app.derived import derived_step
from autograd_mini.app.experiments import all_experiments
from autograd_mini import derivation
import autograd_mini.derivation.plan, autograd_mini.derivation.render  # noqa: E401,F401
from autograd_mini.derivation import derive
from autograd_mini.tensor import Op
from autograd_mini.optim import SGD
from test_derive import doc000_step, programs, random_model


def run_alone(step, arrays):
    """The text exec'd with NumPy alone in scope; its step() called with the arrays and what it asks for."""
    namespace = {"np": np}
    exec(step.equations, namespace)
    assert set(namespace) - {"np", "__builtins__"} <= {"step"} | set(derivation.render._DEFINED)
    return namespace["step"](*arrays, **step.equations_arguments)


def assert_step_equal(step, params, arrays):
    loss, grads = run_alone(step, arrays)
    step.function()
    assert np.array_equal(np.asarray(loss), step.loss_array(), equal_nan=True)
    assert len(grads) == len(params)
    for g, p in zip(grads, params):
        assert np.asarray(g).shape == p.grad.shape and np.array_equal(g, p.grad, equal_nan=True)


def test_doc000_equations_with_the_update_run_alone():
    _, params, loss_fn, sgd = doc000_step()
    step = derive(loss_fn, params, update=sgd)
    assert "def step(synapse_0, synapse_1, layer_0, y, *, lr=10.0):" in step.equations
    before = {k: p.data.copy() for k, p in params.items()}
    copies = [before[k].copy() for k in params] + [t.data for t in step.data]
    loss, grads = run_alone(step, copies)
    step.function()  # updates the params in place, as the text's `-=` updates its copies
    for copy, p in zip(copies, params.values()):
        assert np.array_equal(copy, p.data)
    assert all(np.array_equal(g, p.grad) for g, p in zip(grads, params.values()))


EXPERIMENTS = [name for name, e in all_experiments().items() if e.audit_case is not None]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiments_derived_step_runs_alone(name):
    case = all_experiments()[name].audit_case()
    with np.errstate(all="ignore"):
        step = derived_step(case)
        params = step.params
        arrays = [p.data.copy() for p in params] + [t.data for t in step.data]
        assert_step_equal(step, params, arrays)
    assert "sum_(" not in step.equations and "compare(" not in step.equations


@settings(max_examples=40, deadline=None)
@given(programs, st.integers(0, 1000))
def test_random_programs_equations_run_alone(program, seed):
    params, loss_fn = random_model(program, seed)
    with np.errstate(all="ignore"):
        step = derive(loss_fn, params, update=SGD(params, lr=0.01) if seed % 2 else None)
        arrays = [p.data.copy() for p in params] + [t.data for t in step.data]
        assert_step_equal(step, params, arrays)


def test_captured_arrays_are_named_arguments_and_uniform_constants_numbers():
    """Arrays loss_fn captured are data (named, like the documents' X and y); a uniform constant that
    broadcasts to the same result is a number; the all-ones seed of `.sum()` is no multiply at all."""
    rng = np.random.default_rng(1)
    w = am.Tensor(rng.normal(size=(6, 5)), requires_grad=True, name="w")
    big, small = rng.normal(size=(6, 5)), np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    step = derive(lambda w: ((w * big + small).tanh() * np.full((6, 5), 0.25)).sum(), [w])
    named = {k: v for k, v in step.equations_arguments.items() if k.startswith("const")}
    assert sorted(v.size for v in named.values()) == [5, 30]
    assert all(k in step.equations.split("):")[0] for k in named)  # listed in step()'s signature
    assert "tanh_1 * 0.25" in step.equations and "np.ones" not in step.equations
    assert_step_equal(step, [w], [w.data.copy()])


def test_small_constants_a_gradient_makes_are_printed():
    w = am.Tensor(np.array([0.3, -0.2, 0.5]), requires_grad=True, name="w")
    step = derive(lambda w: (w ** 3).sum(), [w])
    assert "np.power(w, 2.0)" in step.equations and "3.0" in step.equations
    assert step.equations_arguments == {}
    assert_step_equal(step, [w], [w.data.copy()])


# ---- the op table: every op written as NumPy (or defined in the text), the same numbers as eager ----------

_x = np.random.default_rng(0).normal(size=(4, 3))
OP_CASES = {
    "einsum": lambda x, w: am.einsum("ij,jk->ik", x, w).sum(),
    "logsumexp": lambda x, w: am.logsumexp(x @ w, axis=1).sum(),
    "log_softmax": lambda x, w: am.log_softmax(x @ w, axis=1).mean(),
    "where": lambda x, w: am.where(x @ w > 0, x @ w, (x @ w) * 0.5).sum(),
    "clip": lambda x, w: am.clip(x @ w, -0.5, 0.5).sum(),
    "max_min": lambda x, w: am.max(x @ w, axis=0).sum() + am.min(x @ w, axis=1, keepdims=True).sum(),
    "prod": lambda x, w: am.prod(x @ w, axis=1).sum(),
    "cumsum_norm": lambda x, w: am.cumsum(x @ w, axis=1).sum() + am.norm(x @ w),
    "concatenate_stack": lambda x, w: (am.concatenate([x @ w, w], axis=0).tanh().sum()
                                       + am.stack([w, w * 2.0], axis=1).square().sum()),
    "flip_roll_pad": lambda x, w: ((am.flip(x @ w, axis=0) * x).sum() + (am.roll(x @ w, 1, axis=0) * x).sum()
                                   + am.pad(x @ w, ((1, 0), (0, 2))).sigmoid().sum()),
    "elu_leaky_relu": lambda x, w: am.elu(x @ w).sum() + am.leaky_relu(x @ w).sum(),
    "fmax_maximum": lambda x, w: am.fmax(x @ w, x).sum() + am.maximum(x @ w, x).mean(),
    "getitem": lambda x, w: (x @ w)[1:, ::2].square().sum() + (x @ w)[..., 0].sum(),
    "fancy_index": lambda x, w: (x @ w)[[0, 2, 2]].square().sum(),
    "reshape_transpose": lambda x, w: (x @ w).reshape(2, 6).transpose().tanh().sum(),
    "astype": lambda x, w: (x @ w).astype(np.float32).square().sum(),
    "abs_round_softplus": lambda x, w: ((x @ w).abs() + am.round(x @ w, 1) + am.softplus(x @ w)).sum(),
    "pow_rpow": lambda x, w: ((x @ w) ** 3).sum() + (2.0 ** (x @ w)).sum(),
    "erf": lambda x, w: am.erf(x @ w).sum(),
    "inv_det": lambda x, w: am.linalg.inv(w @ w.T + 3.0 * np.eye(3)).sum() + am.linalg.det(w @ w.T + np.eye(3)),
}


@pytest.mark.parametrize("name", OP_CASES)
def test_the_op_tables_plain_numpy_equals_eager_and_the_step(name):
    w0 = np.random.default_rng(1).normal(size=(3, 3))
    x = am.Tensor(_x, name="x")
    w = am.Tensor(w0.copy(), requires_grad=True, name="w")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", am.TraceWarning)  # where's condition is read (frozen): the same here
        step = derive(lambda w: OP_CASES[name](x, w), [w])
    assert all(isinstance(v, np.ndarray) for v in step.equations_arguments.values())  # no function passed in
    data = [t.data for t in step.data]  # x, where the loss reads it
    loss, grads = run_alone(step, [w0.copy(), *data])
    eager_w = am.Tensor(w0.copy(), requires_grad=True)
    eager = OP_CASES[name](x, eager_w)
    eager.backward()
    # eager: to 1e-12 relative (for a few ops (inv, det) the recorded gradient graph runs a VJP's Tensor
    # form, whose products may group differently from its array form); the step: bit for bit
    np.testing.assert_allclose(loss, eager.data, rtol=1e-12, atol=0)
    np.testing.assert_allclose(grads[0], eager_w.grad, rtol=1e-12, atol=1e-300)
    assert_step_equal(step, [w], [w0.copy(), *data])


def test_every_op_of_the_table_has_numpy_text():
    """A new op gets its plain form written (or, for a user's own Op, is passed in by name: see below)."""
    from autograd_mini import ops, tensor
    from autograd_mini.derivation.render import _PLAIN
    table = {o.name: o for m in (ops, tensor, derivation) for o in vars(m).values() if isinstance(o, Op)}
    table.update({o.name: o for o in ops._registry.ELEMENTWISE})
    assert len(table) > 60
    assert [n for n, o in table.items() if not isinstance(o.forward, np.ufunc) and n not in _PLAIN] == []


def test_an_op_with_no_numpy_text_is_passed_in_by_name():
    def double(x):
        return 2.0 * x
    op = Op("doubled", double, lambda g, ans, x: (2.0 * g,))
    w = am.Tensor(np.array([1.0, -2.0]), requires_grad=True, name="w")
    step = derive(lambda w: op(w).square().sum(), [w])
    assert step.equations_arguments["doubled"] is double and "*, doubled" in step.equations
    assert_step_equal(step, [w], [w.data.copy()])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_texts_sigmoid_is_the_ops_own_past_overflow(dtype):
    """The sigmoid the text defines gives the op's bits, also where e^-x overflows (e^x there)."""
    x = am.Tensor(np.array([[-1000.0, -720.0, -100.0, -87.0, 0.0, 3.0, 800.0, np.nan]], dtype=dtype), name="x")
    w = am.Tensor(np.ones((1, 1), dtype=dtype), requires_grad=True, name="w")
    with np.errstate(all="ignore"):
        step = derive(lambda w: (w * x).sigmoid().sum(), [w])
        assert_step_equal(step, [w], [w.data.copy(), x.data])
        namespace = {"np": np}
        exec(step.equations, namespace)
        assert np.array_equal(namespace["sigmoid"](x.data), am.Tensor(x.data).sigmoid().data, equal_nan=True)


def test_the_sum_seed_and_a_power_of_one_cost_no_call():
    """`((x @ w - 1) ** 2).sum()`: the gradient is `2 * (x @ w - 1)`: no multiply by the all-ones seed
    of `.sum()` and no `np.power(., 1.0)`, in the text and in the buffered step (which pays per call)."""
    x = am.Tensor(np.random.default_rng(0).normal(size=(5, 3)), name="x")
    w = am.Tensor(np.ones((3, 4)), requires_grad=True, name="w")
    step = derive(lambda w: ((x @ w - 1.0) ** 2).sum(), [w])
    assert "    d_matmul_1 = 2.0 * sub_1  # (5, 4) float64\n" in step.equations
    body = step.source.split("def step():")[1].split("def loss():")[0]
    assert [line.strip().split("(")[0] for line in body.splitlines() if line.strip().startswith("np.")] == [
        "np.dot", "np.subtract", "np.multiply", "np.dot"]
    eager_w = am.Tensor(np.ones((3, 4)), requires_grad=True)
    ((x @ eager_w - 1.0) ** 2).sum().backward()
    step.function()
    assert np.array_equal(w.grad, eager_w.grad)
