"""A quick interleaved timing of W1's contenders (`python -m benchmarks.interleaved [ROUNDS]`): each
round runs 2,000 steps of every contender in turn (who goes first rotating); prints each one's
median time per step, its fastest block, and its median ratio to hand NumPy in the same round.
Run it with OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 set."""
from __future__ import annotations

import statistics
import sys
import time

from . import w1
from .harness import WORKLOADS

CONTENDERS = ["hand NumPy", "hand NumPy, loss every step", "autograd_mini compiled", "autograd_mini eager"]


def main(rounds: int = 40, steps: int = 2_000) -> None:
    problem = w1.w1_problem()
    runs = {name: WORKLOADS["W1"].contenders[name](problem)[0] for name in CONTENDERS}
    times: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    for r in range(rounds):
        for name in CONTENDERS[r % len(CONTENDERS):] + CONTENDERS[:r % len(CONTENDERS)]:
            step, t0 = runs[name], time.perf_counter()
            for _ in range(steps):
                step()
            times[name].append((time.perf_counter() - t0) / steps)
    hand = times["hand NumPy"]
    for name in CONTENDERS:
        ratios = [t / h for t, h in zip(times[name], hand)]
        print(f"{name:30s} median {statistics.median(times[name]) * 1e6:6.2f} us  fastest block "
              f"{min(times[name]) * 1e6:6.2f} us  median ratio {statistics.median(ratios):.3f}  "
              f"ratio of fastest blocks {min(times[name]) / min(hand):.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
