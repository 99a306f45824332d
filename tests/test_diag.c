/* Diagnostics: leak reports, dumps, SIGQUIT, the watchdog, and the
 * deadlock report on the article's classic mistakes. */
#include "harness.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The harness's end-of-case check: no task may outlive its case. */
int uvgo_test_extra_leak_check(char *why, size_t cap) {
  size_t live = uvgo_live_tasks_total();
  if (live == 0)
    return 0;
  snprintf(why, cap, "%zu task(s) still alive at the end of the case", live);
  uvgo_verify_none(stderr);
  return 1;
}

static char *read_all(FILE *f) {
  static char buf[16384];
  rewind(f);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  return buf;
}

UVGO_TEST(verify_none_outside_runtime, unit, 10) {
  ASSERT_EQ(uvgo_verify_none(NULL), 0);
  ASSERT_EQ(uvgo_live_tasks_total(), 0);
  ASSERT_ERR(uvgo_dump(NULL), UV_EINVAL);
}

/* The article's leaky fetchUser: the sender blocks forever on an
 * unbuffered channel nobody reads. verify_none names it. */
static void fetch_user_leaky(void *arg) {
  uvgo_task_set_name(NULL, "fetchUser");
  int user = 42;
  uvgo_chan_send(arg, &user); /* the caller gave up: blocks */
}

/* Whether verify_none shows the sender parked in its send yet: until it
 * has run that far (on either worker, however late), the report would
 * only say "queued" or "running". */
static bool sender_reported_blocked(void) {
  FILE *scratch = tmpfile();
  ASSERT_NOT_NULL(scratch);
  ASSERT_EQ(uvgo_verify_none(scratch), 1);
  bool blocked = strstr(read_all(scratch), "blocked in uvgo_chan_send(0x") != NULL;
  fclose(scratch);
  return blocked;
}

static void leak_main(void *arg) {
  FILE *report = arg;
  ASSERT_EQ(uvgo_verify_none(report), 0);
  uvgo_chan *ch = uvgo_chan_new(sizeof(int), 0);
  ASSERT_OK(uvgo_go(fetch_user_leaky, ch));
  while (!sender_reported_blocked())
    ASSERT_OK(uvgo_sleep(1));
  ASSERT_EQ(uvgo_verify_none(report), 1);
  ASSERT_EQ(uvgo_verify_none(NULL), 1);
  /* Clean up so the run can end: take the value. The sender then still
   * has to be scheduled to return, so wait for that rather than a while. */
  int v;
  ASSERT_OK(uvgo_chan_recv(ch, &v));
  while (uvgo_verify_none(NULL) != 0)
    ASSERT_OK(uvgo_sleep(1));
  ASSERT_OK(uvgo_chan_release(ch));
}

UVGO_TEST(verify_none_names_the_leaky_fetch_user, unit, 10) {
  FILE *report = tmpfile();
  ASSERT_NOT_NULL(report);
  uvgo_config cfg = {.workers = 2};
  ASSERT_OK(uvgo_run(&cfg, leak_main, report));
  char *text = read_all(report);
  ASSERT_STR_CONTAINS(text, "1 task still alive");
  ASSERT_STR_CONTAINS(text, "\"fetchUser\"");
  ASSERT_STR_CONTAINS(text, "blocked in uvgo_chan_send(0x");
  ASSERT_STR_CONTAINS(text, "test_diag.c:");
  ASSERT_STR_CONTAINS(text, "tests/test_diag.c");
  fclose(report);
}

/* A dump while tasks start and end on every worker (TSan checks it). */
static _Atomic int churn_stop;
static void short_lived(void *arg) {
  (void)arg;
  uvgo_yield();
}
static void churn(void *arg) {
  (void)arg;
  while (!atomic_load(&churn_stop)) {
    for (int i = 0; i < 20; i++)
      uvgo_go(short_lived, NULL);
    uvgo_sleep(1);
  }
}
static void dumper_thread(void *arg) {
  FILE *out = arg;
  for (int i = 0; i < 50; i++) {
    ASSERT_OK(uvgo_dump(out));
    uv_sleep(1);
  }
  atomic_store(&churn_stop, 1);
}
static void churn_main(void *arg) {
  (void)arg;
  for (unsigned w = 0; w < uvgo_worker_count(); w++)
    ASSERT_OK(uvgo_go_on(w, churn, NULL));
}

UVGO_TEST(dump_while_tasks_churn, stress, 60) {
  FILE *out = tmpfile();
  ASSERT_NOT_NULL(out);
  atomic_store(&churn_stop, 0);
  uv_thread_t th;
  uvgo_config cfg = {.workers = 3};
  ASSERT_OK(uv_thread_create(&th, dumper_thread, out));
  ASSERT_OK(uvgo_run(&cfg, churn_main, NULL));
  ASSERT_OK(uv_thread_join(&th));
  char *text = read_all(out);
  ASSERT_STR_CONTAINS(text, "worker 2: switches");
  fclose(out);
}

/* Dumps from a plain thread while tasks that never switch out start and
 * end as fast as two workers can run them (the task list's owner links
 * and unlinks without a lock unless a dumper has announced itself): every
 * dump still lists the one long-lived task, by name. */
static _Atomic int rtc_stop, rtc_named;
static _Atomic long rtc_spawned;
static void rtc_nothing(void *arg) { (void)arg; }
static void rtc_spawner(void *arg) {
  (void)arg;
  while (!atomic_load(&rtc_stop)) {
    for (int i = 0; i < 64; i++)
      if (uvgo_go(rtc_nothing, NULL) == 0)
        atomic_fetch_add(&rtc_spawned, 1);
    uvgo_yield();
  }
}
static void rtc_marker(void *arg) {
  (void)arg;
  uvgo_task_set_name(NULL, "long-lived-marker");
  atomic_store(&rtc_named, 1);
  while (!atomic_load(&rtc_stop))
    uvgo_sleep(1);
}
static void rtc_dumper(void *arg) {
  long *bad = arg;
  long rounds = uvgo_test_scaled(300, 20);
  /* The marker named and the spawners under way: else a fast dumper (20
   * rounds at small scale) could finish before a single task ran. */
  while (!atomic_load(&rtc_named) || atomic_load(&rtc_spawned) == 0)
    uv_sleep(1);
  for (long i = 0; i < rounds; i++) {
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    ASSERT_NOT_NULL(out);
    ASSERT_OK(uvgo_dump(out));
    fclose(out);
    if (strstr(text, "\"long-lived-marker\"") == NULL)
      (*bad)++;
    free(text);
  }
  atomic_store(&rtc_stop, 1);
}
static void rtc_main(void *arg) {
  (void)arg;
  ASSERT_OK(uvgo_go_on(1, rtc_marker, NULL));
  ASSERT_OK(uvgo_go_on(0, rtc_spawner, NULL));
  ASSERT_OK(uvgo_go_on(1, rtc_spawner, NULL));
}

UVGO_TEST(dump_while_tasks_run_to_completion, stress, 60) {
  atomic_store(&rtc_stop, 0);
  atomic_store(&rtc_named, 0);
  atomic_store(&rtc_spawned, 0);
  long bad = 0;
  uvgo_config cfg = {.workers = 2};
  uv_thread_t th;
  ASSERT_OK(uv_thread_create(&th, rtc_dumper, &bad));
  ASSERT_OK(uvgo_run(&cfg, rtc_main, NULL));
  ASSERT_OK(uv_thread_join(&th));
  ASSERT_EQ(bad, 0);
}

/* SIGQUIT while worker 0 is stuck in a busy loop: the dedicated thread
 * still prints the dump; a storm of signals breaks nothing. */
static void sigquit_sender(void *arg) {
  (void)arg;
  uv_sleep(50);
  for (int i = 0; i < 50; i++)
    kill(getpid(), SIGQUIT);
}
static void busy_main(void *arg) {
  (void)arg;
  uvgo_task_set_name(NULL, "busy-main");
  uv_thread_t th;
  uv_thread_create(&th, sigquit_sender, NULL);
  uint64_t until = uv_hrtime() + 400 * 1000000ull;
  while (uv_hrtime() < until) {
  } /* never reaches a switch point */
  uv_thread_join(&th);
  uvgo_sleep(50);
}
/* The program's own SIGQUIT handler, there before the run: uvgo must put
 * it back afterwards. It also absorbs a signal of the storm still in
 * flight when the run ends (under TSan, delivery can lag). */
static void host_sigquit_handler(int signum) { (void)signum; }
static void sigquit_case(void) {
  struct sigaction host;
  memset(&host, 0, sizeof host);
  host.sa_handler = host_sigquit_handler;
  sigemptyset(&host.sa_mask);
  ASSERT_OK(sigaction(SIGQUIT, &host, NULL));
  uvgo_config cfg = {.workers = 2, .dump_on_sigquit = 1};
  ASSERT_OK(uvgo_run(&cfg, busy_main, NULL));
  /* The disposition from before the run is back once it is over. */
  struct sigaction sa;
  sigaction(SIGQUIT, NULL, &sa);
  ASSERT_PTR_EQ((void *)sa.sa_handler, (void *)host_sigquit_handler);
  printf("run ended\n");
}
UVGO_TEST_HELPER(sigquit_child) { exit(uvgo_test_run_as_case("sigquit", sigquit_case)); }

UVGO_TEST(sigquit_dumps_while_worker_is_stuck, unit, 30) {
  char out[65536];
  int status = uvgo_test_spawn_helper("sigquit_child", NULL, out, sizeof out);
  ASSERT(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ASSERT_STR_CONTAINS(out, "SIGQUIT: uvgo task dump");
  ASSERT_STR_CONTAINS(out, "[worker 0, running]");
  ASSERT_STR_CONTAINS(out, "run ended");
}

/* The watchdog names a task that hogs its worker. */
static void hog(void *arg) {
  (void)arg;
  /* The monitor must sample the hog twice, 50 ms apart: seconds leave
   * room for its thread to be starved on a loaded machine. */
  uint64_t until = uv_hrtime() + 2000 * 1000000ull;
  while (uv_hrtime() < until) {
  }
}
static void watchdog_case(void) {
  uvgo_config cfg = {.workers = 2, .watchdog_ms = 50};
  ASSERT_OK(uvgo_run(&cfg, hog, NULL));
}
UVGO_TEST_HELPER(watchdog_child) { exit(uvgo_test_run_as_case("watchdog", watchdog_case)); }

UVGO_TEST(watchdog_reports_a_hogging_task, unit, 30) {
  char out[8192];
  int status = uvgo_test_spawn_helper("watchdog_child", NULL, out, sizeof out);
  ASSERT(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ASSERT_STR_CONTAINS(out, "uvgo: watchdog: task");
  ASSERT_STR_CONTAINS(out, "spawned at uvgo_run:0");
  ASSERT_STR_CONTAINS(out, "without reaching a switch point");
}

/* --- the article's classic mistakes end in a deadlock report --- */

static void send_without_receiver(void *arg) {
  (void)arg;
  uvgo_chan *ch = uvgo_chan_new(sizeof(int), 0);
  int v = 1;
  uvgo_chan_send(ch, &v);
}

static void producer(void *arg) {
  int v = 1;
  for (int i = 0; i < 3; i++)
    uvgo_chan_send(arg, &v);
  /* forgets to close */
}
static void range_never_closed(void *arg) {
  (void)arg;
  uvgo_chan *ch = uvgo_chan_new(sizeof(int), 0);
  uvgo_go(producer, ch);
  int v;
  while (uvgo_chan_recv(ch, &v) == 0) {
  }
}

static void forgets_done(void *arg) { (void)arg; }
static void wg_never_done(void *arg) {
  (void)arg;
  static uvgo_wg wg = UVGO_WG_INIT;
  uvgo_wg_add(&wg, 2);
  uvgo_go(forgets_done, NULL);
  uvgo_wg_wait(&wg);
}

static uvgo_mutex mu_a = UVGO_MUTEX_INIT, mu_b = UVGO_MUTEX_INIT;
static void lock_ab(void *arg) {
  (void)arg;
  uvgo_mutex_lock(&mu_a);
  uvgo_sleep(10);
  uvgo_mutex_lock(&mu_b);
}
static void lock_ba(void *arg) {
  (void)arg;
  uvgo_mutex_lock(&mu_b);
  uvgo_sleep(10);
  uvgo_mutex_lock(&mu_a);
}
static void opposite_order(void *arg) {
  (void)arg;
  uvgo_go_on(0, lock_ab, NULL);
  uvgo_go_on(uvgo_worker_count() - 1, lock_ba, NULL);
}

static const struct {
  const char *name;
  uvgo_fn fn;
  const char *blocked_in;
} mistakes[] = {
    {"send", send_without_receiver, "blocked in uvgo_chan_send(0x"},
    {"range", range_never_closed, "blocked in uvgo_chan_recv(0x"},
    {"wg", wg_never_done, "blocked in uvgo_wg_wait(0x"},
    {"mutex", opposite_order, "blocked in uvgo_mutex_lock(0x"},
};

static int mistake_index;
static void mistake_case(void) {
  uvgo_config cfg = {.workers = 2};
  int err = uvgo_run(&cfg, mistakes[mistake_index].fn, NULL);
  printf("run returned %s\n", uvgo_err_name(err));
}
UVGO_TEST_HELPER(mistake_child) {
  mistake_index = atoi(getenv("MISTAKE"));
  /* The stuck tasks' memory is dropped with the run: no leak check. */
  uvgo_test_expect_leaks();
  exit(uvgo_test_run_as_case("mistake", mistake_case));
}

UVGO_TEST(deadlock_reports_the_articles_mistakes, unit, 60) {
  for (int i = 0; i < 4; i++) {
    char env[32], out[16384];
    snprintf(env, sizeof env, "MISTAKE=%d", i);
    int status = uvgo_test_spawn_helper("mistake_child", env, out, sizeof out);
    ASSERT(WIFEXITED(status));
    ASSERT_STR_CONTAINS(out, "all tasks are asleep - deadlock!");
    ASSERT_STR_CONTAINS(out, mistakes[i].blocked_in);
    ASSERT_STR_CONTAINS(out, "tests/test_diag.c:");
    ASSERT_STR_CONTAINS(out, "run returned UVGO_EDEADLOCK");
  }
}

/* For tests/test_gdb.sh: uvgo-tasks lists parked tasks with their frames.
 * noinline/noipa keep the frames gdb must find. */
__attribute__((noinline, noipa)) void uvgo_test_gdb_tasks_stop_here(void);
__attribute__((noinline, noipa)) void uvgo_test_gdb_tasks_stop_here(void) {
  __asm__ volatile("" ::: "memory");
}
__attribute__((noinline, noipa)) static void gdb_parked_task_body(uvgo_chan *ch) {
  int v;
  uvgo_chan_recv(ch, &v);
}
static void gdb_parked_task(void *arg) {
  uvgo_task_set_name(NULL, "gdb-parked");
  gdb_parked_task_body(arg);
}
static void gdb_tasks_main(void *arg) {
  (void)arg;
  uvgo_chan *ch = uvgo_chan_new(sizeof(int), 0);
  uvgo_go(gdb_parked_task, ch);
  uvgo_sleep(10);
  uvgo_test_gdb_tasks_stop_here();
  int v = 1;
  uvgo_chan_send(ch, &v);
  uvgo_chan_release(ch);
}
UVGO_TEST_HELPER(gdb_parked_tasks) {
  uvgo_config cfg = {.workers = 1};
  exit(uvgo_run(&cfg, gdb_tasks_main, NULL) == 0 ? 0 : 1);
}
