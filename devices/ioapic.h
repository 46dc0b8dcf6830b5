/*
 * The IOAPIC in userspace (82093AA register set, version 0x20 with the EOI register), for the split
 * irqchip that interrupt remapping needs: KVM keeps the local APICs, and every IOAPIC interrupt becomes
 * a message from source-id IOAPIC_SID that goes through the vIOMMU's remapping like a device's MSI.
 * A redirection entry in remappable format (bit 48) carries an interrupt index instead of a destination
 * (VT-d §5.1.5.1).
 */
#ifndef MINIVMM_DEVICES_IOAPIC_H
#define MINIVMM_DEVICES_IOAPIC_H

#include <stdint.h>

struct vm;
struct ioapic;

/* At LAYOUT_IOAPIC_BASE, IOAPIC_PINS inputs, ID IOAPIC_ID; takes vm's lines and EOIs (vmm/irq.h). */
struct ioapic *ioapic__init(struct vm *vm);
void ioapic__exit(struct ioapic *io);

/* The redirection entry of @pin, for tests. */
uint64_t ioapic__rte(struct ioapic *io, unsigned pin);

#endif
