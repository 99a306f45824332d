/* uvgo — the runtime: run a program on uvgo, or attach uvgo to an existing
 * libuv loop.
 *
 * A runtime is a set of workers. A worker is one OS thread with one
 * uv_loop_t; tasks live on one worker (their home) for life. */
#ifndef UVGO_RUNTIME_H
#define UVGO_RUNTIME_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A runtime (opaque): its workers, their loops and tasks. */
typedef struct uvgo_rt uvgo_rt;
/* A task's function: runs as the task, with the spawn's argument. */
typedef void (*uvgo_fn)(void *arg);

/* Most workers a runtime can have. */
#define UVGO_MAX_WORKERS 256
/* uvgo_config.spin_ns: never spin before sleeping. */
#define UVGO_SPIN_NEVER (~0u)

/* Runtime configuration for uvgo_run and uvgo_rt_attach. Zero-initialise
 * and set what you need: every zero field means its default. */
typedef struct uvgo_config {
  /* Worker threads. uvgo_run: 0 = available parallelism; attach: 0 = 1 (the
   * host's loop only). At most UVGO_MAX_WORKERS. */
  unsigned workers;
  /* Default usable stack bytes per task; 0 = 256 KiB. 16 KiB .. 1 GiB. */
  size_t stack_size;
  /* Cap on live tasks (spawns beyond it return UVGO_ELIMIT); 0 = none. */
  size_t max_tasks;
  /* uvgo_run: end the run when main returns, reporting tasks still alive
   * (Go's behaviour) instead of waiting for every task. */
  int exit_when_main_returns;
  /* Cancel the root context on SIGINT/SIGTERM (uvgo_run only by default). */
  int cancel_on_signal;
  /* Print a task dump on SIGQUIT, from a dedicated thread. */
  int dump_on_sigquit;
  /* Nanoseconds a worker with nothing to run spins on its inbox before
   * sleeping in the kernel, and only while another worker is running
   * tasks (never while the whole runtime is idle): a wake-up from another
   * worker then costs a cache-line transfer, not a kernel wake-up. 0 = the
   * default (50 us); UVGO_SPIN_NEVER = never spin. */
  unsigned spin_ns;
  /* Attach mode: install the stack-overflow reporter (a SIGSEGV handler
   * that chains to the host's). uvgo_run always installs it. */
  int catch_stack_overflow;
  /* Report any task that has run longer than this many milliseconds
   * without reaching a switch point (it hogs its worker: there is no
   * preemption). 0 = off. The monitor thread wakes every watchdog_ms / 4. */
  unsigned watchdog_ms;
} uvgo_config;

/* Run main_fn(arg) as the first task. The calling thread becomes worker 0;
 * workers - 1 more threads start. Returns when main and every task it
 * spawned have finished (or when main returns, with exit_when_main_returns).
 * Ignores SIGPIPE while running (libuv writes without MSG_NOSIGNAL; Go does
 * the same) and restores the previous disposition afterwards.
 * cfg may be NULL for defaults.
 * @return 0; UV_EINVAL (NULL main_fn, bad config); UV_EBUSY (called from a
 * task or while the calling thread already runs a runtime); UV_ENOMEM;
 * UVGO_EDEADLOCK (every task blocked forever).
 * Thread contract: any thread that is not already a uvgo worker. */
UVGO_EXTERN int uvgo_run(const uvgo_config *cfg, uvgo_fn main_fn, void *arg);

/* Attach a runtime to a loop the program drives with uv_run. Worker 0 is
 * `loop` (tasks run inside the host's uv_run); extra workers, if asked,
 * get threads and loops of their own. uvgo's handles are unreferenced while
 * no task lives, so the host's uv_run returns when it would have without
 * uvgo. No signal handler is installed unless cfg asks.
 * @return 0; UV_EINVAL (NULL loop/out, bad config); UV_EBUSY (loop already
 * attached); UV_ENOMEM.
 * Thread contract: the loop's thread, outside a task. */
UVGO_EXTERN int uvgo_rt_attach(uv_loop_t *loop, const uvgo_config *cfg,
                               uvgo_rt **out);

/* Spawn fn(arg) on the runtime's worker 0, from any thread or libuv
 * callback. Records the call site for diagnostics.
 * @return 0; UV_EINVAL; UVGO_ENORUNTIME (the runtime has ended or is
 * closing); UVGO_ELIMIT; UV_ENOMEM. */
#define uvgo_rt_spawn(rt, fn, arg) \
  uvgo_rt_spawn_at((rt), (fn), (arg), __FILE__, __LINE__)
UVGO_EXTERN int uvgo_rt_spawn_at(uvgo_rt *rt, uvgo_fn fn, void *arg,
                                 const char *file, int line);

/* Keep the runtime (and, attached, the host loop) alive for a foreign
 * producer that will spawn or wake tasks later; pair with uvgo_rt_unref.
 * Take the reference on the loop's thread or from a task, before handing
 * the runtime to the producer. @return 0 or UV_EINVAL. Any thread. */
UVGO_EXTERN int uvgo_rt_ref(uvgo_rt *rt);
UVGO_EXTERN int uvgo_rt_unref(uvgo_rt *rt);

/* Detach and free an attached runtime. Its handles close asynchronously:
 * run the host loop once more (uv_run) before uv_loop_close.
 * @return 0; UV_EINVAL (NULL, or a runtime made by uvgo_run); UV_EBUSY
 * while tasks live or references are held (nothing changes).
 * Thread contract: the loop's thread, outside a task. */
UVGO_EXTERN int uvgo_rt_close(uvgo_rt *rt);

/* The runtime of the calling worker thread, or NULL. Any thread. */
UVGO_EXTERN uvgo_rt *uvgo_rt_current(void);
/* The calling worker's loop, or NULL outside a worker. */
UVGO_EXTERN uv_loop_t *uvgo_loop(void);
/* The calling worker's index (0-based), or -1 outside a worker. */
UVGO_EXTERN int uvgo_worker_id(void);
/* Number of workers of the calling thread's runtime (0 outside). */
UVGO_EXTERN unsigned uvgo_worker_count(void);
/* Live tasks of rt (NULL = the caller's runtime). Any thread. */
UVGO_EXTERN size_t uvgo_task_count(uvgo_rt *rt);

/* Per-worker counters, for dumps and benchmarks. */
typedef struct uvgo_worker_stats {
  uint64_t switches;     /* task resumptions */
  uint64_t spawns;       /* tasks started on this worker */
  uint64_t steals;       /* tasks taken from other workers */
  uint64_t remote_wakes; /* wake-ups sent to other workers */
  uint64_t wakeups;      /* loop ticks that ran the drain point */
  uint64_t idle_sleeps;  /* times the worker went idle */
} uvgo_worker_stats;
/* @return 0, or UV_EINVAL (NULL, worker out of range). Counters are read
 * without stopping the worker: each is exact, the set is not a snapshot. */
UVGO_EXTERN int uvgo_worker_stats_get(uvgo_rt *rt, unsigned worker,
                                      uvgo_worker_stats *out);

#ifdef __cplusplus
}
#endif
#endif
