"""The engine's ops at their edges: Python's abs, astype's copy, checkpoint with a repeated argument,
linear algebra at singular matrices and with bad shapes, element-wise functions at extreme inputs,
and writes into non-leaf tensors; each against float64 central differences or PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

import autograd_mini as am

rng = np.random.default_rng(11)


# ---- abs(t) ------------------------------------------------------------------------------------

def test_python_abs_records_the_abs_op():
    x = am.Tensor(np.array([-1.5, 0.0, 2.0]), requires_grad=True)
    y = abs(x)
    assert y.op_name == "abs"
    np.testing.assert_array_equal(y.numpy(), [1.5, 0.0, 2.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, 0.0, 1.0])  # torch's: sign(x), 0 at 0
