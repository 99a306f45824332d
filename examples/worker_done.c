/* A worker listening on a job channel and a done channel: the basis of
 * graceful shutdown.
 *
 *   for {
 *     select {
 *     case job, ok := <-jobs: if !ok { return }; process(job)
 *     case <-done: return
 *     }
 *   }
 */
#include <stdio.h>
#include <uvgo.h>

typedef struct {
  uvgo_chan *jobs; /* int job ids */
  uvgo_chan *done; /* signal channel: closed to stop */
  uvgo_chan *finished;
} worker_arg;

static void worker(void *arg) {
  worker_arg *w = arg;
  for (;;) {
    int job = 0;
    uvgo_select_case cases[] = {UVGO_RECV_CASE(w->jobs, &job),
                                UVGO_RECV_CASE(w->done, NULL)};
    int r = uvgo_select(cases, 2);
    if (r == 0 && cases[0].status == UVGO_ECLOSED) {
      printf("jobs channel closed\n");
      break;
    }
    if (r == 1) {
      printf("shutdown signal received\n");
      break;
    }
    printf("processed job %d\n", job);
  }
  uvgo_chan_send(w->finished, NULL);
}

static void main_task(void *arg) {
  (void)arg;
  worker_arg w = {uvgo_chan_new(sizeof(int), 0), uvgo_chan_new(0, 0),
                  uvgo_chan_new(0, 0)};
  uvgo_go(worker, &w);
  for (int job = 1; job <= 3; job++)
    uvgo_chan_send(w.jobs, &job);
  uvgo_chan_close(w.done); /* every receiver of done wakes */
  uvgo_chan_recv(w.finished, NULL);
  uvgo_chan_release(w.jobs);
  uvgo_chan_release(w.done);
  uvgo_chan_release(w.finished);
}

int main(void) { return uvgo_run(NULL, main_task, NULL) == 0 ? 0 : 1; }
