/* One connection of the HTTP server: the request loop (read a head, call
 * the handler, finish the response, next), the request body as a stream,
 * and the limits and timeouts that end a connection.
 *
 * Requests are parsed in place from a fixed input buffer (parser.h): head
 * fields go to the request's header collection, body bytes straight into
 * the handler's buffer. Waits for bytes are bounded by a context made for
 * the wait: idle (the next request), header (its head), body (each body
 * read); an idle wait is published in c->wait_ctx so a shutdown can end
 * it. Whatever the peer does, a connection holds at most the input buffer,
 * the head limits' worth of fields and the output queue. */
#include <stdio.h>
#include <string.h>

#include "http/server_internal.h"

/* How long, and how much, a closing connection keeps reading what the
 * peer still sends, so that closing with unread bytes (which makes the
 * kernel send a reset) does not destroy the error response in flight. */
#define LINGER_MS 2000u
#define LINGER_BYTES (256u * 1024u)

enum { KEEP = 0, CLOSE = 1 };

uvgo__hconn *uvgo__hconn_new(uvgo__hsrv *srv, uvgo_conn *conn) {
  uvgo__hconn *c = uvgo__calloc(1, sizeof *c);
  if (c == NULL)
    return NULL;
  c->in = uvgo__malloc(UVGO__HSRV_IN_SIZE);
  if (c->in == NULL) {
    uvgo__free(c);
    return NULL;
  }
  c->srv = srv;
  c->conn = conn;
  c->req.c = c;
  c->rw.c = c;
  uvgo__headers_init(&c->req.headers, srv->cfg.max_header_bytes,
                     (uint32_t)(srv->cfg.max_headers > UINT32_MAX
                                    ? UINT32_MAX
                                    : srv->cfg.max_headers));
  uvgo__http_parser_init(&c->parser, UVGO__HTTP_REQUEST, &c->req.headers,
                         srv->cfg.max_header_bytes);
  uvgo__hrw_reset(&c->rw);
  return c;
}

void uvgo__hconn_free(uvgo__hconn *c) {
  if (c->conn != NULL)
    uvgo_conn_close(c->conn);
  uvgo__http_parser_free(&c->parser);
  uvgo__headers_free(&c->req.headers);
  uvgo__headers_free(&c->rw.headers);
  uvgo__free(c->req.path);
  uvgo__free(c->req.all);
  uvgo__free(c->in);
  uvgo__free(c->out);
  uvgo__free(c->body);
  uvgo__free(c);
}

/* Read more bytes into the input buffer under ctx. */
static ssize_t fill(uvgo__hconn *c, uvgo_ctx *ctx) {
  if (c->start == c->end) {
    c->start = c->end = 0;
  } else if (c->end == UVGO__HSRV_IN_SIZE) {
    memmove(c->in, c->in + c->start, c->end - c->start);
    c->end -= c->start;
    c->start = 0;
  }
  ssize_t n = uvgo_conn_read(ctx, c->conn, c->in + c->end,
                             UVGO__HSRV_IN_SIZE - c->end);
  if (n > 0)
    c->end += (size_t)n;
  else if (n != UV_ETIMEDOUT && n != UV_ECANCELED)
    c->eof = true;
  return n;
}

/* A read bounded by deadline (and by the server's abort). */
static ssize_t fill_until(uvgo__hconn *c, uint64_t deadline, bool idle) {
  uvgo_ctx *ctx = uvgo__hsrv_ctx_until(c->srv, deadline);
  if (ctx == NULL)
    return UV_ENOMEM;
  if (idle)
    c->wait_ctx = ctx;
  ssize_t n = fill(c, ctx);
  c->wait_ctx = NULL;
  uvgo_ctx_release(ctx);
  return n;
}

/* Close gracefully: FIN after the response, then read and drop what the
 * peer still sends (bounded) so the response is not lost to a reset. */
static void linger(uvgo__hconn *c) {
  uvgo_ctx *ctx = uvgo__hsrv_ctx_until(c->srv, uvgo__hsrv_deadline(LINGER_MS));
  if (ctx == NULL)
    return;
  if (uvgo_conn_shutdown(ctx, c->conn) == 0) {
    size_t dropped = 0;
    while (!c->eof && dropped < LINGER_BYTES) {
      c->start = c->end = 0;
      ssize_t n = fill(c, ctx);
      if (n <= 0)
        break;
      dropped += (size_t)n;
    }
  }
  uvgo_ctx_release(ctx);
}

static int answer_and_close(uvgo__hconn *c, int status) {
  uvgo__hconn_send_simple(c, status, true);
  linger(c);
  return CLOSE;
}

static int status_for(int err) {
  switch (err) {
  case UVGO_EHEADERTOOLARGE:
  case UVGO_ETOOMANYHEADERS:
    return 431;
  case UV_ENOMEM:
    return 503;
  default:
    return 400;
  }
}

/* Read and parse the next request head. @return KEEP when p->head_done,
 * CLOSE when the connection is to end (the answer, if any, sent). */
static int read_head(uvgo__hconn *c) {
  uvgo__hsrv *srv = c->srv;
  uvgo__http_parser *p = &c->parser;
  uint64_t header_deadline = 0; /* 0 = not started */
  if (c->requests == 0)
    header_deadline = uvgo__hsrv_deadline(srv->cfg.read_header_timeout_ms);
  for (;;) {
    if (c->start < c->end) {
      if (header_deadline == 0)
        header_deadline = uvgo__hsrv_deadline(srv->cfg.read_header_timeout_ms);
      ssize_t n = uvgo__http_parser_feed(p, c->in + c->start, c->end - c->start);
      if (n < 0)
        return answer_and_close(c, status_for((int)n));
      c->start += (size_t)n;
      if (p->head_done)
        return KEEP;
      if (c->start < c->end)
        continue;
    }
    /* Every buffered byte parsed: write what is queued (pipelined
     * answers) before waiting for more. */
    if (uvgo__hconn_flush_out(c) != 0)
      return CLOSE;
    bool idle = !p->in_message;
    if (c->eof)
      return CLOSE; /* a partial request cut by the peer: nobody to tell */
    if (idle && srv->shutting_down)
      return CLOSE;
    uint64_t deadline;
    if (idle && c->requests > 0)
      deadline = uvgo__hsrv_deadline(srv->cfg.idle_timeout_ms);
    else
      deadline = header_deadline;
    ssize_t n = fill_until(c, deadline, idle);
    if (n == UV_ETIMEDOUT) {
      if (idle && c->requests > 0)
        return CLOSE;                    /* idle keep-alive: just close */
      return answer_and_close(c, 408);   /* slow head (slowloris) */
    }
    if (n < 0)
      return CLOSE; /* EOF, reset, shutdown, abort */
  }
}

/* The body sink: copy into the handler's buffer. */
typedef struct sink {
  char *buf;
  size_t got;
} sink;

static int sink_fn(void *arg, const char *p, size_t n) {
  sink *s = arg;
  memcpy(s->buf + s->got, p, n);
  s->got += n;
  return 0;
}

static bool is_body_limit(int err) { return err == UVGO_EBODYTOOLARGE; }

ssize_t uvgo_http_req_read(uvgo_http_req *req, void *buf, size_t len) {
  if (req == NULL || buf == NULL || len == 0)
    return UV_EINVAL;
  uvgo__hconn *c = req->c;
  uvgo__hsrv *srv = c->srv;
  uvgo__http_parser *p = &c->parser;
  if (req->body_err != 0)
    return req->body_err;
  if (p->message_done)
    return UV_EOF;
  if (!req->body_read_called) {
    req->body_read_called = true;
    if (req->content_length > 0 &&
        (uint64_t)req->content_length > srv->cfg.max_body_bytes) {
      req->body_too_large = true;
      return req->body_err = UVGO_EBODYTOOLARGE;
    }
    if (req->expect_continue && !c->rw.header_sent) {
      static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
      int err = uvgo__hconn_queue(c, cont, sizeof cont - 1);
      if (err == 0)
        err = uvgo__hconn_flush_out(c);
      if (err != 0)
        return req->body_err = err;
      req->continue_sent = true;
    }
  }
  uint64_t left = srv->cfg.max_body_bytes - req->body_seen;
  if (len > left + 1)
    len = (size_t)left + 1; /* one byte past the limit is enough to know */
  sink s = {buf, 0};
  uvgo__http_parser_set_body(p, sink_fn, &s);
  int err = 0;
  while (s.got == 0 && !p->message_done) {
    if (c->start < c->end) {
      size_t avail = c->end - c->start;
      ssize_t n = uvgo__http_parser_feed(p, c->in + c->start,
                                         avail < len ? avail : len);
      if (n < 0) {
        err = (int)n;
        break;
      }
      c->start += (size_t)n;
      continue;
    }
    if (c->eof) {
      err = uvgo__http_parser_eof(p);
      if (err == 0)
        err = UVGO_EHTTPUNEXPECTEDEOF;
      break;
    }
    ssize_t n =
        fill_until(c, uvgo__hsrv_deadline(srv->cfg.body_read_timeout_ms), false);
    if (n == UV_EOF)
      continue; /* c->eof is set: the parser decides above */
    if (n < 0) {
      err = (int)n;
      break;
    }
  }
  uvgo__http_parser_set_body(p, NULL, NULL);
  if (err == 0 && s.got > left) {
    req->body_too_large = true;
    err = UVGO_EBODYTOOLARGE;
  }
  if (err != 0) {
    if (err == UVGO_EHTTPUNEXPECTEDEOF || err == UVGO_EHEADERTOOLARGE)
      err = err == UVGO_EHEADERTOOLARGE ? UVGO_EHTTPBADREQUEST : err;
    req->body_err = err;
    if (is_body_limit(err))
      req->body_too_large = true;
    return err;
  }
  req->body_seen += s.got;
  return s.got > 0 ? (ssize_t)s.got : UV_EOF;
}

int uvgo_http_req_read_all(uvgo_http_req *req, size_t limit, const char **out,
                           size_t *out_len) {
  if (req == NULL || out == NULL || out_len == NULL)
    return UV_EINVAL;
  uint64_t max = limit != 0 ? limit : req->c->srv->cfg.max_body_bytes;
  size_t len = 0, cap = 0;
  char *buf = NULL;
  for (;;) {
    if (cap - len < 4096) {
      size_t ncap = cap ? cap * 2 : 4096;
      if (req->content_length > 0 && cap == 0 &&
          (uint64_t)req->content_length < max)
        ncap = (size_t)req->content_length + 1; /* read in one go */
      char *nb = uvgo__realloc(buf, ncap);
      if (nb == NULL) {
        uvgo__free(buf);
        return UV_ENOMEM;
      }
      buf = nb;
      cap = ncap;
    }
    ssize_t n = uvgo_http_req_read(req, buf + len, cap - len - 1);
    if (n == UV_EOF)
      break;
    if (n < 0) {
      uvgo__free(buf);
      return (int)n;
    }
    len += (size_t)n;
    if (len > max) {
      uvgo__free(buf);
      req->body_too_large = true;
      req->body_err = UVGO_EBODYTOOLARGE;
      return UVGO_EBODYTOOLARGE;
    }
  }
  buf[len] = '\0';
  uvgo__free(req->all);
  req->all = buf;
  *out = buf;
  *out_len = len;
  return 0;
}

/* Fill the request record from the parsed head. @return 0 or the status
 * to refuse the request with. */
static int setup_request(uvgo__hconn *c) {
  uvgo_http_req *req = &c->req;
  uvgo__http_parser *p = &c->parser;
  const char *m = uvgo__http_parser_method_name(p);
  snprintf(req->method, sizeof req->method, "%s", m);
  req->target = p->target != NULL ? p->target : (char *)"";
  req->version = p->major * 10 + p->minor;
  if (p->major != 1)
    return 505;
  req->content_length = p->chunked ? -1
                        : p->has_length ? (int64_t)p->content_length
                                        : 0;
  req->body_done = p->message_done;
  req->expect_continue = false;
  req->continue_sent = false;
  req->body_read_called = false;
  req->body_too_large = false;
  req->body_err = 0;
  req->body_seen = 0;
  /* path and query */
  const char *q = strchr(req->target, '?');
  size_t plen = q != NULL ? (size_t)(q - req->target) : strlen(req->target);
  const char *hash = strchr(req->target, '#');
  if (hash != NULL && (q == NULL || hash < q))
    plen = (size_t)(hash - req->target);
  if (req->path_cap < plen + 1) {
    char *np = uvgo__realloc(req->path, plen + 1);
    if (np == NULL)
      return 503;
    req->path = np;
    req->path_cap = plen + 1;
  }
  memcpy(req->path, req->target, plen);
  req->path[plen] = '\0';
  req->query = q != NULL ? q + 1 : "";
  /* Host is required of HTTP/1.1 requests (RFC 9112 3.2). */
  if (req->version >= 11 && uvgo_http_headers_get(&req->headers, "host") == NULL)
    return 400;
  const char *conn = uvgo_http_headers_get(&req->headers, "connection");
  if (req->version >= 11)
    c->close_after = conn != NULL && uvgo__http_list_has(conn, "close");
  else
    c->close_after = conn == NULL || !uvgo__http_list_has(conn, "keep-alive");
  const char *expect = uvgo_http_headers_get(&req->headers, "expect");
  if (expect != NULL) {
    if (!uvgo__http_list_has(expect, "100-continue"))
      return 417;
    req->expect_continue = req->version >= 11 && !p->message_done;
  }
  return 0;
}

/* After the handler: make the connection ready for the next request, or
 * decide it ends. The unread rest of a body is read and dropped when it is
 * small; a client still waiting for a 100 Continue is not sent one (the
 * connection closes instead, as Go does). */
static bool body_needs_close(const uvgo__hconn *c) {
  const uvgo_http_req *req = &c->req;
  return req->body_err != 0 || (req->expect_continue && !req->continue_sent) ||
         req->content_length < 0 ||
         (uint64_t)req->content_length - req->body_seen >
             UVGO__HSRV_DISCARD_LIMIT;
}

static int finish_body(uvgo__hconn *c) {
  uvgo__http_parser *p = &c->parser;
  if (p->message_done)
    return KEEP;
  if (body_needs_close(c))
    return CLOSE;
  size_t dropped = 0;
  while (!p->message_done) {
    if (c->start < c->end) {
      ssize_t n = uvgo__http_parser_feed(p, c->in + c->start, c->end - c->start);
      if (n < 0)
        return CLOSE;
      c->start += (size_t)n;
      dropped += (size_t)n;
      if (dropped > UVGO__HSRV_DISCARD_LIMIT + 64)
        return CLOSE;
      continue;
    }
    if (c->eof)
      return CLOSE;
    if (fill_until(c, uvgo__hsrv_deadline(c->srv->cfg.body_read_timeout_ms),
                   false) <= 0)
      return CLOSE;
  }
  return KEEP;
}

/* Serve one request whose head is parsed. @return KEEP or CLOSE. */
static int serve_one(uvgo__hconn *c) {
  uvgo__hsrv *srv = c->srv;
  uvgo__hrw_reset(&c->rw);
  int refuse = setup_request(c);
  if (refuse != 0)
    return answer_and_close(c, refuse);
  int err = srv->handler(&c->req, &c->rw, srv->arg);
  uvgo_http_rw *w = &c->rw;
  if (w->failed)
    return CLOSE;
  if (err != 0) {
    if (w->header_sent)
      return CLOSE; /* a cut response: the client sees the close */
    int status = c->req.body_too_large ? 413
                 : c->req.body_err == UV_ETIMEDOUT ? 408
                 : c->req.body_err == UVGO_EHTTPBADREQUEST ? 400
                                                           : 500;
    /* Nothing of this response is queued (its body waited for the
     * headers); what is queued are earlier pipelined answers: keep them. */
    uvgo__hrw_error(w, status);
    linger(c);
    return CLOSE;
  }
  /* Will the connection carry another request? Decide before the headers
   * go, so they can say so. */
  bool body_left = !c->parser.message_done;
  if (body_left && !w->header_sent && body_needs_close(c))
    c->close_after = true;
  if (c->parser.upgrade)
    c->close_after = true;
  if (uvgo__hrw_finish(w) != 0)
    return CLOSE;
  if (body_left && !c->close_after && finish_body(c) != KEEP)
    c->close_after = true;
  if (c->close_after) {
    if (uvgo__hconn_flush_out(c) != 0)
      return CLOSE;
    if (body_left || c->start < c->end)
      linger(c);
    return CLOSE;
  }
  return KEEP;
}

void uvgo__hconn_serve(uvgo__hconn *c) {
  for (;;) {
    if (read_head(c) != KEEP)
      break;
    int r = serve_one(c);
    c->requests++;
    if (r != KEEP || c->srv->shutting_down)
      break;
    /* Pipelined answers wait in the queue for one write, up to a bound. */
    if (c->out_len >= 2 * UVGO__HSRV_BUFFERED_BODY &&
        uvgo__hconn_flush_out(c) != 0)
      break;
    uvgo__headers_reset(&c->req.headers);
    uvgo__http_parser_next_message(&c->parser, &c->req.headers);
    c->close_after = false;
  }
  uvgo__hconn_flush_out(c);
}

/* --- request accessors --- */

const char *uvgo_http_req_method(const uvgo_http_req *req) {
  return req != NULL ? req->method : "";
}
const char *uvgo_http_req_target(const uvgo_http_req *req) {
  return req != NULL && req->target != NULL ? req->target : "";
}
const char *uvgo_http_req_path(const uvgo_http_req *req) {
  return req != NULL && req->path != NULL ? req->path : "";
}
const char *uvgo_http_req_query(const uvgo_http_req *req) {
  return req != NULL && req->query != NULL ? req->query : "";
}
int uvgo_http_req_version(const uvgo_http_req *req) {
  return req != NULL ? req->version : 0;
}
const char *uvgo_http_req_header(const uvgo_http_req *req, const char *name) {
  return req != NULL ? uvgo_http_headers_get(&req->headers, name) : NULL;
}
const uvgo_http_headers *uvgo_http_req_headers(const uvgo_http_req *req) {
  return req != NULL ? &req->headers : NULL;
}
int64_t uvgo_http_req_content_length(const uvgo_http_req *req) {
  return req != NULL ? req->content_length : 0;
}
uvgo_ctx *uvgo_http_req_ctx(const uvgo_http_req *req) {
  return req != NULL ? req->c->srv->abort_ctx : NULL;
}
int uvgo_http_req_peer_addr(const uvgo_http_req *req,
                            struct sockaddr_storage *out) {
  if (req == NULL || out == NULL)
    return UV_EINVAL;
  return uvgo_conn_peer_addr(req->c->conn, out);
}
