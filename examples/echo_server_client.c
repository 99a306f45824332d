/* An echo server and a client in one program (Go's net.Listen / Accept /
 * Dial), with every client call bounded by a context.
 *
 *   ln, _ := net.Listen("tcp", "127.0.0.1:0")
 *   go func() { for { c, err := ln.Accept(); ...; go io.Copy(c, c) } }()
 *   ctx, cancel := context.WithTimeout(ctx, time.Second)
 *   c, _ := d.DialContext(ctx, "tcp", ln.Addr().String())
 */
#include <stdio.h>
#include <string.h>
#include <uvgo.h>

typedef struct {
  uvgo_listener *ln;
  uvgo_ctx *stop;      /* cancelled to stop accepting */
  uvgo_chan *stopped;  /* the server is done */
  int handled;
} server;

/* One task per connection, pinned to the accepting worker: a connection
 * belongs to the worker that opened it. */
static void echo(void *arg) {
  uvgo_conn *c = arg;
  char buf[4096];
  ssize_t n;
  while ((n = uvgo_conn_read(NULL, c, buf, sizeof buf)) > 0)
    if (uvgo_conn_write(NULL, c, buf, (size_t)n) != 0)
      break;
  uvgo_conn_close(c);
}

static void serve(void *arg) {
  server *s = arg;
  for (;;) {
    uvgo_conn *c;
    int err = uvgo_accept(s->stop, s->ln, &c);
    if (err == UV_ECANCELED)
      break;
    if (err != 0) {
      fprintf(stderr, "accept: %s\n", uvgo_strerror(err));
      continue; /* e.g. out of descriptors: keep serving */
    }
    s->handled++;
    uvgo_go_on((unsigned)uvgo_worker_id(), echo, c);
  }
  uvgo_listener_close(s->ln);
  uvgo_chan_close(s->stopped);
}

static void client(unsigned port) {
  uvgo_ctx *ctx;
  uvgo_ctx_with_timeout(uvgo_ctx_current(), 1000, &ctx);
  uvgo_conn *c;
  int err = uvgo_dial(ctx, "127.0.0.1", port, &c);
  if (err != 0) {
    printf("dial: %s\n", uvgo_strerror(err));
    goto out;
  }
  const char *msg = "hello, uvgo";
  char buf[64] = {0};
  size_t got = 0;
  err = uvgo_conn_write(ctx, c, msg, strlen(msg));
  while (err == 0 && got < strlen(msg)) {
    ssize_t n = uvgo_conn_read(ctx, c, buf + got, sizeof buf - 1 - got);
    if (n < 0)
      err = (int)n;
    else
      got += (size_t)n;
  }
  if (err == 0)
    printf("echo: %s\n", buf);

  /* Nothing sent, nothing comes back: a short deadline ends the read, and
   * the connection stays usable. */
  uvgo_ctx *quick;
  uvgo_ctx_with_timeout(ctx, 50, &quick);
  ssize_t n = uvgo_conn_read(quick, c, buf, sizeof buf);
  printf("no reply within 50 ms: %s\n", uvgo_strerror((int)n));
  uvgo_ctx_release(quick);

  uvgo_conn_close(c);
out:
  uvgo_ctx_cancel(ctx);
  uvgo_ctx_release(ctx);
}

static void main_task(void *arg) {
  (void)arg;
  server s = {0};
  if (uvgo_listen("127.0.0.1", 0, 128, &s.ln) != 0)
    return;
  printf("listening on 127.0.0.1:%u\n", uvgo_listener_port(s.ln));
  uvgo_ctx_with_cancel(uvgo_ctx_current(), &s.stop);
  s.stopped = uvgo_chan_new(0, 0);
  uvgo_go_on((unsigned)uvgo_worker_id(), serve, &s);

  client(uvgo_listener_port(s.ln));

  uvgo_ctx_cancel(s.stop);
  uvgo_chan_recv(s.stopped, NULL);
  printf("server handled %d connection(s)\n", s.handled);
  uvgo_ctx_release(s.stop);
  uvgo_chan_release(s.stopped);
}

int main(void) { return uvgo_run(NULL, main_task, NULL) == 0 ? 0 : 1; }
