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
