#!/usr/bin/env bash
# The classify trainer's short fixed-seed run: it must learn (test accuracy well above chance after
# 100 steps), write its outputs, and resume from its checkpoint to exactly the metrics of a run that
# never stopped; a checkpoint at a negative step is refused at once.
#   classify_short_run.sh path/to/classify
set -euo pipefail
bin=$1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/checkpoint_step.sh"  # expect_negative_step_refused
if [[ ! -d /usr/share/datasets/fashion-mnist ]]; then
  echo "dataset-fashion-mnist not installed: skipped"
  exit 77  # CTest reports this as skipped (SKIP_RETURN_CODE), not as passed
fi
"$bin" --steps 100 --epochs 1 --batch-size 64 --seed 3 --out "$out/a" >"$out/a.log"
for f in metrics.csv checkpoint.safetensors predictions.png; do
  [[ -s "$out/a/$f" ]] || { echo "missing $f"; exit 1; }
done
accuracy=$(tail -1 "$out/a/metrics.csv" | cut -d, -f6)
echo "test accuracy after 100 steps: $accuracy"
# awk compares a non-number as text ("nan" > 0.65, and so is a header's column name): a number first.
[[ $accuracy =~ ^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]] || { echo "the accuracy \"$accuracy\" is not a number"; exit 1; }
awk -v a="$accuracy" 'BEGIN { exit !(a + 0 > 0.65) }' || { echo "accuracy $accuracy is not above 0.65"; exit 1; }

# 50 steps, then resume to 100: the same losses and accuracy as the straight run (timings differ).
"$bin" --steps 50 --epochs 1 --seed 3 --out "$out/b" >/dev/null
"$bin" --steps 100 --epochs 1 --seed 3 --out "$out/b" --resume "$out/b/checkpoint.safetensors" >/dev/null
straight=$(tail -1 "$out/a/metrics.csv" | cut -d, -f2,5,6)
resumed=$(tail -1 "$out/b/metrics.csv" | cut -d, -f2,5,6)
echo "straight: $straight  resumed: $resumed"
[[ "$straight" == "$resumed" ]] || { echo "resumed run differs"; exit 1; }

# --steps decides the length alone (it was capped by --epochs): 30 steps of 2048 images cross the
# epoch of 29 and end at step 30.
"$bin" --steps 30 --epochs 1 --batch-size 2048 --seed 3 --quiet --out "$out/s" >/dev/null
[[ $(tail -1 "$out/s/metrics.csv" | cut -d, -f1,2) == "2,30" ]] ||
  { echo "--steps 30 --epochs 1 did not end at epoch 2, step 30:"; cat "$out/s/metrics.csv"; exit 1; }

# Mixed precision: --amp bf16 and --amp fp16 (with loss scaling) learn as float32 does, and do
# something (their losses are not float32's bit for bit); fp16 resumes exactly, scaler state included.
for amp in bf16 fp16; do
  "$bin" --steps 60 --epochs 1 --seed 3 --amp $amp --out "$out/$amp" >/dev/null
  "$bin" --steps 30 --epochs 1 --seed 3 --amp $amp --out "$out/$amp-r" >/dev/null
  "$bin" --steps 60 --epochs 1 --seed 3 --amp $amp --out "$out/$amp-r" --resume "$out/$amp-r/checkpoint.safetensors" >/dev/null
  [[ $(tail -1 "$out/$amp/metrics.csv" | cut -d, -f2,5,6) == $(tail -1 "$out/$amp-r/metrics.csv" | cut -d, -f2,5,6) ]] ||
    { echo "--amp $amp: the resumed run differs"; exit 1; }
done
"$bin" --steps 60 --epochs 1 --seed 3 --out "$out/f32" >/dev/null
for amp in bf16 fp16; do
  paste -d, <(tail -1 "$out/f32/metrics.csv" | cut -d, -f3,6) <(tail -1 "$out/$amp/metrics.csv" | cut -d, -f3,6) |
    awk -F, -v amp=$amp '{ print "--amp " amp ": train loss " $3 " (float32 " $1 "), test accuracy " $4 " (float32 " $2 ")";
      if ($1 == $3) { print "the loss is float32'"'"'s bit for bit: autocast did nothing"; exit 1 }
      d = $4 - $2; if (d < 0) d = -d; if (!(d < 0.03 && $4 > 0.6)) { print "mixed precision did not learn like float32"; exit 1 } }'
done

# A corrupt checkpoint is ember's own error from the reader, one line, and exit code 1: an abort
# (134) or a crash is not. (The file's name holds "safetensors" too: match the bracketed tag.)
head -c 100 "$out/a/checkpoint.safetensors" >"$out/bad.safetensors"
status=0
"$bin" --steps 1 --out "$out/c" --resume "$out/bad.safetensors" >/dev/null 2>"$out/err.log" || status=$?
[[ $status -eq 1 ]] || { echo "a corrupt checkpoint: exit code $status, expected 1"; cat "$out/err.log"; exit 1; }
[[ $(wc -l <"$out/err.log") -eq 1 ]] && grep -qF "error: [safetensors] $out/bad.safetensors: " "$out/err.log" ||
  { echo "unclear error:"; cat "$out/err.log"; exit 1; }
# A checkpoint at a negative step is refused at once, not taken for a position in the data.
expect_negative_step_refused "$out/a/checkpoint.safetensors" --resume "$bin" --steps 1 --out "$out/n" || exit 1
echo "classify short run: passed"
