"""Pass 1 of `derive`: record."""
from __future__ import annotations

import dis
import inspect
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Mapping

import numpy as np

from ..tensor import Op, Tensor, backprop, enable_grad, recording, substituted_vjps, walk
from .refusals import _LIBRARIES, DeriveError, _warn_value_read


@dataclass
class Recording:
    """The recorded step: forward graph, gradient graph, and which tensors are inputs."""
    loss: Tensor
    aux: dict[str, Tensor]
    inputs: list[Tensor]            # the params, then the data tensors
    names: list[str]                # a Python name for each input
    n_params: int
    grads: list[Tensor | None]      # each param's gradient, as a node of the gradient graph
    grad_of: dict[int, Tensor]      # id(forward node) -> its gradient node (for naming)
    forward: set[int]               # ids of the forward graph's nodes
    impure: dict[int, str]          # id(constant made from an array inside a VJP) -> that op's name
    sources: dict[int, list]        # id(constant made from arrays or Tensors loss_fn holds) -> those
    reached: list[Binding]          # the values loss_fn reaches by name (its globals, closure, defaults)


def record(loss_fn: Callable, params: list[Tensor], names: list[str]) -> Recording:
    """Run `loss_fn(*params)` once and its gradient once, tracing every op that reads a tensor
    `loss_fn` did not create (as JAX traces what its arguments reach); no user tensor is changed."""
    made: dict[int, Tensor] = {}  # tensors loss_fn created (and values computed from them alone)
    sources: dict[int, Any] = {}
    random_state = np.random.get_state(legacy=False)
    loss, aux = _run(loss_fn, params, made, sources)
    if not _same_random_state(random_state, np.random.get_state(legacy=False)):
        raise DeriveError("derive: loss_fn drew random numbers from np.random while it was recorded (dropout?); a "
                          "derived step would keep this one draw at every step. Train it eagerly, or pass the "
                          "random mask in as a data Tensor (assign a new draw to its .data before each step)")
    forward = walk([loss, *aux.values()], grad_only=False)
    # a second recording must make the same constants: one drawn anew at each call (a dropout mask from a
    # np.random.Generator, Python's random) would otherwise stay the first draw at every step
    again = _run(loss_fn, params, {}, {}, quiet=True)
    _same_recordings(forward, walk([again[0], *again[1].values()], grad_only=False), made)
    captured, impure = _record_backward(loss, forward, made)
    ours = {id(p) for p in params}
    data = [t for t in forward if t.op is None and id(t) not in ours and id(t) not in made]
    grads = [captured.get(id(p)) for p in params]
    for p, g, name in zip(params, grads, names):
        if g is not None and g.shape != p.shape:
            raise DeriveError(f"derive: the gradient of {name} (shape {p.shape}) came out with shape {g.shape}")
    data_names = [t.name or f"data_{i}" for i, t in enumerate(data)]
    return Recording(loss, aux, params + data, names + data_names, len(params), grads,
                     captured, {id(t) for t in forward}, impure, sources, _reached(loss_fn))


def _same_recordings(first: list[Tensor], second: list[Tensor], made: dict) -> None:
    """Refuse two recordings of loss_fn that ran other ops or gave an op other constants."""
    def differ(t: Tensor, what: str) -> DeriveError:
        return DeriveError(f"derive: {what} '{t.op_name or 'a constant'}' (shape {t.shape}) differ between two "
                           f"recordings of loss_fn: it makes them anew at each call (a random draw such as a dropout "
                           f"mask from a np.random.Generator or Python's random?); a derived step would keep one of "
                           f"them at every step. Train it eagerly, or pass the values in as a data Tensor and assign "
                           f"a new draw to its .data before each step")
    if [t.op_name for t in first] != [t.op_name for t in second]:
        at = next((i for i, (a, b) in enumerate(zip(first, second)) if a.op_name != b.op_name),
                  min(len(first), len(second)) - 1)
        raise differ(first[at], "the ops recorded at")
    for at, (a, b) in enumerate(zip(first, second)):
        if a.shape != b.shape or a.dtype != b.dtype:
            raise differ(a, "the shapes or dtypes of")
        if a.op is None and id(a) in made and not np.array_equal(_bits(a._data), _bits(b._data)):
            user = next((t for t in first[at:] if any(p is a for p in t.parents)), a)
            raise differ(user, "the constants given to")
        if a.op is not None and not _same_params(a.op_params, b.op_params):
            raise differ(a, "the parameters of")


def _same_params(a: Mapping, b: Mapping) -> bool:
    return a.keys() == b.keys() and all(_same_param(a[k], b[k]) for k in a)


def _same_param(a: Any, b: Any) -> bool:
    if isinstance(a, (tuple, list)):  # (an index tuple holding arrays: compared by what it holds)
        return isinstance(b, type(a)) and len(a) == len(b) and all(_same_param(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and np.array_equal(_bits(a), _bits(b)))
    try:
        return bool(a == b) or a is b
    except (TypeError, ValueError):
        return a is b


def _bits(array: Any) -> np.ndarray:
    """The array's bits as unsigned integers (NaN equals NaN, -0.0 differs from 0.0), a view of the same memory."""
    array = np.asarray(array)
    return array.view(f"u{array.itemsize}") if array.itemsize in (1, 2, 4, 8) and array.dtype.kind != "O" else array


@dataclass
class Binding:
    """A name `loss_fn` reads a value by (a global, a closure variable, an object's attribute): the step
    keeps the value it had when derived, so a call checks (by identity) that the name still holds it."""
    name: str
    value: Any
    read: Callable[[], Any] | None  # None: a default argument (nothing outside can assign it)
    direct: bool                    # the code names it itself (not an attribute of an object it names)


_WATCHED = (np.ndarray, Tensor, int, float, complex, np.generic, list, tuple)  # (values, not functions or objects)
_MISSING = object()


def _reached(fn: Any, depth: int = 3) -> list[Binding]:
    """The values `fn` reaches by name: its closure, defaults and the globals its code loads, through the
    functions found there, and one attribute further (`model.mask`, `self.scale` of a method)."""
    method = type(fn).__dict__.get("__call__")
    if not hasattr(fn, "__code__") and inspect.isfunction(method):
        fn = method.__get__(fn)  # (an object called as loss_fn: its class's __call__, bound)
    code = getattr(fn, "__code__", None)
    if code is None or depth == 0:
        return []
    named = [Binding(n, c.cell_contents, partial(_contents, c), True)
             for n, c in zip(code.co_freevars, fn.__closure__ or ()) if _filled(c)]
    # a library's globals (this package's, NumPy's) are its own state, not values loss_fn holds
    scope = {} if code.co_filename.startswith(_LIBRARIES) else getattr(fn, "__globals__", {})
    named += [Binding(n, scope[n], partial(scope.get, n, _MISSING), True) for n in sorted(_globals_loaded(code))
              if n in scope]
    defaults = fn.__defaults__ or ()
    named += [Binding(n, d, None, True) for n, d in
              zip(code.co_varnames[code.co_argcount - len(defaults):code.co_argcount], defaults)]
    named += [Binding(n, d, None, True) for n, d in (fn.__kwdefaults__ or {}).items()]
    if hasattr(fn, "__self__"):
        named.append(Binding("self", fn.__self__, None, True))
    found = list(named)
    for b in named:
        if callable(b.value) and hasattr(b.value, "__code__"):
            found += _reached(b.value, depth - 1)
        elif _is_object(b.value):
            found += _attributes(b.name, b.value, 3, set())
    return found


def _is_object(value: Any) -> bool:
    """An instance holding attributes (a model, a layer, a loss object): not a module, class or function."""
    return hasattr(value, "__dict__") and not isinstance(value, (type, type(np))) and not inspect.isroutine(value)


def _attributes(name: str, holder: Any, depth: int, seen: set) -> list[Binding]:
    """The numbers and arrays an object holds as attributes, and those of the objects it holds (a model's
    layers, in lists and dicts too), `depth` objects down: `model.layers[1].scale`."""
    if depth == 0 or id(holder) in seen:
        return []
    seen.add(id(holder))
    attributes = vars(holder)  # (the object's own dict, live: read as it is, no property in between)
    found = []
    for key, held in list(attributes.items()):
        here = f"{name}.{key}"
        if isinstance(held, (np.ndarray, int, float)):
            found.append(Binding(here, held, partial(attributes.get, key, _MISSING), False))
        items = held.items() if isinstance(held, dict) else enumerate(held) if isinstance(held, (list, tuple)) else ()
        for at, item in items:
            if _is_object(item):
                found += _attributes(f"{here}[{at!r}]", item, depth - 1, seen)
        if _is_object(held):
            found += _attributes(here, held, depth - 1, seen)
    return found


def _globals_loaded(code: Any) -> set[str]:
    """The global names `code` (and the lambdas and comprehensions inside it) loads: not its attribute names."""
    names = {i.argval for i in dis.get_instructions(code) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for inner in code.co_consts:
        if inspect.iscode(inner):
            names |= _globals_loaded(inner)
    return names


def _contents(cell: Any) -> Any:
    return cell.cell_contents if _filled(cell) else _MISSING


def _filled(cell: Any) -> bool:
    try:
        return cell.cell_contents is not cell  # (always true: reading it is the test)
    except ValueError:  # (a closure variable not assigned yet)
        return False


def _same_random_state(before: dict, after: dict) -> bool:
    return before["state"]["pos"] == after["state"]["pos"] and np.array_equal(before["state"]["key"],
                                                                              after["state"]["key"])


def _note_untracked(made: dict, sources: dict) -> Callable[[Tensor], None]:
    """A data-only op result computed from loss_fn's own constants alone is one of them too (made
    from the arrays they were made from)."""
    def note(t: Tensor) -> None:
        parents = t.parents
        if all(id(p) in made for p in parents):  # (a just-made node: its parents are there)
            made[id(t)] = t
            held = [s for p in parents for s in sources.get(id(p), ())]
            if held:
                sources[id(t)] = held
    return note


def _run(loss_fn: Callable, params: list, made: dict, sources: dict, quiet: bool = False) -> tuple[Tensor, dict]:
    def on_constant(t: Tensor, from_number: bool, source: Any) -> None:
        made[id(t)] = t
        if isinstance(source, (np.ndarray, Tensor, list, tuple)):
            sources[id(t)] = [source]

    def on_value_read(t: Tensor, how: str) -> None:
        if id(t) not in made and not quiet:
            _warn_value_read(t, how)

    with recording(on_constant=on_constant, on_value_read=on_value_read,
                   on_untracked_op=_note_untracked(made, sources)), enable_grad():
        result = loss_fn(*params)
    loss, aux = result if isinstance(result, tuple) else (result, {})
    if not isinstance(loss, Tensor):
        raise DeriveError(f"derive: loss_fn must return a Tensor, got {type(loss).__name__}")
    if loss.size != 1:
        raise DeriveError(f"derive: loss_fn must return a scalar Tensor, got shape {loss.shape}")
    if not loss.requires_grad:
        raise DeriveError("derive: the loss does not depend on the params (it does not require grad)")
    if not isinstance(aux, Mapping):
        raise DeriveError(f"derive: loss_fn returned (loss, {type(aux).__name__}); the second item must be a mapping "
                          f"{{name: Tensor}} of the other results to keep")
    for name, value in aux.items():
        if not isinstance(value, Tensor):  # a step hands out buffers it computes: a number or array is no value of it
            raise DeriveError(f"derive: loss_fn's aux output {name!r} is a {type(value).__name__}, not a Tensor; a "
                              f"derived step can only hand back values it computes: return it as a Tensor computed "
                              f"from the params or data, or keep it outside loss_fn")
    return loss, dict(aux)


def _record_backward(loss: Tensor, forward: list[Tensor], made: dict) -> tuple[dict, dict]:
    """The gradient graph. Each node's VJP is substituted (on our private recording, then restored) by
    one that notes the constants it makes, so a VJP that reads values as plain arrays (a
    mask a step could not update) is caught and named."""
    # the seed "requires grad" only so that the engine records every op of the backward
    seed = Tensor(np.ones(loss.shape, dtype=loss.dtype), requires_grad=True)
    made[id(seed)] = seed
    noted: list = []
    impure: dict[int, str] = {}
    noting = [(t, _noting_constants(t.op, noted, impure)) for t in forward if t.op is not None]
    with substituted_vjps(noting), recording(on_constant=lambda t, from_number, source: noted.append((t, from_number)),
                                             on_untracked_op=_note_untracked(made, {})):
        captured = backprop([loss], [seed], retain_graph=True, create_graph=True, accumulate_leaves=False,
                            capture=forward)
    return captured, impure


def _noting_constants(op: Op, made: list, impure: dict) -> Callable[..., tuple]:
    """op's VJP, noting which op made each constant that is not from a Python number."""
    def vjp(*args: Any, **kwargs: Any) -> tuple:
        start = len(made)
        result = op.vjp(*args, **kwargs)
        for t, from_number in made[start:]:
            if not from_number:
                impure.setdefault(id(t), op.name)
        return result
    return vjp
