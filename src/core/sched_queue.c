/* Run queues: plain FIFOs for started tasks, and Go's stealable ring for
 * tasks that have not started (only those may move between workers). */
#include "core/scheduler.h"

static void global_put_batch(uvgo_rt *rt, uvgo_task **batch, uint32_t n) {
  uv_mutex_lock(&rt->global_lock);
  for (uint32_t i = 0; i < n; i++)
    uvgo__taskq_push(&rt->global_q, batch[i]);
  atomic_fetch_add_explicit(&rt->global_len, n, memory_order_relaxed);
  uv_mutex_unlock(&rt->global_lock);
}

/* Take one task to run and, like Go's globrunqget, a fair share more into
 * the caller's runq, so the lock is not taken once per task. */
uvgo_task *uvgo__global_get(uvgo__worker *w) {
  uvgo_rt *rt = w->rt;
  if (atomic_load_explicit(&rt->global_len, memory_order_relaxed) == 0)
    return NULL;
  uvgo_task *batch[UVGO__RUNQ_SIZE / 2];
  uint32_t n = 0;
  uv_mutex_lock(&rt->global_lock);
  size_t len = atomic_load_explicit(&rt->global_len, memory_order_relaxed);
  size_t want = len / rt->nworkers + 1;
  uint32_t room = UVGO__RUNQ_SIZE - uvgo__runq_len(w);
  if (want > room / 2)
    want = room / 2 > 0 ? room / 2 : 1;
  if (want > UVGO__RUNQ_SIZE / 2)
    want = UVGO__RUNQ_SIZE / 2;
  while (n < want && (batch[n] = uvgo__taskq_pop(&rt->global_q)) != NULL)
    n++;
  atomic_fetch_sub_explicit(&rt->global_len, n, memory_order_relaxed);
  uv_mutex_unlock(&rt->global_lock);
  for (uint32_t i = 1; i < n; i++)
    uvgo__runq_put(w, batch[i]);
  return n > 0 ? batch[0] : NULL;
}

uint32_t uvgo__runq_len(uvgo__worker *w) {
  uint32_t h = atomic_load_explicit(&w->runq.head, memory_order_acquire);
  uint32_t t = atomic_load_explicit(&w->runq.tail, memory_order_acquire);
  return t - h;
}

/* Ring full: move half of it plus t to the global queue, where idle workers
 * find them (Go's runqputslow). */
static bool put_slow(uvgo__worker *w, uvgo_task *t, uint32_t h, uint32_t tl) {
  uvgo_task *batch[UVGO__RUNQ_SIZE / 2 + 1];
  uint32_t n = (tl - h) / 2;
  for (uint32_t i = 0; i < n; i++)
    batch[i] = atomic_load_explicit(&w->runq.slots[(h + i) % UVGO__RUNQ_SIZE],
                                    memory_order_relaxed);
  if (!atomic_compare_exchange_strong_explicit(&w->runq.head, &h, h + n,
                                               memory_order_acq_rel,
                                               memory_order_relaxed))
    return false; /* a thief took some: the ring has room now */
  batch[n] = t;
  global_put_batch(w->rt, batch, n + 1);
  return true;
}

uint32_t uvgo__runq_put_slow(uvgo__worker *w, uvgo_task *t, uint64_t ticket) {
  for (;;) {
    uint32_t h = atomic_load_explicit(&w->runq.head, memory_order_acquire);
    uint32_t tl = atomic_load_explicit(&w->runq.tail, memory_order_relaxed);
    if (tl - h < UVGO__RUNQ_SIZE) {
      w->runq.tickets[tl % UVGO__RUNQ_SIZE] = ticket;
      atomic_store_explicit(&w->runq.slots[tl % UVGO__RUNQ_SIZE], t,
                            memory_order_relaxed);
      atomic_store_explicit(&w->runq.tail, tl + 1, memory_order_release);
      return tl + 1 - h;
    }
    if (put_slow(w, t, h, tl))
      return uvgo__runq_len(w);
  }
}

uvgo_task *uvgo__runq_get(uvgo__worker *w) {
  for (;;) {
    uint32_t h = atomic_load_explicit(&w->runq.head, memory_order_acquire);
    uint32_t tl = atomic_load_explicit(&w->runq.tail, memory_order_relaxed);
    if (tl == h)
      return NULL;
    uvgo_task *t = atomic_load_explicit(&w->runq.slots[h % UVGO__RUNQ_SIZE],
                                        memory_order_relaxed);
    if (atomic_compare_exchange_weak_explicit(&w->runq.head, &h, h + 1,
                                              memory_order_acq_rel,
                                              memory_order_relaxed))
      return t;
  }
}

uvgo_task *uvgo__runq_steal(uvgo__worker *w, uvgo__worker *victim) {
  uvgo_task *batch[UVGO__RUNQ_SIZE / 2];
  uint32_t n;
  for (;;) {
    uint32_t h = atomic_load_explicit(&victim->runq.head, memory_order_acquire);
    uint32_t tl = atomic_load_explicit(&victim->runq.tail, memory_order_acquire);
    n = tl - h;
    n -= n / 2;
    if (n == 0)
      return NULL;
    if (n > UVGO__RUNQ_SIZE / 2)
      continue; /* inconsistent snapshot: read again */
    for (uint32_t i = 0; i < n; i++)
      batch[i] = atomic_load_explicit(
          &victim->runq.slots[(h + i) % UVGO__RUNQ_SIZE], memory_order_relaxed);
    if (atomic_compare_exchange_weak_explicit(&victim->runq.head, &h, h + n,
                                              memory_order_acq_rel,
                                              memory_order_relaxed))
      break;
  }
  UVGO__COUNT(w->n_steals, n);
  for (uint32_t i = 1; i < n; i++)
    uvgo__runq_put(w, batch[i]);
  return batch[0];
}
