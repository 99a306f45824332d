/* Fibers: the context switch keeps each side's registers and FP control
 * state, fibers start, finish and give their stacks back, and the
 * annotations keep the sanitizers and valgrind quiet. */
#include "harness.h"

#include <fenv.h>

#include "core/fiber.h"
#include "core/internal.h"

/* A two-party world: the test's own context and fibers it switches to. */
static uvgo__fiber main_fiber;

typedef struct {
  uvgo__fiber f;
  uvgo__stack *st;
  long rounds;
  long seen;
  bool done;
} pinger;

static volatile long seed_a = 3, seed_b = 5;

/* Many values live across the switch call: the compiler keeps them in
 * callee-saved registers (integer and, on AArch64, d8-d15), so a switch
 * that lost one shows up as a wrong sum. */
static void ping_entry(void *arg) {
  pinger *p = arg;
  long a = seed_a, b = a * 7, c = b + 11, d = c ^ 0x55, e = d * 3,
       g = e - 1;
  double x = (double)seed_b, y = x * 1.5, z = y + 0.25;
  for (long i = 0; i < p->rounds; i++) {
    uvgo__fiber_switch(&p->f, &main_fiber);
    if (a != seed_a || b != a * 7 || c != b + 11 || d != (c ^ 0x55) ||
        e != d * 3 || g != e - 1 || x != (double)seed_b || y != x * 1.5 ||
        z != y + 0.25)
      return; /* leaves p->done false: the test fails below */
    a++, b += 7, c += 7, d = c ^ 0x55, e = d * 3, g = e - 1;
    x += 1.0, y = x * 1.5, z = y + 0.25;
    seed_a = a;
    seed_b = (long)x;
    p->seen++;
  }
  p->done = true;
  uvgo__fiber_switch_final(&p->f, &main_fiber);
}

UVGO_TEST(fiber_switch_preserves_registers, unit, 30) {
  uvgo__stack_pool *pool;
  ASSERT_OK(uvgo__stack_pool_new(0, &pool));
  uvgo__fiber_init_thread(&main_fiber);
  pinger p = {.rounds = uvgo_test_scaled(200000, 1000)};
  ASSERT_OK(uvgo__stack_get(pool, 0, &p.st));
  uvgo__fiber_make(&p.f, p.st, ping_entry, &p);
  long q = seed_b * 13, r = q + 17, s = r * 5, t = s ^ 0x3c;
  double u = 2.5 * (double)seed_b, v = u + 0.5;
  long back = 0;
  while (!p.done) {
    uvgo__fiber_switch(&main_fiber, &p.f);
    back++;
    ASSERT_EQ(r, q + 17);
    ASSERT_EQ(s, r * 5);
    ASSERT_EQ(t, s ^ 0x3c);
    ASSERT(v == u + 0.5);
    if (back > p.rounds + 1)
      break;
  }
  ASSERT(p.done);
  ASSERT_EQ(p.seen, p.rounds);
  ASSERT_EQ(back, p.rounds + 1);
  uvgo__fiber_destroy(&p.f);
  uvgo__stack_put(pool, p.st);
  uvgo__stack_pool_free(pool);
}

typedef struct {
  uvgo__fiber f;
  int step;
  int round_in_fiber;
  int round_after_main_changed;
} fp_state;

#if defined(__x86_64__)
static unsigned read_mxcsr(void) {
  unsigned v;
  __asm__ volatile("stmxcsr %0" : "=m"(v));
  return v;
}
#endif

static void fp_entry(void *arg) {
  fp_state *s = arg;
  fesetround(FE_UPWARD);
  s->round_in_fiber = fegetround();
  s->step = 1;
  uvgo__fiber_switch(&s->f, &main_fiber);
  /* The main context switched to FE_DOWNWARD meanwhile. */
  s->round_after_main_changed = fegetround();
  s->step = 2;
  uvgo__fiber_switch_final(&s->f, &main_fiber);
}

UVGO_TEST(fiber_fp_control_is_per_fiber, unit, 10) {
  uvgo__stack_pool *pool;
  uvgo__stack *st;
  ASSERT_OK(uvgo__stack_pool_new(0, &pool));
  ASSERT_OK(uvgo__stack_get(pool, 0, &st));
  uvgo__fiber_init_thread(&main_fiber);
  ASSERT_EQ(fegetround(), FE_TONEAREST);
#if defined(__x86_64__)
  unsigned mx_before = read_mxcsr();
#endif
  fp_state s = {0};
  uvgo__fiber_make(&s.f, st, fp_entry, &s);
  uvgo__fiber_switch(&main_fiber, &s.f);
  ASSERT_EQ(s.step, 1);
  ASSERT_EQ(s.round_in_fiber, FE_UPWARD);
  ASSERT_EQ(fegetround(), FE_TONEAREST);
#if defined(__x86_64__)
  ASSERT_EQ(read_mxcsr(), mx_before);
#endif
  fesetround(FE_DOWNWARD);
  uvgo__fiber_switch(&main_fiber, &s.f);
  ASSERT_EQ(s.step, 2);
  ASSERT_EQ(s.round_after_main_changed, FE_UPWARD);
  ASSERT_EQ(fegetround(), FE_DOWNWARD);
  fesetround(FE_TONEAREST);
  uvgo__fiber_destroy(&s.f);
  uvgo__stack_put(pool, st);
  uvgo__stack_pool_free(pool);
}

/* A fiber that yields `yields` times then finishes. */
typedef struct {
  uvgo__fiber f;
  uvgo__stack *st;
  int yields;
  bool done;
} worker;

static void worker_entry(void *arg) {
  worker *w = arg;
  volatile char scratch[512];
  scratch[0] = (char)w->yields;
  while (w->yields-- > 0)
    uvgo__fiber_switch(&w->f, &main_fiber);
  (void)scratch[0];
  w->done = true;
  uvgo__fiber_switch_final(&w->f, &main_fiber);
}

static int cmp_ptr(const void *a, const void *b) {
  uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
  return x < y ? -1 : x > y;
}

UVGO_TEST(fiber_thousand_reuse_pooled_stacks, unit, 60) {
  enum { N = 1000 };
  uvgo__stack_pool *pool;
  ASSERT_OK(uvgo__stack_pool_new(64 * 1024, &pool));
  uvgo__fiber_init_thread(&main_fiber);
  worker *ws = uvgo__calloc(N, sizeof *ws);
  void **bases[2];
  bases[0] = uvgo__calloc(N, sizeof(void *));
  bases[1] = uvgo__calloc(N, sizeof(void *));
  ASSERT_NOT_NULL(ws);
  for (int round = 0; round < 2; round++) {
    /* All N live at once, interleaved, then all finish. */
    for (int i = 0; i < N; i++) {
      ws[i] = (worker){.yields = 1 + i % 3};
      ASSERT_OK(uvgo__stack_get(pool, 0, &ws[i].st));
      bases[round][i] = ws[i].st->base;
      uvgo__fiber_make(&ws[i].f, ws[i].st, worker_entry, &ws[i]);
    }
    for (int live = N; live > 0;) {
      for (int i = 0; i < N; i++) {
        if (ws[i].done)
          continue;
        uvgo__fiber_switch(&main_fiber, &ws[i].f);
        if (ws[i].done) {
          uvgo__fiber_destroy(&ws[i].f);
          uvgo__stack_put(pool, ws[i].st);
          live--;
        }
      }
    }
  }
  /* The second round ran on exactly the first round's stacks. */
  qsort(bases[0], N, sizeof(void *), cmp_ptr);
  qsort(bases[1], N, sizeof(void *), cmp_ptr);
  for (int i = 0; i < N; i++) {
    ASSERT_PTR_EQ(bases[0][i], bases[1][i]);
    if (i > 0)
      ASSERT(bases[0][i] != bases[0][i - 1]);
  }
  /* Sequential fibers reuse one stack. */
  void *first = NULL;
  for (int i = 0; i < N; i++) {
    worker w = {.yields = 0};
    ASSERT_OK(uvgo__stack_get(pool, 0, &w.st));
    if (first == NULL)
      first = w.st->base;
    ASSERT_PTR_EQ(w.st->base, first);
    uvgo__fiber_make(&w.f, w.st, worker_entry, &w);
    uvgo__fiber_switch(&main_fiber, &w.f);
    ASSERT(w.done);
    uvgo__fiber_destroy(&w.f);
    uvgo__stack_put(pool, w.st);
  }
  uvgo__free(bases[0]);
  uvgo__free(bases[1]);
  uvgo__free(ws);
  uvgo__stack_pool_free(pool);
}

/* The workload tests/test_valgrind.sh runs under valgrind (and a case runs
 * it plainly): switches, fresh fibers, reuse. */
static void fiber_workload(void) {
  uvgo__stack_pool *pool;
  ASSERT_OK(uvgo__stack_pool_new(0, &pool));
  uvgo__fiber_init_thread(&main_fiber);
  pinger p = {.rounds = 2000};
  ASSERT_OK(uvgo__stack_get(pool, 0, &p.st));
  uvgo__fiber_make(&p.f, p.st, ping_entry, &p);
  while (!p.done)
    uvgo__fiber_switch(&main_fiber, &p.f);
  ASSERT_EQ(p.seen, p.rounds);
  uvgo__fiber_destroy(&p.f);
  uvgo__stack_put(pool, p.st);
  worker ws[50];
  for (int round = 0; round < 4; round++) {
    for (int i = 0; i < 50; i++) {
      ws[i] = (worker){.yields = i % 4};
      ASSERT_OK(uvgo__stack_get(pool, 0, &ws[i].st));
      uvgo__fiber_make(&ws[i].f, ws[i].st, worker_entry, &ws[i]);
    }
    for (int live = 50; live > 0;)
      for (int i = 0; i < 50; i++) {
        if (ws[i].done)
          continue;
        uvgo__fiber_switch(&main_fiber, &ws[i].f);
        if (ws[i].done) {
          uvgo__fiber_destroy(&ws[i].f);
          uvgo__stack_put(pool, ws[i].st);
          live--;
        }
      }
  }
  uvgo__stack_pool_free(pool);
}

UVGO_TEST(fiber_workload_runs, unit, 30) { fiber_workload(); }

UVGO_TEST_HELPER(fiber_workload) {
  exit(uvgo_test_run_as_case("fiber_workload", fiber_workload));
}

/* For tests/test_gdb.sh: a fiber parked three calls deep, and a place for
 * the debugger to stop while it is parked. */
uvgo__fiber uvgo_test_parked_fiber;

__attribute__((noinline)) static void parked_level2(void) {
  uvgo__fiber_switch(&uvgo_test_parked_fiber, &main_fiber);
  __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void parked_level1(void) {
  parked_level2();
  __asm__ volatile("" ::: "memory");
}

static void parked_entry(void *arg) {
  (void)arg;
  parked_level1();
  uvgo__fiber_switch_final(&uvgo_test_parked_fiber, &main_fiber);
}

__attribute__((noinline)) void uvgo_test_gdb_stop_here(void);
__attribute__((noinline)) void uvgo_test_gdb_stop_here(void) {
  __asm__ volatile("" ::: "memory");
}

UVGO_TEST_HELPER(gdb_parked_fiber) {
  uvgo__stack_pool *pool;
  uvgo__stack *st;
  ASSERT_OK(uvgo__stack_pool_new(0, &pool));
  ASSERT_OK(uvgo__stack_get(pool, 0, &st));
  uvgo__fiber_init_thread(&main_fiber);
  uvgo__fiber_make(&uvgo_test_parked_fiber, st, parked_entry, NULL);
  uvgo__fiber_switch(&main_fiber, &uvgo_test_parked_fiber);
  uvgo_test_gdb_stop_here();
  uvgo__fiber_switch(&main_fiber, &uvgo_test_parked_fiber);
  uvgo__fiber_destroy(&uvgo_test_parked_fiber);
  uvgo__stack_put(pool, st);
  uvgo__stack_pool_free(pool);
  exit(0);
}
