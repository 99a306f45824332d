/* uvgo — contexts: Go's context package, and the step past Go: every task
 * runs under a context, and its blocking calls (channel send/recv, select,
 * sleep, I/O) return UV_ECANCELED or UV_ETIMEDOUT once that context ends.
 *
 * Ownership: every with_* call hands the caller one reference; Go's
 * `defer cancel()` is uvgo_ctx_cancel + uvgo_ctx_release. A context keeps
 * its parent alive; cancelling frees nothing. */
#ifndef UVGO_CTX_H
#define UVGO_CTX_H

#include "chan.h"
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif


/* Longest timeout accepted (about 146 million years): anything above is
 * taken for a negative value cast to unsigned and refused. */
#define UVGO_CTX_MAX_TIMEOUT_MS (UINT64_C(1) << 62)

/* The root: never cancelled, no deadline, no values; retain/release are
 * no-ops. Any thread. */
UVGO_EXTERN uvgo_ctx *uvgo_ctx_background(void);

/* A child that ends when uvgo_ctx_cancel is called on it or its parent
 * ends. @return 0; UV_EINVAL (NULL parent or out); UV_ENOMEM.
 * Any thread. */
UVGO_EXTERN int uvgo_ctx_with_cancel(uvgo_ctx *parent, uvgo_ctx **out);
/* A child that also ends with UV_ETIMEDOUT after ms milliseconds. The
 * timer lives on the calling worker's timer heap (one entry, removed
 * whichever ends first); created off a worker, the deadline is enforced
 * whenever the context is checked or waited on.
 * @return 0; UV_EINVAL (NULL, or ms > UVGO_CTX_MAX_TIMEOUT_MS); UV_ENOMEM. */
UVGO_EXTERN int uvgo_ctx_with_timeout(uvgo_ctx *parent, uint64_t ms,
                                      uvgo_ctx **out);
/* The same with an absolute deadline on the uvgo_now_ms() clock; a
 * deadline in the past gives a context that has already ended, as in Go. */
UVGO_EXTERN int uvgo_ctx_with_deadline(uvgo_ctx *parent, uint64_t deadline_ms,
                                       uvgo_ctx **out);
/* A child carrying key -> value (keys compare as pointers). It ends with
 * its parent and cannot be cancelled on its own. */
UVGO_EXTERN int uvgo_ctx_with_value(uvgo_ctx *parent, const void *key,
                                    void *value, uvgo_ctx **out);
/* The value for key from ctx or its nearest ancestor, or NULL. O(depth). */
UVGO_EXTERN void *uvgo_ctx_value(uvgo_ctx *ctx, const void *key);

/* A channel closed when ctx ends: use it in select or recv. Owned by the
 * context (do not release it). NULL for background — a NULL channel never
 * fires in uvgo_select, like Go's nil channel — and on ENOMEM at first
 * call (then rely on uvgo_ctx_err, or on the task's own cancellation).
 * Any thread. */
UVGO_EXTERN uvgo_chan *uvgo_ctx_done(uvgo_ctx *ctx);
/* 0 while alive, then UV_ECANCELED or UV_ETIMEDOUT (the first reason
 * wins). UV_EINVAL for NULL. Any thread. */
UVGO_EXTERN int uvgo_ctx_err(uvgo_ctx *ctx);
/* The deadline (uvgo_now_ms clock) into *out. @return 0, UV_ENOENT when
 * ctx has none, UV_EINVAL. */
UVGO_EXTERN int uvgo_ctx_deadline(uvgo_ctx *ctx, uint64_t *out);
/* End ctx and every descendant, on any worker: blocked calls under them
 * return UV_ECANCELED promptly. Idempotent; frees nothing.
 * @return 0; UV_EINVAL (NULL, background, or a value context);
 * UVGO_ERELEASED (after the last release, when detectable). Any thread. */
UVGO_EXTERN int uvgo_ctx_cancel(uvgo_ctx *ctx);
/* Reference counting; the last release frees (and detaches from the
 * parent). @return 0, UV_EINVAL, UVGO_ERELEASED. Any thread. */
UVGO_EXTERN int uvgo_ctx_retain(uvgo_ctx *ctx);
UVGO_EXTERN int uvgo_ctx_release(uvgo_ctx *ctx);

/* The calling task's context (background outside a task). Borrowed: retain
 * it to keep it beyond the task. */
UVGO_EXTERN uvgo_ctx *uvgo_ctx_current(void);

/* Run fn(arg) immune to the calling task's cancellation: its blocking calls
 * wait for real (cleanup that must finish). Nests. Contexts passed
 * explicitly to calls inside still apply.
 * @return 0, UV_EINVAL (NULL fn). */
UVGO_EXTERN int uvgo_ctx_shield(void (*fn)(void *arg), void *arg);

#ifdef __cplusplus
}
#endif
#endif
