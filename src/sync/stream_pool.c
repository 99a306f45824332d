/* The streaming pool: a bounded queue of inputs (a channel), worker tasks,
 * and a results channel closed once the queue is closed and drained. */
#include <string.h>

#include "core/ctx.h"
#include "core/scheduler.h"

#define STREAM_MAGIC 0x73706f6fu /* "spoo" */

typedef struct {
  uint64_t index;
  _Alignas(16) unsigned char input[];
} job_header;

struct uvgo_stream_pool {
  uint32_t magic;
  uvgo_ctx *ctx;       /* the caller's, retained: fn runs under it */
  uvgo_pool_fn fn;
  void *arg;
  size_t input_size;
  size_t output_size;
  size_t job_size;
  size_t result_size;
  uvgo_chan *jobs;
  uvgo_chan *results;
  uvgo_chan *quit;     /* closed by free: workers stop delivering */
  uint64_t next_index; /* submitter side */
  bool closed;
  uvgo_wg wg;
  _Atomic size_t running;
  unsigned char *buffers; /* per worker: one job and one result, made up
                             front so a worker cannot fail to start work */
};

typedef struct {
  uvgo_stream_pool *sp;
  size_t slot;
} worker_arg;

static void close_results_when_last(uvgo_stream_pool *sp) {
  if (atomic_fetch_sub(&sp->running, 1) == 1)
    uvgo_chan_close(sp->results);
}

/* Workers run under the background context: the pool's context bounds fn
 * and marks inputs cancelled, but the worker keeps draining the queue so
 * every submitted input gets a result. */
static void stream_worker(void *arg) {
  worker_arg *wa = arg;
  uvgo_stream_pool *sp = wa->sp;
  unsigned char *job = sp->buffers + wa->slot * (sp->job_size + sp->result_size);
  unsigned char *res = job + sp->job_size;
  {
    while (uvgo_chan_recv(sp->jobs, job) == 0) {
      job_header *jh = (job_header *)job;
      uvgo_pool_result *r = (uvgo_pool_result *)res;
      r->index = jh->index;
      r->err = uvgo_ctx_err(sp->ctx);
      if (r->err == 0) {
        r->err = sp->fn(sp->ctx, jh->input, r->output, sp->arg);
        if (r->err > 0)
          r->err = UVGO__MISUSE(UV_EINVAL, "pool fn returned a positive code");
      }
      uvgo_select_case cases[] = {UVGO_SEND_CASE(sp->results, res),
                                  UVGO_RECV_CASE(sp->quit, NULL)};
      if (uvgo_select(cases, 2) != 0)
        break; /* freed: nobody reads results any more */
    }
  }
  close_results_when_last(sp);
  uvgo_wg_done(&sp->wg);
}

static void destroy(uvgo_stream_pool *sp) {
  uvgo_chan_release(sp->jobs);
  uvgo_chan_release(sp->results);
  uvgo_chan_release(sp->quit);
  uvgo_ctx_release(sp->ctx);
  uvgo__free(sp->buffers);
  sp->magic = UVGO__DEAD_MAGIC;
  uvgo__free(sp);
}

int uvgo_stream_pool_new(uvgo_ctx *ctx, size_t concurrency, size_t queue_cap,
                         size_t input_size, size_t output_size,
                         uvgo_pool_fn fn, void *arg, uvgo_stream_pool **out) {
  if (ctx == NULL || concurrency == 0 || fn == NULL || out == NULL ||
      input_size > UVGO_CHAN_MAX_ELEM - sizeof(job_header) ||
      output_size > UVGO_CHAN_MAX_ELEM - sizeof(uvgo_pool_result))
    return UVGO__MISUSE(UV_EINVAL, "bad stream pool arguments");
  if (uvgo__current_task() == NULL)
    return UVGO__MISUSE(UVGO_ENOTTASK, "uvgo_stream_pool_new outside a task");
  uvgo_stream_pool *sp = uvgo__calloc(1, sizeof *sp);
  if (sp == NULL)
    return UV_ENOMEM;
  sp->fn = fn;
  sp->arg = arg;
  sp->input_size = input_size;
  sp->output_size = output_size;
  /* Rounded to 16 so per-worker buffers keep their alignment. */
  sp->job_size = (sizeof(job_header) + input_size + 15) & ~(size_t)15;
  sp->result_size = (sizeof(uvgo_pool_result) + output_size + 15) & ~(size_t)15;
  sp->jobs = uvgo_chan_new(sp->job_size, queue_cap);
  sp->results = uvgo_chan_new(sp->result_size, queue_cap);
  sp->quit = uvgo_chan_new(0, 0);
  uvgo_ctx_retain(ctx);
  sp->ctx = ctx;
  /* job_size and result_size are multiples of 16 (the flexible arrays
   * are 16-aligned), so every slot stays aligned. */
  if (concurrency <= SIZE_MAX / (sp->job_size + sp->result_size))
    sp->buffers = uvgo__malloc(concurrency * (sp->job_size + sp->result_size));
  if (sp->jobs == NULL || sp->results == NULL || sp->quit == NULL ||
      sp->buffers == NULL) {
    uvgo__free(sp->buffers);
    uvgo_chan *made[] = {sp->jobs, sp->results, sp->quit};
    for (int i = 0; i < 3; i++)
      if (made[i] != NULL)
        uvgo_chan_release(made[i]);
    uvgo_ctx_release(ctx);
    uvgo__free(sp);
    return UV_ENOMEM;
  }
  sp->magic = STREAM_MAGIC;
  atomic_store(&sp->running, concurrency);
  size_t started = 0;
  for (; started < concurrency; started++) {
    uvgo_wg_add(&sp->wg, 1);
    worker_arg wa = {sp, started};
    uvgo_spawn_opts opts = {.worker = -1, .ctx = uvgo_ctx_background(),
                            .copy = &wa, .copy_size = sizeof wa};
    if (uvgo_go_opts(&opts, stream_worker, NULL) != 0) {
      uvgo_wg_done(&sp->wg);
      break;
    }
  }
  if (started == 0) {
    atomic_store(&sp->running, 0);
    destroy(sp);
    return UV_ENOMEM;
  }
  /* Workers that did not start will not close results: count them out. */
  for (size_t i = started; i < concurrency; i++)
    close_results_when_last(sp);
  *out = sp;
  return 0;
}

static int check(uvgo_stream_pool *sp) {
  if (sp == NULL)
    return UV_EINVAL;
  return sp->magic == STREAM_MAGIC ? 0 : UVGO_ERELEASED;
}

int uvgo_stream_pool_submit(uvgo_stream_pool *sp, const void *input) {
  int err = check(sp);
  if (err != 0 || (input == NULL && sp->input_size > 0))
    return UVGO__MISUSE(err != 0 ? err : UV_EINVAL, "bad submit arguments");
  if (sp->closed)
    return UVGO__MISUSE(UVGO_ECLOSED, "submit after close");
  unsigned char stack_job[sizeof(job_header) + 256];
  unsigned char *job = sp->job_size <= sizeof stack_job
                           ? stack_job
                           : uvgo__malloc(sp->job_size);
  if (job == NULL)
    return UV_ENOMEM;
  job_header *jh = (job_header *)job;
  jh->index = sp->next_index;
  if (sp->input_size > 0)
    memcpy(jh->input, input, sp->input_size);
  uvgo_select_case cases[] = {UVGO_SEND_CASE(sp->jobs, job),
                              UVGO_RECV_CASE(uvgo_ctx_done(sp->ctx), NULL)};
  int r = uvgo_select(cases, 2);
  if (r == 0)
    sp->next_index++;
  else if (r == 1)
    r = uvgo_ctx_err(sp->ctx);
  if (job != stack_job)
    uvgo__free(job);
  return r;
}

uvgo_chan *uvgo_stream_pool_results(uvgo_stream_pool *sp) {
  return check(sp) == 0 ? sp->results : NULL;
}

size_t uvgo_stream_pool_result_size(uvgo_stream_pool *sp) {
  return check(sp) == 0 ? sp->result_size : 0;
}

int uvgo_stream_pool_close(uvgo_stream_pool *sp) {
  int err = check(sp);
  if (err != 0)
    return UVGO__MISUSE(err, "bad stream pool");
  if (!sp->closed) {
    sp->closed = true;
    uvgo_chan_close(sp->jobs);
  }
  return 0;
}

int uvgo_stream_pool_free(uvgo_stream_pool *sp) {
  int err = check(sp);
  if (err != 0)
    return UVGO__MISUSE(err, "bad stream pool");
  uvgo_stream_pool_close(sp);
  uvgo_chan_close(sp->quit);
  uvgo_wg_wait(&sp->wg);
  destroy(sp);
  return 0;
}
