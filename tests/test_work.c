/* uvgo_work: blocking work on libuv's thread pool, the task parked. */
#include "harness.h"

#include <stdatomic.h>
#include <unistd.h>

typedef struct {
  uv_thread_t task_thread;
  uv_thread_t work_thread;
  _Atomic int working; /* 1 while fn runs */
  _Atomic long ticks;  /* another task's progress meanwhile */
  _Atomic long ticks_during;
  int result;
} work_test;

static void blocking_fn(void *arg) {
  work_test *wt = arg;
  wt->work_thread = uv_thread_self();
  atomic_store(&wt->working, 1);
  usleep(50 * 1000); /* blocks this pool thread, not the worker */
  atomic_store(&wt->ticks_during, atomic_load(&wt->ticks));
  atomic_store(&wt->working, 0);
  wt->result = 42;
}
static void ticker(void *arg) {
  work_test *wt = arg;
  while (wt->result == 0 && atomic_load(&wt->ticks) < 100000) {
    atomic_fetch_add(&wt->ticks, 1);
    ASSERT_OK(uvgo_sleep(1));
  }
}
static void work_main(void *arg) {
  work_test *wt = arg;
  wt->task_thread = uv_thread_self();
  /* Same worker (1 worker): it can only tick while we are parked. */
  ASSERT_OK(uvgo_go(ticker, wt));
  ASSERT_OK(uvgo_work(blocking_fn, wt));
  ASSERT_EQ(wt->result, 42); /* the result is visible after */
  ASSERT_EQ(atomic_load(&wt->working), 0);
}

UVGO_TEST(work_runs_on_pool_while_task_parked, unit, 10) {
  work_test wt = {0};
  uvgo_config cfg = {.workers = 1};
  ASSERT_OK(uvgo_run(&cfg, work_main, &wt));
  ASSERT_EQ(wt.result, 42);
  ASSERT(!uv_thread_equal(&wt.task_thread, &wt.work_thread));
  ASSERT_GT(atomic_load(&wt.ticks_during), 5);
}

static void add_one(void *arg) { atomic_fetch_add((_Atomic long *)arg, 1); }
static void many_works(void *arg) {
  for (int i = 0; i < 10; i++)
    ASSERT_OK(uvgo_work(add_one, arg));
}
static void many_main(void *arg) {
  for (unsigned i = 0; i < 40; i++)
    ASSERT_OK(uvgo_go_on(i % uvgo_worker_count(), many_works, arg));
}

UVGO_TEST(work_many_tasks_many_workers, unit, 30) {
  _Atomic long sum = 0;
  uvgo_config cfg = {.workers = 3};
  ASSERT_OK(uvgo_run(&cfg, many_main, (void *)&sum));
  ASSERT_EQ(atomic_load(&sum), 400);
}

static void work_errors(void *arg) {
  (void)arg;
  ASSERT_ERR(uvgo_work(NULL, NULL), UV_EINVAL);
}

UVGO_TEST(work_errors, unit, 10) {
  long x = 0;
  ASSERT_ERR(uvgo_work(add_one, &x), UVGO_ENOTTASK);
  ASSERT_OK(uvgo_run(NULL, work_errors, NULL));
}

/* uvgo_work makes no allocation of its own. */
static void work_no_alloc(void *arg) {
  long before = uvgo_test_allocation_count();
  uvgo_test_fail_allocation(1);
  ASSERT_OK(uvgo_work(add_one, arg));
  uvgo_test_fail_allocation(0);
  ASSERT_EQ(uvgo_test_allocation_count(), before);
}

UVGO_TEST(work_does_not_allocate, unit, 10) {
  _Atomic long n = 0;
  uvgo_config cfg = {.workers = 1};
  ASSERT_OK(uvgo_run(&cfg, work_no_alloc, (void *)&n));
  ASSERT_EQ(atomic_load(&n), 1);
}
