/* Internal declarations shared across uvgo's source files (uvgo__ tier). */
#ifndef UVGO_INTERNAL_H
#define UVGO_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uvgo.h"

#if defined(__GNUC__)
#define UVGO__LIKELY(x) __builtin_expect(!!(x), 1)
#define UVGO__UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define UVGO__LIKELY(x) (x)
#define UVGO__UNLIKELY(x) (x)
#endif

/* The thread-locals every blocking call reads (its worker, the call-site
 * record, the clock and select's generator) use the initial-exec model:
 * inside the shared library the default model makes each access a call
 * to __tls_get_addr, several per channel operation. The cost is static
 * TLS, about 200 bytes, well inside what glibc keeps for libraries that
 * are dlopen'ed later. */
#if defined(__GNUC__)
#define UVGO__TLS_FAST __attribute__((tls_model("initial-exec")))
#else
#define UVGO__TLS_FAST
#endif
extern _Thread_local uvgo_call_site uvgo_call_site_tls UVGO__TLS_FAST;

#define UVGO__CONTAINER_OF(ptr, type, field) \
  ((type *)((char *)(ptr) - offsetof(type, field)))

/* Allocation: every byte uvgo allocates comes through here (src/alloc.c). */
void *uvgo__malloc(size_t size);
void *uvgo__calloc(size_t count, size_t size);
/* A copy of s through the allocator hook (so fault injection reaches it),
 * or NULL when out of memory. */
char *uvgo__strdup(const char *s);
void *uvgo__realloc(void *ptr, size_t size);
void uvgo__free(void *ptr);

/* Fault injection: true when the armed fault at `site` fires now. */
extern _Atomic unsigned long uvgo__fault_countdown[UVGO_FAULT_COUNT_];
bool uvgo__fault_fire_slow(uvgo_fault_site site);
static inline bool uvgo__fault_fire(uvgo_fault_site site) {
  if (UVGO__LIKELY(atomic_load_explicit(&uvgo__fault_countdown[site],
                                        memory_order_relaxed) == 0))
    return false;
  return uvgo__fault_fire_slow(site);
}

/* Misuse (what Go would panic on): returns `err`, and under UVGO_STRICT=1
 * aborts with a message naming the call and the caller's site. */
int uvgo__misuse(int err, const char *call, const char *what,
                 const void *caller);
#define UVGO__MISUSE(err, what) \
  uvgo__misuse((err), __func__, (what), __builtin_return_address(0))
bool uvgo__strict(void);

/* The one place where a layer above core hears that a runtime ends: the
 * HTTP client's default client (one per runtime, made at first use) keeps
 * idle connections on the workers' loops and must close them before the
 * loops close. A layer stores its function here (once; any thread). The
 * runtime calls it for each worker after the worker stopped and before
 * its handles close, on the thread finishing that loop with the worker
 * current (uvgo__tls_worker), so the hook may close that worker's
 * connections as from a libuv callback (their frees complete in the loop
 * run that follows); then once with worker -1 when every worker is done. */
typedef void (*uvgo__rt_fini_fn)(uvgo_rt *rt, int worker);
extern _Atomic(uvgo__rt_fini_fn) uvgo__rt_fini_hook;

#endif
