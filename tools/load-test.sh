#!/bin/bash
# Flake hunt: runs the suites of the builds tools/test.sh made (build/ci-*)
# ROUNDS times while two CPU hogs and the TSan and ASan suites compete for
# the cores, the way a busy CI machine does. Not part of tools/test.sh:
# it proves nothing by passing once, only by passing round after round.
#   bash tools/load-test.sh [ROUNDS]      (after bash tools/test.sh)
set -u
cd "$(dirname "$0")/.."
rounds=${1:-3}
logs=$(mktemp -d)
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
for b in ci-release ci-asan ci-tsan; do
  [ -d "build/$b" ] || { echo "build/$b missing: run tools/test.sh first"; exit 2; }
done
hogs=()
trap 'kill "${hogs[@]}" 2>/dev/null' EXIT
for r in $(seq 1 "$rounds"); do
  yes >/dev/null & hogs+=($!)
  yes >/dev/null & hogs+=($!)
  meson test -C build/ci-tsan --no-rebuild --print-errorlogs --timeout-multiplier 4 \
    >"$logs/tsan-$r.log" 2>&1 &
  tsan=$!
  meson test -C build/ci-asan --no-rebuild --print-errorlogs --timeout-multiplier 3 \
    >"$logs/asan-$r.log" 2>&1
  meson test -C build/ci-release --no-rebuild --print-errorlogs --timeout-multiplier 2 \
    >"$logs/release-$r.log" 2>&1
  wait "$tsan"
  kill "${hogs[@]}" 2>/dev/null
  hogs=()
  echo "round $r done"
done
failures=$(grep -hE '^ *[0-9]+/[0-9]+ .*(FAIL|TIMEOUT)' "$logs"/*.log | sed 's/  */ /g' | sort -u)
echo "logs in $logs"
if [ -n "$failures" ]; then echo "$failures"; exit 1; fi
echo "no failures in $rounds round(s)"
