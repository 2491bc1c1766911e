"""Pass 6 of `derive`: the derived step."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from ..errors import ShapeError
from ..tensor import Tensor

if TYPE_CHECKING:  # (fused imports this module)
    from ..fused import FusedStep
from .names import _identifier, name_values
from .plan import Plan, add_update, layout, make_plan, place_buffers
from .program import Program
from .record import record
from .refusals import DeriveError
from .render import Renderer, _update_settings, render_equations, render_source


class Derived:
    """A derived training step: `.function()` runs it; `.source`, `.equations` and `.names` explain it."""

    # set by fused.attach as derive makes the step: the back end that runs it, and why not numba if not
    backend: str
    fallback_reason: str | None
    fused: FusedStep | None

    def __init__(self, program: Program, plan: Plan) -> None:
        rec = program.rec
        self.params, self.data = rec.inputs[:rec.n_params], rec.inputs[rec.n_params:]
        self.input_names = list(rec.names)
        renderer = Renderer(program, plan)
        self.source = render_source(program, plan, renderer)
        self.equations = render_equations(program, plan, renderer)
        self.names: dict[str, list[Tensor]] = {v.name: v.nodes for v in program.values if v.name and v.nodes}
        env = renderer.env
        env["refuse"] = self._refuse
        self.captured = list(program.captured.values())
        self.bindings = list(program.bindings.values())
        env["check_captured"] = self.check_captured
        env["busy"] = self._busy = threading.Lock()
        self.update = program.update
        self._settings = _update_settings(program.update) if program.update is not None else {}
        self.constants: dict[str, tuple] = {v.name: v.shape for v in program.values
                                            if v.kind == "const" and v.captured}
        exec(compile(self.source, "<autograd_mini.derivation>", "exec"), env)
        self.function: Callable[[], None] = env["step"]
        self._loss: Callable[[], Any] = env["loss"]
        self.equations_arguments: dict[str, Any] = dict(renderer.arguments)  # what `.equations`' step takes by name
        plain: dict[str, Any] = {"np": np}  # the plain form runs with NumPy alone (tests check it)
        exec(compile(self.equations, "<autograd_mini.derivation equations>", "exec"), plain)
        self.equations_function: Callable[..., tuple] = plain["step"]
        self.equations_function.__kwdefaults__ = {**(self.equations_function.__kwdefaults__ or {}),
                                                  **self.equations_arguments}
        self.aux = {name: plan.buffers[id(v)] for name, v in program.aux.items()}
        self.shapes = [t.shape for t in rec.inputs]
        self.dtypes = [t.dtype for t in rec.inputs]
        self.layouts = [layout(v.array) for v in program.inputs]
        unique = {id(b): b for b in plan.buffers.values()}
        self.buffers: list[np.ndarray] = list(unique.values())
        self.nodes = sum(1 for v in program.values if v.kind == "op")
        self.calls = len(plan.main)

    def run(self, n_steps: int, record_every: int = 1, feed: Mapping[Any, np.ndarray] | None = None,
            aux_into: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """`n_steps` steps (forward, backward, update); returns the losses of steps k-1, 2k-1, ...
        (k = `record_every`). `feed` = {data tensor or name: samples stacked on a first axis}: step s
        reads sample s % len. `aux_into` = {aux name: float64 array (n_steps // k, *shape)}: filled
        with that output at each recorded step. On the numba back end all steps run in one compiled call."""
        from ..fused import run_numpy
        feed = {t: _fed_array(t, stack) for t, stack in self._fed_tensors(feed or {}).items()}
        if self.fused is not None:
            return self.exclusive(self.fused.run, n_steps, record_every, feed, aux_into)
        return run_numpy(self, n_steps, record_every, feed, aux_into)

    def _fed_tensors(self, feed: Mapping[Any, Any]) -> dict[Tensor, Any]:
        fed = {}
        for key, stack in feed.items():
            t = next((t for t in self.data if t is key or (isinstance(key, str) and t.name == key)), None)
            if t is None:
                raise ValueError(f"run: feed key {key!r} is not a data input of this step "
                                 f"(data: {[d.name for d in self.data]})")
            fed[t] = stack
        return fed

    def exclusive(self, call: Callable[..., Any], *args: Any) -> Any:
        """`call` (a fused step or run) under the NumPy program's own checks: the optimizer still has
        the settings compiled in, and one thread at a time (the buffers and gradients are shared)."""
        update = self.update.__dict__ if self._settings else {}
        if any(update[key] is not value for key, value in self._settings.items()):
            self._refuse(-1, None)
        self.check_captured()
        if not self._busy.acquire(False):
            self._refuse(-2, None)
        try:
            return call(*args)
        finally:
            self._busy.release()

    def captured_changed(self) -> str | None:
        """Which array loss_fn holds, or which name it reads, has changed since the step was derived, and how
        (None: none)."""
        for c in self.captured:
            how = c.changed()
            if how is not None:
                return f"the array {c.name} that loss_fn captured {how}"
        for b in self.bindings:
            if b.read() is not b.value:  # type: ignore[misc]  # (every watched name has a read)
                return f"the name '{b.name}' that loss_fn reads was assigned another value"
        return None

    def check_captured(self) -> None:
        changed = self.captured_changed()
        if changed is not None:
            raise DeriveError(f"derive: {changed} since the step was derived; an array or number loss_fn "
                              f"captures (from a closure, a global or an object) is a constant of the step, as it was "
                              f"then: derive again (fit does so itself when a record callback changes one), or make "
                              f"it a Tensor and assign its .data: a data input is read at every call")

    def __call__(self) -> float:
        """One step (forward, backward, update if any); returns the loss as a float (`am.trace`'s replay)."""
        self.function()
        return self._loss().item()

    def loss(self) -> float:
        """The loss of the last step, computed now (the step itself does not compute it)."""
        return self._loss().item()

    def loss_array(self) -> np.ndarray:
        """The loss of the last step as a 0-d array of the loss's dtype (a copy)."""
        return np.array(self._loss())

    @property
    def buffer_bytes(self) -> int:
        return sum(b.nbytes for b in self.buffers)

    def _refuse(self, index: int, array: Any, view: str | None = None, layout_changed: bool = False) -> None:
        if index == -1:
            raise DeriveError("derive: the optimizer's lr, momentum or frozen entries were assigned after the step "
                              "was derived with update=; the step has the old ones compiled in. Derive again "
                              "(fit does so itself when a record callback changes them)")
        if index == -2:
            raise DeriveError("derive: this derived step is already running in another thread; its buffers (and "
                              "the gradients it hands out) are shared, so one step runs at a time. Derive one step "
                              "per thread to train in several")
        n_params = len(self.params)
        tensor = (self.params + self.data)[index]
        what = (f"params[{index}]" if index < n_params else
                f"data input {index - n_params} (a Tensor loss_fn reads but did not create)")
        label = f"{what} {self.input_names[index]!r}"
        if view is not None:
            raise DeriveError(f"derive: {label} is read through a view ({view}) made when the step was derived; its "
                              f"new array (strides {getattr(array, 'strides', None)}) gives a copy there, so the step "
                              f"would train a copy. Assign an array of the original layout (np.ascontiguousarray), "
                              f"or derive again")
        shape, dtype = np.shape(array), getattr(array, "dtype", None)
        if shape != self.shapes[index]:
            raise ShapeError(f"derive: {label} had shape {self.shapes[index]} when the step was derived but has "
                             f"shape {shape} now; a derived step runs fixed shapes: derive again for the new shapes")
        if layout_changed:
            raise DeriveError(f"derive: {label} had memory layout {self.layouts[index]!r} when the step was "
                              f"derived but has {layout(array)!r} now (strides {array.strides}); eager mode's "
                              f"results, and so the order its sums add in, follow the layout: assign an array of "
                              f"the original layout (np.ascontiguousarray or np.asfortranarray), or derive again")
        raise ShapeError(f"derive: {label} had dtype {self.dtypes[index]} when the step was derived but has dtype "
                         f"{dtype} now; derive again for it ({tensor.shape})")

    def _repr_html_(self) -> str:  # Jupyter shows the equations, with the generated code folded
        from ..display import derived_html
        return derived_html(self)

    def __repr__(self) -> str:
        return (f"Derived({len(self.params)} params, {len(self.data)} data inputs, {self.nodes} ops, "
                f"{self.calls} lines per step, {self.buffer_bytes} bytes of buffers)")


def _fed_array(t: Tensor, stack: Any) -> np.ndarray:
    """Samples fed to `t` as an array of its dtype, refused where that would change a value: fractions fed
    to integer positions or labels, values other than 0 and 1 to a mask, a float64 batch to a float32 input."""
    stack = np.asarray(stack)
    what = f"run: feed for '{t.name or 'a data input'}' (shape {t.shape}, {t.dtype})"
    if stack.dtype.kind not in "biuf":
        raise TypeError(f"{what} has dtype {stack.dtype}; expected numbers")
    if t.dtype.kind in "iu" and not (stack.dtype.kind in "biu" and np.can_cast(stack.dtype, t.dtype, "safe")):
        raise TypeError(f"{what} has dtype {stack.dtype}; the input holds {t.dtype} (positions or class indices), and "
                        f"casting would change values: feed integers of a dtype that fits in {t.dtype}")
    if t.dtype.kind == "f" and stack.dtype.kind == "f" and not np.can_cast(stack.dtype, t.dtype, "safe"):
        raise TypeError(f"{what} has dtype {stack.dtype}; the input holds {t.dtype}, and casting would round: feed "
                        f"{t.dtype} (stack.astype(np.{t.dtype}))")
    if getattr(t, "_from_booleans", False) and stack.dtype.kind != "b" and not np.all((stack == 0) | (stack == 1)):
        raise ValueError(f"{what} is a mask (made from booleans) but the feed has values other than 0 and 1; feed "
                         f"booleans")
    return np.asarray(stack, dtype=t.dtype)


def derive(loss_fn: Callable[..., Any], params: Mapping[str, Tensor] | Sequence[Tensor],
           update: Any = None, backend: str = "numpy") -> Derived:
    """Record `loss_fn(*params)` (a scalar Tensor, or `(loss, {name: tensor})` to keep other results)
    and its gradient once; return the step as generated NumPy, compiled. `update`: a plain SGD
    optimizer over these params, made part of the step (`w -= lr * d_w` in place). `backend`:
    "numpy" (the NumPy program, eager's bits), "numba" (fused.py: machine code, 1e-12 relative;
    warns when it falls back to the NumPy program) or "auto" (numba where it can, silently)."""
    names, params = _named_params(params)
    program = Program(record(loss_fn, params, names))
    updates = add_update(program, update)
    plan = make_plan(program, updates)
    name_values(program)
    place_buffers(program, plan)
    derived = Derived(program, plan)
    from ..fused import attach
    attach(derived, program, plan, backend)
    fused = derived.fused
    if fused is not None:
        derived.function = lambda: derived.exclusive(fused.step)
        derived._loss = lambda: fused.last_loss
    return derived


def _named_params(params: Any) -> tuple[list[str], list[Tensor]]:
    if isinstance(params, Mapping):
        names, tensors = list(params.keys()), list(params.values())
    else:
        tensors = list(params)
        names = [t.name if isinstance(t, Tensor) and t.name else f"w{i}" for i, t in enumerate(tensors)]
    for i, p in enumerate(tensors):
        if not isinstance(p, Tensor):
            raise DeriveError(f"derive: params[{i}] is a {type(p).__name__}, not a Tensor")
        if not p.requires_grad or p.op is not None:
            raise DeriveError(f"derive: params[{i}] (shape {p.shape}) must be a leaf Tensor with requires_grad=True"
                              + (f", not the result of '{p.op_name}'" if p.op is not None else ""))
    return [_identifier(n) for n in names], tensors
