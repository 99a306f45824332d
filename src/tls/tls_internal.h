/* TLS, internal side: the config and connection records and the helpers
 * config.c, conn.c, io.c, verify.c and info.c share.
 *
 * A TLS connection is a struct uvgo_conn whose `ops` point at this layer
 * (src/net/net_internal.h): the net layer dispatches every public
 * uvgo_conn_* call on it here. It owns the raw connection underneath and
 * runs OpenSSL over one custom memory BIO: OpenSSL reads ciphertext the
 * connection read from raw (`in`) and appends what it writes to `out`;
 * the connection's read and write paths move those bytes with
 * uvgo_conn_read / uvgo_conn_write on raw. No OpenSSL call ever parks:
 * every wait happens between OpenSSL calls, so tasks of the owning worker
 * can interleave on one SSL object safely.
 *
 * Threads: a connection lives on its home worker like any uvgo_conn. A
 * config is shared by every worker: its mutable parts (the frozen flag,
 * the session cache) sit behind its mutex, the rest is immutable once
 * frozen. */
#ifndef UVGO_TLS_INTERNAL_H
#define UVGO_TLS_INTERNAL_H

#include <openssl/ssl.h>

#include "net/net_internal.h"
#include "uvgo/tls.h"

#define UVGO__TLS_CONFIG_MAGIC 0x746c7363u /* "tlsc" */

/* One cached client session, keyed "server_name:port". */
typedef struct uvgo__tls_session {
  char *key;
  SSL_SESSION *sess;
  uint64_t used; /* LRU stamp */
} uvgo__tls_session;

struct uvgo_tls_config {
  uint32_t magic;
  _Atomic long refs;
  SSL_CTX *ctx;
  uv_mutex_t mu;       /* frozen, the session cache */
  bool frozen;         /* a connection used it: setters return UV_EBUSY */
  bool have_ca;        /* CAs were given: no system store */
  bool have_cert;      /* a certificate and key are loaded */
  bool insecure;       /* insecure_skip_verify */
  uvgo_tls_client_auth client_auth;
  unsigned char *alpn; /* wire format (length-prefixed), or NULL */
  size_t alpn_len;
  /* client session cache */
  size_t cache_max;
  size_t cache_n;
  uint64_t cache_clock;
  uvgo__tls_session *cache; /* cache_max entries once allocated */
};

/* A config argument is usable: not NULL (UV_EINVAL) and not released
 * (UVGO_ERELEASED); misuse is reported under UVGO_STRICT naming `call`.
 * Inline, so the report names the public call's caller. */
static inline int uvgo__tls_check_config(const uvgo_tls_config *cfg,
                                         const char *call) {
  if (cfg == NULL)
    return uvgo__misuse(UV_EINVAL, call, "NULL config",
                        __builtin_return_address(0));
  if (UVGO__UNLIKELY(cfg->magic != UVGO__TLS_CONFIG_MAGIC))
    return uvgo__misuse(UVGO_ERELEASED, call, "config used after release",
                        __builtin_return_address(0));
  return 0;
}

/* A FIFO lock for the tasks of one worker (reads, writes): no atomics,
 * waits are cancellation points. */
typedef struct uvgo__tls_waiter {
  uvgo__parker p;
  struct uvgo__tls_waiter *next;
} uvgo__tls_waiter;
typedef struct uvgo__tls_fifo {
  bool held;
  uvgo__tls_waiter *head;
} uvgo__tls_fifo;

/* A read from raw waits with this much room while the connection is idle
 * (at a record boundary, nothing buffered): an idle connection with a
 * parked reader then holds no record-sized buffer. */
#define UVGO__TLS_IN_SMALL 512
/* Room for several records per read from raw while records stream in
 * (as much as the raw connection lends at a time); freed when idle. */
#define UVGO__TLS_IN_BIG UVGO_CONN_BUFFER_SIZE
/* Plaintext handed to SSL_write at a time (four full records), so the
 * ciphertext waiting to be sent is bounded whatever the write's length. */
#define UVGO__TLS_WRITE_CHUNK (4 * 16384)

typedef struct uvgo__tls_conn {
  uvgo_conn base;       /* first: what the user holds */
  uvgo_conn *raw;       /* owned once the handshake succeeded */
  uvgo_tls_config *cfg; /* one reference */
  SSL *ssl;
  BIO *bio;
  bool server;
  bool handshaking;
  bool closing;         /* close ran: no more calls on raw */
  bool close_called;
  bool sent_close_notify;
  bool raw_eof;         /* raw reported UV_EOF */
  bool oom;             /* the BIO could not grow `out` */
  unsigned ops;         /* public calls in progress */
  uvgo__parker *closer; /* a task waiting in close for them to leave */
  bool closer_task;     /* close runs in a task: it frees the record */
  int read_err;         /* sticky read result (UV_EOF, truncation, ...) */
  int write_err;        /* sticky write result */
  uvgo__tls_fifo rlock; /* one task feeds OpenSSL from raw at a time */
  uvgo__tls_fifo wlock; /* one task sends `out` at a time */
  size_t want;          /* bytes OpenSSL last asked for and did not get */
  /* ciphertext read from raw, not yet taken by OpenSSL: in[in_start,in_end) */
  char *in;             /* small or a heap block of UVGO__TLS_IN_BIG */
  uint32_t in_cap, in_start, in_end;
  /* ciphertext OpenSSL wrote, not yet sent */
  char *out;
  size_t out_len, out_cap;
  char *spare;          /* a drained out buffer kept for the next flush */
  size_t spare_cap;
  char *cache_key;      /* client: "server_name:port" for the session cache */
  char err[256];        /* the last failure's reason, "" if none */
  char small[UVGO__TLS_IN_SMALL];
} uvgo__tls_conn;

/* --- config.c --- */
/* Freeze cfg at first use (loads the system store when no CA was given).
 * @return 0 or an error. Any thread. */
int uvgo__tls_config_freeze(uvgo_tls_config *cfg);
/* The session cache (client side). get returns a reference or NULL. */
SSL_SESSION *uvgo__tls_cache_get(uvgo_tls_config *cfg, const char *key);
void uvgo__tls_cache_put(uvgo_tls_config *cfg, const char *key,
                         SSL_SESSION *sess);
/* The SSL ex_data index holding the uvgo__tls_conn. */
int uvgo__tls_ex_index(void);

/* --- verify.c --- */
/* Name checks and SNI for a client SSL; @return 0 or an error. */
int uvgo__tls_setup_client(uvgo__tls_conn *t, const char *server_name,
                           unsigned port);
/* Classify the failure of an OpenSSL call (ssl_err from SSL_get_error)
 * into a uvgo code, recording the reason in t->err. Drains the queue. */
int uvgo__tls_failure(uvgo__tls_conn *t, int ssl_err);
/* Record a reason of our own. */
void uvgo__tls_set_reason(uvgo__tls_conn *t, const char *why);
/* The per-worker-thread reason of the last failed handshake. */
void uvgo__tls_keep_handshake_reason(const char *why);
const char *uvgo__tls_handshake_reason(void);

/* --- io.c --- */
/* The BIO method over t->in / t->out (made once, process-wide). */
BIO_METHOD *uvgo__tls_bio_method(void);
/* Read more ciphertext from raw into t->in.
 * @return 0; UV_EOF; an error from raw. */
int uvgo__tls_fill(uvgo__tls_conn *t, uvgo_ctx *ctx);
/* Send all of t->out; the caller holds wlock. @return 0 or an error. */
int uvgo__tls_flush(uvgo__tls_conn *t, uvgo_ctx *ctx);
/* Make sure `out` can take n more bytes without failing. */
int uvgo__tls_reserve(uvgo__tls_conn *t, size_t n);
/* Drop the idle buffers (in, out, spare) when nothing uses them. */
void uvgo__tls_trim(uvgo__tls_conn *t);
/* The FIFO lock. */
int uvgo__tls_lock(uvgo__tls_fifo *l, uvgo_ctx *ctx, const char *call);
void uvgo__tls_unlock(uvgo__tls_fifo *l);

/* --- conn.c --- */
extern const uvgo__conn_ops uvgo__tls_ops;

#endif
