/* Connections: reading through a bounded buffer, writing, half-close,
 * close, addresses and socket options.
 *
 * Reading. A task that finds nothing buffered parks with its own buffer
 * and the socket reads straight into it (libuv's alloc callback lends it),
 * so the common path copies nothing. Bytes that arrive while no task is
 * reading go into one UVGO_CONN_BUFFER_SIZE buffer, allocated when first
 * needed and freed once drained; when it is full the socket stops being
 * read (the kernel's window then pushes back on the peer) and reading
 * resumes when a task has drained it to half. */
#include <string.h>
#include <sys/un.h>

#include "net/net_internal.h"

#define BUFSZ UVGO_CONN_BUFFER_SIZE

static int check_conn(uvgo_conn *c, const char *call) {
  return uvgo__net_check(c != NULL ? &c->o : NULL, UVGO__CONN_MAGIC, call);
}

/* A transport layered on top (TLS) handles the public calls itself. */
#define LAYERED(c) \
  ((c) != NULL && (c)->o.magic == UVGO__CONN_MAGIC && (c)->ops != NULL)

static void stop_reading(uvgo_conn *c) {
  if (c->reading) {
    uv_read_stop(&c->o.h.stream);
    c->reading = false;
  }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out) {
  uvgo_conn *c = h->data;
  c->lent = NULL;
  if (c->filled) {
    /* libuv reads on after a full buffer, and the reader has its bytes.
     * End this round (on_read gets UV_ENOBUFS, reading stays on): the
     * reader comes back with a buffer before the next poll, and if it
     * does not, the next poll reports the data again. This saves a read
     * that would mostly say EAGAIN (one per message in request/response
     * traffic) and a copy through our buffer. */
    c->filled = false;
    c->round_ended = true;
    *out = uv_buf_init(NULL, 0);
    return;
  }
  if (c->start == c->end) {
    c->start = c->end = 0;
    /* A reader whose parker a context has already claimed is on its way
     * out: do not lend its buffer. */
    for (uvgo__net_reader *r = c->o.waiters; r != NULL; r = r->next)
      if (atomic_load_explicit(&r->p.claimed, memory_order_acquire) == 0) {
        c->lent = r;
        *out = uv_buf_init(r->buf, (unsigned)r->len);
        return;
      }
  }
  if (c->buf == NULL) {
    c->buf = uvgo__malloc(BUFSZ);
    if (c->buf == NULL) {
      *out = uv_buf_init(NULL, 0); /* on_read gets UV_ENOBUFS */
      return;
    }
  }
  if (c->end == BUFSZ && c->start > 0) {
    memmove(c->buf, c->buf + c->start, c->end - c->start);
    c->end -= c->start;
    c->start = 0;
  }
  *out = uv_buf_init(c->buf + c->end, BUFSZ - c->end);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  uvgo_conn *c = s->data;
  uvgo__net_reader *r = c->lent;
  c->lent = NULL;
  if (nread == 0)
    return; /* EAGAIN */
  if (nread == UV_ENOBUFS) {
    /* Either on_alloc ended the round on purpose, or there was no
     * memory for the buffer and no reader to lend one: then stop until a
     * task reads (it lends its own buffer). */
    if (!c->round_ended)
      stop_reading(c);
    c->round_ended = false;
    return;
  }
  if (nread < 0) {
    c->read_err = (int)nread;
    stop_reading(c);
    uvgo__net_wake_all(&c->o);
    return;
  }
  if (r != NULL) {
    if (uvgo__parker_claim(&r->p, (int)nread)) {
      uvgo__parker_wake(&r->p);
      c->filled = (size_t)nread == r->len;
      return;
    }
    /* A context claimed the reader first. The task cannot have run yet
     * (it runs on this thread), so its buffer is still valid: keep the
     * bytes for the next read. */
    if (c->buf == NULL)
      c->buf = uvgo__malloc(BUFSZ);
    if (c->buf == NULL) {
      c->read_err = UV_ENOMEM;
      stop_reading(c);
      uvgo__net_wake_all(&c->o);
      return;
    }
    memcpy(c->buf, buf->base, (size_t)nread);
    c->start = 0;
    c->end = (uint32_t)nread;
  } else {
    c->end += (uint32_t)nread;
  }
  if (c->end - c->start >= BUFSZ)
    stop_reading(c); /* high-water mark: back-pressure on the peer */
  uvgo__net_wake_all(&c->o);
}

static int start_reading(uvgo_conn *c) {
  if (c->reading)
    return 0;
  int err = uv_read_start(&c->o.h.stream, on_alloc, on_read);
  if (err == 0)
    c->reading = true;
  return err;
}

/* Copy buffered bytes out; resume reading below the low-water mark. */
static ssize_t take_buffered(uvgo_conn *c, void *buf, size_t len) {
  size_t have = c->end - c->start;
  size_t n = have < len ? have : len;
  memcpy(buf, c->buf + c->start, n);
  c->start += (uint32_t)n;
  if (c->start == c->end) {
    /* Drained: an idle connection holds no buffer. */
    uvgo__free(c->buf);
    c->buf = NULL;
    c->start = c->end = 0;
  }
  if (!c->reading && c->read_err == 0 && c->end - c->start <= BUFSZ / 2) {
    int err = start_reading(c);
    if (err != 0)
      c->read_err = err;
  }
  return (ssize_t)n;
}

ssize_t uvgo_conn_read(uvgo_ctx *ctx, uvgo_conn *c, void *buf, size_t len) {
  if (LAYERED(c))
    return c->ops->read(ctx, c, buf, len);
  int err = check_conn(c, "uvgo_conn_read");
  if (err != 0)
    return err;
  if ((err = uvgo__net_need_task("uvgo_conn_read")) != 0)
    return err;
  if (buf == NULL || len == 0)
    return UVGO__MISUSE(UV_EINVAL, "NULL buffer or zero length");
  if (len > BUFSZ)
    len = BUFSZ; /* one lent buffer never exceeds the connection's own */
  c->o.ops++;
  ssize_t r;
  for (;;) {
    if (c->o.handle_closing) {
      r = UVGO_ECONNCLOSED;
      break;
    }
    if (c->end != c->start) {
      r = take_buffered(c, buf, len);
      break;
    }
    if (c->read_err != 0) {
      r = c->read_err;
      break;
    }
    if ((err = start_reading(c)) != 0) {
      r = err;
      break;
    }
    uvgo__net_reader me;
    me.buf = buf;
    me.len = len;
    uvgo__parker_prepare(&me.p, "uvgo_conn_read");
    uvgo__net_link_waiter(&c->o, &me);
    int why = uvgo__parker_wait_ctx(&me.p, UVGO__NO_DEADLINE, ctx);
    uvgo__net_unlink_waiter(&c->o, &me);
    if (why != 0) {
      /* > 0: bytes in buf. < 0: a context ended; libuv holds no pointer
       * to buf (alloc and read callbacks run back to back on this
       * thread), and reading stays on so the connection is unchanged. */
      r = why;
      break;
    }
  }
  uvgo__net_op_leave(&c->o);
  return r;
}

/* --- writing --- */

static void on_write(uv_write_t *req, int status) {
  uvgo__net_op_done(req->data, status);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  uvgo__net_op_done(req->data, status);
}

/* The only way to end a pending write or shutdown early is closing the
 * handle; its callback then comes with UV_ECANCELED. */
static void abort_conn(void *arg) { uvgo__net_close_handle(arg); }

/* A request the close of the handle ended reports UV_ECANCELED: that is
 * UVGO_ECONNCLOSED, unless this call's own context aborted it (op
 * cancelled), when the call returns the context's reason as it came back
 * from the wait (UV_ECANCELED or UV_ETIMEDOUT). */
static int closed_status(uvgo_conn *c, const uvgo__net_op *op, int status) {
  if (status == UV_ECANCELED && c->o.handle_closing && !op->cancelled)
    return UVGO_ECONNCLOSED;
  return status;
}

int uvgo_conn_write(uvgo_ctx *ctx, uvgo_conn *c, const void *buf,
                    size_t len) {
  if (LAYERED(c))
    return c->ops->write(ctx, c, buf, len);
  int err = check_conn(c, "uvgo_conn_write");
  if (err != 0)
    return err;
  if ((err = uvgo__net_need_task("uvgo_conn_write")) != 0)
    return err;
  if (buf == NULL && len > 0)
    return UVGO__MISUSE(UV_EINVAL, "NULL buffer");
  if (c->o.handle_closing)
    return UVGO_ECONNCLOSED;
  if (len == 0)
    return 0;
  uv_buf_t b = uv_buf_init((char *)buf, 0);
  b.len = len; /* size_t on Unix: no 4 GiB cap */
  int n = uv_try_write(&c->o.h.stream, &b, 1);
  if (n > 0) {
    if ((size_t)n == len)
      return 0;
    b.base += n;
    b.len -= (size_t)n;
  } else if (n != UV_EAGAIN && n != UV_ENOSYS) {
    return n;
  }
  c->o.ops++;
  uv_write_t req;
  uvgo__net_op op = {0};
  req.data = &op;
  err = uv_write(&req, &c->o.h.stream, &b, 1, on_write);
  if (err == 0) {
    err = uvgo__net_op_wait(&op, ctx, "uvgo_conn_write", abort_conn, &c->o);
    err = closed_status(c, &op, err);
  }
  uvgo__net_op_leave(&c->o);
  return err;
}

int uvgo_conn_shutdown(uvgo_ctx *ctx, uvgo_conn *c) {
  if (LAYERED(c))
    return c->ops->shutdown(ctx, c);
  int err = check_conn(c, "uvgo_conn_shutdown");
  if (err != 0)
    return err;
  if ((err = uvgo__net_need_task("uvgo_conn_shutdown")) != 0)
    return err;
  if (c->o.handle_closing)
    return UVGO_ECONNCLOSED;
  c->o.ops++;
  uv_shutdown_t req;
  uvgo__net_op op = {0};
  req.data = &op;
  err = uv_shutdown(&req, &c->o.h.stream, on_shutdown);
  if (err == 0) {
    err = uvgo__net_op_wait(&op, ctx, "uvgo_conn_shutdown", abort_conn, &c->o);
    err = closed_status(c, &op, err);
  }
  uvgo__net_op_leave(&c->o);
  return err;
}

int uvgo_conn_close(uvgo_conn *c) {
  if (LAYERED(c))
    return c->ops->close(c);
  return uvgo__net_close(c != NULL ? &c->o : NULL, UVGO__CONN_MAGIC,
                         "uvgo_conn_close");
}

/* --- addresses and options --- */

static int pipe_name(uvgo_conn *c, bool peer, struct sockaddr_storage *out) {
  struct sockaddr_un *un = (struct sockaddr_un *)out;
  memset(out, 0, sizeof *out);
  un->sun_family = AF_UNIX;
  size_t size = sizeof un->sun_path;
  int err = peer ? uv_pipe_getpeername(&c->o.h.pipe, un->sun_path, &size)
                 : uv_pipe_getsockname(&c->o.h.pipe, un->sun_path, &size);
  if (err == UV_ENOBUFS)
    err = 0; /* a name filling sun_path exactly has no NUL: still valid */
  return err;
}

static int addr(uvgo_conn *c, bool peer, struct sockaddr_storage *out,
                const char *call) {
  if (LAYERED(c))
    return c->ops->addr(c, peer, out);
  int err = check_conn(c, call);
  if (err != 0)
    return err;
  if (out == NULL)
    return uvgo__misuse(UV_EINVAL, call, "NULL out",
                        __builtin_return_address(0));
  if (c->o.handle_closing)
    return UVGO_ECONNCLOSED;
  if (c->o.is_pipe)
    return pipe_name(c, peer, out);
  int len = (int)sizeof *out;
  return peer ? uv_tcp_getpeername(&c->o.h.tcp, (struct sockaddr *)out, &len)
              : uv_tcp_getsockname(&c->o.h.tcp, (struct sockaddr *)out, &len);
}

int uvgo_conn_local_addr(uvgo_conn *c, struct sockaddr_storage *out) {
  return addr(c, false, out, "uvgo_conn_local_addr");
}

int uvgo_conn_peer_addr(uvgo_conn *c, struct sockaddr_storage *out) {
  return addr(c, true, out, "uvgo_conn_peer_addr");
}

static int tcp_option(uvgo_conn *c, const char *call) {
  int err = check_conn(c, call);
  if (err != 0)
    return err;
  if (c->o.handle_closing)
    return UVGO_ECONNCLOSED;
  if (c->o.is_pipe)
    return UV_ENOTSUP;
  return 0;
}

int uvgo_conn_set_nodelay(uvgo_conn *c, int enable) {
  if (LAYERED(c))
    return c->ops->set_nodelay(c, enable);
  int err = tcp_option(c, "uvgo_conn_set_nodelay");
  return err != 0 ? err : uv_tcp_nodelay(&c->o.h.tcp, enable != 0);
}

int uvgo_conn_set_keepalive(uvgo_conn *c, int enable, unsigned delay_s) {
  if (LAYERED(c))
    return c->ops->set_keepalive(c, enable, delay_s);
  int err = tcp_option(c, "uvgo_conn_set_keepalive");
  if (err != 0)
    return err;
  if (enable && delay_s == 0)
    return UVGO__MISUSE(UV_EINVAL, "keep-alive delay of 0 s");
  return uv_tcp_keepalive(&c->o.h.tcp, enable != 0, delay_s);
}
