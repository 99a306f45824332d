/* uvgo — blocking work off the loop: run a function on libuv's thread
 * pool while the calling task is parked.
 *
 * The pool is libuv's: UV_THREADPOOL_SIZE threads (default 4, at most
 * 1024), shared by every loop in the process and by libuv's own DNS
 * (uv_getaddrinfo) and file-system requests. Long jobs here delay those;
 * size it (the environment variable, read once before the pool's first
 * use) for the blocking work you expect. See docs/sync.md. */
#ifndef UVGO_WORK_H
#define UVGO_WORK_H

#include "runtime.h"


#ifdef __cplusplus
extern "C" {
#endif

/* Run fn(arg) on a thread of libuv's pool (uv_queue_work on the calling
 * worker's loop) and park the calling task until it has returned; other
 * tasks on the worker keep running meanwhile. fn must not call uvgo's
 * task-only functions (it is not a task). Results travel through arg, and
 * are visible to the caller when this returns.
 *
 * A cancellation point under the task's context and ctx (NULL: the
 * task's only). When either ends first, a job the pool has not started is
 * withdrawn (fn never runs); a started one runs to its end, since a thread
 * cannot be stopped. Either way the task stays parked until the pool has
 * called back — the request's memory is libuv's until then (DESIGN.md,
 * In-flight requests) — and then gets UV_ECANCELED / UV_ETIMEDOUT.
 * @return 0; UV_ECANCELED / UV_ETIMEDOUT; UV_EINVAL (NULL fn);
 * UVGO_ENOTTASK (not called from a task); a libuv error from
 * uv_queue_work. Task-only. */
UVGO_EXTERN int uvgo_work(uvgo_ctx *ctx, void (*fn)(void *arg), void *arg);

#ifdef __cplusplus
}
#endif
#endif
