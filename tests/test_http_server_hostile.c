/* The HTTP server against hostile clients (slowloris, a 1 MB header line,
 * garbage, an endless chunked body, a pipelined burst, half-close): each
 * gets its answer (408, 431, 400, 413, every response in order, a
 * response) while other clients are still served, and the memory the
 * server holds stays bounded whatever the client sends. Then graceful
 * shutdown with requests in flight: idle connections closed, the listener
 * closed first, in-flight requests finished, or aborted after
 * shutdown_timeout_ms. Clients are raw uvgo connections. */
#include "test_http_server_fixture.h"

/* What one attack may make the process hold: the server's buffers for the
 * connection (input, output, head limit) plus the clients' own. The
 * attacks send up to 1 MB or without end: memory must not follow. */
#define MEMORY_BOUND (512L * 1024)

static uvgo_http_server_config strict_cfg(void) {
  uvgo_http_server_config cfg = {0};
  cfg.read_header_timeout_ms = 300;
  cfg.idle_timeout_ms = 5000;
  cfg.body_read_timeout_ms = 2000;
  cfg.max_header_bytes = 8 * 1024;
  cfg.max_body_bytes = 64 * 1024;
  cfg.shutdown_timeout_ms = 200;
  return cfg;
}

typedef struct gate {
  uvgo_chan *entered; /* handler -> test: a /slow request is in */
  uvgo_chan *release; /* test -> handler: finish it */
  int slow_err;       /* what the handler's wait returned */
} gate;

static int handler(uvgo_http_req *req, uvgo_http_rw *w, void *arg) {
  gate *g = arg;
  const char *path = uvgo_http_req_path(req);
  if (strcmp(path, "/echo") == 0) {
    const char *body;
    size_t len;
    int err = uvgo_http_req_read_all(req, 0, &body, &len);
    if (err != 0)
      return err;
    return uvgo_http_printf(w, "len=%zu\n", len);
  }
  if (strcmp(path, "/slow") == 0 && g != NULL) {
    uvgo_chan_send(g->entered, NULL);
    g->slow_err = uvgo_chan_recv(g->release, NULL);
    if (g->slow_err != 0)
      return g->slow_err;
    return uvgo_http_write(w, "done\n", 5);
  }
  if (strncmp(path, "/seq/", 5) == 0)
    return uvgo_http_printf(w, "seq %s\n", path + 5);
  if (strcmp(path, "/fail") == 0)
    return UV_EIO;
  return uvgo_http_write(w, "hello\n", 6);
}

typedef void (*hs_main_fn)(void);
static void run_main(void *arg) { ((hs_main_fn)arg)(); }
static void run1(hs_main_fn fn) {
  uvgo_config cfg = {.workers = 1};
  ASSERT_OK(uvgo_run(&cfg, run_main, (void *)fn));
}

static uvgo_conn *dial(unsigned port) {
  uvgo_conn *c;
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", port, &c));
  return c;
}

/* Read until the peer closes (or resets) into buf (NUL-terminated); bytes
 * beyond cap are read and dropped. @return bytes kept. */
static size_t read_to_end(uvgo_conn *c, char *buf, size_t cap) {
  size_t got = 0;
  char tmp[4096];
  for (;;) {
    ssize_t n = uvgo_conn_read(NULL, c, tmp, sizeof tmp);
    if (n <= 0)
      break;
    size_t k = (size_t)n;
    if (k > cap - 1 - got)
      k = cap - 1 - got;
    memcpy(buf + got, tmp, k);
    got += k;
  }
  buf[got] = '\0';
  return got;
}

/* A well-behaved client is served while an attack is under way. */
static void normal_request(unsigned port) {
  uvgo_conn *c = dial(port);
  static const char req[] =
      "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  ASSERT_OK(uvgo_conn_write(NULL, c, req, sizeof req - 1));
  char buf[1024];
  read_to_end(c, buf, sizeof buf);
  ASSERT_STR_CONTAINS(buf, "HTTP/1.1 200 OK\r\n");
  ASSERT_STR_CONTAINS(buf, "\r\n\r\nhello\n");
  uvgo_conn_close(c);
}

/* An attacker: a task writing `chunk` (after `head`) `times` times (0 =
 * until the server hangs up), while the test reads the answer. */
typedef struct attack {
  uvgo_conn *c;
  const char *head;
  const char *chunk;
  size_t chunk_len;
  unsigned long times;
  uint64_t pause_ms;
  uvgo_chan *go;      /* one value lets the attack go on after the head */
  uvgo_wg done;
} attack;

static void attack_task(void *arg) {
  attack *a = arg;
  int err = uvgo_conn_write(NULL, a->c, a->head, strlen(a->head));
  if (err == 0 && a->go != NULL)
    uvgo_chan_recv(a->go, NULL);
  for (unsigned long i = 0; err == 0 && (a->times == 0 || i < a->times); i++) {
    err = uvgo_conn_write(NULL, a->c, a->chunk, a->chunk_len);
    if (err == 0 && a->pause_ms)
      err = uvgo_sleep(a->pause_ms);
  }
  uvgo_wg_done(&a->done);
}

/* Run attack a against a fresh server, serve a normal client meanwhile,
 * and check the answer starts with `want`, and the memory bound. */
static void run_attack(attack *a, const char *want) {
  gate g = {0};
  hs_fixture f = {.cfg = strict_cfg(), .handler = handler, .arg = &g};
  hs_start(&f);
  uvgo_test_reset_peak_bytes();
  long base = uvgo_test_live_bytes();
  a->c = dial(f.port);
  a->go = uvgo_chan_new(0, 1);
  ASSERT_NOT_NULL(a->go);
  uvgo_wg_add(&a->done, 1);
  ASSERT_OK(uvgo_go_on((unsigned)uvgo_worker_id(), attack_task, a));
  /* The attack has begun (its head is written or on its way); another
   * client is served meanwhile. */
  normal_request(f.port);
  ASSERT_OK(uvgo_chan_send(a->go, NULL));
  char buf[4096];
  read_to_end(a->c, buf, sizeof buf);
  if (strncmp(buf, want, strlen(want)) != 0)
    uvgo_test_fail(__FILE__, __LINE__, "want \"%s\", got:\n%s", want, buf);
  ASSERT_STR_CONTAINS(buf, "Connection: close\r\n");
  /* The server closed: the attacker's writes fail and it stops. */
  ASSERT_OK(uvgo_wg_wait(&a->done));
  long peak = uvgo_test_peak_bytes() - base;
  if (peak > MEMORY_BOUND)
    uvgo_test_fail(__FILE__, __LINE__, "held %ld bytes (bound %ld)", peak,
                   MEMORY_BOUND);
  normal_request(f.port);
  uvgo_conn_close(a->c);
  uvgo_chan_release(a->go);
  hs_stop(&f);
}

static void slowloris_main(void) {
  attack a = {.head = "GET /hello HTTP/1.1\r\nHost: t\r\n",
              .chunk = "X",
              .chunk_len = 1,
              .pause_ms = 20};
  run_attack(&a, "HTTP/1.1 408 Request Timeout\r\n");
}
UVGO_TEST(http_server_hostile_slowloris, http_server, 60) {
  run1(slowloris_main);
}

static char *mega;

static void huge_header_main(void) {
  size_t n = 1u << 20;
  mega = malloc(n + 1);
  memset(mega, 'a', n);
  mega[n] = '\0';
  attack a = {.head = "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: ",
              .chunk = mega,
              .chunk_len = n,
              .times = 1};
  run_attack(&a, "HTTP/1.1 431 Request Header Fields Too Large\r\n");
  free(mega);
}
UVGO_TEST(http_server_hostile_1mb_header_line, http_server, 60) {
  run1(huge_header_main);
}

static void garbage_main(void) {
  attack a = {.head = "\x01\x02\x03 not http at all\r\n\r\n",
              .chunk = "\xff\xfe",
              .chunk_len = 2,
              .times = 1};
  run_attack(&a, "HTTP/1.1 400 Bad Request\r\n");
  /* A request smuggling attempt is garbage too. */
  attack b = {.head = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n",
              .chunk = "0\r\n\r\n",
              .chunk_len = 5,
              .times = 1};
  run_attack(&b, "HTTP/1.1 400 Bad Request\r\n");
}
UVGO_TEST(http_server_hostile_garbage, http_server, 60) { run1(garbage_main); }

static char chunk4k[4096 + 16];

static void endless_chunked_main(void) {
  memcpy(chunk4k, "1000\r\n", 6);
  memset(chunk4k + 6, 'z', 4096);
  memcpy(chunk4k + 6 + 4096, "\r\n", 2);
  attack a = {.head = "POST /echo HTTP/1.1\r\nHost: t\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n",
              .chunk = chunk4k,
              .chunk_len = 6 + 4096 + 2};
  run_attack(&a, "HTTP/1.1 413 Content Too Large\r\n");
}
UVGO_TEST(http_server_hostile_endless_chunked_body, http_server, 60) {
  run1(endless_chunked_main);
}

/* 2,000 requests in one write: every answer, in order. */
#define BURST 2000
static void burst_main(void) {
  hs_fixture f = {.cfg = strict_cfg(), .handler = handler};
  hs_start(&f);
  size_t cap = BURST * 64;
  char *reqs = malloc(cap);
  size_t len = 0;
  for (int i = 0; i < BURST; i++)
    len += (size_t)snprintf(reqs + len, cap - len,
                            "GET /seq/%d HTTP/1.1\r\nHost: t%s\r\n\r\n", i,
                            i == BURST - 1 ? "\r\nConnection: close" : "");
  uvgo_test_reset_peak_bytes();
  long base = uvgo_test_live_bytes();
  uvgo_conn *c = dial(f.port);
  attack a = {.c = c, .head = "", .chunk = reqs, .chunk_len = len, .times = 1};
  uvgo_wg_add(&a.done, 1);
  ASSERT_OK(uvgo_go_on((unsigned)uvgo_worker_id(), attack_task, &a));
  size_t rcap = BURST * 256;
  char *resp = malloc(rcap);
  size_t got = read_to_end(c, resp, rcap);
  ASSERT_OK(uvgo_wg_wait(&a.done));
  ASSERT_GT(got, 0);
  /* In order, each once. */
  const char *p = resp;
  for (int i = 0; i < BURST; i++) {
    char want[32];
    snprintf(want, sizeof want, "\r\n\r\nseq %d\n", i);
    const char *hit = strstr(p, want);
    if (hit == NULL)
      uvgo_test_fail(__FILE__, __LINE__, "answer %d missing or out of order", i);
    p = hit + strlen(want);
  }
  long peak = uvgo_test_peak_bytes() - base;
  if (peak > MEMORY_BOUND)
    uvgo_test_fail(__FILE__, __LINE__, "held %ld bytes (bound %ld)", peak,
                   MEMORY_BOUND);
  free(reqs);
  free(resp);
  uvgo_conn_close(c);
  normal_request(f.port);
  hs_stop(&f);
}
UVGO_TEST(http_server_hostile_pipelined_burst, http_server, 60) {
  run1(burst_main);
}

/* A failing handler behind pipelined requests: the answers before it are
 * kept, then its 500, then the close. */
static void pipelined_failure_main(void) {
  hs_fixture f = {.cfg = strict_cfg(), .handler = handler};
  hs_start(&f);
  uvgo_conn *c = dial(f.port);
  static const char reqs[] = "GET /seq/1 HTTP/1.1\r\nHost: t\r\n\r\n"
                             "GET /seq/2 HTTP/1.1\r\nHost: t\r\n\r\n"
                             "GET /fail HTTP/1.1\r\nHost: t\r\n\r\n"
                             "GET /seq/4 HTTP/1.1\r\nHost: t\r\n\r\n";
  ASSERT_OK(uvgo_conn_write(NULL, c, reqs, sizeof reqs - 1));
  char buf[4096];
  read_to_end(c, buf, sizeof buf);
  uvgo_conn_close(c);
  const char *one = strstr(buf, "\r\n\r\nseq 1\n");
  const char *two = strstr(buf, "\r\n\r\nseq 2\n");
  const char *fail = strstr(buf, "HTTP/1.1 500 Internal Server Error\r\n");
  ASSERT(one != NULL && two != NULL && fail != NULL);
  ASSERT(one < two && two < fail);
  ASSERT(strstr(buf, "seq 4") == NULL); /* the connection ended at the 500 */
  hs_stop(&f);
}
UVGO_TEST(http_server_pipelined_answers_kept_before_a_failure, http_server, 30) {
  run1(pipelined_failure_main);
}

/* The client sends its request and half-closes: it still gets the
 * answer, then the server closes. */
static void half_close_main(void) {
  hs_fixture f = {.cfg = strict_cfg(), .handler = handler};
  hs_start(&f);
  uvgo_conn *c = dial(f.port);
  static const char req[] = "POST /echo HTTP/1.1\r\nHost: t\r\n"
                            "Content-Length: 4\r\n\r\nabcd";
  ASSERT_OK(uvgo_conn_write(NULL, c, req, sizeof req - 1));
  ASSERT_OK(uvgo_conn_shutdown(NULL, c));
  char buf[1024];
  read_to_end(c, buf, sizeof buf);
  ASSERT_STR_CONTAINS(buf, "HTTP/1.1 200 OK\r\n");
  ASSERT_STR_CONTAINS(buf, "\r\n\r\nlen=4\n");
  uvgo_conn_close(c);
  /* Half-closed mid-head: nothing to answer, the connection just ends. */
  c = dial(f.port);
  ASSERT_OK(uvgo_conn_write(NULL, c, "GET / HTTP/1.1\r\n", 16));
  ASSERT_OK(uvgo_conn_shutdown(NULL, c));
  ASSERT_EQ(read_to_end(c, buf, sizeof buf), 0);
  uvgo_conn_close(c);
  normal_request(f.port);
  hs_stop(&f);
}
UVGO_TEST(http_server_hostile_half_close, http_server, 60) {
  run1(half_close_main);
}

/* --- graceful shutdown --- */

typedef struct client_arg {
  unsigned port;
  const char *req;
  char buf[2048];
  uvgo_wg done;
} client_arg;

static void client_task(void *arg) {
  client_arg *ca = arg;
  uvgo_conn *c = dial(ca->port);
  ASSERT_OK(uvgo_conn_write(NULL, c, ca->req, strlen(ca->req)));
  read_to_end(c, ca->buf, sizeof ca->buf);
  uvgo_conn_close(c);
  uvgo_wg_done(&ca->done);
}

typedef struct stopper {
  hs_fixture *f;
  uvgo_wg done;
} stopper;

static void stop_task(void *arg) {
  stopper *s = arg;
  hs_stop(s->f);
  uvgo_wg_done(&s->done);
}

static void shutdown_main(void) {
  gate g = {.entered = uvgo_chan_new(0, 1), .release = uvgo_chan_new(0, 1)};
  hs_fixture f = {.cfg = strict_cfg(), .handler = handler, .arg = &g};
  f.cfg.shutdown_timeout_ms = 30000; /* in-flight requests get to finish */
  hs_start(&f);
  /* In flight: a request the handler holds until released. */
  client_arg slow = {.port = f.port,
                     .req = "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"};
  uvgo_wg_add(&slow.done, 1);
  ASSERT_OK(uvgo_go_on((unsigned)uvgo_worker_id(), client_task, &slow));
  ASSERT_OK(uvgo_chan_recv(g.entered, NULL));
  /* Idle: a keep-alive connection between requests. */
  uvgo_conn *idle = dial(f.port);
  static const char req[] = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
  ASSERT_OK(uvgo_conn_write(NULL, idle, req, sizeof req - 1));
  char buf[1024];
  ssize_t n = uvgo_conn_read(NULL, idle, buf, sizeof buf - 1);
  ASSERT_GT(n, 0);
  buf[n] = '\0';
  ASSERT_STR_CONTAINS(buf, "\r\n\r\nhello\n");

  stopper s = {.f = &f};
  uvgo_wg_add(&s.done, 1);
  ASSERT_OK(uvgo_go_on((unsigned)uvgo_worker_id(), stop_task, &s));
  /* The idle connection is closed... */
  ASSERT_EQ(read_to_end(idle, buf, sizeof buf), 0);
  uvgo_conn_close(idle);
  /* ...after the listener: new connections are refused. */
  uvgo_conn *late;
  ASSERT_ERR(uvgo_dial(NULL, "127.0.0.1", f.port, &late), UV_ECONNREFUSED);
  /* The request in flight finishes, told the connection ends. */
  ASSERT_OK(uvgo_chan_send(g.release, NULL));
  ASSERT_OK(uvgo_wg_wait(&slow.done));
  ASSERT_STR_CONTAINS(slow.buf, "HTTP/1.1 200 OK\r\n");
  ASSERT_STR_CONTAINS(slow.buf, "Connection: close\r\n");
  ASSERT_STR_CONTAINS(slow.buf, "\r\n\r\ndone\n");
  ASSERT_OK(g.slow_err);
  ASSERT_OK(uvgo_wg_wait(&s.done)); /* serve returned 0 (hs_stop checks) */
  uvgo_chan_release(g.entered);
  uvgo_chan_release(g.release);
}
UVGO_TEST(http_server_graceful_shutdown_in_flight, http_server, 60) {
  run1(shutdown_main);
}

static void shutdown_abort_main(void) {
  gate g = {.entered = uvgo_chan_new(0, 1), .release = uvgo_chan_new(0, 1)};
  hs_fixture f = {.cfg = strict_cfg(), .handler = handler, .arg = &g};
  f.cfg.shutdown_timeout_ms = 100;
  hs_start(&f);
  client_arg slow = {.port = f.port,
                     .req = "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"};
  uvgo_wg_add(&slow.done, 1);
  ASSERT_OK(uvgo_go_on((unsigned)uvgo_worker_id(), client_task, &slow));
  ASSERT_OK(uvgo_chan_recv(g.entered, NULL));
  /* Never released: the shutdown aborts the handler's wait. */
  hs_stop(&f);
  ASSERT_ERR(g.slow_err, UV_ECANCELED);
  ASSERT_OK(uvgo_wg_wait(&slow.done));
  /* The handler failed before sending anything: a 500, then the close. */
  ASSERT_STR_CONTAINS(slow.buf, "HTTP/1.1 500 Internal Server Error\r\n");
  uvgo_chan_release(g.entered);
  uvgo_chan_release(g.release);
}
UVGO_TEST(http_server_graceful_shutdown_aborts_after_timeout, http_server, 60) {
  run1(shutdown_abort_main);
}

/* --- misuse --- */

static void misuse_main(void) {
  ASSERT_ERR(uvgo_http_serve(NULL, NULL, NULL, handler, NULL), UV_EINVAL);
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 0, &ln));
  /* NULL handler: refused, and the listener (owned by the call) closed. */
  ASSERT_ERR(uvgo_http_serve(NULL, ln, NULL, NULL, NULL), UV_EINVAL);
  ASSERT_EQ(uvgo_http_req_read(NULL, NULL, 0), UV_EINVAL);
  ASSERT_ERR(uvgo_http_set_header(NULL, "A", "b"), UV_EINVAL);
  ASSERT_ERR(uvgo_http_write(NULL, "x", 1), UV_EINVAL);
  ASSERT_STR_EQ(uvgo_http_req_method(NULL), "");
  ASSERT_NULL(uvgo_http_req_header(NULL, "host"));
}
UVGO_TEST(http_server_misuse, http_server, 30) { run1(misuse_main); }

/* Header injection through the response writer is refused. */
static int inject_handler(uvgo_http_req *req, uvgo_http_rw *w, void *arg) {
  int *results = arg;
  results[0] = uvgo_http_set_header(w, "X-A", "ok\r\nSet-Cookie: evil=1");
  results[1] = uvgo_http_set_header(w, "X-B", "nul\n");
  results[2] = uvgo_http_set_header(w, "Bad Name", "v");
  results[3] = uvgo_http_set_header(w, "Transfer-Encoding", "chunked");
  results[4] = uvgo_http_set_header(w, "Content-Length", "12x");
  results[5] = uvgo_http_set_header(w, "X-Fine", "a\tb");
  results[6] = uvgo_http_write_header(w, 100);
  int err = uvgo_http_write(w, "body\n", 5);
  results[7] = uvgo_http_set_header(w, "X-Late", "v");
  (void)req;
  return err;
}

static void injection_main(void) {
  int results[8];
  hs_fixture f = {.cfg = strict_cfg(), .handler = inject_handler,
                  .arg = results};
  hs_start(&f);
  uvgo_conn *c = dial(f.port);
  static const char req[] =
      "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  ASSERT_OK(uvgo_conn_write(NULL, c, req, sizeof req - 1));
  char buf[2048];
  read_to_end(c, buf, sizeof buf);
  uvgo_conn_close(c);
  ASSERT_ERR(results[0], UVGO_EHTTPBADHEADER);
  ASSERT_ERR(results[1], UVGO_EHTTPBADHEADER);
  ASSERT_ERR(results[2], UVGO_EHTTPBADHEADER);
  ASSERT_ERR(results[3], UVGO_EHTTPBADHEADER);
  ASSERT_ERR(results[4], UVGO_EHTTPBADHEADER);
  ASSERT_OK(results[5]);
  ASSERT_ERR(results[6], UV_EINVAL);
  /* As in Go, the first write fixes the headers (even while the body is
   * still buffered). */
  ASSERT_ERR(results[7], UVGO_EHTTPHEADERSENT);
  ASSERT(strstr(buf, "X-Late") == NULL);
  ASSERT(strstr(buf, "evil") == NULL);
  ASSERT_STR_CONTAINS(buf, "X-Fine: a\tb\r\n");
  ASSERT_STR_CONTAINS(buf, "\r\n\r\nbody\n");
  hs_stop(&f);
}
UVGO_TEST(http_server_header_injection_refused, http_server, 30) {
  run1(injection_main);
}
