#!/bin/sh
# Run an example and check its output: exit status 0 and every expected
# line present (each argument after the program is one expected line).
prog="$1"; shift
out=$("$prog" 2>&1); status=$?
if [ "$status" -ne 0 ]; then
  echo "$prog exited with $status"; echo "$out"; exit 1
fi
for want in "$@"; do
  if ! printf '%s\n' "$out" | grep -qxF -- "$want"; then
    echo "missing line: $want"; echo "--- output:"; echo "$out"; exit 1
  fi
done
echo "$out"
