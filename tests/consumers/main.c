/* A program that uses an installed uvgo the way a user would: tasks, a
 * channel, a WaitGroup and a context, through <uvgo.h> only. Built by
 * tests/check-consumers.sh with pkg-config (shared and --static), as a
 * meson subproject and with CMake's find_package(uvgo). */
#include <stdio.h>
#include <uvgo.h>

static uvgo_wg wg;

static void square(void *arg) {
  uvgo_chan *ch = arg;
  for (int i = 1; i <= 4; i++) {
    int v = i * i;
    uvgo_chan_send(ch, &v);
  }
  uvgo_wg_done(&wg);
}

static void main_task(void *arg) {
  int *sum = arg;
  uvgo_chan *ch = uvgo_chan_new(sizeof(int), 0);
  uvgo_wg_add(&wg, 1);
  uvgo_go(square, ch);
  for (int i = 0; i < 4; i++) {
    int v;
    if (uvgo_chan_recv(ch, &v) == 0)
      *sum += v;
  }
  uvgo_wg_wait(&wg);
  uvgo_chan_release(ch);
  uvgo_ctx *ctx;
  if (uvgo_ctx_with_timeout(uvgo_ctx_background(), 1, &ctx) == 0) {
    int v;
    if (uvgo_chan_recv(uvgo_ctx_done(ctx), &v) == UVGO_ECLOSED)
      *sum += 1000; /* the deadline closed done */
    uvgo_ctx_release(ctx);
  }
}

int main(void) {
  int sum = 0;
  int err = uvgo_run(NULL, main_task, &sum);
  printf("uvgo %s consumer: sum %d (%s)\n", uvgo_version_string(), sum,
         uvgo_err_name(err));
  return err == 0 && sum == 1030 ? 0 : 1;
}
