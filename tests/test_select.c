/* select, uvgo_after, timers and tickers. */
#include "harness.h"

#include "core/chan.h"

#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

static uvgo_config workers(unsigned n) {
  uvgo_config cfg = {0};
  cfg.workers = n;
  return cfg;
}

UVGO_TEST(select_bad_input, unit, 10) {
  ASSERT_ERR(uvgo_select(NULL, 1), UV_EINVAL);
  uvgo_select_case cs[2] = {UVGO_RECV_CASE(NULL, NULL)};
  ASSERT_ERR(uvgo_select(cs, 0), UV_EINVAL);
  ASSERT_ERR(uvgo_select_try(cs, 0), UV_EINVAL);
  ASSERT_ERR(uvgo_select_try(cs, 1), UV_EAGAIN); /* NULL never fires */
  uvgo_chan *c = uvgo_chan_new(sizeof(int), 1);
  cs[0] = UVGO_SEND_CASE(c, NULL);
  ASSERT_ERR(uvgo_select_try(cs, 1), UV_EINVAL);
  cs[0] = (uvgo_select_case){c, 99, NULL, 0};
  ASSERT_ERR(uvgo_select_try(cs, 1), UV_EINVAL);
  int v = 1;
  cs[0] = UVGO_SEND_CASE(uvgo_after(5), &v);
  ASSERT_ERR(uvgo_select_try(cs, 1), UV_EINVAL);
  ASSERT_OK(uvgo_chan_release(c));
}

UVGO_TEST(select_ready_cases_and_closed, unit, 10) {
  uvgo_chan *a = uvgo_chan_new(sizeof(int), 1);
  uvgo_chan *b = uvgo_chan_new(sizeof(int), 1);
  int x = 5, got = 0;
  uvgo_select_case cs[3] = {UVGO_RECV_CASE(a, &got), UVGO_SEND_CASE(b, &x),
                            UVGO_RECV_CASE(NULL, NULL)};
  /* Only the send is ready. */
  ASSERT_EQ(uvgo_select(cs, 3), 1);
  ASSERT_EQ(cs[1].status, 0);
  ASSERT_EQ(uvgo_chan_len(b), 1);
  ASSERT_ERR(uvgo_select_try(cs, 1), UV_EAGAIN);
  ASSERT_OK(uvgo_chan_close(a));
  /* A closed channel is ready for recv, with status and a zeroed elem. */
  got = 7;
  ASSERT_EQ(uvgo_select(cs, 1), 0);
  ASSERT_EQ(cs[0].status, UVGO_ECLOSED);
  ASSERT_EQ(got, 0);
  ASSERT_OK(uvgo_chan_release(a));
  ASSERT_OK(uvgo_chan_release(b));
}

/* Uniform among ready cases: chi-square over 4 always-ready cases. */
UVGO_TEST(select_is_uniform, unit, 30) {
  enum { K = 4 };
  uvgo_chan *c[K];
  uvgo_select_case cs[K];
  for (int i = 0; i < K; i++) {
    c[i] = uvgo_chan_new(0, 0);
    ASSERT_OK(uvgo_chan_close(c[i])); /* always ready */
    cs[i] = UVGO_RECV_CASE(c[i], NULL);
  }
  long n = uvgo_test_scaled(40000, 4000);
  long count[K] = {0};
  for (long i = 0; i < n; i++) {
    int r = uvgo_select(cs, K);
    ASSERT(r >= 0 && r < K);
    count[r]++;
  }
  double expect = (double)n / K, chi = 0;
  for (int i = 0; i < K; i++)
    chi += ((double)count[i] - expect) * ((double)count[i] - expect) / expect;
  /* 3 degrees of freedom: p = 0.001 at 16.3; be generous. */
  if (chi > 30)
    uvgo_test_fail(__FILE__, __LINE__, "chi-square %.1f: %ld %ld %ld %ld", chi,
                   count[0], count[1], count[2], count[3]);
  /* Two ready cases among many never-ready ones (the > 16 path too). */
  uvgo_chan *idle = uvgo_chan_new(0, 0);
  uvgo_select_case big[40];
  for (int i = 0; i < 40; i++)
    big[i] = UVGO_RECV_CASE(idle, NULL);
  big[3] = UVGO_RECV_CASE(c[0], NULL);
  big[31] = UVGO_RECV_CASE(c[1], NULL);
  long hits3 = 0, m = uvgo_test_scaled(4000, 400);
  for (long i = 0; i < m; i++) {
    int r = uvgo_select(big, 40);
    ASSERT(r == 3 || r == 31);
    hits3 += r == 3;
  }
  ASSERT_GT(hits3, m / 4);
  ASSERT_LT(hits3, 3 * m / 4);
  ASSERT_OK(uvgo_chan_release(idle));
  for (int i = 0; i < K; i++)
    ASSERT_OK(uvgo_chan_release(c[i]));
}

/* --- parking select --- */

typedef struct {
  uvgo_chan *a, *b;
} pair;

static void later_send_b(void *arg) {
  pair *p = arg;
  uvgo_sleep(10);
  int v = 77;
  ASSERT_OK(uvgo_chan_send(p->b, &v));
}

static void later_recv_a(void *arg) {
  pair *p = arg;
  uvgo_sleep(10);
  int v = 0;
  ASSERT_OK(uvgo_chan_recv(p->a, &v));
  ASSERT_EQ(v, 11);
}

static void park_main(void *arg) {
  (void)arg;
  pair p = {uvgo_chan_new(sizeof(int), 0), uvgo_chan_new(sizeof(int), 0)};
  for (int round = 0; round < 2; round++) {
    int got = 0;
    uvgo_select_case cs[] = {UVGO_RECV_CASE(p.a, &got),
                             UVGO_RECV_CASE(p.b, &got),
                             UVGO_RECV_CASE(uvgo_after(5000), NULL)};
    ASSERT_OK(uvgo_go(later_send_b, &p));
    ASSERT_EQ(uvgo_select(cs, 3), 1);
    ASSERT_EQ(got, 77);
    /* A parked send case, taken by a receiver (unbuffered handoff). */
    int eleven = 11;
    uvgo_select_case ss[] = {UVGO_SEND_CASE(p.a, &eleven),
                             UVGO_RECV_CASE(p.b, &got)};
    ASSERT_OK(uvgo_go(later_recv_a, &p));
    ASSERT_EQ(uvgo_select(ss, 2), 0);
    /* Nothing left queued on b: a try on it finds no partner. */
    ASSERT_ERR(uvgo_chan_try_send(p.b, &eleven), UV_EAGAIN);
  }
  uvgo_sleep(1);
  ASSERT_OK(uvgo_chan_release(p.a));
  ASSERT_OK(uvgo_chan_release(p.b));
}

UVGO_TEST(select_parks_until_partner, unit, 10) {
  for (unsigned w = 1; w <= 2; w++) {
    uvgo_config cfg = workers(w);
    ASSERT_OK(uvgo_run(&cfg, park_main, NULL));
  }
}

static void closer(void *arg) {
  uvgo_sleep(5);
  ASSERT_OK(uvgo_chan_close(arg));
}

static void close_select_main(void *arg) {
  (void)arg;
  uvgo_chan *c = uvgo_chan_new(sizeof(int), 0);
  int got = 3;
  uvgo_select_case cs[] = {UVGO_RECV_CASE(NULL, NULL), UVGO_RECV_CASE(c, &got)};
  ASSERT_OK(uvgo_go(closer, c));
  ASSERT_EQ(uvgo_select(cs, 2), 1);
  ASSERT_EQ(cs[1].status, UVGO_ECLOSED);
  ASSERT_EQ(got, 0);
  ASSERT_OK(uvgo_chan_release(c));
}

UVGO_TEST(select_woken_by_close, unit, 10) {
  ASSERT_OK(uvgo_run(NULL, close_select_main, NULL));
}

/* A select whose one live case is not case 0, parked: the partner's
 * claim must report that case's index and hand over its value, from this
 * worker and another. */
static void lone_partner(void *arg) {
  uvgo_chan **c = arg;
  long v = 42;
  uvgo_sleep(5); /* mostly after the select parked; either way is right */
  ASSERT_OK(uvgo_chan_send(c[0], &v));
  uvgo_sleep(5);
  ASSERT_OK(uvgo_chan_recv(c[1], &v));
  ASSERT_EQ(v, 43);
}

static void lone_case_main(void *arg) {
  (void)arg;
  for (unsigned on = 0; on < uvgo_worker_count(); on++) {
    uvgo_chan *c[2] = {uvgo_chan_new(sizeof(long), 0),
                       uvgo_chan_new(sizeof(long), 0)};
    ASSERT_OK(uvgo_go_on(on, lone_partner, c));
    long got = 0, out = 43;
    uvgo_select_case rc[] = {UVGO_RECV_CASE(NULL, NULL),
                             UVGO_RECV_CASE(c[0], &got)};
    ASSERT_EQ(uvgo_select(rc, 2), 1);
    ASSERT_EQ(rc[1].status, 0);
    ASSERT_EQ(got, 42);
    uvgo_select_case sc[] = {UVGO_SEND_CASE(NULL, &out),
                             UVGO_RECV_CASE(NULL, NULL),
                             UVGO_SEND_CASE(c[1], &out)};
    ASSERT_EQ(uvgo_select(sc, 3), 2);
    ASSERT_EQ(sc[2].status, 0);
    ASSERT_OK(uvgo_chan_release(c[0]));
    ASSERT_OK(uvgo_chan_release(c[1]));
  }
}

UVGO_TEST(select_one_live_case_reports_its_index, unit, 10) {
  for (unsigned w = 1; w <= 2; w++) {
    uvgo_config cfg = workers(w);
    ASSERT_OK(uvgo_run(&cfg, lone_case_main, NULL));
  }
}

/* --- uvgo_after --- */

static void after_main(void *arg) {
  (void)arg;
  uvgo_chan *c = uvgo_chan_new(sizeof(int), 0);
  uint64_t t0 = uvgo_now_ms();
  uvgo_select_case cs[] = {UVGO_RECV_CASE(c, NULL),
                           UVGO_RECV_CASE(uvgo_after(30), NULL)};
  ASSERT_EQ(uvgo_select(cs, 2), 1);
  /* No upper bound: a loaded machine may run us late; a timeout that
   * never fired ends the case by its own timeout. */
  ASSERT_UGE(uvgo_now_ms() - t0, 30);
  /* Plain recv waits, and delivers the deadline. t0 first: the deadline
   * is counted from the uvgo_after call. */
  t0 = uvgo_now_ms();
  uvgo_chan *after = uvgo_after(20);
  uint64_t when = 0;
  ASSERT_ERR(uvgo_chan_try_recv(after, &when), UV_EAGAIN);
  ASSERT_UEQ(uvgo_chan_len(after), 0);
  ASSERT_OK(uvgo_chan_recv(after, &when));
  ASSERT_UGE(uvgo_now_ms() - t0, 20);
  ASSERT_UGE(uvgo_now_ms(), when);
  /* It stays ready: reusable across selects. */
  ASSERT_OK(uvgo_chan_try_recv(after, NULL));
  cs[1] = UVGO_RECV_CASE(after, NULL);
  ASSERT_EQ(uvgo_select(cs, 2), 1);
  ASSERT_UEQ(uvgo_chan_len(after), 1);
  ASSERT_UEQ(uvgo_chan_cap(after), 1);
  ASSERT_OK(uvgo_chan_release(c));
}

UVGO_TEST(after_times_out_select_and_recv, unit, 10) {
  ASSERT_OK(uvgo_run(NULL, after_main, NULL));
  /* From a plain thread, too. */
  uint64_t t0 = uvgo_now_ms();
  ASSERT_OK(uvgo_chan_recv(uvgo_after(15), NULL));
  ASSERT_UGE(uvgo_now_ms() - t0, 15);
  uvgo_select_case cs[] = {UVGO_RECV_CASE(uvgo_after(10), NULL)};
  ASSERT_EQ(uvgo_select(cs, 1), 0);
}

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (f != NULL && fgets(line, sizeof line, f) != NULL)
    if (strncmp(line, "VmRSS:", 6) == 0)
      kb = strtol(line + 6, NULL, 10);
  if (f != NULL)
    fclose(f);
  return kb;
}

static void after_flat_main(void *arg) {
  (void)arg;
  uvgo_chan *ready = uvgo_chan_new(0, 1);
  long n = uvgo_test_scaled(1000000, 10000);
  long rss0 = rss_kb();
  long alloc0 = uvgo_test_allocation_count();
  long fired = 0;
  for (long i = 0; i < n; i++) {
    ASSERT_OK(uvgo_chan_try_send(ready, NULL));
    uvgo_select_case cs[] = {UVGO_RECV_CASE(uvgo_after(1000), NULL),
                             UVGO_RECV_CASE(ready, NULL)};
    fired += uvgo_select(cs, 2) == 1;
  }
  ASSERT_EQ(fired, n);
  ASSERT_EQ(uvgo_test_allocation_count(), alloc0);
  long grew = rss_kb() - rss0;
  ASSERT_LT(grew, 2048); /* flat: well under 2 MiB for any n */
  ASSERT_OK(uvgo_chan_release(ready));
}

UVGO_TEST(after_in_select_allocates_nothing, unit, 60) {
  ASSERT_OK(uvgo_run(NULL, after_flat_main, NULL));
}

/* --- timers and tickers --- */

static void timer_main(void *arg) {
  (void)arg;
  uvgo_timer *t = NULL;
  uint64_t t0 = uvgo_now_ms(), v = 0;
  ASSERT_OK(uvgo_timer_new(20, &t));
  ASSERT_OK(uvgo_chan_recv(uvgo_timer_chan(t), &v));
  ASSERT_UGE(uvgo_now_ms() - t0, 20);
  ASSERT_UGE(v, t0 + 20);
  ASSERT_EQ(uvgo_timer_stop(t), 0); /* fired already */
  ASSERT_EQ(uvgo_timer_reset(t, 10000), 0);
  ASSERT_EQ(uvgo_timer_stop(t), 1); /* stopped a pending timer */
  uvgo_select_case cs[] = {UVGO_RECV_CASE(uvgo_timer_chan(t), NULL),
                           UVGO_RECV_CASE(uvgo_after(40), NULL)};
  ASSERT_EQ(uvgo_select(cs, 2), 1); /* the stopped timer never fires */
  ASSERT_EQ(uvgo_timer_reset(t, 5), 0);
  cs[1] = UVGO_RECV_CASE(uvgo_after(5000), NULL); /* the old one stays ready */
  ASSERT_EQ(uvgo_select(cs, 2), 0);
  ASSERT_OK(uvgo_timer_free(t));
  ASSERT_OK(uvgo_timer_free(NULL));

  uvgo_ticker *tk = NULL;
  ASSERT_ERR(uvgo_ticker_new(0, &tk), UV_EINVAL);
  /* t0 first: the ticks are counted from the ticker's creation. */
  t0 = uvgo_now_ms();
  ASSERT_OK(uvgo_ticker_new(5, &tk));
  for (int i = 0; i < 4; i++)
    ASSERT_OK(uvgo_chan_recv(uvgo_ticker_chan(tk), NULL));
  ASSERT_UGE(uvgo_now_ms() - t0, 20); /* the fourth tick's deadline */
  /* A slow reader misses ticks: at most one is buffered. */
  uvgo_sleep(30);
  ASSERT_UEQ(uvgo_chan_len(uvgo_ticker_chan(tk)), 1);
  ASSERT_EQ(uvgo_ticker_stop(tk), 1);
  ASSERT_OK(uvgo_chan_recv(uvgo_ticker_chan(tk), NULL));
  ASSERT_EQ(uvgo_ticker_reset(tk, 3), 0);
  ASSERT_OK(uvgo_chan_recv(uvgo_ticker_chan(tk), NULL));
  ASSERT_OK(uvgo_ticker_free(tk));
}

UVGO_TEST(timer_and_ticker, unit, 10) {
  ASSERT_OK(uvgo_run(NULL, timer_main, NULL));
  uvgo_timer *t;
  ASSERT_ERR(uvgo_timer_new(1, &t), UVGO_ENOTTASK);
  ASSERT_ERR(uvgo_timer_new(1, NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_timer_stop(NULL), UV_EINVAL);
}

/* Stop and reset from another worker and a plain thread. */
static void remote_reset(void *arg) {
  uvgo_timer *t = arg;
  ASSERT_EQ(uvgo_timer_reset(t, 10), 1);
}
static void thread_stop(void *arg) {
  uvgo_timer *t = arg;
  ASSERT_EQ(uvgo_timer_stop(t), 1);
}

static void remote_timer_main(void *arg) {
  (void)arg;
  uvgo_timer *t = NULL;
  ASSERT_OK(uvgo_timer_new(100000, &t));
  ASSERT_OK(uvgo_go_on(1, remote_reset, t));
  uint64_t t0 = uvgo_now_ms();
  ASSERT_OK(uvgo_chan_recv(uvgo_timer_chan(t), NULL));
  ASSERT_ULE(uvgo_now_ms() - t0, 5000);
  ASSERT_EQ(uvgo_timer_reset(t, 100000), 0);
  uv_thread_t th;
  ASSERT_OK(uv_thread_create(&th, thread_stop, t));
  uv_thread_join(&th);
  ASSERT_EQ(uvgo_timer_stop(t), 0);
  ASSERT_OK(uvgo_timer_free(t));
}

UVGO_TEST(timer_stop_reset_from_other_threads, unit, 10) {
  uvgo_config cfg = workers(2);
  ASSERT_OK(uvgo_run(&cfg, remote_timer_main, NULL));
}

/* More than 16 cases: the parking path allocates one block (and reports
 * ENOMEM when it cannot); a plain thread parks on its condition variable. */
static void big_sender(void *arg) {
  uvgo_sleep(5);
  int v = 99;
  ASSERT_OK(uvgo_chan_send(arg, &v));
}

static void big_select_main(void *arg) {
  (void)arg;
  enum { N = 40 };
  uvgo_chan *c[N];
  uvgo_select_case cs[N];
  int got = 0;
  for (int i = 0; i < N; i++) {
    c[i] = uvgo_chan_new(sizeof(int), 0);
    cs[i] = UVGO_RECV_CASE(c[i], &got);
  }
  ASSERT_ERR(uvgo_select_try(cs, N), UV_EAGAIN);
  uvgo_test_fail_allocation(1);
  ASSERT_ERR(uvgo_select(cs, N), UV_ENOMEM);
  uvgo_test_fail_allocation(0);
  ASSERT_OK(uvgo_go(big_sender, c[27]));
  ASSERT_EQ(uvgo_select(cs, N), 27);
  ASSERT_EQ(got, 99);
  for (int i = 0; i < N; i++)
    ASSERT_OK(uvgo_chan_release(c[i]));
}

UVGO_TEST(select_many_cases_parks, unit, 10) {
  ASSERT_OK(uvgo_run(NULL, big_select_main, NULL));
}

static void thread_select(void *arg) {
  uvgo_chan **c = arg;
  int got = 0;
  uvgo_select_case cs[] = {UVGO_RECV_CASE(c[0], &got),
                           UVGO_RECV_CASE(c[1], &got)};
  ASSERT_EQ(uvgo_select(cs, 2), 1);
  ASSERT_EQ(got, 5);
  int six = 6;
  uvgo_select_case ss[] = {UVGO_SEND_CASE(c[0], &six),
                           UVGO_RECV_CASE(uvgo_after(10000), NULL)};
  ASSERT_EQ(uvgo_select(ss, 2), 0);
}

static void thread_select_main(void *arg) {
  uvgo_chan **c = arg;
  uvgo_sleep(10); /* let the thread park */
  int five = 5, v = 0;
  ASSERT_OK(uvgo_chan_send(c[1], &five));
  ASSERT_OK(uvgo_chan_recv(c[0], &v));
  ASSERT_EQ(v, 6);
}

UVGO_TEST(select_from_plain_thread, unit, 10) {
  uvgo_chan *c[2] = {uvgo_chan_new(sizeof(int), 0),
                     uvgo_chan_new(sizeof(int), 0)};
  uv_thread_t th;
  ASSERT_OK(uv_thread_create(&th, thread_select, c));
  ASSERT_OK(uvgo_run(NULL, thread_select_main, c));
  uv_thread_join(&th);
  ASSERT_OK(uvgo_chan_release(c[0]));
  ASSERT_OK(uvgo_chan_release(c[1]));
}

/* uvgo_after's cheap clock (the TSC on x86-64, calibrated per thread)
 * never yields a deadline earlier than the precise clock's now + ms, before
 * and after calibration and across re-anchoring. */
UVGO_TEST(after_deadline_never_early, unit, 20) {
  uint64_t start = uvgo_now_ms();
  /* Long enough to cross calibration (0.2 ms), the doubling windows and
   * re-anchoring at the full 100 ms, and enough checks however slowly a
   * loaded machine runs them. */
  for (long checks = 0; checks < 20 || uvgo_now_ms() - start < 300;
       checks++) {
    uint64_t t0 = uvgo_now_ms();
    uvgo_chan *c = uvgo_after(2);
    uint64_t t1 = uvgo_now_ms();
    uint64_t when = 0;
    ASSERT_OK(uvgo_chan_recv(c, &when));
    ASSERT_UGE(when, t0 + 2);
    ASSERT_UGE(uvgo_now_ms(), t0 + 2);
    /* Not absurdly late either (a wrong rate or unit): bracketed by t1,
     * so however long we were descheduled does not count. */
    ASSERT_ULE(when, t1 + 2 + 1000);
    /* Many cheap readings in between, to exercise the calibrated path. */
    for (int i = 0; i < 1000; i++) {
      uint64_t before = uvgo_now_ms();
      /* the tagged encoding of src/core/chan.h: deadline << 1 | 1 */
      uint64_t d = (uint64_t)(uintptr_t)uvgo_after(0) >> 1;
      ASSERT_UGE(d, before);
    }
  }
}

/* An after created, then selected only after its deadline has passed on
 * the precise clock, is ready at once: the select's cached "now" may be
 * stale, so the poll must fall back to a clock read, never park. Beside a
 * never-ready channel, and alone, with both entry points. */
UVGO_TEST(after_past_deadline_ready_at_first_select, unit, 20) {
  uvgo_chan *idle = uvgo_chan_new(0, 0);
  ASSERT(idle != NULL);
  for (int round = 0; round < 20; round++) {
    uint64_t t0 = uvgo_now_ms();
    uvgo_chan *a = uvgo_after((uint64_t)(round % 3));
    uint64_t d = (uint64_t)(uintptr_t)a >> 1; /* chan.h's tag encoding */
    ASSERT_UGE(d, t0 + (uint64_t)(round % 3));
    while (uvgo_now_ms() < d) /* wait on the precise clock, no select */
      sched_yield();
    uvgo_select_case two[2] = {UVGO_RECV_CASE(idle, NULL),
                               UVGO_RECV_CASE(a, NULL)};
    if (round % 2 == 0) {
      ASSERT_EQ(uvgo_select_try(two, 2), 1);
    } else {
      uint64_t when = 0;
      two[1].elem = &when;
      ASSERT_EQ(uvgo_select(two, 2), 1);
      ASSERT_UEQ(when, d);
    }
    uvgo_select_case one[1] = {UVGO_RECV_CASE(a, NULL)};
    ASSERT_EQ(uvgo_select_try(one, 1), 0);
  }
  ASSERT_OK(uvgo_chan_release(idle));
}

/* The two-case fast path picks each ready case about half the time. */
UVGO_TEST(select_two_is_uniform, unit, 30) {
  uvgo_chan *c[2];
  for (int i = 0; i < 2; i++) {
    c[i] = uvgo_chan_new(0, 0);
    ASSERT_OK(uvgo_chan_close(c[i]));
  }
  uvgo_select_case cs[2] = {UVGO_RECV_CASE(c[0], NULL),
                            UVGO_RECV_CASE(c[1], NULL)};
  long n = uvgo_test_scaled(40000, 4000);
  long count[2] = {0, 0};
  for (long i = 0; i < n; i++) {
    int r = (i & 1) ? uvgo_select(cs, 2) : uvgo_select_try(cs, 2);
    ASSERT(r == 0 || r == 1);
    count[r]++;
  }
  /* chi-square, 1 degree of freedom: 20 is far beyond p = 1e-5 */
  double expect = (double)n / 2, chi = 0;
  for (int i = 0; i < 2; i++)
    chi += ((double)count[i] - expect) * ((double)count[i] - expect) / expect;
  ASSERT(chi < 20.0);
  for (int i = 0; i < 2; i++)
    ASSERT_OK(uvgo_chan_release(c[i]));
}

/* A two-case select with one ready case takes it, in either position and
 * beside each kind of case that is not ready: a nil, a fresh uvgo_after,
 * a context's done channel, an empty channel, a full one to send on
 * (select.c peeks at both cases to order them). */
UVGO_TEST(select_two_takes_the_ready_case, unit, 10) {
  uvgo_chan *ready = uvgo_chan_new(sizeof(int), 1);
  uvgo_chan *empty = uvgo_chan_new(sizeof(int), 1);
  uvgo_chan *full = uvgo_chan_new(sizeof(int), 1);
  uvgo_ctx *ctx = NULL;
  ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_background(), &ctx));
  int one = 1, got = 0;
  ASSERT_OK(uvgo_chan_send(full, &one));
  for (int round = 0; round < 200; round++) {
    uvgo_select_case idle;
    switch (round % 5) {
    case 0: idle = UVGO_RECV_CASE(NULL, NULL); break;
    case 1: idle = UVGO_RECV_CASE(uvgo_after(1000), NULL); break;
    case 2: idle = UVGO_RECV_CASE(uvgo_ctx_done(ctx), NULL); break;
    case 3: idle = UVGO_RECV_CASE(empty, &got); break;
    default: idle = UVGO_SEND_CASE(full, &one); break;
    }
    int at = (round / 5) & 1;
    uvgo_select_case cs[2];
    cs[at] = UVGO_RECV_CASE(ready, &got);
    cs[at ^ 1] = idle;
    int v = round;
    ASSERT_OK(uvgo_chan_send(ready, &v));
    got = -1;
    ASSERT_EQ((round & 2) ? uvgo_select_try(cs, 2) : uvgo_select(cs, 2), at);
    ASSERT_EQ(got, round);
    ASSERT_EQ(uvgo_chan_len(ready), 0);
    ASSERT_EQ(uvgo_chan_len(full), 1);
  }
  ASSERT_OK(uvgo_ctx_cancel(ctx));
  ASSERT_OK(uvgo_ctx_release(ctx));
  ASSERT_OK(uvgo_chan_release(ready));
  ASSERT_OK(uvgo_chan_release(empty));
  ASSERT_OK(uvgo_chan_release(full));
}

/* A parking select whose deadline cannot be armed (the timer heap cannot
 * grow) fails with UV_ENOMEM and leaves nothing queued; the channels and
 * the next select work. Sleepers fill the heap one timer at a time until
 * the select's own timer is the one that needs the allocation. */
static void heap_sleeper(void *arg) {
  uvgo_select_case cs[] = {UVGO_RECV_CASE(arg, NULL),
                           UVGO_RECV_CASE(uvgo_after(1000000), NULL)};
  ASSERT_EQ(uvgo_select(cs, 2), 0);
}

static void timer_enomem_main(void *arg) {
  (void)arg;
  uvgo_chan *stop = uvgo_chan_new(0, 0);
  uvgo_chan *idle = uvgo_chan_new(sizeof(int), 0);
  int v = 0;
  bool failed = false;
  for (int i = 0; i < 1100 && !failed; i++) {
    uvgo_select_case cs[] = {UVGO_RECV_CASE(idle, &v),
                             UVGO_RECV_CASE(uvgo_after(1), NULL)};
    uvgo_test_fail_allocation(1);
    int r = uvgo_select(cs, 2);
    uvgo_test_fail_allocation(0);
    if (r == UV_ENOMEM) {
      failed = true;
      ASSERT_NULL(idle->recvq.head);
      break;
    }
    ASSERT_EQ(r, 1);
    ASSERT_OK(uvgo_go(heap_sleeper, stop));
    uvgo_yield();
  }
  ASSERT(failed);
  uvgo_select_case cs[] = {UVGO_RECV_CASE(idle, &v),
                           UVGO_RECV_CASE(uvgo_after(1), NULL)};
  ASSERT_EQ(uvgo_select(cs, 2), 1);
  ASSERT_OK(uvgo_chan_close(stop));
  ASSERT_OK(uvgo_chan_release(idle));
  while (uvgo_task_count(NULL) > 1)
    uvgo_sleep(1);
  ASSERT_OK(uvgo_chan_release(stop));
}

UVGO_TEST(select_deadline_enomem_leaves_nothing_queued, unit, 30) {
  uvgo_config cfg = workers(1);
  ASSERT_OK(uvgo_run(&cfg, timer_enomem_main, NULL));
}
