/* The article's fetchAll, construct for construct, over real HTTP: one
 * task per URL, a results channel buffered to len(urls) so every task can
 * send without blocking, and exactly len(urls) receives. The URLs point at
 * a uvgo_http_serve started in this process on 127.0.0.1 (and one at a
 * port nobody listens on, for the error branch).
 *
 *   func fetchAll(urls []string) []string {        fetch_all(urls, n, out)
 *     results := make(chan string, len(urls))      uvgo_chan_new(.., n)
 *     for _, url := range urls {                   for (i = 0; i < n; ...)
 *       go func(u string) {                        uvgo_go_copy(fetch, ..)
 *         resp, err := http.Get(u)                 uvgo_http_get(..)
 *         if err != nil {
 *           results <- fmt.Sprintf("error: %v", err); return }
 *         defer resp.Body.Close()                  uvgo_http_response_free
 *         results <- fmt.Sprintf("%s -> %d", u, resp.StatusCode)
 *       }(url)
 *     }
 *     out := make([]string, len(urls))
 *     for i := range out { out[i] = <-results }    uvgo_chan_recv
 *     return out
 *   } */
#include <stdio.h>
#include <string.h>
#include <uvgo.h>

typedef struct {
  char text[128];
} result; /* Go's string, by value through the channel */

typedef struct {
  const char *u;      /* the loop variable, copied per task */
  uvgo_chan *results; /* chan string */
} fetch_arg;

static void fetch(void *arg) { /* go func(u string) { ... }(url) */
  fetch_arg *a = arg;
  result r;
  uvgo_http_response *resp;
  int err = uvgo_http_get(NULL, NULL, a->u, &resp);
  if (err != 0) {
    snprintf(r.text, sizeof r.text, "error: %s: %s", a->u, uvgo_strerror(err));
    uvgo_chan_send(a->results, &r);
    uvgo_chan_release(a->results);
    return;
  }
  snprintf(r.text, sizeof r.text, "%s -> %d", a->u,
           uvgo_http_response_status(resp));
  uvgo_http_response_free(resp); /* defer resp.Body.Close() */
  uvgo_chan_send(a->results, &r);
  uvgo_chan_release(a->results); /* C has no GC: each task holds a ref */
}

static void fetch_all(const char **urls, size_t n, result *out) {
  uvgo_chan *results = uvgo_chan_new(sizeof(result), n);
  for (size_t i = 0; i < n; i++) {
    fetch_arg a = {urls[i], results};
    uvgo_chan_retain(results);
    if (uvgo_go_copy(fetch, &a, sizeof a) != 0) {
      result r;
      snprintf(r.text, sizeof r.text, "error: %s: cannot spawn", urls[i]);
      uvgo_chan_send(results, &r);
      uvgo_chan_release(results);
    }
  }
  for (size_t i = 0; i < n; i++)
    uvgo_chan_recv(results, &out[i]);
  uvgo_chan_release(results);
}

/* --- the local server the URLs point at --- */

static int handler(uvgo_http_req *req, uvgo_http_rw *w, void *arg) {
  (void)arg;
  if (strcmp(uvgo_http_req_path(req), "/missing") == 0)
    uvgo_http_write_header(w, 404);
  return uvgo_http_printf(w, "you asked for %s\n", uvgo_http_req_path(req));
}

typedef struct server {
  uvgo_ctx *ctx;
  uvgo_listener *ln;
  uvgo_wg done;
} server;

static void serve(void *arg) {
  server *s = arg;
  uvgo_http_serve(s->ctx, s->ln, NULL, handler, NULL);
  uvgo_wg_done(&s->done);
}

static void main_task(void *arg) {
  (void)arg;
  server s = {0};
  uvgo_ctx_with_cancel(uvgo_ctx_background(), &s.ctx);
  if (uvgo_listen("127.0.0.1", 0, 0, &s.ln) != 0)
    return;
  unsigned port = uvgo_listener_port(s.ln);
  uvgo_wg_add(&s.done, 1);
  uvgo_go_on((unsigned)uvgo_worker_id(), serve, &s);

  char buf[5][64];
  snprintf(buf[0], sizeof buf[0], "http://127.0.0.1:%u/", port);
  snprintf(buf[1], sizeof buf[1], "http://127.0.0.1:%u/users/7", port);
  snprintf(buf[2], sizeof buf[2], "http://127.0.0.1:%u/missing", port);
  snprintf(buf[3], sizeof buf[3], "http://localhost:%u/hello", port);
  snprintf(buf[4], sizeof buf[4], "http://127.0.0.1:1/unreachable");
  const char *urls[5] = {buf[0], buf[1], buf[2], buf[3], buf[4]};
  result out[5];
  fetch_all(urls, 5, out);
  int errors = 0;
  for (size_t i = 0; i < 5; i++) {
    printf("%s\n", out[i].text);
    errors += strncmp(out[i].text, "error", 5) == 0;
  }
  printf("fetched %d URLs, %d errors\n", 5, errors);

  uvgo_ctx_cancel(s.ctx); /* graceful shutdown of the local server */
  uvgo_wg_wait(&s.done);
  uvgo_ctx_release(s.ctx);
}

int main(void) { return uvgo_run(NULL, main_task, NULL) == 0 ? 0 : 1; }
