/* The callback side (uvgo/embed.h): a libuv program's own callbacks spawn
 * tasks and get their results, receive and send by callback, cancel through
 * contexts — every callback on the host loop's thread, never in a task. */
#include "harness.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

/* The host program of every case: a loop, its runtime, the thread that
 * runs uv_run. */
static struct {
  uv_loop_t loop;
  uvgo_rt *rt;
  pthread_t thread;
  int callbacks;   /* callbacks seen, each checked to be on the host */
} host;

static void host_start(unsigned workers) {
  memset(&host, 0, sizeof host);
  host.thread = pthread_self();
  ASSERT_OK(uv_loop_init(&host.loop));
  uvgo_config cfg = {0};
  cfg.workers = workers;
  ASSERT_OK(uvgo_rt_attach(&host.loop, &cfg, &host.rt));
}

/* The documented shutdown order: uv_run has returned (nothing pending),
 * uvgo_rt_close, one more uv_run, uv_loop_close returns 0. */
static void host_finish(void) {
  ASSERT_UEQ(uvgo_embed_pending(host.rt), 0);
  ASSERT_OK(uvgo_rt_close(host.rt));
  ASSERT_OK(uv_run(&host.loop, UV_RUN_DEFAULT));
  ASSERT_OK(uv_loop_close(&host.loop));
}

/* Every callback of this layer: the host's thread, not a task. */
static void on_host(void) {
  ASSERT(pthread_equal(pthread_self(), host.thread));
  ASSERT_NULL(uvgo_self());
  ASSERT_EQ(uvgo_worker_id(), 0);
  host.callbacks++;
}

/* --- spawn with a completion callback --- */

typedef struct {
  int in;
  int out;
  int done_result;
  int done_calls;
  int ran_on;
} job;

static int double_it(void *arg) {
  job *j = arg;
  ASSERT_NOT_NULL(uvgo_self());
  ASSERT_OK(uvgo_sleep((uint64_t)(j->in % 3)));
  j->ran_on = uvgo_worker_id();
  j->out = j->in * 2;
  return j->in + 1000;
}

static void job_done(int result, void *arg) {
  on_host();
  job *j = arg;
  j->done_result = result;
  j->done_calls++;
}

UVGO_TEST(embed_spawn_calls_back_on_host_thread, embed, 20) {
  host_start(1);
  job jobs[16];
  memset(jobs, 0, sizeof jobs);
  for (int i = 0; i < 16; i++) {
    jobs[i].in = i;
    ASSERT_OK(uvgo_embed_spawn(host.rt, NULL, double_it, &jobs[i], job_done));
  }
  ASSERT_UEQ(uvgo_embed_pending(host.rt), 16);
  /* Pending operations keep uv_run going; it returns once all are done. */
  ASSERT_OK(uv_run(&host.loop, UV_RUN_DEFAULT));
  for (int i = 0; i < 16; i++) {
    ASSERT_EQ(jobs[i].done_calls, 1);
    ASSERT_EQ(jobs[i].done_result, i + 1000);
    ASSERT_EQ(jobs[i].out, 2 * i);
  }
  ASSERT_EQ(host.callbacks, 16);
  host_finish();
}

/* A callback started a task under a context; a later callback (a host
 * timer) cancels it, and the done callback sees what the task returned. */
static int wait_long(void *arg) {
  (void)arg;
  return uvgo_sleep(600000);
}
static uvgo_ctx *cancel_me;
static void on_cancel_timer(uv_timer_t *t) {
  ASSERT_OK(uvgo_ctx_cancel(cancel_me));
  uv_close((uv_handle_t *)t, NULL);
}

UVGO_TEST(embed_spawn_cancelled_through_context, embed, 20) {
  host_start(1);
  ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_background(), &cancel_me));
  job j = {0};
  ASSERT_OK(uvgo_embed_spawn(host.rt, cancel_me, wait_long, &j, job_done));
  uv_timer_t timer;
  ASSERT_OK(uv_timer_init(&host.loop, &timer));
  ASSERT_OK(uv_timer_start(&timer, on_cancel_timer, 5, 0));
  ASSERT_OK(uv_run(&host.loop, UV_RUN_DEFAULT));
  ASSERT_EQ(j.done_calls, 1);
  ASSERT_EQ(j.done_result, UV_ECANCELED);
  /* A spawn under an ended context is refused at once. */
  ASSERT_ERR(uvgo_embed_spawn(host.rt, cancel_me, wait_long, &j, job_done),
             UV_ECANCELED);
  ASSERT_OK(uvgo_ctx_release(cancel_me));
  host_finish();
}

/* --- receive by callback --- */

typedef struct {
  int values[256];
  int n;
  int final_status;
  int finals;
  int stop_after; /* stop from inside the callback after this many */
  uvgo_embed_recv *handle;
} recv_log;

static void log_recv(uvgo_embed_recv *r, int status, const void *value,
                     void *arg) {
  on_host();
  recv_log *log = arg;
  if (status == 0) {
    ASSERT_NOT_NULL(value);
    ASSERT_LT(log->n, 256);
    log->values[log->n++] = *(const int *)value;
    if (log->stop_after > 0 && log->n == log->stop_after)
      ASSERT_OK(uvgo_embed_recv_stop(r));
    return;
  }
  ASSERT_NULL(value);
  log->final_status = status;
  log->finals++;
}

typedef struct {
  uvgo_chan *ch;
  int count;
} producer;

/* Sends 0..count-1 and closes; holds its own reference. */
static void produce(void *arg) {
  producer *p = arg;
  for (int i = 0; i < p->count; i++)
    ASSERT_OK(uvgo_chan_send(p->ch, &i));
  ASSERT_OK(uvgo_chan_close(p->ch));
  ASSERT_OK(uvgo_chan_release(p->ch));
}

UVGO_TEST(embed_recv_each_until_closed, embed, 20) {
  host_start(1);
  uvgo_chan *ch = uvgo_chan_new(sizeof(int), 0);
  ASSERT_NOT_NULL(ch);
  recv_log log;
  memset(&log, 0, sizeof log);
  ASSERT_OK(uvgo_embed_recv_each(host.rt, NULL, ch, log_recv, &log,
                                 &log.handle));
  ASSERT_NOT_NULL(log.handle);
  producer p = {ch, 200};
  ASSERT_OK(uvgo_chan_retain(ch));
  ASSERT_OK(uvgo_rt_spawn(host.rt, produce, &p));
  /* The host drops its own reference at once: the receive holds one, so
   * the channel stays valid under it and is freed after the final
   * callback (the harness's leak check sees it freed). */
  ASSERT_OK(uvgo_chan_release(ch));
  ASSERT_OK(uv_run(&host.loop, UV_RUN_DEFAULT));
  ASSERT_EQ(log.n, 200);
  for (int i = 0; i < 200; i++)
    ASSERT_EQ(log.values[i], i);
  ASSERT_EQ(log.finals, 1);
  ASSERT_EQ(log.final_status, UVGO_ECLOSED);
  host_finish();
}

UVGO_TEST(embed_recv_one_value_then_timeout, embed, 20) {
  host_start(1);
  uvgo_chan *ch = uvgo_chan_new(sizeof(int), 4);
  int v = 42;
  ASSERT_OK(uvgo_chan_try_send(ch, &v));
  recv_log first, second;
  memset(&first, 0, sizeof first);
  memset(&second, 0, sizeof second);
  /* One value: a single callback, with it (and that callback is final). */
  ASSERT_OK(uvgo_embed_recv_one(host.rt, NULL, ch, log_recv, &first, NULL));
  ASSERT_OK(uv_run(&host.loop, UV_RUN_DEFAULT));
  ASSERT_EQ(first.n, 1);
  ASSERT_EQ(first.values[0], 42);
  ASSERT_EQ(first.finals, 0);
  /* Nothing to receive: the context's deadline ends it. */
  uvgo_ctx *ctx;
  ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_background(), 20, &ctx));
  ASSERT_OK(uvgo_embed_recv_one(host.rt, ctx, ch, log_recv, &second, NULL));
  ASSERT_OK(uvgo_ctx_release(ctx)); /* the receive holds its own */
  ASSERT_OK(uv_run(&host.loop, UV_RUN_DEFAULT));
  ASSERT_EQ(second.n, 0);
  ASSERT_EQ(second.finals, 1);
  ASSERT_EQ(second.final_status, UV_ETIMEDOUT);
  ASSERT_OK(uvgo_chan_release(ch));
  host_finish();
}

/* Stop from inside the callback: one value is in flight at a time, so
 * exactly the values delivered were taken; the rest stay in the channel. */
UVGO_TEST(embed_recv_stop_inside_callback_takes_no_more, embed, 20) {
  host_start(1);
  uvgo_chan *ch = uvgo_chan_new(sizeof(int), 8);
  for (int i = 0; i < 8; i++)
    ASSERT_OK(uvgo_chan_try_send(ch, &i));
  recv_log log;
  memset(&log, 0, sizeof log);
  log.stop_after = 3;
  ASSERT_OK(uvgo_embed_recv_each(host.rt, NULL, ch, log_recv, &log,
                                 &log.handle));
  ASSERT_OK(uv_run(&host.loop, UV_RUN_DEFAULT));
  ASSERT_EQ(log.n, 3);
  ASSERT_EQ(log.values[2], 2);
  ASSERT_EQ(log.finals, 1);
  ASSERT_EQ(log.final_status, UV_ECANCELED);
  ASSERT_UEQ(uvgo_chan_len(ch), 5);
  int next = -1;
  ASSERT_OK(uvgo_chan_try_recv(ch, &next));
  ASSERT_EQ(next, 3);
  ASSERT_OK(uvgo_chan_release(ch));
  host_finish();
}

/* Closing the runtime while a receive is pending is refused (UV_EBUSY,
 * nothing changes); stop it, let the loop deliver its final callback, then
 * the close goes through. The receive's reference kept the channel alive
 * after its owner released it. */
static recv_log busy_log;
static void on_stop_timer(uv_timer_t *t) {
  on_host();
  ASSERT_ERR(uvgo_rt_close(host.rt), UV_EBUSY);
  ASSERT_OK(uvgo_embed_recv_stop(busy_log.handle));
  ASSERT_OK(uvgo_embed_recv_stop(busy_log.handle)); /* idempotent */
  ASSERT_EQ(busy_log.finals, 0); /* never from inside the call */
  uv_close((uv_handle_t *)t, NULL);
}

UVGO_TEST(embed_close_refused_while_receive_pending, embed, 20) {
  host_start(1);
  uvgo_chan *ch = uvgo_chan_new(sizeof(int), 0);
  memset(&busy_log, 0, sizeof busy_log);
  ASSERT_OK(uvgo_embed_recv_each(host.rt, NULL, ch, log_recv, &busy_log,
                                 &busy_log.handle));
  ASSERT_OK(uvgo_chan_release(ch)); /* the receive holds the last one */
  ASSERT_ERR(uvgo_rt_close(host.rt), UV_EBUSY);
  uv_timer_t timer;
  ASSERT_OK(uv_timer_init(&host.loop, &timer));
  ASSERT_OK(uv_timer_start(&timer, on_stop_timer, 5, 0));
  ASSERT_OK(uv_run(&host.loop, UV_RUN_DEFAULT));
  ASSERT_EQ(busy_log.finals, 1);
  ASSERT_EQ(busy_log.final_status, UV_ECANCELED);
  ASSERT_EQ(busy_log.n, 0);
  host_finish();
}

/* --- send from a callback --- */

typedef struct {
  int order[2048];
  int n;
  int statuses[8];
} send_log;
static send_log slog;

static void on_sent(int status, void *arg) {
  on_host();
  int idx = (int)(intptr_t)arg;
  ASSERT_LT(slog.n, 2048);
  slog.order[slog.n++] = idx;
  if (status == 0)
    slog.statuses[0]++;
  else if (status == UV_ECANCELED)
    slog.statuses[1]++;
  else if (status == UVGO_ECLOSED)
    slog.statuses[2]++;
  else
    slog.statuses[3]++;
}

typedef struct {
  uvgo_chan *ch;
  int expect;
  int got;
  bool in_order;
} consumer;

static void consume(void *arg) {
  consumer *c = arg;
  c->in_order = true;
  for (int i = 0; i < c->expect; i++) {
    int v;
    ASSERT_OK(uvgo_chan_recv(c->ch, &v));
    if (v != i)
      c->in_order = false;
    c->got++;
    if (i % 7 == 0)
      ASSERT_OK(uvgo_sleep(1)); /* a slow reader: the sends queue */
  }
}

UVGO_TEST(embed_send_queues_in_call_order, embed, 20) {
  host_start(1);
  memset(&slog, 0, sizeof slog);
  uvgo_chan *ch = uvgo_chan_new(sizeof(int), 2);
  consumer c = {ch, 100, 0, false};
  ASSERT_OK(uvgo_rt_spawn(host.rt, consume, &c));
  /* The first two fit in the buffer; the rest wait in order. */
  for (int i = 0; i < 100; i++)
    ASSERT_OK(uvgo_embed_send(host.rt, NULL, ch, &i, on_sent,
                              (void *)(intptr_t)i));
  ASSERT_EQ(slog.n, 0); /* callbacks come later, never from the call */
  ASSERT_UEQ(uvgo_embed_pending(host.rt), 100);
  ASSERT_OK(uv_run(&host.loop, UV_RUN_DEFAULT));
  ASSERT_EQ(c.got, 100);
  ASSERT(c.in_order);
  ASSERT_EQ(slog.n, 100);
  ASSERT_EQ(slog.statuses[0], 100);
  for (int i = 0; i < 100; i++)
    ASSERT_EQ(slog.order[i], i);
  ASSERT_OK(uvgo_chan_release(ch));
  host_finish();
}

/* The queue is bounded; a context ends what waits in it, and a close of
 * the channel fails what is queued (misuse, as Go's send on a closed
 * channel panics). */
UVGO_TEST(embed_send_bound_cancel_and_close, embed, 30) {
  host_start(1);
  memset(&slog, 0, sizeof slog);
  uvgo_chan *ch = uvgo_chan_new(sizeof(int), 0); /* nobody receives */
  uvgo_ctx *ctx;
  ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_background(), &ctx));
  for (int i = 0; i < UVGO_EMBED_SEND_QUEUE_MAX; i++)
    ASSERT_OK(uvgo_embed_send(host.rt, ctx, ch, &i, on_sent,
                              (void *)(intptr_t)i));
  int extra = -1;
  ASSERT_ERR(uvgo_embed_send(host.rt, ctx, ch, &extra, on_sent, NULL),
             UV_ENOBUFS);
  ASSERT_OK(uvgo_ctx_cancel(ctx));
  ASSERT_ERR(uvgo_embed_send(host.rt, ctx, ch, &extra, on_sent, NULL),
             UV_ECANCELED);
  ASSERT_OK(uvgo_ctx_release(ctx));
  ASSERT_OK(uv_run(&host.loop, UV_RUN_DEFAULT));
  ASSERT_EQ(slog.n, UVGO_EMBED_SEND_QUEUE_MAX);
  ASSERT_EQ(slog.statuses[1], UVGO_EMBED_SEND_QUEUE_MAX);
  for (int i = 0; i < UVGO_EMBED_SEND_QUEUE_MAX; i++)
    ASSERT_EQ(slog.order[i], i);
  ASSERT_UEQ(uvgo_chan_len(ch), 0);

  /* Queued without a context, then the channel is closed. */
  memset(&slog, 0, sizeof slog);
  for (int i = 0; i < 3; i++)
    ASSERT_OK(uvgo_embed_send(host.rt, NULL, ch, &i, on_sent,
                              (void *)(intptr_t)i));
  uv_run(&host.loop, UV_RUN_NOWAIT); /* the sender task blocks */
  ASSERT_OK(uvgo_chan_close(ch));
  ASSERT_OK(uv_run(&host.loop, UV_RUN_DEFAULT));
  ASSERT_EQ(slog.n, 3);
  ASSERT_EQ(slog.statuses[2], 3);
  /* On a closed channel the call fails at once, with no callback. */
  ASSERT_ERR(uvgo_embed_send(host.rt, NULL, ch, &extra, on_sent, NULL),
             UVGO_ECLOSED);
  ASSERT_EQ(slog.n, 3);
  ASSERT_OK(uvgo_chan_release(ch));
  host_finish();
}

/* A signal channel (element size 0) and a NULL callback. */
static int signals_seen;
static void on_signal_recv(uvgo_embed_recv *r, int status, const void *value,
                           void *arg) {
  (void)r;
  (void)arg;
  on_host();
  ASSERT_OK(status);
  ASSERT_NOT_NULL(value);
  signals_seen++;
}

UVGO_TEST(embed_send_signal_channel_without_callback, embed, 20) {
  host_start(1);
  uvgo_chan *sig = uvgo_chan_new(0, 0);
  signals_seen = 0;
  /* Unbuffered, nobody receiving yet: both wait in the queue. */
  ASSERT_OK(uvgo_embed_send(host.rt, NULL, sig, NULL, NULL, NULL));
  ASSERT_OK(uvgo_embed_send(host.rt, NULL, sig, NULL, NULL, NULL));
  ASSERT_OK(uvgo_embed_recv_one(host.rt, NULL, sig, on_signal_recv, NULL,
                                NULL));
  ASSERT_OK(uvgo_embed_recv_one(host.rt, NULL, sig, on_signal_recv, NULL,
                                NULL));
  ASSERT_OK(uv_run(&host.loop, UV_RUN_DEFAULT));
  ASSERT_EQ(signals_seen, 2);
  ASSERT_UEQ(uvgo_embed_pending(host.rt), 0);
  ASSERT_OK(uvgo_chan_release(sig));
  host_finish();
}

/* --- several workers: worker 0 is the host's loop --- */

typedef struct {
  uvgo_chan *ch;
  int worker;
  int sent;
} pinned;

static int send_from_worker(void *arg) {
  pinned *p = arg;
  ASSERT_EQ(uvgo_worker_id(), p->worker);
  ASSERT(!pthread_equal(pthread_self(), host.thread));
  for (int i = 0; i < 50; i++) {
    int v = p->worker * 1000 + i;
    ASSERT_OK(uvgo_chan_send(p->ch, &v));
    p->sent++;
  }
  return p->worker;
}

static int pinned_done_calls;
static uvgo_chan *multi_ch;
static void pinned_done(int result, void *arg) {
  on_host();
  pinned *p = arg;
  ASSERT_EQ(result, p->worker);
  if (++pinned_done_calls == 2)
    ASSERT_OK(uvgo_chan_close(multi_ch));
}

UVGO_TEST(embed_several_workers_callbacks_stay_on_host, embed, 30) {
  host_start(3);
  multi_ch = uvgo_chan_new(sizeof(int), 4);
  recv_log log;
  memset(&log, 0, sizeof log);
  ASSERT_OK(uvgo_embed_recv_each(host.rt, NULL, multi_ch, log_recv, &log,
                                 NULL));
  pinned_done_calls = 0;
  pinned ps[2] = {{multi_ch, 1, 0}, {multi_ch, 2, 0}};
  for (int i = 0; i < 2; i++) {
    uvgo_spawn_opts opts = {.worker = ps[i].worker, .name = "sender"};
    ASSERT_OK(uvgo_embed_spawn_opts(host.rt, &opts, send_from_worker, &ps[i],
                                    pinned_done));
  }
  ASSERT_OK(uv_run(&host.loop, UV_RUN_DEFAULT));
  ASSERT_EQ(pinned_done_calls, 2);
  ASSERT_EQ(log.n, 100);
  ASSERT_EQ(log.finals, 1);
  ASSERT_EQ(log.final_status, UVGO_ECLOSED);
  /* Each worker's values arrive in its own order. */
  int next[3] = {0, 0, 0};
  for (int i = 0; i < log.n; i++) {
    int w = log.values[i] / 1000;
    ASSERT(w == 1 || w == 2);
    ASSERT_EQ(log.values[i] % 1000, next[w]);
    next[w]++;
  }
  ASSERT_OK(uvgo_chan_release(multi_ch));
  /* Unpinned: any worker may take them; done still on the host. */
  job jobs[32];
  memset(jobs, 0, sizeof jobs);
  for (int i = 0; i < 32; i++) {
    jobs[i].in = i;
    ASSERT_OK(uvgo_embed_spawn(host.rt, NULL, double_it, &jobs[i], job_done));
  }
  ASSERT_OK(uv_run(&host.loop, UV_RUN_DEFAULT));
  for (int i = 0; i < 32; i++) {
    ASSERT_EQ(jobs[i].done_calls, 1);
    ASSERT_EQ(jobs[i].out, 2 * i);
    ASSERT(jobs[i].ran_on >= 0 && jobs[i].ran_on < 3);
  }
  uvgo_spawn_opts bad = {.worker = 3};
  job j = {0};
  ASSERT_ERR(uvgo_embed_spawn_opts(host.rt, &bad, double_it, &j, job_done),
             UV_EINVAL);
  host_finish();
}

/* --- bad input --- */

static int calls_from_task_result;
static void call_from_task(void *arg) {
  (void)arg;
  job j = {0};
  calls_from_task_result =
      uvgo_embed_spawn(host.rt, NULL, double_it, &j, job_done);
}

static int foreign_results[3];
static void call_from_thread(void *arg) {
  uvgo_chan *ch = arg;
  job j = {0};
  int v = 1;
  foreign_results[0] =
      uvgo_embed_spawn(host.rt, NULL, double_it, &j, job_done);
  foreign_results[1] =
      uvgo_embed_recv_one(host.rt, NULL, ch, log_recv, NULL, NULL);
  foreign_results[2] = uvgo_embed_send(host.rt, NULL, ch, &v, NULL, NULL);
}

static int worker_result;
static void call_from_worker_one(void *arg) {
  (void)arg;
  job j = {0};
  worker_result = uvgo_embed_spawn(host.rt, NULL, double_it, &j, job_done);
}

UVGO_TEST(embed_bad_input, embed, 20) {
  host_start(2);
  uvgo_chan *ch = uvgo_chan_new(sizeof(int), 1);
  job j = {0};
  int v = 0;
  ASSERT_ERR(uvgo_embed_spawn(NULL, NULL, double_it, &j, job_done), UV_EINVAL);
  ASSERT_ERR(uvgo_embed_spawn(host.rt, NULL, NULL, &j, job_done), UV_EINVAL);
  ASSERT_ERR(uvgo_embed_spawn(host.rt, NULL, double_it, &j, NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_embed_spawn_opts(host.rt, NULL, double_it, &j, job_done),
             UV_EINVAL);
  uvgo_spawn_opts copy = {.copy = &v, .copy_size = sizeof v};
  ASSERT_ERR(uvgo_embed_spawn_opts(host.rt, &copy, double_it, &j, job_done),
             UV_EINVAL);
  uvgo_embed_recv *r = (uvgo_embed_recv *)&v;
  ASSERT_ERR(uvgo_embed_recv_one(host.rt, NULL, NULL, log_recv, NULL, &r),
             UV_EINVAL);
  ASSERT_NULL(r); /* *out cleared on failure */
  ASSERT_ERR(uvgo_embed_recv_each(host.rt, NULL, ch, NULL, NULL, NULL),
             UV_EINVAL);
  ASSERT_ERR(uvgo_embed_recv_one(host.rt, NULL, uvgo_after(10), log_recv,
                                 NULL, NULL),
             UV_EINVAL);
  ASSERT_ERR(uvgo_embed_recv_stop(NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_embed_send(host.rt, NULL, NULL, &v, NULL, NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_embed_send(host.rt, NULL, ch, NULL, NULL, NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_embed_send(host.rt, NULL, uvgo_after(10), &v, NULL, NULL),
             UV_EINVAL);
  ASSERT_UEQ(uvgo_embed_pending(NULL), 0);

  /* Inside a task (even one on the host's loop), from a worker's own
   * thread, from a plain thread: refused. */
  calls_from_task_result = 1;
  ASSERT_OK(uvgo_rt_spawn(host.rt, call_from_task, NULL));
  worker_result = 1;
  ASSERT_OK(uvgo_go_on(1, call_from_worker_one, NULL));
  ASSERT_OK(uv_run(&host.loop, UV_RUN_DEFAULT));
  ASSERT_EQ(calls_from_task_result, UV_EINVAL);
  ASSERT_EQ(worker_result, UV_EINVAL);
  uv_thread_t th;
  ASSERT_OK(uv_thread_create(&th, call_from_thread, ch));
  ASSERT_OK(uv_thread_join(&th));
  for (int i = 0; i < 3; i++)
    ASSERT_EQ(foreign_results[i], UV_EINVAL);
  ASSERT_UEQ(uvgo_chan_len(ch), 0);
  ASSERT_UEQ(uvgo_embed_pending(host.rt), 0);

  /* A runtime of uvgo_run is not attached: the calls are refused there
   * too (there is no host thread outside tasks). After close: refused. */
  ASSERT_OK(uvgo_chan_release(ch));
  host_finish();
}

/* Under UVGO_STRICT=1 a call from the wrong thread aborts, naming it. */
static void strict_wrong_thread(void) {
  host_start(1);
  uv_thread_t th;
  uvgo_chan *ch = uvgo_chan_new(sizeof(int), 1);
  ASSERT_OK(uv_thread_create(&th, call_from_thread, ch));
  ASSERT_OK(uv_thread_join(&th));
  fprintf(stderr, "survived\n");
}
UVGO_TEST_HELPER(embed_strict_wrong_thread) {
  exit(uvgo_test_run_as_case("strict_wrong_thread", strict_wrong_thread));
}

UVGO_TEST(embed_wrong_thread_strict_aborts, embed, 20) {
  char out[4096];
  int status = uvgo_test_spawn_helper("embed_strict_wrong_thread",
                                      "UVGO_STRICT=1", out, sizeof out);
  ASSERT(WIFSIGNALED(status));
  ASSERT_EQ(WTERMSIG(status), SIGABRT);
  ASSERT_STR_CONTAINS(out, "uvgo_embed_spawn");
  ASSERT_STR_CONTAINS(out, "host loop's thread");
  ASSERT(strstr(out, "survived") == NULL);
}

/* A receive on a channel whose last reference is gone is caught under
 * UVGO_STRICT=1 (freed channels are quarantined), not a use after free. */
static void strict_released_channel(void) {
  host_start(1);
  uvgo_chan *ch = uvgo_chan_new(sizeof(int), 1);
  ASSERT_OK(uvgo_chan_release(ch));
  recv_log log;
  uvgo_embed_recv_one(host.rt, NULL, ch, log_recv, &log, NULL);
  fprintf(stderr, "survived\n");
}
UVGO_TEST_HELPER(embed_strict_released_channel) {
  exit(uvgo_test_run_as_case("strict_released_channel",
                             strict_released_channel));
}

UVGO_TEST(embed_recv_on_released_channel_strict_aborts, embed, 20) {
  char out[4096];
  int status = uvgo_test_spawn_helper("embed_strict_released_channel",
                                      "UVGO_STRICT=1", out, sizeof out);
  ASSERT(WIFSIGNALED(status));
  ASSERT_EQ(WTERMSIG(status), SIGABRT);
  ASSERT_STR_CONTAINS(out, "UVGO_ERELEASED");
  ASSERT(strstr(out, "survived") == NULL);
}

/* uvgo_run's runtime has no host thread outside tasks: a libuv callback
 * there (on a task's own timer) is refused. */
static int run_mode_result;
static void on_run_timer(uv_timer_t *t) {
  job j = {0};
  run_mode_result =
      uvgo_embed_spawn(uvgo_rt_current(), NULL, double_it, &j, job_done);
  uv_close((uv_handle_t *)t, NULL);
}
static void run_mode_main(void *arg) {
  (void)arg;
  uv_timer_t timer;
  ASSERT_OK(uv_timer_init(uvgo_loop(), &timer));
  ASSERT_OK(uv_timer_start(&timer, on_run_timer, 1, 0));
  while (uv_is_active((uv_handle_t *)&timer))
    ASSERT_OK(uvgo_sleep(1));
  ASSERT_OK(uvgo_sleep(5)); /* let the close callback run */
}

UVGO_TEST(embed_refused_in_uvgo_run_mode, embed, 20) {
  run_mode_result = 1;
  ASSERT_OK(uvgo_run(NULL, run_mode_main, NULL));
  ASSERT_EQ(run_mode_result, UV_EINVAL);
}

/* Nothing pending: this layer keeps no loop alive, and a loop that used
 * it closes cleanly. */
UVGO_TEST(embed_idle_keeps_no_loop_alive, embed, 20) {
  host_start(1);
  job j = {.in = 1};
  ASSERT_OK(uvgo_embed_spawn(host.rt, NULL, double_it, &j, job_done));
  ASSERT_OK(uv_run(&host.loop, UV_RUN_DEFAULT));
  ASSERT_EQ(j.done_calls, 1);
  ASSERT_EQ(uv_loop_alive(&host.loop), 0);
  ASSERT_EQ(uv_run(&host.loop, UV_RUN_DEFAULT), 0);
  /* Closed (not yet freed by the loop): every call refuses. */
  ASSERT_OK(uvgo_rt_close(host.rt));
  ASSERT_ERR(uvgo_embed_spawn(host.rt, NULL, double_it, &j, job_done),
             UVGO_ENORUNTIME);
  int v = 1;
  uvgo_chan *ch = uvgo_chan_new(sizeof(int), 1);
  ASSERT_ERR(uvgo_embed_send(host.rt, NULL, ch, &v, NULL, NULL),
             UVGO_ENORUNTIME);
  ASSERT_ERR(uvgo_embed_recv_one(host.rt, NULL, ch, log_recv, NULL, NULL),
             UVGO_ENORUNTIME);
  ASSERT_OK(uvgo_chan_release(ch));
  ASSERT_OK(uv_run(&host.loop, UV_RUN_DEFAULT));
  ASSERT_OK(uv_loop_close(&host.loop));
}

/* Stopping a receive from a plain thread is refused like every other call
 * off the host thread; the receive goes on until stopped on the host. */
static int stop_result;
static void stop_from_thread(void *arg) {
  stop_result = uvgo_embed_recv_stop(arg);
}

UVGO_TEST(embed_recv_stop_from_wrong_thread_refused, embed, 20) {
  host_start(1);
  uvgo_chan *ch = uvgo_chan_new(sizeof(int), 1);
  recv_log log;
  memset(&log, 0, sizeof log);
  ASSERT_OK(uvgo_embed_recv_each(host.rt, NULL, ch, log_recv, &log,
                                 &log.handle));
  uv_thread_t th;
  stop_result = 1;
  ASSERT_OK(uv_thread_create(&th, stop_from_thread, log.handle));
  ASSERT_OK(uv_thread_join(&th));
  ASSERT_EQ(stop_result, UV_EINVAL);
  int v = 7;
  ASSERT_OK(uvgo_chan_try_send(ch, &v));
  uv_run(&host.loop, UV_RUN_NOWAIT); /* the value may be delivered */
  ASSERT_EQ(log.finals, 0);
  ASSERT_OK(uvgo_embed_recv_stop(log.handle));
  ASSERT_OK(uv_run(&host.loop, UV_RUN_DEFAULT));
  ASSERT_EQ(log.finals, 1);
  ASSERT_EQ(log.final_status, UV_ECANCELED);
  ASSERT_OK(uvgo_chan_release(ch));
  host_finish();
}

/* Many operations at once across three workers: spawned tasks pinned to
 * workers 1 and 2 send into channels that the host receives by callback and
 * feeds back with uvgo_embed_send; every callback on the host thread, every
 * value accounted for, and the loop closes cleanly. */
typedef struct {
  uvgo_chan *in;   /* host -> task */
  uvgo_chan *out;  /* task -> host */
  int rounds;
} echo_pair;

static int echo_task(void *arg) {
  echo_pair *p = arg;
  int v, sum = 0;
  for (int i = 0; i < p->rounds; i++) {
    if (uvgo_chan_recv(p->in, &v) != 0)
      return -1;
    sum += v;
    ASSERT_OK(uvgo_chan_send(p->out, &v));
  }
  ASSERT_OK(uvgo_chan_close(p->out));
  return sum;
}

static long stress_values, stress_done;
static int stress_sent_ok;
static void stress_sent(int status, void *arg) {
  (void)arg;
  on_host();
  ASSERT_OK(status);
  stress_sent_ok++;
}
static void stress_recv(uvgo_embed_recv *r, int status, const void *value,
                        void *arg) {
  (void)r;
  on_host();
  echo_pair *p = arg;
  if (status == 0) {
    stress_values++;
    (void)value;
    return;
  }
  ASSERT_EQ(status, UVGO_ECLOSED);
  (void)p;
}
static void stress_task_done(int result, void *arg) {
  on_host();
  echo_pair *p = arg;
  ASSERT_EQ(result, p->rounds * (p->rounds - 1) / 2);
  stress_done++;
}

UVGO_TEST(embed_stress_three_workers, embed, 60) {
  host_start(3);
  enum { PAIRS = 8 };
  int rounds = (int)uvgo_test_scaled(400, 20);
  echo_pair pairs[PAIRS];
  stress_values = stress_done = 0;
  stress_sent_ok = 0;
  for (int i = 0; i < PAIRS; i++) {
    pairs[i].in = uvgo_chan_new(sizeof(int), (size_t)(i % 3));
    pairs[i].out = uvgo_chan_new(sizeof(int), (size_t)(i % 2));
    pairs[i].rounds = rounds;
    uvgo_spawn_opts opts = {.worker = 1 + i % 2};
    ASSERT_OK(uvgo_embed_spawn_opts(host.rt, &opts, echo_task, &pairs[i],
                                    stress_task_done));
    ASSERT_OK(uvgo_embed_recv_each(host.rt, NULL, pairs[i].out, stress_recv,
                                   &pairs[i], NULL));
    /* The queue bound is per channel: send in rounds of at most that. */
    ASSERT(rounds <= UVGO_EMBED_SEND_QUEUE_MAX);
    for (int v = 0; v < rounds; v++)
      ASSERT_OK(uvgo_embed_send(host.rt, NULL, pairs[i].in, &v, stress_sent,
                                NULL));
  }
  ASSERT_OK(uv_run(&host.loop, UV_RUN_DEFAULT));
  ASSERT_EQ(stress_done, PAIRS);
  ASSERT_EQ(stress_values, (long)PAIRS * rounds);
  ASSERT_EQ(stress_sent_ok, PAIRS * rounds);
  for (int i = 0; i < PAIRS; i++) {
    ASSERT_OK(uvgo_chan_release(pairs[i].in));
    ASSERT_OK(uvgo_chan_release(pairs[i].out));
  }
  host_finish();
}

/* Out of memory at every allocation an operation makes: the call fails
 * with UV_ENOMEM and leaves nothing behind, or it succeeds and completes;
 * either way the loop closes cleanly and nothing leaks (the harness checks
 * the allocations at the end of the case). Kinds: 0 spawn, 1 receive-each
 * (a closed channel holding 3 values), 2 send that goes in at once, 3 send
 * that queues (then its context is cancelled). */
static int oom_attempt(int kind, long nth, bool *completed) {
  host_start(1);
  uvgo_chan *ch = uvgo_chan_new(sizeof(int), kind == 1 ? 3 : kind == 2);
  ASSERT_NOT_NULL(ch);
  if (kind == 1) {
    for (int i = 0; i < 3; i++)
      ASSERT_OK(uvgo_chan_try_send(ch, &i));
    ASSERT_OK(uvgo_chan_close(ch));
  }
  uvgo_ctx *ctx;
  ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_background(), &ctx));
  recv_log log;
  memset(&log, 0, sizeof log);
  memset(&slog, 0, sizeof slog);
  job j = {.in = 2};
  int v = 5;
  uvgo_test_fail_allocation(nth);
  int err;
  if (kind == 0)
    err = uvgo_embed_spawn(host.rt, NULL, double_it, &j, job_done);
  else if (kind == 1)
    err = uvgo_embed_recv_each(host.rt, NULL, ch, log_recv, &log, NULL);
  else
    err = uvgo_embed_send(host.rt, ctx, ch, &v, on_sent, NULL);
  uvgo_test_fail_allocation(0);
  if (err != 0) {
    ASSERT_EQ(err, UV_ENOMEM);
    ASSERT_UEQ(uvgo_embed_pending(host.rt), 0);
  }
  ASSERT_OK(uvgo_ctx_cancel(ctx));
  ASSERT_OK(uv_run(&host.loop, UV_RUN_DEFAULT));
  if (err == 0) {
    if (kind == 0)
      *completed = j.done_calls == 1 && j.done_result == 1002;
    else if (kind == 1)
      *completed = log.n == 3 && log.finals == 1 &&
                   log.final_status == UVGO_ECLOSED;
    else if (kind == 2)
      *completed = slog.n == 1 && slog.statuses[0] == 1;
    else
      *completed = slog.n == 1 && slog.statuses[1] == 1;
  }
  ASSERT_OK(uvgo_ctx_release(ctx));
  ASSERT_OK(uvgo_chan_release(ch));
  host_finish();
  return err;
}

UVGO_TEST(embed_out_of_memory_fails_cleanly, embed, 60) {
  for (int kind = 0; kind < 4; kind++) {
    int failures = 0;
    bool completed = false;
    for (long nth = 1; nth < 64; nth++) {
      completed = false;
      int err = oom_attempt(kind, nth, &completed);
      if (err == 0) {
        /* The nth allocation came after the call: it must have worked. */
        ASSERT(completed);
        break;
      }
      failures++;
    }
    ASSERT(completed);
    ASSERT_GE(failures, 1); /* each kind allocates at least once */
  }
}
