/* Groups (errgroup) and uvgo_pool_run, built on tasks, a WaitGroup, a
 * semaphore for the limit, and the group's own context. */
#include <string.h>

#include "core/ctx.h"
#include "core/scheduler.h"

#define GROUP_MAGIC 0x67727570u /* "grup" */

struct uvgo_group {
  uint32_t magic;
  uvgo_ctx *ctx;
  uvgo_wg wg;
  uvgo_sem sem;       /* the limit; capacity 0 means none */
  bool limited;
  _Atomic int first_err;
};

/* A positive result is outside the error range: record it as misuse. */
static int normalize(int err) {
  if (err > 0)
    return UVGO__MISUSE(UV_EINVAL, "task function returned a positive code");
  return err;
}

int uvgo_group_new(uvgo_ctx *parent, size_t limit, uvgo_group **out) {
  if (parent == NULL || out == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL parent or out");
  uvgo_group *g = uvgo__calloc(1, sizeof *g);
  if (g == NULL)
    return UV_ENOMEM;
  int err = uvgo_ctx_with_cancel(parent, &g->ctx);
  if (err != 0) {
    uvgo__free(g);
    return err;
  }
  if (limit > 0) {
    g->limited = true;
    uvgo_sem_init(&g->sem, (int64_t)limit);
  }
  g->magic = GROUP_MAGIC;
  *out = g;
  return 0;
}

static int check_group(uvgo_group *g) {
  if (g == NULL)
    return UV_EINVAL;
  return g->magic == GROUP_MAGIC ? 0 : UVGO_ERELEASED;
}

uvgo_ctx *uvgo_group_ctx(uvgo_group *g) {
  return check_group(g) == 0 ? g->ctx : NULL;
}

typedef struct {
  uvgo_group *g;
  uvgo_group_fn fn;
  void *arg;
} group_job;

static void group_task(void *arg) {
  group_job *job = arg;
  uvgo_group *g = job->g;
  int err = normalize(job->fn(g->ctx, job->arg));
  if (err != 0) {
    int none = 0;
    if (atomic_compare_exchange_strong(&g->first_err, &none, err))
      uvgo_ctx_cancel(g->ctx);
  }
  if (g->limited)
    uvgo_sem_release(&g->sem, 1);
  uvgo_wg_done(&g->wg);
}

int uvgo_group_go_at(uvgo_group *g, uvgo_group_fn fn, void *arg,
                     const char *file, int line) {
  int err = check_group(g);
  if (err != 0 || fn == NULL)
    return UVGO__MISUSE(err != 0 ? err : UV_EINVAL, "bad group or NULL fn");
  if (uvgo__current_task() == NULL)
    return UVGO__MISUSE(UVGO_ENOTTASK, "uvgo_group_go outside a task");
  if (g->limited && (err = uvgo_sem_acquire(&g->sem, 1)) != 0)
    return err;
  uvgo_wg_add(&g->wg, 1);
  group_job job = {g, fn, arg};
  uvgo_spawn_opts opts = {.worker = -1, .copy = &job, .copy_size = sizeof job,
                          .ctx = g->ctx};
  err = uvgo_go_opts_at(&opts, group_task, NULL, file, line);
  if (err != 0) {
    uvgo_wg_done(&g->wg);
    if (g->limited)
      uvgo_sem_release(&g->sem, 1);
  }
  return err;
}

int uvgo_group_wait(uvgo_group *g) {
  int err = check_group(g);
  if (err != 0)
    return UVGO__MISUSE(err, "bad group");
  uvgo_wg_wait(&g->wg);
  uvgo_ctx_cancel(g->ctx); /* as errgroup: the context ends with Wait */
  return atomic_load(&g->first_err);
}

int uvgo_group_free(uvgo_group *g) {
  int err = check_group(g);
  if (err != 0)
    return UVGO__MISUSE(err, "bad group");
  if (uvgo_wg_wait_timeout(&g->wg, 0) != 0)
    return UVGO__MISUSE(UV_EBUSY, "group freed with tasks running");
  uvgo_ctx_release(g->ctx);
  g->magic = UVGO__DEAD_MAGIC;
  uvgo__free(g);
  return 0;
}

/* --- uvgo_pool_run --- */

typedef struct {
  uvgo_ctx *ctx;
  const unsigned char *inputs;
  size_t n;
  size_t input_size;
  uvgo_pool_fn fn;
  void *arg;
  unsigned char *outputs;
  size_t output_size;
  int *errs;
  _Atomic size_t next;
  uvgo_wg wg;
} pool_run;

/* Take inputs in order until none is left; after the context ends, the
 * rest get its error without fn. */
static void pool_drain(pool_run *p) {
  for (;;) {
    size_t i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
    if (i >= p->n)
      return;
    int err = uvgo_ctx_err(p->ctx);
    if (err == 0) {
      void *out = p->outputs != NULL ? p->outputs + i * p->output_size : NULL;
      err = normalize(
          p->fn(p->ctx, p->inputs + i * p->input_size, out, p->arg));
    }
    p->errs[i] = err;
  }
}

static void pool_worker(void *arg) {
  pool_run *p = arg;
  pool_drain(p);
  uvgo_wg_done(&p->wg);
}

int uvgo_pool_run(uvgo_ctx *ctx, size_t concurrency, const void *inputs,
                  size_t n, size_t input_size, uvgo_pool_fn fn, void *arg,
                  void *outputs, size_t output_size, int *errs) {
  if (ctx == NULL || concurrency == 0 || fn == NULL ||
      (n > 0 && (errs == NULL || (inputs == NULL && input_size > 0) ||
                 (outputs == NULL && output_size > 0))))
    return UVGO__MISUSE(UV_EINVAL, "bad pool arguments");
  if (uvgo__current_task() == NULL)
    return UVGO__MISUSE(UVGO_ENOTTASK, "uvgo_pool_run outside a task");
  pool_run p = {.ctx = ctx, .inputs = inputs, .n = n,
                .input_size = input_size, .fn = fn, .arg = arg,
                .outputs = outputs, .output_size = output_size, .errs = errs};
  if (concurrency > n)
    concurrency = n;
  size_t started = 0;
  for (; started < concurrency; started++) {
    uvgo_wg_add(&p.wg, 1);
    if (uvgo_go(pool_worker, &p) != 0) {
      uvgo_wg_done(&p.wg);
      break; /* fewer workers than asked: still within the bound */
    }
  }
  /* Not even one worker (out of memory, or at the task cap): the caller
   * does the work itself, so no input is lost. */
  if (started == 0)
    pool_drain(&p);
  uvgo_wg_wait(&p.wg);
  return 0;
}
