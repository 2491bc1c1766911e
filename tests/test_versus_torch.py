"""Conventions cross-checked against PyTorch where it has the op (skipped without torch). In a module
of its own, sorted after the others: importing torch adds objects that warn when inspected, which
tests counting live objects with gc.get_objects() would trip over."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_mini as am

pytestmark = pytest.mark.filterwarnings("error")


def test_kinks_agree_with_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch is the reference for the conventions at kinks")
    values = np.array([-1.0, 0.0, 0.0, 2.0, 3.0])
    other = np.array([0.0, 0.0, 1.0, 2.0, -1.0])
    cases = {"relu": (lambda a, b: a.relu(), lambda a, b: torch.relu(a)),
             "abs": (lambda a, b: a.abs(), lambda a, b: torch.abs(a)),
             "maximum": (am.maximum, torch.maximum), "minimum": (am.minimum, torch.minimum)}
    for name, (ours, theirs) in cases.items():
        x, y = am.Tensor(values, requires_grad=True), am.Tensor(other, requires_grad=True)
        ours(x, y).sum().backward()
        tx = torch.tensor(values, requires_grad=True)
        ty = torch.tensor(other, requires_grad=True)
        theirs(tx, ty).sum().backward()
        np.testing.assert_array_equal(x.grad, tx.grad.numpy(), err_msg=name)
        if ty.grad is not None:
            np.testing.assert_array_equal(y.grad, ty.grad.numpy(), err_msg=name)


def test_rmsprop_follows_torchs_rmsprop_step_for_step():
    torch = pytest.importorskip("torch", reason="PyTorch's RMSprop is the reference")
    from autograd_mini.optim import RMSprop
    rng = np.random.default_rng(3)
    start, target = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    w = am.nn.Parameter(start.copy())
    ours = RMSprop([w], lr=0.05, alpha=0.9, eps=1e-6)
    tw = torch.tensor(start.copy(), requires_grad=True)
    theirs = torch.optim.RMSprop([tw], lr=0.05, alpha=0.9, eps=1e-6)
    for _ in range(25):
        ours.zero_grad()
        ((w - target) ** 4).sum().backward()
        ours.step()
        theirs.zero_grad()
        ((tw - torch.tensor(target)) ** 4).sum().backward()
        theirs.step()
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-12, atol=1e-14)

