/* An ordinary callback-style libuv program that gains a feature through
 * uvgo without its callbacks changing shape.
 *
 * The program is a line-oriented TCP service ("quote service"): uv_tcp,
 * uv_listen, uv_read_start, a line splitter and uv_write, all callbacks.
 * Each request line names a quote; the slow part — asking a backend over
 * HTTP (uvgo_http_get), with a deadline — runs as a uvgo task spawned from
 * the read callback with uvgo_embed_spawn, and the answer comes back to a plain
 * callback (quote_done) on the loop's thread, which writes the reply with
 * uv_write like the rest of the program.
 *
 * To run on its own, the program also starts its backend (a tiny HTTP
 * server written as uvgo tasks: it answers /quote/NAME, and never answers
 * /quote/slow, so that request always hits its deadline) and a client
 * (plain libuv again) that sends a few lines and prints the replies. When
 * the client is done the service closes its listener and cancels the
 * backend's context; uv_run returns, and the shutdown order of
 * docs/embedding.md follows: uvgo_rt_close, one more uv_run,
 * uv_loop_close (which returns 0). */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvgo.h>

/* A request line is "NAME" or "NAME DEADLINE_MS". */
#define DEADLINE_MS 5000
#define LINE_MAX_BYTES 256
#define REPLY_MAX (2 * LINE_MAX_BYTES + 64)

static uv_loop_t loop;
static uvgo_rt *rt;
static unsigned backend_port;
static uvgo_ctx *backend_ctx;

/* ---------- the slow part: a task per request line ---------- */

typedef struct service_conn service_conn;

typedef struct {
  service_conn *conn;       /* where the answer goes */
  char name[LINE_MAX_BYTES];
  unsigned deadline_ms;
  char answer[LINE_MAX_BYTES];
} quote_request;

/* Runs as a task: blocking-style code, bounded by one deadline for the
 * whole exchange (uvgo's HTTP client, the runtime's default client). The
 * task's return value goes to quote_done. */
static int fetch_quote(void *arg) {
  quote_request *q = arg;
  uvgo_ctx *ctx;
  int err =
      uvgo_ctx_with_timeout(uvgo_ctx_background(), q->deadline_ms, &ctx);
  if (err != 0)
    return err;
  char url[LINE_MAX_BYTES + 64];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/quote/%s", backend_port,
           q->name);
  uvgo_http_response *resp = NULL;
  err = uvgo_http_get(ctx, NULL, url, &resp);
  if (err == 0) {
    int status = uvgo_http_response_status(resp);
    const char *body;
    size_t len;
    err = uvgo_http_response_read_all(ctx, resp, sizeof q->answer - 1, &body,
                                      &len);
    if (err == 0 && status != 200)
      err = UV_ENOENT;
    if (err == 0)
      snprintf(q->answer, sizeof q->answer, "%.*s", (int)len, body);
  }
  uvgo_http_response_free(resp);
  uvgo_ctx_cancel(ctx);
  uvgo_ctx_release(ctx);
  return err;
}

/* ---------- the service: plain libuv callbacks ---------- */

struct service_conn {
  uv_tcp_t tcp;
  char line[LINE_MAX_BYTES];
  size_t line_len;
  int refs;     /* the handle, plus one per request in flight */
  bool closing;
};

typedef struct {
  uv_write_t req;
  char buf[REPLY_MAX];
} reply;

static uv_tcp_t listener;

static void conn_unref(service_conn *c) {
  if (--c->refs == 0)
    free(c);
}

static void on_conn_closed(uv_handle_t *h) {
  conn_unref((service_conn *)h);
}

static void conn_close(service_conn *c) {
  if (!c->closing) {
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
  }
}

static void on_reply_written(uv_write_t *req, int status) {
  (void)status;
  free(req->data);
}

static void send_reply(service_conn *c, const char *text) {
  reply *r = malloc(sizeof *r);
  if (r == NULL)
    return;
  size_t len = strlen(text);
  if (len > sizeof r->buf)
    len = sizeof r->buf;
  memcpy(r->buf, text, len);
  r->req.data = r;
  uv_buf_t buf = uv_buf_init(r->buf, (unsigned)len);
  if (uv_write(&r->req, (uv_stream_t *)&c->tcp, &buf, 1, on_reply_written) != 0)
    free(r);
}

/* The answer is back: an ordinary callback on the loop's thread. */
static void quote_done(int result, void *arg) {
  quote_request *q = arg;
  service_conn *c = q->conn;
  if (!c->closing) {
    char text[REPLY_MAX];
    if (result == 0)
      snprintf(text, sizeof text, "%s: %s\n", q->name, q->answer);
    else
      snprintf(text, sizeof text, "%s: no answer (%s)\n", q->name,
               uvgo_err_name(result));
    send_reply(c, text);
  }
  conn_unref(c);
  free(q);
}

static void handle_line(service_conn *c, const char *line) {
  quote_request *q = calloc(1, sizeof *q);
  if (q == NULL)
    return;
  q->conn = c;
  q->deadline_ms = DEADLINE_MS;
  if (sscanf(line, "%255s %u", q->name, &q->deadline_ms) < 1)
    snprintf(q->name, sizeof q->name, "%s", line);
  /* The one new line in this callback: the slow part becomes a task. */
  int err = uvgo_embed_spawn(rt, NULL, fetch_quote, q, quote_done);
  if (err != 0) {
    char text[REPLY_MAX];
    snprintf(text, sizeof text, "%s: busy (%s)\n", line, uvgo_err_name(err));
    send_reply(c, text);
    free(q);
    return;
  }
  c->refs++;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  static char slab[4096];
  (void)suggested;
  *buf = uv_buf_init(slab, sizeof slab);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  service_conn *c = (service_conn *)s;
  if (nread < 0) {
    conn_close(c);
    return;
  }
  for (ssize_t i = 0; i < nread; i++) {
    char ch = buf->base[i];
    if (ch == '\n') {
      c->line[c->line_len] = '\0';
      if (c->line_len > 0)
        handle_line(c, c->line);
      c->line_len = 0;
    } else if (ch != '\r' && c->line_len < sizeof c->line - 1) {
      c->line[c->line_len++] = ch;
    }
  }
}

static void on_connection(uv_stream_t *server, int status) {
  if (status != 0)
    return;
  service_conn *c = calloc(1, sizeof *c);
  if (c == NULL)
    return;
  c->refs = 1;
  uv_tcp_init(server->loop, &c->tcp);
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
      uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
    conn_close(c);
}

static int service_start(int *port) {
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", 0, &addr);
  int err = uv_tcp_init(&loop, &listener);
  if (err == 0)
    err = uv_tcp_bind(&listener, (const struct sockaddr *)&addr, 0);
  if (err == 0)
    err = uv_listen((uv_stream_t *)&listener, 64, on_connection);
  if (err != 0)
    return err;
  struct sockaddr_storage bound;
  int len = sizeof bound;
  uv_tcp_getsockname(&listener, (struct sockaddr *)&bound, &len);
  *port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
  printf("quote service on 127.0.0.1:%d\n", *port);
  return 0;
}

/* ---------- the backend: a tiny HTTP server as uvgo tasks ---------- */

static const struct {
  const char *name;
  const char *text;
} quotes[] = {
    {"pike", "Concurrency is not parallelism."},
    {"go-proverb", "Don't communicate by sharing memory; share memory by "
                   "communicating."},
    {"dijkstra", "Simplicity is prerequisite for reliability."},
};

static void backend_conn(void *arg) {
  uvgo_conn *conn = arg;
  char req[1024];
  size_t got = 0;
  while (got < sizeof req - 1) {
    ssize_t n = uvgo_conn_read(NULL, conn, req + got, sizeof req - 1 - got);
    if (n <= 0)
      break;
    got += (size_t)n;
    req[got] = '\0';
    if (strstr(req, "\r\n\r\n") != NULL)
      break;
  }
  req[got] = '\0';
  char name[LINE_MAX_BYTES] = "";
  sscanf(req, "GET /quote/%255[^ ] HTTP/1.", name);
  if (strcmp(name, "slow") == 0) {
    /* Never answers: wait for the client to give up (its deadline) or
     * for the backend to be stopped. */
    char drain[64];
    while (uvgo_conn_read(NULL, conn, drain, sizeof drain) > 0) {
    }
    uvgo_conn_close(conn);
    return;
  }
  const char *text = NULL;
  for (size_t i = 0; i < sizeof quotes / sizeof *quotes; i++)
    if (strcmp(name, quotes[i].name) == 0)
      text = quotes[i].text;
  char resp[512];
  int len;
  if (text != NULL)
    len = snprintf(resp, sizeof resp,
                   "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n%s",
                   strlen(text), text);
  else
    len = snprintf(resp, sizeof resp,
                   "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                   "Connection: close\r\n\r\n");
  uvgo_conn_write(NULL, conn, resp, (size_t)len);
  uvgo_conn_close(conn);
}

/* Serves until its context (backend_ctx) is cancelled. */
static int backend_main(void *arg) {
  uvgo_chan *ready = arg;
  uvgo_listener *ln;
  int err = uvgo_listen("127.0.0.1", 0, 64, &ln);
  unsigned port = err == 0 ? uvgo_listener_port(ln) : 0;
  uvgo_chan_send(ready, &port);
  if (err != 0)
    return err;
  for (;;) {
    uvgo_conn *conn;
    err = uvgo_accept(NULL, ln, &conn);
    if (err != 0)
      break;
    if (uvgo_go(backend_conn, conn) != 0)
      uvgo_conn_close(conn);
  }
  uvgo_listener_close(ln);
  return err;
}

static void backend_done(int result, void *arg) {
  (void)arg;
  printf("backend stopped: %s\n", uvgo_err_name(result));
}

/* ---------- the demo client: plain libuv ---------- */

/* "slow" is never answered by the backend: its 200 ms deadline always
 * ends it. The others have the default deadline. */
static const char *request_lines[] = {"pike", "go-proverb", "slow 200",
                                      "dijkstra", "nobody"};
#define N_REQUESTS (sizeof request_lines / sizeof *request_lines)

static struct {
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t write;
  char out[512];
  char in[4096];
  size_t in_len;
  unsigned answers;
} client;

static void on_listener_closed(uv_handle_t *h) { (void)h; }

static int cmp_lines(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The client is done: print what it got, stop the service and the
 * backend. Nothing is left then, so the host's uv_run returns. */
static void on_client_closed(uv_handle_t *h) {
  (void)h;
  char *lines[N_REQUESTS];
  unsigned n = 0;
  for (char *save = NULL, *l = strtok_r(client.in, "\n", &save);
       l != NULL && n < N_REQUESTS; l = strtok_r(NULL, "\n", &save))
    lines[n++] = l;
  qsort(lines, n, sizeof *lines, cmp_lines);
  for (unsigned i = 0; i < n; i++)
    printf("reply: %s\n", lines[i]);
  printf("client got %u replies to %zu lines\n", n, N_REQUESTS);
  uv_close((uv_handle_t *)&listener, on_listener_closed);
  uvgo_ctx_cancel(backend_ctx);
}

static void on_client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  *buf = uv_buf_init(client.in + client.in_len,
                     (unsigned)(sizeof client.in - 1 - client.in_len));
}

static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  if (nread > 0) {
    for (ssize_t i = 0; i < nread; i++)
      if (client.in[client.in_len + (size_t)i] == '\n')
        client.answers++;
    client.in_len += (size_t)nread;
    client.in[client.in_len] = '\0';
  }
  if (nread < 0 || client.answers == N_REQUESTS ||
      client.in_len >= sizeof client.in - 1)
    uv_close((uv_handle_t *)s, on_client_closed);
}

static void on_client_written(uv_write_t *req, int status) {
  (void)req;
  if (status != 0)
    uv_close((uv_handle_t *)&client.tcp, on_client_closed);
}

static void on_client_connected(uv_connect_t *req, int status) {
  (void)req;
  if (status != 0) {
    fprintf(stderr, "client connect: %s\n", uv_strerror(status));
    uv_close((uv_handle_t *)&client.tcp, on_client_closed);
    return;
  }
  size_t len = 0;
  for (size_t i = 0; i < N_REQUESTS; i++)
    len += (size_t)snprintf(client.out + len, sizeof client.out - len, "%s\n",
                            request_lines[i]);
  uv_buf_t buf = uv_buf_init(client.out, (unsigned)len);
  uv_write(&client.write, (uv_stream_t *)&client.tcp, &buf, 1,
           on_client_written);
  uv_read_start((uv_stream_t *)&client.tcp, on_client_alloc, on_client_read);
}

static void client_start(int port) {
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", port, &addr);
  uv_tcp_init(&loop, &client.tcp);
  uv_tcp_connect(&client.connect, &client.tcp, (const struct sockaddr *)&addr,
                 on_client_connected);
}

/* The backend has its port: a receive by callback told us. */
static void on_backend_ready(uvgo_embed_recv *r, int status, const void *value,
                             void *arg) {
  (void)r;
  (void)arg;
  if (status != 0 || *(const unsigned *)value == 0) {
    fprintf(stderr, "backend failed to start\n");
    uvgo_ctx_cancel(backend_ctx);
    return;
  }
  backend_port = *(const unsigned *)value;
  int port;
  if (service_start(&port) != 0) {
    uvgo_ctx_cancel(backend_ctx);
    return;
  }
  client_start(port);
}

int main(void) {
  /* libuv writes without MSG_NOSIGNAL: a program that writes to sockets
   * ignores SIGPIPE (uvgo_run does it for you; attach mode leaves it to
   * the host, see docs/embedding.md). */
  signal(SIGPIPE, SIG_IGN);
  if (uv_loop_init(&loop) != 0 || uvgo_rt_attach(&loop, NULL, &rt) != 0)
    return 1;
  uvgo_chan *ready = uvgo_chan_new(sizeof(unsigned), 1);
  if (ready == NULL || uvgo_ctx_with_cancel(uvgo_ctx_background(),
                                            &backend_ctx) != 0)
    return 1;
  if (uvgo_embed_spawn(rt, backend_ctx, backend_main, ready, backend_done) !=
          0 ||
      uvgo_embed_recv_one(rt, NULL, ready, on_backend_ready, NULL, NULL) != 0)
    return 1;
  uvgo_chan_release(ready); /* the receive holds its own reference */

  int r = uv_run(&loop, UV_RUN_DEFAULT);
  printf("uv_run returned %d\n", r);
  uvgo_ctx_release(backend_ctx);
  int closed = uvgo_rt_close(rt);
  uv_run(&loop, UV_RUN_DEFAULT);
  int lc = uv_loop_close(&loop);
  printf("uvgo_rt_close: %s, uv_loop_close: %d\n", uvgo_err_name(closed), lc);
  return closed == 0 && lc == 0 ? 0 : 1;
}
