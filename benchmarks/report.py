"""The report: machine facts, the table, the bar chart."""
from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from .harness import THREAD_ENV


def _machine() -> dict:
    info: dict[str, Any] = {"python": platform.python_version(), "numpy": np.__version__,
                            "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                            "cpus": os.cpu_count(),
                            "thread_env": {k: os.environ.get(k) for k in THREAD_ENV}}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [{k: d.get(k) for k in ("internal_api", "num_threads", "version")} for d in threadpool_info()]
    except ImportError:
        info["blas"] = "threadpoolctl not installed: threads set through the environment only"
    return info


def _fmt_bytes(n: int | None) -> str:
    if n is None:
        return "n/a"
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MiB"


def format_table(report: dict) -> str:
    lines = []
    for wname, w in report["workloads"].items():
        lines.append(f"\n{wname}: {w['description']}")
        if "skipped" in w:
            lines.append(f"  skipped: {w['skipped']}")
            continue
        lines.append(f"  {'contender':<22} {'ratio':>7} {'(range)':>15} {'median/step':>12} {'peak mem/step':>14} "
                     f"{'mem ratio':>9}")
        for name, c in w["contenders"].items():
            if c.get("status") != "ok":
                lines.append(f"  {name:<22} {c.get('status')}: {c.get('reason')}")
                continue
            rng = f"{c['ratio_min']:.2f}-{c['ratio_max']:.2f}" if "ratio_min" in c else ""
            pr = f"{c['peak_ratio']:.2f}x" if c.get("peak_ratio") is not None else "n/a"
            lines.append(f"  {name:<22} {c['ratio']:>6.2f}x {rng:>15} {c['median_s'] * 1e6:>10.1f}us "
                         f"{_fmt_bytes(c.get('peak_bytes')):>14} {pr:>9}")
        if "long_run" in w:
            lr = w["long_run"]
            for name, v in lr.items():
                if isinstance(v, dict) and "rss_growth_bytes" in v:
                    lines.append(f"  long run, {name}: {lr['steps']} steps, resident memory "
                                 f"{v['rss_growth_bytes'] / 1024:+.0f} KiB (second half "
                                 f"{v['rss_growth_second_half_bytes'] / 1024:+.0f} KiB), "
                                 f"live objects {v['object_growth']:+d}")
    return "\n".join(lines)


def write_chart(report: dict, path: Path) -> str | None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    shown = {k: w for k, w in report["workloads"].items()
             if any(c.get("status") == "ok" for c in w.get("contenders", {}).values())}
    if not shown:
        return None
    fig, axes = plt.subplots(len(shown), 1, figsize=(8, 2.2 + 0.45 * 9 * len(shown)), squeeze=False)
    for ax, (wname, w) in zip(axes[:, 0], shown.items()):
        items = [(n, c["ratio"]) for n, c in w["contenders"].items() if c.get("status") == "ok"]
        names, ratios = zip(*items)
        colors = ["#777777" if n == "hand NumPy" else "#1f77b4" if n.startswith("autograd_mini") else "#ff7f0e"
                  for n in names]
        ax.barh(range(len(names)), ratios, color=colors)
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.axvline(1.0, color="black", linewidth=0.8)
        for i, r in enumerate(ratios):
            ax.text(r, i, f" {r:.2f}x", va="center", fontsize=8)
        ax.set_title(f"{wname}: time per step / hand NumPy's (same run; lower is better)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)
