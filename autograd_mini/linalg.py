"""`am.linalg`: NumPy's spelling of the linear-algebra ops (rows of ops_numpy.py)."""
from .ops_numpy import det, inv, norm, solve

__all__ = ["det", "inv", "norm", "solve"]
