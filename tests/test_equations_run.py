"""`step.equations` runs on its own: `exec` of the text in a namespace holding only `np` (plus the named
arrays it asks for) returns the step's loss and gradients, bit for bit (the same NumPy operations on the
same values), for every experiment with a derived step and for random programs of the op table."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import autograd_mini as am
from autograd_mini.app.derived import derived_step
from autograd_mini.app.experiments import all_experiments
from autograd_mini.derivation import derive
from autograd_mini.optim import SGD
from test_derive import doc000_step, programs, random_model


def run_alone(step, arrays):
    """The text exec'd with NumPy alone in scope; its step() called with the arrays and what it asks for."""
    namespace = {"np": np}
    exec(step.equations, namespace)
    assert set(namespace) - {"np", "__builtins__"} <= {"step", "sigmoid", "log_softmax", "logsumexp"}
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
