/* Groups and pools: first error, cancellation, limits, results in order,
 * the streaming pool's back-pressure and draining. */
#include "harness.h"

#include <stdatomic.h>

static _Atomic int running, max_running;

static void enter(void) {
  int now = atomic_fetch_add(&running, 1) + 1;
  int seen = atomic_load(&max_running);
  while (now > seen && !atomic_compare_exchange_weak(&max_running, &seen, now)) {
  }
}
static void leave(void) { atomic_fetch_sub(&running, 1); }

static int ok_after_sleep(uvgo_ctx *ctx, void *arg) {
  (void)ctx;
  enter();
  int r = uvgo_sleep((uint64_t)(uintptr_t)arg);
  leave();
  return r;
}

static int fail_fast(uvgo_ctx *ctx, void *arg) {
  (void)ctx;
  uvgo_sleep(5);
  return (int)(intptr_t)arg;
}

static void group_first_error_main(void *arg) {
  (void)arg;
  uvgo_group *g;
  ASSERT_OK(uvgo_group_new(uvgo_ctx_current(), 0, &g));
  for (int i = 0; i < 5; i++)
    ASSERT_OK(uvgo_group_go(g, ok_after_sleep, (void *)(uintptr_t)100000));
  ASSERT_OK(uvgo_group_go(g, fail_fast, (void *)(intptr_t)UV_ECONNRESET));
  uint64_t start = uvgo_now_ms();
  /* The failure cancels the group's context: the sleepers end at once. */
  ASSERT_ERR(uvgo_group_wait(g), UV_ECONNRESET);
  ASSERT_LT(uvgo_now_ms() - start, 5000);
  ASSERT_ERR(uvgo_ctx_err(uvgo_group_ctx(g)), UV_ECANCELED);
  ASSERT_OK(uvgo_group_free(g));
}

UVGO_TEST(group_first_error_cancels_the_rest, unit, 20) {
  uvgo_config cfg = {.workers = 2};
  ASSERT_OK(uvgo_run(&cfg, group_first_error_main, NULL));
}

/* Each task waits until three run together, so the bound is reached
 * however slowly the spawner is scheduled; one that let a fourth in
 * would show as well. Capped, so a bound below 3 fails the assertion. */
static uint64_t overlap_deadline;
static int ok_when_three_run(uvgo_ctx *ctx, void *arg) {
  (void)ctx;
  enter();
  while (atomic_load(&max_running) < 3 && uvgo_now_ms() < overlap_deadline)
    uvgo_sleep(1);
  int r = uvgo_sleep((uint64_t)(uintptr_t)arg);
  leave();
  return r;
}

static void group_limit_main(void *arg) {
  (void)arg;
  uvgo_group *g;
  overlap_deadline = uvgo_now_ms() + 10000;
  ASSERT_OK(uvgo_group_new(uvgo_ctx_current(), 3, &g));
  for (int i = 0; i < 30; i++)
    ASSERT_OK(uvgo_group_go(g, ok_when_three_run, (void *)(uintptr_t)2));
  ASSERT_OK(uvgo_group_wait(g));
  ASSERT_OK(uvgo_ctx_err(uvgo_ctx_current()));
  ASSERT_OK(uvgo_group_free(g));
}

UVGO_TEST(group_limit_bounds_concurrency, unit, 20) {
  atomic_store(&max_running, 0);
  uvgo_config cfg = {.workers = 2};
  ASSERT_OK(uvgo_run(&cfg, group_limit_main, NULL));
  ASSERT_EQ(atomic_load(&max_running), 3);
}

static int positive(uvgo_ctx *ctx, void *arg) {
  (void)ctx;
  (void)arg;
  return 7;
}
static void group_misuse_main(void *arg) {
  (void)arg;
  uvgo_group *g;
  ASSERT_ERR(uvgo_group_new(NULL, 0, &g), UV_EINVAL);
  ASSERT_ERR(uvgo_group_new(uvgo_ctx_current(), 0, NULL), UV_EINVAL);
  ASSERT_OK(uvgo_group_new(uvgo_ctx_current(), 0, &g));
  ASSERT_ERR(uvgo_group_go(g, NULL, NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_group_go(NULL, positive, NULL), UV_EINVAL);
  ASSERT_OK(uvgo_group_go(g, positive, NULL));
  ASSERT_ERR(uvgo_group_wait(g), UV_EINVAL);
  ASSERT_OK(uvgo_group_free(g));
}

UVGO_TEST(group_bad_input, unit, 10) {
  ASSERT_OK(uvgo_run(NULL, group_misuse_main, NULL));
}

/* --- pool_run --- */

static _Atomic int fn_calls;
static int square(uvgo_ctx *ctx, const void *in, void *out, void *arg) {
  (void)ctx;
  (void)arg;
  int v = *(const int *)in;
  enter();
  atomic_fetch_add(&fn_calls, 1);
  if (v % 2)
    uvgo_yield();
  leave();
  if (v % 10 == 3)
    return UV_EIO;
  *(int *)out = v * v;
  return 0;
}

static void pool_main(void *arg) {
  (void)arg;
  enum { N = 1000 };
  static int in[N], out[N], errs[N];
  for (int i = 0; i < N; i++)
    in[i] = i;
  ASSERT_OK(uvgo_pool_run(uvgo_ctx_current(), 8, in, N, sizeof(int), square,
                          NULL, out, sizeof(int), errs));
  for (int i = 0; i < N; i++) {
    if (i % 10 == 3) {
      ASSERT_ERR(errs[i], UV_EIO);
    } else {
      ASSERT_OK(errs[i]);
      ASSERT_EQ(out[i], i * i);
    }
  }
  ASSERT_ERR(uvgo_pool_run(uvgo_ctx_current(), 0, in, N, sizeof(int), square,
                           NULL, out, sizeof(int), errs), UV_EINVAL);
  ASSERT_ERR(uvgo_pool_run(uvgo_ctx_current(), 2, in, N, sizeof(int), NULL,
                           NULL, out, sizeof(int), errs), UV_EINVAL);
  ASSERT_OK(uvgo_pool_run(uvgo_ctx_current(), 2, in, 0, sizeof(int), square,
                          NULL, out, sizeof(int), errs));
}

UVGO_TEST(pool_run_results_in_input_order, unit, 20) {
  atomic_store(&max_running, 0);
  atomic_store(&fn_calls, 0);
  uvgo_config cfg = {.workers = 2};
  ASSERT_OK(uvgo_run(&cfg, pool_main, NULL));
  ASSERT_EQ(atomic_load(&fn_calls), 1000);
  ASSERT_LE(atomic_load(&max_running), 8);
}

/* The second input to finish cancels the pool's context: a clock would
 * decide how many inputs start first, and a slow machine could start
 * none. */
static _Atomic int items_done;
static int slow_item(uvgo_ctx *ctx, const void *in, void *out, void *arg) {
  (void)in;
  (void)out;
  (void)arg;
  atomic_fetch_add(&fn_calls, 1);
  int err = uvgo_sleep(10) == 0 ? 0 : uvgo_ctx_err(ctx);
  if (err == 0 && atomic_fetch_add(&items_done, 1) + 1 == 2)
    ASSERT_OK(uvgo_ctx_cancel(ctx));
  return err;
}
static void pool_cancel_main(void *arg) {
  (void)arg;
  enum { N = 100 };
  static int in[N], errs[N];
  uvgo_ctx *c;
  ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_current(), &c));
  ASSERT_OK(uvgo_pool_run(c, 2, in, N, sizeof(int), slow_item, NULL, NULL, 0,
                          errs));
  int ok = 0, cancelled_without_call = 0;
  for (int i = 0; i < N; i++) {
    if (errs[i] == 0)
      ok++;
    else
      ASSERT_ERR(errs[i], UV_ECANCELED);
  }
  cancelled_without_call = N - atomic_load(&fn_calls);
  ASSERT_GE(ok, 2);
  ASSERT_GT(cancelled_without_call, N / 2);
  ASSERT_OK(uvgo_ctx_release(c));
}

UVGO_TEST(pool_run_inputs_after_cancel_get_the_error, unit, 20) {
  atomic_store(&fn_calls, 0);
  atomic_store(&items_done, 0);
  ASSERT_OK(uvgo_run(NULL, pool_cancel_main, NULL));
}

/* --- streaming pool --- */

static int triple(uvgo_ctx *ctx, const void *in, void *out, void *arg) {
  (void)ctx;
  (void)arg;
  *(long *)out = *(const long *)in * 3;
  return 0;
}

typedef struct {
  uvgo_stream_pool *sp;
  long n;
  long sum;
  _Atomic long count; /* read by stream_main on the other worker */
} consumer_state;

static void consume(void *arg) {
  consumer_state *cs = arg;
  size_t size = uvgo_stream_pool_result_size(cs->sp);
  uvgo_pool_result *r = malloc(size);
  while (uvgo_chan_recv(uvgo_stream_pool_results(cs->sp), r) == 0) {
    ASSERT_OK(r->err);
    ASSERT_EQ(*(long *)r->output, (long)r->index * 3);
    cs->sum += *(long *)r->output;
    atomic_fetch_add_explicit(&cs->count, 1, memory_order_release);
  }
  free(r);
}

static void stream_main(void *arg) {
  consumer_state *cs = arg;
  ASSERT_OK(uvgo_stream_pool_new(uvgo_ctx_current(), 4, 8, sizeof(long),
                                 sizeof(long), triple, NULL, &cs->sp));
  ASSERT_OK(uvgo_go(consume, cs));
  for (long i = 0; i < cs->n; i++)
    ASSERT_OK(uvgo_stream_pool_submit(cs->sp, &i));
  ASSERT_OK(uvgo_stream_pool_close(cs->sp));
  ASSERT_ERR(uvgo_stream_pool_submit(cs->sp, &cs->n), UVGO_ECLOSED);
  while (atomic_load_explicit(&cs->count, memory_order_acquire) < cs->n)
    uvgo_sleep(1);
  ASSERT_OK(uvgo_stream_pool_free(cs->sp));
}

UVGO_TEST(stream_pool_every_input_once, unit, 20) {
  consumer_state cs = {.n = uvgo_test_scaled(5000, 200)};
  uvgo_config cfg = {.workers = 2};
  ASSERT_OK(uvgo_run(&cfg, stream_main, &cs));
  ASSERT_EQ(cs.count, cs.n);
  ASSERT_EQ(cs.sum, 3 * cs.n * (cs.n - 1) / 2);
}

/* Nobody reads results: the queue and results fill, and submit blocks —
 * the back-pressure — until its context gives up. A timeout would end it
 * at whatever count a loaded machine had reached; the context is
 * cancelled instead once the pool is full (queue (2) + results (2) + one
 * in the worker's hands), after a pause in which a missing bound would
 * let more in. Submit is then blocked with only the cancel ready, so
 * select has nothing else to pick. */
enum { BACKPRESSURE_CAPACITY = 5 };
typedef struct {
  uvgo_ctx *ctx;
  _Atomic long accepted;
} backpressure_state;

/* Holds its own reference to the context: main may wake, free the pool
 * and release its reference while the cancel is still going on. */
static void cancel_when_full(void *arg) {
  backpressure_state *bp = arg;
  uvgo_ctx *ctx = bp->ctx;
  while (atomic_load(&bp->accepted) < BACKPRESSURE_CAPACITY)
    uvgo_sleep(1);
  uvgo_sleep(20);
  ASSERT_OK(uvgo_ctx_cancel(ctx));
  ASSERT_OK(uvgo_ctx_release(ctx));
}

static void backpressure_main(void *arg) {
  (void)arg;
  uvgo_stream_pool *sp;
  backpressure_state bp = {0};
  ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_current(), &bp.ctx));
  ASSERT_OK(uvgo_stream_pool_new(bp.ctx, 1, 2, sizeof(long), sizeof(long),
                                 triple, NULL, &sp));
  ASSERT_OK(uvgo_ctx_retain(bp.ctx));
  ASSERT_OK(uvgo_go(cancel_when_full, &bp));
  long i = 0;
  int err;
  while ((err = uvgo_stream_pool_submit(sp, &i)) == 0) {
    atomic_fetch_add(&bp.accepted, 1);
    i++;
  }
  ASSERT_ERR(err, UV_ECANCELED);
  long accepted = atomic_load(&bp.accepted);
  ASSERT_EQ(accepted, BACKPRESSURE_CAPACITY);
  ASSERT_OK(uvgo_stream_pool_free(sp));
  ASSERT_OK(uvgo_ctx_release(bp.ctx));
}

UVGO_TEST(stream_pool_back_pressure, unit, 20) {
  ASSERT_OK(uvgo_run(NULL, backpressure_main, NULL));
}
