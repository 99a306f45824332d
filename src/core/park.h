/* The parker: one blocking episode of one task or foreign thread. Every
 * blocking primitive (channels, select, sleep, sync, I/O) registers a
 * parker as its waiter and wakes it through here.
 *
 * Protocol (DESIGN.md, Park/wake):
 *   1. the waiter calls uvgo__parker_prepare under the primitive's lock,
 *      before making the parker visible to wakers; for a task this sets
 *      PARKING, so a wake that lands before the switch is not lost;
 *   2. it unlocks and calls uvgo__parker_wait;
 *   3. a waker (any thread, the timer, a cancel) first wins
 *      uvgo__parker_claim — exactly one claim succeeds per episode — then
 *      writes its result and calls uvgo__parker_wake.
 * A waker that loses the claim must leave the parker alone: the winner
 * owns the wake, and the waiter unregisters itself after it resumes. */
#ifndef UVGO_PARK_H
#define UVGO_PARK_H

#include "core/scheduler.h"

/* Wake reasons: >= 0 is the primitive's own success word (a select case
 * index, say); < 0 is an error code the blocking call returns (a context
 * cancellation claims with UV_ECANCELED or UV_ETIMEDOUT). */
#define UVGO__WAKE_NONE 0
#define UVGO__WAKE_TIMEOUT (-1000000) /* claimed by the wait's own deadline */

typedef struct uvgo__parker {
  uvgo_task *task;        /* NULL: a thread that is not a uvgo task */
  _Atomic int claimed;
  int reason;             /* the claimer's word, read after the wake */
  uvgo__timer_entry deadline;
  /* the task's context and a call's context watch it while parked
   * (cancellation points): one link on each's watch list */
  struct uvgo__watch_link {
    struct uvgo__watch_link *prev;
    struct uvgo__watch_link *next;
    struct uvgo__parker *parker;
    /* The parker watching the same scope UVGO__CTX_HINTS watches earlier,
     * which may be gone since: only ever prefetched (ctx.c). */
    struct uvgo__parker *hint;
    bool on;
  } watch[2];
  /* foreign-thread mode */
  uv_mutex_t mu;
  uv_cond_t cond;
  bool signalled;
  bool count_lent; /* under mu: the waiter released its deadlock-check
                      count, the waker gives it back (foreign.c) */
} uvgo__parker;

/* Step 1 for the running task t (uvgo__current_task()): inline, it is on
 * every blocking call. The deadline entry is set up by the wait that arms
 * it (park.c, sleep_task), so an untimed wait never writes it. */
static inline void uvgo__parker_prepare_task(uvgo__parker *p, uvgo_task *t,
                                             const char *call) {
  p->task = t;
  atomic_store_explicit(&p->claimed, 0, memory_order_relaxed);
  p->reason = UVGO__WAKE_NONE;
  /* The site macros (diag.h) left the caller's file:line here. */
  uvgo__task_set_block(t, call, uvgo_call_site_tls.file,
                       uvgo_call_site_tls.line, uvgo_call_site_tls.object);
  atomic_store_explicit(&t->state, UVGO__TASK_PARKING, memory_order_release);
}
/* Step 1 on a plain thread (out of line). */
int uvgo__parker_prepare_thread(uvgo__parker *p);
/* Step 1. `call` names the blocking call for dumps (static string).
 * @return 0, or UV_ENOMEM (a foreign thread's condition variable). */
static inline int uvgo__parker_prepare(uvgo__parker *p, const char *call) {
  uvgo_task *t = uvgo__current_task();
  if (UVGO__LIKELY(t != NULL)) {
    uvgo__parker_prepare_task(p, t, call);
    return 0;
  }
  return uvgo__parker_prepare_thread(p);
}
/* Undo prepare when the waiter decides not to wait after all (e.g. it
 * claimed its own parker). Only valid if no waker won the claim, or after
 * the waker's wake. */
void uvgo__parker_abandon(uvgo__parker *p);
/* Step 3a: at most one caller per episode gets true. */
static inline bool uvgo__parker_claim(uvgo__parker *p, int reason) {
  int expected = 0;
  if (!atomic_compare_exchange_strong_explicit(&p->claimed, &expected, 1,
                                               memory_order_acq_rel,
                                               memory_order_relaxed))
    return false;
  p->reason = reason;
  return true;
}
/* Step 3b: resume the waiter. Any thread. */
void uvgo__parker_wake(uvgo__parker *p);
/* The same, with the common case inline (a task of this worker): for the
 * hot wakes (channels, select). */
static inline void uvgo__parker_wake_fast(uvgo__parker *p) {
  uvgo_task *t = p->task;
  if (UVGO__LIKELY(t != NULL) && uvgo__task_wake_local(t))
    return;
  uvgo__parker_wake(p);
}
/* Step 2: block until claimed and woken, or until deadline_ms (then the
 * deadline claims with UVGO__WAKE_TIMEOUT). Returns p->reason. */
int uvgo__parker_wait(uvgo__parker *p, uint64_t deadline_ms);
/* The same, also ended by call_ctx (a context passed to an I/O call; may
 * be NULL). A call that must keep waiting for a libuv callback after a
 * cancel (DESIGN.md, In-flight requests) aborts the request and then
 * waits again inside uvgo_ctx_shield or with a fresh parker and no ctx. */
int uvgo__parker_wait_ctx(uvgo__parker *p, uint64_t deadline_ms,
                          uvgo_ctx *call_ctx);
/* Not a cancellation point (WaitGroup wait, mutex lock, once, and the
 * second wait of an aborted libuv request): only the deadline, call_ctx
 * (may be NULL) and wakers end it. */
int uvgo__parker_wait_ex(uvgo__parker *p, uint64_t deadline_ms,
                         uvgo_ctx *call_ctx, bool task_ctx);
int uvgo__parker_wait_uncancellable(uvgo__parker *p, uint64_t deadline_ms);

/* True if a wait of this (prepared) parker with no deadline and no call
 * context could only be ended by its wakers: a task that no context
 * watches (uvgo__parker_wait_ex's scopes would be empty). */
static inline bool uvgo__task_unwatched(const uvgo_task *t) {
  return t != NULL && (t->shield != 0 || t->cancel_scope == NULL);
}
static inline bool uvgo__parker_unwatched(const uvgo__parker *p) {
  return uvgo__task_unwatched(p->task);
}
/* Step 2 with the wakers' locks still held, for an unwatched parker all
 * of whose claimers but its own deadline take one of those locks (Go's
 * gopark with an unlock function): the task switches out, and the code
 * that runs next on its worker marks it PARKED and only then calls
 * commit(arg), which releases the locks. So no waker can find the parker
 * while its task is PARKING and the PARKING -> PARKED step needs no
 * compare-and-swap. (The deadline's timer fires on this worker, after
 * that.) If the deadline cannot be armed (UV_ENOMEM) it calls commit
 * itself and returns UV_ENOMEM without waiting. Returns p->reason. */
int uvgo__parker_wait_commit_timed(uvgo__parker *p, uint64_t deadline_ms,
                                   void (*commit)(void *arg), void *arg);
static inline int uvgo__parker_wait_commit(uvgo__parker *p,
                                           uint64_t deadline_ms,
                                           void (*commit)(void *arg),
                                           void *arg) {
  if (deadline_ms != UVGO__NO_DEADLINE)
    return uvgo__parker_wait_commit_timed(p, deadline_ms, commit, arg);
  uvgo__worker *w = p->task->home;
  w->park_commit = commit;
  w->park_commit_arg = arg;
  uvgo__task_switch_out(w, p->task);
  return p->reason;
}

#endif
