"""`am.autograd.grad(outputs, inputs, ...)`, torch's spelling; the code is `derivatives.gradients`."""
from .derivatives import gradients as grad

__all__ = ["grad"]
