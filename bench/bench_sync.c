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

/* --- pools of 8 over n tiny jobs (x -> 2x), 2 workers, as bench/go --- */

typedef struct {
  long n;
  uint64_t ns;
  long sum;
} pool_bench;

/* The article's channel form: pre-filled jobs channel, 8 workers, results
 * channel, a WaitGroup and a closer task, then the collect loop. */
typedef struct {
  uvgo_chan *jobs;
  uvgo_chan *results;
  uvgo_wg *wg;
} chan_pool;

static void chan_pool_worker(void *arg) {
  chan_pool *p = arg;
  long x;
  while (uvgo_chan_recv(p->jobs, &x) == 0) {
    long r = x * 2;
    uvgo_chan_send(p->results, &r);
  }
  uvgo_wg_done(p->wg);
}

static void chan_pool_closer(void *arg) {
  chan_pool *p = arg;
  uvgo_wg_wait(p->wg);
  uvgo_chan_close(p->results);
}

static void chan_pool_main(void *arg) {
  pool_bench *b = arg;
  uint64_t start = bench_now_ns();
  uvgo_wg wg = UVGO_WG_INIT;
  chan_pool p = {uvgo_chan_new(sizeof(long), (size_t)b->n),
                 uvgo_chan_new(sizeof(long), (size_t)b->n), &wg};
  for (int i = 0; i < 8; i++) {
    uvgo_wg_add(&wg, 1);
    uvgo_go(chan_pool_worker, &p);
  }
  for (long i = 0; i < b->n; i++)
    uvgo_chan_send(p.jobs, &i);
  uvgo_chan_close(p.jobs);
  uvgo_go(chan_pool_closer, &p);
  long r;
  while (uvgo_chan_recv(p.results, &r) == 0)
    b->sum += r;
  b->ns = bench_now_ns() - start;
  uvgo_chan_release(p.jobs);
  uvgo_chan_release(p.results);
}

static int double_it(uvgo_ctx *ctx, const void *in, void *out, void *arg) {
  (void)ctx;
  (void)arg;
  *(long *)out = *(const long *)in * 2;
  return 0;
}

static void lib_pool_main(void *arg) {
  pool_bench *b = arg;
  long *in = malloc((size_t)b->n * sizeof *in);
  long *out = malloc((size_t)b->n * sizeof *out);
  int *errs = malloc((size_t)b->n * sizeof *errs);
  if (in == NULL || out == NULL || errs == NULL)
    abort();
  for (long i = 0; i < b->n; i++)
    in[i] = i;
  uint64_t start = bench_now_ns();
  uvgo_pool_run(uvgo_ctx_current(), 8, in, (size_t)b->n, sizeof(long),
                double_it, NULL, out, sizeof(long), errs);
  b->ns = bench_now_ns() - start;
  for (long i = 0; i < b->n; i++)
    b->sum += out[i];
  free(in);
  free(out);
  free(errs);
}

static void run_pool(const char *metric, uvgo_fn main_fn, long n) {
  pool_bench b = {.n = n};
  uvgo_config cfg = {.workers = 2};
  if (uvgo_run(&cfg, main_fn, &b) != 0 || b.sum != n * (n - 1))
    abort();
  bench_report(metric, (double)b.ns / (double)n, "ns/op");
}

UVGO_BENCH(sync) {
  wg_bench w = {.n = bench_scaled(1000000, 1000)};
  uvgo_config cfg = {.workers = 2};
  if (uvgo_run(&cfg, wg_main, &w) != 0)
    abort();
  bench_report("wg_fanout_1m", (double)w.ns / (double)w.n, "ns/op");

  run_pool("pool_chan_8w", chan_pool_main, bench_scaled(1000000, 1000));
  run_pool("pool_lib_8w", lib_pool_main, bench_scaled(1000000, 1000));
  run_mutex("mutex_contention_8", 1, bench_scaled(8000000, 800));
  run_mutex("mutex_contention_8_2w", 2, bench_scaled(2000000, 800));
}
