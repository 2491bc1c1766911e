#!/usr/bin/env bash
# The main job: every document experiment, then the gradient audit. Output under ./out.
EXTRAS="plots,digits,fused" source "$(dirname "$0")/setup.sh"
# --audit: then the audit table and out/audit.json, from the audits the run made (not made twice)
autograd-mini run all --out out --audit "$@"
echo "the report page: $(pwd)/out/index.html (open it in a browser)"
