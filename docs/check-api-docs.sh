#!/bin/sh
# The API reference: doxygen over include/ (through docs/doxygen-filter.py),
# failing on any warning — above all an undocumented public name (a public
# declaration without a comment right before it, see docs/README.md).
#   check-api-docs.sh SOURCE-ROOT OUTPUT-DIR DOXYGEN PYTHON [--self-test]
# Writes OUTPUT-DIR/html/index.html. --self-test adds a fixture header
# with an undocumented function and expects the check to fail naming it
# (so a check that cannot fail is caught too).
set -eu
src="$1"; out="$2"; doxygen="$3"; python="$4"; mode="${5:-}"
mkdir -p "$out"
extra=""; strip=""
if [ "$mode" = "--self-test" ]; then
  fixture=$(mktemp -d)
  trap 'rm -rf "$fixture"' EXIT
  mkdir -p "$fixture/uvgo"
  cat > "$fixture/uvgo/fixture.h" <<'H'
/* uvgo — a fixture for the documentation check. */
#ifndef UVGO_FIXTURE_H
#define UVGO_FIXTURE_H
/* Documented: the check must accept this one. */
UVGO_EXTERN int uvgo_fixture_documented(void);

UVGO_EXTERN int uvgo_fixture_undocumented(void);

/* A documented struct: its fields still need their own comments. */
typedef struct uvgo_fixture_pair {
  int with_comment; /* documented */
  int without_comment;
} uvgo_fixture_pair;
#endif
H
  extra="$fixture/uvgo/fixture.h"; strip="$fixture"
fi
sed -e "s|@VERSION@|$(sed -n "s/^ *version: '\([^']*\)'.*/\1/p" "$src/meson.build" | head -1)|" \
    -e "s|@OUTPUT_DIR@|$out|" -e "s|@SRCDIR@|$src|g" \
    -e "s|@EXTRA_INPUT@|$extra|" -e "s|@EXTRA_STRIP@|$strip|" \
    -e "s|@PYTHON@|$python|" -e "s|@WARN_AS_ERROR@|FAIL_ON_WARNINGS|" \
    -e "s|@WARN_LOGFILE@|$out/warnings.log|" \
    "$src/docs/Doxyfile.in" > "$out/Doxyfile"
rm -f "$out/warnings.log"
status=0
"$doxygen" "$out/Doxyfile" || status=$?
# FAIL_ON_WARNINGS makes doxygen's exit status non-zero; the log is checked
# as well, so an older doxygen that only logs still fails the check.
if [ -s "$out/warnings.log" ]; then status=1; fi
if [ "$mode" = "--self-test" ]; then
  cat "$out/warnings.log"
  if [ "$status" -eq 0 ]; then
    echo "FAIL: the check passed with an undocumented public function"; exit 1
  fi
  grep -q "uvgo_fixture_undocumented" "$out/warnings.log" ||
    { echo "FAIL: the warning does not name uvgo_fixture_undocumented"; exit 1; }
  grep -q "without_comment" "$out/warnings.log" ||
    { echo "FAIL: an undocumented struct field was not reported"; exit 1; }
  if grep -q "uvgo_fixture_documented\|with_comment\|Compound uvgo_fixture_pair" "$out/warnings.log"; then
    echo "FAIL: a documented name was reported"; exit 1
  fi
  echo "the check fails on an undocumented public name: OK"
  exit 0
fi
if [ "$status" -ne 0 ]; then
  echo "API reference: doxygen warnings (every public name needs a comment"
  echo "right before it; see docs/README.md):"
  sed "s|$src/||" "$out/warnings.log"
  exit 1
fi
[ -f "$out/html/index.html" ] || { echo "FAIL: no $out/html/index.html"; exit 1; }
echo "API reference: $out/html/index.html (no warnings)"
