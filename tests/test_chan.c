/* Channels: Go semantics (FIFO, rendezvous, close and drain), typed
 * handles, plain threads blocking in send/recv, and bad input. */
#include "harness.h"

#include <stdatomic.h>
#include <sys/wait.h>

#include "core/chan.h" /* to see who is queued on a channel */

static uvgo_config one_worker(unsigned n) {
  uvgo_config cfg = {0};
  cfg.workers = n;
  return cfg;
}

UVGO_TEST(chan_new_sizes, unit, 10) {
  ASSERT_NULL(uvgo_chan_new(UVGO_CHAN_MAX_ELEM + 1, 1));
  ASSERT_NULL(uvgo_chan_new(4, UVGO_CHAN_MAX_CAP + 1));
  ASSERT_NULL(uvgo_chan_new(SIZE_MAX, SIZE_MAX));
  uvgo_chan *c = uvgo_chan_new(0, 0);
  ASSERT_NOT_NULL(c);
  ASSERT_UEQ(uvgo_chan_cap(c), 0);
  ASSERT_UEQ(uvgo_chan_elem_size(c), 0);
  ASSERT_OK(uvgo_chan_release(c));
  uvgo_test_fail_allocation(1);
  ASSERT_NULL(uvgo_chan_new(8, 8));
}

UVGO_TEST(chan_buffered_fifo_len_cap, unit, 10) {
  uvgo_chan *c = uvgo_chan_new(sizeof(int), 3);
  ASSERT_UEQ(uvgo_chan_cap(c), 3);
  for (int i = 1; i <= 3; i++)
    ASSERT_OK(uvgo_chan_try_send(c, &i));
  int four = 4;
  ASSERT_ERR(uvgo_chan_try_send(c, &four), UV_EAGAIN);
  ASSERT_UEQ(uvgo_chan_len(c), 3);
  int v = 0;
  ASSERT_OK(uvgo_chan_try_recv(c, &v));
  ASSERT_EQ(v, 1);
  ASSERT_OK(uvgo_chan_try_send(c, &four)); /* wraps around the ring */
  for (int want = 2; want <= 4; want++) {
    ASSERT_OK(uvgo_chan_try_recv(c, &v));
    ASSERT_EQ(v, want);
  }
  ASSERT_ERR(uvgo_chan_try_recv(c, &v), UV_EAGAIN);
  ASSERT_UEQ(uvgo_chan_len(c), 0);
  ASSERT_OK(uvgo_chan_release(c));
}

UVGO_TEST(chan_closed_drains_then_reports, unit, 10) {
  uvgo_chan *c = uvgo_chan_new(sizeof(int), 2);
  int a = 7, b = 8, v = -1;
  ASSERT_OK(uvgo_chan_send(c, &a));
  ASSERT_OK(uvgo_chan_send(c, &b));
  ASSERT_OK(uvgo_chan_close(c));
  ASSERT_ERR(uvgo_chan_close(c), UVGO_ECLOSED);
  ASSERT_ERR(uvgo_chan_send(c, &a), UVGO_ECLOSED);
  ASSERT_ERR(uvgo_chan_try_send(c, &a), UVGO_ECLOSED);
  ASSERT_OK(uvgo_chan_recv(c, &v));
  ASSERT_EQ(v, 7);
  ASSERT_OK(uvgo_chan_recv(c, NULL)); /* discard */
  ASSERT_ERR(uvgo_chan_recv(c, &v), UVGO_ECLOSED);
  ASSERT_EQ(v, 0);
  v = 5;
  ASSERT_ERR(uvgo_chan_try_recv(c, &v), UVGO_ECLOSED);
  ASSERT_EQ(v, 0);
  ASSERT_OK(uvgo_chan_release(c));
}

UVGO_TEST(chan_bad_input, unit, 10) {
  int v = 0;
  ASSERT_ERR(uvgo_chan_send(NULL, &v), UV_EINVAL);
  ASSERT_ERR(uvgo_chan_recv(NULL, &v), UV_EINVAL);
  ASSERT_ERR(uvgo_chan_try_send(NULL, &v), UV_EINVAL);
  ASSERT_ERR(uvgo_chan_try_recv(NULL, &v), UV_EINVAL);
  ASSERT_ERR(uvgo_chan_close(NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_chan_retain(NULL), UV_EINVAL);
  ASSERT_OK(uvgo_chan_release(NULL));
  ASSERT_UEQ(uvgo_chan_len(NULL), 0);
  ASSERT_UEQ(uvgo_chan_cap(NULL), 0);
  uvgo_chan *c = uvgo_chan_new(sizeof(int), 1);
  ASSERT_ERR(uvgo_chan_send(c, NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_chan_try_send(c, NULL), UV_EINVAL);
  uvgo_chan *sig = uvgo_chan_new(0, 1);
  ASSERT_OK(uvgo_chan_send(sig, NULL)); /* a signal needs no element */
  ASSERT_OK(uvgo_chan_recv(sig, NULL));
  /* uvgo_after channels are receive-only pseudo channels. */
  uvgo_chan *after = uvgo_after(10);
  ASSERT_ERR(uvgo_chan_send(after, &v), UV_EINVAL);
  ASSERT_ERR(uvgo_chan_close(after), UV_EINVAL);
  ASSERT_ERR(uvgo_chan_release(after), UV_EINVAL);
  ASSERT_ERR(uvgo_chan_retain(after), UV_EINVAL);
  ASSERT_OK(uvgo_chan_retain(c));
  ASSERT_OK(uvgo_chan_release(c));
  ASSERT_OK(uvgo_chan_release(c));
  ASSERT_OK(uvgo_chan_release(sig));
}

/* --- unbuffered rendezvous --- */

static _Atomic int received;

typedef struct {
  uvgo_chan *c;
  uvgo_chan *gate; /* closed by main once it has seen nobody wait */
} rendezvous;

static void late_receiver(void *arg) {
  rendezvous *r = arg;
  /* With 2 workers another worker may run us at once: hold back until
   * main's try_send has found nobody waiting. */
  ASSERT_ERR(uvgo_chan_recv(r->gate, NULL), UVGO_ECLOSED);
  ASSERT_OK(uvgo_sleep(20));
  int v = 0;
  atomic_store(&received, 1);
  ASSERT_OK(uvgo_chan_recv(r->c, &v));
  ASSERT_EQ(v, 42);
}

static void rendezvous_main(void *arg) {
  rendezvous *r = arg;
  /* Before the receiver exists, so its 20 ms sleep lies inside t0..now. */
  uint64_t t0 = uvgo_now_ms();
  ASSERT_OK(uvgo_go(late_receiver, r));
  int v = 42;
  ASSERT_ERR(uvgo_chan_try_send(r->c, &v), UV_EAGAIN); /* nobody waits yet */
  ASSERT_OK(uvgo_chan_close(r->gate));
  ASSERT_OK(uvgo_chan_send(r->c, &v));
  /* The send returned only after the receiver got there. */
  ASSERT_EQ(atomic_load(&received), 1);
  ASSERT_UGE(uvgo_now_ms() - t0, 20);
}

UVGO_TEST(chan_unbuffered_send_waits_for_receiver, unit, 10) {
  for (unsigned w = 1; w <= 2; w++) {
    atomic_store(&received, 0);
    rendezvous r = {.c = uvgo_chan_new(sizeof(int), 0),
                    .gate = uvgo_chan_new(0, 0)};
    uvgo_config cfg = one_worker(w);
    ASSERT_OK(uvgo_run(&cfg, rendezvous_main, &r));
    /* uvgo_run waited for the receiver: nobody is inside a call on
     * either channel any more. */
    ASSERT_OK(uvgo_chan_release(r.c));
    ASSERT_OK(uvgo_chan_release(r.gate));
  }
}

/* --- FIFO among waiters --- */

typedef struct {
  uvgo_chan *c;
  int id;
  int *log;
  _Atomic int *pos;
} fifo_arg;

static void fifo_receiver(void *arg) {
  fifo_arg *a = arg;
  int v = 0;
  ASSERT_OK(uvgo_chan_recv(a->c, &v));
  a->log[atomic_fetch_add(a->pos, 1)] = a->id * 100 + v;
}

static void fifo_sender(void *arg) {
  fifo_arg *a = arg;
  int v = a->id;
  ASSERT_OK(uvgo_chan_send(a->c, &v));
}

static void fifo_main(void *arg) {
  (void)arg;
  for (size_t cap = 0; cap <= 1; cap++) {
    uvgo_chan *c = uvgo_chan_new(sizeof(int), cap);
    int log[4] = {0};
    _Atomic int pos = 0;
    fifo_arg args[4];
    /* Receivers queue in order 1, 2, 3 (each parks before the next runs). */
    for (int i = 0; i < 3; i++) {
      args[i] = (fifo_arg){c, i + 1, log, &pos};
      ASSERT_OK(uvgo_go(fifo_receiver, &args[i]));
      uvgo_yield();
    }
    for (int v = 1; v <= 3; v++)
      ASSERT_OK(uvgo_chan_send(c, &v));
    while (atomic_load(&pos) < 3)
      uvgo_yield();
    ASSERT_EQ(log[0], 101);
    ASSERT_EQ(log[1], 202);
    ASSERT_EQ(log[2], 303);
    /* Senders queue in order; values come out in that order (after the
     * buffered one for cap 1). */
    int first = 0;
    if (cap == 1) {
      int z = 0;
      ASSERT_OK(uvgo_chan_send(c, &z));
    }
    for (int i = 0; i < 3; i++) {
      args[i] = (fifo_arg){c, i + 1, log, &pos};
      ASSERT_OK(uvgo_go(fifo_sender, &args[i]));
      uvgo_yield();
    }
    if (cap == 1) {
      ASSERT_OK(uvgo_chan_recv(c, &first));
      ASSERT_EQ(first, 0);
    }
    for (int want = 1; want <= 3; want++) {
      int v = 0;
      ASSERT_OK(uvgo_chan_recv(c, &v));
      ASSERT_EQ(v, want);
    }
    uvgo_yield();
    ASSERT_OK(uvgo_chan_release(c));
  }
}

UVGO_TEST(chan_waiters_are_fifo, unit, 10) {
  uvgo_config cfg = one_worker(1);
  ASSERT_OK(uvgo_run(&cfg, fifo_main, NULL));
}

/* --- close wakes everyone --- */

static _Atomic int closed_seen;

static void blocked_recv(void *arg) {
  int v = 9;
  ASSERT_ERR(uvgo_chan_recv(arg, &v), UVGO_ECLOSED);
  ASSERT_EQ(v, 0);
  atomic_fetch_add(&closed_seen, 1);
}
static void blocked_send(void *arg) {
  int v = 9;
  ASSERT_ERR(uvgo_chan_send(arg, &v), UVGO_ECLOSED);
  atomic_fetch_add(&closed_seen, 1);
}

/* Waiters queued on one side of c now. */
static int queued(uvgo_chan *c, bool recvq) {
  int n = 0;
  uvgo__chan_lock(c);
  for (uvgo__waiter *w = recvq ? c->recvq.head : c->sendq.head; w != NULL;
       w = w->next)
    n++;
  uvgo__chan_unlock(c);
  return n;
}

static void close_main(void *arg) {
  (void)arg;
  uvgo_chan *r = uvgo_chan_new(sizeof(int), 0);
  uvgo_chan *s = uvgo_chan_new(sizeof(int), 0);
  for (int i = 0; i < 5; i++) {
    ASSERT_OK(uvgo_go(blocked_recv, r));
    ASSERT_OK(uvgo_go(blocked_send, s));
  }
  /* Until all ten are blocked: stolen by another worker, they may not
   * have run yet however long we sleep. */
  while (queued(r, true) < 5 || queued(s, false) < 5)
    uvgo_yield();
  /* Last release with blocked waiters: misuse, nothing changes. */
  ASSERT_ERR(uvgo_chan_release(r), UVGO_EWAITERS);
  ASSERT_OK(uvgo_chan_close(r));
  ASSERT_OK(uvgo_chan_close(s));
  while (atomic_load(&closed_seen) < 10)
    uvgo_yield();
  ASSERT_OK(uvgo_chan_release(r));
  ASSERT_OK(uvgo_chan_release(s));
}

UVGO_TEST(chan_close_wakes_all_waiters, unit, 10) {
  for (unsigned w = 1; w <= 3; w++) {
    atomic_store(&closed_seen, 0);
    uvgo_config cfg = one_worker(w);
    ASSERT_OK(uvgo_run(&cfg, close_main, NULL));
  }
}

/* A close waking many waiters homed on several workers (handed over in
 * batches per home worker), with plain threads among the waiters, closed
 * by a task and by a plain thread: every waiter wakes exactly once. */
static void close_from_thread(void *arg) { ASSERT_OK(uvgo_chan_close(arg)); }

static void thread_blocked_recv(void *arg) { blocked_recv(arg); }

static void many_close_main(void *arg) {
  unsigned workers = *(unsigned *)arg;
  enum { TASKS = 300, THREADS = 2 };
  for (int by_thread = 0; by_thread < 2; by_thread++) {
    atomic_store(&closed_seen, 0);
    uvgo_chan *c = uvgo_chan_new(sizeof(int), 0);
    for (int i = 0; i < TASKS; i++)
      ASSERT_OK(uvgo_go_on((unsigned)(i / 7) % workers, blocked_recv, c));
    uv_thread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
      ASSERT_OK(uv_thread_create(&th[i], thread_blocked_recv, c));
    while (queued(c, true) < TASKS + THREADS)
      uvgo_sleep(1);
    if (by_thread) {
      uv_thread_t closer;
      ASSERT_OK(uv_thread_create(&closer, close_from_thread, c));
      uv_thread_join(&closer);
    } else {
      ASSERT_OK(uvgo_chan_close(c));
    }
    for (int i = 0; i < THREADS; i++)
      uv_thread_join(&th[i]);
    while (atomic_load(&closed_seen) < TASKS + THREADS)
      uvgo_sleep(1);
    uvgo_sleep(2);
    ASSERT_EQ(atomic_load(&closed_seen), TASKS + THREADS);
    ASSERT_OK(uvgo_chan_release(c));
  }
}

UVGO_TEST(chan_close_wakes_many_across_workers, unit, 30) {
  for (unsigned w = 1; w <= 3; w++) {
    uvgo_config cfg = one_worker(w);
    ASSERT_OK(uvgo_run(&cfg, many_close_main, &w));
  }
}

/* --- plain threads --- */

typedef struct {
  uvgo_chan *c;
  long n;
} thread_arg;

static void thread_sender(void *arg) {
  thread_arg *a = arg;
  for (long i = 0; i < a->n; i++)
    ASSERT_OK(uvgo_chan_send(a->c, &i));
  ASSERT_OK(uvgo_chan_close(a->c));
}

static void thread_receiver(void *arg) {
  thread_arg *a = arg;
  long v, want = 0;
  while (uvgo_chan_recv(a->c, &v) == 0)
    ASSERT_EQ(v, want++);
  ASSERT_EQ(want, a->n);
}

static void foreign_main(void *arg) {
  thread_arg *a = arg;
  /* Thread sends, task receives; then task sends, thread receives. */
  long v, want = 0;
  while (uvgo_chan_recv(a[0].c, &v) == 0)
    ASSERT_EQ(v, want++);
  ASSERT_EQ(want, a[0].n);
  for (long i = 0; i < a[1].n; i++)
    ASSERT_OK(uvgo_chan_send(a[1].c, &i));
  ASSERT_OK(uvgo_chan_close(a[1].c));
}

UVGO_TEST(chan_plain_threads_block, unit, 30) {
  long n = uvgo_test_scaled(20000, 100);
  for (size_t cap = 0; cap <= 4; cap += 4) {
    thread_arg a[2] = {{uvgo_chan_new(sizeof(long), cap), n},
                       {uvgo_chan_new(sizeof(long), cap), n}};
    uv_thread_t t1, t2;
    ASSERT_OK(uv_thread_create(&t1, thread_sender, &a[0]));
    ASSERT_OK(uv_thread_create(&t2, thread_receiver, &a[1]));
    uvgo_config cfg = one_worker(2);
    ASSERT_OK(uvgo_run(&cfg, foreign_main, a));
    uv_thread_join(&t1);
    uv_thread_join(&t2);
    /* And two plain threads with no runtime at all. */
    ASSERT_OK(uvgo_chan_release(a[0].c));
    a[0].c = uvgo_chan_new(sizeof(long), cap);
    ASSERT_OK(uv_thread_create(&t1, thread_sender, &a[0]));
    ASSERT_OK(uv_thread_create(&t2, thread_receiver, &a[0]));
    uv_thread_join(&t1);
    uv_thread_join(&t2);
    ASSERT_OK(uvgo_chan_release(a[0].c));
    ASSERT_OK(uvgo_chan_release(a[1].c));
  }
}

/* --- typed channels --- */

UVGO_CHAN_DECLARE(int_chan, int)

static void produce(int_chan_send_only out) {
  for (int i = 0; i < 5; i++)
    ASSERT_OK(int_chan_send(out, i));
  ASSERT_OK(int_chan_close(out));
}
static void produce_task(void *arg) { produce(*(int_chan_send_only *)arg); }

static void typed_main(void *arg) {
  int *sum = arg;
  int_chan ch = int_chan_new(0);
  int_chan_send_only out = int_chan_sender(ch);
  ASSERT_OK(uvgo_go_copy(produce_task, &out, sizeof out));
  int_chan_recv_only in = int_chan_receiver(ch);
  int v;
  while (int_chan_recv(in, &v) == 0)
    *sum += v;
  ASSERT_OK(int_chan_release(ch));
}

UVGO_TEST(chan_typed_pipeline, unit, 10) {
  int sum = 0;
  ASSERT_OK(uvgo_run(NULL, typed_main, &sum));
  ASSERT_EQ(sum, 10);
}

/* --- release misuse under UVGO_STRICT --- */

static void double_release(void) {
  uvgo_chan *c = uvgo_chan_new(sizeof(int), 1);
  uvgo_chan_close(c);
  uvgo_chan_release(c);
  uvgo_chan_release(c); /* must abort with a message, not touch freed memory */
  fprintf(stderr, "survived\n");
}
UVGO_TEST_HELPER(chan_double_release) {
  exit(uvgo_test_run_as_case("double_release", double_release));
}

UVGO_TEST(chan_double_release_strict_aborts, unit, 10) {
  char out[4096];
  int status = uvgo_test_spawn_helper("chan_double_release", "UVGO_STRICT=1",
                                      out, sizeof out);
  ASSERT(WIFSIGNALED(status));
  ASSERT_EQ(WTERMSIG(status), SIGABRT);
  ASSERT_STR_CONTAINS(out, "uvgo_chan_release");
  ASSERT_STR_CONTAINS(out, "UVGO_ERELEASED");
}

static void strict_send_closed(void) {
  uvgo_chan *c = uvgo_chan_new(sizeof(int), 1);
  uvgo_chan_close(c);
  int v = 1;
  uvgo_chan_send(c, &v);
  fprintf(stderr, "survived\n");
}
UVGO_TEST_HELPER(chan_strict_send_closed) {
  exit(uvgo_test_run_as_case("send_closed", strict_send_closed));
}

UVGO_TEST(chan_send_on_closed_strict_aborts, unit, 10) {
  char out[4096];
  int status = uvgo_test_spawn_helper("chan_strict_send_closed",
                                      "UVGO_STRICT=1", out, sizeof out);
  ASSERT(WIFSIGNALED(status));
  ASSERT_STR_CONTAINS(out, "send on a closed channel");
}
