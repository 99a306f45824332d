/* The article's ProcessBatch, twice: first as written (WithTimeout, an
 * errs channel buffered to len(items), a WaitGroup, the first error
 * returned), then through a group, where the first error also cancels the
 * items still running. The article's timeout is 30 s; here 1 s, far more
 * than the fast items need even on a loaded machine.
 *
 *   ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
 *   defer cancel()
 */
#include <stdbool.h>
#include <stdio.h>

#include <uvgo.h>

#define BATCH_TIMEOUT_MS 1000

/* processOne: item 13 fails, item 7 is slow enough to hit the timeout
 * when it is in the batch. */
static int process_one(uvgo_ctx *ctx, int item) {
  (void)ctx;
  uint64_t ms = item == 7 ? 100000 : 2 + (uint64_t)(item % 5);
  int err = uvgo_sleep(ms); /* the task's context ends this early */
  if (err != 0)
    return err;
  return item == 13 ? UV_EPROTO : 0;
}

typedef struct {
  int item;
  uvgo_ctx *ctx;
  uvgo_chan *errs;
  uvgo_wg *wg;
} batch_job;

static void batch_item(void *arg) {
  batch_job *j = arg;
  int err = process_one(j->ctx, j->item);
  if (err != 0)
    uvgo_chan_try_send(j->errs, &err); /* select { case errs <- err: default: } */
  uvgo_wg_done(j->wg);
}

/* As the article writes it (timed_out is for the report). */
static int process_batch(uvgo_ctx *parent, const int *items, int n,
                         bool *timed_out) {
  uvgo_ctx *ctx;
  int err = uvgo_ctx_with_timeout(parent, BATCH_TIMEOUT_MS, &ctx);
  if (err != 0)
    return err;
  uvgo_chan *errs = uvgo_chan_new(sizeof(int), (size_t)n);
  uvgo_wg wg = UVGO_WG_INIT;
  for (int i = 0; i < n; i++) {
    uvgo_wg_add(&wg, 1);
    batch_job j = {items[i], ctx, errs, &wg};
    uvgo_spawn_opts opts = {.worker = -1, .ctx = ctx, .copy = &j,
                            .copy_size = sizeof j};
    uvgo_go_opts(&opts, batch_item, NULL);
  }
  uvgo_wg_wait(&wg);
  uvgo_chan_close(errs);
  int first = 0;
  if (uvgo_chan_recv(errs, &first) != 0) /* for err := range errs */
    first = 0;
  uvgo_chan_release(errs);
  *timed_out = uvgo_ctx_err(ctx) == UV_ETIMEDOUT;
  uvgo_ctx_cancel(ctx); /* defer cancel() */
  uvgo_ctx_release(ctx);
  return first;
}

/* Through a group: the first error cancels the rest at once. */
static int group_item(uvgo_ctx *ctx, void *arg) {
  return process_one(ctx, (int)(intptr_t)arg);
}

static int process_batch_group(uvgo_ctx *parent, const int *items, int n,
                               bool *timed_out) {
  uvgo_ctx *ctx;
  uvgo_group *g;
  int err = uvgo_ctx_with_timeout(parent, BATCH_TIMEOUT_MS, &ctx);
  if (err != 0)
    return err;
  err = uvgo_group_new(ctx, 0, &g);
  if (err == 0) {
    for (int i = 0; i < n; i++)
      uvgo_group_go(g, group_item, (void *)(intptr_t)items[i]);
    err = uvgo_group_wait(g);
    uvgo_group_free(g);
  }
  *timed_out = uvgo_ctx_err(ctx) == UV_ETIMEDOUT;
  uvgo_ctx_cancel(ctx);
  uvgo_ctx_release(ctx);
  return err;
}

/* The label comes from the batch's context: ETIMEDOUT exactly when the
 * batch ran into its deadline, which a stopwatch started outside it can
 * only approximate. */
static void report(const char *how, const char *what, int err, bool timed_out) {
  printf("%s, %s: %s (%s)\n", how, what, uvgo_err_name(err),
         timed_out ? "at the timeout" : "before the timeout");
}

static void main_task(void *arg) {
  (void)arg;
  int good[] = {1, 2, 3, 4, 5, 6, 8, 9};
  int failing[] = {1, 2, 13, 4, 5};
  int slow[] = {1, 2, 7, 4};
  int slow_and_failing[] = {7, 13, 1};
  struct {
    const char *what;
    const int *items;
    int n;
  } batches[] = {{"good batch", good, 8},
                 {"a failing item", failing, 5},
                 {"a slow item", slow, 4},
                 {"slow and failing", slow_and_failing, 3}};
  for (int b = 0; b < 4; b++) {
    bool timed_out = false;
    int err = process_batch(uvgo_ctx_current(), batches[b].items, batches[b].n,
                            &timed_out);
    report("wg", batches[b].what, err, timed_out);
    err = process_batch_group(uvgo_ctx_current(), batches[b].items,
                              batches[b].n, &timed_out);
    report("group", batches[b].what, err, timed_out);
  }
}

int main(void) {
  uvgo_config cfg = {.workers = 2};
  return uvgo_run(&cfg, main_task, NULL) == 0 ? 0 : 1;
}
