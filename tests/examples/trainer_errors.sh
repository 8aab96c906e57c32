#!/usr/bin/env bash
# The trainers' failures: a bad option or a bad path ends in exit code 1 and exactly one line
# "error: ..." on stderr that says what is wrong (never an abort, exit 134, or a core dump); --help
# exits 0 without training and shows the defaults. Seconds: nothing here trains more than a few steps.
#   trainer_errors.sh path/to/classify path/to/gan path/to/demo
set -uo pipefail
classify=$(realpath "$1")
gan=$(realpath "$2")
demo=$(realpath "$3")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ulimit -c 0
cd "$tmp" || exit 1  # so that a trainer that wrongly starts writes its default "out" folder here
data_dir=/usr/share/datasets/fashion-mnist
have_data=0
[[ -d $data_dir ]] && have_data=1
mkdir "$tmp/empty"
echo "not a folder" >"$tmp/a_file"
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# expect_error TEXT MAX_LENGTH command...: exit code exactly 1, one line on stderr starting "error: ",
# containing TEXT, at most MAX_LENGTH characters.
expect_error() {
  local expected=$1 max_length=$2
  shift 2
  local status=0 failures_before=$failures
  "$@" >"$tmp/stdout" 2>"$tmp/stderr" </dev/null || status=$?
  local what=${*//$tmp/\$tmp}
  what=${what//$(dirname "$classify")\//}
  if [[ $status -ne 1 ]]; then
    fail "$what: exit code $status, expected 1; stderr: $(head -c 500 "$tmp/stderr")"
    return
  fi
  local lines
  lines=$(wc -l <"$tmp/stderr")
  [[ $lines -eq 1 ]] || fail "$what: $lines lines on stderr, expected 1: $(head -c 500 "$tmp/stderr")"
  grep -q '^error: ' "$tmp/stderr" || fail "$what: stderr does not start with \"error: \": $(head -c 500 "$tmp/stderr")"
  grep -qF -- "$expected" "$tmp/stderr" || fail "$what: stderr lacks \"$expected\": $(cat "$tmp/stderr")"
  local length
  length=$(head -1 "$tmp/stderr" | wc -c)
  ((length <= max_length)) || fail "$what: a $length-character line (at most $max_length): $(cat "$tmp/stderr")"
  ((failures > failures_before)) || echo "ok: $what -> $(cat "$tmp/stderr")"
}

# expect_help BINARY DEFAULTS...: --help exits 0, trains nothing, writes nothing, shows each default.
expect_help() {
  local bin=$1
  shift
  local status=0
  "$bin" --help >"$tmp/stdout" 2>"$tmp/stderr" </dev/null || status=$?
  [[ $status -eq 0 ]] || fail "$(basename "$bin") --help: exit code $status"
  [[ ! -s $tmp/stderr ]] || fail "$(basename "$bin") --help wrote to stderr: $(head -c 300 "$tmp/stderr")"
  ! grep -qiE '^(step|epoch|resumed|trained|wrote)' "$tmp/stdout" || fail "$(basename "$bin") --help started training"
  [[ ! -e $tmp/out ]] || fail "$(basename "$bin") --help created the output folder"
  for default in "$@"; do
    grep -qF -- "$default" "$tmp/stdout" || fail "$(basename "$bin") --help does not show \"$default\""
  done
}

# ---- option errors read well (CLI11's own checks wrote DBL_MAX out in 357 characters)
expect_error '--lr: expected a number greater than 0, got "abc"' 100 "$classify" --lr abc
expect_error '--batch-size: expected an integer from 1 to 16777216, got "0"' 100 "$classify" --batch-size 0
# (a batch of 2^62: vqvae's count of latent vectors per batch wrapped to a negative number)
expect_error '--batch-size: expected an integer from 1 to 16777216, got "4611686018427387904"' 120 \
  "$gan" --batch-size 4611686018427387904
grep -qF '0.000000' "$tmp/stderr" && fail "--batch-size 0 still prints a range from 0.000000"
expect_error '--steps: expected an integer of at least 0, got "-3"' 100 "$classify" --steps -3
expect_error '--epochs: expected an integer of at least 0, got "1.5"' 100 "$classify" --epochs 1.5
expect_error '--seed: expected an integer from 0' 120 "$classify" --seed -1
expect_error '--bogus' 100 "$classify" --bogus
expect_error '--lr: expected a number greater than 0, got "abc"' 100 "$gan" --lr abc
expect_error '--critic-steps: expected an integer from 1 to 1000, got "0"' 100 "$gan" --critic-steps 0
# (the first generator step never finished)
expect_error '--critic-steps: expected an integer from 1 to 1000, got "9223372036854775807"' 120 \
  timeout 60 "$gan" --quiet --steps 1 --critic-steps 9223372036854775807 --out "$tmp/g_critic"
expect_error '--loss' 120 "$gan" --loss bogus
# 0 steps for a trainer without epochs: gan took it for its default (20000 steps)
expect_error '--steps: expected a positive integer, got "0"' 100 "$gan" --steps 0
expect_error '--amp' 120 "$classify" --amp fp8
# --device: a name that is no device, and CUDA on a machine without a GPU (the build machines).
expect_error '[device] ' 200 "$classify" --device tpu
expect_error '[device] ' 200 "$gan" --device cuda:x
if ! nvidia-smi -L >/dev/null 2>&1; then
  expect_error '[classify] --device cuda: no CUDA device found (' 300 "$classify" --device cuda
  expect_error '[gan] --device cuda:1: no CUDA device found (' 300 "$gan" --device cuda:1
fi
expect_error '--steps: expected an integer of at least 0, got "abc"' 100 "$demo" --steps abc

# ---- --help: exit 0, no training, the defaults shown
expect_help "$classify" "Passes over the training set [default: 5]" "Examples per step [default: 64]" \
  "Learning rate [default: 0.001]" "--quiet" "--data-dir" "[default: \$EMBER_DATA, else $data_dir]"
expect_help "$gan" "[default: wgan-gp]" "[default: 8gaussians]" "--quiet" "Generator steps [default: 20000 (8gaussians)" \
  "--data-dir"
expect_help "$demo" "Gradient descent steps [default: 200]" "Learning rate [default: 0.1]"
grep -qF -- '--epochs' <("$gan" --help) && fail "gan --help lists --epochs"

# gan counts generator steps: --epochs is not one of its options (an epoch is no unit for a GAN, and
# the 8-Gaussians toy has none), so it is refused rather than silently ignored.
expect_error '--epochs' 100 "$gan" --epochs 3

# ---- bad paths
expect_error '[--out] cannot create the folder "/dev/null/sub": Not a directory' 200 "$classify" --out /dev/null/sub
expect_error "[--out] \"$tmp/a_file\" exists and is not a folder" 200 "$classify" --out "$tmp/a_file"
expect_error '[--out] cannot create the folder "/dev/null/sub": Not a directory' 200 "$gan" --out /dev/null/sub
expect_error "[--out] \"$tmp/a_file\" exists and is not a folder" 200 "$gan" --out "$tmp/a_file"
expect_error "cannot read \"$tmp/empty\": it is a folder" 200 "$gan" --quiet --out "$tmp/g1" --resume "$tmp/empty"
expect_error "cannot open \"$tmp/missing\"" 200 "$gan" --quiet --out "$tmp/g2" --resume "$tmp/missing"
mkdir -p "$tmp/g3/checkpoint.safetensors"  # a folder where the checkpoint goes
# A covariance needs two samples: --eval-samples 1 failed after training (now refused at once).
expect_error "--eval-samples" 300 "$gan" --quiet --steps 1 --eval-samples 1 --out "$tmp/g_eval"
[[ ! -e $tmp/g_eval ]] || fail "gan --eval-samples 1 started training"
expect_error "it is a folder" 300 "$gan" --quiet --steps 1 --batch-size 16 --every 1 --eval-samples 10 --out "$tmp/g3"
# Too many samples failed at the first figures, after --every steps (randn of 2^63 - 1 samples, or
# 8 EB of them): now a range error at once.
expect_error '--eval-samples: expected an integer from 2 to 1048576, got "9223372036854775807"' 120 \
  "$gan" --quiet --steps 1 --eval-samples 9223372036854775807 --out "$tmp/g_eval2"
expect_error '--eval-samples: expected an integer from 2 to 1048576, got "1000000000000000000"' 120 \
  "$gan" --quiet --steps 1 --eval-samples 1000000000000000000 --out "$tmp/g_eval2"
[[ ! -e $tmp/g_eval2 ]] || fail "gan with too many --eval-samples started training"
# --trace is written after the last step: a path it cannot be written to failed only then.
expect_error "[--trace] cannot write \"$tmp/nowhere/trace.safetensors\": the folder \"$tmp/nowhere\" does not exist" 300 \
  "$gan" --quiet --steps 1 --batch-size 16 --every 1 --eval-samples 10 --out "$tmp/g_trace" --trace "$tmp/nowhere/trace.safetensors"
expect_error "[--trace] \"$tmp/empty\" is a folder, not a file" 300 \
  "$gan" --quiet --steps 1 --batch-size 16 --every 1 --eval-samples 10 --out "$tmp/g_trace" --trace "$tmp/empty"
expect_error "[--trace] cannot write \"$tmp/a_file/trace.safetensors\": \"$tmp/a_file\" is not a folder" 300 \
  "$gan" --quiet --steps 1 --batch-size 16 --every 1 --eval-samples 10 --out "$tmp/g_trace" --trace "$tmp/a_file/trace.safetensors"
[[ ! -e $tmp/g_trace/metrics.csv ]] || fail "gan with a --trace it cannot write started training"
mkdir -p "$tmp/g4/metrics.csv"
expect_error "cannot open \"$tmp/g4/metrics.csv\"" 300 "$gan" --quiet --steps 1 --eval-samples 10 --out "$tmp/g4"

# ---- the dataset folder: --data-dir, else $EMBER_DATA, else the Debian package's folder
expect_error "the dataset folder \"$tmp/empty\" has no train-images-idx3-ubyte.gz" 300 \
  "$classify" --quiet --out "$tmp/c1" --data-dir "$tmp/empty"
expect_error "the dataset folder \"$tmp/empty\" has no train-images-idx3-ubyte.gz" 300 \
  env EMBER_DATA="$tmp/empty" "$classify" --quiet --out "$tmp/c2"
expect_error "the dataset folder \"$tmp/nowhere\" does not exist" 300 \
  env EMBER_DATA="$tmp/nowhere" "$classify" --quiet --out "$tmp/c3"
expect_error "the dataset folder \"$tmp/empty\" has no train-images-idx3-ubyte.gz" 300 \
  "$gan" --data fashion-mnist --quiet --out "$tmp/g5" --data-dir "$tmp/empty"
expect_error "the dataset folder \"$tmp/empty\" has no train-images-idx3-ubyte.gz" 300 \
  env EMBER_DATA="$tmp/empty" "$gan" --data fashion-mnist --quiet --out "$tmp/g6"

if ((have_data)); then
  expect_error "cannot read \"$tmp/empty\": it is a folder" 200 "$classify" --quiet --out "$tmp/c4" --resume "$tmp/empty"
  expect_error '--batch-size 100000 is larger than the 60000 training images' 200 \
    "$classify" --quiet --out "$tmp/c5" --batch-size 100000
  expect_error "cannot read \"$tmp/empty\": it is a folder" 300 \
    "$gan" --data fashion-mnist --quiet --out "$tmp/g7" --classifier "$tmp/empty"
  # a classifier the user names must exist (only the default path is optional)
  expect_error "[gan] --classifier \"$tmp/missing\": no such file" 300 \
    "$gan" --data fashion-mnist --quiet --steps 1 --out "$tmp/g9" --classifier "$tmp/missing"
  # A diverged run stops with an error instead of printing nan and saving NaN weights.
  expect_error "[classify] the training loss is nan at step" 200 "$classify" --quiet --steps 5 --lr 1e30 --out "$tmp/c7"
  mkdir -p "$tmp/c6/metrics.csv"
  expect_error "cannot open \"$tmp/c6/metrics.csv\"" 300 "$classify" --quiet --epochs 0 --out "$tmp/c6"

  # --epochs 0 trains nothing and says so, without claiming a checkpoint; --data-dir wins over $EMBER_DATA.
  status=0
  EMBER_DATA="$tmp/empty" "$classify" --quiet --epochs 0 --out "$tmp/c7" --data-dir "$data_dir" >"$tmp/stdout" 2>"$tmp/stderr" || status=$?
  [[ $status -eq 0 ]] || fail "classify --epochs 0: exit code $status: $(cat "$tmp/stderr")"
  [[ ! -e $tmp/c7/checkpoint.safetensors ]] || fail "classify --epochs 0 wrote a checkpoint"
  grep -q 'checkpoint.safetensors' "$tmp/stdout" && fail "classify --epochs 0 claims a checkpoint: $(tail -1 "$tmp/stdout")"
  grep -q 'no checkpoint' "$tmp/stdout" || fail "classify --epochs 0 does not say that it wrote no checkpoint"
  [[ -s $tmp/c7/predictions.png ]] || fail "classify --epochs 0 did not write predictions.png"
  echo "ok: classify --epochs 0 -> $(tail -1 "$tmp/stdout")"
else
  echo "dataset-fashion-mnist not installed: the cases that load it are skipped"
fi

expect_error "[demo] the loss is" 200 "$demo" --lr 1000 --steps 50
# An option the configuration does not use is an error, not silently ignored.
expect_error "[gan] --gp-lambda is not used without --loss wgan-gp" 200 "$gan" --loss bce --gp-lambda 5 --out "$tmp/g10"
expect_error "[gan] --clip is not used without --loss wgan" 200 "$gan" --loss wgan-gp --clip 0.1 --out "$tmp/g11"
expect_error "[gan] --data-dir is not used with --data 8gaussians" 200 \
  "$gan" --data 8gaussians --data-dir "$tmp/empty" --out "$tmp/g12"

# ---- and a good run still works (exit 0, silent stderr with --quiet)
status=0
"$gan" --quiet --steps 2 --batch-size 16 --every 2 --eval-samples 10 --out "$tmp/g8" >"$tmp/stdout" 2>"$tmp/stderr" || status=$?
[[ $status -eq 0 && ! -s $tmp/stderr && -s $tmp/g8/summary.txt ]] || fail "a short gan run failed ($status): $(cat "$tmp/stderr")"
status=0
"$demo" --steps 3 >"$tmp/stdout" 2>"$tmp/stderr" || status=$?
[[ $status -eq 0 ]] && grep -q '^step   3' "$tmp/stdout" || fail "demo --steps 3 did not run 3 steps ($status)"

[[ ! -e $tmp/out ]] || fail "a failing run created the default output folder"
if ((failures > 0)); then
  echo "trainer errors: $failures failure(s)"
  exit 1
fi
echo "trainer errors: passed"
