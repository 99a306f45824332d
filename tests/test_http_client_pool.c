/* The client's pool limits (max_conns_per_host with waiters bounded by
 * their context, max_idle_per_host, the idle timeout) and proxies from the
 * environment (HTTP_PROXY with absolute-form requests, HTTPS_PROXY
 * through a CONNECT tunnel, NO_PROXY), against nginx and a scripted proxy
 * (tests/http/fixture.c). */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/fixture.h"

static http_nginx ngx;
static http_peer proxy;
static bool proxy_running;

static void run(uvgo_fn fn) {
  uvgo_config cfg = {.workers = 1};
  int err = uvgo_run(&cfg, fn, NULL);
  if (proxy_running)
    http_peer_stop(&proxy);
  http_nginx_stop(&ngx);
  ASSERT_OK(err);
}

static char *url(const char *path) {
  static char b[4][256];
  static int i;
  char *s = b[i++ & 3];
  snprintf(s, sizeof b[0], "http://127.0.0.1:%u%s", ngx.port, path);
  return s;
}

static uvgo_http_client *client(const uvgo_http_client_config *cfg) {
  uvgo_http_client *c;
  ASSERT_OK(uvgo_http_client_new(cfg, &c));
  return c;
}

static uvgo_http_client_stats stats(uvgo_http_client *c) {
  uvgo_http_client_stats st;
  ASSERT_OK(uvgo_http_client_stats_get(c, &st));
  return st;
}

/* --- max_conns_per_host: waiters bounded by their context --- */

static void max_conns(void *arg) {
  uvgo_http_client_config cfg = {.max_conns_per_host = 1};
  uvgo_http_client *c = client(&cfg);
  uvgo_http_response *held, *r;
  ASSERT_OK(uvgo_http_get(NULL, c, url("/1k.bin"), &held));
  /* The only connection is busy: a second caller waits, and its context
   * ends the wait. */
  uvgo_ctx *ctx;
  ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_background(), 50, &ctx));
  ASSERT_ERR(uvgo_http_get(ctx, c, url("/1k.bin"), &r), UV_ETIMEDOUT);
  uvgo_ctx_release(ctx);
  ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_background(), &ctx));
  ASSERT_OK(uvgo_ctx_cancel(ctx));
  ASSERT_ERR(uvgo_http_get(ctx, c, url("/1k.bin"), &r), UV_ECANCELED);
  uvgo_ctx_release(ctx);
  ASSERT_UEQ(stats(c).dials, 1);
  /* Given back: the next caller gets it. */
  ASSERT_OK(uvgo_http_response_free(held));
  ASSERT_OK(uvgo_http_get(NULL, c, url("/1k.bin"), &r));
  ASSERT_OK(uvgo_http_response_free(r));
  ASSERT_UEQ(stats(c).dials, 1);
  ASSERT_OK(uvgo_http_client_free(c));
}

UVGO_TEST(http_client_pool_max_conns_waiters_bounded, http, 60) {
  http_nginx_start(&ngx, false);
  run(max_conns);
}

/* --- max_idle_per_host and the idle timeout --- */

static uvgo_http_client *shared;
static uvgo_chan *release_now;
static uvgo_wg got = UVGO_WG_INIT, done = UVGO_WG_INIT;

static void holder(void *arg) {
  uvgo_http_response *r;
  ASSERT_OK(uvgo_http_get(NULL, shared, arg, &r));
  uvgo_wg_done(&got);
  int x;
  uvgo_chan_recv(release_now, &x); /* all four are in flight at once */
  ASSERT_OK(uvgo_http_response_free(r));
  uvgo_wg_done(&done);
}

static void idle_limits(void *arg) {
  uvgo_http_client_config cfg = {.max_idle_per_host = 2,
                                 .idle_conn_timeout_ms = 50};
  shared = client(&cfg);
  release_now = uvgo_chan_new(sizeof(int), 4);
  uvgo_wg_add(&got, 4);
  uvgo_wg_add(&done, 4);
  for (int i = 0; i < 4; i++)
    ASSERT_OK(uvgo_go(holder, url("/1k.bin")));
  uvgo_wg_wait(&got);
  ASSERT_UEQ(stats(shared).dials, 4);
  int x = 0;
  for (int i = 0; i < 4; i++)
    ASSERT_OK(uvgo_chan_send(release_now, &x));
  uvgo_wg_wait(&done);
  ASSERT_UEQ(stats(shared).idle, 2); /* two kept, two closed */
  /* Older than the idle timeout: closed, not reused. */
  ASSERT_OK(uvgo_sleep(120));
  uvgo_http_response *r;
  ASSERT_OK(uvgo_http_get(NULL, shared, url("/1k.bin"), &r));
  ASSERT_OK(uvgo_http_response_free(r));
  uvgo_http_client_stats st = stats(shared);
  ASSERT_UEQ(st.dials, 5);
  ASSERT_UEQ(st.reuses, 0);
  ASSERT_UEQ(st.idle, 1);
  uvgo_chan_release(release_now);
  ASSERT_OK(uvgo_http_client_free(shared));
}

UVGO_TEST(http_client_pool_max_idle_and_idle_timeout, http, 60) {
  http_nginx_start(&ngx, false);
  run(idle_limits);
}

/* --- proxies --- */

typedef struct proxy_log {
  char lines[8][128];
  _Atomic int n;
} proxy_log;

static proxy_log plog;

static void relay(int a, int b) {
  struct pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  char buf[16384];
  for (;;) {
    if (poll(p, 2, -1) < 0)
      return;
    for (int k = 0; k < 2; k++) {
      if (p[k].revents == 0)
        continue;
      ssize_t n = recv(p[k].fd, buf, sizeof buf, 0);
      if (n <= 0 || http_peer_send(p[1 - k].fd, buf, (size_t)n) != 0)
        return;
    }
  }
}

/* A forward proxy: absolute-form requests are answered by the proxy
 * itself (so the test sees they went through it); CONNECT opens a tunnel
 * to the named port on 127.0.0.1. */
static void proxy_script(int fd, int i, void *arg) {
  char head[4096];
  if (http_peer_read_head(fd, head, sizeof head) <= 0)
    return;
  int k = atomic_fetch_add(&plog.n, 1);
  if (k < 8)
    snprintf(plog.lines[k], sizeof plog.lines[k], "%.*s",
             (int)strcspn(head, "\r"), head);
  unsigned port = 0;
  if (sscanf(head, "CONNECT %*[^:]:%u HTTP/1.1", &port) == 1) {
    int t = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(t, (struct sockaddr *)&a, sizeof a) != 0) {
      http_peer_send(fd, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n", 0);
      close(t);
      return;
    }
    http_peer_send(fd, "HTTP/1.1 200 Connection established\r\n\r\n", 0);
    relay(fd, t);
    close(t);
    return;
  }
  http_peer_send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nproxied", 0);
}

static void proxies(void *arg) {
  uvgo_tls_config *tls;
  ASSERT_OK(uvgo_tls_config_new(&tls));
  ASSERT_OK(uvgo_tls_config_set_ca_file(tls, ngx.ca_path));
  uvgo_http_client_config cfg = {.proxy_from_environment = 1, .tls = tls};
  uvgo_http_client *c = client(&cfg);
  uvgo_tls_config_release(tls);
  const char *b;
  size_t n;
  /* http:// through HTTP_PROXY: absolute-form, answered by the proxy. */
  char u[256];
  snprintf(u, sizeof u, "http://localhost:%u/1k.bin?q=1", ngx.port);
  uvgo_http_response *r;
  ASSERT_OK(uvgo_http_get(NULL, c, u, &r));
  ASSERT_OK(uvgo_http_response_read_all(NULL, r, 64, &b, &n));
  ASSERT_STR_EQ(b, "proxied");
  ASSERT_OK(uvgo_http_response_free(r));
  /* NO_PROXY=127.0.0.1: straight to nginx. */
  ASSERT_OK(uvgo_http_get(NULL, c, url("/1k.bin"), &r));
  ASSERT_OK(uvgo_http_response_read_all(NULL, r, 4096, &b, &n));
  ASSERT_UEQ(n, HTTP_FX_SMALL);
  ASSERT_OK(uvgo_http_response_free(r));
  /* https:// through HTTPS_PROXY: a CONNECT tunnel, TLS end to end with
   * nginx (the certificate checked for localhost). */
  snprintf(u, sizeof u, "https://localhost:%u/1k.bin", ngx.tls_port);
  for (int i = 0; i < 2; i++) {
    ASSERT_OK(uvgo_http_get(NULL, c, u, &r));
    ASSERT_EQ(uvgo_http_response_status(r), 200);
    ASSERT_OK(uvgo_http_response_read_all(NULL, r, 4096, &b, &n));
    ASSERT_UEQ(n, HTTP_FX_SMALL);
    for (size_t k = 0; k < n; k++)
      ASSERT_EQ((unsigned char)b[k], http_fx_byte(k));
    ASSERT_OK(uvgo_http_response_free(r));
  }
  ASSERT_UEQ(stats(c).dials, 3); /* the tunnel is pooled like any conn */
  ASSERT_OK(uvgo_http_client_free(c));
  /* A client that did not ask ignores the environment. */
  c = client(NULL);
  snprintf(u, sizeof u, "http://localhost:%u/1k.bin", ngx.port);
  ASSERT_OK(uvgo_http_get(NULL, c, u, &r));
  ASSERT_OK(uvgo_http_response_read_all(NULL, r, 4096, &b, &n));
  ASSERT_UEQ(n, HTTP_FX_SMALL);
  ASSERT_OK(uvgo_http_response_free(r));
  ASSERT_OK(uvgo_http_client_free(c));
}

UVGO_TEST(http_client_proxy_from_environment, http, 60) {
  http_nginx_start(&ngx, true);
  memset(&plog, 0, sizeof plog);
  http_peer_start(&proxy, proxy_script, NULL);
  proxy_running = true;
  char p[64];
  snprintf(p, sizeof p, "http://127.0.0.1:%u", proxy.port);
  setenv("HTTP_PROXY", p, 1);
  setenv("HTTPS_PROXY", p, 1);
  setenv("NO_PROXY", "127.0.0.1,.example.org", 1);
  run(proxies);
  unsetenv("HTTP_PROXY");
  unsetenv("HTTPS_PROXY");
  unsetenv("NO_PROXY");
  ASSERT_EQ(atomic_load(&plog.n), 2);
  char want[128];
  snprintf(want, sizeof want, "GET http://localhost:%u/1k.bin?q=1 HTTP/1.1",
           ngx.port);
  /* ngx.port was cleared by stop: compare the prefix and suffix. */
  ASSERT_STR_CONTAINS(plog.lines[0], "GET http://localhost:");
  ASSERT_STR_CONTAINS(plog.lines[0], "/1k.bin?q=1 HTTP/1.1");
  ASSERT_STR_CONTAINS(plog.lines[1], "CONNECT localhost:");
  (void)want;
}
