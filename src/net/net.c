/* Networking, shared parts: ownership checks, waiting for a libuv request
 * with cancellation (DESIGN.md, In-flight requests), the close protocol
 * of connections and listeners, and name resolution. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "core/ctx.h"
#include "net/net_internal.h"

/* --- checks --- */

/* Under UVGO_STRICT freed records stay allocated and poisoned for a while,
 * so a second close or a late call is reported instead of reading freed
 * memory (the same scheme as channels). */
#define QUARANTINE 64
static uvgo__net_obj *quarantine[QUARANTINE];
static unsigned quarantine_next;
static _Atomic int quarantine_lock;

void uvgo__net_free(uvgo__net_obj *o) {
  o->magic = UVGO__DEAD_MAGIC;
  if (!uvgo__strict()) {
    uvgo__free(o);
    return;
  }
  while (atomic_exchange_explicit(&quarantine_lock, 1, memory_order_acquire))
    ;
  uvgo__net_obj *old = quarantine[quarantine_next];
  quarantine[quarantine_next] = o;
  quarantine_next = (quarantine_next + 1) % QUARANTINE;
  atomic_store_explicit(&quarantine_lock, 0, memory_order_release);
  uvgo__free(old);
}

int uvgo__net_check(const uvgo__net_obj *o, uint32_t magic,
                    const char *call) {
  const void *caller = __builtin_return_address(0);
  if (o == NULL)
    return uvgo__misuse(UV_EINVAL, call, "NULL connection or listener",
                        caller);
  if (UVGO__UNLIKELY(o->magic != magic))
    return uvgo__misuse(UVGO_ERELEASED, call,
                        "connection or listener used after close", caller);
  if (UVGO__UNLIKELY(o->home != uvgo__tls_worker))
    return uvgo__misuse(UV_EINVAL, call,
                        "called off the worker that owns the connection",
                        caller);
  return 0;
}

int uvgo__net_need_task(const char *call) {
  if (uvgo__current_task() == NULL)
    return uvgo__misuse(UVGO_ENOTTASK, call, "not called from a task",
                        __builtin_return_address(0));
  return 0;
}

/* --- waiting for a request --- */

void uvgo__net_op_done(uvgo__net_op *op, int status) {
  op->status = status;
  op->done = true;
  /* Reason 1 = "the callback ran"; a context that claimed first means the
   * task is on its way to abort, and may be waiting on `late` already. */
  if (uvgo__parker_claim(&op->p, 1))
    uvgo__parker_wake(&op->p);
  else if (op->late != NULL && uvgo__parker_claim(op->late, 1))
    uvgo__parker_wake(op->late);
}

void uvgo__net_wait_shielded(uvgo__parker *p) {
  uvgo_task *t = p->task;
  t->shield++;
  uvgo__parker_wait(p, UVGO__NO_DEADLINE);
  t->shield--;
}

int uvgo__net_op_wait(uvgo__net_op *op, uvgo_ctx *ctx, const char *call,
                      void (*abort)(void *arg), void *arg) {
  /* The callback can only run on this thread once the task has switched
   * out, so preparing here (after starting the request) loses nothing. */
  uvgo__parker_prepare(&op->p, call);
  int r = uvgo__parker_wait_ctx(&op->p, UVGO__NO_DEADLINE, ctx);
  if (r >= 0 || op->done)
    return op->status;
  op->cancelled = true;
  abort(arg);
  while (!op->done) {
    uvgo__parker late;
    uvgo__parker_prepare(&late, call);
    op->late = &late;
    uvgo__net_wait_shielded(&late);
    op->late = NULL;
  }
  return r;
}

/* --- closing --- */

void uvgo__net_wake_all(uvgo__net_obj *o) {
  for (uvgo__net_reader *r = o->waiters; r != NULL; r = r->next)
    if (uvgo__parker_claim(&r->p, 0))
      uvgo__parker_wake(&r->p);
}

void uvgo__net_adopt(uvgo__net_obj *o) {
  o->h.handle.data = o;
  uv_unref(&o->h.handle);
}

void uvgo__net_unlink_waiter(uvgo__net_obj *o, uvgo__net_reader *me) {
  for (uvgo__net_reader **pp = &o->waiters; *pp != NULL; pp = &(*pp)->next)
    if (*pp == me) {
      *pp = me->next;
      if (o->waiters == NULL)
        uv_unref(&o->h.handle);
      return;
    }
}

void uvgo__net_link_waiter(uvgo__net_obj *o, uvgo__net_reader *me) {
  uvgo__net_reader **pp = &o->waiters;
  if (*pp == NULL)
    uv_ref(&o->h.handle); /* a task waits on it: keep the loop alive */
  while (*pp != NULL)
    pp = &(*pp)->next;
  me->next = NULL;
  *pp = me;
}

static void free_obj(uvgo__net_obj *o) {
  if (o->magic == UVGO__CONN_MAGIC) {
    uvgo_conn *c = (uvgo_conn *)o;
    uvgo__free(c->buf);
    c->buf = NULL;
  }
  uvgo__net_free(o);
}

/* Free o, or wake the closing task to do it, once nothing holds it. */
static void maybe_finish(uvgo__net_obj *o) {
  if (!o->close_called || !o->handle_closed || o->ops != 0)
    return;
  if (o->closer != NULL) {
    if (uvgo__parker_claim(o->closer, 0))
      uvgo__parker_wake(o->closer);
    return;
  }
  free_obj(o);
}

static void on_handle_closed(uv_handle_t *h) {
  uvgo__net_obj *o = h->data;
  o->handle_closed = true;
  maybe_finish(o);
}

void uvgo__net_close_handle(uvgo__net_obj *o) {
  if (!o->handle_closing) {
    o->handle_closing = true;
    o->h.handle.data = o;
    /* Pending writes and shutdowns get their callbacks (UV_ECANCELED)
     * from inside uv_close's processing, before on_handle_closed. */
    uv_close(&o->h.handle, on_handle_closed);
  }
  uvgo__net_wake_all(o);
}

void uvgo__net_op_leave(uvgo__net_obj *o) {
  o->ops--;
  maybe_finish(o);
}

/* Task: wait until the handle's close callback ran and every call left. */
static void wait_closed(uvgo__net_obj *o) {
  while (!o->handle_closed || o->ops != 0) {
    uvgo__parker p;
    uvgo__parker_prepare(&p, "uvgo_conn_close");
    o->closer = &p;
    uvgo__net_wait_shielded(&p);
    o->closer = NULL;
  }
  free_obj(o);
}

void uvgo__net_destroy(uvgo__net_obj *o) {
  o->close_called = true;
  uvgo__net_close_handle(o);
  wait_closed(o);
}

int uvgo__net_close(uvgo__net_obj *o, uint32_t magic, const char *call) {
  if (o == NULL)
    return 0;
  if (UVGO__UNLIKELY(o->magic != magic))
    return uvgo__misuse(UVGO_ERELEASED, call, "closed twice",
                        __builtin_return_address(0));
  if (UVGO__UNLIKELY(o->home != uvgo__tls_worker))
    return uvgo__misuse(UV_EINVAL, call,
                        "called off the worker that owns the connection",
                        __builtin_return_address(0));
  if (UVGO__UNLIKELY(o->close_called))
    return uvgo__misuse(UVGO_ERELEASED, call, "closed twice",
                        __builtin_return_address(0));
  o->close_called = true;
  uvgo__net_close_handle(o);
  if (uvgo__current_task() != NULL)
    wait_closed(o);
  /* else: a libuv callback; on_handle_closed or the last call frees it. */
  return 0;
}

uvgo_conn *uvgo__conn_new(bool is_pipe) {
  uvgo_conn *c = uvgo__calloc(1, sizeof *c);
  if (c == NULL)
    return NULL;
  c->o.magic = UVGO__CONN_MAGIC;
  c->o.is_pipe = is_pipe;
  c->o.home = uvgo__tls_worker;
  return c;
}

/* --- resolving --- */

static void on_resolved(uv_getaddrinfo_t *req, int status,
                        struct addrinfo *res) {
  uvgo__net_op *op = req->data;
  op->result = res;
  uvgo__net_op_done(op, status);
}

static void abort_resolve(void *arg) {
  /* Fails once a pool thread has started the lookup: then we wait. */
  uv_cancel((uv_req_t *)arg);
}

static bool numeric(const char *host, unsigned port, bool passive,
                    struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  if (passive && (host == NULL || host[0] == '\0'))
    host = "0.0.0.0";
  struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
  if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    return true;
  }
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    return true;
  }
  return false;
}

int uvgo__net_resolve(uvgo_ctx *ctx, const char *host, unsigned port,
                      bool passive, uvgo__net_addrs *out) {
  out->n = 0;
  if (numeric(host, port, passive, &out->a[0])) {
    out->n = 1;
    return 0;
  }
  uvgo__worker *w = uvgo__tls_worker;
  char service[8];
  snprintf(service, sizeof service, "%u", port);
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  uv_getaddrinfo_t req;
  uvgo__net_op op = {0};
  req.data = &op;
  int err = uv_getaddrinfo(w->loop, &req, on_resolved, host, service, &hints);
  if (err != 0)
    return err;
  err = uvgo__net_op_wait(&op, ctx, "uvgo_dial (resolving)", abort_resolve,
                          &req);
  struct addrinfo *res = op.result;
  if (err == 0) {
    for (struct addrinfo *ai = res; ai != NULL && out->n < UVGO__NET_MAX_ADDRS;
         ai = ai->ai_next) {
      if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
          ai->ai_addrlen > sizeof out->a[0])
        continue;
      memcpy(&out->a[out->n++], ai->ai_addr, ai->ai_addrlen);
    }
    if (out->n == 0)
      err = UV_EAI_NONAME;
  } else if (err == UV_EAI_CANCELED) {
    err = UV_ECANCELED;
  }
  uv_freeaddrinfo(res);
  return err;
}
