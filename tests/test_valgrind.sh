#!/bin/sh
# Runs the fiber switching workload under valgrind: with the stack
# registrations in fiber.c it must report no errors.
#   test_valgrind.sh TEST-BINARY B_SANITIZE
bin=$1
sanitize=$2
if [ "$sanitize" != "none" ]; then
  echo "SKIP: sanitized build ($sanitize)"; exit 77
fi
if ! command -v valgrind >/dev/null 2>&1; then
  echo "SKIP: valgrind not installed"; exit 77
fi
exec valgrind --error-exitcode=1 --quiet --leak-check=full \
  --errors-for-leak-kinds=definite "$bin" --helper fiber_workload
