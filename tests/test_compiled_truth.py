"""Issue 18, the compiled step (`am.trace`, `am.derive`, `fit`'s default): each class of silent
difference from eager found there, as a test: the step gives eager's numbers at every call, or it
refuses (DeriveError), or `fit` says in one warning that it trains eagerly, and does."""
from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import autograd_mini as am
from autograd_mini import nn
from autograd_mini.derivation import DeriveError, TraceWarning, derive
from autograd_mini.errors import ShapeError
from autograd_mini.losses import cross_entropy, mse
from autograd_mini.optim import SGD
from autograd_mini.train import fit

rng = np.random.default_rng(18)


def eager_loss_and_grad(loss_fn, params):
    for p in params:
        p.grad = None
    loss = loss_fn(*params)
    loss.backward()
    return loss.item(), [p.grad.copy() for p in params]


def assert_step_is_eager(step, loss_fn, params):
    """One call of the derived step against eager at the same values, bit for bit."""
    values = [p.data.copy() for p in params]
    loss = step()
    compiled = [p.grad.copy() for p in params]
    for p, v in zip(params, values):
        p.data = v
    eager, grads = eager_loss_and_grad(loss_fn, params)
    assert loss == eager
    for a, b in zip(compiled, grads):
        assert np.array_equal(a, b)


# ---- data reached through a data-only op is read at every call ----------------------------------------------

def test_data_through_a_data_only_op_is_an_input_fed_anew_and_checked():
    w = am.Tensor(rng.normal(size=3), requires_grad=True, name="w")
    X = am.Tensor(rng.normal(size=(5, 3)), name="X")
    loss_fn = lambda w: ((X.T.T @ w) ** 2).sum()  # noqa: E731
    step = am.trace(loss_fn, [w])
    assert [t is X for t in step.data] == [True]
    for _ in range(3):
        X.data = rng.normal(size=(5, 3))
        assert_step_is_eager(step, loss_fn, [w])
    X.data = rng.normal(size=(6, 3))
    with pytest.raises(ShapeError, match="'X'.*shape"):
        step()


def test_an_op_on_data_before_it_meets_a_parameter_runs_at_every_step():
    w = am.Tensor(rng.normal(size=3), requires_grad=True, name="w")
    X = am.Tensor(rng.normal(size=(4, 3)), name="X")
    loss_fn = lambda w: (am.tanh(X * 2.0 - 1.0) @ w).sum() ** 2  # noqa: E731
    step = am.trace(loss_fn, [w])
    for _ in range(3):
        X.data = rng.normal(size=(4, 3))
        assert_step_is_eager(step, loss_fn, [w])


def test_data_that_requires_grad_but_is_not_a_param_is_an_input():
    w = am.Tensor(rng.normal(size=3), requires_grad=True, name="w")
    X = am.Tensor(rng.normal(size=(4, 3)), requires_grad=True, name="X")
    loss_fn = lambda w: ((X @ w) ** 2).sum()  # noqa: E731
    step = am.trace(loss_fn, [w])
    assert any(t is X for t in step.data)
    for _ in range(3):
        X.data = rng.normal(size=(4, 3))
        assert_step_is_eager(step, loss_fn, [w])


def test_a_closure_array_is_listed_as_a_constant_of_the_step():
    w = am.Tensor(rng.normal(size=3), requires_grad=True, name="w")
    fixed = rng.normal(size=(4, 3))
    step = am.trace(lambda w: ((fixed @ w) ** 2).sum(), [w])
    assert list(step.constants.values()) == [(4, 3)]


# ---- values read inside ops -----------------------------------------------------------------------------------

def test_detach_is_a_stop_gradient_op_computed_at_every_step():
    w = am.Tensor(rng.normal(size=3), requires_grad=True, name="w")
    X = am.Tensor(rng.normal(size=(4, 3)), name="X")

    def loss_fn(w):
        out = X @ w
        return ((out - out.detach().mean()) ** 2).sum()
    step = derive(loss_fn, [w], update=SGD([w], lr=0.01))
    for _ in range(3):
        X.data = rng.normal(size=(4, 3))
        before = w.data.copy()
        loss = (step(), w.data.copy())
        w.data = before
        eager = eager_loss_and_grad(loss_fn, [w])[0]
        SGD([w], lr=0.01).step()
        assert loss[0] == eager and np.array_equal(loss[1], w.data)


def _value_deciding_losses(X, labels, lo, hi):
    """Losses whose masks, orders, positions, labels or bounds come from traced tensors (data, params)."""
    return {
        "where_less": lambda w: am.where(am.less(X @ w, 0), 0.1 * (X @ w), X @ w).sum(),
        "where_operator": lambda w: am.where(X @ w > 0, X @ w, 0.1 * (X @ w)).sum(),
        "mask_operator": lambda w: ((X @ w) * (X[:, :2] > 0)).sum(),
        "where_greater": lambda w: am.where(am.greater(X @ w, X[:, :2]), X @ w, (X @ w) ** 2).sum(),
        "mask_product": lambda w: ((X @ w) * am.less_equal(X[:, :2], 0.2)).sum(),
        "sort": lambda w: (am.sort(X @ w, axis=0) * np.arange(6.0)[:, None]).sum(),
        "argmax_gather": lambda w: am.take_along_axis(X @ w, am.argmax(X @ w, axis=1, keepdims=True), 1).sum(),
        "argmin_of_data": lambda w: am.take_along_axis(X @ w, am.argmin(X[:, :2], axis=1, keepdims=True), 1).sum(),
        "argsort_of_data": lambda w: (am.take_along_axis(X @ w, am.argsort(X[:, 1:], axis=0), 0)
                                      * np.arange(6.0)[:, None]).sum(),
        "labels": lambda w: cross_entropy(X @ w, labels),
        "clip_tensor_bounds": lambda w: (am.clip(X @ w, lo, hi) ** 2).sum(),
    }


@pytest.mark.parametrize("use", list(_value_deciding_losses(None, None, None, None)))
def test_a_value_that_decides_the_result_is_computed_by_the_step_at_every_call(use):
    """Masks, comparisons, sort orders, argmax positions, class labels and clip bounds are ops of the
    program: derive gives no warning, and with new data (new labels, new bounds) at every step the
    compiled step equals eager bit for bit."""
    X = am.Tensor(rng.normal(size=(6, 3)), name="X")
    labels = am.Tensor(rng.integers(0, 2, size=6).astype(float), name="labels")
    lo, hi = am.Tensor(np.full((6, 2), -0.3), name="lo"), am.Tensor(np.full((6, 2), 0.4), name="hi")
    w = am.Tensor(rng.normal(size=(3, 2)), requires_grad=True, name="w")
    loss_fn = _value_deciding_losses(X, labels, lo, hi)[use]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        step = derive(loss_fn, [w])
    for _ in range(4):
        X.data = rng.normal(size=(6, 3))
        labels.data = rng.integers(0, 2, size=6).astype(float)
        lo.data, hi.data = rng.uniform(-1, 0, size=(6, 2)), rng.uniform(0, 1, size=(6, 2))
        assert_step_is_eager(step, loss_fn, [w])


def test_new_labels_out_of_range_are_refused_by_the_compiled_step():
    X = am.Tensor(rng.normal(size=(6, 3)), name="X")
    labels = am.Tensor(rng.integers(0, 2, size=6).astype(float), name="labels")
    w = am.Tensor(rng.normal(size=(3, 2)), requires_grad=True, name="w")
    step = derive(lambda w: cross_entropy(X @ w, labels), [w])
    step()
    for bad, reason in ((2.0, "out of range"), (-1.0, "out of range"), (0.5, "whole number")):
        labels.data = np.where(np.arange(6) == 3, bad, 0.0)
        with pytest.raises(ValueError, match=reason):
            step()


@pytest.mark.parametrize("use", ["if_any", "if_operator_any", "numpy_mask", "data_mask", "tensor_positions"])
def test_a_value_python_decides_on_still_warns(use):
    """Where Python (not an op) decides on a value, the step would keep the decision: it warns."""
    X = am.Tensor(rng.normal(size=(6, 3)), name="X")
    w = am.Tensor(rng.normal(size=(3, 2)), requires_grad=True, name="w")
    losses = {
        "if_any": lambda w: ((X @ w) ** 2).sum() if am.greater(X @ w, 0).numpy().any() else (X @ w).sum(),
        "if_operator_any": lambda w: ((X @ w) ** 2).sum() if (X @ w > 0).any() else (X @ w).sum(),
        "numpy_mask": lambda w: ((X @ w) * ((X @ w).detach().numpy() > 0)).sum(),
        "data_mask": lambda w: ((X @ w) * (X.data > 0)[:, :2]).sum(),
        "tensor_positions": lambda w: (X @ w)[np.arange(6), am.argmax(X @ w, axis=1)].sum(),
    }
    with pytest.warns(TraceWarning):
        derive(losses[use], [w])


def test_fit_compiles_a_huber_loss_and_matches_eager():
    def huber(out, y, delta=0.5):
        e = out - y
        return am.where(am.abs(e) < delta, 0.5 * e * e, delta * (am.abs(e) - 0.5 * delta)).mean()
    runs = []
    for eager in (True, False):
        model = nn.Linear(3, 1, rng=np.random.default_rng(0))
        opt = SGD(model.parameters(), lr=0.1)
        X, y = am.Tensor(np.linspace(-2, 2, 24).reshape(8, 3)), am.Tensor(np.linspace(-3, 3, 8).reshape(8, 1))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no TraceWarning, no "training eagerly"
            h = fit(model, huber, opt, X, y, epochs=20, eager=eager, quiet=True,
                    record=lambda info: {"loss": float(info.loss)})
        runs.append((h["loss"], model.weight.data.copy()))
    assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])


def test_fit_trains_eagerly_after_its_derive_warns():
    def masked(out, y):
        return (((out - y) ** 2) * (out.numpy() > 0)).mean()  # Python builds the mask from values
    runs = []
    for eager in (True, False):
        model = nn.Linear(3, 1, rng=np.random.default_rng(0))
        opt = SGD(model.parameters(), lr=0.1)
        X, y = am.Tensor(np.linspace(-2, 2, 24).reshape(8, 3)), am.Tensor(np.linspace(-3, 3, 8).reshape(8, 1))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            h = fit(model, masked, opt, X, y, epochs=20, eager=eager, quiet=True,
                    record=lambda info: {"loss": float(info.loss)})
        runs.append((h["loss"], model.weight.data.copy()))
        said = [w for w in caught if "training eagerly" in str(w.message)]
        assert len(said) == (0 if eager else 1)
        assert not [w for w in caught if issubclass(w.category, TraceWarning)]  # one line, not two
    assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])


def test_fit_compiles_clip_with_array_bounds_and_matches_eager():
    """Array bounds are constants of the step compared with by ops (not masks made inside a VJP): fit
    compiles it (no "training eagerly") with eager's numbers."""
    lo, hi = np.full((8, 1), -0.2), np.full((8, 1), 0.3)
    runs = []
    for eager in (True, False):
        model = nn.Linear(3, 1, rng=np.random.default_rng(1))
        X, y = am.Tensor(np.linspace(-2, 2, 24).reshape(8, 3)), am.Tensor(np.linspace(-1, 1, 8).reshape(8, 1))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fit(model, lambda out, y: mse(am.clip(out, lo, hi), y), SGD(model.parameters(), lr=0.1), X, y,
                epochs=10, eager=eager, quiet=True)
        runs.append(model.weight.data.copy())
    assert np.array_equal(runs[0], runs[1])


# ---- randomness and side effects ------------------------------------------------------------------------------

def test_loss_fn_runs_twice_and_np_random_draws_are_refused():
    w = am.Tensor(rng.normal(size=3), requires_grad=True)
    X = am.Tensor(rng.normal(size=(4, 3)))
    calls = []

    def counted(w):
        calls.append(1)
        return ((X @ w) ** 2).sum()
    derive(counted, [w])
    assert len(calls) == 2  # (recorded twice: the two recordings must make the same constants)
    with pytest.raises(DeriveError, match="random"):
        derive(lambda w: ((X @ w) * (np.random.rand(4) > 0.5)).sum(), [w])


def test_derive_changes_no_user_tensor():
    w = am.Tensor(rng.normal(size=3), requires_grad=True)
    X = am.Tensor(rng.normal(size=(4, 3)))
    seen = []

    def loss_fn(w):
        seen.append(X.requires_grad)
        return ((X @ w) ** 2).sum()
    derive(loss_fn, [w])
    assert seen == [False, False] and not X.requires_grad


# ---- the optimizer's settings -----------------------------------------------------------------------------------

@pytest.mark.parametrize("change", ["lr", "momentum", "frozen"])
def test_a_derived_update_refuses_after_its_optimizer_changed(change):
    w = am.Tensor(rng.normal(size=3), requires_grad=True)
    X = am.Tensor(rng.normal(size=(4, 3)))
    opt = SGD([w], lr=0.1)
    step = derive(lambda w: ((X @ w) ** 2).sum(), [w], update=opt)
    step()
    if change == "lr":
        opt.lr = 0.5
    elif change == "momentum":
        opt.momentum = 0.9
    else:
        opt.frozen = {id(w): np.array([True, False, False])}
    with pytest.raises(DeriveError, match="(?i)derive again"):
        step()


# ---- threads ------------------------------------------------------------------------------------------------------

def test_a_derived_step_refuses_to_run_in_two_threads_at_once():
    w = am.Tensor(rng.normal(size=3), requires_grad=True)
    X = am.Tensor(rng.normal(size=(4, 3)))
    step = derive(lambda w: ((X @ w) ** 2).sum(), [w])
    busy = step.function.__globals__["busy"]
    errors = []
    with busy:  # as if another thread were inside the step
        thread = threading.Thread(target=lambda: errors.append(pytest.raises(DeriveError, step.function)))
        thread.start()
        thread.join()
    assert "another thread" in str(errors[0].value)
    step()  # free again


def test_derive_in_one_thread_leaves_another_threads_eager_backward_alone():
    X = am.Tensor(rng.normal(size=(20, 3)))
    failures = []

    def eager():
        try:
            for _ in range(200):
                w = am.Tensor(np.ones(3), requires_grad=True)
                loss = ((X @ w) ** 2).sum()
                loss.backward()
                assert X.grad is None and not X.requires_grad
        except Exception as error:  # noqa: BLE001 (reported below)
            failures.append(error)

    def deriving():
        for _ in range(20):
            w = am.Tensor(np.ones(3), requires_grad=True)
            derive(lambda w: am.tanh(X @ w).sum(), [w])
    threads = [threading.Thread(target=eager), threading.Thread(target=deriving)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


# ---- layout: a bound view --------------------------------------------------------------------------------------

def test_a_reshaped_parameter_that_is_no_longer_a_view_is_refused():
    w = am.Tensor(rng.normal(size=(2, 3)), requires_grad=True, name="w")
    X = am.Tensor(rng.normal(size=(4, 6)))
    step = derive(lambda w: ((X @ w.reshape(6)) ** 2).sum(), [w], update=SGD([w], lr=0.01))
    step()
    w.data = np.asfortranarray(w.data)
    with pytest.raises(DeriveError, match="view"):
        step()
    w.data = np.ascontiguousarray(w.data)
    step()


# ---- .data assignments -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [[1, 2, 3], np.array([1, 2, 3]), np.array([True, False, True])])
def test_data_assignment_keeps_a_float_array_of_the_tensors_dtype(value):
    for dtype in (np.float64, np.float32):
        t = am.Tensor(np.zeros(3, dtype=dtype), requires_grad=True)
        t.data = value
        assert isinstance(t.data, np.ndarray) and t.data.dtype == dtype
        assert np.array_equal(t.data, np.asarray(value, dtype=dtype))
    w = am.Tensor(np.zeros(()), requires_grad=True)
    w.data = 3.0
    assert isinstance(w.data, np.ndarray) and w.data.dtype == np.float64 and w.data == 3.0
    with pytest.raises(TypeError, match="Tensor.data"):
        w.data = "3"


def test_data_assigned_as_a_list_feeds_a_derived_step():
    w = am.Tensor(rng.normal(size=2), requires_grad=True)
    X = am.Tensor(rng.normal(size=(3, 2)))
    loss_fn = lambda w: ((X @ w) ** 2).sum()  # noqa: E731
    step = derive(loss_fn, [w])
    X.data = [[1, 2], [3, 4], [5, 6]]
    assert_step_is_eager(step, loss_fn, [w])


def test_a_product_of_one_by_one_matrices_keeps_eagers_signed_zero():
    # np.dot multiplies (1, 1) @ (1, 1) directly (1 * -0.0 = -0.0), np.matmul adds the product to 0 (+0.0)
    w = am.Tensor([[1.0]], requires_grad=True)
    X = am.Tensor([[1.0]])
    loss_fn = lambda w: (X @ w.T * -0.0).sum()  # noqa: E731
    step = am.trace(loss_fn, [w])
    step()
    compiled = w.grad.copy()
    w.grad = None
    loss_fn(w).backward()
    assert np.signbit(compiled) == np.signbit(w.grad) and not np.signbit(w.grad)


def test_a_sums_gradient_has_eagers_layout_so_later_sums_add_in_eagers_order():
    # the gradient of a full sum is a filled array in eager mode; recorded, it was a zero-stride view, so
    # `g * (w.T - m)` took w.T's (F) layout instead of g's (C) and the sum for m's gradient added in another order
    w = am.Tensor(rng.normal(size=(4, 4)), requires_grad=True)
    loss_fn = lambda w: ((w.T - w.T.mean()) ** 2).sum()  # noqa: E731
    step = am.trace(loss_fn, [w])
    for _ in range(20):
        w.data = rng.normal(size=(4, 4))
        assert_step_is_eager(step, loss_fn, [w])


def test_the_plain_equations_write_a_uniform_matrix_in_a_product_as_a_matrix():
    # np.matmul is a ufunc too (with a core signature): the gradient of a sum, a matrix of ones, was written `1.0 @ w.T`
    w = am.Tensor(rng.normal(size=(3, 3)), requires_grad=True, name="w")
    step = derive(lambda w: (w @ w).sum(), [w])
    loss, grads = step.equations_function(w.data.copy())
    step.function()
    assert loss == step.loss() and np.array_equal(grads[0], w.grad)
