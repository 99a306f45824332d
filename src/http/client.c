/* The HTTP/1.1 client: clients (new, free, the runtime's default), a
 * request's round trip on a pooled connection (write the request, read
 * the response head, Expect: 100-continue, the retry on a connection the
 * server had closed), and redirects. Bodies are in body.c, pools in
 * pool.c. */
#include <stdio.h>
#include <string.h>

#include "http/client_internal.h"

/* --- clients --- */

static int make_tls_config(uvgo_http_client *c,
                           const uvgo_http_client_config *cfg) {
  if (cfg != NULL && cfg->tls != NULL) {
    int err = uvgo_tls_config_retain(cfg->tls);
    if (err == 0)
      c->tls = cfg->tls;
    return err;
  }
  int err = uvgo_tls_config_new(&c->tls);
  if (err != 0)
    return err;
  static const char *const alpn[] = {"http/1.1"};
  return uvgo_tls_config_set_alpn(c->tls, alpn, 1);
}

int uvgo_http_client_new(const uvgo_http_client_config *cfg,
                         uvgo_http_client **out) {
  if (out == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL out");
  *out = NULL;
  if (cfg != NULL && cfg->max_redirects > UVGO_HTTP_MAX_REDIRECTS)
    return UVGO__MISUSE(UV_EINVAL, "max_redirects above 10");
  uvgo_http_client *c = uvgo__calloc(1, sizeof *c);
  if (c == NULL)
    return UV_ENOMEM;
  if (cfg != NULL)
    c->cfg = *cfg;
  uvgo_http_client_config *k = &c->cfg;
  if (k->max_idle_per_host == 0)
    k->max_idle_per_host = UVGO_HTTP_DEFAULT_MAX_IDLE_PER_HOST;
  if (k->idle_conn_timeout_ms == 0)
    k->idle_conn_timeout_ms = UVGO_HTTP_DEFAULT_IDLE_CONN_TIMEOUT_MS;
  if (k->tls_handshake_timeout_ms == 0)
    k->tls_handshake_timeout_ms = UVGO_HTTP_DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS;
  if (k->max_header_bytes == 0)
    k->max_header_bytes = UVGO_HTTP_DEFAULT_MAX_HEADER_BYTES;
  if (k->max_header_count == 0)
    k->max_header_count = UVGO_HTTP_DEFAULT_MAX_HEADER_COUNT;
  if (k->max_redirects == 0)
    k->max_redirects = UVGO_HTTP_MAX_REDIRECTS;
  if (k->expect_continue_bytes == 0)
    k->expect_continue_bytes = UVGO_HTTP_DEFAULT_EXPECT_CONTINUE_BYTES;
  if (k->expect_continue_timeout_ms == 0)
    k->expect_continue_timeout_ms = UVGO_HTTP_DEFAULT_EXPECT_CONTINUE_TIMEOUT_MS;
  k->tls = NULL;
  k->user_agent = NULL;
  int err = 0;
  if (cfg != NULL && cfg->user_agent != NULL) {
    const char *ua = cfg->user_agent;
    if (!uvgo__http_is_field_value(ua, strlen(ua)))
      err = UVGO_EHTTPBADHEADER;
    else if (*ua != '\0' && (c->user_agent = uvgo__strdup(ua)) == NULL)
      err = UV_ENOMEM;
  } else {
    char def[32];
    snprintf(def, sizeof def, "uvgo/%s", uvgo_version_string());
    if ((c->user_agent = uvgo__strdup(def)) == NULL)
      err = UV_ENOMEM;
  }
  if (err == 0)
    err = make_tls_config(c, cfg);
  if (err == 0 && k->proxy_from_environment)
    err = uvgo__http_proxy_env_load(&c->proxy);
  if (err == 0) {
    err = uvgo_ctx_with_cancel(uvgo_ctx_background(), &c->expired);
    if (err == 0)
      uvgo_ctx_cancel(c->expired);
  }
  if (err == 0)
    err = uv_mutex_init(&c->lock);
  if (err != 0) {
    if (c->expired != NULL)
      uvgo_ctx_release(c->expired);
    uvgo__http_proxy_env_free(&c->proxy);
    uvgo_tls_config_release(c->tls);
    uvgo__free(c->user_agent);
    uvgo__free(c);
    return err;
  }
  c->magic = UVGO__HTTP_CLIENT_MAGIC;
  *out = c;
  return 0;
}

static void client_destroy(uvgo_http_client *c) {
  uvgo__http_pool_free(c);
  uv_mutex_destroy(&c->lock);
  uvgo_ctx_release(c->expired);
  uvgo__http_proxy_env_free(&c->proxy);
  uvgo_tls_config_release(c->tls);
  uvgo__free(c->user_agent);
  c->magic = 0;
  uvgo__free(c);
}

typedef struct closer {
  uvgo_http_client *c;
  uvgo_wg *wg;
} closer;

static void close_idle_task(void *arg) {
  closer *k = arg;
  uvgo__http_pool_close_idle_here(k->c);
  uvgo_wg_done(k->wg);
}

int uvgo_http_client_free(uvgo_http_client *c) {
  if (c == NULL)
    return 0;
  if (c->magic != UVGO__HTTP_CLIENT_MAGIC)
    return UVGO__MISUSE(UVGO_ERELEASED, "client freed twice");
  if (c->default_of != NULL)
    return UVGO__MISUSE(UV_EINVAL, "the default client is the runtime's");
  if (atomic_load(&c->in_flight) != 0)
    return UV_EBUSY;
  if (uvgo__http_pool_has_idle(c)) {
    if (uvgo_self() == NULL)
      return UVGO_ENOTTASK;
    /* Each worker closes its own connections. */
    unsigned n = uvgo_worker_count();
    uvgo_wg wg = UVGO_WG_INIT;
    closer k = {c, &wg};
    uvgo_wg_add(&wg, (int64_t)n);
    for (unsigned w = 0; w < n; w++) {
      int err = uvgo_go_on(w, close_idle_task, &k);
      if (err != 0)
        uvgo_wg_done(&wg);
    }
    uvgo_wg_wait(&wg);
    if (uvgo__http_pool_has_idle(c))
      return UV_ENOMEM; /* a closer could not be spawned: try again */
  }
  client_destroy(c);
  return 0;
}

int uvgo_http_client_stats_get(uvgo_http_client *c,
                               uvgo_http_client_stats *out) {
  if (c == NULL || out == NULL || c->magic != UVGO__HTTP_CLIENT_MAGIC)
    return UV_EINVAL;
  out->dials = atomic_load(&c->dials);
  out->reuses = atomic_load(&c->reuses);
  out->retries = atomic_load(&c->retries);
  out->idle = atomic_load(&c->idle);
  out->in_flight = atomic_load(&c->in_flight);
  return 0;
}

/* --- the runtime's default client --- */

#define MAX_DEFAULTS 16
static uv_once_t defaults_once = UV_ONCE_INIT;
static uv_mutex_t defaults_lock;
static uvgo_http_client *defaults[MAX_DEFAULTS];

static void defaults_init(void) { uv_mutex_init(&defaults_lock); }

/* The runtime's end (core/internal.h, uvgo__rt_fini_hook): close the
 * default client's idle connections on each worker, then free it. */
static void default_client_fini(uvgo_rt *rt, int worker) {
  uv_mutex_lock(&defaults_lock);
  uvgo_http_client *c = NULL;
  int slot = -1;
  for (int i = 0; i < MAX_DEFAULTS; i++)
    if (defaults[i] != NULL && defaults[i]->default_of == rt) {
      c = defaults[i];
      slot = i;
    }
  if (c != NULL && worker < 0)
    defaults[slot] = NULL;
  uv_mutex_unlock(&defaults_lock);
  if (c == NULL)
    return;
  if (worker >= 0)
    uvgo__http_pool_close_idle_here(c);
  else
    client_destroy(c);
}

uvgo_http_client *uvgo__http_default_client(int *err) {
  uvgo_rt *rt = uvgo_rt_current();
  if (rt == NULL) {
    *err = UVGO_ENORUNTIME;
    return NULL;
  }
  uv_once(&defaults_once, defaults_init);
  uv_mutex_lock(&defaults_lock);
  uvgo_http_client *c = NULL;
  int free_slot = -1;
  for (int i = 0; i < MAX_DEFAULTS && c == NULL; i++) {
    if (defaults[i] != NULL && defaults[i]->default_of == rt)
      c = defaults[i];
    else if (defaults[i] == NULL && free_slot < 0)
      free_slot = i;
  }
  *err = 0;
  if (c == NULL) {
    if (free_slot < 0)
      *err = UV_ENOMEM;
    else if ((*err = uvgo_http_client_new(NULL, &c)) == 0) {
      c->default_of = rt;
      defaults[free_slot] = c;
      atomic_store(&uvgo__rt_fini_hook, default_client_fini);
    }
  }
  uv_mutex_unlock(&defaults_lock);
  return c;
}

/* --- a request --- */

typedef struct req_state {
  const char *method;
  bool is_head;
  bool idempotent;
  uvgo__http_url url;           /* the current URL */
  char *orig_host;              /* the first URL's host */
  const uvgo_http_header *headers;
  size_t nheaders;
  bool strip_auth;              /* a redirect left the first host */
  const void *body;
  size_t body_len;
  uvgo_http_body_reader reader;
  void *reader_arg;
  bool reader_used;             /* the reader was called: not replayable */
  bool want_gzip;               /* we add Accept-Encoding: gzip */
  bool has_ua;                  /* the caller sent User-Agent */
  bool conn_close;              /* the caller sent Connection: close */
} req_state;

/* Fields the client writes itself. */
static bool reserved_field(const char *name) {
  return uvgo__http_ieq("host", name, strlen(name)) ||
         uvgo__http_ieq("content-length", name, strlen(name)) ||
         uvgo__http_ieq("transfer-encoding", name, strlen(name));
}

static bool has_field(const req_state *st, const char *name) {
  for (size_t i = 0; i < st->nheaders; i++)
    if (uvgo__http_ieq(name, st->headers[i].name, strlen(st->headers[i].name)))
      return true;
  return false;
}

static int check_request(const uvgo_http_request *req, req_state *st,
                         const uvgo_http_client *c) {
  const char *m = req->method != NULL ? req->method : "GET";
  if (!uvgo__http_is_token(m, strlen(m)))
    return UVGO_EHTTPBADMETHOD;
  if (req->nheaders > 0 && req->headers == NULL)
    return UV_EINVAL;
  if (req->body != NULL && req->body_reader != NULL)
    return UVGO__MISUSE(UV_EINVAL, "a body and a body reader together");
  if (req->body == NULL && req->body_len > 0)
    return UVGO__MISUSE(UV_EINVAL, "body_len without a body");
  for (size_t i = 0; i < req->nheaders; i++) {
    const uvgo_http_header *h = &req->headers[i];
    if (h->name == NULL || h->value == NULL)
      return UV_EINVAL;
    if (uvgo_http_header_check(h->name, h->value) != 0 ||
        reserved_field(h->name))
      return UVGO_EHTTPBADHEADER;
    if (uvgo__http_ieq("connection", h->name, strlen(h->name))) {
      if (!uvgo__http_ieq("close", h->value, strlen(h->value)))
        return UVGO_EHTTPBADHEADER; /* only "close" is the caller's */
      st->conn_close = true;
    }
  }
  st->method = m;
  st->is_head = strcmp(m, "HEAD") == 0;
  st->idempotent = !strcmp(m, "GET") || st->is_head || !strcmp(m, "OPTIONS") ||
                   !strcmp(m, "TRACE") || !strcmp(m, "PUT") ||
                   !strcmp(m, "DELETE");
  st->headers = req->headers;
  st->nheaders = req->nheaders;
  st->body = req->body;
  st->body_len = req->body_len;
  st->reader = req->body_reader;
  st->reader_arg = req->body_reader_arg;
  st->has_ua = has_field(st, "user-agent");
  st->want_gzip = !c->cfg.disable_compression &&
                  !has_field(st, "accept-encoding") && !has_field(st, "range");
  return 0;
}

/* A growable buffer for the request head. */
typedef struct wbuf {
  char *p;
  size_t len, cap;
  int err;
} wbuf;

static void put(wbuf *b, const char *s, size_t n) {
  if (b->err != 0)
    return;
  if (b->len + n > b->cap) {
    size_t cap = b->cap != 0 ? b->cap : 512;
    while (cap < b->len + n)
      cap *= 2;
    char *p = uvgo__realloc(b->p, cap);
    if (p == NULL) {
      b->err = UV_ENOMEM;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
}

static void puts_(wbuf *b, const char *s) { put(b, s, strlen(s)); }

static void field(wbuf *b, const char *name, const char *value) {
  puts_(b, name);
  put(b, ": ", 2);
  puts_(b, value);
  put(b, "\r\n", 2);
}

static bool use_expect(const uvgo_http_client *c, const req_state *st) {
  if (c->cfg.expect_continue_bytes == SIZE_MAX)
    return false;
  return st->reader != NULL || st->body_len >= c->cfg.expect_continue_bytes;
}

static int build_head(const uvgo_http_client *c, const req_state *st,
                      const uvgo__http_origin *o, bool expect, wbuf *b) {
  char auth[300];
  if (uvgo__http_url_authority(&st->url, false, auth, sizeof auth) != 0)
    return UVGO_EHTTPBADURL;
  puts_(b, st->method);
  put(b, " ", 1);
  if (o->proxy != NULL && !o->https) {
    /* Absolute-form to a forwarding proxy, rebuilt from the parts so that
     * no userinfo of the URL reaches the proxy. */
    puts_(b, "http://");
    puts_(b, auth);
  }
  puts_(b, st->url.target);
  put(b, " HTTP/1.1\r\n", 11);
  field(b, "Host", auth);
  if (!st->has_ua && c->user_agent != NULL)
    field(b, "User-Agent", c->user_agent);
  for (size_t i = 0; i < st->nheaders; i++) {
    const uvgo_http_header *h = &st->headers[i];
    size_t nl = strlen(h->name);
    if (st->strip_auth && (uvgo__http_ieq("authorization", h->name, nl) ||
                           uvgo__http_ieq("cookie", h->name, nl)))
      continue;
    if (expect && uvgo__http_ieq("expect", h->name, nl))
      continue;
    field(b, h->name, h->value);
  }
  if (st->want_gzip && !st->is_head)
    field(b, "Accept-Encoding", "gzip");
  if (st->reader != NULL) {
    field(b, "Transfer-Encoding", "chunked");
  } else if (st->body != NULL || !strcmp(st->method, "POST") ||
             !strcmp(st->method, "PUT") || !strcmp(st->method, "PATCH")) {
    char n[32];
    snprintf(n, sizeof n, "%zu", st->body_len);
    field(b, "Content-Length", n);
  }
  if (expect)
    field(b, "Expect", "100-continue");
  if (o->proxy != NULL && !o->https && o->proxy_auth != NULL)
    field(b, "Proxy-Authorization", o->proxy_auth);
  put(b, "\r\n", 2);
  return b->err;
}

/* Send the body (after the head): the buffer, or the reader chunked. */
static int send_body(uvgo_ctx *ctx, req_state *st, uvgo__http_pconn *pc) {
  if (st->reader == NULL)
    return st->body_len > 0
               ? uvgo_conn_write(ctx, pc->conn, st->body, st->body_len)
               : 0;
  enum { CHUNK = 16 * 1024, PREFIX = 10 };
  char *buf = uvgo__malloc(PREFIX + CHUNK + 2);
  if (buf == NULL)
    return UV_ENOMEM;
  int err = 0;
  for (;;) {
    st->reader_used = true;
    ssize_t n = st->reader(st->reader_arg, buf + PREFIX, CHUNK);
    if (n < 0) {
      err = (int)n;
      break;
    }
    if (n > CHUNK) {
      err = UV_EINVAL; /* the reader lied about its length */
      break;
    }
    if (n == 0) {
      err = uvgo_conn_write(ctx, pc->conn, "0\r\n\r\n", 5);
      break;
    }
    char hex[PREFIX + 1];
    int h = snprintf(hex, sizeof hex, "%zx\r\n", (size_t)n);
    memcpy(buf + PREFIX - h, hex, (size_t)h);
    memcpy(buf + PREFIX + n, "\r\n", 2);
    err = uvgo_conn_write(ctx, pc->conn, buf + PREFIX - h, (size_t)h + (size_t)n + 2);
    if (err != 0)
      break;
  }
  uvgo__free(buf);
  return err;
}

/* Parse the response head from pc into h (1xx answers skipped; a 100
 * returns early with *got_100 when the caller waits for one). */
static int read_head(uvgo_ctx *ctx, uvgo_http_client *c, uvgo__http_pconn *pc,
                     uvgo_http_headers *h, bool stop_at_100, bool *got_100) {
  uvgo__http_parser *p = &pc->parser;
  for (;;) {
    while (!p->head_done) {
      if (pc->rstart == pc->rend) {
        ssize_t r = uvgo__http_pconn_fill(ctx, c, pc, 0, 0);
        if (r == UV_EOF) {
          int err = uvgo__http_parser_eof(p);
          return err != 0 ? err : UVGO_EHTTPUNEXPECTEDEOF;
        }
        if (r < 0)
          return (int)r;
        continue;
      }
      ssize_t used = uvgo__http_parser_feed(p, pc->rbuf + pc->rstart,
                                            pc->rend - pc->rstart);
      if (used < 0)
        return (int)used;
      pc->rstart += (uint32_t)used;
    }
    if (p->status >= 200 || p->status == 101)
      return 0;
    /* An interim answer: its message is complete (no body); the final
     * one follows on the same connection. */
    bool is_100 = p->status == 100;
    uvgo__headers_reset(h);
    bool no_body = p->expect_no_body;
    uvgo__http_parser_next_message(p, h);
    p->expect_no_body = no_body;
    if (is_100 && stop_at_100) {
      *got_100 = true;
      return 0;
    }
  }
}

/* One exchange on pc: write, read the head. *wrote says whether any byte
 * of the request may have reached the server. */
static int exchange(uvgo_ctx *ctx, uvgo_http_client *c, req_state *st,
                    uvgo__http_pconn *pc, uvgo_http_headers *h, bool *wrote,
                    bool *body_unsent) {
  *wrote = false;
  *body_unsent = false;
  /* First: the caller frees h whatever happens below. */
  uvgo__headers_init(h, c->cfg.max_header_bytes, c->cfg.max_header_count);
  bool expect = use_expect(c, st);
  wbuf b = {0};
  int err = build_head(c, st, pc->origin, expect, &b);
  if (err != 0) {
    uvgo__free(b.p);
    return err;
  }
  /* A small buffered body rides in the head's write. */
  bool inline_body = !expect && st->reader == NULL && st->body_len > 0 &&
                     st->body_len <= 64 * 1024;
  if (inline_body)
    put(&b, st->body, st->body_len);
  if (b.err != 0) {
    uvgo__free(b.p);
    return b.err;
  }
  uvgo__http_parser_init(&pc->parser, UVGO__HTTP_RESPONSE, h,
                         c->cfg.max_header_bytes);
  pc->parser.expect_no_body = st->is_head;
  pc->got_bytes = false;
  err = uvgo_conn_write(ctx, pc->conn, b.p, b.len);
  uvgo__free(b.p);
  if (err != 0)
    return err;
  *wrote = true;
  /* Without Expect the body goes first: the header limit starts once the
   * whole request is written, as Go's ResponseHeaderTimeout. */
  if (!expect && !inline_body && (err = send_body(ctx, st, pc)) != 0)
    return err;
  uvgo_ctx *hdr = NULL;
  err = uvgo__http_phase_ctx(ctx, c->cfg.response_header_timeout_ms, &hdr);
  if (err != 0)
    return err;
  uvgo_ctx *hctx = hdr != NULL ? hdr : ctx;
  if (expect) {
    uvgo_ctx *wait = NULL;
    bool got_100 = false;
    err = uvgo__http_phase_ctx(hctx, c->cfg.expect_continue_timeout_ms, &wait);
    if (err == 0) {
      err = read_head(wait, c, pc, h, true, &got_100);
      err = uvgo__http_phase_err(hctx, wait, err, 1 /* waited long enough */);
      uvgo_ctx_cancel(wait);
      uvgo_ctx_release(wait);
      if (err == 1 || (err == 0 && got_100)) {
        err = send_body(hctx, st, pc); /* 100, or no answer in time */
        if (err == 0)
          err = read_head(hctx, c, pc, h, false, &got_100);
      } else if (err == 0) {
        *body_unsent = true; /* a final answer came first */
      }
    }
  } else {
    err = read_head(hctx, c, pc, h, false, NULL);
  }
  err = uvgo__http_phase_err(ctx, hdr, err, UVGO_EHTTPHEADERTIMEOUT);
  if (hdr != NULL) {
    uvgo_ctx_cancel(hdr);
    uvgo_ctx_release(hdr);
  }
  return err;
}

/* Errors that say the connection was dead before the server answered. */
static bool conn_was_closed(int err) {
  return err == UVGO_EHTTPUNEXPECTEDEOF || err == UV_EOF ||
         err == UV_ECONNRESET || err == UV_EPIPE || err == UVGO_ECONNCLOSED ||
         err == UVGO_ETLSTRUNCATED;
}

/* The transport: one request, one response head, on a pooled connection
 * of the request's origin (with the one retry). */
static int round_trip(uvgo_ctx *ctx, uvgo_http_client *c, req_state *st,
                      uvgo_http_response **out) {
  uvgo__http_origin *o;
  int err = uvgo__http_origin_get(c, &st->url, &o);
  if (err != 0)
    return err;
  for (int attempt = 0;; attempt++) {
    uvgo__http_pconn *pc;
    bool reused, wrote, body_unsent;
    err = uvgo__http_pool_get(ctx, c, o, attempt > 0, &pc, &reused);
    if (err != 0)
      return err;
    uvgo_http_headers h;
    err = exchange(ctx, c, st, pc, &h, &wrote, &body_unsent);
    if (err == 0) {
      bool gzip = false;
      if (st->want_gzip && !st->is_head) {
        const char *ce = uvgo_http_headers_get(&h, "content-encoding");
        gzip = ce != NULL && uvgo__http_ieq("gzip", ce, strlen(ce));
      }
      uvgo_http_response *r;
      err = uvgo__http_response_new(c, pc, st->url.text, gzip, &r);
      if (err == 0) {
        r->headers = h;
        if (gzip) {
          /* The body the caller reads is not the one these describe. */
          uvgo__headers_del(&r->headers, "content-encoding");
          uvgo__headers_del(&r->headers, "content-length");
        }
        /* Not reusable even when the body is read to its end: the server
         * may still wait for the body we did not send, or was asked to
         * close. */
        pc->no_reuse = body_unsent || st->conn_close;
        *out = r;
        return 0;
      }
    }
    uvgo__headers_free(&h);
    bool retry = attempt == 0 && reused && !pc->got_bytes &&
                 conn_was_closed(err) && (!wrote || st->idempotent) &&
                 !st->reader_used;
    uvgo__http_pool_put(c, pc, false);
    if (!retry)
      return err;
    atomic_fetch_add(&c->retries, 1);
  }
}

static bool is_redirect(int s) {
  return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

/* Follow r's redirect? 1 = yes (st updated to the next request), 0 = hand
 * r to the caller, < 0 = error. */
static int next_hop(uvgo_http_client *c, req_state *st, uvgo_http_response *r,
                    unsigned followed) {
  int s = r->status;
  const char *loc = uvgo_http_headers_get(&r->headers, "location");
  if (!is_redirect(s) || loc == NULL)
    return 0;
  bool keep_method = s == 307 || s == 308;
  if (keep_method && st->reader != NULL)
    return 0; /* a streamed body cannot be sent again */
  char *next;
  int err = uvgo__http_url_resolve(st->url.text, loc, &next);
  if (err != 0)
    return err;
  if (followed >= c->cfg.max_redirects) {
    uvgo__free(next);
    return UVGO_ETOOMANYREDIRECTS;
  }
  if (c->cfg.check_redirect != NULL) {
    err = c->cfg.check_redirect(c->cfg.check_redirect_arg, s, next, followed);
    if (err != 0) {
      uvgo__free(next);
      return err == UVGO_HTTP_STOP_REDIRECTS ? 0 : (err < 0 ? err : UV_EINVAL);
    }
  }
  uvgo__http_url u;
  err = uvgo__http_url_parse(next, &u);
  uvgo__free(next);
  if (err != 0)
    return err;
  uvgo__http_url_free(&st->url);
  st->url = u;
  if (strcmp(u.host, st->orig_host) != 0)
    st->strip_auth = true;
  if (!keep_method) {
    if (!st->is_head)
      st->method = "GET";
    st->idempotent = true;
    st->body = NULL;
    st->body_len = 0;
    st->reader = NULL;
  }
  return 1;
}

int uvgo_http_do(uvgo_ctx *ctx, uvgo_http_client *c,
                 const uvgo_http_request *req, uvgo_http_response **out) {
  if (out == NULL || req == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL request or out");
  *out = NULL;
  if (uvgo_self() == NULL)
    return UVGO__MISUSE(UVGO_ENOTTASK, "uvgo_http_do outside a task");
  int err = 0;
  if (c == NULL && (c = uvgo__http_default_client(&err)) == NULL)
    return err;
  if (c->magic != UVGO__HTTP_CLIENT_MAGIC)
    return UVGO__MISUSE(UVGO_ERELEASED, "client used after free");
  req_state st;
  memset(&st, 0, sizeof st);
  if ((err = check_request(req, &st, c)) != 0)
    return err;
  if ((err = uvgo__http_url_parse(req->url, &st.url)) != 0)
    return err;
  st.orig_host = uvgo__strdup(st.url.host);
  if (st.orig_host == NULL) {
    uvgo__http_url_free(&st.url);
    return UV_ENOMEM;
  }
  atomic_fetch_add(&c->in_flight, 1);
  uvgo_http_response *r = NULL;
  for (unsigned followed = 0;; followed++) {
    err = round_trip(ctx, c, &st, &r);
    if (err != 0)
      break;
    int hop = next_hop(c, &st, r, followed);
    if (hop <= 0) {
      if (hop < 0) {
        err = hop;
        atomic_fetch_add(&c->in_flight, 1); /* the free below gives one back */
        uvgo_http_response_free(r);
        r = NULL;
      }
      break;
    }
    /* Drain (bounded) and reuse the connection for the next hop. */
    atomic_fetch_add(&c->in_flight, 1);
    uvgo_http_response_free(r);
    r = NULL;
  }
  uvgo__http_url_free(&st.url);
  uvgo__free(st.orig_host);
  if (err != 0) {
    atomic_fetch_sub(&c->in_flight, 1);
    return err;
  }
  *out = r; /* its free gives the in-flight count back */
  return 0;
}

int uvgo_http_get(uvgo_ctx *ctx, uvgo_http_client *c, const char *url,
                  uvgo_http_response **out) {
  uvgo_http_request req = {.method = "GET", .url = url};
  return uvgo_http_do(ctx, c, &req, out);
}
