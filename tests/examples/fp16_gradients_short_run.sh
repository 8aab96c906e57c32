#!/usr/bin/env bash
# examples/fp16_gradients (the figures of docs/mixed-precision.md) end to end: it writes both SVGs, and
# the experiment shows what the figures claim — nearly every float32 weight gradient lies below
# float16's smallest subnormal (2^-24) and almost none does once scaled by 2^16; float16 without a
# scaler loses (almost) every gradient entry to 0 and its loss never moves, while with GradScaler
# almost none is lost and the final loss is within 0.5% of float32's.
#   fp16_gradients_short_run.sh path/to/fp16_gradients
set -euo pipefail
bin=$1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$bin" --out "$out" | tee "$out/log"
for f in gradient_histogram.svg loss_curves.svg; do
  grep -q '<rect class="bar"' "$out/$f" || grep -q 'class="series"' "$out/$f" || { echo "$f: no data drawn"; exit 1; }
done
grep -c '<rect class="bar"' "$out/gradient_histogram.svg" | awk '{ if ($1 < 10) { print "histogram: only " $1 " bars"; exit 1 } }'
# The figures the program prints, pulled out with sed (mawk has no capture groups).
num() { sed -nE "s/$1/\1/p" "$out/log"; }
below=$(num '^float32 weight gradients.* ([0-9.]+)% below float16.*')
scaled=$(num '^float32 weight gradients.* ([0-9.]+)% once scaled.*')
lost=$(num '^float16 without a scaler: ([0-9.]+)% of gradient.*')
kept=$(num '^float16 without a scaler.*GradScaler: ([0-9.]+)%.*')
f32=$(num '^loss after .*float32 ([0-9.]+), float16 .*')
f16=$(num '^loss after .*, float16 ([0-9.]+), float16 \+.*')
s=$(num '^loss after .*GradScaler ([0-9.]+)$')
awk -v below="$below" -v scaled="$scaled" -v lost="$lost" -v kept="$kept" -v f32="$f32" -v f16="$f16" -v s="$s" 'BEGIN {
  if (below == "" || scaled == "" || lost == "" || kept == "" || f32 == "" || f16 == "" || s == "") { print "missing summary figures"; exit 1 }
  if (!(below > 99.9 && scaled < 1)) { print "histogram shares: " below "% below 2^-24, " scaled "% scaled"; exit 1 }
  if (!(lost > 99 && kept < 1)) { print "zero-gradient shares: " lost "% without a scaler, " kept "% with"; exit 1 }
  d = s - f32; if (d < 0) d = -d
  if (!(d <= 0.005 * f32 && f16 > 5 * f32)) { print "losses: float32 " f32 ", float16 " f16 ", scaled " s; exit 1 }
}'
echo "fp16 gradients: passed"
