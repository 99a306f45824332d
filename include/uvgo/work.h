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
 * Not a cancellation point. The context variant of DESIGN.md,
 * uvgo_work(ctx, fn, arg), will arrive with contexts: a cancelled call
 * still keeps the task parked until the pool calls back, because the
 * request's memory is libuv's until then (DESIGN.md, In-flight requests).
 * @return 0; UV_EINVAL (NULL fn); UVGO_ENOTTASK (not called from a task);
 * a libuv error from uv_queue_work. Task-only. */
UVGO_EXTERN int uvgo_work(void (*fn)(void *arg), void *arg);

#ifdef __cplusplus
}
#endif
#endif
