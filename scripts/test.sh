#!/usr/bin/env bash
# The test suite, set up from scratch on a fresh machine.
EXTRAS="test,plots,fused,lint" source "$(dirname "$0")/setup.sh"
# PyTorch for the float64 cross-checks, only where its CPU wheel is already on this machine (in pip's
# find-links folder): PyPI's default build brings gigabytes of CUDA libraries. Without it those tests
# skip, saying why.
wheels="${PIP_FIND_LINKS:-$(python -m pip config get global.find-links 2>/dev/null)}"
if ls "${wheels:-/nonexistent}"/torch-2.13.0*.whl >/dev/null 2>&1; then
  python -m pip install -q --disable-pip-version-check "torch==2.13.0" \
    || echo "setup: torch 2.13.0 did not install; the PyTorch cross-checks will be skipped"
else
  echo "setup: no local torch 2.13.0 wheel; the PyTorch cross-checks will be skipped"
fi
python -m pytest -q "$@"
