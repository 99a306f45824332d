/* The one internal interface over llhttp (Node's HTTP/1.x parser), for
 * responses (the client) and requests (the server).
 *
 * What it does: bytes in, and out come a message's head (start line
 * results in the struct, header fields appended to a uvgo_http_headers
 * collection the caller owns) and its body bytes (to a callback, already
 * de-chunked), message after message on one connection.
 *
 * How a caller drives it:
 *
 *   uvgo__http_parser_init(&p, UVGO__HTTP_RESPONSE, &headers, limit);
 *   loop: n = uvgo__http_parser_feed(&p, data, len)
 *         n >= 0: n bytes consumed (maybe fewer than len: see the stops)
 *         n <  0: a uvgo error; sticky (every later feed returns it)
 *   on the peer's EOF: uvgo__http_parser_eof(&p)
 *
 * Feed stops early at two points so the caller can act between them:
 *   - after the head (p.head_done): the caller looks at status/method and
 *     headers and sets the body sink (uvgo__http_parser_set_body) before
 *     feeding on. A message without a body passes this stop with
 *     message_done already set.
 *   - after the end of the message (p.message_done): the bytes that
 *     follow belong to the next message (pipelining, or a server that
 *     answered early). The next feed starts the next message: call
 *     uvgo__http_parser_next_message first to point it at a fresh (or
 *     reset) header collection.
 * Body bytes go to the sink in spans no longer than the bytes fed, so a
 * caller that feeds at most `room` bytes receives at most `room` body
 * bytes: it can decode straight into a bounded buffer.
 *
 * Limits and safety:
 *   - the head (start line, fields and their line ends) is bounded by
 *     max_head_bytes: feed refuses to parse past it (UVGO_EHEADERTOOLARGE
 *     as soon as that many bytes did not complete the head, whatever the
 *     peer sends: a 10 MB header costs max_head_bytes of work and the
 *     collection's own limits of memory);
 *   - the collection's limits (bytes, field count) apply as fields arrive;
 *   - trailer fields after a chunked body are parsed, counted against the
 *     same byte limit, and dropped (the collection is never changed once
 *     the head is done, so pointers into it stay valid);
 *   - llhttp's lenient flags are all OFF: Content-Length together with
 *     Transfer-Encoding, duplicate or malformed Content-Length, bad chunk
 *     sizes, bare LF line ends and invalid bytes in names are errors
 *     (UVGO_EHTTPBADRESPONSE / UVGO_EHTTPBADREQUEST): no request
 *     smuggling, no response splitting. Field values with NUL or other
 *     control bytes (but HTAB) are refused too, so every stored value is
 *     a clean C string.
 *
 * Threads: a parser is used by one task at a time; it never blocks and
 * never allocates except through the header collection and the server's
 * request-target buffer. */
#ifndef UVGO_HTTP_PARSER_H
#define UVGO_HTTP_PARSER_H

#include <llhttp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "http/message.h"

typedef enum {
  UVGO__HTTP_REQUEST = 0, /* parse requests (server) */
  UVGO__HTTP_RESPONSE     /* parse responses (client) */
} uvgo__http_kind;

/* The body sink: n bytes of body (n > 0). Return 0, or a negative uvgo
 * code to stop parsing with it (the feed then returns that code). */
typedef int (*uvgo__http_body_fn)(void *arg, const char *p, size_t n);

/* Longest request target kept (the server); longer is
 * UVGO_EHEADERTOOLARGE (the server answers 414 or 431). */
#define UVGO__HTTP_MAX_TARGET (64u * 1024u)

typedef struct uvgo__http_parser {
  llhttp_t ll;
  uvgo__http_kind kind;
  uvgo_http_headers *headers; /* where the current message's fields go */
  size_t max_head_bytes;      /* 0 = no limit but the collection's */
  size_t head_bytes;          /* bytes of the current head consumed */
  size_t trailer_bytes;       /* bytes of trailer fields seen */
  uvgo__http_body_fn on_body; /* NULL = body bytes are dropped */
  void *body_arg;
  int err;                    /* sticky uvgo error, 0 while fine */
  bool paused;                /* llhttp is paused at one of our stops */
  bool in_message;            /* a message has begun and not ended */
  /* Set by the caller before the head of a response is parsed: */
  bool expect_no_body;        /* the request was HEAD: no body follows */
  bool connect_request;       /* the request was CONNECT: a 2xx has none */
  /* The head, valid once head_done: */
  bool head_done;
  bool message_done;
  int status;                 /* response status code */
  int method;                 /* request: llhttp_method_t */
  unsigned char major, minor; /* HTTP version */
  bool chunked;               /* Transfer-Encoding: chunked */
  bool has_length;            /* Content-Length present */
  uint64_t content_length;    /* its value */
  bool no_body;               /* no body follows the head */
  bool upgrade;               /* an upgrade (101, or CONNECT 2xx) */
  bool keep_alive;            /* at message_done: the connection may be
                                 reused (llhttp_should_keep_alive) */
  /* The request target (server), NUL-terminated: */
  char *target;
  size_t target_len, target_cap;
} uvgo__http_parser;

/* Ready to parse the first message of a connection into `headers` (the
 * caller's collection, already initialised with its limits).
 * max_head_bytes 0 = unlimited (then the collection's limits alone hold). */
void uvgo__http_parser_init(uvgo__http_parser *p, uvgo__http_kind kind,
                            uvgo_http_headers *headers,
                            size_t max_head_bytes);
/* Free what the parser allocated (the target buffer). */
void uvgo__http_parser_free(uvgo__http_parser *p);
/* After message_done: the next message's fields go to `headers` (may be
 * the same collection, reset by the caller). Clears the per-message
 * state and the body sink. */
void uvgo__http_parser_next_message(uvgo__http_parser *p,
                                    uvgo_http_headers *headers);
/* Where body bytes go from now on. */
static inline void uvgo__http_parser_set_body(uvgo__http_parser *p,
                                              uvgo__http_body_fn fn,
                                              void *arg) {
  p->on_body = fn;
  p->body_arg = arg;
}

/* Parse up to len bytes (see the top for where it stops).
 * @return bytes consumed (0..len); UVGO_EHTTPBADRESPONSE /
 * UVGO_EHTTPBADREQUEST (malformed); UVGO_EHEADERTOOLARGE;
 * UVGO_ETOOMANYHEADERS; UV_ENOMEM; the body sink's error. Sticky. */
ssize_t uvgo__http_parser_feed(uvgo__http_parser *p, const char *data,
                               size_t len);
/* The peer closed its side. Ends a body delimited by the close (sets
 * message_done, keep_alive false).
 * @return 0 (that, or no message was in progress); UVGO_EHTTPUNEXPECTEDEOF
 * (a message was cut short); the sticky error. */
int uvgo__http_parser_eof(uvgo__http_parser *p);

/* Whether the body of the current message runs until the peer closes
 * (a response with neither length nor chunking). Valid once head_done. */
bool uvgo__http_parser_body_until_eof(const uvgo__http_parser *p);

/* The method name of a request ("GET"), valid once head_done. */
const char *uvgo__http_parser_method_name(const uvgo__http_parser *p);

#endif
