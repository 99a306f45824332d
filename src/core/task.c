/* Tasks: spawn, the first run, switching out and back, exit, and the small
 * task-facing calls (yield, sleep, park, names, task-local storage). */
#include <string.h>

#include "core/ctx.h"
#include "core/park.h"
#include "core/scheduler.h"

/* Retry delay for tasks that could not get a stack (ENOMEM). */
#define STARVE_RETRY_MS 10

/* Records move between workers in batches through the runtime's spare
 * list: with stealing, tasks are made on one worker and end on another,
 * and without this every record would be malloc'd on the first and freed
 * on the second — contending on the allocator's arena lock. */
#define RECORD_BATCH 128

static void refill_records(uvgo__worker *w) {
  uvgo_rt *rt = w->rt;
  if (atomic_load_explicit(&rt->spare_count, memory_order_relaxed) == 0)
    return;
  uv_mutex_lock(&rt->global_lock);
  for (int i = 0; i < RECORD_BATCH && rt->spare_tasks != NULL; i++) {
    uvgo_task *t = rt->spare_tasks;
    rt->spare_tasks = t->next;
    t->next = w->free_tasks;
    w->free_tasks = t;
    w->free_count++;
    atomic_fetch_sub_explicit(&rt->spare_count, 1, memory_order_relaxed);
  }
  uv_mutex_unlock(&rt->global_lock);
}

static void spill_records(uvgo__worker *w) {
  uvgo_rt *rt = w->rt;
  uv_mutex_lock(&rt->global_lock);
  for (int i = 0; i < RECORD_BATCH && w->free_tasks != NULL; i++) {
    uvgo_task *t = w->free_tasks;
    w->free_tasks = t->next;
    w->free_count--;
    t->next = rt->spare_tasks;
    rt->spare_tasks = t;
    atomic_fetch_add_explicit(&rt->spare_count, 1, memory_order_relaxed);
  }
  uv_mutex_unlock(&rt->global_lock);
}

static inline __attribute__((always_inline)) uvgo_task *task_record_alloc(
    uvgo__worker *w) {
  uvgo_task *t = NULL;
  if (w != NULL && w->free_tasks == NULL)
    refill_records(w);
  if (w != NULL && w->free_tasks != NULL) {
    t = w->free_tasks;
    w->free_tasks = t->next;
    w->free_count--;
  } else {
    t = uvgo__malloc(sizeof *t);
    if (t == NULL)
      return NULL;
    /* A recycled record keeps its last block record: unread unless the
     * task is parked, and rewritten before it parks. */
    atomic_init(&t->block_seq, 0);
    atomic_init(&t->block_call, NULL);
    atomic_init(&t->block_file, NULL);
    atomic_init(&t->block_line, 0);
    atomic_init(&t->block_object, NULL);
    atomic_init(&t->name_seq, 0);
  }
  /* Field by field: a memset of the whole record was most of the cost of a
   * spawn. The fiber and live-list links are set when the task starts. */
  t->magic = UVGO__TASK_MAGIC;
  atomic_store_explicit(&t->permit, 0, memory_order_relaxed);
  t->stack = NULL;
  t->stack_size = 0;
  t->home = NULL;
  t->next = NULL;
  t->locals = NULL;
  t->copy_heap = NULL;
  t->ctx = NULL;
  t->cancel_scope = NULL;
  t->shield = 0;
  __atomic_store_n(&t->name[0], '\0', __ATOMIC_RELAXED);
  return t;
}

static inline __attribute__((always_inline)) void free_record(
    uvgo__worker *w, uvgo_task *t) {
  t->magic = UVGO__DEAD_MAGIC;
  t->next = w->free_tasks;
  w->free_tasks = t;
  w->free_count++;
  /* Past the worker's own stock: pass a batch to the others while they
   * are short. Records beyond that stay here until the worker is idle
   * (uvgo__task_trim_records): a free() per exit was a fifth of the
   * instructions of 10,000 tasks ending at once (glibc's _int_free and
   * the neighbouring chunks it reads). */
  if (w->free_count > UVGO__FREE_TASKS_MAX &&
      atomic_load_explicit(&w->rt->spare_count, memory_order_relaxed) <
          UVGO__FREE_TASKS_MAX * w->rt->nworkers)
    spill_records(w);
}

void uvgo__task_free_record(uvgo__worker *w, uvgo_task *t) {
  if (w == NULL) {
    t->magic = UVGO__DEAD_MAGIC;
    uvgo__free(t);
    return;
  }
  free_record(w, t);
}

bool uvgo__task_trim_records(uvgo__worker *w, unsigned max) {
  while (w->free_count > UVGO__FREE_TASKS_MAX) {
    if (max-- == 0)
      return true;
    uvgo_task *t = w->free_tasks;
    w->free_tasks = t->next;
    w->free_count--;
    uvgo__free(t);
  }
  return false;
}

static int set_copy(uvgo_task *t, const void *src, size_t size) {
  void *dst = t->copy_inline;
  if (size > sizeof t->copy_inline) {
    dst = t->copy_heap = uvgo__malloc(size);
    if (dst == NULL)
      return UV_ENOMEM;
  }
  memcpy(dst, src, size);
  t->arg = dst;
  return 0;
}

/* always_inline: uvgo_go_at's copy, with no options, no target and not
 * main, folds every branch on them away. */
static inline __attribute__((always_inline)) int spawn(
    uvgo_rt *rt, uvgo__worker *target, bool is_main, uvgo_fn fn, void *arg,
    const uvgo_spawn_opts *opts, const char *file, int line) {
  uvgo__worker *self = uvgo__tls_worker;
  if (self != NULL && self->rt != rt)
    self = NULL; /* a worker of another runtime: treat as foreign */
  int err;
  if (self != NULL && uvgo__credit(self) != 0) {
    /* A unit an ended task left here (runtime.c, "live credit"): the
     * count already holds it. Only max_tasks == 0 leaves credit. */
    if (UVGO__UNLIKELY(atomic_load_explicit(&rt->live, memory_order_relaxed) &
                       UVGO__RT_STOPPED))
      return UVGO_ENORUNTIME;
    uvgo__credit_add(self, -1);
  } else if ((err = uvgo__rt_live_inc(rt)) != 0) {
    return err;
  }
  uvgo_task *t = task_record_alloc(self);
  if (t == NULL) {
    uvgo__rt_live_dec(rt);
    return UV_ENOMEM;
  }
  t->rt = rt;
  t->fn = fn;
  t->arg = arg;
  t->spawn_file = file;
  t->spawn_line = line;
  /* The task's context: given, else the spawning task's, else the
   * runtime's root (main, uvgo_rt_spawn, libuv callbacks). */
  uvgo_ctx *ctx = opts != NULL && opts->ctx != NULL ? opts->ctx : NULL;
  if (ctx == NULL && self != NULL && self->current != NULL)
    ctx = self->current->ctx;
  if (ctx == NULL)
    ctx = rt->root;
  if (ctx != NULL) {
    if (ctx != rt->root)
      uvgo_ctx_retain(ctx); /* see uvgo__task_ctx_release */
    t->ctx = ctx;
    t->cancel_scope = uvgo__ctx_cancel_scope(ctx);
  }
  if (opts != NULL) {
    t->stack_size = opts->stack_size;
    if (opts->name != NULL)
      uvgo_task_set_name(t, opts->name);
    if (opts->copy != NULL && set_copy(t, opts->copy, opts->copy_size) != 0) {
      uvgo__task_ctx_release(t);
      uvgo__task_free_record(self, t);
      uvgo__rt_live_dec(rt);
      return UV_ENOMEM;
    }
  }
  atomic_store_explicit(&t->state, UVGO__TASK_NEW, memory_order_relaxed);
  t->is_main = is_main;
  if (target == NULL && self != NULL) {
    uint32_t len = uvgo__runq_put(self, t);
    uvgo__worker_ready_kick(self, len);
    /* Back-pressure: a task that fills its worker's queue lets the queued
     * tasks run before it spawns more, so a spawn loop recycles a few
     * hundred warm records and stacks instead of queueing millions. */
    if (self->current != NULL && len >= UVGO__RUNQ_SIZE)
      uvgo_yield();
  } else {
    uvgo__worker_submit(target != NULL ? target : rt->workers[0], t);
  }
  return 0;
}

int uvgo__spawn(uvgo_rt *rt, uvgo__worker *target, bool is_main, uvgo_fn fn,
                void *arg, const uvgo_spawn_opts *opts, const char *file,
                int line) {
  return spawn(rt, target, is_main, fn, arg, opts, file, line);
}

static void task_entry(void *arg);

static void link_live(uvgo__worker *w, uvgo_task *t) {
  t->all_prev = NULL;
  t->all_next = w->all_tasks;
  if (w->all_tasks != NULL)
    w->all_tasks->all_prev = t;
  w->all_tasks = t;
}

static void unlink_live(uvgo__worker *w, uvgo_task *t) {
  if (t->all_prev != NULL)
    t->all_prev->all_next = t->all_next;
  else
    w->all_tasks = t->all_next;
  if (t->all_next != NULL)
    t->all_next->all_prev = t->all_prev;
}

static void on_starve_retry(uvgo__timer_entry *e) {
  uvgo__worker *w = UVGO__CONTAINER_OF(e, uvgo__worker, starve_retry);
  for (uvgo_task *t; (t = uvgo__taskq_pop(&w->starving)) != NULL;)
    uvgo__worker_ready(w, t);
}

/* First run: the task takes a stack from this worker's pool and this
 * worker becomes its home for life. */
static bool start_task(uvgo__worker *w, uvgo_task *t) {
  int err = uvgo__stack_get(w->stacks, t->stack_size, &t->stack);
  if (err != 0) {
    /* Out of memory for stacks: the spawn already succeeded, so the task
     * must not be lost. Park it and retry shortly. */
    uvgo__taskq_push(&w->starving, t);
    if (!uvgo__timer_pending(&w->starve_retry)) {
      w->starve_retry.fire = on_starve_retry;
      uvgo__timer_add_reserved(&w->timers, &w->starve_retry,
                               uvgo__deadline_after(STARVE_RETRY_MS));
    }
    return false;
  }
  t->home = w;
  uvgo__stack_set_owner(t->stack, t->spawn_file, t->spawn_line);
  uvgo__fiber_make(&t->fiber, t->stack, task_entry, t);
  bool locked = uvgo__tasks_owner_enter(w);
  link_live(w, t);
  uvgo__tasks_owner_exit(w, locked);
  UVGO__COUNT(w->n_spawns, 1);
  return true;
}

/* What ending a task releases besides its stack and fiber. */
static inline __attribute__((always_inline)) void release_task(
    uvgo__worker *w, uvgo_task *t) {
  if (UVGO__UNLIKELY(t->locals != NULL))
    uvgo__free(t->locals);
  if (UVGO__UNLIKELY(t->copy_heap != NULL))
    uvgo__free(t->copy_heap);
  uvgo__task_ctx_release(t);
  uvgo_rt *rt = t->rt;
  bool was_main = t->is_main;
  free_record(w, t);
  if (UVGO__LIKELY(!was_main && rt->cfg.max_tasks == 0))
    uvgo__credit_add(w, 1); /* its unit stays in rt->live (runtime.c) */
  else
    uvgo__rt_task_finished(rt, was_main);
}

static inline __attribute__((always_inline)) void finish_task(
    uvgo__worker *w, uvgo_task *t) {
  bool locked = uvgo__tasks_owner_enter(w);
  unlink_live(w, t);
  uvgo__tasks_owner_exit(w, locked);
  uvgo__fiber_destroy(&t->fiber);
  uvgo__stack_put(w->stacks, t->stack);
  t->stack = NULL;
  release_task(w, t);
}

/* Warm the caches for the tasks queued behind the one about to run. A task
 * resumed from a long ready queue (a close or a cancel that woke thousands)
 * finds its record and its stack cold: last touched when it parked, with
 * every other waiter's since. Run like that, each task stalls on one miss
 * per frame it returns through (saved registers, parker, waiter, the
 * caller's frames, the stack header), one after the other: the return
 * address of each comes from the line that missed. So while one task
 * runs, the next one's used stack (saved sp up to its header) is
 * prefetched, and the record of the one after that, whose fields the next
 * round reads to find its stack. Skipped unless two or more tasks wait:
 * a short queue is the tasks that ran just now, still in cache.
 * Measured: the run phase after a close that woke 10,000 tasks, 1 worker,
 * best of 15 on a loaded machine: 9.9 ms without, 2.2 ms with.
 * always_inline: GCC 12 marks a function of prefetches alone pure and
 * drops the call (IPA pure-const), so it must be inlined early. */
#define PREFETCH_STACK_MAX 4096

static inline __attribute__((always_inline)) void prefetch_queued(
    uvgo__worker *w) {
  uvgo_task *n = w->ready.head;
  if (n == NULL || n->next == NULL)
    return;
  const char *rec = (const char *)n->next;
  for (size_t off = 0; off < sizeof(uvgo_task); off += 64)
    __builtin_prefetch(rec + off, 1, 3);
  if (n->stack == NULL)
    return;
  const char *lo = (const char *)((uintptr_t)n->fiber.sp & ~(uintptr_t)63);
  const char *hi = (const char *)(n->stack + 1);
  if (hi - lo > PREFETCH_STACK_MAX)
    hi = lo + PREFETCH_STACK_MAX;
  for (const char *p = lo; p < hi; p += 64)
    __builtin_prefetch(p, 1, 3);
}

/* Tasks switched to directly from another task, before the scheduler
 * must run again (so timers, I/O and new tasks are not starved). */
#define DIRECT_BUDGET 64

static void enter(uvgo__worker *w, uvgo_task *t) {
  atomic_store_explicit(&t->state, UVGO__TASK_RUNNING, memory_order_relaxed);
  w->current = t;
  atomic_store_explicit(&w->watch_current, t, memory_order_release);
  UVGO__COUNT(w->n_switches, 1);
}

/* Chained starts. A task that ends hands its stack, still running, to the
 * next task to run when that one is new: the new task runs in the ending
 * one's task_entry frame, with no switch, no scheduler pass and no stack
 * or fiber made and destroyed (a spawn + exit did each twice). It is the
 * same choice the scheduler would make: the oldest queued task by ticket
 * is that new one, and the direct-handoff budget is not spent (timers, I/O
 * and the global queue get their turn as after any direct handoff). The
 * running fiber, with its sanitizer and valgrind state, simply goes on as
 * the new task's; only the FP control words are reset, to what a fresh
 * stack starts with. A new task asking for a stack size of its own is
 * started by the scheduler (start_next) as the very next task. */
static uvgo_task *take_chained(uvgo__worker *w, uvgo_task *t) {
#if UVGO__ARCH_CHAINED_START
  if (t->is_main || t->stack_size != 0 || w->direct_budget == 0 ||
      w->start_next != NULL)
    return NULL;
  uint64_t oldest_new = uvgo__runq_peek_ticket(w);
  if (oldest_new == UINT64_MAX)
    return NULL;
  uvgo_task *r = w->ready.head;
  if (r != NULL && r->ticket < oldest_new)
    return NULL;
  /* A thief may have taken that one since: then the next, as next_task
   * would take it. */
  uvgo_task *n = uvgo__runq_get(w);
  if (n == NULL)
    return NULL;
  if (n->stack_size != 0) {
    w->start_next = n;
    return NULL;
  }
  w->direct_budget--;
  return n;
#else
  (void)w;
  (void)t;
  return NULL;
#endif
}

/* t ended on its own stack; n, new, goes on there. */
static void start_chained(uvgo__worker *w, uvgo_task *t, uvgo_task *n) {
#if UVGO__ARCH_CHAINED_START
  uvgo__arch_fp_reset();
#endif
  uvgo__stack_check(t->stack); /* as returning it would have */
  n->stack = t->stack;
  n->fiber = t->fiber;
  t->stack = NULL;
  n->home = w;
  uvgo__stack_set_owner(n->stack, n->spawn_file, n->spawn_line);
  bool locked = uvgo__tasks_owner_enter(w);
  unlink_live(w, t);
  link_live(w, n);
  uvgo__tasks_owner_exit(w, locked);
  UVGO__COUNT(w->n_spawns, 1);
  release_task(w, t);
  enter(w, n);
}

static void task_entry(void *arg) {
  uvgo_task *t = arg;
  for (;;) {
    t->fn(t->arg);
    /* Task-local destructors run on the task's own stack, as it ends. */
    if (t->locals != NULL)
      uvgo__keys_run_destructors(t->locals);
    uvgo__worker *w = t->home;
    uvgo_task *n = take_chained(w, t);
    if (n == NULL) {
      atomic_store_explicit(&t->state, UVGO__TASK_DONE, memory_order_relaxed);
      uvgo__fiber_switch_final(&t->fiber, &w->sched_fiber);
    }
    start_chained(w, t, n);
    t = n;
  }
}

/* After t has switched out — to the scheduler, or straight to the next
 * task — put it where its state says. Runs on the scheduler's stack or on
 * the next task's, never on t's own. */
static inline __attribute__((always_inline)) void settle(uvgo__worker *w,
                                                       uvgo_task *t) {
  int s = atomic_load_explicit(&t->state, memory_order_acquire);
  switch (s) {
  case UVGO__TASK_YIELDING:
    atomic_store_explicit(&t->state, UVGO__TASK_RUNNABLE, memory_order_relaxed);
    uvgo__worker_ready(w, t);
    break;
  case UVGO__TASK_PARKING:
    if (w->park_commit != NULL) {
      /* It parked holding the locks all its wakers take: nothing can
       * have changed its state, and nothing can before the unlock. */
      void (*commit)(void *) = w->park_commit;
      w->park_commit = NULL;
      atomic_store_explicit(&t->state, UVGO__TASK_PARKED,
                            memory_order_relaxed);
      commit(w->park_commit_arg);
      break;
    }
    if (atomic_compare_exchange_strong_explicit(
            &t->state, &s, UVGO__TASK_PARKED, memory_order_acq_rel,
            memory_order_acquire))
      break;
    /* Woken between registering and switching out (NOTIFIED). */
    atomic_store_explicit(&t->state, UVGO__TASK_RUNNABLE, memory_order_relaxed);
    uvgo__worker_ready(w, t);
    break;
  case UVGO__TASK_NOTIFIED:
    atomic_store_explicit(&t->state, UVGO__TASK_RUNNABLE, memory_order_relaxed);
    uvgo__worker_ready(w, t);
    break;
  case UVGO__TASK_DONE:
    finish_task(w, t);
    break;
  default:
    break;
  }
}

void uvgo__task_resume(uvgo__worker *w, uvgo_task *t) {
  for (;;) {
    if (t->stack == NULL && !start_task(w, t))
      return;
    enter(w, t);
    w->direct_budget = DIRECT_BUDGET;
    w->switched_from = NULL;
    prefetch_queued(w);
    uvgo__fiber_switch(&w->sched_fiber, &t->fiber);
    /* Back on the scheduler: the task that switched here may not be t, if
     * tasks handed the worker to each other directly meanwhile. */
    uvgo_task *last = w->current;
    w->current = NULL;
    atomic_store_explicit(&w->watch_current, NULL, memory_order_relaxed);
    settle(w, last);
    /* The new task an ending one took but could not run on its stack. */
    t = w->start_next;
    if (UVGO__LIKELY(t == NULL))
      return;
    w->start_next = NULL;
  }
}

/* The task to hand the worker to directly: the oldest queued task, if it
 * is one that has started (a new one needs the scheduler to start it). */
static uvgo_task *take_direct(uvgo__worker *w) {
  uvgo_task *r = w->ready.head;
  if (r == NULL || r->stack == NULL || w->direct_budget == 0 ||
      r->ticket > uvgo__runq_peek_ticket(w))
    return NULL;
  w->direct_budget--;
  return uvgo__taskq_pop(&w->ready);
}

/* Switch away from the running task t. When the oldest queued task has
 * started already, switch straight to it — one context switch instead of
 * two through the scheduler — and let it settle t. */
void uvgo__task_switch_out(uvgo__worker *w, uvgo_task *t) {
  uvgo_task *next = take_direct(w);
  uvgo__fiber *to = &w->sched_fiber;
  if (next != NULL) {
    enter(w, next);
    w->switched_from = t;
    prefetch_queued(w);
    to = &next->fiber;
  }
  /* One call site for both: a task resumed by another then returns
   * through the very addresses the other called through. */
  uvgo__fiber_switch_as(&t->fiber, to, next != NULL);
  /* Resumed: by the scheduler, or directly by the task that ran before. */
  uvgo_task *prev = w->switched_from;
  if (prev != NULL) {
    w->switched_from = NULL;
    settle(w, prev);
  }
}

/* The remote half of a wake: move t's state on from another thread.
 * @return true if t is now RUNNABLE and the caller must queue it on its
 * home worker (false: it was PARKING and requeues itself, or awake). */
static bool wake_state_remote(uvgo_task *t) {
  /* A plain thread counts as taking part before its wake can be seen
   * anywhere (the state, then the inbox): the deadlock check must not see
   * the wake half done and no one active (tests/model/verdict.pml). */
  uvgo__foreign_thread_enter();
  for (;;) {
    int s = atomic_load_explicit(&t->state, memory_order_acquire);
    if (s == UVGO__TASK_PARKING) {
      if (atomic_compare_exchange_weak_explicit(&t->state, &s,
                                                UVGO__TASK_NOTIFIED,
                                                memory_order_acq_rel,
                                                memory_order_acquire))
        return false;
    } else if (s == UVGO__TASK_PARKED) {
      if (atomic_compare_exchange_weak_explicit(&t->state, &s,
                                                UVGO__TASK_RUNNABLE,
                                                memory_order_acq_rel,
                                                memory_order_acquire))
        return true;
    } else {
      return false; /* already awake: the claim protocol makes this a no-op */
    }
  }
}

void uvgo__task_wake(uvgo_task *t) {
  if (!uvgo__task_wake_local(t) && wake_state_remote(t))
    uvgo__worker_submit(t->home, t);
}

void uvgo__wake_batch_flush(uvgo__wake_batch *b) {
  if (b->home != NULL)
    uvgo__worker_submit_list(b->home, &b->tasks);
  b->home = NULL;
  b->len = 0;
}

void uvgo__wake_batch_add(uvgo__wake_batch *b, uvgo_task *t) {
  if (uvgo__task_wake_local(t) || !wake_state_remote(t))
    return;
  if (b->home != t->home) {
    uvgo__wake_batch_flush(b);
    b->home = t->home;
  }
  uvgo__taskq_push(&b->tasks, t);
  if (++b->len == UVGO__WAKE_BATCH_MAX)
    uvgo__wake_batch_flush(b);
}

/* --- the task-facing API --- */

static uvgo_rt *caller_rt(void) {
  uvgo__worker *w = uvgo__tls_worker;
  return w != NULL ? w->rt : NULL;
}

int uvgo_go_at(uvgo_fn fn, void *arg, const char *file, int line) {
  if (fn == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL task function");
  uvgo_rt *rt = caller_rt();
  if (rt == NULL)
    return UVGO__MISUSE(UVGO_ENOTTASK, "uvgo_go outside a uvgo worker");
  return spawn(rt, NULL, false, fn, arg, NULL, file, line);
}

int uvgo_go_copy_at(uvgo_fn fn, const void *ptr, size_t size,
                    const char *file, int line) {
  if (ptr == NULL && size > 0)
    return UVGO__MISUSE(UV_EINVAL, "NULL argument with a non-zero size");
  uvgo_spawn_opts opts = {.worker = -1, .copy = ptr ? ptr : "", .copy_size = size};
  return uvgo_go_opts_at(&opts, fn, NULL, file, line);
}

int uvgo_go_opts_at(const uvgo_spawn_opts *opts, uvgo_fn fn, void *arg,
                    const char *file, int line) {
  if (fn == NULL || opts == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL task function or options");
  uvgo_rt *rt = caller_rt();
  if (rt == NULL)
    return UVGO__MISUSE(UVGO_ENOTTASK, "spawn outside a uvgo worker");
  if (opts->stack_size != 0 && (opts->stack_size < UVGO__STACK_MIN_SIZE ||
                                opts->stack_size > UVGO__STACK_MAX_SIZE))
    return UVGO__MISUSE(UVGO_ESTACKSIZE, "stack size out of range");
  uvgo__worker *target = NULL;
  if (opts->worker >= 0) {
    if ((unsigned)opts->worker >= rt->nworkers)
      return UVGO__MISUSE(UV_EINVAL, "worker index out of range");
    target = rt->workers[opts->worker];
  }
  return uvgo__spawn(rt, target, false, fn, arg, opts, file, line);
}

int uvgo_go_ctx_at(uvgo_ctx *ctx, uvgo_fn fn, void *arg, const char *file,
                   int line) {
  if (ctx == NULL)
    return UVGO__MISUSE(UV_EINVAL, "uvgo_go_ctx with a NULL context");
  uvgo_spawn_opts opts = {.worker = -1, .ctx = ctx};
  return uvgo_go_opts_at(&opts, fn, arg, file, line);
}

int uvgo_go_on_at(unsigned worker, uvgo_fn fn, void *arg, const char *file,
                  int line) {
  if (worker > (unsigned)INT32_MAX)
    return UVGO__MISUSE(UV_EINVAL, "worker index out of range");
  uvgo_spawn_opts opts = {.worker = (int)worker};
  return uvgo_go_opts_at(&opts, fn, arg, file, line);
}

int uvgo_yield(void) {
  uvgo_task *t = uvgo__current_task();
  if (t == NULL)
    return UVGO__MISUSE(UVGO_ENOTTASK, "uvgo_yield outside a task");
  atomic_store_explicit(&t->state, UVGO__TASK_YIELDING, memory_order_relaxed);
  uvgo__task_switch_out(t->home, t);
  return 0;
}

int uvgo_sleep(uint64_t ms) {
  uvgo_task *t = uvgo__current_task();
  if (t == NULL)
    return UVGO__MISUSE(UVGO_ENOTTASK, "uvgo_sleep outside a task");
  if (ms == 0)
    return uvgo_yield();
  uvgo__parker p;
  uvgo__parker_prepare(&p, "uvgo_sleep");
  int reason = uvgo__parker_wait(&p, uvgo__deadline_after(ms));
  return reason == UVGO__WAKE_TIMEOUT ? 0 : reason;
}

uvgo_task *uvgo_self(void) { return uvgo__current_task(); }

/* The permit word of uvgo_park/uvgo_unpark: 0 none, 1 pending, 2 parked. */
enum { PERMIT_NONE = 0, PERMIT_PENDING = 1, PERMIT_PARKED = 2 };

int uvgo_park(void) {
  uvgo_task *t = uvgo__current_task();
  if (t == NULL)
    return UVGO__MISUSE(UVGO_ENOTTASK, "uvgo_park outside a task");
  int v = PERMIT_PENDING;
  if (atomic_compare_exchange_strong(&t->permit, &v, PERMIT_NONE))
    return 0;
  uvgo__task_set_block(t, "uvgo_park", uvgo_call_site_tls.file,
                       uvgo_call_site_tls.line, NULL);
  atomic_store_explicit(&t->state, UVGO__TASK_PARKING, memory_order_release);
  v = PERMIT_NONE;
  if (!atomic_compare_exchange_strong(&t->permit, &v, PERMIT_PARKED)) {
    /* An unpark arrived just now: consume it instead of sleeping. */
    atomic_store(&t->permit, PERMIT_NONE);
    atomic_store_explicit(&t->state, UVGO__TASK_RUNNING, memory_order_relaxed);
    return 0;
  }
  uvgo__task_switch_out(t->home, t);
  return 0;
}

int uvgo_unpark(uvgo_task *t) {
  if (t == NULL)
    return UVGO__MISUSE(UV_EINVAL, "uvgo_unpark(NULL)");
  if (t->magic != UVGO__TASK_MAGIC)
    return UVGO__MISUSE(UVGO_ERELEASED, "uvgo_unpark of a finished task");
  for (;;) {
    int v = atomic_load(&t->permit);
    if (v == PERMIT_PENDING)
      return 0;
    if (v == PERMIT_NONE) {
      if (atomic_compare_exchange_weak(&t->permit, &v, PERMIT_PENDING))
        return 0;
    } else if (atomic_compare_exchange_weak(&t->permit, &v, PERMIT_NONE)) {
      uvgo__task_wake(t);
      return 0;
    }
  }
}

int uvgo_task_set_name(uvgo_task *t, const char *name) {
  if (t == NULL)
    t = uvgo__current_task();
  if (t == NULL || name == NULL)
    return UV_EINVAL;
  size_t n = strlen(name);
  if (n >= sizeof t->name)
    n = sizeof t->name - 1;
  /* A dump on another thread may be reading it (seqlock, see diag.c). */
  unsigned seq = atomic_fetch_add_explicit(&t->name_seq, 1, memory_order_relaxed);
  for (size_t i = 0; i < n; i++)
    __atomic_store_n(&t->name[i], name[i], __ATOMIC_RELEASE);
  __atomic_store_n(&t->name[n], '\0', __ATOMIC_RELEASE);
  atomic_store_explicit(&t->name_seq, seq + 2, memory_order_release);
  return 0;
}

const char *uvgo_task_name(const uvgo_task *t) {
  if (t == NULL)
    t = uvgo__current_task();
  return t != NULL ? t->name : "";
}
