#!/usr/bin/env bash
# The GPU check, in one run on a machine with an NVIDIA GPU: build ember with CUDA (or use a build
# made elsewhere), run the whole test suite, run W1 (GEMM; float32, float16, bfloat16; against cuBLAS
# called directly), W2, W3 and W8 on the GPU and the same workloads in this machine's PyTorch, and
# print a summary table last. Full logs go to $OUT (default /tmp/gpu-check).
#
#   scripts/gpu-check.sh                       configure and build in build-gpu (needs fmt, Catch2,
#                                              nlohmann-json, zlib, OpenBLAS: scripts/install-deps.sh)
#   scripts/gpu-check.sh --prebuilt DIR        use the build in DIR (made with -DEMBER_CUDA=ON)
#
# A prebuilt tree may carry the shared libraries it needs in deps/lib beside the sources (fmt, gomp,
# OpenBLAS); cuBLAS is taken from the machine's CUDA installation or PyTorch's nvidia wheels.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
BUILD=""
if [[ "${1:-}" == "--prebuilt" ]]; then BUILD=$2; fi

echo "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv 2>&1 | tee "$OUT/env.txt"

# cuBLAS 13 at run time: the toolkit's, else the one PyTorch's wheels bring.
CUBLAS_DIR=""
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
         $(python3 -c 'import nvidia, os; print(" ".join(os.path.join(p, s, "lib") for p in nvidia.__path__ for s in ("cu13", "cublas")))' 2>/dev/null); do
  if [[ -e "$d/libcublas.so.13" ]]; then CUBLAS_DIR=$d; break; fi
done
echo "cuBLAS from: ${CUBLAS_DIR:-not found}" | tee -a "$OUT/env.txt"
# Carried libraries may come xz-compressed (to fit a transfer limit).
for f in "$ROOT"/deps/lib/*.xz; do
  [[ -e "$f" ]] && python3 -c 'import lzma, sys; open(sys.argv[1][:-3], "wb").write(lzma.open(sys.argv[1]).read())' "$f"
done
export LD_LIBRARY_PATH="$ROOT/deps/lib:${CUBLAS_DIR}:${LD_LIBRARY_PATH:-}"

if [[ -z "$BUILD" ]]; then
  echo "== build"
  BUILD=$ROOT/build-gpu
  cmake -S "$ROOT" -B "$BUILD" -DEMBER_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 >"$OUT/build.log" 2>&1 &&
    cmake --build "$BUILD" -j"$(nproc)" >>"$OUT/build.log" 2>&1 || { tail -40 "$OUT/build.log"; exit 1; }
fi

echo "== tests"
# CTEST_ARGS (e.g. "-R cuda") narrows the run, for rehearsing this script.
(cd "$BUILD" && ctest --output-on-failure --timeout 600 -j4 ${CTEST_ARGS:-}) >"$OUT/ctest.log" 2>&1
tail -15 "$OUT/ctest.log"
# The CUDA test alone, with its per-test durations and any mismatch report.
OMP_NUM_THREADS=4 "$BUILD/tests/test_cuda" --durations yes >"$OUT/test_cuda.log" 2>&1
echo "test_cuda exit code $?"; tail -25 "$OUT/test_cuda.log"
# The same tests under compute-sanitizer's memcheck (out-of-bounds and misaligned accesses in the
# kernels), without the 2^31-element test, which would take minutes there. Its exit code is 3 even
# when no access is bad: the deliberate 4 TiB allocation of the out-of-memory test counts as API errors.
if command -v compute-sanitizer >/dev/null || [[ -x /usr/local/cuda/bin/compute-sanitizer ]]; then
  SANITIZER=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  echo "== memcheck" | tee -a "$OUT/test_cuda.log"
  OMP_NUM_THREADS=4 timeout 200 "$SANITIZER" --tool memcheck --error-exitcode 3 "$BUILD/tests/test_cuda" \
    "~[large]~[nodevice]" >>"$OUT/test_cuda.log" 2>&1
  echo "memcheck exit code $?"; grep -E "ERROR SUMMARY|All tests passed|test cases" "$OUT/test_cuda.log" | tail -3
fi

echo "== benchmarks"
OMP_NUM_THREADS=2 "$BUILD/bench/bench_cuda" >"$OUT/ember_bench.txt" 2>"$OUT/ember_bench.err"
echo "bench_cuda exit code $?"; tail -3 "$OUT/ember_bench.err"
PYTHONUNBUFFERED=1 python3 "$ROOT/bench/torch_gpu/torch_bench.py" >"$OUT/torch_bench.txt" 2>"$OUT/torch_bench.err"
echo "torch_bench exit code $?"; tail -3 "$OUT/torch_bench.err"

echo "== trainers on cpu and cuda"
# Each trainer's short run on both devices (the throughput figures of docs/cuda.md). classify needs
# the Fashion-MNIST files ($EMBER_DATA or the Debian package); the 8-Gaussians GAN needs nothing.
if [[ -x "$BUILD/examples/gan" ]]; then
  for device in cpu cuda; do
    OMP_NUM_THREADS=4 timeout 300 "$BUILD/examples/gan" --quiet --device $device --loss wgan-gp --steps 300 \
      --every 300 --eval-samples 2000 --out "$OUT/gan-$device" >"$OUT/gan-$device.log" 2>&1
    echo "gan wgan-gp 8gaussians --device $device: exit $?; $(grep -h 'trained to step\|modes covered' "$OUT/gan-$device.log" | tr '\n' ' ')"
  done
  if [[ -d "${EMBER_DATA:-/usr/share/datasets/fashion-mnist}" ]]; then
    for device in cpu cuda; do
      OMP_NUM_THREADS=4 timeout 300 "$BUILD/examples/classify" --quiet --device $device --steps 300 --epochs 1 \
        --out "$OUT/classify-$device" >"$OUT/classify-$device.log" 2>&1
      echo "classify --device $device: exit $?; $(grep -h '^epoch' "$OUT/classify-$device.log")"
    done
  else
    echo "classify: no Fashion-MNIST files here, skipped"
  fi
fi

echo "== summary"
python3 "$ROOT/scripts/gpu_summary.py" "$OUT/ember_bench.txt" "$OUT/torch_bench.txt" "$OUT/ctest.log" | tee "$OUT/summary.txt"
