"""Products: matmul, einsum, and the composites NumPy spells with them (dot, tensordot, inner, outer, cross,
kron).

Read each row as in every module of ops/: name, forward, `vjp(g, ans, *inputs, **params)`. An einsum
operand's gradient is the einsum of the output's gradient with the other operands.
"""
from __future__ import annotations

import string
from typing import Any, Sequence

import numpy as np

from ..errors import ShapeError
from ..tensor import Op, Tensor, per_input, unwrap
from ._helpers import _any_tensor, _as_tensor
from ._registry import register
from .elementwise import mul
from .shape import _broadcast_to, _scatter, _stack_last, moveaxis, reshape_op


def _explain_matmul(a: np.ndarray, b: np.ndarray) -> str:
    if a.ndim == 0 or b.ndim == 0:
        return "matmul needs at least 1-D operands; use mul (*) for scalars"
    inner_left = a.shape[-1]
    inner_right = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if inner_left != inner_right:
        return (f"inner dimensions differ: the last axis of the left operand ({inner_left}) must equal "
                f"the {'only' if b.ndim == 1 else 'second-to-last'} axis of the right operand ({inner_right})")
    return "batch dimensions cannot be broadcast"


def _matmul_vjp_x(g, ans, x, y):
    if x.ndim == 2 and y.ndim == 2:  # the common case, without the 1-D reshapes
        return g @ y.swapaxes(-1, -2)
    y2 = y.reshape(y.shape + (1,)) if y.ndim == 1 else y
    g = _matmul_lift_g(g, x, y)
    gx = g @ y2.swapaxes(-1, -2)
    return gx.reshape(gx.shape[:-2] + gx.shape[-1:]) if x.ndim == 1 else gx


def _matmul_vjp_y(g, ans, x, y):
    if x.ndim == 2 and y.ndim == 2:
        return x.swapaxes(-1, -2) @ g
    x2 = x.reshape((1,) + x.shape) if x.ndim == 1 else x
    g = _matmul_lift_g(g, x, y)
    gy = x2.swapaxes(-1, -2) @ g
    return gy.reshape(gy.shape[:-1]) if y.ndim == 1 else gy


def _matmul_lift_g(g, x, y):
    """g with the axes that 1-D operands lost put back as length-1 axes."""
    if x.ndim == 1:
        g = g.reshape(g.shape[:-1] + (1,) + g.shape[-1:]) if y.ndim > 1 else g.reshape(g.shape + (1,))
    if y.ndim == 1:
        g = g.reshape(g.shape + (1,))
    return g


_matmul_vjp = per_input(_matmul_vjp_x, _matmul_vjp_y)


matmul = Op("matmul", np.matmul, _matmul_vjp, lambda x, y: _explain_matmul(x, y))
register(matmul, np.matmul)


def _einsum(subscripts: str, *operands: Any) -> Any:
    if _any_tensor(*operands):
        return einsum_op(*operands, subscripts=subscripts)
    return np.einsum(subscripts, *operands)


_LETTERS = string.ascii_letters


def _parse_einsum(subscripts: str, shapes: Sequence[tuple]) -> tuple[list[str], str]:
    """Subscripts with every '...' spelled out as letters and the output made explicit (as NumPy's
    implicit mode: ellipsis axes first, then the letters used once, in ASCII order)."""
    text = subscripts.replace(" ", "")
    inputs, _, output = text.partition("->")
    specs = inputs.split(",")
    if len(specs) != len(shapes):
        raise ShapeError(f"einsum: '{subscripts}' names {len(specs)} operands but {len(shapes)} were given")
    unused = iter(c for c in _LETTERS if c not in text)
    width = max([len(shape) - (len(spec) - 3) for spec, shape in zip(specs, shapes) if "..." in spec] or [0])
    ellipsis = "".join(next(unused) for _ in range(width))
    spelled = [spec.replace("...", ellipsis[width - (len(shape) - len(spec) + 3):] if "..." in spec else "")
               for spec, shape in zip(specs, shapes)]
    if "->" in text:
        return spelled, output.replace("...", ellipsis)
    joined = "".join(spelled)
    once = sorted(c for c in set(joined) if joined.count(c) == 1 and c not in ellipsis)
    return spelled, ellipsis + "".join(once)


def _einsum_operand_grad(i: int, g: Any, xs: Sequence[Any], specs: list[str], output: str) -> Any:
    """d/d operand i: the einsum of g with the other operands, written to operand i's letters.
    A letter found only in operand i (summed there alone) is broadcast back afterwards; a letter
    repeated in operand i (a diagonal, 'ii') is computed once and scattered onto that diagonal."""
    spec, x = specs[i], xs[i]
    letters = "".join(dict.fromkeys(spec))  # each letter once, in order of first appearance
    operands = [(g, output)] + [(xs[j], specs[j]) for j in range(len(xs)) if j != i]
    available = "".join(s for _, s in operands)
    kept = "".join(c for c in letters if c in available)
    result = _einsum(",".join(s for _, s in operands) + "->" + kept, *[o for o, _ in operands])
    if kept != letters:
        lifted = tuple(result.shape[kept.index(c)] if c in kept else 1 for c in letters)
        result = _broadcast_to(result.reshape(lifted), tuple(n if c in kept else x.shape[spec.index(c)]
                                                           for n, c in zip(lifted, letters)))
    if letters != spec:
        grid = np.indices(result.shape, sparse=True)
        result = _scatter(result, tuple(grid[letters.index(c)] for c in spec), x.shape)
    return result


def _einsum_vjp(g, ans, *xs, subscripts):
    specs, output = _parse_einsum(subscripts, [x.shape for x in xs])
    return tuple(_einsum_operand_grad(i, g, xs, specs, output) for i in range(len(xs)))


def _explain_einsum(*xs: np.ndarray, subscripts: str, out: Any = None) -> str:
    terms = subscripts.partition("->")[0].count(",") + 1
    if terms != len(xs):
        return f"subscripts {subscripts!r} names {terms} operands but {len(xs)} were given"
    return (f"subscripts {subscripts!r} do not fit the operands: each operand needs one letter per axis "
            f"('...' for the rest), and a letter must have one length (or 1) everywhere")


einsum_op = Op("einsum", lambda *xs, subscripts, out=None: np.einsum(subscripts, *xs, out=out), _einsum_vjp,
               _explain_einsum)


def _einsum_arguments(arguments: tuple) -> tuple[str, list]:
    """einsum's two calling forms, ('ij,jk', a, b) and (a, [0, 1], b, [1, 2], [0, 2]), as a string."""
    if isinstance(arguments[0], str):
        return arguments[0], list(arguments[1:])

    def letters(sublist: Any) -> str:
        return "".join("..." if s is Ellipsis else _LETTERS[s] for s in sublist)
    operands, specs = list(arguments[0::2]), [letters(s) for s in arguments[1::2]]
    if len(arguments) % 2:
        operands.pop()
        return ",".join(specs) + "->" + letters(arguments[-1]), operands
    return ",".join(specs), operands


def einsum(*arguments: Any, optimize: Any = False) -> Tensor:
    """np.einsum with any subscripts NumPy accepts (ellipsis, implicit output, repeated letters);
    each operand's gradient is the einsum of the output's gradient with the other operands.
    `optimize` is accepted for NumPy's signature: it only chooses an order of contraction, and the
    result is the same sum (computed in NumPy's default order, which may differ in the last bits)."""
    if optimize not in (False, True, "greedy", "optimal") and not isinstance(optimize, (list, tuple)):
        raise ValueError(f"einsum: optimize={optimize!r}; NumPy takes False, True, 'greedy', 'optimal' or a path")
    subscripts, operands = _einsum_arguments(arguments)
    return einsum_op(*operands, subscripts=subscripts)
register(einsum, np.einsum)


def tensordot(x: Any, y: Any, axes: Any = 2) -> Tensor:
    """np.tensordot, as an einsum."""
    nx, ny = np.ndim(unwrap(x)), np.ndim(unwrap(y))
    if isinstance(axes, (int, np.integer)):
        pairs = (list(range(nx - axes, nx)), list(range(axes)))
    else:
        pairs = ([int(a) for a in np.atleast_1d(axes[0])], [int(a) for a in np.atleast_1d(axes[1])])
    if len(pairs[0]) != len(pairs[1]):
        raise ShapeError(f"tensordot: shapes {np.shape(unwrap(x))} and {np.shape(unwrap(y))}: axes {axes} "
                         f"must name as many axes of each operand")
    left = list(_LETTERS[:nx])
    right = list(_LETTERS[nx:nx + ny])
    for a, b in zip(*pairs):
        right[b % ny] = left[a % nx]
    summed = {left[a % nx] for a in pairs[0]}
    output = [c for c in left if c not in summed] + [c for c in right if c not in summed]
    return einsum_op(x, y, subscripts="".join(left) + "," + "".join(right) + "->" + "".join(output))
register(tensordot, np.tensordot)


def outer(x: Any, y: Any) -> Tensor:
    return mul(reshape_op(_as_tensor(x), shape=(-1, 1)), reshape_op(_as_tensor(y), shape=(1, -1)))
register(outer, np.outer)


def dot(x: Any, y: Any) -> Tensor:
    """np.dot: a product for 0-d operands, matmul for 1-D and 2-D, and for N-D the sum over the last
    axis of x and the second-to-last of y (the last, if y is 1-D)."""
    nx, ny = np.ndim(unwrap(x)), np.ndim(unwrap(y))
    if nx == 0 or ny == 0:
        return mul(x, y)
    if nx <= 2 and ny <= 2:
        return matmul(x, y)
    return tensordot(x, y, axes=([-1], [0 if ny == 1 else -2]))
register(dot, np.dot)


def inner(x: Any, y: Any) -> Tensor:
    """np.inner: the sum over the last axis of both (a product for 0-d operands)."""
    if np.ndim(unwrap(x)) == 0 or np.ndim(unwrap(y)) == 0:
        return mul(x, y)
    return tensordot(x, y, axes=([-1], [-1]))
register(inner, np.inner)


def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: int | None = None) -> Tensor:
    """np.cross of 3-vectors along the given axes (broadcast over the others), as products of components."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = moveaxis(_as_tensor(a), axisa, -1), moveaxis(_as_tensor(b), axisb, -1)
    if a.shape[-1] != 3 or b.shape[-1] != 3:
        raise ShapeError(f"cross: vectors of length {a.shape[-1]} and {b.shape[-1]}: only 3-vectors are supported "
                         f"(NumPy 2 deprecates the 2-vector form)")
    a0, a1, a2 = (a[..., i] for i in range(3))
    b0, b1, b2 = (b[..., i] for i in range(3))
    c = _stack_last([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0])
    return moveaxis(c, -1, axisc)
register(cross, np.cross)


def kron(a: Any, b: Any) -> Tensor:
    """np.kron: every product a[i] b[j] at position i * b.shape + j, as one broadcast product."""
    a, b = _as_tensor(a), _as_tensor(b)
    depth = max(a.ndim, b.ndim)
    a_shape, b_shape = (1,) * (depth - a.ndim) + a.shape, (1,) * (depth - b.ndim) + b.shape
    spread_a = reshape_op(a, shape=tuple(v for n in a_shape for v in (n, 1)))
    spread_b = reshape_op(b, shape=tuple(v for n in b_shape for v in (1, n)))
    return reshape_op(spread_a * spread_b, shape=tuple(n * m for n, m in zip(a_shape, b_shape)))
register(kron, np.kron)
