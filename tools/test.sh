#!/usr/bin/env bash
# The whole test suite, as the README says: installs what is missing, then
# builds and tests three ways — release, ASan+UBSan, TSan — and ends with one
# line "N passed, N failed" over all of them. Exit status 0 only if none failed.
#
#   bash tools/test.sh            # everything
#   UVGO_BUILDS="release" bash tools/test.sh   # a subset of the builds
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

need_pkgs=(meson ninja-build pkg-config gcc clang libuv1-dev python3 golang-go
           valgrind gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
           libssl-dev openssl node-llhttp liburiparser-dev zlib1g-dev
           libclang-rt-14-dev spin nginx-light curl wrk cmake doxygen)
missing=()
for p in "${need_pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null ||
    { echo "apt-get install failed"; echo "0 passed, 1 failed"; exit 1; }
fi

builds=${UVGO_BUILDS:-"release asan tsan"}
total_pass=0
total_fail=0
failed_names=()

count_results() {  # build-dir label
  python3 - "$1/meson-logs/testlog.json" "$2" <<'PY'
import json, sys
path, label = sys.argv[1], sys.argv[2]
p = f = 0
for line in open(path):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line)
    res = r.get("result")
    if res in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif res == "SKIP":
        pass
    else:
        f += 1
        print(f"FAILED[{label}]: {r.get('name')} ({res})", file=sys.stderr)
        # A sanitizer's report goes to stderr: show both streams' tails.
        for stream in ("stdout", "stderr"):
            out = (r.get(stream) or "")[-4000:]
            if out:
                print(f"  --- its {stream}, last 4000 characters ---",
                      file=sys.stderr)
                for l in out.splitlines():
                    print("  | " + l, file=sys.stderr)
print(p, f)
PY
}

run_build() {  # label, timeout multiplier, meson options...
  local label=$1 mult=$2; shift 2
  local dir="build/ci-$label"
  mkdir -p build
  echo "== $label: configure and build"
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@" >"$dir.setup.log" 2>&1 ||
      { rm -rf "$dir"; meson setup "$dir" "$@" >"$dir.setup.log" 2>&1; }
  else
    rm -rf "$dir"
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1
  fi
  if [ $? -ne 0 ]; then
    cat "$dir.setup.log"; total_fail=$((total_fail + 1)); failed_names+=("$label:configure"); return
  fi
  if ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
    tail -50 "$dir.build.log"; total_fail=$((total_fail + 1)); failed_names+=("$label:build"); return
  fi
  echo "== $label: test"
  meson test -C "$dir" --no-rebuild --print-errorlogs --timeout-multiplier "$mult" \
    --num-processes 2 >"$dir.test.log" 2>&1
  grep -E '^ *[0-9]+/[0-9]+ ' "$dir.test.log" | grep -vE ' OK | SKIP ' | head -40
  read -r p f < <(count_results "$dir" "$label")
  echo "   $label: $p passed, $f failed"
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
  [ "$f" = 0 ] || { failed_names+=("$label:tests"); grep -A40 -E '^=+ [0-9]+/[0-9]+ =+' "$dir.test.log" | head -150; }
}

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
common=(-Dwerror=true)
for b in $builds; do
  case $b in
    release) run_build release 1 --buildtype=release -Ddebug=true "${common[@]}" ;;
    asan) run_build asan 3 --buildtype=debugoptimized -Db_sanitize=address,undefined \
            -Db_lundef=false -Dtest_scale=0.25 "${common[@]}" ;;
    tsan) run_build tsan 4 --buildtype=debugoptimized -Db_sanitize=thread \
            -Db_lundef=false -Dtest_scale=0.1 "${common[@]}" ;;
    *) [ -x "tools/test-$b.sh" ] && { if bash "tools/test-$b.sh"; then total_pass=$((total_pass+1)); else total_fail=$((total_fail+1)); failed_names+=("$b"); fi; } ;;
  esac
done

for extra in tools/test-extra-*.sh; do
  [ -f "$extra" ] || continue
  name=$(basename "$extra" .sh)
  echo "== $name"
  if bash "$extra"; then total_pass=$((total_pass + 1)); else
    total_fail=$((total_fail + 1)); failed_names+=("$name"); fi
done

[ ${#failed_names[@]} -eq 0 ] || echo "failed: ${failed_names[*]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
