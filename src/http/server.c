/* The HTTP server: the accept loop, one pinned task per connection, the
 * registry of connections a shutdown walks, and serving on every worker.
 *
 * Everything of one server (the accept loop, its connections' tasks, the
 * registry) lives on one worker, the listener's: connection tasks are
 * spawned pinned there, so the registry needs no lock and a shutdown sees
 * every connection in a definite state (waiting for a request, or inside
 * one). uvgo_http_serve_shared runs one such server per worker. */
#include <arpa/inet.h>
#include <string.h>

#include "http/server_internal.h"
#include "net/net_internal.h"
#include "uvgo/tls.h"

static uint64_t or_default(uint64_t v, uint64_t def) { return v ? v : def; }

void uvgo__hsrv_config_fill(uvgo_http_server_config *out,
                            const uvgo_http_server_config *in) {
  if (in != NULL)
    *out = *in;
  else
    memset(out, 0, sizeof *out);
  out->read_header_timeout_ms = or_default(out->read_header_timeout_ms, 10000);
  out->idle_timeout_ms = or_default(out->idle_timeout_ms, 60000);
  out->body_read_timeout_ms = or_default(out->body_read_timeout_ms, 30000);
  out->write_timeout_ms = or_default(out->write_timeout_ms, 30000);
  out->shutdown_timeout_ms = or_default(out->shutdown_timeout_ms, 5000);
  if (out->max_header_bytes == 0)
    out->max_header_bytes = 32 * 1024;
  if (out->max_headers == 0)
    out->max_headers = 100;
  out->max_body_bytes = or_default(out->max_body_bytes, 10u * 1024 * 1024);
}

/* A deadline `ms` from now, or none (UINT64_MAX). */
uint64_t uvgo__hsrv_deadline(uint64_t ms) {
  if (ms == UVGO_HTTP_NO_TIMEOUT)
    return UINT64_MAX;
  uint64_t now = uvgo_now_ms();
  return ms > UINT64_MAX - now ? UINT64_MAX : now + ms;
}

/* A context under the server's abort context ending at deadline (or the
 * abort context itself, retained, for none). NULL on ENOMEM. */
uvgo_ctx *uvgo__hsrv_ctx_until(uvgo__hsrv *srv, uint64_t deadline) {
  uvgo_ctx *c = NULL;
  if (deadline == UINT64_MAX) {
    if (uvgo_ctx_retain(srv->abort_ctx) != 0)
      return NULL;
    return srv->abort_ctx;
  }
  if (uvgo_ctx_with_deadline(srv->abort_ctx, deadline, &c) != 0)
    return NULL;
  return c;
}

static void conn_link(uvgo__hsrv *srv, uvgo__hconn *c) {
  c->prev = NULL;
  c->next = srv->conns;
  if (srv->conns != NULL)
    srv->conns->prev = c;
  srv->conns = c;
}

void uvgo__hsrv_conn_unlink(uvgo__hconn *c) {
  uvgo__hsrv *srv = c->srv;
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    srv->conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  c->prev = c->next = NULL;
}

/* The connection task's body: TLS first if configured, then the request
 * loop (server_conn.c). The last thing it touches is the server's
 * WaitGroup: the server may be freed the moment it reaches zero. */
static void conn_task(void *arg) {
  uvgo__hconn *c = arg;
  uvgo__hsrv *srv = c->srv;
  if (srv->cfg.tls != NULL) {
    uvgo_ctx *hs = uvgo__hsrv_ctx_until(
        srv, uvgo__hsrv_deadline(srv->cfg.read_header_timeout_ms));
    uvgo_conn *tls = NULL;
    c->wait_ctx = hs; /* a shutdown may end the handshake like an idle wait */
    int err = hs != NULL ? uvgo_tls_server(hs, c->conn, srv->cfg.tls, &tls)
                         : UV_ENOMEM;
    c->wait_ctx = NULL;
    uvgo_ctx_release(hs);
    if (err != 0) {
      uvgo_conn_close(c->conn);
      c->conn = NULL;
    } else {
      c->conn = tls;
    }
  }
  if (c->conn != NULL)
    uvgo__hconn_serve(c);
  uvgo__hsrv_conn_unlink(c);
  uvgo__hconn_free(c);
  uvgo_wg_done(&srv->wg);
}

/* Shutdown, step 2: end every wait for a request; connections inside a
 * request see srv->shutting_down when it ends and close. */
static void close_idle(uvgo__hsrv *srv) {
  for (uvgo__hconn *c = srv->conns; c != NULL; c = c->next)
    if (c->wait_ctx != NULL)
      uvgo_ctx_cancel(c->wait_ctx);
}

static void drain(uvgo__hsrv *srv) {
  srv->shutting_down = true;
  close_idle(srv);
  if (srv->cfg.shutdown_timeout_ms == UVGO_HTTP_NO_TIMEOUT) {
    uvgo_wg_wait(&srv->wg);
    return;
  }
  if (uvgo_wg_wait_timeout(&srv->wg, srv->cfg.shutdown_timeout_ms) != 0) {
    /* Step 3: abort what is still running; every blocking call of those
     * tasks is a cancellation point under abort_ctx. */
    uvgo_ctx_cancel(srv->abort_ctx);
    uvgo_wg_wait(&srv->wg);
  }
}

/* Accept until ctx ends or the listener fails for good. */
static int accept_loop(uvgo__hsrv *srv, uvgo_ctx *ctx, uvgo_listener *ln) {
  unsigned worker = (unsigned)uvgo_worker_id();
  for (;;) {
    uvgo_conn *conn;
    int err = uvgo_accept(ctx, ln, &conn);
    if (err == UV_ECANCELED || err == UV_ETIMEDOUT)
      return 0;
    if (err == UVGO_ECONNCLOSED)
      return err;
    if (err != 0) {
      /* EMFILE / ENOMEM: the listener keeps listening; breathe a little
       * so a descriptor shortage is not a busy loop. */
      if (uvgo_sleep(10) != 0 || uvgo_ctx_err(ctx) != 0)
        return 0;
      continue;
    }
    uvgo__hconn *c = uvgo__hconn_new(srv, conn);
    if (c == NULL) {
      uvgo_conn_close(conn);
      continue;
    }
    conn_link(srv, c);
    uvgo_wg_add(&srv->wg, 1);
    uvgo_spawn_opts o = {0};
    o.worker = (int)worker;
    o.ctx = srv->abort_ctx;
    o.stack_size = srv->cfg.stack_size;
    o.name = "http conn";
    if (uvgo_go_opts(&o, conn_task, c) != 0) {
      uvgo__hsrv_conn_unlink(c);
      uvgo_conn_close(c->conn);
      c->conn = NULL;
      uvgo__hconn_free(c);
      uvgo_wg_done(&srv->wg);
      uvgo_sleep(1); /* task limit or ENOMEM: let others finish */
    }
  }
}

int uvgo_http_serve(uvgo_ctx *ctx, uvgo_listener *ln,
                    const uvgo_http_server_config *cfg,
                    uvgo_http_handler handler, void *arg) {
  if (ln == NULL)
    return UV_EINVAL;
  if (handler == NULL || uvgo_self() == NULL) {
    int e = handler == NULL ? UV_EINVAL : UVGO_ENOTTASK;
    uvgo_listener_close(ln);
    return e;
  }
  if (ctx == NULL)
    ctx = uvgo_ctx_current();
  if (uvgo_listener_port(ln) == 0 && !ln->o.is_pipe) {
    /* Wrong worker (or freed): the listener cannot be used from here. */
    return UV_EINVAL;
  }
  uvgo__hsrv *srv = uvgo__calloc(1, sizeof *srv);
  if (srv == NULL) {
    uvgo_listener_close(ln);
    return UV_ENOMEM;
  }
  uvgo__hsrv_config_fill(&srv->cfg, cfg);
  srv->handler = handler;
  srv->arg = arg;
  if (uvgo_ctx_with_cancel(uvgo_ctx_background(), &srv->abort_ctx) != 0) {
    uvgo__free(srv);
    uvgo_listener_close(ln);
    return UV_ENOMEM;
  }
  if (srv->cfg.tls != NULL)
    uvgo_tls_config_retain(srv->cfg.tls);
  int err = accept_loop(srv, ctx, ln);
  /* Step 1 of the shutdown: stop accepting, so new connections are
   * refused instead of waiting in a backlog nobody reads. */
  uvgo_listener_close(ln);
  drain(srv);
  uvgo_ctx_cancel(srv->abort_ctx);
  uvgo_ctx_release(srv->abort_ctx);
  if (srv->cfg.tls != NULL)
    uvgo_tls_config_release(srv->cfg.tls);
  uvgo__free(srv);
  return err;
}

/* --- every worker --- */

typedef struct shared_run {
  uvgo_ctx *ctx;           /* the caller's; ends every server */
  uvgo_ctx *stop;          /* child of ctx: also ended by a failing worker */
  const uvgo_http_server_config *cfg;
  uvgo_http_handler handler;
  void *arg;
  char host[INET6_ADDRSTRLEN];
  unsigned port;
  uvgo_wg wg;
  int first_err;
} shared_run;

typedef struct shared_one {
  shared_run *run;
  uvgo_listener *ln; /* the caller's, for worker 0's part; else NULL */
} shared_one;

/* Keep the first error (tasks of several workers report) and stop every
 * server. */
static void shared_note(shared_run *run, int err) {
  if (err == 0)
    return;
  int zero = 0;
  __atomic_compare_exchange_n(&run->first_err, &zero, err, false,
                              __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
  uvgo_ctx_cancel(run->stop);
}

static void shared_worker(void *arg) {
  shared_one *one = arg;
  shared_run *run = one->run;
  uvgo_listener *ln = one->ln;
  int err = 0;
  if (ln == NULL)
    err = uvgo_listen_shared(run->host, run->port, 0, &ln);
  if (err == 0)
    err = uvgo_http_serve(run->stop, ln, run->cfg, run->handler, run->arg);
  shared_note(run, err);
  uvgo_wg_done(&run->wg);
}

int uvgo_http_serve_shared(uvgo_ctx *ctx, uvgo_listener *ln,
                           const uvgo_http_server_config *cfg,
                           uvgo_http_handler handler, void *arg) {
  if (ln == NULL)
    return UV_EINVAL;
  if (handler == NULL || uvgo_self() == NULL || ln->o.is_pipe) {
    int e = uvgo_self() == NULL ? UVGO_ENOTTASK : UV_EINVAL;
    uvgo_listener_close(ln);
    return e;
  }
  if (ctx == NULL)
    ctx = uvgo_ctx_current();
  if (uvgo_listener_port(ln) == 0)
    return UV_EINVAL; /* another worker's listener: not ours to close */
  struct sockaddr_storage ss;
  int len = (int)sizeof ss;
  int err = uv_tcp_getsockname(&ln->o.h.tcp, (struct sockaddr *)&ss, &len);
  shared_run run;
  memset(&run, 0, sizeof run);
  if (err == 0) {
    if (ss.ss_family == AF_INET6) {
      struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
      uv_ip6_name(a, run.host, sizeof run.host);
      run.port = ntohs(a->sin6_port);
    } else {
      struct sockaddr_in *a = (struct sockaddr_in *)&ss;
      uv_ip4_name(a, run.host, sizeof run.host);
      run.port = ntohs(a->sin_port);
    }
    err = uvgo_ctx_with_cancel(ctx, &run.stop);
  }
  if (err != 0) {
    uvgo_listener_close(ln);
    return err;
  }
  run.ctx = ctx;
  run.cfg = cfg;
  run.handler = handler;
  run.arg = arg;
  unsigned n = uvgo_worker_count();
  unsigned me = (unsigned)uvgo_worker_id();
  shared_one *ones = uvgo__calloc(n, sizeof *ones);
  if (ones == NULL) {
    uvgo_ctx_cancel(run.stop);
    uvgo_ctx_release(run.stop);
    uvgo_listener_close(ln);
    return UV_ENOMEM;
  }
  for (unsigned w = 0; w < n; w++) {
    if (w == me)
      continue;
    ones[w].run = &run;
    uvgo_wg_add(&run.wg, 1);
    int e = uvgo_go_on(w, shared_worker, &ones[w]);
    if (e != 0) {
      uvgo_wg_done(&run.wg);
      shared_note(&run, e);
    }
  }
  ones[me].run = &run;
  ones[me].ln = ln;
  uvgo_wg_add(&run.wg, 1);
  shared_worker(&ones[me]);
  uvgo_wg_wait(&run.wg);
  uvgo__free(ones);
  uvgo_ctx_cancel(run.stop);
  uvgo_ctx_release(run.stop);
  return __atomic_load_n(&run.first_err, __ATOMIC_ACQUIRE);
}
