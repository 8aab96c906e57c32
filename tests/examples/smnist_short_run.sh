#!/usr/bin/env bash
# The sequential Fashion-MNIST trainer's short fixed-seed run, on a small S4D model (2 layers,
# d_model 32, N 16) over full 784-pixel sequences: the training loss must fall from the first epoch
# to the third, the metrics must be numbers, and bad options must end in one line "error: ..." with
# exit code 1.
#   smnist_short_run.sh path/to/smnist
set -euo pipefail
bin=$1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [[ ! -d /usr/share/datasets/fashion-mnist ]]; then
  echo "dataset-fashion-mnist not installed: skipped"
  exit 77  # CTest reports this as skipped (SKIP_RETURN_CODE), not as passed
fi
small=(--d-model 32 --d-state 16 --layers 2 --train-limit 192 --test-limit 100 --batch-size 16 --seed 4 --quiet)
start=$SECONDS
"$bin" "${small[@]}" --epochs 3 --init inv --disc bilinear --out "$out/a" >"$out/a.log"
echo "ran in $((SECONDS - start)) s"
cat "$out/a.log"
[[ -s "$out/a/metrics.csv" ]] || { echo "missing metrics.csv"; exit 1; }
(( $(wc -l <"$out/a/metrics.csv") == 4 )) || { echo "expected a header and 3 epochs in metrics.csv"; exit 1; }
first=$(sed -n 2p "$out/a/metrics.csv" | cut -d, -f3)
last=$(sed -n 4p "$out/a/metrics.csv" | cut -d, -f3)
accuracy=$(sed -n 4p "$out/a/metrics.csv" | cut -d, -f6)
number='^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$'
# awk compares a non-number as text ("nan" > 1): numbers first.
for v in "$first" "$last" "$accuracy"; do
  [[ $v =~ $number ]] || { echo "\"$v\" in metrics.csv is not a number"; exit 1; }
done
echo "training loss: epoch 1 $first, epoch 3 $last; test accuracy $accuracy"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b + 0 < a - 0.1) }' || { echo "the training loss did not fall by 0.1"; exit 1; }
# Ten classes: chance is 0.1.
awk -v a="$accuracy" 'BEGIN { exit !(a + 0 > 0.2) }' || { echo "test accuracy $accuracy is not above 0.2"; exit 1; }

# Bad options and inputs: one line, exit code 1.
expect_error() {
  local what=$1 pattern=$2
  shift 2
  local status=0
  "$bin" "$@" --out "$out/e" >/dev/null 2>"$out/err.log" || status=$?
  [[ $status -eq 1 && $(wc -l <"$out/err.log") -eq 1 ]] && grep -qF -- "$pattern" "$out/err.log" ||
    { echo "$what: exit code $status, expected 1 and one line with \"$pattern\":"; cat "$out/err.log"; exit 1; }
}
expect_error "unknown init" "--init" --init bogus
expect_error "unknown discretisation" "--disc" --disc foh
expect_error "odd state size" "--d-state must be even" --d-state 5 --train-limit 16
expect_error "batch larger than the data" "is larger than the 8 training images" --train-limit 8 --batch-size 16
expect_error "missing dataset" "error: [fashion_mnist]" --data-dir /nonexistent/fashion-mnist
expect_error "zero threads is fine, negative is not" "--threads" --threads -1
expect_error "more threads than libgomp survives" "--threads" --threads 100000
# (a tensor shape that no int64 counts, after the dataset was read)
expect_error "absurd width" "--d-model: expected an integer from 1 to 65536" --d-model 9223372036854775807 --train-limit 16 --batch-size 8
expect_error "absurd state" "--d-state: expected an integer from 2 to 65536" --d-state 4611686018427387904 --train-limit 16 --batch-size 8
# A diverged run says so (it went on printing nan losses and accuracies and exited 0).
expect_error "huge learning rate" "[smnist] the training loss is nan at step 2: the run diverged (--lr 1e+18, --weight-decay 0.01)" \
  "${small[@]}" --epochs 1 --lr 1e18
expect_error "huge weight decay" "the run diverged (--lr 0.01, --weight-decay 1e+18)" "${small[@]}" --epochs 1 --weight-decay 1e18
echo "smnist short run: passed"
