/* uvgo — HTTP/1.1: the types the client and the server share (header
 * fields and read-only header collections), and the client: Go's
 * net/http Client, Transport and Response for tasks.
 *
 *   uvgo_http_response *r;
 *   int err = uvgo_http_get(ctx, NULL, "https://example.org/", &r);
 *   if (err == 0) {
 *     const char *body; size_t n;
 *     err = uvgo_http_response_read_all(ctx, r, 1 << 20, &body, &n);
 *     ... uvgo_http_response_status(r) ...
 *     uvgo_http_response_free(r);
 *   }
 *
 * A status such as 404 is a successful call (as in Go): check the status.
 *
 * Ownership and threads: a client is safe to use from tasks on every
 * worker at once; it keeps one pool of idle connections per worker and per
 * (scheme, host, port), because a connection belongs to the worker that
 * opened it (net.h). A response belongs to the task's worker that made the
 * request: read, close and free it from tasks on that worker (elsewhere the
 * calls return UV_EINVAL). Every blocking call is a cancellation point
 * under the task's context and the `ctx` argument (NULL = the task's own).
 *
 * Strings passed in are copied or used only during the call; strings
 * returned stay valid until the response is freed.
 *
 * docs/http.md has the whole story: the pool, the limits and their
 * defaults, redirects, timeouts, proxies and what is not supported. */
#ifndef UVGO_HTTP_H
#define UVGO_HTTP_H

#include <sys/types.h>

#include "common.h"
#include "tls.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- header fields (client and server) --- */


/* One header field. Both strings are NUL-terminated; names keep the case
 * they were sent or received with (lookups ignore case). */
typedef struct uvgo_http_header {
  const char *name;  /* the field name */
  const char *value; /* its value, without surrounding blanks */
} uvgo_http_header;

/* A read-only, ordered collection of header fields as received: repeated
 * fields are kept, in order, each as its own entry. Owned by the message
 * it belongs to (a response, or a server-side request). */
typedef struct uvgo_http_headers uvgo_http_headers;

/* The value of the first field named `name` (case-insensitive), or NULL
 * (also for NULL arguments). O(fields). Any thread, while the owner lives. */
UVGO_EXTERN const char *uvgo_http_headers_get(const uvgo_http_headers *h,
                                              const char *name);
/* Iterate every field in order: set *iter = 0, then call until UV_EOF.
 * @return 0 (*out filled, *iter advanced); UV_EOF (no more); UV_EINVAL
 * (NULL argument). Any thread, while the owner lives. */
UVGO_EXTERN int uvgo_http_headers_next(const uvgo_http_headers *h,
                                       size_t *iter, uvgo_http_header *out);
/* Iterate only the fields named `name` (case-insensitive; repeated fields
 * such as Set-Cookie): as uvgo_http_headers_next, *value receives each
 * value in order. @return 0; UV_EOF; UV_EINVAL. */
UVGO_EXTERN int uvgo_http_headers_next_named(const uvgo_http_headers *h,
                                             const char *name, size_t *iter,
                                             const char **value);
/* Number of fields (0 for NULL). */
UVGO_EXTERN size_t uvgo_http_headers_count(const uvgo_http_headers *h);

/* Whether name/value may be sent: the name must be an RFC 9110 token
 * (letters, digits and !#$%&'*+-.^_`|~, 1..256 bytes), the value must not
 * contain CR, LF or NUL (no header injection) nor other control bytes but
 * HTAB. @return 0; UVGO_EHTTPBADHEADER; UV_EINVAL (NULL). Any thread. */
UVGO_EXTERN int uvgo_http_header_check(const char *name, const char *value);

/* --- the client --- */

/* A client (opaque): its config and its connection pools. Made by
 * uvgo_http_client_new; safe to use from tasks on every worker. */
typedef struct uvgo_http_client uvgo_http_client;
/* A response (opaque): status, headers and the body as a stream. Made by
 * uvgo_http_do / uvgo_http_get, freed by uvgo_http_response_free. */
typedef struct uvgo_http_response uvgo_http_response;

/* What a redirect hook returns to stop following: the redirect response
 * itself is then handed to the caller (Go's http.ErrUseLastResponse). */
#define UVGO_HTTP_STOP_REDIRECTS 1

/* Defaults of uvgo_http_client_config (a field left 0 takes them). */
#define UVGO_HTTP_DEFAULT_MAX_IDLE_PER_HOST 32u
#define UVGO_HTTP_DEFAULT_IDLE_CONN_TIMEOUT_MS 90000u
#define UVGO_HTTP_DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS 10000u
#define UVGO_HTTP_DEFAULT_MAX_HEADER_BYTES (1u << 20)
#define UVGO_HTTP_DEFAULT_MAX_HEADER_COUNT 256u
#define UVGO_HTTP_MAX_REDIRECTS 10u
#define UVGO_HTTP_DEFAULT_EXPECT_CONTINUE_BYTES (1u << 20)
#define UVGO_HTTP_DEFAULT_EXPECT_CONTINUE_TIMEOUT_MS 1000u
/* What closing a response reads, at most, to keep its connection. */
#define UVGO_HTTP_DRAIN_LIMIT (128u * 1024u)

/* What uvgo_http_client_new takes (all-zero = every default; a field left
 * 0 takes its default). Copied: the caller may free it afterwards. */
typedef struct uvgo_http_client_config {
  /* Connections per (scheme, host, port), busy and idle, over all
   * workers; callers beyond it wait, bounded by their context. 0 = no
   * limit. */
  unsigned max_conns_per_host;
  /* Idle connections kept per (scheme, host, port) and worker; 0 =
   * UVGO_HTTP_DEFAULT_MAX_IDLE_PER_HOST. */
  unsigned max_idle_per_host;
  /* An idle connection older than this is closed instead of reused. 0 =
   * the default (90 s). */
  uint64_t idle_conn_timeout_ms;
  /* Per-phase limits inside the request's context (each a phase's own
   * error when it alone runs out; 0 = none unless stated). Resolving and
   * connecting: UVGO_EHTTPDIALTIMEOUT. */
  uint64_t dial_timeout_ms;
  /* The TLS handshake: UVGO_EHTTPTLSTIMEOUT; 0 = 10 s. */
  uint64_t tls_handshake_timeout_ms;
  /* From the request written to the end of the response header:
   * UVGO_EHTTPHEADERTIMEOUT. */
  uint64_t response_header_timeout_ms;
  /* The longest wait for the next body bytes in a read:
   * UVGO_EHTTPIDLETIMEOUT. */
  uint64_t read_idle_timeout_ms;
  /* Bytes of the response's status line and fields
   * (UVGO_EHEADERTOOLARGE); 0 = 1 MiB. */
  size_t max_header_bytes;
  /* Number of response header fields (UVGO_ETOOMANYHEADERS); 0 = 256. */
  unsigned max_header_count;
  /* Redirects followed per request, at most UVGO_HTTP_MAX_REDIRECTS (10;
   * 0 = 10). Past it: UVGO_ETOOMANYREDIRECTS. */
  unsigned max_redirects;
  /* Called before following a redirect: status of the redirect, the
   * absolute URL it leads to, how many were followed already. Return 0
   * to follow, UVGO_HTTP_STOP_REDIRECTS to get the redirect response
   * itself, or a negative code to fail the request with it. NULL =
   * follow. Runs in the requesting task. */
  int (*check_redirect)(void *arg, int status, const char *next_url,
                        unsigned followed);
  void *check_redirect_arg; /* check_redirect's first argument */
  /* 1: use HTTP_PROXY / HTTPS_PROXY / NO_PROXY (and their lower-case
   * forms) read when the client is made. https:// goes through a CONNECT
   * tunnel. */
  int proxy_from_environment;
  /* 1: do not ask for gzip (no transparent decompression). */
  int disable_compression;
  /* Bodies of at least this many bytes, and streamed bodies, are sent
   * with "Expect: 100-continue": the body goes after the server's 100
   * (or its final answer, then not at all), or after
   * expect_continue_timeout_ms without an answer. 0 = the defaults (1 MiB,
   * 1 s); SIZE_MAX = never. */
  size_t expect_continue_bytes;
  /* How long to wait for the 100 (see above); 0 = 1 s. */
  uint64_t expect_continue_timeout_ms;
  /* TLS for https:// (the client takes a reference). NULL = a default
   * config: system trust store, verification on. The client sets ALPN
   * "http/1.1" only on the default config it makes. */
  uvgo_tls_config *tls;
  /* User-Agent sent when the request has none; NULL = "uvgo/VERSION",
   * "" = none. Copied. */
  const char *user_agent;
} uvgo_http_client_config;

/* A streamed request body: fill up to cap bytes of buf. @return bytes
 * written (> 0), 0 at the end, or a negative code, which fails the
 * request with that code. Runs in the requesting task. */
typedef ssize_t (*uvgo_http_body_reader)(void *arg, void *buf, size_t cap);

/* A request for uvgo_http_do. Read during the call only. */
typedef struct uvgo_http_request {
  const char *method; /* NULL = "GET"; a token */
  const char *url;    /* absolute http:// or https:// URL */
  /* Header fields to send, in order (validated before anything is sent).
   * Host, Content-Length and Transfer-Encoding are the client's, and
   * Connection may only say "close": others are refused with
   * UVGO_EHTTPBADHEADER. */
  const uvgo_http_header *headers;
  size_t nheaders; /* entries in headers */
  /* A body buffer, sent with Content-Length (or use body_reader; not
   * both). */
  const void *body;
  size_t body_len; /* bytes of body */
  /* A streamed body, sent chunked with Expect: 100-continue. */
  uvgo_http_body_reader body_reader;
  void *body_reader_arg; /* body_reader's first argument */
} uvgo_http_request;

/* A new client. cfg NULL = every default.
 * @return 0; UV_EINVAL (NULL out; max_redirects > 10); UV_ENOMEM; a TLS
 * error making the default TLS config. Any thread. */
UVGO_EXTERN int uvgo_http_client_new(const uvgo_http_client_config *cfg,
                                     uvgo_http_client **out);
/* Close the idle connections and free the client. Refused while
 * requests are in flight (a response not yet freed counts): nothing is
 * freed. Idle connections live on their workers: with any left, call it
 * from a task of the runtime that made them (it runs a closer task on
 * each such worker and waits). NULL is a no-op.
 * @return 0; UV_EBUSY; UVGO_ENOTTASK (idle connections left and not in a
 * task: nothing freed); UV_ENOMEM. */
UVGO_EXTERN int uvgo_http_client_free(uvgo_http_client *client);

/* Go's http.Get: uvgo_http_do with method GET and no header or body.
 * client NULL = the runtime's default client (made at first use, freed
 * when the runtime ends). */
UVGO_EXTERN int uvgo_http_get(uvgo_ctx *ctx, uvgo_http_client *client,
                              const char *url, uvgo_http_response **out);
/* Send req and wait for the response header; the body is then read with
 * uvgo_http_response_read. Redirects are followed (see the config), a
 * reused connection the server had closed is retried once on a new one
 * when the method is idempotent or nothing was written. client NULL = the
 * runtime's default client.
 * @return 0 (*out set: free it); UV_EINVAL (NULL argument, a body and a
 * reader together); UVGO_ENOTTASK; UVGO_ENORUNTIME (client NULL outside
 * a runtime); UVGO_EHTTPBADURL (empty, unparseable, no host, a port out
 * of range); UVGO_EUNSUPPORTEDSCHEME; UVGO_EHTTPBADMETHOD;
 * UVGO_EHTTPBADHEADER; UV_ENOMEM; a dial error (UV_ECONNREFUSED,
 * UV_EAI_NONAME, ...); a TLS error (UVGO_ETLSVERIFY, ...); a socket
 * error; UVGO_EHTTPBADRESPONSE; UVGO_EHTTPUNEXPECTEDEOF;
 * UVGO_EHEADERTOOLARGE; UVGO_ETOOMANYHEADERS; UVGO_ETOOMANYREDIRECTS;
 * UVGO_EHTTPPROXY; the body reader's error; UVGO_EHTTPDIALTIMEOUT,
 * UVGO_EHTTPTLSTIMEOUT, UVGO_EHTTPHEADERTIMEOUT (a phase ran out);
 * UV_ECANCELED / UV_ETIMEDOUT (a context ended). Task-only. */
UVGO_EXTERN int uvgo_http_do(uvgo_ctx *ctx, uvgo_http_client *client,
                             const uvgo_http_request *req,
                             uvgo_http_response **out);

/* The status code (100..999), or UV_EINVAL for NULL. Any thread. */
UVGO_EXTERN int uvgo_http_response_status(const uvgo_http_response *r);
/* The first value of header `name` (case-insensitive), or NULL. */
UVGO_EXTERN const char *uvgo_http_response_header(const uvgo_http_response *r,
                                                  const char *name);
/* Iterate the response's header fields in order (as
 * uvgo_http_headers_next). @return 0; UV_EOF; UV_EINVAL. */
UVGO_EXTERN int uvgo_http_response_header_next(const uvgo_http_response *r,
                                               size_t *iter,
                                               uvgo_http_header *out);
/* The whole collection (for uvgo_http_headers_*), or NULL. */
UVGO_EXTERN const uvgo_http_headers *uvgo_http_response_headers(
    const uvgo_http_response *r);
/* The URL the response came from (the last one after redirects). */
UVGO_EXTERN const char *uvgo_http_response_url(const uvgo_http_response *r);

/* Read up to len body bytes (de-chunked, and gunzipped when the client
 * asked for gzip itself).
 * @return bytes (> 0); UV_EOF at the end of the body; UVGO_EHTTPBODYCLOSED
 * (after uvgo_http_response_close); UV_EINVAL (NULL, len 0, wrong worker);
 * UVGO_EHTTPBADRESPONSE (bad framing or gzip data); UVGO_EHTTPUNEXPECTEDEOF
 * (the connection ended early); UVGO_ETLSTRUNCATED (a TLS stream cut
 * without close_notify: never taken for the end of the body); a socket
 * error; UVGO_EHTTPIDLETIMEOUT; UV_ECANCELED / UV_ETIMEDOUT. After an
 * error, later reads return the same error. Task on the response's
 * worker. */
UVGO_EXTERN ssize_t uvgo_http_response_read(uvgo_ctx *ctx,
                                            uvgo_http_response *r, void *buf,
                                            size_t len);
/* Read the rest of the body into memory owned by the response (NUL-
 * terminated for convenience; valid until the response is freed). A body
 * over `limit` bytes fails with UVGO_EBODYTOOLARGE and nothing is kept.
 * Calling it again returns the same body.
 * @return 0; UVGO_EBODYTOOLARGE; UV_ENOMEM; the errors of
 * uvgo_http_response_read. Task on the response's worker. */
UVGO_EXTERN int uvgo_http_response_read_all(uvgo_ctx *ctx,
                                            uvgo_http_response *r,
                                            size_t limit, const char **body,
                                            size_t *len);
/* Go's resp.Body.Close: give the connection back. A body read to its
 * end, or a remainder of at most UVGO_HTTP_DRAIN_LIMIT bytes (read now),
 * keeps the connection for reuse; otherwise it is closed. Status and
 * headers stay readable; later reads return UVGO_EHTTPBODYCLOSED.
 * Idempotent. @return 0; UV_EINVAL (NULL, wrong worker). Task on the
 * response's worker. */
UVGO_EXTERN int uvgo_http_response_close(uvgo_http_response *r);
/* Close (if not yet) and free the response. NULL is a no-op. From a task
 * on the response's worker (UV_EINVAL elsewhere: nothing freed).
 * @return 0; UV_EINVAL. */
UVGO_EXTERN int uvgo_http_response_free(uvgo_http_response *r);

/* Counters of a client, for tests and tuning (each exact, the set not a
 * snapshot). */
typedef struct uvgo_http_client_stats {
  uint64_t dials;       /* connections opened */
  uint64_t reuses;      /* requests sent on a pooled connection */
  uint64_t retries;     /* requests retried on a fresh connection */
  uint64_t idle;        /* connections idle in the pools now */
  uint64_t in_flight;   /* requests whose response is not yet freed */
} uvgo_http_client_stats;
/* @return 0; UV_EINVAL. Any thread. */
UVGO_EXTERN int uvgo_http_client_stats_get(uvgo_http_client *client,
                                           uvgo_http_client_stats *out);

#ifdef __cplusplus
}
#endif
#endif
