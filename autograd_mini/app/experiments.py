"""Looking up the documents' experiments: importing `autograd_mini.models` registers them."""
from __future__ import annotations

from .. import models  # type: ignore[attr-defined]  # noqa: F401 (models/ joins the package when installed; importing them registers their experiments)
from .registry import REGISTRY, Experiment


def all_experiments() -> dict[str, Experiment]:
    return REGISTRY


def select(name: str) -> list[Experiment]:
    """'all', a full name ('001.frozen') or a document prefix ('001')."""
    experiments = all_experiments()
    if name == "all":
        return list(experiments.values())
    chosen = [e for key, e in experiments.items() if key == name or key.split(".")[0] == name]
    if not chosen:
        raise KeyError(f"unknown experiment {name!r}; `autograd-mini list` shows the names")
    return chosen
