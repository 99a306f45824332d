/* Parkers: the one park/wake mechanism under every blocking primitive. */
#include "core/ctx.h"
#include "core/park.h"

int uvgo__parker_prepare_thread(uvgo__parker *p) {
  p->task = NULL;
  atomic_store_explicit(&p->claimed, 0, memory_order_relaxed);
  p->reason = UVGO__WAKE_NONE;
  p->signalled = false;
  p->count_lent = false;
  /* Counted from here: before any waker can see the parker. */
  uvgo__foreign_thread_enter();
  if (uv_mutex_init(&p->mu) != 0)
    return UV_ENOMEM;
  if (uv_cond_init(&p->cond) != 0) {
    uv_mutex_destroy(&p->mu);
    return UV_ENOMEM;
  }
  return 0;
}

void uvgo__parker_abandon(uvgo__parker *p) {
  if (p->task != NULL) {
    /* A wake that already landed (NOTIFIED) is the one we are consuming. */
    atomic_store_explicit(&p->task->state, UVGO__TASK_RUNNING,
                          memory_order_relaxed);
    return;
  }
  uv_cond_destroy(&p->cond);
  uv_mutex_destroy(&p->mu);
}

void uvgo__parker_wake(uvgo__parker *p) {
  if (p->task != NULL) {
    uvgo__task_wake(p->task);
    return;
  }
  /* The waiter may free p as soon as it sees signalled: touch nothing
   * after the unlock. */
  uv_mutex_lock(&p->mu);
  /* The woken thread is active again from this moment, not from when it
   * gets the CPU: give its count back before the signal (foreign.c). */
  if (p->count_lent) {
    p->count_lent = false;
    uvgo__foreign_thread_give_back();
  }
  p->signalled = true;
  uv_cond_signal(&p->cond);
  uv_mutex_unlock(&p->mu);
}

static void on_deadline(uvgo__timer_entry *e) {
  uvgo__parker *p = UVGO__CONTAINER_OF(e, uvgo__parker, deadline);
  if (uvgo__parker_claim(p, UVGO__WAKE_TIMEOUT))
    uvgo__parker_wake(p);
}

static int wait_thread(uvgo__parker *p, uint64_t deadline_ms) {
  uv_mutex_lock(&p->mu);
  /* An untimed wait lends the thread's count to its waker (it is given
   * back in uvgo__parker_wake, under this mutex, so whichever comes first
   * the count is right); such a wait only ends by a signal. A timed wait
   * ends by itself and keeps its count. */
  if (!p->signalled && deadline_ms == UVGO__NO_DEADLINE)
    p->count_lent = uvgo__foreign_thread_release();
  while (!p->signalled) {
    if (deadline_ms == UVGO__NO_DEADLINE) {
      uv_cond_wait(&p->cond, &p->mu);
      continue;
    }
    uint64_t now = uvgo__now_ms();
    if (now >= deadline_ms) {
      if (uvgo__parker_claim(p, UVGO__WAKE_TIMEOUT))
        break;
      /* A waker won the race: its signal is on the way. */
      uv_cond_wait(&p->cond, &p->mu);
      continue;
    }
    uv_cond_timedwait(&p->cond, &p->mu, (deadline_ms - now) * 1000000u);
  }
  uv_mutex_unlock(&p->mu);
  uv_cond_destroy(&p->cond);
  uv_mutex_destroy(&p->mu);
  void (*hook)(void) = atomic_load_explicit(&uvgo__test_foreign_wake_hook,
                                            memory_order_relaxed);
  if (UVGO__UNLIKELY(hook != NULL))
    hook();
  return p->reason;
}

/* Watch each scope (the task's own, a call's); on an ended one, undo and
 * return its error. */
static int watch_scopes(uvgo__parker *p, uvgo_ctx **scopes, int n) {
  for (int i = 0; i < n; i++) {
    int err;
    p->watch[i].parker = p;
    if (!uvgo__ctx_watch(scopes[i], &p->watch[i], &err)) {
      while (i-- > 0)
        uvgo__ctx_unwatch(scopes[i], &p->watch[i]);
      return err;
    }
  }
  return 0;
}

/* A task's sleep, capped by wait_deadline on its worker's heap. @return
 * false if no memory for the deadline's timer (the parker is then claimed
 * with UV_ENOMEM and never slept on: fail the call rather than sleep past
 * its deadline, or return early as if it had passed). */
static bool sleep_task(uvgo__parker *p, uvgo_task *t, uint64_t wait_deadline) {
  uvgo__worker *w = t->home;
  if (wait_deadline == UVGO__NO_DEADLINE) {
    uvgo__task_switch_out(w, t);
    return true;
  }
  /* The entry is only ever touched here (prepare leaves it unwritten). */
  uvgo__timer_entry_init(&p->deadline, on_deadline);
  if (uvgo__timer_add(&w->timers, &p->deadline, wait_deadline) != 0 &&
      uvgo__parker_claim(p, UV_ENOMEM))
    return false;
  uvgo__task_switch_out(w, t);
  uvgo__timer_remove(&w->timers, &p->deadline);
  return true;
}

/* The task's context makes every wait a cancellation point, and so does a
 * context passed to the call: each watches the parker (its end claims it
 * with UV_ECANCELED/UV_ETIMEDOUT), and the earliest deadline caps the
 * wait's, so an expired deadline ends the wait even where no timer for the
 * context runs. */
int uvgo__parker_wait_ex(uvgo__parker *p, uint64_t deadline_ms,
                         uvgo_ctx *call_ctx, bool task_ctx) {
  uvgo_task *t = p->task;
  uvgo_ctx *call_scope = uvgo__ctx_cancel_scope(call_ctx);
  /* A plain thread has no context of its own; a call's still bounds it. */
  if (t == NULL && call_scope == NULL)
    return wait_thread(p, deadline_ms);
  uvgo_ctx *scopes[2];
  int n = 0;
  if (t != NULL && task_ctx && t->shield == 0 && t->cancel_scope != NULL)
    scopes[n++] = t->cancel_scope;
  if (call_scope != NULL && (n == 0 || call_scope != scopes[0]))
    scopes[n++] = call_scope;
  uint64_t wait_deadline = deadline_ms;
  uvgo_ctx *cap = NULL;
  if (n > 0) {
    int err = watch_scopes(p, scopes, n);
    if (err != 0) {
      if (uvgo__parker_claim(p, err)) {
        uvgo__parker_abandon(p);
        return err;
      }
      n = 0; /* a waker won the race: take its wake-up */
    }
    for (int i = 0; i < n; i++)
      if (scopes[i]->deadline_ms < wait_deadline) {
        wait_deadline = scopes[i]->deadline_ms;
        cap = scopes[i];
      }
  }
  bool slept = true;
  if (t == NULL)
    wait_thread(p, wait_deadline);
  else
    slept = sleep_task(p, t, wait_deadline);
  for (int i = 0; i < n; i++)
    uvgo__ctx_unwatch(scopes[i], &p->watch[i]);
  if (!slept) {
    uvgo__parker_abandon(p);
    return p->reason;
  }
  if (cap != NULL && p->reason == UVGO__WAKE_TIMEOUT) {
    /* A context's deadline, not the call's, ran out. */
    uvgo__ctx_end(cap, UV_ETIMEDOUT);
    p->reason = UV_ETIMEDOUT;
  }
  return p->reason;
}

int uvgo__parker_wait_commit_timed(uvgo__parker *p, uint64_t deadline_ms,
                                   void (*commit)(void *arg), void *arg) {
  uvgo__worker *w = p->task->home;
  w->park_commit = commit;
  w->park_commit_arg = arg;
  if (!sleep_task(p, p->task, deadline_ms)) {
    /* Not parked (no timer: UV_ENOMEM, claimed, as every other claimer
     * waits for the locks we hold): no settle will run the commit. */
    w->park_commit = NULL;
    commit(arg);
    uvgo__parker_abandon(p);
  }
  return p->reason;
}

int uvgo__parker_wait_ctx(uvgo__parker *p, uint64_t deadline_ms,
                          uvgo_ctx *call_ctx) {
  return uvgo__parker_wait_ex(p, deadline_ms, call_ctx, true);
}

int uvgo__parker_wait(uvgo__parker *p, uint64_t deadline_ms) {
  return uvgo__parker_wait_ex(p, deadline_ms, NULL, true);
}

int uvgo__parker_wait_uncancellable(uvgo__parker *p, uint64_t deadline_ms) {
  return uvgo__parker_wait_ex(p, deadline_ms, NULL, false);
}
