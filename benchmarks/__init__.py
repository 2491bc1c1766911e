"""Benchmarks of autograd_mini against hand-written NumPy and peer libraries.

`python -m benchmarks` or `autograd-mini bench` (the folder is the import name, installed or not).
Layout: `harness.py` (registry, timing, memory), one module per
workload with its hand-NumPy reference (`w1.py`, `w2.py`, `end_to_end.py`), `ours.py` (autograd_mini's
contenders), `peers.py` (PyTorch, HIPS autograd, MyGrad, micrograd, JAX), `report.py`, `cli.py`.
Standalone script: `bench_graph.py` (document 002's seed statistics are part of `autograd-mini run 002`).
"""
from . import end_to_end, peers, w1, w2  # noqa: F401  (registering order: workloads, then peers)
from .cli import main  # noqa: F401
from .harness import HIDE_ENV, WORKLOADS, Workload, contender, register_workload  # noqa: F401
