/*
 * Firmware ACPI Control Structure (ACPI 6.5 5.2.10). The brief for these tables did not ask for
 * one, but a FADT without HW_REDUCED_ACPI is expected to point at a FACS (FIRMWARE_CTRL, 5.2.9:
 * only hardware-reduced platforms may leave both FACS pointers 0). It carries the Global Lock and
 * the S3 waking vector; minivmm supports neither sleep states nor firmware SMI, so everything but
 * the signature and length stays 0: lock free, no S4BIOS, no 64-bit wake.
 */
#include <string.h>

#include "acpi/acpi_internal.h"

uint64_t acpi__build_facs(struct acpi_builder *b)
{
	struct acpi_facs *f = acpi__alloc(b, sizeof(*f), 64);	/* 64-byte aligned (5.2.10) */

	if (!f)
		return 0;
	memcpy(f->signature, "FACS", 4);
	f->length = sizeof(*f);
	f->version = 2;		/* ACPI 4.0+ layout (the one with OSPM flags) */
	return acpi__gpa(b, f);
}
