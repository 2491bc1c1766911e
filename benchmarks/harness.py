"""The harness: the workload registry, timing, memory, and the gradient check before timing.

What is measured, and how:
- every contender is float64 and single-threaded: OMP/OPENBLAS/MKL_NUM_THREADS=1 are set before
  NumPy loads (the command re-executes itself with them when they are missing), torch gets
  `set_num_threads(1)`, XLA gets single-threaded Eigen; the output says which settings were in force;
- before timing, each contender's gradients at the starting weights must equal the hand-written
  closed-form ones (np.allclose, rtol = atol = 1e-10); a contender that disagrees is not timed;
- timing is round-robin: in each round every contender runs a block of steps in turn, so slow drift
  of the machine hits them alike; each contender's **ratio** is the median over rounds of (its time
  per step / hand NumPy's time per step in the same round); medians of time per step are given too;
- peak memory per step with tracemalloc (NumPy's buffers are traced; torch's and XLA's are not);
- memory after a long run: resident set size and the count of live Python objects before and after
  many W1 steps (420,000 in full mode).

A step workload gives a problem and one step function per contender; an end-to-end workload gives
one run function per contender. A missing peer is reported as skipped, never as a failure.
"""
from __future__ import annotations

import gc
import importlib
import os
import statistics
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "VECLIB_MAXIMUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1"}
XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
HIDE_ENV = "AUTOGRAD_MINI_BENCH_HIDE"  # comma-separated peer modules to treat as not installed (tests)
GRAD_TOL = 1e-10

# settings per mode: rounds of round-robin timing, target seconds per timed block, long-run steps
MODES = {
    "full": dict(rounds=21, block=0.05, long_steps=420_000, w2_block=0.25),
    "quick": dict(rounds=7, block=0.01, long_steps=20_000, w2_block=0.04),
    "smoke": dict(rounds=3, block=0.002, long_steps=2_000, w2_block=0.0),
}



class Missing(Exception):
    """A contender cannot run here (a peer not installed, a hook not filled): reported as skipped."""


def _import(name: str) -> Any:
    hidden = {h.strip() for h in os.environ.get(HIDE_ENV, "").split(",") if h.strip()}
    if name.split(".")[0] in hidden:
        raise Missing(f"{name.split('.')[0]} not installed (hidden by {HIDE_ENV})")
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise Missing(f"{name.split('.')[0]} not installed ({error.__class__.__name__}: {error}); "
                      f"`pip install -e .[bench]` adds it") from None


# ---- the registry ----------------------------------------------------------------------------

@dataclass
class Problem:
    """One workload's data and starting weights (NumPy float64), plus its hand-written gradient."""
    data: dict[str, np.ndarray]
    params: dict[str, np.ndarray]
    lr: float
    hand_grads: Callable[[dict[str, np.ndarray]], tuple[float, dict[str, np.ndarray]]]


# a contender factory takes the Problem and returns (step, grads): `step()` does one training step
# (forward, backward, SGD update on the contender's own copy of the weights) and returns the loss;
# `grads()` returns {name: gradient as NumPy} at the starting weights, for the check.
Factory = Callable[[Problem], tuple[Callable[[], Any], Callable[[], dict[str, np.ndarray]]]]


@dataclass
class Workload:
    name: str
    description: str
    kind: str = "step"                                     # "step" or "end_to_end"
    problem: Callable[[], Problem] | None = None           # step workloads
    contenders: dict[str, Factory] = field(default_factory=dict)
    runs: Callable[[str], dict[str, Callable[[], Any]]] | None = None  # end-to-end: mode -> {name: run}
    long_run: bool = False                                 # also measure memory over many steps


WORKLOADS: dict[str, Workload] = {}


def register_workload(workload: Workload) -> Workload:
    WORKLOADS[workload.name] = workload
    return workload


def contender(workload: str, name: str) -> Callable[[Factory], Factory]:
    """Decorator: add a contender to a registered workload."""
    def add(factory: Factory) -> Factory:
        WORKLOADS[workload].contenders[name] = factory
        return factory
    return add

# ---- measuring -------------------------------------------------------------------------------

def _check_grads(name: str, got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> str | None:
    for key, expected in want.items():
        value = np.asarray(got.get(key), dtype=np.float64)
        if value.shape != expected.shape:
            return f"gradient of {key} has shape {value.shape}, hand NumPy's {expected.shape}"
        if not np.allclose(value, expected, rtol=GRAD_TOL, atol=GRAD_TOL):
            worst = float(np.max(np.abs(value - expected)))
            return f"gradient of {key} differs from hand NumPy's by up to {worst:.3g} (tolerance {GRAD_TOL:g})"
    return None


def _peak_bytes(step: Callable[[], Any]) -> int:
    """Bytes allocated at the peak of one step, above what was live before it (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        step()  # warm: first-call caches belong to setup, not to the step
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        step()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def _block_size(step: Callable[[], Any], seconds: float) -> tuple[int, int]:
    """Steps per timed block, and how many steps finding it took."""
    t0 = time.perf_counter()
    step()
    once = max(time.perf_counter() - t0, 1e-7)
    n, calls = 1, 1
    while True:  # grow until a block takes long enough to time
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        calls += n
        took = time.perf_counter() - t0
        if took >= seconds / 4 or n >= 1_000_000:
            return max(1, int(n * seconds / max(took, once))), calls
        n *= 4


def run_step_workload(workload: Workload, mode: str, only: set[str] | None, log: Callable[[str], None]) -> dict:
    """Check every contender's gradients, time the ones that agree round-robin, measure their memory."""
    settings = MODES[mode]
    result: dict[str, Any] = {"description": workload.description, "contenders": {}}
    try:
        problem = workload.problem()  # type: ignore[misc]
    except Missing as why:
        result["skipped"] = str(why)
        log(f"{workload.name}: skipped: {why}")
        return result
    steps = _checked_steps(workload, problem, only, result["contenders"], log)
    block = settings["w2_block"] if workload.name == "W2" and settings["w2_block"] else settings["block"]
    per_step, sizes, calls = _time_round_robin(steps, settings["rounds"], block)
    hand_times = per_step["hand NumPy"]
    for name, times in per_step.items():
        ratios = [t / h for t, h in zip(times, hand_times)]
        result["contenders"][name].update(
            median_s=statistics.median(times), min_s=min(times), ratio=statistics.median(ratios),
            ratio_min=min(ratios), ratio_max=max(ratios), steps_per_block=sizes[name], rounds=len(times))
    _measure_peaks(steps, result["contenders"])
    for name in steps:
        calls[name] += 2  # the peak measurement's
    _check_after_timing(workload, problem, steps, calls, result["contenders"], log)
    if workload.long_run:
        result["long_run"] = _long_run(workload, problem, settings["long_steps"], log)
    return result


def _checked_steps(workload: Workload, problem: Problem, only: set[str] | None, entries: dict,
                   log: Callable[[str], None]) -> dict[str, Callable[[], Any]]:
    """The step of every selected contender whose gradients equal hand NumPy's; the others get a status."""
    _, hand = problem.hand_grads(problem.params)
    steps: dict[str, Callable[[], Any]] = {}
    for name, factory in workload.contenders.items():
        entry: dict[str, Any] = {}
        entries[name] = entry
        if only and name != "hand NumPy" and not any(o.lower() in name.lower() for o in only):
            entry.update(status="skipped", reason="not selected (--only)")
            continue
        try:
            step, grads = factory(problem)
            problem_error = _check_grads(name, grads(), hand)
        except Missing as why:
            entry.update(status="skipped", reason=str(why))
            log(f"{workload.name}: {name}: skipped: {why}")
            continue
        except Exception as error:  # a peer that breaks is reported, the others still run
            entry.update(status="error", reason=f"{error.__class__.__name__}: {error}")
            log(f"{workload.name}: {name}: error: {error.__class__.__name__}: {error}")
            continue
        if problem_error:
            entry.update(status="wrong gradients", reason=problem_error)
            log(f"{workload.name}: {name}: NOT TIMED: {problem_error}")
            continue
        entry["status"] = "ok"
        steps[name] = step
    return steps


def _time_round_robin(steps: dict[str, Callable[[], Any]], rounds: int, block: float) -> tuple[dict, dict, dict]:
    """Seconds per step of each contender (one block each per round, who goes first rotating), the
    steps in each one's block (sized to take about `block` seconds), and how many steps each ran."""
    sizes, calls = {}, {}
    for name, step in steps.items():
        sizes[name], calls[name] = _block_size(step, block)
    per_step: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            step, n = steps[name], sizes[name]
            t0 = time.perf_counter()
            for _ in range(n):
                step()
            per_step[name].append((time.perf_counter() - t0) / n)
            calls[name] += n
    return per_step, sizes, calls


RESULT_RTOL, RESULT_ATOL = 1e-8, 1e-10


def _check_after_timing(workload: Workload, problem: Problem, steps: dict[str, Callable[[], Any]], calls: dict,
                        entries: dict, log: Callable[[str], None]) -> None:
    """Each timed contender's weights after all its steps against hand NumPy's after as many steps (a
    fresh hand run): the timed code is the checked code. Contenders that expose no weights (peers) say so."""
    for name, step in steps.items():
        weights = getattr(step, "weights", None)
        if weights is None:
            entries[name]["after_timing"] = "not checked: the contender exposes no weights"
            continue
        hand, _ = workload.contenders["hand NumPy"](problem)
        for _ in range(calls[name]):
            hand()
        want, got = hand.weights(), weights()  # type: ignore[attr-defined]
        worst = max(float(np.max(np.abs(np.asarray(got[k]) - want[k]))) for k in want)
        same = all(np.allclose(got[k], want[k], rtol=RESULT_RTOL, atol=RESULT_ATOL) for k in want)
        entries[name]["after_timing"] = (f"weights after its {calls[name]} steps "
                                         f"{'equal' if same else 'DIFFER FROM'} hand NumPy's after as many "
                                         f"(largest difference {worst:.3g})")
        if not same:
            entries[name]["status"] = "wrong results after timing"
            log(f"{workload.name}: {name}: {entries[name]['after_timing']}")


def _measure_peaks(steps: dict[str, Callable[[], Any]], entries: dict) -> None:
    """Peak bytes per step (tracemalloc sees NumPy's buffers, not torch's or XLA's), and the ratio to hand's."""
    for name, step in steps.items():
        entry = entries[name]
        if name.startswith(("PyTorch", "JAX")):
            entry["peak_bytes"] = None
            entry["peak_note"] = "not traced: the library allocates outside Python's allocator"
            continue
        # buffers a contender keeps between steps (the traced step's) count as part of its peak
        state = getattr(step, "state_bytes", 0)
        entry["peak_bytes"] = _peak_bytes(step) + state
        if state:
            entry["peak_note"] = f"includes {state} bytes of buffers kept between steps"
    hand_peak = entries["hand NumPy"]["peak_bytes"]
    for name in steps:
        if entries[name].get("peak_bytes") is not None and hand_peak:
            entries[name]["peak_ratio"] = entries[name]["peak_bytes"] / hand_peak


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _long_run(workload: Workload, problem: Problem, steps: int, log: Callable[[str], None]) -> dict:
    """Resident memory and live Python objects before and after `steps` steps (ours and hand's)."""
    out: dict[str, Any] = {"steps": steps}
    for name in ("hand NumPy", "autograd_mini eager", "autograd_mini traced", "autograd_mini compiled"):
        try:
            step, _ = workload.contenders[name](problem)
        except Missing as why:
            out[name] = {"status": "skipped", "reason": str(why)}
            continue
        warm = min(max(1000, steps // 20), steps)
        for _ in range(warm):
            step()
        gc.collect()
        rss0, objects0 = _rss_bytes(), len(gc.get_objects())
        t0 = time.perf_counter()
        for _ in range(steps // 2):
            step()
        rss_half = _rss_bytes()  # the allocator settles in the first half; a leak keeps growing
        for _ in range(steps - steps // 2):
            step()
        seconds = time.perf_counter() - t0
        gc.collect()
        rss1, objects1 = _rss_bytes(), len(gc.get_objects())
        out[name] = {"rss_growth_bytes": rss1 - rss0, "rss_growth_second_half_bytes": rss1 - rss_half,
                     "object_growth": objects1 - objects0, "seconds": seconds}
        log(f"{workload.name}: long run {name}: {steps} steps in {seconds:.1f} s, resident memory "
            f"{(rss1 - rss0) / 1024:+.0f} KiB (second half {(rss1 - rss_half) / 1024:+.0f} KiB), "
            f"live objects {objects1 - objects0:+d}")
    return out


def run_end_to_end(workload: Workload, mode: str, log: Callable[[str], None]) -> dict:
    result: dict[str, Any] = {"description": workload.description, "contenders": {}}
    runs = workload.runs(mode) if workload.runs else {}  # type: ignore[misc]
    if not runs:
        result["skipped"] = "measured in full mode only"
        log(f"{workload.name}: skipped: {result['skipped']}")
        return result
    times: dict[str, list[float]] = {name: [] for name in runs}
    outcomes: dict[str, Any] = {}
    for _ in range(1 if mode == "smoke" else 3):
        for name, run in runs.items():
            t0 = time.perf_counter()
            outcomes[name] = run()
            times[name].append(time.perf_counter() - t0)
    base = next(iter(runs))  # the first run is the reference (the hand loop)
    for name in runs:
        ratios = [t / b for t, b in zip(times[name], times[base])]
        result["contenders"][name] = {"status": "ok", "median_s": statistics.median(times[name]),
                                      "ratio": statistics.median(ratios), "reference": base,
                                      **_compare_outcomes(outcomes[name], outcomes[base], base,
                                                          getattr(runs[name], "members", None))}
    return result


def _compare_outcomes(got: Any, want: Any, base: str, members: list[int] | None = None) -> dict:
    """A run that returns its final weights ({name: array}) is checked against the reference's; a run
    with `members` (batched weights' first-axis entries) only on those (where the others' training
    amplifies any last-bit difference, as a run within 1e-12 per step of the reference has)."""
    if not isinstance(got, dict) or not isinstance(want, dict) or got.keys() != want.keys():
        return {}
    if members is not None:
        got, want = ({k: np.asarray(v)[members] for k, v in d.items()} for d in (got, want))
        base = f"{base} (members {members})"
    worst = max(float(np.max(np.abs(np.asarray(got[k]) - want[k]))) for k in want)
    same = all(np.allclose(got[k], want[k], rtol=RESULT_RTOL, atol=RESULT_ATOL) for k in want)
    entry = {"after_timing": f"final weights {'equal' if same else 'DIFFER FROM'} {base}'s "
                             f"(largest difference {worst:.3g})"}
    if not same:
        entry["status"] = "wrong results after timing"
    return entry
