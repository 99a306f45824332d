/* The allocator hook and the harness's own fault injection. */
#include "harness.h"

#include <stdlib.h>
#include <sys/wait.h>

#include "core/internal.h"

UVGO_TEST(alloc_replace_rejects_null, unit, 10) {
  ASSERT_ERR(uvgo_replace_allocator(NULL, realloc, calloc, free), UV_EINVAL);
  ASSERT_ERR(uvgo_replace_allocator(malloc, NULL, calloc, free), UV_EINVAL);
  ASSERT_ERR(uvgo_replace_allocator(malloc, realloc, NULL, free), UV_EINVAL);
  ASSERT_ERR(uvgo_replace_allocator(malloc, realloc, calloc, NULL), UV_EINVAL);
  /* The harness's counting allocator is still the one in place. */
  long before = uvgo_test_allocation_count();
  void *p = uvgo__malloc(8);
  ASSERT_NOT_NULL(p);
  ASSERT_EQ(uvgo_test_allocation_count(), before + 1);
  ASSERT_EQ(uvgo_test_live_allocations(), 1);
  uvgo__free(p);
  ASSERT_EQ(uvgo_test_live_allocations(), 0);
}

UVGO_TEST(alloc_fault_injection_fails_nth, unit, 10) {
  uvgo_test_fail_allocation(2);
  void *a = uvgo__malloc(16);
  void *b = uvgo__calloc(4, 4);
  void *c = uvgo__malloc(16);
  ASSERT_NOT_NULL(a);
  ASSERT_NULL(b);
  ASSERT_NOT_NULL(c);
  uvgo__free(a);
  uvgo__free(c);
  uvgo__free(NULL);
}

UVGO_TEST(alloc_calloc_overflow_is_null, unit, 10) {
  ASSERT_NULL(uvgo__calloc(SIZE_MAX / 2, 4));
  void *p = uvgo__realloc(NULL, 32);
  ASSERT_NOT_NULL(p);
  p = uvgo__realloc(p, 64);
  ASSERT_NOT_NULL(p);
  uvgo__free(p);
}

UVGO_TEST(alloc_leak_is_reported, unit, 10) {
  /* The end-of-case leak check must catch a leak: run a helper that leaks
   * and expect it to fail. */
  char out[1024];
  /* LeakSanitizer would abort the child before the harness reports. */
  int status = uvgo_test_spawn_helper("leaky_case", "ASAN_OPTIONS=detect_leaks=0",
                                      out, sizeof out);
  ASSERT(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 1);
  ASSERT_STR_CONTAINS(out, "leaked 1 allocation");
}

static void leak_one(void) { (void)uvgo__malloc(24); }

UVGO_TEST_HELPER(leaky_case) { exit(uvgo_test_run_as_case("leaky", leak_one)); }

UVGO_TEST(fault_inject_rejects_unknown_site, unit, 10) {
  ASSERT_ERR(uvgo_fault_inject((uvgo_fault_site)UVGO_FAULT_COUNT_, 1),
             UV_EINVAL);
  ASSERT_ERR(uvgo_fault_inject((uvgo_fault_site)-1, 1), UV_EINVAL);
  ASSERT_OK(uvgo_fault_inject(UVGO_FAULT_MMAP, 0));
}
