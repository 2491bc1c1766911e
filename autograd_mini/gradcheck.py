"""Finite-difference checks of first and second derivatives (float64 central differences)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .errors import GradcheckError
from .tensor import Tensor, as_float_array, no_grad


@dataclass
class GradcheckResult:
    """The worst entry found: which input, where, the two derivatives and how far apart."""
    passed: bool
    input: int
    index: tuple
    analytic: float
    numeric: float
    relative_error: float
    checked: int

    def __str__(self) -> str:
        return (f"{'passed' if self.passed else 'FAILED'}: worst entry input {self.input} index {self.index}: "
                f"analytic {self.analytic:.10g}, numeric {self.numeric:.10g}, "
                f"relative error {self.relative_error:.3g} ({self.checked} entries checked)")


def _project(out: Tensor, cotangent: np.ndarray) -> float:
    return float(np.sum(out.data * cotangent))


def check_derivative(analytic: list[np.ndarray], value_of: Callable[[list[np.ndarray]], float],
                     points: list[np.ndarray], eps: float, atol: float, rtol: float) -> GradcheckResult:
    """Compare analytic d(value)/d(points) with central differences, entry by entry."""
    worst = GradcheckResult(True, -1, (), 0.0, 0.0, 0.0, 0)
    worst_excess = -np.inf
    for i, (x, a) in enumerate(zip(points, analytic)):
        for index in np.ndindex(x.shape):
            saved = x[index]
            x[index] = saved + eps
            plus = value_of(points)
            x[index] = saved - eps
            minus = value_of(points)
            x[index] = saved
            numeric = (plus - minus) / (2 * eps)
            err = abs(a[index] - numeric)
            excess = err - (atol + rtol * abs(numeric))
            worst.checked += 1
            if excess > worst_excess:
                worst_excess = excess
                rel = err / max(abs(a[index]), abs(numeric), 1e-300)
                worst = GradcheckResult(excess <= 0, i, index, float(a[index]), float(numeric), rel, worst.checked)
    worst.passed = worst_excess <= 0
    return worst


def gradcheck(f: Callable[..., Tensor], *inputs: Any, eps: float = 1e-6, atol: float = 1e-6,
              rtol: float = 1e-5, seed: int = 0, raise_exception: bool = True) -> GradcheckResult:
    """Check backward() of `f` against float64 central differences at `inputs`.

    For a non-scalar output the check is on ⟨f(x), v⟩ with a fixed random v, which tests the whole
    vector-Jacobian product. Raises GradcheckError naming the worst entry (or returns the result).
    """
    points = [as_float_array(x.data if isinstance(x, Tensor) else x).astype(np.float64) for x in inputs]
    leaves = [Tensor(p, requires_grad=True) for p in points]
    out = f(*leaves)
    cotangent = np.random.default_rng(seed).standard_normal(out.shape) if out.size != 1 else np.ones(out.shape)
    out.backward(cotangent)
    analytic = [leaf.grad if leaf.grad is not None else np.zeros_like(p) for leaf, p in zip(leaves, points)]

    def value_of(xs: list[np.ndarray]) -> float:
        with no_grad():
            return _project(f(*[Tensor(x) for x in xs]), cotangent)

    result = check_derivative(analytic, value_of, [p.copy() for p in points], eps, atol, rtol)
    if raise_exception and not result.passed:
        raise GradcheckError(f"gradcheck: {result}", result)
    return result


def gradgradcheck(f: Callable[..., Tensor], *inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-4, seed: int = 0, raise_exception: bool = True) -> GradcheckResult:
    """Check second derivatives: the gradient of ⟨grad f(x)·v, u⟩ (built with create_graph)
    against central differences of that first-order gradient."""
    from .derivatives import gradients as grad

    points = [as_float_array(x.data if isinstance(x, Tensor) else x).astype(np.float64) for x in inputs]
    rng = np.random.default_rng(seed)
    with no_grad():
        shape = f(*[Tensor(p) for p in points]).shape
    cotangent = rng.standard_normal(shape) if shape != () else np.ones(shape)
    directions = [rng.standard_normal(p.shape) for p in points]

    def first_order(xs: list[Tensor], create_graph: bool) -> Any:
        gs = grad(f(*xs), xs, grad_outputs=cotangent, create_graph=create_graph, allow_unused=True)
        total = 0.0
        for g, u in zip(gs, directions):
            if g is not None:
                total = total + (g * u).sum()
        return total

    leaves = [Tensor(p, requires_grad=True) for p in points]
    scalar = first_order(leaves, create_graph=True)
    if isinstance(scalar, Tensor) and scalar.requires_grad:
        second = grad(scalar, leaves, allow_unused=True)
        analytic = [np.zeros_like(p) if g is None else g.data for g, p in zip(second, points)]
    else:  # the gradient does not depend on the inputs: second derivatives are zero
        analytic = [np.zeros_like(p) for p in points]

    def value_of(xs: list[np.ndarray]) -> float:
        value = first_order([Tensor(x, requires_grad=True) for x in xs], create_graph=False)
        return float(value.data if isinstance(value, Tensor) else value)

    result = check_derivative(analytic, value_of, [p.copy() for p in points], eps, atol, rtol)
    if raise_exception and not result.passed:
        raise GradcheckError(f"gradgradcheck: {result}", result)
    return result
