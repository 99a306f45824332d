/* TLS workloads on loopback; the twin is bench/go/tls.go (same names, same
 * sizes, same key and cipher: ECDSA P-256, TLS 1.3 TLS_AES_128_GCM_SHA256,
 * X25519).
 *
 *   tls_handshakes_per_sec   full handshakes (no session cache): dial,
 *                            handshake, 1-byte echo, close; 16 clients
 *   tls_resumed_per_sec      the same with the client session cache on
 *   tls_bulk_mbps            one connection, the client writes 256 MiB in
 *                            64 KiB blocks, the server reads them
 *   tls_idle_conn_bytes      RSS growth per idle established TLS pair
 *                            (client held, server task parked in read)
 *   tls_*_cpu_*              process CPU time (user + system) per full /
 *                            resumed handshake and per GiB of bulk: on a
 *                            loaded machine steadier than the rates
 *
 * Two workers; the server is one SO_REUSEPORT listener per worker, a task
 * per connection on the accepting worker. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "bench.h"

#define HS_CLIENTS 16
#define HS_TOTAL 4000
#define BULK_TOTAL (256L << 20)
#define BULK_BLOCK (64 << 10)
#define IDLE_CONNS 1000

/* Process CPU time (user + system) in microseconds: under a loaded
 * machine the CPU cost of an operation is steadier than its rate. */
static double cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void must(long err, const char *what) {
  if (err < 0) {
    fprintf(stderr, "%s: %s (%s)\n", what, uvgo_strerror((int)err),
            uvgo_tls_last_error(NULL));
    abort();
  }
}

/* --- the certificate, made once in memory --- */

static char cert_pem[4096], key_pem[1024];

static void make_cert(void) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, key);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             (const unsigned char *)"localhost", -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
  X509_EXTENSION *ext =
      X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost");
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  X509_sign(x, key, EVP_sha256());
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  cert_pem[BIO_read(b, cert_pem, sizeof cert_pem - 1)] = '\0';
  BIO_free(b);
  b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
  key_pem[BIO_read(b, key_pem, sizeof key_pem - 1)] = '\0';
  BIO_free(b);
  X509_free(x);
  EVP_PKEY_free(key);
}

static uvgo_tls_config *config(bool server, bool cache) {
  uvgo_tls_config *cfg;
  must(uvgo_tls_config_new(&cfg), "config");
  must(uvgo_tls_config_set_min_version(cfg, UVGO_TLS_VERSION_1_3), "min");
  must(uvgo_tls_config_set_ciphers(cfg, NULL, "TLS_AES_128_GCM_SHA256"),
       "ciphers");
  if (server)
    must(uvgo_tls_config_set_cert_pem(cfg, cert_pem, 0, key_pem, 0), "cert");
  else
    must(uvgo_tls_config_set_ca_pem(cfg, cert_pem, 0), "ca");
  if (!cache)
    must(uvgo_tls_config_set_session_cache(cfg, 0), "cache");
  return cfg;
}

static unsigned srv_port(void);

/* Dial 127.0.0.1 and verify "localhost" (as the Go twin: no resolver). */
static int tls_dial(uvgo_tls_config *cfg, uvgo_conn **out) {
  uvgo_conn *raw;
  int err = uvgo_dial(NULL, "127.0.0.1", srv_port(), &raw);
  if (err != 0)
    return err;
  err = uvgo_tls_client(NULL, raw, cfg, "localhost", out);
  if (err != 0)
    uvgo_conn_close(raw);
  return err;
}

/* --- the server --- */

enum { MODE_ECHO, MODE_SINK };

typedef struct {
  unsigned port;
  int mode;
  uvgo_tls_config *cfg;
  uvgo_ctx *stop;
  uvgo_chan *events;
  _Atomic long accepted, open;
} server;

static server srv;
static unsigned srv_port(void) { return srv.port; }

static void serve(void *arg) {
  uvgo_conn *raw = arg, *c;
  if (uvgo_tls_server(NULL, raw, srv.cfg, &c) != 0) {
    uvgo_conn_close(raw);
    atomic_fetch_sub(&srv.open, 1);
    return;
  }
  char *buf = malloc(BULK_BLOCK);
  ssize_t n;
  while ((n = uvgo_conn_read(NULL, c, buf, BULK_BLOCK)) > 0)
    if (srv.mode == MODE_ECHO && uvgo_conn_write(NULL, c, buf, (size_t)n) != 0)
      break;
  if (srv.mode == MODE_SINK)
    uvgo_conn_write(NULL, c, "k", 1);
  uvgo_conn_close(c);
  free(buf);
  atomic_fetch_sub(&srv.open, 1);
}

static void accept_loop(void *arg) {
  unsigned port = (unsigned)(uintptr_t)arg;
  uvgo_listener *ln;
  must(uvgo_listen_shared("127.0.0.1", port, 4096, &ln), "listen");
  port = uvgo_listener_port(ln);
  must(uvgo_chan_send(srv.events, &port), "send");
  unsigned w = (unsigned)uvgo_worker_id();
  for (;;) {
    uvgo_conn *c;
    int err = uvgo_accept(srv.stop, ln, &c);
    if (err == UV_ECANCELED)
      break;
    must(err, "accept");
    atomic_fetch_add(&srv.open, 1);
    atomic_fetch_add(&srv.accepted, 1);
    must(uvgo_go_on(w, serve, c), "go");
  }
  uvgo_listener_close(ln);
  unsigned zero = 0;
  must(uvgo_chan_send(srv.events, &zero), "send");
}

static void server_start(int mode) {
  srv.mode = mode;
  srv.cfg = config(true, false);
  must(uvgo_ctx_with_cancel(uvgo_ctx_current(), &srv.stop), "ctx");
  srv.events = uvgo_chan_new(sizeof(unsigned), 16);
  atomic_store(&srv.accepted, 0);
  must(uvgo_go_on(0, accept_loop, (void *)0), "go");
  must(uvgo_chan_recv(srv.events, &srv.port), "recv");
  for (unsigned w = 1; w < uvgo_worker_count(); w++) {
    must(uvgo_go_on(w, accept_loop, (void *)(uintptr_t)srv.port), "go");
    unsigned p;
    must(uvgo_chan_recv(srv.events, &p), "recv");
  }
}

static void server_stop(void) {
  uvgo_ctx_cancel(srv.stop);
  for (unsigned w = 0; w < uvgo_worker_count(); w++) {
    unsigned p;
    must(uvgo_chan_recv(srv.events, &p), "recv");
  }
  while (atomic_load(&srv.open) > 0)
    uvgo_sleep(1);
  uvgo_ctx_release(srv.stop);
  uvgo_chan_release(srv.events);
  uvgo_tls_config_release(srv.cfg);
}

/* --- handshakes --- */

typedef struct {
  uvgo_tls_config *cfg;
  long n;
  uvgo_chan *start, *done;
  _Atomic long resumed;
} hs_spec;

static void hs_client(void *arg) {
  hs_spec *h = arg;
  uvgo_chan_recv(h->start, NULL);
  for (long i = 0; i < h->n; i++) {
    uvgo_conn *c;
    must(tls_dial(h->cfg, &c), "tls dial");
    char b;
    must(uvgo_conn_write(NULL, c, "x", 1), "write");
    must(uvgo_conn_read(NULL, c, &b, 1), "read");
    uvgo_tls_conn_info info;
    if (uvgo_tls_info(c, &info) == 0 && info.resumed)
      atomic_fetch_add(&h->resumed, 1);
    uvgo_conn_close(c);
  }
  int v = 0;
  must(uvgo_chan_send(h->done, &v), "send");
}

typedef struct {
  double full, resumed;
  double full_cpu, resumed_cpu; /* us of CPU per handshake, both ends */
} hs_result;

static double hs_run(bool cache, long total, double *cpu) {
  hs_spec h = {config(false, cache), total / HS_CLIENTS, uvgo_chan_new(0, 0),
               uvgo_chan_new(sizeof(int), HS_CLIENTS), 0};
  if (cache) {
    /* One warm-up per worker's clients so every session is cached. */
    uvgo_conn *c;
    must(tls_dial(h.cfg, &c), "warm");
    char b;
    must(uvgo_conn_write(NULL, c, "x", 1), "write");
    must(uvgo_conn_read(NULL, c, &b, 1), "read");
    uvgo_conn_close(c);
  }
  for (int i = 0; i < HS_CLIENTS; i++)
    must(uvgo_go_on((unsigned)(i % 2), hs_client, &h), "go");
  uvgo_sleep(10);
  uint64_t t0 = bench_now_ns();
  double c0 = cpu_us();
  uvgo_chan_close(h.start);
  for (int i = 0; i < HS_CLIENTS; i++) {
    int v;
    must(uvgo_chan_recv(h.done, &v), "recv");
  }
  double el = (double)(bench_now_ns() - t0) / 1e9;
  long done = h.n * HS_CLIENTS;
  *cpu = (cpu_us() - c0) / (double)done;
  if (cache && atomic_load(&h.resumed) < done)
    fprintf(stderr, "warning: %ld of %ld handshakes resumed\n",
            atomic_load(&h.resumed), done);
  uvgo_chan_release(h.start);
  uvgo_chan_release(h.done);
  uvgo_tls_config_release(h.cfg);
  return (double)done / el;
}

static void hs_main(void *arg) {
  hs_result *r = arg;
  server_start(MODE_ECHO);
  long total = bench_scaled(HS_TOTAL, HS_CLIENTS * 4);
  r->full = hs_run(false, total, &r->full_cpu);
  r->resumed = hs_run(true, total, &r->resumed_cpu);
  server_stop();
}

/* --- bulk --- */

typedef struct {
  double mbps, cpu_ms_per_gib;
} bulk_result;

static void bulk_main(void *arg) {
  bulk_result *br = arg;
  server_start(MODE_SINK);
  uvgo_tls_config *cfg = config(false, false);
  uvgo_conn *c;
  must(tls_dial(cfg, &c), "tls dial");
  char *buf = malloc(BULK_BLOCK);
  memset(buf, 'b', BULK_BLOCK);
  long blocks = bench_scaled(BULK_TOTAL / BULK_BLOCK, 64);
  uint64_t t0 = bench_now_ns();
  double c0 = cpu_us();
  for (long i = 0; i < blocks; i++)
    must(uvgo_conn_write(NULL, c, buf, BULK_BLOCK), "write");
  must(uvgo_conn_shutdown(NULL, c), "shutdown");
  char k;
  must(uvgo_conn_read(NULL, c, &k, 1), "ack");
  double el = (double)(bench_now_ns() - t0) / 1e9;
  br->mbps = (double)blocks * BULK_BLOCK / (1 << 20) / el;
  br->cpu_ms_per_gib =
      (cpu_us() - c0) / 1e3 / ((double)blocks * BULK_BLOCK / (1 << 30));
  uvgo_conn_close(c);
  free(buf);
  uvgo_tls_config_release(cfg);
  server_stop();
}

/* --- idle connections --- */

typedef struct {
  long n;
  double bytes_per_conn;
} idle_arg;

static void idle_main(void *arg) {
  idle_arg *ia = arg;
  server_start(MODE_ECHO);
  uvgo_tls_config *cfg = config(false, false);
  /* Warm the allocator and OpenSSL's lazily built tables first. */
  uvgo_conn *warm;
  must(tls_dial(cfg, &warm), "tls dial");
  uvgo_sleep(10);
  long rss0 = bench_rss_bytes();
  uvgo_conn **conns = calloc((size_t)ia->n, sizeof *conns);
  for (long i = 0; i < ia->n; i++) {
    must(tls_dial(cfg, &conns[i]),
         "tls dial");
    char b;
    /* A round trip: the server's handshake is done, the ticket read. */
    must(uvgo_conn_write(NULL, conns[i], "x", 1), "write");
    must(uvgo_conn_read(NULL, conns[i], &b, 1), "read");
  }
  uvgo_sleep(50); /* handlers reach their read */
  long rss1 = bench_rss_bytes();
  ia->bytes_per_conn = (double)(rss1 - rss0) / (double)ia->n;
  for (long i = 0; i < ia->n; i++)
    uvgo_conn_close(conns[i]);
  uvgo_conn_close(warm);
  free(conns);
  uvgo_tls_config_release(cfg);
  server_stop();
}

static void raise_fd_limit(long need) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)need) {
    rl.rlim_cur = rl.rlim_max < (rlim_t)need ? rl.rlim_max : (rlim_t)need;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

UVGO_BENCH(tls) {
  make_cert();
  uvgo_config cfg = {0};
  cfg.workers = 2;
  hs_result r = {0, 0, 0, 0};
  must(uvgo_run(&cfg, hs_main, &r), "run");
  bench_report("tls_handshakes_per_sec", r.full, "hs/s");
  bench_report("tls_handshake_cpu_us", r.full_cpu, "us");
  bench_report("tls_resumed_per_sec", r.resumed, "hs/s");
  bench_report("tls_resumed_cpu_us", r.resumed_cpu, "us");
  bulk_result br = {0, 0};
  must(uvgo_run(&cfg, bulk_main, &br), "run");
  bench_report("tls_bulk_mbps", br.mbps, "MB/s");
  bench_report("tls_bulk_cpu_ms_per_gib", br.cpu_ms_per_gib, "ms");
  idle_arg ia = {bench_scaled(IDLE_CONNS, 50), 0};
  raise_fd_limit(2 * ia.n + 256);
  must(uvgo_run(&cfg, idle_main, &ia), "run");
  bench_report("tls_idle_conn_bytes", ia.bytes_per_conn, "bytes");
}
