#!/bin/sh
# Run a program and check that it exits 0 and its output contains each
# expected string (multi-line strings match consecutive lines).
#   check-output.sh PROGRAM EXPECTED...
prog=$1; shift
out=$("$prog" 2>&1)
rc=$?
printf '%s\n' "$out"
if [ $rc -ne 0 ]; then
  echo "FAIL: $prog exited with $rc"
  exit 1
fi
for want in "$@"; do
  case $out in
    *"$want"*) ;;
    *) printf 'FAIL: output lacks:\n%s\n' "$want"; exit 1 ;;
  esac
done
