"""The op registry (autograd_mini/ops/, one register(...) per op) against NumPy: regressions found by
its differential grid."""
from __future__ import annotations

import numpy as np

import autograd_mini as am


def test_python_abs_of_a_tensor_is_the_abs_op():
    x = am.Tensor([-1.5, 0.5, 2.0], requires_grad=True)
    y = abs(x)
    assert isinstance(y, am.Tensor) and y.op is not None and y.op.name == "abs"
    np.testing.assert_array_equal(y.numpy(), [1.5, 0.5, 2.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, 1.0, 1.0])
