/* uvgo-fetch: counters, the latency histogram, and the reports (in the
 * manner of hey, oha and bombardier). */
#include "stats.h"

#include <math.h>
#include <string.h>
#include <time.h>
#include <uvgo.h>

uint64_t fetch_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void stats_init(fetch_stats *s) {
  memset(s, 0, sizeof *s);
  atomic_store(&s->lat_min_us, UINT64_MAX);
  s->start_ns = fetch_now_ns();
}

static unsigned bucket_of(uint64_t us) {
  if (us < LAT_SUB)
    return (unsigned)us;
  unsigned e = 63u - (unsigned)__builtin_clzll(us); /* us >= 2^e */
  unsigned shift = e - 5;                           /* 32 sub-buckets */
  unsigned b = LAT_SUB + (e - 5) * LAT_SUB + (unsigned)((us >> shift) - LAT_SUB);
  return b < LAT_BUCKETS ? b : LAT_BUCKETS - 1;
}

/* The smallest value of bucket b (its lower edge), in us. */
static uint64_t bucket_low(unsigned b) {
  if (b < LAT_SUB)
    return b;
  unsigned k = (b - LAT_SUB) / LAT_SUB;
  unsigned sub = (b - LAT_SUB) % LAT_SUB;
  return (uint64_t)(LAT_SUB + sub) << k;
}

static void atomic_min(_Atomic uint64_t *a, uint64_t v) {
  uint64_t cur = atomic_load(a);
  while (v < cur && !atomic_compare_exchange_weak(a, &cur, v))
    ;
}
static void atomic_max(_Atomic uint64_t *a, uint64_t v) {
  uint64_t cur = atomic_load(a);
  while (v > cur && !atomic_compare_exchange_weak(a, &cur, v))
    ;
}

void stats_response(fetch_stats *s, int status, uint64_t bytes,
                    uint64_t latency_us) {
  if (status >= 100 && status <= 999)
    atomic_fetch_add(&s->status[status], 1);
  atomic_fetch_add(&s->bytes, bytes);
  atomic_fetch_add(&s->lat[bucket_of(latency_us)], 1);
  atomic_min(&s->lat_min_us, latency_us);
  atomic_max(&s->lat_max_us, latency_us);
  atomic_fetch_add(&s->lat_sum_us, latency_us);
  atomic_fetch_add(&s->responses, 1);
  atomic_fetch_add(&s->done, 1);
}

fetch_err_kind stats_kind_of(int err) {
  switch (err) {
  case UV_EAI_NONAME:
  case UV_EAI_AGAIN:
  case UV_EAI_FAIL:
  case UV_EAI_NODATA:
  case UV_EAI_ADDRFAMILY:
  case UV_EAI_SERVICE:
    return FERR_DNS;
  case UV_ECONNREFUSED:
  case UV_EHOSTUNREACH:
  case UV_ENETUNREACH:
    return FERR_REFUSED;
  case UV_ETIMEDOUT:
  case UVGO_EHTTPDIALTIMEOUT:
  case UVGO_EHTTPTLSTIMEOUT:
  case UVGO_EHTTPHEADERTIMEOUT:
  case UVGO_EHTTPIDLETIMEOUT:
    return FERR_TIMEOUT;
  case UVGO_ETLS:
  case UVGO_ETLSVERIFY:
  case UVGO_ETLSTRUNCATED:
  case UVGO_ETLSHANDSHAKE:
  case UVGO_ETLSRECORD:
    return FERR_TLS;
  case UV_ECONNRESET:
  case UV_EPIPE:
  case UV_ECONNABORTED:
  case UVGO_EHTTPUNEXPECTEDEOF:
    return FERR_RESET;
  case UVGO_EHTTPBADRESPONSE:
  case UVGO_EHEADERTOOLARGE:
  case UVGO_ETOOMANYHEADERS:
  case UVGO_EBODYTOOLARGE:
  case UVGO_ETOOMANYREDIRECTS:
    return FERR_BAD_RESPONSE;
  case UVGO_EHTTPBADURL:
  case UVGO_EUNSUPPORTEDSCHEME:
    return FERR_BAD_URL;
  default:
    return FERR_OTHER;
  }
}

const char *stats_kind_name(fetch_err_kind k) {
  static const char *names[FERR_COUNT_] = {
      "dns", "refused", "timeout", "tls", "reset", "bad_response", "bad_url",
      "other"};
  return names[k];
}

void stats_error(fetch_stats *s, int err, const char *url) {
  fetch_err_kind k = stats_kind_of(err);
  atomic_fetch_add(&s->err[k], 1);
  int zero = 0;
  if (atomic_compare_exchange_strong(&s->err_example_set[k], &zero, 1))
    snprintf(s->err_example[k], sizeof s->err_example[k], "%.120s: %s", url,
             uvgo_strerror(err));
  atomic_fetch_add(&s->errors, 1);
  atomic_fetch_add(&s->done, 1);
}

void stats_canceled(fetch_stats *s) { atomic_fetch_add(&s->canceled, 1); }

static double elapsed_s(const fetch_stats *s) {
  return (double)(fetch_now_ns() - s->start_ns) / 1e9;
}

void stats_progress(fetch_stats *s, FILE *out, bool tty) {
  uint64_t done = atomic_load(&s->done);
  uint64_t errs = atomic_load(&s->errors);
  uint64_t total = atomic_load(&s->total_known) ? s->total : 0;
  double t = elapsed_s(s);
  double rate = t > 0 ? (double)done / t : 0;
  char eta[32] = "?";
  if (total > 0 && rate > 0 && done <= total)
    snprintf(eta, sizeof eta, "%.0fs", (double)(total - done) / rate);
  if (!tty) {
    if (total > 0)
      fprintf(out, "progress: %llu/%llu done, %.0f req/s, %llu errors, ETA %s\n",
              (unsigned long long)done, (unsigned long long)total, rate,
              (unsigned long long)errs, eta);
    else
      fprintf(out, "progress: %llu done, %.0f req/s, %llu errors\n",
              (unsigned long long)done, rate, (unsigned long long)errs);
    fflush(out);
    return;
  }
  char bar[41];
  int width = 40;
  int fill = total > 0 ? (int)((double)done / (double)total * width) : 0;
  if (fill > width)
    fill = width;
  for (int i = 0; i < width; i++)
    bar[i] = i < fill ? '#' : (total > 0 ? '.' : ' ');
  bar[width] = '\0';
  if (total > 0)
    fprintf(out, "\r[%s] %llu/%llu %3.0f%%  %.0f req/s  %llu errors  ETA %s\033[K",
            bar, (unsigned long long)done, (unsigned long long)total,
            100.0 * (double)done / (double)total, rate,
            (unsigned long long)errs, eta);
  else
    fprintf(out, "\r%llu done  %.0f req/s  %llu errors\033[K",
            (unsigned long long)done, rate, (unsigned long long)errs);
  fflush(out);
}

void stats_progress_end(FILE *out, bool tty) {
  if (tty) {
    fputc('\n', out);
    fflush(out);
  }
}

/* The value (us) at quantile q, from the histogram's bucket edges. */
static uint64_t quantile(fetch_stats *s, double q) {
  uint64_t n = atomic_load(&s->responses);
  if (n == 0)
    return 0;
  uint64_t rank = (uint64_t)(q * (double)n);
  if (rank >= n)
    rank = n - 1;
  uint64_t seen = 0;
  for (unsigned b = 0; b < LAT_BUCKETS; b++) {
    seen += atomic_load(&s->lat[b]);
    if (seen > rank) {
      uint64_t v = bucket_low(b);
      uint64_t mn = atomic_load(&s->lat_min_us), mx = atomic_load(&s->lat_max_us);
      return v < mn ? mn : v > mx ? mx : v;
    }
  }
  return atomic_load(&s->lat_max_us);
}

static void human_bytes(uint64_t b, char *out, size_t cap) {
  if (b >= 1024u * 1024u)
    snprintf(out, cap, "%.1f MiB", (double)b / (1024.0 * 1024.0));
  else if (b >= 1024u)
    snprintf(out, cap, "%.1f KiB", (double)b / 1024.0);
  else
    snprintf(out, cap, "%llu B", (unsigned long long)b);
}

/* The histogram in `lines` rows between min and max, on a log scale. */
#define HIST_ROWS 10
static void hist_rows(fetch_stats *s, double edges_ms[HIST_ROWS + 1],
                      uint64_t counts[HIST_ROWS]) {
  uint64_t mn = atomic_load(&s->lat_min_us), mx = atomic_load(&s->lat_max_us);
  if (mn == 0)
    mn = 1;
  if (mx <= mn)
    mx = mn + 1;
  double lo = (double)mn, ratio = (double)mx / (double)mn;
  for (int i = 0; i <= HIST_ROWS; i++)
    edges_ms[i] = lo * pow(ratio, (double)i / HIST_ROWS) / 1000.0;
  edges_ms[HIST_ROWS] = (double)mx / 1000.0;
  memset(counts, 0, sizeof(uint64_t) * HIST_ROWS);
  for (unsigned b = 0; b < LAT_BUCKETS; b++) {
    uint64_t c = atomic_load(&s->lat[b]);
    if (c == 0)
      continue;
    double v = (double)bucket_low(b) / 1000.0;
    int row = HIST_ROWS - 1;
    for (int i = 0; i < HIST_ROWS; i++)
      if (v < edges_ms[i + 1]) {
        row = i;
        break;
      }
    counts[row] += c;
  }
}

/* The latency figures both summaries print, in ms, over `resp` responses. */
typedef struct {
  double min, p50, p90, p99, max, mean;
} latency;

static latency latency_of(fetch_stats *s, uint64_t resp) {
  latency l = {
      .min = (double)atomic_load(&s->lat_min_us) / 1000.0,
      .p50 = (double)quantile(s, 0.50) / 1000.0,
      .p90 = (double)quantile(s, 0.90) / 1000.0,
      .p99 = (double)quantile(s, 0.99) / 1000.0,
      .max = (double)atomic_load(&s->lat_max_us) / 1000.0,
      .mean = (double)atomic_load(&s->lat_sum_us) / (double)resp / 1000.0,
  };
  return l;
}

void stats_summary(fetch_stats *s, FILE *out, bool interrupted) {
  double t = elapsed_s(s);
  uint64_t done = atomic_load(&s->done), resp = atomic_load(&s->responses);
  uint64_t errs = atomic_load(&s->errors), bytes = atomic_load(&s->bytes);
  char hb[32], hr[32];
  human_bytes(bytes, hb, sizeof hb);
  human_bytes(t > 0 ? (uint64_t)((double)bytes / t) : 0, hr, sizeof hr);
  fprintf(out, "\nSummary:%s\n", interrupted ? " (interrupted)" : "");
  if (atomic_load(&s->total_known))
    fprintf(out, "  Requests:      %llu done of %llu\n",
            (unsigned long long)done, (unsigned long long)s->total);
  else
    fprintf(out, "  Requests:      %llu done\n", (unsigned long long)done);
  fprintf(out, "  Responses:     %llu\n  Errors:        %llu\n",
          (unsigned long long)resp, (unsigned long long)errs);
  uint64_t canceled = atomic_load(&s->canceled);
  if (canceled)
    fprintf(out, "  Canceled:      %llu (in flight at the stop)\n",
            (unsigned long long)canceled);
  fprintf(out, "  Total time:    %.3f s\n", t);
  fprintf(out, "  Requests/sec:  %.1f\n", t > 0 ? (double)done / t : 0.0);
  fprintf(out, "  Bytes:         %s received (%s/s)\n", hb, hr);
  if (resp > 0) {
    latency l = latency_of(s, resp);
    fprintf(out, "\nLatency (responses):\n");
    fprintf(out,
            "  min %.2f ms  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f "
            "ms  mean %.2f ms\n",
            l.min, l.p50, l.p90, l.p99, l.max, l.mean);
    double edges[HIST_ROWS + 1];
    uint64_t counts[HIST_ROWS];
    hist_rows(s, edges, counts);
    uint64_t most = 1;
    for (int i = 0; i < HIST_ROWS; i++)
      if (counts[i] > most)
        most = counts[i];
    fprintf(out, "\nLatency histogram:\n");
    for (int i = 0; i < HIST_ROWS; i++) {
      int w = (int)((double)counts[i] / (double)most * 40.0 + 0.5);
      if (counts[i] > 0 && w == 0)
        w = 1;
      fprintf(out, "  %9.3f ms [%7llu] |", edges[i],
              (unsigned long long)counts[i]);
      for (int k = 0; k < w; k++)
        fputc('#', out);
      fputc('\n', out);
    }
  }
  if (resp > 0) {
    fprintf(out, "\nStatus codes:\n");
    for (int code = 100; code < 1000; code++) {
      uint64_t c = atomic_load(&s->status[code]);
      if (c)
        fprintf(out, "  [%d] %llu responses\n", code, (unsigned long long)c);
    }
  }
  if (errs > 0) {
    fprintf(out, "\nErrors by kind:\n");
    for (int k = 0; k < FERR_COUNT_; k++) {
      uint64_t c = atomic_load(&s->err[k]);
      if (c)
        fprintf(out, "  %-13s %llu  (e.g. %s)\n", stats_kind_name((fetch_err_kind)k),
                (unsigned long long)c, s->err_example[k]);
    }
  }
  fflush(out);
}

static void json_str(FILE *out, const char *s) {
  fputc('"', out);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(out, "\\%c", ch);
    else if (ch < 0x20)
      fprintf(out, "\\u%04x", ch);
    else
      fputc(ch, out);
  }
  fputc('"', out);
}

void stats_json(fetch_stats *s, FILE *out, bool interrupted) {
  double t = elapsed_s(s);
  uint64_t done = atomic_load(&s->done), resp = atomic_load(&s->responses);
  fprintf(out, "{\n  \"interrupted\": %s,\n", interrupted ? "true" : "false");
  if (atomic_load(&s->total_known))
    fprintf(out, "  \"total\": %llu,\n", (unsigned long long)s->total);
  else
    fprintf(out, "  \"total\": null,\n");
  fprintf(out,
          "  \"done\": %llu,\n  \"responses\": %llu,\n  \"errors\": %llu,\n"
          "  \"canceled\": %llu,\n  \"elapsed_s\": %.6f,\n"
          "  \"requests_per_sec\": %.3f,\n  \"bytes\": %llu,\n",
          (unsigned long long)done, (unsigned long long)resp,
          (unsigned long long)atomic_load(&s->errors),
          (unsigned long long)atomic_load(&s->canceled), t,
          t > 0 ? (double)done / t : 0.0,
          (unsigned long long)atomic_load(&s->bytes));
  if (resp > 0) {
    latency l = latency_of(s, resp);
    fprintf(out,
            "  \"latency_ms\": {\"min\": %.3f, \"p50\": %.3f, \"p90\": %.3f, "
            "\"p99\": %.3f, \"max\": %.3f, \"mean\": %.3f},\n",
            l.min, l.p50, l.p90, l.p99, l.max, l.mean);
    double edges[HIST_ROWS + 1];
    uint64_t counts[HIST_ROWS];
    hist_rows(s, edges, counts);
    fprintf(out, "  \"histogram\": [");
    for (int i = 0; i < HIST_ROWS; i++)
      fprintf(out, "%s{\"from_ms\": %.3f, \"count\": %llu}", i ? ", " : "",
              edges[i], (unsigned long long)counts[i]);
    fprintf(out, "],\n");
  } else {
    fprintf(out, "  \"latency_ms\": null,\n  \"histogram\": [],\n");
  }
  fprintf(out, "  \"status_codes\": {");
  int first = 1;
  for (int code = 100; code < 1000; code++) {
    uint64_t c = atomic_load(&s->status[code]);
    if (c) {
      fprintf(out, "%s\"%d\": %llu", first ? "" : ", ", code,
              (unsigned long long)c);
      first = 0;
    }
  }
  fprintf(out, "},\n  \"errors_by_kind\": {");
  first = 1;
  for (int k = 0; k < FERR_COUNT_; k++) {
    uint64_t c = atomic_load(&s->err[k]);
    if (c) {
      fprintf(out, "%s\"%s\": {\"count\": %llu, \"example\": ", first ? "" : ", ",
              stats_kind_name((fetch_err_kind)k), (unsigned long long)c);
      json_str(out, s->err_example[k]);
      fputc('}', out);
      first = 0;
    }
  }
  fprintf(out, "}\n}\n");
  fflush(out);
}
