/* Graceful shutdown: with cancel_on_signal, SIGINT or SIGTERM cancels the
 * root context, and the whole program winds down through its tasks'
 * cancellation points — no flags, no shutdown channel to thread through.
 *
 * A "service" of three workers handling ticks; send SIGTERM (or press
 * Ctrl-C) and each finishes its current item, runs its cleanup, and the
 * program exits 0. It gives up by itself after 10 seconds. */
#include <stdio.h>

#include <uvgo.h>

static void service_worker(void *arg) {
  int id = *(int *)arg;
  int handled = 0;
  for (;;) {
    int err = uvgo_sleep(5); /* waiting for work: a cancellation point */
    if (err != 0) {
      printf("worker %d stopping (%s) after %s items\n", id, uvgo_err_name(err),
             handled > 0 ? "some" : "no");
      break;
    }
    handled++;
  }
}

static void main_task(void *arg) {
  (void)arg;
  for (int i = 1; i <= 3; i++)
    uvgo_go_copy(service_worker, &i, sizeof i);
  printf("ready\n");
  fflush(stdout);
  /* Main waits for the signal too, with a limit of its own. */
  int err = uvgo_chan_recv(uvgo_after(10000), NULL);
  printf("main: %s\n", err == UV_ECANCELED ? "shutdown requested" : "timed out");
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  uvgo_config cfg = {.workers = 2, .cancel_on_signal = 1};
  int err = uvgo_run(&cfg, main_task, NULL);
  printf("shutdown complete: %s\n", uvgo_err_name(err));
  return err == 0 ? 0 : 1;
}
