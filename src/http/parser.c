/* The llhttp glue (parser.h): callbacks that fill the header collection
 * and feed the body sink, the two stops (after the head, after the
 * message) made with llhttp's pause, and the limits. */
#include <string.h>

#include "core/internal.h"
#include "http/parser.h"

static uvgo__http_parser *of(llhttp_t *ll) { return ll->data; }

/* A callback failing with a uvgo error: llhttp stops with HPE_USER and
 * feed returns p->err. */
static int fail(uvgo__http_parser *p, int err) {
  if (p->err == 0)
    p->err = err;
  return HPE_USER;
}

static int bad_message(const uvgo__http_parser *p) {
  return p->kind == UVGO__HTTP_RESPONSE ? UVGO_EHTTPBADRESPONSE
                                        : UVGO_EHTTPBADREQUEST;
}

static int on_message_begin(llhttp_t *ll) {
  uvgo__http_parser *p = of(ll);
  p->in_message = true;
  p->head_done = false;
  p->message_done = false;
  p->head_bytes = 0;
  p->trailer_bytes = 0;
  p->target_len = 0;
  if (p->target != NULL)
    p->target[0] = '\0';
  return 0;
}

static int on_url(llhttp_t *ll, const char *at, size_t n) {
  uvgo__http_parser *p = of(ll);
  if (n > UVGO__HTTP_MAX_TARGET - p->target_len)
    return fail(p, UVGO_EHEADERTOOLARGE);
  if (p->target_len + n + 1 > p->target_cap) {
    size_t cap = p->target_cap != 0 ? p->target_cap : 128;
    while (cap < p->target_len + n + 1)
      cap *= 2;
    char *t = uvgo__realloc(p->target, cap);
    if (t == NULL)
      return fail(p, UV_ENOMEM);
    p->target = t;
    p->target_cap = cap;
  }
  memcpy(p->target + p->target_len, at, n);
  p->target_len += n;
  p->target[p->target_len] = '\0';
  return 0;
}

/* Trailer fields (after the head) are counted, not kept. */
static int trailer_bytes(uvgo__http_parser *p, size_t n) {
  p->trailer_bytes += n;
  if (p->max_head_bytes != 0 && p->trailer_bytes > p->max_head_bytes)
    return fail(p, UVGO_EHEADERTOOLARGE);
  return 0;
}

static int on_header_field(llhttp_t *ll, const char *at, size_t n) {
  uvgo__http_parser *p = of(ll);
  if (p->head_done)
    return trailer_bytes(p, n);
  /* llhttp 8.1 lets blanks and other non-token bytes into names ("Bad
   * Name: x"): a name is a token, nothing else. */
  if (!uvgo__http_is_tchars(at, n))
    return fail(p, bad_message(p));
  int err = 0;
  if (!p->headers->building)
    err = uvgo__headers_begin(p->headers);
  if (err == 0)
    err = uvgo__headers_name_append(p->headers, at, n);
  return err == 0 ? 0 : fail(p, err);
}

static int on_header_value(llhttp_t *ll, const char *at, size_t n) {
  uvgo__http_parser *p = of(ll);
  if (p->head_done)
    return trailer_bytes(p, n);
  if (!uvgo__http_is_field_value(at, n))
    return fail(p, bad_message(p));
  /* llhttp 8.1 takes ":value" as a field with an empty name: a value
   * with no name before it is malformed. */
  if (!p->headers->building || p->headers->cur.name_len == 0)
    return fail(p, bad_message(p));
  int err = uvgo__headers_value_append(p->headers, at, n);
  return err == 0 ? 0 : fail(p, err);
}

static int on_header_value_complete(llhttp_t *ll) {
  uvgo__http_parser *p = of(ll);
  if (p->head_done)
    return 0;
  if (!p->headers->building || p->headers->cur.name_len == 0)
    return fail(p, bad_message(p)); /* an empty name (see above) */
  int err = uvgo__headers_end(p->headers);
  return err == 0 ? 0 : fail(p, err);
}

static int on_headers_complete(llhttp_t *ll) {
  uvgo__http_parser *p = of(ll);
  if (p->headers->building) {
    if (p->headers->cur.name_len == 0)
      return fail(p, bad_message(p));
    /* A field whose value callback never came (an empty value). */
    int err = uvgo__headers_end(p->headers);
    if (err != 0)
      return fail(p, err);
  }
  p->head_done = true;
  p->status = ll->status_code;
  p->method = ll->method;
  p->major = ll->http_major;
  p->minor = ll->http_minor;
  p->chunked = (ll->flags & F_CHUNKED) != 0;
  p->has_length = (ll->flags & F_CONTENT_LENGTH) != 0;
  p->content_length = p->has_length ? ll->content_length : 0;
  p->upgrade = ll->upgrade != 0;
  if (p->kind == UVGO__HTTP_RESPONSE) {
    int s = p->status;
    bool connect_ok = p->connect_request && s >= 200 && s < 300;
    p->no_body = p->expect_no_body || connect_ok || (s >= 100 && s < 200) ||
                 s == 204 || s == 304 ||
                 (p->has_length && p->content_length == 0);
    if (connect_ok) {
      p->upgrade = true;
      return 2; /* no body; execute returns HPE_PAUSED_UPGRADE */
    }
    if (p->no_body)
      return 1; /* HEAD, 1xx, 204, 304: a length in the head describes no
                   body here (llhttp would read one for a 304 otherwise) */
  } else {
    p->no_body = !p->chunked && (!p->has_length || p->content_length == 0);
  }
  if (p->no_body)
    return 0; /* llhttp completes the message at once: stop there */
  return HPE_PAUSED;
}

static int on_body(llhttp_t *ll, const char *at, size_t n) {
  uvgo__http_parser *p = of(ll);
  if (p->on_body == NULL || n == 0)
    return 0;
  int err = p->on_body(p->body_arg, at, n);
  return err == 0 ? 0 : fail(p, err);
}

static int on_message_complete(llhttp_t *ll) {
  uvgo__http_parser *p = of(ll);
  p->message_done = true;
  p->in_message = false;
  p->keep_alive = llhttp_should_keep_alive(ll) != 0;
  return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void uvgo__http_parser_init(uvgo__http_parser *p, uvgo__http_kind kind,
                            uvgo_http_headers *headers,
                            size_t max_head_bytes) {
  memset(p, 0, sizeof *p);
  llhttp_init(&p->ll, kind == UVGO__HTTP_REQUEST ? HTTP_REQUEST : HTTP_RESPONSE,
              &settings);
  /* Strict parsing, explicitly (these are llhttp's defaults): no
   * Content-Length with Transfer-Encoding, no chunked-length leniency, no
   * keep-alive after a close-delimited message, no lax header bytes. */
  llhttp_set_lenient_headers(&p->ll, 0);
  llhttp_set_lenient_chunked_length(&p->ll, 0);
  llhttp_set_lenient_keep_alive(&p->ll, 0);
  llhttp_set_lenient_transfer_encoding(&p->ll, 0);
  p->ll.data = p;
  p->kind = kind;
  p->headers = headers;
  p->max_head_bytes = max_head_bytes;
}

void uvgo__http_parser_free(uvgo__http_parser *p) {
  uvgo__free(p->target);
  p->target = NULL;
  p->target_cap = p->target_len = 0;
}

void uvgo__http_parser_next_message(uvgo__http_parser *p,
                                    uvgo_http_headers *headers) {
  p->headers = headers;
  p->head_done = false;
  p->message_done = false;
  p->on_body = NULL;
  p->body_arg = NULL;
  p->expect_no_body = false;
  p->connect_request = false;
  p->head_bytes = 0;
}

ssize_t uvgo__http_parser_feed(uvgo__http_parser *p, const char *data,
                               size_t len) {
  if (p->err != 0)
    return p->err;
  if (p->upgrade && p->message_done)
    return 0; /* the bytes after an upgrade are not HTTP */
  if (p->paused) {
    llhttp_resume(&p->ll);
    p->paused = false;
  }
  if (len == 0)
    return 0;
  size_t n = len;
  bool in_head = !p->head_done;
  if (in_head && p->max_head_bytes != 0) {
    /* Never parse past the limit: whatever follows cannot complete a head
     * the limit allows. */
    size_t room = p->max_head_bytes - p->head_bytes;
    if (n > room)
      n = room;
    if (n == 0)
      return p->err = UVGO_EHEADERTOOLARGE;
  }
  llhttp_errno_t e = llhttp_execute(&p->ll, data, n);
  size_t used;
  switch (e) {
  case HPE_OK:
    used = n;
    break;
  case HPE_PAUSED:
    used = (size_t)(llhttp_get_error_pos(&p->ll) - data);
    p->paused = true;
    break;
  case HPE_PAUSED_UPGRADE:
    used = (size_t)(llhttp_get_error_pos(&p->ll) - data);
    p->upgrade = true;
    p->message_done = true;
    p->in_message = false;
    p->keep_alive = false;
    break;
  default:
    /* A callback's own error (out of memory, a limit) wins: llhttp
     * reports it as HPE_USER from data callbacks but as
     * HPE_CB_HEADERS_COMPLETE and the like from the others. */
    return p->err != 0 ? p->err : (p->err = bad_message(p));
  }
  if (in_head) {
    /* Only the bytes up to the end of the head count toward its limit;
     * with the head not done, every byte fed was head. */
    p->head_bytes += used;
    if (!p->head_done && p->max_head_bytes != 0 &&
        p->head_bytes >= p->max_head_bytes)
      return p->err = UVGO_EHEADERTOOLARGE;
  }
  return (ssize_t)used;
}

int uvgo__http_parser_eof(uvgo__http_parser *p) {
  if (p->err != 0)
    return p->err;
  if (!p->in_message || p->message_done)
    return 0;
  if (p->paused) {
    llhttp_resume(&p->ll);
    p->paused = false;
  }
  bool until_eof = p->head_done && uvgo__http_parser_body_until_eof(p);
  llhttp_errno_t e = llhttp_finish(&p->ll);
  if (until_eof && (e == HPE_OK || e == HPE_PAUSED)) {
    p->message_done = true;
    p->in_message = false;
    p->keep_alive = false;
    return 0;
  }
  if (e == HPE_USER && p->err != 0)
    return p->err;
  return p->err = UVGO_EHTTPUNEXPECTEDEOF;
}

bool uvgo__http_parser_body_until_eof(const uvgo__http_parser *p) {
  return p->kind == UVGO__HTTP_RESPONSE && !p->no_body && !p->chunked &&
         !p->has_length && !p->upgrade;
}

const char *uvgo__http_parser_method_name(const uvgo__http_parser *p) {
  return llhttp_method_name((llhttp_method_t)p->method);
}
