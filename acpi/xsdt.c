/*
 * Extended System Description Table (ACPI 6.5 5.2.8): 64-bit pointers to every table but the DSDT
 * and the FACS, which the FADT points at.
 */
#include "acpi/acpi_internal.h"

uint64_t acpi__build_xsdt(struct acpi_builder *b, const uint64_t *tables, int n)
{
	uint32_t len = sizeof(struct acpi_xsdt) + n * sizeof(uint64_t);
	struct acpi_xsdt *x = acpi__alloc(b, len, 16);

	if (!x)
		return 0;
	acpi__header(&x->h, "XSDT", 1, len);
	for (int i = 0; i < n; i++)
		x->entry[i] = tables[i];
	acpi__checksum(&x->h);
	return acpi__gpa(b, x);
}
