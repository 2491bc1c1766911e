import numpy as np

import autograd_mini as am


def test_two_layer_gradient_matches_hand_backprop():
    x = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
    y = np.array([[0], [1], [1], [0]], dtype=float)
    rng = np.random.default_rng(0)
    w0, w1 = rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, (4, 1))
    a, b = am.Tensor(w0, requires_grad=True), am.Tensor(w1, requires_grad=True)
    out = (am.Tensor(x) @ a).sigmoid() @ b
    loss = 0.5 * (out.sigmoid() - y).square().sum()
    loss.backward()
    h = 1 / (1 + np.exp(-x @ w0))
    p = 1 / (1 + np.exp(-h @ w1))
    d2 = (p - y) * p * (1 - p)
    d1 = d2 @ w1.T * h * (1 - h)
    np.testing.assert_allclose(b.grad, h.T @ d2, rtol=1e-13)
    np.testing.assert_allclose(a.grad, x.T @ d1, rtol=1e-13)
