/* Portable fallback: ucontext. About 20 times slower than the assembly (a
 * sigprocmask system call per swap), so only for CPUs without a .S file.
 * The "sp" of a switched-out context is the address of a ucontext_t kept in
 * the frame of uvgo__arch_switch on the parked stack itself. */
#include <stdint.h>
#include <stdlib.h>
#include <ucontext.h>

#include "core/arch/switch.h"
#include "core/stack.h"

/* makecontext wants a stack base; only the top matters, and half the
 * minimum stack size is always inside the real stack. */
#define UCONTEXT_SPAN (UVGO__STACK_MIN_SIZE / 2)

typedef struct {
  ucontext_t uc;
  void (*entry)(void *);
  void *arg;
} fresh_context;

/* makecontext passes only int arguments: the pointer goes in two halves. */
static void trampoline(unsigned hi, unsigned lo) {
  fresh_context *fc =
      (fresh_context *)(((uintptr_t)hi << 16 << 16) | (uintptr_t)lo);
  fc->entry(fc->arg);
  abort();
}

void uvgo__arch_switch(void **save_sp, void *new_sp, int peer) {
  (void)peer;
  ucontext_t self;
  *save_sp = &self;
  swapcontext(&self, (ucontext_t *)new_sp);
}

void uvgo__arch_resume(void *new_sp) {
  setcontext((ucontext_t *)new_sp);
  abort();
}

void *uvgo__arch_init_stack(void *stack_top, void (*entry)(void *),
                            void *arg) {
  uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)63;
  fresh_context *fc = (fresh_context *)(top - ((sizeof *fc + 63) & ~63u));
  getcontext(&fc->uc);
  fc->uc.uc_link = NULL;
  fc->uc.uc_stack.ss_sp = (char *)fc - UCONTEXT_SPAN;
  fc->uc.uc_stack.ss_size = UCONTEXT_SPAN;
  fc->entry = entry;
  fc->arg = arg;
  uintptr_t p = (uintptr_t)fc;
  makecontext(&fc->uc, (void (*)(void))trampoline, 2,
              (unsigned)(p >> 16 >> 16), (unsigned)(p & 0xffffffffu));
  return &fc->uc;
}
