/* The cancellation contract, exercised through the internal parker: a
 * waiter claimed with a negative reason and no partner (what the context
 * layer does) unlinks itself and returns that code, leaving the channel
 * consistent. Only a task some context watches can be claimed that way
 * (an unwatched one is claimable by partners alone and parks holding the
 * channel's lock: chan.h, exclusive), so the waiters run under a
 * cancellable context that never ends. */
#include "harness.h"

#include "core/chan.h"

static void cancel_first_waiter(uvgo_chan *c, bool recvq, int code) {
  uvgo__chan_lock(c);
  uvgo__waiter *w = recvq ? c->recvq.head : c->sendq.head;
  ASSERT_NOT_NULL(w);
  ASSERT(!w->exclusive);
  uvgo__parker *p = w->parker;
  bool won = uvgo__parker_claim(p, code);
  uvgo__chan_unlock(c);
  ASSERT(won);
  /* The waiter stays queued: its owner must unlink itself after waking. */
  uvgo__parker_wake(p);
}

static void recv_cancelled(void *arg) {
  int v = 3;
  ASSERT_ERR(uvgo_chan_recv(arg, &v), UV_ECANCELED);
}
static void send_cancelled(void *arg) {
  int v = 3;
  ASSERT_ERR(uvgo_chan_send(arg, &v), UV_ETIMEDOUT);
}
static void select_cancelled(void *arg) {
  uvgo_chan **c = arg;
  int v = 0, one = 1;
  uvgo_select_case cs[] = {UVGO_RECV_CASE(c[0], &v), UVGO_SEND_CASE(c[1], &one),
                           UVGO_RECV_CASE(uvgo_after(100000), NULL)};
  ASSERT_ERR(uvgo_select(cs, 3), UV_ECANCELED);
}

static void cancel_main(void *arg) {
  (void)arg;
  uvgo_chan *c[2] = {uvgo_chan_new(sizeof(int), 0),
                     uvgo_chan_new(sizeof(int), 0)};
  uvgo_ctx *watch;
  ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_background(), &watch));
  ASSERT_OK(uvgo_go_ctx(watch, recv_cancelled, c[0]));
  uvgo_yield();
  cancel_first_waiter(c[0], true, UV_ECANCELED);
  ASSERT_OK(uvgo_go_ctx(watch, send_cancelled, c[1]));
  uvgo_yield();
  cancel_first_waiter(c[1], false, UV_ETIMEDOUT);
  ASSERT_OK(uvgo_go(select_cancelled, c));
  uvgo_yield();
  cancel_first_waiter(c[0], true, UV_ECANCELED);
  uvgo_sleep(5);
  /* Every waiter unlinked itself: nothing left queued, the channels still
   * work, and the last release succeeds. */
  ASSERT_NULL(c[0]->recvq.head);
  ASSERT_NULL(c[1]->sendq.head);
  int v = 1;
  ASSERT_ERR(uvgo_chan_try_send(c[0], &v), UV_EAGAIN);
  ASSERT_ERR(uvgo_chan_try_recv(c[1], &v), UV_EAGAIN);
  ASSERT_OK(uvgo_chan_release(c[0]));
  ASSERT_OK(uvgo_chan_release(c[1]));
  uvgo_ctx_release(watch);
}

UVGO_TEST(chan_waiter_cancelled_without_partner, unit, 10) {
  uvgo_config cfg = {0};
  cfg.workers = 1;
  ASSERT_OK(uvgo_run(&cfg, cancel_main, NULL));
}

/* One queue holding both kinds of waiter: a task under a cancellable
 * context (claimable by its cancel) between two plain ones (claimable only
 * by partners, parked holding the lock). The cancel takes the middle one
 * out; the values still reach the plain waiters in FIFO order, on one
 * worker and across two. */
typedef struct {
  uvgo_chan *c;
  int got[2];
  _Atomic int parked;
  int cancelled_rc;
} mixed_state;

static mixed_state *mixed;

static void mixed_plain(void *arg) {
  int slot = (int)(intptr_t)arg;
  atomic_fetch_add(&mixed->parked, 1);
  ASSERT_OK(uvgo_chan_recv(mixed->c, &mixed->got[slot]));
}
static void mixed_watched(void *arg) {
  (void)arg;
  int v = -1;
  atomic_fetch_add(&mixed->parked, 1);
  mixed->cancelled_rc = uvgo_chan_recv(mixed->c, &v);
  ASSERT_EQ(v, -1);
}

static void wait_queued(uvgo_chan *c, int n) {
  for (;;) {
    uvgo__chan_lock(c);
    int k = 0;
    for (uvgo__waiter *w = c->recvq.head; w != NULL; w = w->next)
      k++;
    uvgo__chan_unlock(c);
    if (k == n)
      return;
    uvgo_sleep(1);
  }
}

static void mixed_main(void *arg) {
  unsigned workers = *(unsigned *)arg;
  mixed_state st = {.c = uvgo_chan_new(sizeof(int), 0)};
  mixed = &st;
  uvgo_ctx *ctx;
  ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_background(), &ctx));
  ASSERT_OK(uvgo_go_on(workers - 1, mixed_plain, (void *)(intptr_t)0));
  wait_queued(st.c, 1);
  uvgo_spawn_opts opts = {.worker = (int)(workers - 1), .ctx = ctx};
  ASSERT_OK(uvgo_go_opts(&opts, mixed_watched, NULL));
  wait_queued(st.c, 2);
  ASSERT_OK(uvgo_go_on(0, mixed_plain, (void *)(intptr_t)1));
  wait_queued(st.c, 3);
  ASSERT_OK(uvgo_ctx_cancel(ctx));
  wait_queued(st.c, 2);
  int one = 1, two = 2;
  ASSERT_OK(uvgo_chan_send(st.c, &one));
  ASSERT_OK(uvgo_chan_send(st.c, &two));
  wait_queued(st.c, 0);
  uvgo_sleep(5); /* the receivers return */
  ASSERT_EQ(st.got[0], 1);
  ASSERT_EQ(st.got[1], 2);
  ASSERT_EQ(st.cancelled_rc, UV_ECANCELED);
  uvgo_ctx_release(ctx);
  ASSERT_OK(uvgo_chan_release(st.c));
}

UVGO_TEST(chan_watched_and_plain_waiters_share_a_queue, unit, 20) {
  for (unsigned workers = 1; workers <= 2; workers++) {
    uvgo_config cfg = {0};
    cfg.workers = workers;
    ASSERT_OK(uvgo_run(&cfg, mixed_main, &workers));
  }
}
