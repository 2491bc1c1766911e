"""Exceptions of autograd_mini, so callers can catch exactly what went wrong."""


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
