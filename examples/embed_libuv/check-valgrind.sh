#!/bin/sh
# Run the example under valgrind: no memory error, no definite leak, exit 0,
# and the same output as the plain run.
#   check-valgrind.sh PROGRAM EXPECTED...
prog=$1; shift
if ! command -v valgrind >/dev/null 2>&1; then
  echo "SKIP: valgrind not installed"; exit 77
fi
out=$(valgrind --error-exitcode=99 --quiet --leak-check=full \
  --errors-for-leak-kinds=definite "$prog" 2>&1)
rc=$?
printf '%s\n' "$out"
if [ $rc -ne 0 ]; then
  echo "FAIL: $prog under valgrind exited with $rc"
  exit 1
fi
for want in "$@"; do
  case $out in
    *"$want"*) ;;
    *) printf 'FAIL: output lacks:\n%s\n' "$want"; exit 1 ;;
  esac
done
