#!/usr/bin/env bash
# Trains the language model once per token mixer (attention, GAU, and the state-space mixers mamba
# and s4d), each for the same wall-clock budget, then draws validation loss against time
# (OUT/compare.svg) and prints the table of final losses.
#   examples/lm/compare.sh [BUILD_DIR] [SECONDS] [OUT]      (defaults: build 600 out/lm-compare)
# Extra lm options go in LM_ARGS, e.g. LM_ARGS="--seq 128" examples/lm/compare.sh build 300
set -euo pipefail
build=${1:-build}
budget=${2:-600}
out=${3:-out/lm-compare}
mixers=(softmax flash linear local sparse gau flash-gau mamba s4d)
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), budget ${budget} s per mixer" >&2
for mixer in "${mixers[@]}"; do
  "$build/examples/lm" --mixer "$mixer" --steps 1000000 --time-budget "$budget" --eval-every 50 --tokens 200 \
    --seed 0 --quiet --out "$out/$mixer" ${LM_ARGS:-}
done
"$build/examples/lm_plot" "$out" "${mixers[@]}"
