"""`am.autograd.grad(outputs, inputs, ...)`, torch's spelling; the code is `transforms.gradients`."""
from .transforms import gradients as grad

__all__ = ["grad"]
