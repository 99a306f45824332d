/* HTTP client benchmark: N GETs over C connections against a running
 * server (bench/http_client_bench.sh starts nginx and runs this beside
 * Go's net/http client, bench/go/http_client.go, and wrk).
 *
 *   uvgo-bench-http URL [REQUESTS [CONNS [WORKERS]]]
 *
 * C tasks (spread over the workers, task i on worker i % WORKERS) share
 * one client with max_conns_per_host = max_idle_per_host = C; each takes
 * the next ticket, GETs URL, reads the body to its end and frees the
 * response. A warm-up pass of C requests opens the connections first (not
 * timed). Prints
 *
 *   BENCH http_client_rps_<W>w <requests per second> req/s
 *   BENCH http_client_heap_per_inflight_<W>w <bytes> B
 *   BENCH http_client_rss_per_inflight_<W>w <bytes> B
 *
 * heap: the most bytes the library held through its allocator during the
 * timed run (every allocation of uvgo, OpenSSL aside), per request in
 * flight (C of them). rss: peak resident set growth from before the
 * client existed, per request in flight (task stacks and kernel socket
 * buffers included, the same measure bench/go uses). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvgo.h"

static const char *url;
static long requests = 10000, conns = 100;
static unsigned workers = 1;
static uvgo_http_client *client;
static _Atomic long next_ticket, failures;
static uvgo_wg wg = UVGO_WG_INIT;

/* Counting allocator: live and peak bytes the library holds. */
typedef union {
  size_t size;
  max_align_t align;
} hdr;
static _Atomic long live, peak;

static void add(long d) {
  long now = atomic_fetch_add(&live, d) + d;
  long p = atomic_load(&peak);
  while (now > p && !atomic_compare_exchange_weak(&peak, &p, now))
    ;
}
static void *c_malloc(size_t n) {
  hdr *h = malloc(sizeof *h + n);
  if (h == NULL)
    return NULL;
  h->size = n;
  add((long)n);
  return h + 1;
}
static void c_free(void *p) {
  if (p == NULL)
    return;
  hdr *h = (hdr *)p - 1;
  add(-(long)h->size);
  free(h);
}
static void *c_realloc(void *p, size_t n) {
  if (p == NULL)
    return c_malloc(n);
  hdr *h = (hdr *)p - 1;
  size_t old = h->size;
  hdr *q = realloc(h, sizeof *q + n);
  if (q == NULL)
    return NULL;
  q->size = n;
  add((long)n - (long)old);
  return q + 1;
}
static void *c_calloc(size_t c, size_t n) {
  if (n != 0 && c > SIZE_MAX / n)
    return NULL;
  void *p = c_malloc(c * n);
  if (p != NULL)
    memset(p, 0, c * n);
  return p;
}

static long status_kb(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  size_t kl = strlen(key);
  while (f != NULL && fgets(line, sizeof line, f) != NULL)
    if (strncmp(line, key, kl) == 0)
      v = strtol(line + kl, NULL, 10);
  if (f != NULL)
    fclose(f);
  return v;
}

static void one(void) {
  uvgo_http_response *r;
  int err = uvgo_http_get(NULL, client, url, &r);
  if (err != 0) {
    if (atomic_fetch_add(&failures, 1) < 5)
      fprintf(stderr, "GET: %s\n", uvgo_strerror(err));
    return;
  }
  const char *b;
  size_t n;
  err = uvgo_http_response_read_all(NULL, r, 1 << 20, &b, &n);
  if (err != 0 || uvgo_http_response_status(r) != 200) {
    if (atomic_fetch_add(&failures, 1) < 5)
      fprintf(stderr, "body: %s, status %d\n", uvgo_strerror(err),
              uvgo_http_response_status(r));
  }
  uvgo_http_response_free(r);
}

static uvgo_chan *warm_done;

static void fetcher(void *arg) {
  /* Warm-up: one request each, all at once, so C connections open. */
  one();
  int x = 0;
  uvgo_chan_send(warm_done, &x);
  uvgo_chan *go = arg;
  uvgo_chan_recv(go, &x);
  while (atomic_fetch_add(&next_ticket, 1) < requests)
    one();
  uvgo_wg_done(&wg);
}

static void bench_main(void *arg) {
  uvgo_http_client_config cfg = {.max_conns_per_host = (unsigned)conns,
                                 .max_idle_per_host = (unsigned)conns};
  long rss0 = status_kb("VmRSS:");
  if (uvgo_http_client_new(&cfg, &client) != 0)
    abort();
  warm_done = uvgo_chan_new(sizeof(int), (size_t)conns);
  uvgo_chan *go = uvgo_chan_new(sizeof(int), (size_t)conns);
  uvgo_wg_add(&wg, conns);
  for (long i = 0; i < conns; i++)
    uvgo_go_on((unsigned)(i % (long)workers), fetcher, go);
  int x = 0;
  for (long i = 0; i < conns; i++)
    uvgo_chan_recv(warm_done, &x);
  atomic_store(&peak, atomic_load(&live));
  long heap0 = atomic_load(&live);
  uint64_t t0 = uv_hrtime();
  for (long i = 0; i < conns; i++)
    uvgo_chan_send(go, &x);
  uvgo_wg_wait(&wg);
  uint64_t t1 = uv_hrtime();
  long heap_peak = atomic_load(&peak);
  long hwm = status_kb("VmHWM:");
  double secs = (double)(t1 - t0) / 1e9;
  uvgo_http_client_stats st;
  uvgo_http_client_stats_get(client, &st);
  fprintf(stderr, "uvgo: %ld requests, %ld failures, %.3f s, dials %llu\n",
          requests, atomic_load(&failures), secs, (unsigned long long)st.dials);
  printf("BENCH http_client_rps_%uw %.0f req/s\n", workers,
         (double)requests / secs);
  printf("BENCH http_client_heap_per_inflight_%uw %.0f B\n", workers,
         (double)heap_peak / (double)conns);
  printf("BENCH http_client_rss_per_inflight_%uw %.0f B\n", workers,
         (double)(hwm - rss0) * 1024.0 / (double)conns);
  (void)heap0;
  uvgo_http_client_free(client);
  uvgo_chan_release(warm_done);
  uvgo_chan_release(go);
  if (atomic_load(&failures) != 0)
    exit(1);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s URL [REQUESTS [CONNS [WORKERS]]]\n", argv[0]);
    return 2;
  }
  url = argv[1];
  if (argc > 2)
    requests = atol(argv[2]);
  if (argc > 3)
    conns = atol(argv[3]);
  if (argc > 4)
    workers = (unsigned)atoi(argv[4]);
  if (requests <= 0 || conns <= 0 || workers == 0)
    return 2;
  uvgo_replace_allocator(c_malloc, c_realloc, c_calloc, c_free);
  uvgo_config cfg = {.workers = workers};
  int err = uvgo_run(&cfg, bench_main, NULL);
  if (err != 0) {
    fprintf(stderr, "uvgo_run: %s\n", uvgo_strerror(err));
    return 1;
  }
  return 0;
}
