"""What every test module shares: the hypothesis profile, the repository's paths and the source
documents (skipped, saying why, where they are absent).

HYPOTHESIS_PROFILE=dev (the default) draws few examples per property, for quick runs while working;
HYPOTHESIS_PROFILE=thorough draws every example each test asks for: a deeper run, several times longer than
the suite's 5-minute budget (run it before a release or after touching the op table);
HYPOTHESIS_PROFILE=ci is dev's examples drawn from a fixed seed (.ci/run uses it).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from strategies import PROFILE

ROOT = Path(__file__).resolve().parents[1]
# the source documents live beside the repository (<repo>/../shared/seeds), or where this names them
SEEDS = Path(os.environ.get("AUTOGRAD_MINI_SEEDS", ROOT.parent / "shared" / "seeds"))

settings.register_profile("thorough", deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", settings.get_profile("thorough"), max_examples=20)
# CI draws the dev profile's examples from a fixed seed: a landing is decided by the code, not the draw (the
# random draws of every dev run go on hunting; a case they find becomes an explicit example)
settings.register_profile("ci", settings.get_profile("dev"), derandomize=True)
settings.load_profile(PROFILE)


def pytest_report_header() -> str:
    return f"hypothesis profile: {PROFILE} (HYPOTHESIS_PROFILE=dev|ci|thorough); source documents: {SEEDS}"


@pytest.fixture
def seeds() -> Path:
    """The folder of the source documents (000_*.txt ...), or a skip that says where it was looked for."""
    if not SEEDS.is_dir() or not list(SEEDS.glob("*.txt")):
        pytest.skip(f"the source documents are not at {SEEDS} (set AUTOGRAD_MINI_SEEDS to their folder)")
    return SEEDS
