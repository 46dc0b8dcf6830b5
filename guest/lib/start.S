/*
 * Entry from minivmm and the CPL0 -> CPL3 drop, for the BSP and every AP.
 *
 * minivmm enters _start in long mode at CPL0 with RSI = the zero page, no stack and interrupts off.
 * CPL0 code is instruction-emulated on PVM (~2 M instructions/s) while CPL3 code runs natively, so
 * this file does only what needs CPL0: load our GDT (with user segments and a TSS per CPU), the TSS
 * and the IDT, then iretq to CPL3 with IOPL=3. The IDT itself is filled later, at CPL3 (intr.c).
 */
#include "arch.h"

	.section .text.start, "ax"
	.code64
	.global _start
_start:
	/* A POST code first: minivmm's start-up figures time the first VM exit (vmm/stats.h). */
	movb	$0x10, %al
	outb	%al, $0x80
	cli
	cld
	movq	%rsi, boot_params_addr
	movq	%cr3, %rax
	movq	%rax, boot_cr3			/* the AP trampoline loads the same tables */
	xorl	%edi, %edi			/* CPU index 0 */
	movl	$runtime__bsp_main, %esi
	jmp	cpu_enter_user

/*
 * Entered from the AP trampoline in long mode (smp.c filled in EDI = CPU index). No stack yet:
 * cpu_enter_user sets one before its first push.
 */
	.global ap_start64
ap_start64:
	movl	$smp__ap_main, %esi
	/* fall through */

/*
 * cpu_enter_user: EDI = CPU index, RSI = CPL3 entry (called with EDI = index). Never returns.
 * Clobbers everything.
 */
cpu_enter_user:
	movl	%edi, %eax
	incl	%eax
	imull	$KSTACK_SIZE, %eax
	leaq	kstacks(%rax), %rsp

	/*
	 * Every page of the boot map is a user page and the interrupt handlers live on them: SMEP would
	 * fault their execution and SMAP their data accesses at CPL0 (SDM Vol. 3A 4.6.1).
	 */
	movq	%cr4, %rax
	andq	$~0x300000, %rax
	movq	%rax, %cr4

	/* This CPU's TSS: RSP0 = the kernel stack, IST1 = its own small stack, no I/O bitmap. */
	movl	%edi, %eax
	imull	$TSS_STRIDE, %eax
	leaq	tss_array(%rax), %rdx
	movq	%rsp, TSS_RSP0(%rdx)
	movl	%edi, %eax
	incl	%eax
	imull	$ISTACK_SIZE, %eax
	leaq	istacks(%rax), %rcx
	movq	%rcx, TSS_IST1(%rdx)
	movw	$TSS_SIZE, TSS_IOMAP(%rdx)

	/*
	 * 64-bit available-TSS descriptor (SDM Vol. 3A 8.2.3): limit[15:0], base[23:0] at bits 16-39,
	 * type 0x89 (present, 64-bit TSS) at 40-47, base[31:24] at 56-63, base[63:32] in the second qword.
	 */
	movq	%rdx, %rax
	shlq	$16, %rax
	movabsq	$0xffffff0000, %rcx
	andq	%rcx, %rax
	orq	$(TSS_SIZE - 1), %rax
	movabsq	$0x890000000000, %rcx
	orq	%rcx, %rax
	movq	%rdx, %rcx
	shrq	$24, %rcx
	movzbl	%cl, %ecx
	shlq	$56, %rcx
	orq	%rcx, %rax
	movl	%edi, %ecx
	shll	$4, %ecx
	movq	%rax, gdt + SEL_TSS0(%rcx)
	shrq	$32, %rdx
	movq	%rdx, gdt + SEL_TSS0 + 8(%rcx)

	lgdt	gdt_desc
	pushq	$SEL_KCODE
	pushq	$1f
	lretq
1:	movl	$SEL_KDATA, %eax
	movl	%eax, %ss
	xorl	%eax, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %fs
	movl	%eax, %gs
	leal	SEL_TSS0(%rcx), %eax
	ltr	%ax
	lidt	idt_desc

	/*
	 * CPL3: user stack of this CPU, a zero return address. Interrupts are on (PVM forces IF=1 in user
	 * mode anyway): nothing raises one before the program has filled the IDT and routed a source.
	 */
	movl	%edi, %eax
	incl	%eax
	imull	$USTACK_SIZE, %eax
	leaq	ustacks - 8(%rax), %rcx
	movq	$0, (%rcx)
	pushq	$SEL_UDATA
	pushq	%rcx
	pushq	$USER_RFLAGS
	pushq	$SEL_UCODE
	pushq	%rsi
	iretq

	.data
	.balign 16
	.global gdt
gdt:
	.quad	0
	.quad	0x00af9a000000ffff		/* 0x08 kernel code: 64-bit, DPL 0 */
	.quad	0x00cf92000000ffff		/* 0x10 kernel data */
	.quad	0x00cff2000000ffff		/* 0x18 user data: DPL 3 */
	.quad	0x00affa000000ffff		/* 0x20 user code: 64-bit, DPL 3 */
	.fill	2 * GUEST_MAX_CPUS, 8, 0	/* 0x28 + 16 * n: TSS of CPU n */
gdt_end:
	.balign 16
	.word	0
gdt_desc:
	.word	gdt_end - gdt - 1
	.quad	gdt
	.balign 16
	.word	0
	.global idt_desc
idt_desc:
	.word	256 * 16 - 1
	.quad	idt

	.global boot_params_addr, boot_cr3
	.balign 8
boot_params_addr:
	.quad	0
boot_cr3:
	.quad	0

	.bss
	.balign 4096
	.global idt
idt:
	.skip	256 * 16
	.global tss_array
tss_array:
	.skip	GUEST_MAX_CPUS * TSS_STRIDE
	.balign 4096
	.global kstacks, kstacks_end
kstacks:
	.skip	GUEST_MAX_CPUS * KSTACK_SIZE
kstacks_end:
	.global istacks
istacks:
	.skip	GUEST_MAX_CPUS * ISTACK_SIZE
	.balign USTACK_SIZE
	.global ustacks, ustacks_end
ustacks:
	.skip	GUEST_MAX_CPUS * USTACK_SIZE
ustacks_end:

	.section .note.GNU-stack, "", @progbits
