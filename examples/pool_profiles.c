/* The article's pool.Run: fetch 200 user profiles with 10 concurrent
 * requests from a (fake) user service with latency and failures; a result
 * for every input, in input order, each with its error.
 *
 *   results := pool.Run(ctx, 10, userIDs, func(ctx, id) (*User, error) {
 *       return userService.GetUser(ctx, id)
 *   })
 */
#include <stdatomic.h>
#include <stdio.h>

#include <uvgo.h>

typedef struct {
  char name[24];
  int age;
} profile;

static _Atomic int in_flight, max_in_flight;

/* The fake service: 1-4 ms per call, user ids divisible by 17 fail. */
static int get_user(uvgo_ctx *ctx, const void *input, void *output,
                    void *arg) {
  (void)arg;
  int id = *(const int *)input;
  int now = atomic_fetch_add(&in_flight, 1) + 1;
  int seen = atomic_load(&max_in_flight);
  while (now > seen && !atomic_compare_exchange_weak(&max_in_flight, &seen, now)) {
  }
  int err = uvgo_sleep(1 + (uint64_t)(id % 4)); /* cancellation point */
  atomic_fetch_sub(&in_flight, 1);
  if (err != 0)
    return uvgo_ctx_err(ctx) != 0 ? uvgo_ctx_err(ctx) : err;
  if (id % 17 == 0)
    return UV_ECONNRESET;
  profile *p = output;
  snprintf(p->name, sizeof p->name, "user-%03d", id);
  p->age = 20 + id % 50;
  return 0;
}

static void main_task(void *arg) {
  (void)arg;
  enum { N = 200 };
  static int ids[N], errs[N];
  static profile profiles[N];
  for (int i = 0; i < N; i++)
    ids[i] = i + 1;
  uvgo_ctx *ctx;
  uvgo_ctx_with_timeout(uvgo_ctx_current(), 30000, &ctx);
  uvgo_pool_run(ctx, 10, ids, N, sizeof(int), get_user, NULL, profiles,
                sizeof(profile), errs);
  int ok = 0, failed = 0;
  for (int i = 0; i < N; i++) {
    if (errs[i] != 0) {
      failed++;
      if (failed <= 3)
        printf("failed to fetch user %d: %s\n", ids[i], uvgo_err_name(errs[i]));
      continue;
    }
    ok++;
  }
  printf("first: %s, last: %s\n", profiles[0].name, profiles[N - 1].name);
  printf("%d fetched, %d failed, at most %d in flight\n", ok, failed,
         atomic_load(&max_in_flight));
  uvgo_ctx_cancel(ctx);
  uvgo_ctx_release(ctx);
}

int main(void) {
  uvgo_config cfg = {.workers = 2};
  return uvgo_run(&cfg, main_task, NULL) == 0 ? 0 : 1;
}
