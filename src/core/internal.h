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

#define UVGO__CONTAINER_OF(ptr, type, field) \
  ((type *)((char *)(ptr) - offsetof(type, field)))

/* Allocation: every byte uvgo allocates comes through here (src/alloc.c). */
void *uvgo__malloc(size_t size);
void *uvgo__calloc(size_t count, size_t size);
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

#endif
