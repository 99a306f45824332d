/* x86-64 SysV context switch. Layout of the saved frame: see switch.h. */
	.text

/* void uvgo__arch_switch(void **save_sp, void *new_sp) */
	.globl	uvgo__arch_switch
	.hidden	uvgo__arch_switch
	.type	uvgo__arch_switch, @function
	.p2align 4
uvgo__arch_switch:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbx, 0
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r12, 0
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r13, 0
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r14, 0
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r15, 0
	subq	$8, %rsp
	.cfi_adjust_cfa_offset 8
	/* The rounding mode and exception masks are per-thread state a task
	 * may change (fesetround); each task keeps its own. */
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	/* From here the CFA rules describe the resumed frame, which has the
	 * same shape. */
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	.cfi_adjust_cfa_offset -8
	popq	%r15
	.cfi_adjust_cfa_offset -8
	popq	%r14
	.cfi_adjust_cfa_offset -8
	popq	%r13
	.cfi_adjust_cfa_offset -8
	popq	%r12
	.cfi_adjust_cfa_offset -8
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	/* peer (edx) != 0, a task handing over to a task that switched out
	 * through the same calls: the return-stack predictor's top entry,
	 * pushed by our call, is the resume address, and a ret keeps it in
	 * step for the returns that follow (a jmp leaves our entry behind and
	 * every later return off by one): ping-pong and select_park about 10%
	 * faster. Otherwise pop + jmp: a ret would miss (it returns into
	 * another stack's call), while the indirect-branch predictor learns
	 * the switch pattern (about 40% off a scheduler switch, measured). */
	testl	%edx, %edx
	jz	1f
	ret
1:
	popq	%rcx
	.cfi_adjust_cfa_offset -8
	.cfi_register %rip, %rcx
	jmpq	*%rcx
	.cfi_endproc
	.size	uvgo__arch_switch, .-uvgo__arch_switch

/* void uvgo__arch_resume(void *new_sp): the tail of uvgo__arch_switch
 * alone, for a context that will never be resumed (nothing to save). */
	.globl	uvgo__arch_resume
	.hidden	uvgo__arch_resume
	.type	uvgo__arch_resume, @function
	.p2align 4
uvgo__arch_resume:
	.cfi_startproc
	movq	%rdi, %rsp
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	popq	%rcx
	jmpq	*%rcx
	.cfi_endproc
	.size	uvgo__arch_resume, .-uvgo__arch_resume

/* First code a fresh context runs: r12 = entry, r13 = arg (from the frame
 * built by uvgo__arch_init_stack). The undefined return address ends
 * unwinding here, so backtraces of a task stop at its entry. */
	.type	trampoline, @function
	.p2align 4
trampoline:
	.cfi_startproc
	.cfi_undefined %rip
	xorl	%ebp, %ebp
	movq	%r13, %rdi
	callq	*%r12
	ud2
	.cfi_endproc
	.size	trampoline, .-trampoline

/* void *uvgo__arch_init_stack(void *top, void (*entry)(void *), void *arg) */
	.globl	uvgo__arch_init_stack
	.hidden	uvgo__arch_init_stack
	.type	uvgo__arch_init_stack, @function
	.p2align 4
uvgo__arch_init_stack:
	.cfi_startproc
	/* After the switch's final ret pops the trampoline address, rsp is the
	 * aligned top: the trampoline's call then sees the ABI's alignment. */
	andq	$-16, %rdi
	leaq	-64(%rdi), %rax
	/* The ABI's initial control words (nearest, all exceptions masked):
	 * reading the caller's costs more than the rest of a spawn. */
	movl	$0x1f80, (%rax)
	movl	$0x037f, 4(%rax)
	movq	$0, 8(%rax)
	movq	$0, 16(%rax)
	movq	%rdx, 24(%rax)
	movq	%rsi, 32(%rax)
	movq	$0, 40(%rax)
	movq	$0, 48(%rax)
	leaq	trampoline(%rip), %rcx
	movq	%rcx, 56(%rax)
	ret
	.cfi_endproc
	.size	uvgo__arch_init_stack, .-uvgo__arch_init_stack

	.section .note.GNU-stack,"",@progbits
