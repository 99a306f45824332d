/* Dialling: resolve, then try each address in order (Go's net.Dial). */
#include <string.h>

#include "net/net_internal.h"

static void on_connect(uv_connect_t *req, int status) {
  uvgo__net_op_done(req->data, status);
}

/* A pending connect ends early only through uv_close (its callback then
 * comes with UV_ECANCELED). */
static void abort_connect(void *arg) { uvgo__net_close_handle(arg); }

/* Connect c's initialised handle (started by `start`); on failure c is
 * destroyed. *ended is set when a context ended the wait. */
static int finish_connect(uvgo_ctx *ctx, uvgo_conn *c, uv_connect_t *req,
                          uvgo__net_op *op, int start_err, bool *ended,
                          uvgo_conn **out) {
  int err = start_err;
  if (err == 0) {
    err = uvgo__net_op_wait(op, ctx, "uvgo_dial", abort_connect, &c->o);
    *ended = op->cancelled;
  }
  (void)req;
  if (err != 0) {
    uvgo__net_destroy(&c->o);
    return err;
  }
  *out = c;
  return 0;
}

static int dial_addr(uvgo_ctx *ctx, const struct sockaddr *sa, bool *ended,
                     uvgo_conn **out) {
  if (uvgo__fault_fire(UVGO_FAULT_SOCKET))
    return UV_EMFILE;
  uvgo_conn *c = uvgo__conn_new(false);
  if (c == NULL)
    return UV_ENOMEM;
  /* init_ex makes the socket now, so EMFILE shows here, not later. */
  int err = uv_tcp_init_ex(uvgo__tls_worker->loop, &c->o.h.tcp, sa->sa_family);
  if (err != 0) {
    uvgo__net_free(&c->o); /* a failed init leaves no handle behind */
    return err;
  }
  uvgo__net_adopt(&c->o);
  uv_tcp_nodelay(&c->o.h.tcp, 1); /* Go's default */
  uv_connect_t req;
  uvgo__net_op op = {0};
  req.data = &op;
  err = uv_tcp_connect(&req, &c->o.h.tcp, sa, on_connect);
  return finish_connect(ctx, c, &req, &op, err, ended, out);
}

int uvgo_dial(uvgo_ctx *ctx, const char *host, unsigned port,
              uvgo_conn **out) {
  if (out == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL out");
  *out = NULL;
  if (host == NULL || host[0] == '\0')
    return UVGO__MISUSE(UV_EINVAL, "NULL or empty host");
  if (port == 0 || port > 65535)
    return UVGO__MISUSE(UV_EINVAL, "port out of range (1..65535)");
  int err = uvgo__net_need_task("uvgo_dial");
  if (err != 0)
    return err;
  uvgo__net_addrs addrs;
  err = uvgo__net_resolve(ctx, host, port, false, &addrs);
  if (err != 0)
    return err;
  for (int i = 0; i < addrs.n; i++) {
    bool ended = false;
    err = dial_addr(ctx, (const struct sockaddr *)&addrs.a[i], &ended, out);
    /* Out of memory or descriptors, or cancelled: the next address would
     * fail the same way. */
    if (err == 0 || ended || err == UV_ENOMEM || err == UV_EMFILE ||
        err == UV_ENFILE)
      break;
  }
  return err;
}

int uvgo_dial_unix(uvgo_ctx *ctx, const char *path, uvgo_conn **out) {
  if (out == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL out");
  *out = NULL;
  if (path == NULL || path[0] == '\0')
    return UVGO__MISUSE(UV_EINVAL, "NULL or empty path");
  int err = uvgo__net_need_task("uvgo_dial_unix");
  if (err != 0)
    return err;
  if (uvgo__fault_fire(UVGO_FAULT_SOCKET))
    return UV_EMFILE;
  uvgo_conn *c = uvgo__conn_new(true);
  if (c == NULL)
    return UV_ENOMEM;
  err = uv_pipe_init(uvgo__tls_worker->loop, &c->o.h.pipe, 0);
  if (err != 0) {
    uvgo__net_free(&c->o);
    return err;
  }
  uvgo__net_adopt(&c->o);
  uv_connect_t req;
  uvgo__net_op op = {0};
  req.data = &op;
  /* Errors (the socket call's too) arrive through the callback. */
  uv_pipe_connect(&req, &c->o.h.pipe, path, on_connect);
  bool ended = false;
  return finish_connect(ctx, c, &req, &op, 0, &ended, out);
}
