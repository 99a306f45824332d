/* The article's collect snippet: WaitGroup + buffered results channel +
 * the closer task that closes the channel once every worker is done, so
 * the collector's range loop ends.
 *
 *   go func() { wg.Wait(); close(results) }()
 *   for r := range results { out = append(out, r) }
 */
#include <stdio.h>

#include <uvgo.h>

typedef struct {
  int item;
  int error;
} result;

typedef struct {
  int item;
  uvgo_wg *wg;
  uvgo_chan *results;
} work;

static int process(int item) {
  uvgo_sleep((uint64_t)(item % 4));
  return item % 5 == 0 ? UV_EIO : 0; /* every fifth item fails */
}

static void worker(void *arg) {
  work *w = arg;
  result r = {w->item, process(w->item)};
  uvgo_chan_send(w->results, &r); /* buffered to len(items): never blocks */
  uvgo_wg_done(w->wg);
}

typedef struct {
  uvgo_wg *wg;
  uvgo_chan *results;
} closer_arg;

static void closer(void *arg) {
  closer_arg *c = arg;
  uvgo_wg_wait(c->wg);
  uvgo_chan_close(c->results);
}

static void main_task(void *arg) {
  (void)arg;
  enum { N = 20 };
  uvgo_chan *results = uvgo_chan_new(sizeof(result), N);
  uvgo_wg wg = UVGO_WG_INIT;
  for (int i = 1; i <= N; i++) {
    uvgo_wg_add(&wg, 1);
    work w = {i, &wg, results};
    uvgo_go_copy(worker, &w, sizeof w);
  }
  closer_arg c = {&wg, results};
  uvgo_go(closer, &c);

  int ok = 0, failed = 0;
  result r;
  while (uvgo_chan_recv(results, &r) == 0) /* for r := range results */
    r.error == 0 ? ok++ : failed++;
  printf("collected %d results: %d ok, %d failed\n", ok + failed, ok, failed);
  uvgo_chan_release(results);
}

int main(void) { return uvgo_run(NULL, main_task, NULL) == 0 ? 0 : 1; }
