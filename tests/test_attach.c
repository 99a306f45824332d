/* Attach mode: uvgo inside a libuv program that drives its own loop. */
#include "harness.h"

#include <signal.h>
#include <stdatomic.h>

/* The host loop must close cleanly after uvgo_rt_close: every handle uvgo
 * opened is gone once the loop has run its close callbacks. */
static void close_runtime_and_loop(uv_loop_t *loop, uvgo_rt *rt) {
  ASSERT_OK(uvgo_rt_close(rt));
  ASSERT_OK(uv_run(loop, UV_RUN_DEFAULT));
  ASSERT_OK(uv_loop_close(loop));
}

UVGO_TEST(attach_idle_runtime_keeps_no_loop_alive, unit, 10) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  uvgo_rt *rt = NULL;
  ASSERT_OK(uvgo_rt_attach(&loop, NULL, &rt));
  ASSERT_NOT_NULL(rt);
  /* Nothing but uvgo on the loop: uv_run returns at once, as it would
   * without uvgo. */
  ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ASSERT_EQ(uv_loop_alive(&loop), 0);
  close_runtime_and_loop(&loop, rt);
}

UVGO_TEST(attach_bad_arguments, unit, 10) {
  uv_loop_t loop;
  uvgo_rt *rt = NULL, *again = NULL;
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_ERR(uvgo_rt_attach(NULL, NULL, &rt), UV_EINVAL);
  ASSERT_ERR(uvgo_rt_attach(&loop, NULL, NULL), UV_EINVAL);
  ASSERT_OK(uvgo_rt_attach(&loop, NULL, &rt));
  ASSERT_ERR(uvgo_rt_attach(&loop, NULL, &again), UV_EBUSY);
  ASSERT_NULL(again);
  ASSERT_ERR(uvgo_rt_close(NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_rt_spawn(NULL, NULL, NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_rt_spawn(rt, NULL, NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_rt_ref(NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_rt_unref(rt), UV_EINVAL); /* no reference held */
  close_runtime_and_loop(&loop, rt);
}

UVGO_TEST(attach_installs_no_signal_handlers, unit, 10) {
  struct sigaction before_segv, before_pipe, after_segv, after_pipe;
  sigaction(SIGSEGV, NULL, &before_segv);
  sigaction(SIGPIPE, NULL, &before_pipe);
  uv_loop_t loop;
  uvgo_rt *rt;
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(uvgo_rt_attach(&loop, NULL, &rt));
  sigaction(SIGSEGV, NULL, &after_segv);
  sigaction(SIGPIPE, NULL, &after_pipe);
  ASSERT_PTR_EQ((void *)after_segv.sa_handler, (void *)before_segv.sa_handler);
  ASSERT_PTR_EQ((void *)after_pipe.sa_handler, (void *)before_pipe.sa_handler);
  close_runtime_and_loop(&loop, rt);
}

/* A plain libuv program: its own timer and TCP listener. A timer callback
 * spawns tasks; one task connects to the host's listener through the
 * park/unpark API; the program ends when its own handles are done. */
typedef struct {
  uv_loop_t loop;
  uv_timer_t timer;
  uv_tcp_t server;
  uv_tcp_t accepted;
  int port;
  uvgo_rt *rt;
  _Atomic int tasks_done;
  int accepted_count;
  int busy_close_result;
} host_program;

static host_program host;

static void on_accepted_closed(uv_handle_t *h) { (void)h; }
static void on_server_closed(uv_handle_t *h) { (void)h; }

static void on_connection(uv_stream_t *server, int status) {
  ASSERT_OK(status);
  ASSERT_OK(uv_tcp_init(server->loop, &host.accepted));
  ASSERT_OK(uv_accept(server, (uv_stream_t *)&host.accepted));
  host.accepted_count++;
  uv_close((uv_handle_t *)&host.accepted, on_accepted_closed);
  uv_close((uv_handle_t *)&host.server, on_server_closed);
}

typedef struct {
  uv_connect_t req;
  uvgo_task *task;
  int status;
} connect_wait;

static void on_connected(uv_connect_t *req, int status) {
  connect_wait *cw = UVGO_TEST_CONTAINER(req, connect_wait, req);
  cw->status = status;
  uvgo_unpark(cw->task);
}

static void on_client_closed(uv_handle_t *h) { uvgo_unpark(h->data); }

static void connecting_task(void *arg) {
  (void)arg;
  ASSERT_OK(uvgo_sleep(5));
  uv_tcp_t client;
  ASSERT_OK(uv_tcp_init(uvgo_loop(), &client));
  struct sockaddr_in addr;
  ASSERT_OK(uv_ip4_addr("127.0.0.1", host.port, &addr));
  connect_wait cw = {.task = uvgo_self()};
  ASSERT_OK(uv_tcp_connect(&cw.req, &client, (const struct sockaddr *)&addr,
                           on_connected));
  ASSERT_OK(uvgo_park());
  ASSERT_OK(cw.status);
  client.data = uvgo_self();
  uv_close((uv_handle_t *)&client, on_client_closed);
  ASSERT_OK(uvgo_park());
  atomic_fetch_add(&host.tasks_done, 1);
}

static void sleeping_task(void *arg) {
  ASSERT_OK(uvgo_sleep((uint64_t)(uintptr_t)arg));
  atomic_fetch_add(&host.tasks_done, 1);
}

static void on_host_timer(uv_timer_t *t) {
  (void)t;
  ASSERT_OK(uvgo_rt_spawn(host.rt, connecting_task, NULL));
  for (uintptr_t ms = 1; ms <= 10; ms++)
    ASSERT_OK(uvgo_rt_spawn(host.rt, sleeping_task, (void *)ms));
  /* From a libuv callback on the loop's thread, uvgo_go works as well. */
  ASSERT_OK(uvgo_go(sleeping_task, (void *)(uintptr_t)3));
  host.busy_close_result = uvgo_rt_close(host.rt);
  uv_close((uv_handle_t *)t, NULL);
}

UVGO_TEST(attach_host_program_with_timer_and_listener, unit, 20) {
  memset(&host, 0, sizeof host);
  ASSERT_OK(uv_loop_init(&host.loop));
  ASSERT_OK(uvgo_rt_attach(&host.loop, NULL, &host.rt));
  ASSERT_OK(uv_timer_init(&host.loop, &host.timer));
  ASSERT_OK(uv_timer_start(&host.timer, on_host_timer, 10, 0));
  ASSERT_OK(uv_tcp_init(&host.loop, &host.server));
  struct sockaddr_in addr;
  ASSERT_OK(uv_ip4_addr("127.0.0.1", 0, &addr));
  ASSERT_OK(uv_tcp_bind(&host.server, (const struct sockaddr *)&addr, 0));
  ASSERT_OK(uv_listen((uv_stream_t *)&host.server, 16, on_connection));
  struct sockaddr_storage bound;
  int len = sizeof bound;
  ASSERT_OK(uv_tcp_getsockname(&host.server, (struct sockaddr *)&bound, &len));
  host.port = ntohs(((struct sockaddr_in *)&bound)->sin_port);

  ASSERT_OK(uv_run(&host.loop, UV_RUN_DEFAULT));
  /* uv_run returned: the host's handles are done, and so is every task. */
  ASSERT_EQ(host.busy_close_result, UV_EBUSY);
  ASSERT_EQ(host.accepted_count, 1);
  ASSERT_EQ(atomic_load(&host.tasks_done), 12);
  ASSERT_EQ(uvgo_task_count(host.rt), 0);
  close_runtime_and_loop(&host.loop, host.rt);
}

/* A foreign producer thread spawning into an attached runtime. */
typedef struct {
  uvgo_rt *rt;
  int n;
} producer_arg;
static _Atomic int produced_runs;
static void produced(void *arg) {
  (void)arg;
  ASSERT_EQ(uvgo_worker_id(), 0);
  atomic_fetch_add(&produced_runs, 1);
}
static void producer_thread(void *arg) {
  producer_arg *pa = arg;
  for (int i = 0; i < pa->n; i++)
    ASSERT_OK(uvgo_rt_spawn(pa->rt, produced, NULL));
  ASSERT_OK(uvgo_rt_unref(pa->rt));
}

UVGO_TEST(attach_foreign_thread_spawns, unit, 20) {
  uv_loop_t loop;
  uvgo_rt *rt;
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(uvgo_rt_attach(&loop, NULL, &rt));
  atomic_store(&produced_runs, 0);
  producer_arg pa = {rt, (int)uvgo_test_scaled(5000, 100)};
  /* The reference keeps the host loop running until the producer is done. */
  ASSERT_OK(uvgo_rt_ref(rt));
  uv_thread_t th;
  ASSERT_OK(uv_thread_create(&th, producer_thread, &pa));
  ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
  ASSERT_OK(uv_thread_join(&th));
  ASSERT_EQ(atomic_load(&produced_runs), pa.n);
  close_runtime_and_loop(&loop, rt);
}

/* Attached with extra workers: tasks pinned there run on their threads. */
static _Atomic int on_extra;
static void extra_worker_task(void *arg) {
  (void)arg;
  if (uvgo_worker_id() == 1)
    atomic_fetch_add(&on_extra, 1);
  uvgo_sleep(1);
}
static void spawn_on_extra(void *arg) {
  (void)arg;
  for (int i = 0; i < 20; i++)
    ASSERT_OK(uvgo_go_on(1, extra_worker_task, NULL));
}

UVGO_TEST(attach_with_extra_worker, unit, 20) {
  uv_loop_t loop;
  uvgo_rt *rt;
  uvgo_config cfg = {0};
  cfg.workers = 2;
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(uvgo_rt_attach(&loop, &cfg, &rt));
  atomic_store(&on_extra, 0);
  ASSERT_OK(uvgo_rt_spawn(rt, spawn_on_extra, NULL));
  ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
  ASSERT_EQ(atomic_load(&on_extra), 20);
  close_runtime_and_loop(&loop, rt);
}

UVGO_TEST(attach_spawn_after_close_fails, unit, 10) {
  uv_loop_t loop;
  uvgo_rt *rt;
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(uvgo_rt_attach(&loop, NULL, &rt));
  ASSERT_OK(uvgo_rt_close(rt));
  /* The runtime is freed once the loop ran the close callbacks; before
   * that, spawning is refused. */
  ASSERT_ERR(uvgo_rt_spawn(rt, produced, NULL), UVGO_ENORUNTIME);
  ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
  ASSERT_OK(uv_loop_close(&loop));
  /* The loop can take a new runtime after the old one is gone. */
  ASSERT_OK(uv_loop_init(&loop));
  ASSERT_OK(uvgo_rt_attach(&loop, NULL, &rt));
  close_runtime_and_loop(&loop, rt);
}
