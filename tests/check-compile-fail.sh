#!/bin/sh
# Compile each tests/compile-fail snippet with the C compiler: ok_*.c must
# compile, every other file must be rejected (with an error, not merely a
# warning: no -Werror here, as users build without it).
#   check-compile-fail.sh SNIPPET_DIR -- CC [ARGS...]
dir=$1; shift; shift
status=0
ok=0
for f in "$dir"/*.c; do
  name=$(basename "$f")
  if "$@" -std=c11 -D_GNU_SOURCE -fsyntax-only "$f" >/tmp/cf.$$ 2>&1; then
    compiled=yes
  else
    compiled=no
  fi
  case $name in
    ok_*) want=yes ;;
    *) want=no ;;
  esac
  # A rejection must be the type error, not some unrelated breakage.
  if [ "$compiled" = no ] && [ "$want" = no ] &&
     ! grep -q "incompatible type" /tmp/cf.$$; then
    compiled="no, but not for a type error"
  fi
  if [ "$compiled" = "$want" ]; then
    echo "ok   $name (compiled: $compiled)"
    [ "$want" = yes ] && ok=$((ok + 1))
  else
    echo "FAIL $name: compiled=$compiled, expected $want"
    cat /tmp/cf.$$
    status=1
  fi
done
rm -f /tmp/cf.$$
[ "$ok" -gt 0 ] || { echo "FAIL: no positive snippet compiled"; status=1; }
exit $status
