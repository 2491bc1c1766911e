"""Derivatives, in one module: `gradients` (torch style, `am.autograd.grad(outputs, inputs)`) and the
function transforms in the style of HIPS autograd and JAX: grad, value_and_grad, jacobian, hessian,
hvp, jvp, vjp, elementwise_grad, and checkpoint (recompute in backward instead of saving).

Each takes a function and returns a function (hvp evaluates at once). They sit on top of
`gradients` and know no op: every derivative comes from the op table's VJPs, which already
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

import contextlib
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .errors import GraphError, ShapeError
from .ops import reshape_op, stack
from . import tensor as _engine
from .tensor import (Op, Tensor, as_float_array, backprop, enable_grad, is_grad_enabled, no_grad, recording,
                     unwrap, walk)

Argnums = int | tuple[int, ...]


# ---- gradients of tensors (torch style) ----------------------------------------------------------


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def gradients(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Any = None, create_graph: bool = False, retain_graph: bool | None = None,
         allow_unused: bool = False) -> tuple[Tensor | None, ...]:
    """d(sum of outputs · grad_outputs)/d(inputs), like torch.autograd.grad (it is `am.autograd.grad`).

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
            seed = np.ones_like(unwrap(out))  # (library code: not a read by f)
        seed_array = as_float_array(unwrap(seed))
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


# ---- function transforms (HIPS autograd / JAX style) ---------------------------------------------


# ---- pytrees: tuples, lists and dicts of arrays, nested (as in JAX) --------------------------------


class _Tree:
    """The structure of a nested tuple/list/dict; `rebuild(leaves)` puts new leaves in the same places."""

    __slots__ = ("kind", "children")

    def __init__(self, kind: Any, children: Any) -> None:
        self.kind, self.children = kind, children

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Tree) and (self.kind, self.children) == (other.kind, other.children)

    def describe(self) -> str:
        if self.kind is None:
            return "*"
        if self.kind is dict:
            return "{" + ", ".join(f"{k!r}: {c.describe()}" for k, c in self.children) + "}"
        return f"{self.kind.__name__}(" + ", ".join(c.describe() for c in self.children) + ")"

    def rebuild(self, leaves: Sequence[Any]) -> Any:
        return self._rebuild(iter(leaves))

    def _rebuild(self, leaves: Any) -> Any:
        if self.kind is None:
            return next(leaves)
        if self.kind is dict:
            return {key: child._rebuild(leaves) for key, child in self.children}
        return self.kind(child._rebuild(leaves) for child in self.children)


def _flatten(tree: Any) -> tuple[list, _Tree]:
    """The leaves (arrays, numbers, Tensors) in order, and the structure around them. A dict's entries
    are taken in the order of their sorted keys (as JAX), so two dicts with the same keys pair up by key."""
    if isinstance(tree, dict):
        try:
            keys = sorted(tree)
        except TypeError:  # keys of mixed types: their own order
            keys = list(tree)
        parts = [(key, _flatten(tree[key])) for key in keys]
        return [leaf for _, (leaves, _) in parts for leaf in leaves], _Tree(dict, [(k, t) for k, (_, t) in parts])
    if isinstance(tree, (tuple, list)) and not hasattr(tree, "_fields"):
        flattened = [_flatten(value) for value in tree]
        return [leaf for leaves, _ in flattened for leaf in leaves], _Tree(type(tree), [t for _, t in flattened])
    return [tree], _Tree(None, None)


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
        return reshape_op(x, shape=x.shape)
    return Tensor(unwrap(x), requires_grad=True)


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
    return any(t.is_leaf and id(t) not in ours for t in walk(roots))


def _deliver(value: Any, like: Any, keep_graph: bool) -> Any:
    """Return `value` in the caller's type (see the module docstring), with a graph only if kept."""
    if keep_graph and isinstance(value, Tensor) and value.requires_grad:
        return value
    data = np.asarray(unwrap(value))
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
    grads = gradients([o for o, _ in pairs], stand_ins,
                      grad_outputs=None if seeds is None else [s for _, s in pairs],
                      create_graph=create_graph, retain_graph=True, allow_unused=True)
    return [_zeros_like(t) if g is None else g for g, t in zip(grads, stand_ins)]


# how a value left the graph, as the user wrote it (comparisons and bool() are control flow, not an exit)
_EXITS = {"float": "float()", "int": "int()", "item": ".item()", "data": ".data", "numpy": ".numpy() or np.asarray()",
          "detach": ".detach()"}


class _Exits:
    """The values f read out of the graph while it ran (float(), .item(), .data, .numpy(), .detach() of a
    tensor that requires grad), so that an input the output then does not depend on is reported as
    having left the graph there, not answered with a zero gradient. A function that simply ignores an
    input (a constant output) still gets zeros, as JAX's and torch.func's."""

    def __init__(self, who: str) -> None:
        self.who = who
        self.reads: list[tuple[Tensor, str]] = []

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        state = _engine._state
        outer = state.on_value_read  # an enclosing am.trace or transform keeps hearing every read

        def heard(t: Tensor, how: str) -> None:
            if how in _EXITS:
                self.reads.append((t, how))
            if outer is not None:
                outer(t, how)
        with recording(on_constant=state.on_constant, on_value_read=heard):
            yield

    def check(self, outputs: Sequence[Any], stand_ins: Sequence[Tensor]) -> None:
        """Refuse an output that cannot be differentiated, or an input reached only through a read."""
        for out in outputs:
            if out is None:
                raise GraphError(f"{self.who}: f returned None (a missing return?); it must return a Tensor")
            if (isinstance(out, (bool, np.bool_)) or np.asarray(unwrap(out)).dtype == bool
                    or getattr(out, "_from_booleans", False)):
                raise GraphError(f"{self.who}: f returned a boolean (a comparison?), which has no derivative; "
                                 f"return a Tensor of numbers")
        if not self.reads:
            return
        reached = {id(t) for t in walk([o for o in outputs if isinstance(o, Tensor) and o.requires_grad])}
        for position, s in enumerate(stand_ins):
            for t, how in self.reads:
                if how != "detach" and any(u is s for u in walk([t])):
                    # a value taken out of the graph, even where another path keeps it: the derivative
                    # would miss that path's part, silently (as JAX, refuse any concrete value of a tracer)
                    raise GraphError(
                        f"{self.who}: f left the graph: it read the value of a tensor of shape {t.shape} computed "
                        f"from input {position} (shape {s.shape}) through {_EXITS[how]}, so the derivative would "
                        f"miss how the output depends on that value. Keep the computation in Tensor ops (am.* "
                        f"functions, Tensor methods, np.* on Tensors); for a value that should pass no gradient, "
                        f"say so with .detach()")
            if id(s) in reached:
                continue
            for t, how in self.reads:
                if any(u is s for u in walk([t])):
                    raise GraphError(
                        f"{self.who}: f left the graph: it read the value of a tensor of shape {t.shape} computed "
                        f"from input {position} (shape {s.shape}) through {_EXITS[how]}, and its output no longer "
                        f"depends on that input, so the derivative would be a silent zero. Keep the computation "
                        f"in Tensor ops (am.* functions, Tensor methods, np.* on Tensors) and return the Tensor")


def _scalar_output(out: Any, who: str) -> Any:
    if isinstance(out, Tensor):
        if out.size != 1:
            raise ShapeError(f"{who}: f must return a scalar (one element), got shape {out.shape}; "
                             f"use jacobian for vector outputs, or reduce with .sum()")
        return out
    if np.size(out) != 1:
        raise ShapeError(f"{who}: f must return a scalar (one element), got shape {np.shape(out)}")
    return out


class _Call:
    """One call of f with stand-ins at the differentiated positions (each argument may be a pytree):
    `call` the arguments to pass, `stand_ins` all their leaves in order, `trees` each position's
    structure and `leaves` its original leaves (for the caller's types)."""

    def __init__(self, args: tuple, positions: list[int], outside_on: bool) -> None:
        self.call, self.stand_ins, self.trees, self.leaves = list(args), [], [], []
        for i in positions:
            leaves, tree = _flatten(args[i])
            stand_ins = [_stand_in(leaf, linked=outside_on) for leaf in leaves]
            self.call[i] = tree.rebuild(stand_ins)
            self.stand_ins += stand_ins
            self.trees.append(tree)
            self.leaves.append(leaves)

    def per_position(self, values: Sequence[Any], keep: bool) -> list[Any]:
        """Values for the stand-ins, delivered and rebuilt into each position's structure."""
        result, start = [], 0
        for tree, leaves in zip(self.trees, self.leaves):
            part = values[start:start + len(leaves)]
            result.append(tree.rebuild([_deliver(v, leaf, keep) for v, leaf in zip(part, leaves)]))
            start += len(leaves)
        return result

    def like(self) -> Any:
        return next((leaf for leaves in self.leaves for leaf in leaves if isinstance(leaf, Tensor)), None)


def _split_aux(result: Any, has_aux: bool, who: str) -> tuple[Any, Any]:
    if not has_aux:
        return result, None
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(f"{who}(has_aux=True): f must return a pair (output, aux), got {type(result).__name__}")
    return result[0], result[1]


def _deliver_tree(tree: Any, like: Any, keep: bool) -> Any:
    leaves, structure = _flatten(tree)
    return structure.rebuild([_deliver(v, like, keep) if isinstance(v, Tensor) else v for v in leaves])


def _value_and_grad(f: Callable[..., Any], argnums: Argnums, has_aux: bool, args: tuple, kwargs: dict,
                    who: str) -> tuple[Any, Any, Any]:
    positions = _argnum_list(argnums, len(args))
    outside_on = is_grad_enabled()
    exits = _Exits(who)
    with enable_grad():
        call = _Call(args, positions, outside_on)
        with exits.watching():
            out, aux = _split_aux(f(*call.call, **kwargs), has_aux, who)
        exits.check([out], call.stand_ins)
        out = _scalar_output(out, who)
        keep = _needs_graph([out], call.stand_ins, outside_on)
        grads = _gradients([out], call.stand_ins, None, create_graph=keep)
        _retire(call.stand_ins)
    value = _deliver(out, call.like(), keep)
    results = tuple(call.per_position(grads, keep))
    return value, (results if isinstance(argnums, tuple) else results[0]), _deliver_tree(aux, call.like(), keep)


def _named(function: Callable, prefix: str, f: Callable) -> Callable:
    function.__name__ = f"{prefix}_{getattr(f, '__name__', 'f')}"
    return function


# ---- the transforms --------------------------------------------------------------------------


def grad(f: Callable[..., Any], argnums: Argnums = 0, has_aux: bool = False) -> Callable[..., Any]:
    """The gradient of a scalar function, as a function: `grad(f)(x)` has x's shape.

    With a tuple `argnums` the result is a tuple of gradients, one per position, as in JAX. An
    argument may be a pytree (tuple, list or dict of arrays, nested): its gradient has the same
    structure. With `has_aux=True`, f returns (output, aux) and the result is (gradient, aux).
    Nesting works (`grad(grad(f))`, `jacobian(grad(f))`) because a call on Tensors that belong to
    an enclosing trace returns a gradient carrying its own graph; see the module docstring.
    """
    def gradient(*args: Any, **kwargs: Any) -> Any:
        _, g, aux = _value_and_grad(f, argnums, has_aux, args, kwargs, "grad")
        return (g, aux) if has_aux else g
    gradient.__doc__ = f"Gradient of {getattr(f, '__name__', 'f')} with respect to argument(s) {argnums}."
    return _named(gradient, "grad", f)


def value_and_grad(f: Callable[..., Any], argnums: Argnums = 0,
                   has_aux: bool = False) -> Callable[..., tuple[Any, Any]]:
    """Like `grad`, but also returns f's value from the same forward pass (a training step needs both):
    (value, gradient), or ((value, aux), gradient) with `has_aux=True`, as JAX.

    The value is NumPy unless a differentiated argument was a Tensor or it depends on an outside trace.
    """
    def both(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        value, g, aux = _value_and_grad(f, argnums, has_aux, args, kwargs, "value_and_grad")
        return ((value, aux), g) if has_aux else (value, g)
    return _named(both, "value_and_grad", f)


def elementwise_grad(f: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., Any]:
    """The derivative of an element-wise f at every entry at once: the gradient of sum(f(x)), as
    HIPS autograd's (for an f that mixes entries it is that sum's gradient, a vector-Jacobian
    product with ones)."""
    def summed(*args: Any, **kwargs: Any) -> Any:
        out = f(*args, **kwargs)
        # (None, a bool or a mask: grad names what is wrong)
        return out.sum() if isinstance(out, Tensor) and not getattr(out, "_from_booleans", False) else out
    return _named(grad(summed, argnums), "elementwise_grad", f)


def jacobian(f: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., Any]:
    """The Jacobian as a function: entry [i..., j...] is d out[i...] / d x[j...], shape out.shape + x.shape.

    Reverse mode, one backward pass per output element, so it suits few outputs and many inputs.
    Outputs and arguments may be pytrees: the result nests as JAX's, `result[output][argument]`
    (a tuple over positions if `argnums` is a tuple), which is what `hessian` needs.
    """
    def jac(*args: Any, **kwargs: Any) -> Any:
        positions = _argnum_list(argnums, len(args))
        outside_on = is_grad_enabled()
        exits = _Exits("jacobian")
        with enable_grad():
            call = _Call(args, positions, outside_on)
            with exits.watching():
                outputs, out_tree = _flatten(f(*call.call, **kwargs))
            exits.check(outputs, call.stand_ins)
            keep = _needs_graph(outputs, call.stand_ins, outside_on)
            blocks = [_jacobian_blocks(out, call.stand_ins, keep) for out in outputs]
            _retire(call.stand_ins)
        rows = [tuple(call.per_position(row, keep)) for row in blocks]
        return out_tree.rebuild([row if isinstance(argnums, tuple) else row[0] for row in rows])
    return _named(jac, "jacobian", f)


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
            blocks.append(Tensor._from_op(np.stack([unwrap(g) for g in row]).reshape(out_shape + t.shape),
                                          None, (), None))
    return blocks


def hessian(f: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., Any]:
    """The Hessian of a scalar function, shape x.shape + x.shape, as the Jacobian of its gradient.

    With a tuple `argnums`, block [i][j] is d2f / dx_i dx_j of shape x_i.shape + x_j.shape; a pytree
    argument gives a nested block per pair of leaves. It costs one reverse pass over the gradient's
    graph per entry of x; for a product with a vector use `hvp`, which costs one.
    """
    return _named(jacobian(grad(f, argnums), argnums), "hessian", f)


def _same_structure(who: str, first: _Tree, second: _Tree, what: str) -> None:
    if first != second:
        raise ValueError(f"{who}: the {what} must have the same structure (same containers, same dict keys): "
                         f"{first.describe()} vs {second.describe()}")


def _checked_tangents(who: str, primals: list, tangents: list) -> None:
    if len(primals) != len(tangents):
        raise ValueError(f"{who}: {len(primals)} primal leaves but {len(tangents)} tangent leaves "
                         f"(the two must have the same structure)")
    for p, t in zip(primals, tangents):
        if np.shape(unwrap(t)) != np.shape(unwrap(p)):
            raise ShapeError(f"{who}: vector of shape {np.shape(unwrap(t))} "
                             f"for an argument of shape {np.shape(unwrap(p))}")


def hvp(f: Callable[..., Any], x: Any, v: Any) -> Any:
    """The Hessian-vector product H(x) v of a scalar f, by reverse over reverse, never forming H.

    First the gradient g(x) is built with a graph; then one more reverse pass differentiates
    <g(x), v> with respect to x, which gives H^T v = H v (H is symmetric). Two backward passes
    in all, whatever the size of x. `x` and `v` may be tuples (f then takes several arguments
    and the result is a tuple); types follow the rule of the module docstring.
    """
    primals = x if isinstance(x, tuple) else (x,)
    tangents = v if isinstance(v, tuple) else (v,)
    _checked_tangents("hvp", list(primals), list(tangents))
    outside_on = is_grad_enabled()
    with enable_grad():
        stand_ins = [_stand_in(p, linked=outside_on) for p in primals]
        exits = _Exits("hvp")
        with exits.watching():
            out = f(*stand_ins)
        exits.check([out], stand_ins)
        out = _scalar_output(out, "hvp")
        grads = _gradients([out], stand_ins, None, create_graph=True)
        keep = _needs_graph(grads, stand_ins, outside_on) or (
            outside_on and any(isinstance(t, Tensor) and t.requires_grad for t in tangents))
        seeds = [t if isinstance(t, Tensor) else np.asarray(t, dtype=p.dtype) for t, p in zip(tangents, stand_ins)]
        products = _gradients(grads, stand_ins, seeds, create_graph=keep)
        _retire(stand_ins)
    results = tuple(_deliver(hv, p, keep) for hv, p in zip(products, primals))
    return results if isinstance(x, tuple) else results[0]


def vjp(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[[Any], tuple]]:
    """f's value and its pullback, as JAX's: `value, pullback = vjp(f, x, y)`; `pullback(u)` is the
    tuple (u·df/dx, u·df/dy), each shaped (and structured) like its primal. `u` has the value's
    structure. The pullback may be called many times (the graph is kept)."""
    outside_on = is_grad_enabled()
    with enable_grad():
        call = _Call(primals, list(range(len(primals))), outside_on)
        exits = _Exits("vjp")
        with exits.watching():
            outputs, out_tree = _flatten(f(*call.call))
        exits.check(outputs, call.stand_ins)
    keep = _needs_graph(outputs, call.stand_ins, outside_on)

    def pullback(cotangent: Any) -> tuple:
        seeds, seed_tree = _flatten(cotangent)
        _same_structure("vjp pullback", out_tree, seed_tree, "output and the cotangent")
        _checked_tangents("vjp pullback", outputs, seeds)
        with enable_grad():
            grads = _gradients(outputs, call.stand_ins, [_seed(s, o) for s, o in zip(seeds, outputs)], keep)
        return tuple(call.per_position(grads, keep))

    return out_tree.rebuild([_deliver(o, call.like(), keep) for o in outputs]), pullback


def _seed(s: Any, out: Any) -> Any:
    return s if isinstance(s, Tensor) else np.asarray(s, dtype=getattr(out, "dtype", np.float64))


def jvp(f: Callable[..., Any], primals: tuple, tangents: tuple) -> tuple[Any, Any]:
    """Forward mode, as JAX's: (f(primals), J·tangents), built as the transpose of the VJP.

    The VJP u -> J^T u is linear in u; recorded with a cotangent u that requires grad, its own
    gradient with respect to u, seeded with the tangent v, is J v ("double backward"). So forward
    mode needs no second rule set: every op's VJP row serves it, at the cost of two reverse passes.
    """
    primal_leaves, primal_tree = _flatten(tuple(primals))
    tangent_leaves, tangent_tree = _flatten(tuple(tangents))
    _same_structure("jvp", primal_tree, tangent_tree, "primals and tangents")
    _checked_tangents("jvp", primal_leaves, tangent_leaves)
    outside_on = is_grad_enabled()
    with enable_grad():
        call = _Call(tuple(primals), list(range(len(primals))), outside_on)
        exits = _Exits("jvp")
        with exits.watching():
            outputs, out_tree = _flatten(f(*call.call))
        exits.check(outputs, call.stand_ins)
        cotangents = [Tensor(np.zeros(np.shape(unwrap(o))), requires_grad=True) for o in outputs]
        transposed = _gradients(outputs, call.stand_ins, cotangents, create_graph=True)  # J^T u, linear in u
        keep = _needs_graph(outputs, call.stand_ins, outside_on) or (
            outside_on and any(isinstance(t, Tensor) and t.requires_grad for t in tangent_leaves))
        seeds = [_seed(t, s) for t, s in zip(tangent_leaves, call.stand_ins)]
        products = _gradients(transposed, cotangents, seeds, create_graph=keep)  # d<J^T u, v>/du = J v
        _retire(call.stand_ins + cotangents)
    like = call.like()
    return (out_tree.rebuild([_deliver(o, like, keep) for o in outputs]),
            out_tree.rebuild([_deliver(p, like, keep) for p in products]))


def checkpoint(f: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """f, recomputed in backward instead of saved: `checkpoint(block)(h, w)` keeps no intermediate of
    block alive between forward and backward, trading one more forward for the memory.

    It is one Op: the forward runs f without recording (only the result is kept), the VJP runs f
    again with recording and backpropagates through that short-lived graph: on fresh leaves in an
    ordinary backward; on the inputs themselves under create_graph, so that second derivatives go
    through it too. Every tensor f depends on that requires grad must be an argument (a closed-over
    parameter would get no gradient: this is checked in backward, and refused).
    """
    name = getattr(f, "__name__", "f")

    def forward(*arrays: np.ndarray) -> np.ndarray:
        with no_grad():
            out = f(*[Tensor(a) for a in arrays])
        if not isinstance(out, Tensor):
            raise TypeError(f"checkpoint({name}): f must return one Tensor, got {type(out).__name__}")
        return unwrap(out)

    def recompute(g: Any, ans: Any, *inputs: Any) -> tuple:
        graph = isinstance(g, Tensor)  # create_graph: differentiate through the inputs themselves
        # under create_graph each argument passes through its own identity op, so that a tensor given
        # twice (checkpoint(f)(x, x)) gets each position's share once, not the total at both positions
        leaves = [_own_node(x) for x in inputs] if graph else [Tensor(x, requires_grad=True) for x in inputs]
        with enable_grad():
            out = f(*leaves)
            _refuse_closed_over(name, out, leaves)
            wanted = [t for t in leaves if t.requires_grad]
            grads = iter(_gradients([out], wanted, [g], create_graph=graph))
        return tuple((next(grads) if graph else unwrap(next(grads))) if t.requires_grad else None for t in leaves)

    op = Op(f"checkpoint({name})", forward, recompute)

    def checkpointed(*args: Any) -> Tensor:
        return op(*args)
    return _named(checkpointed, "checkpoint", f)


def _own_node(x: Tensor) -> Tensor:
    """x through an identity op when it requires grad: a node of its own, differentiable back to x."""
    return x * 1 if x.requires_grad else x


def _refuse_closed_over(name: str, out: Any, inputs: list[Tensor]) -> None:
    """A leaf that requires grad, reached from f's output but not through its inputs, came from a closure."""
    if not (isinstance(out, Tensor) and out.requires_grad):
        return
    reachable = {id(t) for t in walk([t for t in inputs if t.requires_grad])}
    foreign = [t for t in walk([out]) if t.is_leaf and id(t) not in reachable]
    if foreign:
        raise GraphError(f"checkpoint({name}): f uses a tensor of shape {foreign[0].shape} that requires grad "
                         f"but is not an argument, so its gradient would be lost; pass it as an argument")


