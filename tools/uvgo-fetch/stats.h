/* uvgo-fetch: what a run measured (shared by every fetch task, on every
 * worker: counters are atomics) and the reports made from it — the live
 * progress line, the final summary in text or JSON. */
#ifndef UVGO_FETCH_STATS_H
#define UVGO_FETCH_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Errors by kind, as a user reads them. */
typedef enum {
  FERR_DNS = 0,  /* the name did not resolve */
  FERR_REFUSED,  /* nobody listens there */
  FERR_TIMEOUT,  /* per-request timeout or a phase limit */
  FERR_TLS,      /* handshake or verification */
  FERR_RESET,    /* the connection broke mid-exchange */
  FERR_BAD_RESPONSE, /* not HTTP, or over a limit */
  FERR_BAD_URL,  /* a line that is not an http(s) URL */
  FERR_OTHER,
  FERR_COUNT_
} fetch_err_kind;

/* Latency histogram: 32 sub-buckets per power of two of microseconds
 * (about 3% resolution) up to 2^40 us. */
#define LAT_SUB 32
#define LAT_BUCKETS (LAT_SUB + LAT_SUB * 40)

typedef struct fetch_stats {
  uint64_t start_ns;
  _Atomic uint64_t done;      /* requests finished (response or error) */
  _Atomic uint64_t responses; /* got a status (any) */
  _Atomic uint64_t errors;
  _Atomic uint64_t canceled;  /* ended by Ctrl-C or the deadline */
  _Atomic uint64_t bytes;     /* body bytes received */
  _Atomic uint64_t lat_min_us, lat_max_us, lat_sum_us;
  _Atomic uint64_t lat[LAT_BUCKETS];
  _Atomic uint64_t status[1000];
  _Atomic uint64_t err[FERR_COUNT_];
  _Atomic int err_example_set[FERR_COUNT_];
  char err_example[FERR_COUNT_][200]; /* the first message of each kind */
  uint64_t total;             /* URLs to fetch; 0 = not known (stdin) */
  _Atomic bool total_known;
} fetch_stats;

void stats_init(fetch_stats *s);
void stats_response(fetch_stats *s, int status, uint64_t bytes,
                    uint64_t latency_us);
/* A failed request: err is the uvgo/libuv code, url what it was for. */
void stats_error(fetch_stats *s, int err, const char *url);
void stats_canceled(fetch_stats *s);
fetch_err_kind stats_kind_of(int err);
const char *stats_kind_name(fetch_err_kind k);

/* One progress report: a bar rewritten in place on a terminal, a plain
 * line otherwise. */
void stats_progress(fetch_stats *s, FILE *out, bool tty);
/* The end of a tty progress bar (a newline). */
void stats_progress_end(FILE *out, bool tty);
void stats_summary(fetch_stats *s, FILE *out, bool interrupted);
void stats_json(fetch_stats *s, FILE *out, bool interrupted);

uint64_t fetch_now_ns(void);

#endif
