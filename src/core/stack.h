/* Task stacks: carved from per-worker MAP_NORESERVE arenas, committed lazily
 * by the kernel on first touch, pooled per worker so a spawn reuses a stack
 * with a few pointer moves. Each stack sits above a guard region of at least
 * 64 KiB (see DESIGN.md, Stacks).
 *
 * Thread contract: a uvgo__stack_pool is owned by one worker thread; only
 * uvgo__stack_find (used by the SIGSEGV handler) may run on any thread and
 * in a signal handler. */
#ifndef UVGO_STACK_H
#define UVGO_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UVGO__STACK_DEFAULT_SIZE (256u * 1024u) /* usable bytes */
#define UVGO__STACK_MIN_SIZE (16u * 1024u)
#define UVGO__STACK_MAX_SIZE (1024u * 1024u * 1024u)
#define UVGO__GUARD_SIZE (64u * 1024u)

typedef enum {
  UVGO__GUARD_MADVISE = 0, /* MADV_GUARD_INSTALL: no extra kernel mappings */
  UVGO__GUARD_MPROTECT,    /* PROT_NONE pages: two mappings each, capped */
  UVGO__GUARD_CANARY       /* a checked pattern only: best effort */
} uvgo__guard_mode;

/* Implementation: the struct lives in the top bytes of its own slot (above
 * base+size), so a stack costs no heap allocation. It fits one cache line
 * (stack.c checks): a get or put touches its own header and the pool's
 * boundary stack's, each one line, cold after a burst. */
typedef struct uvgo__stack {
  void *base;       /* lowest usable address (just above the guard) */
  size_t size;      /* usable bytes; the stack grows down from base+size */
  struct uvgo__stack *next_free; /* pool link */
  struct uvgo__stack *prev_free; /* pool link, toward the most recent */
  struct uvgo__stack_class *cls; /* the pool size class it returns to */
  const char *owner_file; /* spawn site of the task on it, for overflow */
  int owner_line;         /* reports; set with uvgo__stack_set_owner */
  uint32_t magic;          /* set once the slot is carved; read by _find */
  uvgo__guard_mode guard;
  bool trimmed;            /* pages below the hot top handed back */
} uvgo__stack;

typedef struct uvgo__stack_pool uvgo__stack_pool;

/* A pool for one worker. default_size is rounded up to pages.
 * @return 0, UV_EINVAL (size out of range), UV_ENOMEM. */
int uvgo__stack_pool_new(size_t default_size, uvgo__stack_pool **out);
/* Unmaps every arena. All stacks must have been put back. */
void uvgo__stack_pool_free(uvgo__stack_pool *pool);
/* A stack of `size` usable bytes (0 = the pool's default).
 * @return 0, UV_EINVAL (size out of range), UV_ENOMEM (allocator or mmap). */
int uvgo__stack_get(uvgo__stack_pool *pool, size_t size, uvgo__stack **out);
/* Back to the pool; pages beyond a small hot region may be released to the
 * kernel (MADV_DONTNEED/FREE) so a burst of deep stacks does not pin RSS. */
void uvgo__stack_put(uvgo__stack_pool *pool, uvgo__stack *st);
/* Release the pages below the hot top of every pooled stack now (an idle
 * worker, or a test); put does it lazily for stacks that go cold. */
void uvgo__stack_pool_trim(uvgo__stack_pool *pool);
/* Trim at most max stacks that went cold since the last call (the idle
 * worker's bounded housekeeping). @return true if more remain. */
bool uvgo__stack_pool_trim_cold(uvgo__stack_pool *pool, size_t max);
/* Canary mode: abort with the overflow report (naming the owner) if the
 * stack's canary was clobbered; guard pages need no check. For a stack
 * that passes from one task to the next without going back to the pool. */
void uvgo__stack_check(const uvgo__stack *st);
void uvgo__stack_set_owner(uvgo__stack *st, const char *file, int line);
/* Deepest use so far, in bytes (pages touched, or a scan of the fill
 * pattern); for dumps. */
size_t uvgo__stack_high_water(const uvgo__stack *st);
/* The stack whose guard region or body contains addr, or NULL.
 * Async-signal-safe. */
uvgo__stack *uvgo__stack_find(const void *addr, bool *in_guard);

/* The guard mode in use in this process (probed once at first use;
 * UVGO_GUARD=mprotect|canary in the environment forces a fallback). */
uvgo__guard_mode uvgo__stack_guard_mode(void);
const char *uvgo__stack_guard_mode_name(uvgo__guard_mode mode);

/* Stack-overflow reporting: a SIGSEGV/SIGBUS handler on an alternate signal
 * stack that prints "stack overflow in task spawned at FILE:LINE" for a
 * fault in a guard region, and otherwise chains to the handler installed
 * before it. Install is idempotent and process-wide; each thread that runs
 * tasks calls uvgo__altstack_thread_init once (and _fini before exit). */
int uvgo__overflow_handler_install(void);
int uvgo__altstack_thread_init(void);
void uvgo__altstack_thread_fini(void);

#endif
