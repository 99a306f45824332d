/* Send from a callback without blocking. A value goes into the channel at
 * once when it has room and nothing of ours is queued on it; otherwise it
 * waits in a per-channel FIFO (at most UVGO_EMBED_SEND_QUEUE_MAX values)
 * that one task of this layer, pinned to the host's worker, feeds into the
 * channel in order. Every accepted send reports through the hub, so the
 * callback always comes later, on the host thread.
 *
 * The queues, their items and the sender task live on the host thread
 * (worker 0): no locks. A queue holds a channel reference while it exists;
 * the sender task frees it when it has drained it. Finding a channel's
 * queue is a walk over the queues that exist (channels with sends waiting
 * right now: few). */
#include <string.h>

#include "embed/embed_internal.h"
#include "uvgo/select.h"

typedef struct send_item send_item;
struct send_item {
  uvgo__embed_event ev;
  send_item *next;
  uvgo__embed_hub *hub;
  uvgo_ctx *ctx;             /* our reference, or NULL */
  uvgo_embed_send_cb cb;     /* may be NULL */
  void *arg;
  int status;
  _Alignas(max_align_t) unsigned char value[];
};

struct uvgo__embed_sendq {
  uvgo__embed_sendq *next;   /* the hub's list */
  uvgo__embed_hub *hub;
  uvgo_chan *ch;             /* our reference */
  send_item *head;           /* the one being sent stays first until done */
  send_item *tail;
  size_t count;
};

static void item_free(send_item *it) {
  if (it->ctx != NULL)
    uvgo_ctx_release(it->ctx);
  uvgo__free(it);
}

static void send_deliver(uvgo__embed_event *ev) {
  send_item *it = UVGO__CONTAINER_OF(ev, send_item, ev);
  uvgo_embed_send_cb cb = it->cb;
  void *arg = it->arg;
  int status = it->status;
  uvgo__embed_end(it->hub);
  item_free(it);
  if (cb != NULL)
    cb(status, arg);
}

/* Send one queued value: its context bounds the wait (a select on the
 * channel and the context's done channel). */
static int send_one(uvgo_chan *ch, send_item *it) {
  if (it->ctx == NULL)
    return uvgo_chan_send(ch, it->value);
  int err = uvgo_ctx_err(it->ctx);
  if (err != 0)
    return err;
  uvgo_chan *done = uvgo_ctx_done(it->ctx);
  if (done == NULL) /* ENOMEM making it: the wait is not bounded */
    return uvgo_chan_send(ch, it->value);
  uvgo_select_case cases[2] = {UVGO_SEND_CASE(ch, it->value),
                               UVGO_RECV_CASE(done, NULL)};
  int idx = uvgo_select(cases, 2);
  if (idx == 0)
    return cases[0].status;
  if (idx == 1)
    return uvgo_ctx_err(it->ctx);
  return idx;
}

static void unlink_queue(uvgo__embed_sendq *q) {
  for (uvgo__embed_sendq **pp = &q->hub->sendqs; *pp != NULL;
       pp = &(*pp)->next) {
    if (*pp == q) {
      *pp = q->next;
      return;
    }
  }
}

/* The sender task: drains its queue into the channel, then frees it. */
static void sender_task(void *p) {
  uvgo__embed_sendq *q = p;
  while (q->head != NULL) {
    send_item *it = q->head;
    int err = send_one(q->ch, it);
    q->head = it->next;
    if (q->head == NULL)
      q->tail = NULL;
    q->count--;
    it->status = err;
    uvgo__embed_push(q->hub, &it->ev);
  }
  unlink_queue(q);
  /* Our own send has returned: no waiter of ours is left on ch. */
  uvgo_chan_release(q->ch);
  uvgo__free(q);
}

static uvgo__embed_sendq *find_queue(uvgo__embed_hub *hub, uvgo_chan *ch) {
  for (uvgo__embed_sendq *q = hub->sendqs; q != NULL; q = q->next)
    if (q->ch == ch)
      return q;
  return NULL;
}

static send_item *item_new(uvgo__embed_hub *hub, uvgo_ctx *ctx,
                           const void *elem, size_t size,
                           uvgo_embed_send_cb cb, void *arg) {
  send_item *it = uvgo__calloc(1, sizeof *it + size);
  if (it == NULL)
    return NULL;
  it->ev.deliver = send_deliver;
  it->hub = hub;
  it->cb = cb;
  it->arg = arg;
  if (size > 0)
    memcpy(it->value, elem, size);
  if (ctx != NULL && uvgo_ctx_retain(ctx) == 0)
    it->ctx = ctx;
  return it;
}

/* A queue for ch with its sender task (host thread). */
static int queue_new(uvgo__embed_hub *hub, uvgo_chan *ch,
                     uvgo__embed_sendq **out) {
  uvgo__embed_sendq *q = uvgo__calloc(1, sizeof *q);
  if (q == NULL)
    return UV_ENOMEM;
  int err = uvgo_chan_retain(ch);
  if (err != 0) {
    uvgo__free(q);
    return err;
  }
  q->hub = hub;
  q->ch = ch;
  err = uvgo__embed_spawn_internal(hub, sender_task, q, NULL, __FILE__,
                                   __LINE__);
  if (err != 0) {
    uvgo_chan_release(ch);
    uvgo__free(q);
    return err;
  }
  q->next = hub->sendqs;
  hub->sendqs = q;
  *out = q;
  return 0;
}

int uvgo_embed_send(uvgo_rt *rt, uvgo_ctx *ctx, uvgo_chan *ch,
                    const void *elem, uvgo_embed_send_cb cb, void *arg) {
  const void *caller = __builtin_return_address(0);
  uvgo__embed_hub *hub;
  int err = uvgo__embed_enter(rt, "uvgo_embed_send", caller, &hub);
  if (err != 0)
    return err;
  if (ch == NULL)
    return uvgo__misuse(UV_EINVAL, "uvgo_embed_send", "NULL channel", caller);
  if (ctx != NULL && (err = uvgo_ctx_err(ctx)) != 0)
    return err;
  uvgo__embed_sendq *q = find_queue(hub, ch);
  if (q != NULL && q->count >= UVGO_EMBED_SEND_QUEUE_MAX)
    return UV_ENOBUFS;
  if (q == NULL) {
    /* Nothing of ours ahead of this value: try the channel now. The
     * record comes first so that a value that went in is always
     * reported. try_send also validates ch (released, closed, an after
     * channel, a NULL value for a non-empty element). */
    send_item *it = item_new(hub, NULL, NULL, 0, cb, arg);
    if (it == NULL)
      return UV_ENOMEM;
    err = uvgo_chan_try_send(ch, elem);
    if (err == 0) {
      uvgo__embed_begin(hub);
      uvgo__embed_push(hub, &it->ev);
      return 0;
    }
    item_free(it);
    if (err != UV_EAGAIN)
      return err;
  }
  size_t size = uvgo_chan_elem_size(ch);
  if (size > 0 && elem == NULL)
    return uvgo__misuse(UV_EINVAL, "uvgo_embed_send",
                        "NULL value for a non-empty element", caller);
  send_item *it = item_new(hub, ctx, elem, size, cb, arg);
  if (it == NULL)
    return UV_ENOMEM;
  if (q == NULL && (err = queue_new(hub, ch, &q)) != 0) {
    item_free(it);
    return err;
  }
  if (q->tail != NULL)
    q->tail->next = it;
  else
    q->head = it;
  q->tail = it;
  q->count++;
  uvgo__embed_begin(hub);
  return 0;
}
