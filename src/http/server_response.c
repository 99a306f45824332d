/* The response writer (Go's http.ResponseWriter): headers, status, the
 * body buffered for a Content-Length or streamed chunked, and the output
 * queue that turns a response (or several pipelined ones) into one socket
 * write.
 *
 * Framing is chosen when the headers go out: a length the handler set;
 * else, when the handler has returned with at most UVGO__HSRV_BUFFERED_BODY
 * bytes written, their count; else chunked (HTTP/1.1) or close-delimited
 * (HTTP/1.0). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http/server_internal.h"

/* Limits on what a handler may set (a handler bug, not a peer, but still
 * bounded). */
#define RESP_HEADER_BYTES (64u * 1024u)
#define RESP_HEADER_COUNT 256u

const char *uvgo__http_reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 203: return "Non-Authoritative Information";
  case 204: return "No Content";
  case 205: return "Reset Content";
  case 206: return "Partial Content";
  case 300: return "Multiple Choices";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 406: return "Not Acceptable";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 410: return "Gone";
  case 411: return "Length Required";
  case 412: return "Precondition Failed";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 416: return "Range Not Satisfiable";
  case 417: return "Expectation Failed";
  case 421: return "Misdirected Request";
  case 422: return "Unprocessable Content";
  case 426: return "Upgrade Required";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "";
  }
}

/* --- the output queue --- */

static int out_reserve(uvgo__hconn *c, size_t more) {
  if (c->out_cap - c->out_len >= more)
    return 0;
  size_t cap = c->out_cap ? c->out_cap : 4096;
  while (cap - c->out_len < more)
    cap *= 2;
  char *p = uvgo__realloc(c->out, cap);
  if (p == NULL)
    return UV_ENOMEM;
  c->out = p;
  c->out_cap = cap;
  return 0;
}

int uvgo__hconn_queue(uvgo__hconn *c, const void *p, size_t n) {
  if (n == 0)
    return 0;
  int err = out_reserve(c, n);
  if (err != 0)
    return err;
  memcpy(c->out + c->out_len, p, n);
  c->out_len += n;
  return 0;
}

static int write_bounded(uvgo__hconn *c, const void *p, size_t n) {
  uvgo_ctx *ctx = uvgo__hsrv_ctx_until(
      c->srv, uvgo__hsrv_deadline(c->srv->cfg.write_timeout_ms));
  if (ctx == NULL)
    return UV_ENOMEM;
  int err = uvgo_conn_write(ctx, c->conn, p, n);
  uvgo_ctx_release(ctx);
  if (err != 0) {
    c->rw.failed = true;
    c->close_after = true;
  }
  return err;
}

int uvgo__hconn_flush_out(uvgo__hconn *c) {
  if (c->rw.failed)
    return UV_EPIPE;
  if (c->out_len == 0)
    return 0;
  int err = write_bounded(c, c->out, c->out_len);
  c->out_len = 0;
  /* A large buffer from one big response is not kept for the next. */
  if (c->out_cap > 64 * 1024) {
    uvgo__free(c->out);
    c->out = NULL;
    c->out_cap = 0;
  }
  return err;
}

/* --- Date, cached per thread (one format per second) --- */

static _Thread_local time_t date_sec;
static _Thread_local char date_buf[40];

static const char *http_date(void) {
  time_t now = time(NULL);
  if (now != date_sec || date_buf[0] == 0) {
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
                                    "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(date_buf, sizeof date_buf, "%s, %02d %s %04d %02d:%02d:%02d GMT",
             days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    date_sec = now;
  }
  return date_buf;
}

/* --- the response --- */

void uvgo__hrw_reset(uvgo_http_rw *w) {
  uvgo__hconn *c = w->c;
  uvgo_http_headers h = w->headers;
  memset(w, 0, sizeof *w);
  w->c = c;
  w->headers = h;
  if (w->headers.max_count == 0)
    uvgo__headers_init(&w->headers, RESP_HEADER_BYTES, RESP_HEADER_COUNT);
  else
    uvgo__headers_reset(&w->headers);
}

static bool status_has_no_body(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

static int fix_status(uvgo_http_rw *w, int status) {
  w->status = status;
  w->no_body = status_has_no_body(status) ||
               strcmp(w->c->req.method, "HEAD") == 0;
  return 0;
}

static int queue_str(uvgo__hconn *c, const char *s) {
  return uvgo__hconn_queue(c, s, strlen(s));
}

/* Serialize the status line and headers into the output queue. `final`:
 * the handler has returned, so a buffered body's length is known. */
static int queue_headers(uvgo_http_rw *w, size_t buffered, bool final) {
  uvgo__hconn *c = w->c;
  uvgo__hsrv *srv = c->srv;
  if (w->status == 0)
    fix_status(w, 200);
  if (srv->shutting_down ||
      (srv->cfg.max_requests_per_conn != 0 &&
       c->requests + 1 >= srv->cfg.max_requests_per_conn))
    c->close_after = true;
  bool clen_known = w->has_clen;
  uint64_t clen = w->clen;
  if (!clen_known && (final || w->no_body)) {
    clen_known = true;
    clen = w->no_body ? w->body_bytes : buffered;
  }
  if (!w->no_body && !clen_known) {
    if (c->req.version >= 11) {
      w->chunked = true;
    } else {
      w->close_delimited = true;
      c->close_after = true;
    }
  }
  char line[96];
  int n = snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", w->status,
                   uvgo__http_reason(w->status));
  int err = uvgo__hconn_queue(c, line, (size_t)n);
  bool has_date = false;
  for (uint32_t i = 0; err == 0 && i < w->headers.n; i++) {
    const char *name = uvgo__headers_name(&w->headers, i);
    const char *value = uvgo__headers_value(&w->headers, i);
    if (!has_date && uvgo__http_ieq("date", name, w->headers.f[i].name_len))
      has_date = true;
    size_t nl = w->headers.f[i].name_len, vl = w->headers.f[i].value_len;
    err = out_reserve(c, nl + vl + 4);
    if (err == 0) {
      memcpy(c->out + c->out_len, name, nl);
      c->out[c->out_len + nl] = ':';
      c->out[c->out_len + nl + 1] = ' ';
      memcpy(c->out + c->out_len + nl + 2, value, vl);
      c->out[c->out_len + nl + 2 + vl] = '\r';
      c->out[c->out_len + nl + 3 + vl] = '\n';
      c->out_len += nl + vl + 4;
    }
  }
  if (err == 0 && !has_date) {
    n = snprintf(line, sizeof line, "Date: %s\r\n", http_date());
    err = uvgo__hconn_queue(c, line, (size_t)n);
  }
  bool bodiless_status = status_has_no_body(w->status);
  if (err == 0 && !w->has_clen && clen_known && !bodiless_status) {
    n = snprintf(line, sizeof line, "Content-Length: %llu\r\n",
                 (unsigned long long)clen);
    err = uvgo__hconn_queue(c, line, (size_t)n);
  }
  if (err == 0 && w->chunked)
    err = queue_str(c, "Transfer-Encoding: chunked\r\n");
  if (err == 0 && c->close_after)
    err = queue_str(c, "Connection: close\r\n");
  else if (err == 0 && c->req.version < 11)
    err = queue_str(c, "Connection: keep-alive\r\n");
  if (err == 0)
    err = queue_str(c, "\r\n");
  w->header_sent = true;
  return err;
}

/* Body bytes after the headers went out, framed. Big pieces skip the
 * queue: the queue is flushed, then the bytes are written from the
 * caller's buffer. */
static int emit_body(uvgo_http_rw *w, const void *p, size_t n) {
  uvgo__hconn *c = w->c;
  if (n == 0 || w->no_body)
    return 0;
  int err = 0;
  if (w->chunked) {
    char hdr[24];
    int hl = snprintf(hdr, sizeof hdr, "%zx\r\n", n);
    err = uvgo__hconn_queue(c, hdr, (size_t)hl);
  }
  if (err == 0 && n >= UVGO__HSRV_BUFFERED_BODY) {
    err = uvgo__hconn_flush_out(c);
    if (err == 0)
      err = write_bounded(c, p, n);
  } else if (err == 0) {
    err = uvgo__hconn_queue(c, p, n);
  }
  if (err == 0 && w->chunked)
    err = uvgo__hconn_queue(c, "\r\n", 2);
  if (err == 0 && c->out_len >= UVGO__HSRV_BUFFERED_BODY)
    err = uvgo__hconn_flush_out(c);
  return err;
}

static int send_headers_now(uvgo_http_rw *w, const char *pending,
                            size_t plen) {
  int err = queue_headers(w, plen, false);
  if (err == 0)
    err = emit_body(w, pending, plen);
  return err;
}

static int check_writable(uvgo_http_rw *w) {
  if (w == NULL)
    return UV_EINVAL;
  if (w->failed)
    return UV_EPIPE;
  return 0;
}

int uvgo_http_set_header(uvgo_http_rw *w, const char *name,
                         const char *value) {
  if (w == NULL || name == NULL)
    return UV_EINVAL;
  size_t nl = strlen(name);
  if (!uvgo__http_is_token(name, nl))
    return UVGO_EHTTPBADHEADER;
  if (value != NULL && !uvgo__http_is_field_value(value, strlen(value)))
    return UVGO_EHTTPBADHEADER;
  if (w->status != 0)
    return UVGO_EHTTPHEADERSENT; /* fixed by write_header or a write */
  if (uvgo__http_ieq("transfer-encoding", name, nl))
    return UVGO_EHTTPBADHEADER; /* framing is the server's */
  if (uvgo__http_ieq("connection", name, nl)) {
    if (value != NULL && uvgo__http_list_has(value, "close"))
      w->c->close_after = true;
    return 0;
  }
  if (uvgo__http_ieq("content-length", name, nl)) {
    if (value == NULL) {
      w->has_clen = false;
    } else {
      uint64_t v = 0;
      const char *s = value;
      if (*s == 0)
        return UVGO_EHTTPBADHEADER;
      for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
          return UVGO_EHTTPBADHEADER;
        v = v * 10 + (uint64_t)(*s - '0');
      }
      w->has_clen = true;
      w->clen = v;
    }
  }
  if (value == NULL) {
    uvgo__headers_del(&w->headers, name);
    return 0;
  }
  return uvgo__headers_set(&w->headers, name, value);
}

int uvgo_http_add_header(uvgo_http_rw *w, const char *name,
                         const char *value) {
  if (w == NULL || name == NULL || value == NULL)
    return UV_EINVAL;
  size_t nl = strlen(name);
  if (uvgo__http_ieq("content-length", name, nl) ||
      uvgo__http_ieq("connection", name, nl))
    return uvgo_http_set_header(w, name, value);
  if (!uvgo__http_is_token(name, nl) ||
      !uvgo__http_is_field_value(value, strlen(value)) ||
      uvgo__http_ieq("transfer-encoding", name, nl))
    return UVGO_EHTTPBADHEADER;
  if (w->status != 0)
    return UVGO_EHTTPHEADERSENT; /* fixed by write_header or a write */
  return uvgo__headers_add(&w->headers, name, nl, value, strlen(value));
}

int uvgo_http_write_header(uvgo_http_rw *w, int status) {
  if (w == NULL || status < 200 || status > 999)
    return UV_EINVAL;
  if (w->status != 0)
    return UVGO_EHTTPHEADERSENT;
  return fix_status(w, status);
}

int uvgo_http_rw_status(const uvgo_http_rw *w) {
  return w != NULL ? w->status : 0;
}

int uvgo_http_write(uvgo_http_rw *w, const void *buf, size_t len) {
  int err = check_writable(w);
  if (err != 0)
    return err;
  if (buf == NULL && len > 0)
    return UV_EINVAL;
  uvgo__hconn *c = w->c;
  if (w->status == 0)
    fix_status(w, 200);
  if (w->has_clen && (w->body_bytes + len < w->body_bytes ||
                      w->body_bytes + len > w->clen))
    return UVGO_EHTTPBODYLEN;
  w->body_bytes += len;
  if (w->no_body || len == 0)
    return 0;
  if (w->header_sent)
    return emit_body(w, buf, len);
  size_t have = c->body_len;
  if (have + len <= UVGO__HSRV_BUFFERED_BODY) {
    if (c->body_cap < have + len) {
      char *p = uvgo__realloc(c->body, UVGO__HSRV_BUFFERED_BODY);
      if (p == NULL)
        return UV_ENOMEM;
      c->body = p;
      c->body_cap = UVGO__HSRV_BUFFERED_BODY;
    }
    memcpy(c->body + have, buf, len);
    c->body_len += len;
    return 0;
  }
  /* Too much to buffer: the headers go now, without a length. */
  err = send_headers_now(w, c->body, c->body_len);
  c->body_len = 0;
  if (err == 0)
    err = emit_body(w, buf, len);
  return err;
}

int uvgo_http_printf(uvgo_http_rw *w, const char *fmt, ...) {
  if (w == NULL || fmt == NULL)
    return UV_EINVAL;
  char small[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0)
    return UV_EINVAL;
  if ((size_t)n < sizeof small)
    return uvgo_http_write(w, small, (size_t)n);
  char *big = uvgo__malloc((size_t)n + 1);
  if (big == NULL)
    return UV_ENOMEM;
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  int err = uvgo_http_write(w, big, (size_t)n);
  uvgo__free(big);
  return err;
}

int uvgo_http_flush(uvgo_http_rw *w) {
  int err = check_writable(w);
  if (err != 0)
    return err;
  uvgo__hconn *c = w->c;
  if (!w->header_sent) {
    err = send_headers_now(w, c->body, c->body_len);
    c->body_len = 0;
  }
  if (err == 0)
    err = uvgo__hconn_flush_out(c);
  return err;
}

int uvgo__hrw_finish(uvgo_http_rw *w) {
  uvgo__hconn *c = w->c;
  if (w->failed)
    return UV_EPIPE;
  int err = 0;
  if (!w->header_sent) {
    err = queue_headers(w, c->body_len, true);
    if (err == 0 && !w->no_body)
      err = uvgo__hconn_queue(c, c->body, c->body_len);
    c->body_len = 0;
  } else if (w->chunked) {
    err = uvgo__hconn_queue(c, "0\r\n\r\n", 5);
  }
  if (w->has_clen && w->body_bytes < w->clen && !w->no_body)
    c->close_after = true; /* short body: the client must see the end */
  if (w->close_delimited)
    c->close_after = true;
  return err;
}

int uvgo__hconn_send_simple(uvgo__hconn *c, int status, bool close) {
  const char *reason = uvgo__http_reason(status);
  char buf[320];
  char body[80];
  int bl = snprintf(body, sizeof body, "%d %s\n", status, reason);
  int n = snprintf(buf, sizeof buf,
                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain; "
                   "charset=utf-8\r\nContent-Length: %d\r\nDate: %s\r\n%s\r\n%s",
                   status, reason, bl, http_date(),
                   close ? "Connection: close\r\n" : "", body);
  int err = uvgo__hconn_queue(c, buf, (size_t)n);
  if (err == 0)
    err = uvgo__hconn_flush_out(c);
  return err;
}

int uvgo__hrw_error(uvgo_http_rw *w, int status) {
  uvgo__hconn *c = w->c;
  c->body_len = 0;
  c->close_after = true;
  w->header_sent = true;
  return uvgo__hconn_send_simple(c, status, true);
}
