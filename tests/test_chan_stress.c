/* Channel stress, meant for TSan: 1-4 workers plus plain threads, exact
 * accounting of every value (each received exactly once). */
#include "harness.h"

#include <stdatomic.h>
#include <stdbool.h>

#include "core/chan.h" /* to see who is queued on a channel */

static uvgo_config workers(unsigned n) {
  uvgo_config cfg = {0};
  cfg.workers = n;
  return cfg;
}

/* --- many producers, many consumers, tasks and threads --- */

typedef struct {
  uvgo_chan *c;
  long per_producer;
  _Atomic int producers_left;
  _Atomic long sum, count;
  _Atomic unsigned char *seen; /* one flag per value */
} mpmc;

typedef struct {
  mpmc *m;
  long id;
} role;

static void producer(void *arg) {
  role *r = arg;
  mpmc *m = r->m;
  for (long i = 0; i < m->per_producer; i++) {
    long v = r->id * m->per_producer + i;
    ASSERT_OK(uvgo_chan_send(m->c, &v));
  }
  if (atomic_fetch_sub(&m->producers_left, 1) == 1)
    ASSERT_OK(uvgo_chan_close(m->c));
}

static void consumer(void *arg) {
  mpmc *m = ((role *)arg)->m;
  long v;
  int err;
  while ((err = uvgo_chan_recv(m->c, &v)) == 0) {
    ASSERT_EQ(atomic_exchange(&m->seen[v], 1), 0); /* exactly once */
    atomic_fetch_add(&m->sum, v);
    atomic_fetch_add(&m->count, 1);
  }
  ASSERT_ERR(err, UVGO_ECLOSED);
}

enum { TASK_PRODUCERS = 4, THREAD_PRODUCERS = 2, TASK_CONSUMERS = 3,
       THREAD_CONSUMERS = 2 };

static void mpmc_main(void *arg) {
  role *roles = arg;
  unsigned nw = uvgo_worker_count();
  for (int i = 0; i < TASK_PRODUCERS; i++)
    ASSERT_OK(uvgo_go_on((unsigned)i % nw, producer, &roles[i]));
  for (int i = 0; i < TASK_CONSUMERS; i++)
    ASSERT_OK(uvgo_go_on((unsigned)(i + 1) % nw, consumer,
                         &roles[TASK_PRODUCERS + i]));
}

UVGO_TEST(stress_mpmc_exact_accounting, stress, 120) {
  long per = uvgo_test_scaled(20000, 200);
  int producers = TASK_PRODUCERS + THREAD_PRODUCERS;
  long total = per * producers;
  for (unsigned nw = 1; nw <= 4; nw++) {
    for (size_t cap = 0; cap <= 16; cap += 16) {
      mpmc m = {.c = uvgo_chan_new(sizeof(long), cap), .per_producer = per};
      atomic_store(&m.producers_left, producers);
      m.seen = calloc((size_t)total, 1);
      role roles[TASK_PRODUCERS + TASK_CONSUMERS + THREAD_PRODUCERS +
                 THREAD_CONSUMERS];
      for (int i = 0; i < TASK_PRODUCERS; i++)
        roles[i] = (role){&m, i};
      for (int i = 0; i < TASK_CONSUMERS; i++)
        roles[TASK_PRODUCERS + i] = (role){&m, -1};
      uv_thread_t threads[THREAD_PRODUCERS + THREAD_CONSUMERS];
      for (int i = 0; i < THREAD_PRODUCERS; i++) {
        role *r = &roles[TASK_PRODUCERS + TASK_CONSUMERS + i];
        *r = (role){&m, TASK_PRODUCERS + i};
        ASSERT_OK(uv_thread_create(&threads[i], producer, r));
      }
      for (int i = 0; i < THREAD_CONSUMERS; i++) {
        role *r = &roles[TASK_PRODUCERS + TASK_CONSUMERS + THREAD_PRODUCERS + i];
        *r = (role){&m, -1};
        ASSERT_OK(uv_thread_create(&threads[THREAD_PRODUCERS + i], consumer, r));
      }
      uvgo_config cfg = workers(nw);
      ASSERT_OK(uvgo_run(&cfg, mpmc_main, roles));
      for (int i = 0; i < THREAD_PRODUCERS + THREAD_CONSUMERS; i++)
        uv_thread_join(&threads[i]);
      ASSERT_EQ(atomic_load(&m.count), total);
      ASSERT_EQ(atomic_load(&m.sum), total * (total - 1) / 2);
      free((void *)m.seen);
      ASSERT_OK(uvgo_chan_release(m.c));
    }
  }
}

/* --- select across workers: every op of one side pairs with one of the
 * other, so both sides finish and the sums agree --- */

typedef struct {
  uvgo_chan *a, *b;
  long rounds;
  _Atomic long sent_a, got_a, sent_b, got_b;
} sel_state;

static void side_x(void *arg) {
  sel_state *s = arg;
  for (long i = 0; i < s->rounds; i++) {
    long out = i + 1, in = 0;
    uvgo_select_case cs[] = {UVGO_SEND_CASE(s->a, &out),
                             UVGO_RECV_CASE(s->b, &in),
                             UVGO_RECV_CASE(NULL, NULL)};
    int r = uvgo_select(cs, 3);
    if (r == 0)
      atomic_fetch_add(&s->sent_a, out);
    else if (r == 1)
      atomic_fetch_add(&s->got_b, in);
    else
      ASSERT(0);
  }
}

static void side_y(void *arg) {
  sel_state *s = arg;
  for (long i = 0; i < s->rounds; i++) {
    long out = 2 * i + 1, in = 0;
    uvgo_select_case cs[] = {UVGO_RECV_CASE(s->a, &in),
                             UVGO_SEND_CASE(s->b, &out)};
    int r = uvgo_select(cs, 2);
    if (r == 0)
      atomic_fetch_add(&s->got_a, in);
    else if (r == 1)
      atomic_fetch_add(&s->sent_b, out);
    else
      ASSERT(0);
  }
}

static void select_main(void *arg) {
  sel_state *s = arg;
  unsigned nw = uvgo_worker_count();
  for (unsigned i = 0; i < 3; i++) {
    ASSERT_OK(uvgo_go_on(i % nw, side_x, s));
    ASSERT_OK(uvgo_go_on((i + 1) % nw, side_y, s));
  }
}

UVGO_TEST(stress_select_across_workers, stress, 120) {
  for (unsigned nw = 1; nw <= 4; nw++) {
    for (size_t cap = 0; cap <= 2; cap += 2) {
      sel_state s = {.a = uvgo_chan_new(sizeof(long), cap),
                     .b = uvgo_chan_new(sizeof(long), cap),
                     .rounds = uvgo_test_scaled(5000, 100)};
      uvgo_config cfg = workers(nw);
      ASSERT_OK(uvgo_run(&cfg, select_main, &s));
      /* With buffers, values may be left in flight: drain them. */
      long v;
      while (uvgo_chan_try_recv(s.a, &v) == 0)
        atomic_fetch_add(&s.got_a, v);
      while (uvgo_chan_try_recv(s.b, &v) == 0)
        atomic_fetch_add(&s.got_b, v);
      ASSERT_EQ(atomic_load(&s.sent_a), atomic_load(&s.got_a));
      ASSERT_EQ(atomic_load(&s.sent_b), atomic_load(&s.got_b));
      ASSERT_OK(uvgo_chan_release(s.a));
      ASSERT_OK(uvgo_chan_release(s.b));
    }
  }
}

/* --- close racing with send, recv and select --- */

typedef struct {
  uvgo_chan *c;
  _Atomic long sent, received, closed_sends, closed_recvs;
  _Atomic int running;
} race;

static void race_sender(void *arg) {
  race *r = arg;
  for (long i = 1;; i++) {
    int err;
    if (i & 1) {
      err = uvgo_chan_send(r->c, &i);
    } else {
      uvgo_select_case cs[] = {UVGO_SEND_CASE(r->c, &i)};
      ASSERT_EQ(uvgo_select(cs, 1), 0);
      err = cs[0].status; /* UVGO_ECLOSED: the send met a closed channel */
    }
    if (err == 0) {
      atomic_fetch_add(&r->sent, i);
    } else {
      ASSERT_ERR(err, UVGO_ECLOSED);
      atomic_fetch_add(&r->closed_sends, 1);
      break;
    }
  }
  atomic_fetch_sub(&r->running, 1);
}

static void race_receiver(void *arg) {
  race *r = arg;
  for (long n = 0;; n++) {
    long v = -1;
    int err;
    if (n & 1) {
      err = uvgo_chan_recv(r->c, &v);
    } else {
      uvgo_select_case cs[] = {UVGO_RECV_CASE(r->c, &v),
                               UVGO_RECV_CASE(uvgo_after(10000), NULL)};
      err = uvgo_select(cs, 2);
      ASSERT(err == 0);
      err = cs[0].status;
    }
    if (err == 0) {
      atomic_fetch_add(&r->received, v);
    } else {
      ASSERT_ERR(err, UVGO_ECLOSED);
      ASSERT_EQ(v, 0);
      atomic_fetch_add(&r->closed_recvs, 1);
      break;
    }
  }
  atomic_fetch_sub(&r->running, 1);
}

static void race_closer(void *arg) {
  race *r = arg;
  for (int i = 0; i < 20; i++)
    uvgo_yield();
  ASSERT_OK(uvgo_chan_close(r->c));
}

static void race_main(void *arg) {
  long rounds = *(long *)arg;
  unsigned nw = uvgo_worker_count();
  for (long round = 0; round < rounds; round++) {
    race r = {.c = uvgo_chan_new(sizeof(long), (size_t)(round % 3))};
    atomic_store(&r.running, 6);
    for (unsigned i = 0; i < 3; i++) {
      ASSERT_OK(uvgo_go_on(i % nw, race_sender, &r));
      ASSERT_OK(uvgo_go_on((i + 1) % nw, race_receiver, &r));
    }
    ASSERT_OK(uvgo_go_on((unsigned)round % nw, race_closer, &r));
    while (atomic_load(&r.running) > 0)
      uvgo_yield();
    ASSERT_EQ(atomic_load(&r.sent), atomic_load(&r.received));
    ASSERT_EQ(atomic_load(&r.closed_sends), 3);
    ASSERT_EQ(atomic_load(&r.closed_recvs), 3);
    ASSERT_OK(uvgo_chan_release(r.c));
  }
}

UVGO_TEST(stress_close_races, stress, 120) {
  long rounds = uvgo_test_scaled(300, 20);
  for (unsigned nw = 1; nw <= 4; nw++) {
    uvgo_config cfg = workers(nw);
    ASSERT_OK(uvgo_run(&cfg, race_main, &rounds));
  }
}

/* --- a close too big for one chunk (it wakes CLOSE_CHUNK waiters at a
 * time, unlocking in between), racing waiters that leave by a deadline
 * and re-queue, waiters whose context is cancelled meanwhile, blocked
 * senders on a second channel, and plain threads --- */

typedef struct {
  uvgo_chan *recv_chan; /* receivers wait here */
  uvgo_chan *send_chan; /* senders wait here */
  uvgo_ctx *ctx;        /* cancelled while the close runs */
  _Atomic int ready, go; /* the canceller spins, then cancels at go */
  _Atomic long closed, cancelled, timeouts, running;
} big_close;

static void deadline_receiver(void *arg) {
  big_close *b = arg;
  for (unsigned n = 0;; n++) {
    int v = 7;
    uvgo_select_case cs[] = {UVGO_RECV_CASE(b->recv_chan, &v),
                             UVGO_RECV_CASE(uvgo_after(n % 3), NULL)};
    int r = uvgo_select(cs, 2);
    if (r == 1) {
      atomic_fetch_add(&b->timeouts, 1);
      continue; /* queue again, maybe behind the close */
    }
    ASSERT_EQ(r, 0);
    ASSERT_ERR(cs[0].status, UVGO_ECLOSED);
    ASSERT_EQ(v, 0);
    atomic_fetch_add(&b->closed, 1);
    break;
  }
  atomic_fetch_sub(&b->running, 1);
}

/* One blocking receive, ended by the close or (may_cancel: a task under
 * b->ctx) by the cancel. */
static void receive_until_end(big_close *b, bool may_cancel) {
  int v = 7;
  int err = uvgo_chan_recv(b->recv_chan, &v);
  if (may_cancel && err == UV_ECANCELED) {
    atomic_fetch_add(&b->cancelled, 1);
  } else {
    ASSERT_ERR(err, UVGO_ECLOSED);
    ASSERT_EQ(v, 0);
    atomic_fetch_add(&b->closed, 1);
  }
  atomic_fetch_sub(&b->running, 1);
}

/* A select whose only live case is the receive, the second: the close's
 * claim must report case index 1. */
static void lone_select_receiver(void *arg) {
  big_close *b = arg;
  int v = 7;
  uvgo_select_case cs[] = {UVGO_RECV_CASE(NULL, NULL),
                           UVGO_RECV_CASE(b->recv_chan, &v)};
  ASSERT_EQ(uvgo_select(cs, 2), 1);
  ASSERT_ERR(cs[1].status, UVGO_ECLOSED);
  ASSERT_EQ(v, 0);
  atomic_fetch_add(&b->closed, 1);
  atomic_fetch_sub(&b->running, 1);
}

static void ctx_receiver(void *arg) { receive_until_end(arg, true); }
static void ctx_receiver_thread(void *arg) { receive_until_end(arg, false); }

static void blocked_sender(void *arg) {
  big_close *b = arg;
  int v = 1;
  ASSERT_ERR(uvgo_chan_send(b->send_chan, &v), UVGO_ECLOSED);
  atomic_fetch_add(&b->closed, 1);
  atomic_fetch_sub(&b->running, 1);
}

static void big_canceller(void *arg) {
  big_close *b = arg;
  atomic_store(&b->ready, 1);
  /* On another worker: spin, so the cancel lands inside the close. */
  while (!atomic_load(&b->go))
    if (uvgo_worker_count() == 1)
      uvgo_yield();
  ASSERT_OK(uvgo_ctx_cancel(b->ctx));
  atomic_fetch_sub(&b->running, 1);
}

static size_t waiting(uvgo_chan *c) {
  size_t n = 0;
  uvgo__chan_lock(c);
  for (uvgo__waiter *w = c->recvq.head; w != NULL; w = w->next)
    n++;
  for (uvgo__waiter *w = c->sendq.head; w != NULL; w = w->next)
    n++;
  uvgo__chan_unlock(c);
  return n;
}

static void big_close_main(void *arg) {
  long rounds = *(long *)arg;
  unsigned nw = uvgo_worker_count();
  enum { EACH = 150, THREADS = 2 };
  for (long round = 0; round < rounds; round++) {
    big_close b = {.recv_chan = uvgo_chan_new(sizeof(int), 0),
                   .send_chan = uvgo_chan_new(sizeof(int), 0)};
    ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_background(), &b.ctx));
    long total = 4 * EACH + THREADS;
    atomic_store(&b.running, total + 1); /* and the canceller */
    for (unsigned i = 0; i < EACH; i++) {
      ASSERT_OK(uvgo_go_on(i % nw, deadline_receiver, &b));
      uvgo_spawn_opts o = {.worker = (int)((i + 1) % nw), .ctx = b.ctx};
      ASSERT_OK(uvgo_go_opts(&o, ctx_receiver, &b));
      ASSERT_OK(uvgo_go_on((i + 2) % nw, blocked_sender, &b));
      ASSERT_OK(uvgo_go_on((i + 3) % nw, lone_select_receiver, &b));
    }
    uv_thread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
      ASSERT_OK(uv_thread_create(&th[i], ctx_receiver_thread, &b));
    /* Most of them queued: the ctx and lone-select receivers and the
     * senders all, the deadline receivers coming and going. */
    while (waiting(b.recv_chan) < 2 * EACH + THREADS ||
           waiting(b.send_chan) < EACH)
      uvgo_yield();
    /* Never on this task's worker, which the spinning would stall. */
    unsigned me = (unsigned)uvgo_worker_id();
    unsigned other = nw == 1 ? me : (me + 1 + (unsigned)round % (nw - 1)) % nw;
    ASSERT_OK(uvgo_go_on(other, big_canceller, &b));
    while (nw > 1 && !atomic_load(&b.ready))
      uvgo_yield();
    atomic_store(&b.go, 1);
    ASSERT_OK(uvgo_chan_close(b.recv_chan));
    ASSERT_OK(uvgo_chan_close(b.send_chan));
    for (int i = 0; i < THREADS; i++)
      uv_thread_join(&th[i]);
    while (atomic_load(&b.running) > 0)
      uvgo_yield();
    /* Every waiter ended exactly once, and nothing is left queued. */
    ASSERT_EQ(atomic_load(&b.closed) + atomic_load(&b.cancelled), total);
    ASSERT(atomic_load(&b.cancelled) <= EACH);
    ASSERT_EQ(waiting(b.recv_chan), 0);
    ASSERT_EQ(waiting(b.send_chan), 0);
    ASSERT_OK(uvgo_chan_release(b.recv_chan));
    ASSERT_OK(uvgo_chan_release(b.send_chan));
    uvgo_ctx_release(b.ctx);
  }
}

UVGO_TEST(stress_big_close_races_deadlines_and_cancel, stress, 120) {
  long rounds = uvgo_test_scaled(30, 3);
  for (unsigned nw = 1; nw <= 3; nw++) {
    uvgo_config cfg = workers(nw);
    ASSERT_OK(uvgo_run(&cfg, big_close_main, &rounds));
  }
}

/* --- hints into stacks that are gone: a channel outlives a runtime
 * whose tasks waited on it and left by their deadlines. Their stacks go
 * with that runtime, and the channel's last pushes (the source of the
 * next waiters' prefetch hints, chan.h) still point into them. The next
 * runtime's waiters and a close of them must not care. --- */

enum { LEAVERS = 40, CLOSE_WAITERS = 40 };

static void leave_by_deadline(void *arg) {
  uvgo_select_case cs[] = {UVGO_RECV_CASE(arg, NULL),
                           UVGO_RECV_CASE(uvgo_after(1), NULL)};
  ASSERT_EQ(uvgo_select(cs, 2), 1);
}

static void spawn_leavers(void *arg) {
  for (int i = 0; i < LEAVERS; i++)
    ASSERT_OK(uvgo_go_on((unsigned)i % uvgo_worker_count(),
                         leave_by_deadline, arg));
}

static _Atomic int woken_by_close;

static void wait_for_close(void *arg) {
  ASSERT_ERR(uvgo_chan_recv(arg, NULL), UVGO_ECLOSED);
  atomic_fetch_add(&woken_by_close, 1);
}

static void close_waiters_main(void *arg) {
  uvgo_chan *c = arg;
  for (int i = 0; i < CLOSE_WAITERS; i++)
    ASSERT_OK(uvgo_go_on((unsigned)i % uvgo_worker_count(), wait_for_close,
                         c));
  while (waiting(c) < CLOSE_WAITERS)
    uvgo_yield();
  ASSERT_OK(uvgo_chan_close(c));
}

UVGO_TEST(close_with_hints_into_ended_runtime, stress, 60) {
  for (unsigned nw = 1; nw <= 2; nw++) {
    uvgo_chan *c = uvgo_chan_new(0, 0);
    uvgo_config cfg = workers(nw);
    ASSERT_OK(uvgo_run(&cfg, spawn_leavers, c));
    ASSERT_EQ(waiting(c), 0);
    for (int k = 0; k < UVGO__CHAN_HINTS; k++)
      ASSERT_NOT_NULL(c->recent[k]); /* into the ended runtime's stacks */
    atomic_store(&woken_by_close, 0);
    ASSERT_OK(uvgo_run(&cfg, close_waiters_main, c));
    ASSERT_EQ(atomic_load(&woken_by_close), CLOSE_WAITERS);
    ASSERT_EQ(waiting(c), 0);
    ASSERT_OK(uvgo_chan_release(c));
  }
}

/* --- timers racing with sends; stop/reset from other workers and a
 * plain thread --- */

typedef struct {
  uvgo_ticker *tk;
  uvgo_timer *tm;
  uvgo_chan *data;
  long n;
  _Atomic long got;
  _Atomic int done;
  uvgo_wg fiddlers; /* done by each fiddler once it stops touching tk/tm */
} timer_race;

static void data_sender(void *arg) {
  timer_race *t = arg;
  for (long i = 1; i <= t->n; i++)
    ASSERT_OK(uvgo_chan_send(t->data, &i));
}

static void fiddler(void *arg) {
  timer_race *t = arg;
  while (!atomic_load(&t->done)) {
    uvgo_ticker_reset(t->tk, 1);
    uvgo_timer_reset(t->tm, 1);
    if (uvgo_self() != NULL)
      uvgo_yield();
    uvgo_timer_stop(t->tm);
  }
  ASSERT_OK(uvgo_wg_done(&t->fiddlers));
}

static void timer_main(void *arg) {
  timer_race *t = arg;
  ASSERT_OK(uvgo_ticker_new(1, &t->tk));
  ASSERT_OK(uvgo_timer_new(1, &t->tm));
  unsigned nw = uvgo_worker_count();
  ASSERT_OK(uvgo_go_on(1 % nw, data_sender, t));
  ASSERT_OK(uvgo_wg_add(&t->fiddlers, 2)); /* the task and the thread */
  ASSERT_OK(uvgo_go_on(nw - 1, fiddler, t));
  uv_thread_t th;
  ASSERT_OK(uv_thread_create(&th, fiddler, t));
  long sum = 0, ticks = 0;
  for (long got = 0; got < t->n;) {
    long v = 0;
    uvgo_select_case cs[] = {UVGO_RECV_CASE(t->data, &v),
                             UVGO_RECV_CASE(uvgo_ticker_chan(t->tk), NULL),
                             UVGO_RECV_CASE(uvgo_timer_chan(t->tm), NULL)};
    int r = uvgo_select(cs, 3);
    if (r == 0) {
      sum += v;
      got++;
    } else {
      ticks++;
    }
  }
  ASSERT_EQ(sum, t->n * (t->n + 1) / 2);
  atomic_store(&t->done, 1);
  uv_thread_join(&th);
  /* The fiddler task may be anywhere in its loop on another worker: free
   * the timers only once it has left it (a sleep here raced it). */
  ASSERT_OK(uvgo_wg_wait(&t->fiddlers));
  ASSERT_OK(uvgo_ticker_free(t->tk));
  ASSERT_OK(uvgo_timer_free(t->tm));
}

UVGO_TEST(stress_timers_race_with_sends, stress, 120) {
  for (unsigned nw = 1; nw <= 4; nw++) {
    timer_race t = {.data = uvgo_chan_new(sizeof(long), 0),
                    .n = uvgo_test_scaled(20000, 500)};
    uvgo_config cfg = workers(nw);
    ASSERT_OK(uvgo_run(&cfg, timer_main, &t));
    ASSERT_OK(uvgo_chan_release(t.data));
  }
}
