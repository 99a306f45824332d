/* Listening and accepting (Go's net.Listen and Listener.Accept).
 *
 * libuv accepts one connection, calls on_connection, and when nobody takes
 * it with uv_accept there and then it stops watching the socket until
 * someone does. uvgo leans on that: on_connection only marks the listener
 * pending and wakes an accepter, and the accepter (a task) does uv_accept.
 * Connections nobody accepts stay in the kernel's backlog, never in
 * uvgo's memory. */
#include <errno.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/net_internal.h"

static int check_ln(uvgo_listener *ln, const char *call) {
  return uvgo__net_check(ln != NULL ? &ln->o : NULL, UVGO__LISTENER_MAGIC,
                         call);
}

static void on_connection(uv_stream_t *server, int status) {
  uvgo_listener *ln = server->data;
  if (status < 0)
    ln->pending_err = status; /* EMFILE: libuv already dropped the backlog */
  else
    ln->pending = true;
  /* One connection: wake one accepter (the first a context has not
   * already claimed). */
  for (uvgo__net_reader *r = ln->o.waiters; r != NULL; r = r->next)
    if (uvgo__parker_claim(&r->p, 0)) {
      uvgo__parker_wake(&r->p);
      return;
    }
}

static uvgo_listener *listener_new(bool is_pipe) {
  uvgo_listener *ln = uvgo__calloc(1, sizeof *ln);
  if (ln == NULL)
    return NULL;
  ln->o.magic = UVGO__LISTENER_MAGIC;
  ln->o.is_pipe = is_pipe;
  ln->o.home = uvgo__tls_worker;
  return ln;
}

/* A TCP handle for sa's family; shared: with SO_REUSEPORT set before the
 * bind (libuv 1.44 has no flag for it, so make the socket here). */
static int open_tcp(uvgo_listener *ln, const struct sockaddr *sa, bool shared,
                    bool *inited) {
  uv_loop_t *loop = uvgo__tls_worker->loop;
  *inited = false;
  if (!shared)
    return uv_tcp_init_ex(loop, &ln->o.h.tcp, sa->sa_family);
#ifdef SO_REUSEPORT
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  int one = 1;
  int err = 0;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    err = -errno;
  if (err == 0)
    err = uv_tcp_init(loop, &ln->o.h.tcp);
  if (err != 0) {
    close(fd);
    return err;
  }
  *inited = true;
  err = uv_tcp_open(&ln->o.h.tcp, fd);
  if (err != 0)
    close(fd); /* not adopted by the handle */
  return err;
#else
  (void)ln;
  (void)sa;
  (void)loop;
  (void)inited;
  return UV_ENOTSUP;
#endif
}

static int listen_tcp(const char *host, unsigned port, int backlog,
                      bool shared, uvgo_listener **out) {
  if (out == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL out");
  *out = NULL;
  if (port > 65535)
    return UVGO__MISUSE(UV_EINVAL, "port out of range (0..65535)");
  int err = uvgo__net_need_task("uvgo_listen");
  if (err != 0)
    return err;
  uvgo__net_addrs addrs;
  err = uvgo__net_resolve(NULL, host, port, true, &addrs);
  if (err != 0)
    return err;
  if (uvgo__fault_fire(UVGO_FAULT_SOCKET))
    return UV_EMFILE;
  uvgo_listener *ln = listener_new(false);
  if (ln == NULL)
    return UV_ENOMEM;
  const struct sockaddr *sa = (const struct sockaddr *)&addrs.a[0];
  bool inited;
  err = open_tcp(ln, sa, shared, &inited);
  if (err != 0) {
    if (inited)
      uvgo__net_destroy(&ln->o);
    else
      uvgo__net_free(&ln->o); /* a failed init leaves no handle behind */
    return err;
  }
  uvgo__net_adopt(&ln->o);
  err = uv_tcp_bind(&ln->o.h.tcp, sa, 0);
  if (err == 0)
    err = uv_listen(&ln->o.h.stream, backlog > 0 ? backlog : SOMAXCONN,
                    on_connection);
  struct sockaddr_storage bound;
  int len = (int)sizeof bound;
  if (err == 0)
    err = uv_tcp_getsockname(&ln->o.h.tcp, (struct sockaddr *)&bound, &len);
  if (err != 0) {
    uvgo__net_destroy(&ln->o);
    return err;
  }
  ln->port = ntohs(bound.ss_family == AF_INET6
                       ? ((struct sockaddr_in6 *)&bound)->sin6_port
                       : ((struct sockaddr_in *)&bound)->sin_port);
  *out = ln;
  return 0;
}

int uvgo_listen(const char *host, unsigned port, int backlog,
                uvgo_listener **out) {
  return listen_tcp(host, port, backlog, false, out);
}

int uvgo_listen_shared(const char *host, unsigned port, int backlog,
                       uvgo_listener **out) {
  return listen_tcp(host, port, backlog, true, out);
}

int uvgo_listen_unix(const char *path, int backlog, uvgo_listener **out) {
  if (out == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL out");
  *out = NULL;
  if (path == NULL || path[0] == '\0')
    return UVGO__MISUSE(UV_EINVAL, "NULL or empty path");
  int err = uvgo__net_need_task("uvgo_listen_unix");
  if (err != 0)
    return err;
  if (uvgo__fault_fire(UVGO_FAULT_SOCKET))
    return UV_EMFILE;
  uvgo_listener *ln = listener_new(true);
  if (ln == NULL)
    return UV_ENOMEM;
  err = uv_pipe_init(uvgo__tls_worker->loop, &ln->o.h.pipe, 0);
  if (err != 0) {
    uvgo__net_free(&ln->o);
    return err;
  }
  uvgo__net_adopt(&ln->o);
  err = uv_pipe_bind(&ln->o.h.pipe, path);
  if (err == 0)
    err = uv_listen(&ln->o.h.stream, backlog > 0 ? backlog : SOMAXCONN,
                    on_connection);
  if (err != 0) {
    uvgo__net_destroy(&ln->o);
    return err;
  }
  *out = ln;
  return 0;
}

unsigned uvgo_listener_port(uvgo_listener *ln) {
  if (check_ln(ln, "uvgo_listener_port") != 0)
    return 0;
  return ln->port;
}

/* Take libuv's pending connection into a new conn. */
static int take_pending(uvgo_listener *ln, uvgo_conn **out) {
  if (uvgo__fault_fire(UVGO_FAULT_SOCKET))
    return UV_EMFILE; /* the connection stays pending for the next call */
  uvgo_conn *c = uvgo__conn_new(ln->o.is_pipe);
  if (c == NULL)
    return UV_ENOMEM; /* likewise */
  uv_loop_t *loop = uvgo__tls_worker->loop;
  int err = ln->o.is_pipe ? uv_pipe_init(loop, &c->o.h.pipe, 0)
                          : uv_tcp_init(loop, &c->o.h.tcp);
  if (err != 0) {
    uvgo__net_free(&c->o);
    return err;
  }
  uvgo__net_adopt(&c->o);
  /* uv_accept consumes the pending descriptor even when it fails. */
  ln->pending = false;
  err = uv_accept(&ln->o.h.stream, &c->o.h.stream);
  if (err != 0) {
    uvgo__net_destroy(&c->o);
    return err;
  }
  if (!ln->o.is_pipe)
    uv_tcp_nodelay(&c->o.h.tcp, 1);
  *out = c;
  return 0;
}

int uvgo_accept(uvgo_ctx *ctx, uvgo_listener *ln, uvgo_conn **out) {
  if (out == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL out");
  *out = NULL;
  int err = check_ln(ln, "uvgo_accept");
  if (err != 0)
    return err;
  if ((err = uvgo__net_need_task("uvgo_accept")) != 0)
    return err;
  ln->o.ops++;
  for (;;) {
    if (ln->o.handle_closing) {
      err = UVGO_ECONNCLOSED;
      break;
    }
    if (ln->pending_err != 0) {
      err = ln->pending_err;
      ln->pending_err = 0;
      break;
    }
    if (ln->pending) {
      err = take_pending(ln, out);
      break;
    }
    uvgo__net_reader me = {0};
    uvgo__parker_prepare(&me.p, "uvgo_accept");
    uvgo__net_link_waiter(&ln->o, &me);
    int why = uvgo__parker_wait_ctx(&me.p, UVGO__NO_DEADLINE, ctx);
    uvgo__net_unlink_waiter(&ln->o, &me);
    if (why < 0) {
      err = why;
      break;
    }
  }
  uvgo__net_op_leave(&ln->o);
  return err;
}

int uvgo_listener_close(uvgo_listener *ln) {
  if (ln == NULL)
    return 0;
  /* Go removes a Unix listener's socket file on close; so do we. */
  char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  path[0] = '\0';
  if (ln->o.magic == UVGO__LISTENER_MAGIC && ln->o.is_pipe &&
      ln->o.home == uvgo__tls_worker && !ln->o.close_called) {
    size_t size = sizeof path;
    if (uv_pipe_getsockname(&ln->o.h.pipe, path, &size) != 0)
      path[0] = '\0';
  }
  int err = uvgo__net_close(&ln->o, UVGO__LISTENER_MAGIC,
                            "uvgo_listener_close");
  if (err == 0 && path[0] != '\0')
    unlink(path);
  return err;
}
