"""End-to-end workloads: all of document 000's sweep, and `autograd-mini run all`."""
from __future__ import annotations

import subprocess
import sys
import time
from typing import Any, Callable

import numpy as np

from .harness import Missing, Workload, _import, register_workload

SWEEP_STEPS = {"full": 60_000, "quick": 3_000, "smoke": 200}


def _sweep_start() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Document 000's seven starts (np.random.seed(1) before each: all alike), stacked on a member axis."""
    from models import doc000
    starts = []
    for _ in doc000.alphas:
        np.random.seed(1)
        starts.append((2 * np.random.random((3, 4)) - 1, 2 * np.random.random((4, 1)) - 1))
    lr = np.asarray(doc000.alphas, dtype=float).reshape(-1, 1, 1)
    return np.stack([s[0] for s in starts]), np.stack([s[1] for s in starts]), lr


def _hand_batched(steps: int) -> dict:
    """All seven alphas as one batched NumPy computation written by hand (the reference), recording
    the mean |error| at every step, as the project's run does (000's Analysis is judged on every step)."""
    from models import doc000
    X, y = doc000.X.astype(float), doc000.y.astype(float)
    s0, s1, lr = _sweep_start()
    errors = []
    for _ in range(steps):
        l1 = 1.0 / (1.0 + np.exp(-(X @ s0)))
        l2 = 1.0 / (1.0 + np.exp(-(l1 @ s1)))
        error = l2 - y
        errors.append(np.abs(error).mean(axis=(-2, -1)))
        d2 = error * (l2 * (1.0 - l2))
        d1 = (d2 @ s1.transpose(0, 2, 1)) * (l1 * (1.0 - l1))
        s1 -= lr * (l1.transpose(0, 2, 1) @ d2)
        s0 -= lr * (X.T @ d1)
    return {"synapse_0": s0, "synapse_1": s1}


def _hand_separate(steps: int) -> dict:
    """The document's own loop, once per alpha."""
    from models import doc000
    X, y = doc000.X, doc000.y
    finals = []
    for alpha in doc000.alphas:
        np.random.seed(1)
        params = {"synapse_0": 2 * np.random.random((3, 4)) - 1, "synapse_1": 2 * np.random.random((4, 1)) - 1}
        for _ in range(steps):
            directions = doc000.document_rule(params, X, y)
            for name in params:
                params[name] = params[name] - alpha * directions[name]
        finals.append(params)
    return {name: np.stack([f[name] for f in finals]) for name in ("synapse_0", "synapse_1")}


def _project_sweep(steps: int, eager: bool, backend: str = "numpy") -> dict:
    """The sweep as `autograd-mini run 000` trains it (batched; `fit` with its record)."""
    from autograd_mini.train import eager_by_default
    from models import doc000
    with eager_by_default(eager):
        runs = doc000.train_alphas("autodiff", steps=steps, backend=backend)
    return {name: np.stack([r["weights"][name] for r in runs.values()]) for name in ("synapse_0", "synapse_1")}


def _bare_compiled_sweep(steps: int) -> dict:
    """The same batched step through am.derive without fit: the floor fit's overhead is measured from."""
    import autograd_mini as am
    from autograd_mini.losses import half_sse
    from autograd_mini.sweep import member_rates, member_sum, stack_models
    from models import doc000
    model = stack_models([doc000.TwoLayerNet() for _ in doc000.alphas])
    loss = member_sum(half_sse, additive=True)
    params = dict(model.named_parameters())

    def loss_fn(*_: Any) -> Any:
        output = model(doc000.X)
        return loss(output, doc000.y), {"output": output}
    step = am.derive(loss_fn, params, update=am.optim.SGD(model.parameters(), lr=member_rates(doc000.alphas)))
    run, output, y = step.function, step.aux["output"], doc000.y
    errors = []
    for _ in range(steps):
        run()
        errors.append(np.abs(output - y).mean(axis=(-2, -1)))
    return {name: p.data for name, p in params.items()}


def sweep_runs(mode: str) -> dict[str, Callable[[], Any]]:
    """Document 000 end to end (7 alphas; 60,000 steps each in full mode). The reference is the
    batched hand NumPy doing the same work as the project's run (the per-step error recorded)."""
    steps = SWEEP_STEPS[mode]
    import models.doc000  # noqa: F401  (imported here, not inside the first timed run)
    runs = {"hand NumPy batched": lambda: _hand_batched(steps),
            "hand NumPy x7 (the document's loop)": lambda: _hand_separate(steps),
            "autograd_mini run 000 (compiled)": lambda: _project_sweep(steps, eager=False),
            "autograd_mini run 000 (eager)": lambda: _project_sweep(steps, eager=True),
            "autograd_mini bare compiled step": lambda: _bare_compiled_sweep(steps)}
    try:
        _import("numba")
    except Missing:  # (the row is left out: the end-to-end table lists what ran)
        return runs
    started = time.perf_counter()
    _project_sweep(2, eager=False, backend="numba")  # compiled (or loaded from the cache) before timing
    print(f"sweep: the fused step compiled or loaded from the cache in {time.perf_counter() - started:.1f} s "
          f"(not timed)", flush=True)
    def fused() -> dict:
        return _project_sweep(steps, eager=False, backend="numba")
    # its weights are checked for alphas up to 10: at 100 and 1000 the training amplifies the last bits (a
    # 1-ulp nudge of the hand run's start moves their weights by about 1e-5 and 1 in 3,000 steps), and the
    # fused step equals the NumPy program to 1e-12 per step, not bit for bit (docs/backends.md)
    fused.members = [i for i, alpha in enumerate(models.doc000.alphas) if alpha <= 10]  # type: ignore[attr-defined]
    runs["autograd_mini run 000 (fused)"] = fused
    return runs


def experiments_runs(mode: str) -> dict[str, Callable[[], Any]]:
    """`autograd-mini run all --quiet` end to end, as a user runs it (its own process, start-up
    included; the command imports the benchmarks, so they do not import it), full mode only."""
    if mode != "full":
        return {}
    command = [sys.executable, "-m", "autograd_mini", "run", "all", "--quiet"]
    return {"autograd-mini run all": lambda: subprocess.run(command, check=True, stdout=subprocess.DEVNULL)}


register_workload(Workload("sweep", "all of document 000 (7 alphas; 60,000 steps each in full mode, 3,000 quick, "
                                    "200 smoke) end to end", kind="end_to_end", runs=sweep_runs))
register_workload(Workload("experiments", "`autograd-mini run all` end to end", kind="end_to_end",
                           runs=experiments_runs))
