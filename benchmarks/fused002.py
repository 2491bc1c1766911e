"""Document 002's per-sample step (2->4->4->1 sigmoid, one point per update) in the fused back end's
compiled loop: microseconds per step over many steps in one `run` call (process time, so the other
jobs on a shared machine count less), and the first call's compile time apart.

    OMP_NUM_THREADS=1 python -m benchmarks.fused002 [--steps 1000000]
"""
from __future__ import annotations

import argparse
import time


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    import numpy as np
    import autograd_mini as am
    from autograd_mini.losses import half_sse
    from autograd_mini.optim import SGD
    from models import doc002
    rng = np.random.RandomState(1)
    X, y = doc002.dataset("linear", rng)
    model = doc002.LabNet(rng)
    x_in, y_in = am.Tensor(X[:1], name="X"), am.Tensor(y[:1], name="y")
    started = time.perf_counter()
    step = am.derive(lambda *_: half_sse(model(x_in), y_in), dict(model.named_parameters()),
                     update=SGD(model.parameters(), lr=doc002.LEARNING_RATE), backend="numba")
    feed = {x_in: X[:, None, :], y_in: y[:, None, :]}
    step.run(len(X), len(X), feed)
    print(f"first call (derive, compile or load from the cache): {time.perf_counter() - started:.1f} s wall; "
          f"back end {step.backend}" + (f" ({step.fallback_reason})" if step.fallback_reason else ""))
    started = time.process_time()
    step.run(args.steps, args.steps, feed)
    seconds = time.process_time() - started
    print(f"{args.steps:,} steps in one run call: {seconds:.2f} s CPU, {seconds / args.steps * 1e6:.3f} us/step")


if __name__ == "__main__":
    main()
