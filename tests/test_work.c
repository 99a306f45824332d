/* uvgo_work: blocking work on libuv's thread pool, the task parked. */
#include "harness.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
  uv_thread_t task_thread;
  uv_thread_t work_thread;
  _Atomic int working; /* 1 while fn runs */
  _Atomic long ticks;  /* another task's progress meanwhile */
  _Atomic long ticks_during;
  _Atomic int working_done;
  int result;
} work_test;

static void blocking_fn(void *arg) {
  work_test *wt = arg;
  wt->work_thread = uv_thread_self();
  atomic_store(&wt->working, 1);
  long before = atomic_load(&wt->ticks);
  /* Blocks this pool thread, not the worker: held until the other task
   * has ticked, since a fixed sleep could end before a descheduled worker
   * ticked once. Capped, so a worker that cannot tick fails the assertion
   * instead of the timeout. */
  uint64_t until = uv_hrtime() + 5 * 1000000000ull;
  while (atomic_load(&wt->ticks) - before < 2 && uv_hrtime() < until)
    usleep(1000);
  atomic_store(&wt->ticks_during, atomic_load(&wt->ticks) - before);
  atomic_store(&wt->working, 0);
  wt->result = 42;
}
static void ticker(void *arg) {
  work_test *wt = arg;
  while (atomic_load(&wt->working_done) == 0 &&
         atomic_load(&wt->ticks) < 100000) {
    atomic_fetch_add(&wt->ticks, 1);
    ASSERT_OK(uvgo_sleep(1));
  }
}
static void work_main(void *arg) {
  work_test *wt = arg;
  wt->task_thread = uv_thread_self();
  /* Same worker (1 worker): it can only tick while we are parked. */
  ASSERT_OK(uvgo_go(ticker, wt));
  ASSERT_OK(uvgo_work(NULL, blocking_fn, wt));
  atomic_store(&wt->working_done, 1);
  ASSERT_EQ(wt->result, 42); /* the result is visible after */
  ASSERT_EQ(atomic_load(&wt->working), 0);
}

UVGO_TEST(work_runs_on_pool_while_task_parked, unit, 10) {
  work_test wt = {0};
  uvgo_config cfg = {.workers = 1};
  ASSERT_OK(uvgo_run(&cfg, work_main, &wt));
  ASSERT_EQ(wt.result, 42);
  ASSERT(!uv_thread_equal(&wt.task_thread, &wt.work_thread));
  /* The other task on the same (only) worker made progress meanwhile. */
  ASSERT_GT(atomic_load(&wt.ticks_during), 0);
}

static void add_one(void *arg) { atomic_fetch_add((_Atomic long *)arg, 1); }
static void many_works(void *arg) {
  for (int i = 0; i < 10; i++)
    ASSERT_OK(uvgo_work(NULL, add_one, arg));
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
  ASSERT_ERR(uvgo_work(NULL, NULL, NULL), UV_EINVAL);
}

UVGO_TEST(work_errors, unit, 10) {
  long x = 0;
  ASSERT_ERR(uvgo_work(NULL, add_one, &x), UVGO_ENOTTASK);
  ASSERT_OK(uvgo_run(NULL, work_errors, NULL));
}

/* uvgo_work makes no allocation of its own. */
static void work_no_alloc(void *arg) {
  long before = uvgo_test_allocation_count();
  uvgo_test_fail_allocation(1);
  ASSERT_OK(uvgo_work(NULL, add_one, arg));
  uvgo_test_fail_allocation(0);
  ASSERT_EQ(uvgo_test_allocation_count(), before);
}

UVGO_TEST(work_does_not_allocate, unit, 10) {
  _Atomic long n = 0;
  uvgo_config cfg = {.workers = 1};
  ASSERT_OK(uvgo_run(&cfg, work_no_alloc, (void *)&n));
  ASSERT_EQ(atomic_load(&n), 1);
}

/* Cancelled while queued behind a busy pool: the job is withdrawn, the
 * task still waits for libuv's callback, and gets UV_ECANCELED. The pool
 * is held busy until the call has returned, so no timing is assumed. */
enum { POOL_THREADS = 4 }; /* libuv's default (UV_THREADPOOL_SIZE) */
static _Atomic int pool_jobs_started;
static uv_sem_t pool_release;
static void blocking_job(void *arg) {
  (void)arg;
  atomic_fetch_add(&pool_jobs_started, 1);
  uv_sem_wait(&pool_release);
}
static _Atomic int ran_after_cancel;
static void marker_job(void *arg) {
  (void)arg;
  atomic_store(&ran_after_cancel, 1);
}
static void occupy_pool(void *arg) {
  (void)arg;
  ASSERT_OK(uvgo_work(NULL, blocking_job, NULL));
}
static void cancel_queued_main(void *arg) {
  (void)arg;
  for (int i = 0; i < POOL_THREADS; i++)
    ASSERT_OK(uvgo_go(occupy_pool, NULL));
  while (atomic_load(&pool_jobs_started) < POOL_THREADS)
    ASSERT_OK(uvgo_sleep(1));
  uvgo_ctx *c;
  ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_background(), 10, &c));
  ASSERT_ERR(uvgo_work(c, marker_job, NULL), UV_ETIMEDOUT);
  ASSERT_OK(uvgo_ctx_release(c));
  for (int i = 0; i < POOL_THREADS; i++)
    uv_sem_post(&pool_release);
}

UVGO_TEST(work_cancelled_while_queued, unit, 20) {
  const char *size = getenv("UV_THREADPOOL_SIZE");
  if (size != NULL && atoi(size) != POOL_THREADS)
    uvgo_test_skip("assumes libuv's default pool of 4 threads");
  atomic_store(&ran_after_cancel, 0);
  atomic_store(&pool_jobs_started, 0);
  ASSERT_OK(uv_sem_init(&pool_release, 0));
  ASSERT_OK(uvgo_run(NULL, cancel_queued_main, NULL));
  uv_sem_destroy(&pool_release);
  ASSERT_EQ(atomic_load(&ran_after_cancel), 0);
}

/* Cancelled while running: the task waits for the job to finish. */
static _Atomic int long_job_started;
static _Atomic int long_job_done;
static void long_job(void *arg) {
  (void)arg;
  atomic_store(&long_job_started, 1);
  uv_sleep(60);
  atomic_store(&long_job_done, 1);
}
static void cancel_running_task(void *arg) {
  (void)arg;
  ASSERT_ERR(uvgo_work(NULL, long_job, NULL), UV_ECANCELED);
  /* The job had finished before the call returned. */
  ASSERT_EQ(atomic_load(&long_job_done), 1);
}
static void cancel_running_main(void *arg) {
  (void)arg;
  uvgo_ctx *c;
  ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_current(), &c));
  ASSERT_OK(uvgo_go_ctx(c, cancel_running_task, NULL));
  while (!atomic_load(&long_job_started))
    ASSERT_OK(uvgo_sleep(1));
  ASSERT_OK(uvgo_ctx_cancel(c));
  ASSERT_OK(uvgo_ctx_release(c));
}

UVGO_TEST(work_cancelled_while_running_waits_for_it, unit, 20) {
  atomic_store(&long_job_started, 0);
  atomic_store(&long_job_done, 0);
  ASSERT_OK(uvgo_run(NULL, cancel_running_main, NULL));
}

/* WaitGroup wait and mutex lock are not cancellation points; their _ctx
 * variants are bounded by the context given. */
static void wg_not_cancellation_point(void *arg) {
  uvgo_wg *wg = arg;
  ASSERT_OK(uvgo_wg_wait(wg)); /* returns only when the count is zero */
  uvgo_ctx *c;
  ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_background(), 10, &c));
  uvgo_wg other = UVGO_WG_INIT;
  ASSERT_OK(uvgo_wg_add(&other, 1));
  ASSERT_ERR(uvgo_wg_wait_ctx(&other, c), UV_ETIMEDOUT);
  uvgo_mutex m = UVGO_MUTEX_INIT;
  ASSERT_OK(uvgo_mutex_lock(&m));
  ASSERT_OK(uvgo_ctx_release(c));
  ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_background(), &c));
  ASSERT_OK(uvgo_ctx_cancel(c));
  uvgo_sem s = UVGO_SEM_INIT(1);
  ASSERT_OK(uvgo_sem_acquire(&s, 1));
  ASSERT_ERR(uvgo_sem_acquire_ctx(&s, 1, c), UV_ECANCELED);
  ASSERT_OK(uvgo_mutex_unlock(&m));
  ASSERT_OK(uvgo_ctx_release(c));
  ASSERT_OK(uvgo_wg_done(&other));
}
static void release_wg(void *arg) {
  uvgo_sleep(30);
  ASSERT_OK(uvgo_wg_done(arg));
}
static void sync_ctx_main(void *arg) {
  (void)arg;
  static uvgo_wg wg = UVGO_WG_INIT;
  ASSERT_OK(uvgo_wg_add(&wg, 1));
  uvgo_ctx *c;
  ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_current(), &c));
  ASSERT_OK(uvgo_go_ctx(c, wg_not_cancellation_point, &wg));
  ASSERT_OK(uvgo_sleep(5));
  ASSERT_OK(uvgo_ctx_cancel(c)); /* the task's ctx ends; its wg wait goes on */
  ASSERT_OK(uvgo_ctx_release(c));
  ASSERT_OK(uvgo_go(release_wg, &wg));
}

UVGO_TEST(sync_waits_are_not_cancellation_points, unit, 20) {
  ASSERT_OK(uvgo_run(NULL, sync_ctx_main, NULL));
}
