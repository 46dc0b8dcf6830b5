/*
 * Port I/O, MMIO and small CPU helpers for guest programs. main() runs at CPL3; privileged
 * instructions go through the gate (gate.h).
 */
#ifndef GUEST_IO_H
#define GUEST_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gate.h"

/*
 * Port I/O. CPL3 code may use in/out only when RFLAGS.IOPL is 3, which PVM never grants (see arch.h):
 * there, and whenever the runtime found IOPL < 3 at start-up, CPL3 goes through the gate. CPL0 code
 * (handlers) always uses the instructions.
 */
extern bool io_direct;	/* runtime.c: IOPL 3 held at CPL3 */

static inline bool io__use_insn(void)
{
	uint16_t cs;

	if (io_direct)
		return true;
	asm volatile("mov %%cs, %0" : "=r"(cs));
	return !(cs & 3);
}

static inline void outb(uint16_t port, uint8_t v)
{
	if (io__use_insn())
		asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
	else
		sys__call(SYS_OUTB, port, v);
}

static inline void outw(uint16_t port, uint16_t v)
{
	if (io__use_insn())
		asm volatile("outw %0, %1" : : "a"(v), "Nd"(port));
	else
		sys__call(SYS_OUTW, port, v);
}

static inline void outl(uint16_t port, uint32_t v)
{
	if (io__use_insn())
		asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
	else
		sys__call(SYS_OUTL, port, v);
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	if (!io__use_insn())
		return sys__call(SYS_INB, port, 0);
	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	if (!io__use_insn())
		return sys__call(SYS_INW, port, 0);
	asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	if (!io__use_insn())
		return sys__call(SYS_INL, port, 0);
	asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* rep outsb: one instruction (and one VM exit) for the whole string. */
static inline void outsb(uint16_t port, const void *buf, size_t n)
{
	if (io__use_insn())
		asm volatile("rep outsb" : "+S"(buf), "+c"(n) : "d"(port) : "memory");
	else
		sys__outsb(port, buf, n);
}

/* MMIO: one access of exactly the named width (the VMM decodes the instruction). */
static inline uint8_t mmio_read8(uint64_t addr)
{
	return *(volatile uint8_t *)addr;
}

static inline uint16_t mmio_read16(uint64_t addr)
{
	return *(volatile uint16_t *)addr;
}

static inline uint32_t mmio_read32(uint64_t addr)
{
	return *(volatile uint32_t *)addr;
}

static inline uint64_t mmio_read64(uint64_t addr)
{
	return *(volatile uint64_t *)addr;
}

static inline void mmio_write8(uint64_t addr, uint8_t v)
{
	*(volatile uint8_t *)addr = v;
}

static inline void mmio_write16(uint64_t addr, uint16_t v)
{
	*(volatile uint16_t *)addr = v;
}

static inline void mmio_write32(uint64_t addr, uint32_t v)
{
	*(volatile uint32_t *)addr = v;
}

static inline void mmio_write64(uint64_t addr, uint64_t v)
{
	*(volatile uint64_t *)addr = v;
}

#define barrier() asm volatile("" : : : "memory")
#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

static inline void cpu_relax(void)
{
	asm volatile("pause" : : : "memory");
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/*
 * CPUID as the vCPU has it. At CPL3 it goes through the gate: PVM runs CPL3 code natively, and there
 * CPUID answers with the host CPU's values (its APIC ID, its core count) instead of KVM's.
 */
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	uint16_t cs;
	uint64_t lo, hi;

	asm volatile("mov %%cs, %0" : "=r"(cs));
	if (!(cs & 3)) {
		asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
		return;
	}
	asm volatile("int $4" : "=a"(lo), "=d"(hi) : "a"((uint64_t)SYS_CPUID), "D"((uint64_t)leaf), "S"((uint64_t)sub)
		     : "rcx", "memory");
	*a = (uint32_t)lo;
	*b = lo >> 32;
	*c = (uint32_t)hi;
	*d = hi >> 32;
}

static inline uint64_t read_rflags(void)
{
	uint64_t f;

	asm volatile("pushfq; popq %0" : "=r"(f));
	return f;
}

/* Current privilege level, from the low bits of CS. */
static inline unsigned read_cpl(void)
{
	uint16_t cs;

	asm volatile("mov %%cs, %0" : "=r"(cs));
	return cs & 3;
}

static inline uint32_t be32(const void *p)
{
	const uint8_t *b = p;

	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static inline uint16_t get_le16(const void *p)
{
	const uint8_t *b = p;

	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t get_le32(const void *p)
{
	const uint8_t *b = p;

	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline uint64_t get_le64(const void *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32((const uint8_t *)p + 4) << 32;
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
