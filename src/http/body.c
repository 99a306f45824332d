/* Responses and their bodies: Content-Length, chunked and close-delimited
 * bodies through the parser, transparent gzip, read_all with a limit,
 * close (drain a bounded remainder and give the connection back) and
 * free.
 *
 * Body bytes are decoded straight into the caller's buffer: the parser is
 * fed at most as many input bytes as the buffer has room for, and a body
 * is never longer than the input that carries it. With gzip, the raw body
 * goes through zbuf first. */
#include <string.h>

#include "http/client_internal.h"

#define ZBUF_SIZE (16u * 1024u)

int uvgo__http_response_check(const uvgo_http_response *r, const char *call) {
  if (r == NULL)
    return uvgo__misuse(UV_EINVAL, call, "NULL response",
                        __builtin_return_address(0));
  if (r->magic != UVGO__HTTP_RESP_MAGIC)
    return uvgo__misuse(UVGO_ERELEASED, call, "response used after free",
                        __builtin_return_address(0));
  if (r->home != uvgo_loop())
    return uvgo__misuse(UV_EINVAL, call,
                        "response used off the worker that made it",
                        __builtin_return_address(0));
  return 0;
}

ssize_t uvgo__http_pconn_fill(uvgo_ctx *ctx, uvgo_http_client *c,
                              uvgo__http_pconn *pc, uint64_t idle_ms,
                              int idle_err) {
  if (pc->rstart == pc->rend) {
    pc->rstart = pc->rend = 0;
  } else if (pc->rstart > 0) {
    memmove(pc->rbuf, pc->rbuf + pc->rstart, pc->rend - pc->rstart);
    pc->rend -= pc->rstart;
    pc->rstart = 0;
  }
  if (pc->rend == UVGO__HTTP_RBUF)
    return UV_ENOBUFS; /* the parser always consumes: cannot happen */
  uvgo_ctx *phase = NULL;
  int err = uvgo__http_phase_ctx(ctx, idle_ms, &phase);
  if (err != 0)
    return err;
  ssize_t r = uvgo_conn_read(phase != NULL ? phase : ctx, pc->conn,
                             pc->rbuf + pc->rend, UVGO__HTTP_RBUF - pc->rend);
  if (r < 0)
    r = uvgo__http_phase_err(ctx, phase, (int)r, idle_err);
  if (phase != NULL) {
    uvgo_ctx_cancel(phase);
    uvgo_ctx_release(phase);
  }
  if (r > 0) {
    pc->rend += (uint32_t)r;
    pc->got_bytes = true;
  }
  return r;
}

int uvgo__http_response_new(uvgo_http_client *c, uvgo__http_pconn *pc,
                            const char *url, bool gzip,
                            uvgo_http_response **out) {
  uvgo_http_response *r = uvgo__calloc(1, sizeof *r);
  if (r == NULL)
    return UV_ENOMEM;
  size_t n = strlen(url) + 1;
  r->url = uvgo__malloc(n);
  if (r->url == NULL) {
    uvgo__free(r);
    return UV_ENOMEM;
  }
  memcpy(r->url, url, n);
  r->magic = UVGO__HTTP_RESP_MAGIC;
  r->client = c;
  r->home = uvgo_loop();
  r->pc = pc;
  r->status = pc->parser.status;
  r->gzip = gzip;
  uvgo__http_gunzip_init(&r->gz);
  *out = r;
  return 0;
}

/* The connection is done with this response: give it back. */
static void release_conn(uvgo_http_response *r, bool reusable) {
  uvgo__http_pconn *pc = r->pc;
  if (pc == NULL)
    return;
  r->pc = NULL;
  reusable = reusable && pc->parser.message_done && pc->parser.keep_alive &&
             !pc->parser.upgrade && !pc->no_reuse;
  uvgo__http_pool_put(r->client, pc, reusable);
}

typedef struct out_buf {
  char *p;
  size_t cap, len;
} out_buf;

static int to_out(void *arg, const char *p, size_t n) {
  out_buf *o = arg;
  memcpy(o->p + o->len, p, n); /* n <= cap - len: see raw_read */
  o->len += n;
  return 0;
}

/* De-framed body bytes into dst: > 0, UV_EOF, or an error. */
static ssize_t raw_read(uvgo_ctx *ctx, uvgo_http_response *r, char *dst,
                        size_t cap) {
  uvgo__http_pconn *pc = r->pc;
  uvgo__http_parser *p = &pc->parser;
  uvgo_http_client *c = r->client;
  while (!p->message_done) {
    if (pc->rstart == pc->rend) {
      ssize_t got = uvgo__http_pconn_fill(ctx, c, pc,
                                          c->cfg.read_idle_timeout_ms,
                                          UVGO_EHTTPIDLETIMEOUT);
      if (got == UV_EOF) {
        int err = uvgo__http_parser_eof(p);
        if (err != 0)
          return err;
        break;
      }
      if (got < 0)
        return got; /* UVGO_ETLSTRUNCATED included: never a short body */
      continue;
    }
    out_buf o = {dst, cap, 0};
    uvgo__http_parser_set_body(p, to_out, &o);
    size_t avail = pc->rend - pc->rstart;
    ssize_t used = uvgo__http_parser_feed(p, pc->rbuf + pc->rstart,
                                          avail < cap ? avail : cap);
    uvgo__http_parser_set_body(p, NULL, NULL);
    if (used < 0)
      return used;
    pc->rstart += (uint32_t)used;
    if (o.len > 0)
      return (ssize_t)o.len;
  }
  return UV_EOF;
}

static ssize_t gzip_read(uvgo_ctx *ctx, uvgo_http_response *r, char *dst,
                         size_t cap) {
  if (r->zbuf == NULL) {
    r->zbuf = uvgo__malloc(ZBUF_SIZE);
    if (r->zbuf == NULL)
      return UV_ENOMEM;
  }
  for (;;) {
    if (r->zstart == r->zend && !r->raw_eof) {
      ssize_t n = raw_read(ctx, r, r->zbuf, ZBUF_SIZE);
      if (n == UV_EOF)
        r->raw_eof = true;
      else if (n < 0)
        return n;
      else {
        r->zstart = 0;
        r->zend = (uint32_t)n;
      }
    }
    if (r->zstart == r->zend && r->raw_eof) {
      int err = uvgo__http_gunzip_finish(&r->gz);
      return err != 0 ? err : UV_EOF;
    }
    const char *in = r->zbuf + r->zstart;
    size_t in_len = r->zend - r->zstart;
    ssize_t made = uvgo__http_gunzip_step(&r->gz, &in, &in_len, dst, cap);
    if (made < 0)
      return made;
    r->zstart = r->zend - (uint32_t)in_len;
    if (made > 0)
      return made;
  }
}

ssize_t uvgo_http_response_read(uvgo_ctx *ctx, uvgo_http_response *r,
                                void *buf, size_t len) {
  int err = uvgo__http_response_check(r, "uvgo_http_response_read");
  if (err != 0)
    return err;
  if (buf == NULL || len == 0)
    return UVGO__MISUSE(UV_EINVAL, "NULL buffer or zero length");
  if (r->closed)
    return UVGO_EHTTPBODYCLOSED;
  if (r->body_err != 0)
    return r->body_err;
  if (r->body_done)
    return UV_EOF;
  ssize_t n = r->gzip ? gzip_read(ctx, r, buf, len) : raw_read(ctx, r, buf, len);
  if (n == UV_EOF) {
    r->body_done = true;
    release_conn(r, true);
  } else if (n < 0 && n != UV_ECANCELED && n != UV_ETIMEDOUT &&
             n != UVGO_EHTTPIDLETIMEOUT) {
    /* A context ending leaves the body readable (the connection keeps
     * every byte); anything else ends it. */
    r->body_err = (int)n;
    release_conn(r, false);
  }
  return n;
}

int uvgo_http_response_read_all(uvgo_ctx *ctx, uvgo_http_response *r,
                                size_t limit, const char **body,
                                size_t *len) {
  int err = uvgo__http_response_check(r, "uvgo_http_response_read_all");
  if (err != 0)
    return err;
  if (body == NULL || len == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL body or len");
  if (r->all != NULL) {
    *body = r->all;
    *len = r->all_len;
    return 0;
  }
  size_t cap = 0, used = 0;
  char *all = NULL;
  for (;;) {
    if (used == cap) {
      if (cap > limit) {
        err = UVGO_EBODYTOOLARGE;
        break;
      }
      size_t ncap = cap == 0 ? 4096 : cap * 2;
      if (ncap > limit + 1)
        ncap = limit + 1; /* one byte past the limit tells "too large" */
      char *a = uvgo__realloc(all, ncap + 1);
      if (a == NULL) {
        err = UV_ENOMEM;
        break;
      }
      all = a;
      cap = ncap;
    }
    ssize_t n = uvgo_http_response_read(ctx, r, all + used, cap - used);
    if (n == UV_EOF)
      break;
    if (n < 0) {
      err = (int)n;
      break;
    }
    used += (size_t)n;
    if (used > limit) {
      err = UVGO_EBODYTOOLARGE;
      break;
    }
  }
  if (err != 0) {
    uvgo__free(all);
    if (err == UVGO_EBODYTOOLARGE) {
      r->body_err = err;
      release_conn(r, false);
    }
    return err;
  }
  if (all == NULL) {
    all = uvgo__malloc(1);
    if (all == NULL)
      return UV_ENOMEM;
  }
  all[used] = '\0';
  r->all = all;
  r->all_len = used;
  *body = all;
  *len = used;
  return 0;
}

int uvgo__http_body_drain(uvgo_ctx *ctx, uvgo_http_response *r,
                          size_t limit) {
  if (r->pc == NULL)
    return r->body_done ? 0 : UVGO_EHTTPBODYCLOSED;
  uvgo__http_parser *p = &r->pc->parser;
  /* A known remainder too long to read: do not start. */
  if (p->has_length && !p->chunked && !r->gzip &&
      p->content_length > limit)
    return UVGO_EBODYTOOLARGE;
  if (uvgo__http_parser_body_until_eof(p))
    return UVGO_EBODYTOOLARGE; /* reading it would end the connection */
  char buf[4096];
  size_t total = 0;
  bool was_gzip = r->gzip;
  r->gzip = false; /* drain the raw bytes: no need to inflate them */
  int err = 0;
  for (;;) {
    ssize_t n = uvgo_http_response_read(ctx, r, buf, sizeof buf);
    if (n == UV_EOF)
      break;
    if (n < 0) {
      err = (int)n;
      break;
    }
    total += (size_t)n;
    if (total > limit) {
      err = UVGO_EBODYTOOLARGE;
      break;
    }
  }
  r->gzip = was_gzip;
  return err;
}

/* How long closing a response may wait for the remainder. The drain is
 * an optimisation (keep the connection); a slow server is not worth a
 * wait. */
#define DRAIN_TIMEOUT_MS 250

static void close_body(uvgo_http_response *r) {
  if (r->closed)
    return;
  if (r->pc == NULL) {
    r->closed = true;
    return;
  }
  int err = UV_ECANCELED;
  if (r->body_err == 0 && uvgo_ctx_err(uvgo_ctx_current()) == 0) {
    uvgo_ctx *drain = NULL;
    if (uvgo_ctx_with_timeout(uvgo_ctx_current(), DRAIN_TIMEOUT_MS, &drain) ==
        0) {
      err = uvgo__http_body_drain(drain, r, UVGO_HTTP_DRAIN_LIMIT);
      uvgo_ctx_cancel(drain);
      uvgo_ctx_release(drain);
    }
  }
  r->closed = true;
  release_conn(r, err == 0);
}

int uvgo_http_response_close(uvgo_http_response *r) {
  int err = uvgo__http_response_check(r, "uvgo_http_response_close");
  if (err != 0)
    return err;
  close_body(r);
  return 0;
}

int uvgo_http_response_free(uvgo_http_response *r) {
  if (r == NULL)
    return 0;
  int err = uvgo__http_response_check(r, "uvgo_http_response_free");
  if (err != 0)
    return err;
  close_body(r);
  uvgo_http_client *c = r->client;
  uvgo__http_gunzip_free(&r->gz);
  uvgo__headers_free(&r->headers);
  uvgo__free(r->zbuf);
  uvgo__free(r->all);
  uvgo__free(r->url);
  r->magic = UVGO__HTTP_RESP_DEAD;
  uvgo__free(r);
  atomic_fetch_sub(&c->in_flight, 1);
  return 0;
}

int uvgo_http_response_status(const uvgo_http_response *r) {
  if (r == NULL || r->magic != UVGO__HTTP_RESP_MAGIC)
    return UV_EINVAL;
  return r->status;
}

const char *uvgo_http_response_header(const uvgo_http_response *r,
                                      const char *name) {
  if (r == NULL || r->magic != UVGO__HTTP_RESP_MAGIC)
    return NULL;
  return uvgo_http_headers_get(&r->headers, name);
}

int uvgo_http_response_header_next(const uvgo_http_response *r, size_t *iter,
                                   uvgo_http_header *out) {
  if (r == NULL || r->magic != UVGO__HTTP_RESP_MAGIC)
    return UV_EINVAL;
  return uvgo_http_headers_next(&r->headers, iter, out);
}

const uvgo_http_headers *uvgo_http_response_headers(
    const uvgo_http_response *r) {
  if (r == NULL || r->magic != UVGO__HTTP_RESP_MAGIC)
    return NULL;
  return &r->headers;
}

const char *uvgo_http_response_url(const uvgo_http_response *r) {
  if (r == NULL || r->magic != UVGO__HTTP_RESP_MAGIC)
    return NULL;
  return r->url;
}
