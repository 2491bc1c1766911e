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


def test_float_power_of_float32_is_float64_as_numpys_and_the_gradient_stays_float32():
    x = np.array([0.5, 1.5, 2.5], dtype=np.float32)
    t = am.Tensor(x, requires_grad=True)
    y = np.float_power(t, 3)
    assert y.dtype == np.float_power(x, 3).dtype == np.float64
    np.testing.assert_array_equal(y.numpy(), np.float_power(x, 3))  # computed in float64, not rounded to float32
    y.sum().backward()
    assert t.grad.dtype == np.float32
    np.testing.assert_allclose(t.grad, 3 * x.astype(np.float64) ** 2, rtol=1e-7)
    e = am.Tensor(np.array([1.0, 2.0, 0.5], dtype=np.float32), requires_grad=True)
    assert np.float_power(t, e).dtype == np.float64
