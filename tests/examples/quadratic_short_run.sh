#!/usr/bin/env bash
# examples/quadratic end to end on a small problem: the table has every method, CG ends within n
# steps, Newton in one, the figures and the CSV are written, and bad options end in one line
# "error: ..." with exit code 1.
#   quadratic_short_run.sh path/to/quadratic
set -uo pipefail
quadratic=$(realpath "$1")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# n = 40 with condition number 10000: the sqrt(kappa) bound allows 922 CG steps, termination 40.
if ! "$quadratic" --dim 40 --condition 10000 --max-iterations 300 --out "$tmp/run" >"$tmp/table" 2>"$tmp/err"; then
  fail "the run failed: $(cat "$tmp/err")"
fi
cat "$tmp/table"
# The iterations column: characters 40-49 after the 38-character method name.
iterations() { grep "^$1" "$tmp/table" | cut -c40-49 | tr -d ' '; }
cg=$(iterations "conjugate gradients")
newton=$(iterations "Newton")
[[ $cg =~ ^[0-9]+$ && $cg -le 40 ]] || fail "CG took '$cg' iterations, expected at most n = 40"
[[ $newton == 1 ]] || fail "Newton took '$newton' iterations, expected 1"
for method in "gradient descent, step" "exact line search" "heavy ball" "optim::SGD, momentum" "optim::Adam"; do
  grep -q "$method" "$tmp/table" || fail "no row for '$method'"
done
for file in contours.svg convergence.svg convergence.csv; do
  [[ -s $tmp/run/$file ]] || fail "no $file"
done
grep -q "<svg" "$tmp/run/contours.svg" || fail "contours.svg is not an SVG"

# expect_error TEXT args...: exit code 1 and one line "error: ..." containing TEXT.
expect_error() {
  local expected=$1
  shift
  local status=0
  "$quadratic" "$@" >/dev/null 2>"$tmp/stderr" </dev/null || status=$?
  [[ $status -eq 1 ]] || fail "$*: exit code $status, expected 1"
  [[ $(wc -l <"$tmp/stderr") -eq 1 ]] || fail "$*: not one line on stderr: $(head -c 300 "$tmp/stderr")"
  grep -q "^error: .*$expected" "$tmp/stderr" || fail "$*: stderr lacks '$expected': $(cat "$tmp/stderr")"
}
expect_error "--condition" --condition 0.5
expect_error "--dim" --dim 1
# (was "[linspace] shape [9223372036854775807] ... more bytes than an int64 can count")
expect_error "--dim: expected an integer from 2 to 65536" --dim 9223372036854775807
# (A was indefinite after rounding: "[newton] the Hessian is not positive definite (pivot 3 is -87040)",
# or "(pivot 1 is -24)" for the 2-D problem)
expect_error "--condition: expected a number in \[1, 1e+16\], got \"1e19\"" --condition 1e19 --dim 4
expect_error "--plot-condition: expected a number in \[1, 1e+16\], got \"1e17\"" --plot-condition 1e17
expect_error "--tolerance" --tolerance abc
expect_error "cannot create" --out /proc/none/quadratic
"$quadratic" --help | grep -q "default: 1000" || fail "--help does not show the defaults"

if [[ $failures -ne 0 ]]; then
  echo "$failures failed"
  exit 1
fi
echo "quadratic_short_run: all checks passed"
