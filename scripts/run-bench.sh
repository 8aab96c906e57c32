#!/usr/bin/env bash
# Runs ember's benchmarks (the workloads of docs/benchmarks.md). With --torch, also builds the libtorch peers and runs
# each workload alternately (ember, torch, ember, torch, ...) for ROUNDS rounds, then prints per
# case the median of the rounds' medians for both and the ratio ember/torch.
#   scripts/run-bench.sh BUILD_DIR [--torch]
#   WORKLOADS="w4_w5_gan" ROUNDS=3 scripts/run-bench.sh build --torch   (only some workloads)
# libtorch runs in its fastest configuration here: OpenBLAS forced to its AVX-512 kernels
# (OPENBLAS_CORETYPE=SkylakeX) and 2 threads. ember runs with the environment as given.
set -euo pipefail
build=${1:-build}
torch=${2:-}
rounds=${ROUNDS:-3}
workloads=(${WORKLOADS:-w1_gemm w8_overhead w2_w3_train w4_w5_gan})
ember_bin() { case $1 in w1_gemm) echo "$build/bench/bench_w1_gemm_blas";; *) echo "$build/bench/bench_$1";; esac; }

export OMP_NUM_THREADS=2
if [[ "$torch" != "--torch" ]]; then
  for w in "${workloads[@]}"; do "$(ember_bin "$w")"; done
  exit 0
fi

torch_build="$build-torch"
cmake -S bench/torch -B "$torch_build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$torch_build" -j2 >/dev/null
results=$(mktemp)
for w in "${workloads[@]}"; do
  for ((r = 0; r < rounds; r++)); do
    "$(ember_bin "$w")" 2>/dev/null | awk '{print "ember", $1, $2}' >>"$results"
    OPENBLAS_CORETYPE=SkylakeX "$torch_build/torch_$w" 2>/dev/null | awk '{print "torch", $1, $2}' >>"$results"
  done
done
# median of each (side, case); then ember/torch for cases both sides ran
sort -k2,2 -k1,1 -k3,3g "$results" | awk '
  { key = $1 " " $2; vals[key] = vals[key] " " $3; n[key]++ }
  END {
    for (k in vals) { split(substr(vals[k], 2), v, " "); m[k] = v[int((n[k] + 1) / 2)] }
    for (k in m) { split(k, p, " "); if (p[1] == "ember") cases[p[2]] = 1 }
    printf "%-28s %12s %12s %8s\n", "case", "ember_ms", "torch_ms", "ratio"
    for (c in cases) {
      e = m["ember " c]; t = m["torch " c]
      if (t != "") printf "%-28s %12.3f %12.3f %8.2f\n", c, e, t, e / t
      else printf "%-28s %12.3f %12s %8s\n", c, e, "-", "-"
    }
  }' | sort
rm -f "$results"
