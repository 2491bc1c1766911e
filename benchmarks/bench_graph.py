"""How long drawing a big graph takes: draw_graph (walk, gradients, collapsing) and rendering an SVG.

    .venv/bin/python benchmarks/bench_graph.py

Prints one line per graph: tensors, nodes drawn, seconds to draw, seconds to render with `dot`
(or "no dot" when the program is missing).
"""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import autograd_mini as am
from autograd_mini import nn


def tanh_chain(n: int = 10_000) -> am.Tensor:
    h = am.Tensor(np.linspace(-2, 2, 8), requires_grad=True, name="x")
    for _ in range(n):
        h = h.tanh()
    return h.sum()


def recurrence(n: int = 5_000) -> am.Tensor:
    W = am.Tensor(0.5 * np.eye(8), requires_grad=True, name="W")
    h = am.Tensor(np.ones((1, 8)))
    for _ in range(n):
        h = (h @ W).tanh()
    return h.sum()


def deep_model(layers: int = 2_000) -> am.Tensor:
    np.random.seed(0)
    model = nn.Sequential(*[m for _ in range(layers) for m in (nn.Linear(8, 8), nn.Tanh())])
    return model(am.Tensor(np.ones((4, 8)))).sum()


def wide_sum(n: int = 10_000) -> am.Tensor:
    total = am.Tensor(np.zeros(2))
    for i in range(n):
        total = total + am.Tensor(np.full(2, i / n), requires_grad=True, name=f"w{i}").tanh()
    return total.sum()


def main() -> None:
    out = Path(tempfile.mkdtemp())
    for build in (tanh_chain, recurrence, deep_model, wide_sum):
        loss = build()
        loss.backward(retain_graph=True)  # so every node shows its gradient, the slow case
        start = time.perf_counter()
        digraph = am.draw_graph(loss)
        drawn = time.perf_counter() - start
        tensors = len(am.pictures._Graph(loss, {}).tensors)
        nodes = sum(1 for line in digraph.body if line.lstrip().startswith("n") and "->" not in line)
        if shutil.which("dot"):
            start = time.perf_counter()
            am.render_graph(digraph, out / f"{build.__name__}.svg")
            rendered = f"{time.perf_counter() - start:.2f} s"
        else:
            rendered = "no dot"
        print(f"{build.__name__:12s} {tensors:>7,} tensors -> {nodes:>3} nodes   "
              f"draw_graph {drawn:.2f} s   render svg {rendered}")


if __name__ == "__main__":
    main()
