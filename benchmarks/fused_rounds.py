"""The fused back end against its references in interleaved rounds, medians of per-round ratios:
document 000's sweep through `fit` (7 alphas x 60,000 steps, the error recorded at every step)
against batched hand NumPy, a W2 step (digits MLP) against the NumPy program and hand NumPy, and a
small step whose unlowered ops run through NumPy inside the fused step against the NumPy program.

    OMP_NUM_THREADS=1 python -m benchmarks.fused_rounds [--rounds 5] [--w2-rounds 40] [--clock process]
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable


def interleaved(contenders: dict[str, Callable[[], object]], rounds: int, clock: Callable[[], float]) -> None:
    """Each round runs every contender once; prints medians and the median ratio to the first one."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            started = clock()
            run()
            times[name].append(clock() - started)
    base = next(iter(times))
    for name, ts in times.items():
        ratios = [t / b for t, b in zip(ts, times[base])]
        print(f"  {name:<34} {statistics.median(ts) * 1e3:9.2f} ms  {statistics.median(ratios):6.3f}x "
              f"({min(ratios):.3f}-{max(ratios):.3f})")


def sweep(rounds: int, clock: Callable[[], float]) -> None:
    from .end_to_end import _hand_batched, _project_sweep
    _project_sweep(2, eager=False, backend="numba")  # compiled or loaded from the cache, not timed
    print(f"document 000's sweep, 7 alphas x 60,000 steps, {rounds} interleaved rounds")
    interleaved({"hand NumPy batched": lambda: _hand_batched(60_000),
                 "run 000's fit on the fused step": lambda: _project_sweep(60_000, eager=False, backend="numba")},
                rounds, clock)


def w2(rounds: int, clock: Callable[[], float]) -> None:
    import autograd_mini as am
    from .w2 import _am_w2, _w2_hand, w2_problem
    problem = w2_problem()

    def derived(backend: str) -> Callable[[], object]:
        _, params, loss_fn = _am_w2(problem)
        step = am.derive(loss_fn, params, update=am.optim.SGD(params, lr=problem.lr), backend=backend)
        if step.backend != backend:
            raise SystemExit(f"W2 does not run on the {backend} back end: {step.fallback_reason}")
        return step.function
    hand, _ = _w2_hand(problem, 25)
    steps = {"the NumPy program": derived("numpy"), "fused": derived("numba"), "hand NumPy": hand}
    print(f"W2 step, {rounds} interleaved rounds of 10 steps (times per 10 steps)")
    interleaved({name: (lambda f=f: [f() for _ in range(10)]) for name, f in steps.items()}, rounds, clock)


def through_numpy(rounds: int, clock: Callable[[], float]) -> None:
    """A small step whose max and column reads have no lowering (their NumPy calls run in objmode)."""
    import numpy as np
    import autograd_mini as am

    def derived(backend: str) -> Callable[[], object]:
        w = am.Tensor(np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True, name="w")
        step = am.derive(lambda w: (w.max(axis=1) * w[:, 0]).sum(), [w], update=am.optim.SGD([w], lr=1e-6),
                         backend=backend)
        return step.function
    steps = {"the NumPy program": derived("numpy"), "fused (3 objmode calls)": derived("numba")}
    print(f"a 3 x 4 step with max and getitem, {rounds} interleaved rounds of 1,000 steps")
    interleaved({name: (lambda f=f: [f() for _ in range(1000)]) for name, f in steps.items()}, rounds, clock)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="rounds of document 000's sweep")
    ap.add_argument("--w2-rounds", type=int, default=40)
    ap.add_argument("--clock", choices=("process", "wall"), default="process",
                    help="process time (the other jobs of a shared machine count less) or wall time")
    args = ap.parse_args(argv)
    clock = time.process_time if args.clock == "process" else time.perf_counter
    sweep(args.rounds, clock)
    w2(args.w2_rounds, clock)
    through_numpy(args.w2_rounds, clock)


if __name__ == "__main__":
    main()
