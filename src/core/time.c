/* Time: allocation-free uvgo_after pseudo channels, and timers and tickers
 * that fire from a worker's timer heap into a real channel.
 *
 * Timers from any thread: the heap entry belongs to the owner worker and is
 * touched only there. Other threads change the timer's desired state under
 * its lock and post one message (at most one in flight) asking the owner
 * to make the heap agree; the fire callback re-checks the desired state,
 * so a stale heap entry never delivers. */
#include <sched.h>

#include "core/chan.h"
#include "uvgo/time.h"

/* --- after --- */

/* The last precise time this thread read. It only ever lags the clock, so
 * "deadline <= cached" proves an after channel ready without a clock read
 * (a read costs 20-60 ns, more than the rest of a ready select). The
 * coarse clock is no substitute: on tickless kernels it was measured
 * lagging by 15 ms, which would make uvgo_after fire early. */
UVGO__TLS_FAST _Thread_local uint64_t uvgo__after_now_cache;

static uint64_t now_ms(void) {
  uint64_t now = uvgo__now_ms();
  uvgo__after_now_cache = now;
  return now;
}

uint64_t uvgo_now_ms(void) { return now_ms(); }

/* Inline for uvgo_after: the exported function is interposable in the
 * shared library, so the compiler will not inline it. */
static inline uvgo_chan *after_encode(uint64_t deadline_ms) {
  uint64_t max = (uint64_t)(UINTPTR_MAX >> 1);
  if (deadline_ms > max)
    deadline_ms = max;
  return (uvgo_chan *)(uintptr_t)((deadline_ms << 1) | 1u);
}

uvgo_chan *uvgo_after_deadline(uint64_t deadline_ms) {
  return after_encode(deadline_ms);
}

/* A cheap base for uvgo_after deadlines: the x86 TSC (an rdtsc is 10-15 ns
 * on the development VMs against 25-53 ns for clock_gettime) mapped onto
 * the monotonic clock per thread. Each thread measures the TSC rate
 * against the precise clock over at least CAL_NS, then re-anchors after a
 * window as long as the span the rate was measured over, up to
 * REANCHOR_NS: the rate's error over a window is at most the bracketing
 * slack times window / span, so the windows double (0.2, 0.4, ... ms)
 * and the bound stays small, and a thread pays precise reads for about
 * 0.2 ms instead of the 20 ms a fixed 100 ms window needed. (A select
 * loop measured over 40 ms spent half of it calibrating that way.) Only used when the CPU
 * reports an invariant TSC; anything odd (the TSC behind the anchor after
 * a migration) falls back to a precise read. The readiness cache is fed
 * by precise reads only, so it never runs ahead of the clock.
 *
 * The reading is creation time, so it cannot be skipped or taken from a
 * cache: a lagging "now" makes the after fire early, and resolving the
 * deadline at the first select makes an after created long before it fire
 * late. What can be cut is the conversion: the hot path is one rdtsc, one
 * multiply and a shift in fixed point (FRAC_BITS of a millisecond), with
 * no double and no division.
 *
 * Never early: the estimate is pushed ahead by a bound on its error (the
 * anchor's and the rate's bracketing slack, and NTP slewing the monotonic
 * clock by up to 500 ppm) and then rounded up to the next whole ms, so the
 * deadline is at or past the true call time + ms. Late by less than 1 ms
 * plus that bound (60-170 us). */
#define CAL_NS 200000u         /* calibrate over at least 0.2 ms */
#define REANCHOR_NS 100000000u /* re-read the precise clock every 100 ms */
#define SAMPLE_SLACK_NS 20000u /* two precise reads further apart: retry */
#define FRAC_BITS 40 /* 100 ms of ticks times the rate stays below 2^47 */

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <x86intrin.h>

static _Atomic int tsc_usable; /* 0 unknown, 1 yes, -1 no */

static bool tsc_invariant(void) {
  int v = atomic_load_explicit(&tsc_usable, memory_order_relaxed);
  if (UVGO__LIKELY(v != 0))
    return v > 0;
  unsigned a, b, c, d;
  bool ok = __get_cpuid(0x80000007u, &a, &b, &c, &d) && (d & (1u << 8));
  atomic_store_explicit(&tsc_usable, ok ? 1 : -1, memory_order_relaxed);
  return ok;
}

/* The hot fields first, in one cache line. */
static UVGO__TLS_FAST _Thread_local struct {
  uint64_t tsc_anchor;     /* TSC at the latest precise reading */
  uint64_t window_ticks;   /* ticks the anchor is good for; 0: not calibrated */
  uint64_t ms_anchor;      /* the anchor's time (pushed ahead), whole ms */
  uint64_t frac_anchor;    /* and its fraction, plus 2^FRAC_BITS - 1 (ceil) */
  uint64_t ms_per_tick_fx; /* the rate, rounded up */
  uint64_t tsc_base, ns_base; /* first reading: the calibration base */
  double ns_per_tick;
} __attribute__((aligned(64))) tsc_clock;

static void set_anchor(uint64_t tsc, uint64_t ns, uint64_t window_ns) {
  tsc_clock.tsc_anchor = tsc;
  uint64_t span = ns - tsc_clock.ns_base;
  /* Error bound: the anchor's bracket (half the slack), the rate's over a
   * window (a full slack over the calibration span, scaled to the window),
   * and 500 ppm of slewing over the window. */
  uint64_t bias = SAMPLE_SLACK_NS / 2 +
                  (uint64_t)SAMPLE_SLACK_NS * (window_ns / 1000u) /
                      (span / 1000u) +
                  window_ns / 2000u;
  ns += bias;
  tsc_clock.ms_anchor = ns / 1000000u;
  tsc_clock.frac_anchor =
      ((ns % 1000000u) << FRAC_BITS) / 1000000u + ((1ull << FRAC_BITS) - 1);
}

static __attribute__((noinline)) uint64_t slow_base_ms(void) {
  if (!tsc_invariant())
    return now_ms() + 1;
  /* A pair (tsc, ns) is only as good as the gap between its two reads: a
   * preemption there would skew the rate (deadlines off by tens of ms) or
   * the anchor. Bracket the TSC read with two precise reads and keep the
   * pair only when they are close. */
  uint64_t before = uv_hrtime();
  uint64_t tsc = __rdtsc();
  uint64_t ns = uv_hrtime();
  uvgo__after_now_cache = ns / 1000000u;
  if (ns - before > SAMPLE_SLACK_NS)
    return uvgo__after_now_cache + 1; /* the next call tries again */
  uint64_t mid = before + (ns - before) / 2;
  if (tsc_clock.ns_base == 0 || tsc < tsc_clock.tsc_base) {
    tsc_clock.tsc_base = tsc;
    tsc_clock.ns_base = mid;
    tsc_clock.window_ticks = 0;
  } else if (mid - tsc_clock.ns_base >= CAL_NS && tsc > tsc_clock.tsc_base) {
    tsc_clock.ns_per_tick = (double)(mid - tsc_clock.ns_base) /
                            (double)(tsc - tsc_clock.tsc_base);
    tsc_clock.ms_per_tick_fx =
        (uint64_t)(tsc_clock.ns_per_tick / 1e6 * (double)(1ull << FRAC_BITS)) +
        1;
    uint64_t span = mid - tsc_clock.ns_base;
    uint64_t window_ns = span < REANCHOR_NS ? span : REANCHOR_NS;
    tsc_clock.window_ticks =
        (uint64_t)((double)window_ns / tsc_clock.ns_per_tick);
    set_anchor(tsc, mid, window_ns);
  }
  return uvgo__after_now_cache + 1; /* a precise read: floor + 1 is past it */
}

static inline uint64_t after_base_ms(void) {
  uint64_t since = __rdtsc() - tsc_clock.tsc_anchor;
  /* One compare: a TSC behind the anchor wraps to a huge `since`. */
  if (UVGO__LIKELY(since < tsc_clock.window_ticks))
    return tsc_clock.ms_anchor +
           ((tsc_clock.frac_anchor + since * tsc_clock.ms_per_tick_fx) >>
            FRAC_BITS);
  return slow_base_ms();
}
#else
/* A precise read floors to the ms: floor + 1 is past the call time, as
 * on the slow path above (plain now_ms() could fire up to 1 ms early). */
static inline uint64_t after_base_ms(void) { return now_ms() + 1; }
#endif

uvgo_chan *uvgo_after(uint64_t ms) {
  uint64_t base = after_base_ms();
  uint64_t d = ms > UINT64_MAX / 4 ? UINT64_MAX / 4 : base + ms;
  return after_encode(d);
}

bool uvgo__after_ready(const uvgo_chan *c) {
  uint64_t d = uvgo__after_deadline(c);
  return d <= uvgo__after_now_cache || d <= now_ms();
}

int uvgo__after_recv(uvgo_chan *c, void *elem);
int uvgo__after_recv(uvgo_chan *c, void *elem) {
  uint64_t d = uvgo__after_deadline(c);
  if (!uvgo__after_ready(c)) {
    uvgo__parker p;
    int err = uvgo__parker_prepare(&p, "uvgo_chan_recv");
    if (err != 0)
      return err;
    int reason = uvgo__parker_wait(&p, d);
    if (reason != UVGO__WAKE_TIMEOUT)
      return reason < 0 ? reason : 0;
  }
  if (elem != NULL)
    memcpy(elem, &d, sizeof d);
  return 0;
}

/* --- timers and tickers --- */

#define TIMER_MAGIC 0x74696d72u /* "timr" */

struct uvgo_timer {
  uint32_t magic;
  uv_mutex_t lock;          /* guards the desired state below */
  uvgo_chan *ch;            /* cap 1, uint64_t elements */
  uvgo__worker *owner;      /* whose heap holds `entry` */
  uvgo__timer_entry entry;  /* owner thread only */
  uvgo__msg msg;            /* "make the heap agree", at most one posted */
  bool msg_posted;
  bool active;              /* desired: armed */
  bool freeing;
  uint64_t deadline;        /* desired deadline (uvgo__now_ms clock) */
  uint64_t period;          /* ticker period; 0 for a one-shot timer */
};

/* A sleeping lock, not a spinlock: a plain thread may reset a timer in a
 * tight loop while the owner worker drains its messages, and on a machine
 * with more runnable threads than cores a preempted holder of a yielding
 * spinlock stalled the others for whole time slices (a 2 s stress case ran
 * past 100 s beside three CPU hogs). Timers are not on the uvgo_after fast
 * path, so an uncontended mutex costs nothing that matters. */
static void tlock(uvgo_timer *t) { uv_mutex_lock(&t->lock); }
static void tunlock(uvgo_timer *t) { uv_mutex_unlock(&t->lock); }

/* Owner thread, lock held. */
static void sync_heap(uvgo_timer *t) {
  uvgo__timers *heap = &t->owner->timers;
  if (!t->active) {
    uvgo__timer_remove(heap, &t->entry);
    return;
  }
  if (uvgo__timer_pending(&t->entry) && t->entry.deadline_ms == t->deadline)
    return;
  uvgo__timer_remove(heap, &t->entry);
  if (uvgo__timer_add(heap, &t->entry, t->deadline) != 0) {
    /* No room in the heap: retry from the owner's inbox soon rather than
     * never firing. */
    if (!t->msg_posted) {
      t->msg_posted = true;
      uvgo__worker_post(t->owner, &t->msg);
    }
  }
}

static void destroy(uvgo_timer *t) {
  uv_mutex_destroy(&t->lock);
  uvgo_chan_release(t->ch);
  t->magic = UVGO__DEAD_MAGIC;
  uvgo__free(t);
}

static void on_msg(uvgo__msg *m) {
  uvgo_timer *t = UVGO__CONTAINER_OF(m, uvgo_timer, msg);
  tlock(t);
  t->msg_posted = false;
  if (t->freeing) {
    uvgo__timer_remove(&t->owner->timers, &t->entry);
    tunlock(t);
    destroy(t);
    return;
  }
  sync_heap(t);
  tunlock(t);
}

/* Lock held: make the owner's heap follow the desired state. */
static void request_sync(uvgo_timer *t) {
  if (uvgo__tls_worker == t->owner) {
    sync_heap(t);
  } else if (!t->msg_posted) {
    t->msg_posted = true;
    uvgo__worker_post(t->owner, &t->msg);
  }
}

static void on_fire(uvgo__timer_entry *e) {
  uvgo_timer *t = UVGO__CONTAINER_OF(e, uvgo_timer, entry);
  tlock(t);
  uint64_t now = uvgo__now_ms();
  if (!t->active || t->freeing) {
    tunlock(t);
    return;
  }
  if (t->deadline > now) { /* reset to later since this entry was armed */
    sync_heap(t);
    tunlock(t);
    return;
  }
  uint64_t value = t->deadline;
  if (t->period != 0) {
    t->deadline += t->period;
    if (t->deadline <= now) /* a slow reader or a busy worker: skip ticks */
      t->deadline = now + t->period;
    sync_heap(t);
  } else {
    t->active = false;
  }
  tunlock(t);
  /* Owner thread: t cannot be freed before this returns (a free from
   * elsewhere runs on this thread, later). */
  uvgo_chan_try_send(t->ch, &value);
}

static int timer_new(uint64_t ms, uint64_t period, uvgo_timer **out) {
  if (out == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL out");
  *out = NULL;
  uvgo__worker *w = uvgo__tls_worker;
  if (w == NULL)
    return UVGO__MISUSE(UVGO_ENOTTASK, "timer created off a worker thread");
  uvgo_timer *t = uvgo__calloc(1, sizeof *t);
  if (t == NULL)
    return UV_ENOMEM;
  if (uv_mutex_init(&t->lock) != 0) {
    uvgo__free(t);
    return UV_ENOMEM;
  }
  t->ch = uvgo_chan_new(sizeof(uint64_t), 1);
  if (t->ch == NULL) {
    uv_mutex_destroy(&t->lock);
    uvgo__free(t);
    return UV_ENOMEM;
  }
  t->magic = TIMER_MAGIC;
  t->owner = w;
  uvgo__timer_entry_init(&t->entry, on_fire);
  t->msg.fn = on_msg;
  t->period = period;
  t->active = true;
  t->deadline = uvgo__deadline_after(ms);
  tlock(t);
  sync_heap(t);
  tunlock(t);
  *out = t;
  return 0;
}

static int check_timer(uvgo_timer *t, const char *call) {
  if (t == NULL)
    return uvgo__misuse(UV_EINVAL, call, "NULL timer", NULL);
  if (t->magic != TIMER_MAGIC)
    return uvgo__misuse(UVGO_ERELEASED, call, "timer used after free", NULL);
  return 0;
}

int uvgo_timer_new(uint64_t ms, uvgo_timer **out) {
  return timer_new(ms, 0, out);
}

uvgo_chan *uvgo_timer_chan(uvgo_timer *t) {
  return t != NULL && t->magic == TIMER_MAGIC ? t->ch : NULL;
}

static int timer_set(uvgo_timer *t, bool active, uint64_t ms, uint64_t period,
                     const char *call) {
  int err = check_timer(t, call);
  if (err != 0)
    return err;
  tlock(t);
  if (t->freeing) {
    tunlock(t);
    return uvgo__misuse(UVGO_ERELEASED, call, "timer used after free", NULL);
  }
  int was = t->active ? 1 : 0;
  t->active = active;
  if (active) {
    t->deadline = uvgo__deadline_after(ms);
    if (period != 0)
      t->period = period;
  }
  request_sync(t);
  tunlock(t);
  return was;
}

int uvgo_timer_stop(uvgo_timer *t) {
  return timer_set(t, false, 0, 0, "uvgo_timer_stop");
}

int uvgo_timer_reset(uvgo_timer *t, uint64_t ms) {
  return timer_set(t, true, ms, 0, "uvgo_timer_reset");
}

int uvgo_timer_free(uvgo_timer *t) {
  if (t == NULL)
    return 0;
  int err = check_timer(t, "uvgo_timer_free");
  if (err != 0)
    return err;
  tlock(t);
  if (t->freeing) {
    tunlock(t);
    return UVGO__MISUSE(UVGO_ERELEASED, "timer freed twice");
  }
  t->freeing = true;
  t->active = false;
  if (uvgo__tls_worker == t->owner) {
    uvgo__timer_remove(&t->owner->timers, &t->entry);
    bool posted = t->msg_posted; /* a retry message still holds t */
    tunlock(t);
    if (!posted)
      destroy(t);
    return 0;
  }
  if (!t->msg_posted) {
    t->msg_posted = true;
    uvgo__worker_post(t->owner, &t->msg);
  }
  tunlock(t);
  return 0;
}

int uvgo_ticker_new(uint64_t period_ms, uvgo_ticker **out) {
  if (period_ms == 0) {
    if (out != NULL)
      *out = NULL;
    return UVGO__MISUSE(UV_EINVAL, "ticker period 0");
  }
  return timer_new(period_ms, period_ms, out);
}
uvgo_chan *uvgo_ticker_chan(uvgo_ticker *t) { return uvgo_timer_chan(t); }
int uvgo_ticker_stop(uvgo_ticker *t) {
  return timer_set(t, false, 0, 0, "uvgo_ticker_stop");
}
int uvgo_ticker_reset(uvgo_ticker *t, uint64_t period_ms) {
  if (period_ms == 0)
    return UVGO__MISUSE(UV_EINVAL, "ticker period 0");
  return timer_set(t, true, period_ms, period_ms, "uvgo_ticker_reset");
}
int uvgo_ticker_free(uvgo_ticker *t) { return uvgo_timer_free(t); }
