#!/usr/bin/env bash
# The test suite, set up from scratch on a fresh machine.
EXTRAS="test,plots" source "$(dirname "$0")/setup.sh"
# PyTorch for the float64 cross-checks, only from a wheel already on this machine (pip's find-links):
# PyPI's default build brings gigabytes of CUDA libraries. Without it those tests skip, saying why.
python -m pip install -q --disable-pip-version-check --no-index "torch==2.13.0" 2>/dev/null \
  || echo "setup: no local torch 2.13.0 wheel; the PyTorch cross-checks will be skipped"
python -m pytest -q "$@"
