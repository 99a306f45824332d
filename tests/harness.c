/* The test runner: `uvgo-tests NAME` runs one case in this process (meson
 * gives it a process and a timeout of its own); `uvgo-tests` alone runs
 * every case, each in a forked child, for a quick local pass. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef UVGO_TEST_DEFAULT_SCALE
#define UVGO_TEST_DEFAULT_SCALE 1.0
#endif

typedef struct test_entry {
  const char *name;
  uvgo_test_fn fn;
  bool helper;
  struct test_entry *next;
} test_entry;

static test_entry *registry;
static const char *self_path;

void uvgo_test_register(const char *name, uvgo_test_fn fn, bool helper) {
  test_entry *e = malloc(sizeof *e);
  if (e == NULL)
    abort();
  *e = (test_entry){name, fn, helper, registry};
  registry = e;
}

static test_entry *find_entry(const char *name, bool helper) {
  for (test_entry *e = registry; e != NULL; e = e->next)
    if (e->helper == helper && strcmp(e->name, name) == 0)
      return e;
  return NULL;
}

void uvgo_test_fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s:%d: ", file, line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fflush(stderr);
  abort();
}

void uvgo_test_skip(const char *fmt, ...) {
  va_list ap;
  fputs("SKIP: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fflush(stderr);
  _exit(UVGO_TEST_SKIP_CODE);
}

double uvgo_test_scale(void) {
  const char *env = getenv("UVGO_TEST_SCALE");
  if (env != NULL && *env != '\0') {
    double v = strtod(env, NULL);
    if (v > 0)
      return v;
  }
  return UVGO_TEST_DEFAULT_SCALE;
}

long uvgo_test_scaled(long n, long min) {
  long v = (long)((double)n * uvgo_test_scale());
  return v < min ? min : v;
}

/* Counting allocator: a 16-byte header keeps the size so realloc and free
 * can account exactly, and a magic word catches frees of foreign memory. */
#define ALLOC_MAGIC 0x75766730u
typedef union {
  struct {
    uint32_t magic;
    size_t size;
  } h;
  max_align_t align;
} alloc_header;

static _Atomic long live_allocations;
static _Atomic long total_allocations;
static _Atomic long fail_countdown;
static _Atomic long live_bytes;
static _Atomic long peak_bytes;
static bool leaks_expected;

long uvgo_test_live_allocations(void) { return atomic_load(&live_allocations); }
long uvgo_test_allocation_count(void) { return atomic_load(&total_allocations); }
void uvgo_test_fail_allocation(long nth) { atomic_store(&fail_countdown, nth); }
void uvgo_test_expect_leaks(void) { leaks_expected = true; }
long uvgo_test_live_bytes(void) { return atomic_load(&live_bytes); }
long uvgo_test_peak_bytes(void) { return atomic_load(&peak_bytes); }
void uvgo_test_reset_peak_bytes(void) {
  atomic_store(&peak_bytes, atomic_load(&live_bytes));
}

static void bytes_add(long delta) {
  long now = atomic_fetch_add(&live_bytes, delta) + delta;
  long peak = atomic_load(&peak_bytes);
  while (now > peak && !atomic_compare_exchange_weak(&peak_bytes, &peak, now))
    ;
}

static bool should_fail_now(void) {
  long left = atomic_load(&fail_countdown);
  while (left > 0) {
    if (atomic_compare_exchange_weak(&fail_countdown, &left, left - 1))
      return left == 1;
  }
  return false;
}

static void *counting_malloc(size_t size) {
  if (should_fail_now())
    return NULL;
  if (size > SIZE_MAX - sizeof(alloc_header))
    return NULL;
  alloc_header *h = malloc(sizeof *h + size);
  if (h == NULL)
    return NULL;
  h->h.magic = ALLOC_MAGIC;
  h->h.size = size;
  atomic_fetch_add(&live_allocations, 1);
  atomic_fetch_add(&total_allocations, 1);
  bytes_add((long)size);
  return h + 1;
}

static alloc_header *header_of(void *p) {
  alloc_header *h = (alloc_header *)p - 1;
  if (h->h.magic != ALLOC_MAGIC) {
    fprintf(stderr, "harness: free of memory uvgo did not allocate: %p\n", p);
    abort();
  }
  return h;
}

static void counting_free(void *p) {
  if (p == NULL)
    return;
  alloc_header *h = header_of(p);
  h->h.magic = 0;
  atomic_fetch_sub(&live_allocations, 1);
  bytes_add(-(long)h->h.size);
  free(h);
}

static void *counting_realloc(void *p, size_t size) {
  if (p == NULL)
    return counting_malloc(size);
  if (should_fail_now())
    return NULL;
  if (size > SIZE_MAX - sizeof(alloc_header))
    return NULL;
  alloc_header *h = header_of(p);
  size_t old = h->h.size;
  alloc_header *n = realloc(h, sizeof *n + size);
  if (n == NULL)
    return NULL;
  n->h.size = size;
  bytes_add((long)size - (long)old);
  atomic_fetch_add(&total_allocations, 1);
  return n + 1;
}

static void *counting_calloc(size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size)
    return NULL;
  void *p = counting_malloc(count * size);
  if (p != NULL)
    memset(p, 0, count * size);
  return p;
}

/* Hook for later layers: checks that run after every case (live tasks,
 * runtimes left open). Weak so the harness links without them. */
#pragma weak uvgo_test_extra_leak_check

int uvgo_test_run_as_case(const char *name, uvgo_test_fn fn) {
  if (uvgo_replace_allocator(counting_malloc, counting_realloc,
                             counting_calloc, counting_free) != 0) {
    fprintf(stderr, "harness: cannot install the counting allocator\n");
    return 1;
  }
  fn();
  uvgo_test_fail_allocation(0);
  if (!leaks_expected) {
    long live = uvgo_test_live_allocations();
    if (live != 0) {
      fprintf(stderr, "%s: leaked %ld allocation(s)\n", name, live);
      return 1;
    }
    char why[512] = "";
    if (uvgo_test_extra_leak_check != NULL &&
        uvgo_test_extra_leak_check(why, sizeof why) != 0) {
      fprintf(stderr, "%s: %s\n", name, why);
      return 1;
    }
  }
  return 0;
}

int uvgo_test_spawn_helper(const char *helper, const char *env, char *out,
                           size_t cap) {
  int fds[2];
  if (pipe(fds) != 0)
    return -1;
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    if (env != NULL)
      putenv((char *)env);
    execl(self_path, self_path, "--helper", helper, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  size_t used = 0;
  for (;;) {
    char sink[512];
    char *dst = used + 1 < cap ? out + used : sink;
    size_t room = used + 1 < cap ? cap - 1 - used : sizeof sink;
    ssize_t n = read(fds[0], dst, room);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    if (dst != sink)
      used += (size_t)n;
  }
  if (cap > 0)
    out[used] = '\0';
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

static int run_all(void) {
  int passed = 0, failed = 0, skipped = 0;
  for (test_entry *e = registry; e != NULL; e = e->next) {
    if (e->helper)
      continue;
    pid_t pid = fork();
    if (pid == 0) {
      alarm(120);
      _exit(uvgo_test_run_as_case(e->name, e->fn));
    }
    int status = 0;
    waitpid(pid, &status, 0);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    const char *verdict = code == 0 ? "ok" : code == UVGO_TEST_SKIP_CODE ? "skip" : "FAIL";
    printf("%-4s %s\n", verdict, e->name);
    if (code == 0)
      passed++;
    else if (code == UVGO_TEST_SKIP_CODE)
      skipped++;
    else
      failed++;
  }
  printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed != 0;
}

int main(int argc, char **argv) {
  self_path = argv[0];
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc == 1)
    return run_all();
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
    for (test_entry *e = registry; e != NULL; e = e->next)
      if (!e->helper)
        printf("%s\n", e->name);
    return 0;
  }
  bool helper = argc == 3 && strcmp(argv[1], "--helper") == 0;
  const char *name = helper ? argv[2] : argv[1];
  test_entry *e = find_entry(name, helper);
  if (e == NULL) {
    fprintf(stderr, "no such %s: %s\n", helper ? "helper" : "test", name);
    return 2;
  }
  if (helper) {
    e->fn();
    return 0;
  }
  return uvgo_test_run_as_case(e->name, e->fn);
}
