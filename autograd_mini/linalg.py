"""`am.linalg`: NumPy's spelling of the linear-algebra ops (rows of ops_numpy.py)."""
from .errors import LinAlgError
from .ops_numpy import det, inv, norm, solve

__all__ = ["LinAlgError", "det", "inv", "norm", "solve"]
