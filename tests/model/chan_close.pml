/* chan_close.pml - closing a channel while senders, receivers and a
 * select wait on it (src/core/chan.c, src/core/chan.h, src/sync/select.c).
 *
 * Properties:
 *   - every waiter queued on c when it is closed is woken exactly once
 *     (an assertion in every wake: a parker is woken at most once per
 *     episode; every operation returns: SPIN's invalid-end-state check);
 *   - exactly one claim per parker, and a select returns exactly one
 *     case: the one whose waiter won the claim;
 *   - outcomes agree: a receive woken by close reports closed (and c was
 *     closed), a value is received at most once, a send reports success
 *     iff exactly one receiver took its value, a cancelled receive got
 *     nothing;
 *   - under c's lock its receive and send queues are never both holding
 *     live waiters (chan.c's invariant, checked at each unlock after the
 *     dead entries a claim skips are dropped), and at the end both
 *     channels' queues are empty.
 *
 * What stands for what:
 *   proctype Recv    a task's uvgo_chan_recv(c) under a context: chan_recv
 *                    (the lock-free uvgo__chan_closed_drained answer, else
 *                    uvgo__chan_recv_locked), then block_on (prepare,
 *                    uvgo__waitq_push, unlock, uvgo__parker_wait watching
 *                    the task's context; on a negative reason it takes
 *                    the lock and unlinks itself if still queued).
 *   proctype Send    uvgo_chan_send(c, v): chan_send ->
 *                    uvgo__chan_send_locked (ECLOSED if closed; a direct
 *                    hand-off to a queued receiver), else block_on.
 *   proctype Select  uvgo_select({recv c, recv d}): pass 1 (poll_each,
 *                    each channel locked alone), pass 2
 *                    (select_park: both locked in address order, poll
 *                    again, one waiter per case sharing one parker),
 *                    the wait, pass 3 (both locked, unlink what nobody
 *                    dequeued) and the case whose waiter was claimed.
 *   proctype Close   uvgo_chan_close(c): closed = true, then chunks of
 *                    claim_some (from the tail) on the receive queue then
 *                    the send queue, unlock, wake, lock again.
 *   proctype SendD   uvgo_chan_try_send(d, v): a partner for the select's
 *                    other case, racing the close for the select's claim.
 *   proctype Cancel  uvgo__ctx_end of the receiver's context (ctx.c):
 *                    under the context's lock, claim the watcher, wake it.
 *
 * Abstracted away: the parker's own task-side protocol (one claim CAS and
 * a "woken" flag here; parker.pml checks how a claimed task is woken),
 * element copies (a value is a token), buffered channels (c and d are
 * unbuffered: the close race is about the queues), uvgo_after cases and
 * the deadline, the random case order of pass 2 beyond the lock order,
 * channel references and release, and the misuse report of a send on a
 * closed channel (it returns UVGO_ECLOSED, modelled as CLOSED).
 */

/* waiters (index into the per-waiter arrays) */
#define WR 0        /* Recv's waiter on c.recvq */
#define WXC 1       /* Select's waiter on c.recvq (case 0) */
#define WS 2        /* Send's waiter on c.sendq */
#define WXD 3       /* Select's waiter on d.recvq (case 1) */
#define NWAIT 4

/* parkers */
#define PR 0
#define PX 1
#define PS 2

/* outcomes */
#define O_NONE 0
#define O_GOT 1     /* received the value / the send was taken */
#define O_CLOSED 2
#define O_CANCELLED 3
#define O_EMPTY 4   /* try_send found no receiver */

chan c_recvq = [2] of { byte };
chan c_sendq = [1] of { byte };
chan d_recvq = [1] of { byte };
bit c_lock; bit d_lock;
bit c_closed;

bit queued[NWAIT];
bit wclosed[NWAIT];          /* set by the claimer: woken by close */
byte wcase[NWAIT];           /* the claim word: the select case index */
byte wparker[NWAIT];

bit claimed[3];
byte claims[3];              /* ghost */
byte reason[3];              /* the claimer's word (case index), or 9 */
bit woken[3];

bit ctx_err; bit r_watch;

byte r_out; byte s_out; byte x_out; byte x_case = 9; byte sd_out;
byte received;               /* ghost: receipts of Send's value */
byte received_d;             /* ghost: receipts of SendD's value */
bit s_value_taken_by_x;      /* ghost: the select took Send's value */

#define lock(l)   atomic { l == 0 -> l = 1 }
#define c_unlock  assert(!(len(c_recvq) > 0 && len(c_sendq) > 0)); c_lock = 0

inline claim(p, r, won) {
  atomic {
    if
    :: !claimed[p] -> claimed[p] = 1; claims[p]++; reason[p] = r; won = 1
    :: else -> won = 0
    fi
  }
}

inline wake(p) {
  atomic { assert(claimed[p] && !woken[p]); woken[p] = 1 }
}

/* chan.h: uvgo__waitq_claim - dequeue the first waiter this call can
 * claim, dropping those someone else claimed. got = the waiter, or 9. */
inline waitq_claim(q, got, won) {
  got = 9;
  do
  :: nempty(q) ->
     q ? got;
     queued[got] = 0;
     claim(wparker[got], wcase[got], won);
     if
     :: won -> break
     :: else -> got = 9
     fi
  :: empty(q) -> break
  od
}

/* chan.c: claim_some - the same from the queue's tail, as a close
 * claims. A queue here holds at most two waiters. */
inline waitq_claim_last(q, got, won) {
  got = 9;
  do
  :: nempty(q) ->
     assert(len(q) <= 2);
     if
     :: len(q) == 1 -> q ? got
     :: len(q) == 2 -> q ? tmp; q ? got; q ! tmp
     fi;
     queued[got] = 0;
     claim(wparker[got], wcase[got], won);
     if
     :: won -> break
     :: else -> got = 9
     fi
  :: empty(q) -> break
  od
}

active proctype Recv() {
  byte got; bit won;
  /* chan.h uvgo__chan_closed_drained: closed (and, unbuffered, always
   * drained) answers without the lock (commit bbf3b88) */
  if
  :: c_closed -> r_out = O_CLOSED; goto r_done
  :: else -> skip
  fi;
  lock(c_lock);
  /* uvgo__chan_recv_locked */
  waitq_claim(c_sendq, got, won);
  if
  :: got != 9 ->                        /* a blocked sender: take its value */
     wclosed[got] = 0;
     received++;
     c_unlock;
     wake(wparker[got]);
     r_out = O_GOT
  :: else ->
     if
     :: c_closed -> c_unlock; r_out = O_CLOSED
     :: else ->
        /* block_on: prepare, queue, unlock, wait */
        claimed[PR] = 0; woken[PR] = 0;
        wparker[WR] = PR; wcase[WR] = 0; wclosed[WR] = 0;
        c_recvq ! WR; queued[WR] = 1;
        c_unlock;
        /* the task's context watches the parker */
        if
        :: atomic { !ctx_err -> r_watch = 1 }
           ;
           woken[PR];                   /* switched out until woken */
           r_watch = 0                  /* unwatch (under ctx's lock) */
        :: else ->
           claim(PR, 8, won);
           if
           :: won -> skip               /* abandon: do not sleep */
           :: else -> woken[PR]         /* a waker won: take its wake */
           fi
        fi;
        if
        :: reason[PR] == 8 ->           /* cancelled: unlink if queued */
           lock(c_lock);
           if
           :: queued[WR] -> c_recvq ?? eval(WR); queued[WR] = 0
           :: else -> skip
           fi;
           c_unlock;
           r_out = O_CANCELLED
        :: else ->
           if
           :: wclosed[WR] -> assert(c_closed); r_out = O_CLOSED
           :: else -> r_out = O_GOT
           fi
        fi;
        assert(claims[PR] == 1)
     fi
  fi;
r_done:
  skip
}

active proctype Send() {
  byte got; bit won;
  lock(c_lock);
  if
  :: c_closed -> c_unlock; s_out = O_CLOSED
  :: else ->
     waitq_claim(c_recvq, got, won);
     if
     :: got != 9 ->                     /* hand-off to a queued receiver */
        wclosed[got] = 0;
        received++;
        if :: got == WXC -> s_value_taken_by_x = 1 :: else -> skip fi;
        c_unlock;
        wake(wparker[got]);
        s_out = O_GOT
     :: else ->
        claimed[PS] = 0; woken[PS] = 0;
        wparker[WS] = PS; wcase[WS] = 0; wclosed[WS] = 0;
        c_sendq ! WS; queued[WS] = 1;
        c_unlock;
        woken[PS];                      /* not cancellable here */
        assert(claims[PS] == 1);
        if
        :: wclosed[WS] -> assert(c_closed); s_out = O_CLOSED
        :: else -> s_out = O_GOT
        fi
     fi
  fi
}

active proctype Select() {
  byte got; bit won;
  /* pass 1: each channel locked alone. Only c can be ready (nobody
   * blocks sending on d, and d is never closed), so only c is polled:
   * first without the lock if it is closed and drained (bbf3b88). */
  if
  :: c_closed -> x_case = 0; x_out = O_CLOSED; goto done
  :: else -> skip
  fi;
  lock(c_lock);
  waitq_claim(c_sendq, got, won);
  if
  :: got != 9 -> wclosed[got] = 0; received++; s_value_taken_by_x = 1;
     c_unlock; wake(wparker[got]); x_case = 0; x_out = O_GOT; goto done
  :: else -> skip
  fi;
  if
  :: c_closed -> c_unlock; x_case = 0; x_out = O_CLOSED; goto done
  :: else -> c_unlock
  fi;
  /* pass 2: lock c then d (address order), poll again, queue both */
  lock(c_lock);
  lock(d_lock);
  waitq_claim(c_sendq, got, won);
  if
  :: got != 9 -> wclosed[got] = 0; received++; s_value_taken_by_x = 1;
     d_lock = 0; c_unlock; wake(wparker[got]);
     x_case = 0; x_out = O_GOT; goto done
  :: else -> skip
  fi;
  if
  :: c_closed -> d_lock = 0; c_unlock; x_case = 0; x_out = O_CLOSED; goto done
  :: else -> skip
  fi;
  claimed[PX] = 0; woken[PX] = 0;
  wparker[WXC] = PX; wcase[WXC] = 0; wclosed[WXC] = 0;
  wparker[WXD] = PX; wcase[WXD] = 1; wclosed[WXD] = 0;
  c_recvq ! WXC; queued[WXC] = 1;
  d_recvq ! WXD; queued[WXD] = 1;
  d_lock = 0;
  c_unlock;
  woken[PX];
  /* pass 3: unlink the waiters nobody dequeued */
  lock(c_lock);
  lock(d_lock);
  if
  :: queued[WXC] -> c_recvq ?? eval(WXC); queued[WXC] = 0
  :: else -> skip
  fi;
  if
  :: queued[WXD] -> d_recvq ?? eval(WXD); queued[WXD] = 0
  :: else -> skip
  fi;
  d_lock = 0;
  c_unlock;
  assert(claims[PX] == 1);
  x_case = reason[PX];
  if
  :: x_case == 0 && wclosed[WXC] -> assert(c_closed); x_out = O_CLOSED
  :: x_case == 0 && !wclosed[WXC] -> x_out = O_GOT
  :: x_case == 1 -> assert(!wclosed[WXD]); x_out = O_GOT
  :: else -> assert(false)
  fi;
done:
  skip
}

active proctype Close() {
  byte got; bit won; byte tmp;
  lock(c_lock);
  assert(!c_closed);
  c_closed = 1;
  /* Chunks of one waiter (CLOSE_CHUNK scaled down to make every gap a
   * step): claim from the tail of the receive queue, then of the send
   * queue, under the lock; unlock; wake the winner; lock again for the
   * next. */
  do
  :: waitq_claim_last(c_recvq, got, won);
     if
     :: got == 9 -> waitq_claim_last(c_sendq, got, won)
     :: else -> skip
     fi;
     if
     :: got == 9 -> c_unlock; break
     :: else ->
        wclosed[got] = 1;
        c_unlock;
        wake(wparker[got]);
        lock(c_lock)
     fi
  od
}

active proctype SendD() {
  byte got; bit won;
  lock(d_lock);
  waitq_claim(d_recvq, got, won);
  if
  :: got != 9 -> wclosed[got] = 0; received_d++; d_lock = 0;
     wake(wparker[got]); sd_out = O_GOT
  :: else -> d_lock = 0; sd_out = O_EMPTY
  fi
}

active proctype Cancel() {
  bit won;
  atomic {                              /* under the context's lock */
    ctx_err = 1;
    if
    :: r_watch -> r_watch = 0; claim(PR, 8, won)
    :: else -> won = 0
    fi
  };
  if :: won -> wake(PR) :: else -> skip fi
}

/* When every operation has returned: outcomes agree, queues are empty. */
active proctype Final() {
  (r_out != O_NONE && s_out != O_NONE && x_out != O_NONE &&
   sd_out != O_NONE);
  assert(received <= 1 && received_d <= 1);
  assert((s_out == O_GOT) == (received == 1));
  assert(r_out != O_GOT || (received == 1 && !s_value_taken_by_x));
  assert(!(x_out == O_GOT && x_case == 0) || s_value_taken_by_x);
  assert(!(x_out == O_GOT && x_case == 1) || received_d == 1);
  assert((sd_out == O_GOT) == (received_d == 1));
  assert(empty(c_recvq) && empty(c_sendq) && empty(d_recvq));
  assert(!queued[WR] && !queued[WXC] && !queued[WS] && !queued[WXD])
}
