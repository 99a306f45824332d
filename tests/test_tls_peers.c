/* TLS against peers nobody here wrote: the uvgo client against
 * `openssl s_server` (HTTP page, ALPN, resumption, TLS 1.2, client
 * certificates), the uvgo server against `openssl s_client` (verification,
 * mTLS) and `curl` (--cacert, ALPN; and curl refusing an unknown CA).
 * Each peer is started by the case on a port it picks itself (port 0, or
 * the uvgo listener's port handed over a pipe), and dies with the case. */
#include "harness.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tls/fixture.h"

static tls_fx fx;

static void need(const char *prog) {
  if (!tls_have_program(prog))
    uvgo_test_skip("%s not installed", prog);
}

typedef void (*tls_main_fn)(void);
static void run_main(void *arg) { ((tls_main_fn)arg)(); }
static void run1(tls_main_fn fn) {
  uvgo_config cfg = {.workers = 1};
  ASSERT_OK(uvgo_run(&cfg, run_main, (void *)fn));
  tls_fx_check_leaks();
}

/* --- uvgo client, openssl s_server --- */

static tls_peer srv_peer, mtls_peer;
static unsigned srv_port, mtls_port;

/* `openssl s_server -accept 127.0.0.1:0 ...`; returns the port it took. */
static unsigned start_s_server(tls_peer *p, bool verify_client) {
  char cert[256], key[256], ca[256];
  snprintf(cert, sizeof cert, "%s", tls_fx_path(&fx, "server.crt"));
  snprintf(key, sizeof key, "%s", tls_fx_path(&fx, "server.key"));
  snprintf(ca, sizeof ca, "%s", tls_fx_path(&fx, "ca.crt"));
  char *plain[] = {"openssl", "s_server", "-accept", "127.0.0.1:0",
                   "-cert", cert, "-key", key, "-alpn", "http/1.1", "-www",
                   NULL};
  char *mtls[] = {"openssl", "s_server", "-accept", "127.0.0.1:0",
                  "-cert", cert, "-key", key, "-CAfile", ca, "-Verify", "1",
                  "-verify_return_error", "-www", NULL};
  tls_peer_start(p, verify_client ? mtls : plain);
  char out[4096];
  size_t len = 0;
  ASSERT(tls_peer_wait_for(p, "ACCEPT 127.0.0.1:", out, sizeof out, &len));
  const char *at = strstr(out, "ACCEPT 127.0.0.1:");
  while (strchr(at, '\n') == NULL) { /* the whole port number */
    ssize_t r = read(p->out, out + len, sizeof out - 1 - len);
    ASSERT_GT(r, 0);
    len += (size_t)r;
    out[len] = '\0';
  }
  unsigned port = (unsigned)strtoul(at + strlen("ACCEPT 127.0.0.1:"), NULL, 10);
  ASSERT_GT(port, 0);
  return port;
}

/* GET / from s_server -www; the page ends with close_notify. */
static int get_page(uvgo_tls_config *cfg, unsigned port,
                    uvgo_tls_conn_info *info, char *page, size_t cap) {
  uvgo_conn *c;
  int err = uvgo_tls_dial(NULL, "localhost", port, cfg, &c);
  if (err != 0)
    return err;
  static const char req[] = "GET / HTTP/1.0\r\n\r\n";
  err = uvgo_conn_write(NULL, c, req, sizeof req - 1);
  size_t n = 0;
  while (err == 0) {
    ssize_t r = uvgo_conn_read(NULL, c, page + n, cap - 1 - n);
    if (r < 0)
      err = (int)r;
    else
      n += (size_t)r;
    if (n == cap - 1)
      n = 0; /* keep reading, the start is what we check */
  }
  page[n] = '\0';
  if (info != NULL)
    ASSERT_OK(uvgo_tls_info(c, info));
  ASSERT_OK(uvgo_conn_close(c));
  return err == UV_EOF ? 0 : err;
}

static void s_server_main(void) {
  static char page[65536];
  uvgo_tls_config *cfg = tls_fx_client_config(&fx);
  const char *alpn[] = {"h2", "http/1.1"};
  ASSERT_OK(uvgo_tls_config_set_alpn(cfg, alpn, 2));
  uvgo_tls_conn_info info;
  ASSERT_OK(get_page(cfg, srv_port, &info, page, sizeof page));
  ASSERT_STR_CONTAINS(page, "HTTP/1.0 200 ok");
  ASSERT_EQ(info.version, UVGO_TLS_VERSION_1_3);
  ASSERT_STR_EQ(info.alpn, "http/1.1");
  ASSERT_EQ(info.resumed, 0);
  ASSERT_EQ(info.peer_verified, 1);
  /* Resumed from the ticket s_server sent. */
  ASSERT_OK(get_page(cfg, srv_port, &info, page, sizeof page));
  ASSERT_EQ(info.resumed, 1);
  ASSERT_STR_CONTAINS(page, "Reused,");
  uvgo_tls_config_release(cfg);
  /* TLS 1.2, full then resumed. */
  cfg = tls_fx_client_config(&fx);
  ASSERT_OK(uvgo_tls_config_set_max_version(cfg, UVGO_TLS_VERSION_1_2));
  ASSERT_OK(get_page(cfg, srv_port, &info, page, sizeof page));
  ASSERT_EQ(info.version, UVGO_TLS_VERSION_1_2);
  ASSERT_EQ(info.resumed, 0);
  ASSERT_OK(get_page(cfg, srv_port, &info, page, sizeof page));
  ASSERT_EQ(info.resumed, 1);
  uvgo_tls_config_release(cfg);
  /* Its certificate is not for this IP's... it is: 127.0.0.1 is in the
   * SANs; but a name it is not for fails verification. */
  cfg = tls_fx_client_config(&fx);
  uvgo_conn *raw, *c;
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", srv_port, &raw));
  ASSERT_ERR(uvgo_tls_client(NULL, raw, cfg, "other.example", &c),
             UVGO_ETLSVERIFY);
  ASSERT_STR_CONTAINS(uvgo_tls_last_error(NULL), "hostname mismatch");
  ASSERT_OK(uvgo_conn_close(raw));
  uvgo_tls_config_release(cfg);
  /* Client certificates: accepted with one, refused without. */
  cfg = tls_fx_client_config(&fx);
  ASSERT_OK(uvgo_tls_config_set_cert_files(cfg, tls_fx_path(&fx, "client.crt"),
                                           tls_fx_path(&fx, "client.key")));
  ASSERT_OK(get_page(cfg, mtls_port, &info, page, sizeof page));
  ASSERT_STR_CONTAINS(page, "HTTP/1.0 200 ok");
  uvgo_tls_config_release(cfg);
  cfg = tls_fx_client_config(&fx);
  int err = get_page(cfg, mtls_port, NULL, page, sizeof page);
  ASSERT(err == UVGO_ETLS || err == UVGO_ETLSHANDSHAKE);
  uvgo_tls_config_release(cfg);
}

UVGO_TEST(tls_uvgo_client_against_openssl_s_server, tls, 60) {
  need("openssl");
  tls_fx_make(&fx);
  srv_port = start_s_server(&srv_peer, false);
  mtls_port = start_s_server(&mtls_peer, true);
  run1(s_server_main);
  tls_peer_kill(&srv_peer);
  tls_peer_kill(&mtls_peer);
  tls_fx_remove(&fx);
}

/* --- uvgo server, openssl s_client and curl --- */

/* A peer started before the runtime that waits for the port on its
 * stdin: `sh -c 'read port; exec PROGRAM ...$port...'`. */
static tls_peer peer;
static const char *peer_script;
static char peer_out[65536];
static size_t peer_len;
static int peer_status;

static void finish_work(void *arg) {
  (void)arg;
  peer_status = tls_peer_finish(&peer, peer_out, sizeof peer_out, &peer_len);
}

/* Serve one HTTP exchange to the peer; returns the server's outcome and
 * waits for the peer to exit. */
static tls_srv_result serve_peer(uvgo_tls_config *scfg, const char *input) {
  tls_srv s;
  tls_srv_start(&s, scfg, TLS_SRV_HTTP);
  char line[32];
  int n = snprintf(line, sizeof line, "%u\n", s.port);
  ASSERT_EQ(write(peer.in, line, (size_t)n), n);
  if (input != NULL)
    ASSERT_EQ(write(peer.in, input, strlen(input)), (ssize_t)strlen(input));
  tls_srv_result r = tls_srv_next(&s);
  ASSERT_OK(uvgo_work(NULL, finish_work, NULL));
  tls_srv_stop(&s);
  return r;
}

static void start_script_peer(const char *script) {
  char *argv[] = {"sh", "-c", (char *)script, "peer", (char *)fx.dir, NULL};
  tls_peer_start(&peer, argv);
  peer_len = 0;
}

static const char s_client_ok[] =
    "read port; exec openssl s_client -connect 127.0.0.1:$port "
    "-servername localhost -CAfile \"$1/ca.crt\" -verify_return_error "
    "-alpn http/1.1 -ign_eof";
static const char s_client_mtls[] =
    "read port; exec openssl s_client -connect 127.0.0.1:$port "
    "-servername localhost -CAfile \"$1/ca.crt\" -verify_return_error "
    "-cert \"$1/client.crt\" -key \"$1/client.key\" -ign_eof";
static const char s_client_nocert[] =
    "read port; exec openssl s_client -connect 127.0.0.1:$port "
    "-servername localhost -CAfile \"$1/ca.crt\" -ign_eof";

static void s_client_main(void) {
  static const char req[] = "GET / HTTP/1.0\r\n\r\n";
  uvgo_tls_config *scfg = tls_fx_server_config(&fx, "server");
  const char *alpn[] = {"http/1.1"};
  ASSERT_OK(uvgo_tls_config_set_alpn(scfg, alpn, 1));
  tls_srv_result r = serve_peer(scfg, req);
  ASSERT_OK(r.err);
  ASSERT_STR_EQ(r.info.server_name, "localhost");
  ASSERT_STR_EQ(r.info.alpn, "http/1.1");
  ASSERT(WIFEXITED(peer_status));
  ASSERT_STR_CONTAINS(peer_out, "Verify return code: 0 (ok)");
  ASSERT_STR_CONTAINS(peer_out, "hello, uvgo");
  ASSERT_STR_CONTAINS(peer_out, "ALPN protocol: http/1.1");
  uvgo_tls_config_release(scfg);
}

UVGO_TEST(tls_uvgo_server_against_openssl_s_client, tls, 60) {
  need("openssl");
  tls_fx_make(&fx);
  start_script_peer(s_client_ok);
  peer_script = s_client_ok;
  run1(s_client_main);
  tls_peer_kill(&peer);
  tls_fx_remove(&fx);
}

static void mtls_main(void) {
  static const char req[] = "GET / HTTP/1.0\r\n\r\n";
  uvgo_tls_config *scfg = tls_fx_server_config(&fx, "server");
  ASSERT_OK(uvgo_tls_config_set_ca_file(scfg, tls_fx_path(&fx, "ca.crt")));
  ASSERT_OK(uvgo_tls_config_set_client_auth(scfg, UVGO_TLS_CLIENT_AUTH_REQUIRE));
  tls_srv_result r = serve_peer(scfg, req);
  if (peer_script == s_client_mtls) {
    ASSERT_OK(r.err);
    ASSERT_EQ(r.info.peer_verified, 1);
    ASSERT_STR_CONTAINS(r.info.peer_subject, "CN=uvgo-client");
    ASSERT_STR_CONTAINS(peer_out, "hello, uvgo");
  } else {
    ASSERT_ERR(r.err, UVGO_ETLSHANDSHAKE);
    ASSERT_STR_CONTAINS(r.reason, "certificate");
    ASSERT(strstr(peer_out, "hello, uvgo") == NULL);
  }
  uvgo_tls_config_release(scfg);
}

UVGO_TEST(tls_uvgo_server_mtls_against_openssl_s_client, tls, 60) {
  need("openssl");
  tls_fx_make(&fx);
  const char *scripts[] = {s_client_mtls, s_client_nocert};
  for (int i = 0; i < 2; i++) {
    start_script_peer(scripts[i]);
    peer_script = scripts[i];
    run1(mtls_main);
    tls_peer_kill(&peer);
  }
  tls_fx_remove(&fx);
}

static const char curl_ok[] =
    "read port; exec curl -sS --http1.1 --cacert \"$1/ca.crt\" "
    "--resolve localhost:$port:127.0.0.1 https://localhost:$port/";
static const char curl_rogue[] =
    "read port; exec curl -sS --http1.1 --cacert \"$1/rogue_ca.crt\" "
    "--resolve localhost:$port:127.0.0.1 https://localhost:$port/";

static void curl_main(void) {
  uvgo_tls_config *scfg = tls_fx_server_config(&fx, "server");
  const char *alpn[] = {"http/1.1"};
  ASSERT_OK(uvgo_tls_config_set_alpn(scfg, alpn, 1));
  tls_srv_result r = serve_peer(scfg, NULL);
  if (peer_script == curl_ok) {
    ASSERT_OK(r.err);
    ASSERT_STR_EQ(r.info.alpn, "http/1.1");
    ASSERT_STR_EQ(r.info.server_name, "localhost");
    /* curl closes once it has the whole body: our close_notify and FIN
     * may find it gone already. */
    ASSERT(r.end == UV_EOF || r.end == UV_ENOTCONN || r.end == UV_EPIPE ||
           r.end == UV_ECONNRESET);
    ASSERT(WIFEXITED(peer_status));
    ASSERT_EQ(WEXITSTATUS(peer_status), 0);
    ASSERT_STR_EQ(peer_out, "hello, uvgo\n");
  } else {
    /* curl does not trust us: it says so with an alert. */
    ASSERT_ERR(r.err, UVGO_ETLSHANDSHAKE);
    ASSERT_STR_CONTAINS(r.reason, "unknown ca");
    ASSERT(WIFEXITED(peer_status));
    ASSERT_EQ(WEXITSTATUS(peer_status), 60); /* CURLE_PEER_FAILED_VERIFICATION */
  }
  uvgo_tls_config_release(scfg);
}

UVGO_TEST(tls_uvgo_server_against_curl, tls, 60) {
  need("curl");
  tls_fx_make(&fx);
  const char *scripts[] = {curl_ok, curl_rogue};
  for (int i = 0; i < 2; i++) {
    start_script_peer(scripts[i]);
    peer_script = scripts[i];
    run1(curl_main);
    tls_peer_kill(&peer);
  }
  tls_fx_remove(&fx);
}

/* Renegotiation is refused: s_client asks for one (its "R" command, TLS
 * 1.2), the uvgo server answers no_renegotiation, s_client gives up on
 * the connection, and the server reads that as the protocol error it is. */
static const char s_client_reneg[] =
    "read port; exec openssl s_client -connect 127.0.0.1:$port -tls1_2 "
    "-servername localhost -CAfile \"$1/ca.crt\"";

static void reneg_main(void) {
  uvgo_tls_config *scfg = tls_fx_server_config(&fx, "server");
  tls_srv_result r = serve_peer(scfg, "R\n");
  ASSERT_OK(r.err);
  ASSERT_EQ(r.info.version, UVGO_TLS_VERSION_1_2);
  ASSERT(r.end != 0 && r.end != UV_EOF);
  ASSERT_STR_CONTAINS(peer_out, "RENEGOTIATING");
  ASSERT_STR_CONTAINS(peer_out, "no renegotiation");
  uvgo_tls_config_release(scfg);
}

UVGO_TEST(tls_uvgo_server_refuses_renegotiation, tls, 60) {
  need("openssl");
  tls_fx_make(&fx);
  start_script_peer(s_client_reneg);
  peer_script = s_client_reneg;
  run1(reneg_main);
  tls_peer_kill(&peer);
  tls_fx_remove(&fx);
}
