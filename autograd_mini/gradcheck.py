"""Finite-difference checks of first and second derivatives (float64 central differences).

A check never passes what it cannot verify: a NaN or inf in the function's value, in the analytic
derivative or in the numeric one is a failure that names the input and the entry.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .errors import GradcheckError
from .tensor import Tensor, as_float_array, no_grad, unwrap


@dataclass
class GradcheckResult:
    """The worst entry found: which input, where, the two derivatives and how far apart.
    `reason` says why a check failed when the numbers alone cannot (a non-finite value)."""
    passed: bool
    input: int
    index: tuple
    analytic: float
    numeric: float
    relative_error: float
    checked: int
    reason: str = ""

    def __str__(self) -> str:
        head = "passed" if self.passed else "FAILED"
        if self.reason:
            return f"{head}: {self.reason} ({self.checked} entries checked)"
        return (f"{head}: worst entry input {self.input} index {self.index}: "
                f"analytic {self.analytic:.10g}, numeric {self.numeric:.10g}, "
                f"relative error {self.relative_error:.3g} ({self.checked} entries checked)")


def _non_finite(input: int, index: tuple, analytic: float, numeric: float, checked: int,
                reason: str) -> GradcheckResult:
    return GradcheckResult(False, input, index, analytic, numeric, math.inf, checked,
                           f"{reason}; a check cannot verify what is not finite")


def _output(checker: str, f: Callable[..., Any], args: list[Tensor]) -> Tensor:
    """f(*args), refused unless it is a Tensor (an array or a float has no graph to differentiate)."""
    out = f(*args)
    if not isinstance(out, Tensor):
        kind = type(out).__qualname__
        kind = kind if type(out).__module__ == "builtins" else f"{type(out).__module__}.{kind}"
        shape = f" of shape {np.shape(out)}" if isinstance(out, np.ndarray) else ""
        raise TypeError(f"{checker}: f returned {kind}{shape}; expected an autograd_mini Tensor "
                        f"computed from its Tensor arguments with autograd_mini ops (not NumPy, not .data)")
    return out


def _value_failure(value: np.ndarray, where: str) -> GradcheckResult | None:
    """A failure naming the first non-finite entry of f's value, or None if it is finite."""
    bad = np.argwhere(~np.isfinite(value))
    if not len(bad):
        return None
    index = tuple(int(i) for i in bad[0])
    return _non_finite(-1, index, math.nan, math.nan, 0,
                       f"f's value {where} is {value[index]} at output index {index} "
                       f"({len(bad)} non-finite entr{'y' if len(bad) == 1 else 'ies'})")


def _analytic_failure(analytic: list[np.ndarray]) -> GradcheckResult | None:
    for i, a in enumerate(analytic):
        bad = np.argwhere(~np.isfinite(a))
        if len(bad):
            index = tuple(int(k) for k in bad[0])
            return _non_finite(i, index, float(a[index]), math.nan, 0,
                               f"the analytic derivative of input {i} is {a[index]} at index {index} "
                               f"({len(bad)} non-finite entr{'y' if len(bad) == 1 else 'ies'})")
    return None


def check_derivative(analytic: list[np.ndarray], value_of: Callable[[list[np.ndarray]], float],
                     points: list[np.ndarray], eps: float, atol: float, rtol: float) -> GradcheckResult:
    """Compare analytic d(value)/d(points) with central differences, entry by entry.
    A non-finite analytic or numeric entry fails at once, named."""
    failed = _analytic_failure(analytic)
    if failed is not None:
        return failed
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
            worst.checked += 1
            if not math.isfinite(numeric):
                return _non_finite(i, index, float(a[index]), numeric, worst.checked,
                                   f"the numeric derivative of input {i} is {numeric} at index {index} "
                                   f"(value {plus} at +eps, {minus} at -eps)")
            err = abs(a[index] - numeric)
            excess = err - (atol + rtol * abs(numeric))
            if excess > worst_excess:
                worst_excess = excess
                rel = err / max(abs(a[index]), abs(numeric), 1e-300)
                worst = GradcheckResult(excess <= 0, i, index, float(a[index]), float(numeric), rel, worst.checked)
    worst.passed = worst_excess <= 0
    return worst


def _points(checker: str, inputs: tuple, eps: float) -> list[np.ndarray]:
    if not (isinstance(eps, (int, float, np.floating)) and math.isfinite(eps) and eps > 0):
        raise ValueError(f"{checker}: eps must be a positive finite step, got {eps!r}")
    if not inputs:
        raise TypeError(f"{checker}: no inputs given; pass the point(s) to check f at")
    return [as_float_array(unwrap(x)).astype(np.float64) for x in inputs]


def _run(checker: str, check: Callable[[], GradcheckResult], raise_exception: bool) -> GradcheckResult:
    """Run a check with NumPy's floating-point warnings held back (np.errstate is per thread): a check
    that fails on a non-finite number names it itself; otherwise they are repeated, in the error's
    message or as a RuntimeWarning, so that a passing check never hides an overflow in f."""
    events: list[str] = []
    held: dict[str, Any] = {kind: "call" for kind, action in np.geterr().items() if action == "warn"}  # "raise" stays
    with np.errstate(**held, call=lambda kind, flag: events.append(kind)):
        result = check()
    noted = f"NumPy reported {', '.join(sorted(set(events)))} while evaluating f" if events else ""
    if raise_exception and not result.passed:
        raise GradcheckError(f"{checker}: {result}" + (f"; {noted}" if noted and not result.reason else ""), result)
    if noted and not result.reason:
        warnings.warn(f"{checker}: {noted}", RuntimeWarning, stacklevel=3)
    return result


def gradcheck(f: Callable[..., Tensor], *inputs: Any, eps: float = 1e-6, atol: float = 1e-6,
              rtol: float = 1e-5, seed: int = 0, raise_exception: bool = True) -> GradcheckResult:
    """Check backward() of `f` against float64 central differences at `inputs`.

    For a non-scalar output the check is on ⟨f(x), v⟩ with a fixed random v, which tests the whole
    vector-Jacobian product. Raises GradcheckError naming the worst entry (or returns the result).
    """
    points = _points("gradcheck", inputs, eps)
    return _run("gradcheck", lambda: _first_order(f, points, eps, atol, rtol, seed), raise_exception)


def _first_order(f: Callable[..., Tensor], points: list[np.ndarray], eps: float, atol: float, rtol: float,
                 seed: int) -> GradcheckResult:
    leaves = [Tensor(p, requires_grad=True) for p in points]
    out = _output("gradcheck", f, leaves)
    failed = _value_failure(out.data, "at the inputs")
    if failed is not None:
        return failed
    cotangent = np.random.default_rng(seed).standard_normal(out.shape) if out.size != 1 else np.ones(out.shape)
    if out.requires_grad:
        out.backward(cotangent)
    analytic = [leaf.grad if leaf.grad is not None else np.zeros_like(p) for leaf, p in zip(leaves, points)]

    def value_of(xs: list[np.ndarray]) -> float:
        with no_grad():
            return float(np.sum(_output("gradcheck", f, [Tensor(x) for x in xs]).data * cotangent))

    return check_derivative(analytic, value_of, [p.copy() for p in points], eps, atol, rtol)


def gradgradcheck(f: Callable[..., Tensor], *inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-4, seed: int = 0, raise_exception: bool = True) -> GradcheckResult:
    """Check second derivatives: the gradient of ⟨grad f(x)·v, u⟩ (built with create_graph)
    against central differences of that first-order gradient."""
    points = _points("gradgradcheck", inputs, eps)
    return _run("gradgradcheck", lambda: _second_order(f, points, eps, atol, rtol, seed), raise_exception)


def _second_order(f: Callable[..., Tensor], points: list[np.ndarray], eps: float, atol: float, rtol: float,
                  seed: int) -> GradcheckResult:
    from .transforms import gradients as grad

    rng = np.random.default_rng(seed)
    with no_grad():
        value = _output("gradgradcheck", f, [Tensor(p) for p in points]).data
    failed = _value_failure(value, "at the inputs")
    if failed is not None:
        return failed
    cotangent = rng.standard_normal(value.shape) if value.shape != () else np.ones(value.shape)
    directions = [rng.standard_normal(p.shape) for p in points]

    def first_order(xs: list[Tensor], create_graph: bool) -> Any:
        out = _output("gradgradcheck", f, xs)
        if not out.requires_grad:  # f does not depend on its inputs: every derivative is zero
            return 0.0
        gs = grad(out, xs, grad_outputs=cotangent, create_graph=create_graph, allow_unused=True)
        total: Any = 0.0  # a Tensor once a term is added
        for g, u in zip(gs, directions):
            if g is not None:
                total = total + (g * u).sum()
        return total

    leaves = [Tensor(p, requires_grad=True) for p in points]
    scalar = first_order(leaves, create_graph=True)
    failed = _value_failure(np.asarray(unwrap(scalar)),
                            "(its first derivative, projected) at the inputs")
    if failed is not None:
        return failed
    if isinstance(scalar, Tensor) and scalar.requires_grad:
        second = grad(scalar, leaves, allow_unused=True)
        analytic = [np.zeros_like(p) if g is None else g.data for g, p in zip(second, points)]
    else:  # the gradient does not depend on the inputs: second derivatives are zero
        analytic = [np.zeros_like(p) for p in points]

    def value_of(xs: list[np.ndarray]) -> float:
        value = first_order([Tensor(x, requires_grad=True) for x in xs], create_graph=False)
        return float(unwrap(value))

    return check_derivative(analytic, value_of, [p.copy() for p in points], eps, atol, rtol)
