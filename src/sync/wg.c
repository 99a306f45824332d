/* WaitGroup: a counter and the tasks waiting for it to reach zero.
 *
 * The state word holds the counter (low 31 bits), a waiters bit (bit 31)
 * and an epoch (high 32) that is bumped by every transition to zero, in
 * the same atomic step. A waiter records the epoch it saw; the waker
 * releases exactly the waiters of earlier epochs, so a waiter that
 * arrives after the counter went back up (a reused WaitGroup) is not
 * released by a stale transition.
 *
 * The waiters bit is why the last uvgo_wg_done may be the last touch: a
 * waiter sets it (under the queue's lock, by a compare-and-swap that also
 * sees the counter above zero) before it queues, and the transition to
 * zero clears it in its own step. A transition that found it clear
 * returns at once: every waiter from then on sees zero and returns, and
 * may free the WaitGroup (a pool's shutdown does), so the waker must not
 * take its lock afterwards. */
#include "core/waitq.h"

#define COUNT_MASK UINT64_C(0x7fffffff)
#define WAITERS_BIT (UINT64_C(1) << 31)
#define EPOCH_ONE (UINT64_C(1) << 32)

static inline uint64_t count_of(uint64_t s) { return s & COUNT_MASK; }

/* Under the queue's lock, when a waiter leaves without being released (a
 * deadline, a cancel, a failed prepare): with nobody queued, clear the
 * bit, so the transition to zero keeps off a WaitGroup that its next
 * waiters, seeing zero, may free. */
static void clear_waiters_if_none(uvgo_wg *wg) {
  if (uvgo__waitq_empty(&wg->q_))
    __atomic_fetch_and(&wg->state_, ~WAITERS_BIT, __ATOMIC_RELAXED);
}

/* Release every waiter that registered before the current epoch. */
static void release_waiters(uvgo_wg *wg) {
  uvgo__waiter *wake = NULL, **tailp = &wake;
  uvgo__waitq_lock(&wg->q_);
  uintptr_t epoch = (uintptr_t)(UVGO__LOAD(&wg->state_, ACQUIRE) >> 32);
  uvgo__waiter *w = uvgo__waitq_head(&wg->q_);
  while (w != NULL) {
    uvgo__waiter *next = w->next;
    if (w->word != epoch) {
      uvgo__waitq_remove(&wg->q_, w);
      /* A lost claim is a waiter whose deadline fired: it leaves alone. */
      if (uvgo__parker_claim(&w->parker, 0)) {
        w->wake_next = NULL;
        *tailp = w;
        tailp = &w->wake_next;
      }
    }
    w = next;
  }
  uvgo__waitq_unlock(&wg->q_);
  uvgo__waiters_wake(wake);
}

int uvgo_wg_add(uvgo_wg *wg, int64_t delta) {
  if (wg == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL WaitGroup");
  uint64_t s = UVGO__LOAD(&wg->state_, RELAXED);
  uint64_t next;
  do {
    int64_t count = (int64_t)count_of(s) + delta;
    if (count < 0)
      return UVGO__MISUSE(UV_EINVAL, "negative WaitGroup counter");
    if (count > INT32_MAX)
      return UVGO__MISUSE(UV_EINVAL, "WaitGroup counter overflow");
    next = (s & ~COUNT_MASK) | (uint64_t)count;
    if (count == 0 && delta != 0) {
      next += EPOCH_ONE; /* wraps harmlessly: epochs are compared with != */
      next &= ~WAITERS_BIT; /* their release is ours now */
    }
  } while (!UVGO__CAS(&wg->state_, &s, next));
  /* s is the value replaced: were there waiters to release? */
  if (count_of(next) == 0 && delta != 0 && (s & WAITERS_BIT))
    release_waiters(wg);
  return 0;
}

int uvgo_wg_done(uvgo_wg *wg) {
  if (wg == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL WaitGroup");
  uint64_t s = UVGO__LOAD(&wg->state_, RELAXED);
  if (count_of(s) == 0)
    return UVGO__MISUSE(UV_EINVAL, "negative WaitGroup counter");
  return uvgo_wg_add(wg, -1);
}

/* The one wait: until zero, deadline_ms or src claims the waiter. The
 * public calls (and the coming _ctx variant) are thin wrappers. */
static int wg_wait(uvgo_wg *wg, uint64_t deadline_ms, uvgo__wait_src *src) {
  if (count_of(UVGO__LOAD(&wg->state_, ACQUIRE)) == 0)
    return 0;
  uvgo__waiter w;
  uvgo__waitq_lock(&wg->q_);
  /* Under the lock, set the waiters bit while the counter is above zero:
   * the transition to zero after it sees the bit and takes the lock to
   * release us; one before it leaves zero, and we return. */
  uint64_t s = UVGO__LOAD(&wg->state_, ACQUIRE);
  for (;;) {
    if (count_of(s) == 0) {
      uvgo__waitq_unlock(&wg->q_);
      return 0;
    }
    if ((s & WAITERS_BIT) || UVGO__CAS(&wg->state_, &s, s | WAITERS_BIT))
      break;
  }
  int err = uvgo__parker_prepare(&w.parker, "uvgo_wg_wait");
  if (err != 0) {
    clear_waiters_if_none(wg);
    uvgo__waitq_unlock(&wg->q_);
    return err;
  }
  w.word = (uintptr_t)(s >> 32);
  uvgo__waitq_push(&wg->q_, &w);
  uvgo__waitq_unlock(&wg->q_);
  int reason = uvgo__waiter_sleep(&w, deadline_ms, src);
  if (reason >= 0)
    return 0;
  uvgo__waitq_lock(&wg->q_);
  if (w.linked) {
    uvgo__waitq_remove(&wg->q_, &w);
    clear_waiters_if_none(wg);
  }
  uvgo__waitq_unlock(&wg->q_);
  return reason;
}

int uvgo_wg_wait(uvgo_wg *wg) {
  if (wg == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL WaitGroup");
  return wg_wait(wg, UVGO__NO_DEADLINE, NULL);
}

int uvgo_wg_wait_timeout(uvgo_wg *wg, uint64_t ms) {
  if (wg == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL WaitGroup");
  return wg_wait(wg, uvgo__sync_deadline(ms), NULL);
}

int uvgo_wg_wait_ctx(uvgo_wg *wg, uvgo_ctx *ctx) {
  if (wg == NULL || ctx == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL WaitGroup or context");
  uvgo__wait_src src = {ctx};
  return wg_wait(wg, UVGO__NO_DEADLINE, &src);
}
