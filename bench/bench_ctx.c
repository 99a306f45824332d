/* Context benchmarks, twins of bench/go ctx.go. */
#include <stdatomic.h>
#include <stdlib.h>

#include "bench.h"

static _Atomic long started, exited;

static void wait_done(void *arg) {
  uvgo_chan *done = arg;
  atomic_fetch_add_explicit(&started, 1, memory_order_relaxed);
  uvgo_select_case cases[] = {UVGO_RECV_CASE(done, NULL)};
  uvgo_select(cases, 1);
  atomic_fetch_add_explicit(&exited, 1, memory_order_relaxed);
}

typedef struct {
  long tasks;
  double cancel_ms;
} cancel_bench;

/* With b->tasks spawned to block until ctx ends: the time from the cancel
 * until every one has exited. Then drops ctx. */
static void time_cancel(cancel_bench *b, uvgo_ctx *ctx) {
  /* Every task running, as the Go twin's started.Wait(): counting live
   * tasks would also count the ones queued but not yet started, whose
   * first run (a fresh stack) would then land inside the timed window. */
  while (atomic_load(&started) < b->tasks)
    uvgo_sleep(1);
  uvgo_sleep(20); /* every task parked */
  uint64_t start = bench_now_ns();
  uvgo_ctx_cancel(ctx);
  while (atomic_load(&exited) < b->tasks)
    uvgo_yield();
  b->cancel_ms = (double)(bench_now_ns() - start) / 1e6;
  uvgo_ctx_release(ctx);
}

static void cancel_main(void *arg) {
  cancel_bench *b = arg;
  uvgo_ctx *ctx;
  if (uvgo_ctx_with_cancel(uvgo_ctx_background(), &ctx) != 0)
    abort();
  uvgo_chan *done = uvgo_ctx_done(ctx);
  for (long i = 0; i < b->tasks; i++)
    uvgo_go(wait_done, done);
  time_cancel(b, ctx);
}

/* The same cancel reaching tasks through their own context, asleep at a
 * cancellation point (uvgo_sleep), not selecting on the done channel: the
 * context's watcher list instead of a channel close. No Go twin: a Go
 * goroutine has no context of its own. */
static void sleep_under_ctx(void *arg) {
  (void)arg;
  atomic_fetch_add_explicit(&started, 1, memory_order_relaxed);
  uvgo_sleep(60000);
  atomic_fetch_add_explicit(&exited, 1, memory_order_relaxed);
}

static void cancel_points_main(void *arg) {
  cancel_bench *b = arg;
  uvgo_ctx *ctx;
  if (uvgo_ctx_with_cancel(uvgo_ctx_background(), &ctx) != 0)
    abort();
  for (long i = 0; i < b->tasks; i++)
    uvgo_go_ctx(ctx, sleep_under_ctx, NULL);
  time_cancel(b, ctx);
}

static void create_cancel_main(void *arg) {
  long n = *(long *)arg;
  uvgo_ctx *parent;
  uvgo_ctx_with_cancel(uvgo_ctx_background(), &parent);
  uint64_t start = bench_now_ns();
  for (long i = 0; i < n; i++) {
    uvgo_ctx *c;
    uvgo_ctx_with_cancel(parent, &c);
    uvgo_ctx_cancel(c);
    uvgo_ctx_release(c);
  }
  bench_report("ctx_child_create_cancel",
               (double)(bench_now_ns() - start) / (double)n, "ns/op");
  uvgo_ctx_release(parent);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of 5 runs (1 at small scale), as the Go twin reports. */
static double cancel_median_ms(unsigned workers, uvgo_fn main_fn) {
  double ms[5];
  long reps = bench_scaled(5, 1);
  if (reps > 5)
    reps = 5;
  for (long r = 0; r < reps; r++) {
    cancel_bench b = {.tasks = bench_scaled(10000, 100)};
    uvgo_config cfg = {.workers = workers};
    atomic_store(&started, 0);
    atomic_store(&exited, 0);
    if (uvgo_run(&cfg, main_fn, &b) != 0)
      abort();
    ms[r] = b.cancel_ms;
  }
  qsort(ms, (size_t)reps, sizeof ms[0], cmp_double);
  return ms[reps / 2];
}

UVGO_BENCH(ctx) {
  bench_report("ctx_cancel_10k_ms", cancel_median_ms(2, cancel_main), "ms");
  /* The same on one worker (no Go twin: Go's runs on two Ps). */
  bench_report("ctx_cancel_10k_1w_ms", cancel_median_ms(1, cancel_main),
               "ms");
  bench_report("ctx_cancel_points_10k_ms",
               cancel_median_ms(2, cancel_points_main), "ms");
  uvgo_config cfg = {.workers = 2};
  long n = bench_scaled(1000000, 1000);
  if (uvgo_run(&cfg, create_cancel_main, &n) != 0)
    abort();
}
