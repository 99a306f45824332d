/* The benchmark driver: `uvgo-bench WORKLOAD [--scale F]`; `--list`. */
#include "bench.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct bench_entry {
  const char *name;
  uvgo_bench_fn fn;
  struct bench_entry *next;
} bench_entry;

static bench_entry *benches;
static double scale = 1.0;

void uvgo_bench_register(const char *name, uvgo_bench_fn fn) {
  bench_entry *e = malloc(sizeof *e);
  if (e == NULL)
    abort();
  *e = (bench_entry){name, fn, benches};
  benches = e;
}

long bench_scaled(long n, long min) {
  long v = (long)((double)n * scale);
  return v < min ? min : v;
}

void bench_report(const char *metric, double value, const char *unit) {
  printf("BENCH %s %.3f %s\n", metric, value, unit);
  fflush(stdout);
}

uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long status_field_kb(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  if (f == NULL)
    return -1;
  char line[256];
  long kb = -1;
  size_t len = strlen(field);
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, field, len) == 0 && line[len] == ':') {
      kb = strtol(line + len + 1, NULL, 10);
      break;
    }
  }
  fclose(f);
  return kb;
}

long bench_rss_bytes(void) { return status_field_kb("VmRSS") * 1024; }
long bench_pte_bytes(void) { return status_field_kb("VmPTE") * 1024; }

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s WORKLOAD [--scale F] | --list\n", argv[0]);
    return 2;
  }
  for (int i = 2; i + 1 < argc; i++)
    if (strcmp(argv[i], "--scale") == 0)
      scale = strtod(argv[i + 1], NULL);
  if (scale <= 0)
    scale = 1.0;
  for (bench_entry *e = benches; e != NULL; e = e->next) {
    if (strcmp(argv[1], "--list") == 0)
      printf("%s\n", e->name);
    else if (strcmp(argv[1], e->name) == 0) {
      e->fn();
      return 0;
    }
  }
  if (strcmp(argv[1], "--list") == 0)
    return 0;
  printf("UNKNOWN %s\n", argv[1]);
  return 2;
}
