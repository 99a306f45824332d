/* Context races under TSan: cancel racing with timeout and with release,
 * cancellation reaching tasks on every worker while they block and wake. */
#include "harness.h"

#include <stdatomic.h>

#include "core/ctx.h" /* to see who still holds a context */

static void cancel_it(void *arg) { uvgo_ctx_cancel(arg); uvgo_ctx_release(arg); }

static void race_main(void *arg) {
  long n = *(long *)arg;
  unsigned nw = uvgo_worker_count();
  for (long i = 0; i < n; i++) {
    uvgo_ctx *c;
    ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_background(), (uint64_t)(i % 3), &c));
    ASSERT_OK(uvgo_ctx_retain(c));
    ASSERT_OK(uvgo_go_on((unsigned)i % nw, cancel_it, c));
    if (i % 2)
      uvgo_yield();
    int err = uvgo_ctx_err(c);
    ASSERT(err == 0 || err == UV_ECANCELED || err == UV_ETIMEDOUT);
    ASSERT_OK(uvgo_ctx_release(c));
  }
}

UVGO_TEST(stress_ctx_cancel_races_timeout_and_release, stress, 120) {
  long n = uvgo_test_scaled(20000, 500);
  for (unsigned workers = 1; workers <= 4; workers *= 2) {
    uvgo_config cfg = {.workers = workers};
    ASSERT_OK(uvgo_run(&cfg, race_main, &n));
  }
}

static _Atomic long ended;
static void waiter(void *arg) {
  uvgo_chan *ch = arg;
  int v;
  int r = uvgo_chan_recv(ch, &v);
  if (r == UV_ECANCELED || r == UV_ETIMEDOUT || r == 0)
    atomic_fetch_add(&ended, 1);
}
static void cancel_storm_main(void *arg) {
  long rounds = *(long *)arg;
  unsigned nw = uvgo_worker_count();
  uvgo_chan *ch = uvgo_chan_new(sizeof(int), 0);
  for (long r = 0; r < rounds; r++) {
    uvgo_ctx *c;
    ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_background(), 1 + (uint64_t)(r % 2), &c));
    for (int i = 0; i < 16; i++) {
      uvgo_spawn_opts opts = {.worker = (int)((unsigned)i % nw), .ctx = c};
      ASSERT_OK(uvgo_go_opts(&opts, waiter, ch));
    }
    int v = 1;
    if (r % 3 == 0)
      uvgo_chan_try_send(ch, &v); /* a wake racing the cancel */
    if (r % 2)
      ASSERT_OK(uvgo_ctx_cancel(c));
    ASSERT_OK(uvgo_ctx_release(c));
  }
  while (atomic_load(&ended) < rounds * 16)
    uvgo_sleep(1);
  ASSERT_OK(uvgo_chan_release(ch));
}

UVGO_TEST(stress_ctx_cancel_reaches_every_worker, stress, 120) {
  long rounds = uvgo_test_scaled(500, 20);
  for (unsigned workers = 1; workers <= 4; workers *= 2) {
    atomic_store(&ended, 0);
    uvgo_config cfg = {.workers = workers};
    ASSERT_OK(uvgo_run(&cfg, cancel_storm_main, &rounds));
    ASSERT_EQ(atomic_load(&ended), rounds * 16);
  }
}

/* Children with their own deadline made on other workers while their
 * parent is cancelled: each ends UV_ECANCELED, and once the cancel is
 * done none keeps its timer entry (and the reference the entry holds)
 * armed: the canceller either found the entry or the maker, seeing the
 * end after arming it, took it out itself. */
typedef struct {
  uvgo_ctx *parent;
  _Atomic int go;
  _Atomic long makers, cancelled;
} child_race;

static void child_maker(void *arg) {
  child_race *r = arg;
  while (!atomic_load(&r->go))
    uvgo_yield();
  for (int i = 0; i < 20; i++) {
    uvgo_ctx *c;
    ASSERT_OK(uvgo_ctx_with_timeout(r->parent, 60000, &c));
    if (atomic_load(&r->cancelled)) {
      ASSERT_ERR(uvgo_ctx_err(c), UV_ECANCELED);
      /* A removal message from the canceller may still be on its way to
       * this worker: let it run, then ours must be the only reference. */
      long refs = (long)atomic_load(&c->refs);
      for (int k = 0; k < 1000 && refs > 1; k++) {
        uvgo_yield();
        refs = (long)atomic_load(&c->refs);
      }
      ASSERT_EQ(refs, 1);
    }
    ASSERT_OK(uvgo_ctx_release(c));
  }
  atomic_fetch_sub(&r->makers, 1);
}

static void child_race_main(void *arg) {
  long rounds = *(long *)arg;
  unsigned nw = uvgo_worker_count();
  for (long round = 0; round < rounds; round++) {
    child_race r = {0};
    ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_background(), &r.parent));
    enum { MAKERS = 8 };
    atomic_store(&r.makers, MAKERS);
    for (unsigned i = 0; i < MAKERS; i++)
      ASSERT_OK(uvgo_go_on(nw > 1 ? 1 + i % (nw - 1) : 0, child_maker, &r));
    atomic_store(&r.go, 1);
    for (long k = 0; k < round % 4; k++)
      uvgo_yield();
    ASSERT_OK(uvgo_ctx_cancel(r.parent));
    atomic_store(&r.cancelled, 1);
    while (atomic_load(&r.makers) > 0)
      uvgo_yield();
    ASSERT_OK(uvgo_ctx_release(r.parent));
  }
}

/* main_fn(&rounds) on runtimes of 1, 2 and 3 workers. */
static void run_on_1_to_3_workers(uvgo_fn main_fn, long rounds) {
  for (unsigned workers = 1; workers <= 3; workers++) {
    uvgo_config cfg = {.workers = workers};
    ASSERT_OK(uvgo_run(&cfg, main_fn, &rounds));
  }
}

UVGO_TEST(stress_ctx_deadline_child_races_parent_cancel, stress, 120) {
  run_on_1_to_3_workers(child_race_main, uvgo_test_scaled(400, 20));
}

/* A cancel that wakes hundreds of tasks at cancellation points on every
 * worker (their wakes go over in batches per worker), from a task, from
 * another worker's task and from a plain thread: each ends once, with
 * UV_ECANCELED. */
typedef struct {
  uvgo_ctx *ctx;
  uvgo_chan *ch;
  _Atomic long ended, blocked, passed;
} mass_cancel;

static void blocked_point(void *arg) {
  mass_cancel *m = arg;
  long me = atomic_fetch_add(&m->blocked, 1);
  int err;
  if (me % 3 == 0) {
    err = uvgo_sleep(60000);
  } else if (me % 3 == 1) {
    int v;
    err = uvgo_chan_recv(m->ch, &v);
  } else {
    uvgo_select_case cs[] = {UVGO_RECV_CASE(m->ch, NULL),
                             UVGO_RECV_CASE(uvgo_after(60000), NULL)};
    err = uvgo_select(cs, 2);
  }
  ASSERT_ERR(err, UV_ECANCELED);
  atomic_fetch_add(&m->ended, 1);
}

/* Watches and leaves again (its sleeps end by their deadlines) among the
 * blocked ones, before the cancel: the watch list loses links from its
 * middle, and later watchers' prefetch hints point at frames that are
 * gone (ctx.c). */
static void passing_point(void *arg) {
  mass_cancel *m = arg;
  for (int i = 0; i < 3; i++)
    ASSERT_OK(uvgo_sleep(1));
  atomic_fetch_add(&m->passed, 1);
}

static void cancel_task(void *arg) { ASSERT_OK(uvgo_ctx_cancel(arg)); }
static void cancel_thread(void *arg) { ASSERT_OK(uvgo_ctx_cancel(arg)); }

static void mass_cancel_main(void *arg) {
  long rounds = *(long *)arg;
  unsigned nw = uvgo_worker_count();
  enum { TASKS = 400 };
  for (long round = 0; round < rounds; round++) {
    mass_cancel m = {.ch = uvgo_chan_new(sizeof(int), 0)};
    ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_background(), &m.ctx));
    for (unsigned i = 0; i < TASKS; i++) {
      uvgo_spawn_opts o = {.worker = (int)(i % nw), .ctx = m.ctx};
      ASSERT_OK(uvgo_go_opts(&o, blocked_point, &m));
      if (i % 4 == 0)
        ASSERT_OK(uvgo_go_opts(&o, passing_point, &m));
    }
    while (atomic_load(&m.blocked) < TASKS ||
           atomic_load(&m.passed) < TASKS / 4)
      uvgo_yield();
    uvgo_sleep(1); /* most of them parked by now */
    switch (round % 3) {
    case 0:
      ASSERT_OK(uvgo_ctx_cancel(m.ctx));
      break;
    case 1:
      ASSERT_OK(uvgo_go_on((unsigned)(round % nw), cancel_task, m.ctx));
      break;
    default: {
      uv_thread_t th;
      ASSERT_OK(uv_thread_create(&th, cancel_thread, m.ctx));
      uv_thread_join(&th);
    }
    }
    while (atomic_load(&m.ended) < TASKS)
      uvgo_yield();
    uvgo_sleep(1);
    ASSERT_EQ(atomic_load(&m.ended), TASKS);
    ASSERT_OK(uvgo_ctx_release(m.ctx));
    ASSERT_OK(uvgo_chan_release(m.ch));
  }
}

UVGO_TEST(stress_ctx_cancel_wakes_hundreds_across_workers, stress, 120) {
  run_on_1_to_3_workers(mass_cancel_main, uvgo_test_scaled(30, 3));
}
