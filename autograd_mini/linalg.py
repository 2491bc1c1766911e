"""`am.linalg`: NumPy's spelling of the linear-algebra ops, those registered with `linalg=True` in ops/,
and LinAlgError (what they raise for a singular or non-square matrix)."""
from typing import TYPE_CHECKING as _TYPE_CHECKING

from .errors import LinAlgError
from .ops._registry import LINALG as _LINALG

globals().update(_LINALG)
__all__ = ["LinAlgError", *_LINALG]
if _TYPE_CHECKING:  # type checkers read the names where they are written
    from .ops.linalg import *  # noqa: F403
