/* Per-worker timers: one uv_timer_t over uvgo's own min-heap. Arming or
 * cancelling a deadline is a heap operation on the owning worker, never a
 * libuv handle per sleep (DESIGN.md, Timers).
 *
 * Thread contract: a uvgo__timers belongs to one worker thread; every call
 * here runs on it. */
#ifndef UVGO_TIMER_H
#define UVGO_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define UVGO__NO_DEADLINE UINT64_MAX
#define UVGO__TIMER_IDLE SIZE_MAX /* index of an entry not in the heap */

typedef struct uvgo__timer_entry uvgo__timer_entry;
struct uvgo__timer_entry {
  uint64_t deadline_ms; /* monotonic, uvgo__now_ms() clock */
  uint64_t seq;         /* FIFO among equal deadlines */
  size_t index;         /* heap slot, or UVGO__TIMER_IDLE */
  void (*fire)(uvgo__timer_entry *e);
  /* Called instead of fire for an entry still pending when its worker
   * shuts down (may be NULL): lets the owner release what the entry holds. */
  void (*drop)(uvgo__timer_entry *e);
};

typedef struct {
  uvgo__timer_entry **heap;
  size_t len;
  size_t cap;
  uint64_t next_seq;
  uint64_t armed_for; /* deadline the uv timer is set to, or NO_DEADLINE */
  uv_timer_t handle;
} uvgo__timers;

/* Monotonic milliseconds (uv_hrtime based, the same clock on every worker). */
uint64_t uvgo__now_ms(void);
/* now + ms, saturating. */
uint64_t uvgo__deadline_after(uint64_t ms);

static inline void uvgo__timer_entry_init(uvgo__timer_entry *e,
                                          void (*fire)(uvgo__timer_entry *)) {
  e->index = UVGO__TIMER_IDLE;
  e->fire = fire;
  e->drop = NULL;
}
static inline bool uvgo__timer_pending(const uvgo__timer_entry *e) {
  return e->index != UVGO__TIMER_IDLE;
}

/* Allocates the heap up front; the owner then uv_timer_init()s
 * t->handle on its loop. @return 0, or UV_ENOMEM. */
int uvgo__timers_init(uvgo__timers *t);
/* Drops every pending entry and frees the heap; the handle is closed by
 * the worker. */
void uvgo__timers_dispose(uvgo__timers *t);
/* Insert e to fire at deadline_ms. O(log n).
 * @return 0 or UV_ENOMEM (heap growth failed; e stays idle). */
int uvgo__timer_add(uvgo__timers *t, uvgo__timer_entry *e,
                    uint64_t deadline_ms);
/* The same for the worker's own housekeeping entries (stack retry,
 * deadlock probe): the heap always keeps room for these, so they cannot
 * fail once the heap exists. */
int uvgo__timer_add_reserved(uvgo__timers *t, uvgo__timer_entry *e,
                             uint64_t deadline_ms);
/* Remove e if pending. O(log n). */
void uvgo__timer_remove(uvgo__timers *t, uvgo__timer_entry *e);
/* Fire every due entry (the uv timer callback does this). */
void uvgo__timers_run(uvgo__timers *t);

#endif
