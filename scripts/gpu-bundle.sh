#!/usr/bin/env bash
# Prepares a self-contained tree for scripts/gpu-check.sh on a GPU machine that has the CUDA driver,
# cuBLAS and PyTorch but none of ember's build dependencies: builds here (build-gpu: CUDA for sm_90;
# libember is portable, its kernels chosen at run time for the other machine's CPU), then copies the
# sources, that build (libember, the CUDA plugin, tests, benchmarks, trainers) and the shared
# libraries the binaries load (fmt, libgomp, OpenBLAS xz-compressed) into DEST.
#
#   scripts/gpu-bundle.sh DEST
# On the GPU machine, the build's absolute paths must resolve: link this checkout's path to DEST
# (the device run does `ln -sfn $PWD/DEST <this checkout>`), then DEST/scripts/gpu-check.sh --prebuilt
# <this checkout>/build-gpu.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=$(realpath -m "$1")
cmake -S "$ROOT" -B "$ROOT/build-gpu" -DEMBER_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DEMBER_NATIVE=OFF >/dev/null
cmake --build "$ROOT/build-gpu" -j"${JOBS:-2}"
rm -rf "$DEST"
mkdir -p "$DEST"
# Sources (tracked and new files, no build trees), then the build's binaries and CTest files.
(cd "$ROOT" && git ls-files --cached --others --exclude-standard -z | tar --null -T - -cf -) | tar -C "$DEST" -xf -
(cd "$ROOT" && find build-gpu \( -name '*.so*' -o -name 'test_*' -type f -perm -u+x -o -name 'bench_*' -type f -perm -u+x \
   -o -path 'build-gpu/examples/*' -type f -perm -u+x \
   -o -name CTestTestfile.cmake \) -print0 | tar --null -T - -cf -) | tar -C "$DEST" -xf -
mkdir -p "$DEST/deps/lib"
for lib in /usr/lib/x86_64-linux-gnu/libfmt.so.9 /usr/lib/x86_64-linux-gnu/libgomp.so.1 \
           /lib/x86_64-linux-gnu/libgfortran.so.5 /lib/x86_64-linux-gnu/libquadmath.so.0; do
  cp -L "$lib" "$DEST/deps/lib/"
done
[[ -e "$DEST/deps/lib/libopenblas.so.0.xz" ]] ||
  xz -T2 -c /usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0 >"$DEST/deps/lib/libopenblas.so.0.xz"
strip --strip-unneeded "$DEST"/build-gpu/tests/test_* "$DEST"/build-gpu/bench/bench_* "$DEST"/build-gpu/*.so* 2>/dev/null || true
du -sh "$DEST"
