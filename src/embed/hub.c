/* The hub: a uv_async_t and a uv_idle_t on the host loop per attached
 * runtime, and a locked FIFO of events that tasks push and the host thread
 * delivers. A push from another worker's thread signals the async; a push
 * on the host thread itself (a task of worker 0, or the host's own call)
 * starts the idle handle instead, which costs no syscall: its callback
 * runs at the start of the next loop iteration, whose poll then does not
 * block. Both drain the same FIFO, so the order of events is kept.
 *
 * The async handle is referenced exactly while operations are pending, so
 * a pending operation keeps the host's uv_run going (as an active libuv
 * request would) and an idle layer keeps nothing alive. uvgo_rt_close asks
 * the hub first (core's embed_hook): it refuses with UV_EBUSY while
 * anything is pending, and otherwise closes the handle; the hub is freed by
 * the close callback, in the host's next uv_run. */
#include "embed/embed_internal.h"

static void update_ref(uvgo__embed_hub *hub) {
  if (hub->closed)
    return;
  bool want = hub->pending > 0;
  if (want == hub->referenced)
    return;
  hub->referenced = want;
  if (want)
    uv_ref((uv_handle_t *)&hub->async);
  else
    uv_unref((uv_handle_t *)&hub->async);
}

/* Deliver what is queued, in order. A callback may start new operations
 * (their events come on a later round) or close the runtime (only when
 * nothing else is pending, so nothing is left to deliver here). */
static void deliver_all(uvgo__embed_hub *hub) {
  uv_mutex_lock(&hub->lock);
  uvgo__embed_event *ev = hub->head;
  hub->head = hub->tail = NULL;
  uv_mutex_unlock(&hub->lock);
  while (ev != NULL) {
    uvgo__embed_event *next = ev->next;
    ev->next = NULL;
    ev->deliver(ev);
    ev = next;
  }
  update_ref(hub);
}

static void on_async(uv_async_t *async) { deliver_all(async->data); }

static void on_idle(uv_idle_t *idle) {
  uvgo__embed_hub *hub = idle->data;
  /* Stopped first: a callback below that pushes again restarts it. */
  hub->idle_on = false;
  uv_idle_stop(&hub->idle);
  deliver_all(hub);
}

static void on_closed(uv_handle_t *handle) {
  uvgo__embed_hub *hub = handle->data;
  if (--hub->handles_open > 0)
    return;
  uv_mutex_destroy(&hub->lock);
  uvgo__free(hub);
}

/* core's hook in uvgo_rt_close (see scheduler.h, embed_hook). */
static int close_hook(uvgo_rt *rt, bool closing) {
  uvgo__embed_hub *hub = rt->embed;
  if (hub == NULL)
    return 0;
  if (!closing)
    return hub->pending > 0 ? UV_EBUSY : 0;
  rt->embed = NULL;
  rt->embed_hook = NULL;
  hub->rt = NULL;
  hub->closed = true;
  uv_close((uv_handle_t *)&hub->async, on_closed);
  uv_close((uv_handle_t *)&hub->idle, on_closed);
  return 0;
}

static int hub_new(uvgo_rt *rt, uvgo__embed_hub **out) {
  uvgo__embed_hub *hub = uvgo__calloc(1, sizeof *hub);
  if (hub == NULL)
    return UV_ENOMEM;
  if (uv_mutex_init(&hub->lock) != 0) {
    uvgo__free(hub);
    return UV_ENOMEM;
  }
  int err = uv_async_init(rt->workers[0]->loop, &hub->async, on_async);
  if (err != 0) {
    uv_mutex_destroy(&hub->lock);
    uvgo__free(hub);
    return err;
  }
  uv_idle_init(rt->workers[0]->loop, &hub->idle);
  hub->async.data = hub->idle.data = hub;
  hub->handles_open = 2;
  uv_unref((uv_handle_t *)&hub->async);
  hub->rt = rt;
  rt->embed = hub;
  rt->embed_hook = close_hook;
  *out = hub;
  return 0;
}

int uvgo__embed_enter(uvgo_rt *rt, const char *call, const void *caller,
                      uvgo__embed_hub **out) {
  if (rt == NULL)
    return uvgo__misuse(UV_EINVAL, call, "NULL runtime", caller);
  if (rt->magic != UVGO__RT_MAGIC)
    return uvgo__misuse(UVGO_ERELEASED, call, "runtime already closed",
                        caller);
  if (!rt->attached)
    return uvgo__misuse(UV_EINVAL, call,
                        "runtime not attached (uvgo_rt_attach)", caller);
  /* Closing (uvgo_rt_close ran, the loop has not freed it yet): the host
   * thread is no longer a worker, so say so before the thread checks. */
  if (rt->closing)
    return UVGO_ENORUNTIME;
  if (uvgo__tls_worker != rt->workers[0])
    return uvgo__misuse(UV_EINVAL, call,
                        "not on the host loop's thread of this runtime",
                        caller);
  if (uvgo__tls_worker->current != NULL)
    return uvgo__misuse(UV_EINVAL, call,
                        "called inside a task (use the blocking calls)",
                        caller);
  if (rt->embed != NULL) {
    *out = rt->embed;
    return 0;
  }
  return hub_new(rt, out);
}

int uvgo__embed_check_thread(uvgo__embed_hub *hub, const char *call,
                             const void *caller) {
  uvgo__worker *w = uvgo__tls_worker;
  if (hub->rt == NULL || w != hub->rt->workers[0])
    return uvgo__misuse(UV_EINVAL, call,
                        "not on the host loop's thread of this runtime",
                        caller);
  if (w->current != NULL)
    return uvgo__misuse(UV_EINVAL, call,
                        "called inside a task (use the blocking calls)",
                        caller);
  return 0;
}

void uvgo__embed_begin(uvgo__embed_hub *hub) {
  hub->pending++;
  update_ref(hub);
}

void uvgo__embed_end(uvgo__embed_hub *hub) {
  hub->pending--;
  /* The reference is dropped after the delivery round (on_async): the
   * callback about to run may start the next operation. */
}

void uvgo__embed_push(uvgo__embed_hub *hub, uvgo__embed_event *ev) {
  ev->next = NULL;
  uv_mutex_lock(&hub->lock);
  if (hub->tail != NULL)
    hub->tail->next = ev;
  else
    hub->head = ev;
  hub->tail = ev;
  uv_mutex_unlock(&hub->lock);
  if (hub->rt != NULL && uvgo__tls_worker == hub->rt->workers[0]) {
    if (!hub->idle_on) {
      hub->idle_on = true;
      uv_idle_start(&hub->idle, on_idle);
    }
    return;
  }
  /* libuv 1.44's uv_async_send reads its pending flag before any barrier
   * (see worker.c): fence so the push above is seen by the host. */
  atomic_thread_fence(memory_order_seq_cst);
  uv_async_send(&hub->async);
}

int uvgo__embed_spawn_internal(uvgo__embed_hub *hub, uvgo_fn fn, void *arg,
                               uvgo_ctx *ctx, const char *file, int line) {
  uvgo_rt *rt = hub->rt;
  uvgo_spawn_opts opts = {.worker = 0, .ctx = ctx};
  return uvgo__spawn(rt, rt->workers[0], false, fn, arg, &opts, file, line);
}

size_t uvgo_embed_pending(uvgo_rt *rt) {
  if (rt == NULL || rt->magic != UVGO__RT_MAGIC || rt->embed == NULL)
    return 0;
  return ((uvgo__embed_hub *)rt->embed)->pending;
}
