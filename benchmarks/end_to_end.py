"""End-to-end workloads: all of document 000's sweep, and `autograd-mini run all`."""
from __future__ import annotations

import subprocess
import sys
from typing import Any, Callable

import numpy as np

from .harness import Workload, register_workload


SWEEP_STEPS = {"full": 60_000, "quick": 3_000, "smoke": 200}


def sweep_runs(mode: str) -> dict[str, Callable[[], Any]]:
    """Document 000 end to end (7 alphas; 60,000 steps each in full mode): the document's NumPy loop
    run seven times (the reference), seven separate eager runs, and the batched sweep."""
    from autograd_mini.models import doc000
    steps = SWEEP_STEPS[mode]

    def hand() -> None:
        X, y = doc000.X, doc000.y
        for alpha in doc000.alphas:
            np.random.seed(1)
            params = {"synapse_0": 2 * np.random.random((3, 4)) - 1, "synapse_1": 2 * np.random.random((4, 1)) - 1}
            for _ in range(steps):
                directions = doc000.document_rule(params, X, y)
                for name in params:
                    params[name] = params[name] - alpha * directions[name]

    def eager_separate() -> None:
        for alpha in doc000.alphas:
            doc000.train_alphas("autodiff", steps=steps, learning_rates=[alpha])

    return {"hand NumPy x7": hand, "autograd_mini eager x7": eager_separate,
            "autograd_mini batched sweep": lambda: doc000.train_alphas("autodiff", steps=steps)}


def experiments_runs(mode: str) -> dict[str, Callable[[], Any]]:
    """`autograd-mini run all --quiet` end to end, as a user runs it (its own process, start-up
    included; the command imports the benchmarks, so they do not import it), full mode only."""
    if mode != "full":
        return {}
    command = [sys.executable, "-m", "autograd_mini", "run", "all", "--quiet"]
    return {"autograd-mini run all": lambda: subprocess.run(command, check=True, stdout=subprocess.DEVNULL)}


register_workload(Workload("sweep", "all of document 000 (7 alphas x 60,000 steps) end to end",
                           kind="end_to_end", runs=sweep_runs))
register_workload(Workload("experiments", "`autograd-mini run all` end to end", kind="end_to_end",
                           runs=experiments_runs))
