#!/usr/bin/env bash
# uvgo-fetch end to end: the demo's summary, --json, exit codes for bad
# usage / unreadable files / a target refusing every connection, malformed
# URLs reported while the rest is fetched, -o, Ctrl-C, flat memory over a
# long streamed URL file, and no terminal control sequences when stdout is
# not a terminal.
#   check-fetch.sh PATH/TO/uvgo-fetch [b_sanitize]
set -u
fetch=$1
sanitize=${2:-none}
tmp=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
has() { grep -qF -- "$2" "$1" || fail "$(basename "$1") lacks: $2"; }
rc_is() { [ "$1" = "$2" ] || fail "$3: exit $1, want $2"; }
no_escapes() { if grep -q $'\033' "$1"; then fail "$(basename "$1") has terminal control sequences"; fi; }

# 1. The demo, small: every part of the summary, no escapes on a pipe.
"$fetch" -n 400 -c 50 >"$tmp/demo.out" 2>"$tmp/demo.err"
rc_is $? 0 "demo"
for want in "demo: a server on 127.0.0.1:" "Summary:" "Requests:      400 done of 400" \
            "Requests/sec:" "Bytes:" "Latency (responses):" "p50" "p90" "p99" \
            "Latency histogram:" "Status codes:" "[200]" "[404]" "Errors by kind:" \
            "timeout" "reset"; do
  has "$tmp/demo.out" "$want"
done
no_escapes "$tmp/demo.out"
no_escapes "$tmp/demo.err"

# 2. --json is valid JSON with the counts.
"$fetch" -n 300 -c 30 --json -q >"$tmp/j.json" 2>"$tmp/j.err"
rc_is $? 0 "--json"
python3 -m json.tool "$tmp/j.json" >/dev/null || fail "--json output is not JSON"
python3 - "$tmp/j.json" <<'EOF' || fail "--json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["done"] == 300 and d["total"] == 300, d
assert d["status_codes"]["200"] > 0 and d["status_codes"]["404"] > 0, d
# The 3 slow requests always time out; on a loaded machine (a sanitizer
# build beside other tests) an ordinary one may pass the 1 s timeout too,
# so the count is a floor, and every request is accounted for either way.
assert d["errors_by_kind"]["timeout"]["count"] >= 3, d
assert sum(d["status_codes"].values()) + sum(k["count"] for k in d["errors_by_kind"].values()) == 300, d
assert d["latency_ms"]["p50"] <= d["latency_ms"]["p99"] <= d["latency_ms"]["max"], d
assert d["interrupted"] is False
EOF

# 3. Bad usage: exit 2 and a clear message.
check_usage() {
  local want=$1; shift
  "$fetch" "$@" >"$tmp/u.out" 2>"$tmp/u.err"
  rc_is $? 2 "uvgo-fetch $*"
  has "$tmp/u.err" "$want"
}
check_usage "-c wants a number" -c abc http://127.0.0.1:1/
check_usage "-c wants a number" -c 0 http://127.0.0.1:1/
check_usage "-t wants a duration" -t 5x http://127.0.0.1:1/
check_usage "unknown option" --frobnicate
check_usage "needs a value" -c
check_usage "cannot read the URL file" -f "$tmp/no-such-file"
check_usage "not a valid header" -H 'Bad Name: v' http://127.0.0.1:1/
check_usage "the client sets Host itself" -H 'Host: x' http://127.0.0.1:1/
check_usage "cannot create the output directory" -o /proc/self/nope http://127.0.0.1:1/
"$fetch" --help >"$tmp/help.out"
check_usage "not a writable directory" -o "$tmp/help.out" http://127.0.0.1:1/
rc_is $? 0 "--help"
has "$tmp/help.out" "exit status:"

# 4. A target that refuses every connection: exit 1, said plainly.
"$fetch" -q http://127.0.0.1:1/ http://127.0.0.1:1/x >"$tmp/r.out" 2>"$tmp/r.err"
rc_is $? 1 "refused target"
has "$tmp/r.err" "every request failed; refused errors"
has "$tmp/r.out" "refused       2"

# 5. Malformed URLs in a file are reported, the rest fetched. A local
# server (python3's http.server on a free port) answers the good ones.
mkdir -p "$tmp/www"
printf 'hello from python\n' >"$tmp/www/a.txt"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$tmp/www" >/dev/null 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port)).close()" 2>/dev/null && break
  sleep 0.1
done
cat >"$tmp/urls.txt" <<EOF
# a comment, then a blank line

http://127.0.0.1:$port/a.txt
not a url
ftp://127.0.0.1/file
http://127.0.0.1:$port/missing.txt
EOF
"$fetch" -f "$tmp/urls.txt" -c 2 -o "$tmp/out" >"$tmp/f.out" 2>"$tmp/f.err"
rc_is $? 0 "URL file with bad lines"
has "$tmp/f.err" "line 4:"
has "$tmp/f.err" "line 5:"
has "$tmp/f.out" "bad_url       2"
has "$tmp/f.out" "[200] 1 responses"
has "$tmp/f.out" "[404] 1 responses"
[ "$(cat "$tmp/out/00000000" 2>/dev/null)" = "hello from python" ] || fail "-o did not save the body"
kill "$server_pid"; wait "$server_pid" 2>/dev/null; server_pid=

# 6. Ctrl-C: stops, still prints the summary, exit 130.
"$fetch" -n 10000000 -c 20 >"$tmp/int.out" 2>&1 &
pid=$!
for _ in $(seq 300); do grep -q '^progress:' "$tmp/int.out" && break; sleep 0.1; done
kill -INT "$pid"
wait "$pid"
rc_is $? 130 "Ctrl-C"
has "$tmp/int.out" "Summary: (interrupted)"

# 7. A long streamed URL file keeps memory flat: 1,000,000 lines (malformed,
# so nothing touches the network) need no more memory than 10,000.
maxrss() {
  python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"
}
if [ "$sanitize" = none ]; then  # sanitizers keep freed memory in quarantine
python3 -c 'import sys; sys.stdout.write("bad-url\n" * 10000)' >"$tmp/small.txt"
python3 -c 'import sys; sys.stdout.write("bad-url\n" * 1000000)' >"$tmp/big.txt"
small=$(maxrss "$fetch" -q -f "$tmp/small.txt")
big=$(maxrss "$fetch" -q -f "$tmp/big.txt")
echo "max RSS: 10,000 lines ${small} KiB, 1,000,000 lines ${big} KiB"
[ "$big" -lt $((small + 16384)) ] || fail "memory grew with the file: ${small} -> ${big} KiB"
fi

if [ $fails -ne 0 ]; then
  echo "$fails check(s) failed"
  exit 1
fi
echo "uvgo-fetch: all checks passed"
