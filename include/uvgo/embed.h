/* uvgo — the callback side: uvgo from a libuv program's own callbacks.
 *
 * For code on an attached runtime's host thread (the thread that runs the
 * host's uv_run, see uvgo_rt_attach) that is not a task: a timer or read
 * callback of the host program. It can spawn a task and be called back with
 * its result, receive from a channel by callback, send without blocking,
 * and cancel what it started through a context — without ever blocking the
 * loop.
 *
 * Rules common to every call here:
 * - Thread contract: the host loop's thread, outside a task (a libuv
 *   callback, or the code around uv_run). Anywhere else the call returns
 *   UV_EINVAL (and aborts under UVGO_STRICT=1).
 * - Callbacks run on the host loop's thread, from a handle of this layer
 *   on the host loop, never inside a task and never from inside the call
 *   that started the operation. A callback may start new operations.
 * - A call that returns 0 gives exactly one final callback later (a
 *   receive-each may give value callbacks before it); a call that returns
 *   an error gives none.
 * - While an operation is pending it keeps the host's uv_run running (as an
 *   active libuv request does); when none is, this layer holds no reference
 *   on the loop, so uv_run returns when it would have without uvgo.
 * - uvgo_rt_close refuses with UV_EBUSY while operations are pending: stop
 *   receives (or cancel their contexts), let the loop deliver their final
 *   callbacks, then close.
 * - ctx may be NULL (never cancelled). Operations hold a reference on ctx
 *   and on the channel until their final callback has returned, so the
 *   caller may release both at once. */
#ifndef UVGO_EMBED_H
#define UVGO_EMBED_H

#include "chan.h"
#include "common.h"
#include "runtime.h"
#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The body of a task spawned from a callback: runs as a task (it may block
 * in uvgo calls); its return value is handed to the done callback. */
typedef int (*uvgo_embed_fn)(void *arg);
/* Called on the host thread once the task has returned, with fn's result
 * and the same arg. */
typedef void (*uvgo_embed_done_fn)(int result, void *arg);

/* Spawn fn(arg) as a task of rt under ctx, and call done(result, arg) on
 * the host thread when it has returned. The task may run on any worker (an
 * idle worker may take it before it starts); with one worker, the default
 * of attach mode, it runs on the host's loop. Cancelling ctx makes the
 * task's blocking calls return UV_ECANCELED (UV_ETIMEDOUT for a deadline);
 * done still comes, with whatever fn returned. The spawn site is recorded.
 * @return 0; UV_EINVAL (NULL rt/fn/done, a runtime not attached, wrong
 * thread, inside a task); UVGO_ENORUNTIME (closing); UVGO_ELIMIT;
 * UV_ENOMEM; the error of ctx when it has already ended.
 * Thread contract: the host loop's thread, outside a task. */
#define uvgo_embed_spawn(rt, ctx, fn, arg, done) \
  uvgo_embed_spawn_at((rt), (ctx), (fn), (arg), (done), __FILE__, __LINE__)
/* The function behind uvgo_embed_spawn (which passes the call site). */
UVGO_EXTERN int uvgo_embed_spawn_at(uvgo_rt *rt, uvgo_ctx *ctx,
                                    uvgo_embed_fn fn, void *arg,
                                    uvgo_embed_done_fn done, const char *file,
                                    int line);

/* The same with spawn options (uvgo_spawn_opts of task.h): opts->worker
 * pins the task to a worker (a zeroed struct pins it to worker 0, the
 * host's loop; -1 lets any worker take it), opts->ctx is the context,
 * opts->name and opts->stack_size as for uvgo_go_opts. opts->copy is not
 * supported here (fn and done share arg).
 * @return as uvgo_embed_spawn; UV_EINVAL also for a NULL opts, a worker out
 * of range, or opts->copy set. Thread contract: as uvgo_embed_spawn. */
#define uvgo_embed_spawn_opts(rt, opts, fn, arg, done) \
  uvgo_embed_spawn_opts_at((rt), (opts), (fn), (arg), (done), __FILE__, \
                           __LINE__)
/* The function behind uvgo_embed_spawn_opts. */
UVGO_EXTERN int uvgo_embed_spawn_opts_at(uvgo_rt *rt,
                                         const uvgo_spawn_opts *opts,
                                         uvgo_embed_fn fn, void *arg,
                                         uvgo_embed_done_fn done,
                                         const char *file, int line);

/* A receive by callback in progress. Owned by the layer: valid from the
 * start call until its final callback returns, then freed. */
typedef struct uvgo_embed_recv uvgo_embed_recv;

/* Called on the host thread. status 0: value points at one element
 * (uvgo_chan_elem_size bytes, valid during the call; not NULL even for a
 * signal channel). status < 0: the final call, value NULL: UVGO_ECLOSED
 * (closed and drained), UV_ECANCELED (ctx cancelled, or
 * uvgo_embed_recv_stop), UV_ETIMEDOUT (ctx's deadline). */
typedef void (*uvgo_embed_recv_cb)(uvgo_embed_recv *recv, int status,
                                   const void *value, void *arg);

/* Receive one value from ch by callback: cb is called exactly once, with
 * status 0 and the value, or with an error (then value is NULL). A task of
 * this layer receives the value and hands it to cb; once taken it is always
 * delivered (a stop or cancel coming later does not lose it). *out (may
 * be NULL) gets the handle for uvgo_embed_recv_stop.
 * @return 0; UV_EINVAL (NULL rt/ch/cb, a uvgo_after channel, not attached,
 * wrong thread, inside a task); UVGO_ERELEASED (ch already released, caught
 * under UVGO_STRICT=1); UVGO_ENORUNTIME; UVGO_ELIMIT; UV_ENOMEM; ctx's
 * error when it has already ended.
 * Thread contract: the host loop's thread, outside a task. */
UVGO_EXTERN int uvgo_embed_recv_one(uvgo_rt *rt, uvgo_ctx *ctx,
                                    uvgo_chan *ch, uvgo_embed_recv_cb cb,
                                    void *arg, uvgo_embed_recv **out);

/* Receive every value of ch by callback, in channel order, until it is
 * closed and drained (final status UVGO_ECLOSED), ctx ends, or
 * uvgo_embed_recv_stop. One value is in flight at a time: the next is
 * taken from the channel only after the callback for the previous one
 * returned, so a slow callback pushes back on the senders. Go's
 * `for v := range ch` for callback code.
 * @return as uvgo_embed_recv_one. Thread contract: as uvgo_embed_recv_one. */
UVGO_EXTERN int uvgo_embed_recv_each(uvgo_rt *rt, uvgo_ctx *ctx,
                                     uvgo_chan *ch, uvgo_embed_recv_cb cb,
                                     void *arg, uvgo_embed_recv **out);

/* Stop a receive: no further value is taken from the channel; a value
 * already taken is still delivered, then the final callback comes with
 * UV_ECANCELED (on a later loop iteration, never from inside this call).
 * Idempotent until the final callback; may be called from the receive's
 * own callback. The handle must not be used after its final callback.
 * @return 0; UV_EINVAL (NULL, wrong thread, inside a task).
 * Thread contract: the host loop's thread, outside a task. */
UVGO_EXTERN int uvgo_embed_recv_stop(uvgo_embed_recv *recv);

/* Called on the host thread once a send went through (status 0) or
 * failed: UVGO_ECLOSED (the channel was closed meanwhile: misuse, as Go
 * panics), UV_ECANCELED / UV_ETIMEDOUT (ctx ended first). */
typedef void (*uvgo_embed_send_cb)(int status, void *arg);

/* At most this many values wait per channel and runtime in
 * uvgo_embed_send's queue; beyond it the call returns UV_ENOBUFS. */
#define UVGO_EMBED_SEND_QUEUE_MAX 1024

/* Send the value at elem (uvgo_chan_elem_size(ch) bytes, copied at once;
 * NULL for a signal channel) to ch without blocking: at once when the
 * channel has room and no earlier send of this runtime is queued on it,
 * else queued behind those (values reach the channel in call order). cb
 * (may be NULL) is told the outcome on the host thread, always later,
 * never from inside this call. A queued value whose ctx ends is dropped
 * and cb gets ctx's error — at once when it is the first in the queue,
 * otherwise when it reaches the front.
 * @return 0; UV_ENOBUFS (UVGO_EMBED_SEND_QUEUE_MAX values already queued
 * on ch); UVGO_ECLOSED (ch is closed: misuse); UV_EINVAL (NULL rt/ch, NULL
 * elem for a non-empty element, a uvgo_after channel, not attached, wrong
 * thread, inside a task); UVGO_ERELEASED; UVGO_ENORUNTIME; UV_ENOMEM;
 * ctx's error when it has already ended.
 * Thread contract: the host loop's thread, outside a task. */
UVGO_EXTERN int uvgo_embed_send(uvgo_rt *rt, uvgo_ctx *ctx, uvgo_chan *ch,
                                const void *elem, uvgo_embed_send_cb cb,
                                void *arg);

/* Operations of rt started here whose final callback has not run yet
 * (what makes uvgo_rt_close return UV_EBUSY). 0 for NULL or an unknown
 * runtime. Thread contract: the host loop's thread. */
UVGO_EXTERN size_t uvgo_embed_pending(uvgo_rt *rt);

#ifdef __cplusplus
}
#endif
#endif
