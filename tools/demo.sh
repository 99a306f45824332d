#!/usr/bin/env bash
# The README's demo command: installs what is missing, builds a release
# build, and runs the fetch-all demo: the article's fetchAll
# (examples/fetch_all.c), then uvgo-fetch with no URL, which starts its own
# HTTP server on 127.0.0.1 and fetches 10,000 URLs from it, 100 at a time.
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
if [ -d "$dir" ]; then
  meson setup --reconfigure "$dir" --buildtype=release -Dtests=false -Dbenchmarks=false >/dev/null
else
  meson setup "$dir" --buildtype=release -Dtests=false -Dbenchmarks=false >/dev/null
fi
ninja -C "$dir" >/dev/null
echo "== examples/fetch_all.c: the article's fetchAll against a local uvgo_http_serve"
"$dir/examples/fetch_all"
echo
echo "== uvgo-fetch (no URL: the demo)"
"$dir/tools/uvgo-fetch/uvgo-fetch"
