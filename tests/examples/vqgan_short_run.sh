#!/usr/bin/env bash
# The VQGAN trainer's short fixed-seed runs (examples/vqgan):
# - stage one with the discriminator switched on inside the run (--disc-start 8 of 24 steps) and the
#   perceptual term (a classifier trained for a few steps): every logged figure is finite, the
#   adaptive weight is 0 before --disc-start and finite and > 0 after it, the reconstruction MSE falls,
#   the outputs are written;
# - a run stopped at step 16 and resumed gives bit-identical figures (both optimizers, the
#   discriminator's batch-norm statistics and the quantizer's EMA state travel in the checkpoint);
# - stage two on that checkpoint (sampling at temperature 0.9 from the top 50 codes): the prior's
#   loss falls clearly below ln(512) = 6.24 nats (a uniform guess), the sample grids are written, the
#   sampled codes are in [0, 512), and a run stopped at step 30 and resumed ends bit-identical;
# - --amp fp16 in both stages (loss scaling, scales resumed from the checkpoint) learns as well;
# - bad options, a missing --autoencoder, a corrupt checkpoint and checkpoints at a negative step end in
#   one line "error: ..." and exit code 1.
#   vqgan_short_run.sh path/to/vqgan path/to/classify
set -euo pipefail
bin=$1
classify=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/checkpoint_step.sh"  # expect_negative_step_refused
if [[ ! -d /usr/share/datasets/fashion-mnist ]]; then
  echo "dataset-fashion-mnist not installed: skipped"
  exit 77  # CTest reports this as skipped (SKIP_RETURN_CODE), not as passed
fi

# Features for the perceptual term: a few steps of training suffice for the plumbing.
"$classify" --steps 5 --epochs 1 --seed 1 --out "$out/classifier" >"$out/classify.log" 2>&1 || { cat "$out/classify.log"; exit 1; }
classifier=$out/classifier/checkpoint.safetensors

stage1=(--disc-start 8 --batch-size 16 --lr 1e-3 --restart-every 0 --log-every 1 --every 8 --test-images 200
        --classifier "$classifier" --seed 5 --quiet)
"$bin" "${stage1[@]}" --steps 24 --out "$out/a" >"$out/a.log"
for f in metrics.csv checkpoint.safetensors recon_000008.png recon_000024.png summary.txt; do
  [[ -s "$out/a/$f" ]] || { echo "stage one: missing $f"; exit 1; }
done
grep -q "perceptual term is off" "$out/a.log" && { echo "stage one: the perceptual term is off"; exit 1; }
figures() { tail -n +2 "$1" | cut -d, -f1-10; }  # all but the seconds
[[ $(figures "$out/a/metrics.csv" | wc -l) == 24 ]] || { echo "stage one: expected 24 rows"; exit 1; }
figures "$out/a/metrics.csv" | awk -F, '{ for (i = 2; i <= 10; i++) if ($i !~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/) {
  print "stage one: non-finite value in row " NR ": " $0; exit 1 } }'
# Columns: step rec_mse psnr perceptual vq_loss g_adv d_loss lambda perplexity codes_used.
figures "$out/a/metrics.csv" | awk -F, '
  $4 <= 0 { print "stage one: no perceptual term at step " $1; bad = 1 }
  $1 <= 8 && ($8 != 0 || $7 != 0) { print "stage one: lambda or d_loss before --disc-start at step " $1 ": " $0; bad = 1 }
  $1 > 8 && !($8 > 0 && $7 > 0) { print "stage one: no lambda or d_loss after --disc-start at step " $1 ": " $0; bad = 1 }
  NR <= 4 { first += $2 } NR > 20 { last += $2 }
  END { print "stage one: rec MSE, mean of steps 1-4 " first / 4 ", of steps 21-24 " last / 4;
        if (!(last < 0.7 * first)) { print "stage one: the reconstruction MSE did not fall"; bad = 1 } exit bad }'
grep -q "^vqgan autoencoder step 24: test set (200 images) reconstruction MSE" "$out/a/summary.txt" &&
  grep -q "test reconstructions vs test: [0-9]" "$out/a/summary.txt" || { echo "stage one: summary"; cat "$out/a/summary.txt"; exit 1; }

# Stopped at step 16, with both players' Adam states under way, and resumed: bit-identical.
"$bin" "${stage1[@]}" --steps 16 --out "$out/b" >/dev/null
"$bin" "${stage1[@]}" --steps 24 --out "$out/b" --resume "$out/b/checkpoint.safetensors" >/dev/null
diff <(figures "$out/a/metrics.csv") <(figures "$out/b/metrics.csv") >/dev/null || { echo "stage one: the resumed run differs"; exit 1; }
cmp -s "$out/a/summary.txt" "$out/b/summary.txt" || { echo "stage one: the resumed run's test figures differ"; exit 1; }

# Stage two on that checkpoint: a small prior learns the codes' distribution.
prior=(--stage prior --batch-size 32 --lr 1e-3 --layers 2 --d-model 64 --heads 2 --train-images 2000
       --test-images 500 --eval-samples 64 --every 30 --log-every 1 --temperature 0.9 --top-k 50
       --classifier "$classifier" --seed 5 --quiet)
stage2=(--autoencoder "$out/a/checkpoint.safetensors" "${prior[@]}")
"$bin" "${stage2[@]}" --class-conditional --steps 60 --out "$out/p" >"$out/p.log"
for f in metrics.csv checkpoint.safetensors samples_000030.png samples_000060.png summary.txt; do
  [[ -s "$out/p/$f" ]] || { echo "stage two: missing $f"; exit 1; }
done
tail -n +2 "$out/p/metrics.csv" | awk -F, 'NR <= 5 { first += $2 } { last = $2 }
  END { print "stage two: loss, mean of steps 1-5 " first / 5 ", step 60 " last;
        if (!(last < 5.0 && last < first - 1)) { print "stage two: the loss did not fall clearly below ln(512)"; exit 1 } }'
grep -E "^sampled codes of 64 images: min [0-9]+, max [0-9]+$" "$out/p/summary.txt" |
  awk '{ gsub(",", ""); if (!($7 >= 0 && $9 < 512)) { print "stage two: codes out of range: " $0; exit 1 } }' ||
  { echo "stage two: summary"; cat "$out/p/summary.txt"; exit 1; }
grep -q "samples (temperature 0.9, top-k 50) vs test: [0-9]" "$out/p/summary.txt" || { echo "stage two: no Frechet distance"; exit 1; }
# Stopped at step 30 and resumed: bit-identical losses and final figures.
"$bin" "${stage2[@]}" --class-conditional --steps 30 --out "$out/q" >/dev/null
"$bin" "${stage2[@]}" --class-conditional --steps 60 --out "$out/q" --resume "$out/q/checkpoint.safetensors" >/dev/null
diff <(tail -n +2 "$out/p/metrics.csv" | cut -d, -f1-3) <(tail -n +2 "$out/q/metrics.csv" | cut -d, -f1-3) >/dev/null ||
  { echo "stage two: the resumed run differs"; exit 1; }
cmp -s "$out/p/summary.txt" "$out/q/summary.txt" || { echo "stage two: the resumed run's figures differ"; exit 1; }

# --amp fp16 (stage one: a loss scale for each player, the adaptive weight's gradients through the
# autoencoder's scaler; stage two: the prior's loss scaled): the reconstruction error falls as in
# float32, the scales are logged, a resumed run (scales from the checkpoint) is bit-identical, and
# the prior learns.
"$bin" "${stage1[@]}" --steps 24 --amp fp16 --out "$out/h" >/dev/null
tail -n +2 "$out/h/metrics.csv" | awk -F, 'NR == 1 { first = $2 } { for (i = 2; i <= 10; i++) if ($i !~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/) { print "fp16: non-finite " $0; exit 1 } last = $2 }
  END { print "--amp fp16 stage one: reconstruction MSE step 1 " first ", step 24 " last; if (!(last < first / 2)) { print "fp16: MSE did not fall"; exit 1 } }'
[[ $(tail -n +2 "$out/h/loss_scale.csv" | wc -l) == 24 && $(tail -n +2 "$out/h/loss_scale_discriminator.csv" | wc -l) == 16 ]] ||
  { echo "fp16: expected 24 autoencoder and 16 discriminator scale updates"; exit 1; }
"$bin" "${stage1[@]}" --steps 16 --amp fp16 --out "$out/i" >/dev/null
"$bin" "${stage1[@]}" --steps 24 --amp fp16 --out "$out/i" --resume "$out/i/checkpoint.safetensors" >/dev/null
diff <(figures "$out/h/metrics.csv") <(figures "$out/i/metrics.csv") >/dev/null || { echo "fp16 stage one: the resumed run differs"; exit 1; }
"$bin" "${stage2[@]}" --steps 60 --amp fp16 --out "$out/j" >/dev/null
tail -n +2 "$out/j/metrics.csv" | awk -F, 'NR <= 5 { first += $2 } { last = $2 }
  END { print "--amp fp16 stage two: loss, mean of steps 1-5 " first / 5 ", step 60 " last;
        if (!(last < 5.0 && last < first - 1)) { print "fp16 stage two: the loss did not fall"; exit 1 } }'

# Errors: one line "error: ..." and exit code 1.
head -c 100 "$out/a/checkpoint.safetensors" >"$out/corrupt.safetensors"
ae=$out/a/checkpoint.safetensors
bad_cases=("--stage decoder" "--disc-weight -1" "--steps 2 --stage prior" "--steps 2 --autoencoder $ae"
           "--steps 2 --stage prior --autoencoder $out/corrupt.safetensors"
           "--steps 2 --stage prior --autoencoder $out/missing.safetensors"
           "--steps 2 --stage prior --autoencoder $classifier"
           "--steps 2 --stage prior --autoencoder $ae --d-model 30 --heads 4"
           "--steps 2 --stage prior --autoencoder $ae --top-k 600")
for bad in "${bad_cases[@]}"; do
  status=0
  # shellcheck disable=SC2086  # each case is several arguments
  msg=$("$bin" $bad --quiet --out "$out/e" 2>&1 >/dev/null) || status=$?
  [[ $status == 1 && $(wc -l <<<"$msg") == 1 && $msg == error:* ]] || { echo "\"$bad\" gave exit code $status and: $msg"; exit 1; }
done
# Checkpoints at a negative step are refused at once: either stage's --resume, and stage one's as
# --autoencoder (stage two printed "trained -5 steps" and went on).
expect_negative_step_refused "$ae" --resume "$bin" "${stage1[@]}" --steps 24 --out "$out/n1" || exit 1
# Too many --eval-samples: refused by their range at once (randn of 2^63 - 1 images after training).
status=0
msg=$("$bin" --steps 2 --batch-size 16 --restart-every 0 --train-images 64 --test-images 16 --eval-samples 9223372036854775807 \
  --quiet --out "$out/e" 2>&1 >/dev/null) || status=$?
[[ $status == 1 && $msg == 'error: --eval-samples: expected an integer from 2 to 1048576, got "9223372036854775807"'* ]] ||
  { echo "--eval-samples 9223372036854775807 gave exit code $status and: $msg"; exit 1; }
expect_negative_step_refused "$ae" --autoencoder "$bin" "${prior[@]}" --steps 60 --out "$out/n2" || exit 1
expect_negative_step_refused "$out/p/checkpoint.safetensors" --resume "$bin" "${stage2[@]}" --class-conditional --steps 60 --out "$out/n3" || exit 1
# A diverged run says so, in either stage (it went on logging nan and exited 0).
tiny=(--batch-size 16 --train-images 64 --test-images 16 --eval-samples 16 --steps 3 --seed 5 --quiet --out "$out/e")
tiny_prior=(--stage prior --autoencoder "$ae" --layers 1 --d-model 16 --heads 2 "${tiny[@]}")
for case in "--restart-every 0 --lr 1e18|the reconstruction loss is nan at step 2: the run diverged (--lr 1e+18)" \
            "--lr 1e18|the prior's training loss is nan at step 2: the run diverged (--lr 1e+18, --weight-decay 0.01)" \
            "--weight-decay 1e18|the prior's training loss is nan at step 2: the run diverged (--lr 0.0003, --weight-decay 1e+18)"; do
  status=0
  if [[ $case == --restart-every* ]]; then run=("${tiny[@]}"); else run=("${tiny_prior[@]}"); fi
  # shellcheck disable=SC2086  # the options are several arguments
  "$bin" ${case%%|*} "${run[@]}" 2>"$out/err.log" >/dev/null || status=$?
  [[ $status == 1 && $(wc -l <"$out/err.log") == 1 ]] && grep -qF "error: [vqgan] ${case#*|}" "$out/err.log" ||
    { echo "\"${case%%|*}\" gave exit code $status and:"; cat "$out/err.log"; exit 1; }
done
cat "$out/a/summary.txt" "$out/p/summary.txt"
echo "vqgan short run: passed"
