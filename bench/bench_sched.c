/* Scheduler benchmarks, twins of bench/go workloads of the same names. */
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "bench.h"

static void nothing(void *arg) { (void)arg; }

/* Main spawns n tasks running fn; the run ends when all have. */
typedef struct {
  uvgo_fn fn;
  long n;
} spawn_plan;

static void spawn_all(void *arg) {
  spawn_plan *p = arg;
  for (long i = 0; i < p->n; i++)
    uvgo_go(p->fn, NULL);
}

/* Wall time of a whole run of spawn_all, in ns. */
static uint64_t timed_spawn_run(unsigned workers, uvgo_fn fn, long n) {
  uvgo_config cfg = {.workers = workers};
  spawn_plan plan = {fn, n};
  uint64_t start = bench_now_ns();
  if (uvgo_run(&cfg, spawn_all, &plan) != 0)
    abort();
  return bench_now_ns() - start;
}

static double spawn_exit_ns(unsigned workers, long n) {
  return (double)timed_spawn_run(workers, nothing, n) / (double)n;
}

UVGO_BENCH(spawn) {
  long n = bench_scaled(1000000, 1000);
  spawn_exit_ns(1, n / 10); /* warm the allocator and stack pool */
  bench_report("spawn_exit_1w", spawn_exit_ns(1, n), "ns/op");
  bench_report("spawn_exit_2w", spawn_exit_ns(2, n), "ns/op");
}

/* --- two tasks taking turns with uvgo_yield on one worker --- */
static long yield_rounds;
static void yield_loop(void *arg) {
  (void)arg;
  for (long i = 0; i < yield_rounds; i++)
    uvgo_yield();
}
static void yield_main(void *arg) {
  uint64_t *elapsed = arg;
  uint64_t start = bench_now_ns();
  uvgo_go(yield_loop, NULL);
  yield_loop(NULL);
  *elapsed = bench_now_ns() - start;
}

UVGO_BENCH(yield) {
  yield_rounds = bench_scaled(2000000, 1000);
  uvgo_config cfg = {.workers = 1};
  uint64_t elapsed = 0;
  if (uvgo_run(&cfg, yield_main, &elapsed) != 0)
    abort();
  bench_report("yield_ping_1w", (double)elapsed / (double)yield_rounds, "ns/op");
}

/* --- park/unpark hop between tasks pinned to different workers --- */
typedef struct {
  uvgo_task *_Atomic peer[2];
  _Atomic long turn;
  long rounds;
  uint64_t *rtt;
} hop_state;

typedef struct {
  hop_state *hs;
  int side;
} hop_side;

static void hop_player(void *arg) {
  hop_side *me = arg;
  hop_state *hs = me->hs;
  atomic_store(&hs->peer[me->side], uvgo_self());
  while (atomic_load(&hs->peer[!me->side]) == NULL)
    uvgo_yield();
  uint64_t sent = 0;
  for (;;) {
    long t = atomic_load(&hs->turn);
    if (t >= 2 * hs->rounds)
      break;
    if ((t & 1) != me->side) {
      uvgo_park();
      continue;
    }
    if (me->side == 0) {
      uint64_t now = bench_now_ns();
      if (t > 0)
        hs->rtt[t / 2 - 1] = now - sent;
      sent = now;
    }
    atomic_store(&hs->turn, t + 1);
    uvgo_unpark(atomic_load(&hs->peer[!me->side]));
  }
}

static void hop_main(void *arg) {
  hop_state *hs = arg;
  static hop_side sides[2];
  sides[0] = (hop_side){hs, 0};
  sides[1] = (hop_side){hs, 1};
  uvgo_go_on(0, hop_player, &sides[0]);
  uvgo_go_on(1, hop_player, &sides[1]);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void run_hop(unsigned spin_ns, const char *p50_name,
                    const char *p99_name) {
  hop_state hs = {.rounds = bench_scaled(20000, 200)};
  hs.rtt = calloc((size_t)hs.rounds, sizeof *hs.rtt);
  uvgo_config cfg = {.workers = 2, .spin_ns = spin_ns};
  if (hs.rtt == NULL || uvgo_run(&cfg, hop_main, &hs) != 0)
    abort();
  size_t n = (size_t)hs.rounds - 1;
  qsort(hs.rtt, n, sizeof *hs.rtt, cmp_u64);
  bench_report(p50_name, (double)hs.rtt[n / 2] / 2.0, "ns");
  bench_report(p99_name, (double)hs.rtt[n * 99 / 100] / 2.0, "ns");
  free(hs.rtt);
}

UVGO_BENCH(hop) {
  run_hop(0, "hop_p50", "hop_p99"); /* the default: spin while others run */
  run_hop(UVGO_SPIN_NEVER, "hop_nospin_p50", "hop_nospin_p99");
}

/* --- CPU-bound fan-out: 1000 jobs of about 1 ms --- */
static long job_iterations;
static _Atomic uint64_t job_sink;

static uint64_t job_kernel(long iterations) {
  uint64_t x = 88172645463325252u;
  for (long i = 0; i < iterations; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}

static void calibrate_job(void) {
  long iters = 100000;
  for (;;) {
    uint64_t start = bench_now_ns();
    atomic_fetch_add(&job_sink, job_kernel(iters));
    uint64_t took = bench_now_ns() - start;
    if (took > 20000000u) {
      job_iterations = (long)((double)iters * 1e6 / (double)took);
      return;
    }
    iters *= 2;
  }
}

static void cpu_job(void *arg) {
  (void)arg;
  atomic_fetch_add_explicit(&job_sink, job_kernel(job_iterations),
                            memory_order_relaxed);
}

static double fanout_ms(unsigned workers, long jobs) {
  return (double)timed_spawn_run(workers, cpu_job, jobs) / 1e6;
}

UVGO_BENCH(fanout) {
  calibrate_job();
  long jobs = bench_scaled(1000, 20);
  double one = fanout_ms(1, jobs);
  double two = fanout_ms(2, jobs);
  bench_report("fanout_1w", one, "ms");
  bench_report("fanout_2w", two, "ms");
  bench_report("fanout_speedup", one / two, "x");
}

/* --- an idle runtime must not wake up --- */
static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t total_wakeups(void) {
  uint64_t sum = 0;
  uvgo_worker_stats st;
  for (unsigned i = 0; i < uvgo_worker_count(); i++)
    if (uvgo_worker_stats_get(NULL, i, &st) == 0)
      sum += st.wakeups;
  return sum;
}

/* Every worker has a task sleeping for the whole period (issue 14: a
 * runtime whose tasks all sleep for 5 s uses under 10 ms of CPU and at most
 * one wake-up per second per worker). */
static uint64_t idle_period_ms;
static void idle_sleeper(void *arg) {
  (void)arg;
  uvgo_sleep(idle_period_ms);
}
static void idle_main(void *arg) {
  (void)arg;
  uvgo_sleep(50); /* let every worker settle into its poll */
  idle_period_ms = (uint64_t)bench_scaled(5000, 200);
  unsigned nw = uvgo_worker_count();
  uint64_t before = total_wakeups();
  double cpu_before = cpu_seconds();
  for (unsigned i = 1; i < nw; i++)
    uvgo_go_on(i, idle_sleeper, NULL);
  idle_sleeper(NULL);
  double cpu_ms = (cpu_seconds() - cpu_before) * 1e3;
  /* Each sleeper's own timer ending is one wake-up of its worker. */
  double wakes = (double)(total_wakeups() - before) - (double)nw;
  double secs = (double)idle_period_ms / 1e3;
  bench_report("idle_wakeups_per_sec_per_worker",
               wakes / secs / (double)nw, "1/s");
  bench_report("idle_cpu_ms", cpu_ms, "ms");
  bench_report("idle_cpu_ms_per_sec", cpu_ms / secs, "ms/s");
}

UVGO_BENCH(idle) {
  uvgo_config cfg = {.workers = 2};
  if (uvgo_run(&cfg, idle_main, NULL) != 0)
    abort();
}
