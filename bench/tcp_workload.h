/* The TCP workloads' sizes, shared by bench_net.c and its no-runtime twin
 * tcp_rr_floor.c so that both always measure the same thing (the Go twin,
 * bench/go/tcp.go, repeats them). */
#ifndef UVGO_BENCH_TCP_WORKLOAD_H
#define UVGO_BENCH_TCP_WORKLOAD_H

#define CLIENTS 100            /* client connections */
#define ECHO_BLOCK (64 << 10)  /* each echo client's write, read back */
#define ECHO_TOTAL (256L << 20)
#define RR_MSG 32              /* request and response size */
#define RR_TOTAL 200000        /* requests, over all connections */
#define IDLE_CONNS 2000
#define SERVER_BUF (32 << 10)  /* the echo server's read buffer */

#endif
