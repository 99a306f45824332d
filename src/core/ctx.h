/* Contexts, internal side: what the scheduler and blocking calls need. */
#ifndef UVGO_CTX_INTERNAL_H
#define UVGO_CTX_INTERNAL_H

#include "core/park.h"

/* How many watches back a watcher's hint reaches: the prefetch distance
 * of a cancel's walk over its watchers (a power of two; chan.h's
 * UVGO__CHAN_HINTS is the same idea). */
#define UVGO__CTX_HINTS 8

struct uvgo_ctx {
  uint32_t magic;
  bool cancellable;        /* false: background and value contexts */
  _Atomic int refs;
  _Atomic int err;         /* 0, UV_ECANCELED or UV_ETIMEDOUT */
  int lock;                /* spinlock (waitq.h): children, watchers, done */
  uvgo_ctx *parent;        /* retained */
  uvgo_ctx *children;      /* cancellable descendants to reach on cancel */
  uvgo_ctx *sibling_prev;
  uvgo_ctx *sibling_next;
  bool linked;             /* in parent's children list */
  struct uvgo__watch_link *watchers; /* parked tasks under this scope */
  /* The parkers of the last UVGO__CTX_HINTS watches, the source of the
   * next watchers' hints; stale entries are harmless. Under lock. */
  uvgo__parker *recent[UVGO__CTX_HINTS];
  uint8_t recent_at;
  uvgo_chan *done;         /* created at the first uvgo_ctx_done */
  uint64_t deadline_ms;    /* own or inherited; UVGO__NO_DEADLINE */
  /* The timeout's heap entry lives on timer_worker (NULL: none). Other
   * threads remove it through timer_msg; the entry holds a reference.
   * Atomic: a canceller on another thread may read it while
   * uvgo_ctx_with_deadline, the context already linked to its parent,
   * still sets it. */
  uvgo__timer_entry timer;
  _Atomic(uvgo__worker *) timer_worker;
  uvgo__msg timer_msg;
  _Atomic int timer_msg_posted;
  const void *key;         /* value contexts */
  void *value;
};

/* The context whose cancellation reaches ctx's waiters: ctx itself, or
 * the nearest cancellable ancestor of a value context; NULL if none. */
uvgo_ctx *uvgo__ctx_cancel_scope(uvgo_ctx *ctx);

/* Cancellation points: register a parked task with its context. false
 * when the context has already ended (*err then says how). */
bool uvgo__ctx_watch(uvgo_ctx *scope, struct uvgo__watch_link *link,
                     int *err);
void uvgo__ctx_unwatch(uvgo_ctx *scope, struct uvgo__watch_link *link);
/* The context's error, enforcing an expired deadline lazily. */
int uvgo__ctx_check(uvgo_ctx *ctx);
/* End ctx with err (UV_ECANCELED / UV_ETIMEDOUT): first reason wins. */
void uvgo__ctx_end(uvgo_ctx *ctx, int err);
/* Drop a timer entry left on a worker that is shutting down. */
void uvgo__ctx_timer_drop(uvgo__timer_entry *e);

#endif
