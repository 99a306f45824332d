/* Sync under load: many tasks on several workers plus plain threads, with
 * timeouts racing hand-offs. Exact counts at the end; run under TSan. */
#include "harness.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

static uvgo_config config_with(unsigned workers) {
  uvgo_config cfg = {0};
  cfg.workers = workers;
  return cfg;
}

/* --- mutex: plain counter, lock and lock_timeout mixed --- */

typedef struct {
  uvgo_mutex mu;
  long counter;  /* guarded by mu */
  int inside;    /* guarded by mu: must be 0 on entry */
  long per;
  _Atomic long timeouts;
} mutex_stress;

static void mutex_rounds(mutex_stress *ms, bool task) {
  long done = 0;
  for (long i = 0; done < ms->per; i++) {
    int err;
    if (i % 4 == 3) {
      err = uvgo_mutex_lock_timeout(&ms->mu, (uint64_t)(i % 3));
      if (err == UV_ETIMEDOUT) {
        atomic_fetch_add(&ms->timeouts, 1);
        continue;
      }
    } else {
      err = uvgo_mutex_lock(&ms->mu);
    }
    ASSERT_OK(err);
    ASSERT_EQ(ms->inside, 0);
    ms->inside = 1;
    long v = ms->counter;
    if (task && i % 8 == 0)
      ASSERT_OK(uvgo_yield());
    ms->counter = v + 1;
    ms->inside = 0;
    ASSERT_OK(uvgo_mutex_unlock(&ms->mu));
    done++;
  }
}
static void mutex_task(void *arg) { mutex_rounds(arg, true); }
static void mutex_thread(void *arg) { mutex_rounds(arg, false); }
static void mutex_main(void *arg) {
  for (unsigned i = 0; i < 32; i++)
    ASSERT_OK(uvgo_go_on(i % uvgo_worker_count(), mutex_task, arg));
}

UVGO_TEST(stress_mutex_tasks_and_threads, stress, 120) {
  mutex_stress ms = {.mu = UVGO_MUTEX_INIT,
                     .per = uvgo_test_scaled(5000, 50)};
  uv_thread_t th[3];
  for (int i = 0; i < 3; i++)
    ASSERT_OK(uv_thread_create(&th[i], mutex_thread, &ms));
  uvgo_config cfg = config_with(4);
  ASSERT_OK(uvgo_run(&cfg, mutex_main, &ms));
  for (int i = 0; i < 3; i++)
    ASSERT_OK(uv_thread_join(&th[i]));
  ASSERT_EQ(ms.counter, 35 * ms.per);
  ASSERT_OK(uvgo_mutex_trylock(&ms.mu));
  ASSERT_OK(uvgo_mutex_unlock(&ms.mu));
}

/* --- semaphore: random weights, never over capacity --- */

#define SEM_CAP 8

typedef struct {
  uvgo_sem sem;
  _Atomic long in_use;
  _Atomic long max_seen;
  _Atomic long grants;
  _Atomic long timeouts;
  long per;
} sem_stress;

static void sem_rounds(sem_stress *ss, unsigned seed, bool task) {
  for (long i = 0; i < ss->per; i++) {
    seed = seed * 1103515245u + 12345u;
    int64_t n = 1 + (int64_t)((seed >> 16) % SEM_CAP);
    int err = (i % 5 == 4) ? uvgo_sem_acquire_timeout(&ss->sem, n, 1)
                           : uvgo_sem_acquire(&ss->sem, n);
    if (err == UV_ETIMEDOUT) {
      atomic_fetch_add(&ss->timeouts, 1);
      continue;
    }
    ASSERT_OK(err);
    long now = atomic_fetch_add(&ss->in_use, n) + n;
    ASSERT_LE(now, SEM_CAP);
    long max = atomic_load(&ss->max_seen);
    while (now > max && !atomic_compare_exchange_weak(&ss->max_seen, &max, now))
      ;
    if (task && i % 4 == 0)
      ASSERT_OK(uvgo_yield());
    atomic_fetch_sub(&ss->in_use, n);
    ASSERT_OK(uvgo_sem_release(&ss->sem, n));
    atomic_fetch_add(&ss->grants, 1);
  }
}
static void sem_task(void *arg) {
  static _Atomic unsigned seeds = 1;
  sem_rounds(arg, atomic_fetch_add(&seeds, 7919), true);
}
static void sem_thread(void *arg) { sem_rounds(arg, 4242, false); }
static void sem_main(void *arg) {
  for (unsigned i = 0; i < 24; i++)
    ASSERT_OK(uvgo_go_on(i % uvgo_worker_count(), sem_task, arg));
}

UVGO_TEST(stress_sem_weights, stress, 120) {
  sem_stress ss = {.sem = UVGO_SEM_INIT(SEM_CAP),
                   .per = uvgo_test_scaled(3000, 50)};
  uv_thread_t th[2];
  for (int i = 0; i < 2; i++)
    ASSERT_OK(uv_thread_create(&th[i], sem_thread, &ss));
  uvgo_config cfg = config_with(4);
  ASSERT_OK(uvgo_run(&cfg, sem_main, &ss));
  for (int i = 0; i < 2; i++)
    ASSERT_OK(uv_thread_join(&th[i]));
  ASSERT_EQ(atomic_load(&ss.grants) + atomic_load(&ss.timeouts), 26 * ss.per);
  ASSERT_EQ(atomic_load(&ss.in_use), 0);
  ASSERT_LE(atomic_load(&ss.max_seen), SEM_CAP);
  /* Every token came back. */
  ASSERT_OK(uvgo_sem_try_acquire(&ss.sem, SEM_CAP));
  ASSERT_OK(uvgo_sem_release(&ss.sem, SEM_CAP));
}

/* --- WaitGroup: rounds of fan-out on one reused group, several waiters
 * (tasks, a timed waiter and a plain thread) each round --- */

typedef struct {
  uvgo_wg wg;
  uvgo_wg round_done; /* waiters of the round report here */
  _Atomic long hits;
  long expect;
} wg_round;

static void wg_child(void *arg) {
  wg_round *r = arg;
  atomic_fetch_add(&r->hits, 1);
  ASSERT_OK(uvgo_wg_done(&r->wg));
}
static void wg_waiter(void *arg) {
  wg_round *r = arg;
  ASSERT_OK(uvgo_wg_wait(&r->wg));
  ASSERT_GE(atomic_load(&r->hits), r->expect);
  ASSERT_OK(uvgo_wg_done(&r->round_done));
}
static void wg_timed_waiter(void *arg) {
  wg_round *r = arg;
  int err;
  while ((err = uvgo_wg_wait_timeout(&r->wg, 1)) == UV_ETIMEDOUT)
    ;
  ASSERT_OK(err);
  ASSERT_GE(atomic_load(&r->hits), r->expect);
  ASSERT_OK(uvgo_wg_done(&r->round_done));
}
static void wg_stress_main(void *arg) {
  long rounds = *(long *)arg;
  unsigned nw = uvgo_worker_count();
  wg_round r = {.wg = UVGO_WG_INIT, .round_done = UVGO_WG_INIT};
  for (long round = 0; round < rounds; round++) {
    long n = 50 + round % 50;
    r.expect += n;
    ASSERT_OK(uvgo_wg_add(&r.wg, n));
    ASSERT_OK(uvgo_wg_add(&r.round_done, 3));
    uv_thread_t th;
    ASSERT_OK(uv_thread_create(&th, wg_waiter, &r));
    ASSERT_OK(uvgo_go_on((unsigned)round % nw, wg_waiter, &r));
    ASSERT_OK(uvgo_go_on((unsigned)(round + 1) % nw, wg_timed_waiter, &r));
    for (long i = 0; i < n; i++)
      ASSERT_OK(uvgo_go_on((unsigned)i % nw, wg_child, &r));
    ASSERT_OK(uvgo_wg_wait(&r.wg));
    ASSERT_EQ(atomic_load(&r.hits), r.expect);
    ASSERT_OK(uvgo_wg_wait(&r.round_done));
    ASSERT_OK(uv_thread_join(&th));
  }
}

UVGO_TEST(stress_wg_reused_rounds, stress, 120) {
  long rounds = uvgo_test_scaled(300, 10);
  uvgo_config cfg = config_with(4);
  ASSERT_OK(uvgo_run(&cfg, wg_stress_main, &rounds));
}

/* A WaitGroup in memory the waiter frees as soon as its wait returns (a
 * pool's shutdown does this): the last uvgo_wg_done, on another worker or
 * a plain thread, must not touch the WaitGroup once a waiter can see the
 * counter at zero. Caught by ASan and TSan as a use after free. */
typedef struct {
  uvgo_wg wg;
  char tail[8];
} wg_box;

static void wg_box_done(void *arg) { ASSERT_OK(uvgo_wg_done(&((wg_box *)arg)->wg)); }

static void wg_free_main(void *arg) {
  long rounds = *(long *)arg;
  unsigned nw = uvgo_worker_count();
  for (long r = 0; r < rounds; r++) {
    wg_box *b = calloc(1, sizeof *b);
    ASSERT(b != NULL);
    ASSERT_OK(uvgo_wg_add(&b->wg, 1));
    if (r % 4 == 3) {
      uv_thread_t th;
      ASSERT_OK(uv_thread_create(&th, wg_box_done, b));
      ASSERT_OK(uvgo_wg_wait(&b->wg));
      free(b);
      uv_thread_join(&th);
      continue;
    }
    ASSERT_OK(uvgo_go_on((unsigned)(r + 1) % nw, wg_box_done, b));
    if (r % 2)
      uvgo_yield();
    ASSERT_OK(uvgo_wg_wait(&b->wg));
    free(b);
  }
}

UVGO_TEST(stress_wg_freed_after_wait, stress, 120) {
  long rounds = uvgo_test_scaled(20000, 500);
  for (unsigned nw = 1; nw <= 2; nw++) {
    uvgo_config cfg = config_with(nw);
    ASSERT_OK(uvgo_run(&cfg, wg_free_main, &rounds));
  }
}

/* The same for a Once: the caller that did not run fn frees it the moment
 * its uvgo_once_do returns, while the runner may still be finishing (the
 * runner touches nothing of it after its own return). */
static _Atomic long once_callers_out;

typedef struct {
  uvgo_once *once;
  bool ran_here;
} once_call_arg;

static void once_fn(void *arg) { ((once_call_arg *)arg)->ran_here = true; }

static void once_call(void *arg) {
  uvgo_once *once = arg;
  once_call_arg me = {once, false};
  ASSERT_OK(uvgo_once_do(once, once_fn, &me));
  if (!me.ran_here)
    free(once);
  atomic_fetch_add(&once_callers_out, 1);
}

static void once_free_main(void *arg) {
  long rounds = *(long *)arg;
  unsigned nw = uvgo_worker_count();
  for (long r = 0; r < rounds; r++) {
    uvgo_once *once = calloc(1, sizeof *once);
    ASSERT(once != NULL);
    atomic_store(&once_callers_out, 0);
    uv_thread_t th;
    bool thread = r % 4 == 3;
    if (thread)
      ASSERT_OK(uv_thread_create(&th, once_call, once));
    else
      ASSERT_OK(uvgo_go_on((unsigned)(r + 1) % nw, once_call, once));
    if (r % 2)
      uvgo_yield();
    once_call(once);
    if (thread)
      uv_thread_join(&th);
    while (atomic_load(&once_callers_out) < 2)
      uvgo_yield();
  }
}

UVGO_TEST(stress_once_freed_by_the_other_caller, stress, 120) {
  long rounds = uvgo_test_scaled(20000, 500);
  for (unsigned nw = 1; nw <= 2; nw++) {
    uvgo_config cfg = config_with(nw);
    ASSERT_OK(uvgo_run(&cfg, once_free_main, &rounds));
  }
}

/* --- Once: many fresh onces raced by tasks on every worker --- */

typedef struct {
  uvgo_once once;
  _Atomic int runs;
  int value;
} once_slot;

typedef struct {
  once_slot *slots;
  long nslots;
  uvgo_wg wg;
} once_stress;

static void once_set(void *arg) {
  once_slot *s = arg;
  atomic_fetch_add(&s->runs, 1);
  s->value = 7;
}
static void once_racer(void *arg) {
  once_stress *os = arg;
  for (long i = 0; i < os->nslots; i++) {
    ASSERT_OK(uvgo_once_do(&os->slots[i].once, once_set, &os->slots[i]));
    ASSERT_EQ(os->slots[i].value, 7);
    if (i % 16 == 0)
      ASSERT_OK(uvgo_yield());
  }
  ASSERT_OK(uvgo_wg_done(&os->wg));
}
static void once_stress_main(void *arg) {
  once_stress *os = arg;
  ASSERT_OK(uvgo_wg_add(&os->wg, 16));
  for (unsigned i = 0; i < 16; i++)
    ASSERT_OK(uvgo_go_on(i % uvgo_worker_count(), once_racer, os));
  ASSERT_OK(uvgo_wg_wait(&os->wg));
  for (long i = 0; i < os->nslots; i++)
    ASSERT_EQ(atomic_load(&os->slots[i].runs), 1);
}

UVGO_TEST(stress_once_many, stress, 120) {
  once_stress os = {.nslots = uvgo_test_scaled(20000, 200)};
  os.slots = calloc((size_t)os.nslots, sizeof *os.slots);
  ASSERT_NOT_NULL(os.slots);
  uvgo_config cfg = config_with(4);
  ASSERT_OK(uvgo_run(&cfg, once_stress_main, &os));
  free(os.slots);
}

/* --- a plain thread's ctx-bounded waits: the call's context ends them
 * (before the wait, during it from a task, or by its deadline) exactly as
 * it ends a task's, and the primitive is left as it was --- */

enum { END_BEFORE, END_BY_TASK, END_BY_DEADLINE };
typedef struct {
  int how;
  uvgo_ctx *ctx;
  uvgo_wg wg;     /* never reaches zero */
  uvgo_mutex mu;  /* held by main */
  uvgo_sem sem;   /* all tokens held by main */
  _Atomic(uvgo_waitq_ *) waiting_in; /* the queue it waits in now */
  uv_thread_t th;
} thread_ctx_wait;

static bool queue_nonempty(uvgo_waitq_ *q) {
  while (__atomic_exchange_n(&q->lock_, 1, __ATOMIC_ACQUIRE))
    ;
  bool nonempty = q->head_ != NULL;
  __atomic_store_n(&q->lock_, 0, __ATOMIC_RELEASE);
  return nonempty;
}

static void thread_ctx_waiter(void *arg) {
  thread_ctx_wait *tw = arg;
  int want = tw->how == END_BY_DEADLINE ? UV_ETIMEDOUT : UV_ECANCELED;
  atomic_store(&tw->waiting_in, &tw->wg.q_);
  ASSERT_ERR(uvgo_wg_wait_ctx(&tw->wg, tw->ctx), want);
  atomic_store(&tw->waiting_in, &tw->mu.q_);
  ASSERT_ERR(uvgo_mutex_lock_ctx(&tw->mu, tw->ctx), want);
  atomic_store(&tw->waiting_in, &tw->sem.q_);
  ASSERT_ERR(uvgo_sem_acquire_ctx(&tw->sem, 1, tw->ctx), want);
  atomic_store(&tw->waiting_in, NULL);
}

static void thread_ctx_main(void *arg) {
  thread_ctx_wait *tw = arg;
  ASSERT_OK(uvgo_wg_add(&tw->wg, 1));
  ASSERT_OK(uvgo_mutex_lock(&tw->mu));
  ASSERT_OK(uvgo_sem_init(&tw->sem, 1));
  ASSERT_OK(uvgo_sem_acquire(&tw->sem, 1));
  if (tw->how == END_BY_DEADLINE) {
    ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_current(), 20, &tw->ctx));
  } else {
    ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_current(), &tw->ctx));
    if (tw->how == END_BEFORE)
      ASSERT_OK(uvgo_ctx_cancel(tw->ctx));
  }
  ASSERT_OK(uv_thread_create(&tw->th, thread_ctx_waiter, tw));
  if (tw->how == END_BY_TASK) {
    /* Cancel once the thread is queued in its first wait; the later waits
     * then find the context ended. */
    while (!queue_nonempty(&tw->wg.q_))
      ASSERT_OK(uvgo_sleep(1));
    ASSERT_OK(uvgo_ctx_cancel(tw->ctx));
  }
  ASSERT_OK(uv_thread_join(&tw->th));
  /* Nothing was taken, and nobody is left queued. */
  ASSERT(!queue_nonempty(&tw->wg.q_));
  ASSERT(!queue_nonempty(&tw->mu.q_));
  ASSERT(!queue_nonempty(&tw->sem.q_));
  ASSERT_ERR(uvgo_sem_try_acquire(&tw->sem, 1), UV_EAGAIN);
  ASSERT_OK(uvgo_sem_release(&tw->sem, 1));
  ASSERT_OK(uvgo_sem_try_acquire(&tw->sem, 1));
  ASSERT_OK(uvgo_sem_release(&tw->sem, 1));
  ASSERT_OK(uvgo_mutex_unlock(&tw->mu));
  ASSERT_OK(uvgo_wg_done(&tw->wg));
  uvgo_ctx_release(tw->ctx);
}

UVGO_TEST(stress_thread_waits_end_with_ctx, stress, 60) {
  for (int how = END_BEFORE; how <= END_BY_DEADLINE; how++) {
    thread_ctx_wait tw = {.how = how,
                          .wg = UVGO_WG_INIT,
                          .mu = UVGO_MUTEX_INIT};
    uvgo_config cfg = config_with(2);
    ASSERT_OK(uvgo_run(&cfg, thread_ctx_main, &tw));
  }
}
