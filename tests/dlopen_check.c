/* libuvgo.so loaded with dlopen after the program started (a plugin's
 * way), then used: its thread-locals use the initial-exec model
 * (internal.h, UVGO__TLS_FAST), which must still fit the static TLS that
 * glibc keeps for late loads. Tasks on two workers exchange values over a
 * channel, so every fast thread-local is used on a worker thread and on
 * this one. Exit 0 on success. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "uvgo.h"

typedef struct {
  uvgo_chan *(*chan_new)(size_t, size_t);
  int (*chan_send)(uvgo_chan *, const void *);
  int (*chan_recv)(uvgo_chan *, void *);
  int (*chan_release)(uvgo_chan *);
  int (*go_opts)(const uvgo_spawn_opts *, uvgo_fn, void *, const char *, int);
  int (*run)(const uvgo_config *, uvgo_fn, void *);
  uvgo_chan *ch;
  long sum;
} api;

static api lib;

static void *must_sym(void *h, const char *name) {
  void *p = dlsym(h, name);
  if (p == NULL) {
    fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
    exit(1);
  }
  return p;
}

static void producer(void *arg) {
  (void)arg;
  for (int i = 1; i <= 1000; i++)
    if (lib.chan_send(lib.ch, &i) != 0)
      exit(3);
}

static void main_task(void *arg) {
  (void)arg;
  lib.ch = lib.chan_new(sizeof(int), 0);
  uvgo_spawn_opts opts = {.worker = 1};
  if (lib.ch == NULL || lib.go_opts(&opts, producer, NULL, __FILE__, __LINE__))
    exit(4);
  for (int i = 0; i < 1000; i++) {
    int v;
    if (lib.chan_recv(lib.ch, &v) != 0)
      exit(5);
    lib.sum += v;
  }
  lib.chan_release(lib.ch);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s LIBUVGO_SO\n", argv[0]);
    return 2;
  }
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  lib.chan_new = (uvgo_chan * (*)(size_t, size_t)) must_sym(h, "uvgo_chan_new");
  lib.chan_send = (int (*)(uvgo_chan *, const void *))must_sym(h, "uvgo_chan_send");
  lib.chan_recv = (int (*)(uvgo_chan *, void *))must_sym(h, "uvgo_chan_recv");
  lib.chan_release = (int (*)(uvgo_chan *))must_sym(h, "uvgo_chan_release");
  lib.go_opts = (int (*)(const uvgo_spawn_opts *, uvgo_fn, void *, const char *,
                         int))must_sym(h, "uvgo_go_opts_at");
  lib.run = (int (*)(const uvgo_config *, uvgo_fn, void *))must_sym(h, "uvgo_run");
  uvgo_config cfg = {0};
  cfg.workers = 2;
  int rc = lib.run(&cfg, main_task, NULL);
  if (rc != 0 || lib.sum != 500500) {
    fprintf(stderr, "uvgo_run %d, sum %ld\n", rc, lib.sum);
    return 1;
  }
  return 0;
}
