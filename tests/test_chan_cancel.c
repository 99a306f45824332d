/* The cancellation contract, exercised through the internal parker: a
 * waiter claimed with a negative reason and no partner (what the context
 * layer will do) unlinks itself and returns that code, leaving the channel
 * consistent. */
#include "harness.h"

#include "core/chan.h"

static void cancel_first_waiter(uvgo_chan *c, bool recvq, int code) {
  uvgo__chan_lock(c);
  uvgo__waiter *w = recvq ? c->recvq.head : c->sendq.head;
  ASSERT_NOT_NULL(w);
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
  ASSERT_OK(uvgo_go(recv_cancelled, c[0]));
  uvgo_yield();
  cancel_first_waiter(c[0], true, UV_ECANCELED);
  ASSERT_OK(uvgo_go(send_cancelled, c[1]));
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
}

UVGO_TEST(chan_waiter_cancelled_without_partner, unit, 10) {
  uvgo_config cfg = {0};
  cfg.workers = 1;
  ASSERT_OK(uvgo_run(&cfg, cancel_main, NULL));
}
