#!/usr/bin/env bash
# The VQ-VAE trainer's short fixed-seed run (K 512, D 64, batch 32, 40 steps, dead-code restart every
# 10 steps, the final figures on 500 test images):
#  - it writes its outputs and every logged figure is a finite number;
#  - the reconstruction MSE of the last 5 steps averages below half of the first step's;
#  - the restarts work: the one at step 10 moves codes and the next batch uses more codes than the
#    batch before it; at the end at least half of the 512 codes are in use on the test images (a run
#    without restarts uses fewer than 10 by step 40);
#  - the first 20 steps match vqvae_short_run_trajectory.csv, a regression pin: the figures this
#    trainer logged with this command on an AMD EPYC (OpenBLAS's Haswell core, oneDNN's AVX2
#    convolutions), floats within 1e-4 relative, counts exactly (an EMBER_NATIVE=ON build logs the
#    same). ember's results depend neither on the thread count nor on the CPU's instruction set
#    (docs/determinism.md), but they do on OpenBLAS's and oneDNN's kernels: with OpenBLAS's SkylakeX
#    sgemm one code assignment flips at step 7 and the figures part by up to 2e-3 by step 20. So the
#    script runs OpenBLAS's Haswell core and caps oneDNN at AVX2, and skips the pin where those do
#    not run (no AVX2 and FMA, no OpenBLAS, ember built without oneDNN). To regenerate after an
#    intended change, run
#      OPENBLAS_CORETYPE=Haswell ONEDNN_MAX_CPU_ISA=AVX2 vqvae --batch-size 32 --log-every 1 --every 20 \
#        --restart-every 10 --eval-images 500 --seed 3 --steps 40
#    and keep the columns step,recon_mse,vq_loss,commitment,perplexity,codes_used,restarted of the
#    first 20 rows of its metrics.csv;
#  - a second run gives bit-identical figures, and so does a run stopped at step 20 and resumed;
#  - the codebook option reaches the quantizer (vq_loss is 1.25 x the commitment term by gradient,
#    0.25 x with EMA), an EMA run with k-means initialisation uses nearly every code from its first
#    step and its reconstruction error falls too;
#  - bad options (a --codes above 2^20 included), a corrupt checkpoint and one at a negative step end
#    in exit code 1 and one line "error: ...".
# About a minute on 2 cores (47-68 s measured while other builds shared them).
#   vqvae_short_run.sh path/to/vqvae path/to/vqvae_short_run_trajectory.csv
set -euo pipefail
bin=$1
reference=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/checkpoint_step.sh"  # expect_negative_step_refused
if [[ ! -d /usr/share/datasets/fashion-mnist ]]; then
  echo "dataset-fashion-mnist not installed: skipped"
  exit 77  # CTest reports this as skipped (SKIP_RETURN_CODE), not as passed
fi
# The pin's OpenBLAS core (see above), where the CPU can run it; the other checks hold on any core.
if grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo; then
  export OPENBLAS_CORETYPE=Haswell ONEDNN_MAX_CPU_ISA=AVX2
fi
args=(--batch-size 32 --log-every 1 --every 20 --restart-every 10 --eval-images 500 --seed 3)
start=$SECONDS

"$bin" "${args[@]}" --steps 40 --out "$out/a" >"$out/a.log" 2>&1  # not quiet: the log names the gemm
for f in metrics.csv checkpoint.safetensors recon_000020.png recon_000040.png summary.txt; do
  [[ -s "$out/a/$f" ]] || { echo "missing $f"; exit 1; }
done
# metrics.csv: step,recon_mse,psnr,vq_loss,commitment,perplexity,codes_used,restarted,seconds
figures() { tail -n +2 "$1" | cut -d, -f1-8; }
column() { figures "$1" | cut -d, -f"$2"; }
[[ $(figures "$out/a/metrics.csv" | wc -l) == 40 ]] || { echo "expected 40 rows"; exit 1; }
# awk compares a non-number as text ("nan" < 1): check that every figure is a number first.
figures "$out/a/metrics.csv" | awk -F, '{ for (i = 1; i <= 8; i++) if ($i !~ /^[0-9.]+(e[-+]?[0-9]+)?$/) {
  print "not a finite number in row " NR ": " $0; exit 1 } }'

column "$out/a/metrics.csv" 2 | awk 'NR == 1 { first = $1 } NR > 35 { last += $1 / 5 } END {
  printf "reconstruction MSE: step 1 %s, mean of steps 36-40 %.4f\n", first, last; if (!(last < first / 2)) exit 1 }' ||
  { echo "the reconstruction error did not halve"; exit 1; }
figures "$out/a/metrics.csv" | awk -F, '$1 == 10 { moved = $8; before = $7 } $1 == 11 { after = $7 } END {
  print "restart at step 10: " moved " codes moved, codes used " before " -> " after; exit !(moved > 0 && after > before) }' ||
  { echo "the restart at step 10 did not revive codes"; exit 1; }
used=$(sed -E 's/.*codes used ([0-9]+)\/.*/\1/' "$out/a/summary.txt")
[[ $used =~ ^[0-9]+$ ]] && ((used >= 256)) || { echo "codes used on the test images: \"$used\", expected >= 256"; exit 1; }

# The committed trajectory, where OpenBLAS runs the core it was measured with.
pinned() { figures "$1" | cut -d, -f1,2,4-8 | head -20; }
grep -v '^#' "$reference" | tail -n +2 >"$out/ref.csv"
[[ $(wc -l <"$out/ref.csv") == 20 ]] || { echo "the reference should have 20 rows"; exit 1; }
if grep -q "gemm: OpenBLAS .*core=Haswell" "$out/a.log" && grep -q "convolution: float32 jit:avx2" "$out/a.log"; then
  paste -d, <(pinned "$out/a/metrics.csv") "$out/ref.csv" | awk -F, '{
    if ($1 != $8 || $6 != $13 || $7 != $14) { print "step " $1 ": counts " $6 "," $7 ", pinned " $13 "," $14; bad = 1 }
    for (i = 2; i <= 5; i++) { d = $i - $(i + 7); if (d < 0) d = -d;
      if (d > 1e-4 * $(i + 7)) { print "step " $1 " column " i ": got " $i ", pinned " $(i + 7); bad = 1 } }
  } END { exit bad }' || { echo "the figures left the committed trajectory"; exit 1; }
  echo "the first 20 steps match the committed trajectory"
else
  echo "OpenBLAS's Haswell core or oneDNN's AVX2 convolution is not running here ($(grep "gemm" "$out/a.log" | tr '\n' ' ')): trajectory pin skipped"
fi

# Bit-identical across runs, and across a stop at step 20 and a resume.
"$bin" "${args[@]}" --quiet --steps 40 --out "$out/b" >/dev/null
diff <(figures "$out/a/metrics.csv") <(figures "$out/b/metrics.csv") >/dev/null || { echo "two runs differ"; exit 1; }
"$bin" "${args[@]}" --quiet --steps 20 --out "$out/c" >/dev/null
"$bin" "${args[@]}" --quiet --steps 40 --out "$out/c" --resume "$out/c/checkpoint.safetensors" >"$out/c.log"
grep -q "resumed from .* at step 20" "$out/c.log" || { echo "no resume at step 20:"; cat "$out/c.log"; exit 1; }
diff <(figures "$out/a/metrics.csv") <(figures "$out/c/metrics.csv") >/dev/null || { echo "the resumed run differs"; exit 1; }
cmp -s "$out/a/summary.txt" "$out/c/summary.txt" || { echo "the resumed run's test figures differ"; exit 1; }

# The codebook option reaches the quantizer: the loss-trained codebook's term is codebook + 0.25 x
# commitment, which are equal in value, the EMA one 0.25 x commitment alone.
ratio_check() {
  figures "$1" | awk -F, -v want="$2" '{ r = $4 / $5; if (r < want * (1 - 1e-5) || r > want * (1 + 1e-5)) {
    print "step " $1 ": vq_loss / commitment = " r ", expected " want; exit 1 } }'
}
ratio_check "$out/a/metrics.csv" 1.25
"$bin" "${args[@]}" --quiet --codebook ema --kmeans-init --steps 20 --out "$out/ema" >/dev/null
figures "$out/ema/metrics.csv" | awk -F, '{ for (i = 1; i <= 8; i++) if ($i !~ /^[0-9.]+(e[-+]?[0-9]+)?$/) {
  print "ema: not a finite number in row " NR ": " $0; exit 1 } }'
ratio_check "$out/ema/metrics.csv" 0.25
# k-means on the first batch puts a cluster on every code; the untrained codebook's first batch used 52.
column "$out/ema/metrics.csv" 7 | awk 'NR == 1 { print "ema + k-means: codes used at step 1: " $1; exit !($1 >= 400) }' ||
  { echo "k-means initialisation left codes unused"; exit 1; }
column "$out/ema/metrics.csv" 2 | awk 'NR == 1 { first = $1 } NR > 15 { last += $1 / 5 } END { exit !(last < first / 2) }' ||
  { echo "the EMA codebook's reconstruction error did not halve"; exit 1; }

# Errors: exit code 1 and one line "error: ..." containing what is wrong.
expect_error() {
  local expected=$1 status=0
  shift
  "$bin" "$@" >/dev/null 2>"$out/err.log" || status=$?
  [[ $status -eq 1 && $(wc -l <"$out/err.log") -eq 1 ]] && grep -q '^error: ' "$out/err.log" &&
    grep -qF -- "$expected" "$out/err.log" || { echo "$*: exit code $status and:"; cat "$out/err.log"; exit 1; }
}
expect_error "--codebook" --codebook kmeans --steps 1 --out "$out/e"
expect_error "--decay" --decay 1 --steps 1 --out "$out/e"
expect_error "--batch-size 11 or more" --batch-size 8 --steps 1 --out "$out/e"
head -c 100 "$out/a/checkpoint.safetensors" >"$out/bad.safetensors"
expect_error "$out/bad.safetensors" "${args[@]}" --steps 40 --out "$out/e" --resume "$out/bad.safetensors"
# A codebook too large for any run: refused by its range, not by an overflowed --batch-size advice
# ("use --batch-size -188232082384791342 or more") or a tensor shape that no int64 counts.
expect_error '--codes: expected an integer from 1 to 1048576, got "9223372036854775807"' --codes 9223372036854775807 --steps 1 --out "$out/e"
expect_error '--codes: expected an integer from 1 to 1048576, got "4611686018427387904"' --codes 4611686018427387904 --restart-every 0 --steps 1 --out "$out/e"
# (was "[empty] shape [9223372036854775807, 1, 4, 4] (float32) has more elements than an int64 can count")
expect_error '--code-dim: expected an integer from 1 to 65536, got "9223372036854775807"' --code-dim 9223372036854775807 --steps 1 --out "$out/e"
# A checkpoint at a negative step is refused at once.
expect_negative_step_refused "$out/a/checkpoint.safetensors" --resume "$bin" "${args[@]}" --steps 40 --out "$out/n" || exit 1
# A diverged run says so (it went on logging nan and exited 0).
expect_error "[vqvae] the reconstruction loss is nan at step 2: the run diverged (--lr 1e+18)" \
  "${args[@]}" --steps 3 --lr 1e18 --quiet --out "$out/e"
cat "$out/a/summary.txt" "$out/ema/summary.txt"
echo "vqvae short run: passed in $((SECONDS - start)) s"
