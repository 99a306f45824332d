/* uvgo — the replaceable allocator and fault-injection hooks.
 *
 * Every allocation the library makes goes through one allocator. Replace it
 * before the first uvgo call (like uv_replace_allocator): memory allocated by
 * the old allocator is freed by the new one otherwise. */
#ifndef UVGO_ALLOC_H
#define UVGO_ALLOC_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The allocator's four functions, with the C library's contracts. */
typedef void *(*uvgo_malloc_func)(size_t size);
typedef void *(*uvgo_realloc_func)(void *ptr, size_t size);
typedef void *(*uvgo_calloc_func)(size_t count, size_t size);
typedef void (*uvgo_free_func)(void *ptr);

/* Install the allocator. All four functions are required.
 * @return 0, or UV_EINVAL if any is NULL (the old allocator stays).
 * Thread contract: call before the runtime starts; not thread-safe. */
UVGO_EXTERN int uvgo_replace_allocator(uvgo_malloc_func malloc_func,
                                       uvgo_realloc_func realloc_func,
                                       uvgo_calloc_func calloc_func,
                                       uvgo_free_func free_func);

/* System calls a test can make fail, to prove the error paths. */
typedef enum {
  UVGO_FAULT_MMAP = 0,    /* stack arena reservation */
  UVGO_FAULT_MADVISE,     /* guard installation */
  UVGO_FAULT_MPROTECT,    /* mprotect guards */
  UVGO_FAULT_THREAD,      /* worker thread creation */
  UVGO_FAULT_SOCKET,      /* socket / accept */
  UVGO_FAULT_COUNT_
} uvgo_fault_site;

/* Make the nth (1-based) next call at `site` fail as if the kernel said no
 * (ENOMEM for memory sites, EAGAIN for threads, EMFILE for sockets); 0
 * disarms. A testing hook: it costs one relaxed atomic load per call site.
 * @return 0, or UV_EINVAL for an unknown site. Any thread. */
UVGO_EXTERN int uvgo_fault_inject(uvgo_fault_site site, unsigned long nth);

#ifdef __cplusplus
}
#endif
#endif
