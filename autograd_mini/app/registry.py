"""The registry of document experiments: each is a small record the command line, the audit
and the pictures can all use. Each model module in `autograd_mini.models` registers its own
experiments here; `experiments.py` loads the models and looks them up."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..train import History


@dataclass
class RunResult:
    """What `autograd-mini run` shows: the document's lines, the recorded histories, and a summary."""
    lines: list[str]
    histories: dict[str, History]
    summary: list[str] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)


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


@dataclass
class Experiment:
    name: str                  # e.g. "000.alphas"
    document: str              # the source document's file name
    title: str
    explanation: str           # two or three sentences for the README and `list`
    run: Callable[..., RunResult]                        # run(grad="autodiff", quiet=False)
    audit_case: Callable[[], AuditCase] | None = None
    graph: Callable[[], Any] | None = None                # (loss Tensor, params) of one training step
    plot: Callable[[RunResult, str], list[str]] | None = None


REGISTRY: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    REGISTRY[experiment.name] = experiment
    return experiment
