/* Channel and select workloads; twins in bench/go with the same names.
 *
 *   chan_pingpong      unbuffered round trip between two tasks, 1 worker
 *   chan_buffered      cap 1024, producer and consumer tasks, per item
 *   select_ready       select with one ready case (recv from a closed
 *                      channel: always ready, no state to refill)
 *   select_after       select with a fresh uvgo_after(1000) and one ready
 *                      case; select_after_rss_mb is the RSS growth
 *   select_after_base  the same select with a nil case in place of the
 *                      uvgo_after: what the after itself costs
 *   after_create       uvgo_after(1000) alone: the floor select_after
 *                      pays over select_after_base (one TSC read, whose
 *                      reciprocal throughput bounds a loop of them; no Go
 *                      twin: time.After allocates a timer)
 *   tsc_read           a bare rdtsc (x86-64 only): what after_create
 *                      cannot go below on this CPU
 *   select_park        a select that parks until a partner sends; per
 *                      round trip (both sides select)
 *   chan_buffered_2w   as chan_buffered with 2 workers, the scheduler
 *                      placing the consumer (Go's twin: 2 Ps, goroutines
 *                      placed by Go's scheduler)
 *   chan_buffered_2w_pinned  the consumer pinned to the other worker: every
 *                      item crosses cores (no Go twin: Go cannot pin) */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <x86intrin.h>
#endif

typedef struct {
  uvgo_chan *a, *b;
  long n;
  uint64_t ns;
} bench_arg;

static void must(int err, const char *what) {
  if (err < 0) {
    fprintf(stderr, "%s: %s\n", what, uvgo_strerror(err));
    abort();
  }
}

static uvgo_config workers(unsigned n) {
  uvgo_config cfg = {0};
  cfg.workers = n;
  return cfg;
}

/* --- ping-pong --- */

static void pong(void *arg) {
  bench_arg *b = arg;
  int v;
  for (long i = 0; i < b->n; i++) {
    must(uvgo_chan_recv(b->a, &v), "recv");
    must(uvgo_chan_send(b->b, &v), "send");
  }
}

static void ping_main(void *arg) {
  bench_arg *b = arg;
  must(uvgo_go(pong, b), "go");
  int v = 1;
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < b->n; i++) {
    must(uvgo_chan_send(b->a, &v), "send");
    must(uvgo_chan_recv(b->b, &v), "recv");
  }
  b->ns = bench_now_ns() - t0;
}

/* --- buffered producer/consumer --- */

static void consumer(void *arg) {
  bench_arg *b = arg;
  int v;
  long sum = 0;
  for (long i = 0; i < b->n; i++) {
    must(uvgo_chan_recv(b->a, &v), "recv");
    sum += v;
  }
  bench_keep(sum);
}

static bool pin_consumer; /* chan_buffered_2w_pinned */

static void producer_main(void *arg) {
  bench_arg *b = arg;
  uint64_t t0 = bench_now_ns();
  if (pin_consumer)
    must(uvgo_go_on(1, consumer, b), "go_on");
  else
    must(uvgo_go(consumer, b), "go");
  for (long i = 0; i < b->n; i++) {
    int v = (int)i;
    must(uvgo_chan_send(b->a, &v), "send");
  }
  /* Wait for the consumer to drain: close a rendezvous with it. */
  while (uvgo_chan_len(b->a) > 0 || uvgo_task_count(NULL) > 1)
    uvgo_yield();
  b->ns = bench_now_ns() - t0;
}

/* --- select --- */

static void select_ready_main(void *arg) {
  bench_arg *b = arg;
  uvgo_select_case cs[1] = {UVGO_RECV_CASE(b->a, NULL)};
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < b->n; i++)
    bench_keep(uvgo_select(cs, 1));
  b->ns = bench_now_ns() - t0;
}

static long rss_growth;

static void select_after_main(void *arg) {
  bench_arg *b = arg;
  long rss0 = bench_rss_bytes();
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < b->n; i++) {
    uvgo_select_case cs[2] = {UVGO_RECV_CASE(uvgo_after(1000), NULL),
                              UVGO_RECV_CASE(b->a, NULL)};
    int r = uvgo_select(cs, 2);
    if (r != 1)
      abort();
  }
  b->ns = bench_now_ns() - t0;
  rss_growth = bench_rss_bytes() - rss0;
}

static void after_create_main(void *arg) {
  bench_arg *b = arg;
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < b->n; i++)
    bench_keep(uvgo_after(1000));
  b->ns = bench_now_ns() - t0;
}

#if defined(__x86_64__) && defined(__GNUC__)
/* Not on a uvgo task: the instruction alone, summed so it is not dropped. */
static double tsc_read_ns(long n) {
  uint64_t sum = 0, t0 = bench_now_ns();
  for (long i = 0; i < n; i++)
    sum += __rdtsc();
  uint64_t ns = bench_now_ns() - t0;
  bench_keep(sum);
  return (double)ns / (double)n;
}
#endif

static void select_after_base_main(void *arg) {
  bench_arg *b = arg;
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < b->n; i++) {
    uvgo_select_case cs[2] = {UVGO_RECV_CASE(NULL, NULL),
                              UVGO_RECV_CASE(b->a, NULL)};
    int r = uvgo_select(cs, 2);
    if (r != 1)
      abort();
  }
  b->ns = bench_now_ns() - t0;
}

static void select_partner(void *arg) {
  bench_arg *b = arg;
  int v;
  uvgo_select_case cs[2] = {UVGO_RECV_CASE(b->a, &v),
                            UVGO_RECV_CASE(NULL, NULL)};
  for (long i = 0; i < b->n; i++) {
    must(uvgo_select(cs, 2), "select");
    must(uvgo_chan_send(b->b, &v), "send");
  }
}

static void select_park_main(void *arg) {
  bench_arg *b = arg;
  uvgo_chan *idle = uvgo_chan_new(sizeof(int), 0);
  must(uvgo_go(select_partner, b), "go");
  int v = 1;
  uvgo_select_case cs[2] = {UVGO_RECV_CASE(b->b, &v),
                            UVGO_RECV_CASE(idle, NULL)};
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < b->n; i++) {
    must(uvgo_chan_send(b->a, &v), "send");
    must(uvgo_select(cs, 2), "select");
  }
  b->ns = bench_now_ns() - t0;
  uvgo_chan_release(idle);
}

static double run(unsigned nw, uvgo_fn fn, size_t elem, size_t cap, long n,
                  bool close_a) {
  bench_arg b = {uvgo_chan_new(elem, cap), uvgo_chan_new(elem, cap), n, 0};
  if (b.a == NULL || b.b == NULL)
    abort();
  if (close_a)
    uvgo_chan_close(b.a);
  uvgo_config cfg = workers(nw);
  must(uvgo_run(&cfg, fn, &b), "uvgo_run");
  uvgo_chan_release(b.a);
  uvgo_chan_release(b.b);
  return (double)b.ns / (double)n;
}

/* UVGO_BENCH_ONLY=metric runs one metric (for profiling). */
static bool want(const char *metric) {
  const char *only = getenv("UVGO_BENCH_ONLY");
  return only == NULL || strcmp(metric, only) == 0;
}

UVGO_BENCH(chan) {
  long n = bench_scaled(2000000, 1000);
  if (want("chan_pingpong"))
    bench_report("chan_pingpong", run(1, ping_main, sizeof(int), 0, n, false),
               "ns/op");
  long nb = bench_scaled(20000000, 10000);
  if (want("chan_buffered"))
    bench_report("chan_buffered",
               run(1, producer_main, sizeof(int), 1024, nb, false), "ns/op");
  if (want("select_ready"))
    bench_report("select_ready",
               run(1, select_ready_main, 0, 0, nb, true), "ns/op");
  long na = bench_scaled(5000000, 10000);
  if (want("select_after")) {
    bench_report("select_after",
                 run(1, select_after_main, 0, 0, na, true), "ns/op");
    bench_report("select_after_rss_mb",
                 (double)rss_growth / (1024.0 * 1024.0), "MB");
  }
  if (want("select_after_base"))
    bench_report("select_after_base",
                 run(1, select_after_base_main, 0, 0, na, true), "ns/op");
  if (want("after_create"))
    bench_report("after_create",
                 run(1, after_create_main, 0, 0, na, true), "ns/op");
#if defined(__x86_64__) && defined(__GNUC__)
  if (want("tsc_read"))
    bench_report("tsc_read", tsc_read_ns(na), "ns/op");
#endif
  if (want("select_park"))
    bench_report("select_park", run(1, select_park_main, sizeof(int), 0, n, false),
               "ns/op");
  if (want("chan_buffered_2w"))
    bench_report("chan_buffered_2w",
               run(2, producer_main, sizeof(int), 1024, nb / 4, false),
               "ns/op");
  if (want("chan_buffered_2w_pinned")) {
    pin_consumer = true;
    bench_report("chan_buffered_2w_pinned",
                 run(2, producer_main, sizeof(int), 1024, nb / 4, false),
                 "ns/op");
    pin_consumer = false;
  }
}
