/* Wait queues for the sync primitives (wg.c, mutex.c, once.c, sem.c): a
 * spinlock that works zero-initialised, an intrusive FIFO of waiters that
 * live on the waiters' own stacks, and the one sleep step they share.
 *
 * Protocol, on top of the parker's (park.h):
 *   - a waiter prepares its parker and links itself under the queue's lock,
 *     unlocks, then sleeps (uvgo__waiter_sleep);
 *   - a waker, under the lock, unlinks the waiter and tries to claim it;
 *     on success it has handed over (a lock, tokens, a release) and wakes
 *     the waiter after unlocking; on failure the waiter was already claimed
 *     by its deadline or a cancellation and gets nothing: skip it;
 *   - a waiter woken with a negative reason takes the lock, unlinks itself
 *     if still linked, repairs the primitive's state, and returns the code.
 * So a hand-off is never lost to a timeout: the claim decides who won.
 *
 * The internal fields of the public structs are plain integers (the public
 * header must not need <stdatomic.h>); they are accessed with the
 * __atomic builtins, which GCC and Clang (and TSan) understand. */
#ifndef UVGO_WAITQ_H
#define UVGO_WAITQ_H

#include <sched.h>

#include "core/park.h"

#define UVGO__LOAD(p, mo) __atomic_load_n((p), __ATOMIC_##mo)
#define UVGO__STORE(p, v, mo) __atomic_store_n((p), (v), __ATOMIC_##mo)
#define UVGO__CAS(p, expp, v)                                              \
  __atomic_compare_exchange_n((p), (expp), (v), false, __ATOMIC_ACQ_REL, \
                              __ATOMIC_ACQUIRE)

typedef struct uvgo__waiter uvgo__waiter;
struct uvgo__waiter {
  uvgo__parker parker;
  uvgo__waiter *prev;      /* queue links, under the queue's lock */
  uvgo__waiter *next;
  uvgo__waiter *wake_next; /* claimed waiters to wake after unlocking */
  uintptr_t word;          /* per primitive: identity, weight or epoch */
  uint64_t since_ms;       /* mutex: when it started waiting */
  bool linked;             /* in the queue (a waker unlinks it) */
};

/* An extra way for one wait to end: the context of a _ctx variant, whose
 * end claims the waiter with UV_ECANCELED / UV_ETIMEDOUT. NULL for none.
 * (The task's own context never ends these waits: WaitGroup wait, mutex
 * lock and once are not cancellation points.) */
typedef struct uvgo__wait_src uvgo__wait_src;
struct uvgo__wait_src {
  uvgo_ctx *ctx;
};

static inline void uvgo__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

/* Test-and-test-and-set with backoff: after a short spin the thread
 * yields the CPU, so a plain thread preempted inside the (few-instruction)
 * critical section does not keep a worker spinning for its time slice. */
static inline void uvgo__spin_lock(int *lock) {
  unsigned spins = 0;
  for (;;) {
    if (!__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE))
      return;
    while (UVGO__LOAD(lock, RELAXED) != 0) {
      if (++spins < 64)
        uvgo__cpu_relax();
      else
        sched_yield();
    }
  }
}
static inline void uvgo__spin_unlock(int *lock) {
  UVGO__STORE(lock, 0, RELEASE);
}

static inline void uvgo__waitq_lock(uvgo_waitq_ *q) {
  uvgo__spin_lock(&q->lock_);
}
static inline void uvgo__waitq_unlock(uvgo_waitq_ *q) {
  uvgo__spin_unlock(&q->lock_);
}
static inline uvgo__waiter *uvgo__waitq_head(const uvgo_waitq_ *q) {
  return (uvgo__waiter *)q->head_;
}
static inline bool uvgo__waitq_empty(const uvgo_waitq_ *q) {
  return q->head_ == NULL;
}
/* Under the lock: append w. O(1). */
static inline void uvgo__waitq_push(uvgo_waitq_ *q, uvgo__waiter *w) {
  uvgo__waiter *tail = (uvgo__waiter *)q->tail_;
  w->next = NULL;
  w->prev = tail;
  if (tail != NULL)
    tail->next = w;
  else
    q->head_ = w;
  q->tail_ = w;
  w->linked = true;
}
/* Under the lock: put w first (a woken mutex waiter that lost the race
 * keeps its place). O(1). */
static inline void uvgo__waitq_push_front(uvgo_waitq_ *q, uvgo__waiter *w) {
  uvgo__waiter *head = (uvgo__waiter *)q->head_;
  w->prev = NULL;
  w->next = head;
  if (head != NULL)
    head->prev = w;
  else
    q->tail_ = w;
  q->head_ = w;
  w->linked = true;
}
/* Under the lock: unlink w (it must be linked). O(1). */
static inline void uvgo__waitq_remove(uvgo_waitq_ *q, uvgo__waiter *w) {
  if (w->prev != NULL)
    w->prev->next = w->next;
  else
    q->head_ = w->next;
  if (w->next != NULL)
    w->next->prev = w->prev;
  else
    q->tail_ = w->prev;
  w->prev = w->next = NULL;
  w->linked = false;
}

/* Wake every waiter on a wake_next list. Call after unlocking: each waiter
 * may return (and its memory go) as soon as it is woken. */
static inline void uvgo__waiters_wake(uvgo__waiter *list) {
  while (list != NULL) {
    uvgo__waiter *next = list->wake_next;
    uvgo__parker_wake(&list->parker);
    list = next;
  }
}

/* Step 2 of the protocol: sleep until claimed (by a waker, the deadline or
 * src). Returns the claimer's reason, with the deadline's mapped to
 * UV_ETIMEDOUT; on a negative result the caller must take the lock and
 * unlink itself if still linked. */
static inline int uvgo__waiter_sleep(uvgo__waiter *w, uint64_t deadline_ms,
                                     uvgo__wait_src *src) {
  int reason = uvgo__parker_wait_ex(&w->parker, deadline_ms,
                                    src != NULL ? src->ctx : NULL, false);
  return reason == UVGO__WAKE_TIMEOUT ? UV_ETIMEDOUT : reason;
}

/* The caller's identity for ownership: its task, or its thread. */
uintptr_t uvgo__sync_self(void);

/* A timeout in ms as a deadline on the uvgo__now_ms clock. */
static inline uint64_t uvgo__sync_deadline(uint64_t ms) {
  return uvgo__deadline_after(ms);
}

#endif
