/* Weighted semaphore, after golang.org/x/sync/semaphore: tokens are
 * granted strictly in arrival order. A waiter at the head that does not fit
 * blocks everyone behind it, so a large request is not starved by a stream
 * of small ones. All state is under the queue's lock; the critical
 * sections are a few comparisons. */
#include "core/waitq.h"

/* Under the lock: grant tokens to waiters from the head while they fit,
 * collecting the claimed ones on *wake. A waiter whose claim is lost (its
 * deadline won) is unlinked and skipped; it gets nothing. */
static void grant(uvgo_sem *sem, uvgo__waiter **wake) {
  uvgo__waiter **tailp = wake;
  while (*tailp != NULL)
    tailp = &(*tailp)->wake_next;
  for (uvgo__waiter *w; (w = uvgo__waitq_head(&sem->q_)) != NULL;) {
    int64_t n = (int64_t)w->word;
    if (sem->size_ - sem->cur_ < n)
      break;
    uvgo__waitq_remove(&sem->q_, w);
    if (!uvgo__parker_claim(&w->parker, 0))
      continue;
    sem->cur_ += n;
    w->wake_next = NULL;
    *tailp = w;
    tailp = &w->wake_next;
  }
}

int uvgo_sem_init(uvgo_sem *sem, int64_t capacity) {
  if (sem == NULL || capacity < 0)
    return UVGO__MISUSE(UV_EINVAL, "NULL semaphore or negative capacity");
  *sem = (uvgo_sem){.size_ = capacity};
  return 0;
}

static int acquire(uvgo_sem *sem, int64_t n, uint64_t deadline_ms,
                   uvgo__wait_src *src) {
  uvgo__waiter w;
  uvgo__waitq_lock(&sem->q_);
  if (sem->size_ - sem->cur_ >= n && uvgo__waitq_empty(&sem->q_)) {
    sem->cur_ += n;
    uvgo__waitq_unlock(&sem->q_);
    return 0;
  }
  int err = uvgo__parker_prepare(&w.parker, "uvgo_sem_acquire");
  if (err != 0) {
    uvgo__waitq_unlock(&sem->q_);
    return err;
  }
  w.word = (uintptr_t)n;
  uvgo__waitq_push(&sem->q_, &w);
  uvgo__waitq_unlock(&sem->q_);
  int reason = uvgo__waiter_sleep(&w, deadline_ms, src);
  if (reason >= 0)
    return 0; /* the releaser has counted our tokens */
  uvgo__waiter *wake = NULL;
  uvgo__waitq_lock(&sem->q_);
  if (w.linked) {
    bool was_head = uvgo__waitq_head(&sem->q_) == &w;
    uvgo__waitq_remove(&sem->q_, &w);
    /* We may have been the big request holding smaller ones back. */
    if (was_head)
      grant(sem, &wake);
  }
  uvgo__waitq_unlock(&sem->q_);
  uvgo__waiters_wake(wake);
  return reason;
}

int uvgo_sem_acquire(uvgo_sem *sem, int64_t n) {
  if (sem == NULL || n < 0)
    return UVGO__MISUSE(UV_EINVAL, "NULL semaphore or negative weight");
  if (n > UVGO__LOAD(&sem->size_, RELAXED))
    return UVGO__MISUSE(UV_EINVAL, "weight above the semaphore's capacity");
  if (n == 0)
    return 0;
  return acquire(sem, n, UVGO__NO_DEADLINE, NULL);
}

int uvgo_sem_acquire_timeout(uvgo_sem *sem, int64_t n, uint64_t ms) {
  if (sem == NULL || n < 0)
    return UVGO__MISUSE(UV_EINVAL, "NULL semaphore or negative weight");
  if (n > UVGO__LOAD(&sem->size_, RELAXED))
    return UVGO__MISUSE(UV_EINVAL, "weight above the semaphore's capacity");
  if (n == 0)
    return 0;
  return acquire(sem, n, uvgo__sync_deadline(ms), NULL);
}

int uvgo_sem_try_acquire(uvgo_sem *sem, int64_t n) {
  if (sem == NULL || n < 0)
    return UVGO__MISUSE(UV_EINVAL, "NULL semaphore or negative weight");
  if (n > UVGO__LOAD(&sem->size_, RELAXED))
    return UVGO__MISUSE(UV_EINVAL, "weight above the semaphore's capacity");
  int err = UV_EAGAIN;
  uvgo__waitq_lock(&sem->q_);
  if (sem->size_ - sem->cur_ >= n && uvgo__waitq_empty(&sem->q_)) {
    sem->cur_ += n;
    err = 0;
  }
  uvgo__waitq_unlock(&sem->q_);
  return err;
}

int uvgo_sem_release(uvgo_sem *sem, int64_t n) {
  if (sem == NULL || n < 0)
    return UVGO__MISUSE(UV_EINVAL, "NULL semaphore or negative weight");
  uvgo__waiter *wake = NULL;
  uvgo__waitq_lock(&sem->q_);
  if (n > sem->cur_) {
    uvgo__waitq_unlock(&sem->q_);
    return UVGO__MISUSE(UV_EINVAL, "semaphore released more than held");
  }
  sem->cur_ -= n;
  grant(sem, &wake);
  uvgo__waitq_unlock(&sem->q_);
  uvgo__waiters_wake(wake);
  return 0;
}

int uvgo_sem_acquire_ctx(uvgo_sem *sem, int64_t n, uvgo_ctx *ctx) {
  if (sem == NULL || n < 0 || ctx == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL semaphore or context, or negative "
                                   "weight");
  if (n > UVGO__LOAD(&sem->size_, RELAXED))
    return UVGO__MISUSE(UV_EINVAL, "weight above the semaphore's capacity");
  if (n == 0)
    return 0;
  uvgo__wait_src src = {ctx};
  return acquire(sem, n, UVGO__NO_DEADLINE, &src);
}
