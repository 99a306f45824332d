/* Task stacks: arenas of [guard | stack | header] slots, a per-worker pool,
 * guard installation with fallbacks, and the overflow reporter.
 *
 * A slot's uvgo__stack header lives in the top bytes of the slot itself:
 * the top page is the first one a task touches anyway, so a stack costs no
 * heap allocation and no extra resident page. Arena ranges are published in
 * a fixed global registry that the SIGSEGV handler reads without locks. */
#include "core/stack.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/internal.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 */
#endif

#define STACK_MAGIC 0x75766773u /* "uvgs": the slot has been carved */
#define HEADER_BYTES ((sizeof(uvgo__stack) + 63) & ~(size_t)63)
_Static_assert(sizeof(uvgo__stack) <= 64, "a stack header is one cache line");
/* Pages a put keeps resident: a stack's hot top. Deeper pages go back to
 * the kernel when the stack went past this. */
#define HOT_BYTES (16u * 1024u)
/* Free stacks per size class kept untrimmed (see trim). */
#define HOT_FREE 64u
/* Bytes of the guard's top that hold the pattern in canary mode. */
#define CANARY_BYTES 256u
/* Arenas double from FIRST_SLOTS up to this many bytes of address space. */
#define FIRST_SLOTS 16u
#define ARENA_MAX_BYTES ((size_t)4 << 30)
/* 32,768 arenas of up to 4 GiB cover the 47-bit user address space. */
#define MAX_ARENAS 32768u
/* mprotect guards split mappings (about two per guard) against
 * vm.max_map_count; leave this many mappings for everything else. */
#define MPROTECT_CAP 30000u
#define MAP_COUNT_RESERVE 5000u

typedef struct arena {
  char *lo;
  size_t bytes;
  size_t slot_bytes; /* guard + stack + header, page multiple */
  size_t nslots;
  size_t ncarved;    /* slots [0, ncarved) have a header and a guard */
  unsigned reg;      /* registry index */
  unsigned nmprotect; /* mprotect guards in it, returned to the cap on free */
  struct arena *next;
} arena;

struct uvgo__stack_class {
  size_t stack_bytes; /* usable + header, page multiple */
  uvgo__stack *free;  /* LIFO: the most recently used stack is the warmest */
  uvgo__stack *tail;  /* the coldest free stack */
  uvgo__stack *boundary; /* the HOT_FREE-th free stack, once there are that many */
  size_t nfree;
  size_t cold_untrimmed; /* stacks that went cold since the last trim */
  arena *cur;         /* the arena new slots are carved from */
  size_t next_nslots;
  struct uvgo__stack_class *next;
};

struct uvgo__stack_pool {
  /* The default class's most recently put stack, held out of its list:
   * the top of that LIFO, so a task ending and the next one starting move
   * one pointer instead of relinking the list (get takes it first). */
  uvgo__stack *last;
  struct uvgo__stack_class *def;
  struct uvgo__stack_class *classes;
  arena *arenas;
};

/* The registry: written under reg_lock, read lock-free (hi is published
 * last with release, cleared first on removal). */
typedef struct {
  _Atomic uintptr_t lo;
  _Atomic uintptr_t hi; /* 0: free entry */
  _Atomic size_t slot_bytes;
} reg_entry;

static reg_entry registry[MAX_ARENAS];
static _Atomic unsigned reg_used;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t page_size;
static uvgo__guard_mode process_mode;
static unsigned mprotect_cap;
static _Atomic unsigned mprotect_guards;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

static unsigned read_max_map_count(void) {
  char buf[32];
  int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 65530;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return 65530;
  buf[n] = '\0';
  unsigned long v = strtoul(buf, NULL, 10);
  return v > 0 && v < 0x7fffffffu ? (unsigned)v : 65530;
}

static bool madvise_guard_works(void) {
  char *p = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    return false;
  bool ok = madvise(p, page_size, MADV_GUARD_INSTALL) == 0;
  if (ok) {
    /* Emulators (qemu-user) accept any advice and do nothing: make sure
     * the kernel now refuses to read the page (EFAULT, no signal). */
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) == 0) {
      ok = write(fds[1], p, 1) < 0 && errno == EFAULT;
      close(fds[0]);
      close(fds[1]);
    }
  }
  munmap(p, 2 * page_size);
  return ok;
}

static void probe(void) {
  page_size = (size_t)sysconf(_SC_PAGESIZE);
  unsigned maps = read_max_map_count();
  mprotect_cap =
      maps > MAP_COUNT_RESERVE ? (maps - MAP_COUNT_RESERVE) / 2 : 0;
  if (mprotect_cap > MPROTECT_CAP)
    mprotect_cap = MPROTECT_CAP;
  const char *env = getenv("UVGO_GUARD");
  if (env != NULL && strcmp(env, "canary") == 0)
    process_mode = UVGO__GUARD_CANARY;
  else if (env != NULL && strcmp(env, "mprotect") == 0)
    process_mode = UVGO__GUARD_MPROTECT;
  else
    process_mode = madvise_guard_works() ? UVGO__GUARD_MADVISE
                                         : UVGO__GUARD_MPROTECT;
}

uvgo__guard_mode uvgo__stack_guard_mode(void) {
  pthread_once(&probe_once, probe);
  return process_mode;
}

const char *uvgo__stack_guard_mode_name(uvgo__guard_mode mode) {
  switch (mode) {
  case UVGO__GUARD_MADVISE:
    return "madvise";
  case UVGO__GUARD_MPROTECT:
    return "mprotect";
  case UVGO__GUARD_CANARY:
    return "canary";
  }
  return "unknown";
}

static int registry_add(char *lo, size_t bytes, size_t slot_bytes,
                        unsigned *out) {
  int rc = UV_ENOMEM;
  pthread_mutex_lock(&reg_lock);
  unsigned used = atomic_load_explicit(&reg_used, memory_order_relaxed);
  unsigned i = 0;
  while (i < used &&
         atomic_load_explicit(&registry[i].hi, memory_order_relaxed) != 0)
    i++;
  if (i < MAX_ARENAS) {
    atomic_store_explicit(&registry[i].lo, (uintptr_t)lo,
                          memory_order_relaxed);
    atomic_store_explicit(&registry[i].slot_bytes, slot_bytes,
                          memory_order_relaxed);
    atomic_store_explicit(&registry[i].hi, (uintptr_t)lo + bytes,
                          memory_order_release);
    if (i == used)
      atomic_store_explicit(&reg_used, used + 1, memory_order_release);
    *out = i;
    rc = 0;
  }
  pthread_mutex_unlock(&reg_lock);
  return rc;
}

static void registry_remove(unsigned i) {
  pthread_mutex_lock(&reg_lock);
  atomic_store_explicit(&registry[i].hi, 0, memory_order_release);
  pthread_mutex_unlock(&reg_lock);
}

uvgo__stack *uvgo__stack_find(const void *addr, bool *in_guard) {
  uintptr_t a = (uintptr_t)addr;
  unsigned used = atomic_load_explicit(&reg_used, memory_order_acquire);
  for (unsigned i = 0; i < used; i++) {
    uintptr_t hi = atomic_load_explicit(&registry[i].hi, memory_order_acquire);
    uintptr_t lo = atomic_load_explicit(&registry[i].lo, memory_order_relaxed);
    if (a < lo || a >= hi)
      continue;
    size_t sb = atomic_load_explicit(&registry[i].slot_bytes,
                                     memory_order_relaxed);
    uintptr_t slot = lo + (a - lo) / sb * sb;
    uvgo__stack *st = (uvgo__stack *)(slot + sb - HEADER_BYTES);
    if (*(volatile uint32_t *)&st->magic != STACK_MAGIC)
      return NULL;
    if (in_guard != NULL)
      *in_guard = a - slot < UVGO__GUARD_SIZE;
    return st;
  }
  return NULL;
}

static int class_new(uvgo__stack_pool *pool, size_t usable,
                     struct uvgo__stack_class **out) {
  struct uvgo__stack_class *cls = uvgo__calloc(1, sizeof *cls);
  if (cls == NULL)
    return UV_ENOMEM;
  cls->stack_bytes = round_up(usable + HEADER_BYTES, page_size);
  cls->next_nslots = FIRST_SLOTS;
  cls->next = pool->classes;
  pool->classes = cls;
  *out = cls;
  return 0;
}

static bool size_ok(size_t size) {
  return size >= UVGO__STACK_MIN_SIZE && size <= UVGO__STACK_MAX_SIZE;
}

int uvgo__stack_pool_new(size_t default_size, uvgo__stack_pool **out) {
  if (out == NULL)
    return UV_EINVAL;
  if (default_size == 0)
    default_size = UVGO__STACK_DEFAULT_SIZE;
  if (!size_ok(default_size))
    return UV_EINVAL;
  pthread_once(&probe_once, probe);
  uvgo__stack_pool *pool = uvgo__calloc(1, sizeof *pool);
  if (pool == NULL)
    return UV_ENOMEM;
  int rc = class_new(pool, default_size, &pool->def);
  if (rc != 0) {
    uvgo__free(pool);
    return rc;
  }
  *out = pool;
  return 0;
}

void uvgo__stack_pool_free(uvgo__stack_pool *pool) {
  if (pool == NULL)
    return;
  for (arena *a = pool->arenas, *next; a != NULL; a = next) {
    next = a->next;
    registry_remove(a->reg);
    munmap(a->lo, a->bytes);
    atomic_fetch_sub(&mprotect_guards, a->nmprotect);
    uvgo__free(a);
  }
  for (struct uvgo__stack_class *c = pool->classes, *next; c != NULL;
       c = next) {
    next = c->next;
    uvgo__free(c);
  }
  uvgo__free(pool);
}

static int arena_new(uvgo__stack_pool *pool, struct uvgo__stack_class *cls) {
  size_t slot_bytes = UVGO__GUARD_SIZE + cls->stack_bytes;
  size_t nslots = cls->next_nslots;
  size_t bytes = nslots * slot_bytes;
  arena *a = uvgo__malloc(sizeof *a);
  if (a == NULL)
    return UV_ENOMEM;
  void *p = MAP_FAILED;
  if (!uvgo__fault_fire(UVGO_FAULT_MMAP))
    p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    uvgo__free(a);
    return UV_ENOMEM;
  }
  /* With THP on "always", one touched page would commit 2 MiB. */
  (void)madvise(p, bytes, MADV_NOHUGEPAGE);
  *a = (arena){.lo = p, .bytes = bytes, .slot_bytes = slot_bytes,
               .nslots = nslots};
  if (registry_add(a->lo, bytes, slot_bytes, &a->reg) != 0) {
    munmap(p, bytes);
    uvgo__free(a);
    return UV_ENOMEM;
  }
  a->next = pool->arenas;
  pool->arenas = a;
  cls->cur = a;
  size_t max_slots = ARENA_MAX_BYTES / slot_bytes;
  if (max_slots == 0)
    max_slots = 1;
  cls->next_nslots = nslots * 2 > max_slots ? max_slots : nslots * 2;
  if (cls->next_nslots < 1)
    cls->next_nslots = 1;
  return 0;
}

static void canary_fill(unsigned char *p, uintptr_t seed) {
  for (unsigned i = 0; i < CANARY_BYTES; i++)
    p[i] = (unsigned char)(0xa5u ^ (seed >> (i % 8 * 8)) ^ i);
}

/* The pattern sits just below base, in the (unprotected) guard: a task that
 * overran its stack has written over it. */
static bool canary_intact(const uvgo__stack *st) {
  const unsigned char *p = (const unsigned char *)st->base - CANARY_BYTES;
  uintptr_t seed = (uintptr_t)st->base;
  for (unsigned i = 0; i < CANARY_BYTES; i++)
    if (p[i] != (unsigned char)(0xa5u ^ (seed >> (i % 8 * 8)) ^ i))
      return false;
  return true;
}

/* Install the guard of a freshly carved slot; the guard stays for the life
 * of the arena, across reuses. */
static int guard_install(arena *a, char *slot, uvgo__guard_mode *mode) {
  *mode = process_mode;
  if (*mode == UVGO__GUARD_MADVISE) {
    if (uvgo__fault_fire(UVGO_FAULT_MADVISE) ||
        madvise(slot, UVGO__GUARD_SIZE, MADV_GUARD_INSTALL) != 0)
      return UV_ENOMEM;
    return 0;
  }
  if (*mode == UVGO__GUARD_MPROTECT) {
    if (atomic_fetch_add(&mprotect_guards, 1) < mprotect_cap) {
      if (uvgo__fault_fire(UVGO_FAULT_MPROTECT) ||
          mprotect(slot, UVGO__GUARD_SIZE, PROT_NONE) != 0) {
        atomic_fetch_sub(&mprotect_guards, 1);
        return UV_ENOMEM;
      }
      a->nmprotect++;
      return 0;
    }
    atomic_fetch_sub(&mprotect_guards, 1);
    *mode = UVGO__GUARD_CANARY; /* over the cap */
  }
  char *base = slot + UVGO__GUARD_SIZE;
  canary_fill((unsigned char *)base - CANARY_BYTES, (uintptr_t)base);
  return 0;
}

static __attribute__((noinline)) int carve(uvgo__stack_pool *pool, struct uvgo__stack_class *cls,
                 uvgo__stack **out) {
  arena *a = cls->cur;
  if (a == NULL || a->ncarved == a->nslots) {
    int rc = arena_new(pool, cls);
    if (rc != 0)
      return rc;
    a = cls->cur;
  }
  char *slot = a->lo + a->ncarved * a->slot_bytes;
  uvgo__guard_mode mode;
  int rc = guard_install(a, slot, &mode);
  if (rc != 0)
    return rc;
  uvgo__stack *st = (uvgo__stack *)(slot + a->slot_bytes - HEADER_BYTES);
  st->base = slot + UVGO__GUARD_SIZE;
  st->size = cls->stack_bytes - HEADER_BYTES;
  st->guard = mode;
  st->owner_file = NULL;
  st->owner_line = 0;
  st->next_free = NULL;
  st->prev_free = NULL;
  st->trimmed = false;
  st->cls = cls;
  atomic_signal_fence(memory_order_release); /* header before the magic */
  st->magic = STACK_MAGIC;
  a->ncarved++;
  *out = st;
  return 0;
}

/* Out of line so the common get (default size, pooled stack) is a leaf. */
static __attribute__((noinline)) int find_class(
    uvgo__stack_pool *pool, size_t size, struct uvgo__stack_class **out) {
  if (!size_ok(size))
    return UV_EINVAL;
  size_t want = round_up(size + HEADER_BYTES, page_size);
  for (struct uvgo__stack_class *cls = pool->classes; cls != NULL;
       cls = cls->next)
    if (cls->stack_bytes == want) {
      *out = cls;
      return 0;
    }
  return class_new(pool, size, out);
}

int uvgo__stack_get(uvgo__stack_pool *pool, size_t size, uvgo__stack **out) {
  struct uvgo__stack_class *cls = pool->def;
  if (UVGO__LIKELY(size == 0) && pool->last != NULL) {
    uvgo__stack *st = pool->last;
    pool->last = NULL;
    st->trimmed = false;
    *out = st;
    return 0;
  }
  if (UVGO__UNLIKELY(size != 0)) {
    int rc = find_class(pool, size, &cls);
    if (rc != 0)
      return rc;
  }
  uvgo__stack *st = cls->free;
  if (UVGO__LIKELY(st != NULL)) {
    cls->free = st->next_free;
    if (cls->free != NULL)
      cls->free->prev_free = NULL;
    else
      cls->tail = NULL;
    /* The element below the boundary moves up into the hot part. */
    if (cls->boundary != NULL) {
      cls->boundary = cls->nfree > HOT_FREE ? cls->boundary->next_free : NULL;
      /* The next get or put reads it: a cold header after a burst. */
      if (cls->boundary != NULL)
        __builtin_prefetch(cls->boundary, 1, 3);
    }
    cls->nfree--;
    st->trimmed = false;
    *out = st;
    return 0;
  }
  return carve(pool, cls, out);
}

static void write_str(const char *s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(2, s, n);
    if (w <= 0)
      return;
    s += w;
    n -= (size_t)w;
  }
}

/* Async-signal-safe: no stdio. */
static void report_overflow(const uvgo__stack *st, const char *how) {
  char num[16];
  int i = (int)sizeof num;
  num[--i] = '\0';
  unsigned v = st->owner_line > 0 ? (unsigned)st->owner_line : 0;
  do {
    num[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0 && i > 0);
  write_str("uvgo: stack overflow in task spawned at ");
  write_str(st->owner_file != NULL ? st->owner_file : "(unknown)");
  write_str(":");
  write_str(num + i);
  write_str(how);
  write_str("\n");
}

/* Releasing the deep pages of a stack costs a system call — and, with a
 * second thread running, a TLB shoot-down on every other core — so it is
 * done only for cold stacks and never on the exit path: the free list is
 * LIFO, the HOT_FREE most recent stacks are the ones the next spawns take,
 * and stacks pushed past that boundary are trimmed later, in bounded
 * batches, when the worker has nothing else to do
 * (uvgo__stack_pool_trim_cold). Measured: trimming on put made 10,000
 * tasks exiting after a cancel take 70 ms instead of 7 ms. */
static void trim(uvgo__stack *st) {
  char *hot_lo = (char *)st + HEADER_BYTES - HOT_BYTES;
  if (!st->trimmed && hot_lo > (char *)st->base)
    (void)madvise(st->base, (size_t)(hot_lo - (char *)st->base),
                  MADV_DONTNEED);
  st->trimmed = true;
}

void uvgo__stack_check(const uvgo__stack *st) {
  if (st->guard == UVGO__GUARD_CANARY && !canary_intact(st)) {
    report_overflow(st, " (canary clobbered; found late)");
    abort();
  }
}

void uvgo__stack_put(uvgo__stack_pool *pool, uvgo__stack *st) {
  uvgo__stack_check(st);
  st->owner_file = NULL;
  st->owner_line = 0;
  struct uvgo__stack_class *cls = st->cls;
  if (UVGO__LIKELY(cls == pool->def)) {
    /* st becomes the top; the one it displaces goes on the list. */
    uvgo__stack *older = pool->last;
    pool->last = st;
    if (UVGO__LIKELY(older == NULL))
      return;
    st = older;
  }
  st->prev_free = NULL;
  st->next_free = cls->free;
  if (cls->free != NULL)
    cls->free->prev_free = st;
  else
    cls->tail = st;
  cls->free = st;
  cls->nfree++;
  if (cls->boundary != NULL) {
    /* The old boundary moved one down, out of the hot part. */
    if (!cls->boundary->trimmed)
      cls->cold_untrimmed++;
    cls->boundary = cls->boundary->prev_free;
    __builtin_prefetch(cls->boundary, 1, 3); /* as in uvgo__stack_get */
  } else if (cls->nfree == HOT_FREE) {
    cls->boundary = cls->tail;
  }
}

bool uvgo__stack_pool_trim_cold(uvgo__stack_pool *pool, size_t max) {
  bool more = false;
  for (struct uvgo__stack_class *c = pool->classes; c != NULL; c = c->next) {
    if (c->cold_untrimmed == 0 || c->boundary == NULL)
      continue;
    for (uvgo__stack *st = c->boundary->next_free;
         st != NULL && c->cold_untrimmed > 0; st = st->next_free) {
      if (st->trimmed)
        continue;
      if (max == 0) {
        more = true;
        break;
      }
      trim(st);
      max--;
      c->cold_untrimmed--;
    }
    /* Stacks taken back before their trim leave the count high. */
    if (!more)
      c->cold_untrimmed = 0;
  }
  return more;
}

void uvgo__stack_pool_trim(uvgo__stack_pool *pool) {
  if (pool->last != NULL)
    trim(pool->last);
  for (struct uvgo__stack_class *c = pool->classes; c != NULL; c = c->next)
    for (uvgo__stack *st = c->free; st != NULL; st = st->next_free)
      trim(st);
}

void uvgo__stack_set_owner(uvgo__stack *st, const char *file, int line) {
  st->owner_file = file;
  st->owner_line = line;
}

size_t uvgo__stack_high_water(const uvgo__stack *st) {
  /* Pages the kernel has committed, scanned from the bottom: exact for a
   * stack's first life, the slot's deepest use since the last trim after
   * that. One mincore call per 256 pages. */
  char *lo = st->base;
  char *top = (char *)st->base + st->size;
  size_t pages = (size_t)((char *)st + HEADER_BYTES - lo) / page_size;
  unsigned char vec[256];
  for (size_t done = 0; done < pages;) {
    size_t n = pages - done < sizeof vec ? pages - done : sizeof vec;
    if (mincore(lo + done * page_size, n * page_size, vec) != 0)
      return 0;
    for (size_t i = 0; i < n; i++)
      if (vec[i] & 1) {
        char *page = lo + (done + i) * page_size;
        return page < top ? (size_t)(top - page) : 0;
      }
    done += n;
  }
  return 0;
}

/* --- overflow reporting --- */

static struct sigaction prev_segv, prev_bus;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static int handler_err;

static void die_by_default(int sig, const siginfo_t *si) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, NULL);
  /* A real fault re-executes and kills on return; a sent signal does not
   * come back by itself (it stays pending until the handler returns). */
  if (si->si_code <= 0)
    raise(sig);
}

static void on_fault(int sig, siginfo_t *si, void *uc) {
  int saved_errno = errno;
  bool in_guard = false;
  uvgo__stack *st = si->si_code > 0 ? uvgo__stack_find(si->si_addr, &in_guard)
                                    : NULL;
  if (st != NULL && in_guard) {
    report_overflow(st, "");
    die_by_default(sig, si);
    errno = saved_errno;
    return;
  }
  const struct sigaction *prev = sig == SIGBUS ? &prev_bus : &prev_segv;
  if (prev->sa_flags & SA_SIGINFO) {
    prev->sa_sigaction(sig, si, uc);
  } else if (prev->sa_handler == SIG_DFL ||
             (prev->sa_handler == SIG_IGN && si->si_code > 0)) {
    /* The kernel does not let a fault be ignored either. */
    die_by_default(sig, si);
  } else if (prev->sa_handler != SIG_IGN) {
    prev->sa_handler(sig);
  }
  errno = saved_errno;
}

static void install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSEGV, &sa, &prev_segv) != 0 ||
      sigaction(SIGBUS, &sa, &prev_bus) != 0)
    handler_err = -errno;
}

int uvgo__overflow_handler_install(void) {
  pthread_once(&probe_once, probe);
  pthread_once(&handler_once, install);
  return handler_err;
}

static _Thread_local void *altstack_mem;
static _Thread_local size_t altstack_len;

int uvgo__altstack_thread_init(void) {
  stack_t cur;
  /* One already in place (ours, ASan's, the host's) serves as well. */
  if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
    return 0;
  pthread_once(&probe_once, probe);
  long min = sysconf(_SC_SIGSTKSZ);
  size_t len = min > 0 ? (size_t)min * 4 : 0;
  if (len < 64 * 1024)
    len = 64 * 1024;
  len = round_up(len, page_size);
  void *m = MAP_FAILED;
  if (!uvgo__fault_fire(UVGO_FAULT_MMAP))
    m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
  if (m == MAP_FAILED)
    return UV_ENOMEM;
  stack_t ss = {.ss_sp = m, .ss_size = len, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) {
    int err = -errno;
    munmap(m, len);
    return err;
  }
  altstack_mem = m;
  altstack_len = len;
  return 0;
}

void uvgo__altstack_thread_fini(void) {
  if (altstack_mem == NULL)
    return;
  stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
  sigaltstack(&ss, NULL);
  munmap(altstack_mem, altstack_len);
  altstack_mem = NULL;
  altstack_len = 0;
}
