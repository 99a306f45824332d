/* uvgo test harness, in the libuv way: every case is its own meson test
 * (its own process and timeout), asserts print both operands, exit code 77
 * skips, and every case ends by checking that nothing leaked.
 *
 *   UVGO_TEST(name, suite, timeout_seconds) { ... }
 *
 * must start a line: tests/meson.build reads these lines to register cases.
 * UVGO_TEST_HELPER(name) defines a child-process entry (not a meson test)
 * started with uvgo_test_spawn_helper(). */
#ifndef UVGO_TEST_HARNESS_H
#define UVGO_TEST_HARNESS_H

#include <inttypes.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvgo.h"

typedef void (*uvgo_test_fn)(void);

void uvgo_test_register(const char *name, uvgo_test_fn fn, bool helper);

#define UVGO_TEST(name, suite, timeout)                              \
  static void uvgo_test_##name(void);                                \
  __attribute__((constructor)) static void uvgo_test_reg_##name(void) { \
    uvgo_test_register(#name, uvgo_test_##name, false);              \
  }                                                                  \
  static void uvgo_test_##name(void)

#define UVGO_TEST_HELPER(name)                                       \
  static void uvgo_helper_##name(void);                              \
  __attribute__((constructor)) static void uvgo_helper_reg_##name(void) { \
    uvgo_test_register(#name, uvgo_helper_##name, true);             \
  }                                                                  \
  static void uvgo_helper_##name(void)

#define UVGO_TEST_SKIP_CODE 77

#define UVGO_TEST_CONTAINER(ptr, type, field) \
  ((type *)((char *)(ptr) - offsetof(type, field)))

/* Failure reporting: prints, then aborts so a debugger or core stops here. */
__attribute__((noreturn, format(printf, 3, 4))) void uvgo_test_fail(
    const char *file, int line, const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2))) void uvgo_test_skip(
    const char *fmt, ...);

#define ASSERT(expr)                                                   \
  do {                                                                 \
    if (!(expr))                                                       \
      uvgo_test_fail(__FILE__, __LINE__, "assertion failed: %s", #expr); \
  } while (0)

#define UVGO__ASSERT_INT(a, op, b)                                        \
  do {                                                                    \
    intmax_t a_ = (intmax_t)(a);                                          \
    intmax_t b_ = (intmax_t)(b);                                          \
    if (!(a_ op b_))                                                      \
      uvgo_test_fail(__FILE__, __LINE__, "%s %s %s: %jd %s %jd is false", \
                     #a, #op, #b, a_, #op, b_);                           \
  } while (0)

#define UVGO__ASSERT_UINT(a, op, b)                                       \
  do {                                                                    \
    uintmax_t a_ = (uintmax_t)(a);                                        \
    uintmax_t b_ = (uintmax_t)(b);                                        \
    if (!(a_ op b_))                                                      \
      uvgo_test_fail(__FILE__, __LINE__, "%s %s %s: %ju %s %ju is false", \
                     #a, #op, #b, a_, #op, b_);                           \
  } while (0)

#define ASSERT_EQ(a, b) UVGO__ASSERT_INT(a, ==, b)
#define ASSERT_NE(a, b) UVGO__ASSERT_INT(a, !=, b)
#define ASSERT_LT(a, b) UVGO__ASSERT_INT(a, <, b)
#define ASSERT_LE(a, b) UVGO__ASSERT_INT(a, <=, b)
#define ASSERT_GT(a, b) UVGO__ASSERT_INT(a, >, b)
#define ASSERT_GE(a, b) UVGO__ASSERT_INT(a, >=, b)
#define ASSERT_UEQ(a, b) UVGO__ASSERT_UINT(a, ==, b)
#define ASSERT_ULE(a, b) UVGO__ASSERT_UINT(a, <=, b)
#define ASSERT_UGE(a, b) UVGO__ASSERT_UINT(a, >=, b)

#define ASSERT_PTR_EQ(a, b)                                                  \
  do {                                                                       \
    const void *a_ = (const void *)(a);                                      \
    const void *b_ = (const void *)(b);                                      \
    if (a_ != b_)                                                            \
      uvgo_test_fail(__FILE__, __LINE__, "%s == %s: %p != %p", #a, #b, a_, b_); \
  } while (0)
#define ASSERT_NULL(a) ASSERT_PTR_EQ(a, NULL)
#define ASSERT_NOT_NULL(a)                                                   \
  do {                                                                       \
    if ((a) == NULL)                                                         \
      uvgo_test_fail(__FILE__, __LINE__, "%s is NULL", #a);                  \
  } while (0)

#define ASSERT_STR_EQ(a, b)                                                  \
  do {                                                                       \
    const char *a_ = (a);                                                    \
    const char *b_ = (b);                                                    \
    if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                     \
      uvgo_test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a,   \
                     #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");            \
  } while (0)

#define ASSERT_STR_CONTAINS(hay, needle)                                     \
  do {                                                                       \
    const char *h_ = (hay);                                                  \
    const char *n_ = (needle);                                               \
    if (h_ == NULL || strstr(h_, n_) == NULL)                                \
      uvgo_test_fail(__FILE__, __LINE__, "%s does not contain \"%s\":\n%s",  \
                     #hay, n_, h_ ? h_ : "(null)");                          \
  } while (0)

/* A call expected to return `code`; prints both codes by name. */
#define ASSERT_ERR(call, code)                                             \
  do {                                                                     \
    int got_ = (call);                                                     \
    int want_ = (code);                                                    \
    if (got_ != want_)                                                     \
      uvgo_test_fail(__FILE__, __LINE__, "%s: got %d (%s), want %d (%s)",  \
                     #call, got_, uvgo_err_name(got_), want_,              \
                     uvgo_err_name(want_));                                \
  } while (0)
#define ASSERT_OK(call) ASSERT_ERR(call, 0)

/* Stress sizes: n scaled by the build's factor (sanitizer builds run
 * smaller), overridable with UVGO_TEST_SCALE; never below `min`. */
double uvgo_test_scale(void);
long uvgo_test_scaled(long n, long min);

/* Allocation accounting through uvgo_replace_allocator. */
long uvgo_test_live_allocations(void);
/* Fail the nth allocation from now (1-based); 0 disarms. */
void uvgo_test_fail_allocation(long nth);
/* Allocations made since the case started (to size fault-injection loops). */
long uvgo_test_allocation_count(void);
/* Bytes uvgo holds through the counting allocator now, and the most it
 * held since the case started or the last reset (memory-bound checks). */
long uvgo_test_live_bytes(void);
long uvgo_test_peak_bytes(void);
void uvgo_test_reset_peak_bytes(void);
/* Skip the end-of-case leak check (a case that deliberately leaks). */
void uvgo_test_expect_leaks(void);

/* Optional end-of-case check a test file may define (weak in the harness):
 * non-zero with a reason in why fails the case. */
int uvgo_test_extra_leak_check(char *why, size_t cap);

/* Run fn with the case wrapper (counting allocator, leak checks); returns
 * the exit code a case would have. */
int uvgo_test_run_as_case(const char *name, uvgo_test_fn fn);

/* Run a UVGO_TEST_HELPER in a child process of this test binary, with
 * `env` (NULL or "NAME=value") added. Captures stderr+stdout (up to `cap`
 * bytes into `out`, NUL-terminated) and returns the raw wait status. */
int uvgo_test_spawn_helper(const char *helper, const char *env, char *out,
                           size_t cap);

#endif
