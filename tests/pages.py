"""Where the documentation lives, for the tests that check its text against runs."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def page(name: str) -> str:
    """The text of docs/<name> (e.g. "experiments.md")."""
    return (DOCS / name).read_text()


def blas_kernel() -> str | None:
    """The kernel OpenBLAS runs here (e.g. "Haswell"): the order its dot products sum in, on which the
    last digits of some reproduced numbers depend; None when threadpoolctl cannot tell."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    kernels = [info.get("architecture") for info in threadpool_info() if info.get("internal_api") == "openblas"]
    return kernels[0] if kernels else None


def measured_kernel(text: str, marker: str) -> str:
    """The BLAS kernel a page's run-dependent block says it was measured with (its HTML comment)."""
    match = re.search(re.escape(marker) + r"[^>]*?OpenBLAS kernel (\w+)", text)
    assert match, f"the comment before the block '{marker}' does not name the OpenBLAS kernel it was measured with"
    return match[1]


def skip_unless_kernel(kernel: str) -> None:
    """Figures that depend on summation order are compared exactly only on the kernel they came from."""
    import pytest
    here = blas_kernel()
    if here != kernel:
        pytest.skip(f"the page's figures were measured with OpenBLAS's {kernel} kernel; this machine runs "
                    f"{here or 'an unknown BLAS'}, whose summation order moves last digits (the kernel-independent "
                    f"checks still ran)")
