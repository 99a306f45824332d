/* How spawn cost and memory grow with the number of live tasks.
 *
 *   scale   1 worker; tasks spawned in batches until 1k, 10k, 100k and 1M
 *           are alive at once, each blocked in uvgo_chan_recv on one
 *           channel after touching 1 KiB of its stack (default stacks,
 *           guard pages). For each batch: ns per spawn, counting the
 *           spawn and the run up to the park (spawn_ns_at_<live>), and the
 *           RSS the batch added per task (rss_per_task_at_<live>). Then
 *           one close wakes them all (close_wake_all_ns_per_task).
 *
 * The Go twin (bench/go/scale.go) does the same with goroutines. --scale
 * shrinks the largest level (never below 1,000); levels above it are
 * skipped. */
#include <stdatomic.h>
#include <stdlib.h>

#include "bench.h"

typedef struct {
  uvgo_chan *ch;
  _Atomic long parked, exited;
} scale_state;

static void scale_task(void *arg) {
  scale_state *s = arg;
  volatile char buf[1024];
  for (size_t i = 0; i < sizeof buf; i += 64)
    buf[i] = (char)i;
  atomic_fetch_add_explicit(&s->parked, 1, memory_order_relaxed);
  int v;
  if (uvgo_chan_recv(s->ch, &v) != 0) /* fails once the channel closes */
    atomic_fetch_add_explicit(&s->exited, 1, memory_order_relaxed);
  (void)buf[0];
}

static void wait_for(_Atomic long *count, long want) {
  while (atomic_load_explicit(count, memory_order_relaxed) < want)
    uvgo_yield();
}

static void scale_main(void *arg) {
  scale_state *s = arg;
  static const long levels[] = {1000, 10000, 100000, 1000000};
  long top = bench_scaled(1000000, 1000);
  long live = 0;
  for (size_t k = 0; k < sizeof levels / sizeof levels[0]; k++) {
    long want = levels[k];
    if (want > top)
      break;
    long rss0 = bench_rss_bytes();
    uint64_t t0 = bench_now_ns();
    for (long i = live; i < want; i++)
      if (uvgo_go(scale_task, s) != 0) {
        fprintf(stderr, "scale: uvgo_go failed at %ld live tasks\n", i);
        exit(1);
      }
    wait_for(&s->parked, want);
    uint64_t ns = bench_now_ns() - t0;
    long batch = want - live;
    char metric[64];
    snprintf(metric, sizeof metric, "spawn_ns_at_%ld", want);
    bench_report(metric, (double)ns / (double)batch, "ns/op");
    snprintf(metric, sizeof metric, "rss_per_task_at_%ld", want);
    bench_report(metric, (double)(bench_rss_bytes() - rss0) / (double)batch,
                 "bytes");
    live = want;
  }
  uint64_t t0 = bench_now_ns();
  uvgo_chan_close(s->ch);
  wait_for(&s->exited, live);
  bench_report("close_wake_all_ns_per_task",
               (double)(bench_now_ns() - t0) / (double)live, "ns/op");
}

UVGO_BENCH(scale) {
  scale_state s = {.ch = uvgo_chan_new(sizeof(int), 0)};
  if (s.ch == NULL)
    exit(1);
  uvgo_config cfg = {.workers = 1};
  if (uvgo_run(&cfg, scale_main, &s) != 0)
    exit(1);
  uvgo_chan_release(s.ch);
}
