"""Issue: the Hessian of document 001's error predicts the largest learning rate at which the
document's own rule converges. The rule X·(P−GT) is the gradient of ½(P−GT)², so the curvature that
matters is that of ½E; gradient descent on a quadratic converges iff lr < 2 / λ_max."""
import numpy as np
import pytest

import autograd_mini as am
from models import doc001


def largest_stable_rate(frozen: bool) -> float:
    X, GT = doc001.X_three, 1.0
    H = am.hessian(lambda W: 0.5 * (am.Tensor(X).dot(W) - GT) ** 2)(np.array([0.1, 0.2, -0.1]))
    np.testing.assert_allclose(H, np.outer(X, X), rtol=1e-14)  # closed form of ½(X·W − GT)²
    free = H[1:, 1:] if frozen else H
    return 2 / np.linalg.eigvalsh(free).max()


@pytest.mark.parametrize("name,frozen,expected", [("plain", False, 2 / 74.1125), ("frozen", True, 2 / 1.8625)])
def test_rule_converges_just_below_and_diverges_just_above(name, frozen, expected):
    rate = largest_stable_rate(frozen)
    assert rate == pytest.approx(expected, rel=1e-12)
    below = doc001.error_optimization(**(doc001.SETUPS[name] | {"alpha": 0.98 * rate, "epochs": 2000}), grad="document")
    above = doc001.error_optimization(**(doc001.SETUPS[name] | {"alpha": 1.02 * rate, "epochs": 2000}), grad="document")
    assert np.sum(below["E"][-1]) < 1e-20
    assert np.sum(above["E"][-1]) > 1e20
