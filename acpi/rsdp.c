/*
 * Root System Description Pointer (ACPI 6.5 5.2.5.3), revision 2. minivmm provides only the XSDT:
 * RsdtAddress is 0, which ACPI 2.0+ OSes ignore because revision >= 2 makes XsdtAddress valid
 * (Linux prefers the XSDT unless booted with acpi=rsdt).
 */
#include <string.h>

#include "acpi/acpi_internal.h"

void acpi__build_rsdp(struct acpi_rsdp *rsdp, uint64_t xsdt)
{
	memset(rsdp, 0, sizeof(*rsdp));
	memcpy(rsdp->signature, "RSD PTR ", 8);
	memcpy(rsdp->oem_id, ACPI_OEM_ID, 6);
	rsdp->revision = 2;
	rsdp->rsdt_address = 0;
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt_address = xsdt;
	/* The ACPI 1.0 checksum covers the first 20 bytes, the extended one all 36 (5.2.5.3). */
	rsdp->checksum = -acpi__sum(rsdp, ACPI_RSDP_V1_LEN);
	rsdp->extended_checksum = -acpi__sum(rsdp, sizeof(*rsdp));
}
