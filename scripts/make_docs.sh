#!/usr/bin/env bash
# Regenerates the pictures the documentation shows (docs/*.png).
EXTRAS="plots" source "$(dirname "$0")/setup.sh"
autograd-mini graph 003.sigmoid --audit -o docs/graph_003_sigmoid.png
work="$(mktemp -d)"
autograd-mini run 000 --quiet --out "$work" >/dev/null
cp "$work/000_alphas.png" docs/000_alphas.png
rm -rf "$work"
echo "wrote docs/graph_003_sigmoid.png docs/000_alphas.png"
