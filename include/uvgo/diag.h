/* uvgo — diagnostics: task dumps, leak checks (goleak's job), the
 * deadlock report's call sites, and the watchdog for tasks that hog a
 * worker.
 *
 * Call sites: the blocking calls below are wrapped by macros of the same
 * name that record __FILE__/__LINE__ and the object waited on, so a dump
 * or a deadlock report says "blocked in uvgo_chan_recv(0x…) at main.c:42".
 * The functions themselves are unchanged (take their address, or define
 * UVGO_NO_SITE_MACROS, to call them without the record). */
#ifndef UVGO_DIAG_H
#define UVGO_DIAG_H

#include <stdio.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Print every live task of every runtime in this process — name, worker,
 * state, the call it is blocked in with its site and object, spawn site,
 * stack high-water mark — and per-worker counters. Safe from any thread,
 * while tasks start and end on other workers; used by the SIGQUIT dump.
 * @return 0, or UV_EINVAL for a NULL stream. */
UVGO_EXTERN int uvgo_dump(FILE *out);

/* goleak's VerifyNone: list every live task of the caller's runtime other
 * than the caller (name, spawn site, state, blocking site) to report (may
 * be NULL) and return how many there are (0: none). Outside a runtime, the
 * tasks of every runtime of the process. Any thread. */
UVGO_EXTERN int uvgo_verify_none(FILE *report);

/* Live tasks in all runtimes of the process. Any thread. */
UVGO_EXTERN size_t uvgo_live_tasks_total(void);

/* --- call-site capture (used by the macros below) --- */
typedef struct uvgo_call_site {
  const char *file;   /* __FILE__ of the blocking call */
  int line;           /* __LINE__ of the blocking call */
  const void *object; /* what it blocks on (channel, mutex, ...) */
} uvgo_call_site;

/* The calling thread's site of the blocking call being made, written by
 * the macros below just before the call (read by the call itself). */
#ifdef __cplusplus
extern UVGO_EXTERN thread_local uvgo_call_site uvgo_call_site_tls;
#else
extern UVGO_EXTERN _Thread_local uvgo_call_site uvgo_call_site_tls;
#endif

static inline void uvgo_site_set_(const char *file, int line,
                                  const void *object) {
  uvgo_call_site_tls.file = file;
  uvgo_call_site_tls.line = line;
  uvgo_call_site_tls.object = object;
}
static inline int uvgo_site_clear_(int result) {
  uvgo_call_site_tls.file = NULL;
  return result;
}
static inline long long uvgo_site_clear_ll_(long long result) {
  uvgo_call_site_tls.file = NULL;
  return result;
}
#define UVGO_AT_(call, object) \
  (uvgo_site_set_(__FILE__, __LINE__, (const void *)(object)), \
   uvgo_site_clear_(call))

#if !defined(UVGO_BUILDING) && !defined(UVGO_NO_SITE_MACROS)
#define uvgo_chan_send(ch, elem) UVGO_AT_(uvgo_chan_send(ch, elem), ch)
#define uvgo_chan_recv(ch, elem) UVGO_AT_(uvgo_chan_recv(ch, elem), ch)
#define uvgo_select(cases, n) UVGO_AT_(uvgo_select(cases, n), cases)
#define uvgo_sleep(ms) UVGO_AT_(uvgo_sleep(ms), NULL)
#define uvgo_park() UVGO_AT_(uvgo_park(), NULL)
#define uvgo_wg_wait(wg) UVGO_AT_(uvgo_wg_wait(wg), wg)
#define uvgo_wg_wait_ctx(wg, ctx) UVGO_AT_(uvgo_wg_wait_ctx(wg, ctx), wg)
#define uvgo_mutex_lock(m) UVGO_AT_(uvgo_mutex_lock(m), m)
#define uvgo_mutex_lock_ctx(m, ctx) UVGO_AT_(uvgo_mutex_lock_ctx(m, ctx), m)
#define uvgo_sem_acquire(s, n) UVGO_AT_(uvgo_sem_acquire(s, n), s)
#define uvgo_once_do(o, fn, arg) UVGO_AT_(uvgo_once_do(o, fn, arg), o)
#define uvgo_work(ctx, fn, arg) UVGO_AT_(uvgo_work(ctx, fn, arg), ctx)
#define uvgo_group_wait(g) UVGO_AT_(uvgo_group_wait(g), g)
#define uvgo_dial(ctx, host, port, out) \
  UVGO_AT_(uvgo_dial(ctx, host, port, out), NULL)
#define uvgo_accept(ctx, ln, out) UVGO_AT_(uvgo_accept(ctx, ln, out), ln)
#define uvgo_conn_write(ctx, c, buf, len) \
  UVGO_AT_(uvgo_conn_write(ctx, c, buf, len), c)
#define uvgo_conn_read(ctx, c, buf, len)                             \
  (uvgo_site_set_(__FILE__, __LINE__, (const void *)(c)),            \
   (ssize_t)uvgo_site_clear_ll_(uvgo_conn_read(ctx, c, buf, len)))
#endif

#ifdef __cplusplus
}
#endif
#endif
