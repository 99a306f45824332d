/* uvgo benchmarks: one binary, one sub-command per workload, printing
 * `BENCH <metric> <value> <unit>` lines that bench/compare.py sets beside
 * the Go twin in bench/go/.
 *
 *   UVGO_BENCH(workload) { ... bench_report("metric", v, "ns/op"); }
 */
#ifndef UVGO_BENCH_H
#define UVGO_BENCH_H

#include <stdint.h>
#include <stdio.h>

#include "uvgo.h"

typedef void (*uvgo_bench_fn)(void);
void uvgo_bench_register(const char *name, uvgo_bench_fn fn);

#define UVGO_BENCH(name)                                                   \
  static void uvgo_bench_##name(void);                                     \
  __attribute__((constructor)) static void uvgo_bench_reg_##name(void) {   \
    uvgo_bench_register(#name, uvgo_bench_##name);                         \
  }                                                                        \
  static void uvgo_bench_##name(void)

/* Iteration count n times --scale, never below min. */
long bench_scaled(long n, long min);
void bench_report(const char *metric, double value, const char *unit);
/* Monotonic nanoseconds. */
uint64_t bench_now_ns(void);
/* VmRSS / VmPTE of this process in bytes (from /proc/self/status). */
long bench_rss_bytes(void);
long bench_pte_bytes(void);

/* Keep the compiler from optimizing a value away. */
#define bench_keep(x) __asm__ volatile("" : : "r"(x) : "memory")

#endif
