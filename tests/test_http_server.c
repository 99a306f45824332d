/* The HTTP server against real clients nobody here wrote, started by the
 * tests on 127.0.0.1: curl (keep-alive, HEAD, a chunked upload,
 * 100-continue, HTTP/1.0), a short bounded wrk run, and python3 (its
 * http.client for keep-alive, a raw socket for pipelining). */
#include "test_http_server_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "tls/fixture.h"

/* --- the handlers --- */

#define BIG_BYTES (100u * 1024u)
#define MAX_PEERS 64

typedef struct app {
  unsigned peers[MAX_PEERS]; /* client ports, one per request */
  int n;
  int saw_version[2];        /* requests by HTTP/1.0, HTTP/1.1 */
} app;

static char big_byte(size_t i) { return (char)('a' + i % 26); }

static int app_handler(uvgo_http_req *req, uvgo_http_rw *w, void *arg) {
  app *a = arg;
  struct sockaddr_storage ss;
  if (a->n < MAX_PEERS && uvgo_http_req_peer_addr(req, &ss) == 0)
    a->peers[a->n++] = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  a->saw_version[uvgo_http_req_version(req) == 11]++;
  const char *path = uvgo_http_req_path(req);
  if (strcmp(path, "/hello") == 0) {
    uvgo_http_set_header(w, "Content-Type", "text/plain");
    return uvgo_http_write(w, "hello, world\n", 13);
  }
  if (strcmp(path, "/echo") == 0) {
    const char *body;
    size_t len;
    int err = uvgo_http_req_read_all(req, 8u << 20, &body, &len);
    if (err != 0)
      return err;
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i++)
      sum = sum * 31 + (unsigned char)body[i];
    return uvgo_http_printf(w, "len=%zu sum=%u\n", len, sum);
  }
  if (strcmp(path, "/big") == 0) {
    char chunk[4096];
    for (size_t off = 0; off < BIG_BYTES; off += sizeof chunk) {
      for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = big_byte(off + i);
      int err = uvgo_http_write(w, chunk, sizeof chunk);
      if (err != 0)
        return err;
    }
    return 0;
  }
  if (strncmp(path, "/seq/", 5) == 0)
    return uvgo_http_printf(w, "seq %s q=%s\n", path + 5,
                            uvgo_http_req_query(req));
  if (strcmp(path, "/fail") == 0)
    return UV_EIO;
  uvgo_http_write_header(w, 404);
  return uvgo_http_write(w, "not found\n", 10);
}

/* A file of n pattern bytes for uploads; returns its checksum (as the
 * /echo handler computes it). */
static uint32_t make_file(char *path, size_t cap, size_t n) {
  snprintf(path, cap, "/tmp/uvgo-hs-XXXXXX");
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  uint32_t sum = 0;
  char buf[4096];
  for (size_t off = 0; off < n;) {
    size_t k = n - off < sizeof buf ? n - off : sizeof buf;
    for (size_t i = 0; i < k; i++) {
      buf[i] = big_byte(off + i * 7);
      sum = sum * 31 + (unsigned char)buf[i];
    }
    ASSERT_EQ(write(fd, buf, k), (ssize_t)k);
    off += k;
  }
  close(fd);
  return sum;
}

typedef void (*hs_main_fn)(void);
static void run_main(void *arg) { ((hs_main_fn)arg)(); }
static void run_workers(unsigned n, hs_main_fn fn) {
  uvgo_config cfg = {.workers = n};
  ASSERT_OK(uvgo_run(&cfg, run_main, (void *)fn));
}

static void need(const char *prog) {
  if (!hs_have(prog))
    uvgo_test_skip("%s is not installed", prog);
}

/* --- curl --- */

static void curl_keepalive_main(void) {
  app a = {0};
  hs_fixture f = {.handler = app_handler, .arg = &a};
  hs_start(&f);
  hs_cmd c;
  hs_run(&c,
         "curl -s -w '[%%{http_code} %%{num_connects}]' "
         "http://127.0.0.1:%u/hello http://127.0.0.1:%u/seq/2?x=y",
         f.port, f.port);
  ASSERT_EQ(c.status, 0);
  ASSERT_STR_CONTAINS(c.out, "hello, world\n[200 1]");
  /* The second transfer made no new connection: keep-alive. */
  ASSERT_STR_CONTAINS(c.out, "seq 2 q=x=y\n[200 0]");
  free(c.out);
  ASSERT_EQ(a.n, 2);
  ASSERT_EQ(a.peers[0], a.peers[1]);
  hs_stop(&f);
}
UVGO_TEST(http_server_curl_keepalive, http_server, 60) {
  need("curl");
  run_workers(1, curl_keepalive_main);
}

static void curl_head_main(void) {
  app a = {0};
  hs_fixture f = {.handler = app_handler, .arg = &a};
  hs_start(&f);
  hs_cmd c;
  /* HEAD then GET on the same connection: a HEAD that sent a body would
   * garble the GET's answer. */
  hs_run(&c,
         "curl -s -i -I http://127.0.0.1:%u/hello --next -s -w "
         "'[%%{num_connects}]' http://127.0.0.1:%u/hello",
         f.port, f.port);
  ASSERT_EQ(c.status, 0);
  ASSERT_STR_CONTAINS(c.out, "HTTP/1.1 200 OK\r\n");
  ASSERT_STR_CONTAINS(c.out, "Content-Length: 13\r\n");
  ASSERT_STR_CONTAINS(c.out, "Content-Type: text/plain\r\n");
  ASSERT_STR_CONTAINS(c.out, "Date: ");
  ASSERT_STR_CONTAINS(c.out, "\r\n\r\nhello, world\n[0]");
  free(c.out);
  ASSERT_EQ(a.n, 2);
  ASSERT_EQ(a.peers[0], a.peers[1]);
  hs_stop(&f);
}
UVGO_TEST(http_server_curl_head, http_server, 60) {
  need("curl");
  run_workers(1, curl_head_main);
}

static void curl_chunked_upload_main(void) {
  app a = {0};
  hs_fixture f = {.handler = app_handler, .arg = &a};
  hs_start(&f);
  char path[64];
  uint32_t sum = make_file(path, sizeof path, 300000);
  hs_cmd c;
  hs_run(&c,
         "curl -s -v -H 'Transfer-Encoding: chunked' --data-binary @%s "
         "http://127.0.0.1:%u/echo",
         path, f.port);
  ASSERT_EQ(c.status, 0);
  ASSERT_STR_CONTAINS(c.out, "> Transfer-Encoding: chunked");
  char want[64];
  snprintf(want, sizeof want, "len=300000 sum=%u\n", sum);
  ASSERT_STR_CONTAINS(c.out, want);
  free(c.out);
  unlink(path);
  hs_stop(&f);
}
UVGO_TEST(http_server_curl_chunked_upload, http_server, 60) {
  need("curl");
  run_workers(1, curl_chunked_upload_main);
}

static void curl_continue_main(void) {
  app a = {0};
  hs_fixture f = {.handler = app_handler, .arg = &a};
  hs_start(&f);
  char path[64];
  uint32_t sum = make_file(path, sizeof path, 200000);
  hs_cmd c;
  /* The handler reads the body: the server answers 100 first. A long
   * expect100 timeout makes sure curl waited for it rather than sent the
   * body on its own. */
  hs_run(&c,
         "curl -s -v --expect100-timeout 60 -H 'Expect: 100-continue' "
         "--data-binary @%s http://127.0.0.1:%u/echo",
         path, f.port);
  ASSERT_EQ(c.status, 0);
  ASSERT_STR_CONTAINS(c.out, "< HTTP/1.1 100 Continue");
  char want[64];
  snprintf(want, sizeof want, "len=200000 sum=%u\n", sum);
  ASSERT_STR_CONTAINS(c.out, want);
  free(c.out);
  /* A handler that never reads: no 100, the final answer at once, and the
   * connection closes instead of waiting for a body nobody wants. */
  hs_run(&c,
         "curl -s -v --expect100-timeout 60 -H 'Expect: 100-continue' "
         "--data-binary @%s http://127.0.0.1:%u/hello",
         path, f.port);
  ASSERT_EQ(c.status, 0);
  ASSERT(strstr(c.out, "100 Continue") == NULL);
  ASSERT_STR_CONTAINS(c.out, "< Connection: close");
  ASSERT_STR_CONTAINS(c.out, "hello, world\n");
  free(c.out);
  unlink(path);
  hs_stop(&f);
}
UVGO_TEST(http_server_curl_100_continue, http_server, 60) {
  need("curl");
  run_workers(1, curl_continue_main);
}

static void curl_http10_main(void) {
  app a = {0};
  hs_fixture f = {.handler = app_handler, .arg = &a};
  hs_start(&f);
  hs_cmd c;
  /* A short answer: Content-Length, then the server closes (no
   * keep-alive asked). */
  hs_run(&c, "curl -s -i --http1.0 http://127.0.0.1:%u/hello", f.port);
  ASSERT_EQ(c.status, 0);
  ASSERT_STR_CONTAINS(c.out, "Content-Length: 13\r\n");
  ASSERT_STR_CONTAINS(c.out, "Connection: close\r\n");
  ASSERT_STR_CONTAINS(c.out, "\r\n\r\nhello, world\n");
  free(c.out);
  /* A streamed answer: no chunking for HTTP/1.0, the close ends it. */
  hs_run(&c,
         "curl -s -D /dev/stderr --http1.0 http://127.0.0.1:%u/big 2>/dev/null "
         "| python3 -c \"import sys; d=sys.stdin.buffer.read(); "
         "ok=all(d[i]==97+i%%26 for i in range(len(d))); print(len(d), ok)\"",
         f.port);
  ASSERT_EQ(c.status, 0);
  char want[32];
  snprintf(want, sizeof want, "%u True", BIG_BYTES);
  ASSERT_STR_CONTAINS(c.out, want);
  free(c.out);
  hs_run(&c, "curl -s -D - -o /dev/null --http1.0 http://127.0.0.1:%u/big",
         f.port);
  ASSERT(strstr(c.out, "Transfer-Encoding") == NULL);
  ASSERT(strstr(c.out, "Content-Length") == NULL);
  free(c.out);
  /* HTTP/1.1 gets the same body chunked. */
  hs_run(&c, "curl -s -D - -o /dev/null -w '[%%{size_download}]' "
             "http://127.0.0.1:%u/big", f.port);
  ASSERT_STR_CONTAINS(c.out, "Transfer-Encoding: chunked\r\n");
  snprintf(want, sizeof want, "[%u]", BIG_BYTES);
  ASSERT_STR_CONTAINS(c.out, want);
  free(c.out);
  ASSERT_GE(a.saw_version[0], 3);
  hs_stop(&f);
}
UVGO_TEST(http_server_curl_http10, http_server, 60) {
  need("curl");
  need("python3");
  run_workers(1, curl_http10_main);
}

static void curl_errors_main(void) {
  app a = {0};
  hs_fixture f = {.handler = app_handler, .arg = &a};
  hs_start(&f);
  hs_cmd c;
  hs_run(&c, "curl -s -i http://127.0.0.1:%u/fail", f.port);
  ASSERT_STR_CONTAINS(c.out, "HTTP/1.1 500 Internal Server Error\r\n");
  free(c.out);
  hs_run(&c, "curl -s -i http://127.0.0.1:%u/nothing", f.port);
  ASSERT_STR_CONTAINS(c.out, "HTTP/1.1 404 Not Found\r\n");
  ASSERT_STR_CONTAINS(c.out, "not found\n");
  free(c.out);
  hs_stop(&f);
}
UVGO_TEST(http_server_curl_status_codes, http_server, 60) {
  need("curl");
  run_workers(1, curl_errors_main);
}

/* --- wrk --- */

static void check_wrk(const char *out) {
  ASSERT_STR_CONTAINS(out, "Requests/sec:");
  /* wrk prints these lines only when something went wrong. */
  if (strstr(out, "Socket errors") != NULL || strstr(out, "Non-2xx") != NULL)
    uvgo_test_fail(__FILE__, __LINE__, "wrk saw errors:\n%s", out);
}

static void wrk_main(void) {
  app a = {0};
  hs_fixture f = {.handler = app_handler, .arg = &a};
  hs_start(&f);
  hs_cmd c;
  hs_run(&c, "wrk -t1 -c10 -d2s http://127.0.0.1:%u/seq/1", f.port);
  ASSERT_EQ(c.status, 0);
  check_wrk(c.out);
  free(c.out);
  hs_stop(&f);
}
UVGO_TEST(http_server_wrk, http_server, 60) {
  need("wrk");
  run_workers(1, wrk_main);
}

static int tiny_handler(uvgo_http_req *req, uvgo_http_rw *w, void *arg) {
  (void)req;
  (void)arg;
  return uvgo_http_write(w, "ok\n", 3);
}

static void wrk_shared_main(void) {
  hs_fixture f = {.handler = tiny_handler, .workers_shared = 1};
  hs_start(&f);
  hs_cmd c;
  hs_run(&c, "wrk -t1 -c10 -d2s http://127.0.0.1:%u/", f.port);
  ASSERT_EQ(c.status, 0);
  check_wrk(c.out);
  free(c.out);
  hs_stop(&f);
}
UVGO_TEST(http_server_wrk_every_worker, http_server, 60) {
  need("wrk");
  run_workers(2, wrk_shared_main);
}

/* --- python3 --- */

static void python_main(void) {
  app a = {0};
  hs_fixture f = {.handler = app_handler, .arg = &a};
  hs_start(&f);
  hs_cmd c;
  /* http.client: several requests on one keep-alive connection. */
  hs_run(&c,
         "python3 -c \"\n"
         "import http.client\n"
         "c = http.client.HTTPConnection('127.0.0.1', %u)\n"
         "for i in range(3):\n"
         "    c.request('GET', '/seq/%%d?k=%%d' %% (i, i))\n"
         "    r = c.getresponse()\n"
         "    print(r.status, r.read().decode().strip())\n"
         "c.request('POST', '/echo', body=b'abc')\n"
         "r = c.getresponse(); print(r.status, r.read().decode().strip())\n"
         "\"",
         f.port);
  ASSERT_EQ(c.status, 0);
  ASSERT_STR_CONTAINS(c.out, "200 seq 0 q=k=0\n200 seq 1 q=k=1\n200 seq 2 q=k=2\n");
  ASSERT_STR_CONTAINS(c.out, "200 len=3 sum=");
  free(c.out);
  ASSERT_EQ(a.n, 4);
  ASSERT_EQ(a.peers[0], a.peers[3]);
  /* Pipelining: four requests (one with a body) in one write; the answers
   * come back in order. */
  a.n = 0;
  hs_run(&c,
         "python3 -c \"\n"
         "import socket\n"
         "s = socket.create_connection(('127.0.0.1', %u))\n"
         "reqs = b'GET /seq/1 HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n'\n"
         "reqs += b'POST /echo HTTP/1.1\\r\\nHost: t\\r\\nContent-Length: 5\\r\\n\\r\\nhello'\n"
         "reqs += b'GET /seq/3 HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n'\n"
         "reqs += b'GET /seq/4 HTTP/1.1\\r\\nHost: t\\r\\nConnection: close\\r\\n\\r\\n'\n"
         "s.sendall(reqs)\n"
         "f = s.makefile('rb')\n"
         "for i in range(4):\n"
         "    status = f.readline().split()[1].decode()\n"
         "    n = 0\n"
         "    while True:\n"
         "        h = f.readline()\n"
         "        if h in (b'\\r\\n', b''): break\n"
         "        k, v = h.decode().split(':', 1)\n"
         "        if k.lower() == 'content-length': n = int(v)\n"
         "    print(status, f.read(n).decode().strip())\n"
         "print('eof', f.read() == b'')\n"
         "\"",
         f.port);
  ASSERT_EQ(c.status, 0);
  ASSERT_STR_CONTAINS(c.out, "200 seq 1 q=\n200 len=5 sum=");
  ASSERT_STR_CONTAINS(c.out, "200 seq 3 q=\n200 seq 4 q=\neof True\n");
  free(c.out);
  ASSERT_EQ(a.n, 4);
  hs_stop(&f);
}
UVGO_TEST(http_server_python_pipelining, http_server, 60) {
  need("python3");
  run_workers(1, python_main);
}

/* --- TLS through the config --- */

static tls_fx tls_dir;

static void tls_main(void) {
  app a = {0};
  hs_fixture f = {.handler = app_handler, .arg = &a};
  f.cfg.tls = tls_fx_server_config(&tls_dir, "server");
  hs_start(&f);
  /* curl, verifying against the test CA; two requests on one TLS
   * connection. */
  hs_cmd c;
  hs_run(&c,
         "curl -s --cacert %s -w '[%%{http_code} %%{num_connects}]' "
         "https://localhost:%u/hello https://localhost:%u/seq/9",
         tls_fx_path(&tls_dir, "ca.crt"), f.port, f.port);
  ASSERT_EQ(c.status, 0);
  ASSERT_STR_CONTAINS(c.out, "hello, world\n[200 1]");
  ASSERT_STR_CONTAINS(c.out, "seq 9 q=\n[200 0]");
  free(c.out);
  /* uvgo's own client over TLS. */
  uvgo_http_client_config ccfg = {0};
  ccfg.tls = tls_fx_client_config(&tls_dir);
  uvgo_http_client *client;
  ASSERT_OK(uvgo_http_client_new(&ccfg, &client));
  char url[64];
  snprintf(url, sizeof url, "https://127.0.0.1:%u/hello", f.port);
  uvgo_http_response *r;
  ASSERT_OK(uvgo_http_get(NULL, client, url, &r));
  ASSERT_EQ(uvgo_http_response_status(r), 200);
  const char *body;
  size_t len;
  ASSERT_OK(uvgo_http_response_read_all(NULL, r, 1024, &body, &len));
  ASSERT_STR_EQ(body, "hello, world\n");
  uvgo_http_response_free(r);
  /* Plain HTTP to the TLS port: the handshake fails, the connection
   * ends, and the server goes on serving. */
  snprintf(url, sizeof url, "http://127.0.0.1:%u/hello", f.port);
  ASSERT(uvgo_http_get(NULL, client, url, &r) != 0);
  snprintf(url, sizeof url, "https://127.0.0.1:%u/seq/2", f.port);
  ASSERT_OK(uvgo_http_get(NULL, client, url, &r));
  ASSERT_EQ(uvgo_http_response_status(r), 200);
  uvgo_http_response_free(r);
  ASSERT_OK(uvgo_http_client_free(client));
  uvgo_tls_config_release(ccfg.tls);
  hs_stop(&f);
  uvgo_tls_config_release(f.cfg.tls);
}
UVGO_TEST(http_server_tls_curl_and_uvgo_client, http_server, 60) {
  need("curl");
  tls_fx_make(&tls_dir);
  run_workers(1, tls_main);
  tls_fx_remove(&tls_dir);
}
