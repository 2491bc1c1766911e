"""The op table, by kind: each primitive's forward and its vector-Jacobian product, side by side.

- `elementwise.py`: arithmetic, unary math, activations, casts and rounding
- `compare.py`: comparisons, masks and their logic (logical_and, ...), signs, `where`, positions; no gradient
- `reductions.py`: sum, mean, max, prod, cumulative ops, logsumexp, var, std, average, median, softmax
- `shape.py`: reshape, transpose, indexing, concatenate, pad, ..., functional and in-place updates
- `products.py`: matmul, einsum, dot, tensordot, cross, kron
- `linalg.py`: inv, det, solve, norm (`am.linalg`)
- `creation.py`: zeros, ones, eye, arange, the *_like functions
- `kernels.py`: the fast kernels a few rows call; `_helpers.py`: what works on arrays and Tensors alike
- `_registry.py`: `register(...)`, the line after each row that gives it its `am.` name and NumPy dispatch

Read a row as: name, forward on NumPy arrays, `vjp(g, ans, *inputs, **params)` returning one
gradient per input. Composite functions are built from rows and need no VJP.

This package's namespace is the whole table (every row and public function of its modules, as
derivation/ and fused.py read it); `__all__` is what was registered, the names `am.` exports.
"""
from __future__ import annotations

from ..tensor_methods import use_table
from . import _registry
from ._helpers import _is_basic_index  # noqa: F401 (derivation/ reads it)
from .creation import *  # noqa: F403
from .compare import *  # noqa: F403
from .elementwise import *  # noqa: F403
from .shape import *  # noqa: F403
from .shape import _At, _getitem, _in_place, _setitem, _swapaxes, _transpose  # noqa: F401 (Tensor's methods)
from .reductions import *  # noqa: F403
from .products import *  # noqa: F403
from .linalg import *  # noqa: F403

globals().update(_registry.PUBLIC)  # the second spellings too (am.amax, am.pow, am.unsqueeze)
__all__ = list(_registry.PUBLIC)

use_table(__name__)  # Tensor's methods (tensor_methods.py) call this table's functions
