/* Fibers: a saved CPU context plus the stack it runs on, and the annotations
 * that let ASan, TSan and valgrind follow a switch. The scheduler (task.c,
 * worker.c) is the only user.
 *
 * Thread contract: a fiber is switched to only on the thread that owns it
 * (tasks never migrate once started). */
#ifndef UVGO_FIBER_H
#define UVGO_FIBER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/arch/switch.h"
#include "core/internal.h"
#include "core/stack.h"
#include "uvgo_config.h"

typedef struct uvgo__fiber {
  void *sp;              /* saved stack pointer while switched out (arch) */
  void *stack_bottom;    /* lowest address of the stack, for sanitizers */
  size_t stack_size;
  void *asan_fake_stack; /* __sanitizer_start_switch_fiber bookkeeping */
  void *tsan_fiber;      /* __tsan_create_fiber handle (TSan builds) */
  unsigned valgrind_id;  /* VALGRIND_STACK_REGISTER id */
  void (*entry)(void *); /* ASan builds start through a wrapper that */
  void *entry_arg;       /* needs the real entry; unused otherwise */
} uvgo__fiber;

typedef void (*uvgo__fiber_entry)(void *arg);

/* Make `self` describe the calling thread's own stack, so it can be
 * switched away from and back to. */
void uvgo__fiber_init_thread(uvgo__fiber *self);

/* Whether the process runs under valgrind (asked once per thread), and
 * its stack registration out of line: the id plus one (0: none). */
extern atomic_bool uvgo__on_valgrind;
unsigned uvgo__fiber_valgrind_register(void *lo, void *hi);
void uvgo__fiber_valgrind_deregister(unsigned id);

/* Prepare `f` to start running entry(arg) on `st` at its first switch.
 * entry must never return: a finished fiber ends with
 * uvgo__fiber_switch_final. A fiber made before must have been through
 * uvgo__fiber_destroy (it holds a TSan fiber and a valgrind stack id). A
 * fresh fiber starts with the ABI's default FP control state. */
#if UVGO_ASAN || UVGO_TSAN
void uvgo__fiber_make(uvgo__fiber *f, uvgo__stack *st,
                      uvgo__fiber_entry entry, void *arg);
#else
/* Without a sanitizer to tell, making a fiber is a few stores and the
 * arch frame: inline, as the spawn path calls it once per task. */

static inline void uvgo__fiber_make(uvgo__fiber *f, uvgo__stack *st,
                                    uvgo__fiber_entry entry, void *arg) {
  void *top = (char *)st->base + st->size;
  f->stack_bottom = st->base;
  f->stack_size = st->size;
  f->asan_fake_stack = NULL;
  f->entry = entry;
  f->entry_arg = arg;
  f->sp = uvgo__arch_init_stack(top, entry, arg);
  f->tsan_fiber = NULL;
  f->valgrind_id = 0;
  if (UVGO__UNLIKELY(
          atomic_load_explicit(&uvgo__on_valgrind, memory_order_relaxed)))
    f->valgrind_id = uvgo__fiber_valgrind_register(st->base, top);
}
#endif

/* Save the current context into `from` and resume `to`. Returns when some
 * fiber switches back to `from`. peer: both are tasks, and `to` switched
 * out through the same calls as the caller (task.c's switch-out), so the
 * arch switch may return the plain way (switch.h). */
void uvgo__fiber_switch_as(uvgo__fiber *from, uvgo__fiber *to, bool peer);
static inline void uvgo__fiber_switch(uvgo__fiber *from, uvgo__fiber *to) {
  uvgo__fiber_switch_as(from, to, false);
}

/* Switch from a finished fiber for the last time: tells the sanitizers the
 * fiber is gone. `from` may be reused (uvgo__fiber_make) afterwards. */
__attribute__((noreturn)) void uvgo__fiber_switch_final(uvgo__fiber *from,
                                                        uvgo__fiber *to);

/* Release tool resources (TSan fiber, valgrind registration) of a fiber that
 * finished; call from another fiber after switch_final returned there. */
#if UVGO_ASAN || UVGO_TSAN
void uvgo__fiber_destroy(uvgo__fiber *f);
#else
static inline void uvgo__fiber_destroy(uvgo__fiber *f) {
  if (UVGO__UNLIKELY(f->valgrind_id != 0)) {
    uvgo__fiber_valgrind_deregister(f->valgrind_id);
    f->valgrind_id = 0;
  }
}
#endif

#endif
