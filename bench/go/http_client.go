// The HTTP client workload, twin of bench/bench_http.c (uvgo-bench-http):
// N GETs over C connections of one http.Client against a running server
// (bench/http_client_bench.sh starts nginx and sets the URL).
//
//	UVGO_BENCH_URL=http://127.0.0.1:PORT/1k.bin go-bench http_client
//
// UVGO_BENCH_REQUESTS (10000), UVGO_BENCH_CONNS (100) and UVGO_BENCH_PROCS
// (GOMAXPROCS; 1 and 2 when unset) change the shape. The transport keeps
// MaxIdleConnsPerHost = MaxConnsPerHost = C; C goroutines take tickets,
// GET, read the body to its end and close it; a warm-up round of C
// requests opens the connections first (not timed). Prints
//
//	BENCH http_client_rps_<P>w <requests per second> req/s
//	BENCH http_client_rss_per_inflight_<P>w <bytes> B
//
// rss: peak resident set (VmHWM) growth from before the client existed,
// per request in flight, as uvgo-bench-http measures it.
package main

import (
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func init() {
	workloads = append(workloads, workload{"http_client", benchHTTPClient})
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func httpRun(url string, requests, conns, procs int) {
	runtime.GOMAXPROCS(procs)
	rss0 := statusKB("VmRSS")
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	client := &http.Client{Transport: tr}
	var failures int64
	one := func() {
		resp, err := client.Get(url)
		if err != nil {
			if atomic.AddInt64(&failures, 1) <= 5 {
				logf("GET: %v", err)
			}
			return
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			atomic.AddInt64(&failures, 1)
		}
	}
	var next int64
	var warm, done sync.WaitGroup
	start := make(chan struct{})
	warm.Add(conns)
	done.Add(conns)
	for i := 0; i < conns; i++ {
		go func() {
			one()
			warm.Done()
			<-start
			for atomic.AddInt64(&next, 1) <= int64(requests) {
				one()
			}
			done.Done()
		}()
	}
	warm.Wait()
	t0 := time.Now()
	close(start)
	done.Wait()
	secs := time.Since(t0).Seconds()
	hwm := statusKB("VmHWM")
	logf("go: %d requests, %d failures, %.3f s, GOMAXPROCS %d", requests,
		failures, secs, procs)
	report("http_client_rps_"+strconv.Itoa(procs)+"w", float64(requests)/secs, "req/s")
	report("http_client_rss_per_inflight_"+strconv.Itoa(procs)+"w",
		float64(hwm-rss0)*1024/float64(conns), "B")
	tr.CloseIdleConnections()
	if failures != 0 {
		os.Exit(1)
	}
}

func benchHTTPClient() {
	url := os.Getenv("UVGO_BENCH_URL")
	if url == "" {
		logf("http_client: set UVGO_BENCH_URL (bench/http_client_bench.sh does)")
		os.Exit(2)
	}
	requests := envInt("UVGO_BENCH_REQUESTS", 10000)
	conns := envInt("UVGO_BENCH_CONNS", 100)
	if p := envInt("UVGO_BENCH_PROCS", 0); p > 0 {
		httpRun(url, requests, conns, p)
		return
	}
	// VmHWM is a process-wide peak: measure each shape in its own process
	// when memory matters (the script does).
	httpRun(url, requests, conns, 1)
	httpRun(url, requests, conns, 2)
}
