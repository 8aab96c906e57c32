#!/usr/bin/env bash
# Installs the Debian packages ember needs, only those that are missing.
# Fast (a dpkg query, no network) when everything is already present.
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libopenblas-openmp-dev
  catch2 libfmt-dev libstb-dev nlohmann-json3-dev libcli11-dev zlib1g-dev
  dataset-fashion-mnist fortunes
  valgrind  # tests/install runs the README's first program under memcheck
  libdnnl-dev  # oneDNN: bfloat16 GEMM at the speed of the CPU's 16-bit instructions (ember builds without it)
)
# Optional extras: `scripts/install-deps.sh --bench` adds Google Benchmark; `--torch` the libtorch peer;
# `--fuzz` clang with libFuzzer and LLVM's OpenMP runtime (make fuzz); `--coverage` gcovr (make coverage).
for arg in "$@"; do
  case "$arg" in
    --bench) packages+=(libbenchmark-dev) ;;
    --torch) packages+=(libtorch-dev) ;;
    --sanitize) packages+=(clang libclang-rt-dev) ;;
    --fuzz) packages+=(clang libclang-rt-dev libomp-dev) ;;
    --coverage) packages+=(gcovr) ;;
    *) echo "install-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
# Either OpenBLAS flavour is fine; the OpenMP one shares ember's thread pool.
if [[ " ${missing[*]} " == *" libopenblas-openmp-dev "* ]] &&
   dpkg-query -W -f='${Status}' libopenblas-dev 2>/dev/null | grep -q "install ok installed" &&
   [[ -e /usr/include/x86_64-linux-gnu/cblas.h || -e /usr/include/cblas.h || -e /usr/include/openblas/cblas.h ]]; then
  missing=("${missing[@]/libopenblas-openmp-dev}")
fi
read -ra missing <<<"${missing[*]}"
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
