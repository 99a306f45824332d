#!/bin/sh
# The layering rule of docs/design.md ("Layers"): a file in src/LAYER/ includes
# internal headers only as "LAYER/..." of its own layer or of one below it.
# A circle of includes may live inside one layer, never across two.
src="${1:-src}"
order="core sync net tls http embed"
rank() { i=0; for l in $order; do [ "$l" = "$1" ] && { echo $i; return; }; i=$((i + 1)); done; echo 99; }
status=0
for dir in "$src"/*/; do
  layer=$(basename "$dir")
  me=$(rank "$layer")
  if [ "$me" = 99 ]; then echo "src/$layer: not a known layer (add it to tests/check-layers.sh)"; status=1; continue; fi
  for f in $(find "$dir" -name '*.[ch]'); do
    grep -o '^#include "[^"]*"' "$f" | sed 's/#include "//; s/"$//' | while read -r inc; do
      case $inc in
        uvgo.h|uvgo/*|uvgo_config.h) continue ;;
      esac
      to=${inc%%/*}
      [ "$to" = "$inc" ] && { echo "$f: \"$inc\" names no layer"; echo x; continue; }
      them=$(rank "$to")
      if [ "$them" -gt "$me" ]; then echo "$f: includes \"$inc\" from the higher layer $to"; echo x; fi
    done
  done
done > /tmp/check-layers.$$
if grep -qx x /tmp/check-layers.$$; then grep -vx x /tmp/check-layers.$$; status=1; fi
rm -f /tmp/check-layers.$$
[ $status = 0 ] && echo "layers: every include stays in its layer or below"
exit $status
