"""The command line's BLAS thread policy: one thread unless the user asks for more.

Why: this project's problems are small (4x3 matrices; at most 1797x128), and on a machine with few
shared cores a multi-threaded BLAS spends more time waking and syncing threads than computing
(docs/performance.md, "Threads", has the measurements). The user asks for more with `--threads N`, or
by setting one of the usual variables (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS), which is
then left alone.

How: threadpoolctl changes the thread count of the BLAS NumPy already loaded, at run time (it is
installed with scikit-learn, which the digits experiment uses); without it the variables are set and
the process starts again, since BLAS reads them only when NumPy loads. threadpoolctl is therefore
not a dependency: the fallback does the same at the cost of one restart of the process.
"""
from __future__ import annotations

import os
import sys
from typing import Sequence

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
_RESTARTED = "AUTOGRAD_MINI_THREADS_SET"  # marks the restarted process, so it never restarts twice


def blas_thread_policy(argv: Sequence[str], threads: int | None = None) -> str:
    """Apply the policy (call it before any NumPy work); returns a sentence saying what is in force.
    `argv`: the command's arguments, for the restart when threadpoolctl is missing."""
    if threads is None:
        chosen = {k: os.environ[k] for k in THREAD_VARIABLES if os.environ.get(k)}
        if chosen:
            settings = ", ".join(f"{k}={v}" for k, v in chosen.items())
            return f"BLAS threads as the environment sets them ({settings})"
        threads = 1
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        if os.environ.get(_RESTARTED) or all(os.environ.get(k) == str(threads) for k in THREAD_VARIABLES):
            return f"BLAS threads: {threads} (environment)"
        env = {**os.environ, **{k: str(threads) for k in THREAD_VARIABLES}, _RESTARTED: "1"}
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, "-m", "autograd_mini", *argv], env)
    threadpool_limits(limits=threads, user_api="blas")
    return f"BLAS threads: {threads} (threadpoolctl)"
