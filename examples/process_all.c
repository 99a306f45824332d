/* The article's WaitGroup snippet:
 *
 *   func processAll(items []Item) {
 *       var wg sync.WaitGroup
 *       for _, item := range items {
 *           wg.Add(1)
 *           go func(it Item) { defer wg.Done(); process(it) }(item)
 *       }
 *       wg.Wait()
 *       fmt.Println("all items processed")
 *   }
 *
 * wg.Add before the spawn, as the article says; uvgo_go_copy passes the
 * item by value, as the closure's parameter does. */
#include <stdatomic.h>
#include <stdio.h>

#include <uvgo.h>

typedef struct {
  int id;
  uvgo_wg *wg;
} item_job;

static _Atomic int processed;

static void process(void *arg) {
  item_job *job = arg;
  uvgo_sleep((uint64_t)(job->id % 3)); /* some work that waits */
  atomic_fetch_add(&processed, 1);
  uvgo_wg_done(job->wg);
}

static void process_all(int n) {
  uvgo_wg wg = UVGO_WG_INIT;
  for (int i = 0; i < n; i++) {
    uvgo_wg_add(&wg, 1);
    item_job job = {i, &wg};
    uvgo_go_copy(process, &job, sizeof job);
  }
  uvgo_wg_wait(&wg);
  printf("all items processed (%d)\n", atomic_load(&processed));
}

static void main_task(void *arg) {
  (void)arg;
  process_all(100);
}

int main(void) { return uvgo_run(NULL, main_task, NULL) == 0 ? 0 : 1; }
