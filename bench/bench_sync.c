/* Sync workloads: WaitGroup fan-out/fan-in and a contended mutex. */
#include "bench.h"

#include <stdlib.h>

typedef struct {
  uvgo_wg wg;
  long n;
  uint64_t ns;
} wg_bench;

static void wg_child(void *arg) { uvgo_wg_done(&((wg_bench *)arg)->wg); }

static void wg_main(void *arg) {
  wg_bench *b = arg;
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < b->n; i++) {
    uvgo_wg_add(&b->wg, 1);
    if (uvgo_go(wg_child, b) != 0)
      abort();
  }
  uvgo_wg_wait(&b->wg);
  b->ns = bench_now_ns() - t0;
}

typedef struct {
  uvgo_mutex mu;
  uvgo_wg wg;
  long per;
  long counter;
  uint64_t ns;
} mutex_bench;

static void mutex_worker(void *arg) {
  mutex_bench *b = arg;
  for (long i = 0; i < b->per; i++) {
    uvgo_mutex_lock(&b->mu);
    b->counter++;
    uvgo_mutex_unlock(&b->mu);
  }
  uvgo_wg_done(&b->wg);
}

static void mutex_main(void *arg) {
  mutex_bench *b = arg;
  unsigned nw = uvgo_worker_count();
  uint64_t t0 = bench_now_ns();
  uvgo_wg_add(&b->wg, 8);
  for (unsigned i = 0; i < 8; i++)
    if (uvgo_go_on(i % nw, mutex_worker, b) != 0)
      abort();
  uvgo_wg_wait(&b->wg);
  b->ns = bench_now_ns() - t0;
}

static void run_mutex(const char *metric, unsigned workers, long n) {
  mutex_bench b = {.per = n / 8};
  uvgo_config cfg = {.workers = workers};
  if (uvgo_run(&cfg, mutex_main, &b) != 0 || b.counter != 8 * b.per)
    abort();
  bench_report(metric, (double)b.ns / (double)(8 * b.per), "ns/op");
}

UVGO_BENCH(sync) {
  wg_bench w = {.n = bench_scaled(1000000, 1000)};
  uvgo_config cfg = {.workers = 2};
  if (uvgo_run(&cfg, wg_main, &w) != 0)
    abort();
  bench_report("wg_fanout_1m", (double)w.ns / (double)w.n, "ns/op");

  run_mutex("mutex_contention_8", 1, bench_scaled(8000000, 800));
  run_mutex("mutex_contention_8_2w", 2, bench_scaled(2000000, 800));
}
