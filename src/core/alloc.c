/* The replaceable allocator, fault injection, and misuse reporting. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include <string.h>

#include "core/internal.h"

typedef struct {
  uvgo_malloc_func malloc_func;
  uvgo_realloc_func realloc_func;
  uvgo_calloc_func calloc_func;
  uvgo_free_func free_func;
} allocator;

static allocator current_allocator = {malloc, realloc, calloc, free};

int uvgo_replace_allocator(uvgo_malloc_func malloc_func,
                           uvgo_realloc_func realloc_func,
                           uvgo_calloc_func calloc_func,
                           uvgo_free_func free_func) {
  if (malloc_func == NULL || realloc_func == NULL || calloc_func == NULL ||
      free_func == NULL)
    return UV_EINVAL;
  current_allocator =
      (allocator){malloc_func, realloc_func, calloc_func, free_func};
  return 0;
}

void *uvgo__malloc(size_t size) {
  return current_allocator.malloc_func(size ? size : 1);
}

void *uvgo__calloc(size_t count, size_t size) {
  if (count == 0 || size == 0)
    count = size = 1;
  return current_allocator.calloc_func(count, size);
}

char *uvgo__strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = uvgo__malloc(n);
  if (d != NULL)
    memcpy(d, s, n);
  return d;
}

void *uvgo__realloc(void *ptr, size_t size) {
  return current_allocator.realloc_func(ptr, size ? size : 1);
}

void uvgo__free(void *ptr) {
  if (ptr != NULL)
    current_allocator.free_func(ptr);
}

_Atomic unsigned long uvgo__fault_countdown[UVGO_FAULT_COUNT_];

int uvgo_fault_inject(uvgo_fault_site site, unsigned long nth) {
  if ((unsigned)site >= UVGO_FAULT_COUNT_)
    return UV_EINVAL;
  atomic_store(&uvgo__fault_countdown[site], nth);
  return 0;
}

bool uvgo__fault_fire_slow(uvgo_fault_site site) {
  unsigned long left = atomic_load(&uvgo__fault_countdown[site]);
  while (left != 0) {
    if (atomic_compare_exchange_weak(&uvgo__fault_countdown[site], &left,
                                     left - 1))
      return left == 1;
  }
  return false;
}

bool uvgo__strict(void) {
  static _Atomic int cached = -1;
  int v = atomic_load_explicit(&cached, memory_order_relaxed);
  if (v < 0) {
    const char *env = getenv("UVGO_STRICT");
    v = env != NULL && env[0] != '\0' && env[0] != '0';
    atomic_store_explicit(&cached, v, memory_order_relaxed);
  }
  return v != 0;
}

int uvgo__misuse(int err, const char *call, const char *what,
                 const void *caller) {
  if (uvgo__strict()) {
    Dl_info info;
    const char *sym = "?";
    uintptr_t off = 0;
    if (caller != NULL && dladdr(caller, &info) && info.dli_sname != NULL) {
      sym = info.dli_sname;
      off = (uintptr_t)caller - (uintptr_t)info.dli_saddr;
    }
    fprintf(stderr,
            "uvgo: misuse in %s: %s (%s), called from %s+0x%zx [%p]\n",
            call, what, uvgo_err_name(err), sym, (size_t)off, caller);
    fflush(stderr);
    abort();
  }
  return err;
}
