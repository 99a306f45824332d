/* The uvgo side of bench/http_server_bench.sh: serve 1 KiB keep-alive
 * responses on 127.0.0.1:PORT with WORKERS workers (one shared listener
 * per worker) until SIGTERM / SIGINT.
 *
 *   uvgo-bench-http-server PORT WORKERS */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uvgo.h>

static char body[1024];
static unsigned port;

static int handler(uvgo_http_req *req, uvgo_http_rw *w, void *arg) {
  (void)req;
  (void)arg;
  uvgo_http_set_header(w, "Content-Type", "text/plain");
  return uvgo_http_write(w, body, sizeof body);
}

static void main_task(void *arg) {
  (void)arg;
  uvgo_listener *ln;
  int err = uvgo_listen_shared("127.0.0.1", port, 4096, &ln);
  if (err != 0) {
    fprintf(stderr, "listen: %s\n", uvgo_strerror(err));
    exit(1);
  }
  fprintf(stderr, "listening on 127.0.0.1:%u with %u workers\n", port,
          uvgo_worker_count());
  /* The root context ends on SIGTERM: a graceful shutdown. */
  err = uvgo_http_serve_shared(NULL, ln, NULL, handler, NULL);
  if (err != 0)
    fprintf(stderr, "serve: %s\n", uvgo_strerror(err));
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s PORT WORKERS\n", argv[0]);
    return 2;
  }
  memset(body, 'x', sizeof body);
  port = (unsigned)atoi(argv[1]);
  uvgo_config cfg = {.workers = (unsigned)atoi(argv[2]), .cancel_on_signal = 1};
  return uvgo_run(&cfg, main_task, NULL) == 0 ? 0 : 1;
}
