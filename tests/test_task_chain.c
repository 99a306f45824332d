/* Chained starts (task.c): a task that ends hands its still-running stack
 * to the next task when that one is new. What a chained task must see is
 * what a task started by the scheduler sees: its turn in spawn order, its
 * own argument, fresh FP control state, a place in dumps and the task
 * count, task-local destructors of the task before it run, parking and
 * resuming, and a stack overflow reported against its own spawn site. */
#include "harness.h"

#include <fenv.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define CHAIN_TASKS 300 /* past the run queue's 256: back-pressure too */

static uvgo_config one_worker(void) {
  uvgo_config cfg = {.workers = 1};
  return cfg;
}

/* --- order and arguments --- */

static int order[CHAIN_TASKS];
static int ran;

static void record_turn(void *arg) {
  int i = *(int *)arg;
  order[ran++] = i;
  if (i % 7 == 3)
    uvgo_yield(); /* a started task queued among new ones */
}

static void spawn_in_order(void *arg) {
  (void)arg;
  for (int i = 0; i < CHAIN_TASKS; i++)
    ASSERT_OK(uvgo_go_copy(record_turn, &i, sizeof i));
}

UVGO_TEST(chained_starts_keep_spawn_order, unit, 30) {
  ran = 0;
  uvgo_config cfg = one_worker();
  ASSERT_OK(uvgo_run(&cfg, spawn_in_order, NULL));
  ASSERT_EQ(ran, CHAIN_TASKS);
  for (int i = 0; i < CHAIN_TASKS; i++)
    ASSERT_EQ(order[i], i);
}

/* --- FP control state --- */

typedef struct {
  int round;
  int raised;
} fp_seen;

static void change_fp_state(void *arg) {
  (void)arg;
  ASSERT_OK(fesetround(FE_UPWARD));
  volatile double x = 1.0;
  volatile double y = x / 3.0; /* inexact */
  (void)y;
  ASSERT(fetestexcept(FE_INEXACT) != 0);
}

static void look_at_fp_state(void *arg) {
  fp_seen *seen = arg;
  seen->round = fegetround();
  seen->raised = fetestexcept(FE_ALL_EXCEPT);
}

static void fp_main(void *arg) {
  fp_seen *seen = arg;
  for (int i = 0; i < 4; i++) {
    ASSERT_OK(uvgo_go(change_fp_state, NULL));
    ASSERT_OK(uvgo_go(look_at_fp_state, &seen[i]));
  }
}

UVGO_TEST(chained_task_starts_with_default_fp_state, unit, 10) {
  fp_seen seen[4];
  memset(seen, 0xff, sizeof seen);
  uvgo_config cfg = one_worker();
  ASSERT_OK(uvgo_run(&cfg, fp_main, seen));
  for (int i = 0; i < 4; i++) {
    ASSERT_EQ(seen[i].round, FE_TONEAREST);
#if defined(__x86_64__)
    /* MXCSR keeps SSE exception flags: a fresh task starts with none. */
    ASSERT_EQ(seen[i].raised, 0);
#endif
  }
}

/* --- locals, dumps and the task count --- */

static uvgo_key chain_key;
static _Atomic int destroyed;
static int count_seen[3];
static char dump_seen[3][8192];

static void destroy_local(void *v) {
  (void)v;
  atomic_fetch_add(&destroyed, 1);
}

static void with_local(void *arg) {
  (void)arg;
  ASSERT_OK(uvgo_key_set(chain_key, &chain_key));
}

static uvgo_chan *inspected;

static void inspect(void *arg) {
  int i = *(int *)arg;
  ASSERT_NULL(uvgo_key_get(chain_key)); /* not the ended task's value */
  count_seen[i] = (int)uvgo_task_count(NULL);
  FILE *f = fmemopen(dump_seen[i], sizeof dump_seen[i] - 1, "w");
  ASSERT_NOT_NULL(f);
  ASSERT_OK(uvgo_dump(f));
  fclose(f);
  ASSERT_OK(uvgo_chan_send(inspected, NULL));
}

/* One pair at a time: while an inspector runs, started right on the
 * stack of the task before it, only it and main (parked) are live. */
static void locals_main(void *arg) {
  (void)arg;
  inspected = uvgo_chan_new(0, 0);
  for (int i = 0; i < 3; i++) {
    uvgo_spawn_opts ended = {.worker = -1, .name = "ended-before"};
    ASSERT_OK(uvgo_go_opts(&ended, with_local, NULL));
    char name[16];
    snprintf(name, sizeof name, "inspector-%d", i);
    uvgo_spawn_opts opts = {.worker = -1, .name = name, .copy = &i,
                            .copy_size = sizeof i};
    ASSERT_OK(uvgo_go_opts(&opts, inspect, NULL));
    ASSERT_OK(uvgo_chan_recv(inspected, NULL));
  }
  uvgo_chan_release(inspected);
}

UVGO_TEST(chained_task_is_in_dumps_and_count_and_locals_end, unit, 10) {
  ASSERT_OK(uvgo_key_create(&chain_key, destroy_local));
  atomic_store(&destroyed, 0);
  uvgo_config cfg = one_worker();
  ASSERT_OK(uvgo_run(&cfg, locals_main, NULL));
  ASSERT_EQ(atomic_load(&destroyed), 3);
  for (int i = 0; i < 3; i++) {
    char name[16];
    snprintf(name, sizeof name, "inspector-%d", i);
    ASSERT_EQ(count_seen[i], 2);
    ASSERT_STR_CONTAINS(dump_seen[i], name);
    ASSERT(strstr(dump_seen[i], "ended-before") == NULL);
  }
}

/* --- parking and resuming --- */

static uvgo_chan *values;
static _Atomic long received;

static void quick(void *arg) { (void)arg; }

static void wait_value(void *arg) {
  (void)arg;
  long v;
  ASSERT_OK(uvgo_chan_recv(values, &v));
  atomic_fetch_add(&received, v);
}

static void park_main(void *arg) {
  (void)arg;
  values = uvgo_chan_new(sizeof(long), 0);
  for (int i = 0; i < 200; i++) {
    ASSERT_OK(uvgo_go(quick, NULL));
    ASSERT_OK(uvgo_go(wait_value, NULL));
  }
  uvgo_sleep(5);
  for (long v = 1; v <= 200; v++)
    ASSERT_OK(uvgo_chan_send(values, &v));
}

UVGO_TEST(chained_task_parks_and_resumes, unit, 30) {
  for (unsigned workers = 1; workers <= 2; workers++) {
    atomic_store(&received, 0);
    uvgo_config cfg = {.workers = workers};
    ASSERT_OK(uvgo_run(&cfg, park_main, NULL));
    ASSERT_EQ(atomic_load(&received), 200L * 201 / 2);
    uvgo_chan_release(values);
  }
}

/* --- a stack size of its own --- */

static int sized_order[6];
static int sized_ran;

static void sized_turn(void *arg) {
  volatile char use[32 << 10];
  use[0] = 1;
  use[sizeof use - 1] = 1;
  sized_order[sized_ran++] = *(int *)arg;
}

static void sized_main(void *arg) {
  (void)arg;
  for (int i = 0; i < 6; i++) {
    uvgo_spawn_opts opts = {.worker = -1,
                            .stack_size = i % 2 ? 256 << 10 : 0,
                            .copy = &i,
                            .copy_size = sizeof i};
    ASSERT_OK(uvgo_go_opts(&opts, sized_turn, NULL));
  }
}

/* A new task asking for its own stack size is started by the scheduler,
 * still in its turn. */
UVGO_TEST(chained_start_keeps_order_past_a_sized_stack, unit, 10) {
  sized_ran = 0;
  uvgo_config cfg = one_worker();
  ASSERT_OK(uvgo_run(&cfg, sized_main, NULL));
  ASSERT_EQ(sized_ran, 6);
  for (int i = 0; i < 6; i++)
    ASSERT_EQ(sized_order[i], i);
}

/* --- a stack overflow names the chained task's spawn site --- */

static volatile long chain_depth_limit = 1L << 40;

static long chain_recurse(long n) {
  volatile char pad[200];
  pad[0] = (char)n;
  if (n > chain_depth_limit)
    return 0;
  return chain_recurse(n + 1) + pad[0];
}

static void overflow(void *arg) {
  (void)arg;
  chain_recurse(0);
}

static void overflow_main(void *arg) {
  (void)arg;
  ASSERT_OK(uvgo_go(quick, NULL));
  ASSERT_OK(uvgo_go_at(overflow, NULL, "chained_spawner.c", 777));
}

static void overflow_case(void) {
  uvgo_config cfg = one_worker();
  uvgo_run(&cfg, overflow_main, NULL);
  printf("survived overflow\n");
}

UVGO_TEST_HELPER(chained_overflow) {
  exit(uvgo_test_run_as_case("chained_overflow", overflow_case));
}

UVGO_TEST(chained_task_overflow_names_its_spawn_site, unit, 30) {
  char out[16384];
  int status = uvgo_test_spawn_helper("chained_overflow", NULL, out, sizeof out);
  ASSERT(WIFSIGNALED(status));
  ASSERT_EQ(WTERMSIG(status), SIGSEGV);
  ASSERT_STR_CONTAINS(out, "stack overflow in task spawned at "
                           "chained_spawner.c:777");
}
