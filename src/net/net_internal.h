/* Networking, internal side: the connection and listener records and the
 * helpers net_dial.c, net_conn.c and net_listen.c share.
 *
 * Everything here runs on the object's home worker thread: libuv callbacks
 * come from that worker's loop and every public call checks it is made
 * there. The only cross-thread event is a context cancelling a parked
 * call, and that goes through the parker's claim, never through these
 * records. */
#ifndef UVGO_NET_INTERNAL_H
#define UVGO_NET_INTERNAL_H

#include <sys/socket.h>

#include "core/park.h"

#define UVGO__CONN_MAGIC 0x636f6e6eu /* "conn" */
#define UVGO__LISTENER_MAGIC 0x6c69736eu /* "lisn" */

/* One blocked request (connect, write, shutdown, getaddrinfo): libuv's
 * callback records the result and wakes the task; after a cancel the task
 * waits again on `late`, immune to cancellation, until the callback ran. */
typedef struct uvgo__net_op {
  uvgo__parker p;
  uvgo__parker *late; /* the shielded second wait, or NULL */
  int status;         /* the callback's status */
  bool done;          /* the callback ran */
  bool cancelled;     /* a context ended the wait: the request was aborted */
  void *result;       /* getaddrinfo: the list */
} uvgo__net_op;

/* A task parked in uvgo_conn_read: the socket reads straight into its
 * buffer when nothing is buffered (no copy on the common path). */
typedef struct uvgo__net_reader {
  uvgo__parker p;
  char *buf;
  size_t len; /* at most UVGO_CONN_BUFFER_SIZE */
  struct uvgo__net_reader *next;
} uvgo__net_reader;

/* The part a connection and a listener share: the handle and the close
 * protocol (close requested -> libuv's close callback -> calls in progress
 * have left -> free). */
typedef struct uvgo__net_obj {
  uint32_t magic;
  bool is_pipe;
  bool handle_closing;  /* uv_close called (by close, or by an abort) */
  bool handle_closed;   /* its callback ran */
  bool close_called;    /* uvgo_conn_close / uvgo_listener_close ran */
  unsigned ops;         /* public calls in progress that will touch it */
  uvgo__worker *home;
  uvgo__parker *closer; /* a task waiting in close for ops and callback */
  uvgo__net_reader *waiters; /* parked readers or accepters, FIFO */
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h;
} uvgo__net_obj;

/* A transport layered over a connection (TLS, src/tls): a record whose
 * `ops` is set embeds struct uvgo_conn as its first member, and every
 * public uvgo_conn_* call on it goes to these functions (which make their
 * own checks). The net layer knows nothing else of the layer above. */
typedef struct uvgo__conn_ops {
  ssize_t (*read)(uvgo_ctx *ctx, uvgo_conn *c, void *buf, size_t len);
  int (*write)(uvgo_ctx *ctx, uvgo_conn *c, const void *buf, size_t len);
  int (*shutdown)(uvgo_ctx *ctx, uvgo_conn *c);
  int (*close)(uvgo_conn *c);
  int (*addr)(uvgo_conn *c, bool peer, struct sockaddr_storage *out);
  int (*set_nodelay)(uvgo_conn *c, int enable);
  int (*set_keepalive)(uvgo_conn *c, int enable, unsigned delay_s);
} uvgo__conn_ops;

struct uvgo_conn {
  uvgo__net_obj o;
  const uvgo__conn_ops *ops; /* NULL: a plain socket; else a layered one */
  bool reading;            /* uv_read_start is in effect */
  int read_err;            /* sticky UV_EOF or error, after the buffer */
  uvgo__net_reader *lent;  /* reader whose buffer libuv is filling */
  bool filled;             /* a lent buffer just came back full: libuv
                              is about to ask for another at once */
  bool round_ended;        /* on_alloc refused on purpose (see there) */
  char *buf;               /* UVGO_CONN_BUFFER_SIZE bytes, or NULL */
  uint32_t start, end;     /* buffered bytes are buf[start, end) */
};

struct uvgo_listener {
  uvgo__net_obj o;
  bool pending;     /* libuv holds one accepted fd for uv_accept */
  int pending_err;  /* an accept error not yet reported */
  unsigned port;
};

/* The calling thread must be o's home worker; @return 0 or UV_EINVAL
 * (misuse), UVGO_ERELEASED for a freed object (under UVGO_STRICT). */
int uvgo__net_check(const uvgo__net_obj *o, uint32_t magic, const char *call);
/* 0 when the caller is a task, else UVGO_ENOTTASK. */
int uvgo__net_need_task(const char *call);

/* Wait for op's callback under the task's context and ctx. On a cancel the
 * request is aborted with abort(arg) and the task waits for the callback
 * anyway. @return the callback's status if it ran before the cancel took
 * effect, else the context's error. */
int uvgo__net_op_wait(uvgo__net_op *op, uvgo_ctx *ctx, const char *call,
                      void (*abort)(void *arg), void *arg);
/* The callback side: record status and wake whichever wait is current. */
void uvgo__net_op_done(uvgo__net_op *op, int status);

/* Wait on p (prepared) immune to the task's cancellation. */
void uvgo__net_wait_shielded(uvgo__parker *p);

/* A freshly initialised handle: point it at o and unreference it. Only a
 * parked call references the handle (uvgo__net_link_waiter), so the
 * deadlock check counts a task waiting on it as waiting for I/O, and an
 * object nobody waits on — one a program forgot to close — cannot keep
 * the loop, and so uvgo_run, from ending. Requests in flight (connect,
 * write, shutdown) keep the loop alive on their own. */
void uvgo__net_adopt(uvgo__net_obj *o);

/* Records. */
uvgo_conn *uvgo__conn_new(bool is_pipe);
/* uv_close the handle if still open, wake every parked call. */
void uvgo__net_close_handle(uvgo__net_obj *o);
/* A call on o has finished: free o if it was the last thing holding it. */
void uvgo__net_op_leave(uvgo__net_obj *o);
/* Close an object no one else can see (failed dial or accept) and wait
 * until it is freed. Task-only. */
void uvgo__net_destroy(uvgo__net_obj *o);
/* The close protocol of uvgo_conn_close / uvgo_listener_close. */
int uvgo__net_close(uvgo__net_obj *o, uint32_t magic, const char *call);
/* The FIFO of parked readers or accepters. */
void uvgo__net_link_waiter(uvgo__net_obj *o, uvgo__net_reader *me);
void uvgo__net_unlink_waiter(uvgo__net_obj *o, uvgo__net_reader *me);
/* Wake every parked reader/accepter to look at the object again. */
void uvgo__net_wake_all(uvgo__net_obj *o);

/* Resolved addresses, in the resolver's order; the first
 * UVGO__NET_MAX_ADDRS are kept (on the caller's stack: no allocation). */
#define UVGO__NET_MAX_ADDRS 16
typedef struct uvgo__net_addrs {
  int n;
  struct sockaddr_storage a[UVGO__NET_MAX_ADDRS];
} uvgo__net_addrs;
/* Resolve host:port (numeric addresses without the thread pool; NULL or
 * "" host = 0.0.0.0 when passive). @return 0 or an error. Task-only. */
int uvgo__net_resolve(uvgo_ctx *ctx, const char *host, unsigned port,
                      bool passive, uvgo__net_addrs *out);

/* Free a record (kept poisoned for a while under UVGO_STRICT). */
void uvgo__net_free(uvgo__net_obj *o);

#endif
