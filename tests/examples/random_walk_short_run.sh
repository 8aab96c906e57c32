#!/usr/bin/env bash
# A short fixed-seed run of random_walk writes its table and figures; bad options end in one line
# "error: ..." and exit code 1.  Usage: random_walk_short_run.sh PATH_TO_random_walk
set -u
program="$1"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$program" --walks 20000 --steps 30 --seed 5 --out "$out/run" --quiet > "$out/stdout" 2>&1 ||
  fail "the short run exited with $?: $(cat "$out/stdout")"
for f in first_return_p0.5.svg first_return_p0.6.svg return_by_step.svg comparison.csv; do
  [ -s "$out/run/$f" ] || fail "$f was not written"
done
head -c 5 "$out/run/first_return_p0.5.svg" | grep -q '<?xml' || fail "the figure is not an XML file"
tail -n 1 "$out/run/first_return_p0.5.svg" | grep -q '</svg>' || fail "the figure is not complete"
# A header and 12 rows for each of the two default p.
[ "$(wc -l < "$out/run/comparison.csv")" -eq 25 ] || fail "comparison.csv has $(wc -l < "$out/run/comparison.csv") lines"
grep -q "return by step 30" "$out/stdout" || fail "the table was not printed"

expect_error() {
  local expected="$1"; shift
  timeout 60 "$program" "$@" --out "$out/bad" > "$out/bad_stdout" 2> "$out/stderr"  # (a hang fails too)
  local rc=$?
  [ $rc -eq 1 ] || fail "$* exited with $rc, expected 1"
  [ "$(wc -l < "$out/stderr")" -eq 1 ] || fail "$* printed more than one line: $(cat "$out/stderr")"
  grep -q "^error: .*$expected" "$out/stderr" || fail "$*: expected '$expected', got: $(cat "$out/stderr")"
}
expect_error "strictly between 0 and 1" --p 1.5
expect_error "expected a number" --p abc
expect_error "--walks: expected an integer from 1 to 1099511627776" --walks 0
expect_error "cannot be reached" --level 9 --steps 4
expect_error "device" --device tpu
# (was CLI11's "Could not convert" past an int)
expect_error "an integer from 1 to 2147483647" --level 4294967296
# (was "cannot create std::vector larger than max_size()", and 2^63 - 1 walks never finished)
expect_error "--steps: expected an integer from 2 to 16777216" --steps 9223372036854775807
expect_error "--walks: expected an integer from 1 to 1099511627776" --walks 9223372036854775807 --steps 10
# (was a cuda device that the run then failed on; now the device is checked before any work)
expect_error "cuda:7" --device cuda:7
echo "random_walk short run: OK"
