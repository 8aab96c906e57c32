#!/usr/bin/env bash
# ember as a user gets it: installs the build into a temporary prefix, then builds tests/install/project
# against it as an outside project, with no CUDA toolkit visible, and checks
#  - the README's first program (taken from README.md itself) and a program with its own core/shape.h
#    build and run;
#  - neither they nor libember need a CUDA library (ldd);
#  - the first program runs under valgrind memcheck without an error;
#  - outside the per-instruction-set kernels, libember contains no AVX or AVX-512 instruction, so it
#    runs on any x86-64 CPU.
#   install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(realpath "$1")
source=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$work/prefix" >/dev/null
lib="$work/prefix/lib/libember.so"
[[ -e "$lib" ]] || lib=$(find "$work/prefix" -name 'libember.so' | head -1)
[[ -e "$lib" ]] || fail "libember.so was not installed"

# Installed headers: ember's own includes are all <ember/...>, and nothing internal is installed.
if grep -rnE '#include "(core|ops|nn|optim|io|data|backends)/' "$work/prefix/include/ember"; then
  fail "installed headers include ember's headers without the ember/ prefix"
fi
for internal in backends/cpu backends/cuda/runtime.h backends/cuda/kernels.h; do
  [[ ! -e "$work/prefix/include/ember/$internal" ]] || fail "internal header $internal was installed"
done
[[ -f "$work/prefix/include/ember/ember.h" && -f "$work/prefix/include/ember/testing/gradcheck.h" ]] ||
  fail "ember.h or testing/gradcheck.h missing from the install"

# The project, configured as a CPU-only user would on a machine without the CUDA toolkit.
cp -r "$source/tests/install/project" "$work/project"
awk '/^```cpp$/ && !done { inside = 1; next } inside && /^```$/ { inside = 0; done = 1; next } inside' \
  "$source/README.md" >"$work/project/first_program.cpp"
grep -q 'ember/ember.h' "$work/project/first_program.cpp" || fail "no first program found in README.md"
cmake -S "$work/project" -B "$work/project-build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCUDAToolkit_ROOT=/nonexistent -DCMAKE_DISABLE_FIND_PACKAGE_CUDAToolkit=ON -DCMAKE_CUDA_COMPILER=/nonexistent \
  >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; fail "configuring the outside project"; }
cmake --build "$work/project-build" -j2 >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "building the outside project"; }

"$work/project-build/own_headers" || fail "own_headers"
"$work/project-build/first_program" >"$work/first.out" || fail "the README's first program exited with $?"
grep -q '^tensor(' "$work/first.out" || { cat "$work/first.out"; fail "the first program printed no tensor"; }

for binary in "$work/project-build/first_program" "$lib"; do
  if ldd "$binary" | awk '{print $1}' | grep -iE 'cuda|cublas|nvidia'; then fail "$(basename "$binary") needs a CUDA library"; fi
done
echo "sizes: first_program $(stat -c %s "$work/project-build/first_program") bytes, libember.so $(stat -L -c %s "$lib") bytes"

# The cuda component: found exactly when the CUDA backend was installed (and the toolkit is here).
mkdir "$work/cuda-component"
cat >"$work/cuda-component/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.20)
project(wants_cuda LANGUAGES CXX)
find_package(ember REQUIRED COMPONENTS cuda)
if(NOT TARGET ember::cuda)
  message(FATAL_ERROR "ember::cuda missing")
endif()
CMAKE
if cmake -S "$work/cuda-component" -B "$work/cuda-component/build" -DCMAKE_PREFIX_PATH="$work/prefix" \
  >"$work/cuda-component.log" 2>&1; then
  [[ -e "$(dirname "$lib")/libember_cuda.so" ]] || fail "find_package(ember COMPONENTS cuda) succeeded without libember_cuda.so"
elif [[ -e "$(dirname "$lib")/libember_cuda.so" ]]; then
  grep -q "needs the CUDA toolkit" "$work/cuda-component.log" || { cat "$work/cuda-component.log"; fail "the cuda component"; }
else
  grep -q "installed without its CUDA backend" "$work/cuda-component.log" ||
    { cat "$work/cuda-component.log"; fail "the cuda component's error on an install without CUDA"; }
fi

# Instruction sets: VEX/EVEX instructions (mnemonics v...) only in ember::cpu::avx2/avx512 code,
# AVX-512 (zmm registers, mask registers) only in ember::cpu::avx512 code.
objdump -d -C --no-show-raw-insn "$lib" | awk '
  /^[0-9a-f]+ <.*>:$/ { fn = $0; level = fn ~ /::avx512::/ ? 2 : fn ~ /::avx2::/ ? 1 : 0; next }
  /^ +[0-9a-f]+:\t/ {
    split($0, parts, "\t"); insn = parts[2]
    avx = insn ~ /^v/; avx512 = insn ~ /zmm|%k[0-7]/
    if ((avx && level == 0) || (avx512 && level < 2)) { print fn; print "   " insn; bad++ }
  }
  END { exit bad > 0 }' >"$work/isa.txt" || { head -40 "$work/isa.txt"; fail "AVX code outside the dispatched kernels"; }

# The elementwise math helpers are inlined into their loops (each with a constant op, so the loop
# vectorises): an out-of-line copy means a call per element, which once made relu 60x slower.
if nm -C "$lib" | grep -E "apply_unary<|apply_binary_arith<" >"$work/outlined.txt"; then
  cat "$work/outlined.txt"; fail "elementwise math helpers compiled out of line (a call per element)"
fi

if command -v valgrind >/dev/null; then
  valgrind --quiet --error-exitcode=1 --leak-check=no "$work/project-build/first_program" >/dev/null 2>"$work/valgrind.log" ||
    { cat "$work/valgrind.log"; fail "the first program under valgrind memcheck"; }
else
  echo "valgrind not installed: memcheck run skipped" >&2
fi
echo "install test passed"
