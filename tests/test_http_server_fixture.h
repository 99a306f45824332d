/* Shared by the HTTP server tests: a server on 127.0.0.1 in a task,
 * stopped by cancelling its context, and a way to run an external client
 * (curl, wrk, python3) off the loop and capture what it printed. */
#ifndef UVGO_TEST_HTTP_SERVER_FIXTURE_H
#define UVGO_TEST_HTTP_SERVER_FIXTURE_H

#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct hs_fixture {
  uvgo_http_server_config cfg;
  uvgo_http_handler handler;
  void *arg;
  uvgo_ctx *ctx;      /* cancel to shut the server down */
  uvgo_listener *ln;
  unsigned port;
  uvgo_wg done;
  int serve_err;
  int workers_shared; /* serve on every worker */
} hs_fixture;

__attribute__((unused)) static void hs_serve_task(void *arg) {
  hs_fixture *f = arg;
  if (f->workers_shared)
    f->serve_err = uvgo_http_serve_shared(f->ctx, f->ln, &f->cfg, f->handler,
                                          f->arg);
  else
    f->serve_err = uvgo_http_serve(f->ctx, f->ln, &f->cfg, f->handler, f->arg);
  uvgo_wg_done(&f->done);
}

static void hs_start(hs_fixture *f) {
  ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_background(), &f->ctx));
  if (f->workers_shared)
    ASSERT_OK(uvgo_listen_shared("127.0.0.1", 0, 0, &f->ln));
  else
    ASSERT_OK(uvgo_listen("127.0.0.1", 0, 0, &f->ln));
  f->port = uvgo_listener_port(f->ln);
  ASSERT_GT(f->port, 0);
  uvgo_wg_add(&f->done, 1);
  ASSERT_OK(uvgo_go_on((unsigned)uvgo_worker_id(), hs_serve_task, f));
}

static void hs_stop(hs_fixture *f) {
  ASSERT_OK(uvgo_ctx_cancel(f->ctx));
  ASSERT_OK(uvgo_wg_wait(&f->done));
  ASSERT_OK(f->serve_err);
  ASSERT_OK(uvgo_ctx_release(f->ctx));
}

/* A shell command run on libuv's thread pool (the worker keeps serving). */
typedef struct hs_cmd {
  char cmd[2048];
  char *out;   /* malloc'd (libc: not uvgo's allocator), NUL-terminated */
  size_t len;
  int status;  /* exit code, or -1 */
} hs_cmd;

static void hs_cmd_fn(void *arg) {
  hs_cmd *c = arg;
  FILE *p = popen(c->cmd, "r");
  c->out = NULL;
  c->len = 0;
  c->status = -1;
  if (p == NULL)
    return;
  size_t cap = 0;
  for (;;) {
    if (cap - c->len < 4096) {
      cap = cap ? cap * 2 : 65536;
      c->out = realloc(c->out, cap);
      if (c->out == NULL)
        abort();
    }
    size_t n = fread(c->out + c->len, 1, cap - c->len - 1, p);
    if (n == 0)
      break;
    c->len += n;
  }
  c->out[c->len] = '\0';
  int st = pclose(p);
  c->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Run the printf-formatted command (stderr joined to stdout); the caller
 * frees ->out with free(). */
__attribute__((format(printf, 2, 3), unused)) static void hs_run(hs_cmd *c,
                                                         const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(c->cmd, sizeof c->cmd - 8, fmt, ap);
  va_end(ap);
  ASSERT(n > 0 && (size_t)n < sizeof c->cmd - 8);
  memcpy(c->cmd + n, " 2>&1", 6);
  ASSERT_OK(uvgo_work(NULL, hs_cmd_fn, c));
  ASSERT_NOT_NULL(c->out);
}

__attribute__((unused)) static bool hs_have(const char *prog) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", prog);
  return system(cmd) == 0;
}

#endif
