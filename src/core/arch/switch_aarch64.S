/* AArch64 AAPCS64 context switch. Layout of the saved frame: see switch.h. */
	.text

/* void uvgo__arch_switch(void **save_sp, void *new_sp, int peer): peer is
 * ignored here, this port always returns with ret */
	.globl	uvgo__arch_switch
	.hidden	uvgo__arch_switch
	.type	uvgo__arch_switch, %function
	.p2align 4
uvgo__arch_switch:
	.cfi_startproc
	sub	sp, sp, #176
	.cfi_adjust_cfa_offset 176
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	.cfi_rel_offset x29, 80
	.cfi_rel_offset x30, 88
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	/* Rounding mode and trap enables are per-task state (fesetround). */
	mrs	x9, fpcr
	str	x9, [sp, #160]
	mov	x9, sp
	str	x9, [x0]
	mov	sp, x1
	ldr	x9, [sp, #160]
	msr	fpcr, x9
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	add	sp, sp, #176
	.cfi_adjust_cfa_offset -176
	ret
	.cfi_endproc
	.size	uvgo__arch_switch, .-uvgo__arch_switch

/* void uvgo__arch_resume(void *new_sp): the tail of uvgo__arch_switch
 * alone, for a context that will never be resumed (nothing to save). */
	.globl	uvgo__arch_resume
	.hidden	uvgo__arch_resume
	.type	uvgo__arch_resume, %function
	.p2align 4
uvgo__arch_resume:
	.cfi_startproc
	mov	sp, x0
	ldr	x9, [sp, #160]
	msr	fpcr, x9
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	add	sp, sp, #176
	ret
	.cfi_endproc
	.size	uvgo__arch_resume, .-uvgo__arch_resume

/* First code a fresh context runs: x19 = entry, x20 = arg. The undefined
 * return address (x30) ends unwinding here. */
	.type	trampoline, %function
	.p2align 4
trampoline:
	.cfi_startproc
	.cfi_undefined x30
	mov	x29, #0
	mov	x0, x20
	blr	x19
	brk	#0
	.cfi_endproc
	.size	trampoline, .-trampoline

/* void *uvgo__arch_init_stack(void *top, void (*entry)(void *), void *arg) */
	.globl	uvgo__arch_init_stack
	.hidden	uvgo__arch_init_stack
	.type	uvgo__arch_init_stack, %function
	.p2align 4
uvgo__arch_init_stack:
	.cfi_startproc
	and	x0, x0, #~15
	sub	x0, x0, #176
	stp	x1, x2, [x0, #0]
	stp	xzr, xzr, [x0, #16]
	stp	xzr, xzr, [x0, #32]
	stp	xzr, xzr, [x0, #48]
	stp	xzr, xzr, [x0, #64]
	adr	x9, trampoline
	stp	xzr, x9, [x0, #80]
	stp	xzr, xzr, [x0, #96]
	stp	xzr, xzr, [x0, #112]
	stp	xzr, xzr, [x0, #128]
	stp	xzr, xzr, [x0, #144]
	/* FPCR 0: the ABI's initial state (nearest, no traps). */
	stp	xzr, xzr, [x0, #160]
	ret
	.cfi_endproc
	.size	uvgo__arch_init_stack, .-uvgo__arch_init_stack

	.section .note.GNU-stack,"",%progbits
