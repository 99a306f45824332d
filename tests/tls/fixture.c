/* TLS test fixtures (fixture.h): certificates through OpenSSL's API, and
 * child-process peers. */
#include "fixture.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "harness.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

static const char *const names[] = {"ca",   "rogue_ca", "server",
                                    "expired", "other", "self",
                                    "client",  "rogue_client"};

const char *tls_fx_path(const tls_fx *fx, const char *name) {
  static char bufs[8][256];
  static unsigned next;
  char *b = bufs[next++ % 8];
  snprintf(b, 256, "%s/%s", fx->dir, name);
  return b;
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
  ASSERT_NOT_NULL(ext);
  ASSERT(X509_add_ext(cert, ext, -1));
  X509_EXTENSION_free(ext);
}

/* A certificate for key, signed by issuer (NULL = self-signed). Validity
 * in seconds from now. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *san,
                       X509 *issuer, EVP_PKEY *issuer_key, long from,
                       long to, bool ca, const char *eku) {
  X509 *x = X509_new();
  ASSERT_NOT_NULL(x);
  ASSERT(X509_set_version(x, 2));
  unsigned char serial[8];
  ASSERT(RAND_bytes(serial, sizeof serial) == 1);
  serial[0] &= 0x7f;
  BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
  ASSERT(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL);
  BN_free(bn);
  ASSERT(X509_gmtime_adj(X509_getm_notBefore(x), from) != NULL);
  ASSERT(X509_gmtime_adj(X509_getm_notAfter(x), to) != NULL);
  ASSERT(X509_set_pubkey(x, key));
  X509_NAME *name = X509_get_subject_name(x);
  ASSERT(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                    (const unsigned char *)"uvgo tests", -1,
                                    -1, 0));
  ASSERT(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                    (const unsigned char *)cn, -1, -1, 0));
  ASSERT(X509_set_issuer_name(
      x, issuer != NULL ? X509_get_subject_name(issuer) : name));
  X509 *signer = issuer != NULL ? issuer : x;
  add_ext(x, signer, NID_basic_constraints,
          ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext(x, signer, NID_key_usage,
          ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  add_ext(x, signer, NID_subject_key_identifier, "hash");
  if (issuer != NULL)
    add_ext(x, signer, NID_authority_key_identifier, "keyid");
  if (san != NULL)
    add_ext(x, signer, NID_subject_alt_name, san);
  if (eku != NULL)
    add_ext(x, signer, NID_ext_key_usage, eku);
  ASSERT(X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) >
         0);
  return x;
}

static void save(const tls_fx *fx, const char *name, X509 *x, EVP_PKEY *k) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s.crt", fx->dir, name);
  FILE *f = fopen(path, "w");
  ASSERT_NOT_NULL(f);
  ASSERT(PEM_write_X509(f, x));
  fclose(f);
  snprintf(path, sizeof path, "%s/%s.key", fx->dir, name);
  f = fopen(path, "w");
  ASSERT_NOT_NULL(f);
  ASSERT(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
  fclose(f);
}

void tls_fx_lend_dir(tls_fx *fx) {
  snprintf(fx->dir, sizeof fx->dir, "/tmp/uvgo-tls-XXXXXX");
  ASSERT_NOT_NULL(mkdtemp(fx->dir));
  ASSERT_OK(setenv("UVGO_TLS_FX_DIR", fx->dir, 1));
}

void tls_fx_make(tls_fx *fx) {
  const char *lent = getenv("UVGO_TLS_FX_DIR");
  if (lent != NULL && strlen(lent) < sizeof fx->dir) {
    snprintf(fx->dir, sizeof fx->dir, "%s", lent);
  } else {
    snprintf(fx->dir, sizeof fx->dir, "/tmp/uvgo-tls-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(fx->dir));
  }
  const long day = 86400;
  const char *san = "DNS:localhost,IP:127.0.0.1,IP:::1";
  EVP_PKEY *ca_key = EVP_EC_gen("P-256");
  EVP_PKEY *rogue_key = EVP_EC_gen("P-256");
  EVP_PKEY *key = EVP_EC_gen("P-256");
  ASSERT(ca_key != NULL && rogue_key != NULL && key != NULL);
  X509 *ca = make_cert(ca_key, "uvgo test CA", NULL, NULL, NULL, -day,
                       30 * day, true, NULL);
  X509 *rogue = make_cert(rogue_key, "rogue CA", NULL, NULL, NULL, -day,
                          30 * day, true, NULL);
  save(fx, "ca", ca, ca_key);
  save(fx, "rogue_ca", rogue, rogue_key);
  struct {
    const char *name, *cn, *san, *eku;
    X509 *issuer;
    EVP_PKEY *issuer_key;
    long from, to;
  } leaves[] = {
      {"server", "localhost", san, "serverAuth", ca, ca_key, -day, 30 * day},
      {"expired", "localhost", san, "serverAuth", ca, ca_key, -3 * day, -day},
      {"other", "other.example", "DNS:other.example", "serverAuth", ca,
       ca_key, -day, 30 * day},
      {"self", "localhost", san, "serverAuth", NULL, NULL, -day, 30 * day},
      {"client", "uvgo-client", NULL, "clientAuth", ca, ca_key, -day,
       30 * day},
      {"rogue_client", "rogue", NULL, "clientAuth", rogue, rogue_key, -day,
       30 * day},
  };
  for (size_t i = 0; i < sizeof leaves / sizeof leaves[0]; i++) {
    X509 *x = make_cert(key, leaves[i].cn, leaves[i].san, leaves[i].issuer,
                        leaves[i].issuer_key, leaves[i].from, leaves[i].to,
                        false, leaves[i].eku);
    save(fx, leaves[i].name, x, key);
    X509_free(x);
  }
  X509_free(ca);
  X509_free(rogue);
  EVP_PKEY_free(ca_key);
  EVP_PKEY_free(rogue_key);
  EVP_PKEY_free(key);
}

void tls_fx_remove(tls_fx *fx) {
  char path[256];
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    snprintf(path, sizeof path, "%s/%s.crt", fx->dir, names[i]);
    unlink(path);
    snprintf(path, sizeof path, "%s/%s.key", fx->dir, names[i]);
    unlink(path);
  }
  rmdir(fx->dir);
}

char *tls_fx_read(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  ASSERT_NOT_NULL(f);
  char *buf = malloc(65536);
  ASSERT_NOT_NULL(buf);
  size_t n = fread(buf, 1, 65535, f);
  fclose(f);
  buf[n] = '\0';
  if (len != NULL)
    *len = n;
  return buf;
}

/* --- peers --- */

void tls_peer_start(tls_peer *p, char *const argv[]) {
  int in[2], out[2];
  ASSERT_EQ(pipe(in), 0);
  ASSERT_EQ(pipe(out), 0);
  pid_t parent = getpid();
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(127);
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(out[1], 2);
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    execvp(argv[0], argv);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  p->pid = pid;
  p->in = in[1];
  p->out = out[0];
}

bool tls_peer_wait_for(tls_peer *p, const char *needle, char *buf,
                       size_t cap, size_t *len) {
  size_t n = len != NULL ? *len : 0;
  buf[n] = '\0';
  while (strstr(buf, needle) == NULL) {
    if (n + 1 >= cap)
      return false;
    ssize_t r = read(p->out, buf + n, cap - 1 - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    n += (size_t)r;
    buf[n] = '\0';
    if (len != NULL)
      *len = n;
  }
  return true;
}

int tls_peer_finish(tls_peer *p, char *buf, size_t cap, size_t *len) {
  size_t n = len != NULL ? *len : 0;
  if (p->in >= 0) {
    close(p->in);
    p->in = -1;
  }
  for (;;) {
    char scratch[4096];
    char *dst = n + 1 < cap ? buf + n : scratch;
    size_t room = n + 1 < cap ? cap - 1 - n : sizeof scratch;
    ssize_t r = read(p->out, dst, room);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    if (dst != scratch)
      n += (size_t)r;
  }
  buf[n] = '\0';
  if (len != NULL)
    *len = n;
  close(p->out);
  p->out = -1;
  int status = 0;
  while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
    ;
  p->pid = 0;
  return status;
}

void tls_peer_kill(tls_peer *p) {
  if (p->pid > 0) {
    kill(p->pid, SIGKILL);
    while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
      ;
    p->pid = 0;
  }
  if (p->in >= 0)
    close(p->in);
  if (p->out >= 0)
    close(p->out);
  p->in = p->out = -1;
}

bool tls_have_program(const char *name) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", name);
  return system(cmd) == 0;
}

/* --- uvgo side --- */

uvgo_tls_config *tls_fx_server_config(const tls_fx *fx, const char *cert) {
  uvgo_tls_config *cfg;
  char crt[64], key[64];
  snprintf(crt, sizeof crt, "%s.crt", cert);
  snprintf(key, sizeof key, "%s.key", cert);
  ASSERT_OK(uvgo_tls_config_new(&cfg));
  ASSERT_OK(uvgo_tls_config_set_cert_files(cfg, tls_fx_path(fx, crt),
                                           tls_fx_path(fx, key)));
  return cfg;
}

uvgo_tls_config *tls_fx_client_config(const tls_fx *fx) {
  uvgo_tls_config *cfg;
  ASSERT_OK(uvgo_tls_config_new(&cfg));
  ASSERT_OK(uvgo_tls_config_set_ca_file(cfg, tls_fx_path(fx, "ca.crt")));
  return cfg;
}

typedef struct {
  tls_srv *s;
  uvgo_conn *raw;
} srv_conn_arg;

static int serve_http(uvgo_conn *c) {
  char req[4096];
  size_t n = 0;
  while (n < sizeof req - 1) {
    ssize_t r = uvgo_conn_read(NULL, c, req + n, sizeof req - 1 - n);
    if (r < 0)
      return (int)r;
    n += (size_t)r;
    req[n] = '\0';
    if (strstr(req, "\r\n\r\n") != NULL)
      break;
  }
  static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n"
                             "Connection: close\r\n\r\nhello, uvgo\n";
  int err = uvgo_conn_write(NULL, c, resp, sizeof resp - 1);
  if (err == 0)
    err = uvgo_conn_shutdown(NULL, c);
  while (err == 0) {
    ssize_t r = uvgo_conn_read(NULL, c, req, sizeof req);
    if (r < 0)
      err = (int)r;
  }
  return err;
}

static void srv_conn(void *arg) {
  srv_conn_arg a = *(srv_conn_arg *)arg;
  free(arg);
  tls_srv_result res;
  memset(&res, 0, sizeof res);
  uvgo_conn *c;
  res.err = uvgo_tls_server(NULL, a.raw, a.s->cfg, &c);
  if (res.err != 0) {
    snprintf(res.reason, sizeof res.reason, "%s", uvgo_tls_last_error(NULL));
    uvgo_conn_close(a.raw);
  } else {
    ASSERT_OK(uvgo_tls_info(c, &res.info));
    if (a.s->mode == TLS_SRV_HTTP) {
      res.end = serve_http(c);
    } else {
      char *buf = malloc(16384);
      ssize_t n;
      while ((n = uvgo_conn_read(NULL, c, buf, 16384)) > 0)
        if ((n = uvgo_conn_write(NULL, c, buf, (size_t)n)) != 0)
          break;
      res.end = (int)n;
      if (n == UV_EOF)
        uvgo_conn_shutdown(NULL, c); /* answer close_notify */
      free(buf);
    }
    ASSERT_OK(uvgo_conn_close(c));
  }
  ASSERT_OK(uvgo_chan_try_send(a.s->results, &res));
  uvgo_wg_done(&a.s->wg);
}

static void srv_accept(void *arg) {
  tls_srv *s = arg;
  for (;;) {
    uvgo_conn *raw;
    int err = uvgo_accept(NULL, s->ln, &raw);
    if (err == UV_ENOMEM)
      continue; /* allocation-failure tests: the connection stays queued */
    if (err != 0)
      break;
    srv_conn_arg *a = malloc(sizeof *a);
    ASSERT_NOT_NULL(a);
    a->s = s;
    a->raw = raw;
    uvgo_wg_add(&s->wg, 1);
    if (uvgo_go_on((unsigned)uvgo_worker_id(), srv_conn, a) != 0) {
      free(a);
      uvgo_conn_close(raw);
      uvgo_wg_done(&s->wg);
    }
  }
  uvgo_wg_done(&s->wg);
}

void tls_srv_start(tls_srv *s, uvgo_tls_config *cfg, int mode) {
  memset(s, 0, sizeof *s);
  s->cfg = cfg;
  s->mode = mode;
  s->results = uvgo_chan_new(sizeof(tls_srv_result), 64);
  ASSERT_NOT_NULL(s->results);
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 64, &s->ln));
  s->port = uvgo_listener_port(s->ln);
  uvgo_wg_add(&s->wg, 1);
  ASSERT_OK(uvgo_go_on((unsigned)uvgo_worker_id(), srv_accept, s));
}

tls_srv_result tls_srv_next(tls_srv *s) {
  tls_srv_result r;
  ASSERT_OK(uvgo_chan_recv(s->results, &r));
  return r;
}

void tls_srv_stop(tls_srv *s) {
  ASSERT_OK(uvgo_listener_close(s->ln));
  uvgo_wg_wait(&s->wg);
  uvgo_chan_release(s->results);
}

void tls_fx_check_leaks(void) {
#if defined(__SANITIZE_ADDRESS__)
  ASSERT_EQ(__lsan_do_recoverable_leak_check(), 0);
#endif
}
