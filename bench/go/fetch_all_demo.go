// The Go twin of uvgo-fetch's demo (client and server in one process):
// a net/http server on 127.0.0.1 with the demo's endpoints (fast, slow
// beyond the timeout, 404, redirect, gzip, large, cut mid-body), and
// 10,000 URLs fetched through it by 100 goroutines taking URLs from a
// channel, a 1 s timeout per request, bodies read to the end.
//
//	UVGO_BENCH_MIX=all|fast [UVGO_BENCH_REQUESTS=N] go-bench fetch_all_demo
//	BENCH fetch_all_demo_rps_<mix> <requests per second> req/s
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func init() {
	workloads = append(workloads, workload{"fetch_all_demo", benchFetchAllDemo})
}

func demoPath(i int, mix string) string {
	if mix == "fast" {
		return "/fast"
	}
	switch i % 100 {
	case 7, 31, 57, 83:
		return "/missing"
	case 13, 47, 79:
		return "/redirect"
	case 19, 53, 89:
		return "/gzip"
	case 37, 71:
		return "/large"
	case 61:
		return "/slow"
	case 97:
		return "/reset"
	}
	return "/fast"
}

func benchFetchAllDemo() {
	mix := os.Getenv("UVGO_BENCH_MIX")
	if mix == "" {
		mix = "all"
	}
	n := envInt("UVGO_BENCH_REQUESTS", 10000)
	conc := envInt("UVGO_BENCH_CONNS", 100)
	fast := bytes.Repeat([]byte("x"), 1024)
	var text bytes.Buffer
	for text.Len() < 16000 {
		fmt.Fprintf(&text, "line %d: don't communicate by sharing memory\n", text.Len())
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(text.Bytes())
	zw.Close()
	piece := bytes.Repeat([]byte("L"), 16384)

	mux := http.NewServeMux()
	mux.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) { w.Write(fast) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/fast", http.StatusFound)
	})
	mux.HandleFunc("/gzip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(gz.Bytes())
	})
	mux.HandleFunc("/large", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 32; i++ {
			w.Write(piece)
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/reset", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "4096")
		w.Write([]byte("partial..."))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: mux, ErrorLog: nil}
	go srv.Serve(ln)
	base := "http://" + ln.Addr().String()

	client := &http.Client{
		Timeout:   time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: conc},
	}
	urls := make(chan string, 2*conc)
	var ok, errs int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 65536)
			for u := range urls {
				resp, err := client.Get(u)
				if err == nil {
					for {
						_, rerr := resp.Body.Read(buf)
						if rerr != nil {
							if rerr != io.EOF {
								err = rerr
							}
							break
						}
					}
					resp.Body.Close()
				}
				if err != nil {
					atomic.AddInt64(&errs, 1)
				} else {
					atomic.AddInt64(&ok, 1)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		urls <- fmt.Sprintf("%s%s?i=%d", base, demoPath(i, mix), i)
	}
	close(urls)
	wg.Wait()
	secs := time.Since(start).Seconds()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	srv.Shutdown(ctx)
	cancel()
	fmt.Fprintf(os.Stderr, "fetch_all_demo (%s): %d responses, %d errors in %.3f s\n", mix, ok, errs, secs)
	report("fetch_all_demo_rps_"+mix, float64(n)/secs, "req/s")
}
