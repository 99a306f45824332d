/* The worker's timer heap: an array min-heap of intrusive entries, each
 * knowing its slot so removal is O(log n) without a search. */
#include "core/timer.h"

#include "core/internal.h"

uint64_t uvgo__now_ms(void) { return uv_hrtime() / 1000000u; }

uint64_t uvgo__deadline_after(uint64_t ms) {
  uint64_t now = uvgo__now_ms();
  return ms >= UVGO__NO_DEADLINE - now ? UVGO__NO_DEADLINE - 1 : now + ms;
}

static bool earlier(const uvgo__timer_entry *a, const uvgo__timer_entry *b) {
  if (a->deadline_ms != b->deadline_ms)
    return a->deadline_ms < b->deadline_ms;
  return a->seq < b->seq;
}

static void place(uvgo__timers *t, size_t i, uvgo__timer_entry *e) {
  t->heap[i] = e;
  e->index = i;
}

static void sift_up(uvgo__timers *t, size_t i) {
  uvgo__timer_entry *e = t->heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!earlier(e, t->heap[parent]))
      break;
    place(t, i, t->heap[parent]);
    i = parent;
  }
  place(t, i, e);
}

static void sift_down(uvgo__timers *t, size_t i) {
  uvgo__timer_entry *e = t->heap[i];
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= t->len)
      break;
    if (child + 1 < t->len && earlier(t->heap[child + 1], t->heap[child]))
      child++;
    if (!earlier(t->heap[child], e))
      break;
    place(t, i, t->heap[child]);
    i = child;
  }
  place(t, i, e);
}

static void on_uv_timer(uv_timer_t *handle) {
  uvgo__timers *t = UVGO__CONTAINER_OF(handle, uvgo__timers, handle);
  t->armed_for = UVGO__NO_DEADLINE;
  uvgo__timers_run(t);
}

/* Keep the uv timer set to the earliest deadline; stop it when the heap is
 * empty so an idle worker has no timer keeping its loop awake. */
static void rearm(uvgo__timers *t) {
  if (t->len == 0) {
    if (t->armed_for != UVGO__NO_DEADLINE) {
      uv_timer_stop(&t->handle);
      t->armed_for = UVGO__NO_DEADLINE;
    }
    return;
  }
  uint64_t first = t->heap[0]->deadline_ms;
  if (first == t->armed_for)
    return;
  /* The loop's cached time is stale after a long-running task. */
  uv_update_time(t->handle.loop);
  uint64_t now = uvgo__now_ms();
  /* +1: uv's coarse clock may lag uv_hrtime by under a millisecond; firing
   * a hair late beats firing early and re-arming for nothing. */
  uint64_t timeout = first > now ? first - now + 1 : 0;
  uv_timer_start(&t->handle, on_uv_timer, timeout, 0);
  t->armed_for = first;
}

/* Slots kept free for uvgo__timer_add_reserved. */
#define RESERVED_SLOTS 2
#define INITIAL_SLOTS 64

int uvgo__timers_init(uvgo__timers *t) {
  t->len = 0;
  t->next_seq = 0;
  t->armed_for = UVGO__NO_DEADLINE;
  t->heap = uvgo__malloc(INITIAL_SLOTS * sizeof *t->heap);
  t->cap = t->heap != NULL ? INITIAL_SLOTS : 0;
  return t->heap != NULL ? 0 : UV_ENOMEM;
}

void uvgo__timers_dispose(uvgo__timers *t) {
  while (t->len > 0) {
    uvgo__timer_entry *e = t->heap[--t->len];
    e->index = UVGO__TIMER_IDLE;
    if (e->drop != NULL)
      e->drop(e);
  }
  uvgo__free(t->heap);
  t->heap = NULL;
  t->len = t->cap = 0;
}

static int grow(uvgo__timers *t) {
  size_t cap = t->cap ? t->cap * 2 : INITIAL_SLOTS;
  uvgo__timer_entry **heap = uvgo__realloc(t->heap, cap * sizeof *heap);
  if (heap == NULL)
    return UV_ENOMEM;
  t->heap = heap;
  t->cap = cap;
  return 0;
}

static void insert(uvgo__timers *t, uvgo__timer_entry *e, uint64_t deadline_ms);

int uvgo__timer_add(uvgo__timers *t, uvgo__timer_entry *e,
                    uint64_t deadline_ms) {
  if (t->len + RESERVED_SLOTS >= t->cap && grow(t) != 0)
    return UV_ENOMEM;
  insert(t, e, deadline_ms);
  return 0;
}

int uvgo__timer_add_reserved(uvgo__timers *t, uvgo__timer_entry *e,
                             uint64_t deadline_ms) {
  if (t->len == t->cap && grow(t) != 0)
    return UV_ENOMEM;
  insert(t, e, deadline_ms);
  return 0;
}

static void insert(uvgo__timers *t, uvgo__timer_entry *e,
                   uint64_t deadline_ms) {
  e->deadline_ms = deadline_ms;
  e->seq = t->next_seq++;
  place(t, t->len++, e);
  sift_up(t, e->index);
  rearm(t);
}

void uvgo__timer_remove(uvgo__timers *t, uvgo__timer_entry *e) {
  size_t i = e->index;
  if (i == UVGO__TIMER_IDLE)
    return;
  e->index = UVGO__TIMER_IDLE;
  uvgo__timer_entry *last = t->heap[--t->len];
  if (i != t->len) {
    place(t, i, last);
    sift_down(t, i);
    sift_up(t, last->index);
  }
  rearm(t);
}

void uvgo__timers_run(uvgo__timers *t) {
  uint64_t now = uvgo__now_ms();
  while (t->len > 0 && t->heap[0]->deadline_ms <= now) {
    uvgo__timer_entry *e = t->heap[0];
    e->index = UVGO__TIMER_IDLE;
    uvgo__timer_entry *last = t->heap[--t->len];
    if (t->len > 0) {
      place(t, 0, last);
      sift_down(t, 0);
    }
    e->fire(e);
  }
  rearm(t);
}
