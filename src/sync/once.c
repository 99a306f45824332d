/* Once: the first caller runs fn; concurrent callers park until it has
 * returned. state_ goes 0 (not run) -> 1 (running) -> 2 (done); the store
 * of 2 is a release, so a caller that loads 2 sees fn's effects. */
#include "core/waitq.h"

enum { ONCE_NEW = 0, ONCE_RUNNING = 1, ONCE_DONE = 2 };

/* Done, with its runner out. The runner stores DONE under the queue's
 * lock and still touches the Once (the queue) until it releases that
 * lock, while a caller that returns may free the Once at once. So the
 * fast path also wants the lock free: having loaded DONE, it sees the
 * runner's locking, so a free lock is the runner's release (or a later
 * one). Otherwise the slow path waits on the lock. */
static inline bool once_done(uvgo_once *once) {
  return UVGO__LOAD(&once->state_, ACQUIRE) == ONCE_DONE &&
         UVGO__LOAD(&once->q_.lock_, ACQUIRE) == 0;
}

int uvgo_once_do(uvgo_once *once, void (*fn)(void *arg), void *arg) {
  if (once == NULL || fn == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL once or function");
  if (UVGO__LIKELY(once_done(once)))
    return 0;
  uintptr_t self = uvgo__sync_self();
  uvgo__waitq_lock(&once->q_);
  int state = UVGO__LOAD(&once->state_, ACQUIRE);
  if (state == ONCE_DONE) {
    uvgo__waitq_unlock(&once->q_);
    return 0;
  }
  if (state == ONCE_NEW) {
    UVGO__STORE(&once->state_, ONCE_RUNNING, RELAXED);
    once->runner_ = self;
    uvgo__waitq_unlock(&once->q_);
    fn(arg);
    uvgo__waiter *wake = NULL, **tailp = &wake;
    uvgo__waitq_lock(&once->q_);
    UVGO__STORE(&once->state_, ONCE_DONE, RELEASE);
    once->runner_ = 0;
    for (uvgo__waiter *w; (w = uvgo__waitq_head(&once->q_)) != NULL;) {
      uvgo__waitq_remove(&once->q_, w);
      if (uvgo__parker_claim(&w->parker, 0)) {
        w->wake_next = NULL;
        *tailp = w;
        tailp = &w->wake_next;
      }
    }
    uvgo__waitq_unlock(&once->q_);
    uvgo__waiters_wake(wake);
    return 0;
  }
  if (once->runner_ == self) {
    uvgo__waitq_unlock(&once->q_);
    return UVGO__MISUSE(UVGO_EDEADLOCK, "uvgo_once_do called from its own fn");
  }
  uvgo__waiter w;
  int err = uvgo__parker_prepare(&w.parker, "uvgo_once_do");
  if (err != 0) {
    uvgo__waitq_unlock(&once->q_);
    return err;
  }
  uvgo__waitq_push(&once->q_, &w);
  uvgo__waitq_unlock(&once->q_);
  /* No deadline and no source yet: the reason is the runner's 0. A _ctx
   * variant would unlink itself on a negative reason, as the others do. */
  int reason = uvgo__waiter_sleep(&w, UVGO__NO_DEADLINE, NULL);
  if (reason < 0) {
    uvgo__waitq_lock(&once->q_);
    if (w.linked)
      uvgo__waitq_remove(&once->q_, &w);
    uvgo__waitq_unlock(&once->q_);
  }
  return reason < 0 ? reason : 0;
}
