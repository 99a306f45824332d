/* Plain threads that take part: a thread that is not a uvgo worker but
 * blocks in, or wakes tasks through, uvgo's primitives (a channel shared
 * with tasks, say). The deadlock check cannot see what such a thread will
 * do next, so while one is alive and not itself blocked in uvgo, no verdict
 * is given. Threads are counted from their first such call until they exit
 * (a thread-specific key's destructor) or become a worker.
 *
 * A thread blocked in an untimed wait lends its count to its waker: it
 * releases the count under its parker's mutex before sleeping, and the
 * waker, holding the same mutex, gives it back before it signals (park.c,
 * wait_thread and uvgo__parker_wake). So the count is never low between a
 * wake and the thread's resumption. A timed wait keeps its count: it ends
 * by itself.
 *
 * Every lowering of the count (exit, becoming a worker, an untimed wait)
 * makes the running runtimes check again: their workers may all have got
 * stuck while the count was up, and a stuck worker looks again only when
 * something wakes it. */
#include <pthread.h>

#include "core/scheduler.h"

_Atomic long uvgo__foreign_active;
void (*_Atomic uvgo__test_foreign_wake_hook)(void);

static uv_once_t key_once = UV_ONCE_INIT;
static pthread_key_t participant_key;
static _Thread_local bool registered;

/* Its own list, not diag.c's registry of runtimes: that lock is held
 * across whole dumps (slow writes to a FILE), and this one is taken on a
 * plain thread's wait path with its parker mutex held. A runtime is here
 * only while its loops are open, which the registry does not track. */
static uv_once_t watch_once = UV_ONCE_INIT;
static uv_mutex_t watch_lock;
static uvgo_rt *watched;

static void watch_init(void) { uv_mutex_init(&watch_lock); }

void uvgo__verdict_watch(uvgo_rt *rt) {
  uv_once(&watch_once, watch_init);
  uv_mutex_lock(&watch_lock);
  rt->verdict_next = watched;
  watched = rt;
  uv_mutex_unlock(&watch_lock);
}

void uvgo__verdict_unwatch(uvgo_rt *rt) {
  uv_once(&watch_once, watch_init);
  uv_mutex_lock(&watch_lock);
  for (uvgo_rt **p = &watched; *p != NULL; p = &(*p)->verdict_next)
    if (*p == rt) {
      *p = rt->verdict_next;
      break;
    }
  uv_mutex_unlock(&watch_lock);
}

/* Activity first, as tests/model/verdict.pml's EXIT_RECHECK: a check that
 * read the count while it was still up fails by its activity load, and the
 * signal, sent after the count is down, makes worker 0 check once more
 * (on_async clears its stuck flag; its drain sets it and checks). A
 * watched runtime's worker 0 loop is open until unwatch returns. */
void uvgo__verdict_lower(uvgo_rt *rt, void (*lower)(uvgo_rt *rt)) {
  uv_once(&watch_once, watch_init);
  uv_mutex_lock(&watch_lock);
  for (uvgo_rt *r = watched; r != NULL; r = r->verdict_next)
    if (rt == NULL || r == rt)
      atomic_fetch_add(&r->activity, 1);
  lower(rt);
  for (uvgo_rt *r = watched; r != NULL; r = r->verdict_next)
    if (rt == NULL || r == rt)
      uv_async_send(&r->workers[0]->async);
  uv_mutex_unlock(&watch_lock);
}

static void lower_foreign(uvgo_rt *rt) {
  (void)rt;
  atomic_fetch_sub(&uvgo__foreign_active, 1);
}

static void participant_exit(void *value) {
  (void)value;
  uvgo__verdict_lower(NULL, lower_foreign);
}

static void make_key(void) {
  /* pthread keys run a destructor at thread exit; uv_key_t has none. */
  pthread_key_create(&participant_key, participant_exit);
}

void uvgo__foreign_thread_enter(void) {
  if (registered || uvgo__tls_worker != NULL)
    return;
  uv_once(&key_once, make_key);
  registered = true;
  atomic_fetch_add(&uvgo__foreign_active, 1);
  pthread_setspecific(participant_key, (void *)1);
}

void uvgo__foreign_thread_leave(void) {
  if (!registered)
    return;
  registered = false;
  uvgo__verdict_lower(NULL, lower_foreign);
  pthread_setspecific(participant_key, NULL);
}

bool uvgo__foreign_thread_release(void) {
  if (!registered)
    return false;
  uvgo__verdict_lower(NULL, lower_foreign);
  return true;
}

void uvgo__foreign_thread_give_back(void) {
  atomic_fetch_add(&uvgo__foreign_active, 1);
}
