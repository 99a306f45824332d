/* verdict.pml - the deadlock verdict's accounting (uvgo_run mode).
 *
 * Property: the runtime never gives a deadlock verdict while a task, a
 * plain thread or anything else can still make progress (the assertion
 * in VERDICT below, checked at the moment of the verdict), every episode
 * has exactly one claim, and every run ends: all tasks finish and the
 * runtime stops, or the real deadlock at the end gets its verdict (a
 * final state where a worker waits for ever is an "invalid end state").
 *
 * What stands for what (src/core unless said otherwise):
 *   proctype Worker(w)  a worker thread's loop: on_async (worker.c: clear
 *                       the stuck flag, take the inbox), the timers of its
 *                       heap, libuv's after-work callback, the deadlock
 *                       probe (runtime.c: on_deadlock_probe), and after
 *                       every event the check phase (worker.c: drain ->
 *                       run_budget, loop_is_quiet, stuck = 1,
 *                       uvgo__rt_check_deadlock).
 *   inline all_stuck_since   runtime.c: all_stuck_since, one load a step,
 *                       in the code's order.
 *   task A (home W0)    uvgo_wg_done waking the plain thread F (sync/wg.c
 *                       -> park.c: uvgo__parker_wake); uvgo_chan_recv from
 *                       F (chan.c: block_on_watched); uvgo_work
 *                       (sync/work.c: a libuv request on W0's loop,
 *                       after_work claims and wakes); uvgo_sleep (a
 *                       deadline on W0's heap, park.c: on_deadline); then
 *                       it finishes
 *                       (task.c: finish_task -> uvgo__rt_task_finished).
 *   task B (home W1)    spawned onto W1 through its inbox (uvgo_go_on), a
 *                       wait watched by the context X whose deadline timer
 *                       lives on W0's heap (a timer armed from another
 *                       worker: ctx.c on_timeout -> uvgo__ctx_end claims B
 *                       and wakes it through W1's inbox) and by the
 *                       producer R; then it finishes, or (chosen at run
 *                       time) parks for ever: the program's real deadlock,
 *                       which must get its verdict.
 *   proctype F          a registered plain thread: uvgo_wg_wait (untimed
 *                       or timed, chosen at run time: park.h
 *                       uvgo__parker_prepare / wait_thread on a condition
 *                       variable), then uvgo_chan_send to A (a wake from a
 *                       plain thread: task.c uvgo__task_wake ->
 *                       worker.c uvgo__worker_submit / signal_inbox), then
 *                       it exits (foreign.c participant_exit).
 *   proctype R          a foreign producer holding uvgo_rt_ref
 *                       (runtime.c): it may wake B (racing X's timer for
 *                       B's claim), then uvgo_rt_unref, then exits.
 *
 * Switches (the default is the code as it is since commit a9b243c):
 *   -DOLD_ACCOUNTING    the accounting before d26f3d4: a plain thread
 *                       released its count for every wait and took it
 *                       back only once it had resumed. The model must find
 *                       the false verdict of issue 12 (check-models.sh
 *                       expects the VERDICT assertion to fail).
 *   -DF_UNTIMED         F's wait has no deadline (with -DOLD_ACCOUNTING the
 *                       counterexample is then exactly issue 12's: A's
 *                       uvgo_wg_done wakes F, F has not resumed yet, the
 *                       probe sees nobody active; without it SPIN first
 *                       finds the same bug through a timed wait that ends
 *                       by itself, which the old code also left uncounted).
 *   -DFIRST_CALL_WAKE   F is not registered before its send to A (its
 *                       WaitGroup wait may return at once, and only a
 *                       wait that blocks registers), so the wake is the
 *                       call that registers it. check-models.sh runs the
 *                       model with and without it.
 *   -DREGISTER_LATE     the code before commit a9b243c: a plain thread
 *                       registered only in signal_inbox, after its state
 *                       CAS and inbox push, and all_stuck_since read the
 *                       plain-thread count only first. With
 *                       -DFIRST_CALL_WAKE a probe between the push and the
 *                       activity bump gives a verdict with A in W0's inbox
 *                       (found by this model; check-models.sh expects it).
 *   -DSTRICT_END        a worker waiting for ever with tasks alive (a run
 *                       that neither ends nor gets its verdict) is an
 *                       error. Without -DEXIT_RECHECK (the code before
 *                       2799b5d): a plain thread's exit (participant_exit)
 *                       and uvgo_rt_unref lower what the check reads
 *                       without making any worker check again, so a real
 *                       deadlock reached while F or R was still counted
 *                       hangs instead of a verdict (check-models.sh
 *                       expects it: verdict_exit_hang).
 *   -DEXIT_RECHECK      the code since 2799b5d (uvgo__verdict_lower in
 *                       foreign.c): a plain thread's exit and
 *                       uvgo_rt_unref bump rt->activity BEFORE they lower
 *                       their count, then signal worker 0 (whose on_async
 *                       and drain check again). The code sends the signal
 *                       always (libuv coalesces it), poke() below only
 *                       when sig[0] was clear: the code wakes at least as
 *                       often. A probe that fails here falls through to
 *                       the drain's check; the code's on_deadlock_probe
 *                       calls uvgo__rt_check_deadlock for it. With
 *                       -DFIRST_CALL_WAKE -DSTRICT_END it verifies
 *                       (verdict_exit_recheck).
 *
 * Abstracted away: the 100 ms grace period (the probe may fire at any
 * later moment, so every false verdict found here also needs a thread
 * delayed that long - a preemption under load, or a sanitizer); channel
 * values, buffers beyond one slot, stacks, names, dumps; libuv's thread
 * pool (the request counts as active on W0's loop until after_work has
 * run there, so when the pool finishes does not matter to the check:
 * the completion is one event of W0's loop); the timed wait's early
 * returns of uv_cond_timedwait (the loop only re-checks); libuv's own
 * async coalescing (an uv_async_send sets one pending bit that the loop
 * clears before calling on_async); messages posted with
 * uvgo__worker_post (they are inbox pushes like a task's); stealing and
 * the global queue (new tasks start where they are queued here);
 * spin_for_inbox (commit 26bcc25: a spinning worker takes its inbox
 * as on_async does - clear_stuck, then the inbox - only without the
 * uv_async_send; the handshake that makes the skipped send safe is
 * checked in parker.pml); memory orderings (every atomic is
 * sequentially consistent here; the code uses seq_cst for the counters
 * the check reads). The task-side park/wake protocol is the one
 * parker.pml checks; it is repeated here only as far as the accounting
 * needs.
 */

#define NW 2
#define A 0               /* task A, homed on worker 0 */
#define B 1               /* task B, homed on worker 1 */
#define FROM_F 2          /* a wake made by the plain thread F */
#define FROM_R 3          /* ... by the producer R */

#define T_RUNNABLE 1
#define T_RUNNING 2
#define T_PARKING 4
#define T_NOTIFIED 5
#define T_PARKED 6
#define T_DONE 7

/* tasks (index = task = its home worker) */
byte tstate[2];
bit tclaimed[2];          /* the current park episode's parker claim */
byte tclaims[2];          /* ghost: claims won in the current episode */
byte tpc[2];              /* where the task resumes */
bit b_forever;            /* ghost: B chose to park for ever at the end */

/* the runtime (runtime.c: rt->live, foreign.c: uvgo__foreign_active) */
byte live_tasks = 2;
byte refs;
bit stopped;              /* UVGO__RT_STOPPED, and the workers' stop */
bit deadlocked;
byte fa;                  /* uvgo__foreign_active */
/* rt->activity matters only as "changed since this read": bc[w] is set by
 * every bump since worker w's check read it (`now`), bp[w] by every bump
 * since the value its armed probe holds (`since`). */
bit bc[NW];
bit bp[NW];

/* workers */
bit stuck[NW];
bit inbox[NW];            /* a task queued in the worker's inbox */
bit sig[NW];              /* inbox_signalled */
bit async_pend[NW];       /* uv_async_send pending on the worker's loop */
bit ready[NW];            /* the worker's task is in its ready queue */
bit probe[NW];            /* deadlock probe armed on its heap */

/* W0's loop */
bit a_timer;              /* A's sleep deadline */
bit ctx_timer = 1;        /* context X's deadline (X watched by B) */
bit req0;                 /* A's uv_work request, active on W0's loop */

/* primitives */
bit wg = 1;            /* the WaitGroup F waits on: counter 1 */
bit c_buf;            /* the channel F sends A (one buffered slot) */
bit a_queued;             /* A queued as c's receiver */
bit b_queued;      /* what B waits for; R is its partner */
bit ctx_err; bit b_watch;

/* the plain thread F and its parker */
bit f_registered;
bit f_queued;             /* F's waiter on the WaitGroup's queue */
bit f_claimed;
bit f_mu;
bit f_signalled;
bit f_lent;               /* count_lent (park.h) */
bit f_timed;              /* F's wait has a deadline */
bit f_waiting;            /* ghost: F inside wait_thread's loop */
bit f_done;

/* the producer R */
bit r_registered;
bit r_holds_ref;
bit r_done;

bit snap_cp[NW];          /* ghost: can_progress when w's check made its last
                             load (rt->activity) was made */

inline bump() {
  atomic { bc[0] = 1; bc[1] = 1; bp[0] = 1; bp[1] = 1 }
}

#define lock(l)   atomic { l == 0 -> l = 1 }
#define unlock(l) l = 0

/* Can anything still make progress? (The verdict must see "no".) A task
 * that is not parked or done can; so can one in an inbox or ready queue;
 * a pending timer or request; a registered plain thread that is alive and
 * not asleep in an untimed wait (docs/testing.md: "no plain thread that
 * uses uvgo"); a producer holding a reference. */
#define task_live(t) (tstate[t] != T_PARKED && tstate[t] != T_DONE)
#define f_can_progress (f_registered && !f_done && \
                        !(f_waiting && !f_signalled && !f_timed))
#define can_progress (task_live(A) || task_live(B) || inbox[0] || \
                      inbox[1] || ready[0] || ready[1] || a_timer || \
                      ctx_timer || req0 || f_can_progress || \
                      r_holds_ref || (r_registered && !r_done))

/* foreign.c: uvgo__foreign_thread_enter (first call of a plain thread) */
inline enter(from) {
  if
  :: from == FROM_F && !f_registered -> atomic { f_registered = 1; fa++ }
  :: from == FROM_R && !r_registered -> atomic { r_registered = 1; fa++ }
  :: else -> skip
  fi
}

/* worker.c: uvgo__worker_submit from another thread + signal_inbox */
inline submit_remote(w, from, old) {
  inbox[w] = 1;                       /* pushed under inbox_lock */
#ifdef REGISTER_LATE
  enter(from);                        /* before a9b243c: signal_inbox */
#endif
  bump();
  atomic { old = sig[w]; sig[w] = 1 };
  atomic {
    if
    :: old == 0 -> async_pend[w] = 1  /* uv_async_send */
    :: else -> skip
    fi;
    old = 0
  }
}

/* task.c: uvgo__task_wake by the claim's winner, from `from` (a worker
 * id or a plain thread). The winner always finds it PARKING or PARKED. */
inline task_wake(t, from, old) {
#ifndef REGISTER_LATE
  enter(from);                        /* a9b243c: before the CAS */
#endif
  if
  :: atomic { tstate[t] == T_PARKING -> tstate[t] = T_NOTIFIED }
  :: atomic { tstate[t] == T_PARKED -> tstate[t] = T_RUNNABLE };
     submit_remote(t, from, old)
  :: else -> assert(false)
  fi
}

/* The same on the task's own worker (commit bbf3b88): plain load and
 * store, then straight to the ready queue (the scheduler is running, so
 * the task has settled). */
inline task_wake_here(t) {
  if
  :: tstate[t] == T_PARKED -> tstate[t] = T_RUNNABLE; ready[t] = 1
  :: else -> assert(false)
  fi
}

/* park.h: uvgo__parker_claim (one CAS) */
inline claim(t, won) {
  atomic {
    if
    :: !tclaimed[t] -> tclaimed[t] = 1; tclaims[t]++; won = 1
    :: else -> won = 0
    fi
  }
}

/* park.h: uvgo__parker_prepare_task */
inline prepare(t) {
  atomic { tclaimed[t] = 0; tclaims[t] = 0 };
  tstate[t] = T_PARKING
}

/* task.c: settle, on the scheduler after the task switched out */
inline settle(t) {
  atomic {
    if
    :: tstate[t] == T_PARKING -> tstate[t] = T_PARKED
    :: else -> assert(tstate[t] == T_NOTIFIED);
       tstate[t] = T_RUNNABLE; ready[t] = 1
    fi
  }
}

/* runtime.c: live_sub -> the CAS from 0 to STOPPED, stop_all_workers */
inline live_zero_check() {
  if
  :: live_tasks == 0 && refs == 0 && !stopped -> stopped = 1
  :: else -> skip
  fi
}

/* -DEXIT_RECHECK: make worker 0 check again (uv_async_send). */
inline poke(old) {
#ifdef EXIT_RECHECK
  atomic { old = sig[0]; sig[0] = 1 };
  atomic {
    if
    :: old == 0 -> async_pend[0] = 1
    :: else -> skip
    fi;
    old = 0
  }
#else
  skip
#endif
}

/* park.c: uvgo__parker_wake for F's parker (a plain thread's). */
inline wake_f() {
  atomic {
    f_mu == 0 -> f_mu = 1;
#ifndef OLD_ACCOUNTING
    if
    :: f_lent -> f_lent = 0; fa++     /* the count given back */
    :: else -> skip
    fi;
#endif
    f_signalled = 1                   /* and uv_cond_signal */
  };
  f_mu = 0
}

/* runtime.c: all_stuck_since(rt, s), one load a step (the code's three
 * loads of the one word rt->live - STOPPED, the task count, the
 * reference count - are one load here) */
inline all_stuck_since(s, ok) {
  ok = 0;
  if                          /* rt->live: STOPPED, live tasks, references */
  :: stopped || live_tasks == 0 || refs > 0 -> skip
  :: else ->
    if
    :: fa > 0 -> skip
    :: else ->
      if
      :: inbox[0] -> skip     /* uvgo__worker_inbox_empty, under its lock */
      :: else ->
        if
        :: inbox[1] -> skip
        :: else ->
          if
          :: !stuck[0] -> skip
          :: else ->
            if
            :: !stuck[1] -> skip
            :: else ->
              if
              :: refs > 0 -> skip
              :: else ->
#ifndef REGISTER_LATE
                if            /* uvgo__foreign_active again, then activity */
                :: fa > 0 -> skip
                :: atomic { fa == 0 -> snap_cp[w] = can_progress };
                   ok = !s
                fi
#else
                atomic { ok = !s; snap_cp[w] = can_progress }  /* activity */
#endif
              fi
            fi
          fi
        fi
      fi
    fi
  fi
}

/* worker.c: clear_stuck */
inline clear_stuck(w) {
  if
  :: atomic { stuck[w] -> stuck[w] = 0 }; bump()
  :: else -> skip
  fi
}

/* The task's code between two switches, on its home worker w == t. */
inline run_task(t, won, old) {
  tstate[t] = T_RUNNING;
  do
  /* --- task A --- */
  :: t == A && tpc[A] == 0 ->
     /* uvgo_wg_done(&wg): the waiter F is claimed and woken */
     atomic {                         /* under the WaitGroup's lock */
       wg = 0;
       if
       :: f_queued -> f_queued = 0;
          if :: !f_claimed -> f_claimed = 1; won = 1
             :: else -> won = 0 fi
       :: else -> won = 0
       fi
     };
     if
     :: won -> wake_f()
     :: else -> skip
     fi;
     tpc[A] = 1
  :: t == A && tpc[A] == 1 ->
     /* uvgo_chan_recv(c): take F's value, or queue and park */
     atomic {                         /* under c's lock */
       if
       :: c_buf -> c_buf = 0; tpc[A] = 2
       :: else -> prepare(A); a_queued = 1; tpc[A] = 2
       fi
     };
     if
     :: tstate[A] == T_RUNNING -> skip
     :: else -> settle(A); break
     fi
  :: t == A && tpc[A] == 2 ->
     /* either uvgo_work (a request on this worker's loop, after_work
      * claims and wakes) or uvgo_sleep (a deadline on this worker's heap,
      * on_deadline claims and wakes) */
     if
     :: atomic { prepare(A); req0 = 1; tpc[A] = 4 }
     :: atomic { prepare(A); a_timer = 1; tpc[A] = 4 }
     fi;
     settle(A); break
  :: t == A && tpc[A] == 4 ->
     assert(tclaims[A] == 1);
     a_timer = 0;                     /* uvgo__timer_remove */
     atomic { tstate[A] = T_DONE; live_tasks--; live_zero_check() };
     break
  /* --- task B --- */
  :: t == B && tpc[B] == 0 ->
     /* wait for R, watched by context X (park.c: uvgo__parker_wait_ctx) */
     atomic { prepare(B); b_queued = 1; tpc[B] = 1 };   /* under its lock */
     if                               /* ctx.c: uvgo__ctx_watch */
     :: atomic { !ctx_err -> b_watch = 1 }; settle(B); break
     :: else ->
        claim(B, won);                /* X ended: claim it ourselves */
        if
        :: won -> tstate[B] = T_RUNNING   /* uvgo__parker_abandon */
        :: else -> settle(B); break       /* a waker won: take its wake */
        fi
     fi
  :: t == B && tpc[B] == 1 ->
     assert(tclaims[B] == 1);
     b_watch = 0;                     /* unwatch, under X's lock */
     b_queued = 0;                    /* unlink, under its lock */
     if
     :: atomic { tstate[B] = T_DONE; live_tasks--; live_zero_check() };
        break
     :: b_forever = 1; prepare(B); tpc[B] = 2; settle(B); break
     fi
  od
}

/* Without -DSTRICT_END a worker waiting for ever is a valid end state
 * (the "every run ends" property is dropped, the safety ones stay). */
#ifdef STRICT_END
#define LOOP loop
#else
#define LOOP end_loop
#endif

proctype Worker(byte w) {
  bit ok; bit won; bit old;
LOOP:
  do
  :: stopped -> goto out
  :: atomic { async_pend[w] -> async_pend[w] = 0 };
     /* on_async: not stuck from here on, then take the inbox */
     clear_stuck(w);
     sig[w] = 0;
     atomic { if :: inbox[w] -> inbox[w] = 0; ready[w] = 1
                 :: else -> skip fi };
     break
  :: w == 0 && a_timer ->
     /* park.c: on_deadline for A's sleep */
     a_timer = 0;
     claim(A, won);
     if :: won -> task_wake_here(A) :: else -> skip fi;
     won = 0;
     break
  :: w == 0 && ctx_timer ->
     /* ctx.c: on_timeout -> uvgo__ctx_end(X, UV_ETIMEDOUT) */
     ctx_timer = 0;
     atomic {                         /* under X's lock */
       won = 0;
       if
       :: !ctx_err -> ctx_err = 1;
          if
          :: b_watch -> b_watch = 0; claim(B, won)
          :: else -> skip
          fi
       :: else -> skip
       fi
     };
     if :: won -> task_wake(B, 0, old) :: else -> skip fi;
     won = 0;
     break
  :: w == 0 && req0 ->
     /* the pool ran A's work; libuv's uv__work_done (on W0's loop)
      * unregisters the request, then calls after_work */
     req0 = 0;
     claim(A, won);
     if :: won -> task_wake_here(A) :: else -> skip fi;
     won = 0;
     break
  :: probe[w] ->
     /* runtime.c: on_deadlock_probe */
     probe[w] = 0;
     if
     :: !stuck[w] -> skip
     :: else ->
        all_stuck_since(bp[w], ok);
        if
        :: ok -> atomic {
             if
             :: !deadlocked ->
VERDICT:        assert(!snap_cp[w]);
                deadlocked = 1; stopped = 1
             :: else -> skip
             fi }
        :: else -> skip
        fi
     fi;
     break
  :: ready[w] -> break                /* the idle handle keeps it turning */
  od;
  /* the check phase: drain */
  if
  :: stopped -> goto out
  :: else -> skip
  fi;
  do
  :: ready[w] -> ready[w] = 0; clear_stuck(w); run_task(w, won, old)
  :: else -> break
  od;
  if
  :: (w == 1 || (!a_timer && !ctx_timer && !req0)) ->   /* loop_is_quiet */
     stuck[w] = 1;
     /* uvgo__rt_check_deadlock */
     bc[w] = 0;                       /* now = rt->activity */
     if
     :: probe[w] -> skip
     :: else ->
        all_stuck_since(bc[w], ok);
        if
        :: ok -> atomic { bp[w] = bc[w]; probe[w] = 1 }  /* since = now */
        :: else -> skip
        fi;
        ok = 0
     fi
  :: else -> skip
  fi;
  goto LOOP;
out:
  skip
}

proctype F() {
  bit won; bit old;
  /* uvgo_wg_wait(&wg) */
#ifdef F_UNTIMED
  f_timed = 0;
#else
  if :: f_timed = 1 :: f_timed = 0 fi;
#endif
  atomic {                            /* under the WaitGroup's lock */
    if
    :: wg == 0 -> won = 0
    :: else -> won = 1;
       /* park.c: uvgo__parker_prepare_thread */
#ifndef OLD_ACCOUNTING
       enter(FROM_F);                 /* counted before a waker sees it */
#endif
       f_signalled = 0; f_claimed = 0; f_lent = 0;
       f_queued = 1
    fi
  };
  if
  :: !won -> f_timed = 0
  :: else ->
     /* park.c: wait_thread */
#ifdef OLD_ACCOUNTING
     enter(FROM_F);
     fa--;                            /* blocking(true), timed or not */
#endif
     lock(f_mu);
#ifndef OLD_ACCOUNTING
     if
     :: !f_signalled && !f_timed -> f_lent = 1; fa--   /* release() */
     :: else -> skip
     fi;
#endif
     f_waiting = 1;
     do
     :: f_signalled -> break
     :: else ->
        if
        :: !f_timed ->                /* uv_cond_wait */
           f_mu = 0;
           atomic { f_signalled && f_mu == 0 -> f_mu = 1 }
        :: f_timed ->                 /* now >= deadline_ms */
           atomic {
             if
             :: !f_claimed -> f_claimed = 1; won = 1
             :: else -> won = 0
             fi
           };
           if
           :: won -> break
           :: else ->                 /* a waker won: its signal comes */
              f_mu = 0;
              atomic { f_signalled && f_mu == 0 -> f_mu = 1 }
           fi
        fi
     od;
     f_waiting = 0;
     unlock(f_mu);
#ifdef OLD_ACCOUNTING
     fa++;                            /* blocking(false) */
#endif
     /* a timed-out waiter unlinks itself (sync/wg.c) */
     f_queued = 0                     /* under the WaitGroup's lock */
  fi;
  /* uvgo_chan_send(c) to A */
  atomic {                            /* under c's lock */
    if
    :: a_queued -> a_queued = 0; claim(A, won);
       assert(won)                    /* nothing else claims A's recv */
    :: else -> c_buf = 1; won = 0
    fi
  };
  if
  :: won -> task_wake(A, FROM_F, old)
  :: else -> skip
  fi;
  /* the thread exits: participant_exit */
  if
  :: f_registered ->
#ifdef EXIT_RECHECK
     bump();
#endif
     atomic { fa--; f_done = 1 }; poke(old)
  :: else -> f_done = 1
  fi
}

proctype R() {
  bit won; bit old;
  /* a send to B, if B waits (uvgo_chan_try_send, say) */
  atomic {                            /* under the lock of what B waits on */
    if
    :: b_queued -> b_queued = 0; claim(B, won)
    :: else -> won = 0
    fi
  };
  if
  :: won -> task_wake(B, FROM_R, old)
  :: else -> skip
  fi;
  /* uvgo_rt_unref -> live_sub */
#ifdef EXIT_RECHECK
  bump();
#endif
  atomic { refs--; r_holds_ref = 0; live_zero_check() };
  poke(old);
  /* exit */
  if
  :: r_registered ->
#ifdef EXIT_RECHECK
     bump();
#endif
     atomic { fa--; r_done = 1 }; poke(old)
  :: else -> r_done = 1
  fi
}

init {
  atomic {
    tstate[A] = T_RUNNABLE; ready[0] = 1;
    /* B was sent to W1 with uvgo_go_on: in W1's inbox, signalled */
    tstate[B] = T_RUNNABLE; inbox[1] = 1; sig[1] = 1; async_pend[1] = 1;
    stuck[1] = 1;                     /* worker_new: only W0 starts busy */
    refs = 1; r_holds_ref = 1;
#ifndef FIRST_CALL_WAKE
    f_registered = 1; fa = 1;         /* an earlier wait of F blocked */
#endif
    run Worker(0); run Worker(1); run F(); run R()
  }
}
