/* uvgo — time: Go's time.After, time.Timer and time.Ticker.
 *
 * Durations are milliseconds (uint64_t); deadlines are on the monotonic
 * clock. Values delivered on these channels are uint64_t: the deadline
 * (monotonic milliseconds) at which the timer fired. */
#ifndef UVGO_TIME_H
#define UVGO_TIME_H

#include "chan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Go's time.After(d), without the allocation: a receive-only pseudo
 * channel that encodes its deadline (now + ms) in the pointer itself. Use
 * it as a select recv case or with uvgo_chan_recv / try_recv; a waiting
 * select arms the worker's timer heap only when it has to park.
 * Deviations from Go, by design: it is not a real channel, so it is never
 * released, closed or sent to (UV_EINVAL); and once its deadline passes it
 * stays ready — every receive from it succeeds at once — where Go's
 * channel delivers one value. Make a fresh one per wait (it is free), or
 * keep one to share a deadline across several selects.
 * Requires 64-bit pointers for deadlines beyond 2^31 ms of uptime.
 * Never fails. Any thread. */
UVGO_EXTERN uvgo_chan *uvgo_after(uint64_t ms);
/* The same for an absolute deadline in uvgo_now_ms() milliseconds. */
UVGO_EXTERN uvgo_chan *uvgo_after_deadline(uint64_t deadline_ms);
/* Monotonic milliseconds, the clock of every uvgo deadline. Any thread. */
UVGO_EXTERN uint64_t uvgo_now_ms(void);

/* Go's time.Timer: fires once, ms from now, into its channel (capacity 1;
 * a value that finds the channel full is dropped, as Go's sendTime does).
 * The timer lives in the creating worker's timer heap; stop, reset and
 * free may be called from any thread (they reach that worker through its
 * inbox). Like Go before 1.23, a value already delivered stays in the
 * channel after stop or reset: drain it with try_recv if it matters.
 * @return 0; UV_EINVAL (NULL out); UVGO_ENOTTASK (not on a worker thread:
 * a task or a libuv callback of a worker); UV_ENOMEM.
 * Thread contract: a worker thread. */
typedef struct uvgo_timer uvgo_timer;
UVGO_EXTERN int uvgo_timer_new(uint64_t ms, uvgo_timer **out);
/* The timer's channel (owned by the timer: valid until uvgo_timer_free;
 * retain it to keep it longer). NULL for NULL. Any thread. */
UVGO_EXTERN uvgo_chan *uvgo_timer_chan(uvgo_timer *t);
/* Go's Timer.Stop. @return 1 if this call stopped a pending timer, 0 if it
 * had fired or been stopped already; UV_EINVAL; UVGO_ERELEASED. Any thread. */
UVGO_EXTERN int uvgo_timer_stop(uvgo_timer *t);
/* Go's Timer.Reset: fire ms from now. @return 1 if the timer was pending,
 * 0 otherwise; UV_EINVAL; UVGO_ERELEASED. Any thread. */
UVGO_EXTERN int uvgo_timer_reset(uvgo_timer *t, uint64_t ms);
/* Stop and free the timer, and drop its reference to the channel (NULL is
 * accepted). Freeing from another thread completes asynchronously on the
 * owner worker, which must still be running.
 * @return 0; UVGO_ERELEASED. Any thread. */
UVGO_EXTERN int uvgo_timer_free(uvgo_timer *t);

/* Go's time.Ticker: fires every period_ms into a capacity-1 channel,
 * dropping ticks a slow reader misses. The same object as uvgo_timer.
 * @return 0; UV_EINVAL (period 0, NULL out); UVGO_ENOTTASK; UV_ENOMEM.
 * Thread contract: a worker thread. */
typedef uvgo_timer uvgo_ticker;
UVGO_EXTERN int uvgo_ticker_new(uint64_t period_ms, uvgo_ticker **out);
UVGO_EXTERN uvgo_chan *uvgo_ticker_chan(uvgo_ticker *t);
/* @return 1 if it was running, 0 if stopped already; errors as timers. */
UVGO_EXTERN int uvgo_ticker_stop(uvgo_ticker *t);
/* New period, first tick period_ms from now. @return as stop, UV_EINVAL
 * for period 0. Any thread. */
UVGO_EXTERN int uvgo_ticker_reset(uvgo_ticker *t, uint64_t period_ms);
UVGO_EXTERN int uvgo_ticker_free(uvgo_ticker *t);

#ifdef __cplusplus
}
#endif
#endif
