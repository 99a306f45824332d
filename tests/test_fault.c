/* Fault injection: every allocating public call returns UV_ENOMEM when an
 * allocation fails, and leaks nothing (the harness checks after each case);
 * failed system calls (mmap, thread creation) come back as error codes. */
#include "harness.h"

#include <stdatomic.h>

/* Fail the nth allocation for n = 1, 2, … until the call succeeds
 * unharmed; every failure must be UV_ENOMEM (or a documented fallback). */
#define FOR_EACH_FAILING_ALLOCATION(n, limit)                                 \
  for (long n = 1; n <= (limit); n++)

static void nothing(void *arg) { (void)arg; }

/* Pinned to main's worker: a task stolen by another worker allocates
 * there, and the process-wide countdown would then fail whichever
 * worker's allocation came first, a different one from run to run. */
static void main_spawns(void *arg) {
  (void)arg;
  for (int i = 0; i < 3; i++)
    uvgo_go_on(0, nothing, NULL);
}

UVGO_TEST(fault_uvgo_run, unit, 60) {
  int succeeded = 0, failed = 0;
  FOR_EACH_FAILING_ALLOCATION(n, 60) {
    uvgo_config cfg = {.workers = 2};
    uvgo_test_fail_allocation(n);
    int err = uvgo_run(&cfg, main_spawns, NULL);
    uvgo_test_fail_allocation(0);
    if (err == 0)
      succeeded++;
    else {
      ASSERT_ERR(err, UV_ENOMEM);
      failed++;
    }
  }
  ASSERT_GT(failed, 3);
  ASSERT_GT(succeeded, 0);
}

UVGO_TEST(fault_thread_creation, unit, 10) {
  uvgo_config cfg = {.workers = 3};
  ASSERT_OK(uvgo_fault_inject(UVGO_FAULT_THREAD, 2));
  ASSERT_ERR(uvgo_run(&cfg, main_spawns, NULL), UV_EAGAIN);
  ASSERT_OK(uvgo_fault_inject(UVGO_FAULT_THREAD, 0));
  ASSERT_OK(uvgo_run(&cfg, main_spawns, NULL));
}

UVGO_TEST(fault_attach, unit, 20) {
  FOR_EACH_FAILING_ALLOCATION(n, 30) {
    uv_loop_t loop;
    uvgo_rt *rt = NULL;
    ASSERT_OK(uv_loop_init(&loop));
    uvgo_test_fail_allocation(n);
    int err = uvgo_rt_attach(&loop, NULL, &rt);
    uvgo_test_fail_allocation(0);
    if (err == 0)
      ASSERT_OK(uvgo_rt_close(rt));
    else
      ASSERT_ERR(err, UV_ENOMEM);
    ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
    ASSERT_OK(uv_loop_close(&loop));
  }
}

/* Inside a task: each allocating call, failing at each allocation it
 * makes. */
static int group_ok(uvgo_ctx *ctx, void *arg) {
  (void)ctx;
  (void)arg;
  return 0;
}
static int pool_fn(uvgo_ctx *ctx, const void *in, void *out, void *arg) {
  (void)ctx;
  (void)arg;
  *(int *)out = *(const int *)in;
  return 0;
}

static _Atomic int spawned_ran;
static void count_run(void *arg) {
  (void)arg;
  atomic_fetch_add(&spawned_ran, 1);
}

static void calls_under_faults(void *arg) {
  (void)arg;
  int enomem = 0;
  for (long n = 1; n <= 4; n++) {
    /* channels */
    uvgo_test_fail_allocation(n);
    uvgo_chan *ch = uvgo_chan_new(sizeof(int), 4);
    uvgo_test_fail_allocation(0);
    if (ch == NULL)
      enomem++;
    else
      ASSERT_OK(uvgo_chan_release(ch));
    /* contexts */
    uvgo_ctx *c = NULL;
    uvgo_test_fail_allocation(n);
    int err = uvgo_ctx_with_timeout(uvgo_ctx_current(), 1000, &c);
    uvgo_test_fail_allocation(0);
    if (err != 0) {
      ASSERT_ERR(err, UV_ENOMEM);
      enomem++;
    } else {
      uvgo_test_fail_allocation(n);
      uvgo_chan *done = uvgo_ctx_done(c); /* NULL on ENOMEM, documented */
      uvgo_test_fail_allocation(0);
      (void)done;
      ASSERT_OK(uvgo_ctx_cancel(c));
      ASSERT_OK(uvgo_ctx_release(c));
    }
    /* spawns: an ENOMEM spawn runs nothing; a successful one runs */
    uvgo_test_fail_allocation(n);
    err = uvgo_go(count_run, NULL);
    uvgo_test_fail_allocation(0);
    if (err != 0) {
      ASSERT_ERR(err, UV_ENOMEM);
      enomem++;
    }
    char big[200] = {0};
    uvgo_test_fail_allocation(n);
    err = uvgo_go_copy(count_run, big, sizeof big);
    uvgo_test_fail_allocation(0);
    if (err != 0) {
      ASSERT_ERR(err, UV_ENOMEM);
      enomem++;
    }
    /* timers */
    uvgo_timer *t = NULL;
    uvgo_test_fail_allocation(n);
    err = uvgo_timer_new(1000, &t);
    uvgo_test_fail_allocation(0);
    if (err != 0) {
      ASSERT_ERR(err, UV_ENOMEM);
      enomem++;
    } else {
      uvgo_timer_stop(t);
      ASSERT_OK(uvgo_timer_free(t));
    }
    /* groups */
    uvgo_group *g = NULL;
    uvgo_test_fail_allocation(n);
    err = uvgo_group_new(uvgo_ctx_current(), 2, &g);
    uvgo_test_fail_allocation(0);
    if (err != 0) {
      ASSERT_ERR(err, UV_ENOMEM);
      enomem++;
    } else {
      uvgo_test_fail_allocation(n);
      err = uvgo_group_go(g, group_ok, NULL);
      uvgo_test_fail_allocation(0);
      if (err != 0)
        ASSERT_ERR(err, UV_ENOMEM);
      ASSERT_OK(uvgo_group_wait(g));
      ASSERT_OK(uvgo_group_free(g));
    }
    /* pools: results complete even when workers cannot be spawned */
    int in[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[8] = {0}, errs[8];
    uvgo_test_fail_allocation(n);
    err = uvgo_pool_run(uvgo_ctx_current(), 4, in, 8, sizeof(int), pool_fn,
                        NULL, out, sizeof(int), errs);
    uvgo_test_fail_allocation(0);
    ASSERT_OK(err);
    for (int i = 0; i < 8; i++) {
      ASSERT_OK(errs[i]);
      ASSERT_EQ(out[i], in[i]);
    }
    uvgo_stream_pool *sp = NULL;
    uvgo_test_fail_allocation(n);
    err = uvgo_stream_pool_new(uvgo_ctx_current(), 2, 4, sizeof(int),
                               sizeof(int), pool_fn, NULL, &sp);
    uvgo_test_fail_allocation(0);
    if (err != 0) {
      ASSERT_ERR(err, UV_ENOMEM);
      enomem++;
    } else {
      ASSERT_OK(uvgo_stream_pool_free(sp));
    }
    /* task-local storage */
    uvgo_key key;
    ASSERT_OK(uvgo_key_create(&key, NULL));
    uvgo_test_fail_allocation(1);
    err = uvgo_key_set(key, &key);
    uvgo_test_fail_allocation(0);
    if (err != 0)
      ASSERT_ERR(err, UV_ENOMEM);
  }
  ASSERT_GT(enomem, 8);
}

/* One worker: the countdown is process-wide, and a second worker's own
 * allocations (a stolen task's stack) would take the failure meant for
 * the call under test. */
UVGO_TEST(fault_every_allocating_call_in_a_task, unit, 60) {
  uvgo_config cfg = {.workers = 1};
  ASSERT_OK(uvgo_run(&cfg, calls_under_faults, NULL));
}

/* A stack that cannot be mapped: the spawn already succeeded, so the task
 * waits for a stack and runs — nothing is lost. */
static void mmap_fault_main(void *arg) {
  (void)arg;
  atomic_store(&spawned_ran, 0);
  /* New stacks beyond the pooled ones need a fresh arena: fail its mmap. */
  ASSERT_OK(uvgo_fault_inject(UVGO_FAULT_MMAP, 1));
  for (int i = 0; i < 300; i++)
    ASSERT_OK(uvgo_go(count_run, NULL));
  ASSERT_OK(uvgo_sleep(50));
  ASSERT_OK(uvgo_fault_inject(UVGO_FAULT_MMAP, 0));
  while (atomic_load(&spawned_ran) < 300)
    uvgo_sleep(5);
}

UVGO_TEST(fault_stack_mmap_tasks_still_run, unit, 30) {
  ASSERT_OK(uvgo_run(NULL, mmap_fault_main, NULL));
  ASSERT_EQ(atomic_load(&spawned_ran), 300);
}
