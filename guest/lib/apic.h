/*
 * Local APIC in xAPIC mode (MMIO at platform.lapic_base, SDM Vol. 3A chapter 11) and the IOAPIC
 * (82093AA data sheet: IOREGSEL at +0, IOWIN at +0x10). Both are plain MMIO, so CPL3 code drives them.
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

uint32_t lapic__read(uint32_t reg);
void lapic__write(uint32_t reg, uint32_t v);
/* Software-enable this CPU's LAPIC (SVR, spurious vector 0xff), TPR 0, LINT0 masked. */
void lapic__init(void);
uint32_t lapic__id(void);
void lapic__eoi(void);
/* Write the ICR (high first: the low write sends) and wait for the delivery status to clear. */
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
