#!/bin/sh
# uvgo's consumers, the ways a user builds against it:
#   1. meson install into a scratch root (DESTDIR);
#   2. a program built with `pkg-config --cflags --libs uvgo` (shared);
#   3. the same with `pkg-config --static`, against libuvgo.a taken whole
#      (--whole-archive), so every object's dependencies must resolve from
#      what uvgo.pc declares (OpenSSL, llhttp, liburiparser, zlib...);
#   4. a meson project using uvgo as a subproject, dependency('uvgo')
#      through its wrap file;
#   5. a CMake project using find_package(uvgo) (config files from meson's
#      cmake module), shared and static targets.
# Each program runs and must print its expected line.
#   check-consumers.sh SOURCE-ROOT BUILD-DIR CC
set -eu
src="$1"; build="$2"; cc="$3"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() { echo "== $*"; }
check_run() { # program: must exit 0 and print the consumer line
  out=$("$@")
  echo "$out"
  case "$out" in *"consumer: sum 1030 (OK)"*) ;; *) echo "FAIL: $1"; exit 1 ;; esac
}
opt() {
  meson introspect "$build" --buildoptions |
    python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]==sys.argv[1]][0])' "$1"
}

step "meson install (DESTDIR)"
DESTDIR="$work/root" meson install -C "$build" --no-rebuild --quiet >/dev/null
prefix=$(opt prefix)
libdir=$(opt libdir)
case "$libdir" in /*) ;; *) libdir="$prefix/$libdir" ;; esac
root="$work/root"
pcdir="$root$libdir/pkgconfig"
pc() { PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_PATH="$pcdir" pkg-config "$@"; }

step "pkg-config, shared"
# shellcheck disable=SC2046
"$cc" -o "$work/shared" "$src/tests/consumers/main.c" $(pc --cflags --libs uvgo)
check_run env LD_LIBRARY_PATH="$root$libdir" "$work/shared"
if ldd "$work/shared" | grep -q 'libuvgo\.so'; then :; else
  echo "FAIL: the shared program does not load libuvgo.so"; exit 1
fi

step "pkg-config --static, libuvgo.a whole"
static_libs=$(pc --static --libs uvgo | sed 's/-luvgo\b//')
echo "libs: $static_libs"
# shellcheck disable=SC2086
"$cc" -o "$work/static" "$src/tests/consumers/main.c" $(pc --cflags uvgo) \
  -Wl,--whole-archive "$root$libdir/libuvgo.a" -Wl,--no-whole-archive \
  $static_libs
check_run "$work/static"
if ldd "$work/static" | grep -q 'libuvgo'; then
  echo "FAIL: the static program loads libuvgo"; exit 1
fi

step "meson subproject through the wrap"
proj="$work/meson-subproject"
cp -R "$src/tests/consumers/meson-subproject" "$proj"
cp "$src/tests/consumers/main.c" "$work/main.c"
ln -s "$src" "$proj/subprojects/uvgo"
# Nested subprojects live beside it (meson looks for them at the top).
for sp in "$src"/subprojects/*; do
  name=$(basename "$sp")
  [ -e "$proj/subprojects/$name" ] || ln -s "$sp" "$proj/subprojects/$name"
done
meson setup "$work/msb" "$proj" --wrap-mode=nodownload >"$work/msb.log" 2>&1 ||
  { cat "$work/msb.log"; exit 1; }
grep -q "Executing subproject uvgo" "$work/msb.log" ||
  { echo "FAIL: uvgo was not taken as a subproject"; cat "$work/msb.log"; exit 1; }
ninja -C "$work/msb" >"$work/msb-build.log" 2>&1 || { tail -40 "$work/msb-build.log"; exit 1; }
check_run "$work/msb/consumer"

step "CMake find_package(uvgo)"
cmake -S "$src/tests/consumers/cmake" -B "$work/cmb" \
  -DCMAKE_PREFIX_PATH="$root$prefix" -DCMAKE_C_COMPILER="$cc" \
  >"$work/cmb.log" 2>&1 || { cat "$work/cmb.log"; exit 1; }
cmake --build "$work/cmb" >"$work/cmb-build.log" 2>&1 ||
  { tail -40 "$work/cmb-build.log"; exit 1; }
check_run env LD_LIBRARY_PATH="$root$libdir" "$work/cmb/consumer"
check_run "$work/cmb/consumer_static"
echo "consumers: pkg-config shared and static, meson subproject, CMake: OK"
