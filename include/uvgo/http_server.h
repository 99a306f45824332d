/* uvgo — the HTTP/1.1 server: Go's net/http server for tasks.
 *
 *   static int hello(uvgo_http_req *req, uvgo_http_rw *w, void *arg) {
 *     uvgo_http_set_header(w, "Content-Type", "text/plain");
 *     return uvgo_http_write(w, "hello\n", 6);
 *   }
 *   ...
 *   uvgo_listener *ln;
 *   uvgo_listen("127.0.0.1", 8080, 0, &ln);
 *   uvgo_http_serve(ctx, ln, NULL, hello, NULL);  // until ctx ends
 *
 * One task per connection, pinned to the listener's worker; the requests of
 * a connection are served one after the other in that task (keep-alive;
 * pipelined requests are answered in order), and the handler runs in it, so
 * a handler may block (channels, I/O, sleeps) like any task. Every request
 * and response is bounded: header bytes and count, body bytes, the time to
 * read the headers, the wait for the next request, each body read and each
 * write. A request that breaks a limit gets 400, 408, 413 or 431 and the
 * connection closes.
 *
 * Responses: headers set with uvgo_http_set_header before the first write
 * or uvgo_http_write_header, which fix them (as in Go); the status
 * defaults to 200. Body bytes are
 * buffered: a handler that writes up to 16 KiB and returns gets one write
 * with Content-Length; more than that (or uvgo_http_flush) sends the
 * headers and goes on with chunked encoding (close-delimited for an
 * HTTP/1.0 client). A Content-Length set by the handler is honoured and
 * enforced. HEAD responses carry the headers of the GET (Content-Length of
 * what the handler wrote) and no body; 1xx, 204 and 304 no body at all.
 *
 * Thread contract: uvgo_http_serve runs in a task and serves on that task's
 * worker (the listener's); the uvgo_http_req_* and uvgo_http_* calls on a
 * request or writer are for the handler's task only (the task the handler
 * was called in), and only until the handler returns. */
#ifndef UVGO_HTTP_SERVER_H
#define UVGO_HTTP_SERVER_H

#include <sys/types.h>

#include "common.h"
#include "http.h"
#include "net.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef UVGO_CTX_TYPEDEF
#define UVGO_CTX_TYPEDEF
typedef struct uvgo_ctx uvgo_ctx;
#endif

struct uvgo_tls_config;

/* A request being served (method, target, headers, body stream). */
typedef struct uvgo_http_req uvgo_http_req;
/* Its response writer (Go's http.ResponseWriter). */
typedef struct uvgo_http_rw uvgo_http_rw;

/* The handler: runs in the connection's task, once per request. Return 0
 * when done (what was written is the response; nothing written = an empty
 * 200), or a negative code when it failed: a 500 is sent if nothing was
 * sent yet, else the connection is closed (the client sees a cut body). A
 * body read that hit max_body_bytes makes that 500 a 413. */
typedef int (*uvgo_http_handler)(uvgo_http_req *req, uvgo_http_rw *w,
                                 void *arg);

/* A duration field set to this is "no limit". */
#define UVGO_HTTP_NO_TIMEOUT UINT64_MAX

/* Server settings; zero-initialise and set what you need: a 0 field takes
 * the default in brackets. Durations in milliseconds. */
typedef struct uvgo_http_server_config {
  uint64_t read_header_timeout_ms; /* from a request's first byte (or the
                                      connection's accept) to the end of its
                                      headers: 408 and close [10000] */
  uint64_t idle_timeout_ms;        /* keep-alive wait for the next request:
                                      close [60000] */
  uint64_t body_read_timeout_ms;   /* each wait for body bytes inside
                                      uvgo_http_req_read: UV_ETIMEDOUT to
                                      the handler, then 408 [30000] */
  uint64_t write_timeout_ms;       /* each socket write of the response
                                      (a peer not reading): abort [30000] */
  uint64_t shutdown_timeout_ms;    /* graceful shutdown: how long in-flight
                                      requests may go on once ctx ended,
                                      before they are aborted [5000] */
  size_t max_header_bytes;         /* request line + headers: 431 (414 is
                                      not used) [32768] */
  size_t max_headers;              /* header lines: 431 [100] */
  uint64_t max_body_bytes;         /* request body: reads past it fail with
                                      UVGO_EBODYTOOLARGE, then 413 and
                                      close [10 MiB] */
  unsigned max_requests_per_conn;  /* then Connection: close [unlimited] */
  size_t stack_size;               /* connection tasks' stack [runtime's
                                      default] */
  /* TLS: when set, every accepted connection is wrapped with
   * uvgo_tls_server first (the handshake is bounded by
   * read_header_timeout_ms). Retained by the serve call for its life. */
  struct uvgo_tls_config *tls;
} uvgo_http_server_config;

/* Go's http.Serve(ln, handler) + Server.Shutdown(ctx): accept connections
 * on ln and serve each in its own task until ctx ends; then shut down
 * gracefully: close ln (new connections are refused, not left in the
 * backlog), close idle connections, let requests in flight finish (their
 * responses say Connection: close) for up to shutdown_timeout_ms, abort
 * the rest (their context ends: blocking calls in the handler return
 * UV_ECANCELED, writes are aborted), and return once every connection
 * task has ended. Takes ownership of ln: it is closed and freed on return,
 * on every path. cfg may be NULL (defaults); it is copied.
 * @return 0 after the shutdown; UV_EINVAL (NULL ln or handler: ln is
 * still closed; a listener of another worker: left alone, this task
 * cannot touch it); UVGO_ENOTTASK; UV_ENOMEM;
 * UVGO_ECONNCLOSED (someone else closed ln: the connections are drained
 * as for a shutdown). Task on ln's worker. */
UVGO_EXTERN int uvgo_http_serve(uvgo_ctx *ctx, uvgo_listener *ln,
                                const uvgo_http_server_config *cfg,
                                uvgo_http_handler handler, void *arg);

/* Serve on every worker: ln must have been opened with uvgo_listen_shared
 * (SO_REUSEPORT) by the calling task; each other worker opens its own
 * shared listener on ln's address and port and serves it, so the kernel
 * spreads connections and none crosses a thread (docs/net.md). Returns
 * when every worker's server has shut down (ctx ended), with the first
 * error. Takes ownership of ln.
 * @return as uvgo_http_serve; a listen error of another worker
 * (UV_EADDRINUSE when ln was not shared): then every server is shut down.
 * Task on ln's worker. */
UVGO_EXTERN int uvgo_http_serve_shared(uvgo_ctx *ctx, uvgo_listener *ln,
                                       const uvgo_http_server_config *cfg,
                                       uvgo_http_handler handler, void *arg);

/* --- the request (handler's task, until the handler returns) --- */

/* "GET", "POST", ... ("" for NULL). */
UVGO_EXTERN const char *uvgo_http_req_method(const uvgo_http_req *req);
/* The request-target as sent ("/a/b?x=1", "*", "host:443" for CONNECT). */
UVGO_EXTERN const char *uvgo_http_req_target(const uvgo_http_req *req);
/* The target's path ("/a/b"), not percent-decoded; "" for NULL. */
UVGO_EXTERN const char *uvgo_http_req_path(const uvgo_http_req *req);
/* The query after '?' without it ("x=1"), "" when there is none. */
UVGO_EXTERN const char *uvgo_http_req_query(const uvgo_http_req *req);
/* 10 for HTTP/1.0, 11 for HTTP/1.1 (0 for NULL). */
UVGO_EXTERN int uvgo_http_req_version(const uvgo_http_req *req);
/* The first value of header `name` (case-insensitive), or NULL. */
UVGO_EXTERN const char *uvgo_http_req_header(const uvgo_http_req *req,
                                             const char *name);
/* All request headers, in arrival order, repeated ones kept (the shared
 * collection of uvgo/http.h). Borrowed. */
UVGO_EXTERN const uvgo_http_headers *uvgo_http_req_headers(
    const uvgo_http_req *req);
/* The declared body length; -1 when chunked (unknown), 0 without body. */
UVGO_EXTERN int64_t uvgo_http_req_content_length(const uvgo_http_req *req);
/* The request's context: it ends when the server aborts the request
 * (shutdown timeout). Borrowed; pass it to the calls the handler makes. */
UVGO_EXTERN uvgo_ctx *uvgo_http_req_ctx(const uvgo_http_req *req);
/* The client's address. @return 0; UV_EINVAL; as uvgo_conn_peer_addr. */
UVGO_EXTERN int uvgo_http_req_peer_addr(const uvgo_http_req *req,
                                        struct sockaddr_storage *out);

/* Read up to len body bytes (chunked encoding removed). The first read of
 * a request that said "Expect: 100-continue" sends "100 Continue" first.
 * @return bytes (> 0); UV_EOF at the end of the body (at once for a
 * request without one); UVGO_EBODYTOOLARGE (past max_body_bytes);
 * UVGO_EHTTPBADREQUEST (malformed chunking); UVGO_EHTTPUNEXPECTEDEOF (the
 * client closed mid-body);
 * UV_ETIMEDOUT (body_read_timeout_ms); UV_ECANCELED (aborted); a socket
 * error; UV_EINVAL. Handler's task. */
UVGO_EXTERN ssize_t uvgo_http_req_read(uvgo_http_req *req, void *buf,
                                       size_t len);
/* The whole body, at most limit bytes (0 = max_body_bytes), in memory
 * owned by the request (NUL-terminated, not counted in *len; valid until
 * the handler returns).
 * @return 0; UVGO_EBODYTOOLARGE (more than limit: nothing kept, and a
 * failing handler gets 413); UV_ENOMEM; errors as uvgo_http_req_read.
 * Handler's task. */
UVGO_EXTERN int uvgo_http_req_read_all(uvgo_http_req *req, size_t limit,
                                       const char **out, size_t *len);

/* --- the response (handler's task, until the handler returns) --- */

/* Set header name to value, replacing earlier values (Go's Header.Set);
 * value NULL deletes it. Connection, Transfer-Encoding and Date are the
 * server's (Date is set unless the handler sets it); a Content-Length set
 * here is used as the body's length.
 * @return 0; UV_EINVAL (NULL w or name); UVGO_EHTTPBADHEADER (a name
 * that is not an HTTP token, a value with CR, LF, NUL or another control
 * byte, Transfer-Encoding, a Content-Length that is not a number: refused,
 * nothing changes — no header injection); UVGO_EHTTPHEADERSENT (too
 * late); UV_ENOMEM. */
UVGO_EXTERN int uvgo_http_set_header(uvgo_http_rw *w, const char *name,
                                     const char *value);
/* Add a value to header name, keeping earlier ones (Go's Header.Add).
 * @return as uvgo_http_set_header. */
UVGO_EXTERN int uvgo_http_add_header(uvgo_http_rw *w, const char *name,
                                     const char *value);
/* Go's WriteHeader: fix the status (100..999; 1xx other than 101 are not
 * supported and refused). The headers go out with the first write that
 * cannot be buffered, with uvgo_http_flush, or when the handler returns.
 * @return 0; UV_EINVAL (status out of range); UVGO_EHTTPHEADERSENT
 * (already fixed: the first status stays). */
UVGO_EXTERN int uvgo_http_write_header(uvgo_http_rw *w, int status);
/* Go's Write: append len body bytes (the status becomes 200 if not set).
 * Nothing is sent for HEAD, 204 and 304 (the bytes are counted for a
 * HEAD's Content-Length).
 * @return 0; UVGO_EHTTPBODYLEN (more than the Content-Length the handler
 * set: nothing of this call is written); UV_EPIPE / UV_ECONNRESET (the
 * client went away); UV_ETIMEDOUT (write_timeout_ms: the connection is
 * aborted); UV_ECANCELED; UV_EINVAL. Handler's task. */
UVGO_EXTERN int uvgo_http_write(uvgo_http_rw *w, const void *buf, size_t len);
/* Printf into the body. @return as uvgo_http_write; UV_ENOMEM. */
UVGO_EXTERN int uvgo_http_printf(uvgo_http_rw *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Go's Flusher: send the headers and what is buffered now (the response
 * becomes chunked unless its length was set). @return as uvgo_http_write. */
UVGO_EXTERN int uvgo_http_flush(uvgo_http_rw *w);
/* The status so far (0 before write_header or a write). */
UVGO_EXTERN int uvgo_http_rw_status(const uvgo_http_rw *w);

#ifdef __cplusplus
}
#endif
#endif
