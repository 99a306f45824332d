/* Task-layer costs without a scheduler: a raw switch, a fiber's whole life
 * on a pooled stack, and the memory of a million parked fibers. The Go twin
 * in bench/go/ prints the same metrics for goroutines. */
#include <stdlib.h>

#include "bench.h"
#include "core/fiber.h"
#include "core/internal.h"

static uvgo__fiber main_fiber;

static uvgo__stack_pool *pool_or_die(void) {
  uvgo__stack_pool *pool;
  if (uvgo__stack_pool_new(0, &pool) != 0) {
    fprintf(stderr, "stack pool: out of memory\n");
    exit(1);
  }
  return pool;
}

static uvgo__stack *stack_or_die(uvgo__stack_pool *pool) {
  uvgo__stack *st;
  if (uvgo__stack_get(pool, 0, &st) != 0) {
    fprintf(stderr, "stack: out of memory\n");
    exit(1);
  }
  return st;
}

static uvgo__fiber ponger;

static void pong_entry(void *arg) {
  (void)arg;
  for (;;)
    uvgo__fiber_switch(&ponger, &main_fiber);
}

UVGO_BENCH(switch) {
  uvgo__stack_pool *pool = pool_or_die();
  uvgo__stack *st = stack_or_die(pool);
  uvgo__fiber_init_thread(&main_fiber);
  uvgo__fiber_make(&ponger, st, pong_entry, NULL);
  long n = bench_scaled(10000000, 1000);
  for (long i = 0; i < 1000; i++) /* warm up */
    uvgo__fiber_switch(&main_fiber, &ponger);
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < n; i++)
    uvgo__fiber_switch(&main_fiber, &ponger);
  uint64_t t1 = bench_now_ns();
  /* Each round trip is two switches. The ponger is abandoned parked: the
   * pool goes away with it. */
  bench_report("switch_yield_1w", (double)(t1 - t0) / (double)(2 * n),
               "ns/op");
  uvgo__fiber_destroy(&ponger);
  uvgo__stack_put(pool, st);
  uvgo__stack_pool_free(pool);
}

static void exit_entry(void *arg) {
  uvgo__fiber *self = arg;
  uvgo__fiber_switch_final(self, &main_fiber);
}

UVGO_BENCH(spawn_raw) {
  uvgo__stack_pool *pool = pool_or_die();
  uvgo__fiber_init_thread(&main_fiber);
  long n = bench_scaled(1000000, 1000);
  uvgo__fiber f;
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < n; i++) {
    uvgo__stack *st = stack_or_die(pool);
    uvgo__fiber_make(&f, st, exit_entry, &f);
    uvgo__fiber_switch(&main_fiber, &f);
    uvgo__fiber_destroy(&f);
    uvgo__stack_put(pool, st);
  }
  uint64_t t1 = bench_now_ns();
  bench_report("create_exit_raw", (double)(t1 - t0) / (double)n, "ns/op");
  uvgo__stack_pool_free(pool);
}

typedef struct {
  uvgo__fiber f;
  uvgo__stack *st;
} parked_task;

static void park_entry(void *arg) {
  parked_task *t = arg;
  /* Touch a little stack, like a task that got somewhere before blocking. */
  volatile char buf[1024];
  for (size_t i = 0; i < sizeof buf; i += 64)
    buf[i] = (char)i;
  uvgo__fiber_switch(&t->f, &main_fiber);
  (void)buf[0];
  uvgo__fiber_switch_final(&t->f, &main_fiber);
}

UVGO_BENCH(parked) {
  uvgo__stack_pool *pool = pool_or_die();
  uvgo__fiber_init_thread(&main_fiber);
  long n = bench_scaled(1000000, 1000);
  fprintf(stderr, "parked: %ld fibers, guard mode %s\n", n,
          uvgo__stack_guard_mode_name(uvgo__stack_guard_mode()));
  long rss0 = bench_rss_bytes(), pte0 = bench_pte_bytes();
  parked_task *tasks = uvgo__calloc((size_t)n, sizeof *tasks);
  if (tasks == NULL)
    exit(1);
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < n; i++) {
    tasks[i].st = stack_or_die(pool);
    uvgo__fiber_make(&tasks[i].f, tasks[i].st, park_entry, &tasks[i]);
    uvgo__fiber_switch(&main_fiber, &tasks[i].f);
  }
  uint64_t t1 = bench_now_ns();
  long rss1 = bench_rss_bytes(), pte1 = bench_pte_bytes();
  for (long i = 0; i < n; i++) {
    uvgo__fiber_switch(&main_fiber, &tasks[i].f);
    uvgo__fiber_destroy(&tasks[i].f);
    uvgo__stack_put(pool, tasks[i].st);
  }
  uint64_t t2 = bench_now_ns();
  fprintf(stderr, "parked: spawn+park %.1f ns each, finish %.1f ns each\n",
          (double)(t1 - t0) / (double)n, (double)(t2 - t1) / (double)n);
  bench_report("parked_rss_per_task", (double)(rss1 - rss0) / (double)n,
               "bytes");
  bench_report("parked_pte_per_task", (double)(pte1 - pte0) / (double)n,
               "bytes");
  uvgo__free(tasks);
  uvgo__stack_pool_free(pool);
}
