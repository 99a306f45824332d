#!/usr/bin/env bash
# The README's demo command: installs what is missing, builds a release
# build, and runs the demo programs.
set -euo pipefail
cd "$(dirname "$0")/.."
need=(meson ninja-build pkg-config gcc libuv1-dev python3 libssl-dev node-llhttp liburiparser-dev zlib1g-dev)
missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
dir=build/demo
[ -d "$dir" ] || meson setup "$dir" --buildtype=release -Dtests=false -Dbenchmarks=false >/dev/null
ninja -C "$dir" >/dev/null
for demo in goroutine_hello chan_pipeline chan_fanout select_timeout fetch_user_leak \
            pool_profiles process_batch; do
  echo "== examples/$demo.c"
  "$dir/examples/$demo"
done
