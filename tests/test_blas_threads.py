"""The command line's BLAS thread policy: one thread unless the user asks (a variable or --threads)."""
from __future__ import annotations

import pytest

from autograd_mini.app.threads import THREAD_VARIABLES, blas_thread_policy


def blas_threads() -> set[int]:
    from threadpoolctl import threadpool_info
    return {d["num_threads"] for d in threadpool_info() if d.get("user_api") == "blas"}


def test_one_thread_by_default_and_what_the_user_asks_otherwise(monkeypatch):
    pytest.importorskip("threadpoolctl", reason="without threadpoolctl the policy restarts the process instead")
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert blas_thread_policy([], None) == "BLAS threads: 1 (threadpoolctl)"
    assert blas_threads() <= {1}
    assert blas_thread_policy([], 2) == "BLAS threads: 2 (threadpoolctl)"
    assert blas_threads() <= {2}
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    assert "OPENBLAS_NUM_THREADS=3" in blas_thread_policy([], None)  # the user's setting is left alone
    blas_thread_policy([], 1)
