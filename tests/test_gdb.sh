#!/bin/sh
# tools/uvgo-gdb.py: the backtrace of a parked fiber shows its own frames
# and ends at the trampoline, and the thread's registers come back intact.
#   test_gdb.sh TEST-BINARY SOURCE-ROOT B_SANITIZE
bin=$1
root=$2
if [ "$3" != "none" ]; then echo "SKIP: sanitized build"; exit 77; fi
command -v gdb >/dev/null 2>&1 || { echo "SKIP: no gdb"; exit 77; }
out=$(gdb -nx -batch \
  -ex "source $root/tools/uvgo-gdb.py" \
  -ex "break uvgo_test_gdb_stop_here" \
  -ex "run" \
  -ex "uvgo-bt-fiber &uvgo_test_parked_fiber" \
  -ex "echo ---after---\n" \
  -ex "bt" \
  -ex "continue" \
  --args "$bin" --helper gdb_parked_fiber 2>&1)
echo "$out"
echo "$out" | sed '/---after---/q' | grep -q "parked_level2" || { echo "FAIL: no parked_level2"; exit 1; }
echo "$out" | sed '/---after---/q' | grep -q "parked_level1" || { echo "FAIL: no parked_level1"; exit 1; }
echo "$out" | sed '/---after---/q' | grep -q "parked_entry" || { echo "FAIL: no parked_entry"; exit 1; }
echo "$out" | sed '/---after---/q' | grep -q "Backtrace stopped" && { echo "FAIL: unwinding did not end cleanly"; exit 1; }
echo "$out" | sed -n '/---after---/,$p' | grep -q "uvgo_test_gdb_stop_here" || { echo "FAIL: registers not restored"; exit 1; }
echo "$out" | grep -q "exited normally" || { echo "FAIL: process did not finish"; exit 1; }
# uvgo-tasks: the parked tasks of a running runtime, each with its site
# and its own frames. It reads uvgo's structures, so it needs debug info.
if gdb -nx -batch -ex "ptype struct uvgo_task" "$bin" 2>&1 | grep -q "No struct type"; then
  echo "ok (uvgo-tasks not checked: no debug information)"; exit 0
fi
out=$(gdb -nx -batch \
  -ex "source $root/tools/uvgo-gdb.py" \
  -ex "break uvgo_test_gdb_tasks_stop_here" \
  -ex "run" \
  -ex "uvgo-tasks" \
  -ex "continue" \
  --args "$bin" --helper gdb_parked_tasks 2>&1)
echo "$out"
echo "$out" | grep -q '"gdb-parked" \[worker 0, parked\] blocked in uvgo_chan_recv at' || { echo "FAIL: no parked task line"; exit 1; }
echo "$out" | grep -q "gdb_parked_task_body" || { echo "FAIL: no task frames"; exit 1; }
echo "$out" | grep -q "exited normally" || { echo "FAIL: process did not finish"; exit 1; }
echo "ok"
