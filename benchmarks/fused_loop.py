"""W1's training loop inside one compiled call: hand NumPy's 60,000-step loop against the fused
back end's `Derived.run` and a hand-written numba loop, interleaved, medians; compile time apart.

    OMP_NUM_THREADS=1 python -m benchmarks.fused_loop [--steps 60000] [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable


from .w1 import _am_w1, _hand_numba_kernel, _w1_hand, w1_problem


def loops(steps: int) -> tuple[dict[str, Callable[[], None]], dict[str, float]]:
    """Each contender's loop of `steps` steps from the starting weights, and its first-call (compile) seconds."""
    import autograd_mini as am
    pb = w1_problem()
    hand, _ = _w1_hand(pb, 10_000)
    _, params, loss_fn = _am_w1(pb)
    started = time.perf_counter()
    derived = am.derive(loss_fn, params, update=am.optim.SGD(params, lr=pb.lr), backend="numba")
    derived.run(1)
    compile_seconds = {"autograd_mini fused loop": time.perf_counter() - started}
    contenders = {"hand NumPy loop": lambda: [hand() for _ in range(steps)],
                  "autograd_mini fused loop": lambda: derived.run(steps, 10_000)}
    kernel = _hand_numba_kernel()
    if kernel is not None:
        x, y = pb.data["x"], pb.data["y"]
        w0, w1 = pb.params["w0"].copy(), pb.params["w1"].copy()
        started = time.perf_counter()
        kernel[1](1, x, y, w0, w1, pb.lr)
        compile_seconds["hand numba loop"] = time.perf_counter() - started
        contenders["hand numba loop"] = lambda: kernel[1](steps, x, y, w0, w1, pb.lr)
    if derived.backend != "numba":
        contenders.pop("autograd_mini fused loop")
    return contenders, compile_seconds


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    contenders, compile_seconds = loops(args.steps)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.repeats):  # interleaved: each round runs every contender once
        for name, run in contenders.items():
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    base = statistics.median(times["hand NumPy loop"])
    print(f"W1 loop of {args.steps:,} steps, medians of {args.repeats} interleaved repeats")
    for name, ts in times.items():
        median = statistics.median(ts)
        print(f"  {name:<26} {median * 1e6 / args.steps:8.3f} us/step  {median / base:6.3f}x hand NumPy"
              + (f"  (first call {compile_seconds[name]:.1f} s)" if name in compile_seconds else ""))


if __name__ == "__main__":
    main()
