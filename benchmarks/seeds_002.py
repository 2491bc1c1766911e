"""Document 002 over many seeds: how often the 2-4-4-1 net reaches 100 % accuracy.

    python benchmarks/seeds_002.py [--seeds 20] [--epochs 2000] [--bias]

The report's data and weights are unseeded, so one run proves little; this prints, per data set,
the accuracy reached on each seed and how many seeds reach 100 %.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from autograd_mini.models import doc002


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=2000)
    parser.add_argument("--bias", action="store_true", help="give every layer a bias")
    parser.add_argument("--data", nargs="+", default=["xor", "linear"])
    args = parser.parse_args()
    for name in args.data:
        start = time.perf_counter()
        accuracies = doc002.accuracy_over_seeds(name, range(args.seeds), args.epochs, bias=args.bias)
        full = sum(a == 1.0 for a in accuracies)
        print(f"{name}: 100 % accuracy on {full} of {args.seeds} seeds after {args.epochs} epochs "
              f"({'with' if args.bias else 'no'} bias); accuracies {np.round(accuracies, 3).tolist()} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
