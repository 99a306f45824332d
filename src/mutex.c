/* Mutex with owner tracking and FIFO hand-off.
 *
 * state_ is the holder's identity (a task record, or a per-thread token for
 * plain threads), or 0 when free, with bit 0 (WAITERS) set while the queue
 * is non-empty. While WAITERS is set neither fast path can succeed (lock
 * wants 0, unlock wants exactly its identity), so state_ changes only under
 * the queue's lock: that is what makes the hand-off race-free.
 *
 * Unlock with waiters never frees the mutex: it writes the longest
 * waiter's identity into state_ and wakes it (Go's starvation mode, always
 * on). Cost: a contended lock is a park and a wake-up; an uncontended one
 * is one compare-and-swap. */
#include "waitq.h"

#define WAITERS ((uintptr_t)1)

static _Thread_local int thread_token; /* its address names a plain thread */

uintptr_t uvgo__sync_self(void) {
  uvgo_task *t = uvgo__current_task();
  return t != NULL ? (uintptr_t)t : (uintptr_t)&thread_token;
}

/* Spins this many times on a held mutex before queueing: critical
 * sections are usually shorter than a park and wake-up across workers. */
#define SPIN_TRIES 64

static inline bool try_fast(uvgo_mutex *m, uintptr_t self) {
  uintptr_t expected = 0;
  return UVGO__CAS(&m->state_, &expected, self);
}

static int lock_slow(uvgo_mutex *m, uintptr_t self, uint64_t deadline_ms,
                     uvgo__wait_src *src) {
  for (int i = 0; i < SPIN_TRIES; i++) {
    uintptr_t s = UVGO__LOAD(&m->state_, RELAXED);
    if (s == 0 && try_fast(m, self))
      return 0;
    if (s & WAITERS)
      break; /* others are queued: FIFO says join them */
    uvgo__cpu_relax();
  }
  uvgo__waiter w;
  uvgo__waitq_lock(&m->q_);
  uintptr_t s = UVGO__LOAD(&m->state_, ACQUIRE);
  for (;;) {
    if (s == 0) {
      /* Free, hence no waiters (a hand-off never frees it). */
      if (UVGO__CAS(&m->state_, &s, self)) {
        uvgo__waitq_unlock(&m->q_);
        return 0;
      }
      continue; /* s reloaded by the failed CAS */
    }
    if ((s & ~WAITERS) == self) {
      uvgo__waitq_unlock(&m->q_);
      return UVGO__MISUSE(UVGO_EDEADLOCK, "mutex already held by the caller");
    }
    if (s & WAITERS)
      break;
    /* Held, no waiters yet: flag us (fails if the holder just unlocked). */
    if (UVGO__CAS(&m->state_, &s, s | WAITERS))
      break;
  }
  int err = uvgo__parker_prepare(&w.parker, "uvgo_mutex_lock");
  if (err != 0) {
    /* Undo a WAITERS flag nobody else needs. */
    if (uvgo__waitq_empty(&m->q_))
      __atomic_fetch_and(&m->state_, ~WAITERS, __ATOMIC_RELEASE);
    uvgo__waitq_unlock(&m->q_);
    return err;
  }
  w.word = self;
  uvgo__waitq_push(&m->q_, &w);
  uvgo__waitq_unlock(&m->q_);
  int reason = uvgo__waiter_sleep(&w, deadline_ms, src);
  if (reason >= 0)
    return 0; /* handed off: state_ already names us */
  uvgo__waitq_lock(&m->q_);
  if (w.linked) {
    uvgo__waitq_remove(&m->q_, &w);
    if (uvgo__waitq_empty(&m->q_))
      __atomic_fetch_and(&m->state_, ~WAITERS, __ATOMIC_RELEASE);
  }
  uvgo__waitq_unlock(&m->q_);
  return reason;
}

int uvgo_mutex_lock(uvgo_mutex *m) {
  if (m == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL mutex");
  uintptr_t self = uvgo__sync_self();
  if (UVGO__LIKELY(try_fast(m, self)))
    return 0;
  return lock_slow(m, self, UVGO__NO_DEADLINE, NULL);
}

int uvgo_mutex_lock_timeout(uvgo_mutex *m, uint64_t ms) {
  if (m == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL mutex");
  uintptr_t self = uvgo__sync_self();
  if (try_fast(m, self))
    return 0;
  return lock_slow(m, self, uvgo__sync_deadline(ms), NULL);
}

int uvgo_mutex_trylock(uvgo_mutex *m) {
  if (m == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL mutex");
  return try_fast(m, uvgo__sync_self()) ? 0 : UV_EBUSY;
}

int uvgo_mutex_unlock(uvgo_mutex *m) {
  if (m == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL mutex");
  uintptr_t self = uvgo__sync_self();
  uintptr_t s = self;
  if (UVGO__LIKELY(__atomic_compare_exchange_n(
          &m->state_, &s, 0, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED)))
    return 0;
  if ((s & ~WAITERS) != self)
    return UVGO__MISUSE(UVGO_ENOTOWNER,
                        s == 0 ? "unlock of an unlocked mutex"
                               : "unlock of a mutex held by another task");
  /* WAITERS is set: hand off to the first waiter that can still be
   * claimed; a lost claim is a waiter whose deadline (or context) won. */
  uvgo__waiter *next = NULL;
  uvgo__waitq_lock(&m->q_);
  for (uvgo__waiter *w; (w = uvgo__waitq_head(&m->q_)) != NULL;) {
    uvgo__waitq_remove(&m->q_, w);
    if (uvgo__parker_claim(&w->parker, 0)) {
      next = w;
      break;
    }
  }
  uintptr_t to = next != NULL ? next->word : 0;
  if (to != 0 && !uvgo__waitq_empty(&m->q_))
    to |= WAITERS;
  UVGO__STORE(&m->state_, to, RELEASE);
  uvgo__waitq_unlock(&m->q_);
  if (next != NULL)
    uvgo__parker_wake(&next->parker);
  return 0;
}
