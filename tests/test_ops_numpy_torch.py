"""The ops of autograd_mini/ops/ beyond the first table against PyTorch in float64: values and gradients
agree to 1e-10.

Each case is one function written twice, with am and with torch, on the same random inputs (a few
shapes each, broadcasting where the op has two inputs); the gradient is of ⟨f(x), v⟩ for a random v.
Ties, zeros and the other special points are included where both libraries define them the same way.
"""
from __future__ import annotations

import numpy as np
import pytest

import autograd_mini as am

torch = pytest.importorskip("torch", reason="PyTorch is needed to compare values and gradients with it")

rng = np.random.default_rng(7)


def normal(*shape):
    return rng.standard_normal(shape)


def positive(*shape):
    return rng.uniform(0.2, 3.0, shape)


def inside(*shape):
    return rng.uniform(-0.9, 0.9, shape)


def with_ties(*shape):
    return rng.integers(-2, 3, shape).astype(np.float64)


def with_zeros(*shape):
    x = normal(*shape)
    x[rng.random(shape) < 0.3] = 0.0
    return x


T = torch
CASES = {
    "sqrt": (am.sqrt, T.sqrt, [positive(3, 4)]),
    "sin": (am.sin, T.sin, [normal(3, 4)]),
    "cos": (am.cos, T.cos, [normal(3, 4)]),
    "tan": (am.tan, T.tan, [inside(3, 4)]),
    "arcsin": (am.arcsin, T.arcsin, [inside(3, 4)]),
    "arccos": (am.arccos, T.arccos, [inside(3, 4)]),
    "arctan": (am.arctan, T.arctan, [normal(3, 4)]),
    "arcsinh": (am.arcsinh, T.arcsinh, [normal(3, 4)]),
    "sinh": (am.sinh, T.sinh, [normal(3, 4)]),
    "cosh": (am.cosh, T.cosh, [normal(3, 4)]),
    "log1p": (am.log1p, T.log1p, [inside(3, 4)]),
    "expm1": (am.expm1, T.expm1, [normal(3, 4)]),
    "log2": (am.log2, T.log2, [positive(3, 4)]),
    "exp2": (am.exp2, T.exp2, [normal(3, 4)]),
    "reciprocal": (am.reciprocal, T.reciprocal, [positive(3, 4)]),
    "erf": (am.erf, T.erf, [normal(3, 4)]),
    "sign": (lambda x: am.sign(x) * x, lambda x: T.sign(x) * x, [normal(3, 4)]),
    "gelu": (am.gelu, T.nn.functional.gelu, [normal(3, 4) * 3]),
    "gelu_tanh": (lambda x: am.gelu(x, approximate="tanh"),
                  lambda x: T.nn.functional.gelu(x, approximate="tanh"), [normal(3, 4) * 3]),
    "elu": (lambda x: am.elu(x, 0.7), lambda x: T.nn.functional.elu(x, 0.7), [normal(3, 4)]),
    "leaky_relu": (lambda x: am.leaky_relu(x, 0.1), lambda x: T.nn.functional.leaky_relu(x, 0.1), [normal(3, 4)]),
    "logsigmoid": (am.logsigmoid, T.nn.functional.logsigmoid, [np.array([-1000.0, -30.0, -1.0, 0.0, 2.0, 1000.0])]),
    "clip": (lambda x: am.clip(x, -0.5, 0.5), lambda x: T.clamp(x, -0.5, 0.5),
             [np.array([-1.0, -0.5, 0.0, 0.5, 0.7])]),
    "where": (lambda x, y: am.where(x.data > 0, x, y), lambda x, y: T.where(x > 0, x, y), [normal(3, 4), normal(4)]),
    "power": (lambda x, y: x ** y, lambda x, y: x ** y, [positive(3, 4), normal(3, 1)]),
    "power_at_0": (lambda x, y: x ** y, lambda x, y: x ** y, [np.array([0.0, 0.0, 0.0, 2.0]),
                                                             np.array([0.0, 1.0, 2.0, 0.0])]),
    "logaddexp": (am.logaddexp, T.logaddexp, [normal(3, 4) * 100, np.array([-1000.0, 0.0, 3.0, 1000.0])]),
    "logaddexp2": (am.logaddexp2, T.logaddexp2, [normal(3, 4) * 100, np.array([-1000.0, 0.0, 3.0, 1000.0])]),
    "max_ties": (lambda x: am.max(x, axis=1), lambda x: T.amax(x, dim=1), [with_ties(4, 5)]),
    "min_ties": (lambda x: am.min(x, axis=(0, 2), keepdims=True), lambda x: T.amin(x, dim=(0, 2), keepdim=True),
                 [with_ties(3, 2, 4)]),
    "prod_zeros": (lambda x: am.prod(x, axis=0), lambda x: T.prod(x, dim=0), [with_zeros(4, 6)]),
    "var": (lambda x: am.var(x, axis=1, ddof=1), lambda x: T.var(x, dim=1, correction=1), [normal(3, 5)]),
    "std": (lambda x: am.std(x, axis=0), lambda x: T.std(x, dim=0, correction=0), [normal(3, 5)]),
    "cumsum": (lambda x: am.cumsum(x, axis=1), lambda x: T.cumsum(x, dim=1), [normal(3, 5)]),
    "logsumexp": (lambda x: am.logsumexp(x, axis=1), lambda x: T.logsumexp(x, dim=1), [normal(3, 5) * 30]),
    "norm": (lambda x: am.norm(x, axis=1), lambda x: T.linalg.vector_norm(x, dim=1), [normal(3, 5)]),
    "norm_at_0": (lambda x: am.norm(x, axis=1), lambda x: T.linalg.vector_norm(x, dim=1),
                  [np.array([[0.0, 0.0], [3.0, 4.0]])]),
    "frobenius": (lambda x: am.norm(x), lambda x: T.linalg.matrix_norm(x), [normal(3, 5)]),
    "flip": (lambda x: am.flip(x, (0, 2)), lambda x: T.flip(x, (0, 2)), [normal(2, 3, 4)]),
    "roll": (lambda x: am.roll(x, (1, -2), (0, 1)), lambda x: T.roll(x, (1, -2), (0, 1)), [normal(3, 4)]),
    "pad": (lambda x: am.pad(x, ((1, 2), (0, 1))), lambda x: T.nn.functional.pad(x, (0, 1, 1, 2)), [normal(3, 4)]),
    "pad_reflect": (lambda x: am.pad(x, ((0, 0), (2, 1)), mode="reflect"),
                    lambda x: T.nn.functional.pad(x[None], (2, 1), mode="reflect")[0], [normal(3, 4)]),
    "repeat": (lambda x: am.repeat(x, 3, axis=1), lambda x: T.repeat_interleave(x, 3, dim=1), [normal(3, 4)]),
    "tile": (lambda x: am.tile(x, (2, 1, 3)), lambda x: T.tile(x, (2, 1, 3)), [normal(3, 4)]),
    "squeeze": (lambda x: am.squeeze(x, 1), lambda x: T.squeeze(x, 1), [normal(3, 1, 4)]),
    "unsqueeze": (lambda x: am.unsqueeze(x, -1), lambda x: T.unsqueeze(x, -1), [normal(3, 4)]),
    "moveaxis": (lambda x: am.moveaxis(x, 0, -1), lambda x: T.movedim(x, 0, -1), [normal(2, 3, 4)]),
    "outer": (am.outer, T.outer, [normal(3), normal(4)]),
    "tensordot": (lambda x, y: am.tensordot(x, y, 2), lambda x, y: T.tensordot(x, y, 2),
                  [normal(2, 3, 4), normal(3, 4, 5)]),
    "einsum": (lambda x, y: am.einsum("bij,bjk->bik", x, y), lambda x, y: T.einsum("bij,bjk->bik", x, y),
               [normal(2, 3, 4), normal(2, 4, 5)]),
    "einsum_diagonal": (lambda x: am.einsum("ii->i", x), lambda x: T.einsum("ii->i", x), [normal(4, 4)]),
    "einsum_ellipsis": (lambda x, y: am.einsum("...ij,jk", x, y), lambda x, y: T.einsum("...ij,jk", x, y),
                        [normal(2, 3, 4), normal(4, 5)]),
    "inv": (am.inv, T.linalg.inv, [normal(2, 3, 3) + 3 * np.eye(3)]),
    "det": (am.det, T.linalg.det, [normal(2, 3, 3) + 3 * np.eye(3)]),
    "solve": (am.solve, T.linalg.solve, [normal(3, 3) + 3 * np.eye(3), normal(3, 2)]),
    "solve_vector": (am.solve, T.linalg.solve, [normal(3, 3) + 3 * np.eye(3), normal(3)]),
    "sort": (lambda x: am.sort(x, axis=0), lambda x: T.sort(x, dim=0).values, [normal(4, 3)]),
    "take_along_argmax": (lambda x: am.take_along_axis(x, am.argmax(x, axis=1, keepdims=True), 1),
                          lambda x: T.take_along_dim(x, x.argmax(1, keepdim=True), 1), [normal(4, 3)]),
    "take_along_repeats": (lambda x: am.take_along_axis(x, np.array([[0, 0, 2], [1, 1, 1]]), 1),
                           lambda x: T.take_along_dim(x, T.tensor([[0, 0, 2], [1, 1, 1]]), 1), [normal(2, 3)]),
    "where_mask": (lambda x, y: am.where(x > y, x, y * y), lambda x, y: T.where(x > y, x, y * y),
                   [normal(3, 4), normal(4)]),
    "inner": (am.inner, T.inner, [normal(2, 3), normal(4, 3)]),
    "hstack": (lambda a, b: am.hstack([a, b]), lambda a, b: T.hstack([a, b]), [normal(3, 2), normal(3, 1)]),
    "vstack": (lambda a, b: am.vstack([a, b]), lambda a, b: T.vstack([a, b]), [normal(3), normal(2, 3)]),
    "triu": (lambda x: am.triu(x, 1), lambda x: T.triu(x, 1), [normal(2, 3, 4)]),
    "tril": (lambda x: am.tril(x, -1), lambda x: T.tril(x, -1), [normal(4, 3)]),
    "index_put": (lambda x, v: am.index_update(x, (slice(None), [0, 2]), v),
                  lambda x, v: x.index_put((T.arange(3)[:, None], T.tensor([0, 2])), v.expand(3, 2)),
                  [normal(3, 4), normal(1, 2)]),
    "log10": (am.log10, T.log10, [positive(3, 4)]),
    "arccosh": (am.arccosh, T.arccosh, [positive(3, 4) + 1]),
    "arctanh": (am.arctanh, T.arctanh, [inside(3, 4)]),
    "floor": (lambda x: am.floor(x) * x, lambda x: T.floor(x) * x, [normal(3, 4) * 3]),
    "ceil": (lambda x: am.ceil(x) * x, lambda x: T.ceil(x) * x, [normal(3, 4) * 3]),
    "trunc": (lambda x: am.trunc(x) * x, lambda x: T.trunc(x) * x, [normal(3, 4) * 3]),
    "round": (lambda x: am.round(x) * x, lambda x: T.round(x) * x, [normal(3, 4) * 3]),
    "mod": (am.mod, T.remainder, [normal(3, 4) * 3, positive(4) * np.array([1, -1, 1, -1])]),
    "fmod": (am.fmod, T.fmod, [normal(3, 4) * 3, positive(4) * np.array([1, -1, 1, -1])]),
    "arctan2": (am.arctan2, T.atan2, [normal(3, 4), normal(4)]),
    "hypot": (am.hypot, T.hypot, [normal(3, 4), normal(3, 1)]),
    "fmax": (am.fmax, T.fmax, [with_ties(3, 4), np.where(rng.random((3, 4)) < 0.3, np.nan, with_ties(3, 4))]),
    "fmin": (am.fmin, T.fmin, [np.where(rng.random((3, 4)) < 0.3, np.nan, with_ties(3, 4)), with_ties(4)]),
    "nansum": (lambda x: am.nansum(x, axis=0), lambda x: T.nansum(x, dim=0),
               [np.where(rng.random((3, 4)) < 0.3, np.nan, normal(3, 4))]),
    "nan_to_num": (lambda x: am.nan_to_num(x, nan=0.5, posinf=2.0, neginf=-2.0),
                   lambda x: T.nan_to_num(x, nan=0.5, posinf=2.0, neginf=-2.0),
                   [np.where(rng.random((3, 4)) < 0.4, np.array([np.nan, np.inf, -np.inf, 1.0]), normal(3, 4))]),
    "diagonal": (lambda x: am.diagonal(x, 1, 1, 2), lambda x: T.diagonal(x, 1, 1, 2), [normal(2, 3, 4)]),
    "diag": (lambda x: am.diag(x, -1), lambda x: T.diag(x, -1), [normal(3)]),
    "matrix_trace": (am.matrix_trace, T.trace, [normal(3, 4)]),
    "cumprod": (lambda x: am.cumprod(x, axis=1), lambda x: T.cumprod(x, dim=1), [with_zeros(3, 4)]),
    "diff": (lambda x: am.diff(x, n=2, axis=0), lambda x: T.diff(x, n=2, dim=0), [normal(4, 3)]),
    "atleast_3d": (am.atleast_3d, T.atleast_3d, [normal(3, 4)]),
    "index_add": (lambda x, v: am.index_add(x, [0, 0, 2], v), lambda x, v: x.index_add(0, T.tensor([0, 0, 2]), v),
                  [normal(3, 4), normal(3, 4)]),
}


@pytest.mark.parametrize("name", CASES)
def test_value_and_gradient_match_torch(name):
    ours, theirs, inputs = CASES[name]
    xs = [am.Tensor(x, requires_grad=True) for x in inputs]
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
    out, expected = ours(*xs), theirs(*ts)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-10)
    v = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(v)
    expected.backward(torch.tensor(v))
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("shapes", [((), (3,)), ((3,), ()), ((3,), (3,)), ((2, 3), (3,)), ((2, 3, 4), (4,)),
                                    ((2, 3, 4), (5, 4, 2)), ((3,), (2, 3, 4))])
def test_dot_follows_numpy_for_every_rank(shapes):
    """np.dot's value (NumPy) and the gradient (torch.tensordot over the same axes) for 0-d to 3-D."""
    a, b = normal(*shapes[0]), normal(*shapes[1])
    x, y = am.Tensor(a, requires_grad=True), am.Tensor(b, requires_grad=True)
    out = am.dot(x, y)
    np.testing.assert_allclose(out.data, np.dot(a, b), rtol=1e-12)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    if a.ndim == 0 or b.ndim == 0:
        expected = ta * tb
    else:
        expected = torch.tensordot(ta, tb, dims=([a.ndim - 1], [0 if b.ndim == 1 else b.ndim - 2]))
    v = rng.standard_normal(out.shape)
    out.backward(v)
    expected.backward(torch.tensor(v))
    np.testing.assert_allclose(x.grad, ta.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y.grad, tb.grad.numpy(), rtol=1e-10, atol=1e-12)
