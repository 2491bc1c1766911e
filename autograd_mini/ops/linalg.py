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
from .shape import stack


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
def _adjugate_array(a: np.ndarray) -> np.ndarray:
    """adj(A) from the SVD A = U S V^T: adj(A) = det(V) V adj(S) U^T det(U), adj(S) the products of the
    other singular values; it exists at a singular A too, where det(A) A^-1 does not."""
    u, sv, vt = np.linalg.svd(a)
    n = sv.shape[-1]
    others = np.stack([np.prod(np.delete(sv, i, axis=-1), axis=-1) for i in range(n)], axis=-1) if n > 1 \
        else np.ones_like(sv)
    signs = (np.linalg.det(u) * np.linalg.det(vt))[..., None, None]
    return signs * (_mT(vt) * others[..., None, :]) @ _mT(u)


def _adjugate_tensor(a: Tensor) -> Tensor:
    """adj(A) as cofactors, each the det of a minor: differentiable again (second order), at singular A too."""
    n = a.shape[-1]
    if n == 1:
        return a * 0 + 1
    keep = [[j for j in range(n) if j != i] for i in range(n)]
    rows = [stack([(-1) ** (i + j) * det(a[..., keep[j], :][..., :, keep[i]]) for j in range(n)], axis=-1)
            for i in range(n)]
    return stack(rows, axis=-2)


_adjugate = _poly(_adjugate_array, _adjugate_tensor)


det = Op("det", np.linalg.det,  # d det(A) = tr(adj(A) dA): the gradient is adj(A)^T (det(A) A^-T where A is invertible)
         lambda g, ans, x: (g.reshape(ans.shape + (1, 1)) * _mT(_adjugate(x)),), _explain_square)
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


solve: Op = Op("solve", np.linalg.solve, per_input(_solve_vjp_a, _solve_vjp_b), lambda a, b: _explain_square(a))
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
