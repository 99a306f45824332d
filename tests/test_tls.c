/* TLS over uvgo_conn on loopback, uvgo against itself: the happy paths
 * (echo, info, full duplex, several workers sharing one config), what
 * verification refuses and why, SNI and IP checks, ALPN, client
 * certificates, resumption, close_notify against truncation, hostile
 * peers, configs and bad input. Certificates come from tests/tls/fixture.c
 * (OpenSSL's API, a fresh directory per case). Cancellation, deadlines and
 * allocation failures are in test_tls_fault.c, real peers (openssl,
 * curl) in test_tls_peers.c. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls/fixture.h"

static tls_fx fx;

typedef void (*tls_main_fn)(void);
static void run_main(void *arg) { ((tls_main_fn)arg)(); }
static void run_workers(unsigned workers, tls_main_fn fn) {
  tls_fx_make(&fx);
  uvgo_config cfg = {.workers = workers};
  ASSERT_OK(uvgo_run(&cfg, run_main, (void *)fn));
  tls_fx_remove(&fx);
  tls_fx_check_leaks();
}
static void run1(tls_main_fn fn) { run_workers(1, fn); }

static int read_full(uvgo_conn *c, void *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = uvgo_conn_read(NULL, c, (char *)buf + got, len - got);
    if (n < 0)
      return (int)n;
    got += (size_t)n;
  }
  return 0;
}

static void roundtrip(uvgo_conn *c) {
  const char msg[] = "hello over TLS";
  char back[sizeof msg];
  ASSERT_OK(uvgo_conn_write(NULL, c, msg, sizeof msg));
  ASSERT_OK(read_full(c, back, sizeof back));
  ASSERT_STR_EQ(back, msg);
}

/* Dial the server and handshake as a client of cfg for `name`. */
static int connect_tls(tls_srv *s, uvgo_tls_config *cfg, const char *name,
                       uvgo_conn **out) {
  uvgo_conn *raw;
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", s->port, &raw));
  int err = uvgo_tls_client(NULL, raw, cfg, name, out);
  if (err != 0)
    uvgo_conn_close(raw);
  return err;
}

/* --- the happy path --- */

static void echo_main(void) {
  uvgo_tls_config *scfg = tls_fx_server_config(&fx, "server");
  uvgo_tls_config *ccfg = tls_fx_client_config(&fx);
  tls_srv s;
  tls_srv_start(&s, scfg, TLS_SRV_ECHO);
  uvgo_conn *c;
  ASSERT_OK(connect_tls(&s, ccfg, "localhost", &c));
  roundtrip(c);
  uvgo_tls_conn_info info;
  ASSERT_OK(uvgo_tls_info(c, &info));
  ASSERT_EQ(info.version, UVGO_TLS_VERSION_1_3);
  ASSERT_STR_EQ(info.version_name, "TLSv1.3");
  ASSERT(strncmp(info.cipher, "TLS_", 4) == 0);
  ASSERT_STR_EQ(info.server_name, "localhost");
  ASSERT_STR_EQ(info.alpn, "");
  ASSERT_EQ(info.resumed, 0);
  ASSERT_EQ(info.peer_verified, 1);
  ASSERT_STR_CONTAINS(info.peer_subject, "CN=localhost");
  ASSERT_STR_EQ(uvgo_tls_last_error(c), "");
  /* The connection calls of a socket work on it. */
  struct sockaddr_storage peer, local;
  ASSERT_OK(uvgo_conn_peer_addr(c, &peer));
  ASSERT_EQ(ntohs(((struct sockaddr_in *)&peer)->sin_port), s.port);
  ASSERT_OK(uvgo_conn_local_addr(c, &local));
  ASSERT_EQ(local.ss_family, AF_INET);
  ASSERT_OK(uvgo_conn_set_nodelay(c, 1));
  ASSERT_OK(uvgo_conn_set_keepalive(c, 1, 30));
  /* Half-close with close_notify: the server reads UV_EOF (clean), answers
   * with its own, and we read UV_EOF too. */
  ASSERT_OK(uvgo_conn_shutdown(NULL, c));
  char b[16];
  ASSERT_ERR((int)uvgo_conn_read(NULL, c, b, sizeof b), UV_EOF);
  ASSERT_ERR((int)uvgo_conn_read(NULL, c, b, sizeof b), UV_EOF);
  ASSERT_OK(uvgo_conn_close(c));
  tls_srv_result r = tls_srv_next(&s);
  ASSERT_OK(r.err);
  ASSERT_ERR(r.end, UV_EOF);
  ASSERT_STR_EQ(r.info.server_name, "localhost");
  ASSERT_EQ(r.info.peer_verified, 0); /* no client certificate */
  ASSERT_STR_EQ(r.info.peer_subject, "");
  tls_srv_stop(&s);
  uvgo_tls_config_release(scfg);
  uvgo_tls_config_release(ccfg);
}

UVGO_TEST(tls_echo_info_and_close_notify, tls, 30) { run1(echo_main); }

/* Full duplex: one task writes 8 MiB while another reads the echo back,
 * on both workers at once, every connection sharing the two configs. */
typedef struct {
  uvgo_conn *c;
  size_t total;
  int err;
  uvgo_wg done;
} duplex_arg;

static void duplex_writer(void *arg) {
  duplex_arg *a = arg;
  char *buf = malloc(100000);
  for (size_t i = 0; i < 100000; i++)
    buf[i] = (char)(i * 7);
  size_t sent = 0;
  while (sent < a->total && a->err == 0) {
    size_t n = a->total - sent < 100000 ? a->total - sent : 100000;
    a->err = uvgo_conn_write(NULL, a->c, buf, n);
    sent += n;
  }
  free(buf);
  uvgo_wg_done(&a->done);
}

typedef struct {
  tls_srv *s;
  uvgo_tls_config *ccfg;
  uvgo_wg *wg;
} duplex_client_arg;

static void duplex_client(void *arg) {
  duplex_client_arg *d = arg;
  uvgo_conn *c;
  ASSERT_OK(connect_tls(d->s, d->ccfg, "127.0.0.1", &c));
  duplex_arg w = {c, 8u << 20, 0, UVGO_WG_INIT};
  uvgo_wg_add(&w.done, 1);
  /* Same worker: the connection belongs to it. */
  ASSERT_OK(uvgo_go_on((unsigned)uvgo_worker_id(), duplex_writer, &w));
  char *buf = malloc(65536);
  size_t got = 0;
  while (got < w.total) {
    ssize_t n = uvgo_conn_read(NULL, c, buf, 65536);
    ASSERT_GT(n, 0);
    for (ssize_t i = 0; i < n; i++)
      ASSERT_EQ((unsigned char)buf[i],
                (unsigned char)(char)(((got + (size_t)i) % 100000) * 7));
    got += (size_t)n;
  }
  free(buf);
  uvgo_wg_wait(&w.done);
  ASSERT_OK(w.err);
  ASSERT_OK(uvgo_conn_close(c));
  uvgo_wg_done(d->wg);
}

static void duplex_main(void) {
  uvgo_tls_config *scfg = tls_fx_server_config(&fx, "server");
  uvgo_tls_config *ccfg = tls_fx_client_config(&fx);
  tls_srv s;
  tls_srv_start(&s, scfg, TLS_SRV_ECHO);
  uvgo_wg wg = UVGO_WG_INIT;
  duplex_client_arg d = {&s, ccfg, &wg};
  uvgo_wg_add(&wg, 2);
  ASSERT_OK(uvgo_go_on(0, duplex_client, &d));
  ASSERT_OK(uvgo_go_on(1, duplex_client, &d));
  uvgo_wg_wait(&wg);
  for (int i = 0; i < 2; i++) {
    tls_srv_result r = tls_srv_next(&s);
    ASSERT_OK(r.err);
    ASSERT_STR_EQ(r.info.server_name, ""); /* no SNI for an IP */
  }
  tls_srv_stop(&s);
  uvgo_tls_config_release(scfg);
  uvgo_tls_config_release(ccfg);
}

UVGO_TEST(tls_full_duplex_two_workers, tls, 60) { run_workers(2, duplex_main); }

/* --- verification --- */

typedef struct {
  const char *cert;  /* the server's */
  const char *name;  /* what the client checks */
  int want;
  const char *reason;
} verify_case;

static void verify_main(void) {
  const verify_case cases[] = {
      {"expired", "localhost", UVGO_ETLSVERIFY, "certificate has expired"},
      {"self", "localhost", UVGO_ETLSVERIFY, "self-signed certificate"},
      {"other", "localhost", UVGO_ETLSVERIFY, "hostname mismatch"},
      {"other", "127.0.0.1", UVGO_ETLSVERIFY, "IP address mismatch"},
      {"server", "wrong.example", UVGO_ETLSVERIFY, "hostname mismatch"},
      {"server", "10.1.2.3", UVGO_ETLSVERIFY, "IP address mismatch"},
      {"server", "localhost", 0, ""},
      {"server", "127.0.0.1", 0, ""},
  };
  uvgo_tls_config *ccfg = tls_fx_client_config(&fx);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uvgo_tls_config *scfg = tls_fx_server_config(&fx, cases[i].cert);
    tls_srv s;
    tls_srv_start(&s, scfg, TLS_SRV_ECHO);
    uvgo_conn *c = NULL;
    int err = connect_tls(&s, ccfg, cases[i].name, &c);
    if (err != cases[i].want)
      fprintf(stderr, "case %zu: %s (%s)\n", i, uvgo_err_name(err),
              uvgo_tls_last_error(NULL));
    ASSERT_ERR(err, cases[i].want);
    if (err != 0) {
      ASSERT_NULL(c);
      ASSERT_STR_CONTAINS(uvgo_tls_last_error(NULL), cases[i].reason);
      /* The server hears of it as an alert from the client. */
      tls_srv_result r = tls_srv_next(&s);
      ASSERT_ERR(r.err, UVGO_ETLSHANDSHAKE);
      ASSERT_STR_CONTAINS(r.reason, "alert");
    } else {
      roundtrip(c);
      ASSERT_OK(uvgo_conn_close(c));
      tls_srv_next(&s);
    }
    tls_srv_stop(&s);
    uvgo_tls_config_release(scfg);
  }
  uvgo_tls_config_release(ccfg);
}

UVGO_TEST(tls_verify_expired_unknown_ca_name_and_ip, tls, 60) {
  run1(verify_main);
}

/* The system store (no CA given) knows nothing of the test CA; pointing
 * SSL_CERT_FILE at it makes the default config trust it. */
static void system_store_main(void) {
  uvgo_tls_config *scfg = tls_fx_server_config(&fx, "server");
  tls_srv s;
  tls_srv_start(&s, scfg, TLS_SRV_ECHO);
  uvgo_tls_config *plain;
  ASSERT_OK(uvgo_tls_config_new(&plain));
  uvgo_conn *c;
  ASSERT_ERR(connect_tls(&s, plain, "localhost", &c), UVGO_ETLSVERIFY);
  uvgo_tls_config_release(plain);
  tls_srv_next(&s);
  setenv("SSL_CERT_FILE", tls_fx_path(&fx, "ca.crt"), 1);
  setenv("SSL_CERT_DIR", "/nonexistent", 1);
  ASSERT_OK(uvgo_tls_config_new(&plain));
  ASSERT_OK(connect_tls(&s, plain, "localhost", &c));
  roundtrip(c);
  ASSERT_OK(uvgo_conn_close(c));
  tls_srv_next(&s);
  unsetenv("SSL_CERT_FILE");
  unsetenv("SSL_CERT_DIR");
  uvgo_tls_config_release(plain);
  tls_srv_stop(&s);
  uvgo_tls_config_release(scfg);
}

UVGO_TEST(tls_system_store_honours_ssl_cert_file, tls, 30) {
  run1(system_store_main);
}

static void insecure_main(void) {
  uvgo_tls_config *scfg = tls_fx_server_config(&fx, "self");
  tls_srv s;
  tls_srv_start(&s, scfg, TLS_SRV_ECHO);
  uvgo_tls_config *ccfg;
  ASSERT_OK(uvgo_tls_config_new(&ccfg));
  ASSERT_OK(uvgo_tls_config_set_insecure_skip_verify(ccfg, 1));
  uvgo_conn *c;
  ASSERT_OK(connect_tls(&s, ccfg, NULL, &c)); /* no name needed */
  roundtrip(c);
  uvgo_tls_conn_info info;
  ASSERT_OK(uvgo_tls_info(c, &info));
  ASSERT_EQ(info.peer_verified, 0);
  ASSERT_STR_CONTAINS(info.peer_subject, "CN=localhost");
  ASSERT_OK(uvgo_conn_close(c));
  tls_srv_next(&s);
  tls_srv_stop(&s);
  uvgo_tls_config_release(scfg);
  uvgo_tls_config_release(ccfg);
}

UVGO_TEST(tls_insecure_skip_verify_accepts_self_signed, tls, 30) {
  run1(insecure_main);
}

/* --- ALPN --- */

static void alpn_main(void) {
  const char *server_protos[] = {"http/1.1", "x-uvgo"};
  const char *client_protos[] = {"h2", "x-uvgo", "http/1.1"};
  const char *other[] = {"imap"};
  uvgo_tls_config *scfg = tls_fx_server_config(&fx, "server");
  ASSERT_OK(uvgo_tls_config_set_alpn(scfg, server_protos, 2));
  tls_srv s;
  tls_srv_start(&s, scfg, TLS_SRV_ECHO);
  /* Server preference among what the client offers. */
  uvgo_tls_config *ccfg = tls_fx_client_config(&fx);
  ASSERT_OK(uvgo_tls_config_set_alpn(ccfg, client_protos, 3));
  uvgo_conn *c;
  ASSERT_OK(connect_tls(&s, ccfg, "localhost", &c));
  uvgo_tls_conn_info info;
  ASSERT_OK(uvgo_tls_info(c, &info));
  ASSERT_STR_EQ(info.alpn, "http/1.1");
  roundtrip(c);
  ASSERT_OK(uvgo_conn_close(c));
  ASSERT_STR_EQ(tls_srv_next(&s).info.alpn, "http/1.1");
  uvgo_tls_config_release(ccfg);
  /* Nothing in common: the handshake fails on both ends (as Go). */
  ccfg = tls_fx_client_config(&fx);
  ASSERT_OK(uvgo_tls_config_set_alpn(ccfg, other, 1));
  ASSERT_ERR(connect_tls(&s, ccfg, "localhost", &c), UVGO_ETLSHANDSHAKE);
  ASSERT_STR_CONTAINS(uvgo_tls_last_error(NULL), "no application protocol");
  ASSERT_ERR(tls_srv_next(&s).err, UVGO_ETLSHANDSHAKE);
  uvgo_tls_config_release(ccfg);
  /* A client that offers none gets none. */
  ccfg = tls_fx_client_config(&fx);
  ASSERT_OK(connect_tls(&s, ccfg, "localhost", &c));
  ASSERT_OK(uvgo_tls_info(c, &info));
  ASSERT_STR_EQ(info.alpn, "");
  ASSERT_OK(uvgo_conn_close(c));
  tls_srv_next(&s);
  uvgo_tls_config_release(ccfg);
  tls_srv_stop(&s);
  uvgo_tls_config_release(scfg);
}

UVGO_TEST(tls_alpn_negotiated_and_refused, tls, 30) { run1(alpn_main); }

/* --- client certificates --- */

static uvgo_tls_config *client_with_cert(const char *name) {
  uvgo_tls_config *c = tls_fx_client_config(&fx);
  char crt[64], key[64];
  snprintf(crt, sizeof crt, "%s.crt", name);
  snprintf(key, sizeof key, "%s.key", name);
  ASSERT_OK(uvgo_tls_config_set_cert_files(c, tls_fx_path(&fx, crt),
                                           tls_fx_path(&fx, key)));
  return c;
}

/* In TLS 1.3 the client's handshake ends before the server has checked
 * its certificate: a refusal shows on the client's first read. */
static int client_outcome(tls_srv *s, uvgo_tls_config *ccfg) {
  uvgo_conn *c;
  int err = connect_tls(s, ccfg, "localhost", &c);
  if (err != 0)
    return err;
  char b[8];
  err = uvgo_conn_write(NULL, c, "ping", 4);
  if (err == 0)
    err = read_full(c, b, 4);
  uvgo_conn_close(c);
  return err;
}

static void mtls_main(void) {
  uvgo_tls_config *scfg = tls_fx_server_config(&fx, "server");
  ASSERT_OK(uvgo_tls_config_set_ca_file(scfg, tls_fx_path(&fx, "ca.crt")));
  ASSERT_OK(uvgo_tls_config_set_client_auth(scfg, UVGO_TLS_CLIENT_AUTH_REQUIRE));
  tls_srv s;
  tls_srv_start(&s, scfg, TLS_SRV_ECHO);
  /* Accepted: a client certificate from the trusted CA. */
  uvgo_tls_config *good = client_with_cert("client");
  ASSERT_OK(client_outcome(&s, good));
  tls_srv_result r = tls_srv_next(&s);
  ASSERT_OK(r.err);
  ASSERT_EQ(r.info.peer_verified, 1);
  ASSERT_STR_CONTAINS(r.info.peer_subject, "CN=uvgo-client");
  /* Refused: no certificate. */
  uvgo_tls_config *none = tls_fx_client_config(&fx);
  int err = client_outcome(&s, none);
  ASSERT(err == UVGO_ETLS || err == UVGO_ETLSHANDSHAKE);
  ASSERT_STR_CONTAINS(uvgo_tls_last_error(NULL), "");
  r = tls_srv_next(&s);
  ASSERT_ERR(r.err, UVGO_ETLSHANDSHAKE);
  ASSERT_STR_CONTAINS(r.reason, "certificate");
  /* Refused: a certificate from a CA the server does not trust. */
  uvgo_tls_config *rogue = client_with_cert("rogue_client");
  err = client_outcome(&s, rogue);
  ASSERT(err == UVGO_ETLS || err == UVGO_ETLSHANDSHAKE);
  r = tls_srv_next(&s);
  ASSERT_ERR(r.err, UVGO_ETLSVERIFY);
  ASSERT_STR_CONTAINS(r.reason, "unable to get local issuer certificate");
  /* And the server still serves. */
  ASSERT_OK(client_outcome(&s, good));
  ASSERT_OK(tls_srv_next(&s).err);
  tls_srv_stop(&s);
  uvgo_tls_config_release(good);
  uvgo_tls_config_release(none);
  uvgo_tls_config_release(rogue);
  uvgo_tls_config_release(scfg);
}

UVGO_TEST(tls_client_certificates_accepted_and_refused, tls, 30) {
  run1(mtls_main);
}

/* --- resumption --- */

static void resume_with(int max_version) {
  uvgo_tls_config *scfg = tls_fx_server_config(&fx, "server");
  uvgo_tls_config *ccfg = tls_fx_client_config(&fx);
  if (max_version != 0)
    ASSERT_OK(uvgo_tls_config_set_max_version(ccfg, max_version));
  tls_srv s;
  tls_srv_start(&s, scfg, TLS_SRV_ECHO);
  for (int i = 0; i < 3; i++) {
    uvgo_conn *c;
    ASSERT_OK(connect_tls(&s, ccfg, "localhost", &c));
    roundtrip(c); /* a TLS 1.3 ticket arrives after the handshake */
    uvgo_tls_conn_info info;
    ASSERT_OK(uvgo_tls_info(c, &info));
    ASSERT_EQ(info.resumed, i > 0);
    ASSERT_EQ(info.version, max_version != 0 ? max_version
                                             : UVGO_TLS_VERSION_1_3);
    ASSERT_OK(uvgo_conn_close(c));
    ASSERT_EQ(tls_srv_next(&s).info.resumed, i > 0);
  }
  /* Another name is another cache entry: a full handshake. */
  uvgo_conn *c;
  ASSERT_OK(connect_tls(&s, ccfg, "127.0.0.1", &c));
  uvgo_tls_conn_info info;
  ASSERT_OK(uvgo_tls_info(c, &info));
  ASSERT_EQ(info.resumed, 0);
  ASSERT_OK(uvgo_conn_close(c));
  tls_srv_next(&s);
  tls_srv_stop(&s);
  uvgo_tls_config_release(scfg);
  uvgo_tls_config_release(ccfg);
}

static void resume_main(void) {
  resume_with(0);
  resume_with(UVGO_TLS_VERSION_1_2);
}

UVGO_TEST(tls_session_resumption_tls13_and_tls12, tls, 30) {
  run1(resume_main);
}

static void no_cache_main(void) {
  uvgo_tls_config *scfg = tls_fx_server_config(&fx, "server");
  uvgo_tls_config *ccfg = tls_fx_client_config(&fx);
  ASSERT_OK(uvgo_tls_config_set_session_cache(ccfg, 0));
  tls_srv s;
  tls_srv_start(&s, scfg, TLS_SRV_ECHO);
  for (int i = 0; i < 2; i++) {
    uvgo_conn *c;
    ASSERT_OK(connect_tls(&s, ccfg, "localhost", &c));
    roundtrip(c);
    uvgo_tls_conn_info info;
    ASSERT_OK(uvgo_tls_info(c, &info));
    ASSERT_EQ(info.resumed, 0);
    ASSERT_OK(uvgo_conn_close(c));
    tls_srv_next(&s);
  }
  tls_srv_stop(&s);
  uvgo_tls_config_release(scfg);
  uvgo_tls_config_release(ccfg);
}

UVGO_TEST(tls_session_cache_off_means_full_handshakes, tls, 30) {
  run1(no_cache_main);
}

/* --- truncation --- */

/* A server that writes, then ends the TCP stream without close_notify
 * (FIN straight on the socket under the TLS connection). */
static void truncating_server(void *arg) {
  uvgo_listener *ln = arg;
  uvgo_tls_config *scfg = tls_fx_server_config(&fx, "server");
  for (int i = 0; i < 2; i++) {
    uvgo_conn *raw, *c;
    ASSERT_OK(uvgo_accept(NULL, ln, &raw));
    ASSERT_OK(uvgo_tls_server(NULL, raw, scfg, &c));
    ASSERT_OK(uvgo_conn_write(NULL, c, "data", 4));
    if (i == 0)
      ASSERT_OK(uvgo_conn_shutdown(NULL, raw)); /* FIN, no close_notify */
    else
      ASSERT_OK(uvgo_conn_shutdown(NULL, c)); /* close_notify, then FIN */
    char b[8];
    ssize_t n = uvgo_conn_read(NULL, c, b, sizeof b);
    /* The client's OpenSSL answers a truncation with a decode_error
     * alert; a clean end with its close_notify. */
    if (i == 0) {
      ASSERT_ERR((int)n, UVGO_ETLS);
      ASSERT_STR_CONTAINS(uvgo_tls_last_error(c), "decode error");
    } else {
      ASSERT_ERR((int)n, UV_EOF);
    }
    ASSERT_OK(uvgo_conn_close(c));
  }
  uvgo_tls_config_release(scfg);
}

static void truncation_main(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  ASSERT_OK(uvgo_go_on(0, truncating_server, ln));
  uvgo_tls_config *ccfg = tls_fx_client_config(&fx);
  for (int i = 0; i < 2; i++) {
    uvgo_conn *c;
    ASSERT_OK(uvgo_tls_dial(NULL, "localhost", uvgo_listener_port(ln), ccfg,
                            &c));
    char b[8];
    ASSERT_OK(read_full(c, b, 4));
    ASSERT(memcmp(b, "data", 4) == 0);
    int want = i == 0 ? UVGO_ETLSTRUNCATED : UV_EOF;
    ASSERT_ERR((int)uvgo_conn_read(NULL, c, b, sizeof b), want);
    ASSERT_ERR((int)uvgo_conn_read(NULL, c, b, sizeof b), want); /* sticky */
    if (i == 0)
      ASSERT_STR_CONTAINS(uvgo_tls_last_error(c), "close_notify");
    ASSERT_OK(uvgo_conn_close(c));
  }
  uvgo_tls_config_release(ccfg);
  ASSERT_OK(uvgo_listener_close(ln));
}

UVGO_TEST(tls_eof_without_close_notify_is_truncation, tls, 30) {
  run1(truncation_main);
}

/* --- hostile peers --- */

/* A plain-socket peer on a thread: it connects, sends `send`, then
 * closes with a reset (SO_LINGER 0) when `reset`, else reads until EOF. */
typedef struct {
  unsigned port;
  const char *send;
  size_t send_len;
  bool reset;
} raw_peer;

static void raw_peer_work(void *arg) {
  raw_peer *p = arg;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT(fd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)p->port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  ASSERT_EQ(write(fd, p->send, p->send_len), (ssize_t)p->send_len);
  if (p->reset) {
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  } else {
    shutdown(fd, SHUT_WR);
    char b[4096];
    while (read(fd, b, sizeof b) > 0)
      ;
  }
  close(fd);
}

/* On libuv's pool, so the server's tasks keep running meanwhile. */
static void raw_peer_run(raw_peer *p) {
  ASSERT_OK(uvgo_work(NULL, raw_peer_work, p));
}

static void hostile_main(void) {
  uvgo_tls_config *scfg = tls_fx_server_config(&fx, "server");
  tls_srv s;
  tls_srv_start(&s, scfg, TLS_SRV_ECHO);
  static const char garbage[] = "\x16\x03\x01\x00\x05garbage-not-a-hello....";
  static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  static const char junk[] = "\x01\x02\x03\x04\x05\x06\x07\x08";
  /* The first 40 bytes of a real ClientHello start: a record header and a
   * handshake header promising more than comes. */
  static const char partial[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
  struct {
    raw_peer p;
    int want1, want2;
  } cases[] = {
      {{s.port, garbage, sizeof garbage - 1, false}, UVGO_ETLSHANDSHAKE,
       UVGO_ETLSRECORD},
      {{s.port, http, sizeof http - 1, false}, UVGO_ETLSRECORD, 0},
      {{s.port, junk, sizeof junk - 1, false}, UVGO_ETLSRECORD, 0},
      {{s.port, partial, sizeof partial - 1, false}, UVGO_ETLSHANDSHAKE, 0},
      /* A reset that lands before the server read reads as an EOF. */
      {{s.port, partial, sizeof partial - 1, true}, UV_ECONNRESET,
       UVGO_ETLSHANDSHAKE},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    raw_peer_run(&cases[i].p);
    tls_srv_result r = tls_srv_next(&s);
    if (r.err != cases[i].want1 && r.err != cases[i].want2)
      fprintf(stderr, "case %zu: %s (%s)\n", i, uvgo_err_name(r.err),
              r.reason);
    ASSERT(r.err == cases[i].want1 || r.err == cases[i].want2);
    ASSERT(r.reason[0] != '\0');
  }
  /* The server keeps serving. */
  uvgo_tls_config *ccfg = tls_fx_client_config(&fx);
  uvgo_conn *c;
  ASSERT_OK(connect_tls(&s, ccfg, "localhost", &c));
  roundtrip(c);
  ASSERT_OK(uvgo_conn_close(c));
  ASSERT_OK(tls_srv_next(&s).err);
  tls_srv_stop(&s);
  uvgo_tls_config_release(ccfg);
  uvgo_tls_config_release(scfg);
}

UVGO_TEST(tls_server_survives_garbage_http_and_resets, tls, 30) {
  run1(hostile_main);
}

/* A plaintext server answering a ClientHello with an HTTP error, one that
 * closes mid-handshake, one that resets: the client's errors. */
static void plain_server(void *arg) {
  uvgo_listener *ln = arg;
  for (int i = 0; i < 2; i++) {
    uvgo_conn *c;
    ASSERT_OK(uvgo_accept(NULL, ln, &c));
    char b[4096];
    ASSERT_GT(uvgo_conn_read(NULL, c, b, sizeof b), 0);
    if (i == 0) {
      static const char resp[] =
          "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
      ASSERT_OK(uvgo_conn_write(NULL, c, resp, sizeof resp - 1));
    }
    ASSERT_OK(uvgo_conn_close(c));
  }
}

static void plain_answer_main(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  ASSERT_OK(uvgo_go_on(0, plain_server, ln));
  uvgo_tls_config *ccfg = tls_fx_client_config(&fx);
  uvgo_conn *c;
  ASSERT_ERR(uvgo_tls_dial(NULL, "localhost", uvgo_listener_port(ln), ccfg,
                           &c),
             UVGO_ETLSRECORD);
  ASSERT_STR_CONTAINS(uvgo_tls_last_error(NULL), "wrong version number");
  ASSERT_ERR(uvgo_tls_dial(NULL, "localhost", uvgo_listener_port(ln), ccfg,
                           &c),
             UVGO_ETLSHANDSHAKE);
  ASSERT_STR_CONTAINS(uvgo_tls_last_error(NULL), "closed");
  uvgo_tls_config_release(ccfg);
  ASSERT_OK(uvgo_listener_close(ln));
}

/* A server that reads the ClientHello and resets (a plain socket on the
 * pool, since uvgo has no call that resets). */
typedef struct {
  int fd;
  uvgo_wg done;
} resetter;

static void reset_work(void *arg) {
  resetter *r = arg;
  int c = accept(r->fd, NULL, NULL);
  ASSERT(c >= 0);
  char b[4096];
  ASSERT_GT(read(c, b, sizeof b), 0);
  struct linger l = {1, 0};
  setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(c);
}

static void reset_task(void *arg) {
  resetter *r = arg;
  ASSERT_OK(uvgo_work(NULL, reset_work, r));
  uvgo_wg_done(&r->done);
}

static void reset_main(void) {
  resetter r = {.done = UVGO_WG_INIT};
  uvgo_wg_add(&r.done, 1);
  r.fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(r.fd, (struct sockaddr *)&sa, sizeof sa), 0);
  ASSERT_EQ(listen(r.fd, 4), 0);
  socklen_t len = sizeof sa;
  ASSERT_EQ(getsockname(r.fd, (struct sockaddr *)&sa, &len), 0);
  ASSERT_OK(uvgo_go(reset_task, &r));
  uvgo_tls_config *ccfg = tls_fx_client_config(&fx);
  uvgo_conn *c;
  ASSERT_ERR(uvgo_tls_dial(NULL, "localhost", ntohs(sa.sin_port), ccfg, &c),
             UV_ECONNRESET);
  uvgo_tls_config_release(ccfg);
  uvgo_wg_wait(&r.done);
  close(r.fd);
}

UVGO_TEST(tls_client_reset_mid_handshake, tls, 30) { run1(reset_main); }

UVGO_TEST(tls_client_against_plaintext_and_closing_servers, tls, 30) {
  run1(plain_answer_main);
}
