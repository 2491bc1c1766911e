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
from typing import TYPE_CHECKING as _TYPE_CHECKING

from . import ops
from .ops import *  # noqa: F401,F403 (every op registered in ops/: ops.__all__ is read from the registry)
from . import linalg  # noqa: F401 (am.linalg.inv, det, solve, norm: NumPy's spelling)
if _TYPE_CHECKING:  # type checkers read the names where they are written (ops.__all__ is built at import)
    from .ops.compare import *  # noqa: F403
    from .ops.creation import *  # noqa: F403
    from .ops.elementwise import *  # noqa: F403
    from .ops.linalg import *  # noqa: F403
    from .ops.products import *  # noqa: F403
    from .ops.reductions import *  # noqa: F403
    from .ops.shape import *  # noqa: F403
from . import interop  # noqa: F401,E402 (np.exp(t), np.sum(t), ndarray + t: our ops)
from .tensor import Op, Tensor, enable_grad, is_grad_enabled, no_grad, scope, substituted_vjps

__version__ = "0.1.0"  # the one place the version is written (pyproject.toml reads it)
from .transforms import (checkpoint, elementwise_grad, grad, hessian, hvp, jacobian, jvp,  # noqa: E402,F401
                          value_and_grad, vjp)
from .pictures import draw_graph, render_graph  # noqa: E402,F401
from .audit import audit, AuditReport  # noqa: E402
from .audit_layer import audit_layer  # noqa: E402,F401
from .derivation import derive  # noqa: E402,F401
from .trace import TraceWarning, trace  # noqa: E402,F401

__all__ = [
    "__version__",
    # the engine and its modes
    "Tensor", "Op", "no_grad", "enable_grad", "is_grad_enabled", "scope", "substituted_vjps",
    "AutogradMiniError", "GradcheckError", "GraphError", "LinAlgError", "ShapeError",
    # every op, as registered in ops/ (NumPy's names)
    *ops.__all__,
    # derivatives, checks, compiled steps and pictures
    "grad", "value_and_grad", "elementwise_grad", "jacobian", "hessian", "hvp", "jvp", "vjp", "checkpoint",
    "GradcheckResult", "gradcheck", "gradgradcheck", "audit", "AuditReport", "derive", "trace", "TraceWarning",
    "draw_graph", "render_graph",
    # submodules
    "autograd", "nn", "optim", "losses", "linalg",
]
