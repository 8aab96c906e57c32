#!/usr/bin/env bash
# Trains the VQ-VAE once per codebook (loss, ema) for the same steps and seed, then prints the final
# test-set figures of each as a table.
#   examples/vqvae/compare.sh [BUILD_DIR] [STEPS] [OUT]      (defaults: build 2000 out/vqvae-compare)
# Extra vqvae options go in VQVAE_ARGS, e.g. VQVAE_ARGS="--kmeans-init" examples/vqvae/compare.sh build 1000
set -euo pipefail
build=${1:-build}
steps=${2:-2000}
out=${3:-out/vqvae-compare}
mkdir -p "$out"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $steps steps per codebook" >&2
for codebook in loss ema; do
  # shellcheck disable=SC2086  # VQVAE_ARGS is a list of options
  "$build/examples/vqvae" --codebook "$codebook" --steps "$steps" --seed 0 --quiet --out "$out/$codebook" \
    ${VQVAE_ARGS:-} >"$out/$codebook.log" 2>&1 || { cat "$out/$codebook.log"; exit 1; }
done
# summary.txt: "... reconstruction MSE M (...), PSNR P dB (...), code perplexity X, codes used U/K"
printf '| codebook | test MSE ([-1, 1]) | PSNR (dB) | perplexity | codes used | train s |\n|---|---|---|---|---|---|\n'
for codebook in loss ema; do
  sed -E 's/.*MSE ([0-9.]+).*PSNR ([0-9.]+) dB.*perplexity ([0-9.]+), codes used ([0-9/]+).*/\1 \2 \3 \4/' "$out/$codebook/summary.txt" |
    while read -r mse psnr perplexity used; do
      seconds=$(tail -1 "$out/$codebook/metrics.csv" | awk -F, '{ print $NF }')
      echo "| $codebook | $mse | $psnr | $perplexity | $used | $seconds |"
    done
done
