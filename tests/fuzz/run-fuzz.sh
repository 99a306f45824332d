#!/bin/sh
# Build and run one libFuzzer target for a bounded time; fail on a crash.
#
#   tests/fuzz/run-fuzz.sh NAME [SECONDS [WORKDIR]]
#
# NAME picks tests/fuzz/fuzz_http_NAME.c (e.g. "response", "request") and
# its seed corpus tests/fuzz/corpus_NAME/. The target names the library
# sources it needs on a "fuzz-sources:" line; they are compiled with it by
# clang with -fsanitize=fuzzer,address,undefined, with llhttp (the system
# library, or Debian's node-llhttp sources) and zlib. New inputs go to a
# scratch corpus in WORKDIR (the repository's seeds are only read); a
# crash leaves its reproducer there and the script exits 1. Exits 77
# (skip) when clang or its libFuzzer runtime is missing.
set -eu
name=${1:?usage: run-fuzz.sh NAME [SECONDS [WORKDIR]]}
secs=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
src="$here/fuzz_http_$name.c"
seeds="$here/corpus_$name"
[ -f "$src" ] || { echo "no target $src" >&2; exit 2; }
cc=${CLANG:-clang}
command -v "$cc" >/dev/null 2>&1 || { echo "skip: $cc not found"; exit 77; }
work=${3:-}
if [ -z "$work" ]; then
  work=$(mktemp -d /tmp/uvgo-fuzz-XXXXXX)
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work/corpus"

sources=$(sed -n 's/.*fuzz-sources:\(.*\)/\1/p' "$src" | head -n 1)
files=""
for f in $sources; do files="$files $root/$f"; done
if pkg-config --exists libllhttp 2>/dev/null; then
  llhttp_cflags=$(pkg-config --cflags libllhttp)
  llhttp_libs=$(pkg-config --libs libllhttp)
else
  llhttp_cflags="-I/usr/share/include/llhttp"
  llhttp_libs="/usr/share/llhttp/llhttp.c /usr/share/llhttp/api.c /usr/share/llhttp/http.c"
fi
uv_cflags=$(pkg-config --cflags libuv 2>/dev/null || true)

bin="$work/fuzz_http_$name"
# shellcheck disable=SC2086
if ! "$cc" -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -I"$root/include" -I"$root/src" \
    $llhttp_cflags $uv_cflags -o "$bin" "$src" $files $llhttp_libs -lz; then
  # A missing libFuzzer runtime is an environment gap, not a finding.
  echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' \
    > "$work/probe.c"
  if ! "$cc" -fsanitize=fuzzer -o "$work/probe" "$work/probe.c" 2>/dev/null; then
    echo "skip: $cc cannot link libFuzzer"
    exit 77
  fi
  echo "build of $src failed" >&2
  exit 1
fi
echo "fuzzing $name for $secs s (seeds: $seeds, work: $work)"
cd "$work"
# -rss_limit_mb and -timeout turn runaway memory or a hang into a failure.
if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$work/corpus" "$seeds"; then
  echo "fuzz_http_$name: no crash in $secs s"
else
  echo "fuzz_http_$name: crash; reproducer in $work:" >&2
  ls "$work" | grep -E '^(crash|leak|timeout|oom)-' >&2 || true
  trap - EXIT
  exit 1
fi
