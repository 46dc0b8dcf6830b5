/*
 * Interrupts and exceptions. Handlers run at CPL0 (emulated on PVM: keep them short). CPL3 code always
 * runs with interrupts enabled: PVM forces IF=1 in user mode, and the runtime asks for it elsewhere.
 * Share data with handlers lock-free (single producer, single consumer) rather than with cli/sti.
 */
#ifndef GUEST_INTR_H
#define GUEST_INTR_H

#include <stdbool.h>
#include <stdint.h>

#include "arch.h"
#include "gate.h"

/* What intr_common (entry.S) pushed, lowest address first, then the CPU's own frame. */
struct intr_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;
};

/* Vectors the runtime uses (and VEC_GATE = 4). 32..0xef are free for programs. */
#define VEC_COM1	0x24	/* serial RX (IOAPIC pin of the uart node) */
#define VEC_WAKE	0xf0	/* smp.c: wake a parked AP */

/*
 * A handler gets the frame and its argument. For vectors >= 32 the dispatcher sends the LAPIC EOI after
 * it returns (not for VEC_SPURIOUS). A handler for an exception vector (< 32) takes the exception over:
 * it must change frame->rip (or fix the cause) before returning.
 */
typedef void (*intr_handler_t)(struct intr_frame *f, void *arg);

/* Fill the IDT (called by the runtime at start-up, at CPL3). */
void intr__init(void);
/* Register (or with fn == NULL remove) the handler of @vector. Returns 0, or -1 for VEC_GATE. */
int intr__register(unsigned vector, intr_handler_t fn, void *arg);
/* How many times @vector was taken (on any CPU). */
uint64_t intr__count(unsigned vector);
/* Called from entry.S. */
void intr__dispatch(struct intr_frame *f);

#endif
