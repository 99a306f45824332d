/* The HTTP client against a scripted raw-socket peer (tests/http/
 * fixture.c: a plain thread with blocking sockets) for answers no real
 * server gives: endless bodies and chunks, huge heads, bad framing,
 * smuggling, resets, slow bytes, a server that closes a pooled
 * connection; the per-phase timeouts; and the bad input of the API.
 * Memory is checked against the harness allocator's byte counter. */
#include "harness.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/fixture.h"
#include "tls/fixture.h"

static http_peer peer;

typedef void (*main_fn)(void);
static main_fn current_main;

static void trampoline(void *arg) { current_main(); }

/* Run fn in a runtime with the peer running `script`. */
static void run_with_peer(http_peer_script script, void *arg, main_fn fn) {
  http_peer_start(&peer, script, arg);
  current_main = fn;
  uvgo_config cfg = {.workers = 1};
  int err = uvgo_run(&cfg, trampoline, NULL);
  http_peer_stop(&peer);
  ASSERT_OK(err);
}

static const char *peer_url(const char *path) {
  static char b[128];
  snprintf(b, sizeof b, "http://127.0.0.1:%u%s", peer.port, path);
  return b;
}

static uvgo_http_client *new_client(const uvgo_http_client_config *cfg) {
  uvgo_http_client *c;
  ASSERT_OK(uvgo_http_client_new(cfg, &c));
  return c;
}

/* Wait for the client to close (the script's end). */
static void drain_until_close(int fd) {
  char b[4096];
  while (recv(fd, b, sizeof b, 0) > 0)
    ;
}

/* Send `unit` (len bytes) until the client goes away. */
static void send_forever(int fd, const char *unit, size_t len) {
  while (http_peer_send(fd, unit, len) == 0)
    ;
}

/* --- endless bodies --- */

static void endless_body(int fd, int i, void *arg) {
  char head[2048];
  if (http_peer_read_head(fd, head, sizeof head) <= 0)
    return;
  bool chunked = arg != NULL;
  http_peer_send(fd, chunked ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                             : "HTTP/1.1 200 OK\r\n\r\n", 0);
  static char unit[16384 + 16];
  size_t len;
  if (chunked) {
    memcpy(unit, "4000\r\n", 6);
    memset(unit + 6, 'c', 16384);
    memcpy(unit + 6 + 16384, "\r\n", 2);
    len = 16384 + 8;
  } else {
    memset(unit, 'b', 16384);
    len = 16384;
  }
  send_forever(fd, unit, len);
}

static void endless_main(void) {
  uvgo_http_client *c = new_client(NULL);
  uvgo_test_reset_peak_bytes();
  long base = uvgo_test_live_bytes();
  uvgo_http_response *r;
  ASSERT_OK(uvgo_http_get(NULL, c, peer_url("/"), &r));
  const char *b;
  size_t n;
  ASSERT_ERR(uvgo_http_response_read_all(NULL, r, 1 << 20, &b, &n),
             UVGO_EBODYTOOLARGE);
  /* read_all's buffer (limit + 1) and the connection's buffers; never the
   * stream. */
  ASSERT_LT(uvgo_test_peak_bytes() - base, (1 << 20) + 512 * 1024);
  /* Streaming reads under a deadline: bounded by the context. */
  ASSERT_OK(uvgo_http_response_free(r));
  ASSERT_OK(uvgo_http_get(NULL, c, peer_url("/"), &r));
  uvgo_ctx *ctx;
  ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_background(), 200, &ctx));
  uvgo_test_reset_peak_bytes();
  base = uvgo_test_live_bytes();
  char buf[4096];
  ssize_t got = uvgo_http_response_read(NULL, r, buf, sizeof buf);
  ASSERT_GT(got, 0); /* one read without the deadline: the stream flows */
  size_t total = (size_t)got;
  while ((got = uvgo_http_response_read(ctx, r, buf, sizeof buf)) > 0)
    total += (size_t)got;
  ASSERT_ERR((int)got, UV_ETIMEDOUT);
  ASSERT_GT(total, 0);
  ASSERT_LT(uvgo_test_peak_bytes() - base, 256 * 1024);
  uvgo_ctx_cancel(ctx);
  uvgo_ctx_release(ctx);
  ASSERT_OK(uvgo_http_response_free(r)); /* closes: too much left */
  ASSERT_OK(uvgo_http_client_free(c));
}

UVGO_TEST(http_client_hostile_endless_body, http, 60) {
  run_with_peer(endless_body, NULL, endless_main);
}

UVGO_TEST(http_client_hostile_endless_chunks, http, 60) {
  run_with_peer(endless_body, (void *)1, endless_main);
}

/* --- huge heads --- */

static void huge_header(int fd, int i, void *arg) {
  char head[2048];
  if (http_peer_read_head(fd, head, sizeof head) <= 0)
    return;
  if (arg != NULL) {
    /* Many small fields. */
    http_peer_send(fd, "HTTP/1.1 200 OK\r\n", 0);
    char line[64];
    for (int k = 0; k < 100000; k++) {
      int n = snprintf(line, sizeof line, "X-%d: v\r\n", k);
      if (http_peer_send(fd, line, (size_t)n) != 0)
        return;
    }
    return;
  }
  http_peer_send(fd, "HTTP/1.1 200 OK\r\nX-Big: ", 0);
  static char a[65536];
  memset(a, 'a', sizeof a);
  for (int k = 0; k < 160; k++) /* 10 MiB */
    if (http_peer_send(fd, a, sizeof a) != 0)
      return;
  http_peer_send(fd, "\r\n\r\n", 4);
  drain_until_close(fd);
}

static void huge_header_main(void) {
  uvgo_http_client *c = new_client(NULL);
  uvgo_test_reset_peak_bytes();
  long base = uvgo_test_live_bytes();
  uvgo_http_response *r;
  ASSERT_ERR(uvgo_http_get(NULL, c, peer_url("/"), &r), UVGO_EHEADERTOOLARGE);
  ASSERT_NULL(r);
  /* The default 1 MiB limit holds whatever the peer sends. */
  ASSERT_LT(uvgo_test_peak_bytes() - base, (2 << 20) + 256 * 1024);
  ASSERT_OK(uvgo_http_client_free(c));
  uvgo_http_client_config cfg = {.max_header_bytes = 64 * 1024};
  c = new_client(&cfg);
  uvgo_test_reset_peak_bytes();
  base = uvgo_test_live_bytes();
  ASSERT_ERR(uvgo_http_get(NULL, c, peer_url("/"), &r), UVGO_EHEADERTOOLARGE);
  ASSERT_LT(uvgo_test_peak_bytes() - base, 400 * 1024);
  ASSERT_OK(uvgo_http_client_free(c));
}

UVGO_TEST(http_client_hostile_10mb_header, http, 60) {
  run_with_peer(huge_header, NULL, huge_header_main);
}

static void many_headers_main(void) {
  uvgo_http_client *c = new_client(NULL);
  uvgo_http_response *r;
  ASSERT_ERR(uvgo_http_get(NULL, c, peer_url("/"), &r), UVGO_ETOOMANYHEADERS);
  ASSERT_OK(uvgo_http_client_free(c));
}

UVGO_TEST(http_client_hostile_too_many_headers, http, 60) {
  run_with_peer(huge_header, (void *)1, many_headers_main);
}

/* --- bad framing --- */

static const char *canned[] = {
    /* 0: a bad chunk size */
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n",
    /* 1: smuggling: both framings */
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
    "0\r\n\r\n",
    /* 2: an interim 103, then the answer */
    "HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n"
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    /* 3: a body delimited by the close */
    "HTTP/1.1 200 OK\r\n\r\nuntil the close",
    /* 4: a length the close cuts short */
    "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
    /* 5: not HTTP at all */
    "SSH-2.0-OpenSSH_9.2\r\n",
    /* 6: a gzip body that is not gzip */
    "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello",
};

static void canned_answer(int fd, int i, void *arg) {
  char head[2048];
  if (http_peer_read_head(fd, head, sizeof head) <= 0)
    return;
  http_peer_send(fd, canned[(intptr_t)arg], 0);
}

static intptr_t which;

static void framing_main(void) {
  uvgo_http_client *c = new_client(NULL);
  uvgo_http_response *r = NULL;
  const char *b;
  size_t n;
  switch (which) {
  case 0:
  case 6:
    ASSERT_OK(uvgo_http_get(NULL, c, peer_url("/"), &r));
    ASSERT_ERR(uvgo_http_response_read_all(NULL, r, 1024, &b, &n),
               UVGO_EHTTPBADRESPONSE);
    ASSERT_ERR(uvgo_http_response_read_all(NULL, r, 1024, &b, &n),
               UVGO_EHTTPBADRESPONSE); /* sticky */
    ASSERT_OK(uvgo_http_response_free(r));
    break;
  case 1:
  case 5:
    ASSERT_ERR(uvgo_http_get(NULL, c, peer_url("/"), &r), UVGO_EHTTPBADRESPONSE);
    break;
  case 2:
    ASSERT_OK(uvgo_http_get(NULL, c, peer_url("/"), &r));
    ASSERT_EQ(uvgo_http_response_status(r), 200);
    ASSERT_NULL(uvgo_http_response_header(r, "link"));
    ASSERT_OK(uvgo_http_response_read_all(NULL, r, 1024, &b, &n));
    ASSERT_STR_EQ(b, "ok");
    ASSERT_OK(uvgo_http_response_free(r));
    break;
  case 3:
    ASSERT_OK(uvgo_http_get(NULL, c, peer_url("/"), &r));
    ASSERT_OK(uvgo_http_response_read_all(NULL, r, 1024, &b, &n));
    ASSERT_STR_EQ(b, "until the close");
    ASSERT_OK(uvgo_http_response_free(r));
    break;
  case 4:
    ASSERT_OK(uvgo_http_get(NULL, c, peer_url("/"), &r));
    ASSERT_ERR(uvgo_http_response_read_all(NULL, r, 1024, &b, &n),
               UVGO_EHTTPUNEXPECTEDEOF);
    ASSERT_OK(uvgo_http_response_free(r));
    break;
  }
  uvgo_http_client_stats st;
  ASSERT_OK(uvgo_http_client_stats_get(c, &st));
  ASSERT_UEQ(st.idle, which == 2 ? 1 : 0); /* only a sound answer is kept */
  ASSERT_OK(uvgo_http_client_free(c));
}

static void framing(intptr_t k) {
  which = k;
  run_with_peer(canned_answer, (void *)k, framing_main);
}

UVGO_TEST(http_client_hostile_bad_chunk_size, http, 30) { framing(0); }
UVGO_TEST(http_client_hostile_length_and_chunked, http, 30) { framing(1); }
UVGO_TEST(http_client_hostile_interim_1xx_skipped, http, 30) { framing(2); }
UVGO_TEST(http_client_hostile_close_delimited, http, 30) { framing(3); }
UVGO_TEST(http_client_hostile_short_length, http, 30) { framing(4); }
UVGO_TEST(http_client_hostile_not_http, http, 30) { framing(5); }
UVGO_TEST(http_client_hostile_bad_gzip, http, 30) { framing(6); }

/* --- a reset after the head --- */

static void reset_after_head(int fd, int i, void *arg) {
  char head[2048];
  if (http_peer_read_head(fd, head, sizeof head) <= 0)
    return;
  http_peer_send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npart", 0);
  http_peer_reset(fd); /* the close in the fixture sends RST */
}

static void reset_main(void) {
  uvgo_http_client *c = new_client(NULL);
  uvgo_http_response *r;
  int err = uvgo_http_get(NULL, c, peer_url("/"), &r);
  if (err == 0) {
    const char *b;
    size_t n;
    err = uvgo_http_response_read_all(NULL, r, 1 << 20, &b, &n);
    ASSERT_OK(uvgo_http_response_free(r));
  }
  /* The reset may overtake the head: either way an error, never a body. */
  ASSERT(err == UV_ECONNRESET || err == UVGO_EHTTPUNEXPECTEDEOF);
  ASSERT_OK(uvgo_http_client_free(c));
}

UVGO_TEST(http_client_hostile_reset_after_head, http, 30) {
  run_with_peer(reset_after_head, NULL, reset_main);
}

/* --- slow peers and the phase limits --- */

static void one_byte_per_100ms(int fd, int i, void *arg) {
  char head[2048];
  if (http_peer_read_head(fd, head, sizeof head) <= 0)
    return;
  const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
  for (size_t k = 0;; k++) {
    char ch = k < strlen(resp) ? resp[k] : 'x';
    if (http_peer_send(fd, &ch, 1) != 0)
      return;
    usleep(100 * 1000);
  }
}

static void slow_main(void) {
  uvgo_http_client *c = new_client(NULL);
  uvgo_ctx *ctx;
  ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_background(), 300, &ctx));
  uvgo_http_response *r;
  /* The request's context bounds everything: here the head never
   * completes within it. */
  ASSERT_ERR(uvgo_http_get(ctx, c, peer_url("/"), &r), UV_ETIMEDOUT);
  uvgo_ctx_release(ctx);
  ASSERT_OK(uvgo_http_client_free(c));
}

UVGO_TEST(http_client_hostile_one_byte_per_100ms, http, 30) {
  run_with_peer(one_byte_per_100ms, NULL, slow_main);
}

/* Reads the request and never answers (until the client goes). */
static void silent(int fd, int i, void *arg) {
  char head[2048];
  if (http_peer_read_head(fd, head, sizeof head) <= 0)
    return;
  if (arg != NULL)
    http_peer_send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 0);
  drain_until_close(fd);
}

static void header_timeout_main(void) {
  uvgo_http_client_config cfg = {.response_header_timeout_ms = 50};
  uvgo_http_client *c = new_client(&cfg);
  uvgo_http_response *r;
  ASSERT_ERR(uvgo_http_get(NULL, c, peer_url("/"), &r), UVGO_EHTTPHEADERTIMEOUT);
  ASSERT_OK(uvgo_http_client_free(c));
}

UVGO_TEST(http_client_phase_response_header_timeout, http, 30) {
  run_with_peer(silent, NULL, header_timeout_main);
}

static void idle_timeout_main(void) {
  uvgo_http_client_config cfg = {.read_idle_timeout_ms = 50};
  uvgo_http_client *c = new_client(&cfg);
  uvgo_http_response *r;
  ASSERT_OK(uvgo_http_get(NULL, c, peer_url("/"), &r));
  char b[16];
  ASSERT_ERR((int)uvgo_http_response_read(NULL, r, b, sizeof b),
             UVGO_EHTTPIDLETIMEOUT);
  ASSERT_OK(uvgo_http_response_free(r));
  ASSERT_OK(uvgo_http_client_free(c));
}

UVGO_TEST(http_client_phase_read_idle_timeout, http, 30) {
  run_with_peer(silent, (void *)1, idle_timeout_main);
}

static tls_fx fx;

static void tls_timeout_main(void) {
  uvgo_http_client_config cfg = {.tls_handshake_timeout_ms = 50};
  uvgo_http_client *c = new_client(&cfg);
  uvgo_http_response *r;
  char u[128];
  snprintf(u, sizeof u, "https://127.0.0.1:%u/", peer.port);
  ASSERT_ERR(uvgo_http_get(NULL, c, u, &r), UVGO_EHTTPTLSTIMEOUT);
  ASSERT_OK(uvgo_http_client_free(c));
}

UVGO_TEST(http_client_phase_tls_handshake_timeout, http, 30) {
  run_with_peer(silent, NULL, tls_timeout_main);
}

/* A listener whose accept queue is full and never drained: connects
 * beyond it hang in SYN_SENT, so dialling it can only end by the phase
 * limit. */
static int full_fd = -1, fillers[4];
static unsigned full_port;

static void dial_timeout_main(void) {
  uvgo_http_client_config cfg = {.dial_timeout_ms = 100};
  uvgo_http_client *c = new_client(&cfg);
  uvgo_http_response *r;
  char u[128];
  snprintf(u, sizeof u, "http://127.0.0.1:%u/", full_port);
  ASSERT_ERR(uvgo_http_get(NULL, c, u, &r), UVGO_EHTTPDIALTIMEOUT);
  ASSERT_OK(uvgo_http_client_free(c));
}

static void noop_script(int fd, int i, void *arg) {}

UVGO_TEST(http_client_phase_dial_timeout, http, 30) {
  full_fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_OK(bind(full_fd, (struct sockaddr *)&a, sizeof a));
  ASSERT_OK(listen(full_fd, 0));
  socklen_t len = sizeof a;
  getsockname(full_fd, (struct sockaddr *)&a, &len);
  full_port = ntohs(a.sin_port);
  /* Fill the queue (backlog 0 holds one; more for safety), without
   * waiting: non-blocking connects. */
  for (int i = 0; i < 4; i++) {
    fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(fillers[i], (struct sockaddr *)&a, sizeof a);
  }
  run_with_peer(noop_script, NULL, dial_timeout_main);
  for (int i = 0; i < 4; i++)
    close(fillers[i]);
  close(full_fd);
}

/* --- a pooled connection the server closed: the retry --- */

typedef struct retry_plan {
  bool post;        /* the second request is a POST */
  bool close_idle;  /* close right after the first answer */
  char seen[2][64]; /* request lines per connection (second request) */
} retry_plan;

static void closes_pooled(int fd, int i, void *arg) {
  retry_plan *plan = arg;
  char head[2048];
  if (http_peer_read_head(fd, head, sizeof head) <= 0)
    return;
  if (i == 0) {
    http_peer_send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst", 0);
    if (plan->close_idle)
      return; /* closed while idle in the client's pool */
    /* Take the next request, then close without an answer: the close
     * races the request as a keep-alive timeout does. */
    if (http_peer_read_head(fd, head, sizeof head) > 0)
      snprintf(plan->seen[0], sizeof plan->seen[0], "%.20s", head);
    return;
  }
  snprintf(plan->seen[1], sizeof plan->seen[1], "%.20s", head);
  http_peer_send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond", 0);
  drain_until_close(fd);
}

static retry_plan plan;

static void retry_main(void) {
  uvgo_http_client *c = new_client(NULL);
  uvgo_http_response *r;
  const char *b;
  size_t n;
  ASSERT_OK(uvgo_http_get(NULL, c, peer_url("/one"), &r));
  ASSERT_OK(uvgo_http_response_read_all(NULL, r, 64, &b, &n));
  ASSERT_STR_EQ(b, "first");
  ASSERT_OK(uvgo_http_response_free(r));
  uvgo_http_client_stats st;
  ASSERT_OK(uvgo_http_client_stats_get(c, &st));
  ASSERT_UEQ(st.idle, 1);
  uvgo_http_request req = {.method = plan.post ? "POST" : "GET",
                           .url = peer_url("/two"),
                           .body = plan.post ? "abc" : NULL,
                           .body_len = plan.post ? 3 : 0};
  int err = uvgo_http_do(NULL, c, &req, &r);
  ASSERT_OK(uvgo_http_client_stats_get(c, &st));
  if (plan.post && !plan.close_idle) {
    /* Written, not idempotent: not retried, the error is the caller's. */
    ASSERT(err == UVGO_EHTTPUNEXPECTEDEOF || err == UV_ECONNRESET);
    ASSERT_UEQ(st.retries, 0);
    ASSERT_UEQ(st.dials, 1);
  } else {
    ASSERT_OK(err);
    ASSERT_OK(uvgo_http_response_read_all(NULL, r, 64, &b, &n));
    ASSERT_STR_EQ(b, "second");
    ASSERT_OK(uvgo_http_response_free(r));
    ASSERT_UEQ(st.dials, 2);
    if (!plan.close_idle)
      ASSERT_UEQ(st.retries, 1); /* the request went out on the dead one */
  }
  ASSERT_OK(uvgo_http_client_free(c));
}

UVGO_TEST(http_client_retry_get_on_closed_pooled_conn, http, 30) {
  memset(&plan, 0, sizeof plan);
  run_with_peer(closes_pooled, &plan, retry_main);
  ASSERT_STR_CONTAINS(plan.seen[0], "GET /two");
  ASSERT_STR_CONTAINS(plan.seen[1], "GET /two");
}

UVGO_TEST(http_client_no_retry_of_written_post, http, 30) {
  memset(&plan, 0, sizeof plan);
  plan.post = true;
  run_with_peer(closes_pooled, &plan, retry_main);
  ASSERT_STR_CONTAINS(plan.seen[0], "POST /two");
  ASSERT_STR_EQ(plan.seen[1], "");
}

UVGO_TEST(http_client_idle_conn_closed_by_server, http, 30) {
  /* Closed while idle: found dead before the request is written (the
   * pool looks before reusing), or the request fails on it and is retried:
   * either way it is served by a new connection. */
  memset(&plan, 0, sizeof plan);
  plan.close_idle = true;
  run_with_peer(closes_pooled, &plan, retry_main);
  ASSERT_STR_CONTAINS(plan.seen[1], "GET /two");
}

/* --- HEAD through a redirect, Expect: 100-continue --- */

static char seen_lines[4][64];

static void head_redirect(int fd, int i, void *arg) {
  char head[2048];
  for (int k = 0; k < 4; k++) {
    if (http_peer_read_head(fd, head, sizeof head) <= 0)
      return;
    snprintf(seen_lines[k], sizeof seen_lines[k], "%.*s",
             (int)(strcspn(head, "\r")), head);
    if (strncmp(head, "HEAD /a ", 8) == 0)
      http_peer_send(fd, "HTTP/1.1 302 Found\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n", 0);
    else
      http_peer_send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", 0);
  }
}

static void head_redirect_main(void) {
  uvgo_http_client *c = new_client(NULL);
  uvgo_http_request req = {.method = "HEAD", .url = peer_url("/a")};
  uvgo_http_response *r;
  ASSERT_OK(uvgo_http_do(NULL, c, &req, &r));
  ASSERT_EQ(uvgo_http_response_status(r), 200);
  char b[8];
  ASSERT_ERR((int)uvgo_http_response_read(NULL, r, b, sizeof b), UV_EOF);
  ASSERT_OK(uvgo_http_response_free(r));
  ASSERT_OK(uvgo_http_client_free(c));
}

UVGO_TEST(http_client_head_stays_head_across_redirect, http, 30) {
  run_with_peer(head_redirect, NULL, head_redirect_main);
  ASSERT_STR_EQ(seen_lines[0], "HEAD /a HTTP/1.1");
  ASSERT_STR_EQ(seen_lines[1], "HEAD /b HTTP/1.1");
}

typedef struct expect_plan {
  int mode;          /* 0: answer 417 at once; 1: never send 100 */
  size_t body_seen;  /* mode 1: body bytes read */
  bool had_expect;
} expect_plan;

static void expect_peer(int fd, int i, void *arg) {
  expect_plan *e = arg;
  char head[4096];
  if (http_peer_read_head(fd, head, sizeof head) <= 0)
    return;
  e->had_expect = strstr(head, "Expect: 100-continue") != NULL;
  if (e->mode == 0) {
    http_peer_send(fd, "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n", 0);
    drain_until_close(fd);
    return;
  }
  const char *cl = strstr(head, "Content-Length: ");
  size_t want = cl != NULL ? strtoul(cl + 16, NULL, 10) : 0;
  char buf[65536];
  while (e->body_seen < want) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      return;
    e->body_seen += (size_t)n;
  }
  http_peer_send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0);
  drain_until_close(fd);
}

static expect_plan eplan;

static void expect_main(void) {
  uvgo_http_client_config cfg = {.expect_continue_bytes = 1000,
                                 .expect_continue_timeout_ms = 50};
  uvgo_http_client *c = new_client(&cfg);
  static char body[200000];
  memset(body, 'u', sizeof body);
  uvgo_http_request req = {.method = "POST", .url = peer_url("/up"),
                           .body = body, .body_len = sizeof body};
  uvgo_http_response *r;
  ASSERT_OK(uvgo_http_do(NULL, c, &req, &r));
  ASSERT_EQ(uvgo_http_response_status(r), eplan.mode == 0 ? 417 : 200);
  ASSERT_OK(uvgo_http_response_free(r));
  uvgo_http_client_stats st;
  ASSERT_OK(uvgo_http_client_stats_get(c, &st));
  /* After a final answer to the head alone, the body was never sent: the
   * connection cannot be reused. */
  ASSERT_UEQ(st.idle, eplan.mode == 0 ? 0 : 1);
  ASSERT_OK(uvgo_http_client_free(c));
}

UVGO_TEST(http_client_expect_final_answer_first, http, 30) {
  memset(&eplan, 0, sizeof eplan);
  run_with_peer(expect_peer, &eplan, expect_main);
  ASSERT(eplan.had_expect);
}

UVGO_TEST(http_client_expect_without_100_sends_after_timeout, http, 30) {
  memset(&eplan, 0, sizeof eplan);
  eplan.mode = 1;
  run_with_peer(expect_peer, &eplan, expect_main);
  ASSERT(eplan.had_expect);
  ASSERT_UEQ(eplan.body_seen, 200000);
}

/* --- a close-delimited body cut by a TLS truncation --- */

static void truncating_tls_server(void *arg) {
  uvgo_listener *ln = arg;
  uvgo_tls_config *scfg = tls_fx_server_config(&fx, "server");
  uvgo_conn *raw, *c;
  ASSERT_OK(uvgo_accept(NULL, ln, &raw));
  ASSERT_OK(uvgo_tls_server(NULL, raw, scfg, &c));
  char buf[2048];
  size_t got = 0;
  while (got < 4 || memcmp(buf + got - 4, "\r\n\r\n", 4) != 0) {
    ssize_t n = uvgo_conn_read(NULL, c, buf + got, sizeof buf - got);
    ASSERT_GT(n, 0);
    got += (size_t)n;
  }
  const char *resp = "HTTP/1.1 200 OK\r\n\r\nsome of the body";
  ASSERT_OK(uvgo_conn_write(NULL, c, resp, strlen(resp)));
  ASSERT_OK(uvgo_conn_shutdown(NULL, raw)); /* FIN, no close_notify */
  uvgo_conn_read(NULL, c, buf, sizeof buf);
  ASSERT_OK(uvgo_conn_close(c));
  uvgo_tls_config_release(scfg);
}

static void truncation_main(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  ASSERT_OK(uvgo_go_on(0, truncating_tls_server, ln));
  uvgo_http_client_config cfg = {.tls = tls_fx_client_config(&fx)};
  uvgo_http_client *c = new_client(&cfg);
  uvgo_tls_config_release(cfg.tls);
  char u[128];
  snprintf(u, sizeof u, "https://localhost:%u/", uvgo_listener_port(ln));
  uvgo_http_response *r;
  ASSERT_OK(uvgo_http_get(NULL, c, u, &r));
  const char *b;
  size_t n;
  ASSERT_ERR(uvgo_http_response_read_all(NULL, r, 1024, &b, &n),
             UVGO_ETLSTRUNCATED);
  ASSERT_OK(uvgo_http_response_free(r));
  ASSERT_OK(uvgo_http_client_free(c));
  ASSERT_OK(uvgo_listener_close(ln));
}

static void trunc_trampoline(void *arg) { truncation_main(); }

UVGO_TEST(http_client_tls_truncation_is_not_a_short_body, http, 30) {
  tls_fx_make(&fx);
  uvgo_config cfg = {.workers = 1};
  int err = uvgo_run(&cfg, trunc_trampoline, NULL);
  tls_fx_remove(&fx);
  ASSERT_OK(err);
}

/* --- bad input --- */

static int accepted_before;

static ssize_t failing_reader(void *arg, void *buf, size_t cap) {
  int *calls = arg;
  if ((*calls)++ == 0) {
    memcpy(buf, "part", 4);
    return 4;
  }
  return UV_EIO;
}

static void bad_input_main(void) {
  uvgo_http_client *c = new_client(NULL);
  uvgo_http_response *r = (void *)1;
  /* URLs. */
  ASSERT_ERR(uvgo_http_get(NULL, c, NULL, &r), UVGO_EHTTPBADURL);
  ASSERT_NULL(r);
  static const char *const bad_urls[] = {
      "", "not a url", "/relative/path", "http://", "http:///path",
      "http://exa mple.com/", "http://127.0.0.1:65536/", "http://127.0.0.1:0/",
      "http://127.0.0.1:99999999999/", "http://[::1/", "//host/path",
  };
  for (size_t i = 0; i < sizeof bad_urls / sizeof *bad_urls; i++) {
    int err = uvgo_http_get(NULL, c, bad_urls[i], &r);
    if (err != UVGO_EHTTPBADURL)
      uvgo_test_fail(__FILE__, __LINE__, "\"%s\": %s", bad_urls[i],
                     uvgo_err_name(err));
  }
  ASSERT_ERR(uvgo_http_get(NULL, c, "ftp://127.0.0.1/x", &r),
             UVGO_EUNSUPPORTEDSCHEME);
  ASSERT_ERR(uvgo_http_get(NULL, c, "file:///etc/passwd", &r),
             UVGO_EUNSUPPORTEDSCHEME);
  /* Header injection, refused before anything is sent. */
  static const uvgo_http_header bad_headers[][1] = {
      {{"X-Evil\r\nInjected", "1"}}, {{"X-Evil", "1\r\nInjected: 2"}},
      {{"X-Evil", "a\nb"}},          {{"X-Evil", "a\rb"}},
      {{"Bad Name", "v"}},           {{"", "v"}},
      {{"Host", "other"}},           {{"Content-Length", "5"}},
      {{"Transfer-Encoding", "chunked"}}, {{"Connection", "upgrade"}},
  };
  for (size_t i = 0; i < sizeof bad_headers / sizeof *bad_headers; i++) {
    uvgo_http_request req = {.url = peer_url("/"), .headers = bad_headers[i],
                             .nheaders = 1};
    ASSERT_ERR(uvgo_http_do(NULL, c, &req, &r), UVGO_EHTTPBADHEADER);
  }
  uvgo_http_request req = {.method = "GE T", .url = peer_url("/")};
  ASSERT_ERR(uvgo_http_do(NULL, c, &req, &r), UVGO_EHTTPBADMETHOD);
  req.method = "";
  ASSERT_ERR(uvgo_http_do(NULL, c, &req, &r), UVGO_EHTTPBADMETHOD);
  ASSERT_EQ(atomic_load(&peer.accepted), accepted_before); /* nothing reached the peer */
  /* NULLs and contradictions. */
  ASSERT_ERR(uvgo_http_do(NULL, c, NULL, &r), UV_EINVAL);
  ASSERT_ERR(uvgo_http_get(NULL, c, peer_url("/"), NULL), UV_EINVAL);
  int calls = 0;
  uvgo_http_request both = {.method = "POST", .url = peer_url("/"),
                            .body = "x", .body_len = 1,
                            .body_reader = failing_reader,
                            .body_reader_arg = &calls};
  ASSERT_ERR(uvgo_http_do(NULL, c, &both, &r), UV_EINVAL);
  ASSERT_ERR(uvgo_http_client_new(NULL, NULL), UV_EINVAL);
  uvgo_http_client_config too_many = {.max_redirects = 11};
  uvgo_http_client *c2;
  ASSERT_ERR(uvgo_http_client_new(&too_many, &c2), UV_EINVAL);
  ASSERT_ERR(uvgo_http_response_status(NULL), UV_EINVAL);
  ASSERT_NULL(uvgo_http_response_header(NULL, "x"));
  char buf[8];
  ASSERT_ERR((int)uvgo_http_response_read(NULL, NULL, buf, 8), UV_EINVAL);
  ASSERT_ERR(uvgo_http_response_close(NULL), UV_EINVAL);
  ASSERT_OK(uvgo_http_response_free(NULL));
  ASSERT_OK(uvgo_http_client_free(NULL));
  /* A body reader that fails: the request fails with its error. */
  both.body = NULL;
  both.body_len = 0;
  ASSERT_ERR(uvgo_http_do(NULL, c, &both, &r), UV_EIO);
  /* Reading after close; freeing a client with a response alive. */
  ASSERT_OK(uvgo_http_get(NULL, c, peer_url("/"), &r));
  ASSERT_OK(uvgo_http_response_close(r));
  ASSERT_ERR((int)uvgo_http_response_read(NULL, r, buf, sizeof buf),
             UVGO_EHTTPBODYCLOSED);
  const char *b;
  size_t n;
  ASSERT_ERR(uvgo_http_response_read_all(NULL, r, 10, &b, &n),
             UVGO_EHTTPBODYCLOSED);
  ASSERT_ERR(uvgo_http_client_free(c), UV_EBUSY);
  ASSERT_OK(uvgo_http_response_free(r));
  ASSERT_OK(uvgo_http_client_free(c));
}

static void answer_all(int fd, int i, void *arg) {
  char head[4096];
  while (http_peer_read_head(fd, head, sizeof head) > 0) {
    if (strstr(head, "Transfer-Encoding: chunked") != NULL) {
      /* The failing reader's request: let the body come; the client
       * aborts it. */
      http_peer_send(fd, "HTTP/1.1 100 Continue\r\n\r\n", 0);
      drain_until_close(fd);
      return;
    }
    http_peer_send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0);
  }
}

static void no_task(void *arg) {}

UVGO_TEST(http_client_bad_input, http, 30) {
  accepted_before = 0;
  run_with_peer(answer_all, NULL, bad_input_main);
  /* Outside a task. */
  uvgo_http_response *r;
  ASSERT_ERR(uvgo_http_get(NULL, NULL, "http://127.0.0.1:1/", &r),
             UVGO_ENOTTASK);
  (void)no_task;
}

/* --- out of memory at each allocation of a request --- */

static int one_get(uvgo_http_client *c) {
  uvgo_http_response *r;
  int err = uvgo_http_get(NULL, c, peer_url("/"), &r);
  if (err != 0)
    return err;
  const char *b;
  size_t n;
  err = uvgo_http_response_read_all(NULL, r, 64, &b, &n);
  if (err == 0 && strcmp(b, "ok") != 0)
    err = UV_EINVAL;
  ASSERT_OK(uvgo_http_response_free(r));
  return err;
}

static void oom_main(void) {
  uvgo_http_client *c = new_client(NULL);
  long before = uvgo_test_allocation_count();
  ASSERT_OK(one_get(c)); /* the first request: dial and all */
  long per = uvgo_test_allocation_count() - before;
  ASSERT_GT(per, 0);
  ASSERT_OK(uvgo_http_client_free(c));
  int failed = 0;
  for (long nth = 1; nth <= per + 2; nth++) {
    c = new_client(NULL);
    uvgo_test_fail_allocation(nth);
    int err = one_get(c);
    uvgo_test_fail_allocation(0);
    /* Either the failure reached the caller as UV_ENOMEM, or it hit a
     * buffer the request could do without; never another error, a crash
     * or a leak (the harness counts). */
    if (err != 0 && err != UV_ENOMEM)
      uvgo_test_fail(__FILE__, __LINE__, "allocation %ld: %s", nth,
                     uvgo_err_name(err));
    failed += err == UV_ENOMEM;
    ASSERT_OK(uvgo_http_client_free(c));
  }
  ASSERT_GT(failed, 0);
}

UVGO_TEST(http_client_out_of_memory_at_each_allocation, http, 60) {
  run_with_peer(answer_all, NULL, oom_main);
}
