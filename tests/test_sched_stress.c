/* Scheduler stress, run under TSan in CI: spawn storms from tasks and
 * foreign threads, park/unpark races across workers, sleeps on every
 * worker at once, stealing. Every case checks exact accounting. */
#include "harness.h"

#include <stdatomic.h>

static const unsigned worker_counts[] = {1, 2, 4};

/* --- a spawn tree: every task spawns children until a depth --- */
static _Atomic long tree_nodes;
static void tree_node(void *arg) {
  int depth = *(int *)arg;
  atomic_fetch_add(&tree_nodes, 1);
  if (depth == 0)
    return;
  int child = depth - 1;
  for (int i = 0; i < 4; i++)
    ASSERT_OK(uvgo_go_copy(tree_node, &child, sizeof child));
  if (depth % 2)
    uvgo_yield();
}

UVGO_TEST(stress_spawn_tree, stress, 120) {
  int depth = uvgo_test_scale() >= 1.0 ? 8 : 6; /* 4^8 = 65536 leaves */
  long want = 0;
  for (long level = 1, i = 0; i <= depth; i++, level *= 4)
    want += level;
  for (size_t k = 0; k < sizeof worker_counts / sizeof *worker_counts; k++) {
    atomic_store(&tree_nodes, 0);
    uvgo_config cfg = {.workers = worker_counts[k]};
    ASSERT_OK(uvgo_run(&cfg, tree_node, &depth));
    ASSERT_EQ(atomic_load(&tree_nodes), want);
  }
}

/* --- foreign threads spawn into a running uvgo_run runtime --- */
#define PRODUCERS 4
static _Atomic long foreign_runs;
typedef struct {
  uvgo_rt *rt;
  long n;
} producer;
static void foreign_task(void *arg) {
  (void)arg;
  atomic_fetch_add(&foreign_runs, 1);
}
static void producer_main(void *arg) {
  producer *p = arg;
  for (long i = 0; i < p->n; i++)
    ASSERT_OK(uvgo_rt_spawn(p->rt, foreign_task, NULL));
  ASSERT_OK(uvgo_rt_unref(p->rt));
}
static uv_thread_t producer_threads[PRODUCERS];
static producer producers[PRODUCERS];
static void start_producers(void *arg) {
  long n = *(long *)arg;
  uvgo_rt *rt = uvgo_rt_current();
  for (int i = 0; i < PRODUCERS; i++) {
    producers[i] = (producer){rt, n};
    /* Taken before the thread starts: the run cannot end under it. */
    ASSERT_OK(uvgo_rt_ref(rt));
    ASSERT_OK(uv_thread_create(&producer_threads[i], producer_main,
                               &producers[i]));
  }
}

UVGO_TEST(stress_foreign_thread_spawns, stress, 120) {
  long n = uvgo_test_scaled(20000, 500);
  for (size_t k = 0; k < sizeof worker_counts / sizeof *worker_counts; k++) {
    atomic_store(&foreign_runs, 0);
    uvgo_config cfg = {.workers = worker_counts[k]};
    ASSERT_OK(uvgo_run(&cfg, start_producers, &n));
    for (int i = 0; i < PRODUCERS; i++)
      ASSERT_OK(uv_thread_join(&producer_threads[i]));
    ASSERT_EQ(atomic_load(&foreign_runs), n * PRODUCERS);
  }
}

/* --- park/unpark ping-pong between tasks pinned to different workers --- */
typedef struct {
  uvgo_task *_Atomic peer[2];
  _Atomic long turn; /* whose move: even = side 0, odd = side 1 */
  long rounds;
} pingpong;

typedef struct {
  pingpong *pp;
  int side;
} pp_side;

static void pingpong_side(void *arg) {
  pp_side *s = arg;
  pingpong *pp = s->pp;
  atomic_store(&pp->peer[s->side], uvgo_self());
  while (atomic_load(&pp->peer[!s->side]) == NULL)
    uvgo_yield();
  for (;;) {
    long t = atomic_load(&pp->turn);
    if (t >= 2 * pp->rounds)
      break;
    if ((t & 1) != s->side) {
      uvgo_park(); /* spurious returns are fine: the loop re-checks */
      continue;
    }
    atomic_store(&pp->turn, t + 1);
    ASSERT_OK(uvgo_unpark(atomic_load(&pp->peer[!s->side])));
  }
  /* No final unpark: the last mover already woke the other side, which
   * then sees the game is over; the peer may be gone by now. */
}

#define PAIRS 8
static pingpong pairs[PAIRS];
static pp_side sides[PAIRS][2];
static void pingpong_main(void *arg) {
  long rounds = *(long *)arg;
  unsigned nw = uvgo_worker_count();
  for (int i = 0; i < PAIRS; i++) {
    memset(&pairs[i], 0, sizeof pairs[i]);
    pairs[i].rounds = rounds;
    for (int s = 0; s < 2; s++) {
      sides[i][s] = (pp_side){&pairs[i], s};
      ASSERT_OK(uvgo_go_on((unsigned)(i + s) % nw, pingpong_side, &sides[i][s]));
    }
  }
}

UVGO_TEST(stress_park_unpark_across_workers, stress, 120) {
  long rounds = uvgo_test_scaled(5000, 200);
  for (size_t k = 0; k < sizeof worker_counts / sizeof *worker_counts; k++) {
    uvgo_config cfg = {.workers = worker_counts[k]};
    ASSERT_OK(uvgo_run(&cfg, pingpong_main, &rounds));
    for (int i = 0; i < PAIRS; i++)
      ASSERT_EQ(atomic_load(&pairs[i].turn), 2 * rounds);
  }
}

/* --- sleeps on every worker while tasks spawn and finish around them --- */
static _Atomic long sleeps_done;
static void sleepy(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  for (int i = 0; i < 5; i++) {
    ASSERT_OK(uvgo_sleep(rand_r(&seed) % 3));
    if (rand_r(&seed) % 4 == 0)
      ASSERT_OK(uvgo_go(foreign_task, NULL));
  }
  atomic_fetch_add(&sleeps_done, 1);
}
static void sleepy_main(void *arg) {
  long n = *(long *)arg;
  unsigned nw = uvgo_worker_count();
  for (long i = 0; i < n; i++) {
    if (i % 2)
      ASSERT_OK(uvgo_go_on((unsigned)i % nw, sleepy, (void *)(uintptr_t)i));
    else
      ASSERT_OK(uvgo_go(sleepy, (void *)(uintptr_t)i));
  }
}

UVGO_TEST(stress_sleeps_on_all_workers, stress, 120) {
  long n = uvgo_test_scaled(2000, 100);
  for (size_t k = 0; k < sizeof worker_counts / sizeof *worker_counts; k++) {
    atomic_store(&sleeps_done, 0);
    uvgo_config cfg = {.workers = worker_counts[k]};
    ASSERT_OK(uvgo_run(&cfg, sleepy_main, &n));
    ASSERT_EQ(atomic_load(&sleeps_done), n);
  }
}

/* --- stealing: each new task runs exactly once, on some worker --- */
#define STEAL_TASKS 4096
static _Atomic int runs_of[STEAL_TASKS];
static void run_once(void *arg) {
  int i = *(int *)arg;
  atomic_fetch_add(&runs_of[i], 1);
  if (i % 64 == 0)
    uvgo_yield();
}
static void steal_storm(void *arg) {
  (void)arg;
  for (int i = 0; i < STEAL_TASKS; i++)
    ASSERT_OK(uvgo_go_copy(run_once, &i, sizeof i));
}

UVGO_TEST(stress_stealing_runs_each_task_once, stress, 120) {
  long reps = uvgo_test_scaled(20, 2);
  for (long r = 0; r < reps; r++) {
    memset(runs_of, 0, sizeof runs_of);
    uvgo_config cfg = {.workers = 4};
    ASSERT_OK(uvgo_run(&cfg, steal_storm, NULL));
    for (int i = 0; i < STEAL_TASKS; i++)
      ASSERT_EQ(atomic_load(&runs_of[i]), 1);
  }
}
