"""Hypothesis strategies and settings the property tests share: values kept away from kinks and
overflow, small shapes (<= 3 axes, <= 4 per axis), broadcastable pairs and per-op cases.

Every strategy takes `max_side`, so the second-order tests draw smaller shapes from the same ones.
How many examples a property draws is `examples(n)`: n under the "thorough" profile, fewer under
the quick "dev" one (tests/conftest.py loads the profile that HYPOTHESIS_PROFILE names).
"""
from __future__ import annotations

import functools
import os

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")
if PROFILE not in ("dev", "ci", "thorough"):
    raise ValueError(f"HYPOTHESIS_PROFILE={PROFILE!r}: expected 'dev' (quick, the default), 'ci' (dev from a fixed "
                     "seed) or 'thorough'")


def examples(n: int) -> int:
    """A property's example count: all n under "thorough"; a fifth (at least 5) under "dev"."""
    return n if PROFILE == "thorough" else max(5, n // 5)


# (made before conftest loads the profile, so the fixed seed of "ci" is passed here by hand)
PROPERTY = settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    derandomize=PROFILE == "ci")
WIRING = settings(PROPERTY, max_examples=examples(50))  # the same op reached another way: fewer examples suffice
MAX_DIMS, MAX_SIDE = 3, 4

# ---- strategies ---------------------------------------------------------------------------------


def floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def away_from_zero(gap: float, hi: float = 3) -> st.SearchStrategy[float]:
    """Values in [-hi, -gap] or [gap, hi]: a finite difference (step 1e-6) never straddles the kink at 0."""
    return st.one_of(floats(gap, hi), floats(-hi, -gap))


MODERATE = floats(-3, 3)
NONZERO = away_from_zero(1e-3)  # relu and abs
DENOMINATOR = away_from_zero(0.5)
POSITIVE = st.one_of(floats(1e-3, 1.0), floats(1.0, 1e3))  # log's domain, small and large
WIDE = st.one_of(floats(-10, 10), floats(-1000, 1000))  # sigmoid/softplus: extremes must not overflow


def shapes(min_dims: int = 0, max_side: int = MAX_SIDE) -> st.SearchStrategy[tuple]:
    return hnp.array_shapes(min_dims=min_dims, max_dims=MAX_DIMS, min_side=1, max_side=max_side)


def arrays(shape: tuple, elements: st.SearchStrategy[float] = MODERATE) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, shape, elements=elements)


@st.composite
def array(draw, elements=MODERATE, min_dims: int = 0, max_side: int = MAX_SIDE) -> np.ndarray:
    return draw(arrays(draw(shapes(min_dims, max_side)), elements))


@st.composite
def broadcast_pair(draw, left=MODERATE, right=MODERATE, max_side: int = MAX_SIDE) -> tuple:
    """Two arrays of mutually broadcastable shapes: (3, 1) with (4,), () with (2, 2), ..."""
    sx, sy = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=MAX_DIMS, max_side=max_side)).input_shapes
    return draw(arrays(sx, left)), draw(arrays(sy, right))


@st.composite
def untied_pair(draw, max_side: int = MAX_SIDE) -> tuple:
    """A broadcastable pair whose entries never come within 0.025 of each other (maximum's kink):
    x lies in [k/4, k/4 + 0.1] and y in [j/4 + 0.125, j/4 + 0.225]."""
    x_grid = st.builds(lambda k, u: k / 4 + u, st.integers(-8, 8), floats(0, 0.1))
    y_grid = st.builds(lambda k, u: k / 4 + 0.125 + u, st.integers(-8, 8), floats(0, 0.1))
    return draw(broadcast_pair(x_grid, y_grid, max_side))


@st.composite
def matmul_pair(draw, max_batch_dims: int = 1, max_side: int = MAX_SIDE) -> tuple:
    """Operands for matmul: 1-D or 2-D, or batched with broadcast batch axes ((2, m, n) @ (1, n, p))."""
    shapes_ = draw(hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=max_batch_dims,
                                                     max_side=max_side)).input_shapes
    return tuple(draw(arrays(s, floats(-2, 2))) for s in shapes_)


@st.composite
def array_and_axis(draw, max_side: int = MAX_SIDE) -> tuple:
    """An array, a reduction axis (None, int, tuple; negative ones too; a list now and then) and keepdims."""
    x = draw(array(max_side=max_side))
    nd = x.ndim
    single = st.integers(-nd, nd - 1) if nd else st.none()
    axis = draw(st.one_of(st.none(), single, hnp.valid_tuple_axes(nd), hnp.valid_tuple_axes(nd).map(list)))
    return x, axis, draw(st.booleans())


@st.composite
def pow_case(draw, max_side: int = MAX_SIDE) -> tuple:
    """A constant exponent and a base in its domain: any real base (0 included) for a natural
    exponent, nonzero for a negative integer one, positive otherwise."""
    exponent = draw(st.one_of(st.sampled_from([0, 1, 2, 3, -1, -2, 0.5, -0.5, 1.5]), floats(-3, 3)))
    if float(exponent).is_integer() and exponent >= 0:
        elements = floats(-2, 2)
    elif float(exponent).is_integer():
        elements = away_from_zero(0.5, 2)
    else:
        elements = floats(0.5, 2)
    return draw(array(elements, max_side=max_side)), exponent


@functools.cache
def _factorizations(n: int, dims: int) -> tuple[tuple, ...]:
    """Every shape of `dims` axes whose sizes multiply to n."""
    if dims == 0:
        return ((),) if n == 1 else ()
    return tuple((d,) + rest for d in range(1, n + 1) if n % d == 0 for rest in _factorizations(n // d, dims - 1))


@st.composite
def reshape_case(draw, max_side: int = MAX_SIDE) -> tuple:
    """An array and a new shape of the same size (≤ 3 axes), one entry -1 now and then."""
    x = draw(array(max_side=max_side))
    shape = list(draw(st.sampled_from([s for d in range(MAX_DIMS + 1) for s in _factorizations(x.size, d)])))
    if shape and draw(st.booleans()):
        shape[draw(st.integers(0, len(shape) - 1))] = -1
    return x, tuple(shape)


@st.composite
def transpose_case(draw, max_side: int = MAX_SIDE) -> tuple:
    """An array and None or a permutation of its axes, each axis written positive or negative."""
    x = draw(array(max_side=max_side))
    if draw(st.booleans()):
        return x, None
    perm = draw(st.permutations(range(x.ndim)))
    return x, tuple(a - x.ndim if draw(st.booleans()) else a for a in perm)


@st.composite
def basic_index_case(draw, max_side: int = MAX_SIDE) -> tuple:
    """Ints (negative too), slices with any step, None and Ellipsis."""
    x = draw(array(max_side=max_side))
    return x, draw(hnp.basic_indices(x.shape, allow_newaxis=True, allow_ellipsis=True))


@st.composite
def fancy_index_case(draw, max_side: int = MAX_SIDE) -> tuple:
    """Integer arrays, with at least one index repeated, on every axis or on one axis after slices."""
    x = draw(array(min_dims=1, max_side=max_side))
    if draw(st.booleans()):
        index = draw(hnp.integer_array_indices(x.shape, result_shape=hnp.array_shapes(max_dims=2, max_side=4)))
        if index[0].size == 1:
            return x, tuple(np.append(i, i) for i in index)  # the one position, picked twice
        index = tuple(i.copy() for i in index)
        for i in index:
            i.flat[-1] = i.flat[0]  # the last pick repeats the first
        return x, index
    axis = draw(st.integers(0, x.ndim - 1))
    n = x.shape[axis]
    picks = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=5))
    return x, (slice(None),) * axis + (picks + picks[:1],)


@st.composite
def mask_case(draw, max_side: int = MAX_SIDE) -> tuple:
    """A boolean mask over the leading axes (all of them, or fewer)."""
    x = draw(array(min_dims=1, max_side=max_side))
    k = draw(st.integers(1, x.ndim))
    return x, draw(hnp.arrays(np.bool_, x.shape[:k]))


@st.composite
def concatenate_case(draw, max_side: int = MAX_SIDE) -> tuple:
    """One to three arrays agreeing on every axis but `axis` (negative axes too)."""
    shape = draw(shapes(min_dims=1, max_side=max_side))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        part = list(shape)
        part[axis] = draw(st.integers(1, max_side))
        parts.append(draw(arrays(tuple(part))))
    return parts, axis


@st.composite
def stack_case(draw, max_side: int = MAX_SIDE) -> tuple:
    shape = draw(shapes(max_side=max_side))
    parts = [draw(arrays(shape)) for _ in range(draw(st.integers(1, 3)))]
    return parts, draw(st.integers(-len(shape) - 1, len(shape)))


@st.composite
def softmax_case(draw, max_side: int = MAX_SIDE) -> tuple:
    x = draw(array(floats(-5, 5), min_dims=1, max_side=max_side))
    return x, draw(st.integers(-x.ndim, x.ndim - 1))


@st.composite
def broadcast_to_case(draw, max_side: int = MAX_SIDE) -> tuple:
    """A target shape and an array that broadcasts to it: a suffix of it with some sides set to 1."""
    target = draw(shapes(max_side=max_side))
    kept = target[len(target) - draw(st.integers(0, len(target))):]
    shape = tuple(1 if draw(st.booleans()) else n for n in kept)
    return draw(arrays(shape)), target


def numeric_jacobian(fn, x, eps=1e-6):
    """Central differences of a NumPy-to-NumPy function: shape out.shape + x.shape."""
    x = np.array(x, dtype=float)
    columns = []
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        columns.append((np.asarray(fn(plus)) - np.asarray(fn(minus))) / (2 * eps))
    out_shape = columns[0].shape
    return np.moveaxis(np.array(columns), 0, -1).reshape(out_shape + x.shape)
