/* Channels: a ring buffer plus FIFO queues of blocked senders and
 * receivers, one spinlock per channel (src/chan.h has the invariants).
 *
 * Invariants under the lock: senders wait only while the buffer is full
 * (or, unbuffered, no receiver waits); receivers wait only while it is
 * empty; so a send first looks for a waiting receiver and a receive for a
 * waiting sender, and at most one of the two queues is non-empty. */
#include "core/chan.h"

#include <sched.h>

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ volatile("yield" ::: "memory")
#else
#define cpu_relax() ((void)0)
#endif

#define SPIN_LIMIT 64

void uvgo__chan_lock_slow(uvgo_chan *c) {
  for (unsigned spins = 0;; spins++) {
    if (atomic_load_explicit(&c->lock, memory_order_relaxed) == 0 &&
        !atomic_exchange_explicit(&c->lock, 1, memory_order_acquire))
      return;
    /* The holder may have been preempted (2 cores, several workers and
     * foreign threads): stop burning its CPU. */
    if (spins < SPIN_LIMIT)
      cpu_relax();
    else
      sched_yield();
  }
}

/* --- quarantine: under UVGO_STRICT released channels are kept (poisoned)
 * for a while so a second release or a late use is reported rather than
 * reading freed memory. --- */
#define QUARANTINE 64
static uvgo_chan *quarantine[QUARANTINE];
static unsigned quarantine_next;
static _Atomic int quarantine_lock;

static void chan_free(uvgo_chan *c) {
  c->magic = UVGO__CHAN_DEAD;
  if (!uvgo__strict()) {
    uvgo__free(c);
    return;
  }
  while (atomic_exchange_explicit(&quarantine_lock, 1, memory_order_acquire))
    sched_yield();
  uvgo_chan *old = quarantine[quarantine_next];
  quarantine[quarantine_next] = c;
  quarantine_next = (quarantine_next + 1) % QUARANTINE;
  atomic_store_explicit(&quarantine_lock, 0, memory_order_release);
  uvgo__free(old);
}

int uvgo__chan_check_fail(const uvgo_chan *c, const char *call,
                          const void *caller) {
  if (c == NULL)
    return uvgo__misuse(UV_EINVAL, call, "NULL channel", caller);
  return uvgo__misuse(UVGO_ERELEASED, call,
                      "channel used after its last release", caller);
}

uvgo_chan *uvgo_chan_new(size_t elem_size, size_t cap) {
  if (elem_size > UVGO_CHAN_MAX_ELEM || cap > UVGO_CHAN_MAX_CAP)
    return NULL;
  /* Buffer right after the header, aligned for any element type. */
  size_t header = (sizeof(uvgo_chan) + 15u) & ~(size_t)15u;
  uvgo_chan *c = uvgo__malloc(header + elem_size * cap);
  if (c == NULL)
    return NULL;
  memset(c, 0, sizeof *c);
  c->magic = UVGO__CHAN_MAGIC;
  atomic_init(&c->lock, 0);
  atomic_init(&c->refs, 1);
  c->elem_size = elem_size;
  c->cap = cap;
  c->buf = (unsigned char *)c + header;
  return c;
}

int uvgo_chan_retain(uvgo_chan *ch) {
  if (ch != NULL && uvgo__is_after(ch))
    return UVGO__MISUSE(UV_EINVAL, "retain of a uvgo_after channel");
  int err = uvgo__chan_check(ch, "uvgo_chan_retain");
  if (err != 0)
    return err;
  atomic_fetch_add_explicit(&ch->refs, 1, memory_order_relaxed);
  return 0;
}

int uvgo_chan_release(uvgo_chan *ch) {
  if (ch == NULL)
    return 0;
  if (uvgo__is_after(ch))
    return UVGO__MISUSE(UV_EINVAL, "release of a uvgo_after channel");
  if (ch->magic != UVGO__CHAN_MAGIC)
    return UVGO__MISUSE(UVGO_ERELEASED, "channel released after its last "
                                        "release");
  uvgo__chan_lock(ch);
  size_t refs = atomic_load_explicit(&ch->refs, memory_order_acquire);
  if (refs == 1 && (ch->recvq.head != NULL || ch->sendq.head != NULL)) {
    uvgo__chan_unlock(ch);
    return UVGO__MISUSE(UVGO_EWAITERS,
                        "last release of a channel with blocked waiters");
  }
  refs = atomic_fetch_sub_explicit(&ch->refs, 1, memory_order_acq_rel);
  uvgo__chan_unlock(ch);
  if (refs == 1)
    chan_free(ch);
  return 0;
}

/* --- the locked halves --- */

int uvgo__chan_send_locked(uvgo_chan *c, const void *elem,
                           uvgo__parker **wake) {
  return uvgo__chan_send_locked_inline(c, elem, wake, c->elem_size, false);
}
int uvgo__chan_recv_locked(uvgo_chan *c, void *elem, uvgo__parker **wake) {
  return uvgo__chan_recv_locked_inline(c, elem, wake, c->elem_size, false);
}

void uvgo__chan_unlock_cb(void *chan) { uvgo__chan_unlock(chan); }

/* --- blocking --- */

/* A wake by close: UVGO_ECLOSED, a receive's destination zeroed. */
static int block_closed(uvgo__waiter *me, bool recv) {
  if (recv && me->elem != NULL)
    memset(me->elem, 0, me->chan->elem_size);
  return UVGO_ECLOSED;
}

/* block_on for a plain thread or a task a context watches: a claim race
 * with the cancellation, and the lock released before the wait. */
static __attribute__((noinline)) int block_on_watched(uvgo_chan *c,
                                                       uvgo__waitq *q,
                                                       void *elem,
                                                       const char *call,
                                                       bool recv) {
  uvgo__parker p;
  uvgo__waiter me = {.parker = &p, .elem = elem, .chan = c};
  int err = uvgo__parker_prepare(&p, call);
  if (err != 0) {
    uvgo__chan_unlock(c);
    return err;
  }
  uvgo__waitq_push(q, &me);
  uvgo__chan_unlock(c);
  int reason = uvgo__parker_wait(&p, UVGO__NO_DEADLINE);
  if (reason < 0) {
    /* Claimed by someone who is not a partner (a cancellation): we may
     * still be queued. */
    uvgo__chan_lock(c);
    if (me.queued)
      uvgo__waitq_remove(q, &me);
    uvgo__chan_unlock(c);
    return reason;
  }
  return me.closed ? block_closed(&me, recv) : 0;
}

/* Park on q until a partner (or close, or a cancellation) claims us. Called
 * with the lock held; returns with it released. A wake by close returns
 * UVGO_ECLOSED (a receive's destination zeroed). Out of line, so the
 * ready paths of send and recv need no callee-saved registers; the common
 * case (a task no context watches) here, the rest in block_on_watched. */
static __attribute__((noinline)) int block_on(uvgo_chan *c, uvgo__waitq *q,
                                               void *elem, const char *call,
                                               bool recv) {
  uvgo_task *t = uvgo__current_task();
  if (UVGO__UNLIKELY(!uvgo__task_unwatched(t)))
    return block_on_watched(c, q, elem, call, recv);
  /* Only a partner or a close, under this lock, can end the wait: no
   * claim race, and the task parks before the lock is released
   * (uvgo__parker_unwatched). Every field a claimer, close or dump reads
   * is set; the links by the push. */
  uvgo__parker p;
  uvgo__waiter me;
  me.parker = &p;
  me.elem = elem;
  me.chan = c;
  me.case_index = 0;
  me.closed = false;
  me.is_select = false;
  me.exclusive = true;
  uvgo__parker_prepare_task(&p, t, call);
  uvgo__waitq_push(q, &me);
  uvgo__parker_wait_commit(&p, UVGO__NO_DEADLINE, uvgo__chan_unlock_cb, c);
  return UVGO__LIKELY(!me.closed) ? 0 : block_closed(&me, recv);
}

/* Every check of a send, in order, and the whole operation: the path for
 * misuse, a contended lock and unusual sizes. caller: for misuse reports. */
static __attribute__((noinline)) int send_slow(uvgo_chan *c, const void *elem,
                                                bool block, const char *call,
                                                const void *caller,
                                                bool locked) {
  int err;
  if (!locked) {
    if (c != NULL && uvgo__is_after(c))
      return uvgo__misuse(UV_EINVAL, call, "send on a uvgo_after channel",
                          caller);
    if (c == NULL || c->magic != UVGO__CHAN_MAGIC)
      return uvgo__chan_check_fail(c, call, caller);
    if (elem == NULL && c->elem_size != 0)
      return uvgo__misuse(UV_EINVAL, call, "NULL element", caller);
    uvgo__chan_lock(c);
  }
  uvgo__parker *wake = NULL;
  err = uvgo__chan_send_locked_inline(c, elem, &wake, c->elem_size, false);
  if (err == UV_EAGAIN && block)
    return block_on(c, &c->sendq, (void *)(uintptr_t)elem, call, false);
  uvgo__chan_unlock(c);
  if (wake != NULL)
    uvgo__parker_wake_fast(wake);
  if (err == UVGO_ECLOSED)
    return uvgo__misuse(UVGO_ECLOSED, call, "send on a closed channel",
                        caller);
  return err;
}

int uvgo__after_recv(uvgo_chan *c, void *elem);

static __attribute__((noinline)) int recv_slow(uvgo_chan *c, void *elem,
                                                bool block, const char *call,
                                                const void *caller,
                                                bool locked) {
  int err;
  if (!locked) {
    if (c != NULL && uvgo__is_after(c)) {
      if (!block && !uvgo__after_ready(c))
        return UV_EAGAIN;
      return uvgo__after_recv(c, elem);
    }
    if (c == NULL || c->magic != UVGO__CHAN_MAGIC)
      return uvgo__chan_check_fail(c, call, caller);
    if (uvgo__chan_closed_drained(c)) {
      if (elem != NULL)
        memset(elem, 0, c->elem_size);
      return UVGO_ECLOSED;
    }
    uvgo__chan_lock(c);
  }
  uvgo__parker *wake = NULL;
  err = uvgo__chan_recv_locked_inline(c, elem, &wake, c->elem_size, false);
  if (err == UV_EAGAIN && block)
    return block_on(c, &c->recvq, elem, call, true);
  uvgo__chan_unlock(c);
  if (wake != NULL)
    uvgo__parker_wake_fast(wake);
  if (err == UVGO_ECLOSED && elem != NULL)
    memset(elem, 0, c->elem_size);
  return err;
}

/* The ready path of a send (recv false) or a receive, inline into each
 * exported call with recv a constant: checks, the lock, a hand-off to a
 * waiting partner or a slot, the wake; anything else goes to send_slow,
 * recv_slow or block_on by a tail call. */
static inline __attribute__((always_inline)) int
chan_op(uvgo_chan *c, void *elem, bool block, const char *call,
        const void *caller, bool recv) {
  if (UVGO__UNLIKELY(c == NULL || uvgo__is_after(c) ||
                     c->magic != UVGO__CHAN_MAGIC ||
                     (recv ? uvgo__chan_closed_drained(c)
                           : elem == NULL && c->elem_size != 0)))
    goto slow;
  if (UVGO__UNLIKELY(
          atomic_exchange_explicit(&c->lock, 1, memory_order_acquire)))
    goto slow;
  size_t size = c->elem_size;
  if (UVGO__UNLIKELY(c->closed || (size != 0 && size != 4 && size != 8)))
    return recv ? recv_slow(c, elem, block, call, caller, true)
                : send_slow(c, elem, block, call, caller, true);
  uvgo__parker *wake = NULL;
  int err = recv ? uvgo__chan_recv_locked_inline(c, elem, &wake, size, true)
                 : uvgo__chan_send_locked_inline(c, elem, &wake, size, true);
  if (UVGO__UNLIKELY(err != 0)) {
    if (block)
      return block_on(c, recv ? &c->recvq : &c->sendq, elem, call, recv);
    uvgo__chan_unlock(c);
    return err;
  }
  uvgo__chan_unlock(c);
  if (wake != NULL)
    uvgo__parker_wake_fast(wake);
  return 0;
slow:
  return recv ? recv_slow(c, elem, block, call, caller, false)
              : send_slow(c, elem, block, call, caller, false);
}

int uvgo_chan_send(uvgo_chan *ch, const void *elem) {
  return chan_op(ch, (void *)(uintptr_t)elem, true, "uvgo_chan_send",
                 __builtin_return_address(0), false);
}
int uvgo_chan_try_send(uvgo_chan *ch, const void *elem) {
  return chan_op(ch, (void *)(uintptr_t)elem, false, "uvgo_chan_try_send",
                 __builtin_return_address(0), false);
}
int uvgo_chan_recv(uvgo_chan *ch, void *elem) {
  return chan_op(ch, elem, true, "uvgo_chan_recv",
                 __builtin_return_address(0), true);
}
int uvgo_chan_try_recv(uvgo_chan *ch, void *elem) {
  return chan_op(ch, elem, false, "uvgo_chan_try_recv",
                 __builtin_return_address(0), true);
}

/* A close claims and wakes its waiters CLOSE_CHUNK at a time, unlocking
 * between chunks: the tasks of other workers are handed over after each
 * chunk, so their workers run them while the closer still walks the rest
 * instead of after the whole walk. Unlocking in between is safe: the
 * channel is closed for good first, so nobody new queues, and a waiter
 * that leaves meanwhile (a deadline, a cancellation) unlinks itself under
 * the lock, as at any other time. The caller holds a reference for the
 * call (uvgo_chan_close's contract), so the tasks woken by the first
 * chunks cannot free the channel under the rest.
 *
 * The walk goes from the tail, newest first, and prefetches each waiter's
 * hint as it goes. The waiters are on cold stacks, each reached only
 * through its neighbour's link: a plain walk waits for one line at a time
 * (about 900 cycles a waiter here once two workers' stacks alternate in
 * the queue); the hints keep UVGO__CHAN_HINTS lines in flight. Newest
 * first is also the order this worker's own tasks run fastest in, so they
 * are queued as claimed (docs/design.md, "The walk is a pointer chase,
 * so each waiter carries a prefetch hint"). */
#define CLOSE_CHUNK 64

/* Waiters linked through wake_next, with an O(1) append. */
typedef struct {
  uvgo__waiter *head;
  uvgo__waiter **tail;
} waiter_list;

static void list_init(waiter_list *l) {
  l->head = NULL;
  l->tail = &l->head;
}
static void list_append(waiter_list *l, uvgo__waiter *w) {
  w->wake_next = NULL;
  *l->tail = w;
  l->tail = &w->wake_next;
}
/* Claim up to *budget waiters of q for close, from the tail, onto
 * *claimed in claim order: uvgo__waitq_claim from the other end. */
static void claim_some(uvgo__waitq *q, waiter_list *claimed,
                       unsigned *budget) {
  uvgo__waiter *w;
  while (*budget > 0 && (w = q->tail) != NULL) {
    __builtin_prefetch(w->hint, 1, 3);
    uvgo__waiter *prev = w->prev;
    q->tail = prev;
    if (prev != NULL)
      prev->next = NULL;
    else
      __atomic_store_n(&q->head, NULL, __ATOMIC_RELAXED);
    w->queued = false;
    if (uvgo__waiter_claim(w)) {
      w->closed = true;
      list_append(claimed, w);
      --*budget;
    }
  }
}

/* After unlocking, wake one chunk's claimed waiters: tasks of other
 * workers in one batch per worker, this worker's own (which run once the
 * closer yields) and plain threads at once. A woken waiter may return and
 * pop its frame at once: its link is read before its wake. The next
 * waiter's parker is fetched one step ahead. */
static void wake_closed(uvgo__waiter *list) {
  uvgo__wake_batch batch = {0};
  while (list != NULL) {
    uvgo__waiter *next = list->wake_next;
    if (next != NULL)
      __builtin_prefetch(next->parker, 1, 3);
    uvgo__parker *p = list->parker;
    if (p->task != NULL)
      uvgo__wake_batch_add(&batch, p->task);
    else
      uvgo__parker_wake(p);
    list = next;
  }
  uvgo__wake_batch_flush(&batch);
}

int uvgo_chan_close(uvgo_chan *ch) {
  if (ch != NULL && uvgo__is_after(ch))
    return UVGO__MISUSE(UV_EINVAL, "close of a uvgo_after channel");
  int err = uvgo__chan_check(ch, "uvgo_chan_close");
  if (err != 0)
    return err;
  uvgo__chan_lock(ch);
  if (ch->closed) {
    uvgo__chan_unlock(ch);
    return UVGO__MISUSE(UVGO_ECLOSED, "close of a closed channel");
  }
  __atomic_store_n(&ch->closed, true, __ATOMIC_RELEASE);
  for (;;) {
    unsigned budget = CLOSE_CHUNK;
    waiter_list chunk;
    list_init(&chunk);
    claim_some(&ch->recvq, &chunk, &budget);
    claim_some(&ch->sendq, &chunk, &budget);
    uvgo__chan_unlock(ch);
    wake_closed(chunk.head);
    if (budget > 0)
      return 0; /* both queues are empty, and stay so: it is closed */
    uvgo__chan_lock(ch);
  }
}

size_t uvgo_chan_len(uvgo_chan *ch) {
  if (ch == NULL)
    return 0;
  if (uvgo__is_after(ch))
    return uvgo__after_ready(ch) ? 1 : 0;
  if (uvgo__chan_check(ch, "uvgo_chan_len") != 0)
    return 0;
  uvgo__chan_lock(ch);
  size_t n = ch->len;
  uvgo__chan_unlock(ch);
  return n;
}

size_t uvgo_chan_cap(uvgo_chan *ch) {
  if (ch == NULL)
    return 0;
  if (uvgo__is_after(ch))
    return 1;
  if (uvgo__chan_check(ch, "uvgo_chan_cap") != 0)
    return 0;
  return ch->cap;
}

size_t uvgo_chan_elem_size(uvgo_chan *ch) {
  if (ch == NULL)
    return 0;
  if (uvgo__is_after(ch))
    return sizeof(uint64_t);
  if (uvgo__chan_check(ch, "uvgo_chan_elem_size") != 0)
    return 0;
  return ch->elem_size;
}
