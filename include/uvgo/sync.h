/* uvgo — sync: WaitGroup, Mutex, Once and a weighted semaphore that park
 * the calling task, never its worker thread.
 *
 * Every object here is a fixed-size struct the caller embeds or declares;
 * the all-zero value is valid and ready (`uvgo_mutex m = {0};` or the
 * UVGO_*_INIT macros), so nothing here allocates and nothing needs closing.
 * The fields are private: touch them only through these functions.
 *
 * Thread contract: every call may be made from a task on any worker or
 * from a plain thread that is not a uvgo task (which then blocks in a
 * condition variable). Blocking from a libuv callback on a worker's loop
 * blocks that whole worker: don't.
 *
 * Waits are not cancellation points (DESIGN.md, Cancellation): a WaitGroup
 * usually lives on the waiter's stack and an ignored lock error would run a
 * critical section unlocked. The _timeout variants bound a wait; the
 * context variants (_ctx) come with the context layer. */
#ifndef UVGO_SYNC_H
#define UVGO_SYNC_H

#include "common.h"


#ifdef __cplusplus
extern "C" {
#endif

/* Private: a FIFO of parked waiters and the spinlock that guards it. The
 * spinlock is held only for a few instructions, never across a switch. */
typedef struct uvgo_waitq_ {
  void *head_;
  void *tail_;
  int lock_;
} uvgo_waitq_;

/* --- WaitGroup (Go's sync.WaitGroup) --- */

/* Go's sync.WaitGroup. An all-zero value (or UVGO_WG_INIT) is ready to
 * use; fields are private. */
typedef struct uvgo_wg {
  uint64_t state_; /* counter (low 31 bits), waiters bit, epoch (high 32) */
  uvgo_waitq_ q_;
} uvgo_wg;
#define UVGO_WG_INIT {.state_ = 0}

/* Add delta (may be negative) to the counter. When it reaches zero every
 * task blocked in uvgo_wg_wait is released. As in Go, call add before
 * spawning the task that will call done.
 * @return 0; UV_EINVAL (NULL; a counter that would go negative or above
 * INT32_MAX: misuse, the counter is unchanged). Any thread; never blocks. */
UVGO_EXTERN int uvgo_wg_add(uvgo_wg *wg, int64_t delta);
/* uvgo_wg_add(wg, -1). @return as uvgo_wg_add. Any thread. */
UVGO_EXTERN int uvgo_wg_done(uvgo_wg *wg);
/* Block until the counter is zero (at once if it is). Not a cancellation
 * point.
 * @return 0; UV_EINVAL (NULL); UV_ENOMEM (a plain thread's condition
 * variable could not be made). Task or plain thread. */
UVGO_EXTERN int uvgo_wg_wait(uvgo_wg *wg);
/* uvgo_wg_wait bounded by ms milliseconds.
 * @return as uvgo_wg_wait, or UV_ETIMEDOUT (the counter was still not zero;
 * nothing changed). Task or plain thread. */
UVGO_EXTERN int uvgo_wg_wait_timeout(uvgo_wg *wg, uint64_t ms);
/* Wait bounded by ctx: UV_ECANCELED / UV_ETIMEDOUT when it ends first (the
 * counter is left as it is). Not ended by the task's own context. */
UVGO_EXTERN int uvgo_wg_wait_ctx(uvgo_wg *wg, uvgo_ctx *ctx);

/* --- Mutex (Go's sync.Mutex) --- */

/* Held by one task (or one plain thread) at a time; only the holder may
 * unlock. Uncontended lock and unlock are one atomic compare-and-swap each.
 * Fairness follows Go's two modes: unlock normally frees the mutex and
 * wakes the longest waiter, which competes with arriving tasks; once a
 * waiter has waited over 1 ms and lost, unlock hands the mutex directly to
 * the longest waiter (starvation mode) until the queue drains, so no
 * waiter is starved. Not recursive. */
typedef struct uvgo_mutex {
  uintptr_t state_; /* holder identity | waiters, starving, woken flags */
  uvgo_waitq_ q_;
} uvgo_mutex;
#define UVGO_MUTEX_INIT {.state_ = 0}

/* Lock, parking the calling task while another holds it. Not a
 * cancellation point.
 * @return 0; UV_EINVAL (NULL); UVGO_EDEADLOCK (the caller already holds
 * it: misuse, it would wait forever); UV_ENOMEM (plain thread, as
 * uvgo_wg_wait). Task or plain thread. */
UVGO_EXTERN int uvgo_mutex_lock(uvgo_mutex *m);
/* uvgo_mutex_lock bounded by ms milliseconds.
 * @return as uvgo_mutex_lock, or UV_ETIMEDOUT (not acquired). */
UVGO_EXTERN int uvgo_mutex_lock_timeout(uvgo_mutex *m, uint64_t ms);
/* Lock bounded by ctx: UV_ECANCELED / UV_ETIMEDOUT (not locked) when it
 * ends first. Check the result: an ignored error would run the critical
 * section unlocked. */
UVGO_EXTERN int uvgo_mutex_lock_ctx(uvgo_mutex *m, uvgo_ctx *ctx);
/* Lock only if free now. @return 0; UV_EBUSY (held, or being handed to a
 * starving waiter); UV_EINVAL (NULL). Any thread; never blocks. */
UVGO_EXTERN int uvgo_mutex_trylock(uvgo_mutex *m);
/* Unlock; if tasks wait, the longest waiter becomes the holder.
 * @return 0; UV_EINVAL (NULL); UVGO_ENOTOWNER (not locked, or locked by
 * another task or thread: misuse, nothing changes). The holder only. */
UVGO_EXTERN int uvgo_mutex_unlock(uvgo_mutex *m);

/* --- Once (Go's sync.Once) --- */

/* Go's sync.Once. An all-zero value (or UVGO_ONCE_INIT) is ready to use;
 * fields are private. */
typedef struct uvgo_once {
  int state_;        /* 0 not run, 1 running, 2 done */
  uintptr_t runner_; /* identity of the caller running fn */
  uvgo_waitq_ q_;
} uvgo_once;
#define UVGO_ONCE_INIT {.state_ = 0}

/* Run fn(arg) the first time this is called on `once`; concurrent callers
 * park until that first call has returned, and then see its effects. Later
 * calls return at once. Not a cancellation point.
 * @return 0; UV_EINVAL (NULL once or fn); UVGO_EDEADLOCK (fn itself called
 * uvgo_once_do on the same once: misuse); UV_ENOMEM (plain thread, as
 * uvgo_wg_wait). Task or plain thread. */
UVGO_EXTERN int uvgo_once_do(uvgo_once *once, void (*fn)(void *arg),
                             void *arg);

/* --- Weighted semaphore (golang.org/x/sync/semaphore) --- */

/* Capacity tokens shared by acquirers of any weight. Waiters are served in
 * FIFO order: a large request at the head is not starved by small ones
 * behind it (they wait too). The all-zero semaphore has capacity 0: give
 * it one with uvgo_sem_init or UVGO_SEM_INIT(capacity). */
typedef struct uvgo_sem {
  int64_t size_; /* capacity */
  int64_t cur_;  /* tokens held */
  uvgo_waitq_ q_;
} uvgo_sem;
#define UVGO_SEM_INIT(capacity) {.size_ = (capacity)}

/* Set the capacity of a semaphore nobody uses yet.
 * @return 0; UV_EINVAL (NULL, negative capacity). Not thread-safe: call it
 * before sharing the semaphore. */
UVGO_EXTERN int uvgo_sem_init(uvgo_sem *sem, int64_t capacity);
/* Take n tokens, parking while they are not available (n == 0 returns at
 * once). Not a cancellation point.
 * @return 0; UV_EINVAL (NULL; n < 0; n above the capacity: it could never
 * succeed, misuse); UV_ENOMEM (plain thread, as uvgo_wg_wait). Task or
 * plain thread. */
UVGO_EXTERN int uvgo_sem_acquire(uvgo_sem *sem, int64_t n);
/* uvgo_sem_acquire bounded by ms milliseconds.
 * @return as uvgo_sem_acquire, or UV_ETIMEDOUT (nothing taken). */
UVGO_EXTERN int uvgo_sem_acquire_timeout(uvgo_sem *sem, int64_t n,
                                         uint64_t ms);
/* Take n tokens only if that needs no wait (and nobody waits before us).
 * @return 0; UV_EAGAIN (would block); UV_EINVAL (as uvgo_sem_acquire).
 * Any thread; never blocks. */
/* Acquire bounded by ctx: UV_ECANCELED / UV_ETIMEDOUT (nothing acquired)
 * when it ends first. */
UVGO_EXTERN int uvgo_sem_acquire_ctx(uvgo_sem *sem, int64_t n, uvgo_ctx *ctx);
UVGO_EXTERN int uvgo_sem_try_acquire(uvgo_sem *sem, int64_t n);
/* Give back n tokens, waking waiters in FIFO order while they fit.
 * @return 0; UV_EINVAL (NULL, n < 0, or more than are held: misuse,
 * nothing changes). Any thread; never blocks. */
UVGO_EXTERN int uvgo_sem_release(uvgo_sem *sem, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
