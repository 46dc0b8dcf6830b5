/*
 * Constants shared by the assembly start-up code and C: selectors of the runtime's own GDT, per-CPU
 * stack sizes, vectors. Included from .S files too, so only #defines outside the __ASSEMBLER__ block.
 */
#ifndef GUEST_ARCH_H
#define GUEST_ARCH_H

#define GUEST_MAX_CPUS		288	/* = VMM_MAX_CPUS (more than 64 only in x2APIC mode) */

/* GDT: null, kernel code, kernel data, user data, user code, then one 16-byte TSS descriptor per CPU. */
#define SEL_KCODE		0x08
#define SEL_KDATA		0x10
#define SEL_UDATA		0x1b	/* index 3, RPL 3 */
#define SEL_UCODE		0x23	/* index 4, RPL 3 */
#define SEL_TSS0		0x28
#define GDT_ENTRIES		(5 + 2 * GUEST_MAX_CPUS)

/* 64-bit TSS (SDM Vol. 3A 8.7 "Task Management in 64-bit Mode"): 104 bytes, kept at a 128-byte stride. */
#define TSS_SIZE		104
#define TSS_STRIDE		128
#define TSS_RSP0		4
#define TSS_IST1		36
#define TSS_IOMAP		102

/*
 * Per-CPU stacks. The user stack is USTACK_SIZE-aligned and its lowest bytes hold that CPU's struct
 * percpu, so CPL3 code finds its CPU from RSP without a privileged instruction.
 */
#define KSTACK_SIZE		8192	/* CPL0: interrupts and the gate */
#define ISTACK_SIZE		4096	/* IST1: #DF and NMI, so a broken kernel stack still gets reported */
#define USTACK_SIZE		32768	/* CPL3: main() and AP functions */

/*
 * RFLAGS for CPL3: IF, IOPL=3, reserved bit 1. On PVM the guest's user mode always runs with IF=1 and
 * IOPL=0 whatever we ask (Documentation/virt/kvm/x86/pvm-spec.rst, "eflags is sanitized"), so port I/O
 * from CPL3 goes through the gate there; on hardware KVM IOPL=3 lets it run directly.
 */
#define USER_RFLAGS		0x3202

/*
 * The privileged-operation gate: int $4, a DPL 3 gate on vector 4 (#OF). PVM lets user mode execute only
 * int 3, int 4 and int 0x80 (pvm-spec.rst, "INT n"), and this host's PVM turns int 0x80 from a non-PVM
 * guest into #UD; #OF itself cannot happen in 64-bit mode, where INTO is invalid.
 */
#define VEC_GATE		4
#define VEC_SPURIOUS		0xff

/* The AP start-up trampoline (real mode, SIPI vector = TRAMP_BASE >> 12); see vmm/layout.h. */
#define TRAMP_BASE		0x1000

/* Gate operations (RAX), see gate.h. */
#define SYS_WAIT		0	/* sleep (sti; hlt) unless *(u32 *)rdi != esi */
#define SYS_RDMSR		1
#define SYS_WRMSR		2
#define SYS_INVLPG		3
#define SYS_READ_CR		4	/* rdi = 0, 2, 3, 4 */
#define SYS_WRITE_CR		5
#define SYS_STOP		6	/* cli; hlt forever */
#define SYS_INB			7	/* rdi = port */
#define SYS_INW			8
#define SYS_INL			9
#define SYS_OUTB		10	/* rdi = port, rsi = value */
#define SYS_OUTW		11
#define SYS_OUTL		12
#define SYS_OUTSB		13	/* rdi = port, rsi = buffer, rdx = count: rep outsb */
#define SYS_CPUID		14	/* rdi = leaf, rsi = subleaf: rax = ebx:eax, rdx = edx:ecx */
#define SYS_NR			15

#endif
