#!/bin/sh
# The HTTP server benchmark in one run: wrk -t2 -c100 -d5s (1 KiB
# keep-alive responses) against uvgo's server with 1 and 2 workers, Go's
# net/http server (GOMAXPROCS 1 and 2) and nginx (one worker process);
# then the fetch-all demo, client and server in one process, against the
# same program in Go (bench/go/fetch_all_demo.go): the demo's mix (with
# its slow and failing endpoints) and only its fast endpoint.
# Prints the tables with the ratios against the targets (server >= 1.5x
# Go and >= 0.8x nginx; fetch-all >= 1.7x Go) and writes them as TSV for
# bench/http_server_chart.py.
#
#   bench/http_server_bench.sh [BUILD_DIR [TSV_OUT]]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/rel}
tsv=${2:-/tmp/uvgo-http-server-bench.tsv}
srv="$build/bench/uvgo-bench-http-server"
fetch="$build/tools/uvgo-fetch/uvgo-fetch"
for f in "$srv" "$fetch"; do
  [ -x "$f" ] || { echo "no $f (ninja -C $build)" >&2; exit 2; }
done
for p in /usr/sbin/nginx wrk go python3; do
  command -v "$p" >/dev/null 2>&1 || { echo "needs $p" >&2; exit 2; }
done
dir=$(mktemp -d /tmp/uvgo-srvbench-XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
  i=0
  until python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),1)" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 500 ] && { echo "server on $1 did not start" >&2; exit 1; }
    sleep 0.02
  done
}
stop() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; pid=; }

gobin="$dir/go-bench"
(cd "$root/bench/go" && GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local go build -o "$gobin" .)

# nginx: one worker process, a 1 KiB static file.
mkdir -p "$dir/www" "$dir/tmp"
head -c 1024 /dev/zero | tr '\0' x > "$dir/www/1k"
printf '' > "$tsv"

# run_wrk NAME URL: prints and records requests/s; fails on wrk errors.
run_wrk() {
  out=$(wrk -t2 -c100 -d5s "$2")
  rps=$(printf '%s\n' "$out" | awk '/^Requests\/sec:/ {print $2}')
  errs=$(printf '%s\n' "$out" | grep -E 'Socket errors|Non-2xx' || true)
  [ -n "$errs" ] && echo "  ($1: $errs)"
  printf 'server\t%s\t%s\n' "$1" "$rps" >> "$tsv"
  printf '| %-22s | %10s |\n' "$1" "$rps"
}

echo "HTTP server, wrk -t2 -c100 -d5s, 1 KiB keep-alive responses (req/s):"
echo "| server                 |      req/s |"
echo "| ---------------------- | ---------- |"
for w in 1 2; do
  port=$(free_port)
  "$srv" "$port" "$w" 2>/dev/null & pid=$!
  wait_port "$port"; run_wrk "uvgo ${w}w" "http://127.0.0.1:$port/1k"; stop
done
for w in 1 2; do
  port=$(free_port)
  UVGO_BENCH_PORT=$port UVGO_BENCH_PROCS=$w "$gobin" http_server 2>/dev/null & pid=$!
  wait_port "$port"; run_wrk "Go net/http ${w}P" "http://127.0.0.1:$port/1k"; stop
done
port=$(free_port)
cat > "$dir/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1;
error_log $dir/error.log warn; pid $dir/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 1000000;
  client_body_temp_path $dir/tmp/b; proxy_temp_path $dir/tmp/p;
  fastcgi_temp_path $dir/tmp/f; uwsgi_temp_path $dir/tmp/u; scgi_temp_path $dir/tmp/s;
  server { listen 127.0.0.1:$port backlog=4096; root $dir/www; }
}
CONF
/usr/sbin/nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" & pid=$!
wait_port "$port"; run_wrk "nginx 1 worker" "http://127.0.0.1:$port/1k"; stop

echo
echo "fetch-all demo, client and server in one process, 10,000 URLs, 100 at a time (req/s):"
echo "| program                |      req/s |"
echo "| ---------------------- | ---------- |"
for mix in all fast; do
  rps=$("$fetch" -q --json --mix "$mix" | python3 -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["requests_per_sec"])')
  printf 'fetch\tuvgo-fetch %s\t%s\n' "$mix" "$rps" >> "$tsv"
  printf '| %-22s | %10s |\n' "uvgo-fetch ($mix)" "$rps"
  rps=$(UVGO_BENCH_MIX=$mix "$gobin" fetch_all_demo 2>/dev/null | awk '/^BENCH/ {print $3}')
  printf 'fetch\tGo %s\t%s\n' "$mix" "$rps" >> "$tsv"
  printf '| %-22s | %10s |\n' "Go ($mix)" "$rps"
done

echo
python3 - "$tsv" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
v = {name: float(val) for kind, name, val in rows}
def ratio(a, b, target, label):
    r = v[a] / v[b]
    print("%-40s %.2fx  (target >= %.1fx: %s)" % (label, r, target, "met" if r >= target else "NOT met"))
best_uvgo = max(v["uvgo 1w"], v["uvgo 2w"])
ratio("uvgo 1w", "Go net/http 1P", 1.5, "server 1 worker / Go GOMAXPROCS=1")
ratio("uvgo 2w", "Go net/http 2P", 1.5, "server 2 workers / Go GOMAXPROCS=2")
ratio("uvgo 1w", "nginx 1 worker", 0.8, "server 1 worker / nginx 1 worker")
ratio("uvgo-fetch all", "Go all", 1.7, "fetch-all demo mix / Go")
ratio("uvgo-fetch fast", "Go fast", 1.7, "fetch-all fast only / Go")
PY
echo "(table as TSV: $tsv; chart: python3 bench/http_server_chart.py $tsv docs/http_server_bench.png)"
