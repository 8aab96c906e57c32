# Sourced by the trainers' tests: set_checkpoint_step IN OUT STEP copies the ember checkpoint IN to OUT
# with its stored "step" replaced by STEP (a negative one included), keeping the CRC-32 in its
# metadata right, so that the trainer loads OUT as a sound checkpoint and sees only the step.
# Bash, od, dd and gzip (whose trailer holds the CRC-32 of its input), no Python.
set_checkpoint_step() {
  local in=$1 out=$2 step=$3
  cp "$in" "$out" || return 1
  local header_length
  header_length=$(od -An -t u8 -N 8 "$out" | tr -d ' ')
  local header
  header=$(head -c $((8 + header_length)) "$out" | tail -c "$header_length")
  local offset
  offset=$(grep -o '"step":{"dtype":"I64","shape":\[1\],"data_offsets":\[[0-9]*' <<<"$header" | grep -o '[0-9]*$')
  [[ -n $offset ]] || { echo "set_checkpoint_step: no int64 \"step\" in $in" >&2; return 1; }
  local data_start=$((8 + header_length))
  # STEP as 8 little-endian bytes (two's complement).
  local bytes="" i
  for ((i = 0; i < 8; i++)); do bytes+=$(printf '\\x%02x' $(((step >> (8 * i)) & 255))); done
  printf "$bytes" | dd of="$out" bs=1 seek=$((data_start + offset)) conv=notrunc status=none || return 1
  # The CRC-32 of the data section (the tensors in file order, back to back), as the loader computes it.
  local crc
  crc=$(tail -c +$((data_start + 1)) "$out" | gzip -c | tail -c 8 | head -c 4 | od -An -t x4 | tr -d ' ')
  grep -q '"data_crc32":"[0-9a-f]\{8\}"' <<<"$header" || { echo "set_checkpoint_step: no data_crc32 in $in" >&2; return 1; }
  local crc_at
  crc_at=$(grep -bo '"data_crc32":"' <<<"$header" | head -1 | cut -d: -f1)
  printf '%s' "$crc" | dd of="$out" bs=1 seek=$((8 + crc_at + 14)) conv=notrunc status=none
}

# expect_negative_step_refused CHECKPOINT OPTION COMMAND...: COMMAND OPTION FILE, where FILE is
# CHECKPOINT with its step made -5, must fail at once: exit code 1 and one line on stderr,
# "error: [trainer] OPTION "FILE": the checkpoint's step is -5, ...". (The trainers resumed from it:
# gan trained on from step -5, vqgan's prior printed "trained -5 steps", the others failed later.)
expect_negative_step_refused() {
  expect_step_refused -5 "$@"
}

# expect_step_refused STEP CHECKPOINT OPTION COMMAND...: the same for a checkpoint at step STEP
# (one too large to skip data by, say), with "the checkpoint's step is STEP" in the error.
expect_step_refused() {
  local step=$1 checkpoint=$2 option=$3
  shift 3
  local dir
  dir=$(mktemp -d)
  local file=$dir/step_$step.safetensors
  set_checkpoint_step "$checkpoint" "$file" "$step" || { rm -rf "$dir"; return 1; }
  local status=0
  "$@" "$option" "$file" >"$dir/stdout" 2>"$dir/stderr" </dev/null || status=$?
  local expected="] $option \"$file\": the checkpoint's step is $step"
  local result=0
  if [[ $status -ne 1 || $(wc -l <"$dir/stderr") -ne 1 ]] || ! grep -q '^error: \[' "$dir/stderr" ||
    ! grep -qF -- "$expected" "$dir/stderr"; then
    echo "a checkpoint at step $step ($option): exit code $status, expected 1 and one line with \"$expected\":"
    head -c 1000 "$dir/stderr"
    result=1
  else
    echo "a checkpoint at step $step ($option): $(cat "$dir/stderr")"
  fi
  rm -rf "$dir"
  return $result
}
