#!/usr/bin/env bash
# The main job: every document experiment, then the gradient audit. Output under ./out.
EXTRAS="plots,digits" source "$(dirname "$0")/setup.sh"
# one BLAS thread: the documents' matrices are tiny, and extra threads only contend for the 2 cores
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
# --audit: then the audit table and out/audit.json, from the audits the run made (not made twice)
autograd-mini run all --out out --audit "$@"
