#!/bin/sh
# Start PROGRAM, wait for its "ready" line, send SIGNAL, and check that it
# exits 0 with every EXPECTED line in its output.
#   check-signal.sh PROGRAM SIGNAL EXPECTED...
prog=$1; sig=$2; shift 2
out=$(mktemp); trap 'rm -f "$out"' EXIT
"$prog" >"$out" 2>&1 &
pid=$!
i=0
while ! grep -q '^ready$' "$out"; do
  i=$((i + 1))
  if [ $i -gt 100 ] || ! kill -0 $pid 2>/dev/null; then
    echo "program never became ready"; cat "$out"; kill -9 $pid 2>/dev/null; exit 1
  fi
  sleep 0.05
done
kill -s "$sig" $pid
wait $pid; rc=$?
cat "$out"
[ $rc -eq 0 ] || { echo "FAIL: exit status $rc"; exit 1; }
for want in "$@"; do
  grep -qF -- "$want" "$out" || { echo "FAIL: output lacks: $want"; exit 1; }
done
