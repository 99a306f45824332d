#!/usr/bin/env bash
# The task layer on AArch64: builds the switch, fiber, stack and allocator
# code with the cross compiler and a standalone test main (libuv is not
# available for arm64 here), once with the assembly switch and once with the
# ucontext fallback, and runs both under qemu-user. Exit 0 only if both pass.
set -uo pipefail
cd "$(dirname "$0")/.."
CC=${CC_AARCH64:-aarch64-linux-gnu-gcc}
QEMU=${QEMU_AARCH64:-qemu-aarch64}
SYSROOT=${AARCH64_SYSROOT:-/usr/aarch64-linux-gnu}
for tool in "$CC" "$QEMU"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "aarch64: $tool missing"; exit 1; }
done
out=build/aarch64-standalone
mkdir -p "$out"
cflags=(-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter
        -fstack-clash-protection -Itools/standalone -Isrc -Iinclude)
common=(src/core/fiber.c src/core/stack.c src/core/alloc.c tools/standalone/task_layer_test.c)
status=0
for variant in asm ucontext; do
  case $variant in
    asm) sw=src/core/arch/switch_aarch64.S ;;
    ucontext) sw=src/core/arch/switch_ucontext.c ;;
  esac
  bin=$out/task-layer-$variant
  if ! "$CC" "${cflags[@]}" -DSWITCH_NAME="\"$variant\"" -o "$bin" \
       "${common[@]}" "$sw" -lm -lpthread -ldl; then
    echo "aarch64 $variant: build failed"; status=1; continue
  fi
  if line=$("$QEMU" -L "$SYSROOT" "$bin"); then
    echo "aarch64 $variant: $line"
  else
    echo "aarch64 $variant: FAILED: $line"; status=1
  fi
done
exit $status
