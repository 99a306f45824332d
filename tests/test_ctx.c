/* Contexts: cancellation, timeouts, propagation across workers, task
 * contexts as cancellation points, shield, values, bad input. */
#include "harness.h"

#include <stdatomic.h>
#include <sys/wait.h>

UVGO_TEST(ctx_background, unit, 10) {
  uvgo_ctx *bg = uvgo_ctx_background();
  ASSERT_NOT_NULL(bg);
  ASSERT_OK(uvgo_ctx_err(bg));
  ASSERT_NULL(uvgo_ctx_done(bg));
  ASSERT_ERR(uvgo_ctx_cancel(bg), UV_EINVAL);
  ASSERT_OK(uvgo_ctx_retain(bg));
  ASSERT_OK(uvgo_ctx_release(bg));
  uint64_t d;
  ASSERT_ERR(uvgo_ctx_deadline(bg, &d), UV_ENOENT);
  ASSERT_PTR_EQ(uvgo_ctx_current(), bg);
}

UVGO_TEST(ctx_bad_input, unit, 10) {
  uvgo_ctx *c = NULL;
  ASSERT_ERR(uvgo_ctx_with_cancel(NULL, &c), UV_EINVAL);
  ASSERT_ERR(uvgo_ctx_with_cancel(uvgo_ctx_background(), NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_ctx_with_timeout(uvgo_ctx_background(), (uint64_t)-5, &c),
             UV_EINVAL);
  ASSERT_ERR(uvgo_ctx_with_timeout(NULL, 5, &c), UV_EINVAL);
  ASSERT_ERR(uvgo_ctx_with_value(NULL, "k", NULL, &c), UV_EINVAL);
  ASSERT_ERR(uvgo_ctx_err(NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_ctx_cancel(NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_ctx_release(NULL), UV_EINVAL);
  ASSERT_NULL(uvgo_ctx_done(NULL));
  ASSERT_NULL(c);
  ASSERT_ERR(uvgo_ctx_shield(NULL, NULL), UV_EINVAL);
}

UVGO_TEST(ctx_cancel_is_idempotent_and_closes_done, unit, 10) {
  uvgo_ctx *c;
  ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_background(), &c));
  uvgo_chan *done = uvgo_ctx_done(c);
  ASSERT_NOT_NULL(done);
  ASSERT_ERR(uvgo_chan_try_recv(done, NULL), UV_EAGAIN);
  ASSERT_OK(uvgo_ctx_err(c));
  ASSERT_OK(uvgo_ctx_cancel(c));
  ASSERT_OK(uvgo_ctx_cancel(c));
  ASSERT_ERR(uvgo_ctx_err(c), UV_ECANCELED);
  ASSERT_ERR(uvgo_chan_try_recv(done, NULL), UVGO_ECLOSED);
  ASSERT_PTR_EQ(uvgo_ctx_done(c), done);
  ASSERT_OK(uvgo_ctx_release(c));
}

UVGO_TEST(ctx_done_after_cancel_is_closed, unit, 10) {
  uvgo_ctx *c;
  ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_background(), &c));
  ASSERT_OK(uvgo_ctx_cancel(c));
  ASSERT_ERR(uvgo_chan_try_recv(uvgo_ctx_done(c), NULL), UVGO_ECLOSED);
  ASSERT_OK(uvgo_ctx_release(c));
}

UVGO_TEST(ctx_values, unit, 10) {
  static const char key_a[] = "a", key_b[] = "b";
  int va = 1, vb = 2, vb2 = 3;
  uvgo_ctx *a, *b, *c, *b2;
  ASSERT_OK(uvgo_ctx_with_value(uvgo_ctx_background(), key_a, &va, &a));
  ASSERT_OK(uvgo_ctx_with_cancel(a, &c));
  ASSERT_OK(uvgo_ctx_with_value(c, key_b, &vb, &b));
  ASSERT_OK(uvgo_ctx_with_value(b, key_b, &vb2, &b2));
  ASSERT_PTR_EQ(uvgo_ctx_value(b2, key_a), &va);
  ASSERT_PTR_EQ(uvgo_ctx_value(b2, key_b), &vb2);
  ASSERT_PTR_EQ(uvgo_ctx_value(b, key_b), &vb);
  ASSERT_NULL(uvgo_ctx_value(a, key_b));
  ASSERT_ERR(uvgo_ctx_cancel(b), UV_EINVAL); /* value contexts can't */
  /* A value context ends with its cancellable ancestor. */
  ASSERT_OK(uvgo_ctx_cancel(c));
  ASSERT_ERR(uvgo_ctx_err(b2), UV_ECANCELED);
  ASSERT_OK(uvgo_ctx_err(a));
  /* Children keep parents alive: release in any order. */
  ASSERT_OK(uvgo_ctx_release(a));
  ASSERT_OK(uvgo_ctx_release(c));
  ASSERT_OK(uvgo_ctx_release(b));
  ASSERT_OK(uvgo_ctx_release(b2));
}

UVGO_TEST(ctx_deadline_in_the_past_has_ended, unit, 10) {
  uvgo_ctx *c;
  ASSERT_OK(uvgo_ctx_with_deadline(uvgo_ctx_background(), 1, &c));
  ASSERT_ERR(uvgo_ctx_err(c), UV_ETIMEDOUT);
  ASSERT_OK(uvgo_ctx_cancel(c));
  ASSERT_ERR(uvgo_ctx_err(c), UV_ETIMEDOUT); /* the first reason stays */
  uint64_t d = 0;
  ASSERT_OK(uvgo_ctx_deadline(c, &d));
  ASSERT_EQ(d, 1);
  ASSERT_OK(uvgo_ctx_release(c));
}

/* Off a worker there is no timer heap: the deadline is enforced when the
 * context is checked. A second is far more than the two calls need, and
 * the wait is for the deadline itself, not a guess at it. */
UVGO_TEST(ctx_timeout_off_worker_is_lazy, unit, 10) {
  uvgo_ctx *c;
  uint64_t start = uvgo_now_ms();
  ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_background(), 1000, &c));
  ASSERT_OK(uvgo_ctx_err(c));
  uint64_t deadline = 0;
  ASSERT_OK(uvgo_ctx_deadline(c, &deadline));
  ASSERT_GE(deadline, start + 1000);
  while (uvgo_now_ms() < deadline)
    uv_sleep(10);
  ASSERT_ERR(uvgo_ctx_err(c), UV_ETIMEDOUT);
  ASSERT_OK(uvgo_ctx_release(c));
}

/* --- in tasks --- */

static void timeout_main(void *arg) {
  (void)arg;
  uvgo_ctx *c;
  /* Read before the timeout starts, so the elapsed time is a lower bound
   * however late this task runs after creating it. */
  uint64_t start = uvgo_now_ms();
  ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_background(), 30, &c));
  uvgo_chan *done = uvgo_ctx_done(c);
  ASSERT_ERR(uvgo_chan_recv(done, NULL), UVGO_ECLOSED);
  ASSERT_GE(uvgo_now_ms() - start, 29);
  ASSERT_ERR(uvgo_ctx_err(c), UV_ETIMEDOUT);
  ASSERT_OK(uvgo_ctx_release(c));
  /* Cancel before the timeout: the heap entry goes, ECANCELED stays. */
  ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_background(), 10000, &c));
  ASSERT_OK(uvgo_ctx_cancel(c));
  ASSERT_ERR(uvgo_ctx_err(c), UV_ECANCELED);
  ASSERT_OK(uvgo_ctx_release(c));
}

UVGO_TEST(ctx_timeout_is_etimedout_not_ecanceled, unit, 10) {
  ASSERT_OK(uvgo_run(NULL, timeout_main, NULL));
}

/* A task blocked in each kind of call returns when its context ends. */
typedef struct {
  int kind;
  _Atomic int result;
} blocked_call;

static void block_in(void *arg) {
  blocked_call *b = arg;
  uvgo_chan *unbuffered = uvgo_chan_new(sizeof(int), 0);
  int v = 7;
  int r = 0;
  switch (b->kind) {
  case 0:
    r = uvgo_chan_recv(unbuffered, &v);
    break;
  case 1:
    r = uvgo_chan_send(unbuffered, &v);
    break;
  case 2: {
    uvgo_select_case cases[] = {UVGO_RECV_CASE(unbuffered, &v),
                                UVGO_SEND_CASE(unbuffered, &v)};
    r = uvgo_select(cases, 2);
    break;
  }
  case 3:
    r = uvgo_sleep(100000);
    break;
  case 4:
    r = uvgo_chan_recv(uvgo_after(100000), NULL);
    break;
  }
  atomic_store(&b->result, r);
  ASSERT_OK(uvgo_chan_release(unbuffered));
}

static void cancel_blocked_main(void *arg) {
  blocked_call *calls = arg;
  uvgo_ctx *c;
  ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_current(), &c));
  for (int k = 0; k < 5; k++)
    ASSERT_OK(uvgo_go_ctx(c, block_in, &calls[k]));
  ASSERT_OK(uvgo_sleep(20));
  ASSERT_OK(uvgo_ctx_cancel(c));
  ASSERT_OK(uvgo_ctx_release(c));
}

UVGO_TEST(ctx_cancel_ends_recv_send_select_sleep, unit, 10) {
  for (unsigned workers = 1; workers <= 2; workers++) {
    blocked_call calls[5];
    for (int k = 0; k < 5; k++) {
      calls[k].kind = k;
      atomic_store(&calls[k].result, 1);
    }
    uvgo_config cfg = {.workers = workers};
    ASSERT_OK(uvgo_run(&cfg, cancel_blocked_main, calls));
    for (int k = 0; k < 5; k++)
      ASSERT_ERR(atomic_load(&calls[k].result), UV_ECANCELED);
  }
}

/* A task's own timeout ends its blocking calls with UV_ETIMEDOUT. */
static void sleep_under_timeout(void *arg) {
  *(int *)arg = uvgo_sleep(100000);
}
static void timeout_task_main(void *arg) {
  uvgo_ctx *c;
  ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_current(), 20, &c));
  ASSERT_OK(uvgo_go_ctx(c, sleep_under_timeout, arg));
  ASSERT_OK(uvgo_ctx_release(c));
}

UVGO_TEST(ctx_task_timeout_ends_sleep, unit, 10) {
  int result = 1;
  ASSERT_OK(uvgo_run(NULL, timeout_task_main, &result));
  ASSERT_ERR(result, UV_ETIMEDOUT);
}

/* parent -> child -> grandchild, tasks on every worker: cancelling the
 * parent reaches all of them. Spawned tasks inherit their spawner's ctx. */
static _Atomic int cancelled_seen;
static void grandchild_task(void *arg) {
  (void)arg;
  int r = uvgo_chan_recv(uvgo_after(100000), NULL);
  if (r == UV_ECANCELED)
    atomic_fetch_add(&cancelled_seen, 1);
}
static void child_task(void *arg) {
  (void)arg;
  uvgo_ctx *grand;
  ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_current(), &grand));
  for (unsigned w = 0; w < uvgo_worker_count(); w++) {
    uvgo_spawn_opts opts = {.worker = (int)w, .ctx = grand};
    ASSERT_OK(uvgo_go_opts(&opts, grandchild_task, NULL));
  }
  ASSERT_OK(uvgo_go(grandchild_task, NULL)); /* inherits this task's ctx */
  ASSERT_OK(uvgo_ctx_release(grand));
  grandchild_task(NULL);
}
static void propagation_main(void *arg) {
  (void)arg;
  uvgo_ctx *parent, *child;
  ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_background(), &parent));
  ASSERT_OK(uvgo_ctx_with_cancel(parent, &child));
  for (unsigned w = 0; w < uvgo_worker_count(); w++) {
    uvgo_spawn_opts opts = {.worker = (int)w, .ctx = child};
    ASSERT_OK(uvgo_go_opts(&opts, child_task, NULL));
  }
  ASSERT_OK(uvgo_sleep(30));
  ASSERT_OK(uvgo_ctx_cancel(parent));
  ASSERT_ERR(uvgo_ctx_err(child), UV_ECANCELED);
  ASSERT_OK(uvgo_ctx_release(child));
  ASSERT_OK(uvgo_ctx_release(parent));
}

UVGO_TEST(ctx_propagates_to_grandchildren_across_workers, unit, 20) {
  for (unsigned workers = 1; workers <= 4; workers *= 2) {
    atomic_store(&cancelled_seen, 0);
    uvgo_config cfg = {.workers = workers};
    ASSERT_OK(uvgo_run(&cfg, propagation_main, NULL));
    /* per child: one per worker + one inherited + the child itself */
    ASSERT_EQ(atomic_load(&cancelled_seen), (int)(workers * (workers + 2)));
  }
}

/* Shielded cleanup runs to completion in a cancelled task. */
static void cleanup(void *arg) {
  *(int *)arg = uvgo_sleep(20); /* would be UV_ECANCELED unshielded */
}
static void shielded_task(void *arg) {
  int *results = arg;
  results[0] = uvgo_sleep(100000);
  ASSERT_OK(uvgo_ctx_shield(cleanup, &results[1]));
  results[2] = uvgo_sleep(10); /* cancelled again after the shield */
}
static void shield_main(void *arg) {
  uvgo_ctx *c;
  ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_current(), &c));
  ASSERT_OK(uvgo_go_ctx(c, shielded_task, arg));
  ASSERT_OK(uvgo_sleep(10));
  ASSERT_OK(uvgo_ctx_cancel(c));
  ASSERT_OK(uvgo_ctx_release(c));
}

UVGO_TEST(ctx_shield_lets_cleanup_finish, unit, 10) {
  int results[3] = {1, 1, 1};
  ASSERT_OK(uvgo_run(NULL, shield_main, results));
  ASSERT_ERR(results[0], UV_ECANCELED);
  ASSERT_OK(results[1]);
  ASSERT_ERR(results[2], UV_ECANCELED);
}

/* A context whose timer is still pending when the run ends is released
 * cleanly (the leak check would fail otherwise). */
static uvgo_ctx *outliving;
static void make_outliving(void *arg) {
  (void)arg;
  ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_background(), 100000, &outliving));
}

UVGO_TEST(ctx_outlives_runtime, unit, 10) {
  ASSERT_OK(uvgo_run(NULL, make_outliving, NULL));
  ASSERT_OK(uvgo_ctx_err(outliving));
  ASSERT_OK(uvgo_ctx_cancel(outliving));
  ASSERT_OK(uvgo_ctx_release(outliving));
}

/* Cancel from another worker removes the timeout entry through the
 * owner's inbox. */
/* The cancelling task owns a reference: cancel may still be touching the
 * context after a waiter has seen done close and released its own. */
static void cancel_remote(void *arg) {
  ASSERT_OK(uvgo_ctx_cancel(arg));
  ASSERT_OK(uvgo_ctx_release(arg));
}
static void remote_cancel_main(void *arg) {
  (void)arg;
  uvgo_ctx *c;
  ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_background(), 100000, &c));
  ASSERT_OK(uvgo_ctx_retain(c));
  ASSERT_OK(uvgo_go_on(1, cancel_remote, c));
  ASSERT_ERR(uvgo_chan_recv(uvgo_ctx_done(c), NULL), UVGO_ECLOSED);
  ASSERT_ERR(uvgo_ctx_err(c), UV_ECANCELED);
  ASSERT_OK(uvgo_ctx_release(c));
}

UVGO_TEST(ctx_cancel_from_other_worker, unit, 10) {
  uvgo_config cfg = {.workers = 2};
  ASSERT_OK(uvgo_run(&cfg, remote_cancel_main, NULL));
}

UVGO_TEST(ctx_strict_cancel_of_value_context_aborts, unit, 10) {
  char out[2048];
  int status = uvgo_test_spawn_helper("strict_value_cancel", "UVGO_STRICT=1",
                                      out, sizeof out);
  ASSERT(WIFSIGNALED(status));
  ASSERT_STR_CONTAINS(out, "uvgo: misuse in uvgo_ctx_cancel");
}

UVGO_TEST_HELPER(strict_value_cancel) {
  uvgo_ctx *v;
  uvgo_ctx_with_value(uvgo_ctx_background(), "k", NULL, &v);
  uvgo_ctx_cancel(v);
}
