/* uvgo — TCP and Unix-domain stream sockets, and DNS: Go's net.Dial,
 * net.Listen and net.Conn for tasks.
 *
 * Every blocking call here parks the calling task (never the thread) and is
 * a cancellation point under the task's own context and under the `ctx`
 * argument (NULL = the task's context only): it returns UV_ECANCELED or
 * UV_ETIMEDOUT when either ends. A cancelled call never abandons memory
 * libuv still uses: it aborts the libuv request and waits, immune to
 * cancellation, until libuv's callback has run (DESIGN.md, In-flight
 * requests). What the connection is left as after a cancel:
 *
 *   uvgo_dial, uvgo_dial_unix   no connection is returned (nothing to close)
 *   uvgo_accept                 the listener is unchanged
 *   uvgo_conn_read              the connection is unchanged and usable
 *   uvgo_conn_write             aborted: the call itself returns the
 *   uvgo_conn_shutdown          context's reason (UV_ECANCELED or
 *                               UV_ETIMEDOUT), the socket is closed, later
 *                               calls (and other tasks' calls blocked on
 *                               it) return UVGO_ECONNCLOSED; how many bytes
 *                               reached the peer is unknown. Still call
 *                               uvgo_conn_close to free it.
 *
 * Ownership and threads: a connection or listener belongs to the worker
 * whose task opened (dialled, accepted, listened) it, because a libuv
 * handle is bound to one loop. Every call on it must come from a task on
 * that worker (close also from a libuv callback on its loop); from anywhere
 * else it returns UV_EINVAL (a misuse: aborts under UVGO_STRICT=1). Hand a
 * connection to a new task with uvgo_go_on(uvgo_worker_id(), fn, conn): a
 * plain uvgo_go task may be stolen by another worker before it starts. To
 * serve on every core, open one listener per
 * worker on the same address with uvgo_listen_shared (SO_REUSEPORT) and let
 * the kernel spread connections (docs/net.md).
 *
 * Several tasks of the owning worker may use one connection at once: one
 * reading while another writes is the usual case; concurrent writes are
 * queued in call order, each written whole.
 *
 * Closing wakes the calls blocked on the object with UVGO_ECONNCLOSED (Go's
 * net.ErrClosed) and frees it once they have returned. An object nobody
 * waits on does not keep uvgo_run from returning (it leaks if not closed). */
#ifndef UVGO_NET_H
#define UVGO_NET_H

#include <sys/types.h> /* ssize_t */

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Guards the uvgo_ctx typedef, which several headers repeat. */
#ifndef UVGO_CTX_TYPEDEF
#define UVGO_CTX_TYPEDEF
/* A context (opaque; see ctx.h). */
typedef struct uvgo_ctx uvgo_ctx;
#endif

struct sockaddr_storage;

/* A connection (opaque): TCP, Unix or TLS, owned by the worker that made
 * it. */
typedef struct uvgo_conn uvgo_conn;
/* A listener (opaque), owned by the worker that made it. */
typedef struct uvgo_listener uvgo_listener;

/* Bytes a connection buffers from the peer while no task is reading: the
 * socket stops being read at this mark and resumes once a task drains it,
 * so a fast or hostile peer cannot make uvgo buffer without bound. */
#define UVGO_CONN_BUFFER_SIZE (64u * 1024u)

/* Go's net.Dial("tcp", host:port). host is a name or a numeric IPv4/IPv6
 * address; names resolve through uv_getaddrinfo on libuv's thread pool
 * (numeric ones without it), and every resolved address is tried in
 * order until one connects. On success *out is a connected socket owned
 * by the calling task's worker.
 * @return 0; UV_EINVAL (NULL/empty host, port 0 or > 65535, NULL out);
 * UVGO_ENOTTASK; UV_ENOMEM; UV_EMFILE (out of descriptors); a resolver
 * error (UV_EAI_NONAME, ...); the last address's connect error
 * (UV_ECONNREFUSED, UV_ETIMEDOUT, ...); UV_ECANCELED / UV_ETIMEDOUT from a
 * context. Task-only. */
UVGO_EXTERN int uvgo_dial(uvgo_ctx *ctx, const char *host, unsigned port,
                          uvgo_conn **out);
/* Connect to a Unix-domain stream socket at path.
 * @return as uvgo_dial (UV_ENOENT, UV_ECONNREFUSED for a missing or dead
 * socket). Task-only. */
UVGO_EXTERN int uvgo_dial_unix(uvgo_ctx *ctx, const char *path,
                               uvgo_conn **out);

/* Go's net.Listen("tcp", host:port). host NULL or "" listens on every IPv4
 * address; port 0 picks a free port (see uvgo_listener_port). backlog <= 0
 * means SOMAXCONN.
 * @return 0; UV_EINVAL; UVGO_ENOTTASK; UV_ENOMEM; UV_EMFILE; UV_EADDRINUSE;
 * a resolver error. Task-only. */
UVGO_EXTERN int uvgo_listen(const char *host, unsigned port, int backlog,
                            uvgo_listener **out);
/* The same with SO_REUSEPORT set before the bind: several listeners (one
 * per worker, say) may share host:port and the kernel spreads incoming
 * connections across them. Every listener on the port must be opened this
 * way. @return as uvgo_listen; UV_ENOTSUP where SO_REUSEPORT is missing. */
UVGO_EXTERN int uvgo_listen_shared(const char *host, unsigned port,
                                   int backlog, uvgo_listener **out);
/* Listen on a Unix-domain socket at path (which must not exist).
 * @return as uvgo_listen. Task-only. */
UVGO_EXTERN int uvgo_listen_unix(const char *path, int backlog,
                                 uvgo_listener **out);
/* The bound TCP port (the one picked for port 0); 0 for a Unix listener
 * or a bad argument. Owning worker. */
UVGO_EXTERN unsigned uvgo_listener_port(uvgo_listener *ln);
/* Wait for the next connection. The new connection belongs to the calling
 * task's worker.
 * @return 0; UV_EINVAL; UVGO_ENOTTASK; UV_ENOMEM (the pending connection
 * stays queued for the next call); UV_EMFILE / UV_ENFILE (out of
 * descriptors: libuv drops the connections waiting in the backlog, the
 * listener keeps listening and later calls succeed once descriptors are
 * free); UVGO_ECONNCLOSED (the listener was closed); UV_ECANCELED /
 * UV_ETIMEDOUT from a context. Task on the listener's worker. */
UVGO_EXTERN int uvgo_accept(uvgo_ctx *ctx, uvgo_listener *ln,
                            uvgo_conn **out);
/* Stop listening and free the listener; blocked uvgo_accept calls return
 * UVGO_ECONNCLOSED. From a task it waits for libuv's close callback; from
 * a libuv callback on the owning loop the free happens later by itself.
 * NULL is a no-op. Closing twice is a misuse (UVGO_ERELEASED when it can
 * be detected: always under UVGO_STRICT=1, which keeps freed objects
 * poisoned for a while).
 * @return 0; UV_EINVAL (wrong thread); UVGO_ERELEASED. */
UVGO_EXTERN int uvgo_listener_close(uvgo_listener *ln);

/* Go's Conn.Read: up to len bytes into buf, returned as soon as any are
 * available (buffered ones first).
 * @return bytes read (> 0); UV_EOF at the end of the stream (after every
 * byte the peer sent); a socket error (UV_ECONNRESET, ...);
 * UVGO_ECONNCLOSED; UV_EINVAL (NULL conn or buf, len 0, wrong worker);
 * UV_ENOMEM; UV_ECANCELED / UV_ETIMEDOUT from a context (the connection
 * stays usable and no byte is lost). Task on the owning worker. */
UVGO_EXTERN ssize_t uvgo_conn_read(uvgo_ctx *ctx, uvgo_conn *conn, void *buf,
                                   size_t len);
/* Go's Conn.Write: all len bytes, or an error. Tries a direct write first
 * and parks only when the socket's send buffer is full.
 * @return 0; UV_EINVAL; UV_EPIPE / UV_ECONNRESET (the peer went away: no
 * SIGPIPE under uvgo_run); UVGO_ECONNCLOSED; UV_ENOMEM; UV_ECANCELED /
 * UV_ETIMEDOUT from a context (the connection is then aborted, see the top
 * of this file). Task on the owning worker. */
UVGO_EXTERN int uvgo_conn_write(uvgo_ctx *ctx, uvgo_conn *conn,
                                const void *buf, size_t len);
/* Half-close: send FIN after queued writes; reads go on until the peer's
 * end. @return 0; UV_EINVAL; UV_ENOTCONN; UVGO_ECONNCLOSED; UV_ENOMEM;
 * UV_ECANCELED / UV_ETIMEDOUT (the connection is then aborted).
 * Task on the owning worker. */
UVGO_EXTERN int uvgo_conn_shutdown(uvgo_ctx *ctx, uvgo_conn *conn);
/* Close and free. Blocked reads, writes and shutdowns on it (other tasks)
 * return UVGO_ECONNCLOSED; unsent data may be lost. From a task it returns
 * once the connection is freed; from a libuv callback on the owning loop
 * the free completes later by itself. NULL is a no-op. A second close is a
 * misuse (see uvgo_listener_close).
 * @return 0; UV_EINVAL (wrong thread); UVGO_ERELEASED. */
UVGO_EXTERN int uvgo_conn_close(uvgo_conn *conn);

/* Local and remote address (for a Unix socket: a sockaddr_un with the
 * path, possibly empty for the unnamed end).
 * @return 0; UV_EINVAL; UVGO_ECONNCLOSED; a getsockname error. Owning
 * worker. */
UVGO_EXTERN int uvgo_conn_local_addr(uvgo_conn *conn,
                                     struct sockaddr_storage *out);
UVGO_EXTERN int uvgo_conn_peer_addr(uvgo_conn *conn,
                                    struct sockaddr_storage *out);
/* TCP_NODELAY (Go's default is on, and so is uvgo's for dialled and
 * accepted TCP connections). @return 0; UV_EINVAL; UV_ENOTSUP (Unix
 * socket); UVGO_ECONNCLOSED. Owning worker. */
UVGO_EXTERN int uvgo_conn_set_nodelay(uvgo_conn *conn, int enable);
/* SO_KEEPALIVE with the given idle delay in seconds (>= 1 when enabled).
 * @return as uvgo_conn_set_nodelay. */
UVGO_EXTERN int uvgo_conn_set_keepalive(uvgo_conn *conn, int enable,
                                        unsigned delay_s);

#ifdef __cplusplus
}
#endif
#endif
