/* Deadlock verdicts in uvgo_run mode: reported when nothing can wake any
 * task, never while a timer, a libuv request, pool work or a foreign
 * reference still can. */
#include "harness.h"

#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

static void park_forever(void *arg) {
  (void)arg;
  uvgo_task_set_name(NULL, "stuck-forever");
  uvgo_park();
}

static void main_parks_with_company(void *arg) {
  (void)arg;
  for (int i = 0; i < 3; i++)
    ASSERT_OK(uvgo_go(park_forever, NULL));
  uvgo_park();
}

static int run_deadlock(unsigned workers) {
  uvgo_config cfg = {.workers = workers};
  return uvgo_run(&cfg, main_parks_with_company, NULL);
}

UVGO_TEST(deadlock_is_reported, unit, 20) {
  for (unsigned workers = 1; workers <= 4; workers *= 2)
    ASSERT_ERR(run_deadlock(workers), UVGO_EDEADLOCK);
}

UVGO_TEST(deadlock_report_names_tasks, unit, 20) {
  char out[8192];
  int status = uvgo_test_spawn_helper("deadlock_child", NULL, out, sizeof out);
  ASSERT(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ASSERT_STR_CONTAINS(out, "all tasks are asleep - deadlock!");
  ASSERT_STR_CONTAINS(out, "\"stuck-forever\"");
  ASSERT_STR_CONTAINS(out, "test_deadlock.c");
  ASSERT_STR_CONTAINS(out, "blocked in uvgo_park");
}

static void deadlock_case(void) { ASSERT_ERR(run_deadlock(2), UVGO_EDEADLOCK); }
UVGO_TEST_HELPER(deadlock_child) { exit(uvgo_test_run_as_case("deadlock", deadlock_case)); }

/* --- no false verdicts --- */

/* A sleeping task will wake: a pending timer is not a deadlock. */
static uvgo_task *_Atomic parked_main;
static void wake_main_later(void *arg) {
  (void)arg;
  ASSERT_OK(uvgo_sleep(30));
  ASSERT_OK(uvgo_unpark(atomic_load(&parked_main)));
}
static void main_waits_for_timer(void *arg) {
  (void)arg;
  atomic_store(&parked_main, uvgo_self());
  ASSERT_OK(uvgo_go_on(uvgo_worker_count() - 1, wake_main_later, NULL));
  ASSERT_OK(uvgo_park());
}

UVGO_TEST(no_deadlock_while_timer_pending, unit, 20) {
  for (unsigned workers = 1; workers <= 2; workers++) {
    uvgo_config cfg = {.workers = workers};
    ASSERT_OK(uvgo_run(&cfg, main_waits_for_timer, NULL));
  }
}

/* Work on libuv's thread pool will call back. */
static void slow_work(uv_work_t *req) {
  (void)req;
  usleep(50 * 1000);
}
static void after_work(uv_work_t *req, int status) {
  ASSERT_OK(status);
  uvgo_unpark(req->data);
}
static void main_waits_for_pool(void *arg) {
  (void)arg;
  uv_work_t req;
  req.data = uvgo_self();
  ASSERT_OK(uv_queue_work(uvgo_loop(), &req, slow_work, after_work));
  ASSERT_OK(uvgo_park());
}

UVGO_TEST(no_deadlock_while_pool_work_pending, unit, 20) {
  uvgo_config cfg = {.workers = 2};
  ASSERT_OK(uvgo_run(&cfg, main_waits_for_pool, NULL));
}

/* I/O in flight: a TCP connect to a listener nobody accepts on yet, with
 * the accept coming from another task after a delay. */
static void on_conn(uv_connect_t *req, int status) {
  ASSERT_OK(status);
  uvgo_unpark(req->data);
}
static void on_listen(uv_stream_t *s, int status) {
  (void)s;
  (void)status;
}
static void on_closed(uv_handle_t *h) { uvgo_unpark(h->data); }
static void main_waits_for_io(void *arg) {
  (void)arg;
  uv_tcp_t server, client;
  struct sockaddr_in addr;
  ASSERT_OK(uv_ip4_addr("127.0.0.1", 0, &addr));
  ASSERT_OK(uv_tcp_init(uvgo_loop(), &server));
  ASSERT_OK(uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0));
  ASSERT_OK(uv_listen((uv_stream_t *)&server, 4, on_listen));
  struct sockaddr_storage bound;
  int len = sizeof bound;
  ASSERT_OK(uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len));
  ASSERT_OK(uv_tcp_init(uvgo_loop(), &client));
  uv_connect_t req;
  req.data = uvgo_self();
  ASSERT_OK(uv_tcp_connect(&req, &client, (const struct sockaddr *)&bound,
                           on_conn));
  ASSERT_OK(uvgo_park());
  server.data = client.data = uvgo_self();
  uv_close((uv_handle_t *)&client, on_closed);
  ASSERT_OK(uvgo_park());
  uv_close((uv_handle_t *)&server, on_closed);
  ASSERT_OK(uvgo_park());
}

UVGO_TEST(no_deadlock_while_io_pending, unit, 20) {
  uvgo_config cfg = {.workers = 2};
  ASSERT_OK(uvgo_run(&cfg, main_waits_for_io, NULL));
}

/* A foreign thread holding a reference will unpark main. */
typedef struct {
  uvgo_rt *rt;
  uvgo_task *task;
} foreign_waker;
static void foreign_thread(void *arg) {
  foreign_waker *fw = arg;
  usleep(50 * 1000);
  ASSERT_OK(uvgo_unpark(fw->task));
  ASSERT_OK(uvgo_rt_unref(fw->rt));
}
static uv_thread_t waker_thread;
static foreign_waker waker;
static void main_waits_for_foreign(void *arg) {
  (void)arg;
  waker.rt = uvgo_rt_current();
  waker.task = uvgo_self();
  ASSERT_OK(uvgo_rt_ref(waker.rt));
  ASSERT_OK(uv_thread_create(&waker_thread, foreign_thread, &waker));
  ASSERT_OK(uvgo_park());
}

UVGO_TEST(no_deadlock_while_foreign_ref_held, unit, 20) {
  uvgo_config cfg = {.workers = 2};
  ASSERT_OK(uvgo_run(&cfg, main_waits_for_foreign, NULL));
  ASSERT_OK(uv_thread_join(&waker_thread));
}
