/* uvgo-fetch's demo: an HTTP server on 127.0.0.1 in the same process (one
 * listener per worker, uvgo_http_serve_shared) with endpoints that show
 * every row of the summary — fast, slow beyond the timeout, 404, a
 * redirect, gzip, a large body, a connection cut mid-body — and the mix of
 * URLs fetched from it. */
#include "demo.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

#define FAST_BYTES 1024
#define LARGE_BYTES (512 * 1024)
#define SLOW_MS 5000 /* well beyond the demo's 1 s timeout */

static char fast_body[FAST_BYTES];
static unsigned char *gz_body;
static size_t gz_len;

/* A gzip member of some repetitive text, made once. */
static int make_gzip(void) {
  char text[16384];
  size_t n = 0;
  while (n + 64 < sizeof text)
    n += (size_t)snprintf(text + n, sizeof text - n,
                          "line %zu: don't communicate by sharing memory\n", n);
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return -1;
  size_t cap = deflateBound(&z, (uLong)n);
  gz_body = malloc(cap);
  if (gz_body == NULL) {
    deflateEnd(&z);
    return -1;
  }
  z.next_in = (unsigned char *)text;
  z.avail_in = (uInt)n;
  z.next_out = gz_body;
  z.avail_out = (uInt)cap;
  int rc = deflate(&z, Z_FINISH);
  gz_len = cap - z.avail_out;
  deflateEnd(&z);
  return rc == Z_STREAM_END ? 0 : -1;
}

static int handler(uvgo_http_req *req, uvgo_http_rw *w, void *arg) {
  (void)arg;
  const char *p = uvgo_http_req_path(req);
  if (strcmp(p, "/fast") == 0) {
    uvgo_http_set_header(w, "Content-Type", "text/plain");
    return uvgo_http_write(w, fast_body, sizeof fast_body);
  }
  if (strcmp(p, "/redirect") == 0) {
    uvgo_http_set_header(w, "Location", "/fast");
    return uvgo_http_write_header(w, 302);
  }
  if (strcmp(p, "/gzip") == 0) {
    uvgo_http_set_header(w, "Content-Encoding", "gzip");
    uvgo_http_set_header(w, "Content-Type", "text/plain");
    return uvgo_http_write(w, gz_body, gz_len);
  }
  if (strcmp(p, "/large") == 0) {
    char piece[16384];
    memset(piece, 'L', sizeof piece);
    for (int i = 0; i < LARGE_BYTES / (int)sizeof piece; i++) {
      int err = uvgo_http_write(w, piece, sizeof piece);
      if (err != 0)
        return err;
    }
    return 0;
  }
  if (strcmp(p, "/slow") == 0) {
    int err = uvgo_sleep(SLOW_MS); /* ends early when the server aborts */
    if (err != 0)
      return err;
    return uvgo_http_write(w, "finally\n", 8);
  }
  if (strcmp(p, "/reset") == 0) {
    /* Promise 4 KiB, send 10 bytes, fail: the server cuts the connection
     * and the client sees it end mid-body. */
    uvgo_http_set_header(w, "Content-Length", "4096");
    uvgo_http_write(w, "partial...", 10);
    uvgo_http_flush(w);
    return UV_ECONNRESET;
  }
  uvgo_http_write_header(w, 404);
  return uvgo_http_write(w, "no such page\n", 13);
}

static void serve_task(void *arg) {
  demo_server *d = arg;
  uvgo_http_server_config cfg = {0};
  cfg.shutdown_timeout_ms = 200; /* the slow handlers are aborted */
  d->err = uvgo_http_serve_shared(d->ctx, d->ln, &cfg, handler, NULL);
  uvgo_wg_done(&d->done);
}

int demo_start(demo_server *d) {
  memset(fast_body, 'x', sizeof fast_body);
  fast_body[sizeof fast_body - 1] = '\n';
  if (gz_body == NULL && make_gzip() != 0)
    return UV_ENOMEM;
  int err = uvgo_ctx_with_cancel(uvgo_ctx_background(), &d->ctx);
  if (err != 0)
    return err;
  err = uvgo_listen_shared("127.0.0.1", 0, 0, &d->ln);
  if (err != 0) {
    uvgo_ctx_release(d->ctx);
    return err;
  }
  d->port = uvgo_listener_port(d->ln);
  uvgo_wg_add(&d->done, 1);
  err = uvgo_go_on((unsigned)uvgo_worker_id(), serve_task, d);
  if (err != 0) {
    uvgo_wg_done(&d->done);
    uvgo_listener_close(d->ln);
    uvgo_ctx_release(d->ctx);
  }
  return err;
}

void demo_stop(demo_server *d) {
  uvgo_ctx_cancel(d->ctx);
  uvgo_wg_wait(&d->done);
  uvgo_ctx_release(d->ctx);
  free(gz_body);
  gz_body = NULL;
}

/* Per 100 URLs (fast_only: all fast): 86 fast, 4 not found, 3 redirects, 3 gzip, 2 large,
 * 1 slow (times out), 1 reset; spread evenly through the list. */
void demo_url(const demo_server *d, uint64_t i, bool fast_only, char *buf,
              size_t cap) {
  static const char *const mix[100] = {
      [7] = "/missing", [31] = "/missing", [57] = "/missing", [83] = "/missing",
      [13] = "/redirect", [47] = "/redirect", [79] = "/redirect",
      [19] = "/gzip", [53] = "/gzip", [89] = "/gzip",
      [37] = "/large", [71] = "/large",
      [61] = "/slow",
      [97] = "/reset",
  };
  const char *path =
      !fast_only && mix[i % 100] != NULL ? mix[i % 100] : "/fast";
  snprintf(buf, cap, "http://127.0.0.1:%u%s?i=%llu", d->port, path,
           (unsigned long long)i);
}
