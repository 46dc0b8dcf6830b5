/* LAPIC and IOAPIC access (see apic.h). */
#include "guest.h"

#define SVR_ENABLE	(1u << 8)
#define IOAPIC_REGSEL	0x00
#define IOAPIC_WIN	0x10
#define IOAPIC_VER	0x01
#define IOAPIC_REDTBL	0x10	/* entry n: 0x10 + 2n (low), 0x11 + 2n (high) */

#define X2APIC_ICR	(MSR_X2APIC_BASE + (LAPIC_ICR_LO >> 4))
#define CPUID1_ECX_X2APIC	(1u << 21)

static volatile bool x2apic_mode;	/* set once on the BSP, before the APs start */

/*
 * x2APIC registers are MSRs: CPL3 code goes through the gate, interrupt handlers (CPL0, lapic__eoi)
 * use the instruction itself, as PVM emulates no int $4 issued at CPL0.
 */
static uint64_t msr_read(uint32_t msr)
{
	uint32_t lo, hi;

	if (read_cpl())
		return sys__rdmsr(msr);
	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static void msr_write(uint32_t msr, uint64_t v)
{
	if (read_cpl())
		sys__wrmsr(msr, v);
	else
		asm volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

uint32_t lapic__read(uint32_t reg)
{
	if (x2apic_mode)
		return (uint32_t)msr_read(MSR_X2APIC_BASE + (reg >> 4));
	return mmio_read32(platform.lapic_base + reg);
}

void lapic__write(uint32_t reg, uint32_t v)
{
	if (x2apic_mode)
		msr_write(MSR_X2APIC_BASE + (reg >> 4), v);
	else
		mmio_write32(platform.lapic_base + reg, v);
}

/* xAPIC -> x2APIC on this CPU: EXTD set while EN stays set (SDM Vol. 3A 11.12.5 "x2APIC State Transitions"). */
static void lapic__x2apic_on(void)
{
	uint64_t base = msr_read(MSR_APIC_BASE);

	if (!(base & APIC_BASE_EXTD))
		msr_write(MSR_APIC_BASE, base | APIC_BASE_EN | APIC_BASE_EXTD);
}

bool lapic__enable_x2apic(void)
{
	uint32_t a, b, c, d;

	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & CPUID1_ECX_X2APIC))
		return false;
	lapic__x2apic_on();
	x2apic_mode = true;
	return true;
}

void lapic__init(void)
{
	if (!platform.lapic_base)
		return;
	if (x2apic_mode)
		lapic__x2apic_on();
	lapic__write(LAPIC_TPR, 0);
	lapic__write(LAPIC_LVT_LINT0, LAPIC_LVT_MASKED);
	lapic__write(LAPIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
}

uint32_t lapic__id(void)
{
	return x2apic_mode ? lapic__read(LAPIC_ID) : lapic__read(LAPIC_ID) >> 24;
}

void lapic__eoi(void)
{
	lapic__write(LAPIC_EOI, 0);
}

void lapic__send_icr(uint32_t dest, uint32_t low)
{
	if (x2apic_mode) {
		msr_write(X2APIC_ICR, (uint64_t)dest << 32 | low);
		return;
	}
	lapic__write(LAPIC_ICR_HI, dest << 24);
	lapic__write(LAPIC_ICR_LO, low);
	for (int i = 0; i < 100000 && (lapic__read(LAPIC_ICR_LO) & ICR_PENDING); i++)
		cpu_relax();
}

void lapic__send_ipi(uint32_t dest, uint8_t vector)
{
	lapic__send_icr(dest, ICR_FIXED | ICR_ASSERT | vector);
}

void lapic__self_ipi(uint8_t vector)
{
	lapic__send_icr(0, ICR_SELF | ICR_FIXED | ICR_ASSERT | vector);
}

void lapic__timer(uint8_t vector, uint32_t count, bool periodic)
{
	lapic__write(LAPIC_TIMER_ICR, 0);
	lapic__write(LAPIC_TIMER_DCR, 0xb);	/* divide by 1 */
	lapic__write(LAPIC_LVT_TIMER, vector | (periodic ? 1u << 17 : 0) | (count ? 0 : LAPIC_LVT_MASKED));
	lapic__write(LAPIC_TIMER_ICR, count);
}

/*
 * IOREGSEL/IOWIN is a two-step access; nothing here serializes CPUs, so programs configure the
 * IOAPIC from one CPU (the handlers never touch it).
 */
uint32_t ioapic__read(uint32_t reg)
{
	mmio_write32(platform.ioapic_base + IOAPIC_REGSEL, reg);
	return mmio_read32(platform.ioapic_base + IOAPIC_WIN);
}

void ioapic__write(uint32_t reg, uint32_t v)
{
	mmio_write32(platform.ioapic_base + IOAPIC_REGSEL, reg);
	mmio_write32(platform.ioapic_base + IOAPIC_WIN, v);
}

unsigned ioapic__nr_pins(void)
{
	return ((ioapic__read(IOAPIC_VER) >> 16) & 0xff) + 1;
}

uint64_t ioapic__get_entry(unsigned pin)
{
	uint64_t lo = ioapic__read(IOAPIC_REDTBL + 2 * pin);

	return (uint64_t)ioapic__read(IOAPIC_REDTBL + 2 * pin + 1) << 32 | lo;
}

void ioapic__set_entry(unsigned pin, uint64_t e)
{
	/* Mask first so the entry never fires half written. */
	ioapic__write(IOAPIC_REDTBL + 2 * pin, LAPIC_LVT_MASKED);
	ioapic__write(IOAPIC_REDTBL + 2 * pin + 1, e >> 32);
	ioapic__write(IOAPIC_REDTBL + 2 * pin, (uint32_t)e);
}

void ioapic__route(unsigned pin, uint8_t vector, uint32_t apic_id, bool level, bool active_low)
{
	uint64_t e = vector | (active_low ? 1u << 13 : 0) | (level ? 1u << 15 : 0) | (uint64_t)apic_id << 56;

	ioapic__set_entry(pin, e);
}

void ioapic__mask(unsigned pin, bool masked)
{
	uint32_t lo = ioapic__read(IOAPIC_REDTBL + 2 * pin);

	ioapic__write(IOAPIC_REDTBL + 2 * pin, masked ? lo | LAPIC_LVT_MASKED : lo & ~LAPIC_LVT_MASKED);
}
