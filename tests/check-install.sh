#!/bin/sh
# meson install into a scratch prefix, then build and run a tiny out-of-tree
# program with `pkg-config --cflags --libs uvgo`, the way a user would.
set -eu
src="$1"; build="$2"; cc="$3"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
DESTDIR="$work/root" meson install -C "$build" --no-rebuild --quiet >/dev/null
prefix=$(meson introspect "$build" --buildoptions |
         python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
libdir=$(meson introspect "$build" --buildoptions |
         python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="libdir"][0])')
case "$libdir" in /*) ;; *) libdir="$prefix/$libdir" ;; esac
root="$work/root"
pcdir="$root$libdir/pkgconfig"
cat > "$work/hello.c" <<'C'
#include <stdio.h>
#include <uvgo.h>
int main(void) {
  printf("uvgo %s: %s\n", uvgo_version_string(), uvgo_strerror(UVGO_ECLOSED));
  return uvgo_version() == UVGO_VERSION_HEX ? 0 : 1;
}
C
flags=$(PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs uvgo)
"$cc" -o "$work/hello" "$work/hello.c" $flags
out=$(LD_LIBRARY_PATH="$root$libdir" "$work/hello")
echo "$out"
case "$out" in *"channel closed"*) exit 0 ;; *) exit 1 ;; esac
