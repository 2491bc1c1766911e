"""The benchmark runs end to end (its --smoke setting, in a subprocess as `python -m benchmarks`),
reports ratios to hand NumPy for ours, and reports missing peers as skipped, never as failures."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import benchmarks as bench
from benchmarks import harness, w1

ROOT = Path(__file__).resolve().parents[1]
PEERS = "torch,autograd,mygrad,micrograd,jax"
HIDDEN = PEERS + ",numba"  # (the fused rows compile for seconds: one test below runs them)


def run_bench(tmp_path: Path, *args: str, hide: str = HIDDEN) -> tuple[dict, str]:
    out = tmp_path / "bench.json"
    env = {**os.environ, bench.HIDE_ENV: hide}
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--smoke", "--json", str(out), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text()), proc.stdout


def test_smoke_run_reports_ratios_and_skips_missing_peers(tmp_path):
    report, stdout = run_bench(tmp_path, "--workloads", "W1,sweep,experiments")
    w1 = report["workloads"]["W1"]["contenders"]
    for name in ("hand NumPy", "hand NumPy, loss every step", "autograd_mini eager", "autograd_mini traced",
                 "autograd_mini compiled"):
        assert w1[name]["status"] == "ok", w1[name]
        assert w1[name]["ratio"] > 0 and w1[name]["median_s"] > 0 and w1[name]["peak_bytes"] >= 0
        assert "equal hand NumPy's" in w1[name]["after_timing"], w1[name]  # checked after the timed steps
    assert w1["hand NumPy"]["ratio"] == 1.0
    for name in ("PyTorch eager", "HIPS autograd", "MyGrad", "micrograd", "JAX eager", "JAX jit"):
        assert w1[name]["status"] == "skipped" and "not installed" in w1[name]["reason"], w1[name]
        assert f"{name}: skipped" in stdout
    assert not any(c["status"] in ("error", "wrong gradients") for c in w1.values())
    long_run = report["workloads"]["W1"]["long_run"]
    assert long_run["autograd_mini traced"]["object_growth"] <= 0
    sweep = report["workloads"]["sweep"]["contenders"]
    assert sweep["hand NumPy batched"]["ratio"] == 1.0
    for name in ("autograd_mini run 000 (compiled)", "autograd_mini bare compiled step",
                 "hand NumPy x7 (the document's loop)"):
        assert sweep[name]["status"] == "ok" and sweep[name]["ratio"] > 0, sweep[name]
        assert "final weights equal" in sweep[name]["after_timing"], sweep[name]
    assert "full mode only" in report["workloads"]["experiments"]["skipped"]  # `run all` takes minutes
    for name in ("autograd_mini fused (numba)", "hand numba"):
        assert w1[name]["status"] == "skipped" and "numba not installed" in w1[name]["reason"], w1[name]
    assert "autograd_mini run 000 (fused)" not in sweep  # (an end-to-end table lists what ran)
    assert "single-threaded BLAS" in stdout and report["machine"]["thread_env"]["OPENBLAS_NUM_THREADS"] == "1"
    assert (tmp_path / "bench.png").exists() or "no chart" in stdout


def test_digits_workload_when_scikit_learn_is_there(tmp_path):
    pytest.importorskip("sklearn")
    report, _ = run_bench(tmp_path, "--workloads", "W2")
    w2 = report["workloads"]["W2"]["contenders"]
    for name in ("hand NumPy", "autograd_mini eager", "autograd_mini traced", "autograd_mini compiled"):
        assert w2[name]["status"] == "ok", w2[name]  # gradients equal hand NumPy's, so it was timed


def test_the_fused_rows_run_where_numba_is_there(tmp_path):
    pytest.importorskip("numba")
    report, stdout = run_bench(tmp_path, "--workloads", "W1,sweep", "--only", "fused,hand numba", "--no-long-run",
                               hide=PEERS)
    w1 = report["workloads"]["W1"]["contenders"]
    for name in ("autograd_mini fused (numba)", "hand numba"):
        assert w1[name]["status"] == "ok" and w1[name]["ratio"] > 0, w1[name]
        assert "equal hand NumPy's" in w1[name]["after_timing"], w1[name]
    fused = report["workloads"]["sweep"]["contenders"]["autograd_mini run 000 (fused)"]
    assert fused["status"] == "ok" and "equal hand NumPy batched (members [0, 1, 2, 3, 4])" in fused["after_timing"]
    assert "the fused step compiled or loaded from the cache" in stdout


def test_a_missing_data_set_skips_the_workload_with_a_line(tmp_path):
    report, stdout = run_bench(tmp_path, "--workloads", "W2", hide=HIDDEN + ",sklearn")
    assert "sklearn not installed" in report["workloads"]["W2"]["skipped"]
    assert "W2: skipped" in stdout


def test_every_installed_peer_agrees_with_hand_gradients():
    """In-process: each contender's gradients at the starting weights, as the benchmark checks them."""
    problem = w1.w1_problem()
    _, hand = problem.hand_grads(problem.params)
    for name, factory in bench.WORKLOADS["W1"].contenders.items():
        if name.startswith("JAX") or name == "PyTorch eager":
            continue  # slow to import; checked by the full benchmark run
        try:
            _, grads = factory(problem)
        except harness.Missing:
            continue
        assert harness._check_grads(name, grads(), hand) is None, name


def test_end_to_end_workloads_time_each_run_against_the_first():
    """The path the `sweep` and `experiments` hooks take once filled: one run function per contender."""
    calls = []
    runs = {"hand loop": lambda: calls.append("hand"), "batched": lambda: calls.append("batched")}
    workload = bench.Workload("demo", "a filled hook", kind="end_to_end", runs=lambda mode: runs)
    result = harness.run_end_to_end(workload, "smoke", log=lambda message: None)
    assert calls == ["hand", "batched"]
    assert result["contenders"]["hand loop"]["ratio"] == 1.0
    batched = result["contenders"]["batched"]
    assert batched["status"] == "ok" and batched["reference"] == "hand loop"
    empty = bench.Workload("empty", "nothing to run in this mode", kind="end_to_end", runs=lambda mode: {})
    assert "skipped" in harness.run_end_to_end(empty, "smoke", log=lambda message: None)
