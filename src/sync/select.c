/* select: a random-order poll with each channel locked on its own (the
 * cheap path when something is ready), then, to wait, every channel locked
 * in address order, a second poll, and a waiter per case sharing one
 * parker. The first partner to claim the parker picks the case; the rest
 * of the waiters are unlinked after the wake (Go's selectgo, passes 1-3). */
#include "core/chan.h"

#include "uvgo/select.h"

#define SMALL 16

/* Per-thread xorshift64*: no lock, no shared state. */
static UVGO__TLS_FAST _Thread_local uint64_t rng_state;

static uint32_t fastrand(void) {
  uint64_t x = rng_state;
  if (UVGO__UNLIKELY(x == 0))
    x = uv_hrtime() ^ (uint64_t)(uintptr_t)&rng_state ^ 0x9e3779b97f4a7c15u;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rng_state = x;
  return (uint32_t)((x * 0x2545f4914f6cdd1du) >> 32);
}

/* One random bit for a two-case select: the 32 bits of one fastrand,
 * handed out one at a time (a 1 above the unused ones marks the end), so
 * most selects pay a shift instead of a generator step. */
static UVGO__TLS_FAST _Thread_local uint64_t rng_bits;

static inline uint16_t randbit(void) {
  uint64_t b = rng_bits;
  if (UVGO__UNLIKELY(b <= 1))
    b = (uint64_t)fastrand() | (UINT64_C(1) << 32);
  rng_bits = b >> 1;
  return (uint16_t)(b & 1u);
}

/* Uniform in [0, n) (Lemire's multiply-shift; bias below 2^-16 here). */
static inline uint32_t randn(uint32_t n) {
  return (uint32_t)(((uint64_t)fastrand() * n) >> 32);
}

static inline int validate(uvgo_select_case *cases, size_t n,
                           const char *call) {
  if (cases == NULL || n == 0 || n > UVGO_SELECT_MAX)
    return uvgo__misuse(UV_EINVAL, call, "no cases, or too many",
                        __builtin_return_address(0));
  for (size_t i = 0; i < n; i++) {
    uvgo_select_case *sc = &cases[i];
    sc->status = 0;
    if (sc->op != UVGO_SELECT_RECV && sc->op != UVGO_SELECT_SEND)
      return uvgo__misuse(UV_EINVAL, call, "bad case op",
                          __builtin_return_address(0));
    uvgo_chan *c = sc->chan;
    if (c == NULL)
      continue;
    if (uvgo__is_after(c)) {
      if (sc->op == UVGO_SELECT_SEND)
        return uvgo__misuse(UV_EINVAL, call, "send on a uvgo_after channel",
                            __builtin_return_address(0));
      continue;
    }
    int err = uvgo__chan_check(c, call);
    if (err != 0)
      return err;
    if (sc->op == UVGO_SELECT_SEND && sc->elem == NULL && c->elem_size != 0)
      return uvgo__misuse(UV_EINVAL, call, "NULL element in a send case",
                          __builtin_return_address(0));
  }
  return 0;
}

/* Settle a case that completed: status, zeroing, the misuse report. */
static int finish(uvgo_select_case *sc, size_t i, int err) {
  if (err == UVGO_ECLOSED) {
    sc->status = UVGO_ECLOSED;
    if (sc->op == UVGO_SELECT_RECV) {
      if (sc->elem != NULL)
        memset(sc->elem, 0, sc->chan->elem_size);
    } else {
      uvgo__misuse(UVGO_ECLOSED, "uvgo_select", "send on a closed channel",
                   NULL);
    }
  }
  return (int)i;
}

static void after_deliver(uvgo_select_case *sc) {
  if (sc->elem != NULL) {
    uint64_t d = uvgo__after_deadline(sc->chan);
    memcpy(sc->elem, &d, sizeof d);
  }
}

/* One case with its channel's lock held by the caller (or an after case). */
static int poll_locked(uvgo_select_case *sc, uvgo__parker **wake) {
  uvgo_chan *c = sc->chan;
  if (sc->op == UVGO_SELECT_RECV)
    return uvgo__chan_recv_locked(c, sc->elem, wake);
  return uvgo__chan_send_locked(c, sc->elem, wake);
}

/* One case of pass 1 with its channel locked on its own: the locked half
 * inline (for element sizes 0, 4 and 8: no memcpy call), then the wake
 * (the common one inline). One call per polled case instead of three. */
static __attribute__((noinline)) int poll_unlocked_any(uvgo_select_case *sc) {
  uvgo__parker *wake = NULL;
  uvgo__chan_lock(sc->chan);
  int err = poll_locked(sc, &wake);
  uvgo__chan_unlock(sc->chan);
  if (wake != NULL)
    uvgo__parker_wake_fast(wake);
  return err;
}
static __attribute__((noinline)) int poll_unlocked(uvgo_select_case *sc) {
  uvgo_chan *c = sc->chan;
  size_t size = c->elem_size; /* fixed at creation: no lock needed */
  /* A contended lock too goes the general way: no call here, so nothing
   * is kept in callee-saved registers. */
  if (UVGO__UNLIKELY(
          (size != 0 && size != 4 && size != 8) ||
          atomic_exchange_explicit(&c->lock, 1, memory_order_acquire)))
    return poll_unlocked_any(sc);
  uvgo__parker *wake = NULL;
  int err;
  if (sc->op == UVGO_SELECT_RECV)
    err = uvgo__chan_recv_locked_inline(c, sc->elem, &wake, size, true);
  else
    err = uvgo__chan_send_locked_inline(c, sc->elem, &wake, size, true);
  uvgo__chan_unlock(c);
  if (wake != NULL)
    uvgo__parker_wake_fast(wake);
  return err;
}

/* Pass 1: each channel locked on its own. A case found not ready may have
 * become ready by the time a later one is chosen; that is the same as the
 * select having run a moment earlier. An after case that this thread's
 * cached clock cannot prove ready is checked against the clock only if no
 * other case is ready: it counts as firing a moment later, and a ready
 * select with a fresh uvgo_after reads no clock. */
static inline __attribute__((always_inline)) int
poll_each_inline(uvgo_select_case *cases, const uint16_t *order, size_t n) {
  bool deferred = false;
  for (size_t k = 0; k < n; k++) {
    size_t i = order[k];
    uvgo_select_case *sc = &cases[i];
    uvgo_chan *c = sc->chan;
    if (c == NULL)
      continue;
    if (uvgo__is_after(c)) {
      if (uvgo__after_ready_cached(c)) {
        after_deliver(sc);
        return (int)i;
      }
      deferred = true;
      continue;
    }
    if (sc->op == UVGO_SELECT_RECV && uvgo__chan_closed_drained(c))
      return finish(sc, i, UVGO_ECLOSED); /* no lock: see chan.h */
    /* Not ready at some moment of this pass: as good as polled (a
     * parking select saves a lock round per channel). */
    if (!uvgo__chan_maybe_ready(c, sc->op == UVGO_SELECT_RECV))
      continue;
    int err = poll_unlocked(sc);
    if (err != UV_EAGAIN)
      return finish(sc, i, err);
  }
  for (size_t k = 0; deferred && k < n; k++) {
    uvgo_select_case *sc = &cases[order[k]];
    if (sc->chan != NULL && uvgo__is_after(sc->chan) &&
        uvgo__after_ready(sc->chan)) {
      after_deliver(sc);
      return order[k];
    }
  }
  return UV_EAGAIN;
}

static int poll_each(uvgo_select_case *cases, const uint16_t *order,
                     size_t n) {
  return poll_each_inline(cases, order, n);
}

/* Whether a case might complete now, without a lock or a clock read and
 * with no side effect: the peeks pass 1 makes before it locks a case. */
static inline bool case_may_fire(const uvgo_select_case *sc) {
  const uvgo_chan *c = sc->chan;
  if (c == NULL)
    return false;
  if (uvgo__is_after(c))
    return uvgo__after_ready_cached(c);
  return uvgo__chan_maybe_ready(c, sc->op == UVGO_SELECT_RECV);
}

/* Two cases, the common shape (a channel and a uvgo_after or a done
 * channel): the poll is unrolled into the caller, which saves a call, the
 * shuffle loop and most of the register spills of the general path (about
 * a third of a ready select). The order matters only when both cases may
 * fire (a random bit then) or neither does (pass 2 reuses the order).
 * When one may fire, it goes first: a random bit there would decide a
 * branch the CPU cannot predict, about 4 ns of a 10 ns select in which
 * the other case is a nil, a uvgo_after or a done channel. */
static inline __attribute__((always_inline)) int
poll_two(uvgo_select_case *cases, uint16_t *order) {
  bool may0 = case_may_fire(&cases[0]), may1 = case_may_fire(&cases[1]);
  uint16_t first = may0 == may1 ? randbit() : (uint16_t)may1;
  order[0] = first;
  order[1] = (uint16_t)(first ^ 1u);
  return poll_each_inline(cases, order, 2);
}

static void shuffle(uint16_t *order, size_t n) {
  /* Inside-out Fisher-Yates: a uniform permutation. */
  order[0] = 0;
  for (size_t i = 1; i < n; i++) {
    uint32_t j = randn((uint32_t)i + 1);
    order[i] = order[j];
    order[j] = (uint16_t)i;
  }
}

int uvgo_select_try(uvgo_select_case *cases, size_t n) {
  int err = validate(cases, n, "uvgo_select_try");
  if (err != 0)
    return err;
  if (n == 1) {
    uint16_t one = 0;
    return poll_each(cases, &one, 1);
  }
  if (n == 2) {
    uint16_t order[2];
    return poll_two(cases, order);
  }
  /* No allocation here: beyond the small array, poll from a random start
   * in a random direction-free rotation, then a shuffled prefix. */
  uint16_t order[SMALL];
  if (n <= SMALL) {
    shuffle(order, n);
    return poll_each(cases, order, n);
  }
  size_t start = randn((uint32_t)n);
  for (size_t k = 0; k < n; k += SMALL) {
    size_t m = n - k < SMALL ? n - k : SMALL;
    shuffle(order, m);
    for (size_t j = 0; j < m; j++)
      order[j] = (uint16_t)((start + k + order[j]) % n);
    err = poll_each(cases, order, m);
    if (err != UV_EAGAIN)
      return err;
  }
  return UV_EAGAIN;
}

/* Lock the distinct channels (sorted by address: a global order, so two
 * selects never deadlock) and unlock them. */
static size_t collect_locks(uvgo_select_case *cases, size_t n,
                            uvgo_chan **locks) {
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    uvgo_chan *c = cases[i].chan;
    if (c == NULL || uvgo__is_after(c))
      continue;
    size_t j = m;
    while (j > 0 && (uintptr_t)locks[j - 1] > (uintptr_t)c)
      j--;
    if (j > 0 && locks[j - 1] == c)
      continue; /* duplicate */
    memmove(&locks[j + 1], &locks[j], (m - j) * sizeof *locks);
    locks[j] = c;
    m++;
  }
  return m;
}
static void lock_all(uvgo_chan **locks, size_t m) {
  for (size_t i = 0; i < m; i++)
    uvgo__chan_lock(locks[i]);
}
static void unlock_all(uvgo_chan **locks, size_t m) {
  for (size_t i = m; i > 0; i--)
    uvgo__chan_unlock(locks[i - 1]);
}

typedef struct {
  uvgo_chan **locks;
  size_t m;
} held_locks;

/* The park commit of an unwatched select: its locks, released once it is
 * parked. */
static void unlock_held(void *arg) {
  held_locks *h = arg;
  unlock_all(h->locks, h->m);
}

static int select_park(uvgo_select_case *cases, size_t n,
                       const uint16_t *order1);

int uvgo_select(uvgo_select_case *cases, size_t n) {
  uint16_t order[SMALL];
  int err;
  if (n == 2) {
    /* The common shape first, its checks unrolled. */
    err = validate(cases, 2, "uvgo_select");
    if (err != 0)
      return err;
    err = poll_two(cases, order);
    return err != UV_EAGAIN ? err : select_park(cases, 2, order);
  }
  if (n == 1) {
    err = validate(cases, 1, "uvgo_select");
    if (err != 0)
      return err;
    order[0] = 0;
    err = poll_each(cases, order, 1);
    return err != UV_EAGAIN ? err : select_park(cases, 1, order);
  }
  err = validate(cases, n, "uvgo_select");
  if (err != 0)
    return err;
  if (n <= SMALL) {
    shuffle(order, n);
    err = poll_each(cases, order, n);
  } else {
    /* Pass 1 without allocating, as select_try does. */
    err = uvgo_select_try(cases, n);
    if (err != UV_EAGAIN)
      return err;
    return select_park(cases, n, NULL);
  }
  return err != UV_EAGAIN ? err : select_park(cases, n, order);
}

/* Passes 2 and 3: nothing was ready in pass 1. order1 is pass 1's random
 * order when it had one (n <= SMALL): pass 2 reuses it, as uniform as a
 * fresh one. The arrays are the caller's, cap entries each (more cases
 * are allocated). */
static inline __attribute__((always_inline)) int
select_park_in(uvgo_select_case *cases, size_t n, const uint16_t *order1,
               uint16_t *order, uvgo_chan **locks, uvgo__waiter *waiters,
               size_t cap) {
  int err;
  void *block = NULL;
  if (n > cap) {
    block = uvgo__malloc(n * (sizeof *order + sizeof *locks + sizeof *waiters));
    if (block == NULL)
      return UV_ENOMEM;
    waiters = block;
    locks = (uvgo_chan **)(waiters + n);
    order = (uint16_t *)(locks + n);
  }
  if (order1 != NULL)
    memcpy(order, order1, n * sizeof *order);
  else
    shuffle(order, n);

  /* Pass 2: everything locked, poll again, then queue a waiter per case. */
  size_t m = collect_locks(cases, n, locks);
  lock_all(locks, m);
  uint64_t deadline = UVGO__NO_DEADLINE;
  for (size_t k = 0; k < n; k++) {
    size_t i = order[k];
    uvgo_select_case *sc = &cases[i];
    if (sc->chan == NULL)
      continue;
    if (uvgo__is_after(sc->chan)) {
      uint64_t d = uvgo__after_deadline(sc->chan);
      if (d < deadline)
        deadline = d;
      continue;
    }
    uvgo__parker *wake = NULL;
    err = poll_locked(sc, &wake);
    if (err != UV_EAGAIN) {
      unlock_all(locks, m);
      if (wake != NULL)
        uvgo__parker_wake_fast(wake);
      uvgo__free(block);
      return finish(sc, i, err);
    }
  }
  uvgo__parker p;
  err = uvgo__parker_prepare(&p, "uvgo_select");
  if (err != 0) {
    unlock_all(locks, m);
    uvgo__free(block);
    return err;
  }
  for (size_t k = 0; k < n; k++) {
    size_t i = order[k];
    uvgo_select_case *sc = &cases[i];
    uvgo__waiter *w = &waiters[i];
    w->queued = false;
    if (sc->chan == NULL || uvgo__is_after(sc->chan))
      continue;
    *w = (uvgo__waiter){.parker = &p, .elem = sc->elem, .chan = sc->chan,
                        .case_index = (int)i, .is_select = true};
    uvgo__waitq_push(sc->op == UVGO_SELECT_RECV ? &sc->chan->recvq
                                                : &sc->chan->sendq,
                     w);
  }
  int reason;
  if (uvgo__parker_unwatched(&p)) {
    /* Its claimers are partners and closers, under these locks, and its
     * own deadline, on this worker: park before unlocking. */
    held_locks held = {locks, m};
    reason = uvgo__parker_wait_commit(&p, deadline, unlock_held, &held);
  } else {
    unlock_all(locks, m);
    reason = uvgo__parker_wait(&p, deadline);
  }

  /* Pass 3: unlink the waiters nobody dequeued. The winning case's
   * claimer dequeued its waiter before the wake (which orders that for
   * us), so the winner's channel needs no lock unless another case waits
   * on it too: a parked select woken by a partner takes one lock fewer,
   * a one-channel select none. */
  uvgo_chan *skip = NULL;
  if (reason >= 0) {
    skip = cases[reason].chan;
    for (size_t i = 0; i < n; i++)
      if (i != (size_t)reason && cases[i].chan == skip)
        skip = NULL;
  }
  for (size_t i = 0; i < m; i++)
    if (locks[i] != skip)
      uvgo__chan_lock(locks[i]);
  for (size_t i = 0; i < n; i++) {
    uvgo__waiter *w = &waiters[i];
    uvgo_select_case *sc = &cases[i];
    if (w->queued)
      uvgo__waitq_remove(sc->op == UVGO_SELECT_RECV ? &sc->chan->recvq
                                                    : &sc->chan->sendq,
                         w);
  }
  for (size_t i = m; i > 0; i--)
    if (locks[i - 1] != skip)
      uvgo__chan_unlock(locks[i - 1]);

  int result;
  if (reason == UVGO__WAKE_TIMEOUT) {
    /* The earliest after case fired (the first in poll order on a tie). */
    result = UVGO__WAKE_TIMEOUT;
    for (size_t k = 0; k < n; k++) {
      uvgo_select_case *sc = &cases[order[k]];
      if (sc->chan != NULL && uvgo__is_after(sc->chan) &&
          uvgo__after_deadline(sc->chan) == deadline) {
        after_deliver(sc);
        result = order[k];
        break;
      }
    }
  } else if (reason >= 0) {
    result = finish(&cases[reason], (size_t)reason,
                    waiters[reason].closed ? UVGO_ECLOSED : 0);
  } else {
    result = reason;
  }
  uvgo__free(block);
  return result;
}

/* Out of line, so the ready path keeps a small frame; in two sizes. A
 * select of one or two cases (the common shapes) parks in a frame with
 * room for two: a woken task touches, and the scheduler prefetches, the
 * stack it used, and sixteen waiter slots made that frame 1.4 KiB. */
__attribute__((noinline)) static int
select_park_two(uvgo_select_case *cases, size_t n, const uint16_t *order1) {
  uint16_t order[2];
  uvgo_chan *locks[2];
  uvgo__waiter waiters[2];
  return select_park_in(cases, n, order1, order, locks, waiters, 2);
}
__attribute__((noinline)) static int
select_park_many(uvgo_select_case *cases, size_t n, const uint16_t *order1) {
  uint16_t order[SMALL];
  uvgo_chan *locks[SMALL];
  uvgo__waiter waiters[SMALL];
  return select_park_in(cases, n, order1, order, locks, waiters, SMALL);
}
static int select_park(uvgo_select_case *cases, size_t n,
                       const uint16_t *order1) {
  return n <= 2 ? select_park_two(cases, n, order1)
                : select_park_many(cases, n, order1);
}
