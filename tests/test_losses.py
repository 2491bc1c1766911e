"""Losses at the edges: every argument gets its gradient (checked by finite differences and against
torch), bad targets are refused by name, and no pair of different shapes is ever broadcast."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_mini as am
from autograd_mini import losses

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")  # NumPy overflow, 0/0, ...: errors here

FAST = settings(max_examples=40, deadline=None)
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_differentiates_prediction_and_target(from_logits, reduction):
    """Both arguments against central differences (gradcheck perturbs each input in turn)."""
    rng = np.random.default_rng(3)
    prediction = rng.normal(size=(3, 2)) if from_logits else rng.uniform(0.05, 0.95, size=(3, 2))
    target = rng.uniform(0.05, 0.95, size=(3, 2))
    am.gradcheck(lambda p, t: losses.binary_cross_entropy(p, t, reduction=reduction, from_logits=from_logits),
                 prediction, target)


def test_binary_cross_entropy_target_gradient_is_the_hand_formula():
    """d/dt of -[t log p + (1-t) log(1-p)] is log(1-p) - log p, in every term."""
    p, t = np.array([0.2, 0.7, 0.9]), np.array([0.3, 0.9, 0.0])
    target = am.Tensor(t, requires_grad=True)
    losses.binary_cross_entropy(am.Tensor(p), target, reduction="sum").backward()
    np.testing.assert_allclose(target.grad, np.log(1 - p) - np.log(p), rtol=1e-10)


TORCH_BCE = """
import json, sys
import torch
f, out = torch.nn.functional, []
for p, t, from_logits in json.load(sys.stdin):
    p = torch.tensor(p, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(t, dtype=torch.float64, requires_grad=True)
    loss = (f.binary_cross_entropy_with_logits if from_logits else f.binary_cross_entropy)(p, t)
    loss.backward()
    out.append([loss.item(), p.grad.tolist(), t.grad.tolist()])
print(json.dumps(out))
"""


def test_binary_cross_entropy_matches_torch_in_value_and_both_gradients():
    """Both forms (probabilities, logits); torch runs in a child process: imported here, it would
    stay in the test process for good."""
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is the reference for binary cross-entropy")
    rng = np.random.default_rng(4)
    cases = [(rng.uniform(0.05, 0.95, size=(4, 3)), rng.uniform(0, 1, size=(4, 3)), False),
             (rng.normal(size=(4, 3)), rng.uniform(0, 1, size=(4, 3)), True)]
    child = subprocess.run([sys.executable, "-c", TORCH_BCE], capture_output=True, text=True, check=True,
                           input=json.dumps([[p.tolist(), t.tolist(), logits] for p, t, logits in cases]))
    for (p, t, from_logits), (torch_loss, torch_p_grad, torch_t_grad) in zip(cases, json.loads(child.stdout)):
        ours_p, ours_t = am.Tensor(p, requires_grad=True), am.Tensor(t, requires_grad=True)
        ours = losses.binary_cross_entropy(ours_p, ours_t, from_logits=from_logits)
        ours.backward()
        assert ours.item() == pytest.approx(torch_loss, rel=1e-9)
        np.testing.assert_allclose(ours_p.grad, torch_p_grad, rtol=1e-8)
        np.testing.assert_allclose(ours_t.grad, torch_t_grad, rtol=1e-8, atol=1e-12)


def test_cross_entropy_with_learned_probabilities_differentiates_both():
    rng = np.random.default_rng(5)
    probabilities = rng.dirichlet(np.ones(4), size=3)
    am.gradcheck(lambda z, q: losses.cross_entropy(z, q), rng.normal(size=(3, 4)), probabilities)


@pytest.mark.parametrize("target, error, words", [
    ([0, 2, -1], ValueError, "class index -1 at target position (2,) is out of range for 3 classes"),
    ([0, 0.7, 1], ValueError, "class index 0.7 at target position (1,) is not a whole number"),
    ([0, 3, 1], ValueError, "class index 3 at target position (1,) is out of range for 3 classes"),
    ([0, 1, float("nan")], ValueError, "class index nan"),
    ([0, 1], am.ShapeError, "the target has shape (2,)"),
    ([[0], [1], [2]], am.ShapeError, "the target has shape (3, 1)"),
    (np.ones((3, 4)), am.ShapeError, "the target has shape (3, 4)"),
    ([True, False, True], TypeError, "its dtype is bool"),
    (["a", "b", "c"], TypeError, "dtype is <U1"),
])
def test_cross_entropy_refuses_targets_that_name_no_class(target, error, words):
    logits = am.Tensor(np.zeros((3, 3)), requires_grad=True)
    with pytest.raises(error) as caught:
        losses.cross_entropy(logits, np.array(target) if not isinstance(target, np.ndarray) else target)
    message = str(caught.value)
    assert message.startswith("cross_entropy") and words in message and "(3, 3)" in message
    assert "expected class indices of shape (3,)" in message


def test_cross_entropy_keeps_every_supported_target_form():
    rng = np.random.default_rng(6)
    logits, classes = rng.normal(size=(5, 4)), np.array([0, 3, 1, 1, 2])
    expected = losses.cross_entropy(am.Tensor(logits), classes).item()
    for target in (classes.astype(np.int32), classes.astype(float), am.Tensor(classes), np.eye(4)[classes],
                   np.eye(4, dtype=bool)[classes], am.Tensor(np.eye(4)[classes])):
        assert losses.cross_entropy(am.Tensor(logits), target).item() == pytest.approx(expected, rel=1e-14)
    assert losses.cross_entropy(am.Tensor(logits[0]), 3).item() == pytest.approx(
        -(logits[0, 3] - np.log(np.exp(logits[0]).sum())), rel=1e-12)


def test_cross_entropy_refuses_scalar_logits():
    with pytest.raises(am.ShapeError, match=r"cross_entropy: logits have shape \(\)"):
        losses.cross_entropy(am.Tensor(1.0), 0)


@pytest.mark.parametrize("eps", [-1e-3, float("nan"), float("inf")])
def test_binary_cross_entropy_refuses_a_bad_eps(eps):
    with pytest.raises(ValueError, match="binary_cross_entropy: eps"):
        losses.binary_cross_entropy(am.Tensor([0.5]), [1.0], eps=eps)


def test_losses_refuse_a_bad_reduction_by_name():
    with pytest.raises(ValueError, match=r"mse: reduction must be .* got 'avg'"):
        losses.mse(am.Tensor([1.0]), [1.0], reduction="avg")


def test_losses_accept_array_predictions_and_still_return_tensors():
    assert isinstance(losses.mse(np.ones(3), np.zeros(3)), am.Tensor)


ELEMENTWISE = [losses.mse, losses.sse, losses.half_sse, losses.binary_cross_entropy,
               lambda p, t: losses.binary_cross_entropy(p, t, from_logits=True)]


@FAST
@given(prediction=SHAPES, target=SHAPES, which=st.sampled_from(range(len(ELEMENTWISE))),
       target_is_tensor=st.booleans())
def test_elementwise_losses_reject_every_mismatched_shape_pair(prediction, target, which, target_is_tensor):
    """Broadcastable or not, two different shapes are an error naming both."""
    if prediction == target:
        target = target + (2,)
    t = np.full(target, 0.5)
    with pytest.raises(am.ShapeError) as caught:
        ELEMENTWISE[which](am.Tensor(np.full(prediction, 0.5), requires_grad=True), am.Tensor(t) if target_is_tensor
                           else t)
    assert str(prediction) in str(caught.value) and str(target) in str(caught.value)


@FAST
@given(logits=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), target=SHAPES,
       integer=st.booleans())
def test_cross_entropy_rejects_every_target_shape_that_is_neither_indices_nor_probabilities(logits, target, integer):
    if target in (logits, logits[:-1]):
        target = target + (5,)
    t = np.zeros(target, dtype=int if integer else float)
    with pytest.raises(am.ShapeError) as caught:
        losses.cross_entropy(am.Tensor(np.zeros(logits), requires_grad=True), t)
    assert str(logits) in str(caught.value) and str(target) in str(caught.value)
