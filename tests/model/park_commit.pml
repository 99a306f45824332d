/* park_commit.pml - parking with the wakers' locks held (park.h,
 * uvgo__parker_wait_commit): the path of an unwatched task's plain channel
 * operation (chan.c block_on, one channel, claims without a CAS) and of
 * its select (select.c select_park, two channels, CAS claims, a deadline).
 *
 * Properties:
 *   - exactly one claim per episode, and the task resumes with it;
 *   - a claim's winner never finds the task PARKING: settle stores PARKED
 *     with a plain store, so a NOTIFIED written meanwhile would be lost
 *     (the assertions in wake);
 *   - a plain claim (one channel) never meets a claimed parker;
 *   - no lost wake-up: every episode ends (an invalid end state
 *     otherwise), and nothing is left queued after it.
 *
 * What stands for what:
 *   proctype W        worker 0's thread: task T's episodes (lock every
 *                     channel in order, prepare: PARKING, queue a waiter
 *                     per channel, arm the deadline (select only), switch
 *                     out; then settle on the next task's stack or the
 *                     scheduler: PARKED, then the commit unlocks in
 *                     reverse order), the scheduler until T runs again
 *                     (draining the inbox, the deadline firing from the
 *                     loop, another task on this worker acting as a
 *                     partner), and after the wake the select's pass 3
 *                     (lock every channel but the winner's, unlink).
 *   proctype Partner  a task on another worker (or a plain thread) per
 *                     channel, sending to T: under that channel's lock
 *                     dequeue and claim, unlock, then task.c
 *                     uvgo__task_wake's remote half (state, then inbox).
 *
 * Switches: -DONE_CHANNEL the plain operation (one channel, plain claims,
 * no deadline, no pass 3). -DCOMMIT_FIRST unlocks before marking PARKED:
 * the bug the order prevents (a wake lands on PARKING and is lost);
 * -DPLAIN_CLAIM gives the select plain claims (two claimers under two
 * locks can both win). check-models.sh expects the model to find both.
 *
 * Abstracted away: values, the inbox signalling handshake (parker.pml),
 * the direct task-to-task hand-off (settle runs on this thread before
 * anything else either way), memory orders (the lock's acquire/release
 * pairs order the plain stores), a close (a partner that claims every
 * queue of one channel: the same steps). */

#ifndef EPISODES
#define EPISODES 2
#endif

#ifdef ONE_CHANNEL
#define NCH 1
#else
#define NCH 2
#endif

#define T_RUNNABLE 1
#define T_RUNNING 2
#define T_PARKING 4
#define T_PARKED 6

#define R_NONE 0
#define R_CH0 1
#define R_CH1 2
#define R_DEADLINE 3

bit lk[NCH];
bit q[NCH];
byte t_state = T_RUNNING;
bit t_claimed;
byte t_reason;
byte t_claims;                     /* ghost: claims won this episode */
bit inbox;
bit ready;
bit timer;
bit local_left = 1;                /* another task on worker 0, once */
byte t_ep;

#define lock(l) atomic { l == 0 -> l = 1 }

/* The claim: a CAS (select), or, for a waiter only its lock's holders
 * can claim, a plain store (chan.h uvgo__waitq_claim, exclusive). */
inline claim(r, won) {
#if defined(ONE_CHANNEL) || defined(PLAIN_CLAIM)
  assert(!t_claimed);
  t_claimed = 1;
  t_claims++;
  won = 1;
#else
  atomic {
    if
    :: !t_claimed -> t_claimed = 1; t_claims++; won = 1
    :: else -> won = 0
    fi
  };
#endif
  if :: won -> t_reason = r :: else -> skip fi
}

/* task.c uvgo__task_wake by the claim's winner: on T's worker a plain
 * load and store, elsewhere the CAS loop and the inbox. PARKING would be
 * turned into NOTIFIED there: never allowed here. */
inline wake(here) {
  if
  :: here ->
     assert(t_state == T_PARKED);
     t_state = T_RUNNABLE;
     ready = 1
  :: else ->
     atomic {
       assert(t_state != T_PARKING);
       assert(t_state == T_PARKED);
       t_state = T_RUNNABLE
     };
     inbox = 1
  fi
}

active proctype W() {
  bit won; bit deadline; byte i; byte j;
  do
  :: t_ep < EPISODES ->
     t_ep++;
     i = 0;
     do :: i < NCH -> lock(lk[i]); i++ :: else -> break od;
     t_claimed = 0; t_claims = 0; t_reason = R_NONE;
     t_state = T_PARKING;
     i = 0;
     do :: i < NCH -> q[i] = 1; i++ :: else -> break od;
#ifndef ONE_CHANNEL
     if :: deadline = 1; timer = 1 :: deadline = 0 fi;
#endif
     /* switched out: settle, then the commit */
#ifdef COMMIT_FIRST
     i = NCH;
     do :: i > 0 -> lk[i - 1] = 0; i-- :: else -> break od;
     t_state = T_PARKED;
#else
     assert(t_state == T_PARKING);
     t_state = T_PARKED;
     i = NCH;
     do :: i > 0 -> lk[i - 1] = 0; i-- :: else -> break od;
#endif
     /* the scheduler until T runs again */
     do
     :: ready -> ready = 0; t_state = T_RUNNING; break
     :: atomic { inbox -> inbox = 0; ready = 1 }
     :: timer ->                       /* park.c on_deadline */
        timer = 0;
        claim(R_DEADLINE, won);
        if :: won -> wake(1) :: else -> skip fi;
        won = 0
     :: local_left ->                  /* a task here sends on channel j */
        local_left = 0;
        if :: j = 0 :: j = NCH - 1 fi;
        lock(lk[j]);
        if
        :: q[j] -> q[j] = 0; claim(j + 1, won)
        :: else -> won = 0
        fi;
        lk[j] = 0;
        if :: won -> wake(1) :: else -> skip fi;
        won = 0
     od;
     timer = 0;                        /* uvgo__timer_remove */
     assert(t_claims == 1 && t_reason != R_NONE);
     assert(t_reason != R_DEADLINE || deadline);
#ifndef ONE_CHANNEL
     /* pass 3: the winner's claimer dequeued it; lock the others */
     i = 0;
     do
     :: i < NCH && t_reason == i + 1 -> assert(!q[i]); i++
     :: i < NCH && t_reason != i + 1 ->
        lock(lk[i]); q[i] = 0; lk[i] = 0; i++
     :: else -> break
     od;
#endif
     i = 0;
     do :: i < NCH -> assert(!q[i]); i++ :: else -> break od;
     deadline = 0
  :: else -> break
  od
}

proctype Partner(byte ch) {
  bit won; byte n;
end_idle:
  /* It sends once T waits (a sender finding nobody would queue itself;
   * one finding a claimed waiter drops it and looks again). */
  do
  :: n < EPISODES && q[ch] ->
     lock(lk[ch]);
     if
     :: q[ch] -> q[ch] = 0; claim(ch + 1, won)
     :: else -> won = 0
     fi;
     lk[ch] = 0;
     if :: won -> wake(0); n++ :: else -> skip fi;
     won = 0
  od
}

init {
  atomic {
    run Partner(0);
#ifndef ONE_CHANNEL
    run Partner(1)
#endif
  }
}
