/* uvgo-fetch: fetch many URLs concurrently — the article's fetchAll grown
 * into a tool. URLs come from the command line or a file (streamed: a
 * million lines keep memory flat), go through a bounded channel to -c
 * fetch tasks spread over the workers, and every result lands in shared
 * counters that the progress reports and the summary read. With no URL it
 * runs the demo: its own HTTP server on 127.0.0.1, 10,000 URLs. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uvgo.h>

#include "demo.h"
#include "stats.h"

#define MAX_HEADERS 64
#define MAX_URL 16384
#define BATCH 256
#define EXIT_OK 0
#define EXIT_ALL_FAILED 1
#define EXIT_USAGE 2
#define EXIT_INTERRUPTED 130

static const char usage_text[] =
    "usage: uvgo-fetch [options] URL...\n"
    "       uvgo-fetch [options] -f FILE     (one URL a line; - for stdin)\n"
    "       uvgo-fetch [options]             (the demo: a local server, 10,000 URLs)\n"
    "\n"
    "Fetch every URL with bounded concurrency, show live progress, and print\n"
    "a summary: requests/s, bytes, latency percentiles and histogram, status\n"
    "codes, and errors by kind (dns, refused, timeout, tls, reset,\n"
    "bad_response, bad_url).\n"
    "\n"
    "options:\n"
    "  -c N            requests in flight at most (default 50; demo 100)\n"
    "  -t DURATION     per-request timeout (default 30s; demo 1s)\n"
    "  -d DURATION     total deadline: stop and summarise after it\n"
    "  -X METHOD       request method (default GET)\n"
    "  -H 'Name: v'    add a request header (repeatable, up to 64)\n"
    "  -o DIR          save each body as DIR/NNNNNNNN (the URL's index)\n"
    "  -f FILE         read URLs from FILE ('-' = stdin); blank lines and\n"
    "                  lines starting with # are skipped\n"
    "  -n N            demo: how many URLs (default 10000)\n"
    "  --mix all|fast  demo: every kind of endpoint (default), or only the\n"
    "                  fast one (a throughput measurement)\n"
    "  -w N            worker threads (default: one per core)\n"
    "  -q              no progress reports\n"
    "  --json          the summary as JSON on stdout (progress goes to stderr)\n"
    "  -h, --help      this text\n"
    "\n"
    "DURATION: a number with ms, s or m (\"500ms\", \"5s\"); a bare number is\n"
    "seconds. Progress is a live bar on a terminal, plain lines otherwise.\n"
    "Ctrl-C stops: requests in flight are cancelled and the summary of what\n"
    "finished is printed.\n"
    "\n"
    "exit status:\n"
    "  0    the run completed (HTTP errors and failed URLs are in the summary)\n"
    "  1    every request failed (nothing answered: check the target)\n"
    "  2    bad usage: an unknown option, a bad value, an unreadable file or\n"
    "       output directory\n"
    "  130  interrupted by Ctrl-C (the summary is still printed)\n";

typedef struct options {
  unsigned concurrency;
  uint64_t timeout_ms;
  uint64_t deadline_ms; /* 0 = none */
  const char *method;
  uvgo_http_header headers[MAX_HEADERS];
  char *header_store[MAX_HEADERS];
  size_t nheaders;
  const char *out_dir;
  const char *file;
  char **urls;
  size_t nurls;
  uint64_t demo_n;
  unsigned workers;
  bool quiet, json, demo, fast_only;
  int exit_code;
} options;

__attribute__((format(printf, 1, 2), noreturn)) static void die_usage(
    const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "uvgo-fetch: ");
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n(uvgo-fetch --help for the options)\n");
  exit(EXIT_USAGE);
}

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  if (s == NULL || *s == '\0')
    return false;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || s[0] == '-' || v < min || v > max)
    return false;
  *out = v;
  return true;
}

static bool parse_duration(const char *s, uint64_t *ms) {
  if (s == NULL || *s == '\0' || *s == '-')
    return false;
  errno = 0;
  char *end;
  double v = strtod(s, &end);
  if (errno != 0 || end == s || v < 0)
    return false;
  double mult;
  if (strcmp(end, "ms") == 0)
    mult = 1;
  else if (strcmp(end, "s") == 0 || *end == '\0')
    mult = 1000;
  else if (strcmp(end, "m") == 0)
    mult = 60000;
  else
    return false;
  double r = v * mult;
  if (r < 1 || r > 1e12)
    return false;
  *ms = (uint64_t)r;
  return true;
}

static const char *need_arg(int argc, char **argv, int *i) {
  if (*i + 1 >= argc)
    die_usage("option %s needs a value", argv[*i]);
  return argv[++*i];
}

static void parse_args(int argc, char **argv, options *o) {
  memset(o, 0, sizeof *o);
  o->method = "GET";
  o->demo_n = 10000;
  int concurrency_set = 0, timeout_set = 0;
  uint64_t v;
  o->urls = calloc((size_t)argc, sizeof *o->urls);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(usage_text, stdout);
      exit(EXIT_OK);
    } else if (strcmp(a, "-c") == 0) {
      if (!parse_u64(need_arg(argc, argv, &i), 1, 100000, &v))
        die_usage("-c wants a number from 1 to 100000, not '%s'", argv[i]);
      o->concurrency = (unsigned)v;
      concurrency_set = 1;
    } else if (strcmp(a, "-t") == 0) {
      if (!parse_duration(need_arg(argc, argv, &i), &o->timeout_ms))
        die_usage("-t wants a duration such as 500ms or 5s, not '%s'", argv[i]);
      timeout_set = 1;
    } else if (strcmp(a, "-d") == 0) {
      if (!parse_duration(need_arg(argc, argv, &i), &o->deadline_ms))
        die_usage("-d wants a duration such as 30s or 2m, not '%s'", argv[i]);
    } else if (strcmp(a, "-X") == 0) {
      o->method = need_arg(argc, argv, &i);
      if (uvgo_http_header_check(o->method, "") != 0)
        die_usage("-X wants an HTTP method (a token), not '%s'", o->method);
    } else if (strcmp(a, "-H") == 0) {
      const char *h = need_arg(argc, argv, &i);
      const char *colon = strchr(h, ':');
      if (colon == NULL || colon == h)
        die_usage("-H wants 'Name: value', not '%s'", h);
      if (o->nheaders == MAX_HEADERS)
        die_usage("at most 64 -H options");
      char *copy = strdup(h);
      copy[colon - h] = '\0';
      const char *value = copy + (colon - h) + 1;
      while (*value == ' ' || *value == '\t')
        value++;
      if (uvgo_http_header_check(copy, value) != 0)
        die_usage("-H '%s': not a valid header (name a token, value without "
                  "CR, LF or control bytes)", h);
      static const char *const owned[] = {"host", "content-length",
                                          "transfer-encoding", "connection"};
      for (size_t k = 0; k < sizeof owned / sizeof owned[0]; k++)
        if (strcasecmp(copy, owned[k]) == 0)
          die_usage("-H '%s': the client sets %s itself", h, copy);
      o->header_store[o->nheaders] = copy;
      o->headers[o->nheaders].name = copy;
      o->headers[o->nheaders].value = value;
      o->nheaders++;
    } else if (strcmp(a, "-o") == 0) {
      o->out_dir = need_arg(argc, argv, &i);
    } else if (strcmp(a, "-f") == 0) {
      o->file = need_arg(argc, argv, &i);
    } else if (strcmp(a, "-n") == 0) {
      if (!parse_u64(need_arg(argc, argv, &i), 1, 100000000, &o->demo_n))
        die_usage("-n wants a number from 1 to 100000000, not '%s'", argv[i]);
    } else if (strcmp(a, "-w") == 0) {
      if (!parse_u64(need_arg(argc, argv, &i), 1, UVGO_MAX_WORKERS, &v))
        die_usage("-w wants a number from 1 to 256, not '%s'", argv[i]);
      o->workers = (unsigned)v;
    } else if (strcmp(a, "--mix") == 0) {
      const char *m = need_arg(argc, argv, &i);
      if (strcmp(m, "fast") == 0)
        o->fast_only = true;
      else if (strcmp(m, "all") != 0)
        die_usage("--mix wants 'all' or 'fast', not '%s'", m);
    } else if (strcmp(a, "-q") == 0) {
      o->quiet = true;
    } else if (strcmp(a, "--json") == 0) {
      o->json = true;
    } else if (a[0] == '-' && a[1] != '\0') {
      die_usage("unknown option '%s'", a);
    } else {
      o->urls[o->nurls++] = argv[i];
    }
  }
  o->demo = o->nurls == 0 && o->file == NULL;
  if (!concurrency_set)
    o->concurrency = o->demo ? 100 : 50;
  if (!timeout_set)
    o->timeout_ms = o->demo ? 1000 : 30000;
  if (o->file != NULL && o->nurls > 0)
    die_usage("give URLs or -f FILE, not both");
  if (o->file != NULL && strcmp(o->file, "-") != 0 &&
      access(o->file, R_OK) != 0)
    die_usage("cannot read the URL file: %s", o->file);
  if (o->file != NULL && strcmp(o->file, "-") != 0) {
    struct stat st;
    if (stat(o->file, &st) != 0 || S_ISDIR(st.st_mode))
      die_usage("not a file: %s", o->file);
  }
  if (o->out_dir != NULL) {
    struct stat st;
    if (stat(o->out_dir, &st) != 0 && mkdir(o->out_dir, 0777) != 0)
      die_usage("cannot create the output directory %s", o->out_dir);
    if (stat(o->out_dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
        access(o->out_dir, W_OK) != 0)
      die_usage("not a writable directory: %s", o->out_dir);
  }
}

/* --- the run --- */

typedef struct item {
  char *url;      /* malloc'd; the fetch task frees it */
  uint64_t index; /* 0-based, for -o */
  uint64_t line;  /* in the file, for messages (0 = not from a file) */
} item;

typedef struct run {
  options *o;
  fetch_stats stats;
  uvgo_http_client *client;
  uvgo_ctx *ctx;      /* ends on Ctrl-C or the deadline */
  uvgo_chan *items;   /* item, bounded: the producer's back-pressure */
  uvgo_wg fetchers;
  _Atomic unsigned bad_urls_reported;
  FILE *progress_out;
  bool progress_tty;
  uvgo_chan *progress_stop;
  uvgo_wg progress_done;
} run;

static void save_body(run *r, const item *it, FILE **f) {
  if (r->o->out_dir == NULL || *f != NULL)
    return;
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%08llu", r->o->out_dir,
           (unsigned long long)it->index);
  *f = fopen(path, "wb");
}

/* One request, start to end of body. @return 0 with *status, *bytes, or an
 * error. */
static int fetch_one(run *r, const item *it, int *status, uint64_t *bytes) {
  uvgo_ctx *ctx;
  int err = uvgo_ctx_with_timeout(r->ctx, r->o->timeout_ms, &ctx);
  if (err != 0)
    return err;
  uvgo_http_request req = {.method = r->o->method,
                           .url = it->url,
                           .headers = r->o->headers,
                           .nheaders = r->o->nheaders};
  uvgo_http_response *resp = NULL;
  err = uvgo_http_do(ctx, r->client, &req, &resp);
  FILE *f = NULL;
  if (err == 0) {
    *status = uvgo_http_response_status(resp);
    save_body(r, it, &f);
    char buf[65536];
    for (;;) {
      ssize_t n = uvgo_http_response_read(ctx, resp, buf, sizeof buf);
      if (n == UV_EOF)
        break;
      if (n < 0) {
        err = (int)n;
        break;
      }
      *bytes += (uint64_t)n;
      if (f != NULL)
        fwrite(buf, 1, (size_t)n, f);
    }
  }
  if (f != NULL)
    fclose(f);
  uvgo_http_response_free(resp);
  uvgo_ctx_cancel(ctx);
  uvgo_ctx_release(ctx);
  return err;
}

static void fetcher(void *arg) {
  run *r = arg;
  item it;
  while (uvgo_chan_recv(r->items, &it) == 0) {
    if (uvgo_ctx_err(r->ctx) != 0) {
      free(it.url);
      continue; /* stopping: not started, not counted */
    }
    int status = 0;
    uint64_t bytes = 0;
    uint64_t t0 = fetch_now_ns();
    int err = fetch_one(r, &it, &status, &bytes);
    uint64_t us = (fetch_now_ns() - t0) / 1000;
    if (err == 0) {
      stats_response(&r->stats, status, bytes, us);
    } else if (uvgo_ctx_err(r->ctx) != 0 &&
               (err == UV_ECANCELED || err == UV_ETIMEDOUT)) {
      stats_canceled(&r->stats);
    } else {
      stats_error(&r->stats, err, it.url);
      fetch_err_kind k = stats_kind_of(err);
      if (k == FERR_BAD_URL && atomic_fetch_add(&r->bad_urls_reported, 1) < 10) {
        if (it.line)
          fprintf(stderr, "uvgo-fetch: line %llu: %s: %.200s\n",
                  (unsigned long long)it.line, uvgo_strerror(err), it.url);
        else
          fprintf(stderr, "uvgo-fetch: %s: %.200s\n", uvgo_strerror(err),
                  it.url);
      }
    }
    free(it.url);
  }
  uvgo_wg_done(&r->fetchers);
}

static void progress_task(void *arg) {
  run *r = arg;
  uint64_t every = r->progress_tty ? 100 : 1000;
  for (;;) {
    uvgo_select_case c2[2] = {UVGO_RECV_CASE(r->progress_stop, NULL),
                              UVGO_RECV_CASE(uvgo_after(every), NULL)};
    if (uvgo_select(c2, 2) != 1)
      break; /* stopped (closed), or Ctrl-C */
    stats_progress(&r->stats, r->progress_out, r->progress_tty);
  }
  uvgo_wg_done(&r->progress_done);
}

/* Hand one URL to the fetchers; false once the run is stopping. */
static bool submit(run *r, const char *url, size_t len, uint64_t index,
                   uint64_t line) {
  item it = {.url = malloc(len + 1), .index = index, .line = line};
  if (it.url == NULL)
    return false;
  memcpy(it.url, url, len);
  it.url[len] = '\0';
  uvgo_chan *done = uvgo_ctx_done(r->ctx);
  uvgo_select_case cases[2] = {UVGO_SEND_CASE(r->items, &it),
                               UVGO_RECV_CASE(done, NULL)};
  int which = uvgo_select(cases, done != NULL ? 2 : 1);
  if (which != 0) {
    free(it.url);
    return false;
  }
  return true;
}

/* Reading the URL file happens off the loop (uvgo_work), a batch of lines
 * at a time, so a slow pipe or disk never stalls the fetches. */
typedef struct batch {
  FILE *f;
  char *lines[BATCH];
  size_t lens[BATCH];
  uint64_t first_line;
  size_t n;
  bool eof;
  char *buf;
  size_t cap;
} batch;

static void read_batch(void *arg) {
  batch *b = arg;
  b->n = 0;
  while (b->n < BATCH) {
    ssize_t len = getline(&b->buf, &b->cap, b->f);
    if (len < 0) {
      b->eof = true;
      return;
    }
    while (len > 0 && (b->buf[len - 1] == '\n' || b->buf[len - 1] == '\r'))
      b->buf[--len] = '\0';
    char *line = malloc((size_t)len + 1);
    if (line == NULL) {
      b->eof = true;
      return;
    }
    memcpy(line, b->buf, (size_t)len + 1);
    b->lines[b->n] = line;
    b->lens[b->n] = (size_t)len;
    b->n++;
  }
}

typedef struct count_job {
  const char *path;
  uint64_t lines;
} count_job;

static void count_lines(void *arg) {
  count_job *j = arg;
  FILE *f = fopen(j->path, "rb");
  if (f == NULL)
    return;
  char buf[65536];
  size_t n;
  uint64_t lines = 0;
  int last = '\n';
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
    for (size_t i = 0; i < n; i++)
      lines += buf[i] == '\n';
    last = buf[n - 1];
  }
  if (last != '\n')
    lines++;
  fclose(f);
  j->lines = lines;
}

static void produce_file(run *r) {
  batch b = {0};
  bool is_stdin = strcmp(r->o->file, "-") == 0;
  b.f = is_stdin ? stdin : fopen(r->o->file, "r");
  if (b.f == NULL) {
    fprintf(stderr, "uvgo-fetch: cannot open %s: %s\n", r->o->file,
            strerror(errno));
    r->o->exit_code = EXIT_USAGE;
    return;
  }
  uint64_t line = 0, index = 0;
  bool go = true;
  while (go && !b.eof) {
    if (uvgo_work(r->ctx, read_batch, &b) != 0)
      break;
    for (size_t i = 0; i < b.n; i++) {
      line++;
      const char *s = b.lines[i];
      size_t len = b.lens[i];
      while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
      }
      while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
      if (go && len > 0 && s[0] != '#') {
        if (len > MAX_URL)
          len = MAX_URL;
        go = submit(r, s, len, index++, line);
      }
      free(b.lines[i]);
    }
    b.n = 0;
  }
  free(b.buf);
  if (!is_stdin)
    fclose(b.f);
}

static void main_task(void *arg) {
  options *o = arg;
  run *r = calloc(1, sizeof *r);
  r->o = o;
  stats_init(&r->stats);
  r->progress_out = o->json ? stderr : stdout;
  r->progress_tty = isatty(fileno(r->progress_out)) != 0;
  uvgo_ctx *root = uvgo_ctx_current();
  if (o->deadline_ms != 0)
    uvgo_ctx_with_timeout(root, o->deadline_ms, &r->ctx);
  else
    uvgo_ctx_with_cancel(root, &r->ctx);

  demo_server demo = {0};
  if (o->demo) {
    int err = demo_start(&demo);
    if (err != 0) {
      fprintf(stderr, "uvgo-fetch: cannot start the demo server: %s\n",
              uvgo_strerror(err));
      o->exit_code = EXIT_ALL_FAILED;
      return;
    }
    r->stats.total = o->demo_n;
    atomic_store(&r->stats.total_known, true);
    if (!o->json)
      printf("demo: a server on 127.0.0.1:%u (fast, slow, 404, redirect, gzip, "
             "large, reset); fetching %llu URLs, %u at a time, %llu ms "
             "timeout\n",
             demo.port, (unsigned long long)o->demo_n, o->concurrency,
             (unsigned long long)o->timeout_ms);
  } else if (o->file == NULL) {
    r->stats.total = o->nurls;
    atomic_store(&r->stats.total_known, true);
  } else if (strcmp(o->file, "-") != 0) {
    count_job cj = {o->file, 0};
    if (uvgo_work(r->ctx, count_lines, &cj) == 0) {
      r->stats.total = cj.lines; /* an upper bound: blank lines count */
      atomic_store(&r->stats.total_known, true);
    }
  }

  uvgo_http_client_config ccfg = {0};
  ccfg.max_idle_per_host = o->concurrency;
  int err = uvgo_http_client_new(&ccfg, &r->client);
  if (err != 0) {
    fprintf(stderr, "uvgo-fetch: %s\n", uvgo_strerror(err));
    o->exit_code = EXIT_ALL_FAILED;
    if (o->demo)
      demo_stop(&demo);
    return;
  }
  r->items = uvgo_chan_new(sizeof(item), 2 * (size_t)o->concurrency);
  r->progress_stop = uvgo_chan_new(0, 1);
  for (unsigned i = 0; i < o->concurrency; i++) {
    uvgo_wg_add(&r->fetchers, 1);
    if (uvgo_go(fetcher, r) != 0)
      uvgo_wg_done(&r->fetchers);
  }
  if (!o->quiet) {
    uvgo_wg_add(&r->progress_done, 1);
    if (uvgo_go(progress_task, r) != 0)
      uvgo_wg_done(&r->progress_done);
  }

  if (o->demo) {
    char url[128];
    for (uint64_t i = 0; i < o->demo_n; i++) {
      demo_url(&demo, i, o->fast_only, url, sizeof url);
      if (!submit(r, url, strlen(url), i, 0))
        break;
    }
  } else if (o->file != NULL) {
    produce_file(r);
  } else {
    for (size_t i = 0; i < o->nurls; i++)
      if (!submit(r, o->urls[i], strlen(o->urls[i]), i, 0))
        break;
  }
  uvgo_chan_close(r->items);
  uvgo_wg_wait(&r->fetchers);
  uvgo_chan_close(r->progress_stop);
  uvgo_wg_wait(&r->progress_done);
  bool interrupted = uvgo_ctx_err(root) != 0;
  bool deadline = !interrupted && uvgo_ctx_err(r->ctx) != 0;
  if (!o->quiet) {
    stats_progress(&r->stats, r->progress_out, r->progress_tty);
    stats_progress_end(r->progress_out, r->progress_tty);
  }
  if (o->json)
    stats_json(&r->stats, stdout, interrupted || deadline);
  else
    stats_summary(&r->stats, stdout, interrupted || deadline);
  if (deadline && !o->json)
    printf("\nstopped at the deadline (-d): URLs not yet fetched were skipped\n");

  uint64_t resp = atomic_load(&r->stats.responses);
  uint64_t errs = atomic_load(&r->stats.errors);
  if (o->exit_code == 0) {
    if (interrupted)
      o->exit_code = EXIT_INTERRUPTED;
    else if (resp == 0 && errs > 0) {
      o->exit_code = EXIT_ALL_FAILED;
      for (int k = 0; k < FERR_COUNT_; k++)
        if (atomic_load(&r->stats.err[k])) {
          fprintf(stderr, "uvgo-fetch: every request failed; %s errors, e.g. %s\n",
                  stats_kind_name((fetch_err_kind)k), r->stats.err_example[k]);
          break;
        }
    }
  }
  uvgo_chan_release(r->items);
  uvgo_chan_release(r->progress_stop);
  uvgo_http_client_free(r->client);
  if (o->demo)
    demo_stop(&demo);
  uvgo_ctx_cancel(r->ctx);
  uvgo_ctx_release(r->ctx);
  free(r);
}

int main(int argc, char **argv) {
  options o;
  parse_args(argc, argv, &o);
  uvgo_config cfg = {0};
  cfg.workers = o.workers;
  cfg.cancel_on_signal = 1;
  cfg.dump_on_sigquit = 1;
  int err = uvgo_run(&cfg, main_task, &o);
  for (size_t i = 0; i < o.nheaders; i++)
    free(o.header_store[i]);
  free(o.urls);
  if (err != 0) {
    fprintf(stderr, "uvgo-fetch: %s\n", uvgo_strerror(err));
    return EXIT_ALL_FAILED;
  }
  return o.exit_code;
}
