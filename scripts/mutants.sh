#!/usr/bin/env bash
# Mutation testing: does the test suite catch plausible bugs?
#
# Each mutant in scripts/mutants.txt is one small, realistic bug (a sign flipped in a backward
# formula, an off-by-one in a reduction, a dropped version bump, swapped hyper-parameters, a loader
# check removed, a wrong stride, an ignored seed...). The script copies the tracked tree once into
# $MUTANTS_DIR/src, configures and builds it once in $MUTANTS_DIR/build (CPU only, no benchmarks,
# examples on), runs ctest there once unmutated (every test must pass, or no kill means anything),
# then for each mutant: applies it, rebuilds incrementally, runs ctest --stop-on-failure, records
# the first failing test, and reverts. It ends with the line "mutants: K killed of N" and exits
# non-zero unless every mutant was killed and the list applied cleanly.
#
# Usage:  make mutants                      (or bash scripts/mutants.sh)
#         MUTANTS=adam-beta-swap,softmax-no-max make mutants     (a subset, by id)
# Environment:
#   MUTANTS             comma-separated ids to run (default: all)
#   MUTANTS_DIR         work folder (default: build/mutants): the copy is MUTANTS_DIR/src, its build
#                       MUTANTS_DIR/src/build; kept between runs, so a second run rebuilds incrementally
#   MUTANTS_CHECK_ONLY=1  only check that every fragment of the list is found exactly once
#   MUTANTS_SKIP_BASELINE=1   skip the unmutated ctest run (only when you know it passes)
#   MUTANTS_CTEST_TIMEOUT     per-test timeout in seconds (default 1200)
#   JOBS                build parallelism (default 2)
#   CMAKE_CXX_COMPILER_LAUNCHER   e.g. ccache; passed to CMake when set
#
# List format (scripts/mutants.txt): blocks separated by blank lines, '#' lines are comments:
#   id:   short-unique-id
#   file: path/relative/to/repo.cpp
#   find: an exact fragment of one line of that file
#   repl: what replaces it
#   desc: one line saying which bug this is
# "find" is matched literally and must occur exactly once in the file; otherwise the run stops with
# an error, so the list cannot silently rot when the code changes: update the fragment instead.
# A mutant that does not compile is an error of the list (a real bug compiles), not a kill.
# When a new kind of bug is fixed, add its mutant here, and check that it is killed.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIST="$ROOT/scripts/mutants.txt"
WORK=${MUTANTS_DIR:-$ROOT/build/mutants}
SRC="$WORK/src"
# The build folder sits inside the copy, as build/ does in a checkout: with ccache's base_dir the
# compile commands are then the same as a normal build's, and the first build is mostly cache hits.
BLD="$SRC/build"
JOBS=${JOBS:-2}
CTEST_TIMEOUT=${MUTANTS_CTEST_TIMEOUT:-1200}
LOG="$WORK/logs"

die() { echo "mutants: error: $*" >&2; exit 2; }

# --- Parse the list --------------------------------------------------------------------------
ids=(); files=(); finds=(); repls=(); descs=()
parse_list() {
  local id="" file="" find="" repl="" desc="" line key val
  flush() {
    if [[ -n "$id$file$find$repl$desc" ]]; then
      [[ -n "$id" && -n "$file" && -n "$find" && -n "$desc" ]] ||
        die "incomplete mutant '${id:-?}' in $LIST (needs id, file, find, repl, desc)"
      for existing in "${ids[@]}"; do [[ "$existing" == "$id" ]] && die "duplicate id '$id'"; done
      ids+=("$id"); files+=("$file"); finds+=("$find"); repls+=("$repl"); descs+=("$desc")
    fi
    id=""; file=""; find=""; repl=""; desc=""
  }
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ "$line" =~ ^[[:space:]]*# ]] && continue
    if [[ -z "${line//[[:space:]]/}" ]]; then flush; continue; fi
    key=${line%%:*}; val=${line#*:}; val=${val# }
    case "$key" in
      id) id=$val ;; file) file=$val ;; find) find=$val ;; repl) repl=$val ;; desc) desc=$val ;;
      *) die "unknown key '$key' in $LIST: $line" ;;
    esac
  done < "$LIST"
  flush
}
parse_list
(( ${#ids[@]} > 0 )) || die "no mutants in $LIST"

selected=()
if [[ -n "${MUTANTS:-}" ]]; then
  IFS=',' read -r -a wanted <<< "$MUTANTS"
  for w in "${wanted[@]}"; do
    found=""
    for i in "${!ids[@]}"; do [[ "${ids[$i]}" == "$w" ]] && found=$i; done
    [[ -n "$found" ]] || die "no mutant with id '$w'"
    selected+=("$found")
  done
else
  selected=("${!ids[@]}")
fi

# Check every selected fragment before spending time on builds.
count_matches() {  # file fragment -> number of occurrences
  python3 - "$1" "$2" <<'PY'
import sys
print(open(sys.argv[1], encoding="utf-8").read().count(sys.argv[2]))
PY
}
for i in "${selected[@]}"; do
  f="$ROOT/${files[$i]}"
  [[ -f "$f" ]] || die "mutant '${ids[$i]}': no file ${files[$i]}"
  n=$(count_matches "$f" "${finds[$i]}")
  [[ "$n" == 1 ]] || die "mutant '${ids[$i]}': fragment found $n times in ${files[$i]} (must be exactly once): ${finds[$i]}"
done

if [[ "${MUTANTS_CHECK_ONLY:-0}" == 1 ]]; then
  echo "mutants: the ${#selected[@]} fragments each match exactly once"
  exit 0
fi

# --- Copy the tree (tracked and new untracked files) --------------------------------------------
# Only files whose content changed are rewritten, with a fresh timestamp, so make's incremental
# build sees exactly what changed (including files a killed run left mutated).
mkdir -p "$SRC" "$BLD" "$LOG"
sync_tree() {
  python3 - "$ROOT" "$SRC" <<'PY'
import os, shutil, subprocess, sys
root, dst = sys.argv[1], sys.argv[2]
out = subprocess.run(["git", "-C", root, "ls-files", "-z", "-c", "-o", "--exclude-standard"],
                     check=True, capture_output=True).stdout
wanted = {p for p in out.decode().split("\0") if p and os.path.isfile(os.path.join(root, p))}
for rel in wanted:
    src, tgt = os.path.join(root, rel), os.path.join(dst, rel)
    with open(src, "rb") as f:
        data = f.read()
    try:
        with open(tgt, "rb") as f:
            same = f.read() == data
    except OSError:
        same = False
    if not same:
        os.makedirs(os.path.dirname(tgt), exist_ok=True)
        with open(tgt, "wb") as f:
            f.write(data)
        shutil.copymode(src, tgt)
for base, dirs, names in os.walk(dst):
    if base == dst and "build" in dirs:
        dirs.remove("build")
    for name in names:
        rel = os.path.relpath(os.path.join(base, name), dst)
        if rel not in wanted:
            os.remove(os.path.join(base, name))
PY
}
sync_tree || die "could not copy the tree into $SRC"

cmake_args=(-S "$SRC" -B "$BLD" -DCMAKE_BUILD_TYPE=Release -DEMBER_CUDA=OFF -DEMBER_BUILD_BENCH=OFF
            -DEMBER_BUILD_EXAMPLES=ON -DEMBER_BUILD_TESTS=ON)
[[ -n "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ]] &&
  cmake_args+=(-DCMAKE_CXX_COMPILER_LAUNCHER="$CMAKE_CXX_COMPILER_LAUNCHER")
echo "mutants: configuring and building the copy in $BLD"
t0=$SECONDS
cmake "${cmake_args[@]}" > "$LOG/configure.log" 2>&1 || die "configure failed, see $LOG/configure.log"
cmake --build "$BLD" -j"$JOBS" > "$LOG/build-base.log" 2>&1 ||
  die "the unmutated tree does not build, see $LOG/build-base.log"
echo "mutants: base build $((SECONDS - t0)) s"

run_ctest() {  # log file -> 0 if all pass
  (cd "$BLD" && ctest --stop-on-failure --timeout "$CTEST_TIMEOUT" --output-on-failure) > "$1" 2>&1
}
first_failure() {  # ctest log -> the first failing test, and its first failed check when it says
  local name where
  name=$(sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\) (.*$/\1/p' "$1" | head -1)
  # Catch2 prints the failing test case between two rules of dashes.
  where=$(awk '/^----------------------------------------/ { getline; print; exit }' "$1")
  echo "${name:-?}${where:+: \"$where\"}"
}

if [[ "${MUTANTS_SKIP_BASELINE:-0}" != 1 ]]; then
  t0=$SECONDS
  run_ctest "$LOG/ctest-base.log" ||
    die "the unmutated tree fails '$(first_failure "$LOG/ctest-base.log")'; see $LOG/ctest-base.log"
  echo "mutants: unmutated ctest passes ($((SECONDS - t0)) s)"
fi

# --- Run the mutants ----------------------------------------------------------------------------
killed=0; total=0; survivors=(); invalid=()
current_file=""
restore() { [[ -n "$current_file" ]] && cp "$ROOT/$current_file" "$SRC/$current_file"; current_file=""; }
trap 'restore' EXIT
trap 'restore; exit 130' INT TERM

for i in "${selected[@]}"; do
  id=${ids[$i]}; file=${files[$i]}
  total=$((total + 1))
  t0=$SECONDS
  current_file=$file
  python3 - "$SRC/$file" "${finds[$i]}" "${repls[$i]}" <<'PY' || die "could not apply '$id'"
import sys
path, find, repl = sys.argv[1:4]
text = open(path, encoding="utf-8").read()
assert text.count(find) == 1
open(path, "w", encoding="utf-8").write(text.replace(find, repl))
PY
  if ! cmake --build "$BLD" -j"$JOBS" > "$LOG/build-$id.log" 2>&1; then
    printf 'mutants: %-34s INVALID (does not build, see %s): %s\n' "$id" "$LOG/build-$id.log" "${descs[$i]}"
    invalid+=("$id")
  elif run_ctest "$LOG/ctest-$id.log"; then
    printf 'mutants: %-34s SURVIVED (%d s): %s\n' "$id" $((SECONDS - t0)) "${descs[$i]}"
    survivors+=("$id")
  else
    killed=$((killed + 1))
    printf 'mutants: %-34s killed by %s (%d s): %s\n' "$id" "$(first_failure "$LOG/ctest-$id.log")" \
      $((SECONDS - t0)) "${descs[$i]}"
  fi
  restore
done
# Leave the copy built unmutated, so the next run starts from a clean incremental state.
cmake --build "$BLD" -j"$JOBS" > "$LOG/build-restore.log" 2>&1 || true

(( ${#survivors[@]} )) && echo "mutants: survived: ${survivors[*]} (a test is missing: add one)"
(( ${#invalid[@]} )) && echo "mutants: invalid (do not build; fix the list): ${invalid[*]}"
echo "mutants: $killed killed of $total"
(( killed == total )) || exit 1
