/* The HTTP client against nginx (Debian's nginx-light), started by each
 * case on free loopback ports with a generated configuration
 * (tests/http/fixture.c) and killed at the end, even on failure. */
#include "harness.h"

#include <stdatomic.h>

#include "http/fixture.h"

static http_nginx ngx;

static void run(unsigned workers, uvgo_fn fn) {
  uvgo_config cfg = {.workers = workers};
  int err = uvgo_run(&cfg, fn, NULL);
  http_nginx_stop(&ngx);
  ASSERT_OK(err);
}

static char *url(const char *path) {
  static char buf[4][256];
  static int i;
  char *b = buf[i++ & 3];
  snprintf(b, sizeof buf[0], "http://127.0.0.1:%u%s", ngx.port, path);
  return b;
}

static char *tls_url(const char *host, const char *path) {
  static char buf[4][256];
  static int i;
  char *b = buf[i++ & 3];
  snprintf(b, sizeof buf[0], "https://%s:%u%s", host, ngx.tls_port, path);
  return b;
}

static uvgo_http_client *client_with(unsigned max_conns) {
  uvgo_http_client_config cfg = {.max_conns_per_host = max_conns};
  uvgo_http_client *c;
  ASSERT_OK(uvgo_http_client_new(&cfg, &c));
  return c;
}

/* GET path, status `want`, the whole body (limit 8 MiB) into *body. */
static uvgo_http_response *get_all(uvgo_http_client *c, const char *u,
                                   int want, const char **body, size_t *len) {
  uvgo_http_response *r;
  ASSERT_OK(uvgo_http_get(NULL, c, u, &r));
  ASSERT_EQ(uvgo_http_response_status(r), want);
  ASSERT_OK(uvgo_http_response_read_all(NULL, r, 8u << 20, body, len));
  return r;
}

static void check_payload(const char *b, size_t len, size_t want) {
  ASSERT_UEQ(len, want);
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)b[i] != http_fx_byte(i))
      uvgo_test_fail(__FILE__, __LINE__, "byte %zu differs", i);
}

static void small_and_large(void *arg) {
  uvgo_http_client *c = client_with(0);
  const char *b;
  size_t n;
  uvgo_http_response *r = get_all(c, url("/1k.bin"), 200, &b, &n);
  check_payload(b, n, HTTP_FX_SMALL);
  ASSERT_STR_EQ(uvgo_http_response_header(r, "content-length"), "1024");
  ASSERT_STR_EQ(uvgo_http_response_header(r, "Server") != NULL ? "y" : "n", "y");
  /* Header iteration sees every field, in order, Server among them. */
  size_t it = 0, fields = 0;
  uvgo_http_header h;
  bool saw_server = false;
  while (uvgo_http_response_header_next(r, &it, &h) == 0) {
    fields++;
    saw_server |= strcmp(h.name, "Server") == 0;
  }
  ASSERT(saw_server);
  ASSERT_UEQ(fields, uvgo_http_headers_count(uvgo_http_response_headers(r)));
  ASSERT_OK(uvgo_http_response_free(r));

  /* 5 MiB streamed through a 64 KiB buffer: every byte checked, and the
   * client holds a bounded amount whatever the body's size. */
  ASSERT_OK(uvgo_http_get(NULL, c, url("/5m.bin"), &r));
  ASSERT_EQ(uvgo_http_response_status(r), 200);
  static char buf[64 * 1024];
  size_t total = 0;
  uvgo_test_reset_peak_bytes();
  long base = uvgo_test_live_bytes();
  for (;;) {
    ssize_t got = uvgo_http_response_read(NULL, r, buf, sizeof buf);
    if (got == UV_EOF)
      break;
    ASSERT_GT(got, 0);
    for (ssize_t i = 0; i < got; i++)
      if ((unsigned char)buf[i] != http_fx_byte(total + (size_t)i))
        uvgo_test_fail(__FILE__, __LINE__, "byte %zu differs", total + (size_t)i);
    total += (size_t)got;
  }
  ASSERT_UEQ(total, HTTP_FX_LARGE);
  ASSERT_LT(uvgo_test_peak_bytes() - base, 256 * 1024);
  ASSERT_ERR((int)uvgo_http_response_read(NULL, r, buf, sizeof buf), UV_EOF);
  ASSERT_OK(uvgo_http_response_free(r));
  uvgo_http_client_stats st;
  ASSERT_OK(uvgo_http_client_stats_get(c, &st));
  ASSERT_UEQ(st.dials, 1);
  ASSERT_UEQ(st.in_flight, 0);
  ASSERT_OK(uvgo_http_client_free(c));
}

UVGO_TEST(http_client_nginx_small_and_large, http, 60) {
  http_nginx_start(&ngx, false);
  run(1, small_and_large);
}

static void keepalive(void *arg) {
  uvgo_http_client *c = client_with(0);
  for (int i = 0; i < 20; i++) {
    const char *b;
    size_t n;
    uvgo_http_response *r = get_all(c, url("/1k.bin"), 200, &b, &n);
    check_payload(b, n, HTTP_FX_SMALL);
    ASSERT_OK(uvgo_http_response_free(r));
  }
  uvgo_http_client_stats st;
  ASSERT_OK(uvgo_http_client_stats_get(c, &st));
  ASSERT_UEQ(st.dials, 1);
  ASSERT_UEQ(st.reuses, 19);
  ASSERT_UEQ(st.idle, 1);
  /* keepalive_requests 2: nginx closes every second response; each
   * request still succeeds, on a new connection when it has to. */
  for (int i = 0; i < 10; i++) {
    const char *b;
    size_t n;
    uvgo_http_response *r = get_all(c, url("/ka/1k.bin"), 200, &b, &n);
    check_payload(b, n, HTTP_FX_SMALL);
    ASSERT_OK(uvgo_http_response_free(r));
  }
  ASSERT_OK(uvgo_http_client_stats_get(c, &st));
  /* The idle connection takes requests 1-2 ... nginx counts per
   * connection: the first (20 served) closes at once on /ka/; then two
   * per connection. */
  ASSERT_UGE(st.dials, 5);
  ASSERT_ULE(st.dials, 6);
  ASSERT_OK(uvgo_http_client_free(c));
}

UVGO_TEST(http_client_nginx_keepalive_and_server_close, http, 60) {
  http_nginx_start(&ngx, false);
  run(1, keepalive);
}

static void gzip_case(void *arg) {
  uvgo_http_client *c = client_with(0);
  char want[64 * 1024 + 64];
  size_t wl = 0;
  for (int i = 0; i < 1024; i++)
    wl += (size_t)snprintf(want + wl, sizeof want - wl,
                           "line %04d: the quick brown fox jumps over the lazy dog..\n", i);
  const char *b;
  size_t n;
  uvgo_http_response *r = get_all(c, url("/text.txt"), 200, &b, &n);
  ASSERT_UEQ(n, wl);
  ASSERT(memcmp(b, want, wl) == 0);
  ASSERT_NULL(uvgo_http_response_header(r, "content-encoding"));
  ASSERT_OK(uvgo_http_response_free(r));
  /* The caller asked itself: bytes as sent. */
  uvgo_http_header ae = {"Accept-Encoding", "gzip"};
  uvgo_http_request req = {.url = url("/text.txt"), .headers = &ae, .nheaders = 1};
  ASSERT_OK(uvgo_http_do(NULL, c, &req, &r));
  ASSERT_STR_EQ(uvgo_http_response_header(r, "Content-Encoding"), "gzip");
  ASSERT_OK(uvgo_http_response_read_all(NULL, r, 1 << 20, &b, &n));
  ASSERT_LT(n, wl);
  ASSERT_EQ((unsigned char)b[0], 0x1f);
  ASSERT_EQ((unsigned char)b[1], 0x8b);
  ASSERT_OK(uvgo_http_response_free(r));
  /* Compression off: no Accept-Encoding, plain body. */
  uvgo_http_client_config cfg = {.disable_compression = 1};
  uvgo_http_client *plain;
  ASSERT_OK(uvgo_http_client_new(&cfg, &plain));
  r = get_all(plain, url("/text.txt"), 200, &b, &n);
  ASSERT_UEQ(n, wl);
  ASSERT_STR_EQ(uvgo_http_response_header(r, "content-length") != NULL ? "y" : "n", "y");
  ASSERT_OK(uvgo_http_response_free(r));
  ASSERT_OK(uvgo_http_client_free(plain));
  ASSERT_OK(uvgo_http_client_free(c));
}

UVGO_TEST(http_client_nginx_gzip, http, 60) {
  http_nginx_start(&ngx, false);
  run(1, gzip_case);
}

static const char *method_after(uvgo_http_client *c, const char *method,
                                const char *path, char *out, size_t cap) {
  uvgo_http_request req = {.method = method, .url = url(path),
                           .body = "payload", .body_len = 7};
  uvgo_http_response *r;
  ASSERT_OK(uvgo_http_do(NULL, c, &req, &r));
  ASSERT_EQ(uvgo_http_response_status(r), 200);
  const char *b;
  size_t n;
  ASSERT_OK(uvgo_http_response_read_all(NULL, r, 1024, &b, &n));
  snprintf(out, cap, "%s", b);
  ASSERT_OK(uvgo_http_response_free(r));
  return out;
}

static int stop_hook(void *arg, int status, const char *next, unsigned n) {
  int *calls = arg;
  (*calls)++;
  ASSERT_EQ(status, 302);
  ASSERT_STR_CONTAINS(next, "/chain/4");
  return UVGO_HTTP_STOP_REDIRECTS;
}

static void redirects(void *arg) {
  uvgo_http_client *c = client_with(0);
  const char *b;
  size_t n;
  uvgo_http_response *r = get_all(c, url("/moved"), 200, &b, &n);
  check_payload(b, n, HTTP_FX_SMALL);
  ASSERT_STR_CONTAINS(uvgo_http_response_url(r), "/1k.bin");
  ASSERT_OK(uvgo_http_response_free(r));
  char m[64];
  /* 301/302/303: GET without the body; 307/308 keep method and body. */
  ASSERT_STR_EQ(method_after(c, "POST", "/r301", m, sizeof m), "GET\n");
  ASSERT_STR_EQ(method_after(c, "POST", "/r302", m, sizeof m), "GET\n");
  ASSERT_STR_EQ(method_after(c, "PUT", "/r303", m, sizeof m), "GET\n");
  ASSERT_STR_EQ(method_after(c, "POST", "/r307", m, sizeof m), "POST\n");
  ASSERT_STR_EQ(method_after(c, "PUT", "/r308", m, sizeof m), "PUT\n");
  /* At most 10. */
  r = get_all(c, url("/chain/10"), 200, &b, &n);
  ASSERT_STR_EQ(b, "end\n");
  ASSERT_OK(uvgo_http_response_free(r));
  ASSERT_ERR(uvgo_http_get(NULL, c, url("/chain/11"), &r), UVGO_ETOOMANYREDIRECTS);
  ASSERT_NULL(r);
  /* Authorization and Cookie go to the same host, not to another. */
  uvgo_http_header secret[] = {{"Authorization", "Bearer s3cret"},
                               {"Cookie", "id=42"}};
  uvgo_http_request req = {.url = url("/same"), .headers = secret, .nheaders = 2};
  ASSERT_OK(uvgo_http_do(NULL, c, &req, &r));
  ASSERT_OK(uvgo_http_response_read_all(NULL, r, 1024, &b, &n));
  ASSERT_STR_EQ(b, "auth=Bearer s3cret;cookie=id=42\n");
  ASSERT_OK(uvgo_http_response_free(r));
  req.url = url("/cross");
  ASSERT_OK(uvgo_http_do(NULL, c, &req, &r));
  ASSERT_STR_CONTAINS(uvgo_http_response_url(r), "//localhost:");
  ASSERT_OK(uvgo_http_response_read_all(NULL, r, 1024, &b, &n));
  ASSERT_STR_EQ(b, "auth=;cookie=\n");
  ASSERT_OK(uvgo_http_response_free(r));
  ASSERT_OK(uvgo_http_client_free(c));
  /* The hook stops following: the redirect itself comes back. */
  int calls = 0;
  uvgo_http_client_config cfg = {.check_redirect = stop_hook,
                                 .check_redirect_arg = &calls};
  ASSERT_OK(uvgo_http_client_new(&cfg, &c));
  ASSERT_OK(uvgo_http_get(NULL, c, url("/chain/5"), &r));
  ASSERT_EQ(uvgo_http_response_status(r), 302);
  ASSERT_STR_EQ(uvgo_http_response_header(r, "location") != NULL ? "y" : "n", "y");
  ASSERT_EQ(calls, 1);
  ASSERT_OK(uvgo_http_response_free(r));
  ASSERT_OK(uvgo_http_client_free(c));
}

UVGO_TEST(http_client_nginx_redirects, http, 60) {
  http_nginx_start(&ngx, false);
  run(1, redirects);
}

static void no_body(void *arg) {
  uvgo_http_client *c = client_with(0);
  uvgo_http_request head = {.method = "HEAD", .url = url("/1k.bin")};
  char buf[16];
  for (int i = 0; i < 3; i++) {
    uvgo_http_response *r;
    ASSERT_OK(uvgo_http_do(NULL, c, &head, &r));
    ASSERT_EQ(uvgo_http_response_status(r), 200);
    ASSERT_STR_EQ(uvgo_http_response_header(r, "content-length"), "1024");
    ASSERT_ERR((int)uvgo_http_response_read(NULL, r, buf, sizeof buf), UV_EOF);
    ASSERT_OK(uvgo_http_response_free(r));
    ASSERT_OK(uvgo_http_get(NULL, c, url("/nothing"), &r));
    ASSERT_EQ(uvgo_http_response_status(r), 204);
    ASSERT_ERR((int)uvgo_http_response_read(NULL, r, buf, sizeof buf), UV_EOF);
    ASSERT_OK(uvgo_http_response_free(r));
  }
  /* 404 is a successful call. */
  const char *b;
  size_t n;
  uvgo_http_response *r = get_all(c, url("/missing"), 404, &b, &n);
  ASSERT_OK(uvgo_http_response_free(r));
  /* 304: a conditional GET with the ETag nginx gave. */
  r = get_all(c, url("/1k.bin"), 200, &b, &n);
  char etag[128];
  ASSERT_NOT_NULL(uvgo_http_response_header(r, "etag"));
  snprintf(etag, sizeof etag, "%s", uvgo_http_response_header(r, "etag"));
  ASSERT_OK(uvgo_http_response_free(r));
  uvgo_http_header inm = {"If-None-Match", etag};
  uvgo_http_request cond = {.url = url("/1k.bin"), .headers = &inm, .nheaders = 1};
  ASSERT_OK(uvgo_http_do(NULL, c, &cond, &r));
  ASSERT_EQ(uvgo_http_response_status(r), 304);
  ASSERT_ERR((int)uvgo_http_response_read(NULL, r, buf, sizeof buf), UV_EOF);
  ASSERT_OK(uvgo_http_response_free(r));
  uvgo_http_client_stats st;
  ASSERT_OK(uvgo_http_client_stats_get(c, &st));
  ASSERT_UEQ(st.dials, 1); /* bodiless answers leave the connection reusable */
  ASSERT_OK(uvgo_http_client_free(c));
}

UVGO_TEST(http_client_nginx_head_204_404, http, 60) {
  http_nginx_start(&ngx, false);
  run(1, no_body);
}

static void close_drains(void *arg) {
  uvgo_http_client *c = client_with(0);
  uvgo_http_response *r;
  char buf[100];
  uvgo_http_client_stats st;
  /* A small remainder is drained: the connection is reused. */
  for (int i = 0; i < 3; i++) {
    ASSERT_OK(uvgo_http_get(NULL, c, url("/1k.bin"), &r));
    ASSERT_GT(uvgo_http_response_read(NULL, r, buf, 10), 0);
    ASSERT_OK(uvgo_http_response_close(r));
    ASSERT_ERR((int)uvgo_http_response_read(NULL, r, buf, 10), UVGO_EHTTPBODYCLOSED);
    ASSERT_OK(uvgo_http_response_close(r)); /* idempotent */
    ASSERT_EQ(uvgo_http_response_status(r), 200); /* still readable */
    ASSERT_OK(uvgo_http_response_free(r));
  }
  ASSERT_OK(uvgo_http_client_stats_get(c, &st));
  ASSERT_UEQ(st.dials, 1);
  /* More than the drain limit left: closed, not read. */
  ASSERT_OK(uvgo_http_get(NULL, c, url("/5m.bin"), &r));
  ASSERT_GT(uvgo_http_response_read(NULL, r, buf, sizeof buf), 0);
  ASSERT_OK(uvgo_http_response_free(r));
  ASSERT_OK(uvgo_http_client_stats_get(c, &st));
  ASSERT_UEQ(st.idle, 0);
  ASSERT_OK(uvgo_http_get(NULL, c, url("/1k.bin"), &r));
  ASSERT_OK(uvgo_http_response_free(r));
  ASSERT_OK(uvgo_http_client_stats_get(c, &st));
  ASSERT_UEQ(st.dials, 2);
  ASSERT_OK(uvgo_http_client_free(c));
}

UVGO_TEST(http_client_nginx_close_drains_or_closes, http, 60) {
  http_nginx_start(&ngx, false);
  run(1, close_drains);
}

typedef struct upload {
  size_t sent, total;
  int calls;
} upload;

static ssize_t reader(void *arg, void *buf, size_t cap) {
  upload *u = arg;
  u->calls++;
  size_t n = (size_t)(u->calls % 7) * 1000 + 1; /* uneven chunks */
  if (n > cap)
    n = cap;
  if (n > u->total - u->sent)
    n = u->total - u->sent;
  for (size_t i = 0; i < n; i++)
    ((unsigned char *)buf)[i] = http_fx_byte(u->sent + i);
  u->sent += n;
  return (ssize_t)n;
}

static void uploads(void *arg) {
  uvgo_http_client *c = client_with(0);
  /* Streamed (chunked, with Expect: 100-continue), then read back. */
  upload u = {.total = 3u << 20};
  uvgo_http_request put = {.method = "PUT", .url = url("/dav/streamed.bin"),
                           .body_reader = reader, .body_reader_arg = &u};
  uvgo_http_response *r;
  ASSERT_OK(uvgo_http_do(NULL, c, &put, &r));
  int s = uvgo_http_response_status(r);
  ASSERT(s == 201 || s == 204);
  ASSERT_OK(uvgo_http_response_free(r));
  ASSERT_UEQ(u.sent, u.total);
  const char *b;
  size_t n;
  r = get_all(c, url("/dav/streamed.bin"), 200, &b, &n);
  check_payload(b, n, u.total);
  ASSERT_OK(uvgo_http_response_free(r));
  /* A buffer above the Expect threshold. */
  size_t big = 2u << 20;
  char *body = malloc(big);
  for (size_t i = 0; i < big; i++)
    body[i] = (char)http_fx_byte(i);
  put.url = url("/dav/buffer.bin");
  put.body_reader = NULL;
  put.body = body;
  put.body_len = big;
  ASSERT_OK(uvgo_http_do(NULL, c, &put, &r));
  s = uvgo_http_response_status(r);
  ASSERT(s == 201 || s == 204);
  ASSERT_OK(uvgo_http_response_free(r));
  free(body);
  r = get_all(c, url("/dav/buffer.bin"), 200, &b, &n);
  check_payload(b, n, big);
  ASSERT_OK(uvgo_http_response_free(r));
  ASSERT_OK(uvgo_http_client_free(c));
}

UVGO_TEST(http_client_nginx_uploads, http, 60) {
  http_nginx_start(&ngx, false);
  run(1, uploads);
}

/* --- many tasks on two workers sharing one client --- */

static uvgo_http_client *shared;
static uvgo_wg shared_wg = UVGO_WG_INIT;
static _Atomic int shared_ok;

static void fetcher(void *arg) {
  for (int i = 0; i < 25; i++) {
    uvgo_http_response *r;
    char u[128]; /* url()'s buffers are not for concurrent tasks */
    snprintf(u, sizeof u, "http://127.0.0.1:%u%s", ngx.port,
             i % 5 == 0 ? "/text.txt" : "/1k.bin");
    ASSERT_OK(uvgo_http_get(NULL, shared, u, &r));
    const char *b;
    size_t n;
    ASSERT_OK(uvgo_http_response_read_all(NULL, r, 1 << 20, &b, &n));
    if (i % 5 != 0)
      check_payload(b, n, HTTP_FX_SMALL);
    ASSERT_OK(uvgo_http_response_free(r));
    atomic_fetch_add(&shared_ok, 1);
  }
  uvgo_wg_done(&shared_wg);
}

static void two_workers(void *arg) {
  shared = client_with(4);
  uvgo_wg_add(&shared_wg, 16);
  for (unsigned i = 0; i < 16; i++)
    ASSERT_OK(uvgo_go_on(i % 2, fetcher, NULL));
  uvgo_wg_wait(&shared_wg);
  ASSERT_EQ(atomic_load(&shared_ok), 16 * 25);
  uvgo_http_client_stats st;
  ASSERT_OK(uvgo_http_client_stats_get(shared, &st));
  ASSERT_UEQ(st.in_flight, 0);
  ASSERT_ULE(st.idle, 8); /* at most 4 per worker: 4 in use at once */
  /* Busy with a response: refused, nothing freed. */
  uvgo_http_response *r;
  ASSERT_OK(uvgo_http_get(NULL, shared, url("/1k.bin"), &r));
  ASSERT_ERR(uvgo_http_client_free(shared), UV_EBUSY);
  ASSERT_OK(uvgo_http_response_free(r));
  ASSERT_OK(uvgo_http_client_free(shared));
}

UVGO_TEST(http_client_nginx_two_workers_one_client, http, 120) {
  http_nginx_start(&ngx, false);
  run(2, two_workers);
}

/* --- the runtime's default client --- */

static void default_client(void *arg) {
  for (int i = 0; i < 3; i++) {
    uvgo_http_response *r;
    ASSERT_OK(uvgo_http_get(NULL, NULL, url("/1k.bin"), &r));
    const char *b;
    size_t n;
    ASSERT_OK(uvgo_http_response_read_all(NULL, r, 4096, &b, &n));
    check_payload(b, n, HTTP_FX_SMALL);
    ASSERT_OK(uvgo_http_response_free(r));
  }
  /* It leaves idle connections behind; the runtime's end closes them and
   * frees the client (the harness fails the case on a leak). */
}

UVGO_TEST(http_client_nginx_default_client, http, 60) {
  http_nginx_start(&ngx, false);
  run(2, default_client);
}

/* --- the default client in attach mode: freed by uvgo_rt_close --- */

static _Atomic int attached_done;

static void attached_get(void *arg) {
  uvgo_http_response *r;
  char u[128];
  snprintf(u, sizeof u, "http://127.0.0.1:%u/1k.bin", ngx.port);
  ASSERT_OK(uvgo_http_get(NULL, NULL, u, &r));
  const char *b;
  size_t n;
  ASSERT_OK(uvgo_http_response_read_all(NULL, r, 4096, &b, &n));
  check_payload(b, n, HTTP_FX_SMALL);
  ASSERT_OK(uvgo_http_response_free(r));
  atomic_store(&attached_done, 1);
}

UVGO_TEST(http_client_nginx_default_client_attached, http, 60) {
  http_nginx_start(&ngx, false);
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  uvgo_rt *rt;
  ASSERT_OK(uvgo_rt_attach(&loop, NULL, &rt));
  ASSERT_OK(uvgo_rt_spawn(rt, attached_get, NULL));
  ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT) >= 0 ? 0 : -1);
  ASSERT_EQ(atomic_load(&attached_done), 1);
  /* The idle connection of the default client is closed by the close's
   * hook; the loop then closes cleanly (no handle left). */
  ASSERT_OK(uvgo_rt_close(rt));
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_OK(uv_loop_close(&loop));
  http_nginx_stop(&ngx);
}

/* --- https through the TLS module --- */

static void https(void *arg) {
  uvgo_tls_config *tls;
  ASSERT_OK(uvgo_tls_config_new(&tls));
  ASSERT_OK(uvgo_tls_config_set_ca_file(tls, ngx.ca_path));
  uvgo_http_client_config cfg = {.tls = tls};
  uvgo_http_client *c;
  ASSERT_OK(uvgo_http_client_new(&cfg, &c));
  ASSERT_OK(uvgo_tls_config_release(tls));
  for (int i = 0; i < 5; i++) {
    const char *b;
    size_t n;
    uvgo_http_response *r =
        get_all(c, tls_url(i % 2 ? "localhost" : "127.0.0.1", "/1k.bin"), 200, &b, &n);
    check_payload(b, n, HTTP_FX_SMALL);
    ASSERT_OK(uvgo_http_response_free(r));
  }
  const char *b;
  size_t n;
  uvgo_http_response *r = get_all(c, tls_url("localhost", "/5m.bin"), 200, &b, &n);
  check_payload(b, n, HTTP_FX_LARGE);
  ASSERT_OK(uvgo_http_response_free(r));
  r = get_all(c, tls_url("localhost", "/text.txt"), 200, &b, &n);
  ASSERT_UEQ(n, 1024u * 57u);
  ASSERT_OK(uvgo_http_response_free(r));
  uvgo_http_client_stats st;
  ASSERT_OK(uvgo_http_client_stats_get(c, &st));
  ASSERT_UEQ(st.dials, 2); /* one per host name */
  ASSERT_OK(uvgo_http_client_free(c));
  /* The system store does not know the test CA: verification fails. */
  ASSERT_OK(uvgo_http_client_new(NULL, &c));
  ASSERT_ERR(uvgo_http_get(NULL, c, tls_url("localhost", "/1k.bin"), &r),
             UVGO_ETLSVERIFY);
  ASSERT_OK(uvgo_http_client_free(c));
}

UVGO_TEST(http_client_nginx_https, http, 60) {
  http_nginx_start(&ngx, true);
  run(1, https);
}
