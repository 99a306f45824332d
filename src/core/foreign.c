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
 * by itself. */
#include <pthread.h>

#include "core/scheduler.h"

_Atomic long uvgo__foreign_active;
void (*_Atomic uvgo__test_foreign_wake_hook)(void);

static uv_once_t key_once = UV_ONCE_INIT;
static pthread_key_t participant_key;
static _Thread_local bool registered;

static void participant_exit(void *value) {
  (void)value;
  atomic_fetch_sub(&uvgo__foreign_active, 1);
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
  atomic_fetch_sub(&uvgo__foreign_active, 1);
  pthread_setspecific(participant_key, NULL);
}

bool uvgo__foreign_thread_release(void) {
  if (!registered)
    return false;
  atomic_fetch_sub(&uvgo__foreign_active, 1);
  return true;
}

void uvgo__foreign_thread_give_back(void) {
  atomic_fetch_add(&uvgo__foreign_active, 1);
}
