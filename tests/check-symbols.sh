#!/bin/sh
# Only the public tier (uvgo_*, never uvgo__*) may leave the shared library.
lib="$1"; nm="${2:-nm}"
bad=$("$nm" -D --defined-only "$lib" | awk '$2 ~ /[TDBRVW]/ {print $3}' |
      grep -v '^uvgo_' ; "$nm" -D --defined-only "$lib" | awk '{print $3}' | grep '^uvgo__')
count=$("$nm" -D --defined-only "$lib" | awk '$2 ~ /[TDBRVW]/' | grep -c '^.* uvgo_')
if [ -n "$bad" ]; then
  echo "non-public symbols exported:"; echo "$bad"; exit 1
fi
if [ "$count" -lt 3 ]; then
  echo "expected public symbols, found $count"; exit 1
fi
echo "$count public symbols, nothing else exported"
