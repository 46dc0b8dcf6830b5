/*
 * Local APIC (SDM Vol. 3A chapter 11) and the IOAPIC (82093AA data sheet: IOREGSEL at +0, IOWIN at +0x10).
 * The LAPIC starts in xAPIC mode (MMIO at platform.lapic_base, which CPL3 code drives directly); after
 * lapic__enable_x2apic() every CPU uses x2APIC mode (MSRs 0x800 + reg / 16, through the gate at CPL3),
 * with 32-bit APIC IDs and destinations. The register offsets below are the xAPIC ones in both modes.
 */
#ifndef GUEST_APIC_H
#define GUEST_APIC_H

#include <stdbool.h>
#include <stdint.h>

#define LAPIC_ID	0x020
#define LAPIC_VERSION	0x030
#define LAPIC_TPR	0x080
#define LAPIC_EOI	0x0b0
#define LAPIC_SVR	0x0f0
#define LAPIC_ESR	0x280
#define LAPIC_ICR_LO	0x300
#define LAPIC_ICR_HI	0x310
#define LAPIC_LVT_TIMER	0x320
#define LAPIC_LVT_LINT0	0x350
#define LAPIC_LVT_LINT1	0x360
#define LAPIC_LVT_ERROR	0x370
#define LAPIC_TIMER_ICR	0x380
#define LAPIC_TIMER_CCR	0x390
#define LAPIC_TIMER_DCR	0x3e0

#define LAPIC_LVT_MASKED	(1u << 16)
#define ICR_FIXED		(0u << 8)
#define ICR_NMI			(4u << 8)
#define ICR_INIT		(5u << 8)
#define ICR_STARTUP		(6u << 8)
#define ICR_PENDING		(1u << 12)	/* delivery status */
#define ICR_ASSERT		(1u << 14)
#define ICR_LEVEL		(1u << 15)
#define ICR_SELF		(1u << 18)	/* destination shorthand 01 */
#define ICR_ALL_BUT_SELF	(3u << 18)

#define MSR_APIC_BASE		0x1b
#define APIC_BASE_EN		(1u << 11)
#define APIC_BASE_EXTD		(1u << 10)	/* x2APIC mode */
#define MSR_X2APIC_BASE		0x800

uint32_t lapic__read(uint32_t reg);
void lapic__write(uint32_t reg, uint32_t v);
/* Software-enable this CPU's LAPIC (SVR, spurious vector 0xff), TPR 0, LINT0 masked. */
void lapic__init(void);
/*
 * Switch this CPU to x2APIC mode, and every CPU started afterwards (lapic__init). False if CPUID lacks
 * x2APIC. Call it on the BSP before smp__start_aps(): an AP with an APIC ID above 255 cannot be named
 * by an xAPIC ICR.
 */
bool lapic__enable_x2apic(void);
/* This CPU's APIC ID: 8 bits in xAPIC mode, 32 in x2APIC mode. */
uint32_t lapic__id(void);
void lapic__eoi(void);
/*
 * Send an IPI: xAPIC: the ICR high then low half (the low write sends), then wait for the delivery
 * status to clear; x2APIC: one 64-bit ICR write, destination in bits 63:32 (no delivery status).
 */
void lapic__send_icr(uint32_t dest_apic_id, uint32_t low);
void lapic__send_ipi(uint32_t dest_apic_id, uint8_t vector);
void lapic__self_ipi(uint8_t vector);
/* One-shot or periodic timer at @vector, divide-by-1, @count bus cycles; count 0 stops it. */
void lapic__timer(uint8_t vector, uint32_t count, bool periodic);

uint32_t ioapic__read(uint32_t reg);
void ioapic__write(uint32_t reg, uint32_t v);
unsigned ioapic__nr_pins(void);
uint64_t ioapic__get_entry(unsigned pin);
void ioapic__set_entry(unsigned pin, uint64_t e);
/* Fixed delivery, physical destination @apic_id, unmasked. */
void ioapic__route(unsigned pin, uint8_t vector, uint32_t apic_id, bool level, bool active_low);
void ioapic__mask(unsigned pin, bool masked);

#endif
