/* Workers: one thread, one loop, a drain point per tick, an inbox for other
 * threads, and stealing of not-yet-started tasks when idle. */
#include <sched.h>
#include <stdlib.h>

#include "core/scheduler.h"

UVGO__TLS_FAST _Thread_local uvgo__worker *uvgo__tls_worker;

/* Tasks run per tick before the loop gets to poll for I/O again. */
#define DRAIN_BUDGET 256

/* An active idle handle makes the loop poll with a zero timeout: keep it
 * on only while tasks are queued, so an idle runtime sleeps in the kernel. */
static void on_idle(uv_idle_t *handle) { (void)handle; }

static void set_idle_handle(uvgo__worker *w, bool want) {
  if (want == w->idle_active || w->handles_open == 0)
    return;
  w->idle_active = want;
  if (want)
    uv_idle_start(&w->idle, on_idle);
  else
    uv_idle_stop(&w->idle);
}

static bool has_local_work(uvgo__worker *w) {
  return !uvgo__taskq_empty(&w->ready) || uvgo__runq_len(w) > 0;
}

/* Nothing on this worker's loop can wake a task: no uvgo timer and no
 * referenced libuv handle or request but our own inbox (libuv's notion of
 * a live loop; unreferenced handles do not count). */
static bool loop_is_quiet(uvgo__worker *w) {
  unsigned own = uv_is_active((uv_handle_t *)&w->async) &&
                 uv_has_ref((uv_handle_t *)&w->async);
  /* The deadlock probe's own timer does not count as pending work. */
  size_t probe = uvgo__timer_pending(&w->deadlock_probe);
  if (probe && uv_is_active((uv_handle_t *)&w->timers.handle))
    own++;
  /* closing_handles: a handle being closed still has a callback to run
   * (uv_loop_alive counts it too). */
  return w->timers.len == probe && w->loop->active_reqs.count == 0 &&
         w->loop->active_handles <= own && w->loop->closing_handles == NULL;
}

/* Leaving the stuck state is activity a deadlock check must not miss. */
static void clear_stuck(uvgo__worker *w) {
  if (atomic_load_explicit(&w->stuck, memory_order_relaxed) &&
      atomic_exchange(&w->stuck, 0))
    atomic_fetch_add(&w->rt->activity, 1);
}

static void mark_busy(uvgo__worker *w) {
  int one = 1;
  if (atomic_compare_exchange_strong(&w->is_idle, &one, 0))
    atomic_fetch_sub(&w->rt->idle_workers, 1);
}

static void mark_idle(uvgo__worker *w) {
  int zero = 0;
  if (atomic_compare_exchange_strong(&w->is_idle, &zero, 1)) {
    atomic_fetch_add(&w->rt->idle_workers, 1);
    UVGO__COUNT(w->n_idle_sleeps, 1);
  }
}

void uvgo__worker_idle_on(uvgo__worker *w) { set_idle_handle(w, true); }

/* More than one new task queued here and a worker idle: wake it to
 * steal. */
static void offer_work(uvgo__worker *w) {
  if (atomic_load_explicit(&w->rt->idle_workers, memory_order_relaxed) > 0 &&
      uvgo__runq_len(w) > 1)
    uvgo__worker_wake_idle(w->rt);
}

static void drain_inbox(uvgo__worker *w);
static void drain_inbox(uvgo__worker *w) {
  uvgo__taskq got;
  uv_mutex_lock(&w->inbox_lock);
  got = w->inbox;
  w->inbox.head = w->inbox.tail = NULL;
  uvgo__msg *msgs = w->msgs_head;
  w->msgs_head = w->msgs_tail = NULL;
  uv_mutex_unlock(&w->inbox_lock);
  while (msgs != NULL) {
    uvgo__msg *m = msgs;
    msgs = m->next;
    m->next = NULL;
    m->fn(m);
  }
  for (uvgo_task *t; (t = uvgo__taskq_pop(&got)) != NULL;) {
    if (t->home == NULL)
      t->home = w; /* a new task sent here (uvgo_go_on, uvgo_rt_spawn) */
    uvgo__worker_ready(w, t);
  }
}

static void signal_inbox(uvgo__worker *w);

bool uvgo__worker_inbox_empty(uvgo__worker *w) {
  uv_mutex_lock(&w->inbox_lock);
  bool empty = uvgo__taskq_empty(&w->inbox) && w->msgs_head == NULL;
  uv_mutex_unlock(&w->inbox_lock);
  return empty;
}

void uvgo__worker_submit(uvgo__worker *w, uvgo_task *t) {
  if (uvgo__tls_worker == w) {
    if (t->home == NULL)
      t->home = w;
    uvgo__worker_ready(w, t);
    return;
  }
  uvgo__taskq one = {NULL, NULL};
  uvgo__taskq_push(&one, t);
  uvgo__worker_submit_list(w, &one);
}

void uvgo__worker_submit_list(uvgo__worker *w, uvgo__taskq *list) {
  if (list->head == NULL)
    return;
  uvgo__foreign_thread_enter(); /* counted before the push is visible */
  uv_mutex_lock(&w->inbox_lock);
  if (w->inbox.tail != NULL)
    w->inbox.tail->next = list->head;
  else
    w->inbox.head = list->head;
  w->inbox.tail = list->tail;
  uv_mutex_unlock(&w->inbox_lock);
  list->head = list->tail = NULL;
  signal_inbox(w);
}

void uvgo__worker_post(uvgo__worker *w, uvgo__msg *m) {
  m->next = NULL;
  if (uvgo__tls_worker == w) {
    m->fn(m);
    return;
  }
  uvgo__foreign_thread_enter(); /* counted before the push is visible */
  uv_mutex_lock(&w->inbox_lock);
  if (w->msgs_tail != NULL)
    w->msgs_tail->next = m;
  else
    w->msgs_head = m;
  w->msgs_tail = m;
  uv_mutex_unlock(&w->inbox_lock);
  signal_inbox(w);
}

static void signal_inbox(uvgo__worker *w) {
  atomic_fetch_add(&w->rt->activity, 1);
  /* libuv 1.44's uv_async_send checks its pending flag before any barrier;
   * without this fence the push above may not be visible to the wakee. */
  atomic_thread_fence(memory_order_seq_cst);
  if (atomic_exchange(&w->inbox_signalled, 1) != 0)
    return;
  int one = 1;
  if (atomic_load(&w->spinning) &&
      atomic_compare_exchange_strong(&w->spinning, &one, 0)) {
    /* A spinning worker sees the flag by itself (spin_for_inbox). Taking
     * it off the spinners here makes it count as busy from now on, as one
     * woken from its poll does below: the waker, about to go idle itself,
     * then sees a busy worker and spins for the reply instead of
     * sleeping (left to the spinner, the count would change a moment
     * later, after the waker had decided). */
    atomic_fetch_sub(&w->rt->spinners, 1);
  } else {
    uvgo__worker *self = uvgo__tls_worker;
    if (self != NULL)
      UVGO__COUNT(self->n_remote_wakes, 1);
    mark_busy(w);
    uv_async_send(&w->async);
  }
}

void uvgo__worker_wake_idle(uvgo_rt *rt) {
  for (unsigned i = 0; i < rt->nworkers; i++) {
    uvgo__worker *w = rt->workers[i];
    int one = 1;
    if (w == uvgo__tls_worker)
      continue;
    if (atomic_load_explicit(&w->is_idle, memory_order_relaxed) &&
        atomic_compare_exchange_strong(&w->is_idle, &one, 0)) {
      atomic_fetch_sub(&rt->idle_workers, 1);
      if (atomic_exchange(&w->inbox_signalled, 1) == 0)
        uv_async_send(&w->async);
      return;
    }
  }
}

static uvgo_task *steal_work(uvgo__worker *w) {
  uvgo_rt *rt = w->rt;
  uvgo_task *t = uvgo__global_get(w);
  if (t != NULL)
    return t;
  unsigned n = rt->nworkers;
  if (n < 2)
    return NULL;
  unsigned start = (unsigned)rand_r(&w->tick) % n;
  for (unsigned i = 0; i < n; i++) {
    uvgo__worker *victim = rt->workers[(start + i) % n];
    if (victim == w)
      continue;
    t = uvgo__runq_steal(w, victim);
    if (t != NULL)
      return t;
  }
  return NULL;
}

/* The next task to run: the older of the ready queue's and the runq's
 * heads (one FIFO over both, so a task that yields goes behind everything
 * queued before it); the global queue now and then, and when both are
 * empty. */
static uvgo_task *next_task(uvgo__worker *w) {
  w->tick++;
  if ((w->tick % 61) == 0) {
    uvgo_task *t = uvgo__global_get(w);
    if (t != NULL)
      return t;
  }
  uvgo_task *ready = w->ready.head;
  if (ready != NULL && ready->ticket < uvgo__runq_peek_ticket(w))
    return uvgo__taskq_pop(&w->ready);
  uvgo_task *t = uvgo__runq_get(w);
  if (t == NULL)
    t = uvgo__taskq_pop(&w->ready);
  if (t == NULL)
    t = uvgo__global_get(w);
  return t;
}

/* Workers running tasks now: neither idle nor spinning. A snapshot of
 * two counters, good enough for a heuristic. */
static int busy_workers(uvgo_rt *rt) {
  return (int)rt->nworkers -
         atomic_load_explicit(&rt->idle_workers, memory_order_relaxed) -
         atomic_load_explicit(&rt->spinners, memory_order_relaxed);
}

/* Some work another worker queued that this one may take (the global
 * queue, or more than one new task in a ring). */
static bool stealable_work(uvgo__worker *w) {
  uvgo_rt *rt = w->rt;
  if (atomic_load_explicit(&rt->global_len, memory_order_relaxed) > 0)
    return true;
  for (unsigned i = 0; i < rt->nworkers; i++) {
    uvgo__worker *v = rt->workers[i];
    if (v != w && uvgo__runq_len(v) > 1)
      return true;
  }
  return false;
}

/* Before sleeping in the kernel, a worker with nothing to run spins on its
 * inbox for up to the spin budget (cfg.spin_ns, default
 * UVGO__SPIN_DEFAULT_NS), as Go's idle Ps do: a wake from another worker
 * then costs a cache-line transfer instead of an eventfd write and an
 * epoll wake-up. It spins only while some other worker is running tasks
 * (a wake can only come from a running worker, a timer or a plain thread)
 * and while spinners are fewer than busy workers; it stops as soon as no
 * worker is busy, so an idle runtime never spins. While `spinning` is set
 * a waker skips uv_async_send: the spinner clears `spinning` and then
 * looks at inbox_signalled once more (both seq_cst, against the waker's
 * exchange then load), so a wake is seen by one side or both.
 * @return true if it found work (its inbox taken, or work to steal). */
static bool spin_for_inbox(uvgo__worker *w) {
  uvgo_rt *rt = w->rt;
  unsigned budget = rt->spin_budget_ns;
  if (budget == 0 || (rt->attached && w->id == 0))
    return false; /* never on the host's loop: it has its own I/O */
  /* Spin only on a core nobody in this runtime needs: with more workers
   * than cores a spinner would take the CPU from a worker with work. */
  int busy = busy_workers(rt) - 1; /* not counting this one */
  int spinners = atomic_load_explicit(&rt->spinners, memory_order_relaxed);
  if (busy <= 0 || spinners >= busy || busy + spinners + 1 > rt->ncpu)
    return false;
  /* Adaptive: a spin that ends empty-handed halves the next one (down to
   * 1/64 of the budget), one that finds work restores it. On a machine
   * with no core to spare (the waker is not getting a CPU while we spin)
   * spinning only delays the sleep. */
  if (w->spin_ns == 0 || w->spin_ns > budget)
    w->spin_ns = budget;
  atomic_fetch_add(&rt->spinners, 1);
  atomic_store(&w->spinning, 1);
  bool work = false;
  uint64_t until = uv_hrtime() + w->spin_ns;
  for (unsigned round = 1;; round++) {
    bool signalled = false;
    for (int i = 0; i < 32; i++) {
      if (atomic_load_explicit(&w->inbox_signalled, memory_order_acquire)) {
        signalled = true;
        break;
      }
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#elif defined(__aarch64__)
      __asm__ volatile("yield");
#endif
    }
    if (signalled)
      break;
    if (stealable_work(w)) {
      work = true;
      break;
    }
    if (busy_workers(rt) <= 0 || uv_hrtime() >= until ||
        atomic_load_explicit(&w->stop, memory_order_relaxed))
      break;
    /* Now and then let another runnable thread have this CPU: on a
     * machine with more runnable threads than cores the waker may be
     * waiting for exactly this one. */
    if (round % 16 == 0)
      sched_yield();
  }
  /* A waker that signalled us may have taken us off the spinners
   * already (signal_inbox): whoever clears `spinning` counts it. */
  if (atomic_exchange(&w->spinning, 0))
    atomic_fetch_sub(&rt->spinners, 1);
  if (atomic_load(&w->inbox_signalled)) {
    clear_stuck(w);
    atomic_store(&w->inbox_signalled, 0);
    drain_inbox(w);
    work = true;
  }
  if (work) {
    w->spin_ns = budget;
  } else {
    if (w->spin_ns > budget / 64)
      w->spin_ns /= 2;
    w->spin_gave_up_at = uv_hrtime();
  }
  return work;
}

/* The end of a pass: the live credit it does not keep goes back
 * (runtime.c, "live credit"). */
static void return_credit(uvgo__worker *w, unsigned n) {
  if (n == 0)
    return;
  unsigned left = uvgo__credit(w) - n;
  /* Marked busy while the units are in both places: a count that sees
   * the mark, or a version other than before, reads again. */
  uvgo__credit_set(w, left | (unsigned)UVGO__CREDIT_BUSY);
  atomic_thread_fence(memory_order_release);
  uvgo__rt_live_return(w->rt, n);
  uvgo__credit_set(w, left);
}

static void run_budget(uvgo__worker *w) {
  for (int budget = DRAIN_BUDGET; budget > 0; budget--) {
    uvgo_task *t = next_task(w);
    if (t == NULL) {
      t = steal_work(w);
      if (t == NULL)
        return;
    }
    /* Only running something un-sticks a worker: a tick that finds
     * nothing to do must not look like activity to the deadlock check. */
    clear_stuck(w);
    uvgo__task_resume(w, t);
  }
  /* Still busy: keep about a pass's worth of spawns. The cap keeps
   * rt->live's task bits from overflowing on a worker that only ever
   * runs tasks stolen from others. */
  unsigned credit = uvgo__credit(w);
  if (credit > UVGO__CREDIT_KEEP)
    return_credit(w, credit - UVGO__CREDIT_KEEP);
}

static void drain(uvgo__worker *w) {
  UVGO__COUNT(w->n_wakeups, 1);
  mark_busy(w);
  /* Spin again only when the spin gave this worker something to run: inbox
   * messages that make nothing runnable (a plain thread resetting a timer
   * over and over) must not keep the worker from its loop, whose timers
   * and I/O are what the tasks wait for. */
  do
    run_budget(w);
  while (!has_local_work(w) && spin_for_inbox(w) &&
         (has_local_work(w) || stealable_work(w)));
  if (has_local_work(w) || atomic_load_explicit(&w->rt->global_len,
                                                memory_order_relaxed) > 0) {
    set_idle_handle(w, true);
    offer_work(w);
  } else {
    /* All of it back before this worker can look idle or stuck: the run's
     * end and the deadlock check read rt->live (runtime.c, "live
     * credit"). A pass may have used up its budget on the last tasks. */
    return_credit(w, uvgo__credit(w));
    set_idle_handle(w, false);
    mark_idle(w);
    /* Housekeeping while idle, bounded so new work is not kept waiting;
     * what is left waits for the next idle moment. */
    uvgo__stack_pool_trim_cold(w->stacks, 256);
    uvgo__task_trim_records(w, 256);
    if (!w->rt->attached && loop_is_quiet(w)) {
      atomic_store(&w->stuck, 1);
      uvgo__rt_check_deadlock(w->rt, w);
    }
  }
  uvgo__worker_update_refs(w);
}

static void on_check(uv_check_t *handle) {
  uvgo__worker *w = UVGO__CONTAINER_OF(handle, uvgo__worker, check);
  drain(w);
}

static void on_async(uv_async_t *handle) {
  uvgo__worker *w = UVGO__CONTAINER_OF(handle, uvgo__worker, async);
  /* Not stuck from here on: cleared before the inbox is taken, so a
   * deadlock check that saw the inbox full or this flag clear is right. */
  clear_stuck(w);
  atomic_store(&w->inbox_signalled, 0);
  /* A wake from another worker that came less than a full spin after
   * this worker stopped spinning would have been caught by that spin:
   * the shortened spins were too short for the partner's round trip (a
   * partner woken through the kernel itself takes microseconds), so
   * restore the budget. Without this, two workers handing work back and
   * forth settle into always missing each other: every spin fails
   * because the other side is asleep, and halves the next spin. */
  if (w->spin_gave_up_at != 0) {
    if (uv_hrtime() - w->spin_gave_up_at < w->rt->spin_budget_ns)
      w->spin_ns = w->rt->spin_budget_ns;
    w->spin_gave_up_at = 0;
  }
  drain_inbox(w);
  if (atomic_load(&w->stop)) {
    uvgo__worker_close_handles(w);
    return;
  }
  mark_busy(w);
  /* Woken to steal or with new work: the check phase right after this
   * poll runs the drain. Make sure it does not wait for I/O first. */
  set_idle_handle(w, true);
}

void uvgo__worker_update_refs(uvgo__worker *w) {
  if (!w->rt->attached || w->id != 0 || w->handles_open == 0 ||
      atomic_load(&w->stop))
    return;
  uint64_t live = atomic_load(&w->rt->live) & ~UVGO__RT_STOPPED;
  bool want = live > 0;
  if (want == w->handles_referenced)
    return;
  w->handles_referenced = want;
  if (want) {
    uv_ref((uv_handle_t *)&w->async);
    uv_ref((uv_handle_t *)&w->timers.handle);
  } else {
    uv_unref((uv_handle_t *)&w->async);
    uv_unref((uv_handle_t *)&w->timers.handle);
  }
}

static void on_handle_closed(uv_handle_t *handle) {
  uvgo__worker *w = handle->data;
  if (--w->handles_open == 0 && w->rt->attached && w->id == 0 &&
      w->rt->closing)
    uvgo__rt_attached_closed(w->rt);
}

void uvgo__worker_close_handles(uvgo__worker *w) {
  if (w->handles_open != 4)
    return;
  uv_close((uv_handle_t *)&w->check, on_handle_closed);
  uv_close((uv_handle_t *)&w->idle, on_handle_closed);
  uv_close((uv_handle_t *)&w->async, on_handle_closed);
  uv_close((uv_handle_t *)&w->timers.handle, on_handle_closed);
  w->idle_active = false;
}

void uvgo__worker_request_stop(uvgo__worker *w) {
  atomic_store(&w->stop, 1);
  atomic_thread_fence(memory_order_seq_cst);
  uv_async_send(&w->async);
}

static int init_handles(uvgo__worker *w) {
  /* uv_async_init is the only one that can fail (EMFILE on its eventfd):
   * doing it first means a failure leaves nothing to close. */
  int err = uv_async_init(w->loop, &w->async, on_async);
  if (err != 0)
    return err;
  uv_check_init(w->loop, &w->check);
  uv_idle_init(w->loop, &w->idle);
  uv_timer_init(w->loop, &w->timers.handle);
  w->check.data = w->idle.data = w->async.data = w->timers.handle.data = w;
  w->handles_open = 4;
  uv_check_start(&w->check, on_check);
  /* The drain point never keeps a loop alive by itself. */
  uv_unref((uv_handle_t *)&w->check);
  w->handles_referenced = true;
  /* Only the host's loop must not be kept alive by uvgo; extra workers'
   * own loops run until the runtime closes. */
  if (w->rt->attached && w->id == 0) {
    uv_unref((uv_handle_t *)&w->async);
    uv_unref((uv_handle_t *)&w->timers.handle);
    w->handles_referenced = false;
  }
  return 0;
}

int uvgo__worker_new(uvgo_rt *rt, unsigned id, uv_loop_t *host_loop,
                     uvgo__worker **out) {
  uvgo__worker *w = uvgo__calloc(1, sizeof *w);
  if (w == NULL)
    return UV_ENOMEM;
  w->rt = rt;
  w->id = id;
  w->tick = id * 7919u + 1;
  /* A worker starts idle: it may sit in its first poll before any drain,
   * and must be wakeable to steal. */
  atomic_store(&w->is_idle, 1);
  atomic_fetch_add(&rt->idle_workers, 1);
  /* Worker 0 starts with main queued; the others start with nothing. */
  atomic_store(&w->stuck, id != 0);
  uvgo__timer_entry_init(&w->deadlock_probe, NULL);
  uvgo__timer_entry_init(&w->starve_retry, NULL);
  int err = uvgo__stack_pool_new(rt->cfg.stack_size, &w->stacks);
  if (err != 0)
    goto fail_free;
  err = uvgo__timers_init(&w->timers);
  if (err != 0)
    goto fail_stacks;
  if (uv_mutex_init(&w->inbox_lock) != 0) {
    err = UV_ENOMEM;
    goto fail_timers;
  }
  if (host_loop != NULL) {
    w->loop = host_loop;
  } else {
    err = uv_loop_init(&w->own_loop);
    if (err != 0)
      goto fail_mutex;
    w->loop = &w->own_loop;
  }
  err = init_handles(w);
  if (err != 0)
    goto fail_loop;
  *out = w;
  return 0;
fail_loop:
  if (host_loop == NULL)
    uv_loop_close(w->loop);
fail_mutex:
  uv_mutex_destroy(&w->inbox_lock);
fail_timers:
  uvgo__timers_dispose(&w->timers);
fail_stacks:
  uvgo__stack_pool_free(w->stacks);
fail_free:
  uvgo__free(w);
  return err;
}

void uvgo__worker_free(uvgo__worker *w) {
  if (w == NULL)
    return;
  /* Messages that arrived after the loop stopped still release what they
   * carry; the worker's thread is gone, so run them here. */
  uvgo__worker *saved = uvgo__tls_worker;
  uvgo__tls_worker = w;
  drain_inbox(w);
  uvgo__tls_worker = saved;
  for (uvgo_task *t = w->free_tasks; t != NULL;) {
    uvgo_task *next = t->next;
    uvgo__free(t);
    t = next;
  }
  uvgo__timers_dispose(&w->timers);
  uvgo__stack_pool_free(w->stacks);
  uv_mutex_destroy(&w->inbox_lock);
  uvgo__free(w);
}

static void worker_thread_main(void *arg) {
  uvgo__worker *w = arg;
  uvgo__tls_worker = w;
  uvgo__altstack_thread_init();
  uvgo__fiber_init_thread(&w->sched_fiber);
  uv_run(w->loop, UV_RUN_DEFAULT);
  uvgo__altstack_thread_fini();
  uvgo__tls_worker = NULL;
}

int uvgo__worker_start_thread(uvgo__worker *w) {
  if (uvgo__fault_fire(UVGO_FAULT_THREAD))
    return UV_EAGAIN;
  uv_thread_options_t opts = {UV_THREAD_HAS_STACK_SIZE, 1024 * 1024};
  int err = uv_thread_create_ex(&w->thread, &opts, worker_thread_main, w);
  if (err == 0)
    w->has_thread = true;
  return err;
}
