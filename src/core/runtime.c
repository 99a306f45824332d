/* The runtime: uvgo_run (the calling thread becomes worker 0) and attach
 * mode (worker 0 is the host's loop), live-task accounting, and the end of
 * a run. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "core/ctx.h"
#include "core/scheduler.h"

/* rt->live packs live tasks (low 32 bits) and references held with
 * uvgo_rt_ref (next 30 bits); one word so "both reached zero" is a single
 * atomic event.
 *
 * Live credit: a task that ends on a worker (not main, no max_tasks)
 * leaves its unit in rt->live as that worker's credit (w->credit, see
 * uvgo__credit) instead of a fetch_sub, and the next spawn on that worker
 * takes a unit from the credit instead of a CAS: a spawn-and-exit loop
 * touches the shared word about once per scheduling pass, not twice per
 * task. So rt->live is the live tasks plus every worker's credit, and
 * the raw word never undercounts. uvgo_task_count subtracts the credits
 * (count_tasks: a snapshot, exact). A worker gives all its credit back
 * when its drain ends with nothing left to run, before it can go idle or
 * stuck, so rt->live reaching zero (the run's end, attach mode's unref)
 * and the deadlock check (which needs every worker stuck) see the same
 * as before, at the end of that drain. A drain that leaves tasks queued
 * keeps up to UVGO__CREDIT_KEEP units (the raw word is above zero anyway)
 * and gives back the rest. */
#define LIVE_TASK UINT64_C(1)
#define LIVE_REF (UINT64_C(1) << 32)
#define LIVE_TASK_MASK UINT64_C(0xffffffff)

static uv_mutex_t attach_lock;
static uv_once_t attach_once = UV_ONCE_INIT;
static uv_loop_t *attached_loops[64];

static void attach_lock_init(void) { uv_mutex_init(&attach_lock); }

int uvgo__rt_live_inc(uvgo_rt *rt) {
  uint64_t v = atomic_load(&rt->live);
  do {
    if (v & UVGO__RT_STOPPED)
      return UVGO_ENORUNTIME;
    if (rt->cfg.max_tasks != 0 && (v & LIVE_TASK_MASK) >= rt->cfg.max_tasks)
      return UVGO_ELIMIT;
  } while (!atomic_compare_exchange_weak(&rt->live, &v, v + LIVE_TASK));
  return 0;
}

static void stop_all_workers(uvgo_rt *rt) {
  for (unsigned i = 0; i < rt->nworkers; i++)
    uvgo__worker_request_stop(rt->workers[i]);
}

static void live_sub(uvgo_rt *rt, uint64_t amount) {
  uint64_t v = atomic_fetch_sub(&rt->live, amount) - amount;
  if (v != 0)
    return;
  if (rt->attached) {
    /* Let every worker drop its loop references. */
    for (unsigned i = 0; i < rt->nworkers; i++) {
      uvgo__worker *w = rt->workers[i];
      if (w == uvgo__tls_worker)
        uvgo__worker_update_refs(w);
      else
        uv_async_send(&w->async);
    }
    return;
  }
  uint64_t zero = 0;
  if (atomic_compare_exchange_strong(&rt->live, &zero, UVGO__RT_STOPPED))
    stop_all_workers(rt);
}

void uvgo__rt_live_dec(uvgo_rt *rt) { live_sub(rt, LIVE_TASK); }

void uvgo__rt_live_return(uvgo_rt *rt, unsigned n) {
  live_sub(rt, (uint64_t)n * LIVE_TASK);
}

uint64_t uvgo__rt_live_tasks(const uvgo_rt *rt) {
  return atomic_load(&((uvgo_rt *)rt)->live) & LIVE_TASK_MASK;
}

bool uvgo__rt_has_refs(const uvgo_rt *rt) {
  return (atomic_load(&((uvgo_rt *)rt)->live) & ~UVGO__RT_STOPPED) >= LIVE_REF;
}

/* Grace period between "everything looks stuck" and the verdict: a plain
 * thread that has not yet made its first uvgo call is invisible to the
 * check, and this gives it time to show up. */
#define DEADLOCK_GRACE_MS 100

/* The deadlock verdict and its accounting invariant.
 *
 * Every thing that can still make progress is visible to the check in one
 * of these inputs, from the moment it can make progress until it cannot:
 *   - a task that runs or is queued to run: its worker is not `stuck` (a
 *     worker sets stuck only from its drain with nothing to run and a quiet
 *     loop; only that worker clears it, when it takes its inbox or runs a
 *     task, and clearing bumps rt->activity);
 *   - a task a timer, libuv I/O, a libuv request (uv_queue_work, connect,
 *     write...) or a referenced handle will wake: its worker's loop is not
 *     quiet, so that worker never becomes stuck;
 *   - a wake or a message in flight to a worker: it is in that worker's
 *     inbox (pushed under inbox_lock) from the push until the worker takes
 *     it, and every push bumps rt->activity after it;
 *   - a plain thread that is registered (it made a blocking or waking
 *     call; a waking call registers it before its wake is visible in a
 *     task's state or an inbox) and is not blocked in an untimed wait:
 *     counted in
 *     uvgo__foreign_active. Its untimed wait lends the count to the waker,
 *     which gives it back under the parker's mutex BEFORE it signals, so
 *     the count covers the thread from the wake on, with no window before
 *     it resumes (foreign.c, park.c). A timed wait keeps its count;
 *   - a reference from uvgo_rt_ref: the reference bits of rt->live;
 *   - work not started yet: a runq (its worker is not stuck) or the global
 *     queue (global_len).
 * A transition from "cannot progress" to "can" is always made by something
 * that can progress (a waker), and it makes the wakee visible before the
 * waker itself can stop being visible: a task wake is an inbox push or a
 * local queue (the waker's worker is busy), a plain thread's wake gives its
 * count back before the signal.
 *
 * The check reads the inputs one after the other, not atomically, so it
 * brackets them with rt->activity: `since` is read before everything, and
 * the verdict needs it unchanged after everything. A worker read as stuck
 * stays stuck until it clears the flag (bumping activity), so unchanged
 * activity proves every worker was stuck over the whole read and nobody
 * pushed an inbox; then no plain thread could have been woken during the
 * read either (its waker would be a running task or a counted thread). The
 * probe repeats the check after DEADLOCK_GRACE_MS against the same
 * `since`, so the verdict also covers the grace period. Unregistered plain
 * threads are invisible until their first call; the grace period is all
 * they get.
 *
 * all_stuck_since: every worker stuck, every inbox empty, no references,
 * no counted plain thread, nothing queued globally, and no activity since
 * `since`. */
static bool all_stuck_since(uvgo_rt *rt, uint64_t since) {
  if ((atomic_load(&rt->live) & UVGO__RT_STOPPED) ||
      uvgo__rt_live_tasks(rt) == 0 || uvgo__rt_has_refs(rt) ||
      atomic_load(&uvgo__foreign_active) > 0 ||
      atomic_load(&rt->global_len) != 0)
    return false;
  for (unsigned i = 0; i < rt->nworkers; i++)
    if (!uvgo__worker_inbox_empty(rt->workers[i]))
      return false;
  for (unsigned i = 0; i < rt->nworkers; i++)
    if (!atomic_load(&rt->workers[i]->stuck))
      return false;
  /* The plain-thread count once more, right before the closing activity
   * load: a plain thread registers before its wake is visible, so one
   * that pushed an inbox after the inbox reads above is counted here or
   * has bumped activity by the load below (tests/model/verdict.pml). */
  return !uvgo__rt_has_refs(rt) &&
         atomic_load(&uvgo__foreign_active) == 0 &&
         atomic_load(&rt->activity) == since;
}

static void on_deadlock_probe(uvgo__timer_entry *e) {
  uvgo__worker *w = UVGO__CONTAINER_OF(e, uvgo__worker, deadlock_probe);
  uvgo_rt *rt = w->rt;
  if (!atomic_load(&w->stuck))
    return; /* it checks again when it gets stuck again */
  if (!all_stuck_since(rt, w->probe_activity)) {
    /* Something moved during the grace period. If it was only a lowered
     * count (a plain thread's exit, an unref), its signal reached this
     * worker while the probe was pending and found nothing to arm, and
     * every worker may still be stuck: look again from now. */
    uvgo__rt_check_deadlock(rt, w);
    return;
  }
  int expected = 0;
  if (!atomic_compare_exchange_strong(&rt->deadlocked, &expected, 1))
    return;
  rt->result = UVGO_EDEADLOCK;
  atomic_fetch_or(&rt->live, UVGO__RT_STOPPED);
  stop_all_workers(rt);
}

/* Called by a worker that just became stuck: if the whole runtime looks
 * stuck, arm a probe on this worker's heap for the grace period. */
void uvgo__rt_check_deadlock(uvgo_rt *rt, uvgo__worker *self) {
  uint64_t now_activity = atomic_load(&rt->activity);
  if (uvgo__timer_pending(&self->deadlock_probe) ||
      !all_stuck_since(rt, now_activity))
    return;
  self->probe_activity = now_activity;
  self->deadlock_probe.fire = on_deadlock_probe;
  uvgo__timer_add_reserved(&self->timers, &self->deadlock_probe,
                           uvgo__deadline_after(DEADLOCK_GRACE_MS));
}

void uvgo__rt_task_finished(uvgo_rt *rt, bool was_main) {
  if (was_main) {
    if (rt->cfg.exit_when_main_returns && !rt->attached) {
      atomic_fetch_or(&rt->live, UVGO__RT_STOPPED);
      stop_all_workers(rt);
    }
  }
  live_sub(rt, LIVE_TASK);
}

static int check_config(const uvgo_config *in, bool attached,
                        uvgo_config *out) {
  if (in != NULL)
    *out = *in;
  else
    memset(out, 0, sizeof *out);
  if (out->workers == 0)
    out->workers = attached ? 1 : uv_available_parallelism();
  if (out->workers > UVGO_MAX_WORKERS)
    return UVGO__MISUSE(UV_EINVAL, "more workers than UVGO_MAX_WORKERS");
  if (out->stack_size == 0)
    out->stack_size = UVGO__STACK_DEFAULT_SIZE;
  if (out->stack_size < UVGO__STACK_MIN_SIZE ||
      out->stack_size > UVGO__STACK_MAX_SIZE)
    return UVGO__MISUSE(UVGO_ESTACKSIZE, "stack size out of range");
  return 0;
}

static void finish_loop(uvgo__worker *w);

static void free_rt(uvgo_rt *rt) {
  uvgo__registry_remove(rt);
  while (rt->spare_tasks != NULL) {
    uvgo_task *t = rt->spare_tasks;
    rt->spare_tasks = t->next;
    uvgo__free(t);
  }
  if (rt->root != NULL)
    uvgo_ctx_release(rt->root);
  if (rt->workers != NULL) {
    for (unsigned i = 0; i < rt->nworkers; i++)
      uvgo__worker_free(rt->workers[i]);
    uvgo__free(rt->workers);
  }
  uv_mutex_destroy(&rt->global_lock);
  rt->magic = UVGO__DEAD_MAGIC;
  uvgo__free(rt);
}

/* Allocate the runtime and its workers (no threads yet). host_loop, if
 * given, becomes worker 0's loop. */
static int rt_new(const uvgo_config *cfg, uv_loop_t *host_loop, uvgo_rt **out) {
  uvgo_rt *rt = uvgo__calloc(1, sizeof *rt);
  if (rt == NULL)
    return UV_ENOMEM;
  rt->attached = host_loop != NULL;
  int err = check_config(cfg, rt->attached, &rt->cfg);
  if (err != 0) {
    uvgo__free(rt);
    return err;
  }
  if (uv_mutex_init(&rt->global_lock) != 0) {
    uvgo__free(rt);
    return UV_ENOMEM;
  }
  rt->magic = UVGO__RT_MAGIC;
  rt->spin_budget_ns = rt->cfg.spin_ns == 0 ? UVGO__SPIN_DEFAULT_NS
                       : rt->cfg.spin_ns == UVGO_SPIN_NEVER ? 0
                                                            : rt->cfg.spin_ns;
  rt->ncpu = (int)uv_available_parallelism();
  if (rt->cfg.cancel_on_signal) {
    err = uvgo_ctx_with_cancel(uvgo_ctx_background(), &rt->root);
    if (err != 0) {
      free_rt(rt);
      return err;
    }
  }
  rt->workers = uvgo__calloc(rt->cfg.workers, sizeof *rt->workers);
  if (rt->workers == NULL) {
    free_rt(rt);
    return UV_ENOMEM;
  }
  /* Worker 0 last: if anything fails, nothing has touched the host's loop
   * yet, and the workers made so far own their loops and can be closed
   * right here. */
  rt->nworkers = rt->cfg.workers;
  for (unsigned i = rt->cfg.workers; i-- > 0;) {
    err = uvgo__worker_new(rt, i, i == 0 ? host_loop : NULL, &rt->workers[i]);
    if (err != 0) {
      for (unsigned j = i + 1; j < rt->cfg.workers; j++) {
        finish_loop(rt->workers[j]);
        uvgo__worker_free(rt->workers[j]);
        rt->workers[j] = NULL;
      }
      rt->nworkers = 0;
      free_rt(rt);
      return err;
    }
  }
  uvgo__registry_add(rt);
  *out = rt;
  return 0;
}

static int start_threads(uvgo_rt *rt) {
  for (unsigned i = 1; i < rt->nworkers; i++) {
    int err = uvgo__worker_start_thread(rt->workers[i]);
    if (err != 0)
      return err;
  }
  return 0;
}

static void join_threads(uvgo_rt *rt) {
  for (unsigned i = 1; i < rt->nworkers; i++) {
    uvgo__worker *w = rt->workers[i];
    if (w->has_thread) {
      uv_thread_join(&w->thread);
      w->has_thread = false;
    }
  }
}

/* cancel_on_signal: the first SIGINT or SIGTERM cancels the root context,
 * so the program winds down through its tasks' cancellation points. The
 * handlers then stop, restoring the default action: a second signal ends
 * the process, as after Go's signal.NotifyContext stop(). */
static void on_signal(uv_signal_t *handle, int signum) {
  (void)signum;
  uvgo_rt *rt = handle->data;
  uvgo_ctx_cancel(rt->root);
  uv_signal_stop(&rt->signals[0]);
  uv_signal_stop(&rt->signals[1]);
}

static int start_signals(uvgo_rt *rt, uv_loop_t *loop) {
  static const int signums[2] = {SIGINT, SIGTERM};
  for (int i = 0; i < 2; i++) {
    int err = uv_signal_init(loop, &rt->signals[i]);
    if (err == 0) {
      rt->signals[i].data = rt;
      err = uv_signal_start(&rt->signals[i], on_signal, signums[i]);
    }
    if (err != 0) {
      for (int j = 0; j <= i; j++)
        if (rt->signals[j].loop != NULL)
          uv_close((uv_handle_t *)&rt->signals[j], NULL);
      return err;
    }
  }
  rt->signals_on = true;
  return 0;
}

static void stop_signals(uvgo_rt *rt) {
  if (!rt->signals_on)
    return;
  rt->signals_on = false;
  uv_close((uv_handle_t *)&rt->signals[0], NULL);
  uv_close((uv_handle_t *)&rt->signals[1], NULL);
}

_Atomic(uvgo__rt_fini_fn) uvgo__rt_fini_hook;

/* The upper layers' end-of-runtime hook (core/internal.h), for worker w
 * (made current for the call) or -1 (every worker done). */
static void run_fini_hook(uvgo_rt *rt, uvgo__worker *w) {
  uvgo__rt_fini_fn hook = atomic_load(&uvgo__rt_fini_hook);
  if (hook == NULL)
    return;
  uvgo__worker *saved = uvgo__tls_worker;
  if (w != NULL)
    uvgo__tls_worker = w;
  hook(rt, w != NULL ? (int)w->id : -1);
  uvgo__tls_worker = saved;
}

/* Run a worker's loop until its handles have closed (after a stop). */
static void finish_loop(uvgo__worker *w) {
  run_fini_hook(w->rt, w);
  if (w->id == 0)
    stop_signals(w->rt);
  uvgo__worker_close_handles(w);
  uv_run(w->loop, UV_RUN_DEFAULT);
  if (w->loop == &w->own_loop)
    uv_loop_close(w->loop);
}

static void free_unstarted(uvgo__worker *w, uvgo__taskq *q) {
  for (uvgo_task *t; (t = uvgo__taskq_pop(q)) != NULL;) {
    if (t->stack != NULL)
      continue; /* started: freed from the live list */
    uvgo__free(t->copy_heap);
    uvgo__task_ctx_release(t);
    uvgo__task_free_record(w, t);
  }
}

/* exit_when_main_returns: tasks still alive are dropped, as Go drops
 * goroutines when main returns; their stacks and records are freed
 * without running them further. */
static void reap_leftovers(uvgo_rt *rt) {
  /* Every worker has stopped: its credit is no task. */
  for (unsigned i = 0; i < rt->nworkers; i++) {
    uvgo__worker *w = rt->workers[i];
    unsigned credit = uvgo__credit(w);
    if (credit != 0) {
      uvgo__credit_set(w, 0);
      uvgo__rt_live_return(rt, credit);
    }
  }
  size_t live = uvgo_task_count(rt);
  if (atomic_load(&rt->deadlocked)) {
    fprintf(stderr, "uvgo: all tasks are asleep - deadlock!\n");
    uvgo__report_tasks(rt, stderr, NULL, 50);
  } else if (live > 0) {
    fprintf(stderr, "uvgo: main returned with %zu task%s still alive\n", live,
            live == 1 ? "" : "s");
    uvgo__report_tasks(rt, stderr, NULL, 50);
  }
  for (unsigned i = 0; i < rt->nworkers; i++) {
    uvgo__worker *w = rt->workers[i];
    uv_mutex_lock(&w->inbox_lock);
    free_unstarted(w, &w->inbox);
    uv_mutex_unlock(&w->inbox_lock);
    free_unstarted(w, &w->ready);
    free_unstarted(w, &w->starving);
    for (uvgo_task *t; (t = uvgo__runq_get(w)) != NULL;) {
      uvgo__taskq q = {t, t};
      t->next = NULL;
      free_unstarted(w, &q);
    }
    while (w->all_tasks != NULL) {
      uvgo_task *t = w->all_tasks;
      w->all_tasks = t->all_next;
      uvgo__fiber_destroy(&t->fiber);
      uvgo__stack_put(w->stacks, t->stack);
      uvgo__free(t->locals);
      uvgo__free(t->copy_heap);
      uvgo__task_ctx_release(t);
      uvgo__task_free_record(w, t);
    }
  }
  uv_mutex_lock(&rt->global_lock);
  free_unstarted(rt->workers[0], &rt->global_q);
  uv_mutex_unlock(&rt->global_lock);
}

int uvgo_run(const uvgo_config *cfg, uvgo_fn main_fn, void *arg) {
  if (main_fn == NULL)
    return UVGO__MISUSE(UV_EINVAL, "uvgo_run with a NULL main function");
  if (uvgo__tls_worker != NULL)
    return UVGO__MISUSE(UV_EBUSY, "uvgo_run inside a running runtime");
  int err = uvgo__overflow_handler_install();
  if (err != 0)
    return err;
  uvgo_rt *rt;
  err = rt_new(cfg, NULL, &rt);
  if (err != 0)
    return err;
  uvgo__worker *w0 = rt->workers[0];
  uvgo__foreign_thread_leave();
  uvgo__verdict_watch(rt);
  uvgo__tls_worker = w0;
  uvgo__fiber_init_thread(&w0->sched_fiber);
  if (rt->cfg.cancel_on_signal)
    err = start_signals(rt, w0->loop);
  if (err == 0 && rt->cfg.cancel_on_signal) {
    /* Tasks keep the loop alive, not the handlers: a run whose tasks have
     * all ended returns without waiting for a signal. */
    uv_unref((uv_handle_t *)&rt->signals[0]);
    uv_unref((uv_handle_t *)&rt->signals[1]);
  }
  if (err == 0)
    err = uvgo__spawn(rt, w0, true, main_fn, arg, NULL, "uvgo_run", 0);
  if (err == 0)
    err = start_threads(rt);
  if (err == 0)
    err = uvgo__watchdog_start(rt);
  bool sigquit = false;
  if (err == 0 && rt->cfg.dump_on_sigquit) {
    err = uvgo__sigquit_start();
    sigquit = err == 0;
  }
  if (err != 0) {
    uvgo__watchdog_stop(rt);
    rt->cfg.exit_when_main_returns = 1;
    atomic_fetch_or(&rt->live, UVGO__RT_STOPPED);
    stop_all_workers(rt);
    uvgo__verdict_unwatch(rt);
    join_threads(rt);
    for (unsigned i = 0; i < rt->nworkers; i++)
      finish_loop(rt->workers[i]);
    reap_leftovers(rt);
    uvgo__tls_worker = NULL;
    free_rt(rt);
    return err;
  }
  struct sigaction ignore, old_pipe;
  memset(&ignore, 0, sizeof ignore);
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &old_pipe);
  uvgo__altstack_thread_init();

  uv_run(w0->loop, UV_RUN_DEFAULT);
  /* Before any loop closes: nothing signals worker 0 after this. */
  uvgo__verdict_unwatch(rt);
  if (sigquit)
    uvgo__sigquit_stop();
  uvgo__watchdog_stop(rt);
  join_threads(rt);
  for (unsigned i = 0; i < rt->nworkers; i++)
    finish_loop(rt->workers[i]);
  run_fini_hook(rt, NULL);
  reap_leftovers(rt);

  uvgo__altstack_thread_fini();
  sigaction(SIGPIPE, &old_pipe, NULL);
  uvgo__tls_worker = NULL;
  int result = rt->result;
  free_rt(rt);
  return result;
}

static bool loop_attached(uv_loop_t *loop, int *free_slot) {
  *free_slot = -1;
  for (int i = 0; i < (int)(sizeof attached_loops / sizeof *attached_loops);
       i++) {
    if (attached_loops[i] == loop)
      return true;
    if (attached_loops[i] == NULL && *free_slot < 0)
      *free_slot = i;
  }
  return false;
}

/* Undo a partly made attached runtime: stop extra workers, close worker
 * 0's handles on the host loop (the runtime is freed by the last close
 * callback, in the host's next uv_run). */
static void abandon_attached(uvgo_rt *rt) {
  atomic_fetch_or(&rt->live, UVGO__RT_STOPPED);
  for (unsigned i = 1; i < rt->nworkers; i++)
    uvgo__worker_request_stop(rt->workers[i]);
  join_threads(rt);
  for (unsigned i = 1; i < rt->nworkers; i++)
    finish_loop(rt->workers[i]);
  uvgo__tls_worker = NULL;
  rt->closing = true;
  uvgo__worker_close_handles(rt->workers[0]);
  stop_signals(rt);
}

static int start_attached(uvgo_rt *rt, uv_loop_t *loop, const uvgo_config *cfg) {
  int err = 0;
  if (cfg != NULL && cfg->catch_stack_overflow)
    err = uvgo__overflow_handler_install();
  if (err == 0 && rt->cfg.cancel_on_signal) {
    /* Asked for in attach mode: the handlers must not keep the host's
     * loop alive. */
    err = start_signals(rt, loop);
    if (err == 0) {
      uv_unref((uv_handle_t *)&rt->signals[0]);
      uv_unref((uv_handle_t *)&rt->signals[1]);
    }
  }
  if (err != 0)
    return err;
  uvgo__foreign_thread_leave();
  uvgo__tls_worker = rt->workers[0];
  uvgo__fiber_init_thread(&rt->workers[0]->sched_fiber);
  err = start_threads(rt);
  if (err == 0)
    err = uvgo__watchdog_start(rt);
  if (err == 0 && rt->cfg.dump_on_sigquit && (err = uvgo__sigquit_start()) != 0)
    uvgo__watchdog_stop(rt);
  return err;
}

int uvgo_rt_attach(uv_loop_t *loop, const uvgo_config *cfg, uvgo_rt **out) {
  if (loop == NULL || out == NULL)
    return UVGO__MISUSE(UV_EINVAL, "uvgo_rt_attach with a NULL loop or out");
  if (uvgo__tls_worker != NULL)
    return UVGO__MISUSE(UV_EBUSY, "this thread already runs a uvgo runtime");
  uv_once(&attach_once, attach_lock_init);
  uv_mutex_lock(&attach_lock);
  int slot;
  if (loop_attached(loop, &slot) || slot < 0) {
    uv_mutex_unlock(&attach_lock);
    return UVGO__MISUSE(UV_EBUSY, "loop already has a uvgo runtime");
  }
  uvgo_rt *rt = NULL;
  int err = rt_new(cfg, loop, &rt);
  if (err == 0) {
    err = start_attached(rt, loop, cfg);
    if (err != 0)
      abandon_attached(rt);
    else
      attached_loops[slot] = loop;
  }
  uv_mutex_unlock(&attach_lock);
  if (err == 0)
    *out = rt;
  return err;
}

/* Worker 0's close callbacks arrive in the host's next uv_run: the
 * runtime is freed when the last one has. */
void uvgo__rt_attached_closed(uvgo_rt *rt) {
  uv_once(&attach_once, attach_lock_init);
  uv_mutex_lock(&attach_lock);
  for (size_t i = 0; i < sizeof attached_loops / sizeof *attached_loops; i++)
    if (attached_loops[i] == rt->workers[0]->loop)
      attached_loops[i] = NULL;
  uv_mutex_unlock(&attach_lock);
  free_rt(rt);
}

static int check_rt(const uvgo_rt *rt, const char *call) {
  if (rt == NULL)
    return uvgo__misuse(UV_EINVAL, call, "NULL runtime", NULL);
  if (rt->magic != UVGO__RT_MAGIC)
    return uvgo__misuse(UVGO_ERELEASED, call, "runtime already closed", NULL);
  return 0;
}

int uvgo_rt_spawn_at(uvgo_rt *rt, uvgo_fn fn, void *arg, const char *file,
                     int line) {
  int err = check_rt(rt, "uvgo_rt_spawn");
  if (err != 0)
    return err;
  if (fn == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL task function");
  if (rt->closing)
    return UVGO_ENORUNTIME;
  return uvgo__spawn(rt, rt->workers[0], false, fn, arg, NULL, file, line);
}

int uvgo_rt_ref(uvgo_rt *rt) {
  int err = check_rt(rt, "uvgo_rt_ref");
  if (err != 0)
    return err;
  uint64_t v = atomic_load(&rt->live);
  do {
    if (v & UVGO__RT_STOPPED)
      return UVGO_ENORUNTIME;
  } while (!atomic_compare_exchange_weak(&rt->live, &v, v + LIVE_REF));
  uvgo__worker *w0 = rt->workers[0];
  if (rt->attached) {
    if (uvgo__tls_worker == w0)
      uvgo__worker_update_refs(w0);
    else
      uv_async_send(&w0->async);
  }
  return 0;
}

static void lower_ref(uvgo_rt *rt) { live_sub(rt, LIVE_REF); }

int uvgo_rt_unref(uvgo_rt *rt) {
  int err = check_rt(rt, "uvgo_rt_unref");
  if (err != 0)
    return err;
  uint64_t v = atomic_load(&rt->live);
  do {
    if ((v & ~UVGO__RT_STOPPED) < LIVE_REF)
      return UVGO__MISUSE(UV_EINVAL, "uvgo_rt_unref without a reference");
  } while (!atomic_compare_exchange_weak(&rt->live, &v, v));
  /* The last reference may have been all that kept a stuck run from its
   * verdict. */
  uvgo__verdict_lower(rt, lower_ref);
  return 0;
}

int uvgo_rt_close(uvgo_rt *rt) {
  int err = check_rt(rt, "uvgo_rt_close");
  if (err != 0)
    return err;
  if (!rt->attached || rt->closing)
    return UVGO__MISUSE(UV_EINVAL, "uvgo_rt_close of a runtime not attached");
  if (uvgo__current_task() != NULL)
    return UVGO__MISUSE(UV_EBUSY, "uvgo_rt_close from inside a task");
  /* The embed layer (src/embed) refuses while callbacks are pending. */
  if (rt->embed_hook != NULL && (err = rt->embed_hook(rt, false)) != 0)
    return err;
  uint64_t zero = 0;
  if (!atomic_compare_exchange_strong(&rt->live, &zero, UVGO__RT_STOPPED))
    return UV_EBUSY;
  rt->closing = true;
  for (unsigned i = 1; i < rt->nworkers; i++)
    uvgo__worker_request_stop(rt->workers[i]);
  join_threads(rt);
  for (unsigned i = 1; i < rt->nworkers; i++)
    finish_loop(rt->workers[i]);
  uvgo__worker *w0 = rt->workers[0];
  run_fini_hook(rt, w0); /* its loop is the host's: closes run there */
  run_fini_hook(rt, NULL);
  if (uvgo__tls_worker == w0)
    uvgo__tls_worker = NULL;
  if (rt->cfg.dump_on_sigquit)
    uvgo__sigquit_stop();
  uvgo__watchdog_stop(rt);
  atomic_store(&w0->stop, 1);
  if (rt->embed_hook != NULL)
    rt->embed_hook(rt, true);
  uvgo__worker_close_handles(w0);
  /* After: libuv runs close callbacks last-closed first, and the runtime
   * is freed by the last of worker 0's, so the signal handles (inside the
   * runtime) must finish closing before that. */
  stop_signals(rt);
  return 0;
}

uvgo_rt *uvgo_rt_current(void) {
  uvgo__worker *w = uvgo__tls_worker;
  return w != NULL ? w->rt : NULL;
}

uv_loop_t *uvgo_loop(void) {
  uvgo__worker *w = uvgo__tls_worker;
  return w != NULL ? w->loop : NULL;
}

int uvgo_worker_id(void) {
  uvgo__worker *w = uvgo__tls_worker;
  return w != NULL ? (int)w->id : -1;
}

unsigned uvgo_worker_count(void) {
  uvgo__worker *w = uvgo__tls_worker;
  return w != NULL ? w->rt->nworkers : 0;
}

/* rt->live less every worker's credit, read as one snapshot: no credit
 * word is busy, and each is the same (version included) before and after
 * the load of rt->live, so no credit changed, and no units moved back to
 * rt->live, in between. A spawn or an exit that changes rt->live alone is
 * one atomic event. So the count is exact, as of that load. Under a storm
 * of spawns on every worker it may give up and answer an upper bound
 * instead: the count less the caller's own credit only (never too low). */
#define COUNT_TRIES 64

static uint64_t count_tasks(uvgo_rt *rt) {
  uint64_t seen[UVGO_MAX_WORKERS];
  unsigned n = rt->nworkers;
  for (int tries = 0; tries < COUNT_TRIES; tries++) {
    uint64_t credit = 0;
    bool busy = false;
    for (unsigned i = 0; i < n && !busy; i++) {
      seen[i] = atomic_load_explicit(&rt->workers[i]->credit,
                                     memory_order_acquire);
      busy = (seen[i] & UVGO__CREDIT_BUSY) != 0;
      credit += (uint32_t)seen[i];
    }
    if (busy)
      continue;
    uint64_t tasks = atomic_load(&rt->live) & LIVE_TASK_MASK;
    atomic_thread_fence(memory_order_acquire);
    bool same = true;
    for (unsigned i = 0; i < n && same; i++)
      same = atomic_load_explicit(&rt->workers[i]->credit,
                                  memory_order_relaxed) == seen[i];
    if (same)
      return tasks >= credit ? tasks - credit : 0;
  }
  uint64_t tasks = atomic_load(&rt->live) & LIVE_TASK_MASK;
  uvgo__worker *self = uvgo__tls_worker;
  uint64_t own = self != NULL && self->rt == rt ? uvgo__credit(self) : 0;
  return tasks >= own ? tasks - own : 0;
}

size_t uvgo_task_count(uvgo_rt *rt) {
  if (rt == NULL)
    rt = uvgo_rt_current();
  if (rt == NULL || rt->magic != UVGO__RT_MAGIC)
    return 0;
  return (size_t)count_tasks(rt);
}

int uvgo_worker_stats_get(uvgo_rt *rt, unsigned worker,
                          uvgo_worker_stats *out) {
  if (rt == NULL)
    rt = uvgo_rt_current();
  if (rt == NULL || out == NULL || worker >= rt->nworkers)
    return UV_EINVAL;
  uvgo__worker *w = rt->workers[worker];
  out->switches = atomic_load_explicit(&w->n_switches, memory_order_relaxed);
  out->spawns = atomic_load_explicit(&w->n_spawns, memory_order_relaxed);
  out->steals = atomic_load_explicit(&w->n_steals, memory_order_relaxed);
  out->remote_wakes =
      atomic_load_explicit(&w->n_remote_wakes, memory_order_relaxed);
  out->wakeups = atomic_load_explicit(&w->n_wakeups, memory_order_relaxed);
  out->idle_sleeps =
      atomic_load_explicit(&w->n_idle_sleeps, memory_order_relaxed);
  return 0;
}
