/* uvgo_embed_spawn: a task started from a callback, and a callback on the
 * host thread with its result once it has returned. */
#include "embed/embed_internal.h"

typedef struct {
  uvgo__embed_event ev;
  uvgo__embed_hub *hub;
  uvgo_embed_fn fn;
  uvgo_embed_done_fn done;
  void *arg;
  int result;
} spawn_op;

/* Runs as the task, on whichever worker took it: the push is the last
 * touch of op here (the host owns it from then on). */
static void spawn_task(void *p) {
  spawn_op *op = p;
  op->result = op->fn(op->arg);
  uvgo__embed_push(op->hub, &op->ev);
}

static void spawn_deliver(uvgo__embed_event *ev) {
  spawn_op *op = UVGO__CONTAINER_OF(ev, spawn_op, ev);
  uvgo_embed_done_fn done = op->done;
  void *arg = op->arg;
  int result = op->result;
  uvgo__embed_end(op->hub);
  uvgo__free(op);
  done(result, arg);
}

static int spawn_common(uvgo_rt *rt, const uvgo_spawn_opts *opts,
                        uvgo_embed_fn fn, void *arg, uvgo_embed_done_fn done,
                        const char *file, int line, const void *caller) {
  uvgo__embed_hub *hub;
  int err = uvgo__embed_enter(rt, "uvgo_embed_spawn", caller, &hub);
  if (err != 0)
    return err;
  if (fn == NULL || done == NULL)
    return uvgo__misuse(UV_EINVAL, "uvgo_embed_spawn",
                        "NULL task function or done callback", caller);
  if (opts->copy != NULL)
    return uvgo__misuse(UV_EINVAL, "uvgo_embed_spawn",
                        "opts->copy is not supported here", caller);
  if (opts->worker >= 0 && (unsigned)opts->worker >= rt->nworkers)
    return uvgo__misuse(UV_EINVAL, "uvgo_embed_spawn",
                        "worker index out of range", caller);
  if (opts->stack_size != 0 && (opts->stack_size < UVGO__STACK_MIN_SIZE ||
                                opts->stack_size > UVGO__STACK_MAX_SIZE))
    return uvgo__misuse(UVGO_ESTACKSIZE, "uvgo_embed_spawn",
                        "stack size out of range", caller);
  if (opts->ctx != NULL && (err = uvgo_ctx_err(opts->ctx)) != 0)
    return err;
  spawn_op *op = uvgo__calloc(1, sizeof *op);
  if (op == NULL)
    return UV_ENOMEM;
  op->ev.deliver = spawn_deliver;
  op->hub = hub;
  op->fn = fn;
  op->done = done;
  op->arg = arg;
  /* worker -1: the host worker's stealable queue (an idle worker may take
   * the task before it starts); otherwise pinned. */
  uvgo__worker *target = opts->worker >= 0 ? rt->workers[opts->worker] : NULL;
  err = uvgo__spawn(rt, target, false, spawn_task, op, opts, file, line);
  if (err != 0) {
    uvgo__free(op);
    return err;
  }
  uvgo__embed_begin(hub);
  return 0;
}

int uvgo_embed_spawn_at(uvgo_rt *rt, uvgo_ctx *ctx, uvgo_embed_fn fn,
                        void *arg, uvgo_embed_done_fn done, const char *file,
                        int line) {
  uvgo_spawn_opts opts = {.worker = -1, .ctx = ctx};
  return spawn_common(rt, &opts, fn, arg, done, file, line,
                      __builtin_return_address(0));
}

int uvgo_embed_spawn_opts_at(uvgo_rt *rt, const uvgo_spawn_opts *opts,
                             uvgo_embed_fn fn, void *arg,
                             uvgo_embed_done_fn done, const char *file,
                             int line) {
  if (opts == NULL)
    return uvgo__misuse(UV_EINVAL, "uvgo_embed_spawn_opts", "NULL options",
                        __builtin_return_address(0));
  return spawn_common(rt, opts, fn, arg, done, file, line,
                      __builtin_return_address(0));
}
