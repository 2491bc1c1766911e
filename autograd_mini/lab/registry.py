"""The registry of document experiments: each is a small record the command line, the audit
and the pictures can all use. Each model module in `models` registers its own
experiments here; `experiments.py` loads the models and looks them up."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..train import History
from .reproduce import Printed, tally


@dataclass
class RunResult:
    """What `autograd-mini run` shows: the run's lines in the document's format, the recorded histories,
    a summary, and each line the document printed next to ours (`printed`).

    one_column: why the document's rule and autodiff are one run (then `printed` has no autodiff
    values), or None when they differ and both are shown."""
    lines: list[str]
    histories: dict[str, History]
    summary: list[str] = field(default_factory=list)
    printed: list[Printed] = field(default_factory=list)
    one_column: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # short: the histories can hold thousands of records
        counts = self.reproduction()
        return (f"RunResult({len(self.lines)} lines, histories {sorted(self.histories)}, {counts['printed']} printed "
                f"numbers, {counts['reproduced']} reproduced to their printed digits)")

    def _repr_html_(self) -> str:  # a notebook shows the printed-vs-ours table
        from .tables import result_html
        return result_html(self)

    def reproduction(self) -> dict:
        """How many printed numbers reproduced to their printed digits, and why the others did not."""
        return tally(self.printed)


@dataclass
class AuditCase:
    """A hand rule next to the loss it is meant to be the gradient of, at points to check it."""
    loss_fn: Callable          # params (name -> Tensor) -> scalar Tensor
    params: dict               # name -> initial array
    rule: Callable             # params (name -> array) -> name -> direction array
    points: list               # further parameter dicts (e.g. along the training trajectory)
    loss_name: str             # e.g. "½·SSE", "MSE"
    data_size: int | None = None
    lr: float | None = None
    steps: int | None = None
    step: Callable | None = None  # (params, direction) -> params, where the update is not plain p - lr·d
    rule_source: str | None = None  # where the rule is not the document's own code, e.g. our reconstruction


@dataclass
class Experiment:
    name: str                  # e.g. "000.alphas"
    document: str              # the source document's file name
    title: str
    explanation: str           # two or three sentences for docs/experiments.md and `list`
    run: Callable[..., RunResult]                        # run(grad="both"|"autodiff"|"document", quiet=False[, full])
    audit_case: Callable[[], AuditCase] | None = None
    graph: Callable[[], Any] | None = None                # (loss Tensor, params) of one training step
    plot: Callable[[RunResult, str], list[str]] | None = None
    full_schedule: str | None = None  # where the run is shorter than the document's: what `run --full` runs


REGISTRY: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    REGISTRY[experiment.name] = experiment
    return experiment
