/* TLS when things go wrong on purpose: cancellation and deadlines in
 * every phase (handshake on both ends, read mid-record, write, shutdown,
 * waiting behind another call), close waking parked calls, allocation
 * failures through handshake, read and write, config files that cannot
 * be loaded, and the bad-input list of issue 15. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tls/fixture.h"

static tls_fx fx;

typedef void (*tls_main_fn)(void);
static void run_main(void *arg) { ((tls_main_fn)arg)(); }
static void run_workers(unsigned workers, tls_main_fn fn) {
  tls_fx_make(&fx);
  uvgo_config cfg = {.workers = workers, .dump_on_sigquit = 1};
  ASSERT_OK(uvgo_run(&cfg, run_main, (void *)fn));
  tls_fx_remove(&fx);
  tls_fx_check_leaks();
}
static void run1(tls_main_fn fn) { run_workers(1, fn); }

static int read_full(uvgo_ctx *ctx, uvgo_conn *c, void *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = uvgo_conn_read(ctx, c, (char *)buf + got, len - got);
    if (n < 0)
      return (int)n;
    got += (size_t)n;
  }
  return 0;
}

static uvgo_ctx *timeout_ctx(uint64_t ms) {
  uvgo_ctx *ctx;
  ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_background(), ms, &ctx));
  return ctx;
}

static uvgo_ctx *cancelled_ctx(void) {
  uvgo_ctx *ctx;
  ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_background(), &ctx));
  ASSERT_OK(uvgo_ctx_cancel(ctx));
  return ctx;
}

static void ctx_done(uvgo_ctx *ctx) {
  uvgo_ctx_cancel(ctx);
  uvgo_ctx_release(ctx);
}

/* A connected pair over loopback: *client is a TLS client of a server task
 * that accepted and ran uvgo_tls_server (its conn in *server). The raw
 * sockets under them come back too, for tests that poke underneath. */
typedef struct {
  uvgo_listener *ln;
  uvgo_tls_config *scfg, *ccfg;
  uvgo_conn *server, *client;
  uvgo_conn *server_raw, *client_raw;
  uvgo_wg ready;
} tls_pair;

static void pair_accept(void *arg) {
  tls_pair *p = arg;
  ASSERT_OK(uvgo_accept(NULL, p->ln, &p->server_raw));
  ASSERT_OK(uvgo_tls_server(NULL, p->server_raw, p->scfg, &p->server));
  uvgo_wg_done(&p->ready);
}

static void pair_open(tls_pair *p) {
  memset(p, 0, sizeof *p);
  p->scfg = tls_fx_server_config(&fx, "server");
  p->ccfg = tls_fx_client_config(&fx);
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &p->ln));
  uvgo_wg_add(&p->ready, 1);
  ASSERT_OK(uvgo_go_on((unsigned)uvgo_worker_id(), pair_accept, p));
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", uvgo_listener_port(p->ln),
                      &p->client_raw));
  ASSERT_OK(uvgo_tls_client(NULL, p->client_raw, p->ccfg, "localhost",
                            &p->client));
  uvgo_wg_wait(&p->ready);
}

static void pair_close(tls_pair *p) {
  if (p->client != NULL)
    ASSERT_OK(uvgo_conn_close(p->client));
  if (p->server != NULL)
    ASSERT_OK(uvgo_conn_close(p->server));
  ASSERT_OK(uvgo_listener_close(p->ln));
  uvgo_tls_config_release(p->scfg);
  uvgo_tls_config_release(p->ccfg);
}

/* --- the handshake --- */

/* The server end never answers (the connection waits in the backlog). */
static void handshake_cancel_main(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  uvgo_tls_config *ccfg = tls_fx_client_config(&fx);
  unsigned port = uvgo_listener_port(ln);
  for (int i = 0; i < 2; i++) {
    uvgo_conn *raw, *c = (uvgo_conn *)1;
    ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", port, &raw));
    uvgo_ctx *ctx = i == 0 ? timeout_ctx(30) : cancelled_ctx();
    ASSERT_ERR(uvgo_tls_client(ctx, raw, ccfg, "localhost", &c),
               i == 0 ? UV_ETIMEDOUT : UV_ECANCELED);
    ASSERT_NULL(c);
    ctx_done(ctx);
    ASSERT_OK(uvgo_conn_close(raw)); /* still the caller's */
  }
  /* uvgo_tls_dial leaves nothing behind either. */
  uvgo_ctx *ctx = timeout_ctx(30);
  uvgo_conn *c;
  ASSERT_ERR(uvgo_tls_dial(ctx, "127.0.0.1", port, ccfg, &c), UV_ETIMEDOUT);
  ctx_done(ctx);
  uvgo_tls_config_release(ccfg);
  ASSERT_OK(uvgo_listener_close(ln));
}

UVGO_TEST(tls_handshake_client_deadline_and_cancel, tls, 30) {
  run1(handshake_cancel_main);
}

/* The task's own context ends the handshake too. */
typedef struct {
  unsigned port;
  uvgo_tls_config *cfg;
  int err;
  uvgo_wg done;
  uvgo_conn *raw; /* dialled by the parent, so the short context bounds
                     only the handshake, never the connect */
} own_ctx_arg;

static void own_ctx_client(void *arg) {
  own_ctx_arg *a = arg;
  uvgo_conn *c;
  a->err = uvgo_tls_client(NULL, a->raw, a->cfg, "localhost", &c);
  ASSERT_OK(uvgo_conn_close(a->raw));
  uvgo_wg_done(&a->done);
}

/* A silent client: the server's handshake waits for a ClientHello. */
static void silent_client(void *arg) {
  own_ctx_arg *a = arg;
  uvgo_conn *raw;
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", a->port, &raw));
  uvgo_wg_wait(&a->done);
  ASSERT_OK(uvgo_conn_close(raw));
}

static void own_ctx_main(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  own_ctx_arg a = {uvgo_listener_port(ln), tls_fx_client_config(&fx), 0,
                   UVGO_WG_INIT, NULL};
  /* The listener never accepts: the kernel completes the connect and the
   * ClientHello gets no answer. One worker, so the socket is the task's. */
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", a.port, &a.raw));
  uvgo_ctx *ctx = timeout_ctx(30);
  uvgo_wg_add(&a.done, 1);
  ASSERT_OK(uvgo_go_ctx(ctx, own_ctx_client, &a));
  uvgo_wg_wait(&a.done);
  ASSERT_ERR(a.err, UV_ETIMEDOUT);
  ctx_done(ctx);
  uvgo_tls_config_release(a.cfg);
  /* Server side: a client that connects and says nothing, on a listener
   * of its own (the first client's closed connection is still in the old
   * one's backlog, and accept would hand that one out first). */
  ASSERT_OK(uvgo_listener_close(ln));
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  a.port = uvgo_listener_port(ln);
  uvgo_wg_add(&a.done, 1);
  ASSERT_OK(uvgo_go(silent_client, &a));
  uvgo_conn *raw, *c;
  ASSERT_OK(uvgo_accept(NULL, ln, &raw));
  uvgo_tls_config *scfg = tls_fx_server_config(&fx, "server");
  ctx = timeout_ctx(30);
  ASSERT_ERR(uvgo_tls_server(ctx, raw, scfg, &c), UV_ETIMEDOUT);
  ctx_done(ctx);
  ASSERT_OK(uvgo_conn_close(raw));
  uvgo_wg_done(&a.done);
  uvgo_tls_config_release(scfg);
  ASSERT_OK(uvgo_listener_close(ln));
}

UVGO_TEST(tls_handshake_task_context_and_server_deadline, tls, 30) {
  run1(own_ctx_main);
}

/* --- reading --- */

/* A proxy between the pair that can hold back the second half of one
 * record: a read cancelled with half a record in hand keeps it, and the
 * next read returns the record intact. */
typedef struct {
  uvgo_listener *ln;
  unsigned upstream;
  uvgo_conn *down, *up;
  bool split;           /* split the next application record */
  uvgo_chan *half_sent; /* signal: the first half went out */
  uvgo_chan *go_on;     /* signal: send the rest */
  uvgo_wg c2s_done;     /* the client-to-server copier ended */
  uvgo_wg done;         /* the proxy ended */
} proxy;

static void proxy_c2s(void *arg) {
  proxy *p = arg;
  char buf[4096];
  ssize_t n;
  while ((n = uvgo_conn_read(NULL, p->down, buf, sizeof buf)) > 0)
    if (uvgo_conn_write(NULL, p->up, buf, (size_t)n) != 0)
      break;
  uvgo_conn_shutdown(NULL, p->up);
  uvgo_wg_done(&p->c2s_done);
}

static void proxy_main_task(void *arg) {
  proxy *p = arg;
  ASSERT_OK(uvgo_accept(NULL, p->ln, &p->down));
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", p->upstream, &p->up));
  uvgo_wg_add(&p->c2s_done, 1);
  ASSERT_OK(uvgo_go_on((unsigned)uvgo_worker_id(), proxy_c2s, p));
  /* Server to client, record by record. */
  static char rec[16384 + 512];
  for (;;) {
    if (read_full(NULL, p->up, rec, 5) != 0)
      break;
    size_t len = ((size_t)(unsigned char)rec[3] << 8) | (unsigned char)rec[4];
    ASSERT_OK(read_full(NULL, p->up, rec + 5, len));
    size_t first = 5 + len;
    if (p->split && rec[0] == 23) {
      p->split = false;
      first = 5 + len / 2;
      ASSERT_OK(uvgo_conn_write(NULL, p->down, rec, first));
      ASSERT_OK(uvgo_chan_send(p->half_sent, NULL));
      ASSERT_OK(uvgo_chan_recv(p->go_on, NULL));
      ASSERT_OK(uvgo_conn_write(NULL, p->down, rec + first, 5 + len - first));
      continue;
    }
    ASSERT_OK(uvgo_conn_write(NULL, p->down, rec, first));
  }
  uvgo_conn_shutdown(NULL, p->down);
  uvgo_wg_wait(&p->c2s_done);
  ASSERT_OK(uvgo_conn_close(p->down));
  ASSERT_OK(uvgo_conn_close(p->up));
  uvgo_wg_done(&p->done);
}

static void server_echo_task(void *arg) {
  tls_pair *p = arg;
  char buf[256];
  ssize_t n;
  while ((n = uvgo_conn_read(NULL, p->server, buf, sizeof buf)) > 0)
    ASSERT_OK(uvgo_conn_write(NULL, p->server, buf, (size_t)n));
  ASSERT_ERR((int)n, UV_EOF);
  ASSERT_OK(uvgo_conn_shutdown(NULL, p->server)); /* our close_notify */
  uvgo_wg_done(&p->ready);
}

static void read_cancel_main(void) {
  /* The TLS server behind the proxy. */
  tls_pair p;
  memset(&p, 0, sizeof p);
  p.scfg = tls_fx_server_config(&fx, "server");
  p.ccfg = tls_fx_client_config(&fx);
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &p.ln));
  uvgo_wg_add(&p.ready, 1);
  ASSERT_OK(uvgo_go(pair_accept, &p));
  proxy px;
  memset(&px, 0, sizeof px);
  px.upstream = uvgo_listener_port(p.ln);
  px.half_sent = uvgo_chan_new(0, 0);
  px.go_on = uvgo_chan_new(0, 0);
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &px.ln));
  uvgo_wg_add(&px.done, 1);
  ASSERT_OK(uvgo_go(proxy_main_task, &px));
  ASSERT_OK(uvgo_tls_dial(NULL, "localhost", uvgo_listener_port(px.ln),
                          p.ccfg, &p.client));
  uvgo_wg_wait(&p.ready);
  uvgo_wg_add(&p.ready, 1);
  ASSERT_OK(uvgo_go(server_echo_task, &p));
  /* Nothing to read: a deadline, then a cancel; the connection stays. */
  char b[64];
  uvgo_ctx *ctx = timeout_ctx(20);
  ASSERT_ERR((int)uvgo_conn_read(ctx, p.client, b, sizeof b), UV_ETIMEDOUT);
  ctx_done(ctx);
  ctx = cancelled_ctx();
  ASSERT_ERR((int)uvgo_conn_read(ctx, p.client, b, sizeof b), UV_ECANCELED);
  ctx_done(ctx);
  ASSERT_OK(uvgo_conn_write(NULL, p.client, "ping", 4));
  ASSERT_OK(read_full(NULL, p.client, b, 4));
  ASSERT(memcmp(b, "ping", 4) == 0);
  /* Half a record arrives, the read's deadline ends it, the rest comes:
   * the record is read whole. */
  px.split = true;
  static const char msg[] = "a record cut in two by the proxy";
  ASSERT_OK(uvgo_conn_write(NULL, p.client, msg, sizeof msg));
  ASSERT_OK(uvgo_chan_recv(px.half_sent, NULL));
  ctx = timeout_ctx(20);
  ASSERT_ERR((int)uvgo_conn_read(ctx, p.client, b, sizeof b), UV_ETIMEDOUT);
  ctx_done(ctx);
  ASSERT_OK(uvgo_chan_send(px.go_on, NULL));
  ASSERT_OK(read_full(NULL, p.client, b, sizeof msg));
  ASSERT_STR_EQ(b, msg);
  /* End: close_notify through the proxy, the server's echo ends. */
  ASSERT_OK(uvgo_conn_shutdown(NULL, p.client));
  ASSERT_ERR((int)uvgo_conn_read(NULL, p.client, b, sizeof b), UV_EOF);
  uvgo_wg_wait(&p.ready);
  ASSERT_OK(uvgo_conn_close(p.server));
  p.server = NULL;
  uvgo_wg_wait(&px.done);
  ASSERT_OK(uvgo_listener_close(px.ln));
  uvgo_chan_release(px.half_sent);
  uvgo_chan_release(px.go_on);
  pair_close(&p);
}

UVGO_TEST(tls_read_deadline_and_cancel_keep_partial_record, tls, 30) {
  run1(read_cancel_main);
}

/* --- writing and shutting down --- */

static void write_cancel_main(void) {
  tls_pair p;
  pair_open(&p); /* the server never reads */
  size_t big = 64u << 20;
  char *buf = calloc(1, big);
  uvgo_ctx *ctx = timeout_ctx(50);
  ASSERT_ERR(uvgo_conn_write(ctx, p.client, buf, big), UV_ETIMEDOUT);
  ctx_done(ctx);
  /* Aborted, as for TCP. */
  ASSERT_ERR(uvgo_conn_write(NULL, p.client, "x", 1), UVGO_ECONNCLOSED);
  char b[8];
  ASSERT_ERR((int)uvgo_conn_read(NULL, p.client, b, sizeof b),
             UVGO_ECONNCLOSED);
  ASSERT_ERR(uvgo_conn_shutdown(NULL, p.client), UVGO_ECONNCLOSED);
  ASSERT_OK(uvgo_conn_close(p.client));
  p.client = NULL;
  /* The same with a cancel, from the server's side this time. */
  ASSERT_OK(uvgo_conn_close(p.server));
  p.server = NULL;
  pair_close(&p);
  pair_open(&p);
  ctx = cancelled_ctx();
  ASSERT_ERR(uvgo_conn_write(ctx, p.server, buf, big), UV_ECANCELED);
  ctx_done(ctx);
  ASSERT_ERR(uvgo_conn_write(NULL, p.server, "x", 1), UVGO_ECONNCLOSED);
  free(buf);
  pair_close(&p);
}

UVGO_TEST(tls_write_deadline_and_cancel_abort, tls, 60) {
  run1(write_cancel_main);
}

/* Fill the socket under the TLS client with a raw write nobody reads, so
 * the close_notify cannot leave: the shutdown's deadline aborts it. */
typedef struct {
  uvgo_conn *raw;
  char *buf;
  size_t len;
  int err;
  uvgo_wg done;
} filler;

static void fill_task(void *arg) {
  filler *f = arg;
  f->err = uvgo_conn_write(NULL, f->raw, f->buf, f->len);
  uvgo_wg_done(&f->done);
}

static void shutdown_cancel_main(void) {
  tls_pair p;
  pair_open(&p);
  filler f = {p.client_raw, calloc(1, 64u << 20), 64u << 20, 0, UVGO_WG_INIT};
  uvgo_wg_add(&f.done, 1);
  ASSERT_OK(uvgo_go(fill_task, &f));
  uvgo_yield(); /* the filler parks in its write */
  uvgo_ctx *ctx = timeout_ctx(30);
  ASSERT_ERR(uvgo_conn_shutdown(ctx, p.client), UV_ETIMEDOUT);
  ctx_done(ctx);
  uvgo_wg_wait(&f.done);
  ASSERT(f.err == UVGO_ECONNCLOSED || f.err == UV_ECANCELED);
  ASSERT_ERR(uvgo_conn_write(NULL, p.client, "x", 1), UVGO_ECONNCLOSED);
  free(f.buf);
  /* Waiting behind another task's write is a cancellation point too, and
   * leaves that write alone. */
  ASSERT_OK(uvgo_conn_close(p.server));
  p.server = NULL;
  pair_close(&p);
  pair_open(&p);
  filler g = {p.client, calloc(1, 64u << 20), 64u << 20, 0, UVGO_WG_INIT};
  uvgo_wg_add(&g.done, 1);
  ASSERT_OK(uvgo_go(fill_task, &g));
  uvgo_yield();
  ctx = timeout_ctx(30);
  ASSERT_ERR(uvgo_conn_shutdown(ctx, p.client), UV_ETIMEDOUT);
  ASSERT_ERR(uvgo_conn_write(ctx, p.client, "x", 1), UV_ETIMEDOUT);
  ctx_done(ctx);
  /* Close wakes the parked write. */
  ASSERT_OK(uvgo_conn_close(p.client));
  p.client = NULL;
  uvgo_wg_wait(&g.done);
  ASSERT_ERR(g.err, UVGO_ECONNCLOSED);
  free(g.buf);
  pair_close(&p);
}

UVGO_TEST(tls_shutdown_deadline_and_waiting_behind_a_write, tls, 60) {
  run1(shutdown_cancel_main);
}

/* Close from another task wakes a parked read with UVGO_ECONNCLOSED. */
typedef struct {
  uvgo_conn *c;
  ssize_t got;
  uvgo_wg done;
} reader;

static void read_task(void *arg) {
  reader *r = arg;
  char b[16];
  r->got = uvgo_conn_read(NULL, r->c, b, sizeof b);
  uvgo_wg_done(&r->done);
}

static void close_wakes_main(void) {
  tls_pair p;
  pair_open(&p);
  reader r = {p.client, 0, UVGO_WG_INIT};
  uvgo_wg_add(&r.done, 1);
  ASSERT_OK(uvgo_go(read_task, &r));
  uvgo_yield();
  ASSERT_OK(uvgo_conn_close(p.client));
  p.client = NULL;
  uvgo_wg_wait(&r.done);
  ASSERT_ERR((int)r.got, UVGO_ECONNCLOSED);
  /* The server sees close_notify: a clean end. */
  char b[16];
  ASSERT_ERR((int)uvgo_conn_read(NULL, p.server, b, sizeof b), UV_EOF);
  pair_close(&p);
}

UVGO_TEST(tls_close_wakes_parked_read, tls, 30) { run1(close_wakes_main); }

/* --- allocation failures --- */

/* Every allocation of a handshake, an exchange and a close, failed in
 * turn: each attempt fails cleanly or succeeds, nothing leaks (the
 * harness checks), and the server keeps serving. */
static int exchange(tls_srv *s, uvgo_tls_config *ccfg) {
  uvgo_conn *c;
  int err = uvgo_tls_dial(NULL, "localhost", s->port, ccfg, &c);
  if (err != 0)
    return err;
  char msg[20000], back[20000];
  memset(msg, 'm', sizeof msg);
  err = uvgo_conn_write(NULL, c, msg, sizeof msg);
  if (err == 0)
    err = read_full(NULL, c, back, sizeof back);
  if (err == 0 && memcmp(msg, back, sizeof msg) != 0)
    err = UV_EIO;
  ASSERT_OK(uvgo_conn_close(c));
  return err;
}

static void alloc_main(void) {
  uvgo_tls_config *scfg = tls_fx_server_config(&fx, "server");
  tls_srv s;
  tls_srv_start(&s, scfg, TLS_SRV_ECHO);
  uvgo_tls_config *ccfg = tls_fx_client_config(&fx);
  ASSERT_OK(uvgo_tls_config_set_session_cache(ccfg, 0));
  long before = uvgo_test_allocation_count();
  ASSERT_OK(exchange(&s, ccfg));
  long per = uvgo_test_allocation_count() - before;
  ASSERT_GT(per, 0);
  int failed = 0;
  for (long nth = 1; nth <= per + 2; nth++) {
    uvgo_test_fail_allocation(nth);
    int err = exchange(&s, ccfg);
    uvgo_test_fail_allocation(0);
    if (err != 0) {
      failed++;
      ASSERT(err != UV_EIO); /* never corrupted data */
    }
  }
  ASSERT_GT(failed, 0);
  ASSERT_OK(exchange(&s, ccfg));
  tls_srv_stop(&s);
  uvgo_tls_config_release(ccfg);
  uvgo_tls_config_release(scfg);
}

UVGO_TEST(tls_allocation_failures_in_every_phase, tls, 120) {
  run1(alloc_main);
}

/* In read and write specifically: UV_ENOMEM, and the connection stays
 * usable with no byte lost or repeated. */
static void alloc_rw_main(void) {
  tls_pair p;
  pair_open(&p);
  static char msg[100000], back[100000];
  for (size_t i = 0; i < sizeof msg; i++)
    msg[i] = (char)('a' + i % 26);
  /* Write: the first allocation is the ciphertext buffer. */
  uvgo_test_fail_allocation(1);
  ASSERT_ERR(uvgo_conn_write(NULL, p.client, msg, sizeof msg), UV_ENOMEM);
  uvgo_test_fail_allocation(0);
  ASSERT_OK(uvgo_conn_write(NULL, p.client, msg, sizeof msg));
  ASSERT_OK(read_full(NULL, p.server, back, sizeof back));
  ASSERT(memcmp(msg, back, sizeof msg) == 0);
  /* Read: records arrive; every allocation on the way fails once. */
  ASSERT_OK(uvgo_conn_write(NULL, p.server, msg, sizeof msg));
  size_t got = 0;
  int enomem = 0;
  bool arm = true;
  while (got < sizeof back) {
    /* Fail the first allocation of every other read: each failure is
     * followed by a read that may allocate. */
    uvgo_test_fail_allocation(arm ? 1 : 0);
    ssize_t n = uvgo_conn_read(NULL, p.client, back + got, sizeof back - got);
    uvgo_test_fail_allocation(0);
    arm = !arm;
    if (n == UV_ENOMEM) {
      enomem++;
      continue;
    }
    ASSERT_GT(n, 0);
    got += (size_t)n;
  }
  ASSERT(memcmp(msg, back, sizeof msg) == 0);
  ASSERT_GT(enomem, 0);
  pair_close(&p);
}

UVGO_TEST(tls_allocation_failure_in_read_and_write_keeps_connection, tls, 60) {
  run1(alloc_rw_main);
}

/* --- configs --- */

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  ASSERT_NOT_NULL(f);
  fputs(text, f);
  fclose(f);
}

static void config_files_main(void) {
  uvgo_tls_config *cfg;
  ASSERT_OK(uvgo_tls_config_new(&cfg));
  const char *bad = tls_fx_path(&fx, "bad.pem");
  const char *broken = tls_fx_path(&fx, "broken.pem");
  write_file(tls_fx_path(&fx, "bad.pem"), "not a certificate at all\n");
  write_file(tls_fx_path(&fx, "broken.pem"),
             "-----BEGIN CERTIFICATE-----\nMIIB!!!!\n-----END CERTIFICATE-----\n");
  ASSERT_ERR(uvgo_tls_config_set_ca_file(cfg, "/nonexistent/ca.pem"), UV_ENOENT);
  ASSERT_ERR(uvgo_tls_config_set_ca_file(cfg, bad), UVGO_ETLSCONFIG);
  ASSERT_ERR(uvgo_tls_config_set_ca_file(cfg, broken), UVGO_ETLSCONFIG);
  ASSERT_ERR(uvgo_tls_config_set_ca_pem(cfg, "garbage", 0), UVGO_ETLSCONFIG);
  ASSERT_ERR(uvgo_tls_config_set_ca_dir(cfg, "/nonexistent"), UV_ENOENT);
  ASSERT_OK(uvgo_tls_config_set_ca_dir(cfg, fx.dir));
  const char *crt = tls_fx_path(&fx, "server.crt");
  ASSERT_ERR(uvgo_tls_config_set_cert_files(cfg, crt, "/nonexistent.key"),
             UV_ENOENT);
  ASSERT_ERR(uvgo_tls_config_set_cert_files(cfg, bad, tls_fx_path(&fx, "server.key")),
             UVGO_ETLSCONFIG);
  ASSERT_ERR(uvgo_tls_config_set_cert_files(cfg, crt, bad), UVGO_ETLSCONFIG);
  /* A key that is not the certificate's. */
  ASSERT_ERR(uvgo_tls_config_set_cert_files(cfg, crt, tls_fx_path(&fx, "ca.key")),
             UVGO_ETLSKEY);
  if (geteuid() != 0) {
    chmod(tls_fx_path(&fx, "server.key"), 0);
    ASSERT_ERR(uvgo_tls_config_set_cert_files(cfg, crt,
                                              tls_fx_path(&fx, "server.key")),
               UV_EACCES);
    chmod(tls_fx_path(&fx, "server.key"), 0600);
  }
  unlink(bad);
  unlink(broken);
  uvgo_tls_config_release(cfg);

  /* After all that, PEM in memory works end to end. */
  size_t cl, kl, cal;
  char *cert = tls_fx_read(tls_fx_path(&fx, "server.crt"), &cl);
  char *key = tls_fx_read(tls_fx_path(&fx, "server.key"), &kl);
  char *ca = tls_fx_read(tls_fx_path(&fx, "ca.crt"), &cal);
  uvgo_tls_config *scfg, *ccfg;
  ASSERT_OK(uvgo_tls_config_new(&scfg));
  ASSERT_OK(uvgo_tls_config_set_cert_pem(scfg, cert, cl, key, 0));
  ASSERT_OK(uvgo_tls_config_new(&ccfg));
  ASSERT_ERR(uvgo_tls_config_set_ca_file(ccfg, tls_fx_path(&fx, "nope")),
             UV_ENOENT); /* a failed load changes nothing */
  ASSERT_OK(uvgo_tls_config_set_ca_pem(ccfg, ca, cal));
  free(cert);
  free(key);
  free(ca);
  tls_srv s;
  tls_srv_start(&s, scfg, TLS_SRV_ECHO);
  uvgo_conn *c;
  ASSERT_OK(uvgo_tls_dial(NULL, "localhost", s.port, ccfg, &c));
  ASSERT_OK(uvgo_conn_close(c));
  ASSERT_OK(tls_srv_next(&s).err);
  /* Used: immutable now. */
  ASSERT_ERR(uvgo_tls_config_set_insecure_skip_verify(ccfg, 1), UV_EBUSY);
  ASSERT_ERR(uvgo_tls_config_set_ca_file(ccfg, tls_fx_path(&fx, "ca.crt")),
             UV_EBUSY);
  ASSERT_ERR(uvgo_tls_config_set_min_version(scfg, UVGO_TLS_VERSION_1_3),
             UV_EBUSY);
  ASSERT_ERR(uvgo_tls_config_set_alpn(scfg, NULL, 0), UV_EBUSY);
  tls_srv_stop(&s);
  uvgo_tls_config_release(scfg);
  uvgo_tls_config_release(ccfg);
}

UVGO_TEST(tls_config_load_errors_and_immutable_once_used, tls, 30) {
  run1(config_files_main);
}

/* --- bad input --- */

typedef struct {
  uvgo_conn *raw;
  uvgo_tls_config *cfg;
  int err;
  uvgo_wg done;
} other_worker_arg;

static void other_worker_task(void *arg) {
  other_worker_arg *a = arg;
  uvgo_conn *c;
  a->err = uvgo_tls_client(NULL, a->raw, a->cfg, "localhost", &c);
  uvgo_wg_done(&a->done);
}

static void bad_input_main(void) {
  tls_pair p;
  pair_open(&p);
  uvgo_tls_config *cfg = p.ccfg;
  uvgo_conn *c = NULL;
  /* NULL config, raw, out. */
  uvgo_conn *raw;
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", uvgo_listener_port(p.ln), &raw));
  ASSERT_ERR(uvgo_tls_client(NULL, raw, NULL, "localhost", &c), UV_EINVAL);
  ASSERT_ERR(uvgo_tls_server(NULL, raw, NULL, &c), UV_EINVAL);
  ASSERT_ERR(uvgo_tls_client(NULL, NULL, cfg, "localhost", &c), UV_EINVAL);
  ASSERT_ERR(uvgo_tls_client(NULL, raw, cfg, "localhost", NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_tls_dial(NULL, "localhost", 1, NULL, &c), UV_EINVAL);
  ASSERT_ERR(uvgo_tls_dial(NULL, "localhost", 1, cfg, NULL), UV_EINVAL);
  /* Verification on with no server name (Go: "either ServerName or
   * InsecureSkipVerify must be specified"). */
  ASSERT_ERR(uvgo_tls_client(NULL, raw, cfg, NULL, &c), UV_EINVAL);
  ASSERT_ERR(uvgo_tls_client(NULL, raw, cfg, "", &c), UV_EINVAL);
  ASSERT_ERR(uvgo_tls_dial(NULL, "", 443, cfg, &c), UV_EINVAL);
  ASSERT_NULL(c);
  /* A server config without a certificate. */
  uvgo_tls_config *empty;
  ASSERT_OK(uvgo_tls_config_new(&empty));
  ASSERT_ERR(uvgo_tls_server(NULL, raw, empty, &c), UVGO_ETLSCONFIG);
  uvgo_tls_config_release(empty);
  ASSERT_OK(uvgo_conn_close(raw)); /* every refusal left raw the caller's */
  /* A TLS connection is not a raw one for another layer of TLS. */
  ASSERT_ERR(uvgo_tls_client(NULL, p.client, cfg, "localhost", &c), UV_EINVAL);
  /* A raw connection of another worker. */
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", uvgo_listener_port(p.ln), &raw));
  other_worker_arg a = {raw, cfg, 0, UVGO_WG_INIT};
  uvgo_wg_add(&a.done, 1);
  ASSERT_OK(uvgo_go_on((unsigned)(1 - uvgo_worker_id()), other_worker_task, &a));
  uvgo_wg_wait(&a.done);
  ASSERT_ERR(a.err, UV_EINVAL);
  /* A raw connection that is already closed underneath (aborted). */
  uvgo_ctx *ctx = cancelled_ctx();
  char *big = calloc(1, 64u << 20);
  uvgo_conn_write(ctx, raw, big, 64u << 20); /* aborts the socket */
  free(big);
  ctx_done(ctx);
  ASSERT_ERR(uvgo_tls_client(NULL, raw, cfg, "localhost", &c), UVGO_ECONNCLOSED);
  ASSERT_OK(uvgo_conn_close(raw));
  /* TLS calls on a plain connection, NULLs. */
  uvgo_tls_conn_info info;
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", uvgo_listener_port(p.ln), &raw));
  ASSERT_ERR(uvgo_tls_info(raw, &info), UVGO_ENOTTLS);
  ASSERT_NULL(uvgo_tls_last_error(raw));
  ASSERT_OK(uvgo_conn_close(raw));
  ASSERT_ERR(uvgo_tls_info(NULL, &info), UV_EINVAL);
  ASSERT_ERR(uvgo_tls_info(p.client, NULL), UV_EINVAL);
  /* Config setters. */
  ASSERT_ERR(uvgo_tls_config_new(NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_tls_config_retain(NULL), UV_EINVAL);
  ASSERT_OK(uvgo_tls_config_release(NULL));
  ASSERT_ERR(uvgo_tls_config_set_ca_file(NULL, "x"), UV_EINVAL);
  ASSERT_ERR(uvgo_tls_config_set_alpn(NULL, NULL, 0), UV_EINVAL);
  ASSERT_ERR(uvgo_tls_config_set_insecure_skip_verify(NULL, 1), UV_EINVAL);
  ASSERT_ERR(uvgo_tls_config_set_client_auth(NULL, UVGO_TLS_CLIENT_AUTH_NONE),
             UV_EINVAL);
  uvgo_tls_config *fresh;
  ASSERT_OK(uvgo_tls_config_new(&fresh));
  ASSERT_ERR(uvgo_tls_config_set_ca_file(fresh, NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_tls_config_set_ca_file(fresh, ""), UV_EINVAL);
  ASSERT_ERR(uvgo_tls_config_set_cert_files(fresh, NULL, "k"), UV_EINVAL);
  ASSERT_ERR(uvgo_tls_config_set_cert_pem(fresh, NULL, 0, NULL, 0), UV_EINVAL);
  const char *empty_proto[] = {""};
  ASSERT_ERR(uvgo_tls_config_set_alpn(fresh, empty_proto, 1), UV_EINVAL);
  ASSERT_ERR(uvgo_tls_config_set_alpn(fresh, NULL, 2), UV_EINVAL);
  ASSERT_ERR(uvgo_tls_config_set_min_version(fresh, 0x0301), UV_EINVAL);
  ASSERT_ERR(uvgo_tls_config_set_max_version(fresh, 7), UV_EINVAL);
  ASSERT_ERR(uvgo_tls_config_set_client_auth(fresh, (uvgo_tls_client_auth)9),
             UV_EINVAL);
  ASSERT_ERR(uvgo_tls_config_set_ciphers(fresh, "NO-SUCH-CIPHER", NULL),
             UVGO_ETLSCONFIG);
  ASSERT_ERR(uvgo_tls_config_set_ciphers(fresh, NULL, "TLS_NOPE"),
             UVGO_ETLSCONFIG);
  ASSERT_OK(uvgo_tls_config_set_ciphers(fresh, "ECDHE-ECDSA-AES128-GCM-SHA256",
                                        "TLS_AES_128_GCM_SHA256"));
  ASSERT_OK(uvgo_tls_config_retain(fresh));
  ASSERT_OK(uvgo_tls_config_release(fresh));
  ASSERT_OK(uvgo_tls_config_release(fresh));
  pair_close(&p);
}

UVGO_TEST(tls_bad_input, tls, 30) { run_workers(2, bad_input_main); }

UVGO_TEST(tls_not_a_task, tls, 10) {
  uvgo_conn *c;
  uvgo_tls_config *cfg;
  ASSERT_OK(uvgo_tls_config_new(&cfg));
  ASSERT_ERR(uvgo_tls_dial(NULL, "localhost", 443, cfg, &c), UVGO_ENOTTASK);
  ASSERT_ERR(uvgo_tls_client(NULL, NULL, cfg, "x", &c), UV_EINVAL);
  ASSERT_STR_EQ(uvgo_tls_last_error(NULL), "");
  uvgo_tls_config_release(cfg);
}

/* Under UVGO_STRICT a second close and a call after close abort with a
 * message, as for TCP. */
static void double_close_main(void) {
  tls_pair p;
  pair_open(&p);
  ASSERT_OK(uvgo_conn_close(p.client));
  uvgo_conn_close(p.client);
  fprintf(stderr, "survived\n");
}
static void double_close_case(void) { run1(double_close_main); }
UVGO_TEST_HELPER(tls_double_close) {
  exit(uvgo_test_run_as_case("tls_double_close", double_close_case));
}

static void info_after_close_main(void) {
  tls_pair p;
  pair_open(&p);
  ASSERT_OK(uvgo_conn_close(p.client));
  uvgo_tls_conn_info info;
  uvgo_tls_info(p.client, &info);
  fprintf(stderr, "survived\n");
}
static void info_after_close_case(void) { run1(info_after_close_main); }
UVGO_TEST_HELPER(tls_info_after_close) {
  exit(uvgo_test_run_as_case("tls_info_after_close", info_after_close_case));
}

static void expect_strict_abort(const char *helper, const char *call) {
  char out[8192];
  int status = uvgo_test_spawn_helper(helper, "UVGO_STRICT=1", out, sizeof out);
  ASSERT(WIFSIGNALED(status));
  ASSERT_EQ(WTERMSIG(status), SIGABRT);
  ASSERT_STR_CONTAINS(out, call);
  ASSERT_STR_CONTAINS(out, "UVGO_ERELEASED");
  ASSERT(strstr(out, "survived") == NULL);
}

UVGO_TEST(tls_close_twice_and_use_after_close_strict, tls, 30) {
  /* The helpers abort before they can remove their certificates. */
  tls_fx lent;
  tls_fx_lend_dir(&lent);
  expect_strict_abort("tls_double_close", "uvgo_conn_close");
  expect_strict_abort("tls_info_after_close", "uvgo_tls_info");
  unsetenv("UVGO_TLS_FX_DIR");
  tls_fx_remove(&lent);
}
