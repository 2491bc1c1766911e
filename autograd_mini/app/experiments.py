"""Looking up the documents' experiments: importing `models` registers them."""
from __future__ import annotations

import models  # noqa: F401  (importing the models registers their experiments)

from ..lab.registry import REGISTRY, Experiment


class UsageError(Exception):
    """A name or an option the user gave that does not fit: the command line prints its usage and
    exits 2. Anything else that escapes a command is a bug and shows its traceback."""


def all_experiments() -> dict[str, Experiment]:
    return REGISTRY


def select(name: str) -> list[Experiment]:
    """'all', a full name ('001.frozen') or a document prefix ('001')."""
    experiments = all_experiments()
    if name == "all":
        return list(experiments.values())
    chosen = [e for key, e in experiments.items() if key == name or key.split(".")[0] == name]
    if not chosen:
        raise UsageError(f"unknown experiment {name!r}; `autograd-mini list` shows the names")
    return chosen
