/* Tasks and the scheduler: spawn, run to completion, yield, sleep,
 * park/unpark, copies, names, task-local storage, placement and stealing. */
#include "harness.h"

#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static uvgo_config config_with(unsigned workers) {
  uvgo_config cfg = {0};
  cfg.workers = workers;
  return cfg;
}

static _Atomic int counter;

static void bump(void *arg) {
  (void)arg;
  atomic_fetch_add(&counter, 1);
}

static void main_spawns(void *arg) {
  long n = *(long *)arg;
  for (long i = 0; i < n; i++)
    ASSERT_OK(uvgo_go(bump, NULL));
}

UVGO_TEST(run_waits_for_every_task, unit, 30) {
  for (unsigned workers = 1; workers <= 4; workers *= 2) {
    atomic_store(&counter, 0);
    long n = uvgo_test_scaled(10000, 100);
    uvgo_config cfg = config_with(workers);
    ASSERT_OK(uvgo_run(&cfg, main_spawns, &n));
    ASSERT_EQ(atomic_load(&counter), n);
  }
}

static void hello(void *arg) { *(int *)arg = 42; }

UVGO_TEST(run_main_only, unit, 10) {
  int value = 0;
  ASSERT_OK(uvgo_run(NULL, hello, &value));
  ASSERT_EQ(value, 42);
  /* A second run on the same thread works: nothing is left behind. */
  value = 0;
  uvgo_config cfg = config_with(1);
  ASSERT_OK(uvgo_run(&cfg, hello, &value));
  ASSERT_EQ(value, 42);
}

UVGO_TEST(run_bad_arguments, unit, 10) {
  ASSERT_ERR(uvgo_run(NULL, NULL, NULL), UV_EINVAL);
  uvgo_config cfg = config_with(UVGO_MAX_WORKERS + 1);
  ASSERT_ERR(uvgo_run(&cfg, hello, NULL), UV_EINVAL);
  cfg = config_with(1);
  cfg.stack_size = 100;
  ASSERT_ERR(uvgo_run(&cfg, hello, NULL), UVGO_ESTACKSIZE);
  cfg.stack_size = (size_t)4 << 30;
  ASSERT_ERR(uvgo_run(&cfg, hello, NULL), UVGO_ESTACKSIZE);
}

UVGO_TEST(go_outside_task_is_an_error, unit, 10) {
  ASSERT_ERR(uvgo_go(bump, NULL), UVGO_ENOTTASK);
  ASSERT_ERR(uvgo_yield(), UVGO_ENOTTASK);
  ASSERT_ERR(uvgo_sleep(1), UVGO_ENOTTASK);
  ASSERT_ERR(uvgo_park(), UVGO_ENOTTASK);
  ASSERT_ERR(uvgo_unpark(NULL), UV_EINVAL);
  ASSERT_NULL(uvgo_self());
  ASSERT_NULL(uvgo_loop());
  ASSERT_EQ(uvgo_worker_id(), -1);
  ASSERT_EQ(uvgo_task_count(NULL), 0);
}

static void nested_run(void *arg) {
  ASSERT_ERR(uvgo_run(NULL, hello, NULL), UV_EBUSY);
  ASSERT_ERR(uvgo_go(NULL, NULL), UV_EINVAL);
  uvgo_spawn_opts opts = {.worker = 5};
  ASSERT_ERR(uvgo_go_opts(&opts, bump, NULL), UV_EINVAL);
  opts = (uvgo_spawn_opts){.worker = -1, .stack_size = 10};
  ASSERT_ERR(uvgo_go_opts(&opts, bump, NULL), UVGO_ESTACKSIZE);
  ASSERT_ERR(uvgo_go_on(9, bump, NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_go_copy(bump, NULL, 4), UV_EINVAL);
  *(int *)arg = 1;
}

UVGO_TEST(misuse_inside_task, unit, 10) {
  int done = 0;
  uvgo_config cfg = config_with(2);
  ASSERT_OK(uvgo_run(&cfg, nested_run, &done));
  ASSERT_EQ(done, 1);
}

/* The article's loop-variable bug cannot happen with uvgo_go_copy. */
static int seen[100];
static void record_copy(void *arg) { seen[*(int *)arg]++; }
static void spawn_copies(void *arg) {
  (void)arg;
  for (int i = 0; i < 100; i++)
    ASSERT_OK(uvgo_go_copy(record_copy, &i, sizeof i));
}

UVGO_TEST(go_copy_gives_each_task_its_value, unit, 10) {
  memset(seen, 0, sizeof seen);
  uvgo_config cfg = config_with(2);
  ASSERT_OK(uvgo_run(&cfg, spawn_copies, NULL));
  for (int i = 0; i < 100; i++)
    ASSERT_EQ(seen[i], 1);
}

typedef struct {
  char bytes[300];
} big_arg;
static void check_big(void *arg) {
  big_arg *b = arg;
  for (int i = 0; i < 300; i++)
    ASSERT_EQ(b->bytes[i], (char)(i * 7));
  atomic_fetch_add(&counter, 1);
}
static void spawn_big(void *arg) {
  (void)arg;
  big_arg b;
  for (int i = 0; i < 300; i++)
    b.bytes[i] = (char)(i * 7);
  ASSERT_OK(uvgo_go_copy(check_big, &b, sizeof b));
  memset(&b, 0, sizeof b); /* the task must hold its own copy */
}

UVGO_TEST(go_copy_large_argument, unit, 10) {
  atomic_store(&counter, 0);
  ASSERT_OK(uvgo_run(NULL, spawn_big, NULL));
  ASSERT_EQ(atomic_load(&counter), 1);
}

/* Yield interleaves tasks on one worker in FIFO order. */
static char trace[64];
static _Atomic int trace_len;
static void yielder(void *arg) {
  char c = *(char *)arg;
  for (int i = 0; i < 3; i++) {
    trace[atomic_fetch_add(&trace_len, 1)] = c;
    ASSERT_OK(uvgo_yield());
  }
}
static void spawn_yielders(void *arg) {
  (void)arg;
  static char a = 'a', b = 'b';
  uvgo_spawn_opts opts = {.worker = 0};
  ASSERT_OK(uvgo_go_opts(&opts, yielder, &a));
  ASSERT_OK(uvgo_go_opts(&opts, yielder, &b));
}

UVGO_TEST(yield_interleaves, unit, 10) {
  atomic_store(&trace_len, 0);
  memset(trace, 0, sizeof trace);
  uvgo_config cfg = config_with(1);
  ASSERT_OK(uvgo_run(&cfg, spawn_yielders, NULL));
  ASSERT_STR_EQ(trace, "ababab");
}

static void sleeper(void *arg) {
  uint64_t start = uv_hrtime();
  ASSERT_OK(uvgo_sleep(50));
  uint64_t elapsed_ms = (uv_hrtime() - start) / 1000000u;
  ASSERT_GE(elapsed_ms, 50);
  *(uint64_t *)arg = elapsed_ms;
}

UVGO_TEST(sleep_waits_at_least, unit, 10) {
  uint64_t elapsed = 0;
  ASSERT_OK(uvgo_run(NULL, sleeper, &elapsed));
  ASSERT_GE(elapsed, 50);
}

/* Sleeps end in deadline order, whatever the spawn order. */
static char order[16];
static _Atomic int order_len;
static void sleep_then_mark(void *arg) {
  int ms = *(int *)arg;
  ASSERT_OK(uvgo_sleep((uint64_t)ms));
  order[atomic_fetch_add(&order_len, 1)] = (char)('0' + ms / 50);
}
static void spawn_sleepers(void *arg) {
  (void)arg;
  /* 50 ms apart: wide enough for a loaded machine or a TSan build. */
  int delays[] = {150, 50, 250, 100, 200};
  for (int i = 0; i < 5; i++)
    ASSERT_OK(uvgo_go_copy(sleep_then_mark, &delays[i], sizeof(int)));
}

UVGO_TEST(sleep_order_follows_deadlines, unit, 10) {
  atomic_store(&order_len, 0);
  memset(order, 0, sizeof order);
  uvgo_config cfg = config_with(1);
  ASSERT_OK(uvgo_run(&cfg, spawn_sleepers, NULL));
  ASSERT_STR_EQ(order, "12345");
}

/* Park/unpark across workers, including unpark before park. */
typedef struct {
  uvgo_task *_Atomic waiter;
  _Atomic int stage;
} park_pair;

static void parker_task(void *arg) {
  park_pair *pp = arg;
  atomic_store(&pp->waiter, uvgo_self());
  ASSERT_OK(uvgo_park());
  ASSERT_EQ(atomic_load(&pp->stage), 1);
  /* An unpark that came first is not lost. */
  ASSERT_OK(uvgo_unpark(uvgo_self()));
  ASSERT_OK(uvgo_park());
  atomic_store(&pp->stage, 2);
}
static void unparker_task(void *arg) {
  park_pair *pp = arg;
  while (atomic_load(&pp->waiter) == NULL)
    uvgo_yield();
  ASSERT_OK(uvgo_sleep(5));
  atomic_store(&pp->stage, 1);
  ASSERT_OK(uvgo_unpark(atomic_load(&pp->waiter)));
}
static void park_main(void *arg) {
  ASSERT_OK(uvgo_go_on(0, parker_task, arg));
  ASSERT_OK(uvgo_go_on(uvgo_worker_count() - 1, unparker_task, arg));
}

UVGO_TEST(park_unpark_across_workers, unit, 10) {
  for (unsigned workers = 1; workers <= 2; workers++) {
    park_pair pp = {NULL, 0};
    uvgo_config cfg = config_with(workers);
    ASSERT_OK(uvgo_run(&cfg, park_main, &pp));
    ASSERT_EQ(atomic_load(&pp.stage), 2);
  }
}

/* The uv_fs_stat wrapper of the docs: a libuv request as a blocking call. */
static void on_stat(uv_fs_t *req) { uvgo_unpark(req->data); }
static void stat_task(void *arg) {
  uv_fs_t req;
  req.data = uvgo_self();
  ASSERT_OK(uv_fs_stat(uvgo_loop(), &req, "/", on_stat));
  ASSERT_OK(uvgo_park());
  ASSERT_EQ(req.result, 0);
  ASSERT(S_ISDIR(req.statbuf.st_mode));
  uv_fs_req_cleanup(&req);
  *(int *)arg = 1;
}

UVGO_TEST(park_wraps_uv_fs_stat, unit, 10) {
  int ok = 0;
  ASSERT_OK(uvgo_run(NULL, stat_task, &ok));
  ASSERT_EQ(ok, 1);
}

static void check_names(void *arg) {
  (void)arg;
  ASSERT_STR_EQ(uvgo_task_name(NULL), "");
  ASSERT_OK(uvgo_task_set_name(NULL, "fetcher"));
  ASSERT_STR_EQ(uvgo_task_name(uvgo_self()), "fetcher");
  ASSERT_OK(uvgo_task_set_name(NULL, "a-name-much-longer-than-thirty-one-bytes"));
  ASSERT_EQ(strlen(uvgo_task_name(NULL)), 31);
  ASSERT_ERR(uvgo_task_set_name(NULL, NULL), UV_EINVAL);
}

UVGO_TEST(task_names, unit, 10) { ASSERT_OK(uvgo_run(NULL, check_names, NULL)); }

static uvgo_key key_a, key_b;
static _Atomic int destroyed;
static void destroy_value(void *v) {
  ASSERT_PTR_EQ(v, &destroyed);
  atomic_fetch_add(&destroyed, 1);
}
static void use_locals(void *arg) {
  (void)arg;
  ASSERT_NULL(uvgo_key_get(key_a));
  ASSERT_OK(uvgo_key_set(key_a, &destroyed));
  ASSERT_PTR_EQ(uvgo_key_get(key_a), &destroyed);
  ASSERT_NULL(uvgo_key_get(key_b));
  uvgo_yield();
  ASSERT_PTR_EQ(uvgo_key_get(key_a), &destroyed);
}
static void locals_main(void *arg) {
  (void)arg;
  for (int i = 0; i < 10; i++)
    ASSERT_OK(uvgo_go(use_locals, NULL));
}

UVGO_TEST(task_local_storage, unit, 10) {
  ASSERT_OK(uvgo_key_create(&key_a, destroy_value));
  ASSERT_OK(uvgo_key_create(&key_b, NULL));
  ASSERT_ERR(uvgo_key_create(NULL, NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_key_set(key_a, NULL), UVGO_ENOTTASK);
  uvgo_key bad = {999};
  ASSERT_ERR(uvgo_key_set(bad, NULL), UV_EINVAL);
  atomic_store(&destroyed, 0);
  uvgo_config cfg = config_with(2);
  ASSERT_OK(uvgo_run(&cfg, locals_main, NULL));
  ASSERT_EQ(atomic_load(&destroyed), 10);
}

/* go_on places a task on the worker asked for, and it stays there. */
static _Atomic int placed[4];
static void check_worker(void *arg) {
  int want = *(int *)arg;
  ASSERT_EQ(uvgo_worker_id(), want);
  for (int i = 0; i < 5; i++) {
    uvgo_sleep(1);
    ASSERT_EQ(uvgo_worker_id(), want);
  }
  atomic_fetch_add(&placed[want], 1);
}
static void placement_main(void *arg) {
  (void)arg;
  for (int w = 0; w < 4; w++)
    for (int i = 0; i < 10; i++) {
      uvgo_spawn_opts opts = {.worker = w, .copy = &w, .copy_size = sizeof w};
      ASSERT_OK(uvgo_go_opts(&opts, check_worker, NULL));
    }
}

UVGO_TEST(go_on_pins_to_worker, unit, 20) {
  uvgo_config cfg = config_with(4);
  ASSERT_OK(uvgo_run(&cfg, placement_main, NULL));
  for (int w = 0; w < 4; w++)
    ASSERT_EQ(atomic_load(&placed[w]), 10);
}

/* CPU-bound tasks spawned on worker 0 are stolen by idle workers. On
 * worker 0 a task also holds on (no switch point) until worker 1 has
 * finished one: the CPU work alone could be over before a starved worker 1
 * thread is scheduled at all. Capped, so a worker that never steals fails
 * the assertion rather than the timeout. */
static _Atomic int ran_on[2];
static uint64_t steal_deadline_ns;
static void busy(void *arg) {
  (void)arg;
  volatile uint64_t x = 1;
  for (int i = 0; i < 200000; i++)
    x = x * 6364136223846793005u + 1;
  int w = uvgo_worker_id();
  if (w == 0)
    while (atomic_load(&ran_on[1]) == 0 && uv_hrtime() < steal_deadline_ns) {
    }
  atomic_fetch_add(&ran_on[w], 1);
}
static void steal_main(void *arg) {
  (void)arg;
  steal_deadline_ns = uv_hrtime() + 10 * 1000000000ull;
  for (int i = 0; i < 200; i++)
    ASSERT_OK(uvgo_go(busy, NULL));
}

UVGO_TEST(idle_worker_steals_new_tasks, unit, 30) {
  uvgo_config cfg = config_with(2);
  atomic_store(&ran_on[0], 0);
  atomic_store(&ran_on[1], 0);
  ASSERT_OK(uvgo_run(&cfg, steal_main, NULL));
  ASSERT_EQ(atomic_load(&ran_on[0]) + atomic_load(&ran_on[1]), 200);
  ASSERT_GT(atomic_load(&ran_on[1]), 0);
}

static void capped_main(void *arg) {
  (void)arg;
  int spawned = 0, refused = 0;
  for (int i = 0; i < 20; i++) {
    int err = uvgo_go(bump, NULL);
    if (err == 0)
      spawned++;
    else {
      ASSERT_ERR(err, UVGO_ELIMIT);
      refused++;
    }
  }
  ASSERT_EQ(spawned, 4); /* main counts as one of the five */
  ASSERT_EQ(refused, 16);
  ASSERT_EQ(uvgo_task_count(NULL), 5);
}

UVGO_TEST(live_task_cap, unit, 10) {
  uvgo_config cfg = config_with(1);
  cfg.max_tasks = 5;
  ASSERT_OK(uvgo_run(&cfg, capped_main, NULL));
}

static void forever(void *arg) {
  (void)arg;
  uvgo_park();
}
static void leave_tasks_behind(void *arg) {
  (void)arg;
  for (int i = 0; i < 3; i++)
    ASSERT_OK(uvgo_go(forever, NULL));
  uvgo_yield();
}

UVGO_TEST(exit_when_main_returns_reports_leftovers, unit, 10) {
  char out[4096];
  int status = uvgo_test_spawn_helper("leftover_run", NULL, out, sizeof out);
  ASSERT(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ASSERT_STR_CONTAINS(out, "main returned with 3 tasks still alive");
  ASSERT_STR_CONTAINS(out, "test_task.c");
}

static void leftover_case(void) {
  uvgo_config cfg = config_with(2);
  cfg.exit_when_main_returns = 1;
  ASSERT_OK(uvgo_run(&cfg, leave_tasks_behind, NULL));
}
UVGO_TEST_HELPER(leftover_run) { exit(uvgo_test_run_as_case("leftover", leftover_case)); }

/* uvgo_task_count against what is known to be alive, while tasks start
 * and end as fast as two workers run them and are stolen between them:
 * never fewer than the tasks that stay alive throughout, exactly those
 * once the churn has ended, and exactly the caller alone at the end. A
 * worker keeps the units of tasks that ended on it for its next spawns
 * (runtime.c, "live credit"); the count must not show them. */
#define COUNT_HOLDERS 10
static _Atomic int count_release, count_churn_left;
static void count_nothing(void *arg) { (void)arg; }
static void count_holder(void *arg) {
  (void)arg;
  while (!atomic_load(&count_release))
    uvgo_sleep(1);
}
static void count_churner(void *arg) {
  (void)arg;
  long rounds = uvgo_test_scaled(2000, 50);
  for (long r = 0; r < rounds; r++) {
    for (int i = 0; i < 64; i++)
      ASSERT_OK(uvgo_go(count_nothing, NULL));
    ASSERT_OK(uvgo_yield());
  }
  atomic_fetch_sub(&count_churn_left, 1);
}
static void count_main(void *arg) {
  (void)arg;
  for (int i = 0; i < COUNT_HOLDERS; i++)
    ASSERT_OK(uvgo_go_on((unsigned)i % 2, count_holder, NULL));
  ASSERT_OK(uvgo_go_on(0, count_churner, NULL));
  ASSERT_OK(uvgo_go_on(1, count_churner, NULL));
  long reads = 0;
  while (atomic_load(&count_churn_left) > 0) {
    ASSERT_UGE(uvgo_task_count(NULL), COUNT_HOLDERS + 1);
    if (++reads % 16 == 0)
      ASSERT_OK(uvgo_yield());
  }
  /* The churn is over: its last tasks end soon, and then the count is
   * exactly the holders and main, whatever each worker still keeps. */
  for (int ms = 0; uvgo_task_count(NULL) != COUNT_HOLDERS + 1; ms++) {
    ASSERT_LT(ms, 10000);
    ASSERT_OK(uvgo_sleep(1));
  }
  ASSERT_UEQ(uvgo_task_count(NULL), COUNT_HOLDERS + 1);
  atomic_store(&count_release, 1);
  for (int ms = 0; uvgo_task_count(NULL) != 1; ms++) {
    ASSERT_LT(ms, 10000);
    ASSERT_OK(uvgo_sleep(1));
  }
  /* One worker: tasks that ran to completion on the caller's worker are
   * gone from the count the moment the caller runs again. */
  atomic_store(&counter, 0);
  for (int i = 0; i < 100; i++)
    ASSERT_OK(uvgo_go_on((unsigned)uvgo_worker_id(), bump, NULL));
  while (atomic_load(&counter) < 100)
    ASSERT_OK(uvgo_yield());
  ASSERT_UEQ(uvgo_task_count(NULL), 1);
}

UVGO_TEST(task_count_exact_while_tasks_churn_on_two_workers, stress, 60) {
  atomic_store(&count_release, 0);
  atomic_store(&count_churn_left, 2);
  uvgo_config cfg = config_with(2);
  ASSERT_OK(uvgo_run(&cfg, count_main, NULL));
  ASSERT_EQ(uvgo_live_tasks_total(), 0);
}

/* The run ends when the last task does, however the last task's end falls
 * against the worker's per-tick budget: a worker whose budget ran out on
 * exactly the last task must still give back the units it kept for its
 * next spawns (runtime.c, "live credit"), or the run would end in a
 * deadlock verdict with no task left. */
static long spawn_k;
static void spawn_k_main(void *arg) {
  (void)arg;
  for (long i = 0; i < spawn_k; i++)
    ASSERT_OK(uvgo_go(count_nothing, NULL));
}

UVGO_TEST(run_ends_whatever_the_budget_at_the_last_exit, unit, 60) {
  /* Around one and two budgets (256 resumes a tick, main among them). */
  static const long ks[] = {1, 2, 3, 64, 250, 251, 252, 253, 254, 255, 256,
                            257, 258, 259, 260, 384, 420, 422, 508, 509, 510,
                            511, 512, 513, 514, 600};
  for (unsigned workers = 1; workers <= 2; workers++)
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
      spawn_k = ks[i];
      uvgo_config cfg = config_with(workers);
      ASSERT_OK(uvgo_run(&cfg, spawn_k_main, NULL));
    }
}
