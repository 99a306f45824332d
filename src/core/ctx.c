/* Contexts: a tree of cancellation scopes. Cancelling a node claims the
 * parkers of tasks blocked under it, closes its done channel and recurses
 * into its children; a timeout is one entry on a worker's timer heap. */
#include "core/ctx.h"

#include <stddef.h>

#include "core/waitq.h"

#define CTX_MAGIC 0x63747821u /* "ctx!" */

static uvgo_ctx background = {
    .magic = CTX_MAGIC,
    .cancellable = false,
    .refs = 1,
    .deadline_ms = UVGO__NO_DEADLINE,
};

uvgo_ctx *uvgo_ctx_background(void) { return &background; }

static int check_ctx(const uvgo_ctx *ctx, const char *call) {
  if (ctx == NULL)
    return uvgo__misuse(UV_EINVAL, call, "NULL context", NULL);
  if (ctx->magic != CTX_MAGIC)
    return uvgo__misuse(UVGO_ERELEASED, call, "context used after release",
                        NULL);
  return 0;
}

uvgo_ctx *uvgo__ctx_cancel_scope(uvgo_ctx *ctx) {
  while (ctx != NULL && !ctx->cancellable)
    ctx = ctx->parent;
  return ctx;
}

int uvgo_ctx_retain(uvgo_ctx *ctx) {
  int err = check_ctx(ctx, "uvgo_ctx_retain");
  if (err == 0 && ctx != &background)
    atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed);
  return err;
}

static void unlink_from_parent(uvgo_ctx *ctx) {
  uvgo_ctx *scope = uvgo__ctx_cancel_scope(ctx->parent);
  if (scope == NULL)
    return;
  uvgo__spin_lock(&scope->lock);
  if (ctx->linked) {
    if (ctx->sibling_prev != NULL)
      ctx->sibling_prev->sibling_next = ctx->sibling_next;
    else
      scope->children = ctx->sibling_next;
    if (ctx->sibling_next != NULL)
      ctx->sibling_next->sibling_prev = ctx->sibling_prev;
    ctx->linked = false;
  }
  uvgo__spin_unlock(&scope->lock);
}

static void free_ctx(uvgo_ctx *ctx) {
  unlink_from_parent(ctx);
  if (ctx->done != NULL)
    uvgo_chan_release(ctx->done);
  uvgo_ctx *parent = ctx->parent;
  ctx->magic = UVGO__DEAD_MAGIC;
  uvgo__free(ctx);
  uvgo_ctx_release(parent);
}

int uvgo_ctx_release(uvgo_ctx *ctx) {
  int err = check_ctx(ctx, "uvgo_ctx_release");
  if (err != 0 || ctx == &background)
    return err;
  if (atomic_fetch_sub_explicit(&ctx->refs, 1, memory_order_acq_rel) == 1)
    free_ctx(ctx);
  return 0;
}

/* --- the timeout's heap entry --- */

static void on_timeout(uvgo__timer_entry *e) {
  uvgo_ctx *ctx = UVGO__CONTAINER_OF(e, uvgo_ctx, timer);
  uvgo__ctx_end(ctx, UV_ETIMEDOUT);
  uvgo_ctx_release(ctx); /* the entry's reference */
}

/* On the timer's worker: take the entry out if it is still there. */
static void remove_timer_here(uvgo_ctx *ctx) {
  if (!uvgo__timer_pending(&ctx->timer))
    return;
  uvgo__worker *w = atomic_load_explicit(&ctx->timer_worker,
                                         memory_order_relaxed);
  uvgo__timer_remove(&w->timers, &ctx->timer);
  uvgo_ctx_release(ctx);
}

static void on_timer_msg(uvgo__msg *m) {
  uvgo_ctx *ctx = UVGO__CONTAINER_OF(m, uvgo_ctx, timer_msg);
  remove_timer_here(ctx);
  uvgo_ctx_release(ctx); /* the message's reference */
}

static void stop_timer(uvgo_ctx *ctx) {
  /* seq_cst, as the store in uvgo_ctx_with_deadline: with the err
   * compare-and-swap before this and its load of err after that store,
   * one of the two sides sees the other's write. */
  uvgo__worker *w = atomic_load(&ctx->timer_worker);
  if (w == NULL)
    return;
  if (uvgo__tls_worker == w) {
    remove_timer_here(ctx);
    return;
  }
  if (atomic_exchange(&ctx->timer_msg_posted, 1) == 0) {
    atomic_fetch_add(&ctx->refs, 1);
    ctx->timer_msg.fn = on_timer_msg;
    uvgo__worker_post(w, &ctx->timer_msg);
  }
}

void uvgo__ctx_timer_drop(uvgo__timer_entry *e) {
  uvgo_ctx *ctx = UVGO__CONTAINER_OF(e, uvgo_ctx, timer);
  /* The worker is going away; from now on the deadline is enforced
   * lazily, as for a context made off a worker. */
  atomic_store_explicit(&ctx->timer_worker, NULL, memory_order_release);
  uvgo_ctx_release(ctx);
}

/* --- ending a context --- */

/* The watchers are links inside parkers on cold stacks, reached one after
 * another, so the walk below fetches each watcher's hint (the parker
 * UVGO__CTX_HINTS watches back, which the walk reaches that many steps
 * later: the list is newest first) and keeps that many in flight, as a
 * channel close does (docs/design.md). It fetches the parker from its
 * claim word to the end of its links. The hint may be gone: integer
 * arithmetic and prefetches only. */
#define PARKER_HOT_END \
  (offsetof(uvgo__parker, watch) + 2 * sizeof(struct uvgo__watch_link))
static inline void prefetch_parker(const uvgo__parker *p) {
  if (p == NULL)
    return;
  uintptr_t a = (uintptr_t)p;
  for (uintptr_t off = 0; off < PARKER_HOT_END; off += 64)
    __builtin_prefetch((const void *)(a + off), 1, 3);
  __builtin_prefetch((const void *)(a + PARKER_HOT_END - 1), 1, 3);
}

void uvgo__ctx_end(uvgo_ctx *ctx, int err) {
  uvgo__spin_lock(&ctx->lock);
  int expected = 0;
  if (!atomic_compare_exchange_strong(&ctx->err, &expected, err)) {
    uvgo__spin_unlock(&ctx->lock);
    return;
  }
  /* Parkers are claimed and woken under the lock: a task unwatching
   * itself takes the lock too, so its parker cannot vanish under us.
   * Tasks of other workers go over in wake batches, as a close hands
   * them over: one inbox push per UVGO__WAKE_BATCH_MAX tasks instead of
   * one per task, the first early, so their worker starts while this walk
   * goes on. (10,000 tasks asleep under one context on 2 workers: the
   * cancel until all have run from 4.7 to 3.7 ms, medians of six runs
   * alternating with the batching switched off; the batch size, 8 to all,
   * changed nothing beyond noise.) */
  uvgo__wake_batch batch = {0};
  for (struct uvgo__watch_link *l = ctx->watchers; l != NULL; l = l->next) {
    prefetch_parker(l->hint);
    l->on = false;
    uvgo__parker *p = l->parker;
    if (!uvgo__parker_claim(p, err))
      continue;
    if (p->task != NULL)
      uvgo__wake_batch_add(&batch, p->task); /* a local one: at once */
    else
      uvgo__parker_wake(p);
  }
  ctx->watchers = NULL;
  uvgo_ctx *children = ctx->children;
  for (uvgo_ctx *c = children; c != NULL; c = c->sibling_next) {
    atomic_fetch_add(&c->refs, 1);
    c->linked = false;
  }
  ctx->children = NULL;
  uvgo_chan *done = ctx->done;
  uvgo__spin_unlock(&ctx->lock);
  uvgo__wake_batch_flush(&batch);

  if (done != NULL)
    uvgo_chan_close(done);
  while (children != NULL) {
    uvgo_ctx *c = children;
    children = c->sibling_next;
    c->sibling_prev = c->sibling_next = NULL;
    uvgo__ctx_end(c, err);
    uvgo_ctx_release(c);
  }
  stop_timer(ctx);
  unlink_from_parent(ctx);
}

int uvgo__ctx_check(uvgo_ctx *ctx) {
  uvgo_ctx *scope = uvgo__ctx_cancel_scope(ctx);
  if (scope == NULL)
    return 0;
  int err = atomic_load_explicit(&scope->err, memory_order_acquire);
  if (err == 0 && scope->deadline_ms != UVGO__NO_DEADLINE &&
      uvgo__now_ms() >= scope->deadline_ms) {
    uvgo__ctx_end(scope, UV_ETIMEDOUT);
    err = atomic_load(&scope->err);
  }
  return err;
}

int uvgo_ctx_err(uvgo_ctx *ctx) {
  int err = check_ctx(ctx, "uvgo_ctx_err");
  return err != 0 ? err : uvgo__ctx_check(ctx);
}

int uvgo_ctx_cancel(uvgo_ctx *ctx) {
  int err = check_ctx(ctx, "uvgo_ctx_cancel");
  if (err != 0)
    return err;
  if (!ctx->cancellable)
    return UVGO__MISUSE(UV_EINVAL, "only with_cancel/timeout/deadline "
                                   "contexts can be cancelled");
  uvgo__ctx_end(ctx, UV_ECANCELED);
  return 0;
}

int uvgo_ctx_deadline(uvgo_ctx *ctx, uint64_t *out) {
  int err = check_ctx(ctx, "uvgo_ctx_deadline");
  if (err != 0 || out == NULL)
    return err != 0 ? err : UV_EINVAL;
  if (ctx->deadline_ms == UVGO__NO_DEADLINE)
    return UV_ENOENT;
  *out = ctx->deadline_ms;
  return 0;
}

/* --- making contexts --- */

static int new_child(uvgo_ctx *parent, bool cancellable, uvgo_ctx **out,
                     const char *call) {
  if (out == NULL)
    return uvgo__misuse(UV_EINVAL, call, "NULL out", NULL);
  int err = check_ctx(parent, call);
  if (err != 0)
    return err;
  uvgo_ctx *ctx = uvgo__calloc(1, sizeof *ctx);
  if (ctx == NULL)
    return UV_ENOMEM;
  ctx->magic = CTX_MAGIC;
  ctx->cancellable = cancellable;
  atomic_store_explicit(&ctx->refs, 1, memory_order_relaxed);
  uvgo_ctx_retain(parent);
  ctx->parent = parent;
  ctx->deadline_ms = parent->deadline_ms;
  uvgo__timer_entry_init(&ctx->timer, on_timeout);
  ctx->timer.drop = uvgo__ctx_timer_drop;
  *out = ctx;
  return 0;
}

/* Join the nearest cancellable ancestor's children, or end at once if it
 * has already ended. */
static void attach_to_parent(uvgo_ctx *ctx) {
  uvgo_ctx *scope = uvgo__ctx_cancel_scope(ctx->parent);
  if (scope == NULL)
    return;
  uvgo__spin_lock(&scope->lock);
  int err = atomic_load(&scope->err);
  if (err == 0) {
    ctx->sibling_prev = NULL;
    ctx->sibling_next = scope->children;
    if (scope->children != NULL)
      scope->children->sibling_prev = ctx;
    scope->children = ctx;
    ctx->linked = true;
  }
  uvgo__spin_unlock(&scope->lock);
  if (err != 0)
    uvgo__ctx_end(ctx, err);
}

int uvgo_ctx_with_cancel(uvgo_ctx *parent, uvgo_ctx **out) {
  int err = new_child(parent, true, out, "uvgo_ctx_with_cancel");
  if (err == 0)
    attach_to_parent(*out);
  return err;
}

int uvgo_ctx_with_deadline(uvgo_ctx *parent, uint64_t deadline_ms,
                           uvgo_ctx **out) {
  int err = new_child(parent, true, out, "uvgo_ctx_with_deadline");
  if (err != 0)
    return err;
  uvgo_ctx *ctx = *out;
  bool own_deadline = deadline_ms < ctx->deadline_ms;
  if (own_deadline)
    ctx->deadline_ms = deadline_ms;
  attach_to_parent(ctx);
  if (atomic_load(&ctx->err) != 0 || !own_deadline)
    return 0; /* ended already, or the parent's earlier deadline rules */
  if (uvgo__now_ms() >= deadline_ms) {
    uvgo__ctx_end(ctx, UV_ETIMEDOUT);
    return 0;
  }
  uvgo__worker *w = uvgo__tls_worker;
  if (w == NULL)
    return 0; /* no heap here: enforced when checked or waited on */
  atomic_fetch_add(&ctx->refs, 1); /* the entry's reference */
  atomic_store(&ctx->timer_worker, w);
  if (uvgo__timer_add(&w->timers, &ctx->timer, deadline_ms) != 0) {
    /* heap full: fall back to lazy checks */
    atomic_store_explicit(&ctx->timer_worker, NULL, memory_order_release);
    atomic_fetch_sub(&ctx->refs, 1);
    return 0;
  }
  /* A cancel through the parent since the check above may have looked
   * for the entry before it was there: then take it out ourselves (at
   * most one of us finds it pending). */
  if (atomic_load(&ctx->err) != 0)
    remove_timer_here(ctx);
  return 0;
}

int uvgo_ctx_with_timeout(uvgo_ctx *parent, uint64_t ms, uvgo_ctx **out) {
  if (ms > UVGO_CTX_MAX_TIMEOUT_MS)
    return UVGO__MISUSE(UV_EINVAL, "timeout out of range (negative?)");
  return uvgo_ctx_with_deadline(parent, uvgo__deadline_after(ms), out);
}

int uvgo_ctx_with_value(uvgo_ctx *parent, const void *key, void *value,
                        uvgo_ctx **out) {
  int err = new_child(parent, false, out, "uvgo_ctx_with_value");
  if (err == 0) {
    (*out)->key = key;
    (*out)->value = value;
  }
  return err;
}

void *uvgo_ctx_value(uvgo_ctx *ctx, const void *key) {
  for (; ctx != NULL && ctx->magic == CTX_MAGIC; ctx = ctx->parent)
    if (!ctx->cancellable && ctx != &background && ctx->key == key)
      return ctx->value;
  return NULL;
}

uvgo_chan *uvgo_ctx_done(uvgo_ctx *ctx) {
  if (check_ctx(ctx, "uvgo_ctx_done") != 0)
    return NULL;
  uvgo_ctx *scope = uvgo__ctx_cancel_scope(ctx);
  if (scope == NULL)
    return NULL;
  uvgo__ctx_check(scope);
  uvgo__spin_lock(&scope->lock);
  bool fresh = scope->done == NULL;
  if (fresh)
    scope->done = uvgo_chan_new(0, 0);
  uvgo_chan *done = scope->done;
  int err = atomic_load(&scope->err);
  uvgo__spin_unlock(&scope->lock);
  if (fresh && done != NULL && err != 0)
    uvgo_chan_close(done); /* ended before anyone asked */
  return done;
}

/* --- cancellation points --- */

bool uvgo__ctx_watch(uvgo_ctx *scope, struct uvgo__watch_link *l,
                     int *err) {
  *err = uvgo__ctx_check(scope);
  if (*err != 0)
    return false;
  uvgo__spin_lock(&scope->lock);
  *err = atomic_load(&scope->err);
  if (*err == 0) {
    l->hint = scope->recent[scope->recent_at];
    scope->recent[scope->recent_at] = l->parker;
    scope->recent_at =
        (uint8_t)((scope->recent_at + 1) & (UVGO__CTX_HINTS - 1));
    l->prev = NULL;
    l->next = scope->watchers;
    if (scope->watchers != NULL)
      scope->watchers->prev = l;
    scope->watchers = l;
    l->on = true;
  }
  uvgo__spin_unlock(&scope->lock);
  return *err == 0;
}

void uvgo__ctx_unwatch(uvgo_ctx *scope, struct uvgo__watch_link *l) {
  uvgo__spin_lock(&scope->lock);
  if (l->on) {
    if (l->prev != NULL)
      l->prev->next = l->next;
    else
      scope->watchers = l->next;
    if (l->next != NULL)
      l->next->prev = l->prev;
    l->on = false;
  }
  uvgo__spin_unlock(&scope->lock);
}

uvgo_ctx *uvgo_ctx_current(void) {
  uvgo_task *t = uvgo__current_task();
  return t != NULL && t->ctx != NULL ? t->ctx : &background;
}

int uvgo_ctx_shield(void (*fn)(void *arg), void *arg) {
  if (fn == NULL)
    return UVGO__MISUSE(UV_EINVAL, "uvgo_ctx_shield(NULL)");
  uvgo_task *t = uvgo__current_task();
  if (t != NULL)
    t->shield++;
  fn(arg);
  if (t != NULL)
    t->shield--;
  return 0;
}
