/*
 * AP start-up trampoline. smp.c copies [smp_tramp_start, smp_tramp_end) to TRAMP_BASE (0x1000) and
 * sends INIT + SIPI with vector TRAMP_BASE >> 12, so an AP starts here in real mode at CS:IP =
 * 0x0100:0000 (SDM Vol. 3A 9.4.4 "MP Initialization Example"). It goes to protected mode, enables PAE,
 * loads the BSP's CR3, sets EFER.LME and paging (SDM Vol. 3A 10.8.5 "Initializing IA-32e Mode") and jumps
 * to ap_start64 with EDI = the CPU index. The code is position dependent: every absolute address is
 * TRAMP_BASE + (label - smp_tramp_start).
 */
#include "arch.h"

#define T(label) (TRAMP_BASE + (label - smp_tramp_start))

	.section .rodata.trampoline, "a"
	.balign 16
	.global smp_tramp_start, smp_tramp_end, smp_tramp_cr3, smp_tramp_cpu, smp_tramp_entry
	.code16
smp_tramp_start:
	cli
	cld
	movw	%cs, %ax
	movw	%ax, %ds
	lgdtl	tramp_gdtr - smp_tramp_start
	movl	%cr0, %eax
	orl	$1, %eax			/* PE */
	movl	%eax, %cr0
	ljmpl	$0x08, $T(tramp_pm32)

	.code32
tramp_pm32:
	movl	$0x10, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	$0x20, %eax			/* CR4.PAE only: no SMEP/SMAP (see start.S) */
	movl	%eax, %cr4
	movl	T(smp_tramp_cr3), %eax
	movl	%eax, %cr3
	movl	$0xc0000080, %ecx		/* IA32_EFER */
	rdmsr
	orl	$0x100, %eax			/* LME */
	wrmsr
	movl	%cr0, %eax
	orl	$0x80000001, %eax		/* PG | PE */
	movl	%eax, %cr0
	ljmpl	$0x18, $T(tramp_lm64)

	.code64
tramp_lm64:
	movl	T(smp_tramp_cpu), %edi
	movq	T(smp_tramp_entry), %rax
	jmp	*%rax

	.balign 8
tramp_gdt:
	.quad	0
	.quad	0x00cf9a000000ffff		/* 0x08: 32-bit code */
	.quad	0x00cf92000000ffff		/* 0x10: data */
	.quad	0x00af9a000000ffff		/* 0x18: 64-bit code */
tramp_gdtr:
	.word	4 * 8 - 1
	.long	T(tramp_gdt)
	.balign 8
smp_tramp_entry:
	.quad	0
smp_tramp_cr3:
	.long	0
smp_tramp_cpu:
	.long	0
smp_tramp_end:

	.section .note.GNU-stack, "", @progbits
