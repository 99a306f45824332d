/* The scheduler's internal structures: runtime, worker, task, parker.
 * See DESIGN.md (Runtime model) for the why; this file is the what. */
#ifndef UVGO_SCHEDULER_H
#define UVGO_SCHEDULER_H

#include "core/fiber.h"
#include "core/internal.h"
#include "core/stack.h"
#include "core/timer.h"

#include <stdio.h>

#define UVGO__TASK_MAGIC 0x7461736bu /* "task" */
#define UVGO__RT_MAGIC 0x72756e74u   /* "runt" */
#define UVGO__DEAD_MAGIC 0xdeadbeefu
#define UVGO__RUNQ_SIZE 256u
#define UVGO__INLINE_COPY 48 /* uvgo_go_copy payloads up to this are inline */
#define UVGO__NAME_MAX 32
#define UVGO__FREE_TASKS_MAX 1024 /* task records kept per worker */
#define UVGO__SPIN_DEFAULT_NS 50000u /* cfg.spin_ns = 0: idle spin budget */

typedef enum {
  UVGO__TASK_NEW = 0,  /* spawned, not started: may be stolen */
  UVGO__TASK_RUNNABLE, /* in a ready queue or inbox */
  UVGO__TASK_RUNNING,
  UVGO__TASK_YIELDING, /* switched out, wants the back of the queue */
  UVGO__TASK_PARKING,  /* registered as a waiter, not yet switched out */
  UVGO__TASK_NOTIFIED, /* woken while PARKING: requeue after the switch */
  UVGO__TASK_PARKED,
  UVGO__TASK_DONE
} uvgo__task_state;

typedef struct uvgo__worker uvgo__worker;

/* A function to run on a given worker's thread (uvgo__worker_post): how
 * other threads touch a worker's timer heap or handles. Caller-owned; it
 * must stay valid until fn has run. */
typedef struct uvgo__msg uvgo__msg;
struct uvgo__msg {
  void (*fn)(uvgo__msg *m);
  uvgo__msg *next;
};

/* An intrusive singly linked FIFO of tasks (owner-only or under a lock). */
typedef struct {
  uvgo_task *head;
  uvgo_task *tail;
} uvgo__taskq;

/* The fields a wake, a resume and an exit read come first, together (a
 * woken task's record is cold after a burst: one line instead of three). */
struct uvgo_task {
  uint32_t magic;
  _Atomic int state;        /* uvgo__task_state */
  _Atomic int permit;       /* uvgo_unpark before uvgo_park */
  bool is_main;             /* uvgo_run's main task */
  uvgo__worker *home;       /* set when it starts; never changes after */
  uvgo_task *next;          /* queue link */
  uint64_t ticket;          /* queue order on its worker (FIFO across the
                               ready queue and the runq) */
  uvgo__stack *stack;       /* NULL until the task first runs */
  uvgo__fiber fiber;
  size_t stack_size;        /* requested; 0 = runtime default */
  uvgo_rt *rt;
  uvgo_fn fn;
  void *arg;
  uvgo_task *all_next;      /* home worker's list of live tasks */
  uvgo_task *all_prev;
  const char *spawn_file;
  int spawn_line;
  /* What it is parked in, for dumps: the call, where it was made (site
   * macros) and the channel, mutex, … it waits on. Written only by the task
   * itself, read by dumps on other threads under block_seq (a seqlock: odd
   * while the task rewrites them), so a dump never prints a torn record. */
  _Atomic unsigned block_seq;
  _Atomic(const char *) block_call;
  _Atomic(const char *) block_file;
  _Atomic int block_line;
  _Atomic(const void *) block_object;
  void **locals;            /* task-local slots, allocated on first set */
  uvgo_ctx *ctx;            /* its context (a reference it holds) */
  uvgo_ctx *cancel_scope;   /* ctx's nearest cancellable node, or NULL */
  int shield;               /* uvgo_ctx_shield depth: no cancellation */
  void *copy_heap;          /* uvgo_go_copy payload beyond the inline area */
  /* Bytes accessed with __atomic builtins where a dump may read them from
   * another thread; name_seq is its seqlock (uvgo_task_set_name). */
  _Atomic unsigned name_seq;
  char name[UVGO__NAME_MAX];
  _Alignas(16) unsigned char copy_inline[UVGO__INLINE_COPY];
};

/* Bounded ring of not-yet-started tasks: the owner pushes and pops, idle
 * workers steal half (Go's runq). Slots are atomics so a racing steal that
 * loses its CAS reads a stale pointer harmlessly. */
typedef struct {
  _Atomic uint32_t head; /* consumers (owner and thieves) advance it */
  _Atomic uint32_t tail; /* only the owner advances it */
  _Atomic(uvgo_task *) slots[UVGO__RUNQ_SIZE];
  /* Each slot's queue ticket, kept here rather than read through the task:
   * a peeked task may already belong to a thief. Owner-only. */
  uint64_t tickets[UVGO__RUNQ_SIZE];
} uvgo__runq;

struct uvgo__worker {
  uvgo_rt *rt;
  unsigned id;
  uv_loop_t *loop;          /* own_loop, or the host's loop (attach) */
  uv_loop_t own_loop;
  uv_thread_t thread;
  bool has_thread;
  uv_check_t check;         /* the drain point, once per loop tick */
  uv_idle_t idle;           /* active only while work is queued */
  uv_async_t async;         /* inbox wake-ups from other threads */
  uvgo__timers timers;
  bool idle_active;
  bool handles_referenced;  /* attach mode: ref'd while tasks live */
  int handles_open;         /* close callbacks still to come */
  uvgo__fiber sched_fiber;  /* the loop thread's own stack */
  uvgo_task *current;       /* running task, or NULL */
  uvgo_task *switched_from; /* handed the worker directly to current */
  unsigned direct_budget;   /* direct hand-offs left before the scheduler */
  uvgo_task *start_next;    /* a new task an ending one took from the ring
                               but could not start on its stack (task.c) */
  /* Set by a task parking with its wakers' locks still held: settle runs
   * it (it releases them) once the task is PARKED (park.h,
   * uvgo__parker_wait_commit). */
  void (*park_commit)(void *arg);
  void *park_commit_arg;
  _Atomic(uvgo_task *) watch_current; /* the same, for the watchdog */
  /* all_tasks is changed only by this worker and walked by dumps from
   * any thread (diag.c, "the per-worker task list"): tasks_lock is the
   * dumpers' lock, list_dumper says one holds it, list_busy that the
   * owner is changing the list without it. */
  _Atomic int tasks_lock;
  _Atomic int list_dumper;
  _Atomic int list_busy;
  uvgo__stack_pool *stacks;
  uvgo__taskq ready;        /* started tasks to resume: owner-only */
  uvgo__runq runq;          /* new tasks: stealable */
  uvgo__taskq starving;     /* new tasks waiting for a stack (ENOMEM) */
  uvgo__timer_entry starve_retry;
  uvgo__timer_entry deadlock_probe; /* grace period before a verdict */
  uint64_t probe_activity;  /* rt->activity when the probe was armed */
  uvgo_task *free_tasks;    /* recycled task records */
  unsigned free_count;
  uvgo_task *all_tasks;     /* live tasks homed here (for dumps) */
  size_t live;              /* tasks homed or queued here (owner-only) */
  /* Units of rt->live kept from tasks that ended here, for the next
   * spawns here to reuse without a locked instruction (runtime.c, "live
   * credit"). */
  _Atomic uint64_t credit;  /* the count and a version: uvgo__credit */
  unsigned tick;            /* drain counter: global-queue fairness */
  uint64_t next_ticket;     /* FIFO order across ready and runq */

  uv_mutex_t inbox_lock;
  uvgo__taskq inbox;        /* tasks to run here, from other threads */
  uvgo__msg *msgs_head;     /* uvgo__worker_post messages, FIFO */
  uvgo__msg *msgs_tail;
  _Atomic int inbox_signalled;
  _Atomic int is_idle;      /* 1 while it has nothing to run */
  _Atomic int stop;         /* the runtime is ending */
  _Atomic int stuck;        /* idle with nothing of its own that can wake
                               it: no timer, no libuv handle or request */
  _Atomic int spinning;     /* spinning on its inbox: wakers skip the
                               async send (worker.c, spin_for_inbox) */
  unsigned spin_ns;         /* its next spin's length (adaptive) */
  uint64_t spin_gave_up_at; /* uv_hrtime of the last empty-handed spin's
                               end, 0 once a wake has been judged by it */

  /* counters (owner writes, any thread reads) */
  _Atomic uint64_t n_switches, n_spawns, n_steals, n_remote_wakes,
      n_wakeups, n_idle_sleeps;
};

struct uvgo_rt {
  uint32_t magic;
  bool attached;
  unsigned nworkers;
  uvgo_config cfg;
  uvgo__worker **workers;
  /* Live tasks plus held references, with UVGO__RT_STOPPED set once the
   * count has reached zero in uvgo_run mode (no spawn can revive it). */
  _Atomic uint64_t live;
  _Atomic int idle_workers;
  _Atomic int spinners;     /* workers spinning on their inbox */
  unsigned spin_budget_ns;  /* from cfg.spin_ns; 0 = never spin */
  int ncpu;                 /* cores available to the process */
  uv_mutex_t global_lock;   /* guards global_q and spare_tasks */
  uvgo_task *spare_tasks;   /* task records passed between workers */
  _Atomic size_t spare_count;
  uvgo__taskq global_q;     /* runq overflow: any worker may take */
  _Atomic size_t global_len;
  int result;               /* uvgo_run's return value */
  uvgo_ctx *root;           /* context of main and of uvgo_rt_spawn tasks */
  uv_signal_t signals[2];   /* cancel_on_signal: SIGINT, SIGTERM */
  bool signals_on;
  bool closing;             /* uvgo_rt_close ran (attach mode) */
  /* src/embed's per-runtime state (NULL until the first callback-side
   * call) and its hook: uvgo_rt_close calls embed_hook(rt, false) first
   * and refuses with its non-zero result (callback operations pending),
   * then embed_hook(rt, true) to close the layer's handles. Loop thread. */
  void *embed;
  int (*embed_hook)(uvgo_rt *rt, bool closing);
  _Atomic int deadlocked;   /* the run ended in a deadlock verdict */
  _Atomic uint64_t activity; /* bumped by every inbox push and every worker
                               leaving the stuck state (deadlock check) */
  uvgo_rt *registry_next;   /* all runtimes of the process, for dumps */
  uvgo_rt *verdict_next;    /* uvgo_run runtimes a lowered count signals
                               (foreign.c, under its lock) */
  uv_thread_t watchdog;     /* cfg.watchdog_ms monitor */
  bool watchdog_on;
  uv_mutex_t watchdog_lock;
  uv_cond_t watchdog_cond;
  bool watchdog_stop;
};
#define UVGO__RT_STOPPED (UINT64_C(1) << 62)

/* Bump a counter only its worker writes: a relaxed load and store, not a
 * locked read-modify-write (readers on other threads see a recent value). */
#define UVGO__COUNT(counter, n)                                              \
  atomic_store_explicit(&(counter),                                         \
                        atomic_load_explicit(&(counter), memory_order_relaxed) + \
                            (n),                                             \
                        memory_order_relaxed)

/* The calling thread's worker, or NULL. */
extern UVGO__TLS_FAST _Thread_local uvgo__worker *uvgo__tls_worker;

static inline uvgo_task *uvgo__current_task(void) {
  uvgo__worker *w = uvgo__tls_worker;
  return w != NULL ? w->current : NULL;
}

/* --- queues (sched_queue.c; the per-switch ones inline here) --- */
static inline void uvgo__taskq_push(uvgo__taskq *q, uvgo_task *t) {
  t->next = NULL;
  if (q->tail != NULL)
    q->tail->next = t;
  else
    q->head = t;
  q->tail = t;
}
static inline uvgo_task *uvgo__taskq_pop(uvgo__taskq *q) {
  uvgo_task *t = q->head;
  if (t != NULL) {
    q->head = t->next;
    if (q->head == NULL)
      q->tail = NULL;
    t->next = NULL;
  }
  return t;
}
/* The task's own record of the call it is about to park in, written just
 * before it enters PARKING. Never cleared: the state says whether the task
 * is parked, so only a parked task's record is read. Owner only; dumps
 * read it in diag.c (read_block). */
static inline void uvgo__task_set_block(uvgo_task *t, const char *call,
                                        const char *file, int line,
                                        const void *object) {
  /* Release stores keep the odd mark ahead of each field (no fence: TSan
   * does not model them); plain moves on x86. */
  unsigned seq = atomic_load_explicit(&t->block_seq, memory_order_relaxed);
  atomic_store_explicit(&t->block_seq, seq + 1, memory_order_relaxed);
  atomic_store_explicit(&t->block_call, call, memory_order_release);
  atomic_store_explicit(&t->block_file, file, memory_order_release);
  atomic_store_explicit(&t->block_line, line, memory_order_release);
  atomic_store_explicit(&t->block_object, object, memory_order_release);
  atomic_store_explicit(&t->block_seq, seq + 2, memory_order_release);
}
static inline bool uvgo__taskq_empty(const uvgo__taskq *q) {
  return q->head == NULL;
}
/* The ring was full: half of it and t go to the global queue
 * (sched_queue.c). @return as uvgo__runq_put. */
uint32_t uvgo__runq_put_slow(uvgo__worker *w, uvgo_task *t, uint64_t ticket);
/* Owner: add a new task (overflow goes to the runtime's global queue).
 * Inline: one spawn is mostly this and the record's fields.
 * @return the ring's length right after, as the owner saw it (a thief
 * may have taken some since). */
static inline uint32_t uvgo__runq_put(uvgo__worker *w, uvgo_task *t) {
  uint64_t ticket = w->next_ticket++;
  uint32_t h = atomic_load_explicit(&w->runq.head, memory_order_acquire);
  uint32_t tl = atomic_load_explicit(&w->runq.tail, memory_order_relaxed);
  if (UVGO__UNLIKELY(tl - h >= UVGO__RUNQ_SIZE))
    return uvgo__runq_put_slow(w, t, ticket);
  w->runq.tickets[tl % UVGO__RUNQ_SIZE] = ticket;
  atomic_store_explicit(&w->runq.slots[tl % UVGO__RUNQ_SIZE], t,
                        memory_order_relaxed);
  atomic_store_explicit(&w->runq.tail, tl + 1, memory_order_release);
  return tl + 1 - h;
}
uvgo_task *uvgo__runq_get(uvgo__worker *w);
uint32_t uvgo__runq_len(uvgo__worker *w);
/* Thief: move about half of victim's ring to w's ring; returns one task to
 * run now, or NULL. */
uvgo_task *uvgo__runq_steal(uvgo__worker *w, uvgo__worker *victim);
/* Owner: the queue ticket of the oldest new task, or UINT64_MAX when the
 * ring is empty (a thief may take that task first; the caller then simply
 * gets another from uvgo__runq_get). */
static inline uint64_t uvgo__runq_peek_ticket(uvgo__worker *w) {
  uint32_t h = atomic_load_explicit(&w->runq.head, memory_order_acquire);
  uint32_t tl = atomic_load_explicit(&w->runq.tail, memory_order_relaxed);
  if (tl == h)
    return UINT64_MAX;
  return w->runq.tickets[h % UVGO__RUNQ_SIZE];
}
uvgo_task *uvgo__global_get(uvgo__worker *w);

/* --- workers (worker.c) --- */
int uvgo__worker_new(uvgo_rt *rt, unsigned id, uv_loop_t *host_loop,
                     uvgo__worker **out);
int uvgo__worker_start_thread(uvgo__worker *w);
/* Close the worker's handles (on its own thread). */
void uvgo__worker_close_handles(uvgo__worker *w);
void uvgo__worker_free(uvgo__worker *w);
/* Make t runnable on its worker: directly when called on w's thread, via
 * the inbox otherwise. */
void uvgo__worker_submit(uvgo__worker *w, uvgo_task *t);
/* Queue a list of tasks (linked through next) to w from another thread:
 * one inbox lock and one signal for all of them. */
void uvgo__worker_submit_list(uvgo__worker *w, uvgo__taskq *list);
/* Run m->fn(m) on w's thread: at once when called there, otherwise from
 * its inbox on the next loop iteration. Any thread. */
void uvgo__worker_post(uvgo__worker *w, uvgo__msg *m);
/* The worker the calling thread runs, or NULL. */
static inline uvgo__worker *uvgo__worker_self(void) { return uvgo__tls_worker; }
/* Turn on the idle handle that keeps the loop from blocking while tasks
 * are queued (worker.c). */
void uvgo__worker_idle_on(uvgo__worker *w);
/* Owner thread: queue a started task at the back of the ready queue. */
static inline void uvgo__worker_ready(uvgo__worker *w, uvgo_task *t) {
  t->ticket = w->next_ticket++;
  uvgo__taskq_push(&w->ready, t);
  if (UVGO__UNLIKELY(!w->idle_active))
    uvgo__worker_idle_on(w);
}
void uvgo__worker_wake_idle(uvgo_rt *rt);
/* Owner thread: new work went into w's runq, now len long; make sure it
 * runs this tick and, with more than one queued, offer it to an idle
 * worker. */
static inline void uvgo__worker_ready_kick(uvgo__worker *w, uint32_t len) {
  if (UVGO__UNLIKELY(!w->idle_active))
    uvgo__worker_idle_on(w);
  if (len > 1 &&
      atomic_load_explicit(&w->rt->idle_workers, memory_order_relaxed) > 0)
    uvgo__worker_wake_idle(w->rt);
}
bool uvgo__worker_inbox_empty(uvgo__worker *w);
void uvgo__worker_request_stop(uvgo__worker *w);
/* Attach mode: reference the loop's handles iff tasks live here. */
void uvgo__worker_update_refs(uvgo__worker *w);

/* --- tasks (task.c) --- */
/* Switch from the running task to the worker's scheduler; the state the
 * task set before tells the scheduler what to do with it. */
void uvgo__task_switch_out(uvgo__worker *w, uvgo_task *t);
/* Scheduler side: run t until it switches back, then settle its state. */
void uvgo__task_resume(uvgo__worker *w, uvgo_task *t);
/* Back to w's free records (w NULL: freed). Never frees on this path: a
 * worker's surplus waits for uvgo__task_trim_records. */
void uvgo__task_free_record(uvgo__worker *w, uvgo_task *t);
/* Idle housekeeping: free at most max records of w's surplus (beyond
 * UVGO__FREE_TASKS_MAX). @return true if more remain. */
bool uvgo__task_trim_records(uvgo__worker *w, unsigned max);
/* Make a parked (or parking) task runnable: any thread. */
void uvgo__task_wake(uvgo_task *t);
/* The local half of uvgo__task_wake, inline for the hot wakes (a channel
 * partner, a select): on t's own worker, move its state on and queue it
 * if PARKED. @return false, having done nothing, on any other thread (the
 * caller then calls uvgo__task_wake). Only for a waker that won t's
 * claim. uvgo__task_wake and the wake batches start with it too. */
static inline bool uvgo__task_wake_local(uvgo_task *t) {
  uvgo__worker *w = uvgo__tls_worker;
  if (w == NULL || t->home != w)
    return false;
  /* On the task's own thread nobody else can change its state now: a
   * remote waker needs the claim we won, and the task itself has settled
   * (PARKING -> PARKED happens on this thread right after its switch,
   * before any other code here runs), or is the one running (PARKING: it
   * woke itself). Plain stores, no locked RMW. */
  int s = atomic_load_explicit(&t->state, memory_order_relaxed);
  if (s == UVGO__TASK_PARKED) {
    atomic_store_explicit(&t->state, UVGO__TASK_RUNNABLE,
                          memory_order_relaxed);
    uvgo__worker_ready(w, t);
  } else if (s == UVGO__TASK_PARKING) {
    atomic_store_explicit(&t->state, UVGO__TASK_NOTIFIED,
                          memory_order_relaxed);
  }
  return true;
}
/* Many wakes at once (a close, a cancel): tasks homed on another worker
 * are gathered and handed over per run of one home worker, so a close
 * that wakes thousands takes each inbox lock once per run, not per task;
 * a run is handed over at UVGO__WAKE_BATCH_MAX tasks too, so that worker
 * starts on them while the waker goes on. Zero-initialise, add claimed
 * tasks, flush before anyone may rely on the wakes having landed (the
 * caller's return). */
#define UVGO__WAKE_BATCH_MAX 64
typedef struct {
  uvgo__worker *home;
  uvgo__taskq tasks;
  unsigned len;
} uvgo__wake_batch;
void uvgo__wake_batch_add(uvgo__wake_batch *b, uvgo_task *t);
void uvgo__wake_batch_flush(uvgo__wake_batch *b);
/* target NULL: the calling worker's stealable queue; otherwise pinned to
 * target (its ready queue or inbox, which no one steals from). is_main
 * marks uvgo_run's main task (exit_when_main_returns). */
int uvgo__spawn(uvgo_rt *rt, uvgo__worker *target, bool is_main, uvgo_fn fn,
                void *arg, const uvgo_spawn_opts *opts, const char *file,
                int line);

/* Drop a task's context reference. The runtime's root context is not
 * counted (uvgo__spawn takes no reference on it): it outlives every task,
 * released only after the last one has ended or been reaped, so two
 * locked operations per task on one shared line are saved. */
static inline void uvgo__task_ctx_release(uvgo_task *t) {
  if (t->ctx != NULL && t->ctx != t->rt->root)
    uvgo_ctx_release(t->ctx);
}

/* --- runtime accounting (runtime.c) --- */
int uvgo__rt_live_inc(uvgo_rt *rt);
void uvgo__rt_live_dec(uvgo_rt *rt);
void uvgo__rt_task_finished(uvgo_rt *rt, bool was_main);
/* Give rt->live back n units a worker kept as live credit. */
void uvgo__rt_live_return(uvgo_rt *rt, unsigned n);

/* w's live credit, in a word uvgo_task_count reads from any thread with
 * rt->live as one snapshot (runtime.c, count_tasks): the credit in the
 * low 31 bits, UVGO__CREDIT_BUSY while units move between it and
 * rt->live, and a version in the high half that every change bumps. The
 * owner changes it with one plain store (no locked instruction). */
#define UVGO__CREDIT_VER (UINT64_C(1) << 32)
#define UVGO__CREDIT_BUSY (UINT64_C(1) << 31)
/* Credit a busy worker keeps from one pass to the next. */
#define UVGO__CREDIT_KEEP UVGO__RUNQ_SIZE

static inline unsigned uvgo__credit(uvgo__worker *w) {
  return (uint32_t)atomic_load_explicit(&w->credit, memory_order_relaxed);
}

/* Owner-only: add delta (+1 or -1, never below zero) to w's credit. */
static inline void uvgo__credit_add(uvgo__worker *w, int delta) {
  uint64_t old = atomic_load_explicit(&w->credit, memory_order_relaxed);
  atomic_store_explicit(&w->credit, old + UVGO__CREDIT_VER + (uint64_t)delta,
                        memory_order_release);
}

/* Owner-only: set w's credit to v. */
static inline void uvgo__credit_set(uvgo__worker *w, unsigned v) {
  uint64_t old = atomic_load_explicit(&w->credit, memory_order_relaxed);
  atomic_store_explicit(&w->credit,
                        (old & ~UINT64_C(0xffffffff)) + UVGO__CREDIT_VER + v,
                        memory_order_release);
}
/* Attach mode: worker 0's last handle closed after uvgo_rt_close. */
void uvgo__rt_attached_closed(uvgo_rt *rt);
/* uvgo_run mode: the calling worker just went idle and stuck; if every
 * worker is, with nothing in flight, end the run with UVGO_EDEADLOCK. */
void uvgo__rt_check_deadlock(uvgo_rt *rt, uvgo__worker *self);
/* Live tasks (not counting references). */
uint64_t uvgo__rt_live_tasks(const uvgo_rt *rt);
bool uvgo__rt_has_refs(const uvgo_rt *rt);

/* --- diagnostics (diag.c) --- */
void uvgo__tasks_lock(uvgo__worker *w);
void uvgo__tasks_unlock(uvgo__worker *w);
/* True once the process can pair a dumper's membarrier with a compiler
 * barrier on the owner's side (never under TSan, which cannot see it). */
extern bool uvgo__tasks_asym;

/* The owner's side of the task list lock, around a link or an unlink on
 * the worker's own thread: with membarrier, two plain stores and a load,
 * and the real lock only while a dumper has announced itself (diag.c).
 * @return whether it took the real lock (pass it to the exit). */
static inline bool uvgo__tasks_owner_enter(uvgo__worker *w) {
  if (UVGO__LIKELY(uvgo__tasks_asym)) {
    atomic_store_explicit(&w->list_busy, 1, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    if (UVGO__LIKELY(
            !atomic_load_explicit(&w->list_dumper, memory_order_relaxed)))
      return false;
    atomic_store_explicit(&w->list_busy, 0, memory_order_release);
  }
  uvgo__tasks_lock(w);
  return true;
}

static inline void uvgo__tasks_owner_exit(uvgo__worker *w, bool locked) {
  if (locked)
    uvgo__tasks_unlock(w);
  else
    atomic_store_explicit(&w->list_busy, 0, memory_order_release);
}
void uvgo__registry_add(uvgo_rt *rt);
void uvgo__registry_remove(uvgo_rt *rt);
/* Describe the tasks of rt to out (the deadlock and leftover reports). */
unsigned uvgo__report_tasks(uvgo_rt *rt, FILE *out, const uvgo_task *skip,
                            unsigned max);
int uvgo__watchdog_start(uvgo_rt *rt);
void uvgo__watchdog_stop(uvgo_rt *rt);
int uvgo__sigquit_start(void);
void uvgo__sigquit_stop(void);

/* --- plain threads taking part (foreign.c) --- */
/* Non-worker threads that used uvgo's blocking or waking calls, alive and
 * not blocked in one: the deadlock check gives no verdict while > 0. */
extern _Atomic long uvgo__foreign_active;
/* Called by those calls on a non-worker thread (no-op on workers). */
void uvgo__foreign_thread_enter(void);
/* The thread becomes a worker (uvgo_run, attach): stop counting it. */
void uvgo__foreign_thread_leave(void);
/* A plain thread about to block in an untimed wait: drop its count.
 * @return whether it had one (a registered thread), i.e. whether its
 * waker must give it back. */
bool uvgo__foreign_thread_release(void);
/* The waker of a thread whose count was released, before it signals:
 * count it again (any thread). */
void uvgo__foreign_thread_give_back(void);
/* Test-only: when set, a plain thread woken in a parker calls it between
 * the wake and its return from the wait (tests widen that window with a
 * delay). One relaxed load on a plain thread's wake path; never set by the
 * library. */
extern void (*_Atomic uvgo__test_foreign_wake_hook)(void);
/* A uvgo_run runtime, from before its loop runs until its loop has
 * returned (and before its loops close): while watched, lowering an input
 * of its deadlock check signals its worker 0 to check again. */
void uvgo__verdict_watch(uvgo_rt *rt);
void uvgo__verdict_unwatch(uvgo_rt *rt);
/* Lower a count the deadlock check reads, with lower(rt), so that a run
 * whose workers all got stuck while it was up still ends in a verdict:
 * bump activity, lower, then signal worker 0, all under the lock unwatch
 * takes (so the runtime cannot be freed meanwhile). rt NULL: the count is
 * the plain-thread one, every watched runtime reads it. */
void uvgo__verdict_lower(uvgo_rt *rt, void (*lower)(uvgo_rt *rt));

/* --- task-local storage (keys.c) --- */
void uvgo__keys_run_destructors(void **locals);

#endif
