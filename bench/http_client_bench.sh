#!/bin/sh
# The HTTP client benchmark in one run: nginx on loopback serving 1 KiB,
# then 10,000 GETs over 100 connections by uvgo (1 and 2 workers), by Go's
# net/http client (GOMAXPROCS 1 and 2, MaxIdleConnsPerHost 100), and by
# wrk (2 threads, 100 connections) as the ceiling. Prints a table, the
# ratios against the targets (>= 1.7x Go, >= 0.9x wrk) and memory per
# request in flight.
#
#   bench/http_client_bench.sh [BUILD_DIR [RUNS]]
#
# BUILD_DIR holds bench/uvgo-bench-http (default build/rel); each client
# shape runs RUNS times (default 3) and the median counts.
# UVGO_BENCH_REQUESTS / UVGO_BENCH_CONNS change the shape.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/rel}
runs=${2:-3}
requests=${UVGO_BENCH_REQUESTS:-10000}
conns=${UVGO_BENCH_CONNS:-100}
uvgo="$build/bench/uvgo-bench-http"
[ -x "$uvgo" ] || { echo "no $uvgo (build it: ninja -C $build bench/uvgo-bench-http)" >&2; exit 2; }
for p in /usr/sbin/nginx wrk go; do
  command -v "$p" >/dev/null 2>&1 || { echo "needs $p" >&2; exit 2; }
done

dir=$(mktemp -d /tmp/uvgo-httpbench-XXXXXX)
ngx_pid=
cleanup() {
  [ -n "$ngx_pid" ] && kill -9 "$ngx_pid" 2>/dev/null && wait "$ngx_pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

mkdir -p "$dir/www" "$dir/tmp"
head -c 1024 /dev/urandom > "$dir/www/1k.bin"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
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
/usr/sbin/nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" &
ngx_pid=$!
i=0
until python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null; do
  i=$((i + 1)); [ $i -gt 500 ] && { echo "nginx did not start" >&2; cat "$dir/error.log" >&2; exit 1; }
  sleep 0.02
done
url="http://127.0.0.1:$port/1k.bin"

gobin="$dir/go-bench"
(cd "$root/bench/go" && GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local go build -o "$gobin" .)

# metric value from "BENCH metric value unit" lines
pick() { awk -v m="$1" '$1 == "BENCH" && $2 == m { print $3 }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

run_uvgo() { # workers -> "rps heap rss"
  rs=""; hs=""; ss=""
  for _ in $(seq "$runs"); do
    out=$("$uvgo" "$url" "$requests" "$conns" "$1")
    rs="$rs $(echo "$out" | pick "http_client_rps_${1}w")"
    hs="$hs $(echo "$out" | pick "http_client_heap_per_inflight_${1}w")"
    ss="$ss $(echo "$out" | pick "http_client_rss_per_inflight_${1}w")"
  done
  echo "$(printf '%s\n' $rs | median) $(printf '%s\n' $hs | median) $(printf '%s\n' $ss | median)"
}
run_go() { # procs -> "rps rss"
  rs=""; ss=""
  for _ in $(seq "$runs"); do
    out=$(UVGO_BENCH_URL=$url UVGO_BENCH_REQUESTS=$requests UVGO_BENCH_CONNS=$conns \
          UVGO_BENCH_PROCS=$1 "$gobin" http_client)
    rs="$rs $(echo "$out" | pick "http_client_rps_${1}w")"
    ss="$ss $(echo "$out" | pick "http_client_rss_per_inflight_${1}w")"
  done
  echo "$(printf '%s\n' $rs | median) $(printf '%s\n' $ss | median)"
}
run_wrk() {
  rs=""
  for _ in $(seq "$runs"); do
    rs="$rs $(wrk -t2 -c"$conns" -d2s "$url" | awk '/^Requests\/sec:/ { print $2 }')"
  done
  printf '%s\n' $rs | median
}

set -- $(run_uvgo 1); u1=$1; u1h=$2; u1s=$3
set -- $(run_uvgo 2); u2=$1; u2h=$2; u2s=$3
set -- $(run_go 1); g1=$1; g1s=$2
set -- $(run_go 2); g2=$1; g2s=$2
w=$(run_wrk)

echo
echo "HTTP client: $requests GETs of 1 KiB over $conns connections, nginx (1 worker) on 127.0.0.1, median of $runs"
printf '%-26s %12s %16s %16s\n' client req/s heap/inflight rss/inflight
printf '%-26s %12.0f %14.0f B %14.0f B\n' "uvgo, 1 worker" "$u1" "$u1h" "$u1s"
printf '%-26s %12.0f %14.0f B %14.0f B\n' "uvgo, 2 workers" "$u2" "$u2h" "$u2s"
printf '%-26s %12.0f %16s %14.0f B\n' "Go net/http, GOMAXPROCS 1" "$g1" - "$g1s"
printf '%-26s %12.0f %16s %14.0f B\n' "Go net/http, GOMAXPROCS 2" "$g2" - "$g2s"
printf '%-26s %12.0f\n' "wrk -t2 (ceiling)" "$w"
echo
awk -v u1="$u1" -v u2="$u2" -v g1="$g1" -v g2="$g2" -v w="$w" 'BEGIN {
  ub = u1 > u2 ? u1 : u2; gb = g1 > g2 ? g1 : g2
  printf "uvgo 1w / Go 1 proc   %.2fx\n", u1 / g1
  printf "uvgo 2w / Go 2 procs  %.2fx\n", u2 / g2
  rg = ub / gb; rw = ub / w
  printf "best uvgo / best Go   %.2fx  (target >= 1.7x: %s)\n", rg, ((rg >= 1.7) ? "met" : "not met")
  printf "best uvgo / wrk       %.2fx  (target >= 0.9x: %s)\n", rw, ((rw >= 0.9) ? "met" : "not met")
}'
