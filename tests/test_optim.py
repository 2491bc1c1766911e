"""Optimizers at the edges: every bad hyper-parameter, mask or parameter list is refused by name,
and per-member learning-rate arrays (batched sweeps) keep working."""
from __future__ import annotations

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_mini as am
from autograd_mini import nn
from autograd_mini.optim import SGD, Adam

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")  # NumPy overflow, 0/0, ...: errors here

FAST = settings(max_examples=60, deadline=None)
NON_FINITE = st.sampled_from([float("nan"), float("inf"), float("-inf")])
NEGATIVE = st.floats(max_value=-1e-300, allow_nan=False, allow_infinity=False)
AT_LEAST_ONE = st.floats(min_value=1.0, allow_nan=False, allow_infinity=False)


def make(kind, param, **hyper):
    return SGD([param], lr=hyper.pop("lr", 0.1), **hyper) if kind == "SGD" else Adam([param], **hyper)


# (optimizer, argument, how to pass a bad value): each is checked in __init__ and on later assignment
BAD = {
    ("SGD", "lr"): st.one_of(NON_FINITE, NEGATIVE),
    ("Adam", "lr"): st.one_of(NON_FINITE, NEGATIVE),
    ("SGD", "momentum"): st.one_of(NON_FINITE, NEGATIVE, AT_LEAST_ONE),
    ("Adam", "eps"): st.one_of(NON_FINITE, NEGATIVE, st.just(0.0)),
}


@FAST
@given(data=st.data(), which=st.sampled_from(sorted(BAD)), later=st.booleans())
def test_optimizers_reject_every_non_finite_or_out_of_range_hyper_parameter(data, which, later):
    kind, argument = which
    bad = data.draw(BAD[which])
    p = nn.Parameter(np.ones(3), name="w")
    if later:
        optimizer = make(kind, p)
        before = getattr(optimizer, argument)
        with pytest.raises(ValueError) as caught:
            setattr(optimizer, argument, bad)
        assert getattr(optimizer, argument) == before  # the old value stays
    else:
        with pytest.raises(ValueError) as caught:
            make(kind, p, **{argument: bad})
    message = str(caught.value)
    assert message.startswith(f"{kind}: {argument} must be") and str(float(bad)) in message


@FAST
@given(data=st.data(), which=st.integers(0, 1), later=st.booleans())
def test_adam_rejects_every_beta_outside_zero_one(data, which, later):
    bad = data.draw(st.one_of(NON_FINITE, NEGATIVE, AT_LEAST_ONE))
    betas = [0.9, 0.999]
    betas[which] = bad
    p = nn.Parameter(np.ones(3))
    with pytest.raises(ValueError, match=rf"Adam: betas\[{which}\] must be in \[0, 1\), got"):
        if later:
            Adam([p]).betas = tuple(betas)
        else:
            Adam([p], betas=tuple(betas))


@FAST
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), data=st.data(),
       optimizer=st.sampled_from(["SGD", "Adam"]))
def test_every_entry_of_a_learning_rate_array_is_checked(shape, data, optimizer):
    rates = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(1e-4, 10.0)))
    index = data.draw(st.tuples(*[st.integers(0, n - 1) for n in shape]))
    p = nn.Parameter(np.ones(shape))
    make(optimizer, p, lr=rates)  # a good array is accepted
    rates[index] = data.draw(st.one_of(NON_FINITE, NEGATIVE))
    with pytest.raises(ValueError, match=rf"{optimizer}: lr must be a finite number >= 0, got .* at entry "
                                         rf"{index}".replace("(", r"\(").replace(")", r"\)")):
        make(optimizer, p, lr=rates)


def test_per_member_learning_rates_still_train_each_member_at_its_rate():
    rates = np.array([0.1, 0.0, 2.0])[:, None, None]  # (members, 1, 1) against weights (members, in, out)
    w = nn.Parameter(np.ones((3, 2, 2)))
    optimizer = SGD([w], lr=rates)
    w.grad = np.ones((3, 2, 2))
    optimizer.step()
    np.testing.assert_array_equal(w.data[:, 0, 0], [0.9, 1.0, -1.0])


def test_a_learning_rate_that_would_change_a_parameters_shape_is_refused():
    w, b = nn.Parameter(np.ones((3, 2, 2)), name="w"), nn.Parameter(np.ones(2), name="b")
    with pytest.raises(am.ShapeError, match=r"SGD: lr has shape \(3, 1, 1\).*'b' \(shape \(2,\)\)"):
        SGD([w, b], lr=np.ones((3, 1, 1)))


@pytest.mark.parametrize("value", ["fast", True, None, 1j])
def test_a_learning_rate_that_is_not_a_real_number_is_refused(value):
    with pytest.raises(TypeError, match="SGD: lr must be a real number"):
        SGD([nn.Parameter([1.0])], lr=value)


def test_zero_rates_and_boundary_decays_are_accepted():
    p = nn.Parameter([1.0])
    SGD([p], lr=0.0, momentum=0.0)
    Adam([p], lr=0.0, betas=(0.0, 0.0), eps=1e-300)


@pytest.mark.parametrize("mask", [[0.5, 1.0], [0.0, 1.0], [2, 0], [-1, 1]])
def test_frozen_mask_must_be_boolean_or_zero_one_integers(mask):
    p = nn.Parameter([1.0, 2.0], name="w")
    with pytest.raises(ValueError, match=r"SGD: frozen mask for parameter 'w' .* must be boolean \(or integers 0/1\)"):
        SGD([p], lr=0.1, frozen={p: np.array(mask)})


@pytest.mark.parametrize("mask", [[True, False], [1, 0], np.array([1, 0], dtype=np.uint8)])
def test_frozen_boolean_and_zero_one_masks_keep_their_entries(mask):
    p = nn.Parameter([1.0, 2.0])
    optimizer = SGD([p], lr=0.5, frozen={p: mask})
    p.grad = np.ones(2)
    optimizer.step()
    np.testing.assert_array_equal(p.data, [1.0, 1.5])


@pytest.mark.parametrize("kind", [SGD, Adam])
def test_a_mask_for_a_parameter_the_optimizer_does_not_hold_is_refused(kind):
    held, other = nn.Parameter([1.0, 2.0]), nn.Parameter([1.0, 2.0])
    with pytest.raises(ValueError, match=rf"{kind.__name__}: frozen mask given for a Parameter of shape \(2,\) "
                                         r"that is not one of this optimizer's parameters"):
        kind([held], lr=0.1, frozen={other: [True, False]})


@pytest.mark.parametrize("kind", [SGD, Adam])
def test_the_same_parameter_twice_is_refused(kind):
    p, q = nn.Parameter([1.0], name="w"), nn.Parameter([2.0])
    with pytest.raises(ValueError, match=rf"{kind.__name__}: parameter 'w' \(shape \(1,\)\) is given twice "
                                         r"\(positions 0 and 1\)"):
        kind([p, p], lr=0.1)
    named = {"first": q, "second": q}  # one tensor under two names
    with pytest.raises(ValueError, match=r"given twice \(positions 0 and 1\)"):
        kind(named.values(), lr=0.1)


def test_a_non_tensor_parameter_is_refused_by_position():
    with pytest.raises(TypeError, match=r"SGD: parameter #1 is a str, expected a Tensor"):
        SGD([nn.Parameter([1.0]), "w"], lr=0.1)


@pytest.mark.parametrize("kind", [SGD, Adam])
def test_an_optimizer_step_counts_as_a_write_for_backward(kind):
    """Steps write through `.data`: a graph recorded before a step refuses to give stale gradients."""
    w = nn.Parameter([1.0, 2.0], name="w")
    optimizer = kind([w], lr=0.1)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    optimizer.step()
    with pytest.raises(am.GraphError, match="'w'.*modified after it was used"):
        loss.backward()


@pytest.mark.parametrize("name, value, message", [("alpha", 1.0, r"in \[0, 1\)"), ("eps", 0.0, "> 0"),
                                                  ("lr", -0.1, ">= 0")])
def test_rmsprop_refuses_bad_settings_naming_them(name, value, message):
    from autograd_mini.optim import RMSprop
    with pytest.raises(ValueError, match=rf"RMSprop: {name} must be .*{message}"):
        RMSprop([nn.Parameter([1.0])], **{name: value})
