/* uvgo-fetch's embedded demo server and its URL mix. */
#ifndef UVGO_FETCH_DEMO_H
#define UVGO_FETCH_DEMO_H

#include <stdbool.h>
#include <stdlib.h>
#include <uvgo.h>

typedef struct demo_server {
  uvgo_ctx *ctx;
  uvgo_listener *ln;
  unsigned port;
  uvgo_wg done;
  int err;
} demo_server;

/* Start serving on 127.0.0.1 (a free port) on every worker. Task-only.
 * @return 0 or an error. */
int demo_start(demo_server *d);
/* Shut the server down (gracefully, slow requests aborted) and wait. */
void demo_stop(demo_server *d);
/* The i-th URL of the demo's mix (fast_only: every URL the fast one,
 * for measuring throughput). */
void demo_url(const demo_server *d, uint64_t i, bool fast_only, char *buf,
              size_t cap);

#endif
