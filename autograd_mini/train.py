"""The one training loop every experiment uses: a model, a loss, an optimizer, and where the
gradient comes from — autodiff (the default) or a hand rule that drives the same optimizer."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from .nn import Module
from .tensor import Tensor, no_grad

# A hand rule maps (parameter arrays by name, X, y) to the direction each parameter is moved
# against, i.e. what its author believes is d loss / d parameter.
Rule = Callable[[Mapping[str, np.ndarray], np.ndarray, np.ndarray], Mapping[str, np.ndarray]]


@dataclass
class StepInfo:
    """What one update saw: the output and loss before it, the directions used, the model after."""
    epoch: int
    output: np.ndarray
    loss: Any
    directions: dict[str, np.ndarray]
    model: Module


@dataclass
class History:
    """Per-epoch records: `history["loss"]` is an array over the recorded epochs."""
    label: str = ""
    rows: dict[str, list] = field(default_factory=dict)
    seconds: float = 0.0

    def append(self, **values: Any) -> None:
        for name, value in values.items():
            self.rows.setdefault(name, []).append(value)

    def __getitem__(self, name: str) -> np.ndarray:
        return np.asarray(self.rows[name])

    def to_dict(self) -> dict:
        def plain(v: Any) -> Any:
            return v.tolist() if isinstance(v, np.ndarray) else (float(v) if isinstance(v, np.floating) else v)
        return {"label": self.label, "seconds": self.seconds,
                "rows": {k: [plain(v) for v in vs] for k, vs in self.rows.items()}}


def compute_directions(model: Module, loss_fn: Callable, X: Any, y: Any, rule: Rule | None,
                       params: dict[str, Tensor] | None = None) -> tuple[np.ndarray, Any, dict[str, np.ndarray]]:
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
        directions = dict(rule({name: p.data for name, p in params.items()}, _array(X), _array(y)))
        for name, p in params.items():
            p.grad = directions[name]
    return output.data, loss.data, directions


def fit(model: Module, loss_fn: Callable[[Tensor, Any], Tensor], optimizer: Any, X: Any, y: Any, *,
        epochs: int, per_sample: bool = False, rule: Rule | None = None,
        record: Callable[[StepInfo], Mapping[str, Any] | None] | None = None, record_every: int = 1,
        progress_every: int | None = None, quiet: bool = False, label: str = "") -> History:
    """Train for `epochs` passes. Full batch: one update per epoch. `per_sample`: one update per
    row of X, in order (the epoch's loss is the mean of the per-sample losses seen before each
    update). Every `record_every` epochs, `record(info)` returns the values to keep."""
    history = History(label=label)
    params = dict(model.named_parameters())
    if progress_every is None:
        progress_every = max(1, epochs // 10) if epochs >= 1000 else 0
    X_rows, y_rows = _array(X), _array(y)
    start = time.perf_counter()
    for epoch in range(epochs):
        if per_sample:
            losses = []
            for i in range(len(X_rows)):
                output, loss, directions = compute_directions(model, loss_fn, X_rows[i:i + 1], y_rows[i:i + 1],
                                                              rule, params)
                optimizer.step()
                losses.append(loss)
            loss = np.mean(losses)
        else:
            output, loss, directions = compute_directions(model, loss_fn, X, y, rule, params)
            optimizer.step()
        if record is not None and epoch % record_every == 0:
            values = record(StepInfo(epoch, output, loss, directions, model))
            if values:
                history.append(**values)
        if not quiet and progress_every and (epoch + 1) % progress_every == 0:
            print(f"  [{label or 'fit'}] epoch {epoch + 1}/{epochs}  loss {np.mean(loss):.6g}  "
                  f"({time.perf_counter() - start:.1f} s)", file=sys.stderr, flush=True)
    history.seconds = time.perf_counter() - start
    return history


def _array(x: Any) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)
