/* A TLS echo server and its client in one program (Go's crypto/tls echo).
 *
 * The server's certificate is made at start-up with OpenSSL's API and
 * kept in memory: a throwaway self-signed ECDSA P-256 certificate for
 * localhost and 127.0.0.1, which the client trusts explicitly (as a
 * pinned CA). Everything after the handshake is plain uvgo_conn code:
 * the same reads, writes and close a TCP echo uses.
 *
 *   server: listen, then one task per connection: uvgo_tls_server, echo
 *   client: uvgo_tls_dial twice (the second handshake resumes the first
 *           session), send a line, read it back, close. */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "uvgo.h"

/* --- a throwaway certificate --- */

typedef struct {
  char cert[4096];
  char key[1024];
} pem_pair;

static int add_ext(X509 *x, int nid, const char *value) {
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
  int ok = ext != NULL && X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  return ok;
}

static int bio_text(BIO *b, char *out, size_t cap) {
  int n = BIO_read(b, out, (int)cap - 1);
  if (n <= 0)
    return 0;
  out[n] = '\0';
  return 1;
}

static int make_cert(pem_pair *out) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
  int ok = key != NULL && x != NULL && cb != NULL && kb != NULL;
  if (ok) {
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, name);
    ok = add_ext(x, NID_basic_constraints, "critical,CA:TRUE") &&
         add_ext(x, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1") &&
         X509_sign(x, key, EVP_sha256()) > 0 && PEM_write_bio_X509(cb, x) &&
         PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) &&
         bio_text(cb, out->cert, sizeof out->cert) &&
         bio_text(kb, out->key, sizeof out->key);
  }
  BIO_free(cb);
  BIO_free(kb);
  X509_free(x);
  EVP_PKEY_free(key);
  return ok;
}

/* --- the server --- */

typedef struct {
  uvgo_listener *ln;
  uvgo_tls_config *cfg;
  uvgo_wg wg;
  int handled;
} server;

typedef struct {
  server *s;
  uvgo_conn *raw;
} conn_arg;

static void serve(void *arg) {
  conn_arg a = *(conn_arg *)arg;
  uvgo_conn *c;
  int err = uvgo_tls_server(NULL, a.raw, a.s->cfg, &c);
  if (err != 0) {
    fprintf(stderr, "handshake: %s (%s)\n", uvgo_strerror(err),
            uvgo_tls_last_error(NULL));
    uvgo_conn_close(a.raw);
  } else {
    char buf[4096];
    ssize_t n;
    while ((n = uvgo_conn_read(NULL, c, buf, sizeof buf)) > 0)
      if (uvgo_conn_write(NULL, c, buf, (size_t)n) != 0)
        break;
    uvgo_conn_close(c); /* sends close_notify */
    a.s->handled++;
  }
  uvgo_wg_done(&a.s->wg);
}

static void accept_loop(void *arg) {
  server *s = arg;
  conn_arg a = {s, NULL};
  while (uvgo_accept(NULL, s->ln, &a.raw) == 0) {
    uvgo_wg_add(&s->wg, 1);
    /* The connection belongs to this worker: serve it here, with a copy
     * of the argument (the loop reuses `a`). */
    uvgo_spawn_opts o = {.worker = uvgo_worker_id(), .copy = &a,
                         .copy_size = sizeof a};
    if (uvgo_go_opts(&o, serve, NULL) != 0) {
      uvgo_conn_close(a.raw);
      uvgo_wg_done(&s->wg);
    }
  }
  uvgo_wg_done(&s->wg);
}

/* --- the client --- */

static int echo_once(uvgo_tls_config *cfg, unsigned port) {
  uvgo_conn *c;
  int err = uvgo_tls_dial(NULL, "localhost", port, cfg, &c);
  if (err != 0) {
    printf("dial: %s (%s)\n", uvgo_strerror(err), uvgo_tls_last_error(NULL));
    return err;
  }
  const char msg[] = "hello over TLS";
  char back[sizeof msg];
  size_t got = 0;
  err = uvgo_conn_write(NULL, c, msg, sizeof msg);
  while (err == 0 && got < sizeof back) {
    ssize_t n = uvgo_conn_read(NULL, c, back + got, sizeof back - got);
    if (n < 0)
      err = (int)n;
    else
      got += (size_t)n;
  }
  uvgo_tls_conn_info info;
  if (err == 0 && uvgo_tls_info(c, &info) == 0) {
    printf("echo: %s\n", back);
    printf("%s %s, alpn %s, resumed: %s, server: %s\n", info.version_name,
           info.cipher, info.alpn, info.resumed ? "yes" : "no",
           info.peer_subject);
  }
  uvgo_conn_close(c);
  return err;
}

static void main_task(void *arg) {
  int *status = arg;
  pem_pair pem;
  if (!make_cert(&pem)) {
    fprintf(stderr, "could not make a certificate\n");
    *status = 1;
    return;
  }
  const char *alpn[] = {"echo/1"};
  server s = {.wg = UVGO_WG_INIT};
  uvgo_tls_config *ccfg = NULL;
  int err = uvgo_tls_config_new(&s.cfg);
  if (err == 0)
    err = uvgo_tls_config_set_cert_pem(s.cfg, pem.cert, 0, pem.key, 0);
  if (err == 0)
    err = uvgo_tls_config_set_alpn(s.cfg, alpn, 1);
  if (err == 0)
    err = uvgo_tls_config_new(&ccfg);
  if (err == 0)
    err = uvgo_tls_config_set_ca_pem(ccfg, pem.cert, 0); /* pin it */
  if (err == 0)
    err = uvgo_tls_config_set_alpn(ccfg, alpn, 1);
  if (err == 0)
    err = uvgo_listen("127.0.0.1", 0, 16, &s.ln);
  if (err != 0) {
    fprintf(stderr, "setup: %s\n", uvgo_strerror(err));
    *status = 1;
  } else {
    unsigned port = uvgo_listener_port(s.ln);
    printf("listening on 127.0.0.1:%u (TLS)\n", port);
    uvgo_wg_add(&s.wg, 1);
    uvgo_spawn_opts o = {.worker = uvgo_worker_id()};
    if (uvgo_go_opts(&o, accept_loop, &s) != 0)
      uvgo_wg_done(&s.wg);
    *status = echo_once(ccfg, port) != 0 || echo_once(ccfg, port) != 0;
    uvgo_listener_close(s.ln);
    uvgo_wg_wait(&s.wg);
    printf("server handled %d connection(s)\n", s.handled);
  }
  uvgo_tls_config_release(ccfg);
  uvgo_tls_config_release(s.cfg);
}

int main(void) {
  int status = 0;
  int err = uvgo_run(NULL, main_task, &status);
  if (err != 0) {
    fprintf(stderr, "uvgo_run: %s\n", uvgo_strerror(err));
    return 1;
  }
  return status;
}
