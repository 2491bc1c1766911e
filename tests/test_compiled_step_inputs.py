"""What a compiled step takes from outside `loss_fn`'s arguments, and what it hands back: arrays it
captured, random draws, aux outputs, values an update overwrites, and arrays fed to `run`. Each test
is one class of silent difference from eager found on the compiled step: the step gives eager's numbers
or refuses with an error that says what and why."""
from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import autograd_mini as am
from autograd_mini import nn
from autograd_mini.derivation import DeriveError, derive
from autograd_mini.losses import cross_entropy, mse
from autograd_mini.optim import SGD
from autograd_mini.train import fit

rng = np.random.default_rng(41)


def eager_step(loss_fn, params, lr):
    """Eager mode's loss, aux values (copies) and gradients, then plain SGD."""
    for p in params:
        p.grad = None
    result = loss_fn(*params)
    loss, aux = result if isinstance(result, tuple) else (result, {})
    loss.backward()
    values = {name: np.array(t.data) for name, t in aux.items()}
    grads = [np.zeros_like(p.data) if p.grad is None else p.grad.copy() for p in params]  # (a step's: zeros)
    for p, g in zip(params, grads):
        p.data = p.data - lr * g
    return loss.item(), values, grads


# ---- 1. arrays captured from closures and globals are constants, checked at every call -------------------------

GLOBAL_WEIGHTS = rng.normal(size=(4, 3))


@pytest.mark.parametrize("spelling", ["closure", "global", "folded", "integer", "index", "Tensor of it", "list",
                                      "large"])
def test_a_captured_array_changed_in_place_is_refused_naming_it(spelling):
    w = am.Tensor(rng.normal(size=3), requires_grad=True, name="w")
    fixed = rng.normal(size=(4, 3))
    counts = np.array([1, 2, 3])
    rows = np.array([0, 1])
    weights = [0.5, 1.5, 2.5]
    large = rng.normal(size=(100, 3 * 40))  # (more than 64 KiB: compared as arrays, not as bytes)
    changed, loss_fn = {
        "closure": (fixed, lambda w: ((fixed @ w) ** 2).sum()),
        "global": (GLOBAL_WEIGHTS, lambda w: ((GLOBAL_WEIGHTS @ w) ** 2).sum()),
        "folded": (fixed, lambda w: (((fixed * 2.0 + 1.0) @ w) ** 2).sum()),  # (NumPy computes a new array first)
        "integer": (counts, lambda w: (counts * w ** 2).sum()),  # converted to float when wrapped
        "index": (rows, lambda w: (am.stack([w, w * 2])[rows] ** 2).sum()),
        "Tensor of it": (fixed, lambda w: ((am.Tensor(fixed) @ w) ** 2).sum()),  # a copy made inside loss_fn
        "list": (weights, lambda w: (w ** 2 * weights).sum()),
        "large": (large, lambda w: ((large.reshape(-1, 3) @ w) ** 2).sum()),
    }[spelling]
    saved = changed.copy()
    step = am.trace(loss_fn, [w])
    step()
    changed[0] += 1
    try:
        names = {"global": "GLOBAL_WEIGHTS", "integer": "counts", "index": "rows", "list": "weights", "large": "large"}
        name = names.get(spelling, "fixed")
        with pytest.raises(DeriveError, match=f"'{name}'.*changed.*derive again"):
            step()
        with pytest.raises(DeriveError, match="derive again"):
            step.function()
        changed[:] = saved  # the values it was derived with: the step runs again, eager's numbers
        assert step() == loss_fn(w).item()
    finally:
        changed[:] = saved


def test_a_step_does_not_read_a_captured_array_through_the_users_memory():
    w = am.Tensor(rng.normal(size=3), requires_grad=True)
    fixed = rng.normal(size=(4, 3))
    step = am.trace(lambda w: ((fixed @ w) ** 2).sum(), [w])
    assert all(not np.may_share_memory(fixed, b) for b in step.buffers)
    assert not any(np.may_share_memory(fixed, v) for v in vars(step.function).get("__globals__", {}).values()
                   if isinstance(v, np.ndarray))


@pytest.mark.parametrize("per_sample", [False, True])
def test_fit_derives_again_when_a_record_changes_a_captured_array_and_matches_eager(per_sample):
    X, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 1))
    trained = []
    for eager in (True, False):
        model = nn.Linear(3, 1)
        model.weight.data, model.bias.data = np.full((3, 1), 0.5), np.zeros(1)
        scale = np.ones((6, 1) if not per_sample else (1, 1))
        loss_fn = lambda out, target, scale=scale: (((out - target) ** 2) * scale).mean()  # noqa: E731

        def changes(info, scale=scale):
            scale[...] = scale + 1.0  # in place: the array loss_fn captured, before the epoch's loss is read
            return {"loss": np.mean(info.loss)}
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            history = fit(model, loss_fn, SGD(model.parameters(), lr=0.01), X, y, epochs=4, quiet=True,
                          record=changes, eager=eager, per_sample=per_sample)
        trained.append((model.weight.data.copy(), history["loss"]))
    assert np.array_equal(trained[0][0], trained[1][0]) and np.array_equal(trained[0][1], trained[1][1])


def test_the_loss_of_the_last_step_is_computed_from_the_captured_values_it_ran_with():
    w = am.Tensor(rng.normal(size=4), requires_grad=True)
    fixed = rng.normal(size=(4, 3))[::-1, ::2].T  # (a view with reversed and gapped strides: its sums' order kept)
    weights = np.full(2, 0.75)
    # (the products by `weights` are computed by loss(), on demand: the gradient does not need them)
    loss_fn = lambda w: (((fixed @ w) ** 2) * weights).sum()  # noqa: E731
    step = am.trace(loss_fn, [w])
    step.function()
    ran_with = loss_fn(w).item()
    fixed[0] += 1.0
    weights[0] = 2.0
    assert step.loss() == ran_with


# ---- 2. random constants: two recordings that disagree are refused ---------------------------------------------

def test_a_mask_drawn_from_a_generator_inside_loss_fn_is_refused_naming_the_op():
    w = am.Tensor(rng.normal(size=5), requires_grad=True)
    draws = np.random.default_rng(0)
    with pytest.raises(DeriveError, match="'mul'.*differ"):
        am.trace(lambda w: ((w * (draws.random(5) > 0.5)) ** 2).sum(), [w])


def test_positions_drawn_inside_loss_fn_are_refused_naming_the_op():
    w = am.Tensor(rng.normal(size=50), requires_grad=True)
    draws = np.random.default_rng(2)
    with pytest.raises(DeriveError, match="'getitem'.*differ"):
        am.trace(lambda w: (w[draws.permutation(50)[:25]] ** 2).sum(), [w])  # a random minibatch of entries


def test_fit_trains_a_dropout_loss_eagerly_saying_so_once():
    model = nn.Linear(3, 1)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 1))
    draws = np.random.default_rng(1)
    loss_fn = lambda out, target: mse(out * (draws.random(out.shape) > 0.3), target)  # noqa: E731
    with pytest.warns(RuntimeWarning) as caught:
        history = fit(model, loss_fn, SGD(model.parameters(), lr=0.1), X, y, epochs=2, quiet=True)
    said = [str(w.message) for w in caught if "training eagerly" in str(w.message)]
    assert len(said) == 1 and "differ" in said[0]
    assert history.backend == "eager"


def test_a_loss_fn_that_records_the_same_constants_twice_compiles():
    w = am.Tensor(rng.normal(size=3), requires_grad=True)
    step = am.trace(lambda w: ((np.arange(3.0) * w + np.ones(3)) ** 2).sum(), [w])
    assert step() == ((np.arange(3.0) * w + np.ones(3)) ** 2).sum().item()


# ---- 3. what an update overwrites is read before it is written -------------------------------------------------

@pytest.mark.parametrize("spelling", ["param as gradient", "view of a param", "reshape of a param", "product"])
def test_aux_outputs_and_gradients_are_read_before_the_update(spelling):
    w1 = am.Tensor(rng.normal(size=(2, 3)), requires_grad=True, name="w1")
    w2 = am.Tensor(rng.normal(size=(2, 3)), requires_grad=True, name="w2")
    loss_fn = {
        "param as gradient": lambda a, b: ((a * b).sum(), {"b": b}),  # d a = b, d b = a
        "view of a param": lambda a, b: ((a * b).sum() + (a ** 2).sum(), {"a_row": a[0], "b_t": b.T}),
        "reshape of a param": lambda a, b: ((a.reshape(6) * b.reshape(6)).sum(), {"flat": a.reshape(6)}),
        "product": lambda a, b: ((a * b).sum(), {"prod": a * b, "loss_twice": (a * b).sum() * 2}),
    }[spelling]
    eager_w = [am.Tensor(w1.data.copy(), requires_grad=True), am.Tensor(w2.data.copy(), requires_grad=True)]
    step = derive(loss_fn, [w1, w2], update=SGD([w1, w2], lr=0.25))
    for _ in range(3):
        step.function()
        loss, values, grads = eager_step(loss_fn, eager_w, 0.25)
        assert step.loss() == loss
        for name, value in values.items():
            assert np.array_equal(step.aux[name], value), name
        assert np.array_equal(w1.grad, grads[0]) and np.array_equal(w2.grad, grads[1])
        assert np.array_equal(w1.data, eager_w[0].data) and np.array_equal(w2.data, eager_w[1].data)


def test_a_gradient_that_is_also_an_aux_output_is_handed_out_in_its_own_array():
    x, y = am.Tensor(rng.normal(size=3)), am.Tensor(rng.normal(size=3))
    a = am.Tensor(rng.normal(size=3), requires_grad=True)

    def loss_fn(a):
        xy = x * y  # the gradient of a, too
        return (xy * a).sum(), {"xy": xy}
    step = derive(loss_fn, [a])
    step.function()
    assert not np.shares_memory(a.grad, step.aux["xy"])
    a.grad[...] = 0.0  # (eager's aux output is not the gradient either)
    assert np.array_equal(step.aux["xy"], x.data * y.data)


@pytest.mark.parametrize("aliasing", ["data is the parameter's array", "data written in place after the step"])
def test_the_loss_is_computed_from_the_values_before_the_update(aliasing):
    v = rng.normal(size=3)
    worlds = []
    for _ in range(2):
        w, X = am.Tensor(v.copy(), requires_grad=True), am.Tensor(rng.normal(size=3), name="X")
        if aliasing == "data is the parameter's array":
            X.data = w.data  # (a target that is the parameter itself: the update writes it)
        worlds.append((w, X))
    (cw, cX), (ew, eX) = worlds
    eX.data = cX.data.copy() if aliasing != "data is the parameter's array" else eX.data
    step = derive(lambda w: ((w * 3.0) ** 2).sum() + (cX * cX).sum(), [cw], update=SGD([cw], lr=0.1))
    eager_opt = SGD([ew], lr=0.1)
    for _ in range(3):
        step.function()
        ew.grad = None
        loss = ((ew * 3.0) ** 2).sum() + (eX * eX).sum()  # (the data-only term is computed by loss() alone)
        loss.backward()
        eager_opt.step()
        if aliasing == "data written in place after the step":
            cX.data[...] += 1.0  # the next batch, written into the same array before the loss is read
        assert step.loss() == loss.item()
        if aliasing == "data written in place after the step":
            eX.data[...] += 1.0


def test_the_update_of_a_float32_parameter_reads_its_gradient_rounded_to_float32_as_eager():
    # data in float64 make the products float64; eager's .grad, which SGD reads, is rounded to float32 first
    X = am.Tensor(rng.normal(size=(5, 3)), name="X")
    labels = am.Tensor(rng.integers(0, 4, size=5).astype(float), name="labels")
    start = [rng.normal(size=(3, 6)).astype(np.float32), rng.normal(size=(6, 4)).astype(np.float32)]
    loss_fn = lambda a, b: cross_entropy(am.relu(X @ a) @ b, labels) + (a ** 2).mean() * 0.01  # noqa: E731
    compiled = [am.Tensor(v.copy(), requires_grad=True) for v in start]
    eager = [am.Tensor(v.copy(), requires_grad=True) for v in start]
    step = derive(loss_fn, compiled, update=SGD(compiled, lr=0.1))
    for _ in range(5):
        X.data = rng.normal(size=(5, 3))
        step.function()
        eager_step(loss_fn, eager, 0.1)
        for c, e in zip(compiled, eager):
            assert c.dtype == np.float32 and np.array_equal(c.data, e.data)


# ---- 4. aux outputs must be Tensors -----------------------------------------------------------------------------

@pytest.mark.parametrize("value", [1.5, np.ones(2), None])
def test_an_aux_output_that_is_not_a_tensor_is_refused_naming_it(value):
    w = am.Tensor(rng.normal(size=3), requires_grad=True)
    with pytest.raises(DeriveError, match=f"'extra'.*{type(value).__name__}"):
        derive(lambda w: ((w ** 2).sum(), {"extra": value}), [w])


def test_aux_outputs_that_are_not_a_mapping_are_refused():
    w = am.Tensor(rng.normal(size=3), requires_grad=True)
    with pytest.raises(DeriveError, match="mapping"):
        derive(lambda w: ((w ** 2).sum(), [w * 2]), [w])


# ---- 5. positions and class gathers are recomputed at every call, and are fine as aux outputs --------------------

def test_positions_and_gathers_as_aux_outputs_follow_new_data_and_the_update():
    w = am.Tensor(rng.normal(size=(3, 4)), requires_grad=True, name="w")
    X = am.Tensor(rng.normal(size=(5, 3)), name="X")
    labels = am.Tensor(rng.integers(0, 4, size=5).astype(float), name="labels")

    def loss_fn(w):
        logits = X @ w
        positions = am.argmax(logits, axis=1, keepdims=True)
        return cross_entropy(logits, labels), {
            "argmax": positions, "argmin": am.argmin(logits, axis=0), "order": am.argsort(logits, axis=1),
            "top": am.take_along_axis(logits, positions, 1), "logits": logits}
    eager_w = am.Tensor(w.data.copy(), requires_grad=True)
    step = derive(loss_fn, [w], update=SGD([w], lr=0.5))
    assert not step.constants
    for _ in range(4):
        X.data, labels.data = rng.normal(size=(5, 3)), rng.integers(0, 4, size=5)
        step.function()
        loss, values, _ = eager_step(loss_fn, [eager_w], 0.5)
        assert step.loss() == loss
        for name, value in values.items():
            assert step.aux[name].dtype == value.dtype and np.array_equal(step.aux[name], value), name


# ---- 6. arrays fed to run() are not cast silently ---------------------------------------------------------------

def _positions_step():
    h = am.Tensor(rng.normal(size=(4, 3)))
    positions = am.argmax(h, axis=1, keepdims=True)  # made outside loss_fn: an integer data input
    mask = am.Tensor(rng.normal(size=(4, 3)) > 0, name="mask")
    w = am.Tensor(rng.normal(size=(4, 3)), requires_grad=True)
    positions.name = "positions"
    step = derive(lambda w: (am.take_along_axis(w, positions, 1) ** 2).sum() + (w * mask).sum(), [w],
                  update=SGD([w], lr=0.1))
    return step, positions, mask


@pytest.mark.parametrize("fed", ["floats to positions", "float64 to float32", "fractions to a mask"])
def test_run_refuses_a_feed_it_would_have_to_cast(fed):
    step, positions, mask = _positions_step()
    if fed == "float64 to float32":
        x = am.Tensor(rng.normal(size=(4, 3)).astype(np.float32), name="x32")
        w = am.Tensor(rng.normal(size=(4, 3)).astype(np.float32), requires_grad=True)
        step = derive(lambda w: (w * x).sum(), [w])
        feed, message = {"x32": rng.normal(size=(2, 4, 3))}, "'x32'.*float64.*float32"
    elif fed == "floats to positions":
        feed, message = {positions: np.full((2, 4, 1), 1.7)}, "'positions'.*float64.*int64"
    else:
        feed, message = {"mask": np.full((2, 4, 3), 0.5)}, "'mask'.*mask.*0 and 1"
    with pytest.raises((ValueError, TypeError), match=message):
        step.run(2, 1, feed)


def test_run_takes_integer_positions_and_boolean_masks_as_eager_would():
    step, positions, mask = _positions_step()
    new_positions = rng.integers(0, 3, size=(2, 4, 1))
    new_masks = rng.normal(size=(2, 4, 3)) > 0
    w = step.params[0]
    start = w.data.copy()
    losses = step.run(2, 1, {positions: new_positions, mask: new_masks})
    w.data = start
    for s in range(2):
        positions.data, mask.data = new_positions[s], new_masks[s]
        step.function()
        assert step.loss() == losses[s]


SCHEDULED = 0.5


def test_a_name_loss_fn_reads_a_value_by_assigned_another_value_is_refused():
    global SCHEDULED
    w = am.Tensor(rng.normal(size=3), requires_grad=True)
    X = am.Tensor(rng.normal(size=(4, 3)), name="X")
    scale = 0.25
    loss_fn = lambda w: ((X @ w) ** 2).sum() * scale + (w ** 2).sum() * SCHEDULED  # noqa: E731
    step = am.trace(loss_fn, [w])
    step()
    SCHEDULED = 0.75  # a schedule written as a global: the step has 0.5 in it
    try:
        with pytest.raises(DeriveError, match="'SCHEDULED'.*assigned another value.*derive again"):
            step()
    finally:
        SCHEDULED = 0.5
    step()
    scale = 0.125  # noqa: F841 (a closure variable, read by loss_fn)
    with pytest.raises(DeriveError, match="'scale'.*assigned another value"):
        step()


def test_a_data_tensor_rebound_to_a_new_tensor_is_refused():
    w = am.Tensor(rng.normal(size=3), requires_grad=True)
    X = am.Tensor(rng.normal(size=(4, 3)), name="X")
    step = am.trace(lambda w: ((X @ w) ** 2).sum(), [w])
    step()
    X = am.Tensor(rng.normal(size=(4, 3)), name="X")  # noqa: F841 (not X.data = ...: the step reads the old X)
    with pytest.raises(DeriveError, match="'X'.*assigned another value"):
        step()


scale = 1.0  # (a global named as the loss object's attribute: the loss does not read it)


class _Weighted:
    """A loss written as an object, its weight an attribute."""

    def __init__(self, X):
        self.X, self.scale = X, 0.5

    def __call__(self, w):
        return ((self.X @ w) ** 2).sum() * self.scale


def test_an_attribute_of_a_loss_object_assigned_another_value_is_refused_and_an_unrelated_global_is_not():
    global scale
    w = am.Tensor(rng.normal(size=3), requires_grad=True)
    loss = _Weighted(am.Tensor(rng.normal(size=(4, 3)), name="X"))
    step = am.trace(loss, [w])
    scale = 2.0  # a global of the same name as the attribute: not read by the loss
    try:
        step()
    finally:
        scale = 1.0
    loss.scale = 0.25
    with pytest.raises(DeriveError, match="'self.scale'.*assigned another value"):
        step()


def test_a_step_runs_while_another_thread_records():
    # the library's own globals (how many recordings are open) are not values loss_fn holds
    from autograd_mini.tensor import recording
    w = am.Tensor(rng.normal(size=(3, 2)), requires_grad=True)
    X = am.Tensor(rng.normal(size=(4, 3)), name="X")
    labels = am.Tensor([0.0, 1.0, 1.0, 0.0])
    loss_fn = lambda w: cross_entropy(X @ w, labels)  # noqa: E731 (a library function, named by loss_fn)
    step = am.trace(loss_fn, [w])
    opened, done = threading.Event(), threading.Event()

    def records():
        with recording():
            opened.set()
            done.wait(10)
    other = threading.Thread(target=records)
    other.start()
    try:
        opened.wait(10)
        assert step() == loss_fn(w).item()
    finally:
        done.set()
        other.join()


# ---- the hunt: random programs over parameters reached through views, compiled vs eager -------------------------

_SIDE = 4
_LEAVES = [  # (each a function of w, v, X, rows: parameters through views and reshapes, data, an index array)
    lambda w, v, X, rows: w, lambda w, v, X, rows: w.T, lambda w, v, X, rows: v[:_SIDE ** 2].reshape(_SIDE, _SIDE),
    lambda w, v, X, rows: w[::-1], lambda w, v, X, rows: w[:, ::-1].T, lambda w, v, X, rows: X * w,
    lambda w, v, X, rows: am.concatenate([w[:2], v[_SIDE ** 2:].reshape(_SIDE, _SIDE)[2:]], axis=0),
    lambda w, v, X, rows: w[rows]]
_UNARY = [am.tanh, lambda a: a * a, am.relu, lambda a: a.sum(axis=0, keepdims=True) * a, lambda a: am.exp(-a * a),
          lambda a: a.T, lambda a: a - a.mean(), lambda a: am.where(a > 0, a, 0.5 * a), lambda a: am.sort(a, axis=1),
          lambda a: a @ a]
_BINARY = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a @ b, lambda a, b: a - b.T, am.maximum]


def _program(draw, depth):
    """A random expression (a function of w, v, X, rows) of the blocks above."""
    if depth == 0 or draw.random() < 0.25:
        return _LEAVES[draw.integers(len(_LEAVES))]
    if draw.random() < 0.5:
        f, a = _UNARY[draw.integers(len(_UNARY))], _program(draw, depth - 1)
        return lambda *inputs: f(a(*inputs))
    f, a, b = _BINARY[draw.integers(len(_BINARY))], _program(draw, depth - 1), _program(draw, depth - 1)
    return lambda *inputs: f(a(*inputs), b(*inputs))


@pytest.mark.parametrize("seed", range(40))
def test_random_programs_over_views_of_parameters_are_eager_bit_for_bit(seed):
    draw = np.random.default_rng(seed)
    body = _program(draw, 3)
    X, rows = am.Tensor(draw.normal(size=(_SIDE, _SIDE)), name="X"), draw.integers(0, _SIDE, size=_SIDE)

    def loss_fn(w, v):
        h = body(w, v, X, rows)
        return (h ** 2).mean(), {"h": h}
    start = [draw.normal(size=(_SIDE, _SIDE)) * 0.5, draw.normal(size=2 * _SIDE ** 2) * 0.5]
    compiled = [am.Tensor(a.copy(), requires_grad=True) for a in start]
    eager = [am.Tensor(a.copy(), requires_grad=True) for a in start]
    step = derive(loss_fn, compiled, update=SGD(compiled, lr=0.01))
    for _ in range(3):
        X.data = draw.normal(size=(_SIDE, _SIDE))
        step.function()
        loss, values, grads = eager_step(loss_fn, eager, 0.01)
        assert step.loss() == loss and np.array_equal(step.aux["h"], values["h"])
        for c, e, g in zip(compiled, eager, grads):
            assert np.array_equal(c.grad, g) and np.array_equal(c.data, e.data)


class _Scale(nn.Module):
    """A layer with a number of its own (a temperature, a scale), read in forward."""

    def __init__(self, s):
        super().__init__()
        self.s = s

    def forward(self, x):
        return x * self.s


def test_a_number_a_layer_deep_in_the_model_holds_is_checked_and_fit_derives_again_when_a_record_changes_it():
    X, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    trained = []
    for eager in (True, False):
        model = nn.Sequential(nn.Linear(3, 2, weight=np.full((3, 2), 0.3)), _Scale(0.5))

        def anneal(info, model=model):
            model.layers[1].s = model.layers[1].s * 1.5  # a schedule on the layer's own number
            return {"loss": np.mean(info.loss)}
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            history = fit(model, mse, SGD(model.parameters(), lr=0.05), X, y, epochs=6, quiet=True, record=anneal,
                          eager=eager)
        trained.append((model.parameters()[0].data.copy(), history["loss"]))
    assert np.array_equal(trained[0][0], trained[1][0]) and np.array_equal(trained[0][1], trained[1][1])
    model = nn.Sequential(nn.Linear(3, 2), _Scale(0.5))
    step = am.trace(lambda w: (model(am.Tensor(X)) ** 2).sum() + (w ** 2).sum(), [model.parameters()[0]])
    model.layers[1].s = 0.25
    with pytest.raises(DeriveError, match=r"'model\..*s'.*assigned another value"):
        step()
