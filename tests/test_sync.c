/* Sync: WaitGroup, Mutex, Once and the weighted semaphore, from tasks on
 * one or more workers and from plain threads. */
#include "harness.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>

static uvgo_config config_with(unsigned workers) {
  uvgo_config cfg = {0};
  cfg.workers = workers;
  return cfg;
}

static uint64_t now_ms(void) { return uv_hrtime() / 1000000u; }

/* --- WaitGroup --- */

typedef struct {
  uvgo_wg wg;
  _Atomic long hits;
  long n;
} fan;

static void fan_child(void *arg) {
  fan *f = arg;
  atomic_fetch_add(&f->hits, 1);
  ASSERT_OK(uvgo_wg_done(&f->wg));
}

static void fan_main(void *arg) {
  fan *f = arg;
  unsigned nw = uvgo_worker_count();
  for (long i = 0; i < f->n; i++) {
    ASSERT_OK(uvgo_wg_add(&f->wg, 1));
    if (i % 3 == 0)
      ASSERT_OK(uvgo_go_on((unsigned)i % nw, fan_child, f));
    else
      ASSERT_OK(uvgo_go(fan_child, f));
  }
  ASSERT_OK(uvgo_wg_wait(&f->wg));
  ASSERT_EQ(atomic_load(&f->hits), f->n);
}

UVGO_TEST(wg_fan_out_fan_in, unit, 60) {
  for (unsigned workers = 1; workers <= 4; workers *= 2) {
    fan f = {.wg = UVGO_WG_INIT, .n = uvgo_test_scaled(20000, 200)};
    uvgo_config cfg = config_with(workers);
    ASSERT_OK(uvgo_run(&cfg, fan_main, &f));
    ASSERT_EQ(atomic_load(&f.hits), f.n);
  }
}

UVGO_TEST(wg_zero_value_is_ready, unit, 10) {
  uvgo_wg a = {0};
  uvgo_wg b = UVGO_WG_INIT;
  ASSERT_OK(uvgo_wg_wait(&a));
  ASSERT_OK(uvgo_wg_wait_timeout(&b, 0));
  ASSERT_OK(uvgo_wg_add(&a, 2));
  ASSERT_OK(uvgo_wg_done(&a));
  ASSERT_OK(uvgo_wg_done(&a));
  ASSERT_OK(uvgo_wg_wait(&a));
}

UVGO_TEST(wg_negative_counter_is_einval, unit, 10) {
  uvgo_wg wg = {0};
  ASSERT_ERR(uvgo_wg_done(&wg), UV_EINVAL);
  ASSERT_ERR(uvgo_wg_add(&wg, -1), UV_EINVAL);
  ASSERT_OK(uvgo_wg_add(&wg, 2));
  ASSERT_ERR(uvgo_wg_add(&wg, -3), UV_EINVAL);
  /* Unchanged: still 2, so one done leaves it waiting. */
  ASSERT_OK(uvgo_wg_done(&wg));
  ASSERT_ERR(uvgo_wg_wait_timeout(&wg, 1), UV_ETIMEDOUT);
  ASSERT_OK(uvgo_wg_done(&wg));
  ASSERT_OK(uvgo_wg_wait(&wg));
  ASSERT_ERR(uvgo_wg_add(&wg, (int64_t)INT32_MAX + 1), UV_EINVAL);
  ASSERT_ERR(uvgo_wg_add(NULL, 1), UV_EINVAL);
  ASSERT_ERR(uvgo_wg_done(NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_wg_wait(NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_wg_wait_timeout(NULL, 1), UV_EINVAL);
}

static void late_done(void *arg) {
  ASSERT_OK(uvgo_sleep(30));
  ASSERT_OK(uvgo_wg_done(arg));
}

static void wg_timeout_main(void *arg) {
  (void)arg;
  uvgo_wg wg = {0};
  ASSERT_OK(uvgo_wg_add(&wg, 1));
  uint64_t start = now_ms();
  ASSERT_ERR(uvgo_wg_wait_timeout(&wg, 20), UV_ETIMEDOUT);
  ASSERT_GE(now_ms() - start, 19);
  /* The timed-out waiter left nothing behind: a later wait works. */
  ASSERT_OK(uvgo_go(late_done, &wg));
  ASSERT_OK(uvgo_wg_wait_timeout(&wg, 5000));
  ASSERT_OK(uvgo_wg_wait(&wg));
}

UVGO_TEST(wg_wait_timeout, unit, 10) {
  uvgo_config cfg = config_with(2);
  ASSERT_OK(uvgo_run(&cfg, wg_timeout_main, NULL));
}

/* A plain thread waits for tasks. */
typedef struct {
  uvgo_wg ready; /* the thread is about to wait */
  uvgo_wg work;
  _Atomic int seen;
} thread_wait;

static void thread_waiter(void *arg) {
  thread_wait *tw = arg;
  ASSERT_OK(uvgo_wg_done(&tw->ready));
  ASSERT_OK(uvgo_wg_wait(&tw->work));
  atomic_store(&tw->seen, 1);
}
static void slow_worker(void *arg) {
  thread_wait *tw = arg;
  ASSERT_OK(uvgo_wg_wait(&tw->ready)); /* a task waits for a thread */
  ASSERT_OK(uvgo_sleep(20));
  ASSERT_EQ(atomic_load(&tw->seen), 0);
  ASSERT_OK(uvgo_wg_done(&tw->work));
}
static void thread_wait_main(void *arg) {
  for (int i = 0; i < 4; i++)
    ASSERT_OK(uvgo_go(slow_worker, arg));
}

UVGO_TEST(wg_plain_thread_waits_for_tasks, unit, 10) {
  thread_wait tw = {.ready = UVGO_WG_INIT, .work = UVGO_WG_INIT};
  ASSERT_OK(uvgo_wg_add(&tw.ready, 1));
  ASSERT_OK(uvgo_wg_add(&tw.work, 4));
  uv_thread_t th;
  ASSERT_OK(uv_thread_create(&th, thread_waiter, &tw));
  uvgo_config cfg = config_with(2);
  ASSERT_OK(uvgo_run(&cfg, thread_wait_main, &tw));
  ASSERT_OK(uv_thread_join(&th));
  ASSERT_EQ(atomic_load(&tw.seen), 1);
}

/* --- Mutex --- */

typedef struct {
  uvgo_mutex mu;
  long counter; /* not atomic: the mutex protects it */
  long per;     /* increments per task or thread */
  int tasks;
} shared_count;

static void count_under_lock(shared_count *sc, bool may_yield) {
  for (long i = 0; i < sc->per; i++) {
    ASSERT_OK(uvgo_mutex_lock(&sc->mu));
    long v = sc->counter;
    /* Yielding while holding it makes tasks of the same worker queue up. */
    if (may_yield && i % 16 == 0)
      ASSERT_OK(uvgo_yield());
    sc->counter = v + 1;
    ASSERT_OK(uvgo_mutex_unlock(&sc->mu));
  }
}
static void count_task(void *arg) { count_under_lock(arg, true); }
static void count_thread(void *arg) { count_under_lock(arg, false); }
static void count_main(void *arg) {
  shared_count *sc = arg;
  for (int i = 0; i < sc->tasks; i++)
    ASSERT_OK(uvgo_go_on((unsigned)i % uvgo_worker_count(), count_task, sc));
}

UVGO_TEST(mutex_mutual_exclusion, unit, 60) {
  for (unsigned workers = 1; workers <= 4; workers *= 2) {
    shared_count sc = {.mu = UVGO_MUTEX_INIT,
                       .per = uvgo_test_scaled(2000, 100),
                       .tasks = 16};
    uv_thread_t th[2];
    for (int i = 0; i < 2; i++)
      ASSERT_OK(uv_thread_create(&th[i], count_thread, &sc));
    uvgo_config cfg = config_with(workers);
    ASSERT_OK(uvgo_run(&cfg, count_main, &sc));
    for (int i = 0; i < 2; i++)
      ASSERT_OK(uv_thread_join(&th[i]));
    ASSERT_EQ(sc.counter, (long)(sc.tasks + 2) * sc.per);
    ASSERT_OK(uvgo_mutex_trylock(&sc.mu)); /* left free */
    ASSERT_OK(uvgo_mutex_unlock(&sc.mu));
  }
}

typedef struct {
  uvgo_mutex mu;
  _Atomic int stage;
} owner_test;

static void other_unlocker(void *arg) {
  owner_test *ot = arg;
  ASSERT_ERR(uvgo_mutex_unlock(&ot->mu), UVGO_ENOTOWNER);
  ASSERT_ERR(uvgo_mutex_trylock(&ot->mu), UV_EBUSY);
  atomic_store(&ot->stage, 1);
}
static void owner_main(void *arg) {
  owner_test *ot = arg;
  ASSERT_ERR(uvgo_mutex_unlock(&ot->mu), UVGO_ENOTOWNER); /* not held */
  ASSERT_OK(uvgo_mutex_trylock(&ot->mu));
  ASSERT_ERR(uvgo_mutex_trylock(&ot->mu), UV_EBUSY);
  ASSERT_ERR(uvgo_mutex_lock(&ot->mu), UVGO_EDEADLOCK);
  ASSERT_OK(uvgo_go(other_unlocker, ot));
  while (atomic_load(&ot->stage) == 0)
    ASSERT_OK(uvgo_yield());
  /* Still ours after the other task's attempt. */
  ASSERT_OK(uvgo_mutex_unlock(&ot->mu));
  ASSERT_ERR(uvgo_mutex_unlock(&ot->mu), UVGO_ENOTOWNER);
}

UVGO_TEST(mutex_owner_checks, unit, 10) {
  owner_test ot = {.mu = UVGO_MUTEX_INIT};
  uvgo_config cfg = config_with(2);
  ASSERT_OK(uvgo_run(&cfg, owner_main, &ot));
  ASSERT_ERR(uvgo_mutex_lock(NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_mutex_lock_timeout(NULL, 1), UV_EINVAL);
  ASSERT_ERR(uvgo_mutex_trylock(NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_mutex_unlock(NULL), UV_EINVAL);
}

/* A plain thread's hold is the thread's: a task cannot unlock it. */
static void task_tries_thread_lock(void *arg) {
  ASSERT_ERR(uvgo_mutex_unlock(arg), UVGO_ENOTOWNER);
  ASSERT_ERR(uvgo_mutex_lock_timeout(arg, 5), UV_ETIMEDOUT);
}

UVGO_TEST(mutex_plain_thread_owner, unit, 10) {
  uvgo_mutex mu = {0};
  ASSERT_OK(uvgo_mutex_lock(&mu));
  ASSERT_OK(uvgo_run(NULL, task_tries_thread_lock, &mu));
  ASSERT_OK(uvgo_mutex_unlock(&mu));
  ASSERT_ERR(uvgo_mutex_unlock(&mu), UVGO_ENOTOWNER);
}

/* Waiters get the lock in arrival order. */
typedef struct {
  uvgo_mutex mu;
  char order[8];
  _Atomic int len;
  _Atomic int queued;
} fifo_test;
typedef struct {
  fifo_test *ft;
  char name;
} fifo_arg;

static void fifo_waiter(void *arg) {
  fifo_arg *fa = arg;
  atomic_fetch_add(&fa->ft->queued, 1);
  ASSERT_OK(uvgo_mutex_lock(&fa->ft->mu));
  fa->ft->order[atomic_fetch_add(&fa->ft->len, 1)] = fa->name;
  ASSERT_OK(uvgo_mutex_unlock(&fa->ft->mu));
}
static void fifo_main(void *arg) {
  fifo_test *ft = arg;
  static fifo_arg args[4];
  ASSERT_OK(uvgo_mutex_lock(&ft->mu));
  for (int i = 0; i < 4; i++) {
    args[i] = (fifo_arg){ft, (char)('a' + i)};
    ASSERT_OK(uvgo_go_on(0, fifo_waiter, &args[i]));
    /* Let it run up to its park, so arrival order is spawn order. */
    ASSERT_OK(uvgo_yield());
    ASSERT_OK(uvgo_yield());
  }
  ASSERT_EQ(atomic_load(&ft->queued), 4);
  ASSERT_OK(uvgo_mutex_unlock(&ft->mu));
}

UVGO_TEST(mutex_fifo_order, unit, 10) {
  fifo_test ft = {.mu = UVGO_MUTEX_INIT};
  uvgo_config cfg = config_with(1);
  ASSERT_OK(uvgo_run(&cfg, fifo_main, &ft));
  ASSERT_STR_EQ(ft.order, "abcd");
}

/* Starvation mode: a woken waiter that lost to a barging task after
 * waiting over 1 ms gets the mutex handed to it directly next time. */
static void starving_waiter(void *arg) {
  fifo_test *ft = arg;
  atomic_fetch_add(&ft->queued, 1);
  ASSERT_OK(uvgo_mutex_lock(&ft->mu));
  ft->order[atomic_fetch_add(&ft->len, 1)] = 'w';
  ASSERT_OK(uvgo_mutex_unlock(&ft->mu));
}
static void starvation_main(void *arg) {
  fifo_test *ft = arg;
  ASSERT_OK(uvgo_mutex_lock(&ft->mu));
  ASSERT_OK(uvgo_go_on(0, starving_waiter, ft));
  ASSERT_OK(uvgo_yield());
  ASSERT_OK(uvgo_yield());
  ASSERT_EQ(atomic_load(&ft->queued), 1);
  ASSERT_OK(uvgo_sleep(5)); /* the waiter waits > 1 ms */
  /* Normal mode: unlock wakes the waiter but frees the mutex, so we can
   * barge back in before it runs. */
  ASSERT_OK(uvgo_mutex_unlock(&ft->mu));
  ASSERT_OK(uvgo_mutex_trylock(&ft->mu));
  ASSERT_OK(uvgo_yield()); /* it runs, loses, and turns starvation on */
  ASSERT_OK(uvgo_yield());
  ASSERT_EQ(atomic_load(&ft->len), 0);
  ASSERT_OK(uvgo_mutex_unlock(&ft->mu));
  /* Handed off: no barging now. */
  ASSERT_ERR(uvgo_mutex_trylock(&ft->mu), UV_EBUSY);
  while (atomic_load(&ft->len) == 0)
    ASSERT_OK(uvgo_yield());
  ASSERT_OK(uvgo_mutex_trylock(&ft->mu)); /* back to normal, free */
  ASSERT_OK(uvgo_mutex_unlock(&ft->mu));
}

UVGO_TEST(mutex_starvation_hand_off, unit, 10) {
  fifo_test ft = {.mu = UVGO_MUTEX_INIT};
  uvgo_config cfg = config_with(1);
  ASSERT_OK(uvgo_run(&cfg, starvation_main, &ft));
  ASSERT_STR_EQ(ft.order, "w");
}

typedef struct {
  uvgo_mutex mu;
  _Atomic int held;
  _Atomic int timed_out;
} timeout_test;

static void long_holder(void *arg) {
  timeout_test *tt = arg;
  ASSERT_OK(uvgo_mutex_lock(&tt->mu));
  atomic_store(&tt->held, 1);
  while (atomic_load(&tt->timed_out) == 0)
    ASSERT_OK(uvgo_sleep(1));
  ASSERT_OK(uvgo_mutex_unlock(&tt->mu));
}
static void timeout_main(void *arg) {
  timeout_test *tt = arg;
  ASSERT_OK(uvgo_go_on(uvgo_worker_count() - 1, long_holder, tt));
  while (atomic_load(&tt->held) == 0)
    ASSERT_OK(uvgo_sleep(1));
  uint64_t start = now_ms();
  ASSERT_ERR(uvgo_mutex_lock_timeout(&tt->mu, 20), UV_ETIMEDOUT);
  ASSERT_GE(now_ms() - start, 19);
  atomic_store(&tt->timed_out, 1);
  /* The timed-out waiter is gone from the queue: the holder's unlock hands
   * to us (or frees it) and we get it. */
  ASSERT_OK(uvgo_mutex_lock_timeout(&tt->mu, 5000));
  ASSERT_OK(uvgo_mutex_unlock(&tt->mu));
  ASSERT_OK(uvgo_mutex_trylock(&tt->mu));
  ASSERT_OK(uvgo_mutex_unlock(&tt->mu));
}

UVGO_TEST(mutex_lock_timeout, unit, 10) {
  for (unsigned workers = 1; workers <= 2; workers++) {
    timeout_test tt = {.mu = UVGO_MUTEX_INIT};
    uvgo_config cfg = config_with(workers);
    ASSERT_OK(uvgo_run(&cfg, timeout_main, &tt));
  }
}

/* --- Once --- */

typedef struct {
  uvgo_once once;
  _Atomic int runs;
  int value; /* written by fn, read by every caller after once_do */
  _Atomic int checked;
} once_test;

static void once_fn(void *arg) {
  once_test *ot = arg;
  atomic_fetch_add(&ot->runs, 1);
  if (uvgo_self() != NULL)
    ASSERT_OK(uvgo_sleep(10)); /* others arrive and must park */
  ot->value = 42;
}
static void once_caller(void *arg) {
  once_test *ot = arg;
  ASSERT_OK(uvgo_once_do(&ot->once, once_fn, ot));
  ASSERT_EQ(ot->value, 42);
  atomic_fetch_add(&ot->checked, 1);
}
static void once_thread(void *arg) { once_caller(arg); }
static void once_main(void *arg) {
  for (int i = 0; i < 32; i++)
    ASSERT_OK(uvgo_go_on((unsigned)i % uvgo_worker_count(), once_caller, arg));
}

/* An unlock whose waiters all left by their deadlines (claimed, not yet
 * unlinked): the mutex is freed to nobody, with the release as the
 * unlocker's last touch (a fast-path locker may take, release and free
 * it at once), and stays fully usable. One worker: the holder's sleep and
 * the waiters' deadlines end in the same timer pass, the holder first
 * (most rounds; a slow round may let a waiter take the mutex instead). */
typedef struct {
  uvgo_mutex mu;
  uvgo_wg left;
} left_box;

static void short_waiter(void *arg) {
  left_box *b = arg;
  int err = uvgo_mutex_lock_timeout(&b->mu, 3);
  if (err == 0)
    ASSERT_OK(uvgo_mutex_unlock(&b->mu));
  else
    ASSERT_ERR(err, UV_ETIMEDOUT);
  ASSERT_OK(uvgo_wg_done(&b->left));
}

static void left_waiters_main(void *arg) {
  (void)arg;
  for (int round = 0; round < 30; round++) {
    left_box *b = calloc(1, sizeof *b);
    ASSERT(b != NULL);
    ASSERT_OK(uvgo_mutex_lock(&b->mu));
    ASSERT_OK(uvgo_wg_add(&b->left, 2));
    ASSERT_OK(uvgo_go(short_waiter, b));
    ASSERT_OK(uvgo_go(short_waiter, b));
    uvgo_sleep(3);
    ASSERT_OK(uvgo_mutex_unlock(&b->mu));
    ASSERT_OK(uvgo_wg_wait(&b->left));
    ASSERT_OK(uvgo_mutex_trylock(&b->mu));
    ASSERT_OK(uvgo_mutex_unlock(&b->mu));
    free(b);
  }
}

UVGO_TEST(mutex_unlock_after_waiters_left, unit, 20) {
  uvgo_config cfg = config_with(1);
  ASSERT_OK(uvgo_run(&cfg, left_waiters_main, NULL));
}

UVGO_TEST(once_runs_once, unit, 10) {
  for (unsigned workers = 1; workers <= 4; workers *= 2) {
    once_test ot = {.once = UVGO_ONCE_INIT};
    uv_thread_t th;
    ASSERT_OK(uv_thread_create(&th, once_thread, &ot));
    uvgo_config cfg = config_with(workers);
    ASSERT_OK(uvgo_run(&cfg, once_main, &ot));
    ASSERT_OK(uv_thread_join(&th));
    ASSERT_EQ(atomic_load(&ot.runs), 1);
    ASSERT_EQ(atomic_load(&ot.checked), 33);
    ASSERT_OK(uvgo_once_do(&ot.once, once_fn, &ot));
    ASSERT_EQ(atomic_load(&ot.runs), 1);
  }
}

static uvgo_once recursive_once = UVGO_ONCE_INIT;
static int recursive_result = 1;
static void recursive_fn(void *arg) {
  (void)arg;
  recursive_result = uvgo_once_do(&recursive_once, recursive_fn, NULL);
}

UVGO_TEST(once_recursive_is_edeadlock, unit, 10) {
  ASSERT_OK(uvgo_once_do(&recursive_once, recursive_fn, NULL));
  ASSERT_EQ(recursive_result, UVGO_EDEADLOCK);
  ASSERT_ERR(uvgo_once_do(NULL, recursive_fn, NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_once_do(&recursive_once, NULL, NULL), UV_EINVAL);
}

/* --- Semaphore --- */

UVGO_TEST(sem_weights, unit, 10) {
  uvgo_sem sem;
  ASSERT_ERR(uvgo_sem_init(&sem, -1), UV_EINVAL);
  ASSERT_OK(uvgo_sem_init(&sem, 10));
  ASSERT_OK(uvgo_sem_acquire(&sem, 7));
  ASSERT_ERR(uvgo_sem_try_acquire(&sem, 4), UV_EAGAIN);
  ASSERT_OK(uvgo_sem_try_acquire(&sem, 3));
  ASSERT_ERR(uvgo_sem_acquire_timeout(&sem, 1, 5), UV_ETIMEDOUT);
  ASSERT_OK(uvgo_sem_acquire(&sem, 0));
  ASSERT_OK(uvgo_sem_release(&sem, 4));
  ASSERT_ERR(uvgo_sem_release(&sem, 7), UV_EINVAL); /* only 6 held */
  ASSERT_OK(uvgo_sem_try_acquire(&sem, 4));         /* unchanged: 4 free */
  ASSERT_OK(uvgo_sem_release(&sem, 10));
  ASSERT_ERR(uvgo_sem_release(&sem, 1), UV_EINVAL);
  ASSERT_ERR(uvgo_sem_acquire(&sem, 11), UV_EINVAL);
  ASSERT_ERR(uvgo_sem_acquire(&sem, -1), UV_EINVAL);
  ASSERT_ERR(uvgo_sem_try_acquire(&sem, 11), UV_EINVAL);
  ASSERT_ERR(uvgo_sem_acquire(NULL, 1), UV_EINVAL);
  ASSERT_ERR(uvgo_sem_release(NULL, 1), UV_EINVAL);
  uvgo_sem zero = {0};
  ASSERT_ERR(uvgo_sem_acquire(&zero, 1), UV_EINVAL);
  ASSERT_OK(uvgo_sem_acquire(&zero, 0));
  uvgo_sem fixed = UVGO_SEM_INIT(2);
  ASSERT_OK(uvgo_sem_acquire(&fixed, 2));
  ASSERT_OK(uvgo_sem_release(&fixed, 2));
}

/* FIFO: a big request at the head holds back the small ones behind it. */
typedef struct {
  uvgo_sem sem;
  char order[8];
  _Atomic int len;
} sem_fifo;
typedef struct {
  sem_fifo *sf;
  int64_t n;
  char name;
} sem_arg;

static void sem_taker(void *arg) {
  sem_arg *sa = arg;
  ASSERT_OK(uvgo_sem_acquire(&sa->sf->sem, sa->n));
  sa->sf->order[atomic_fetch_add(&sa->sf->len, 1)] = sa->name;
  ASSERT_OK(uvgo_sem_release(&sa->sf->sem, sa->n));
}
static void sem_fifo_main(void *arg) {
  sem_fifo *sf = arg;
  static sem_arg args[3];
  ASSERT_OK(uvgo_sem_acquire(&sf->sem, 4));
  args[0] = (sem_arg){sf, 4, 'B'};
  args[1] = (sem_arg){sf, 1, 'a'};
  args[2] = (sem_arg){sf, 1, 'b'};
  for (int i = 0; i < 3; i++) {
    ASSERT_OK(uvgo_go_on(0, sem_taker, &args[i]));
    ASSERT_OK(uvgo_yield());
  }
  /* One token free: the small ones fit, but B is first in line. */
  ASSERT_OK(uvgo_sem_release(&sf->sem, 1));
  ASSERT_OK(uvgo_yield());
  ASSERT_OK(uvgo_yield());
  ASSERT_EQ(atomic_load(&sf->len), 0);
  ASSERT_ERR(uvgo_sem_try_acquire(&sf->sem, 1), UV_EAGAIN);
  ASSERT_OK(uvgo_sem_release(&sf->sem, 3));
}

UVGO_TEST(sem_fifo_large_request_not_starved, unit, 10) {
  sem_fifo sf = {.sem = UVGO_SEM_INIT(4)};
  uvgo_config cfg = config_with(1);
  ASSERT_OK(uvgo_run(&cfg, sem_fifo_main, &sf));
  ASSERT_STR_EQ(sf.order, "Bab");
}

/* A timed-out head lets the smaller waiters behind it through. */
static void sem_timeout_main(void *arg) {
  sem_fifo *sf = arg;
  static sem_arg small = {NULL, 1, 's'};
  small.sf = sf;
  ASSERT_OK(uvgo_sem_acquire(&sf->sem, 3)); /* 1 left */
  ASSERT_OK(uvgo_go_on(0, sem_taker, &small)); /* queues behind us... */
  /* ...not yet: it runs after we park, and we park first. */
  uint64_t start = now_ms();
  ASSERT_ERR(uvgo_sem_acquire_timeout(&sf->sem, 4, 20), UV_ETIMEDOUT);
  ASSERT_GE(now_ms() - start, 19);
  ASSERT_OK(uvgo_sleep(5));
  ASSERT_EQ(atomic_load(&sf->len), 1); /* granted when we left the head */
  ASSERT_OK(uvgo_sem_release(&sf->sem, 3));
  ASSERT_OK(uvgo_sem_try_acquire(&sf->sem, 4)); /* nothing leaked */
  ASSERT_OK(uvgo_sem_release(&sf->sem, 4));
}

UVGO_TEST(sem_timeout_unblocks_followers, unit, 10) {
  sem_fifo sf = {.sem = UVGO_SEM_INIT(4)};
  uvgo_config cfg = config_with(1);
  ASSERT_OK(uvgo_run(&cfg, sem_timeout_main, &sf));
  ASSERT_STR_EQ(sf.order, "s");
}

/* --- nothing here allocates --- */

static void set_flag(void *arg) { *(int *)arg = 1; }

static void alloc_free_calls(void *arg) {
  (void)arg;
  uvgo_wg wg = {0};
  uvgo_mutex mu = {0};
  uvgo_once once = {0};
  uvgo_sem sem = UVGO_SEM_INIT(2);
  int flag = 0;
  long before = uvgo_test_allocation_count();
  /* Any allocation now would fail: none of these may see UV_ENOMEM. */
  uvgo_test_fail_allocation(1);
  ASSERT_OK(uvgo_wg_add(&wg, 1));
  ASSERT_OK(uvgo_wg_done(&wg));
  ASSERT_OK(uvgo_wg_wait(&wg));
  ASSERT_OK(uvgo_mutex_lock(&mu));
  ASSERT_OK(uvgo_mutex_unlock(&mu));
  ASSERT_OK(uvgo_once_do(&once, set_flag, &flag));
  ASSERT_OK(uvgo_sem_acquire(&sem, 2));
  ASSERT_OK(uvgo_sem_release(&sem, 2));
  uvgo_test_fail_allocation(0);
  ASSERT_EQ(flag, 1);
  ASSERT_EQ(uvgo_test_allocation_count(), before);
}

UVGO_TEST(sync_calls_do_not_allocate, unit, 10) {
  uvgo_config cfg = config_with(1);
  ASSERT_OK(uvgo_run(&cfg, alloc_free_calls, NULL));
}

/* --- UVGO_STRICT=1 turns misuse into an abort that names the call --- */

static void strict_case(const char *helper, const char *call) {
  char out[4096];
  int status = uvgo_test_spawn_helper(helper, "UVGO_STRICT=1", out, sizeof out);
  ASSERT(WIFSIGNALED(status));
  ASSERT_EQ(WTERMSIG(status), SIGABRT);
  ASSERT_STR_CONTAINS(out, "uvgo: misuse in");
  ASSERT_STR_CONTAINS(out, call);
}

UVGO_TEST_HELPER(strict_wg_negative) {
  uvgo_wg wg = {0};
  uvgo_wg_add(&wg, -1);
  exit(0);
}
UVGO_TEST_HELPER(strict_mutex_unlock) {
  uvgo_mutex mu = {0};
  uvgo_mutex_unlock(&mu);
  exit(0);
}
UVGO_TEST_HELPER(strict_sem_release) {
  uvgo_sem sem = UVGO_SEM_INIT(1);
  uvgo_sem_release(&sem, 1);
  exit(0);
}

UVGO_TEST_HELPER(strict_mutex_relock) {
  uvgo_mutex mu = {0};
  uvgo_mutex_lock(&mu);
  uvgo_mutex_lock(&mu);
  exit(0);
}

UVGO_TEST(sync_strict_misuse_aborts, unit, 20) {
  strict_case("strict_mutex_relock", "uvgo_mutex_lock");
  strict_case("strict_wg_negative", "uvgo_wg_add");
  strict_case("strict_mutex_unlock", "uvgo_mutex_unlock");
  strict_case("strict_sem_release", "uvgo_sem_release");
}
