/*
 * Interrupt and exception entry (CPL0). Each vector has a 16-byte stub that pushes a zero error code
 * when the CPU does not push one (SDM Vol. 3A 6.13 "Error Code": vectors 8, 10-14, 17, 21, 29, 30 push
 * one) and the vector, then saves the general registers as a struct intr_frame and calls
 * intr__dispatch(frame). Everything here runs emulated on PVM: keep it short.
 *
 * Vector 4 (VEC_GATE) is the privileged-operation gate for CPL3 code (gate.h), a DPL 3 interrupt gate
 * with its own short path.
 */
#include "arch.h"

	.text
	.code64

	.balign 16
	.global intr_stubs
intr_stubs:
	vec = 0
	.rept 256
	.balign 16
	.if !(vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30)
	pushq	$0
	.endif
	pushq	$vec
	jmp	intr_common
	vec = vec + 1
	.endr

intr_common:
	pushq	%rax
	pushq	%rcx
	pushq	%rdx
	pushq	%rbx
	pushq	%rbp
	pushq	%rsi
	pushq	%rdi
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rdi
	call	intr__dispatch
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rdi
	popq	%rsi
	popq	%rbp
	popq	%rbx
	popq	%rdx
	popq	%rcx
	popq	%rax
	addq	$16, %rsp
	iretq

/* int $4: RAX = operation, RDI/RSI = arguments, result in RAX. Clobbers RCX, RDX. */
	.global gate_entry
gate_entry:
	cmpq	$SYS_NR, %rax
	jae	sys_bad
	jmp	*sys_table(, %rax, 8)

/*
 * Sleep until an interrupt unless *(u32 *)RDI != ESI: checked with interrupts off, and STI's one
 * instruction shadow keeps the wake-up from slipping in before HLT.
 */
sys_wait:
	cmpl	%esi, (%rdi)
	jne	1f
	sti
	hlt
1:	xorl	%eax, %eax
	iretq

/* CPUID at CPL0: PVM runs CPL3 natively, where CPUID shows the host's CPU, not the vCPU's. */
sys_cpuid:
	pushq	%rbx
	movl	%edi, %eax
	movl	%esi, %ecx
	cpuid
	shlq	$32, %rbx
	orq	%rbx, %rax
	shlq	$32, %rdx
	orq	%rcx, %rdx
	popq	%rbx
	iretq

sys_rdmsr:
	movl	%edi, %ecx
	rdmsr
	shlq	$32, %rdx
	orq	%rdx, %rax
	iretq

sys_wrmsr:
	movl	%edi, %ecx
	movl	%esi, %eax
	movq	%rsi, %rdx
	shrq	$32, %rdx
	wrmsr
	xorl	%eax, %eax
	iretq

sys_invlpg:
	invlpg	(%rdi)
	xorl	%eax, %eax
	iretq

sys_read_cr:
	cmpq	$0, %rdi
	je	1f
	cmpq	$2, %rdi
	je	2f
	cmpq	$3, %rdi
	je	3f
	cmpq	$4, %rdi
	jne	sys_bad
	movq	%cr4, %rax
	iretq
1:	movq	%cr0, %rax
	iretq
2:	movq	%cr2, %rax
	iretq
3:	movq	%cr3, %rax
	iretq

sys_write_cr:
	cmpq	$0, %rdi
	je	1f
	cmpq	$3, %rdi
	je	3f
	cmpq	$4, %rdi
	jne	sys_bad
	movq	%rsi, %cr4
	xorl	%eax, %eax
	iretq
1:	movq	%rsi, %cr0
	xorl	%eax, %eax
	iretq
3:	movq	%rsi, %cr3
	xorl	%eax, %eax
	iretq

sys_stop:
	cli
1:	hlt
	jmp	1b

/* Port I/O for CPL3 code (PVM gives user mode IOPL 0). */
sys_inb:
	movl	%edi, %edx
	xorl	%eax, %eax
	inb	%dx, %al
	iretq

sys_inw:
	movl	%edi, %edx
	xorl	%eax, %eax
	inw	%dx, %ax
	iretq

sys_inl:
	movl	%edi, %edx
	inl	%dx, %eax
	iretq

sys_outb:
	movl	%edi, %edx
	movl	%esi, %eax
	outb	%al, %dx
	iretq

sys_outw:
	movl	%edi, %edx
	movl	%esi, %eax
	outw	%ax, %dx
	iretq

sys_outl:
	movl	%edi, %edx
	movl	%esi, %eax
	outl	%eax, %dx
	iretq

/* RSI = buffer, RDX = count: KVM completes a rep outsb with one exit per string. */
sys_outsb:
	movq	%rdx, %rcx
	movl	%edi, %edx
	rep outsb
	iretq

sys_bad:
	movq	$-1, %rax
	iretq

	.section .rodata
	.balign 8
sys_table:
	.quad	sys_wait, sys_rdmsr, sys_wrmsr, sys_invlpg, sys_read_cr, sys_write_cr, sys_stop
	.quad	sys_inb, sys_inw, sys_inl, sys_outb, sys_outw, sys_outl, sys_outsb, sys_cpuid

	.section .note.GNU-stack, "", @progbits
