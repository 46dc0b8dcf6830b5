/*
 * PCI Express memory-mapped configuration space (PCI Firmware Specification 3.3, 4.1.2): one ECAM
 * allocation for segment 0, buses 0..ecam_last_bus. Linux only trusts it if the DSDT also reserves
 * the range in a motherboard-resource device (see dsdt.c).
 */
#include "acpi/acpi_internal.h"

uint64_t acpi__build_mcfg(struct acpi_builder *b, const struct acpi_config *cfg)
{
	uint32_t len = sizeof(struct acpi_mcfg) + sizeof(struct acpi_mcfg_alloc);
	struct acpi_mcfg *m = acpi__alloc(b, len, 16);
	struct acpi_mcfg_alloc *alloc;

	if (!m)
		return 0;
	acpi__header(&m->h, "MCFG", 1, len);
	alloc = (struct acpi_mcfg_alloc *)(m + 1);
	alloc->base = cfg->ecam_base;
	alloc->segment = 0;
	alloc->start_bus = 0;
	alloc->end_bus = cfg->ecam_last_bus;
	acpi__checksum(&m->h);
	return acpi__gpa(b, m);
}
