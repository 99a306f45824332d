/* parker.pml - the park/wake protocol of one parker (src/core/park.h).
 *
 * Properties:
 *   - exactly one claim per park episode (assertions at the claims and
 *     when the waiter resumes), and the waiter resumes with the winner's
 *     reason;
 *   - the claim's winner always finds the task PARKING or PARKED (never a
 *     wake that lands on a running task: task.c's "else return");
 *   - no lost wake-up: every episode ends. Each episode can be ended by a
 *     waker, and the context is always cancelled at some point, so a
 *     final state where the waiter still sleeps is an error (SPIN's
 *     "invalid end state");
 *   - a plain thread's parker is never touched by its waker after the
 *     waiter has returned (it lives on the waiter's stack);
 *   - a plain thread's deadlock-check count (foreign.c) is never low while
 *     the thread is woken or running, and is balanced when it returns.
 *
 * What stands for what:
 *   proctype W          worker 0's thread running task T and, while T is
 *                       switched out, its scheduler: T's episodes
 *                       (park.h: uvgo__parker_prepare, the primitive
 *                       queueing it under its lock, uvgo__parker_wait_ex:
 *                       watch_scopes -> ctx.c uvgo__ctx_watch, the claim
 *                       of an ended scope and uvgo__parker_abandon, the
 *                       deadline on its own heap, task.c
 *                       uvgo__task_switch_out -> settle); the loop's
 *                       on_async draining the inbox and spin_for_inbox
 *                       (worker.c, commit 26bcc25: the spinner clears
 *                       `spinning`, then reads inbox_signalled again; a
 *                       waker may clear it first, taking the spinner off
 *                       the spinners count), the
 *                       deadline firing (park.c on_deadline), and another
 *                       task on the same worker waking T (a local wake:
 *                       uvgo__worker_submit straight to the ready queue).
 *   proctype Partner    a task on another worker (or a plain thread) that
 *                       finds T queued: chan.c uvgo__waitq_claim under the
 *                       primitive's lock, then uvgo__parker_wake ->
 *                       task.c uvgo__task_wake -> worker.c inbox push and
 *                       signal_inbox (exchange inbox_signalled, then no
 *                       uv_async_send if the worker is spinning).
 *   proctype Cancel     ctx.c uvgo__ctx_end on another thread: under the
 *                       context's lock, claim every watcher and wake it.
 *   proctype F          a plain thread's wait (park.c: prepare, then
 *                       wait_thread on the parker's mutex and condition
 *                       variable; untimed or timed, chosen at run time;
 *                       the timed wait may claim with its own deadline).
 *   proctype FWaker     its waker (sync/wg.c uvgo_wg_done, say): claim
 *                       under the primitive's lock, then uvgo__parker_wake
 *                       (give back the lent count, signal, unlock).
 *
 * Switches: -DOLD_ACCOUNTING encodes foreign.c before commit d26f3d4 (the
 * count released for every wait and taken back on resumption): the count
 * invariant fails. -DEPISODES=n (default 2) park episodes of T. The task
 * half (W, Partner, Cancel) and the plain-thread half (F, FWaker,
 * Monitor) share no variable: -DTASK_ONLY and -DTHREAD_ONLY check each on
 * its own (tests/check-models.sh does), far faster than their product.
 *
 * Abstracted away: what the primitive is (one queue slot stands for the
 * channel or wait queue), values and their copies, select (one parker
 * for several queues: chan_close.pml), the direct task-to-task hand-off
 * (it runs settle on the same thread before anything else), the
 * scheduler's queues beyond "T is in the inbox / ready queue", a second
 * watched scope (both scopes behave like this one), memory orderings
 * (the claim is a seq_cst CAS in the code; the task state's acquire and
 * release pairs are what make these steps atomic), and spurious
 * condition-variable wake-ups of the untimed wait (the loop re-checks).
 */

#ifndef EPISODES
#define EPISODES 2
#endif

#define T_RUNNABLE 1
#define T_RUNNING 2
#define T_PARKING 4
#define T_NOTIFIED 5
#define T_PARKED 6

/* claimers (the reason is who won) */
#define R_NONE 0
#define R_PARTNER 1
#define R_LOCAL 2
#define R_CANCEL 3
#define R_DEADLINE 4

/* task T's parker and task record */
byte t_state = T_RUNNING;
bit t_claimed;
byte t_reason;
byte t_claims;            /* ghost: claims won this episode */
byte t_ep;                /* ghost: the current episode */
bit t_queued;             /* T in the primitive's queue */
bit inbox;                /* T in worker 0's inbox */
bit ready;                /* T in worker 0's ready queue */
bit sig;                  /* inbox_signalled */
bit async_pend;           /* uv_async_send pending */
bit spinning;             /* worker 0 spins on its inbox (spin_for_inbox) */
bit timer;                /* T's deadline on worker 0's heap */
bit ctx_err;              /* the context ended */
bit watch_on;             /* T's watch link on the context */
bit local_left = 1;       /* another task on worker 0 may wake T once */
bit t_done;

/* plain thread F and its parker */
bit f_queued;
bit f_claimed;
byte f_reason;
bit f_mu;
bit f_signalled;
bit f_lent;
bit f_timed;
bit f_returned;           /* ghost: wait_thread returned (p is gone) */
bit f_in_wait;            /* ghost: holds or waits for p->mu in the wait */
bit f_registered;
byte fa;                  /* uvgo__foreign_active */

#define lock(l)   atomic { l == 0 -> l = 1 }

inline claim_t(r, won) {
  atomic {
    if
    :: !t_claimed -> t_claimed = 1; t_claims++; won = 1
    :: else -> won = 0
    fi
  };
  if
  :: won -> t_reason = r               /* p->reason, after the CAS */
  :: else -> skip
  fi
}

/* task.c: uvgo__task_wake, by the claim's winner; here: on T's own
 * worker, where (commit bbf3b88) it is a plain load and a plain store, no
 * CAS: the model lets anything run between the two. */
inline task_wake(here, old) {
  if
  :: here ->
     old = (t_state == T_PARKED);
     if
     :: old -> t_state = T_RUNNABLE; ready = 1
     :: else -> assert(false)           /* the scheduler runs: T settled */
     fi;
     old = 0
  :: else ->
  if
  :: atomic { t_state == T_PARKING -> t_state = T_NOTIFIED }
  :: atomic { t_state == T_PARKED -> t_state = T_RUNNABLE };
        inbox = 1;                     /* pushed under inbox_lock */
        /* signal_inbox: exchange the flag; a spinner is taken off the
         * spinners (compare-and-swap of `spinning`) instead of sent to */
        atomic { old = sig; sig = 1 };
        atomic { if :: old == 0 && spinning -> spinning = 0
                    :: old == 0 && !spinning -> async_pend = 1
                    :: else -> skip fi;
                 old = 0 }
  :: else -> assert(false)             /* a wake that lands on a running task */
  fi
  fi
}

#ifndef THREAD_ONLY
active proctype W() {
  bit won; bit old; bit deadline; bit watched; bit spun;
  do
  :: t_ep < EPISODES ->
     t_ep++;
     /* under the primitive's lock: prepare, then queue */
     atomic { t_claimed = 0; t_claims = 0; t_reason = R_NONE };
     t_state = T_PARKING;
     t_queued = 1;
     /* uvgo__parker_wait_ex: watch the context */
     watched = 0;
     if
     :: atomic { !ctx_err -> watch_on = 1 }; watched = 1
     :: else ->
        claim_t(R_CANCEL, won);
        if
        :: won ->                       /* uvgo__parker_abandon */
           t_state = T_RUNNING;
           goto resumed
        :: else -> skip                 /* a waker won: take its wake */
        fi
     fi;
     /* the wait's deadline, if it has one */
     if :: deadline = 1; timer = 1 :: deadline = 0 fi;
     /* switch out; settle on the scheduler */
     atomic {
       if
       :: t_state == T_PARKING -> t_state = T_PARKED
       :: else -> assert(t_state == T_NOTIFIED);
          t_state = T_RUNNABLE; ready = 1
       fi
     };
     /* the scheduler until T runs again */
     do
     :: ready -> ready = 0; t_state = T_RUNNING; break
     :: atomic { async_pend -> async_pend = 0 };
        sig = 0;                        /* on_async */
        atomic { if :: inbox -> inbox = 0; ready = 1 :: else -> skip fi }
     :: !ready && !spun ->              /* drain: spin_for_inbox, once */
        spun = 1;                       /* before it sleeps in its poll */
        spinning = 1;
        if
        :: sig -> skip                  /* saw the flag while spinning */
        :: skip                         /* the budget ran out */
        fi;
        spinning = 0;                   /* exchange: whoever clears it */
        if
        :: sig -> sig = 0;
           atomic { if :: inbox -> inbox = 0; ready = 1 :: else -> skip fi }
        :: else -> skip
        fi
     :: timer ->                        /* on_deadline */
        timer = 0;
        claim_t(R_DEADLINE, won);
        if :: won -> task_wake(1, old) :: else -> skip fi;
        won = 0
     :: local_left && t_queued ->       /* another task here wakes T */
        local_left = 0;
        atomic { t_queued = 0; claim_t(R_LOCAL, won) };
        if :: won -> task_wake(1, old) :: else -> skip fi;
        won = 0
     od;
     /* resumed: remove the deadline, unwatch, unlink */
     spun = 0;
     timer = 0;
     if :: watched -> watch_on = 0 :: else -> skip fi;
resumed:
     assert(t_claims == 1 && t_reason != R_NONE);
     assert(!inbox && !ready && t_state == T_RUNNING);
     assert(t_reason != R_DEADLINE || deadline);
     t_queued = 0;                      /* under the primitive's lock */
     won = 0; watched = 0; deadline = 0
  :: else -> break
  od;
  t_done = 1
}

/* A partner on another thread: claims T when it finds it queued. */
active proctype Partner() {
  bit won; bit old; byte n;
end_idle:
  do
  :: n < EPISODES && t_queued ->
     atomic {                           /* under the primitive's lock */
       if
       :: t_queued -> t_queued = 0; claim_t(R_PARTNER, won)
       :: else -> won = 0
       fi
     };
     if :: won -> task_wake(0, old) :: else -> skip fi;
     won = 0; n++
  :: n < EPISODES -> n++               /* arrives when nobody waits */
  od
}

/* The context ends once, at some point (another thread cancels it). */
active proctype Cancel() {
  bit won; bit old;
  atomic {                              /* under the context's lock */
    ctx_err = 1;
    if
    :: watch_on -> watch_on = 0; claim_t(R_CANCEL, won)
    :: else -> won = 0
    fi
  };
  if :: won -> task_wake(0, old) :: else -> skip fi
}

#endif /* THREAD_ONLY */

/* --- a plain thread's wait --- */
#ifndef TASK_ONLY

/* foreign.c: F's count is never low unless F is asleep in an untimed
 * wait that nobody has signalled yet. */
#define f_count_ok (!f_registered || fa == 1 || \
                    (f_in_wait && !f_signalled && !f_timed))

active proctype F() {
  bit won;
  if :: f_timed = 1 :: f_timed = 0 fi;
  /* park.h: uvgo__parker_prepare under the primitive's lock, queue */
  atomic {
#ifndef OLD_ACCOUNTING
    if :: !f_registered -> f_registered = 1; fa++ :: else -> skip fi;
#endif
    f_signalled = 0; f_lent = 0; f_claimed = 0; f_reason = R_NONE;
    f_queued = 1
  };
  /* wait_thread */
#ifdef OLD_ACCOUNTING
  atomic { if :: !f_registered -> f_registered = 1; fa++ :: else -> skip fi };
  fa--;                                 /* blocking(true), any wait */
#endif
  lock(f_mu);
  atomic {
    f_in_wait = 1;
#ifndef OLD_ACCOUNTING
    if
    :: !f_signalled && !f_timed -> f_lent = 1; fa--
    :: else -> skip
    fi
#endif
  };
  do
  :: f_signalled -> break
  :: else ->
     if
     :: !f_timed ->                     /* uv_cond_wait */
        f_mu = 0;
        atomic { f_signalled && f_mu == 0 -> f_mu = 1 }
     :: f_timed ->                      /* now >= deadline_ms */
        atomic {
          if
          :: !f_claimed -> f_claimed = 1; won = 1
          :: else -> won = 0
          fi
        };
        if
        :: won -> f_reason = R_DEADLINE; break
        :: else ->                      /* a waker won: its signal comes */
           f_mu = 0;
           atomic { f_signalled && f_mu == 0 -> f_mu = 1 }
        fi
     :: f_timed ->                      /* uv_cond_timedwait returns early */
        f_mu = 0;
        atomic { f_mu == 0 -> f_mu = 1 }
     fi
  od;
  atomic { f_in_wait = 0; f_mu = 0 };  /* unlock, destroy: p is gone */
  f_returned = 1;
#ifdef OLD_ACCOUNTING
  fa++;                                 /* blocking(false) */
#endif
  assert(f_reason != R_NONE);
  assert(fa == 1);                      /* the count is balanced */
  f_queued = 0                          /* a timed-out waiter unlinks itself */
}

active proctype FWaker() {
  bit won;
  /* it comes once F waits (or after F gave up): F's only waker */
  (f_queued || f_returned);
  atomic {                              /* under the primitive's lock */
    if
    :: f_queued -> f_queued = 0;
       if :: !f_claimed -> f_claimed = 1; won = 1 :: else -> won = 0 fi
    :: else -> won = 0
    fi
  };
  if
  :: won ->
     assert(!f_returned);
     f_reason = R_PARTNER;
     /* park.c: uvgo__parker_wake, plain thread */
     lock(f_mu);
     assert(!f_returned);
#ifndef OLD_ACCOUNTING
     if :: f_lent -> atomic { f_lent = 0; fa++ } :: else -> skip fi;
#endif
     f_signalled = 1;                   /* and uv_cond_signal */
     assert(!f_returned);
     f_mu = 0                           /* touch nothing after this */
  :: else -> skip
  fi
}

active proctype Monitor() {
end_mon:
  atomic { !f_count_ok -> assert(f_count_ok) }
}
#endif /* TASK_ONLY */
