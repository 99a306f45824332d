/* uvgo — groups (Go's errgroup) and worker pools.
 *
 * A group runs tasks under one context, waits for all of them, and returns
 * the first error; that first error cancels the group's context so the
 * others wind down. A pool runs a function over many inputs with a fixed
 * number of worker tasks (the article's pool.Run), or over a stream of
 * inputs with back-pressure. */
#ifndef UVGO_GROUP_H
#define UVGO_GROUP_H

#include "chan.h"
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif


/* An errgroup (opaque): a context, a WaitGroup and a limit. */
typedef struct uvgo_group uvgo_group;

/* A task body that can fail: 0 or a negative error code. */
typedef int (*uvgo_group_fn)(uvgo_ctx *ctx, void *arg);

/* A group under parent (its context is a child of parent). limit bounds
 * how many of its tasks run at once (0 = no bound).
 * @return 0; UV_EINVAL (NULL parent/out); UV_ENOMEM. Task-only use after. */
UVGO_EXTERN int uvgo_group_new(uvgo_ctx *parent, size_t limit,
                               uvgo_group **out);
/* The group's context: ends at the first error, or when wait returns.
 * Borrowed from the group. */
UVGO_EXTERN uvgo_ctx *uvgo_group_ctx(uvgo_group *g);
/* Spawn fn(group ctx, arg) as a task of the group. While limit tasks run,
 * waits for one to finish (not a cancellation point, like errgroup.Go).
 * @return 0; UV_EINVAL; UVGO_ENOTTASK; UV_ENOMEM / UVGO_ELIMIT from the
 * spawn (then fn does not run and the group is unchanged). Task-only. */
#define uvgo_group_go(g, fn, arg) \
  uvgo_group_go_at((g), (fn), (arg), __FILE__, __LINE__)
UVGO_EXTERN int uvgo_group_go_at(uvgo_group *g, uvgo_group_fn fn, void *arg,
                                 const char *file, int line);
/* Wait for every task of the group, cancel its context, and return the
 * first error (0 if none). Not a cancellation point: the tasks use memory
 * the caller owns. A positive return from fn counts as misuse, UV_EINVAL.
 * Task-only (a plain thread may wait too). */
UVGO_EXTERN int uvgo_group_wait(uvgo_group *g);
/* Free a group that has been waited for. @return 0, UV_EINVAL, UV_EBUSY
 * (tasks still running: wait first). */
UVGO_EXTERN int uvgo_group_free(uvgo_group *g);

/* --- pools --- */

/* The work function: read *input, write *output, return 0 or a negative
 * error. ctx is the pool's context. */
typedef int (*uvgo_pool_fn)(uvgo_ctx *ctx, const void *input, void *output,
                            void *arg);

/* The article's pool.Run: concurrency worker tasks take inputs[0..n) in
 * order; outputs[i] and errs[i] are the result of inputs[i] (results in
 * input order). Inputs not started when ctx ends get its error (UV_ECANCELED
 * or UV_ETIMEDOUT) without fn being called. A positive return from fn is
 * misuse and recorded as UV_EINVAL. Returns when every input has a result.
 * outputs may be NULL when output_size is 0.
 * @return 0; UV_EINVAL (concurrency 0, NULL fn/inputs/errs, NULL ctx);
 * UVGO_ENOTTASK. If no worker task can be spawned (ENOMEM), the caller
 * runs the work itself: nothing is lost. Task-only. */
UVGO_EXTERN int uvgo_pool_run(uvgo_ctx *ctx, size_t concurrency,
                              const void *inputs, size_t n, size_t input_size,
                              uvgo_pool_fn fn, void *arg, void *outputs,
                              size_t output_size, int *errs);

/* --- the streaming pool: unbounded input with back-pressure --- */

/* A streaming pool (opaque): workers reading a bounded input queue. */
typedef struct uvgo_stream_pool uvgo_stream_pool;

/* What the results channel carries: the input's sequence number (0, 1, …
 * in submission order), its error, then output_size bytes of output. */
typedef struct uvgo_pool_result {
  uint64_t index;                      /* sequence number of the input */
  int err;                             /* 0, or the input's error */
  _Alignas(16) unsigned char output[]; /* output_size bytes of output */
} uvgo_pool_result;

/* Start concurrency workers reading a queue of queue_cap inputs.
 * @return 0; UV_EINVAL; UV_ENOMEM; UVGO_ENOTTASK. Task-only. */
UVGO_EXTERN int uvgo_stream_pool_new(uvgo_ctx *ctx, size_t concurrency,
                                     size_t queue_cap, size_t input_size,
                                     size_t output_size, uvgo_pool_fn fn,
                                     void *arg, uvgo_stream_pool **out);
/* Queue one input (input_size bytes, copied); blocks while the queue is
 * full — that is the back-pressure. A cancellation point, and ended by the
 * pool's context. @return 0; UV_ECANCELED / UV_ETIMEDOUT; UVGO_ECLOSED
 * (after uvgo_stream_pool_close); UV_EINVAL. */
UVGO_EXTERN int uvgo_stream_pool_submit(uvgo_stream_pool *sp,
                                        const void *input);
/* The results channel (elements of uvgo_stream_pool_result_size bytes, a
 * uvgo_pool_result each). Closed once the pool is closed and every queued
 * input has a result. Owned by the pool. */
UVGO_EXTERN uvgo_chan *uvgo_stream_pool_results(uvgo_stream_pool *sp);
UVGO_EXTERN size_t uvgo_stream_pool_result_size(uvgo_stream_pool *sp);
/* No more inputs: the workers drain the queue, then results closes.
 * Idempotent. */
UVGO_EXTERN int uvgo_stream_pool_close(uvgo_stream_pool *sp);
/* Stop (results nobody read are dropped), wait for the workers, free.
 * Task-only. */
UVGO_EXTERN int uvgo_stream_pool_free(uvgo_stream_pool *sp);

#ifdef __cplusplus
}
#endif
#endif
