"""`grad(outputs, inputs, ...)`: gradients returned as Tensors instead of added into `.grad`."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .errors import GraphError, ShapeError
from .tensor import Tensor, as_float_array, backprop


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Any = None, create_graph: bool = False, retain_graph: bool | None = None,
         allow_unused: bool = False) -> tuple[Tensor | None, ...]:
    """d(sum of outputs · grad_outputs)/d(inputs), like torch.autograd.grad.

    With `create_graph=True` the returned gradients carry a graph of their own, so they can be
    differentiated again. `.grad` of the inputs is left untouched.
    """
    outputs, inputs = _as_list(outputs), _as_list(inputs)
    seeds = _as_list(grad_outputs) if grad_outputs is not None else [None] * len(outputs)
    if len(seeds) != len(outputs):
        raise ShapeError(f"grad: {len(outputs)} outputs but {len(seeds)} grad_outputs")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise GraphError(f"grad: input {i} does not require grad; create it with requires_grad=True")
    prepared = []
    for out, seed in zip(outputs, seeds):
        if not out.requires_grad:
            raise GraphError(f"grad: an output of shape {out.shape} does not depend on any input that requires grad")
        if seed is None:
            if out.size != 1:
                raise GraphError(f"grad: output has shape {out.shape}; pass grad_outputs for non-scalar outputs")
            seed = np.ones_like(out.data)
        seed_array = as_float_array(seed.data if isinstance(seed, Tensor) else seed)
        if seed_array.shape != out.shape:
            raise ShapeError(f"grad: grad_outputs has shape {seed_array.shape} but the output has shape {out.shape}")
        prepared.append((seed if isinstance(seed, Tensor) else Tensor(seed_array)) if create_graph else seed_array)
    if retain_graph is None:
        retain_graph = create_graph
    captured = backprop(outputs, prepared, retain_graph=retain_graph, create_graph=create_graph,
                        accumulate_leaves=False, capture=inputs)
    results: list[Tensor | None] = []
    for i, t in enumerate(inputs):
        g = captured.get(id(t))
        if g is None:
            if not allow_unused:
                raise GraphError(f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                                 f"pass allow_unused=True to get None for it")
            results.append(None)
        elif isinstance(g, Tensor):
            results.append(g if g.shape == t.shape else g + np.zeros(t.shape, dtype=t.dtype))
        else:
            results.append(Tensor._from_op(np.array(np.broadcast_to(g, t.shape)), None, (), None))
    return tuple(results)
