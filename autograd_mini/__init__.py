"""autograd_mini: a small, fast, honest reverse-mode autodiff on NumPy.

    import autograd_mini as am
    w = am.Tensor([[0.5], [-0.3]], requires_grad=True)
    loss = ((am.Tensor([[1.0, 2.0]]) @ w).sigmoid() - 1.0).square().mean()
    loss.backward()
    w.grad
"""
from . import autograd, losses, nn, optim
from .errors import AutogradMiniError, GradcheckError, GraphError, LinAlgError, ShapeError
from .gradcheck import GradcheckResult, gradcheck, gradgradcheck
from .ops import (abs_op as abs, concatenate, div, exp, log, matmul,  # noqa: F401
                  maximum, minimum, mul, neg, reduce_mean as mean, reduce_sum as sum, relu, sigmoid,
                  softmax, softplus, square, stack, sub, tanh, add)
from .ops import _reshape as reshape  # noqa: F401
from .ops import (_broadcast_to_public as broadcast_to, _log_softmax_public as log_softmax,  # noqa: F401
                  _transpose_public as transpose)
from .ops_numpy import *  # noqa: F401,F403 (every op of the continued table: its __all__ is built from the rows)
from .ops_numpy import amax as max, amin as min, pow as power, sign_of as sign  # noqa: F401 (NumPy's names)
from . import linalg  # noqa: F401,E402 (am.linalg.inv, det, solve, norm: NumPy's spelling)
from . import interop  # noqa: F401,E402 (np.exp(t), np.sum(t), ndarray + t: our ops)
from .tensor import Op, Tensor, enable_grad, is_grad_enabled, no_grad, scope

__version__ = "0.1.0"  # the one place the version is written (pyproject.toml reads it)
from .derivatives import (checkpoint, elementwise_grad, grad, hessian, hvp, jacobian, jvp,  # noqa: E402,F401
                          value_and_grad, vjp)
from .pictures import draw_graph, render_graph  # noqa: E402,F401
from .audit import audit, AuditReport  # noqa: E402
from .audit_layer import audit_layer  # noqa: E402,F401
from .derivation import derive  # noqa: E402,F401
from .trace import TraceWarning, trace  # noqa: E402,F401

from . import ops_numpy  # noqa: E402 (its __all__ lists the continued table's ops)

__all__ = [
    "__version__",
    # the engine and its modes
    "Tensor", "Op", "no_grad", "enable_grad", "is_grad_enabled", "scope",
    "AutogradMiniError", "GradcheckError", "GraphError", "LinAlgError", "ShapeError",
    # ops of the first table (NumPy's names) and, below, every op of the continued one
    "abs", "add", "broadcast_to", "concatenate", "div", "exp", "log", "log_softmax", "matmul", "maximum", "mean",
    "minimum", "mul", "neg", "relu", "reshape", "sigmoid", "softmax", "softplus", "square", "stack", "sub", "sum",
    "tanh", "transpose", "max", "min", "power", "sign",
    *(name for name in ops_numpy.__all__ if name not in ("max", "min", "power", "sign")),
    # derivatives, checks, compiled steps and pictures
    "grad", "value_and_grad", "elementwise_grad", "jacobian", "hessian", "hvp", "jvp", "vjp", "checkpoint",
    "GradcheckResult", "gradcheck", "gradgradcheck", "audit", "AuditReport", "derive", "trace", "TraceWarning",
    "draw_graph", "render_graph",
    # submodules
    "autograd", "nn", "optim", "losses", "linalg",
]
