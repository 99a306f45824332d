/* uvgo — TLS over a connection: Go's crypto/tls for tasks.
 *
 * A TLS connection IS a uvgo_conn: uvgo_conn_read / write / shutdown /
 * close, the address calls and the socket options all work on the
 * connection uvgo_tls_client, uvgo_tls_server and uvgo_tls_dial return,
 * exactly as Go's *tls.Conn is a net.Conn. Code written for TCP (the HTTP
 * client and server included) runs over TLS unchanged. The record layer
 * runs over OpenSSL 3 in the connection's own read and write paths (no
 * socket BIO, no thread: libuv owns the descriptor).
 *
 * Secure by default, as Go: a client verifies the peer's chain against the
 * system trust store (SSL_CERT_FILE / SSL_CERT_DIR honoured) or the CAs
 * the config names, and the server name or IP address against the
 * certificate; it sends SNI for names, never for IP literals; TLS 1.2 is
 * the minimum; renegotiation is refused. uvgo_tls_config_set_insecure_skip_verify
 * is the one way to turn verification off.
 *
 * Ownership, threads and cancellation follow net.h: the connection belongs
 * to the worker of the task that made it (the raw connection must be
 * one of that worker's), every blocking call is a cancellation point under
 * the task's context and `ctx`. What a cancelled call leaves behind
 * (net.h's table, for TLS):
 *
 *   uvgo_tls_client,            no connection is returned; the raw
 *   uvgo_tls_server             connection is still the caller's and is
 *                               mid-handshake: only uvgo_conn_close it
 *   uvgo_tls_dial               nothing is returned (nothing to close)
 *   uvgo_conn_read              the connection is unchanged and usable:
 *                               bytes of a partial record are kept
 *   uvgo_conn_write             aborted, as for TCP: the socket is closed,
 *   uvgo_conn_shutdown          later calls return UVGO_ECONNCLOSED; how
 *                               much reached the peer is unknown. Still
 *                               call uvgo_conn_close to free it.
 *
 * A config (uvgo_tls_config) wraps one SSL_CTX, is reference counted,
 * shared by every worker, and immutable once a connection used it (the
 * setters then return UV_EBUSY).
 *
 * Errors: verification failures are UVGO_ETLSVERIFY with OpenSSL's reason
 * ("certificate has expired", "unable to get local issuer certificate",
 * "hostname mismatch", ...) readable through uvgo_tls_last_error; a peer's
 * EOF without close_notify is UVGO_ETLSTRUNCATED, a clean close_notify is
 * UV_EOF. docs/tls.md has the whole list and the defaults. */
#ifndef UVGO_TLS_H
#define UVGO_TLS_H

#include "common.h"
#include "net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A TLS configuration (opaque; one SSL_CTX): made by uvgo_tls_config_new,
 * shared by reference, immutable once a connection used it. */
typedef struct uvgo_tls_config uvgo_tls_config;

/* Protocol versions, as on the wire (Go's tls.VersionTLS12 / 13). */
#define UVGO_TLS_VERSION_1_2 0x0303
#define UVGO_TLS_VERSION_1_3 0x0304

/* What a server asks of clients (Go's tls.ClientAuthType, reduced). */
typedef enum {
  UVGO_TLS_CLIENT_AUTH_NONE = 0, /* no client certificate asked (default) */
  UVGO_TLS_CLIENT_AUTH_REQUEST,  /* asked; verified against the CAs if sent */
  UVGO_TLS_CLIENT_AUTH_REQUIRE   /* required and verified */
} uvgo_tls_client_auth;

/* Default size of a config's client session cache (Go's LRU default). */
#define UVGO_TLS_SESSION_CACHE_DEFAULT 64

/* --- configs --- */

/* A new config with the defaults: system trust store, TLS 1.2 minimum,
 * verification on, no certificate, no ALPN, no client auth, a client
 * session cache of UVGO_TLS_SESSION_CACHE_DEFAULT entries. The caller holds
 * one reference.
 * @return 0; UV_EINVAL (NULL out); UV_ENOMEM; UVGO_ETLS (OpenSSL could not
 * make the context). Any thread. */
UVGO_EXTERN int uvgo_tls_config_new(uvgo_tls_config **out);
/* Take / drop a reference; the last release frees the config (connections
 * hold their own reference, so release it whenever you are done with it).
 * Release of NULL is a no-op.
 * @return 0; UV_EINVAL (NULL to retain); UVGO_ERELEASED (released too
 * often, when it can be detected). Any thread. */
UVGO_EXTERN int uvgo_tls_config_retain(uvgo_tls_config *cfg);
UVGO_EXTERN int uvgo_tls_config_release(uvgo_tls_config *cfg);

/* The setters below share these rules. They may be called from any thread
 * but not concurrently with a first use of the config; once a connection
 * has used the config they return UV_EBUSY and change nothing. Every one
 * returns 0; UV_EINVAL (NULL cfg or a bad argument); UV_EBUSY; UV_ENOMEM;
 * and the specific errors listed. A call that fails leaves the config as
 * it was before the call. */

/* Trust the CAs in a PEM file / a hashed directory (c_rehash layout) /
 * PEM text in memory (len bytes; 0 = NUL-terminated) instead of the
 * system store. Calls add up (several files, a file and a directory...).
 * @return also UV_ENOENT / UV_EACCES (unreadable file or directory);
 * UVGO_ETLSCONFIG (no certificate in it, or a malformed one). */
UVGO_EXTERN int uvgo_tls_config_set_ca_file(uvgo_tls_config *cfg,
                                            const char *path);
UVGO_EXTERN int uvgo_tls_config_set_ca_dir(uvgo_tls_config *cfg,
                                           const char *path);
UVGO_EXTERN int uvgo_tls_config_set_ca_pem(uvgo_tls_config *cfg,
                                           const char *pem, size_t len);
/* This end's certificate chain (leaf first, then intermediates) and its
 * private key, from PEM files or PEM text (lengths 0 = NUL-terminated).
 * A server needs one; a client sends it when a server asks. Replaces a
 * previous one.
 * @return also UV_ENOENT / UV_EACCES; UVGO_ETLSCONFIG (malformed
 * certificate or key); UVGO_ETLSKEY (the key does not match the
 * certificate). */
UVGO_EXTERN int uvgo_tls_config_set_cert_files(uvgo_tls_config *cfg,
                                               const char *chain_path,
                                               const char *key_path);
UVGO_EXTERN int uvgo_tls_config_set_cert_pem(uvgo_tls_config *cfg,
                                             const char *chain_pem,
                                             size_t chain_len,
                                             const char *key_pem,
                                             size_t key_len);
/* ALPN protocols in preference order (Go's NextProtos), each 1..255
 * bytes; n = 0 clears the list. A client offers them; a server picks the
 * first of its list the client offered, and a handshake with no protocol
 * in common fails (as Go). */
UVGO_EXTERN int uvgo_tls_config_set_alpn(uvgo_tls_config *cfg,
                                         const char *const *protos, size_t n);
/* Lowest / highest protocol version (UVGO_TLS_VERSION_*; 0 for max =
 * the highest supported). Defaults: 1.2 and 1.3. */
UVGO_EXTERN int uvgo_tls_config_set_min_version(uvgo_tls_config *cfg,
                                                int version);
UVGO_EXTERN int uvgo_tls_config_set_max_version(uvgo_tls_config *cfg,
                                                int version);
/* Cipher choice: `tls12` an OpenSSL cipher list for TLS 1.2, `tls13` an
 * OpenSSL TLS 1.3 ciphersuite list ("TLS_AES_128_GCM_SHA256:..."); NULL
 * keeps a default. @return also UVGO_ETLSCONFIG (no cipher matched). */
UVGO_EXTERN int uvgo_tls_config_set_ciphers(uvgo_tls_config *cfg,
                                            const char *tls12,
                                            const char *tls13);
/* Server: ask for, or require, a client certificate verified against the
 * config's CAs (Go's RequestClientCert / RequireAndVerifyClientCert;
 * "request" verifies a certificate the client chose to send). */
UVGO_EXTERN int uvgo_tls_config_set_client_auth(uvgo_tls_config *cfg,
                                                uvgo_tls_client_auth mode);
/* Client: do not verify the server's chain or name (Go's
 * InsecureSkipVerify). Anyone on the path can then read and change the
 * traffic: for tests and pinned-by-other-means setups only. */
UVGO_EXTERN int uvgo_tls_config_set_insecure_skip_verify(
    uvgo_tls_config *cfg, int skip);
/* Client session cache: at most `max_sessions` sessions (tickets), one per
 * server name and port, least recently used dropped first; 0 turns
 * resumption off. */
UVGO_EXTERN int uvgo_tls_config_set_session_cache(uvgo_tls_config *cfg,
                                                  size_t max_sessions);

/* --- connections --- */

/* Go's tls.Client(raw, cfg) + Handshake: run a client handshake over raw
 * and return the TLS connection. server_name is the name (or IP literal)
 * the certificate must match, and the SNI sent for a name; NULL or "" is
 * an error unless verification is off (Go's "either ServerName or
 * InsecureSkipVerify must be specified"). On success *out owns raw (close
 * *out, never raw) and a reference to cfg; on failure *out is NULL and
 * raw is still the caller's (its TLS state is spent: close it).
 * @return 0; UV_EINVAL (NULL raw, cfg or out; no server name with
 * verification on; raw belongs to another worker, or is already a TLS
 * connection); UVGO_ERELEASED (raw already closed, when detectable);
 * UVGO_ECONNCLOSED; UVGO_ENOTTASK; UV_ENOMEM; UVGO_ETLSVERIFY;
 * UVGO_ETLSHANDSHAKE (the peer refused: an alert, no common version,
 * cipher or ALPN protocol; or it closed during the handshake);
 * UVGO_ETLSRECORD (the peer does not speak TLS); UVGO_ETLS; a socket
 * error (UV_ECONNRESET, ...); UV_ECANCELED / UV_ETIMEDOUT from a context.
 * Task on raw's worker. */
UVGO_EXTERN int uvgo_tls_client(uvgo_ctx *ctx, uvgo_conn *raw,
                                uvgo_tls_config *cfg, const char *server_name,
                                uvgo_conn **out);
/* Go's tls.Server(raw, cfg) + Handshake: the server side. cfg needs a
 * certificate. Ownership as uvgo_tls_client.
 * @return as uvgo_tls_client; UVGO_ETLSCONFIG (no certificate in cfg).
 * Task on raw's worker. */
UVGO_EXTERN int uvgo_tls_server(uvgo_ctx *ctx, uvgo_conn *raw,
                                uvgo_tls_config *cfg, uvgo_conn **out);
/* Go's tls.Dial: uvgo_dial(host, port) then uvgo_tls_client with host as
 * the server name. Nothing is left open on failure.
 * @return as uvgo_dial and uvgo_tls_client. Task-only. */
UVGO_EXTERN int uvgo_tls_dial(uvgo_ctx *ctx, const char *host, unsigned port,
                              uvgo_tls_config *cfg, uvgo_conn **out);

/* What a handshake settled (Go's tls.ConnectionState, reduced). Strings
 * are NUL-terminated and "" when absent. */
typedef struct uvgo_tls_conn_info {
  int version;            /* UVGO_TLS_VERSION_* */
  char version_name[16];  /* "TLSv1.3" */
  char cipher[64];        /* "TLS_AES_128_GCM_SHA256" (OpenSSL's name) */
  char alpn[256];         /* the negotiated ALPN protocol */
  char server_name[256];  /* the SNI: sent (client) or received (server) */
  int resumed;            /* 1: an abbreviated (resumed) handshake */
  int peer_verified;      /* 1: the peer sent a certificate that verified */
  char peer_subject[256]; /* the peer leaf's subject, RFC 2253 one line */
} uvgo_tls_conn_info;

/* Fill *out for a TLS connection.
 * @return 0; UV_EINVAL (NULL, wrong worker); UVGO_ENOTTLS (a plain
 * connection); UVGO_ECONNCLOSED. Owning worker. */
UVGO_EXTERN int uvgo_tls_info(uvgo_conn *conn, uvgo_tls_conn_info *out);
/* OpenSSL's reason for the connection's last TLS failure (a verification
 * reason, an alert, a protocol error), "" when there was none. The string
 * stays valid until the next call on the connection. A failed handshake
 * returns no connection: conn NULL gives the reason of the calling task's
 * last failed uvgo_tls_client / uvgo_tls_server / uvgo_tls_dial, valid
 * until the task next blocks (it is kept per worker thread). NULL for a
 * closed or plain connection, or off the owning worker. Task (or, with a
 * connection, its owning worker). */
UVGO_EXTERN const char *uvgo_tls_last_error(uvgo_conn *conn);

#ifdef __cplusplus
}
#endif
#endif
