#!/usr/bin/env bash
# The main job: every document experiment, then the gradient audit. Output under ./out.
EXTRAS="plots,digits" source "$(dirname "$0")/setup.sh"
autograd-mini run all --out out "$@"
autograd-mini audit all --json out/audit.json
