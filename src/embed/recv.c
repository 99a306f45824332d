/* Receive by callback: a task of this layer, pinned to the host's worker,
 * receives under a child context of the caller's and hands each value to
 * the host thread through the hub, waiting (parked) until the callback for
 * it has returned before it takes the next one.
 *
 * The record holds a channel reference and the child context until the
 * final callback, so a channel released by its other owners meanwhile
 * stays valid for the receive (and is freed with the last reference, here).
 * Stop cancels the child context: a task blocked in the receive wakes with
 * UV_ECANCELED; a value it has already taken is delivered first. */
#include "embed/embed_internal.h"

#define RECV_MAGIC 0x72637662u /* "rcvb" */

struct uvgo_embed_recv {
  uint32_t magic;
  uvgo__embed_event ev;
  uvgo__embed_hub *hub;
  uvgo_chan *ch;            /* our reference */
  uvgo_ctx *ctx;            /* child of the caller's ctx: the task's */
  uvgo_embed_recv_cb cb;
  void *arg;
  uvgo_task *task;          /* the receiving task, once it runs */
  bool each;                /* until closed, rather than one value */
  bool stopping;            /* uvgo_embed_recv_stop ran */
  bool final_queued;        /* the task posted its last event and left */
  int status;               /* of the event in the hub */
  _Alignas(max_align_t) unsigned char value[]; /* one element */
};

/* The receiving task. Host callbacks run only while it is switched out
 * (same thread), so the record needs no lock. */
static void recv_task(void *p) {
  uvgo_embed_recv *r = p;
  r->task = uvgo_self();
  for (;;) {
    int err = r->stopping ? UV_ECANCELED : uvgo_chan_recv(r->ch, r->value);
    bool final = err != 0 || !r->each;
    r->status = err;
    r->final_queued = final;
    uvgo__embed_push(r->hub, &r->ev);
    if (final)
      return; /* the host frees r: no touch after the push */
    /* Not a cancellation point: the host unparks us once the value's
     * callback has returned (a stop meanwhile shows in r->stopping). */
    uvgo_park();
  }
}

static void recv_free(uvgo_embed_recv *r) {
  r->magic = UVGO__DEAD_MAGIC;
  uvgo_ctx_release(r->ctx);
  uvgo_chan_release(r->ch);
  uvgo__free(r);
}

static void recv_deliver(uvgo__embed_event *ev) {
  uvgo_embed_recv *r = UVGO__CONTAINER_OF(ev, uvgo_embed_recv, ev);
  if (!r->final_queued) {
    /* A value of a receive-each; the task waits for us. */
    r->cb(r, 0, r->value, r->arg);
    uvgo_unpark(r->task);
    return;
  }
  /* The final event: the task has returned (it ran on this thread and
   * finished before this callback could run). */
  uvgo__embed_end(r->hub);
  int status = r->status;
  r->cb(r, status, status == 0 ? r->value : NULL, r->arg);
  recv_free(r);
}

static int recv_start(uvgo_rt *rt, uvgo_ctx *ctx, uvgo_chan *ch, bool each,
                      uvgo_embed_recv_cb cb, void *arg, uvgo_embed_recv **out,
                      const char *call, const void *caller) {
  if (out != NULL)
    *out = NULL;
  uvgo__embed_hub *hub;
  int err = uvgo__embed_enter(rt, call, caller, &hub);
  if (err != 0)
    return err;
  if (ch == NULL || cb == NULL)
    return uvgo__misuse(UV_EINVAL, call, "NULL channel or callback", caller);
  if (ctx != NULL && (err = uvgo_ctx_err(ctx)) != 0)
    return err;
  /* Our reference first: a released channel is refused here (retain
   * reports it), and the receive can outlive the caller's reference. An
   * after channel cannot be retained (UV_EINVAL). */
  err = uvgo_chan_retain(ch);
  if (err != 0)
    return err;
  size_t size = uvgo_chan_elem_size(ch);
  uvgo_embed_recv *r = uvgo__calloc(1, sizeof *r + (size > 0 ? size : 1));
  if (r == NULL) {
    uvgo_chan_release(ch);
    return UV_ENOMEM;
  }
  err = uvgo_ctx_with_cancel(ctx != NULL ? ctx : uvgo_ctx_background(),
                             &r->ctx);
  if (err == 0) {
    r->magic = RECV_MAGIC;
    r->ev.deliver = recv_deliver;
    r->hub = hub;
    r->ch = ch;
    r->cb = cb;
    r->arg = arg;
    r->each = each;
    err = uvgo__embed_spawn_internal(hub, recv_task, r, r->ctx, __FILE__,
                                     __LINE__);
    if (err != 0)
      uvgo_ctx_release(r->ctx);
  }
  if (err != 0) {
    uvgo__free(r);
    uvgo_chan_release(ch);
    return err;
  }
  uvgo__embed_begin(hub);
  if (out != NULL)
    *out = r;
  return 0;
}

int uvgo_embed_recv_one(uvgo_rt *rt, uvgo_ctx *ctx, uvgo_chan *ch,
                    uvgo_embed_recv_cb cb, void *arg, uvgo_embed_recv **out) {
  return recv_start(rt, ctx, ch, false, cb, arg, out, "uvgo_embed_recv_one",
                    __builtin_return_address(0));
}

int uvgo_embed_recv_each(uvgo_rt *rt, uvgo_ctx *ctx, uvgo_chan *ch,
                         uvgo_embed_recv_cb cb, void *arg,
                         uvgo_embed_recv **out) {
  return recv_start(rt, ctx, ch, true, cb, arg, out, "uvgo_embed_recv_each",
                    __builtin_return_address(0));
}

int uvgo_embed_recv_stop(uvgo_embed_recv *r) {
  const void *caller = __builtin_return_address(0);
  if (r == NULL)
    return uvgo__misuse(UV_EINVAL, "uvgo_embed_recv_stop", "NULL receive",
                        caller);
  if (r->magic != RECV_MAGIC)
    return uvgo__misuse(UV_EINVAL, "uvgo_embed_recv_stop",
                        "not a receive in progress (after its final "
                        "callback?)",
                        caller);
  int err = uvgo__embed_check_thread(r->hub, "uvgo_embed_recv_stop", caller);
  if (err != 0)
    return err;
  if (r->stopping || r->final_queued)
    return 0;
  r->stopping = true;
  /* Wakes the task if it is blocked in the receive; if it is parked
   * waiting for a delivery, it sees the flag once unparked. */
  uvgo_ctx_cancel(r->ctx);
  return 0;
}
