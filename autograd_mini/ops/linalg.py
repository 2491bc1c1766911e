"""Linear algebra (square matrices, batched over leading axes) and norms: registered with `linalg=True`,
each is `am.linalg.<name>` (NumPy's spelling: np.linalg.inv(t) runs `inv`) and `am.<name>`.

Read each row as in every module of ops/: name, forward, `vjp(g, ans, *inputs, **params)`. norm's
gradient at 0 is 0 (the minimum-norm subgradient, as torch); its second derivative at 0 does not
exist and is not defined here.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Op, Tensor, per_input
from ._helpers import _as_tensor, _axes, _kept, _poly
from ._registry import register
from .compare import _is_zero
from .elementwise import abs
from .reductions import _reduce, max
from .shape import _getitem_poly, _scatter


def _mT(a: Any) -> Any:
    return a.swapaxes(-1, -2)


def _explain_square(*xs: np.ndarray, **_: Any) -> str:
    a = xs[0]
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        return "expected square matrices in the last two axes (..., n, n)"
    return "the matrix is singular (no inverse): its determinant is 0"


_inv = _poly(np.linalg.inv, lambda a: inv(a))
_solve = _poly(np.linalg.solve, lambda a, b: solve(a, b))


inv: Op = Op("inv", np.linalg.inv, lambda g, ans, x: (-(_mT(ans) @ g @ _mT(ans)),), _explain_square)
register(inv, np.linalg.inv, linalg=True)
def _cofactors_array(a: np.ndarray) -> np.ndarray:
    """The cofactor matrix adj(A)^T from the SVD A = U S V^T: adj(A) = det(V) V adj(S) U^T det(U), adj(S)
    the products of the other singular values; it exists at a singular A too, where det(A) A^-T does not.
    A matrix with a NaN or inf entry has NaN cofactors (torch's NaN gradient; its SVD would not converge)."""
    finite = np.isfinite(a).all(axis=(-2, -1))
    if not finite.all():
        cofactors = _cofactors_array(np.where(finite[..., None, None], a, 0.0))
        cofactors[~finite] = np.nan
        return cofactors
    u, sv, vt = np.linalg.svd(a)
    n = sv.shape[-1]
    others = np.stack([np.prod(np.delete(sv, i, axis=-1), axis=-1) for i in range(n)], axis=-1) if n > 1 \
        else np.ones_like(sv)
    signs = (np.linalg.det(u) * np.linalg.det(vt))[..., None, None]
    return _mT(signs * (_mT(vt) * others[..., None, :]) @ _mT(u))


def _minor_positions(n: int) -> tuple:
    """Index arrays of shape (n, n, n-1, n-1) that pick from an n x n matrix, for each (k, l), the minor
    without row k and column l; and the cofactor signs (-1)^(k + l)."""
    keep = np.array([[j for j in range(n) if j != i] for i in range(n)])
    rows = np.broadcast_to(keep[:, None, :, None], (n, n, n - 1, n - 1))
    cols = np.broadcast_to(keep[None, :, None, :], (n, n, n - 1, n - 1))
    return rows, cols, (-1.0) ** np.add.outer(np.arange(n), np.arange(n))


def _cofactors_vjp(g, ans, x):
    """Cofactor (k, l) is det(minor without row k, column l), so its gradient is that minor's cofactor
    matrix, put back in the minor's rows and columns: the same rule one size down, down to 1 x 1 (whose
    cofactor is the constant 1). No inverse is taken, so it holds at singular matrices too."""
    n = x.shape[-1]
    if n == 1:
        return (x * 0,)
    rows, cols, signs = _minor_positions(n)
    minors = _getitem_poly(x, (Ellipsis, rows, cols))  # (..., n, n, n-1, n-1)
    weighted = _cofactors(minors) * (g * signs.astype(x.dtype)).reshape(g.shape + (1, 1))
    return (_scatter(weighted, (Ellipsis, rows, cols), x.shape),)  # repeated positions add up


cofactors_op = Op("cofactors", _cofactors_array, _cofactors_vjp, _explain_square)  # det's gradient (not registered)
_cofactors = _poly(_cofactors_array, lambda a: cofactors_op(a))
# d det(A) = tr(adj(A) dA): the gradient is adj(A)^T, the cofactors (det(A) A^-T where A is invertible),
# one op so that an ordinary backward and a recorded one (create_graph, derived steps) compute the same bits
det = Op("det", np.linalg.det, lambda g, ans, x: (g.reshape(ans.shape + (1, 1)) * _cofactors(x),), _explain_square)
register(det, np.linalg.det, linalg=True)


def _solve_vjp_b(g, ans, a, b):
    if b.ndim == 1:  # a vector right-hand side: solve with it as one column
        return _solve(_mT(a), g.reshape(g.shape + (1,))).reshape(g.shape)
    return _solve(_mT(a), g)


def _solve_vjp_a(g, ans, a, b):
    gb = _solve_vjp_b(g, ans, a, b)  # x = A^-1 b: dA = -A^-T g x^T
    if b.ndim == 1:  # the outer product gb x^T, for each matrix of a stack a too (ans is then (..., n))
        return -(gb.reshape(gb.shape + (1,)) @ ans.reshape(ans.shape[:-1] + (1,) + ans.shape[-1:]))
    return -(gb @ _mT(ans))


def _explain_solve(a: np.ndarray, b: np.ndarray) -> str:
    """Which rule of solve(a, b) the operands break: a square, b a vector of n or (..., n, k), batches broadcast."""
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        return _explain_square(a)
    n = a.shape[-1]
    if b.ndim == 0 or b.shape[0 if b.ndim == 1 else -2] != n:
        batch_of_vectors = b.ndim > 1 and b.shape[-1] == n and b.shape[:-1] == a.shape[:-2]
        return (f"the right-hand side must be a vector of length {n} or a stack of columns (..., {n}, k) "
                f"to match the {n}x{n} matrices" + (" (NumPy's rule; for a batch of vectors, as torch reads "
                                                    "this shape, solve with b[..., None])" if batch_of_vectors else ""))
    if b.ndim > 1:
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            return (f"the batch axes {a.shape[:-2]} of the matrices and {b.shape[:-2]} of the right-hand side "
                    f"cannot be broadcast")
    return _explain_square(a)


solve: Op = Op("solve", np.linalg.solve, per_input(_solve_vjp_a, _solve_vjp_b), _explain_solve)
register(solve, np.linalg.solve, linalg=True)


def _norm(x: np.ndarray, axis: Any = None, keepdims: bool = False, out: np.ndarray | None = None) -> np.ndarray:
    squares = np.add.reduce(x * x, axis=axis, keepdims=keepdims)  # type: ignore[call-overload]  # (as max_op)
    return np.sqrt(squares, out=out)


def _norm_vjp(g, ans, x, axis=None, keepdims=False):
    safe = _kept(ans, x.shape, axis, keepdims)
    safe = safe + _is_zero(safe)  # x / |x|, and 0 where |x| = 0 (x is 0 there): no 0/0
    return (_kept(g, x.shape, axis, keepdims) * (x / safe),)


norm_op = Op("norm", _norm, _norm_vjp)  # the 2-norm of vectors, Frobenius of matrices


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A002
    """The 2-norm of vectors / Frobenius norm of matrices (ord None, 2 on a vector, or 'fro'), or
    ord 1 and inf on vectors. Gradient x/|x|, and 0 at x = 0 (the smallest subgradient, as torch)."""
    x = _as_tensor(x)
    reduced = len(_axes(axis, x.ndim))
    if ord is None or ord == "fro" and reduced == 2 or ord == 2 and reduced == 1:
        return _reduce(norm_op, x, axis, keepdims)
    if ord == 1 and reduced == 1:
        return abs(x).sum(axis=axis, keepdims=keepdims)
    if ord == np.inf and reduced == 1:
        return max(abs(x), axis=axis, keepdims=keepdims)
    raise ValueError(f"norm: ord={ord!r} over {reduced} axes of shape {x.shape} is not supported; "
                     f"use ord=None (2-norm / Frobenius), 1 or inf for vectors")
register(norm, np.linalg.norm, linalg=True)
