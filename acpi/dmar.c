/*
 * DMA Remapping Reporting table (Intel VT-d specification chapter 8; design/vtd-iommufd.md §7):
 * one remapping unit (DRHD) at cfg->dmar_base covering the IOAPIC and the PCI endpoints listed in
 * cfg->scopes[]. Modelled on QEMU's build_dmar_q35 (§7.2).
 */
#include "acpi/acpi_internal.h"

/* The IOAPIC's source-id on the PCI side: bus 0xFF, device 0, function 0 (as QEMU, §7.2). */
#define DMAR_IOAPIC_BUS		0xFF
#define DMAR_IOAPIC_DEVFN	0x00

static void dmar__scope(struct acpi_dmar_scope *s, uint8_t type, uint8_t enum_id, uint8_t bus,
			uint8_t devfn)
{
	s->type = type;
	s->length = sizeof(*s);		/* 6 + one 2-byte path entry */
	s->enumeration_id = enum_id;
	s->start_bus = bus;
	s->dev = devfn >> 3;
	s->fn = devfn & 7;
}

uint64_t acpi__build_dmar(struct acpi_builder *b, const struct acpi_config *cfg)
{
	size_t drhd_len = sizeof(struct acpi_dmar_drhd) + (1 + cfg->nr_scopes) * sizeof(struct acpi_dmar_scope);
	uint32_t len = sizeof(struct acpi_dmar) + drhd_len;
	struct acpi_dmar *d = acpi__alloc(b, len, 16);
	struct acpi_dmar_drhd *drhd;
	struct acpi_dmar_scope *s;

	if (!d)
		return 0;
	acpi__header(&d->h, "DMAR", 1, len);
	d->haw = cfg->haw - 1;
	/*
	 * Flags 0. INTR_REMAP would announce that the platform supports interrupt remapping, but
	 * minivmm's VT-d unit does not emulate it (ECAP.IR = 0), so keep the table truthful: Linux
	 * then does not attempt IR at all. X2APIC_OPT_OUT and DMA_CTRL_PLATFORM_OPT_IN are clear
	 * as in QEMU (§7.2).
	 */
	d->flags = 0;

	drhd = (struct acpi_dmar_drhd *)(d + 1);
	drhd->type = ACPI_DMAR_TYPE_DRHD;
	drhd->length = drhd_len;
	drhd->flags = 0;		/* explicit scopes, not INCLUDE_PCI_ALL */
	drhd->size = 0;			/* one 4 KiB register page */
	drhd->segment = 0;
	drhd->address = cfg->dmar_base;

	/*
	 * The IOAPIC scope only matters for interrupt remapping: Linux reads IOAPIC scopes in
	 * ir_parse_ioapic_hpet_scope, which runs only when INTR_REMAP is set, and the DMA side
	 * (dmar_alloc_dev_scope) counts only PCI endpoint/bridge and namespace scopes. So without
	 * IR it is ignored; it is kept so that the table already has the shape IR will need (every
	 * MADT IOAPIC listed, enumeration ID = IOAPIC ID, §7.3) and matches QEMU's.
	 */
	s = (struct acpi_dmar_scope *)(drhd + 1);
	dmar__scope(s++, ACPI_DMAR_SCOPE_IOAPIC, cfg->ioapic_id, DMAR_IOAPIC_BUS, DMAR_IOAPIC_DEVFN);
	for (int i = 0; i < cfg->nr_scopes; i++)
		dmar__scope(s++, ACPI_DMAR_SCOPE_PCI_ENDPOINT, 0, cfg->scopes[i] >> 8, cfg->scopes[i] & 0xFF);

	acpi__checksum(&d->h);
	return acpi__gpa(b, d);
}
