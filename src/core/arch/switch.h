/* The CPU-level context switch, one implementation per file picked by the
 * build (switch_x86_64.S, switch_aarch64.S, switch_ucontext.c). fiber.c is
 * the only caller; it adds the sanitizer and valgrind annotations.
 *
 * A switched-out context is a single pointer: the saved stack pointer. The
 * registers live on the switched-out stack itself, so a context costs no
 * memory beyond the stack it runs on.
 *
 * Saved frame layout (what tools/uvgo-gdb.py reads to unwind a parked
 * fiber; keep them in sync). Offsets are from the saved sp, in bytes.
 *
 *   x86-64 (64 bytes, sp is 8 mod 16 while saved):
 *     0   MXCSR (4 bytes)        4  x87 control word (2 bytes, 2 pad)
 *     8   r15   16  r14   24  r13   32  r12   40  rbx   48  rbp
 *     56  return address (rip at which the fiber resumes)
 *     the fiber's rsp after resuming is sp + 64.
 *
 *   AArch64 (176 bytes, sp is 16-aligned):
 *     0   x19 x20  16  x21 x22  32  x23 x24  48  x25 x26  64  x27 x28
 *     80  x29 (fp)  88  x30 (lr: pc at which the fiber resumes)
 *     96  d8 d9  112  d10 d11  128  d12 d13  144  d14 d15
 *     160 FPCR (8 bytes)   168 pad
 *     the fiber's sp after resuming is sp + 176.
 *
 *   ucontext: the saved "sp" points to a ucontext_t on the parked stack.
 *
 * A fresh context (uvgo__arch_init_stack) resumes in a trampoline whose CFI
 * marks the return address undefined, so debugger backtraces end there. */
#ifndef UVGO_ARCH_SWITCH_H
#define UVGO_ARCH_SWITCH_H

#include "uvgo_config.h"

/* Save the callee-saved state on the current stack, store the stack pointer
 * in *save_sp, and resume the context saved at new_sp. Returns when some
 * other context switches back to *save_sp. peer != 0: the context at
 * new_sp was saved by a call from the same place as this one, so the
 * return-address predictor's top entry (this call's) is where it resumes;
 * x86-64 then returns with ret and keeps the predictor in step for the
 * returns that follow. Otherwise it jumps (the other ports ignore it). */
void uvgo__arch_switch(void **save_sp, void *new_sp, int peer);

/* Resume the context saved at new_sp, abandoning the current one (a
 * finished fiber: nothing of it needs saving). */
__attribute__((noreturn)) void uvgo__arch_resume(void *new_sp);

/* Build a context at the top of a stack (stack_top need not be aligned)
 * that, when switched to, calls entry(arg) with a fresh frame. entry must
 * never return (the trampoline traps if it does). FP control words start at
 * the ABI's initial values (round to nearest, exceptions masked), as in a
 * new program, not as the caller's: reading those costs more than the rest
 * of a spawn. @return the sp to pass to uvgo__arch_switch. */
void *uvgo__arch_init_stack(void *stack_top, void (*entry)(void *),
                            void *arg);

/* Whether an ending task may hand its stack to a new one without a
 * switch (task.c, "chained starts"), and the FP control state that new
 * task must start with: uvgo__arch_init_stack's, since a chained task
 * gets no fresh frame. Only the x86-64 switch so far; the others always
 * start a new task through the scheduler. */
#if UVGO_SWITCH_ASM && defined(__x86_64__)
#define UVGO__ARCH_CHAINED_START 1
static inline void uvgo__arch_fp_reset(void) {
  unsigned mxcsr;
  unsigned short cw;
  __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
  __asm__ volatile("fnstcw %0" : "=m"(cw));
  /* Loading a control word costs more than reading it: only when the
   * ending task changed it (or raised a flag MXCSR keeps). */
  if (__builtin_expect(mxcsr != 0x1f80u, 0)) {
    mxcsr = 0x1f80u;
    __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
  }
  if (__builtin_expect(cw != 0x037f, 0)) {
    cw = 0x037f;
    __asm__ volatile("fldcw %0" : : "m"(cw));
  }
}
#else
#define UVGO__ARCH_CHAINED_START 0
#endif

#endif
