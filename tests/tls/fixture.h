/* TLS test fixtures: certificates made with OpenSSL's API in a fresh
 * temporary directory, and real peers (openssl s_server / s_client,
 * curl) started as child processes that die with the test. */
#ifndef UVGO_TEST_TLS_FIXTURE_H
#define UVGO_TEST_TLS_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Every file is PEM, with EC P-256 keys.
 *   ca            the test CA (trusted by the tests)
 *   server        CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1
 *   expired       as server, but expired yesterday
 *   other         CN=other.example, SAN DNS:other.example (wrong name/IP)
 *   self          self-signed CN=localhost with the server's SANs
 *   client        CN=uvgo-client, clientAuth, signed by ca
 *   rogue_client  CN=rogue, signed by rogue_ca (not trusted)
 * Each has NAME.crt and NAME.key in dir; paths via tls_fx_path. */
typedef struct tls_fx {
  char dir[128];
} tls_fx;

/* Make the directory and every file; aborts the test on failure. Under
 * UVGO_TLS_FX_DIR (tls_fx_lend_dir) the files go into that directory. */
void tls_fx_make(tls_fx *fx);
/* Make an empty fixture directory and name it in UVGO_TLS_FX_DIR, for a
 * helper process that is meant to abort: its tls_fx_make fills this one,
 * and the caller's tls_fx_remove cleans up what the helper could not. */
void tls_fx_lend_dir(tls_fx *fx);
/* Remove the files and the directory. */
void tls_fx_remove(tls_fx *fx);
/* dir/name into a static rotating buffer (valid for a few calls). */
const char *tls_fx_path(const tls_fx *fx, const char *name);
/* A file's bytes, NUL-terminated (malloc: free it). */
char *tls_fx_read(const char *path, size_t *len);

/* A child process with its stdin and stdout+stderr on pipes. It gets
 * SIGKILL when the test process dies (PR_SET_PDEATHSIG), so it cannot
 * outlive a failed case. Start it before uvgo_run (no fork inside a
 * running runtime). */
typedef struct tls_peer {
  pid_t pid;
  int in;  /* write end of its stdin, -1 once closed */
  int out; /* read end of its stdout+stderr */
} tls_peer;

void tls_peer_start(tls_peer *p, char *const argv[]);
/* Read its output until `needle` shows (true) or EOF (false); the output
 * read so far is kept in buf (NUL-terminated). Blocks the thread: call it
 * before uvgo_run or from uvgo_work. */
bool tls_peer_wait_for(tls_peer *p, const char *needle, char *buf,
                       size_t cap, size_t *len);
/* Read the rest until EOF; returns the exit status (waitpid). */
int tls_peer_finish(tls_peer *p, char *buf, size_t cap, size_t *len);
/* Kill and reap. */
void tls_peer_kill(tls_peer *p);

/* True when the program is on PATH. */
bool tls_have_program(const char *name);

#endif

/* --- uvgo side (task-only) --- */
#include "uvgo.h"

/* A server config with NAME.crt/NAME.key; a client config trusting ca. */
uvgo_tls_config *tls_fx_server_config(const tls_fx *fx, const char *cert);
uvgo_tls_config *tls_fx_client_config(const tls_fx *fx);

/* An in-process TLS server on 127.0.0.1: one task per connection, each
 * runs uvgo_tls_server and reports the outcome, then serves `mode`. */
enum { TLS_SRV_ECHO = 0, TLS_SRV_HTTP = 1 };
typedef struct tls_srv_result {
  int err;                  /* uvgo_tls_server's result */
  char reason[256];         /* uvgo_tls_last_error(NULL) on failure */
  uvgo_tls_conn_info info;  /* on success */
  int end;                  /* how serving ended (UV_EOF, ...) */
} tls_srv_result;
typedef struct tls_srv {
  uvgo_tls_config *cfg;
  uvgo_listener *ln;
  unsigned port;
  int mode;
  uvgo_chan *results; /* tls_srv_result, one per connection */
  uvgo_wg wg;
} tls_srv;
void tls_srv_start(tls_srv *s, uvgo_tls_config *cfg, int mode);
/* The next connection's outcome (waits for it). */
tls_srv_result tls_srv_next(tls_srv *s);
/* Close the listener, wait for every connection task, release. */
void tls_srv_stop(tls_srv *s);

/* Under ASan: run LeakSanitizer now (the harness ends cases with _exit,
 * which skips its exit-time check) and fail the case on a leak, so
 * OpenSSL objects (SSL, BIO, X509, sessions) are checked too. A no-op in
 * other builds. */
void tls_fx_check_leaks(void);
