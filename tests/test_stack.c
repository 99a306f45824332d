/* Stacks: sizing, errors, guard modes and their fallbacks, overflow
 * reports, chaining to a prior SIGSEGV handler, high water, and scale. */
#include "harness.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fiber.h"
#include "core/internal.h"
#include "uvgo_config.h"

static uvgo__fiber main_fiber;

UVGO_TEST(stack_sizes_are_checked, unit, 10) {
  uvgo__stack_pool *pool;
  ASSERT_ERR(uvgo__stack_pool_new(1024, &pool), UV_EINVAL);
  ASSERT_ERR(uvgo__stack_pool_new(UVGO__STACK_MIN_SIZE - 1, &pool), UV_EINVAL);
  ASSERT_ERR(uvgo__stack_pool_new((size_t)UVGO__STACK_MAX_SIZE + 1, &pool),
             UV_EINVAL);
  ASSERT_ERR(uvgo__stack_pool_new(SIZE_MAX, &pool), UV_EINVAL);
  ASSERT_OK(uvgo__stack_pool_new(0, &pool));
  uvgo__stack *st, *tiny, *big;
  ASSERT_OK(uvgo__stack_get(pool, 0, &st));
  ASSERT_UGE(st->size, UVGO__STACK_DEFAULT_SIZE);
  ASSERT_ULE(st->size, UVGO__STACK_DEFAULT_SIZE + 4096);
  ASSERT_EQ((uintptr_t)st->base % 4096, 0);
  ASSERT_EQ(((uintptr_t)st->base + st->size) % 16, 0);
  ASSERT_ERR(uvgo__stack_get(pool, 100, &tiny), UV_EINVAL);
  ASSERT_ERR(uvgo__stack_get(pool, SIZE_MAX, &tiny), UV_EINVAL);
  ASSERT_ERR(uvgo__stack_get(pool, (size_t)UVGO__STACK_MAX_SIZE + 1, &tiny),
             UV_EINVAL);
  ASSERT_OK(uvgo__stack_get(pool, UVGO__STACK_MIN_SIZE, &tiny));
  ASSERT_UGE(tiny->size, UVGO__STACK_MIN_SIZE);
  ASSERT_OK(uvgo__stack_get(pool, 4u << 20, &big));
  ASSERT_UGE(big->size, 4u << 20);
  /* Every stack is found by address, body and guard. */
  bool in_guard = true;
  ASSERT_PTR_EQ(uvgo__stack_find((char *)big->base + 100, &in_guard), big);
  ASSERT(!in_guard);
  ASSERT_PTR_EQ(uvgo__stack_find((char *)tiny->base - 1, &in_guard), tiny);
  ASSERT(in_guard);
  ASSERT_PTR_EQ(
      uvgo__stack_find((char *)st->base - UVGO__GUARD_SIZE, &in_guard), st);
  ASSERT(in_guard);
  ASSERT_NULL(uvgo__stack_find(&in_guard, NULL));
  uvgo__stack_put(pool, st);
  uvgo__stack_put(pool, tiny);
  uvgo__stack_put(pool, big);
  /* Sizes come back from the right class. */
  uvgo__stack *again;
  ASSERT_OK(uvgo__stack_get(pool, 4u << 20, &again));
  ASSERT_PTR_EQ(again, big);
  uvgo__stack_put(pool, again);
  uvgo__stack_pool_free(pool);
  uvgo__stack_pool_free(NULL);
}

UVGO_TEST(stack_enomem_from_allocator_and_mmap, unit, 10) {
  uvgo__stack_pool *pool;
  uvgo__stack *st;
  for (long n = 1; n <= 2; n++) {
    uvgo_test_fail_allocation(n);
    ASSERT_ERR(uvgo__stack_pool_new(0, &pool), UV_ENOMEM);
  }
  uvgo_test_fail_allocation(0);
  ASSERT_OK(uvgo__stack_pool_new(0, &pool));
  /* The first get needs an arena record. */
  uvgo_test_fail_allocation(1);
  ASSERT_ERR(uvgo__stack_get(pool, 0, &st), UV_ENOMEM);
  ASSERT_OK(uvgo_fault_inject(UVGO_FAULT_MMAP, 1));
  ASSERT_ERR(uvgo__stack_get(pool, 0, &st), UV_ENOMEM);
  if (uvgo__stack_guard_mode() == UVGO__GUARD_MADVISE) {
    ASSERT_OK(uvgo_fault_inject(UVGO_FAULT_MADVISE, 1));
    ASSERT_ERR(uvgo__stack_get(pool, 0, &st), UV_ENOMEM);
  }
  /* A new size class allocates too. */
  uvgo_test_fail_allocation(1);
  ASSERT_ERR(uvgo__stack_get(pool, 1u << 20, &st), UV_ENOMEM);
  /* The pool is still usable afterwards, and nothing leaked. */
  ASSERT_OK(uvgo__stack_get(pool, 0, &st));
  ((volatile char *)st->base)[st->size - 1] = 1;
  uvgo__stack *st2;
  ASSERT_OK(uvgo__stack_get(pool, 1u << 20, &st2));
  uvgo__stack_put(pool, st);
  uvgo__stack_put(pool, st2);
  uvgo__stack_pool_free(pool);
}

/* --- guard modes --- */

static int count_maps(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (f == NULL)
    return -1;
  int n = 0, c;
  while ((c = fgetc(f)) != EOF)
    n += c == '\n';
  fclose(f);
  return n;
}

UVGO_TEST(stack_madvise_guards_keep_map_count_flat, unit, 30) {
  if (uvgo__stack_guard_mode() != UVGO__GUARD_MADVISE)
    uvgo_test_skip("MADV_GUARD_INSTALL not available");
  enum { N = 2000 };
  uvgo__stack_pool *pool;
  ASSERT_OK(uvgo__stack_pool_new(UVGO__STACK_MIN_SIZE, &pool));
  uvgo__stack **sts = uvgo__calloc(N, sizeof *sts);
  int before = count_maps();
  for (int i = 0; i < N; i++) {
    ASSERT_OK(uvgo__stack_get(pool, 0, &sts[i]));
    ASSERT_EQ(sts[i]->guard, UVGO__GUARD_MADVISE);
  }
  int after = count_maps();
  /* One mapping per arena (a handful), not two per guard. */
  ASSERT_LT(after - before, 40);
  for (int i = 0; i < N; i++)
    uvgo__stack_put(pool, sts[i]);
  uvgo__free(sts);
  uvgo__stack_pool_free(pool);
}

UVGO_TEST(stack_hundred_thousand_guarded_fit, stress, 120) {
  long n = uvgo_test_scaled(100000, 2000);
  uvgo__stack_pool *pool;
  ASSERT_OK(uvgo__stack_pool_new(0, &pool));
  uvgo__stack **sts = uvgo__calloc((size_t)n, sizeof *sts);
  ASSERT_NOT_NULL(sts);
  uvgo__guard_mode mode = uvgo__stack_guard_mode();
  for (long i = 0; i < n; i++) {
    ASSERT_OK(uvgo__stack_get(pool, 0, &sts[i]));
    ((volatile char *)sts[i]->base)[sts[i]->size - 64] = (char)i;
    if (mode == UVGO__GUARD_MADVISE)
      ASSERT_EQ(sts[i]->guard, UVGO__GUARD_MADVISE);
  }
  ASSERT_PTR_EQ(uvgo__stack_find((char *)sts[n / 2]->base - 1, NULL),
                sts[n / 2]);
  for (long i = 0; i < n; i++)
    uvgo__stack_put(pool, sts[i]);
  uvgo__free(sts);
  uvgo__stack_pool_free(pool);
}

/* Prints the process guard mode and that of a stack, and survives a fiber. */
static void worker_finish(void *arg) {
  volatile char buf[2048];
  buf[0] = 1;
  (void)buf[0];
  *(int *)arg = 1;
  uvgo__fiber_switch_final(NULL, &main_fiber);
}

static void guard_mode_probe(void) {
  uvgo__stack_pool *pool;
  uvgo__stack *st;
  ASSERT_OK(uvgo__stack_pool_new(0, &pool));
  ASSERT_OK(uvgo__stack_get(pool, 0, &st));
  uvgo__fiber_init_thread(&main_fiber);
  uvgo__fiber f;
  int ran = 0;
  uvgo__fiber_make(&f, st, worker_finish, &ran);
  uvgo__fiber_switch(&main_fiber, &f);
  uvgo__fiber_destroy(&f);
  ASSERT_EQ(ran, 1);
  printf("mode=%s stack=%s\n",
         uvgo__stack_guard_mode_name(uvgo__stack_guard_mode()),
         uvgo__stack_guard_mode_name(st->guard));
  fflush(stdout);
  uvgo__stack_put(pool, st);
  uvgo__stack_pool_free(pool);
}

UVGO_TEST_HELPER(guard_mode_probe) {
  exit(uvgo_test_run_as_case("guard_mode_probe", guard_mode_probe));
}

UVGO_TEST(stack_guard_fallbacks_forced_by_env, unit, 30) {
  char out[4096];
  int status = uvgo_test_spawn_helper("guard_mode_probe", "UVGO_GUARD=mprotect",
                                      out, sizeof out);
  ASSERT(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ASSERT_STR_CONTAINS(out, "mode=mprotect stack=mprotect");
  status = uvgo_test_spawn_helper("guard_mode_probe", "UVGO_GUARD=canary", out,
                                  sizeof out);
  ASSERT(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ASSERT_STR_CONTAINS(out, "mode=canary stack=canary");
  status = uvgo_test_spawn_helper("guard_mode_probe", NULL, out, sizeof out);
  ASSERT(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ASSERT_STR_CONTAINS(out, "mode=");
}

/* --- overflow --- */

static volatile long depth_limit = 1L << 40;

static long recurse(long n) {
  volatile char pad[200];
  pad[0] = (char)n;
  if (n > depth_limit)
    return 0;
  return recurse(n + 1) + pad[0];
}

static void deep_entry(void *arg) {
  (void)arg;
  recurse(0);
  uvgo__fiber_switch_final(NULL, &main_fiber);
}

static void big_frame_entry(void *arg) {
  /* 1 MiB in one frame: only stack-clash probing stops it at the guard. */
  volatile char big[1 << 20];
  big[0] = 1;
  big[sizeof big - 1] = (char)(uintptr_t)arg;
  (void)big[0];
  uvgo__fiber_switch_final(NULL, &main_fiber);
}

/* The owner site the overflow report must name. */
#define OWNER_FILE "spawner.c"
#define OWNER_LINE 4242

static void overflow_child(uvgo__fiber_entry entry) {
  ASSERT_OK(uvgo__overflow_handler_install());
  ASSERT_OK(uvgo__altstack_thread_init());
  uvgo__stack_pool *pool;
  uvgo__stack *st;
  ASSERT_OK(uvgo__stack_pool_new(128 * 1024, &pool));
  ASSERT_OK(uvgo__stack_get(pool, 0, &st));
  uvgo__stack_set_owner(st, OWNER_FILE, OWNER_LINE);
  uvgo__fiber_init_thread(&main_fiber);
  uvgo__fiber f;
  uvgo__fiber_make(&f, st, entry, NULL);
  uvgo__fiber_switch(&main_fiber, &f);
  if (st->guard == UVGO__GUARD_CANARY) {
    uvgo__stack_put(pool, st); /* the canary check reports and aborts */
  }
  printf("survived overflow\n");
  exit(0);
}

UVGO_TEST_HELPER(overflow_recursion) { overflow_child(deep_entry); }
UVGO_TEST_HELPER(overflow_big_frame) { overflow_child(big_frame_entry); }

static void expect_overflow_report(const char *helper, const char *env) {
  char out[16384];
  int status = uvgo_test_spawn_helper(helper, env, out, sizeof out);
  if (!WIFSIGNALED(status))
    uvgo_test_fail(__FILE__, __LINE__, "%s (%s) did not die by a signal: %s",
                   helper, env ? env : "", out);
  ASSERT_EQ(WTERMSIG(status), SIGSEGV);
  ASSERT_STR_CONTAINS(out, "stack overflow in task spawned at " OWNER_FILE
                           ":4242");
}

UVGO_TEST(stack_overflow_recursion_is_reported, unit, 30) {
  expect_overflow_report("overflow_recursion", NULL);
}

UVGO_TEST(stack_overflow_big_frame_is_reported, unit, 30) {
  expect_overflow_report("overflow_big_frame", NULL);
}

UVGO_TEST(stack_overflow_with_mprotect_guards, unit, 30) {
  expect_overflow_report("overflow_recursion", "UVGO_GUARD=mprotect");
}

static void canary_smash_entry(void *arg) {
  /* Past the bottom of the stack into the canary, as a small overflow
   * would, without reaching further. */
  uvgo__stack *st = arg;
  memset((char *)st->base - 32, 0x11, 64);
  uvgo__fiber_switch_final(NULL, &main_fiber);
}

UVGO_TEST_HELPER(canary_smash) {
  uvgo__stack_pool *pool;
  uvgo__stack *st;
  ASSERT_OK(uvgo__stack_pool_new(0, &pool));
  ASSERT_OK(uvgo__stack_get(pool, 0, &st));
  ASSERT_EQ(st->guard, UVGO__GUARD_CANARY);
  uvgo__stack_set_owner(st, OWNER_FILE, OWNER_LINE);
  uvgo__fiber_init_thread(&main_fiber);
  uvgo__fiber f;
  uvgo__fiber_make(&f, st, canary_smash_entry, st);
  uvgo__fiber_switch(&main_fiber, &f);
  uvgo__stack_put(pool, st);
  printf("canary not checked\n");
  exit(0);
}

UVGO_TEST(stack_canary_mode_catches_overrun_at_put, unit, 30) {
  char out[4096];
  int status =
      uvgo_test_spawn_helper("canary_smash", "UVGO_GUARD=canary", out, sizeof out);
  ASSERT(WIFSIGNALED(status));
  ASSERT_EQ(WTERMSIG(status), SIGABRT);
  ASSERT_STR_CONTAINS(out, "stack overflow in task spawned at " OWNER_FILE
                           ":4242 (canary clobbered");
}

static void prior_handler(int sig, siginfo_t *si, void *uc) {
  (void)sig, (void)si, (void)uc;
  static const char msg[] = "prior handler ran\n";
  ssize_t w = write(1, msg, sizeof msg - 1);
  (void)w;
  _exit(3);
}

/* Below mmap_min_addr, so never mapped; not NULL, so UBSan lets the store
 * through to the fault. */
static volatile uintptr_t wild_address = 16;

static void null_write_entry(void *arg) {
  (void)arg;
  *(volatile int *)wild_address = 1;
  uvgo__fiber_switch_final(NULL, &main_fiber);
}

UVGO_TEST_HELPER(chain_prior_handler) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = prior_handler;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGSEGV, &sa, NULL), 0);
  ASSERT_OK(uvgo__overflow_handler_install());
  ASSERT_OK(uvgo__altstack_thread_init());
  /* A wild write inside a task: not a guard hit, so it goes on. */
  uvgo__stack_pool *pool;
  uvgo__stack *st;
  ASSERT_OK(uvgo__stack_pool_new(0, &pool));
  ASSERT_OK(uvgo__stack_get(pool, 0, &st));
  uvgo__fiber_init_thread(&main_fiber);
  uvgo__fiber f;
  uvgo__fiber_make(&f, st, null_write_entry, NULL);
  uvgo__fiber_switch(&main_fiber, &f);
  exit(0);
}

UVGO_TEST_HELPER(chain_default) {
  ASSERT_OK(uvgo__overflow_handler_install());
  ASSERT_OK(uvgo__altstack_thread_init());
  *(volatile int *)wild_address = 1;
  exit(0);
}

UVGO_TEST(stack_handler_chains_to_prior_handler, unit, 30) {
  char out[4096];
  int status = uvgo_test_spawn_helper("chain_prior_handler", NULL, out, sizeof out);
  ASSERT(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 3);
  ASSERT_STR_CONTAINS(out, "prior handler ran");
  ASSERT(strstr(out, "stack overflow") == NULL);
  /* With the default disposition before us, a stray fault still kills (a
   * sanitizer's handler, when there is one, reports and exits non-zero). */
  status = uvgo_test_spawn_helper("chain_default", NULL, out, sizeof out);
  ASSERT(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
  ASSERT(strstr(out, "stack overflow") == NULL);
}

/* --- high water --- */

static void touch_entry(void *arg) {
  size_t bytes = *(size_t *)arg;
  if (bytes > 0) {
    volatile char buf[4096];
    buf[0] = 1;
    size_t more = bytes > sizeof buf ? bytes - sizeof buf : 0;
    touch_entry(&more);
    (void)buf[0];
  }
}

static void hw_entry(void *arg) {
  touch_entry(arg);
  uvgo__fiber_switch_final(NULL, &main_fiber);
}

UVGO_TEST(stack_high_water_grows_and_is_trimmed, unit, 30) {
  uvgo__stack_pool *pool;
  uvgo__stack *st;
  ASSERT_OK(uvgo__stack_pool_new(0, &pool));
  ASSERT_OK(uvgo__stack_get(pool, 0, &st));
  uvgo__fiber_init_thread(&main_fiber);
  uvgo__fiber f;
  size_t shallow = 0, deep = 128 * 1024;
  uvgo__fiber_make(&f, st, hw_entry, &shallow);
  uvgo__fiber_switch(&main_fiber, &f);
  uvgo__fiber_destroy(&f);
  size_t hw1 = uvgo__stack_high_water(st);
  ASSERT_ULE(hw1, 16 * 1024);
  uvgo__fiber_make(&f, st, hw_entry, &deep);
  uvgo__fiber_switch(&main_fiber, &f);
  uvgo__fiber_destroy(&f);
  size_t hw2 = uvgo__stack_high_water(st);
  ASSERT_UGE(hw2, deep);
  ASSERT(hw2 > hw1);
  /* Pooled after deep use: an explicit trim hands the deep pages back. */
  uvgo__stack_put(pool, st);
  ASSERT_UGE(uvgo__stack_high_water(st), deep);
  uvgo__stack_pool_trim(pool);
  ASSERT_ULE(uvgo__stack_high_water(st), 16 * 1024);
  uvgo__stack_pool_free(pool);
}

UVGO_TEST(stack_cold_pooled_stacks_are_trimmed, unit, 30) {
  enum { N = 200 };
  uvgo__stack_pool *pool;
  uvgo__stack *sts[N];
  ASSERT_OK(uvgo__stack_pool_new(0, &pool));
  for (int i = 0; i < N; i++) {
    ASSERT_OK(uvgo__stack_get(pool, 0, &sts[i]));
    ((volatile char *)sts[i]->base)[4096] = 1; /* as deep as it gets */
  }
  for (int i = 0; i < N; i++)
    uvgo__stack_put(pool, sts[i]);
  /* Nothing is trimmed on the put path; the idle-time trim does it in
   * bounded batches. */
  ASSERT_UGE(uvgo__stack_high_water(sts[0]), 200 * 1024);
  ASSERT(uvgo__stack_pool_trim_cold(pool, 10));
  ASSERT(!uvgo__stack_pool_trim_cold(pool, SIZE_MAX));
  /* The most recently pooled stay warm for the next spawns; the rest went
   * cold and gave their deep pages back. */
  ASSERT_UGE(uvgo__stack_high_water(sts[N - 1]), 200 * 1024);
  ASSERT_ULE(uvgo__stack_high_water(sts[0]), 16 * 1024);
  ASSERT_ULE(uvgo__stack_high_water(sts[N / 2]), 16 * 1024);
  /* Taking them all back and pooling again keeps the list consistent. */
  for (int i = 0; i < N; i++)
    ASSERT_OK(uvgo__stack_get(pool, 0, &sts[i]));
  for (int i = 0; i < N; i++)
    ASSERT(sts[i] != NULL);
  for (int i = N - 1; i >= 0; i--)
    uvgo__stack_put(pool, sts[i]);
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < N / 2; i++)
      ASSERT_OK(uvgo__stack_get(pool, 0, &sts[i]));
    for (int i = 0; i < N / 2; i++)
      uvgo__stack_put(pool, sts[i]);
  }
  uvgo__stack_pool_free(pool);
}
