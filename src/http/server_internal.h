/* The HTTP server, internal side: the server, connection, request and
 * response records that server.c (accept loop, registry, shutdown),
 * server_conn.c (the request loop, body reads) and server_response.c (the
 * response writer) share.
 *
 * All of one server lives on one worker (server.c says why), so nothing
 * here is locked. */
#ifndef UVGO_HTTP_SERVER_INTERNAL_H
#define UVGO_HTTP_SERVER_INTERNAL_H

#include <stdbool.h>

#include "core/internal.h"
#include "http/message.h"
#include "http/parser.h"
#include "uvgo.h"
#include "uvgo/http_server.h"

typedef struct uvgo__hsrv uvgo__hsrv;
typedef struct uvgo__hconn uvgo__hconn;

/* Bytes of body a response buffers before it gives up on Content-Length
 * and goes chunked. */
#define UVGO__HSRV_BUFFERED_BODY (16u * 1024u)
/* A connection's input buffer (requests are parsed from it in place). */
#define UVGO__HSRV_IN_SIZE (16u * 1024u)
/* Unread request body the server reads and drops after a handler to keep
 * the connection; more than that closes it. */
#define UVGO__HSRV_DISCARD_LIMIT (256u * 1024u)

struct uvgo__hsrv {
  uvgo_http_server_config cfg; /* defaults filled in */
  uvgo_http_handler handler;
  void *arg;
  uvgo_ctx *abort_ctx; /* connection tasks run under it; cancelled when
                          the shutdown timeout runs out */
  uvgo_wg wg;          /* connection tasks alive */
  uvgo__hconn *conns;  /* registry, for the shutdown */
  bool shutting_down;
};

/* The request half: what the handler reads. */
struct uvgo_http_req {
  uvgo__hconn *c;
  char method[24];
  char *target;            /* NUL-terminated, in target_buf */
  char *path;              /* copy of the path part */
  const char *query;       /* into target, after '?', or "" */
  int version;             /* 10 or 11 */
  uvgo_http_headers headers;
  int64_t content_length;  /* -1 chunked, 0 none */
  bool expect_continue;    /* "Expect: 100-continue" */
  bool continue_sent;
  bool body_done;          /* the parser reached the message's end */
  bool body_read_called;
  bool body_too_large;
  int body_err;            /* sticky error of a body read */
  uint64_t body_seen;      /* body bytes handed to the handler */
  char *all;               /* uvgo_http_req_read_all's buffer */
  size_t target_cap;
  char *target_buf;
  size_t path_cap;
};

/* The response half. */
struct uvgo_http_rw {
  uvgo__hconn *c;
  int status;              /* 0 until fixed */
  bool header_sent;
  bool chunked;            /* framing chosen at header time */
  bool close_delimited;    /* HTTP/1.0 peer, unknown length */
  bool no_body;            /* HEAD, 1xx, 204, 304 */
  bool has_clen;           /* the handler set Content-Length */
  bool failed;             /* a write failed: the connection is done */
  uint64_t clen;           /* its value */
  uint64_t body_bytes;     /* body bytes accepted so far */
  uvgo_http_headers headers;
};

/* A connection: its task runs uvgo__hconn_serve. */
struct uvgo__hconn {
  uvgo__hsrv *srv;
  uvgo__hconn *prev, *next; /* registry */
  uvgo_conn *conn;
  uvgo_ctx *wait_ctx;       /* set while waiting for a request (idle): a
                               shutdown cancels it */
  unsigned requests;        /* served so far */
  bool close_after;         /* this response is the last */
  bool eof;                 /* the peer's side ended */
  /* input: bytes in[start, end) not yet parsed */
  char *in;
  size_t start, end;
  uvgo__http_parser parser;
  /* output: bytes queued for one write */
  char *out;
  size_t out_len, out_cap;
  /* body bytes waiting for the headers (at most UVGO__HSRV_BUFFERED_BODY) */
  char *body;
  size_t body_len, body_cap;
  uvgo_http_req req;
  uvgo_http_rw rw;
};

void uvgo__hsrv_config_fill(uvgo_http_server_config *out,
                            const uvgo_http_server_config *in);
uint64_t uvgo__hsrv_deadline(uint64_t ms);
uvgo_ctx *uvgo__hsrv_ctx_until(uvgo__hsrv *srv, uint64_t deadline);
void uvgo__hsrv_conn_unlink(uvgo__hconn *c);

/* server_conn.c */
uvgo__hconn *uvgo__hconn_new(uvgo__hsrv *srv, uvgo_conn *conn);
/* Close the connection (if open) and free the record. */
void uvgo__hconn_free(uvgo__hconn *c);
/* The request loop, until the connection ends. */
void uvgo__hconn_serve(uvgo__hconn *c);

/* server_response.c */
/* Fresh response state for the next request. */
void uvgo__hrw_reset(uvgo_http_rw *w);
/* After the handler: send what is left (headers + buffered body, or the
 * last chunk). @return 0 or the write error. */
int uvgo__hrw_finish(uvgo_http_rw *w);
/* Discard what the handler wrote and answer an error status instead,
 * with Connection: close. @return 0 or the write error. */
int uvgo__hrw_error(uvgo_http_rw *w, int status);
/* Queue bytes for the socket / write what is queued (bounded by
 * write_timeout_ms). */
int uvgo__hconn_queue(uvgo__hconn *c, const void *p, size_t n);
int uvgo__hconn_flush_out(uvgo__hconn *c);
/* Write a complete canned response (no handler involved) and flush. */
int uvgo__hconn_send_simple(uvgo__hconn *c, int status, bool close);
const char *uvgo__http_reason(int status);

#endif
