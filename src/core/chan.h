/* Channel internals shared by chan.c, select.c and time.c.
 *
 * Locking: one spinlock per channel guards everything below `lock`. It is
 * held for a few dozen instructions (a copy and some pointer moves), never
 * across a park, so spinning beats a futex mutex here; after a short spin
 * it yields the CPU so a preempted holder can finish (see docs/design.md).
 *
 * A blocked sender or receiver is a waiter on its own stack, linked into
 * the channel's send or receive queue. A partner (or close) dequeues it,
 * claims its parker, copies the value and wakes it; a waiter whose claim
 * someone else won (another select case, a cancellation) is just dropped
 * from the queue — its owner cleans up after it wakes. */
#ifndef UVGO_CHAN_INTERNAL_H
#define UVGO_CHAN_INTERNAL_H

#include <string.h>

#include "core/park.h"

#define UVGO__CHAN_MAGIC 0x6368616eu /* "chan" */
#define UVGO__CHAN_DEAD 0x64656164u  /* "dead": released */

typedef struct uvgo__waiter uvgo__waiter;
struct uvgo__waiter {
  uvgo__parker *parker;    /* shared by every case of one select */
  void *elem;              /* send: the value; recv: destination or NULL */
  uvgo__waiter *next;      /* queue links (valid while queued) */
  uvgo__waiter *prev;
  uvgo__waiter *wake_next; /* close: the list of waiters to wake */
  /* The waiter queued UVGO__CHAN_HINTS pushes before this one on the same
   * channel, which may have left since (its frame gone): only ever
   * prefetched, never read through (a close's walk, chan.c). */
  uvgo__waiter *hint;
  uvgo_chan *chan;         /* the channel it waits on */
  int case_index;          /* the claim word: 0, or a select case index */
  bool queued;             /* in chan's queue (under chan's lock) */
  bool closed;             /* set by the claimer: woken by close */
  bool is_select;          /* part of a select (for dumps and asserts) */
  /* Claimable only under this channel's lock: a plain send or receive of
   * a task no context watches, with no deadline. Its claimer needs no
   * compare-and-swap, and its task parks holding the lock (park.h,
   * uvgo__parker_wait_commit). */
  bool exclusive;
};

typedef struct {
  uvgo__waiter *head;
  uvgo__waiter *tail;
} uvgo__waitq;

/* How far back a waiter's hint reaches: the prefetch distance of a close's
 * walk (a power of two). 4, 8 and 16 claimed 10,000 waiters over two
 * workers in 2.7, 2.3 and 1.9 million cycles (without hints 8.3 from one
 * end, 5.3 from both); 8 costs a channel 64 bytes. */
#define UVGO__CHAN_HINTS 8

struct uvgo_chan {
  uint32_t magic;
  _Atomic int lock;
  _Atomic size_t refs;
  size_t elem_size;
  size_t cap;
  /* under lock */
  size_t len;       /* values buffered (atomic stores: see below) */
  size_t head;      /* ring index of the oldest value */
  bool closed;      /* set once, with an atomic release store */
  uint8_t recent_at; /* the oldest of recent */
  uvgo__waitq recvq;
  uvgo__waitq sendq;
  unsigned char *buf; /* cap * elem_size bytes, right after the struct */
  /* The last UVGO__CHAN_HINTS waiters pushed (on either queue), the
   * source of their successors' hints; stale entries are harmless. */
  uvgo__waiter *recent[UVGO__CHAN_HINTS];
};

void uvgo__chan_lock_slow(uvgo_chan *c);
static inline void uvgo__chan_lock(uvgo_chan *c) {
  if (UVGO__LIKELY(!atomic_exchange_explicit(&c->lock, 1,
                                             memory_order_acquire)))
    return;
  uvgo__chan_lock_slow(c);
}
static inline void uvgo__chan_unlock(uvgo_chan *c) {
  atomic_store_explicit(&c->lock, 0, memory_order_release);
}
/* uvgo__chan_unlock as a park commit (uvgo__parker_wait_commit). */
void uvgo__chan_unlock_cb(void *chan);

/* Closed and drained: a state that never changes again (no send succeeds
 * after close, and only receives change len then), so a receive may see
 * it without the lock (Go's chanrecv fast path). `closed` and `len` are
 * written under the lock with atomic stores for this reader; the acquire
 * on `closed` makes every len written before the close visible, so a 0
 * read after it is the drained state, not a stale value. */
static inline bool uvgo__chan_closed_drained(const uvgo_chan *c) {
  return __atomic_load_n(&c->closed, __ATOMIC_ACQUIRE) &&
         __atomic_load_n(&c->len, __ATOMIC_RELAXED) == 0;
}

/* q->head is stored atomically (relaxed; a plain move on x86): select
 * peeks at it without the lock (uvgo__chan_maybe_ready). q is a queue of
 * w->chan. */
static inline void uvgo__waitq_push(uvgo__waitq *q, uvgo__waiter *w) {
  uvgo_chan *c = w->chan;
  w->hint = c->recent[c->recent_at];
  c->recent[c->recent_at] = w;
  c->recent_at = (uint8_t)((c->recent_at + 1) & (UVGO__CHAN_HINTS - 1));
  w->next = NULL;
  w->prev = q->tail;
  if (q->tail != NULL)
    q->tail->next = w;
  else
    __atomic_store_n(&q->head, w, __ATOMIC_RELAXED);
  q->tail = w;
  w->queued = true;
}
static inline void uvgo__waitq_remove(uvgo__waitq *q, uvgo__waiter *w) {
  if (w->prev != NULL)
    w->prev->next = w->next;
  else
    __atomic_store_n(&q->head, w->next, __ATOMIC_RELAXED);
  if (w->next != NULL)
    w->next->prev = w->prev;
  else
    q->tail = w->prev;
  w->queued = false;
}
/* Claim w, just dequeued, with its case index; false if someone else (a
 * deadline, a cancellation, another case of its select) already has. */
static inline bool uvgo__waiter_claim(uvgo__waiter *w) {
  if (w->exclusive) {
    /* Nobody else can claim it (we hold the lock it queued under), and
     * nobody has: a claimer dequeues what it claims. */
    atomic_store_explicit(&w->parker->claimed, 1, memory_order_relaxed);
    w->parker->reason = w->case_index;
    return true;
  }
  return uvgo__parker_claim(w->parker, w->case_index);
}

/* Dequeue the first waiter whose parker this call can claim (with the
 * waiter's case index), dropping the ones someone else already claimed. */
static inline uvgo__waiter *uvgo__waitq_claim(uvgo__waitq *q) {
  uvgo__waiter *w;
  while ((w = q->head) != NULL) {
    /* uvgo__waitq_remove of the head (its prev is NULL). */
    uvgo__waiter *next = w->next;
    __atomic_store_n(&q->head, next, __ATOMIC_RELAXED);
    if (next != NULL)
      next->prev = NULL;
    else
      q->tail = NULL;
    w->queued = false;
    if (uvgo__waiter_claim(w))
      return w;
  }
  return NULL;
}

/* Without the lock: false only if at some moment during the call the
 * case could not have completed (neither a partner, nor room or a value,
 * nor closed), so a select may skip locking it in its first pass and
 * leave it to the locked second one (Go's non-blocking fast path). The
 * one field that decides readiness is read before `closed`: closing is
 * for good, so not closed after it means not closed when it was read.
 * (Senders wait only on a full buffer and receivers only on an empty
 * one, so a buffered channel's queues need no look.) */
static inline bool uvgo__chan_maybe_ready(const uvgo_chan *c, bool recv) {
  bool blocked;
  if (c->cap == 0)
    blocked = __atomic_load_n(recv ? &c->sendq.head : &c->recvq.head,
                              __ATOMIC_ACQUIRE) == NULL;
  else if (recv)
    blocked = __atomic_load_n(&c->len, __ATOMIC_ACQUIRE) == 0;
  else
    blocked = __atomic_load_n(&c->len, __ATOMIC_ACQUIRE) == c->cap;
  return !blocked || __atomic_load_n(&c->closed, __ATOMIC_ACQUIRE);
}

/* Copy one element of n bytes, n != 0. word: the caller has checked that
 * n is 4 or 8, so there is no memcpy call (and the ready paths keep no
 * registers across one). */
static inline void uvgo__elem_copy_n(void *dst, const void *src, size_t n,
                                     bool word) {
  if (n == 8)
    memcpy(dst, src, 8);
  else if (n == 4 || word)
    memcpy(dst, src, 4);
  else
    memcpy(dst, src, n);
}

/* The locked halves of send and recv, inline for chan.c's ready paths and
 * select's poll (a call and its register saves were a fifth of a round
 * trip); same contract as the exported copies below. size is
 * c->elem_size; word: the caller has checked it is 0, 4 or 8. */
static inline unsigned char *uvgo__chan_slot(uvgo_chan *c, size_t i,
                                             size_t size) {
  return c->buf + i * size;
}

static inline __attribute__((always_inline)) int
uvgo__chan_send_locked_inline(uvgo_chan *c, const void *elem,
                              uvgo__parker **wake, size_t size,
                              bool word) {
  if (c->closed)
    return UVGO_ECLOSED;
  uvgo__waiter *w = uvgo__waitq_claim(&c->recvq);
  if (w != NULL) {
    /* Direct handoff into the blocked receiver's buffer: it cannot run
     * until we wake it, so its stack is ours to write. */
    if (w->elem != NULL && size != 0)
      uvgo__elem_copy_n(w->elem, elem, size, word);
    w->closed = false;
    *wake = w->parker;
    return 0;
  }
  if (c->len < c->cap) {
    size_t tail = c->head + c->len;
    if (tail >= c->cap)
      tail -= c->cap;
    if (size != 0)
      uvgo__elem_copy_n(uvgo__chan_slot(c, tail, size), elem, size, word);
    __atomic_store_n(&c->len, c->len + 1, __ATOMIC_RELAXED);
    return 0;
  }
  return UV_EAGAIN;
}

static inline __attribute__((always_inline)) int
uvgo__chan_recv_locked_inline(uvgo_chan *c, void *elem, uvgo__parker **wake,
                              size_t size, bool word) {
  uvgo__waiter *w = uvgo__waitq_claim(&c->sendq);
  if (w != NULL) {
    if (c->cap == 0) {
      if (elem != NULL && size != 0)
        uvgo__elem_copy_n(elem, w->elem, size, word);
    } else {
      /* Senders wait only on a full buffer: take the oldest value and
       * put the sender's at the back, keeping FIFO order. */
      if (size != 0) {
        unsigned char *oldest = uvgo__chan_slot(c, c->head, size);
        if (elem != NULL)
          uvgo__elem_copy_n(elem, oldest, size, word);
        uvgo__elem_copy_n(oldest, w->elem, size, word);
      }
      if (++c->head == c->cap)
        c->head = 0;
    }
    w->closed = false;
    *wake = w->parker;
    return 0;
  }
  if (c->len > 0) {
    if (elem != NULL && size != 0)
      uvgo__elem_copy_n(elem, uvgo__chan_slot(c, c->head, size), size,
                        word);
    if (++c->head == c->cap)
      c->head = 0;
    __atomic_store_n(&c->len, c->len - 1, __ATOMIC_RELAXED);
    return 0;
  }
  if (c->closed)
    return UVGO_ECLOSED;
  return UV_EAGAIN;
}

/* The locked halves of send and recv, shared with select. Each returns 0
 * (done), UV_EAGAIN (would block) or UVGO_ECLOSED, and sets *wake to a
 * waiter the caller must wake (uvgo__parker_wake) after unlocking. */
int uvgo__chan_send_locked(uvgo_chan *c, const void *elem,
                           uvgo__parker **wake);
int uvgo__chan_recv_locked(uvgo_chan *c, void *elem, uvgo__parker **wake);

/* uvgo_after channels: a tagged pointer (low bit set) carrying a deadline
 * in uvgo__now_ms() milliseconds; nothing is allocated (time.c). */
static inline bool uvgo__is_after(const uvgo_chan *c) {
  return ((uintptr_t)c & 1u) != 0;
}
static inline uint64_t uvgo__after_deadline(const uvgo_chan *c) {
  return (uint64_t)((uintptr_t)c >> 1);
}
/* True once the after channel's deadline has passed (reads the clock). */
bool uvgo__after_ready(const uvgo_chan *c);
/* The last precise time (ms) this thread read; it only ever lags the
 * clock (time.c). */
extern UVGO__TLS_FAST _Thread_local uint64_t uvgo__after_now_cache;
/* True if this thread's last clock reading proves it passed (no read).
 * Inline: it runs in every select with an after case. */
static inline bool uvgo__after_ready_cached(const uvgo_chan *c) {
  return uvgo__after_deadline(c) <= uvgo__after_now_cache;
}
/* A valid, live, non-after channel: 0, or the error to return. The
 * check is inline (it runs on every operation); the report is not. */
int uvgo__chan_check_fail(const uvgo_chan *c, const char *call,
                          const void *caller);
#define uvgo__chan_check(c, call)                                        \
  (UVGO__LIKELY((c) != NULL && (c)->magic == UVGO__CHAN_MAGIC)           \
       ? 0                                                               \
       : uvgo__chan_check_fail((c), (call), __builtin_return_address(0)))

#endif
