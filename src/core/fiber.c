/* Fibers: the arch switch plus the annotations ASan, TSan and valgrind need
 * to follow it. In a release build without valgrind running, a switch is
 * one call into the assembly. */
#include "core/fiber.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/arch/switch.h"
#include "core/internal.h"
#include "uvgo_config.h"

#if UVGO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if UVGO_TSAN
#include <sanitizer/tsan_interface.h>
#endif
#if UVGO_HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

/* Asked once per thread init: a client request costs little, but the hot
 * path should pay one predictable branch, not a magic sequence. Every
 * worker stores the same value. */
atomic_bool uvgo__on_valgrind;
#if UVGO_HAVE_VALGRIND_H
#define on_valgrind uvgo__on_valgrind
#endif

void uvgo__fiber_init_thread(uvgo__fiber *self) {
  memset(self, 0, sizeof *self);
#if UVGO_HAVE_VALGRIND_H
  atomic_store_explicit(&on_valgrind, RUNNING_ON_VALGRIND != 0,
                        memory_order_relaxed);
#endif
#if UVGO_ASAN
  /* ASan must be told which stack it is returning to when a fiber switches
   * back to the thread's own. */
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void *lo = NULL;
    size_t size = 0;
    if (pthread_attr_getstack(&attr, &lo, &size) == 0) {
      self->stack_bottom = lo;
      self->stack_size = size;
    }
    pthread_attr_destroy(&attr);
  }
#endif
#if UVGO_TSAN
  self->tsan_fiber = __tsan_get_current_fiber();
#endif
}

#if UVGO_ASAN
/* A fresh fiber's first instructions: complete the switch ASan saw begin
 * (there is no fake stack to restore on a new fiber). */
static void asan_start(void *p) {
  uvgo__fiber *f = p;
  __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
  f->entry(f->entry_arg);
  abort();
}
#endif

unsigned uvgo__fiber_valgrind_register(void *lo, void *hi) {
#if UVGO_HAVE_VALGRIND_H
  return VALGRIND_STACK_REGISTER(lo, hi) + 1;
#else
  (void)lo;
  (void)hi;
  return 0;
#endif
}

void uvgo__fiber_valgrind_deregister(unsigned id) {
#if UVGO_HAVE_VALGRIND_H
  VALGRIND_STACK_DEREGISTER(id - 1);
#else
  (void)id;
#endif
}

#if UVGO_ASAN || UVGO_TSAN
void uvgo__fiber_make(uvgo__fiber *f, uvgo__stack *st, uvgo__fiber_entry entry,
                      void *arg) {
  f->stack_bottom = st->base;
  f->stack_size = st->size;
  f->asan_fake_stack = NULL;
  f->entry = entry;
  f->entry_arg = arg;
  void *top = (char *)st->base + st->size;
#if UVGO_ASAN
  /* The stack may hold the poisoned redzones of frames a finished fiber
   * never returned from. */
  __asan_unpoison_memory_region(st->base, st->size);
  f->sp = uvgo__arch_init_stack(top, asan_start, f);
#else
  f->sp = uvgo__arch_init_stack(top, entry, arg);
#endif
#if UVGO_TSAN
  f->tsan_fiber = __tsan_create_fiber(0);
#else
  f->tsan_fiber = NULL;
#endif
  f->valgrind_id = 0;
#if UVGO_HAVE_VALGRIND_H
  if (UVGO__UNLIKELY(
          atomic_load_explicit(&on_valgrind, memory_order_relaxed)))
    f->valgrind_id = VALGRIND_STACK_REGISTER(st->base, top) + 1; /* 0: none */
#endif
}
#endif

void uvgo__fiber_switch_as(uvgo__fiber *from, uvgo__fiber *to, bool peer) {
#if UVGO_ASAN
  __sanitizer_start_switch_fiber(&from->asan_fake_stack, to->stack_bottom,
                                 to->stack_size);
#endif
#if UVGO_TSAN
  __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
  uvgo__arch_switch(&from->sp, to->sp, peer);
#if UVGO_ASAN
  __sanitizer_finish_switch_fiber(from->asan_fake_stack, NULL, NULL);
#endif
}

void uvgo__fiber_switch_final(uvgo__fiber *from, uvgo__fiber *to) {
  (void)from;
#if UVGO_ASAN
  /* NULL: this fiber's fake stack dies with it. */
  __sanitizer_start_switch_fiber(NULL, to->stack_bottom, to->stack_size);
#endif
#if UVGO_TSAN
  __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
  uvgo__arch_resume(to->sp);
}

#if UVGO_ASAN || UVGO_TSAN
void uvgo__fiber_destroy(uvgo__fiber *f) {
#if UVGO_TSAN
  if (f->tsan_fiber != NULL)
    __tsan_destroy_fiber(f->tsan_fiber);
#endif
  f->tsan_fiber = NULL;
#if UVGO_HAVE_VALGRIND_H
  if (f->valgrind_id != 0)
    VALGRIND_STACK_DEREGISTER(f->valgrind_id - 1);
#endif
  f->valgrind_id = 0;
}
#endif
