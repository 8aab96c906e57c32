#!/usr/bin/env bash
# The GAN trainer's short fixed-seed run (8gaussians, WGAN-GP, 16 generator steps of 5 critic steps):
#  - it writes its outputs and every logged loss is finite;
#  - the critic learns the constraint: the gradient penalty falls to a small part of its first value;
#  - the losses match gan_short_run_trajectory.csv, which PyTorch computed from the same initial
#    weights and random draws (make_gan_reference.py replays the run's --trace), within 2e-5 relative;
#  - a second run gives bit-identical losses, and so does a run stopped at step 8 and resumed;
#  - --amp bf16 and --amp fp16 (two loss scalers, the penalty through the critic's) learn the constraint too;
#  - BCE, WGAN (weight clipping), hinge and SN-GAN (hinge + spectral norm) runs finish with finite losses, a Fashion-MNIST run writes a
#    sample grid, and a corrupt checkpoint, one at a negative step or one at a step too large to skip
#    batches by (2^62 x 5 critic steps) is a clear error, not a crash.
#   gan_short_run.sh path/to/gan path/to/gan_short_run_trajectory.csv
set -euo pipefail
bin=$1
reference=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/checkpoint_step.sh"  # expect_negative_step_refused
args=(--data 8gaussians --loss wgan-gp --batch-size 64 --log-every 1 --every 8 --eval-samples 2000 --seed 7 --quiet)

"$bin" "${args[@]}" --steps 16 --out "$out/a" >"$out/a.log"
for f in metrics.csv checkpoint.safetensors samples_000008.png samples_000016.png summary.txt; do
  [[ -s "$out/a/$f" ]] || { echo "missing $f"; exit 1; }
done
losses() { tail -n +2 "$1" | cut -d, -f1-5; }
[[ $(losses "$out/a/metrics.csv" | wc -l) == 16 ]] || { echo "expected 16 rows"; exit 1; }
losses "$out/a/metrics.csv" | awk -F, '{ for (i = 2; i <= 5; i++) if ($i !~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/) { print "non-finite value in row " NR ": " $0; exit 1 } }'
# The critic becomes ~1-Lipschitz at the interpolates: the penalty (0.86 at step 1) falls below a quarter of it.
losses "$out/a/metrics.csv" | awk -F, 'NR == 1 { first = $4 } END { print "gradient penalty: step 1 " first ", step 16 " $4;
  if (!($4 < first / 4)) { print "the critic did not learn"; exit 1 } }'

# PyTorch's trajectory. Over these 16 steps the two agree to < 2e-6 relative (float32 sums in another
# order); the test allows 2e-5. (Later the runs separate: Adam with beta1 = 0 turns the rounding
# noise of a near-zero gradient into a full-size step of either sign; measured from step ~20 on.)
grep -v '^#' "$reference" | tail -n +2 >"$out/ref.csv"
[[ $(wc -l <"$out/ref.csv") == 16 ]] || { echo "the reference should have 16 rows"; exit 1; }
paste -d, <(losses "$out/a/metrics.csv") "$out/ref.csv" | awk -F, '{
  for (i = 1; i <= 5; i++) { a = $i; b = $(i + 5); d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b;
    if (d > 1e-7 + 2e-5 * m) { print "step " $1 " column " i ": got " a ", PyTorch " b; bad = 1 } }
} END { exit bad }' || { echo "the losses left PyTorch's trajectory"; exit 1; }

# Bit-identical across runs, and across a stop at step 15 and a resume.
"$bin" "${args[@]}" --steps 16 --out "$out/b" >/dev/null
diff <(losses "$out/a/metrics.csv") <(losses "$out/b/metrics.csv") >/dev/null || { echo "two runs differ"; exit 1; }
"$bin" "${args[@]}" --steps 8 --out "$out/c" >/dev/null
"$bin" "${args[@]}" --steps 16 --out "$out/c" --resume "$out/c/checkpoint.safetensors" >/dev/null
diff <(losses "$out/a/metrics.csv") <(losses "$out/c/metrics.csv") >/dev/null || { echo "the resumed run differs"; exit 1; }
diff <(tail -1 "$out/a/summary.txt") <(tail -1 "$out/c/summary.txt") >/dev/null || { echo "the resumed run's figures differ"; exit 1; }

# The other losses run and stay finite.
for loss in bce wgan hinge "hinge --spectral-norm"; do
  # shellcheck disable=SC2086  # "hinge --spectral-norm" is two arguments
  "$bin" --data 8gaussians --loss $loss --steps 10 --batch-size 64 --log-every 1 --eval-samples 500 --seed 7 --quiet --out "$out/${loss// /}" >/dev/null
  tail -n +2 "$out/${loss// /}/metrics.csv" | cut -d, -f2-5 | awk -F, -v l="$loss" '{ for (i = 1; i <= 4; i++) if ($i !~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/) { print l ": non-finite " $0; exit 1 } }'
done

# Mixed precision: --amp bf16, and --amp fp16 with a loss scale per optimizer and the penalty's
# gradient taken through the critic's scaler. Both learn the constraint as float32 does (the penalty
# falls below a quarter of its first value); fp16 writes each scale's history, overflow reports
# included, and a resumed fp16 run (scales restored from the checkpoint) matches the straight one.
for amp in bf16 fp16; do
  "$bin" "${args[@]}" --steps 16 --amp $amp --out "$out/$amp" >/dev/null
  losses "$out/$amp/metrics.csv" | awk -F, -v amp=$amp 'NR == 1 { first = $4 }
    { for (i = 2; i <= 5; i++) if ($i !~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/) { print amp ": non-finite " $0; exit 1 } }
    END { print "--amp " amp ": gradient penalty step 1 " first ", step 16 " $4; if (!($4 < first / 4)) { print "did not learn"; exit 1 } }'
done
for who in critic generator; do
  log="$out/fp16/loss_scale_$who.csv"
  [[ $(head -1 "$log") == "update,scale,skipped,overflow" ]] || { echo "$log: bad header"; exit 1; }
  # Every row's scale is a power of two at most 2^16; a skipped row names what overflowed.
  tail -n +2 "$log" | awk -F, -v f="$log" '{ s = $2; while (s > 1) s /= 2; if (s != 1 || $2 > 65536) { print f ": scale " $2; exit 1 }
    if ($3 == 1 && $4 !~ /NaN\/Inf gradient/) { print f ": a skipped step without a report: " $0; exit 1 } }'
done
[[ $(tail -n +2 "$out/fp16/loss_scale_critic.csv" | wc -l) == 80 ]] || { echo "expected 80 critic updates (16 x 5)"; exit 1; }
"$bin" "${args[@]}" --steps 8 --amp fp16 --out "$out/fp16-r" >/dev/null
"$bin" "${args[@]}" --steps 16 --amp fp16 --out "$out/fp16-r" --resume "$out/fp16-r/checkpoint.safetensors" >/dev/null
diff <(losses "$out/fp16/metrics.csv") <(losses "$out/fp16-r/metrics.csv") >/dev/null || { echo "--amp fp16: the resumed run differs"; exit 1; }
diff "$out/fp16/loss_scale_critic.csv" "$out/fp16-r/loss_scale_critic.csv" >/dev/null || { echo "--amp fp16: the resumed scale history differs"; exit 1; }

if [[ -d /usr/share/datasets/fashion-mnist ]]; then
  "$bin" --data fashion-mnist --loss wgan-gp --steps 2 --critic-steps 1 --every 2 --classifier "" --quiet --out "$out/f" >/dev/null
  [[ -s "$out/f/samples_000002.png" ]] || { echo "no Fashion-MNIST sample grid"; exit 1; }
fi

# A corrupt checkpoint: exit code 1 and one line, the reader's own bracketed tag (the file's name
# holds "safetensors" too), never an abort (134) or a crash.
head -c 100 "$out/a/checkpoint.safetensors" >"$out/bad.safetensors"
status=0
"$bin" "${args[@]}" --steps 16 --out "$out/d" --resume "$out/bad.safetensors" 2>"$out/err.log" >/dev/null || status=$?
[[ $status -eq 1 ]] || { echo "a corrupt checkpoint: exit code $status, expected 1"; cat "$out/err.log"; exit 1; }
[[ $(wc -l <"$out/err.log") -eq 1 ]] && grep -qF "error: [safetensors] $out/bad.safetensors: " "$out/err.log" ||
  { echo "unclear error:"; cat "$out/err.log"; exit 1; }
# A checkpoint at a negative step is refused at once (gan trained on from step -5).
expect_negative_step_refused "$out/a/checkpoint.safetensors" --resume "$bin" "${args[@]}" --steps 16 --out "$out/n" || exit 1
# A step of 2^62 at 5 critic batches a step: skipping 5 * 2^62 batches wrapped round an int64.
expect_step_refused 4611686018427387904 "$out/a/checkpoint.safetensors" --resume "$bin" "${args[@]}" --steps 16 \
  --out "$out/n" || exit 1
# A diverged run says so (it went on logging nan losses and exited 0): the critic's loss under
# WGAN-GP, the generator's under BCE.
for case in "wgan-gp|the critic loss is nan at step 1" "bce|the generator loss is nan at step 1"; do
  status=0
  "$bin" --data 8gaussians --loss "${case%%|*}" --steps 2 --batch-size 64 --eval-samples 500 --seed 7 --quiet --lr 1e18 \
    --out "$out/diverged" 2>"$out/err.log" >/dev/null || status=$?
  [[ $status -eq 1 && $(wc -l <"$out/err.log") -eq 1 ]] &&
    grep -qF "error: [gan] ${case#*|}: the run diverged (--lr 1e+18)" "$out/err.log" ||
    { echo "--loss ${case%%|*} --lr 1e18: exit code $status, expected 1 and one line:"; cat "$out/err.log"; exit 1; }
done
cat "$out/a/summary.txt"
echo "gan short run: passed"
