"""Cases in the spirit of the peers' own op tests (PyTorch's OpInfo samples, HIPS autograd's
test_numpy/test_linalg, mygrad's reductions and indexing, micrograd's and tinygrad's op tests), written
for our API: 0-d and empty shapes, broadcasting, keepdims, negative axes, integer and boolean inputs,
repeated indices in gathers and reductions with ties. Every case checks the forward against PyTorch,
the gradient of a weighted sum against PyTorch's and, where the function is smooth at the point,
against float64 central differences.

Conventions where the peers differ, decided here:
- max/min/amax/amin with ties split the gradient equally among the tied entries (torch.amax's, HIPS
  autograd's); torch.max(x, dim) instead gives all of it to one index, so it is not the reference.
- maximum/minimum of two equal entries give each 1/2 (torch.maximum's).
- sort keeps equal entries in their order (stable) and each gets its own gradient back.
- integer and boolean arrays become float64 Tensors (a Tensor holds floats, as HIPS autograd's boxes).
"""
from __future__ import annotations

import numpy as np
import pytest

import autograd_mini as am

torch = pytest.importorskip("torch")
rng = np.random.default_rng(2024)


def _t(a):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def check(ours, theirs, *arrays, fd=True, rtol=1e-10, atol=1e-12):
    """ours(*Tensors) against theirs(*torch tensors): the value, the gradient of a weighted sum and
    (fd) central differences of that weighted sum."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    mine = [am.Tensor(a, requires_grad=True) for a in arrays]
    reference = [_t(a) for a in arrays]
    out, expected = ours(*mine), theirs(*reference)
    assert out.shape == tuple(expected.shape), (out.shape, tuple(expected.shape))
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=rtol, atol=atol)
    weights = rng.standard_normal(out.shape)
    if any(t.requires_grad for t in reference) and expected.requires_grad:
        (out * weights).sum().backward()
        (expected * torch.tensor(weights)).sum().backward()
        for t, r in zip(mine, reference):
            want = np.zeros(t.shape) if r.grad is None else r.grad.numpy()
            got = np.zeros(t.shape) if t.grad is None else t.grad
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    if fd and all(a.size for a in arrays):
        am.gradcheck(lambda *ts: (ours(*ts) * weights).sum(), *arrays)


def normal(*shape):
    return rng.standard_normal(shape)


def away_from_ties(*shape):
    """Distinct entries, at least 0.1 apart (a smooth point for max, sort, abs, ...)."""
    count = int(np.prod(shape))
    values = rng.permutation(np.arange(count) * 0.1 + 0.05) - 0.1 * (count // 2)  # never 0 nor a whole number
    return values.reshape(shape)


# ---- reductions: axis None / int / negative / tuple, keepdims, 0-d and empty ------------------------

def _along(method, **fixed):
    """torch's x.<method>(dim=..., keepdim=...) with NumPy's axis=None meaning every axis."""
    return lambda x, axis=None, keepdims=False: getattr(x, method)(dim=_all(x, axis), keepdim=keepdims, **fixed)


REDUCTIONS = {
    "sum": (lambda x, **k: x.sum(**k), _along("sum")), "mean": (lambda x, **k: x.mean(**k), _along("mean")),
    "max": (lambda x, **k: x.max(**k), _along("amax")), "min": (lambda x, **k: x.min(**k), _along("amin")),
    "prod": (lambda x, **k: x.prod(**k), lambda x, axis=None, keepdims=False: _torch_prod(x, axis, keepdims)),
    "logsumexp": (lambda x, **k: am.logsumexp(x, **k), _along("logsumexp")),
    "var": (lambda x, **k: x.var(**k), _along("var", correction=0)),
    "std": (lambda x, **k: x.std(**k), _along("std", correction=0)),
    "norm": (lambda x, **k: am.norm(x, **k),
             lambda x, axis=None, keepdims=False: torch.linalg.vector_norm(x, dim=_all(x, axis), keepdim=keepdims)),
}


def _all(x, axis):
    return tuple(range(x.ndim)) if axis is None else axis


def _torch_prod(x, axis, keepdims):
    for a in sorted((a % x.ndim for a in _all(x, axis)) if not isinstance(axis, int) else [axis % x.ndim],
                    reverse=True):
        x = x.prod(dim=a, keepdim=keepdims)
    return x


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("shape, axis", [((3, 4), None), ((3, 4), 0), ((3, 4), -1), ((2, 3, 4), (0, -1)),
                                         ((2, 3, 4), -2), ((5,), 0), ((1, 4), 0)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_over_axes(name, shape, axis, keepdims):
    ours, theirs = REDUCTIONS[name]
    check(lambda x: ours(x, axis=axis, keepdims=keepdims), lambda x: theirs(x, axis=axis, keepdims=keepdims),
          away_from_ties(*shape) if name in ("max", "min") else normal(*shape))


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "prod", "logsumexp"])
def test_reductions_of_a_0d_tensor_are_the_value(name):
    ours, theirs = REDUCTIONS[name]
    check(lambda x: ours(x), lambda x: theirs(x), np.array(0.7))


@pytest.mark.parametrize("name, value", [("sum", 0.0), ("prod", 1.0), ("logsumexp", -np.inf)])
def test_reductions_of_an_empty_tensor_are_the_identity_with_an_empty_gradient(name, value):
    ours, _ = REDUCTIONS[name]
    x = am.Tensor(np.zeros((0, 3)), requires_grad=True)
    out = ours(x)
    assert out.item() == value
    out.backward()
    assert x.grad.shape == (0, 3)
    along = ours(x, axis=0)  # each column is empty: three identities
    np.testing.assert_array_equal(along.numpy(), np.full(3, value))


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_and_min_split_the_gradient_among_ties_as_torch_amax(name):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [0.0, -1.0, 5.0]])
    ours, theirs = REDUCTIONS[name]
    for axis in (None, 0, 1, -1):
        check(lambda t: ours(t, axis=axis), lambda t: theirs(t, axis=axis), x, fd=False)


def test_maximum_and_minimum_of_equal_entries_give_each_half():
    x, y = np.array([1.0, 2.0, -3.0]), np.array([1.0, 0.0, -3.0])
    check(am.maximum, torch.maximum, x, y, fd=False)
    check(am.minimum, torch.minimum, x, y, fd=False)


@pytest.mark.parametrize("zeros", [0, 1, 2])
def test_prod_with_zeros_has_the_exact_gradient(zeros):
    x = rng.uniform(0.5, 2.0, (3, 4))
    x.flat[[1, 6][:zeros]] = 0.0  # none, one zero, two zeros (in different rows, then one row with both)
    if zeros == 2:
        x[0, 3] = 0.0
    for axis in (None, 0, 1):
        check(lambda t: am.prod(t, axis=axis), lambda t: _torch_prod(t, axis, False), x)


def test_cumulative_sums_and_products_with_zeros_and_negative_axes():
    x = normal(3, 4)
    x[1, 2] = 0.0
    check(lambda t: am.cumsum(t, axis=-1), lambda t: torch.cumsum(t, dim=-1), x)
    check(lambda t: am.cumprod(t, axis=-2), lambda t: torch.cumprod(t, dim=-2), x)
    check(lambda t: am.cumsum(t), lambda t: torch.cumsum(t.reshape(-1), 0), x)


# ---- element-wise: 0-d, empty, broadcasting, integer and boolean operands ---------------------------

UNARY = {
    "exp": (am.exp, torch.exp, normal), "log": (am.log, torch.log, lambda *s: rng.uniform(0.5, 3, s)),
    "sqrt": (am.sqrt, torch.sqrt, lambda *s: rng.uniform(0.5, 3, s)), "sin": (am.sin, torch.sin, normal),
    "cos": (am.cos, torch.cos, normal), "tan": (am.tan, torch.tan, lambda *s: rng.uniform(-1, 1, s)),
    "tanh": (am.tanh, torch.tanh, normal), "sigmoid": (am.sigmoid, torch.sigmoid, normal),
    "relu": (am.relu, torch.relu, away_from_ties), "abs": (am.abs, torch.abs, away_from_ties),
    "arcsin": (am.arcsin, torch.asin, lambda *s: rng.uniform(-0.9, 0.9, s)),
    "arccos": (am.arccos, torch.acos, lambda *s: rng.uniform(-0.9, 0.9, s)),
    "arctan": (am.arctan, torch.atan, normal), "sinh": (am.sinh, torch.sinh, normal),
    "cosh": (am.cosh, torch.cosh, normal), "arcsinh": (am.arcsinh, torch.asinh, normal),
    "arccosh": (am.arccosh, torch.acosh, lambda *s: rng.uniform(1.5, 3, s)),
    "arctanh": (am.arctanh, torch.atanh, lambda *s: rng.uniform(-0.9, 0.9, s)),
    "log1p": (am.log1p, torch.log1p, lambda *s: rng.uniform(-0.5, 2, s)), "expm1": (am.expm1, torch.expm1, normal),
    "log2": (am.log2, torch.log2, lambda *s: rng.uniform(0.5, 3, s)),
    "log10": (am.log10, torch.log10, lambda *s: rng.uniform(0.5, 3, s)), "exp2": (am.exp2, torch.exp2, normal),
    "reciprocal": (am.reciprocal, torch.reciprocal, lambda *s: rng.uniform(0.5, 3, s)),
    "square": (am.square, torch.square, normal), "erf": (am.erf, torch.erf, normal),
    "softplus": (am.softplus, torch.nn.functional.softplus, normal),
    "logsigmoid": (am.logsigmoid, torch.nn.functional.logsigmoid, normal),
    "gelu": (am.gelu, torch.nn.functional.gelu, normal), "elu": (am.elu, torch.nn.functional.elu, away_from_ties),
    "leaky_relu": (am.leaky_relu, torch.nn.functional.leaky_relu, away_from_ties),
    "floor": (am.floor, torch.floor, away_from_ties), "ceil": (am.ceil, torch.ceil, away_from_ties),
    "trunc": (am.trunc, torch.trunc, away_from_ties), "neg": (am.neg, torch.neg, normal),
    "sign": (am.sign, torch.sign, away_from_ties),
    "silu": (am.silu, torch.nn.functional.silu, normal), "selu": (am.selu, torch.nn.functional.selu, away_from_ties),
    "celu": (lambda t: am.celu(t, 0.5), lambda t: torch.nn.functional.celu(t, 0.5), away_from_ties),
    "softsign": (am.softsign, torch.nn.functional.softsign, away_from_ties),
    "hardtanh": (am.hardtanh, torch.nn.functional.hardtanh, away_from_ties),
    "relu6": (lambda t: am.relu6(t * 9), lambda t: torch.nn.functional.relu6(t * 9), away_from_ties),
    # (torch's float64 hardsigmoid rounds like float32, 3e-8 off: relu6(x + 3) / 6 is its definition)
    "hardsigmoid": (lambda t: am.hardsigmoid(t * 5), lambda t: torch.nn.functional.relu6(t * 5 + 3) / 6,
                    away_from_ties),
    "hardswish": (lambda t: am.hardswish(t * 5), lambda t: torch.nn.functional.hardswish(t * 5), away_from_ties),
    "mish": (am.mish, torch.nn.functional.mish, normal),
}


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("shape", [(), (0,), (2, 0, 3), (4,), (2, 3)])
def test_unary_functions_on_0d_empty_and_nd(name, shape):
    ours, theirs, draw = UNARY[name]
    check(ours, theirs, draw(*shape), fd=name not in ("floor", "ceil", "trunc", "sign"))


BINARY = {
    "add": (lambda x, y: x + y, torch.add), "sub": (lambda x, y: x - y, torch.sub),
    "mul": (lambda x, y: x * y, torch.mul), "div": (lambda x, y: x / y, torch.div),
    "pow": (am.power, torch.pow), "maximum": (am.maximum, torch.maximum), "minimum": (am.minimum, torch.minimum),
    "arctan2": (am.arctan2, torch.atan2), "hypot": (am.hypot, torch.hypot),
    "logaddexp": (am.logaddexp, torch.logaddexp),
    "fmax": (am.fmax, torch.fmax), "fmin": (am.fmin, torch.fmin),
}


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("shapes", [((3, 1), (1, 4)), ((), (2, 3)), ((2, 3), ()), ((4,), (3, 4)), ((2, 1, 3), (4, 1)),
                                    ((0, 3), (1, 3)), ((), ())])
def test_binary_functions_broadcast_and_sum_the_gradient_back(name, shapes):
    ours, theirs = BINARY[name]
    x, y = rng.uniform(0.5, 2.0, shapes[0]), rng.uniform(0.5, 2.0, shapes[1])
    if name in ("maximum", "minimum", "fmax", "fmin"):
        x = x + 3.0 * (rng.random(x.shape) > 0.5)  # no ties (a tie is the next test's)
    check(ours, theirs, x, y)


def test_integer_and_boolean_inputs_become_float64_and_mix_with_tensors():
    ints, flags = np.arange(6).reshape(2, 3), np.array([[True, False, True], [False, False, True]])
    for values in (ints, flags):
        t = am.Tensor(values)
        assert t.dtype == np.float64
        np.testing.assert_array_equal(t.numpy(), values.astype(np.float64))
    w = normal(2, 3)
    check(lambda x: x * ints + flags - x / (ints + 1), lambda x: x * torch.tensor(ints) + torch.tensor(flags)
          - x / (torch.tensor(ints) + 1), w)
    check(lambda x: np.arange(3) + x, lambda x: torch.arange(3) + x, w)


def test_where_with_a_mask_from_booleans_or_a_comparison():
    x, y = normal(3, 4), normal(1, 4)
    mask = x > 0.2
    check(lambda a, b: am.where(mask, a, b), lambda a, b: torch.where(torch.tensor(mask), a, b), x, y)
    check(lambda a, b: am.where(a > b, a, b * 2), lambda a, b: torch.where(a > b, a, b * 2), x, y)


def test_clip_passes_the_gradient_at_its_bounds_as_torch_clamp():
    x = np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0])
    check(lambda t: am.clip(t, -1.0, 1.0), lambda t: torch.clamp(t, -1.0, 1.0), x, fd=False)


# ---- indexing and gathers: repeated indices add up ----------------------------------------------------

@pytest.mark.parametrize("index", [
    np.array([0, 0, 2, 0]),  # a repeated row, three times
    (np.array([0, 1, 1]), np.array([2, 2, 2])),  # one entry, three times, among others
    (slice(None), np.array([[3, 3], [0, 3]])),
    (Ellipsis, -1), (slice(None, None, 2), slice(1, None)), (None, 1, slice(None)), -2,
    np.array([[True, False, True, False], [False, False, False, False], [True, True, True, True]]),
])
def test_indexing_gathers_and_repeated_positions_add_up(index):
    x = normal(3, 4)

    def torch_index(i):
        if isinstance(i, tuple):
            return tuple(torch.tensor(p) if isinstance(p, np.ndarray) else p for p in i)
        return torch.tensor(i) if isinstance(i, np.ndarray) else i
    check(lambda t: t[index], lambda t: t[torch_index(index)], x)


def test_take_along_axis_with_repeated_positions():
    x, positions = normal(3, 4), np.array([[0, 0, 3], [2, 2, 2], [1, 3, 1]])
    check(lambda t: am.take_along_axis(t, positions, axis=-1),
          lambda t: torch.take_along_dim(t, torch.tensor(positions), dim=-1), x)


def test_index_add_with_repeated_indices_adds_each_copy():
    x, v = normal(4, 2), normal(3, 2)
    rows = np.array([1, 1, 3])
    check(lambda a, b: am.index_add(a, rows, b), lambda a, b: a.index_add(0, torch.tensor(rows), b), x, v)


def test_sort_with_ties_keeps_order_and_routes_each_gradient_back():
    x = np.array([[3.0, 1.0, 3.0, 2.0, 1.0], [0.0, 0.0, 0.0, -1.0, 5.0]])
    check(lambda t: am.sort(t, axis=-1), lambda t: torch.sort(t, dim=-1, stable=True).values, x, fd=False)
    check(lambda t: am.sort(t, axis=0), lambda t: torch.sort(t, dim=0, stable=True).values, x, fd=False)


# ---- shape and movement: negative axes, 0-d and empty -----------------------------------------------

@pytest.mark.parametrize("ours, theirs, shape", [
    (lambda t: t.reshape(-1, 2), lambda t: t.reshape(-1, 2), (3, 4)),
    (lambda t: t.reshape(()), lambda t: t.reshape(()), (1, 1)),
    (lambda t: t.reshape(0, 5), lambda t: t.reshape(0, 5), (2, 0)),
    (lambda t: t.transpose(-1, 0, 1), lambda t: t.permute(-1, 0, 1), (2, 3, 4)),
    (lambda t: t.swapaxes(-1, -3), lambda t: t.swapaxes(-1, -3), (2, 3, 4)),
    (lambda t: am.moveaxis(t, -1, 0), lambda t: torch.movedim(t, -1, 0), (2, 3, 4)),
    (lambda t: am.squeeze(t, -2), lambda t: t.squeeze(-2), (3, 1, 2)),
    (lambda t: am.expand_dims(t, -1), lambda t: t.unsqueeze(-1), (3, 2)),
    (lambda t: am.flip(t, -1), lambda t: t.flip(-1), (3, 4)),
    (lambda t: am.roll(t, -5, axis=-1), lambda t: t.roll(-5, -1), (3, 4)),
    (lambda t: am.roll(t, 2), lambda t: t.roll(2), (3, 4)),
    (lambda t: am.repeat(t, 3, axis=-1), lambda t: t.repeat_interleave(3, dim=-1), (2, 3)),
    (lambda t: am.tile(t, (2, 1, 3)), lambda t: t.tile((2, 1, 3)), (2, 3)),
    (lambda t: am.broadcast_to(t, (2, 3, 4)), lambda t: t.expand(2, 3, 4), (3, 1)),
    (lambda t: am.diagonal(t, -1), lambda t: torch.diagonal(t, -1), (4, 3)),
    (lambda t: am.diff(t, n=2, axis=-1), lambda t: torch.diff(t, n=2, dim=-1), (3, 5)),
    (lambda t: am.triu(t, 1), lambda t: torch.triu(t, 1), (4, 4)),
    (lambda t: am.tril(t, -1), lambda t: torch.tril(t, -1), (2, 4, 4)),
    (lambda t: am.pad(t, ((1, 2), (0, 1))), lambda t: torch.nn.functional.pad(t, (0, 1, 1, 2)), (2, 3)),
    (lambda t: am.pad(t, ((0, 0), (2, 2)), mode="reflect"),
     lambda t: torch.nn.functional.pad(t[None], (2, 2), mode="reflect")[0], (1, 5)),
    (lambda t: am.flip(t, 0)[::2], lambda t: t.flip(0)[::2], (5, 2)),  # a negative step (torch has none)
    (lambda t: t.ravel(), lambda t: t.reshape(-1), (2, 0, 3)),
])
def test_movement_ops(ours, theirs, shape):
    check(ours, theirs, normal(*shape))


def test_concatenate_stack_and_split_along_negative_axes():
    a, b = normal(2, 3), normal(2, 3)
    check(lambda x, y: am.concatenate([x, y], axis=-1), lambda x, y: torch.cat([x, y], dim=-1), a, b)
    check(lambda x, y: am.stack([x, y], axis=-1), lambda x, y: torch.stack([x, y], dim=-1), a, b)
    check(lambda x, y: am.concatenate([x, y, x], axis=-2), lambda x, y: torch.cat([x, y, x], dim=-2), a, b)
    check(lambda x, y: am.concatenate([x, y[:0]]), lambda x, y: torch.cat([x, y[:0]]), a, b)  # an empty part
    check(lambda x: am.split(x, [1, 2], axis=-1)[1] * 2 + am.split(x, 3, axis=-1)[0],
          lambda x: torch.tensor_split(x, [1, 2], dim=-1)[1] * 2 + torch.tensor_split(x, 3, dim=-1)[0], a)


# ---- softmax family ------------------------------------------------------------------------------------

@pytest.mark.parametrize("axis", [0, -1, 1])
def test_softmax_and_log_softmax_along_any_axis_and_at_large_logits(axis):
    x = normal(3, 4) * 50  # large spreads: exp would overflow unshifted
    check(lambda t: am.softmax(t, axis=axis), lambda t: torch.softmax(t, dim=axis), x, fd=False)
    check(lambda t: am.log_softmax(t, axis=axis), lambda t: torch.log_softmax(t, dim=axis), x, fd=False)
    check(lambda t: am.softmax(t, axis=axis), lambda t: torch.softmax(t, dim=axis), normal(3, 4))


# ---- products and linear algebra -------------------------------------------------------------------------

@pytest.mark.parametrize("shapes", [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)),
                                    ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 3)), ((2, 0), (0, 3)), ((0, 2), (2, 3))])
def test_matmul_with_1d_batched_and_empty_operands(shapes):
    check(lambda x, y: x @ y, torch.matmul, normal(*shapes[0]), normal(*shapes[1]))


@pytest.mark.parametrize("subscripts, shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ii->", [(3, 3)]), ("ii->i", [(3, 3)]), ("i,j->ij", [(2,), (3,)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("...ij,...jk", [(2, 3, 4), (4, 2)]), ("ij->", [(2, 3)]),
    ("ij,ij->i", [(2, 3), (2, 3)]), ("iji->j", [(2, 3, 2)]),
])
def test_einsum_spellings(subscripts, shapes):
    arrays = [normal(*s) for s in shapes]
    check(lambda *ts: am.einsum(subscripts, *ts), lambda *ts: torch.einsum(subscripts, *ts), *arrays)


def test_tensordot_inner_outer_and_dot():
    check(lambda x, y: am.tensordot(x, y, axes=([1, 0], [0, 1])),
          lambda x, y: torch.tensordot(x, y, dims=([1, 0], [0, 1])), normal(3, 4, 2), normal(4, 3, 5))
    check(am.inner, torch.inner, normal(2, 3), normal(4, 3))
    check(am.outer, torch.outer, normal(3), normal(4))
    check(am.dot, lambda x, y: x @ y, normal(2, 3), normal(3, 4))


def _well_conditioned(*shape):
    return normal(*shape) + 3 * np.eye(shape[-1])


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 3, 3), (2, 1, 2, 2)])
def test_inv_det_and_solve_batched(shape):
    a = _well_conditioned(*shape)
    check(am.inv, torch.linalg.inv, a, rtol=1e-9)
    check(am.det, torch.linalg.det, a, rtol=1e-9)
    b = normal(*shape[:-1], 2)
    check(am.solve, torch.linalg.solve, a, b, rtol=1e-9)
    check(lambda m, v: am.solve(m, v), lambda m, v: torch.linalg.solve(m, v), a[(0,) * (len(shape) - 2)],
          normal(shape[-1]), rtol=1e-9)


def test_norm_at_zero_has_the_zero_subgradient():
    check(lambda t: am.norm(t), lambda t: torch.linalg.vector_norm(t), np.zeros(3), fd=False)
    check(lambda t: am.norm(t, axis=-1), lambda t: torch.linalg.vector_norm(t, dim=-1),
          np.array([[0.0, 0.0], [3.0, 4.0]]), fd=False)


# ---- micrograd's and tinygrad's small scalar programs ---------------------------------------------------

def test_a_scalar_expression_with_reuse_matches_torch_in_first_and_second_order():
    def program(lib, a, b):
        c = a + b
        d = a * b + b ** 3
        c = c + c + 1
        c = c + 1 + c + (-a)
        d = d + d * 2 + (b + a).relu()
        d = d + 3 * d + (b - a).relu()
        e = c - d
        f = e ** 2
        g = f / 2.0
        return g + 10.0 / f
    check(lambda a, b: program(am, a, b), lambda a, b: program(torch, a, b), np.array(-4.0), np.array(2.0))
    x = am.Tensor(np.array(-4.0), requires_grad=True)
    (slope,) = am.autograd.grad([program(am, x, am.Tensor(2.0))], [x], create_graph=True)
    (curvature,) = am.autograd.grad([slope], [x])
    tx = _t(-4.0)
    (tslope,) = torch.autograd.grad(program(torch, tx, torch.tensor(2.0, dtype=torch.float64)), tx, create_graph=True)
    (tcurvature,) = torch.autograd.grad(tslope, tx)
    assert float(np.asarray(curvature)) == pytest.approx(tcurvature.item(), rel=1e-12)


# ---- HIPS autograd's wider NumPy surface --------------------------------------------------------------

@pytest.mark.parametrize("ours, theirs, shapes", [
    (lambda a: np.take(a, [0, 0, 2], axis=1), lambda a: a[:, [0, 0, 2]], [(3, 4)]),
    (lambda a: np.take(a, [[0, 5], [11, 0]]), lambda a: torch.take(a, torch.tensor([[0, 5], [11, 0]])), [(3, 4)]),
    (np.flipud, torch.flipud, [(3, 4)]), (np.fliplr, torch.fliplr, [(3, 4)]),
    (lambda a: np.rot90(a), lambda a: torch.rot90(a), [(3, 4)]),
    (lambda a: np.rot90(a, -1, (2, 0)), lambda a: torch.rot90(a, -1, (2, 0)), [(2, 3, 4)]),
    (lambda a: np.rot90(a, 2), lambda a: torch.rot90(a, 2), [(3, 4)]),
    (lambda a, b: np.cross(a, b), torch.linalg.cross, [(4, 3), (4, 3)]),
    (lambda a, b: np.cross(a, b, axis=0), lambda a, b: torch.linalg.cross(a, b, dim=0), [(3, 2), (3, 1)]),
    (np.kron, torch.kron, [(2, 3), (3, 2)]), (np.kron, torch.kron, [(3,), (2, 2)]),
    (lambda a, b: np.column_stack([a, b]), lambda a, b: torch.column_stack([a, b]), [(3,), (3, 2)]),
    (lambda a, b: np.dstack([a, b]), lambda a, b: torch.dstack([a, b]), [(3,), (3,)]),
    (lambda a, b: np.dstack([a, b]), lambda a, b: torch.dstack([a, b]), [(2, 3), (2, 3)]),
    (lambda a: np.median(a, axis=0), lambda a: torch.quantile(a, 0.5, dim=0), [(4, 3)]),  # an even count: the mean
    (lambda a: np.median(a, axis=-1, keepdims=True), lambda a: torch.quantile(a, 0.5, dim=-1, keepdim=True), [(4, 3)]),
    (np.median, lambda a: torch.quantile(a.reshape(-1), 0.5), [(3, 3)]),
    (lambda a: np.average(a, axis=1, weights=np.array([1.0, 2.0, 3.0])),
     lambda a: (a * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum(1) / 6.0, [(2, 3)]),
    (lambda a, w: np.average(a, weights=w), lambda a, w: (a * w).sum() / w.sum(), [(2, 3), (2, 3)]),
    (np.cbrt, lambda a: a.sign() * a.abs() ** (1 / 3), [(2, 3)]),
    (np.fabs, torch.abs, [(2, 3)]), (np.deg2rad, torch.deg2rad, [(2, 3)]), (np.rad2deg, torch.rad2deg, [(2, 3)]),
    (np.conjugate, torch.conj, [(2, 3)]), (np.real, torch.real, [(2, 3)]),
])
def test_more_of_numpys_surface_on_tensors(ours, theirs, shapes):
    arrays = [away_from_ties(*s) + (0.0 if k == 0 else 5.0) for k, s in enumerate(shapes)]
    check(ours, theirs, *arrays)
    assert isinstance(ours(*[am.Tensor(a) for a in arrays]), am.Tensor)


def test_average_returns_the_sum_of_weights_and_refuses_weights_of_another_shape():
    x = am.Tensor(normal(2, 3), requires_grad=True)
    mean, total = np.average(x, axis=0, weights=np.array([1.0, 3.0]), returned=True)
    np.testing.assert_array_equal(total.numpy(), [4.0, 4.0, 4.0])
    with pytest.raises(am.ShapeError, match=r"average: weights of shape \(4,\)"):
        am.average(x, axis=1, weights=np.ones(4))


def test_median_is_nan_where_its_axis_holds_a_nan_as_numpys():
    x = np.array([[1.0, np.nan, 3.0], [2.0, 2.0, -1.0]])
    np.testing.assert_array_equal(am.median(am.Tensor(x), axis=1).numpy(), np.median(x, axis=1))
    assert np.isnan(am.median(am.Tensor(x)).item()) and np.isnan(np.median(x))
    np.testing.assert_array_equal(am.pad(am.Tensor(x), 1, mode="median").numpy(), np.pad(x, 1, mode="median"))


@pytest.mark.parametrize("name", ["silu", "selu", "celu", "softsign", "hardtanh", "relu6", "hardsigmoid", "hardswish",
                                  "mish", "elu", "gelu", "softplus", "logsigmoid"])
def test_activations_at_their_kinks_and_far_out_are_torchs_in_first_and_second_order(name):
    ours, theirs, _ = UNARY[name]
    points = np.array([-1e300, -800.0, -6.0, -3.0, -1.0, -0.0, 0.0, 1.0, 3.0, 6.0, 800.0, 1e300])
    x, reference = am.Tensor(points, requires_grad=True), _t(points)
    with np.errstate(over="ignore", under="ignore"):
        (slope,) = am.autograd.grad([ours(x).sum()], [x], create_graph=True)
        curvature = am.autograd.grad([slope.sum()], [x], allow_unused=True)[0]
    (tslope,) = torch.autograd.grad(theirs(reference).sum(), reference, create_graph=True)
    tcurvature = torch.autograd.grad(tslope.sum(), reference)[0] if tslope.requires_grad else torch.zeros(12)
    np.testing.assert_allclose(slope.numpy(), tslope.detach().numpy(), rtol=1e-12, atol=1e-300)
    finite = np.isfinite(tcurvature.numpy())  # (torch's gelu'' is NaN at ±1e300; ours is the limit 0)
    mine = np.zeros(12) if curvature is None else np.asarray(curvature)
    np.testing.assert_allclose(mine[finite], tcurvature.numpy()[finite], rtol=1e-10, atol=1e-300)


@pytest.mark.parametrize("name", ["silu", "selu", "celu", "softsign", "hardtanh", "relu6", "hardsigmoid", "hardswish",
                                  "mish", "cbrt"])
def test_each_activation_is_also_a_method(name):
    x = am.Tensor(normal(3, 2) * 4, requires_grad=True)
    np.testing.assert_array_equal(getattr(x, name)().numpy(), getattr(am, name)(x).numpy())


def test_hardtanh_keeps_nan_and_rot90_refuses_bad_axes():
    x = am.Tensor(np.array([np.nan, -2.0, 0.5, np.inf]))
    np.testing.assert_array_equal(am.hardtanh(x).numpy(), torch.nn.functional.hardtanh(_t(x.numpy())).detach().numpy())
    np.testing.assert_array_equal(am.relu6(x).numpy(), torch.nn.functional.relu6(_t(x.numpy())).detach().numpy())
    with pytest.raises(am.ShapeError, match="two different axes"):
        am.rot90(am.Tensor(normal(2, 3)), axes=(0, 1, 1))
    with pytest.raises(am.ShapeError, match="two different axes"):
        am.rot90(am.Tensor(normal(2, 3)), axes=(1, -1))
