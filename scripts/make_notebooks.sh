#!/usr/bin/env bash
# The documents as notebooks (docs/notebooks/), each executed in a fresh kernel and stored with its outputs.
EXTRAS="test,plots" source "$(dirname "$0")/setup.sh"
OMP_NUM_THREADS=1 python scripts/make_notebooks.py "$@"
