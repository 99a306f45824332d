/* A standalone test of the task layer (switch, fibers, stacks, overflow
 * report) for targets the main build cannot configure for, run under
 * qemu-user by tools/test-extra-aarch64.sh. Prints one summary line; exit
 * status 0 only if every check passed. */
#include <fenv.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fiber.h"
#include "core/internal.h"

static int checks, failures;

#define CHECK(cond)                                                     \
  do {                                                                  \
    checks++;                                                           \
    if (!(cond)) {                                                      \
      failures++;                                                       \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
              #cond);                                                   \
    }                                                                   \
  } while (0)

/* alloc.c's misuse path names errors; error.c needs libuv. */
const char *uvgo_err_name(int err) {
  (void)err;
  return "?";
}

static uvgo__fiber main_fiber;
static volatile long seed = 7;

typedef struct {
  uvgo__fiber f;
  long rounds, seen;
  int done;
} pinger;

static void ping_entry(void *arg) {
  pinger *p = arg;
  long a = seed, b = a * 3, c = b + 5, d = c * 7, e = d ^ 0x5a5a;
  double x = (double)seed, y = x * 0.5, z = y + 3.25, w = z * 2.0;
  for (long i = 0; i < p->rounds; i++) {
    uvgo__fiber_switch(&p->f, &main_fiber);
    if (a != seed || b != a * 3 || c != b + 5 || d != c * 7 ||
        e != (d ^ 0x5a5a) || x != (double)seed || y != x * 0.5 ||
        z != y + 3.25 || w != z * 2.0)
      break;
    seed++;
    a = seed, b = a * 3, c = b + 5, d = c * 7, e = d ^ 0x5a5a;
    x = (double)seed, y = x * 0.5, z = y + 3.25, w = z * 2.0;
    p->seen++;
  }
  p->done = 1;
  uvgo__fiber_switch_final(&p->f, &main_fiber);
}

static void test_ping_pong(uvgo__stack_pool *pool) {
  uvgo__stack *st;
  CHECK(uvgo__stack_get(pool, 0, &st) == 0);
  pinger p = {.rounds = 100000};
  uvgo__fiber_make(&p.f, st, ping_entry, &p);
  long q = seed * 11, r = q + 13;
  double u = 1.5 * (double)q, v = u + 0.75;
  while (!p.done) {
    uvgo__fiber_switch(&main_fiber, &p.f);
    if (r != q + 13 || v != u + 0.75)
      break;
  }
  CHECK(p.done);
  CHECK(p.seen == p.rounds);
  CHECK(r == q + 13 && v == u + 0.75);
  uvgo__fiber_destroy(&p.f);
  uvgo__stack_put(pool, st);
}

static int fiber_round, main_round_seen;

static void fp_entry(void *arg) {
  uvgo__fiber *self = arg;
  fesetround(FE_UPWARD);
  uvgo__fiber_switch(self, &main_fiber);
  fiber_round = fegetround();
  uvgo__fiber_switch_final(self, &main_fiber);
}

static void test_fp_control(uvgo__stack_pool *pool) {
  uvgo__stack *st;
  uvgo__fiber f;
  CHECK(uvgo__stack_get(pool, 0, &st) == 0);
  uvgo__fiber_make(&f, st, fp_entry, &f);
  uvgo__fiber_switch(&main_fiber, &f);
  main_round_seen = fegetround();
  CHECK(main_round_seen == FE_TONEAREST);
  fesetround(FE_TOWARDZERO);
  uvgo__fiber_switch(&main_fiber, &f);
  CHECK(fiber_round == FE_UPWARD);
  CHECK(fegetround() == FE_TOWARDZERO);
  fesetround(FE_TONEAREST);
  uvgo__fiber_destroy(&f);
  uvgo__stack_put(pool, st);
}

static void finish_entry(void *arg) {
  volatile char buf[256];
  buf[0] = 1;
  (void)buf[0];
  (*(int *)arg)++;
  uvgo__fiber_switch_final(NULL, &main_fiber);
}

static void test_reuse(uvgo__stack_pool *pool) {
  int ran = 0;
  void *first = NULL;
  int same = 1;
  for (int i = 0; i < 1000; i++) {
    uvgo__stack *st;
    uvgo__fiber f;
    if (uvgo__stack_get(pool, 0, &st) != 0) {
      CHECK(0);
      return;
    }
    if (first == NULL)
      first = st->base;
    same &= st->base == first;
    uvgo__fiber_make(&f, st, finish_entry, &ran);
    uvgo__fiber_switch(&main_fiber, &f);
    uvgo__fiber_destroy(&f);
    uvgo__stack_put(pool, st);
  }
  CHECK(ran == 1000);
  CHECK(same);
}

static void test_errors(void) {
  uvgo__stack_pool *pool;
  CHECK(uvgo__stack_pool_new(100, &pool) == UV_EINVAL);
  CHECK(uvgo__stack_pool_new(0, &pool) == 0);
  uvgo__stack *st;
  CHECK(uvgo__stack_get(pool, (size_t)UVGO__STACK_MAX_SIZE + 1, &st) ==
        UV_EINVAL);
  uvgo_fault_inject(UVGO_FAULT_MMAP, 1);
  CHECK(uvgo__stack_get(pool, 0, &st) == UV_ENOMEM);
  CHECK(uvgo__stack_get(pool, 0, &st) == 0);
  uvgo__stack_put(pool, st);
  uvgo__stack_pool_free(pool);
}

static volatile long limit = 1L << 40;

static long recurse(long n) {
  volatile char pad[300];
  pad[0] = (char)n;
  if (n > limit)
    return 0;
  return recurse(n + 1) + pad[0];
}

static void deep_entry(void *arg) {
  (void)arg;
  recurse(0);
  uvgo__fiber_switch_final(NULL, &main_fiber);
}

/* Overflow in a child; the parent reads its report. */
static void test_overflow(const char *guard) {
  int fds[2];
  if (pipe(fds) != 0) {
    CHECK(0);
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 2);
    if (guard != NULL)
      setenv("UVGO_GUARD", guard, 1);
    uvgo__overflow_handler_install();
    uvgo__altstack_thread_init();
    uvgo__stack_pool *pool;
    uvgo__stack *st;
    uvgo__fiber f;
    if (uvgo__stack_pool_new(64 * 1024, &pool) != 0 ||
        uvgo__stack_get(pool, 0, &st) != 0)
      _exit(2);
    uvgo__stack_set_owner(st, "standalone.c", 99);
    uvgo__fiber_init_thread(&main_fiber);
    uvgo__fiber_make(&f, st, deep_entry, NULL);
    uvgo__fiber_switch(&main_fiber, &f);
    _exit(0);
  }
  close(fds[1]);
  char out[2048];
  size_t used = 0;
  ssize_t n;
  while (used < sizeof out - 1 &&
         (n = read(fds[0], out + used, sizeof out - 1 - used)) > 0)
    used += (size_t)n;
  out[used] = '\0';
  close(fds[0]);
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
  CHECK(strstr(out, "stack overflow in task spawned at standalone.c:99") !=
        NULL);
}

int main(void) {
  uvgo__stack_pool *pool;
  uvgo__fiber_init_thread(&main_fiber);
  if (uvgo__stack_pool_new(0, &pool) != 0) {
    printf("task layer: cannot make a stack pool\n");
    return 1;
  }
  test_ping_pong(pool);
  test_fp_control(pool);
  test_reuse(pool);
  uvgo__stack_pool_free(pool);
  test_errors();
  test_overflow(NULL);
  test_overflow("mprotect");
  printf("task layer (%s guards, switch %s): %d checks, %d failed\n",
         uvgo__stack_guard_mode_name(uvgo__stack_guard_mode()),
         SWITCH_NAME, checks, failures);
  return failures != 0;
}
