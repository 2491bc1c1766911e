"""`autograd-mini bench` / `python -m benchmarks`: options, single-threaded re-execution, the run."""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
import time
from pathlib import Path
from typing import Any

from autograd_mini.lab.output import ensure_writable_folder, write_json

from . import end_to_end, peers, sgd002  # noqa: F401  (register the workloads and their contenders)
from .harness import GRAD_TOL, MODES, THREAD_ENV, WORKLOADS, XLA_FLAGS, Workload, run_end_to_end, run_step_workload
from .report import _machine, format_table, write_chart

DESCRIPTION = ("Benchmarks: autograd_mini against hand-written NumPy (the limit) and the libraries people would "
               "pick instead.")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="autograd-mini bench", description=DESCRIPTION)
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="fewer rounds and a shorter long run (under a minute)")
    group.add_argument("--smoke", action="store_true", help="the least that exercises every path (for tests)")
    ap.add_argument("--workloads", default="W1,W2,sweep,sgd002,experiments",
                    help=f"comma-separated, from: {', '.join(WORKLOADS)} (default: all)")
    ap.add_argument("--only", default="", help="comma-separated contender names (substrings) besides hand NumPy")
    ap.add_argument("--json", default="bench-out/bench.json", help="where to write the results (default %(default)s)")
    ap.add_argument("--chart", default=None, help="bar chart PNG (default: next to the JSON)")
    ap.add_argument("--no-long-run", action="store_true", help="skip the memory-over-many-steps measurement")
    ap.add_argument("--no-reexec", action="store_true", help=argparse.SUPPRESS)
    return ap


def _single_threaded() -> bool:
    return all(os.environ.get(k) == v for k, v in THREAD_ENV.items()) and os.environ.get("XLA_FLAGS") == XLA_FLAGS


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:  # `autograd-mini bench -- --quick`
        argv = argv[1:]
    args = _parser().parse_args(argv)
    ensure_writable_folder(Path(args.json).parent)  # a bad --json path is found now, not after the benchmark
    if not _single_threaded() and not args.no_reexec:
        # BLAS reads its thread count when NumPy loads, which has happened: start again with it set
        env = {**os.environ, **THREAD_ENV, "XLA_FLAGS": XLA_FLAGS}
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, "-m", __spec__.parent, *argv], env)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    only = {o.strip() for o in args.only.split(",") if o.strip()} or None
    wanted = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in WORKLOADS]
    if unknown:
        print(f"bench: unknown workload(s) {', '.join(unknown)}; known: {', '.join(WORKLOADS)}", file=sys.stderr)
        return 2

    def log(message: str) -> None:
        print(message, flush=True)

    started = time.perf_counter()
    threads = ("single-threaded BLAS: " + ", ".join(f"{k}={os.environ.get(k)}" for k in THREAD_ENV)
               + "; torch.set_num_threads(1); XLA_FLAGS=" + os.environ.get("XLA_FLAGS", "(unset)"))
    log(f"autograd_mini bench, {mode} mode, float64, {threads}")
    log("ratios = time per step / hand NumPy's time per step in the same round, median over "
        f"{MODES[mode]['rounds']} interleaved rounds")
    report: dict[str, Any] = {"date": _dt.datetime.now().isoformat(timespec="seconds"), "mode": mode,
                              "machine": _machine(), "threads": threads, "gradient_tolerance": GRAD_TOL,
                              "workloads": {}}
    for wname in wanted:
        workload = WORKLOADS[wname]
        if workload.kind == "step":
            if args.no_long_run:
                workload = Workload(**{**workload.__dict__, "long_run": False})
            report["workloads"][wname] = run_step_workload(workload, mode, only, log)
        else:
            report["workloads"][wname] = run_end_to_end(workload, mode, log)
    report["seconds"] = time.perf_counter() - started
    print(format_table(report))
    json_path = write_json(args.json, report, indent=2)
    chart = write_chart(report, Path(args.chart) if args.chart else json_path.with_suffix(".png"))
    log(f"\nwrote {json_path}" + (f" and {chart}" if chart else " (no chart: matplotlib not installed)")
        + f" in {report['seconds']:.1f} s")
    return 0

