#!/usr/bin/env bash
# The language-model trainer's short fixed-seed run on a small model: it must learn (validation loss
# far below the 5.55 nats of a uniform byte), resume to exactly the losses of a run that never
# stopped, sample text from a checkpoint reproducibly, train with every mixer, and turn bad options
# and a checkpoint at a negative step into one line "error: ..." with exit code 1. The Mamba LM gets
# the same learning, resuming and sampling checks (its optimizer has a group without weight decay,
# its sampler a recurrent state).
#   lm_short_run.sh path/to/lm
set -euo pipefail
bin=$1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/checkpoint_step.sh"  # expect_negative_step_refused
if [[ ! -d /usr/share/games/fortunes ]]; then
  echo "fortunes not installed: skipped"
  exit 77
fi
small=(--d-model 64 --heads 2 --layers 2 --seq 64 --batch-size 8 --eval-batches 4 --tokens 40 --seed 5 --quiet)
"$bin" "${small[@]}" --steps 160 --eval-every 80 --out "$out/a"
for f in metrics.csv checkpoint.safetensors sample.txt; do
  [[ -s "$out/a/$f" ]] || { echo "missing $f"; exit 1; }
done
val=$(tail -1 "$out/a/metrics.csv" | cut -d, -f3)
echo "validation loss after 160 steps: $val"
[[ $val =~ ^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]] || { echo "the loss \"$val\" is not a number"; exit 1; }
awk -v v="$val" 'BEGIN { exit !(v + 0 < 3.3) }' || { echo "validation loss $val is not below 3.3"; exit 1; }

# 80 steps, then resume to 160: the same train and validation losses as the straight run.
"$bin" "${small[@]}" --steps 80 --eval-every 80 --out "$out/b"
# A run killed after writing its step-160 row but before its checkpoint: the resumed run writes that
# row again, in place of the old one.
echo "160,9,9,9,9" >>"$out/b/metrics.csv"
"$bin" "${small[@]}" --steps 160 --eval-every 80 --out "$out/b" --resume "$out/b/checkpoint.safetensors"
straight=$(tail -1 "$out/a/metrics.csv" | cut -d, -f1-3)
resumed=$(tail -1 "$out/b/metrics.csv" | cut -d, -f1-3)
echo "straight: $straight  resumed: $resumed"
[[ "$straight" == "$resumed" ]] || { echo "resumed run differs"; exit 1; }
[[ $(cut -d, -f1 "$out/b/metrics.csv" | tr '\n' ' ') == "step 80 160 " ]] ||
  { echo "the resumed run's metrics.csv does not hold steps 80 and 160 once each:"; cat "$out/b/metrics.csv"; exit 1; }
# A fresh run into the same folder starts metrics.csv over.
"$bin" "${small[@]}" --steps 2 --eval-every 2 --out "$out/b"
[[ $(cut -d, -f1 "$out/b/metrics.csv" | tr '\n' ' ') == "step 2 " ]] ||
  { echo "a fresh run kept the old rows of metrics.csv:"; cat "$out/b/metrics.csv"; exit 1; }

# Sampling from the checkpoint: the prompt, then --tokens (40) bytes; the same seed gives the same text.
gen=(--generate --resume "$out/a/checkpoint.safetensors" --prompt "Q: " --top-k 20 --top-p 0.9 --temperature 0.8)
"$bin" "${small[@]}" "${gen[@]}" --out "$out/g" >"$out/g1.txt"
"$bin" "${small[@]}" "${gen[@]}" --out "$out/g" >"$out/g2.txt"
head -c 3 "$out/g1.txt" | grep -qF "Q: " || { echo "the sample does not start with its prompt"; exit 1; }
(( $(wc -c <"$out/g1.txt") >= 43 )) || { echo "the sample is shorter than prompt + 40 bytes"; exit 1; }
cmp -s "$out/g1.txt" "$out/g2.txt" || { echo "two samples with one seed differ"; exit 1; }
# A temperature near 0 is greedy decoding, as --top-k 1 (logits / 1e-300 were inf, and softmax NaN).
"$bin" "${small[@]}" --generate --resume "$out/a/checkpoint.safetensors" --prompt "Q: " --temperature 1e-300 --out "$out/g" >"$out/g4.txt"
"$bin" "${small[@]}" --generate --resume "$out/a/checkpoint.safetensors" --prompt "Q: " --top-k 1 --out "$out/g" >"$out/g5.txt"
cmp -s "$out/g4.txt" "$out/g5.txt" || { echo "--temperature 1e-300 does not sample as --top-k 1 does"; exit 1; }
# A UTF-8 prompt is bytes >= 128, which are tokens 128..255 (a signed char made them negative indices).
"$bin" "${small[@]}" --generate --resume "$out/a/checkpoint.safetensors" --prompt "café naïve" --out "$out/g" >"$out/g3.txt"
head -c 12 "$out/g3.txt" | grep -qF "café naïve" || { echo "the sample does not start with its UTF-8 prompt"; exit 1; }

# Every mixer trains (a few steps each) and samples (with or without a KV cache).
# Mamba: the validation loss falls at every evaluation, to below 3.5 nats after 160 steps; 80 steps
# then a resume to 160 give the straight run's losses; one seed gives one sample.
"$bin" "${small[@]}" --mixer mamba --steps 160 --eval-every 40 --out "$out/mamba"
awk -F, 'NR > 2 && !($3 + 0 < prev) { bad = 1 } NR > 1 { prev = $3 + 0 } END { exit bad || !(prev < 3.5) }' \
  "$out/mamba/metrics.csv" || { echo "mamba: the validation loss did not fall at every evaluation to below 3.5:"; cat "$out/mamba/metrics.csv"; exit 1; }
echo "mamba validation losses: $(tail -n +2 "$out/mamba/metrics.csv" | cut -d, -f3 | tr '\n' ' ')"
"$bin" "${small[@]}" --mixer mamba --steps 80 --eval-every 40 --out "$out/mamba-b"
"$bin" "${small[@]}" --mixer mamba --steps 160 --eval-every 40 --out "$out/mamba-b" --resume "$out/mamba-b/checkpoint.safetensors"
straight=$(tail -1 "$out/mamba/metrics.csv" | cut -d, -f1-3)
resumed=$(tail -1 "$out/mamba-b/metrics.csv" | cut -d, -f1-3)
[[ "$straight" == "$resumed" ]] || { echo "mamba: resumed run differs: $straight against $resumed"; exit 1; }
mgen=(--mixer mamba --generate --resume "$out/mamba/checkpoint.safetensors" --prompt "Q: " --top-k 20)
"$bin" "${small[@]}" "${mgen[@]}" --out "$out/g" >"$out/m1.txt"
"$bin" "${small[@]}" "${mgen[@]}" --out "$out/g" >"$out/m2.txt"
head -c 3 "$out/m1.txt" | grep -qF "Q: " || { echo "mamba: the sample does not start with its prompt"; exit 1; }
(( $(wc -c <"$out/m1.txt") >= 43 )) || { echo "mamba: the sample is shorter than prompt + 40 bytes"; exit 1; }
cmp -s "$out/m1.txt" "$out/m2.txt" || { echo "mamba: two samples with one seed differ"; exit 1; }

for mixer in softmax linear local sparse gau flash-gau mamba s4d; do
  "$bin" "${small[@]}" --mixer "$mixer" --window 16 --block 16 --steps 3 --eval-every 3 --out "$out/$mixer"
  [[ -s "$out/$mixer/sample.txt" ]] || { echo "--mixer $mixer wrote no sample"; exit 1; }
done

# Bad options and inputs: one line, exit code 1.
expect_error() {
  local what=$1 pattern=$2
  shift 2
  local status=0
  timeout 60 "$bin" "$@" --out "$out/e" >/dev/null 2>"$out/err.log" || status=$?  # (a hang fails too)
  [[ $status -eq 1 && $(wc -l <"$out/err.log") -eq 1 ]] && grep -qF -- "$pattern" "$out/err.log" ||
    { echo "$what: exit code $status, expected 1 and one line with \"$pattern\":"; cat "$out/err.log"; exit 1; }
}
expect_error "unknown mixer" "--mixer" --mixer bogus
expect_error "generate without a checkpoint" "--generate needs --resume" --generate
expect_error "top-p above 1" "--top-p" --top-p 2
expect_error "heads not dividing d_model" "is not a multiple of --heads" --d-model 10 --heads 4
expect_error "missing corpus" "is not a folder of fortunes" --steps 1 --data-dir /nonexistent/fortunes
expect_error "window longer than the text" "shorter than one window" --steps 1 --seq 16777216 --d-model 8 --heads 1 --layers 0
head -c 100 "$out/a/checkpoint.safetensors" >"$out/bad.safetensors"
expect_error "corrupt checkpoint" "error: [safetensors] $out/bad.safetensors: " --steps 1 --resume "$out/bad.safetensors"
expect_error "top-p NaN" "--top-p" --top-p nan
expect_error "no steps" "--steps" --steps 0
# A checkpoint is read only by the model it was written with: --heads and --mixer change no parameter
# shape, so without the recorded options these loaded and computed something else.
expect_error "resume under other heads" "was written with --heads 2, this run has --heads 4" \
  --d-model 64 --heads 4 --layers 2 --seq 64 --batch-size 8 --steps 170 --resume "$out/a/checkpoint.safetensors"
expect_error "sample under another mixer" "was written with --mixer flash, this run has --mixer linear" \
  "${small[@]}" --mixer linear --generate --resume "$out/a/checkpoint.safetensors"
# softmax and flash are one function on two paths: either samples the other's checkpoint.
"$bin" "${small[@]}" --mixer softmax --generate --resume "$out/a/checkpoint.safetensors" --out "$out/g" >/dev/null
# Sizes that would only fail after building a model or filling memory (they ran until then).
expect_error "absurd depth" "an integer from 0 to 1024" --layers 9223372036854775807
expect_error "absurd sample" "an integer from 0 to 16777216" --tokens 9223372036854775807
expect_error "absurd context" "an integer from 1 to 16777216" --seq 9223372036854775000
# (a tensor shape "with more elements than an int64 can count" once the model was built)
expect_error "absurd width" "--d-model: expected an integer from 1 to 65536" --d-model 4611686018427387904 --heads 2
expect_error "absurd state" "--d-state: expected an integer from 0 to 65536" --mixer mamba --d-state 9223372036854775807
# (the first evaluation never finished)
expect_error "absurd evaluation" "--eval-batches: expected an integer from 1 to 65536" \
  --d-model 16 --heads 2 --layers 1 --seq 16 --batch-size 2 --steps 1 --eval-every 1 --eval-batches 9223372036854775807
# A diverged run says so (it trained on to NaN weights and failed only when sampling the text, with
# "[multinomial] probabilities must be finite").
tiny=(--d-model 16 --heads 2 --layers 1 --seq 16 --batch-size 2 --steps 3 --eval-every 3 --tokens 5 --quiet)
expect_error "huge learning rate" "[lm] the training loss is nan at step 2: the run diverged (--lr 1e+18, --weight-decay 0.1)" \
  "${tiny[@]}" --lr 1e18
expect_error "huge weight decay" "the run diverged (--lr 0.0003, --weight-decay 1e+18)" "${tiny[@]}" --weight-decay 1e18
# A checkpoint at a negative step is refused at once.
expect_negative_step_refused "$out/a/checkpoint.safetensors" --resume "$bin" "${small[@]}" --steps 170 --out "$out/n" || exit 1
echo "lm short run: passed"
