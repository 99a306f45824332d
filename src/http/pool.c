/* The client's connection pools (client_internal.h): origins, per-worker
 * idle lists, the in-flight tokens, and making a new connection (dial,
 * the proxy's CONNECT tunnel, the TLS handshake), each phase under its own
 * limit. */
#include <stdio.h>
#include <string.h>

#include "http/client_internal.h"

/* --- phase limits --- */

int uvgo__http_phase_ctx(uvgo_ctx *ctx, uint64_t ms, uvgo_ctx **out) {
  *out = NULL;
  if (ms == 0)
    return 0;
  return uvgo_ctx_with_timeout(ctx != NULL ? ctx : uvgo_ctx_current(), ms,
                               out);
}

/* err came from a call bounded by `phase` (a child of ctx, or NULL): a
 * timeout of the phase alone is the phase's error. */
int uvgo__http_phase_err(uvgo_ctx *ctx, uvgo_ctx *phase, int err,
                         int phase_err) {
  if (phase == NULL || err != UV_ETIMEDOUT)
    return err;
  uvgo_ctx *outer = ctx != NULL ? ctx : uvgo_ctx_current();
  if (uvgo_ctx_err(outer) != 0 || uvgo_ctx_err(uvgo_ctx_current()) != 0)
    return err;
  return uvgo_ctx_err(phase) == UV_ETIMEDOUT ? phase_err : err;
}

static void phase_end(uvgo_ctx *phase) {
  if (phase != NULL) {
    uvgo_ctx_cancel(phase);
    uvgo_ctx_release(phase);
  }
}

/* --- origins --- */

static void origin_free(uvgo__http_origin *o) {
  uvgo__free(o->key);
  uvgo__free(o->host);
  uvgo__free(o->proxy_auth);
  if (o->proxy != NULL) {
    uvgo__http_url_free(o->proxy);
    uvgo__free(o->proxy);
  }
  uvgo__free(o);
}

/* Proxy-Authorization for a proxy URL's user:pass (Basic), or NULL. */
static int proxy_auth(const uvgo__http_url *p, char **out) {
  *out = NULL;
  if (p->userinfo == NULL)
    return 0;
  static const char b64[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const unsigned char *in = (const unsigned char *)p->userinfo;
  size_t n = strlen(p->userinfo);
  char *s = uvgo__malloc(6 + (n + 2) / 3 * 4 + 1);
  if (s == NULL)
    return UV_ENOMEM;
  memcpy(s, "Basic ", 6);
  char *o = s + 6;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16;
    if (i + 1 < n)
      v |= (uint32_t)in[i + 1] << 8;
    if (i + 2 < n)
      v |= in[i + 2];
    *o++ = b64[(v >> 18) & 63];
    *o++ = b64[(v >> 12) & 63];
    *o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
    *o++ = i + 2 < n ? b64[v & 63] : '=';
  }
  *o = '\0';
  *out = s;
  return 0;
}

static int origin_new(uvgo_http_client *c, const uvgo__http_url *u,
                      const uvgo__http_url *proxy, const char *key,
                      uvgo__http_origin **out) {
  uvgo__http_origin *o = uvgo__calloc(1, sizeof *o);
  if (o == NULL)
    return UV_ENOMEM;
  o->key = uvgo__strdup(key);
  o->host = uvgo__strdup(u->host);
  o->https = u->https;
  o->port = u->port;
  int err = (o->key == NULL || o->host == NULL) ? UV_ENOMEM : 0;
  if (err == 0 && proxy != NULL) {
    o->proxy = uvgo__calloc(1, sizeof *o->proxy);
    if (o->proxy == NULL)
      err = UV_ENOMEM;
    else
      err = uvgo__http_url_parse(proxy->text, o->proxy);
    if (err != 0) {
      uvgo__free(o->proxy);
      o->proxy = NULL;
    }
    if (err == 0)
      err = proxy_auth(proxy, &o->proxy_auth);
  }
  if (err != 0) {
    origin_free(o);
    return err;
  }
  o->limited = c->cfg.max_conns_per_host != 0;
  uvgo_sem_init(&o->busy, o->limited ? c->cfg.max_conns_per_host : 1);
  *out = o;
  return 0;
}

int uvgo__http_origin_get(uvgo_http_client *c, const uvgo__http_url *u,
                          uvgo__http_origin **out) {
  const uvgo__http_url *proxy =
      c->cfg.proxy_from_environment ? uvgo__http_proxy_for(&c->proxy, u) : NULL;
  /* Found by its fields (the key is for people); the proxy by identity,
   * as the client's proxy list never changes. */
  uv_mutex_lock(&c->lock);
  uvgo__http_origin *o = c->origins;
  while (o != NULL && !(o->https == u->https && o->port == u->port &&
                        o->via == proxy && strcmp(o->host, u->host) == 0))
    o = o->next;
  uv_mutex_unlock(&c->lock);
  if (o != NULL) {
    *out = o;
    return 0;
  }
  char key[600];
  char auth[300];
  if (uvgo__http_url_authority(u, true, auth, sizeof auth) != 0)
    return UVGO_EHTTPBADURL;
  int n = snprintf(key, sizeof key, "%s://%s%s%s", u->https ? "https" : "http",
                   auth, proxy != NULL ? " via " : "",
                   proxy != NULL ? proxy->text : "");
  if (n < 0 || (size_t)n >= sizeof key)
    return UVGO_EHTTPBADURL;
  uvgo__http_origin *made;
  int err = origin_new(c, u, proxy, key, &made);
  if (err != 0)
    return err;
  made->via = proxy;
  uv_mutex_lock(&c->lock);
  /* Another task may have made it meanwhile: keep the first. */
  for (o = c->origins; o != NULL && strcmp(o->key, key) != 0; o = o->next)
    ;
  if (o == NULL) {
    made->next = c->origins;
    c->origins = made;
    o = made;
    made = NULL;
  }
  uv_mutex_unlock(&c->lock);
  if (made != NULL)
    origin_free(made);
  *out = o;
  return 0;
}

/* --- idle lists --- */

static uvgo__http_idle_list *idle_here(uvgo__http_origin *o) {
  return &o->idle[uvgo_worker_id()];
}

static void idle_unlink(uvgo__http_idle_list *l, uvgo__http_pconn *pc) {
  if (pc->prev != NULL)
    pc->prev->next = pc->next;
  else
    l->head = pc->next;
  if (pc->next != NULL)
    pc->next->prev = pc->prev;
  else
    l->tail = pc->prev;
  pc->prev = pc->next = NULL;
  l->n--;
}

static void idle_push(uvgo__http_idle_list *l, uvgo__http_pconn *pc) {
  pc->prev = NULL;
  pc->next = l->head;
  if (l->head != NULL)
    l->head->prev = pc;
  else
    l->tail = pc;
  l->head = pc;
  l->n++;
}

/* Close and free a connection of the pool (any state). */
static void pconn_destroy(uvgo_http_client *c, uvgo__http_pconn *pc) {
  if (pc->conn != NULL)
    uvgo_conn_close(pc->conn);
  atomic_fetch_sub(&pc->origin->open, 1);
  uvgo__http_parser_free(&pc->parser);
  uvgo__free(pc);
}

/* Closed by the server while idle? A read under an ended context returns
 * at once: buffered bytes or the recorded EOF/error if any, else the
 * context's error (alive). Bytes on an idle connection are a protocol
 * error too: either way it cannot be reused. */
static bool still_alive(uvgo_http_client *c, uvgo__http_pconn *pc) {
  char b;
  ssize_t r = uvgo_conn_read(c->expired, pc->conn, &b, 1);
  return r == UV_ECANCELED || r == UV_ETIMEDOUT;
}

/* Close idle connections of this worker older than the idle timeout
 * (oldest are at the tail). */
static void expire_here(uvgo_http_client *c, uvgo__http_idle_list *l,
                        uint64_t now) {
  while (l->tail != NULL &&
         now - l->tail->idle_since >= c->cfg.idle_conn_timeout_ms) {
    uvgo__http_pconn *pc = l->tail;
    idle_unlink(l, pc);
    atomic_fetch_sub(&c->idle, 1);
    pconn_destroy(c, pc);
  }
}

/* --- new connections --- */

/* CONNECT host:port through the proxy on raw (https via a proxy). */
static int proxy_connect(uvgo_ctx *ctx, uvgo_http_client *c,
                         uvgo__http_origin *o, uvgo__http_pconn *pc) {
  char auth[300], req[1024];
  uvgo__http_url target = {.https = true, .host = o->host, .port = o->port};
  target.host_ip6 = strchr(o->host, ':') != NULL;
  if (uvgo__http_url_authority(&target, true, auth, sizeof auth) != 0)
    return UVGO_EHTTPBADURL;
  int n = snprintf(req, sizeof req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s%s%s\r\n",
                   auth, auth, o->proxy_auth ? "Proxy-Authorization: " : "",
                   o->proxy_auth ? o->proxy_auth : "", o->proxy_auth ? "\r\n" : "");
  if (n < 0 || (size_t)n >= sizeof req)
    return UVGO_EHTTPBADURL;
  int err = uvgo_conn_write(ctx, pc->conn, req, (size_t)n);
  if (err != 0)
    return err;
  uvgo_http_headers h;
  uvgo__headers_init(&h, c->cfg.max_header_bytes, c->cfg.max_header_count);
  uvgo__http_parser_init(&pc->parser, UVGO__HTTP_RESPONSE, &h,
                         c->cfg.max_header_bytes);
  pc->parser.connect_request = true;
  while (err == 0 && !pc->parser.head_done) {
    if (pc->rstart == pc->rend) {
      ssize_t r = uvgo__http_pconn_fill(ctx, c, pc, 0, 0);
      if (r == UV_EOF)
        err = UVGO_EHTTPPROXY;
      else if (r < 0)
        err = (int)r;
      continue;
    }
    ssize_t used = uvgo__http_parser_feed(&pc->parser, pc->rbuf + pc->rstart,
                                          pc->rend - pc->rstart);
    if (used < 0)
      err = (int)used;
    else
      pc->rstart += (uint32_t)used;
  }
  if (err == 0 && !(pc->parser.status >= 200 && pc->parser.status < 300))
    err = UVGO_EHTTPPROXY;
  if (err == 0 && pc->rstart != pc->rend)
    err = UVGO_EHTTPPROXY; /* bytes before the TLS handshake: not ours */
  uvgo__headers_free(&h);
  uvgo__http_parser_free(&pc->parser);
  pc->rstart = pc->rend = 0;
  return err;
}

/* Dial (the proxy or the server), tunnel, TLS. On success pc->conn is the
 * connection requests are written to. */
static int pconn_open(uvgo_ctx *ctx, uvgo_http_client *c,
                      uvgo__http_origin *o, uvgo__http_pconn *pc) {
  const char *host = o->proxy != NULL ? o->proxy->host : o->host;
  unsigned port = o->proxy != NULL ? o->proxy->port : o->port;
  uvgo_ctx *phase;
  int err = uvgo__http_phase_ctx(ctx, c->cfg.dial_timeout_ms, &phase);
  if (err != 0)
    return err;
  err = uvgo_dial(phase != NULL ? phase : ctx, host, port, &pc->conn);
  err = uvgo__http_phase_err(ctx, phase, err, UVGO_EHTTPDIALTIMEOUT);
  phase_end(phase);
  if (err != 0) {
    pc->conn = NULL;
    return err;
  }
  atomic_fetch_add(&c->dials, 1);
  if (o->proxy != NULL && o->https)
    err = proxy_connect(ctx, c, o, pc);
  if (err == 0 && o->https) {
    err = uvgo__http_phase_ctx(ctx, c->cfg.tls_handshake_timeout_ms, &phase);
    uvgo_conn *tls = NULL;
    if (err == 0) {
      err = uvgo_tls_client(phase != NULL ? phase : ctx, pc->conn, c->tls,
                            o->host, &tls);
      err = uvgo__http_phase_err(ctx, phase, err, UVGO_EHTTPTLSTIMEOUT);
      phase_end(phase);
    }
    if (err == 0)
      pc->conn = tls; /* owns the raw connection now */
  }
  if (err != 0) {
    uvgo_conn_close(pc->conn);
    pc->conn = NULL;
  }
  return err;
}

int uvgo__http_pool_get(uvgo_ctx *ctx, uvgo_http_client *c,
                        uvgo__http_origin *o, bool fresh,
                        uvgo__http_pconn **out, bool *reused) {
  *out = NULL;
  *reused = false;
  if (o->limited) {
    int err = uvgo_sem_acquire_ctx(&o->busy, 1,
                                   ctx != NULL ? ctx : uvgo_ctx_current());
    if (err != 0)
      return err;
  }
  uvgo__http_idle_list *l = idle_here(o);
  if (!fresh) {
    expire_here(c, l, uvgo_now_ms());
    while (l->head != NULL) {
      uvgo__http_pconn *pc = l->head;
      idle_unlink(l, pc);
      atomic_fetch_sub(&c->idle, 1);
      if (still_alive(c, pc)) {
        pc->no_reuse = false;
        atomic_fetch_add(&c->reuses, 1);
        *out = pc;
        *reused = true;
        return 0;
      }
      pconn_destroy(c, pc);
    }
  }
  uvgo__http_pconn *pc = uvgo__calloc(1, sizeof *pc);
  if (pc == NULL) {
    if (o->limited)
      uvgo_sem_release(&o->busy, 1);
    return UV_ENOMEM;
  }
  pc->origin = o;
  atomic_fetch_add(&o->open, 1);
  int err = pconn_open(ctx, c, o, pc);
  if (err != 0) {
    pconn_destroy(c, pc);
    if (o->limited)
      uvgo_sem_release(&o->busy, 1);
    return err;
  }
  *out = pc;
  return 0;
}

void uvgo__http_pool_put(uvgo_http_client *c, uvgo__http_pconn *pc,
                         bool reusable) {
  uvgo__http_origin *o = pc->origin;
  uvgo__http_idle_list *l = idle_here(o);
  /* Leftover input after a complete response is a server speaking out of
   * turn: never reuse such a connection. */
  if (reusable && pc->rstart != pc->rend)
    reusable = false;
  if (reusable && l->n < c->cfg.max_idle_per_host &&
      !(o->limited && atomic_load(&o->open) > c->cfg.max_conns_per_host)) {
    pc->served++;
    pc->rstart = pc->rend = 0;
    pc->idle_since = uvgo_now_ms();
    idle_push(l, pc);
    atomic_fetch_add(&c->idle, 1);
    expire_here(c, l, pc->idle_since);
  } else {
    pconn_destroy(c, pc);
  }
  if (o->limited)
    uvgo_sem_release(&o->busy, 1);
}

void uvgo__http_pool_close_idle_here(uvgo_http_client *c) {
  uv_mutex_lock(&c->lock);
  uvgo__http_origin *list = c->origins;
  uv_mutex_unlock(&c->lock);
  /* Origins are only ever prepended and freed with the client: walking
   * the snapshot without the lock is safe. */
  for (uvgo__http_origin *o = list; o != NULL; o = o->next) {
    uvgo__http_idle_list *l = idle_here(o);
    while (l->head != NULL) {
      uvgo__http_pconn *pc = l->head;
      idle_unlink(l, pc);
      atomic_fetch_sub(&c->idle, 1);
      pconn_destroy(c, pc);
    }
  }
}

bool uvgo__http_pool_has_idle(uvgo_http_client *c) {
  return atomic_load(&c->idle) != 0;
}

void uvgo__http_pool_free(uvgo_http_client *c) {
  while (c->origins != NULL) {
    uvgo__http_origin *o = c->origins;
    c->origins = o->next;
    origin_free(o);
  }
}
