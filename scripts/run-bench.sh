#!/usr/bin/env bash
# Runs ember's benchmarks (the workloads of docs/benchmarks.md), printing the CPU model first.
#   scripts/run-bench.sh BUILD_DIR                      ember alone
#   scripts/run-bench.sh BUILD_DIR --torch              against the libtorch peers (built here)
#   scripts/run-bench.sh BUILD_DIR --against OTHER_DIR  against another build of ember: OTHER_DIR holds
#                                                       its bench_* programs (a build's bench/ folder)
#   WORKLOADS="w4_w5_gan" ROUNDS=3 scripts/run-bench.sh build --torch   (only some workloads)
# With a peer, each workload runs alternately (ember, peer, ember, peer, ...) for ROUNDS rounds, then
# per case the median of the rounds' medians for both and the ratio ember/peer are printed.
# libtorch runs in its fastest configuration here: OpenBLAS forced to its AVX-512 kernels
# (OPENBLAS_CORETYPE=SkylakeX) and 2 threads. ember runs with the environment as given.
set -euo pipefail
build=${1:-build}
mode=${2:-}
rounds=${ROUNDS:-3}
workloads=(${WORKLOADS:-w1_gemm w8_overhead w2_w3_train w4_w5_gan})
bench_name() { case $1 in w1_gemm) echo "bench_w1_gemm_blas";; *) echo "bench_$1";; esac; }

export OMP_NUM_THREADS=2
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores" >&2
if [[ -z "$mode" ]]; then
  for w in "${workloads[@]}"; do "$build/bench/$(bench_name "$w")"; done
  exit 0
fi

case "$mode" in
  --torch)
    peer_name=torch
    peer_build="$build-torch"
    cmake -S bench/torch -B "$peer_build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$peer_build" -j2 >/dev/null
    peer() { OPENBLAS_CORETYPE=SkylakeX "$peer_build/torch_$1"; }
    ;;
  --against)
    peer_name=other
    other=${3:?--against needs the folder of the other build with its bench_* programs}
    peer() { "$other/$(bench_name "$1")"; }
    ;;
  *) echo "run-bench: unknown option $mode" >&2; exit 2 ;;
esac
results=$(mktemp)
for w in "${workloads[@]}"; do
  for ((r = 0; r < rounds; r++)); do
    "$build/bench/$(bench_name "$w")" 2>/dev/null | awk '{print "ember", $1, $2}' >>"$results"
    peer "$w" 2>/dev/null | awk '{print "peer", $1, $2}' >>"$results"
  done
done
# median of each (side, case); then ember/peer for cases both sides ran
sort -k2,2 -k1,1 -k3,3g "$results" | awk -v peer="$peer_name" '
  { key = $1 " " $2; vals[key] = vals[key] " " $3; n[key]++ }
  END {
    for (k in vals) { split(substr(vals[k], 2), v, " "); m[k] = v[int((n[k] + 1) / 2)] }
    for (k in m) { split(k, p, " "); if (p[1] == "ember") cases[p[2]] = 1 }
    printf "%-28s %12s %12s %8s\n", "case", "ember_ms", peer "_ms", "ratio"
    for (c in cases) {
      e = m["ember " c]; t = m["peer " c]
      if (t != "") printf "%-28s %12.3f %12.3f %8.2f\n", c, e, t, e / t
      else printf "%-28s %12.3f %12s %8s\n", c, e, "-", "-"
    }
  }' | sort
rm -f "$results"
