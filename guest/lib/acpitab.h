/*
 * Reading the ACPI tables minivmm built: RSDP -> XSDT -> tables by signature, with checksums
 * (ACPI 6.5 5.2 "ACPI System Description Tables"), and decoders for MADT, MCFG, FADT and DMAR.
 */
#ifndef GUEST_ACPITAB_H
#define GUEST_ACPITAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct acpi_sdt {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __attribute__((packed));

/* Sum of @len bytes is 0 mod 256. */
bool acpi__checksum_ok(const void *p, size_t len);
/*
 * Validate the RSDP at @rsdp (signature, both checksums, revision >= 2) and the XSDT. Returns 0, or -1
 * and a reason in @err.
 */
int acpi__init(uint64_t rsdp, const char **err);
int acpi__nr_tables(void);
/* XSDT entry @i, or NULL if it points outside 0-4 GiB or is shorter than a header. */
const struct acpi_sdt *acpi__table(int i);
/* The first table with @sig ("APIC", "MCFG", "FACP", "DMAR"...), or NULL. */
const struct acpi_sdt *acpi__find(const char *sig);
uint64_t acpi__xsdt_addr(void);

/* MADT: enabled processor LAPIC IDs (types 0 and 9), and the first IOAPIC. Returns the CPU count. */
int acpi__madt_cpus(uint32_t *apic_ids, int max);
bool acpi__madt_ioapic(uint8_t *id, uint32_t *addr, uint32_t *gsi_base);
uint32_t acpi__madt_lapic_addr(void);

/* MCFG: the allocation for segment 0. */
bool acpi__mcfg(uint64_t *base, uint8_t *bus_start, uint8_t *bus_end);

/* FADT fields (ACPI 6.5 table 5.9); 0 when the table is too short to hold them. */
struct acpi_fadt_info {
	uint32_t pm1a_evt, pm1a_cnt, pm_tmr;
	uint16_t sci_int;
	uint32_t flags;
	uint64_t dsdt;		/* X_DSDT, or DSDT when X_DSDT is 0 */
	uint8_t reset_space;	/* RESET_REG address space (1 = system I/O) */
	uint64_t reset_addr;
	uint8_t reset_value;
};
bool acpi__fadt(struct acpi_fadt_info *out);

/* DMAR (Intel VT-d spec 8 "BIOS Considerations"): header fields and the DRHD units with their scopes. */
#define ACPI_DMAR_MAX_UNITS	4
#define ACPI_DMAR_MAX_SCOPES	32
struct acpi_dmar_scope {
	uint8_t type;		/* 1 PCI endpoint, 2 PCI sub-hierarchy, 3 IOAPIC, 4 HPET, 5 ACPI device */
	uint8_t enum_id;
	uint8_t bus;
	uint8_t dev, fn;	/* first path entry */
	uint8_t path_len;	/* number of (dev, fn) pairs */
};
struct acpi_dmar_unit {
	uint8_t flags;		/* bit 0 INCLUDE_PCI_ALL */
	uint16_t segment;
	uint64_t base;
	int nr_scopes;
	struct acpi_dmar_scope scopes[ACPI_DMAR_MAX_SCOPES];
};
struct acpi_dmar_info {
	uint8_t haw;		/* host address width - 1, as stored */
	uint8_t flags;
	int nr_units;
	struct acpi_dmar_unit units[ACPI_DMAR_MAX_UNITS];
	int nr_other;		/* remapping structures other than DRHD */
};
/* Decode the DMAR. Returns 0, or -1 with a reason in @err (bad structure length, truncated, ...). */
int acpi__dmar(struct acpi_dmar_info *out, const char **err);

#endif
