"""The one training loop every experiment uses: a model, a loss, an optimizer, and where the
gradient comes from — autodiff (the default) or a hand rule that drives the same optimizer."""
from __future__ import annotations

import contextlib
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np

from .nn import Module
from .progress import Progress
from .tensor import Tensor, as_float_array, no_grad, unwrap

# A hand rule maps (parameter arrays by name, X, y) to the direction each parameter is moved
# against, i.e. what its author believes is d loss / d parameter.
Rule = Callable[[Mapping[str, np.ndarray], np.ndarray, np.ndarray], Mapping[str, np.ndarray]]


class StepInfo:
    """What one update saw: the output and loss before it, the directions used, the model after.
    On the compiled path the loss is computed only when read (and the arrays are buffers the next
    step overwrites: copy what you keep)."""
    __slots__ = ("epoch", "output", "_loss", "directions", "model")

    def __init__(self, epoch: int, output: np.ndarray, loss: Any, directions: dict[str, np.ndarray],
                 model: Module) -> None:
        self.epoch, self.output, self._loss, self.directions, self.model = epoch, output, loss, directions, model

    @property
    def loss(self) -> Any:
        if callable(self._loss):
            self._loss = self._loss()
        return self._loss


@dataclass
class History:
    """Per-epoch records: `history["loss"]` is an array over the recorded epochs."""
    label: str = ""
    rows: dict[str, list] = field(default_factory=dict)
    seconds: float = 0.0
    backend: str = "eager"  # what trained: "eager", or the derived step's back end ("numpy", "numba")

    def append(self, **values: Any) -> None:
        for name, value in values.items():
            self.rows.setdefault(name, []).append(value)

    def extend(self, **columns: Any) -> None:
        """Many records at once: each value an array whose first axis runs over the records."""
        for name, column in columns.items():
            column = np.asarray(column)
            self.rows.setdefault(name, []).extend(column.tolist() if column.ndim == 1 else list(column))

    def __getitem__(self, name: str) -> np.ndarray:
        return np.asarray(self.rows[name])

    def _repr_html_(self) -> str:  # Jupyter draws the curves (matplotlib) or shows a table of records
        from .display import history_html
        return history_html(self)

    def to_dict(self) -> dict:
        def plain(v: Any) -> Any:
            return v.tolist() if isinstance(v, np.ndarray) else (float(v) if isinstance(v, np.floating) else v)
        return {"label": self.label, "seconds": self.seconds,
                "rows": {k: [plain(v) for v in vs] for k, vs in self.rows.items()}}


_defaults = threading.local()


@contextlib.contextmanager
def eager_by_default(eager: bool = True) -> Iterator[None]:
    """Within this block (this thread), `fit` without an `eager=` argument trains eagerly (the
    command line's --eager wraps the experiments in it)."""
    previous = getattr(_defaults, "eager", False)
    _defaults.eager = eager
    try:
        yield
    finally:
        _defaults.eager = previous


def compute_directions(model: Module, loss_fn: Callable, X: Any, y: Any, rule: Rule | None,
                       params: Mapping[str, Tensor] | None = None) -> tuple[np.ndarray, Any, dict[str, Any]]:
    """Output, loss and each parameter's direction, from autodiff or from a hand rule; sets `.grad`."""
    if params is None:
        params = dict(model.named_parameters())
    if rule is None:
        for p in params.values():
            p.grad = None
        output = model(X)
        loss = loss_fn(output, y)
        loss.backward()
        directions = {name: p.grad for name, p in params.items()}
    else:
        with no_grad():
            output = model(X)
            loss = loss_fn(output, y)
        values = {name: p.data for name, p in params.items()}
        directions = dict(rule(values, np.asarray(unwrap(X)), np.asarray(unwrap(y))))
        for name, p in params.items():
            p.grad = directions[name]
    return output.data, loss.data, directions


def fit(model: Module, loss_fn: Callable[[Tensor, Any], Tensor], optimizer: Any, X: Any, y: Any, *,
        epochs: int, per_sample: bool = False, sample_axis: int = 0, rule: Rule | None = None,
        record: Callable[[StepInfo], Mapping[str, Any] | None] | None = None, record_every: int = 1,
        progress_every: int | None = None, quiet: bool = False, label: str = "", eager: bool | None = None,
        sample_losses: bool = True, backend: str = "numpy", record_epochs: Iterable[int] | None = None) -> History:
    """Train for `epochs` passes. Full batch: one update per epoch. `per_sample`: one update per
    row of X, in order (the epoch's loss is the mean of the per-sample losses seen before each
    update); `sample_axis=1` for data stacked per member of a batched model, (members, samples, ...).
    Every `record_every` epochs (epochs 0, k, 2k, ...), or after each epoch of `record_epochs`
    (0-based) when given, `record(info)` returns the values to keep. `sample_losses=False`:
    a per-sample epoch keeps no per-update losses for `info.loss` (None; progress lines still have
    it), for records that evaluate the model themselves and would pay for a loss per update.

    Autodiff runs through the compiled step (`am.derive`: the same numbers as eager, bit for bit)
    unless `eager=True` (default: `eager_by_default`, False); a hand `rule` runs eagerly. `backend`:
    the derived step's (am.derive): "numba" or "auto" run it as machine code (1e-12 relative to the
    NumPy program; a per-sample epoch with plain SGD runs as one compiled call, and so do all the
    epochs up to the next one recorded or printed). A `record` with the attribute `stacked = True`
    takes many epochs at once (`info.epoch` an array, `info.output` and `info.loss` stacked on a first
    axis; document 000's record): on the fused full-batch step with plain SGD it is called once per
    chunk of up to STACKED_CHUNK epochs run in one compiled call, and returns arrays (one row each)."""
    history = History(label=label)
    if eager is None:
        eager = getattr(_defaults, "eager", False)
    if progress_every is None:
        progress_every = max(1, epochs // 10) if epochs >= 1000 else 0
    if quiet:
        progress_every = 0
    axis = sample_axis if per_sample else None

    def make_epoch() -> tuple[EpochFn, tuple | None]:
        """The epoch function, and the SGD settings it has compiled in (None when it reads them each step)."""
        compiled = (_compiled_epoch(model, loss_fn, optimizer, X, y, axis, label, backend)
                    if rule is None and not eager else None)
        if compiled is None:
            return _eager_epoch(model, loss_fn, optimizer, X, y, axis, rule), None
        return compiled, getattr(compiled, "fused_settings", None)

    epoch_fn, compiled_from = make_epoch()
    history.backend = getattr(epoch_fn, "backend", "eager")
    progress = Progress(label or "fit", epochs) if progress_every else None
    if progress is not None and progress.mode == "off":  # no terminal, no notebook: no loss to compute for it
        progress_every = 0
    every = range(0, epochs, record_every) if record_epochs is None else record_epochs
    recorded = set(every) if record is not None else set()
    printed = set(range(progress_every - 1, epochs, progress_every)) if progress_every else set()
    # a record that takes many epochs at once (`record.stacked`), on a step that runs many with their
    # outputs stacked (the fused full-batch step): records are made inside the compiled loop, in chunks
    stacked = getattr(epoch_fn, "stacked", None) if getattr(record, "stacked", False) and record_epochs is None \
        else None
    chunks = set(range(STACKED_CHUNK - 1, epochs, STACKED_CHUNK)) if stacked is not None else set()
    stops = sorted(e for e in (chunks if stacked is not None else recorded) | printed | {epochs - 1} if 0 <= e < epochs)
    start, epoch = time.perf_counter(), -1
    for stop in stops:  # the epochs between two that are recorded or printed run as one call where they can
        count, epoch = stop - epoch, stop
        if stacked is not None:
            outputs, losses, directions = stacked(count)
            epoch_numbers = np.arange(epoch - count + 1, epoch + 1)
            kept = epoch_numbers % record_every == 0
            values = record(StepInfo(epoch_numbers[kept], outputs[kept], losses[kept], directions(), model))  # type: ignore[misc]
            if values:
                history.extend(**values)
            if compiled_from is not None and _settings_changed(optimizer, compiled_from):
                raise ValueError(f"fit [{label or 'fit'}]: a record marked `stacked` (made once per chunk of up to "
                                 f"{STACKED_CHUNK} epochs, after they ran) assigned new optimizer settings; a "
                                 f"schedule needs a record made after each epoch (without `stacked`)")
            if epoch in printed:
                progress.update(epoch + 1, float(losses[-1]), time.perf_counter() - start)  # type: ignore[union-attr]
            continue
        recording, printing = epoch in recorded, epoch in printed
        output, loss, directions = _epochs(epoch_fn, count, (recording and sample_losses) or printing)
        if recording:
            values = record(StepInfo(epoch, output, loss, directions(), model))  # type: ignore[misc]
            if values:
                history.append(**values)
            derived = getattr(epoch_fn, "derived", None)
            if ((compiled_from is not None and _settings_changed(optimizer, compiled_from))
                    or (derived is not None and derived.captured_changed())):
                # the record changed the SGD settings compiled in, or an array loss_fn captures
                epoch_fn, compiled_from = make_epoch()
        if printing:
            info_loss = loss() if callable(loss) else loss
            progress.update(epoch + 1, float(np.mean(info_loss)), time.perf_counter() - start)  # type: ignore[union-attr]
    history.seconds = time.perf_counter() - start
    return history


EpochFn = Callable[[bool], tuple[Any, Any, Callable[[], dict]]]
STACKED_CHUNK = 10_000  # epochs per compiled call when records are made inside it (their outputs kept meanwhile)


def _epochs(epoch_fn: EpochFn, count: int, wanted: bool) -> tuple[Any, Any, Callable[[], dict]]:
    """`count` epochs, the last one's results (its loss computed if `wanted`): in one call when the
    epoch function runs many (`epoch_fn.many`, the fused per-sample epoch), else one call each."""
    many = getattr(epoch_fn, "many", None)
    if many is not None:
        return many(count, wanted)
    for _ in range(count - 1):
        epoch_fn(False)
    return epoch_fn(wanted)


def _eager_epoch(model: Module, loss_fn: Callable, optimizer: Any, X: Any, y: Any, sample_axis: int | None,
                 rule: Rule | None) -> EpochFn:
    """One epoch in eager mode (or with a hand rule): (output, loss, directions); one update per
    sample along `sample_axis`, or one for the whole batch when it is None."""
    params = dict(model.named_parameters())
    rows = _rows(np.asarray(unwrap(X)), np.asarray(unwrap(y)), sample_axis) if sample_axis is not None else []

    def epoch(wanted: bool) -> tuple[Any, Any, Callable[[], dict]]:
        if sample_axis is not None:
            losses: list[Any] = []
            for xi, yi in rows:
                output, loss, directions = compute_directions(model, loss_fn, xi, yi, rule, params)
                optimizer.step()
                losses.append(loss)
            loss = np.mean(losses)
        else:
            output, loss, directions = compute_directions(model, loss_fn, X, y, rule, params)
            optimizer.step()
        return output, loss, lambda: directions
    return epoch


def _compiled_epoch(model: Module, loss_fn: Callable, optimizer: Any, X: Any, y: Any, sample_axis: int | None,
                    label: str, backend: str = "numpy") -> EpochFn | None:
    """One epoch through the derived step; plain SGD is part of the step, other optimizers step after it.
    None (with a warning) when the loss reads per-sample data as plain arrays, which a step cannot feed."""
    from .optim import SGD
    params = dict(model.named_parameters())
    # plain SGD becomes part of the compiled step (unless its step() was replaced on the instance)
    fused = type(optimizer) is SGD and not optimizer.momentum and "step" not in vars(optimizer)
    if sample_axis is not None:
        rows = _rows(as_float_array(np.asarray(unwrap(X))), as_float_array(np.asarray(unwrap(y))), sample_axis)
        # each row is copied into these tensors' own arrays (private to this fit): the step sees
        # the same array objects every time, so it never has to re-check shapes or remake views
        x_in, y_in = Tensor(rows[0][0], name="X"), Tensor(rows[0][1], name="y")
        x_row, y_row = x_in._data, y_in._data
    else:
        x_in, y_in = X, y

    def step_loss(*_: Tensor) -> tuple[Tensor, dict]:
        output = model(x_in)
        return loss_fn(output, y_in), {"output": output}

    step = _derive_or_say_why(step_loss, params, optimizer if fused else None, label, backend)
    if step is None:
        return None
    run, output = step.function, step.aux["output"]
    if sample_axis is not None and not {id(x_in), id(y_in)} <= {id(t) for t in step.data}:
        warnings.warn(f"fit [{label}]: the loss reads the per-sample data as plain arrays, so a compiled step "
                      f"cannot feed it; training eagerly", RuntimeWarning, stacklevel=3)
        return None
    directions = lambda: {name: p.grad for name, p in params.items()}  # noqa: E731

    if sample_axis is not None and fused and step.fused is not None:
        feed = {x_in: np.stack([xi for xi, _ in rows]), y_in: np.stack([yi for _, yi in rows])}

        def epochs(count: int, wanted: bool) -> tuple[Any, Any, Callable[[], dict]]:
            """`count` epochs in one compiled call (two when the last one's per-sample losses are wanted)."""
            n = len(rows)
            before = count - 1 if wanted else count
            if before:
                step.run(before * n, before * n, feed)
            losses = step.run(n, 1, feed) if wanted else None
            return output, (None if losses is None else np.mean(losses)), directions

        def epoch(wanted: bool) -> tuple[Any, Any, Callable[[], dict]]:
            return epochs(1, wanted)
        epoch.many = epochs  # type: ignore[attr-defined]
    elif sample_axis is not None:
        def epoch(wanted: bool) -> tuple[Any, Any, Callable[[], dict]]:
            losses: list[Any] | None = [] if wanted else None
            for xi, yi in rows:
                np.copyto(x_row, xi)
                np.copyto(y_row, yi)
                run()
                if losses is not None:
                    losses.append(step.loss_array())
                if not fused:
                    optimizer.step()
            return output, (None if losses is None else np.mean(losses)), directions
    else:
        def epoch(wanted: bool) -> tuple[Any, Any, Callable[[], dict]]:
            run()
            if not fused:
                optimizer.step()
            return output, step.loss_array, directions

        if fused and step.fused is not None:
            def stacked(count: int) -> tuple[np.ndarray, np.ndarray, Callable[[], dict]]:
                """`count` epochs in one compiled call: each one's output (stacked) and loss."""
                outputs = np.empty((count,) + output.shape)
                return outputs, step.run(count, 1, aux_into={"output": outputs}), directions
            epoch.stacked = stacked  # type: ignore[attr-defined]
    epoch.backend = step.backend  # type: ignore[attr-defined]
    epoch.derived = step  # type: ignore[attr-defined]
    if fused:  # what the step has compiled in, so that fit can tell when a record callback changes it
        epoch.fused_settings = _sgd_settings(optimizer)  # type: ignore[attr-defined]
    return epoch


def _derive_or_say_why(step_loss: Callable, params: dict, update: Any, label: str, backend: str = "numpy") -> Any:
    """The derived step, or None after ONE warning naming why it cannot be compiled faithfully
    (a DeriveError, or a value read while recording, which the step would keep frozen)."""
    from .derivation import DeriveError, collected_value_reads, derive
    reason = None
    with collected_value_reads() as reads:  # (per thread: fits in other threads keep their own)
        try:
            step = derive(step_loss, params, update=update, backend=backend)
        except DeriveError as error:
            reason = str(error)
    reason = reason or (reads[0] if reads else None)
    if reason is None:
        return step
    warnings.warn(f"fit [{label or 'fit'}]: training eagerly (eager's numbers), the step cannot be compiled "
                  f"faithfully: {reason}", RuntimeWarning, stacklevel=5)
    return None


def _sgd_settings(optimizer: Any) -> tuple:
    """The objects a fused SGD step was compiled from: its rate, momentum and frozen mapping."""
    d = optimizer.__dict__  # (not the validating descriptors: their __get__ would cost more than the check)
    return d["lr"], d["momentum"], d["frozen"]


def _settings_changed(optimizer: Any, settings: tuple) -> bool:
    """Has a new rate, momentum or frozen mapping been assigned since (a schedule in a record
    callback)? By identity, as a NumPy rate array has no plain `==`: changing a rate array or the
    mapping in place is not seen; assign a new one. Runs at every record, so written flat."""
    d = optimizer.__dict__
    return d["lr"] is not settings[0] or d["momentum"] is not settings[1] or d["frozen"] is not settings[2]


def _rows(X: np.ndarray, y: np.ndarray, axis: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(x, y) of each sample, in order, keeping the sample axis (length 1) so shapes stay those of a batch."""
    at = (slice(None),) * axis
    return [(X[at + (slice(i, i + 1),)], y[at + (slice(i, i + 1),)]) for i in range(X.shape[axis])]
