/* Mutex with owner tracking, after Go's sync.Mutex: two modes.
 *
 * Normal mode: unlock frees the mutex and wakes the longest waiter, which
 * then competes with tasks that are just arriving (they are running, it
 * is not: letting them win keeps the throughput of a contended lock close
 * to the uncontended one). A woken waiter that loses goes back to the
 * front of the queue.
 * Starvation mode: once a waiter has waited over STARVE_MS, unlock hands
 * the mutex directly to the longest waiter and arrivals queue behind it, so
 * nobody waits for ever. It ends when the queue empties or a waiter that
 * waited less than STARVE_MS receives it.
 *
 * state_ = the holder's identity (a task record, or a per-thread token for
 * plain threads; both 8-aligned) | WAITERS | STARVING | WOKEN.
 * Outside the queue's lock, state_ changes only by the fast paths: lock
 * from "no holder, not starving" (keeping the flags), and unlock from
 * exactly "holder = self, no flags" (or, after the slow unlock found
 * nobody to give it to, from exactly the flags it saw). Everything else
 * happens under the queue's lock, which is what makes hand-offs and
 * timeouts race-free:
 *   WAITERS  set iff the queue is non-empty;
 *   STARVING only with WAITERS;
 *   WOKEN    a woken waiter is on its way back (don't wake another). */
#include "core/waitq.h"

#define WAITERS ((uintptr_t)1)
#define STARVING ((uintptr_t)2)
#define WOKEN ((uintptr_t)4)
#define FLAGS (WAITERS | STARVING | WOKEN)
#define STARVE_MS 1

/* Wake reasons (>= 0) a waiter can get. */
enum { REASON_WOKEN = 0, REASON_HANDOFF = 1 };

/* Spins this many times on a held mutex before queueing (multi-worker
 * only): critical sections are usually shorter than a park and a wake-up
 * from another worker. */
#define SPIN_TRIES 100

static _Alignas(8) _Thread_local char thread_token; /* names a plain thread */

uintptr_t uvgo__sync_self(void) {
  uvgo_task *t = uvgo__current_task();
  return t != NULL ? (uintptr_t)t : (uintptr_t)&thread_token;
}

/* Identities leave the three flag bits free. */
_Static_assert(_Alignof(uvgo_task) >= 8, "task records must be 8-aligned");

static inline uintptr_t owner_of(uintptr_t s) { return s & ~FLAGS; }

static inline bool try_fast(uvgo_mutex *m, uintptr_t self) {
  uintptr_t expected = 0;
  return UVGO__CAS(&m->state_, &expected, self);
}

/* Take it if it has no holder and is not starving (keeping the flags). */
static bool try_barge(uvgo_mutex *m, uintptr_t self) {
  uintptr_t s = UVGO__LOAD(&m->state_, RELAXED);
  while (owner_of(s) == 0 && !(s & STARVING)) {
    if (UVGO__CAS(&m->state_, &s, s | self))
      return true;
  }
  return false;
}

static bool may_spin(void) {
  uvgo__worker *w = uvgo__worker_self();
  return w == NULL || w->current == NULL || w->rt->nworkers > 1;
}

static int lock_slow(uvgo_mutex *m, uintptr_t self, uint64_t deadline_ms,
                     uvgo__wait_src *src) {
  if (may_spin()) {
    for (int i = 0; i < SPIN_TRIES; i++) {
      uintptr_t s = UVGO__LOAD(&m->state_, RELAXED);
      if (s & STARVING)
        break;
      if (owner_of(s) == 0 && try_barge(m, self))
        return 0;
      uvgo__cpu_relax();
    }
  }
  uvgo__waiter w;
  w.word = self;
  w.since_ms = uvgo__now_ms();
  bool woken = false; /* we hold the WOKEN flag, and keep our place */
  for (;;) {
    uvgo__waitq_lock(&m->q_);
    bool starve = woken && uvgo__now_ms() - w.since_ms > STARVE_MS;
    uintptr_t s = UVGO__LOAD(&m->state_, ACQUIRE);
    for (;;) {
      uintptr_t next = woken ? s & ~WOKEN : s;
      if (owner_of(s) == 0 && !(s & STARVING)) {
        if (UVGO__CAS(&m->state_, &s, next | self)) {
          uvgo__waitq_unlock(&m->q_);
          return 0;
        }
        continue; /* s reloaded */
      }
      if (owner_of(s) == self) {
        uvgo__waitq_unlock(&m->q_);
        return UVGO_EDEADLOCK; /* the public caller reports the misuse */
      }
      next |= WAITERS | (starve ? STARVING : 0);
      if (UVGO__CAS(&m->state_, &s, next))
        break;
    }
    int err = uvgo__parker_prepare(&w.parker, "uvgo_mutex_lock");
    if (err != 0) {
      if (uvgo__waitq_empty(&m->q_))
        __atomic_fetch_and(&m->state_, ~(WAITERS | STARVING), __ATOMIC_RELEASE);
      uvgo__waitq_unlock(&m->q_);
      return err;
    }
    if (woken)
      uvgo__waitq_push_front(&m->q_, &w);
    else
      uvgo__waitq_push(&m->q_, &w);
    uvgo__waitq_unlock(&m->q_);
    int reason = uvgo__waiter_sleep(&w, deadline_ms, src);
    if (reason == REASON_HANDOFF)
      return 0; /* state_ already names us */
    if (reason == REASON_WOKEN) {
      woken = true;
      continue;
    }
    /* Claimed by the deadline (or a context): no flag is ours. */
    uvgo__waitq_lock(&m->q_);
    if (w.linked) {
      uvgo__waitq_remove(&m->q_, &w);
      if (uvgo__waitq_empty(&m->q_))
        __atomic_fetch_and(&m->state_, ~(WAITERS | STARVING), __ATOMIC_RELEASE);
    }
    uvgo__waitq_unlock(&m->q_);
    return reason;
  }
}

int uvgo_mutex_lock(uvgo_mutex *m) {
  if (m == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL mutex");
  uintptr_t self = uvgo__sync_self();
  if (UVGO__LIKELY(try_fast(m, self)))
    return 0;
  int err = lock_slow(m, self, UVGO__NO_DEADLINE, NULL);
  if (UVGO__UNLIKELY(err == UVGO_EDEADLOCK))
    return UVGO__MISUSE(err, "mutex already held by the caller");
  return err;
}

int uvgo_mutex_lock_timeout(uvgo_mutex *m, uint64_t ms) {
  if (m == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL mutex");
  uintptr_t self = uvgo__sync_self();
  if (try_fast(m, self))
    return 0;
  int err = lock_slow(m, self, uvgo__sync_deadline(ms), NULL);
  if (UVGO__UNLIKELY(err == UVGO_EDEADLOCK))
    return UVGO__MISUSE(err, "mutex already held by the caller");
  return err;
}

int uvgo_mutex_trylock(uvgo_mutex *m) {
  if (m == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL mutex");
  return try_barge(m, uvgo__sync_self()) ? 0 : UV_EBUSY;
}

/* Under the queue's lock: unlink waiters from the head until one can be
 * claimed with `reason`; a lost claim is a waiter whose deadline (or
 * context) won, which gets nothing. */
static uvgo__waiter *claim_head(uvgo_mutex *m, int reason) {
  for (uvgo__waiter *w; (w = uvgo__waitq_head(&m->q_)) != NULL;) {
    uvgo__waitq_remove(&m->q_, w);
    if (uvgo__parker_claim(&w->parker, reason))
      return w;
  }
  return NULL;
}

/* Under the queue's lock, for an unlock by the holder of state s with
 * some flag set: the state to store, and in *w the waiter it hands over
 * to or wakes (claimed), if any. Never 0 with a waiter. */
static uintptr_t unlock_state(uvgo_mutex *m, uintptr_t s, uvgo__waiter **wp) {
  uvgo__waiter *w = NULL;
  uintptr_t next = s & WOKEN;
  if (s & STARVING) {
    w = claim_head(m, REASON_HANDOFF);
    if (w != NULL) {
      next |= w->word;
      if (!uvgo__waitq_empty(&m->q_)) {
        next |= WAITERS;
        /* Go's exit rule: a waiter that did not starve ends the mode. */
        if (uvgo__now_ms() - w->since_ms > STARVE_MS)
          next |= STARVING;
      }
    }
  } else {
    if (!(s & WOKEN))
      w = claim_head(m, REASON_WOKEN);
    if (w != NULL)
      next |= WOKEN;
    if (!uvgo__waitq_empty(&m->q_))
      next |= WAITERS;
  }
  *wp = w;
  return next;
}

int uvgo_mutex_unlock(uvgo_mutex *m) {
  if (m == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL mutex");
  uintptr_t self = uvgo__sync_self();
  uintptr_t s = self;
  if (UVGO__LIKELY(__atomic_compare_exchange_n(
          &m->state_, &s, 0, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED)))
    return 0;
  if (owner_of(s) != self)
    return UVGO__MISUSE(UVGO_ENOTOWNER,
                        owner_of(s) == 0
                            ? "unlock of an unlocked mutex"
                            : "unlock of a mutex held by another task");
  /* Some flag is set. We hold the mutex, so no fast path can change
   * state_ until we store it, and flags change only under this lock. */
  for (;;) {
    uvgo__waiter *w = NULL;
    uvgo__waitq_lock(&m->q_);
    s = UVGO__LOAD(&m->state_, RELAXED);
    uintptr_t next = unlock_state(m, s, &w);
    if (next == 0) {
      /* Freed to nobody (the waiters that set the flag left by their
       * deadlines): the release must be our last touch, since a fast-path
       * locker may take, release and free the mutex at once. So unlock
       * the queue first; a waiter that queued meanwhile changed the flags
       * and fails the swap, and we go round again. */
      uvgo__waitq_unlock(&m->q_);
      if (__atomic_compare_exchange_n(&m->state_, &s, 0, false,
                                      __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        return 0;
      continue;
    }
    UVGO__STORE(&m->state_, next, RELEASE);
    uvgo__waitq_unlock(&m->q_);
    if (w != NULL)
      uvgo__parker_wake(&w->parker);
    return 0;
  }
}


int uvgo_mutex_lock_ctx(uvgo_mutex *m, uvgo_ctx *ctx) {
  if (m == NULL || ctx == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL mutex or context");
  uintptr_t self = uvgo__sync_self();
  if (try_fast(m, self))
    return 0;
  uvgo__wait_src src = {ctx};
  int err = lock_slow(m, self, UVGO__NO_DEADLINE, &src);
  if (UVGO__UNLIKELY(err == UVGO_EDEADLOCK))
    return UVGO__MISUSE(err, "mutex already held by the caller");
  return err;
}
