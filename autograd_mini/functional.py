"""Function transforms in the style of HIPS autograd and JAX: grad, value_and_grad, jacobian,
hessian and hvp.

Each takes a function and returns a function (hvp evaluates at once). They sit on top of
`autograd.grad` and know no op: every derivative comes from the op table's VJPs, which already
build a differentiable graph under `create_graph=True`.

Types. NumPy (or Python numbers) in, NumPy out; Tensor in, Tensor out. One exception keeps nesting
honest: if a result depends on a tensor traced *outside* this call (a closed-over parameter that
requires grad, or an enclosing transform's input), it is returned as a Tensor carrying that graph
even when the argument was NumPy, so a derivative is never dropped silently.
Inside, `f` always receives Tensors, so write it with Tensor methods and `am.*` ops, not `np.*`.

Composition (`grad(grad(f))`). A transform never differentiates the caller's tensor directly:
it hands `f` a fresh stand-in, as torch.autograd.functional does —
  - a new leaf when the argument is NumPy, a Tensor that needs no grad, or grad mode is off outside;
  - otherwise a `reshape` of the argument to its own shape, a differentiable identity that links the
    stand-in to the outer graph.
The gradient is taken with respect to the stand-in, so a closure that uses the outer tensor
directly is not confused with the argument (`grad(lambda y: x * y)(x)` is x, not 2x).
The gradient is built with `create_graph=True` exactly when it is needed: grad mode is on outside
and the traced graph reaches a tensor requiring grad that is not one of the stand-ins. At the
outermost level nothing else requires grad, so plain `grad(f)(x)` pays no graph-building cost,
and each nesting level builds one more graph for the level above to differentiate.
The graphs are always retained, so a transform never frees a graph the caller still owns.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from . import autograd
from .errors import ShapeError
from .ops import reshape, stack
from .tensor import Tensor, enable_grad, is_grad_enabled, topological_order

Argnums = int | tuple[int, ...]


# ---- shared machinery ------------------------------------------------------------------------


def _argnum_list(argnums: Argnums, nargs: int) -> list[int]:
    items = argnums if isinstance(argnums, tuple) else (argnums,)
    if not items:
        raise ValueError("argnums: give at least one argument position to differentiate")
    result = []
    for i in items:
        if not isinstance(i, (int, np.integer)) or not -nargs <= i < nargs:
            raise ValueError(f"argnums: {i!r} is not a position among the {nargs} positional arguments")
        result.append(int(i) % nargs)
    if len(set(result)) != len(result):
        raise ValueError(f"argnums: {argnums} names the same argument twice")
    return result


def _stand_in(x: Any, linked: bool) -> Tensor:
    """A tensor to differentiate with respect to: linked to `x`'s graph, or a fresh leaf."""
    if linked and isinstance(x, Tensor) and x.requires_grad:
        return reshape(x, shape=x.shape)
    return Tensor(x.data if isinstance(x, Tensor) else x, requires_grad=True)


def _retire(stand_ins: Sequence[Tensor]) -> None:
    """Stop fresh-leaf stand-ins from requiring grad once differentiated: a gradient that keeps a
    graph may still contain them, and an enclosing transform must not mistake them for outside
    tensors it has to build a graph for (nor spend a backward pass on them)."""
    for t in stand_ins:
        if t.is_leaf:
            t.requires_grad = False


def _needs_graph(roots: Sequence[Any], stand_ins: Sequence[Tensor], outside_on: bool) -> bool:
    """True when the traced graph reaches a tensor requiring grad other than the stand-ins."""
    if not outside_on:
        return False
    roots = [r for r in roots if isinstance(r, Tensor) and r.requires_grad]
    ours = {id(t) for t in stand_ins}
    return any(t.is_leaf and id(t) not in ours for t in topological_order(roots))


def _deliver(value: Any, like: Any, keep_graph: bool) -> Any:
    """Return `value` in the caller's type (see the module docstring), with a graph only if kept."""
    if keep_graph and isinstance(value, Tensor) and value.requires_grad:
        return value
    data = np.asarray(_data(value))
    return Tensor._from_op(data, None, (), None) if isinstance(like, Tensor) else data


def _zeros_like(x: Tensor) -> Tensor:
    return Tensor(np.zeros(x.shape, dtype=x.dtype))


def _gradients(outputs: list[Any], stand_ins: list[Tensor], seeds: list[Any] | None,
               create_graph: bool) -> list[Tensor]:
    """d(sum of outputs·seeds)/d(stand-ins), zeros for stand-ins the outputs do not depend on."""
    pairs = [(out, None if seeds is None else s) for out, s in zip(outputs, seeds or outputs)
             if isinstance(out, Tensor) and out.requires_grad]
    if not pairs:  # f ignored its inputs, or is linear and this is its second derivative
        return [_zeros_like(t) for t in stand_ins]
    grads = autograd.grad([o for o, _ in pairs], stand_ins,
                          grad_outputs=None if seeds is None else [s for _, s in pairs],
                          create_graph=create_graph, retain_graph=True, allow_unused=True)
    return [_zeros_like(t) if g is None else g for g, t in zip(grads, stand_ins)]


def _scalar_output(out: Any, who: str) -> Any:
    if isinstance(out, Tensor):
        if out.size != 1:
            raise ShapeError(f"{who}: f must return a scalar (one element), got shape {out.shape}; "
                             f"use jacobian for vector outputs, or reduce with .sum()")
        return out
    if np.size(out) != 1:
        raise ShapeError(f"{who}: f must return a scalar (one element), got shape {np.shape(out)}")
    return out


def _with_stand_ins(args: tuple, positions: list[int], outside_on: bool) -> tuple[list, list[Tensor]]:
    """The call's arguments with a stand-in at each differentiated position, and the stand-ins."""
    call = list(args)
    for i in positions:
        call[i] = _stand_in(args[i], linked=outside_on)
    return call, [call[i] for i in positions]


def _value_and_grad(f: Callable[..., Any], argnums: Argnums, args: tuple, kwargs: dict,
                    who: str) -> tuple[Any, Any]:
    positions = _argnum_list(argnums, len(args))
    outside_on = is_grad_enabled()
    with enable_grad():
        call, stand_ins = _with_stand_ins(args, positions, outside_on)
        out = _scalar_output(f(*call, **kwargs), who)
        keep = _needs_graph([out], stand_ins, outside_on)
        grads = _gradients([out], stand_ins, None, create_graph=keep)
        _retire(stand_ins)
    like_any = next((args[i] for i in positions if isinstance(args[i], Tensor)), None)
    value = _deliver(out, like_any, keep)
    results = tuple(_deliver(g, args[i], keep) for g, i in zip(grads, positions))
    return value, (results if isinstance(argnums, tuple) else results[0])


# ---- the transforms --------------------------------------------------------------------------


def grad(f: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., Any]:
    """The gradient of a scalar function, as a function: `grad(f)(x)` has x's shape.

    With a tuple `argnums` the result is a tuple of gradients, one per position, as in JAX.
    Nesting works (`grad(grad(f))`, `jacobian(grad(f))`) because a call on Tensors that belong to
    an enclosing trace returns a gradient carrying its own graph; see the module docstring.
    """
    def gradient(*args: Any, **kwargs: Any) -> Any:
        return _value_and_grad(f, argnums, args, kwargs, "grad")[1]
    gradient.__name__ = f"grad_{getattr(f, '__name__', 'f')}"
    gradient.__doc__ = f"Gradient of {getattr(f, '__name__', 'f')} with respect to argument(s) {argnums}."
    return gradient


def value_and_grad(f: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., tuple[Any, Any]]:
    """Like `grad`, but also returns f's value from the same forward pass (a training step needs both).

    The value is NumPy unless a differentiated argument was a Tensor or it depends on an outside trace.
    """
    def both(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        return _value_and_grad(f, argnums, args, kwargs, "value_and_grad")
    both.__name__ = f"value_and_grad_{getattr(f, '__name__', 'f')}"
    return both


def jacobian(f: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., Any]:
    """The Jacobian as a function: entry [i..., j...] is d out[i...] / d x[j...], shape out.shape + x.shape.

    Reverse mode, one backward pass per output element, so it suits few outputs and many inputs.
    If f returns a tuple, or `argnums` is a tuple, the result nests the same way as JAX's
    (`result[output][argument]`), which is what `hessian` with a tuple `argnums` needs.
    """
    def jac(*args: Any, **kwargs: Any) -> Any:
        positions = _argnum_list(argnums, len(args))
        outside_on = is_grad_enabled()
        with enable_grad():
            call, stand_ins = _with_stand_ins(args, positions, outside_on)
            result = f(*call, **kwargs)
            outputs = list(result) if isinstance(result, tuple) else [result]
            keep = _needs_graph(outputs, stand_ins, outside_on)
            blocks = [_jacobian_blocks(out, stand_ins, keep) for out in outputs]
            _retire(stand_ins)
        delivered = [tuple(_deliver(b, args[i], keep) for b, i in zip(row, positions)) for row in blocks]
        rows = [row if isinstance(argnums, tuple) else row[0] for row in delivered]
        return tuple(rows) if isinstance(result, tuple) else rows[0]
    jac.__name__ = f"jacobian_{getattr(f, '__name__', 'f')}"
    return jac


def _jacobian_blocks(out: Any, stand_ins: list[Tensor], keep: bool) -> list[Tensor]:
    """One block d out / d x per stand-in x, each of shape out.shape + x.shape."""
    out_shape = out.shape if isinstance(out, Tensor) else np.shape(out)
    size = int(np.prod(out_shape))
    if size == 0 or not (isinstance(out, Tensor) and out.requires_grad):
        return [Tensor(np.zeros(out_shape + t.shape, dtype=t.dtype)) for t in stand_ins]
    rows: list[list[Tensor]] = [[] for _ in stand_ins]
    for k in range(size):  # row k of the Jacobian is the VJP with the k-th unit cotangent
        seed = np.zeros(out_shape, dtype=out.dtype)
        seed.flat[k] = 1.0
        for row, g in zip(rows, _gradients([out], stand_ins, [seed], create_graph=keep)):
            row.append(g)
    blocks = []
    for row, t in zip(rows, stand_ins):
        if keep:
            blocks.append(stack(row).reshape(out_shape + t.shape))
        else:
            blocks.append(Tensor._from_op(np.stack([g.data for g in row]).reshape(out_shape + t.shape),
                                          None, (), None))
    return blocks


def hessian(f: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., Any]:
    """The Hessian of a scalar function, shape x.shape + x.shape, as the Jacobian of its gradient.

    With a tuple `argnums`, block [i][j] is d2f / dx_i dx_j of shape x_i.shape + x_j.shape.
    It costs one reverse pass over the gradient's graph per entry of x; for a product with a
    vector use `hvp`, which costs one.
    """
    h = jacobian(grad(f, argnums), argnums)
    h.__name__ = f"hessian_{getattr(f, '__name__', 'f')}"
    return h


def hvp(f: Callable[..., Any], x: Any, v: Any) -> Any:
    """The Hessian-vector product H(x) v of a scalar f, by reverse over reverse, never forming H.

    First the gradient g(x) is built with a graph; then one more reverse pass differentiates
    <g(x), v> with respect to x, which gives H^T v = H v (H is symmetric). Two backward passes
    in all, whatever the size of x. `x` and `v` may be tuples (f then takes several arguments
    and the result is a tuple); types follow the rule of the module docstring.
    """
    primals = x if isinstance(x, tuple) else (x,)
    tangents = v if isinstance(v, tuple) else (v,)
    if len(primals) != len(tangents):
        raise ValueError(f"hvp: {len(primals)} arguments but {len(tangents)} vectors")
    for p, t in zip(primals, tangents):
        if np.shape(_data(t)) != np.shape(_data(p)):
            raise ShapeError(f"hvp: vector of shape {np.shape(_data(t))} "
                             f"for an argument of shape {np.shape(_data(p))}")
    outside_on = is_grad_enabled()
    with enable_grad():
        stand_ins = [_stand_in(p, linked=outside_on) for p in primals]
        out = _scalar_output(f(*stand_ins), "hvp")
        grads = _gradients([out], stand_ins, None, create_graph=True)
        keep = _needs_graph(grads, stand_ins, outside_on) or (
            outside_on and any(isinstance(t, Tensor) and t.requires_grad for t in tangents))
        seeds = [t if isinstance(t, Tensor) else np.asarray(t, dtype=p.dtype) for t, p in zip(tangents, stand_ins)]
        products = _gradients(grads, stand_ins, seeds, create_graph=keep)
        _retire(stand_ins)
    results = tuple(_deliver(hv, p, keep) for hv, p in zip(products, primals))
    return results if isinstance(x, tuple) else results[0]


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x
