"""Benchmarks of autograd_mini: `python -m benchmarks` (the same as `autograd-mini bench`).

The runnable code lives in `autograd_mini.bench`, so the installed command reaches it too; this
package is the entry point from a checkout, plus standalone scripts such as bench_graph.py.
"""
from autograd_mini.bench import WORKLOADS, Workload, contender, main, register_workload  # noqa: F401
