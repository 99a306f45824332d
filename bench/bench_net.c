/* TCP workloads on loopback; the twin is bench/go/tcp.go (same names, same
 * sizes).
 *
 *   tcp_echo_mbps_{1,2}w   100 client connections, each writes a 64 KiB
 *                          block and reads it back, 256 MiB in all
 *   tcp_rr_per_sec_{1,2}w  100 connections, 32-byte request, 32-byte
 *                          response in lockstep, 200,000 in all
 *   tcp_idle_conn_bytes    RSS growth per idle established connection
 *                          pair (client held, server task parked in read)
 *
 * The server is the multi-core pattern of docs/net.md: one SO_REUSEPORT
 * listener per worker, each connection's task pinned to its worker. It
 * echoes with a 32 KiB buffer, like Go's io.Copy. Client task i runs on
 * worker i % workers and dials its own connection. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"
#include "tcp_workload.h"

static void must(long err, const char *what) {
  if (err < 0) {
    fprintf(stderr, "%s: %s\n", what, uvgo_strerror((int)err));
    abort();
  }
}

/* --- the server --- */

typedef struct {
  unsigned port;
  uvgo_ctx *stop;
  uvgo_chan *events;   /* unsigned: port when listening, 0 when stopped */
  _Atomic long accepted;
  _Atomic long open;
} server;

static server srv;

static void echo_conn(void *arg) {
  uvgo_conn *c = arg;
  /* On the heap like Go's make: a 32 KiB stack array would be touched
   * page by page by the stack-clash probes the library builds with. */
  char *buf = malloc(SERVER_BUF);
  ssize_t n;
  while ((n = uvgo_conn_read(NULL, c, buf, SERVER_BUF)) > 0)
    if (uvgo_conn_write(NULL, c, buf, (size_t)n) != 0)
      break;
  uvgo_conn_close(c);
  free(buf);
  atomic_fetch_sub(&srv.open, 1);
}

static void accept_loop(void *arg) {
  unsigned port = (unsigned)(uintptr_t)arg;
  uvgo_listener *ln;
  must(uvgo_listen_shared("127.0.0.1", port, 4096, &ln), "listen");
  port = uvgo_listener_port(ln);
  must(uvgo_chan_send(srv.events, &port), "send");
  unsigned w = (unsigned)uvgo_worker_id();
  for (;;) {
    uvgo_conn *c;
    int err = uvgo_accept(srv.stop, ln, &c);
    if (err == UV_ECANCELED)
      break;
    must(err, "accept");
    atomic_fetch_add(&srv.open, 1);
    atomic_fetch_add(&srv.accepted, 1);
    must(uvgo_go_on(w, echo_conn, c), "go");
  }
  uvgo_listener_close(ln);
  unsigned zero = 0;
  must(uvgo_chan_send(srv.events, &zero), "send");
}

static void server_start(void) {
  must(uvgo_ctx_with_cancel(uvgo_ctx_current(), &srv.stop), "ctx");
  srv.events = uvgo_chan_new(sizeof(unsigned), 16);
  atomic_store(&srv.accepted, 0);
  must(uvgo_go_on(0, accept_loop, (void *)0), "go");
  must(uvgo_chan_recv(srv.events, &srv.port), "recv");
  for (unsigned w = 1; w < uvgo_worker_count(); w++) {
    must(uvgo_go_on(w, accept_loop, (void *)(uintptr_t)srv.port), "go");
    unsigned p;
    must(uvgo_chan_recv(srv.events, &p), "recv");
  }
}

/* Caller has closed every client connection. */
static void server_stop(void) {
  uvgo_ctx_cancel(srv.stop);
  for (unsigned w = 0; w < uvgo_worker_count(); w++) {
    unsigned p;
    must(uvgo_chan_recv(srv.events, &p), "recv");
  }
  while (atomic_load(&srv.open) > 0)
    uvgo_sleep(1);
  uvgo_ctx_release(srv.stop);
  uvgo_chan_release(srv.events);
}

/* --- clients --- */

typedef struct {
  long blocks, reqs;
  uvgo_chan *start_echo; /* closed to start every client at once */
  uvgo_chan *start_rr;
  uvgo_chan *done;       /* one message per client per phase, and at exit */
} run_spec;

static long share(long total, long n, long i) {
  return total / n + (i < total % n ? 1 : 0);
}

static int read_full(uvgo_conn *c, char *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = uvgo_conn_read(NULL, c, buf + got, len - got);
    if (n < 0)
      return (int)n;
    got += (size_t)n;
  }
  return 0;
}

typedef struct {
  long i;
  run_spec *spec;
} client_arg;

static void client(void *arg) {
  client_arg *a = arg;
  run_spec *spec = a->spec;
  uvgo_conn *c;
  must(uvgo_dial(NULL, "127.0.0.1", srv.port, &c), "dial");
  char *wbuf = malloc(ECHO_BLOCK), *rbuf = malloc(ECHO_BLOCK);
  for (int j = 0; j < ECHO_BLOCK; j++)
    wbuf[j] = (char)(a->i + j);
  int v = 0;

  uvgo_chan_recv(spec->start_echo, NULL);
  for (long b = share(spec->blocks, CLIENTS, a->i); b > 0; b--) {
    must(uvgo_conn_write(NULL, c, wbuf, ECHO_BLOCK), "write");
    must(read_full(c, rbuf, ECHO_BLOCK), "read");
  }
  if (rbuf[1] != wbuf[1])
    must(UV_EINVAL, "echo mismatch");
  must(uvgo_chan_send(spec->done, &v), "send");

  uvgo_chan_recv(spec->start_rr, NULL);
  for (long r = share(spec->reqs, CLIENTS, a->i); r > 0; r--) {
    wbuf[0] = (char)r;
    must(uvgo_conn_write(NULL, c, wbuf, RR_MSG), "write");
    must(read_full(c, rbuf, RR_MSG), "read");
    if (rbuf[0] != wbuf[0])
      must(UV_EINVAL, "rr mismatch");
  }
  must(uvgo_chan_send(spec->done, &v), "send");

  uvgo_conn_close(c);
  free(wbuf);
  free(rbuf);
  must(uvgo_chan_send(spec->done, &v), "send");
}

static void wait_clients(run_spec *spec) {
  for (int i = 0; i < CLIENTS; i++) {
    int v;
    must(uvgo_chan_recv(spec->done, &v), "recv");
  }
}

static double timed_phase(run_spec *spec, uvgo_chan *start) {
  uvgo_sleep(10);
  uint64_t t0 = bench_now_ns();
  uvgo_chan_close(start);
  wait_clients(spec);
  return (double)(bench_now_ns() - t0) / 1e9;
}

typedef struct {
  unsigned workers;
  double echo_mbps, rr_per_sec;
} tput_arg;

static void tput_main(void *arg) {
  tput_arg *t = arg;
  server_start();
  run_spec spec = {bench_scaled(ECHO_TOTAL / ECHO_BLOCK, CLIENTS),
                   bench_scaled(RR_TOTAL, CLIENTS * 10), uvgo_chan_new(0, 0),
                   uvgo_chan_new(0, 0), uvgo_chan_new(sizeof(int), CLIENTS)};
  static client_arg args[CLIENTS];
  for (long i = 0; i < CLIENTS; i++) {
    args[i] = (client_arg){i, &spec};
    must(uvgo_go_on((unsigned)(i % t->workers), client, &args[i]), "go");
  }
  while (atomic_load(&srv.accepted) < CLIENTS)
    uvgo_sleep(1);
  double el = timed_phase(&spec, spec.start_echo);
  t->echo_mbps = (double)spec.blocks * ECHO_BLOCK / (1 << 20) / el;
  el = timed_phase(&spec, spec.start_rr);
  t->rr_per_sec = (double)spec.reqs / el;
  wait_clients(&spec); /* closed */
  server_stop();
  uvgo_chan_release(spec.start_echo);
  uvgo_chan_release(spec.start_rr);
  uvgo_chan_release(spec.done);
}

/* --- idle connections --- */

typedef struct {
  long n;
  double bytes_per_conn;
} idle_arg;

static void idle_main(void *arg) {
  idle_arg *ia = arg;
  server_start();
  uvgo_sleep(10);
  long rss0 = bench_rss_bytes();
  uvgo_conn **conns = calloc((size_t)ia->n, sizeof *conns);
  for (long i = 0; i < ia->n; i++)
    must(uvgo_dial(NULL, "127.0.0.1", srv.port, &conns[i]), "dial");
  while (atomic_load(&srv.accepted) < ia->n)
    uvgo_sleep(1);
  uvgo_sleep(50); /* handlers reach their read */
  long rss1 = bench_rss_bytes();
  ia->bytes_per_conn = (double)(rss1 - rss0) / (double)ia->n;
  for (long i = 0; i < ia->n; i++)
    uvgo_conn_close(conns[i]);
  free(conns);
  server_stop();
}

static void raise_fd_limit(long need) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)need) {
    rl.rlim_cur = rl.rlim_max < (rlim_t)need ? rl.rlim_max : (rlim_t)need;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

UVGO_BENCH(tcp) {
  for (unsigned w = 1; w <= 2; w++) {
    uvgo_config cfg = {0};
    cfg.workers = w;
    tput_arg t = {w, 0, 0};
    must(uvgo_run(&cfg, tput_main, &t), "run");
    char name[64];
    snprintf(name, sizeof name, "tcp_echo_mbps_%uw", w);
    bench_report(name, t.echo_mbps, "MB/s");
    snprintf(name, sizeof name, "tcp_rr_per_sec_%uw", w);
    bench_report(name, t.rr_per_sec, "req/s");
  }
  idle_arg ia = {bench_scaled(IDLE_CONNS, 50), 0};
  raise_fd_limit(2 * ia.n + 256);
  uvgo_config cfg = {0};
  cfg.workers = 2;
  must(uvgo_run(&cfg, idle_main, &ia), "run");
  bench_report("tcp_idle_conn_bytes", ia.bytes_per_conn, "bytes");
}
