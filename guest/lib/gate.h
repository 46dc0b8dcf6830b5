/*
 * The int $4 gate (entry.S, VEC_GATE in arch.h): how CPL3 code gets the few privileged things it needs. RAX = operation
 * (SYS_* in arch.h), RDI/RSI/RDX = arguments, result in RAX. Callable from CPL0 too.
 */
#ifndef GUEST_GATE_H
#define GUEST_GATE_H

#include <stdint.h>

#include "arch.h"

static inline uint64_t sys__call(uint64_t op, uint64_t a, uint64_t b)
{
	uint64_t ret;

	asm volatile("int $4" : "=a"(ret) : "a"(op), "D"(a), "S"(b) : "rcx", "rdx", "memory");
	return ret;
}

/* Sleep until the next interrupt, unless *p already differs from @old (no lost wake-up). */
static inline void sys__wait(const volatile uint32_t *p, uint32_t old)
{
	sys__call(SYS_WAIT, (uint64_t)(uintptr_t)p, old);
}

static inline uint64_t sys__rdmsr(uint32_t msr)
{
	return sys__call(SYS_RDMSR, msr, 0);
}

static inline void sys__wrmsr(uint32_t msr, uint64_t v)
{
	sys__call(SYS_WRMSR, msr, v);
}

static inline void sys__invlpg(uint64_t addr)
{
	sys__call(SYS_INVLPG, addr, 0);
}

static inline uint64_t sys__read_cr(unsigned n)
{
	return sys__call(SYS_READ_CR, n, 0);
}

static inline void sys__write_cr(unsigned n, uint64_t v)
{
	sys__call(SYS_WRITE_CR, n, v);
}

/* Stop this CPU for good (cli; hlt). */
static inline __attribute__((noreturn)) void sys__stop(void)
{
	sys__call(SYS_STOP, 0, 0);
	__builtin_unreachable();
}

/* rep outsb of @n bytes to @port, in one gate call (and one VM exit for the whole string on KVM). */
static inline void sys__outsb(uint16_t port, const void *buf, uint64_t n)
{
	uint64_t ret;

	asm volatile("int $4" : "=a"(ret), "+S"(buf), "+d"(n) : "a"((uint64_t)SYS_OUTSB), "D"((uint64_t)port)
		     : "rcx", "memory");
}

#endif
