/* Diagnostics: task dumps, leak checks, the SIGQUIT dump thread and the
 * watchdog for tasks that hog their worker. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/scheduler.h"
#include "uvgo_config.h"

#if !UVGO_TSAN && defined(__linux__) && defined(__has_include)
#if __has_include(<linux/membarrier.h>)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#if defined(SYS_membarrier)
#define HAVE_MEMBARRIER 1
#endif
#endif
#endif

UVGO__TLS_FAST _Thread_local uvgo_call_site uvgo_call_site_tls;

/* --- the per-worker task list: changed by its owner, walked by dumps ---
 *
 * Only the worker's own thread links and unlinks (a task's start and its
 * end), twice per task; a dump from any thread walks the list, rarely. So
 * the cost is put on the dumper, as an asymmetric Dekker lock: the owner
 * stores list_busy = 1, then (compiler barrier only) loads list_dumper; a
 * dumper takes tasks_lock, stores list_dumper = 1, runs membarrier
 * (MEMBARRIER_CMD_PRIVATE_EXPEDITED: every running thread of the process
 * passes a full memory barrier before it returns), then waits for
 * list_busy == 0. The barrier falls somewhere in the owner's program
 * order: before its store (its load then sees list_dumper set, and it
 * takes tasks_lock instead), or after its load (its list_busy = 1 is
 * visible to the dumper, which waits). The owner's release of list_busy
 * hands the list's new links to the dumper's acquire. Without membarrier
 * (an old kernel, an emulator) or under TSan (which cannot see it) both
 * sides take tasks_lock, as before. */

bool uvgo__tasks_asym;

#ifdef HAVE_MEMBARRIER
static int membarrier(int cmd) { return (int)syscall(SYS_membarrier, cmd, 0, 0); }

static void tasks_asym_init(void) {
  if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0 &&
      membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0)
    uvgo__tasks_asym = true;
}

/* The heavy half. A child forked from a registered process may need to
 * register again; the global command needs no registration at all. */
static void heavy_barrier(void) {
  if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0)
    return;
  if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0 &&
      membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0)
    return;
  if (membarrier(MEMBARRIER_CMD_GLOBAL) == 0)
    return;
  static const char msg[] = "uvgo: membarrier failed during a dump\n";
  ssize_t ignored = write(2, msg, sizeof msg - 1);
  (void)ignored;
  abort();
}
#else
static void tasks_asym_init(void) {}
static void heavy_barrier(void) {}
#endif

void uvgo__tasks_lock(uvgo__worker *w) {
  int expected = 0;
  while (!atomic_compare_exchange_weak_explicit(&w->tasks_lock, &expected, 1,
                                                memory_order_acquire,
                                                memory_order_relaxed)) {
    expected = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
}

void uvgo__tasks_unlock(uvgo__worker *w) {
  atomic_store_explicit(&w->tasks_lock, 0, memory_order_release);
}

/* A dumper's side: the list of w holds still until dumper_unlock. */
static void dumper_lock(uvgo__worker *w) {
  uvgo__tasks_lock(w);
  if (!uvgo__tasks_asym)
    return;
  atomic_store_explicit(&w->list_dumper, 1, memory_order_relaxed);
  heavy_barrier();
  while (atomic_load_explicit(&w->list_busy, memory_order_acquire)) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
}

static void dumper_unlock(uvgo__worker *w) {
  if (uvgo__tasks_asym)
    atomic_store_explicit(&w->list_dumper, 0, memory_order_release);
  uvgo__tasks_unlock(w);
}

/* --- the registry of runtimes, so a dump sees every one --- */

static uv_once_t registry_once = UV_ONCE_INIT;
static uv_mutex_t registry_lock;
static uvgo_rt *registry;

/* Before any runtime's workers exist: the mode never changes after. */
static void registry_init(void) {
  uv_mutex_init(&registry_lock);
  tasks_asym_init();
}

void uvgo__registry_add(uvgo_rt *rt) {
  uv_once(&registry_once, registry_init);
  uv_mutex_lock(&registry_lock);
  rt->registry_next = registry;
  registry = rt;
  uv_mutex_unlock(&registry_lock);
}

void uvgo__registry_remove(uvgo_rt *rt) {
  uv_once(&registry_once, registry_init);
  uv_mutex_lock(&registry_lock);
  for (uvgo_rt **p = &registry; *p != NULL; p = &(*p)->registry_next)
    if (*p == rt) {
      *p = rt->registry_next;
      break;
    }
  uv_mutex_unlock(&registry_lock);
}

/* --- describing tasks --- */

static const char *state_name(int state) {
  switch (state) {
  case UVGO__TASK_NEW:
    return "not started";
  case UVGO__TASK_RUNNABLE:
    return "runnable";
  case UVGO__TASK_RUNNING:
    return "running";
  case UVGO__TASK_YIELDING:
    return "yielding";
  case UVGO__TASK_PARKING:
  case UVGO__TASK_NOTIFIED:
  case UVGO__TASK_PARKED:
    return "blocked";
  default:
    return "finishing";
  }
}

/* A consistent copy of what a task on another thread is blocked in: the
 * reader side of the block_seq seqlock (scheduler.h). False when the task
 * is not parked or was rewriting the record as we looked. */
typedef struct {
  const char *call;
  const char *file;
  int line;
  const void *object;
} block_info;

static bool read_block(uvgo_task *t, block_info *b) {
  unsigned seq = atomic_load_explicit(&t->block_seq, memory_order_acquire);
  if (seq & 1u)
    return false;
  /* Acquire loads: a field from a newer episode brings its odd mark
   * with it, so the second look at the sequence sees the change. */
  b->call = atomic_load_explicit(&t->block_call, memory_order_acquire);
  b->file = atomic_load_explicit(&t->block_file, memory_order_acquire);
  b->line = atomic_load_explicit(&t->block_line, memory_order_acquire);
  b->object = atomic_load_explicit(&t->block_object, memory_order_acquire);
  return b->call != NULL &&
         atomic_load_explicit(&t->block_seq, memory_order_relaxed) == seq;
}

/* The name, copied byte by byte under name_seq; a name being rewritten as
 * we look reads as empty rather than torn. */
static void read_name(uvgo_task *t, char out[UVGO__NAME_MAX]) {
  unsigned seq = atomic_load_explicit(&t->name_seq, memory_order_acquire);
  size_t i = 0;
  if ((seq & 1u) == 0)
    for (; i < UVGO__NAME_MAX - 1; i++) {
      out[i] = __atomic_load_n(&t->name[i], __ATOMIC_ACQUIRE);
      if (out[i] == '\0')
        break;
    }
  out[i] = '\0';
  if (atomic_load_explicit(&t->name_seq, memory_order_relaxed) != seq)
    out[0] = '\0';
}

/* One line per task, readable while the task runs on another worker: its
 * spawn site and stack never change while it is listed, and what it is
 * blocked in is read under a seqlock. Called with the home worker's list
 * lock, so the record cannot be freed under us. */
static void describe(FILE *out, uvgo_task *t, int worker) {
  int state = atomic_load_explicit(&t->state, memory_order_acquire);
  char name[UVGO__NAME_MAX];
  read_name(t, name);
  fprintf(out, "  task %p", (void *)t);
  if (name[0] != '\0')
    fprintf(out, " \"%s\"", name);
  fprintf(out, " [worker %d, %s]", worker, state_name(state));
  block_info b;
  bool blocked = state == UVGO__TASK_PARKED && read_block(t, &b);
  if (blocked) {
    fprintf(out, " blocked in %s", b.call);
    if (b.object != NULL)
      fprintf(out, "(%p)", b.object);
    if (b.file != NULL)
      fprintf(out, " at %s:%d", b.file, b.line);
  }
  fprintf(out, "; spawned at %s:%d", t->spawn_file, t->spawn_line);
  if (blocked && t->stack != NULL)
    fprintf(out, "; stack %zu KiB used", uvgo__stack_high_water(t->stack) / 1024);
  fputc('\n', out);
}

unsigned uvgo__report_tasks(uvgo_rt *rt, FILE *out, const uvgo_task *skip,
                            unsigned max) {
  unsigned count = 0;
  for (unsigned i = 0; i < rt->nworkers; i++) {
    uvgo__worker *w = rt->workers[i];
    dumper_lock(w);
    for (uvgo_task *t = w->all_tasks; t != NULL; t = t->all_next) {
      if (t == skip)
        continue;
      if (out != NULL && count < max)
        describe(out, t, (int)i);
      count++;
    }
    dumper_unlock(w);
  }
  if (out != NULL && count > max)
    fprintf(out, "  … and %u more\n", count - max);
  return count;
}

static void dump_runtime(uvgo_rt *rt, FILE *out) {
  size_t live = uvgo_task_count(rt);
  fprintf(out, "uvgo: runtime %p: %u worker%s, %zu live task%s, stack guards: %s\n",
          (void *)rt, rt->nworkers, rt->nworkers == 1 ? "" : "s", live,
          live == 1 ? "" : "s",
          uvgo__stack_guard_mode_name(uvgo__stack_guard_mode()));
  for (unsigned i = 0; i < rt->nworkers; i++) {
    uvgo_worker_stats st;
    uvgo_worker_stats_get(rt, i, &st);
    fprintf(out,
            "  worker %u: switches %llu, spawns %llu, steals %llu, remote "
            "wakes %llu, wake-ups %llu, idle %llu\n",
            i, (unsigned long long)st.switches, (unsigned long long)st.spawns,
            (unsigned long long)st.steals, (unsigned long long)st.remote_wakes,
            (unsigned long long)st.wakeups, (unsigned long long)st.idle_sleeps);
  }
  unsigned listed = uvgo__report_tasks(rt, out, NULL, 1000);
  if (live > listed)
    fprintf(out, "  %zu task%s queued, not started yet\n", live - listed,
            live - listed == 1 ? "" : "s");
}

int uvgo_dump(FILE *out) {
  if (out == NULL)
    return UV_EINVAL;
  uv_once(&registry_once, registry_init);
  uv_mutex_lock(&registry_lock);
  if (registry == NULL)
    fprintf(out, "uvgo: no runtime\n");
  for (uvgo_rt *rt = registry; rt != NULL; rt = rt->registry_next)
    dump_runtime(rt, out);
  uv_mutex_unlock(&registry_lock);
  fflush(out);
  return 0;
}

size_t uvgo_live_tasks_total(void) {
  size_t n = 0;
  uv_once(&registry_once, registry_init);
  uv_mutex_lock(&registry_lock);
  for (uvgo_rt *rt = registry; rt != NULL; rt = rt->registry_next)
    n += uvgo_task_count(rt);
  uv_mutex_unlock(&registry_lock);
  return n;
}

int uvgo_verify_none(FILE *report) {
  uvgo_rt *own = uvgo_rt_current();
  uvgo_task *self = uvgo__current_task();
  unsigned found = 0;
  uv_once(&registry_once, registry_init);
  uv_mutex_lock(&registry_lock);
  for (uvgo_rt *rt = registry; rt != NULL; rt = rt->registry_next) {
    if (own != NULL && rt != own)
      continue;
    size_t live = uvgo_task_count(rt) - (self != NULL && rt == own ? 1 : 0);
    if (live == 0)
      continue;
    if (report != NULL)
      fprintf(report, "uvgo: %zu task%s still alive:\n", live,
              live == 1 ? "" : "s");
    unsigned listed = uvgo__report_tasks(rt, report, self, 100);
    if (report != NULL && live > listed)
      fprintf(report, "  %zu queued, not started yet\n", live - listed);
    found += (unsigned)live;
  }
  uv_mutex_unlock(&registry_lock);
  if (report != NULL)
    fflush(report);
  return (int)found;
}

/* --- SIGQUIT: a dedicated thread prints the dump, so it works while every
 * worker is stuck in a busy loop. The handler only writes a byte. --- */

static int sigquit_pipe[2] = {-1, -1};
static uv_thread_t sigquit_thread;
static struct sigaction sigquit_old;
static int sigquit_users;
static uv_mutex_t sigquit_lock;
static uv_once_t sigquit_once = UV_ONCE_INIT;

static void sigquit_init(void) { uv_mutex_init(&sigquit_lock); }

static void on_sigquit(int signum) {
  (void)signum;
  int saved = errno;
  char byte = 'q';
  /* Non-blocking: a storm of signals collapses into one pending dump. */
  ssize_t ignored = write(sigquit_pipe[1], &byte, 1);
  (void)ignored;
  errno = saved;
}

static void sigquit_main(void *arg) {
  (void)arg;
  for (;;) {
    char buf[64];
    ssize_t n = read(sigquit_pipe[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0 || memchr(buf, 'x', (size_t)n) != NULL)
      return;
    fprintf(stderr, "SIGQUIT: uvgo task dump\n");
    uvgo_dump(stderr);
  }
}

int uvgo__sigquit_start(void) {
  uv_once(&sigquit_once, sigquit_init);
  uv_mutex_lock(&sigquit_lock);
  int err = 0;
  if (sigquit_users++ == 0) {
    if (pipe2(sigquit_pipe, O_CLOEXEC) != 0) {
      err = uv_translate_sys_error(errno);
    } else {
      fcntl(sigquit_pipe[1], F_SETFL, O_NONBLOCK);
      err = uv_thread_create(&sigquit_thread, sigquit_main, NULL);
      if (err == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigquit;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGQUIT, &sa, &sigquit_old);
      }
    }
    if (err != 0) {
      sigquit_users--;
      if (sigquit_pipe[0] >= 0) {
        close(sigquit_pipe[0]);
        close(sigquit_pipe[1]);
        sigquit_pipe[0] = sigquit_pipe[1] = -1;
      }
    }
  }
  uv_mutex_unlock(&sigquit_lock);
  return err;
}

void uvgo__sigquit_stop(void) {
  uv_mutex_lock(&sigquit_lock);
  if (--sigquit_users == 0) {
    sigaction(SIGQUIT, &sigquit_old, NULL);
    char byte = 'x';
    while (write(sigquit_pipe[1], &byte, 1) < 0 && errno == EAGAIN)
      uv_sleep(1); /* a full pipe: the thread is draining it */
    uv_thread_join(&sigquit_thread);
    close(sigquit_pipe[0]);
    close(sigquit_pipe[1]);
    sigquit_pipe[0] = sigquit_pipe[1] = -1;
  }
  uv_mutex_unlock(&sigquit_lock);
}

/* --- the watchdog: no preemption, so a task that never reaches a switch
 * point hogs its worker; name it and where it was spawned. --- */

typedef struct {
  uvgo_task *task;
  uint64_t switches;
  uint64_t since_ms;
  bool reported;
} watch_sample;

static void watchdog_main(void *arg) {
  uvgo_rt *rt = arg;
  unsigned limit = rt->cfg.watchdog_ms;
  uint64_t period_ns = (uint64_t)(limit / 4 > 0 ? limit / 4 : 1) * 1000000u;
  watch_sample *samples = uvgo__calloc(rt->nworkers, sizeof *samples);
  if (samples == NULL)
    return;
  uv_mutex_lock(&rt->watchdog_lock);
  while (!rt->watchdog_stop) {
    uv_cond_timedwait(&rt->watchdog_cond, &rt->watchdog_lock, period_ns);
    uint64_t now = uvgo__now_ms();
    for (unsigned i = 0; i < rt->nworkers && !rt->watchdog_stop; i++) {
      uvgo__worker *w = rt->workers[i];
      uvgo_task *t = atomic_load_explicit(&w->watch_current, memory_order_acquire);
      uint64_t sw = atomic_load_explicit(&w->n_switches, memory_order_relaxed);
      watch_sample *s = &samples[i];
      if (t == NULL || t != s->task || sw != s->switches) {
        *s = (watch_sample){t, sw, now, false};
        continue;
      }
      if (!s->reported && now - s->since_ms >= limit) {
        s->reported = true;
        fprintf(stderr,
                "uvgo: watchdog: task %p spawned at %s:%d has run %llu ms on "
                "worker %u without reaching a switch point\n",
                (void *)t, t->spawn_file, t->spawn_line,
                (unsigned long long)(now - s->since_ms), i);
        fflush(stderr);
      }
    }
  }
  uv_mutex_unlock(&rt->watchdog_lock);
  uvgo__free(samples);
}

int uvgo__watchdog_start(uvgo_rt *rt) {
  if (rt->cfg.watchdog_ms == 0)
    return 0;
  if (uv_mutex_init(&rt->watchdog_lock) != 0)
    return UV_ENOMEM;
  if (uv_cond_init(&rt->watchdog_cond) != 0) {
    uv_mutex_destroy(&rt->watchdog_lock);
    return UV_ENOMEM;
  }
  rt->watchdog_stop = false;
  int err = uv_thread_create(&rt->watchdog, watchdog_main, rt);
  if (err != 0) {
    uv_cond_destroy(&rt->watchdog_cond);
    uv_mutex_destroy(&rt->watchdog_lock);
    return err;
  }
  rt->watchdog_on = true;
  return 0;
}

void uvgo__watchdog_stop(uvgo_rt *rt) {
  if (!rt->watchdog_on)
    return;
  uv_mutex_lock(&rt->watchdog_lock);
  rt->watchdog_stop = true;
  uv_cond_signal(&rt->watchdog_cond);
  uv_mutex_unlock(&rt->watchdog_lock);
  uv_thread_join(&rt->watchdog);
  uv_cond_destroy(&rt->watchdog_cond);
  uv_mutex_destroy(&rt->watchdog_lock);
  rt->watchdog_on = false;
}
