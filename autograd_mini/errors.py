"""Exceptions of autograd_mini, so callers can catch exactly what went wrong."""
import numpy as np


class AutogradMiniError(Exception):
    """Base class of every error this library raises on purpose."""


class ShapeError(AutogradMiniError, ValueError):
    """An op got inputs whose shapes break its rule (broadcasting, inner dimensions, ...)."""


class GraphError(AutogradMiniError, RuntimeError):
    """backward() was asked for something the recorded graph cannot give."""


class GradcheckError(AutogradMiniError, AssertionError):
    """Analytic and finite-difference derivatives disagree."""

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        self.result = result


class GraphvizMissingError(AutogradMiniError, RuntimeError):
    """Drawing an .svg/.png/.pdf needs Graphviz's `dot` program, which is not installed."""


class IndexOutOfRangeError(ShapeError, IndexError):
    """An integer index past the end of an axis (an IndexError, so iteration and unpacking stop there)."""


class LinAlgError(ShapeError, np.linalg.LinAlgError):
    """A linear-algebra op refused its matrices (not square, singular): NumPy's LinAlgError too, so code
    written for np.linalg (`except np.linalg.LinAlgError`) still catches it."""


class AxisError(ShapeError, np.exceptions.AxisError):
    """An axis out of range for the tensor's number of axes: NumPy's AxisError (so a ValueError and an
    IndexError too), raised by every op that takes an axis instead of wrapping the axis around."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def checked_axis(axis: object, ndim: int, who: str) -> int:
    """`axis` as a non-negative int below ndim (negative axes count from the end), or AxisError."""
    try:
        index = int(axis)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"{who}: axis {axis!r} is not an integer") from None
    if not -ndim <= index < ndim:
        raise AxisError(f"{who}: axis {axis} is out of bounds for a tensor with {ndim} axes "
                        f"(valid: {-ndim} to {ndim - 1})")
    return index % ndim
