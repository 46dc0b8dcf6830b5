/*
 * Multiple APIC Description Table (ACPI 6.5 5.2.12), revision 5 layout (ACPI 6.2+; the entries
 * used here have not changed since ACPI 1.0).
 *
 * One enabled Processor Local APIC per vCPU (APIC ID = ACPI processor UID = vCPU index; the DSDT's
 * ACPI0007 devices carry the same _UID), as a Processor Local x2APIC entry from APIC ID 255 on, the IOAPIC with GSIs 0..pins-1, the two ISA interrupt
 * source overrides a PC needs, and LINT1 as NMI on every processor.
 */
#include <string.h>

#include "acpi/acpi_internal.h"

#define MADT_NR_OVERRIDES	2

uint64_t acpi__build_madt(struct acpi_builder *b, const struct acpi_config *cfg)
{
	int nx = cfg->ncpus > ACPI_MADT_FIRST_X2APIC_ID ? cfg->ncpus - ACPI_MADT_FIRST_X2APIC_ID : 0;
	uint32_t len = sizeof(struct acpi_madt) + (cfg->ncpus - nx) * sizeof(struct acpi_madt_lapic) +
		       nx * sizeof(struct acpi_madt_x2apic) + sizeof(struct acpi_madt_ioapic) +
		       MADT_NR_OVERRIDES * sizeof(struct acpi_madt_int_src_ovr) +
		       sizeof(struct acpi_madt_lapic_nmi) + (nx ? sizeof(struct acpi_madt_x2apic_nmi) : 0);
	struct acpi_madt *m = acpi__alloc(b, len, 16);
	struct acpi_madt_int_src_ovr *ovr;
	struct acpi_madt_lapic_nmi *nmi;
	struct acpi_madt_x2apic_nmi *xnmi;
	struct acpi_madt_x2apic *x2;
	struct acpi_madt_ioapic *io;
	struct acpi_madt_lapic *lapic;

	if (!m)
		return 0;
	acpi__header(&m->h, "APIC", 5, len);
	m->lapic_address = cfg->lapic_addr;
	/*
	 * PCAT_COMPAT: KVM's in-kernel irqchip has the dual 8259; Linux masks it for the IOAPIC. The
	 * split irqchip (interrupt remapping) has none.
	 */
	m->flags = cfg->no_pic ? 0 : ACPI_MADT_PCAT_COMPAT;

	lapic = (struct acpi_madt_lapic *)(m + 1);
	for (int i = 0; i < cfg->ncpus - nx; i++, lapic++) {
		lapic->sub.type = ACPI_MADT_TYPE_LAPIC;
		lapic->sub.length = sizeof(*lapic);
		lapic->processor_uid = i;
		lapic->apic_id = i;
		lapic->flags = ACPI_MADT_LAPIC_ENABLED;
	}
	/* APIC IDs from 255 on (ACPI 6.5 5.2.12.12; Linux ignores x2APIC entries below 255). */
	x2 = (struct acpi_madt_x2apic *)lapic;
	for (int i = ACPI_MADT_FIRST_X2APIC_ID; i < cfg->ncpus; i++, x2++) {
		x2->sub.type = ACPI_MADT_TYPE_X2APIC;
		x2->sub.length = sizeof(*x2);
		x2->reserved = 0;
		x2->x2apic_id = i;
		x2->flags = ACPI_MADT_LAPIC_ENABLED;
		x2->processor_uid = i;
	}

	io = (struct acpi_madt_ioapic *)x2;
	io->sub.type = ACPI_MADT_TYPE_IOAPIC;
	io->sub.length = sizeof(*io);
	io->ioapic_id = cfg->ioapic_id;
	io->address = cfg->ioapic_addr;
	io->gsi_base = 0;

	/*
	 * ISA IRQ 0 (the PIT) arrives at IOAPIC pin 2, as on PCs where pin 0 carries the 8259's
	 * ExtINT: edge, active high (the ISA defaults, spelled out). This is not KVM's default
	 * routing (KVM_CREATE_IRQCHIP sends GSI n to IOAPIC pin n, so the PIT's GSI 0 would reach
	 * pin 0): vmm/irq.c installs GSI 0 -> pin 2 and no IOAPIC route for GSI 2, as QEMU and
	 * kvmtool do, to match this override. tests/guest/pit.c checks the two agree.
	 */
	ovr = (struct acpi_madt_int_src_ovr *)(io + 1);
	ovr->sub.type = ACPI_MADT_TYPE_INT_SRC_OVR;
	ovr->sub.length = sizeof(*ovr);
	ovr->bus = 0;
	ovr->source = 0;
	ovr->gsi = 2;
	ovr->flags = ACPI_MPS_POLARITY_HIGH | ACPI_MPS_TRIGGER_EDGE;
	ovr++;
	/*
	 * The SCI: identity-mapped, but level-triggered active-high. Without an override Linux
	 * would program the SCI pin level/active-low (the ACPI default for the SCI), which does
	 * not match minivmm's IOAPIC input.
	 */
	ovr->sub.type = ACPI_MADT_TYPE_INT_SRC_OVR;
	ovr->sub.length = sizeof(*ovr);
	ovr->bus = 0;
	ovr->source = cfg->sci_irq;
	ovr->gsi = cfg->sci_irq;
	ovr->flags = ACPI_MPS_POLARITY_HIGH | ACPI_MPS_TRIGGER_LEVEL;
	ovr++;

	/* LINT1 of every local APIC (UID 0xFF = all) is the NMI input; conforming polarity/trigger. */
	nmi = (struct acpi_madt_lapic_nmi *)ovr;
	nmi->sub.type = ACPI_MADT_TYPE_LAPIC_NMI;
	nmi->sub.length = sizeof(*nmi);
	nmi->processor_uid = 0xFF;
	nmi->flags = ACPI_MPS_POLARITY_CONFORMS | ACPI_MPS_TRIGGER_CONFORMS;
	nmi->lint = 1;
	if (nx) {
		xnmi = (struct acpi_madt_x2apic_nmi *)(nmi + 1);
		xnmi->sub.type = ACPI_MADT_TYPE_X2APIC_NMI;
		xnmi->sub.length = sizeof(*xnmi);
		xnmi->flags = ACPI_MPS_POLARITY_CONFORMS | ACPI_MPS_TRIGGER_CONFORMS;
		xnmi->processor_uid = 0xFFFFFFFF;
		xnmi->lint = 1;
		memset(xnmi->reserved, 0, sizeof(xnmi->reserved));
	}

	acpi__checksum(&m->h);
	return acpi__gpa(b, m);
}
