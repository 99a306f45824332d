/* The HTTP client, internal side: the client record, its per-origin
 * pools, a pooled connection, a response, and what client.c, pool.c,
 * body.c, url.c, proxy.c and gzip.c share.
 *
 * Layout of the pools. A client holds a list of origins, one per
 * (scheme, host, port, proxy) ever used, found under the client's mutex.
 * An origin holds, per worker, a list of idle connections touched only by
 * tasks of that worker (a connection belongs to its worker: net.h), so the
 * idle lists need no lock. A semaphore per origin bounds the requests in
 * flight (max_conns_per_host): a token is taken before a connection is
 * picked or dialled and given back when the response is done with it.
 *
 * The transport seam. A request goes to a per-origin transport through
 * uvgo__http_round_trip (client.c): today every origin speaks HTTP/1.1 on
 * pooled connections; an HTTP/2 transport (one connection, many streams,
 * chosen by ALPN) would sit behind the same call without changing the
 * public API. Name resolution likewise goes through uvgo_dial (one
 * resolver interface below). */
#ifndef UVGO_HTTP_CLIENT_INTERNAL_H
#define UVGO_HTTP_CLIENT_INTERNAL_H

#include <stdatomic.h>
#include <zlib.h>

#include "core/internal.h"
#include "http/parser.h"
#include "uvgo/tls.h"

#define UVGO__HTTP_CLIENT_MAGIC 0x68636c69u /* "hcli" */
#define UVGO__HTTP_RESP_MAGIC 0x68727370u   /* "hrsp" */
#define UVGO__HTTP_RESP_DEAD 0xdeadd00du

/* Input buffer of a pooled connection: what one read takes from the
 * connection and the parser has not consumed yet. */
#define UVGO__HTTP_RBUF (16u * 1024u)

/* --- URLs (url.c) --- */

typedef struct uvgo__http_url {
  bool https;
  char *host;      /* lower-case name or address, no IPv6 brackets */
  bool host_ip6;   /* host is an IPv6 literal (bracket it in Host:) */
  unsigned port;   /* explicit or the scheme's default */
  bool port_given; /* the URL named a port */
  char *target;    /* origin-form: path and query, at least "/" */
  char *userinfo;  /* "user:pass" or NULL (proxy URLs) */
  char *text;      /* the URL as given, without fragment */
} uvgo__http_url;

/* Parse an absolute http:// or https:// URL.
 * @return 0; UVGO_EHTTPBADURL (NULL, empty, unparseable, relative, no
 * host, port 0 or > 65535); UVGO_EUNSUPPORTEDSCHEME; UV_ENOMEM. */
int uvgo__http_url_parse(const char *s, uvgo__http_url *out);
void uvgo__http_url_free(uvgo__http_url *u);
/* Resolve reference `ref` (a Location value) against `base` (RFC 3986
 * section 5) into a new absolute URL string (*out, uvgo__free it).
 * @return 0; UVGO_EHTTPBADURL; UV_ENOMEM. */
int uvgo__http_url_resolve(const char *base, const char *ref, char **out);
/* "host" or "host:port" (non-default port), IPv6 in brackets: the Host
 * header and the CONNECT authority (always with the port when
 * with_port). Into buf; @return 0 or UV_ENOBUFS. */
int uvgo__http_url_authority(const uvgo__http_url *u, bool with_port,
                             char *buf, size_t cap);

/* --- proxies (proxy.c) --- */

typedef struct uvgo__http_proxy_env {
  uvgo__http_url *http_proxy;  /* NULL = none */
  uvgo__http_url *https_proxy; /* NULL = none */
  char *no_proxy;              /* the NO_PROXY list, or NULL */
} uvgo__http_proxy_env;

/* Read HTTP_PROXY / HTTPS_PROXY / NO_PROXY (upper case first, then lower
 * case; HTTP_PROXY is ignored when REQUEST_METHOD is set, as Go does
 * against httpoxy). @return 0, UV_ENOMEM, UVGO_EHTTPBADURL (a proxy
 * variable that is not an http:// URL). */
int uvgo__http_proxy_env_load(uvgo__http_proxy_env *env);
void uvgo__http_proxy_env_free(uvgo__http_proxy_env *env);
/* The proxy for u, or NULL (none, or NO_PROXY matches the host). */
const uvgo__http_url *uvgo__http_proxy_for(const uvgo__http_proxy_env *env,
                                           const uvgo__http_url *u);

/* --- gzip (gzip.c): a streaming gunzip over caller buffers --- */

typedef struct uvgo__http_gunzip {
  z_stream z;
  bool started; /* inflateInit2 done */
  bool ended;   /* a member ended and no input followed yet */
} uvgo__http_gunzip;

void uvgo__http_gunzip_init(uvgo__http_gunzip *g);
/* Inflate from *in (advanced) into out. Concatenated members are one
 * stream. @return bytes written (>= 0); UVGO_EHTTPBADRESPONSE (not gzip,
 * corrupt); UV_ENOMEM. */
ssize_t uvgo__http_gunzip_step(uvgo__http_gunzip *g, const char **in,
                               size_t *in_len, char *out, size_t cap);
/* At the end of the input: 0 when the data ended on a member boundary,
 * else UVGO_EHTTPBADRESPONSE (truncated). */
int uvgo__http_gunzip_finish(const uvgo__http_gunzip *g);
void uvgo__http_gunzip_free(uvgo__http_gunzip *g);

/* --- the client and its pools (pool.c) --- */

typedef struct uvgo__http_origin uvgo__http_origin;
typedef struct uvgo__http_pconn uvgo__http_pconn;

/* A connection of a pool. Owned by the worker that dialled it. */
struct uvgo__http_pconn {
  uvgo_conn *conn;
  uvgo__http_origin *origin;
  uvgo__http_pconn *prev, *next; /* idle list links */
  uint64_t idle_since;           /* uvgo_now_ms when it went idle */
  uint32_t served;               /* responses completed on it */
  bool got_bytes;                /* a byte of the current response came */
  bool no_reuse;                 /* close it after the current response */
  uvgo__http_parser parser;      /* parses the responses, one after another */
  uint32_t rstart, rend;         /* unparsed input is rbuf[rstart, rend) */
  char rbuf[UVGO__HTTP_RBUF];
};

typedef struct uvgo__http_idle_list {
  uvgo__http_pconn *head, *tail; /* most recently idle first */
  unsigned n;
} uvgo__http_idle_list;

struct uvgo__http_origin {
  uvgo__http_origin *next;    /* the client's list */
  char *key;                  /* "scheme://host:port" [+ " via proxy"] */
  bool https;
  char *host;                 /* the server (the TLS name) */
  unsigned port;
  /* The proxy this origin goes through (NULL = direct): absolute-form
   * requests for http://, a CONNECT tunnel for https://. */
  uvgo__http_url *proxy;
  const uvgo__http_url *via;  /* the client's proxy entry it matched */
  char *proxy_auth;           /* Proxy-Authorization value, or NULL */
  bool limited;               /* max_conns_per_host != 0 */
  uvgo_sem busy;              /* tokens: requests in flight */
  _Atomic unsigned open;      /* open connections, all workers */
  uvgo__http_idle_list idle[UVGO_MAX_WORKERS];
};

struct uvgo_http_client {
  uint32_t magic;
  uvgo_http_client_config cfg; /* with the defaults filled in */
  char *user_agent;            /* NULL = send none */
  uvgo_tls_config *tls;        /* a reference */
  uvgo__http_proxy_env proxy;  /* loaded when cfg asks */
  uvgo_ctx *expired;           /* an ended context: non-blocking peeks */
  uv_mutex_t lock;             /* guards origins */
  uvgo__http_origin *origins;
  _Atomic uint64_t in_flight;  /* responses not yet freed + calls running */
  _Atomic uint64_t dials, reuses, retries, idle;
  uvgo_rt *default_of;         /* the runtime whose default client this is */
};

/* The origin for u (made at first use). @return 0, UV_ENOMEM. */
int uvgo__http_origin_get(uvgo_http_client *c, const uvgo__http_url *u,
                          uvgo__http_origin **out);
/* A connection to o for one request, the request's in-flight token taken
 * (waiting for one, bounded by ctx, when max_conns_per_host is reached):
 * an idle one of this worker when fresh is false and one is alive, else a
 * new one (dial, proxy CONNECT, TLS handshake, each bounded by its phase
 * limit). *reused says which.
 * @return 0; the dial/TLS/proxy errors; UVGO_EHTTPDIALTIMEOUT,
 * UVGO_EHTTPTLSTIMEOUT; UV_ECANCELED / UV_ETIMEDOUT. */
int uvgo__http_pool_get(uvgo_ctx *ctx, uvgo_http_client *c,
                        uvgo__http_origin *o, bool fresh,
                        uvgo__http_pconn **out, bool *reused);
/* Done with pc after a complete response: back to this worker's idle list
 * when reusable (and room), else closed. Gives the token back. */
void uvgo__http_pool_put(uvgo_http_client *c, uvgo__http_pconn *pc,
                         bool reusable);
/* Close every idle connection of the calling worker (all origins). */
void uvgo__http_pool_close_idle_here(uvgo_http_client *c);
/* Whether any idle connection is left, on any worker. */
bool uvgo__http_pool_has_idle(uvgo_http_client *c);
/* Free the origins (no connection may be left). */
void uvgo__http_pool_free(uvgo_http_client *c);

/* --- responses (body.c) --- */

struct uvgo_http_response {
  uint32_t magic;
  uvgo_http_client *client;
  uv_loop_t *home;            /* the worker's loop: the calls' check */
  uvgo__http_pconn *pc;       /* NULL once given back */
  int status;
  uvgo_http_headers headers;
  char *url;                  /* the URL it came from */
  bool closed;                /* uvgo_http_response_close ran */
  bool body_done;             /* UV_EOF reached */
  int body_err;               /* sticky error of the body */
  bool gzip;                  /* the client asked for gzip and got it */
  uvgo__http_gunzip gz;
  char *zbuf;                 /* compressed bytes waiting for inflate */
  uint32_t zstart, zend;
  bool raw_eof;               /* the raw body ended (gzip) */
  char *all;                  /* read_all's body */
  size_t all_len;
};

/* A response for pc's current message whose head has been parsed into
 * headers (moved into the response). @return 0 or UV_ENOMEM. */
int uvgo__http_response_new(uvgo_http_client *c, uvgo__http_pconn *pc,
                            const char *url, bool gzip,
                            uvgo_http_response **out);
/* Read the body to its end, at most `limit` bytes, discarding them
 * (closing a response, following a redirect). @return 0 when the end was
 * reached, else an error (too long, a failure). */
int uvgo__http_body_drain(uvgo_ctx *ctx, uvgo_http_response *r, size_t limit);
/* The response's own checks (NULL, magic, worker): 0 or UV_EINVAL. */
int uvgo__http_response_check(const uvgo_http_response *r, const char *call);

/* --- connection I/O shared by client.c and body.c --- */

/* Read more input into pc->rbuf (compacting it first) under ctx and the
 * client's read-idle limit (idle_err names the phase that ran out).
 * @return bytes added (> 0); UV_EOF; an error. */
ssize_t uvgo__http_pconn_fill(uvgo_ctx *ctx, uvgo_http_client *c,
                              uvgo__http_pconn *pc, uint64_t idle_ms,
                              int idle_err);

/* Run fn under a child of ctx bounded by ms (0 = no bound): a timeout of
 * the child but not of ctx becomes phase_err. */
int uvgo__http_phase_ctx(uvgo_ctx *ctx, uint64_t ms, uvgo_ctx **out);
int uvgo__http_phase_err(uvgo_ctx *ctx, uvgo_ctx *phase, int err,
                         int phase_err);

/* Defaults and the runtime's default client (client.c). */
uvgo_http_client *uvgo__http_default_client(int *err);

#endif
