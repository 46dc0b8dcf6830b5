/*
 * DMA Remapping Reporting table (Intel VT-d specification chapter 8; design/vtd-iommufd.md §7):
 * one remapping unit (DRHD) at cfg->dmar_base covering the IOAPIC and the PCI endpoints listed in
 * cfg->scopes[]. Modelled on QEMU's build_dmar_q35 (§7.2).
 */
#include "acpi/acpi_internal.h"

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
	 * INTR_REMAP exactly when the unit remaps interrupts (ECAP.IR). X2APIC_OPT_OUT stays clear so
	 * that Linux may use x2APIC mode with it, and DMA_CTRL_PLATFORM_OPT_IN too, as in QEMU (§7.2).
	 */
	d->flags = cfg->intr_remap ? ACPI_DMAR_INTR_REMAP : 0;

	drhd = (struct acpi_dmar_drhd *)(d + 1);
	drhd->type = ACPI_DMAR_TYPE_DRHD;
	drhd->length = drhd_len;
	drhd->flags = 0;		/* explicit scopes, not INCLUDE_PCI_ALL */
	drhd->size = 0;			/* one 4 KiB register page */
	drhd->segment = 0;
	drhd->address = cfg->dmar_base;

	/*
	 * The IOAPIC scope matters for interrupt remapping: Linux reads IOAPIC scopes in
	 * ir_parse_ioapic_hpet_scope (INTR_REMAP set) and gives up on IR unless every MADT IOAPIC is
	 * listed (enumeration ID = IOAPIC ID, §7.3); the path is its source-id, which the guest puts
	 * in the IRTEs of IOAPIC interrupts for verification. Without IR Linux ignores it.
	 */
	s = (struct acpi_dmar_scope *)(drhd + 1);
	dmar__scope(s++, ACPI_DMAR_SCOPE_IOAPIC, cfg->ioapic_id, cfg->ioapic_sid >> 8, cfg->ioapic_sid & 0xFF);
	for (int i = 0; i < cfg->nr_scopes; i++)
		dmar__scope(s++, ACPI_DMAR_SCOPE_PCI_ENDPOINT, 0, cfg->scopes[i] >> 8, cfg->scopes[i] & 0xFF);

	acpi__checksum(&d->h);
	return acpi__gpa(b, d);
}
