#!/usr/bin/env bash
# The test suite, set up from scratch on a fresh machine.
EXTRAS="test,plots" source "$(dirname "$0")/setup.sh"
python -m pytest -q "$@"
