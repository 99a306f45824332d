// The Go twins of uvgo's HTTP server benchmarks (bench/http_server_bench.sh):
//
//	UVGO_BENCH_PORT=P UVGO_BENCH_PROCS=N go-bench http_server
//	  serves 1 KiB keep-alive responses on 127.0.0.1:P with GOMAXPROCS=N
//	  until SIGTERM (wrk loads it).
//	UVGO_BENCH_MIX=all|fast go-bench fetch_all_demo   (fetch_all_demo.go)
package main

import (
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

func init() {
	workloads = append(workloads, workload{"http_server", benchHTTPServer})
}

func benchHTTPServer() {
	port := envInt("UVGO_BENCH_PORT", 8080)
	runtime.GOMAXPROCS(envInt("UVGO_BENCH_PROCS", 1))
	body := make([]byte, 1024)
	for i := range body {
		body[i] = 'x'
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	srv := &http.Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), Handler: mux}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		srv.Close()
	}()
	fmt.Fprintf(os.Stderr, "listening on 127.0.0.1:%d\n", port)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
