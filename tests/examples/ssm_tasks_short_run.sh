#!/usr/bin/env bash
# The synthetic-task trainer's short fixed-seed run:
# - a 2-layer Mamba (d_model 32) trained on induction heads at length 32 solves it (accuracy >= 0.9
#   at the training length; this seed learns it near step 350) and keeps most of it at 4x the length;
# - Mamba and its LTI ablation train on both tasks, the results table has a row per evaluation length
#   (induction heads: the training length and each doubling to --max-eval-length), and one seed gives
#   one table; --amp bf16 and fp16 learn induction heads too;
# - bad options end in one line "error: ..." with exit code 1.
#   ssm_tasks_short_run.sh path/to/ssm_tasks
set -euo pipefail
bin=$1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$bin" --task induction --models mamba --d-model 32 --layers 2 --seq 32 --batch-size 32 --steps 600 \
  --max-eval-length 128 --eval-samples 64 --seed 3 --quiet --out "$out/learn" | tee "$out/learn.log"
accuracy_at() { awk -F, -v n="$1" '$4 == n { print $5 }' "$out/learn/results.csv"; }
awk -v a="$(accuracy_at 32)" 'BEGIN { exit !(a >= 0.9) }' ||
  { echo "induction heads at the training length: accuracy $(accuracy_at 32) < 0.9"; exit 1; }
awk -v a="$(accuracy_at 128)" 'BEGIN { exit !(a >= 0.6) }' ||
  { echo "induction heads at 4x the training length: accuracy $(accuracy_at 128) < 0.6"; exit 1; }

# Mixed precision: the same run under --amp bf16 and --amp fp16 (loss scaling; the scan's state is
# float32 in both) learns it too.
for amp in bf16 fp16; do
  "$bin" --task induction --models mamba --d-model 32 --layers 2 --seq 32 --batch-size 32 --steps 600 \
    --max-eval-length 32 --eval-samples 64 --seed 3 --quiet --amp $amp --out "$out/$amp" >/dev/null
  a=$(awk -F, '$4 == 32 { print $5 }' "$out/$amp/results.csv")
  echo "--amp $amp: induction heads accuracy at the training length $a"
  awk -v a="$a" 'BEGIN { exit !(a >= 0.9) }' || { echo "--amp $amp: accuracy $a < 0.9"; exit 1; }
done
[[ $(tail -n +2 "$out/fp16/loss_scale_induction_mamba.csv" | wc -l) == 600 ]] || { echo "--amp fp16: expected 600 scale rows"; exit 1; }

small=(--models mamba,lti --d-model 16 --layers 1 --seq 16 --batch-size 8 --steps 20 --max-eval-length 64
       --eval-samples 8 --seed 3 --quiet)
"$bin" "${small[@]}" --task induction,copying --out "$out/a" >/dev/null
rows=$(tail -n +2 "$out/a/results.csv" | cut -d, -f1,2,4 | tr '\n' ' ')
want="induction,mamba,16 induction,mamba,32 induction,mamba,64 induction,lti,16 induction,lti,32 induction,lti,64 copying,mamba,16 copying,lti,16 "
[[ "$rows" == "$want" ]] || { echo "results.csv rows: $rows; expected: $want"; exit 1; }
"$bin" "${small[@]}" --task induction,copying --out "$out/b" >/dev/null
cmp -s "$out/a/results.csv" "$out/b/results.csv" || { echo "two runs with one seed differ"; exit 1; }

# (a batch of 2^62 sequences: its token count wrapped and the rows were written past the buffer, SIGSEGV;
# --steps 0 trained nothing)
for bad in "--task sorting" "--models mamba,rnn" "--seq 8" "--d-model 30 --models attention" "--resume x.safetensors" \
           "--batch-size 4611686018427387904 --seq 16 --models mamba --d-model 8 --layers 1" "--steps 0"; do
  set +e
  # shellcheck disable=SC2086
  msg=$("$bin" $bad --steps 1 --out "$out/c" 2>&1 >/dev/null)
  code=$?
  set -e
  [[ $code == 1 && $(wc -l <<<"$msg") == 1 && $msg == error:* ]] ||
    { echo "\"$bad\" gave exit code $code and: $msg"; exit 1; }
done
# Sizes refused by their range, naming the option: a huge width or state failed as a tensor shape
# "with more elements than an int64 can count", and a huge --eval-samples never finished evaluating.
for bad in "--d-model 9223372036854775807" "--d-state 9223372036854775807" "--eval-samples 9223372036854775807"; do
  set +e
  # shellcheck disable=SC2086
  msg=$(timeout 60 "$bin" $bad --steps 1 --seq 16 --layers 1 --max-eval-length 16 --models mamba \
    --out "$out/c" 2>&1 >/dev/null)
  code=$?
  set -e
  [[ $code == 1 && $(wc -l <<<"$msg") == 1 && $msg == "error: ${bad%% *}: expected an integer from "* ]] ||
    { echo "\"$bad\" gave exit code $code and: $msg"; exit 1; }
done
# A diverged run says so (it went on printing nan losses and exited 0).
set +e
msg=$("$bin" --models mamba --task induction --d-model 16 --layers 1 --seq 16 --batch-size 8 --steps 3 --max-eval-length 16 \
  --eval-samples 8 --seed 3 --quiet --lr 1e18 --out "$out/c" 2>&1 >/dev/null)
code=$?
set -e
[[ $code == 1 && $(wc -l <<<"$msg") == 1 &&
   $msg == "error: [ssm_tasks] the training loss is nan at step 2: the run diverged (--lr 1e+18)" ]] ||
  { echo "--lr 1e18 gave exit code $code and: $msg"; exit 1; }
echo "ssm_tasks short run: ok"
