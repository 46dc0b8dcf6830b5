/*
 * Shared by tests/unit/test_acpi.c (Tier 1) and tests/tools/acpi-dump.c: the machine's ACPI
 * configuration, the golden reference configurations, and a walker that finds every table from
 * the RSDP. A header (not a .c helper) so that the dump tool can use it without build changes.
 */
#ifndef MINIVMM_TESTS_ACPI_TEST_H
#define MINIVMM_TESTS_ACPI_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "acpi/acpi.h"
#include "vmm/layout.h"

/* The configuration minivmm's machine uses (vmm/layout.h), with @ncpus vCPUs and DMAR off. */
static inline void acpi_test__config(struct acpi_config *cfg, int ncpus)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ncpus = ncpus;
	cfg->lapic_addr = LAYOUT_LAPIC_BASE;
	cfg->ioapic_addr = LAYOUT_IOAPIC_BASE;
	cfg->ioapic_id = IOAPIC_ID;
	cfg->ioapic_sid = IOAPIC_SID;
	cfg->ecam_base = LAYOUT_PCI_ECAM_BASE;
	cfg->ecam_last_bus = LAYOUT_PCI_ECAM_SIZE / (1 << 20) - 1;
	cfg->mmio32_base = LAYOUT_PCI_MMIO32_BASE;
	cfg->mmio32_size = LAYOUT_PCI_MMIO32_SIZE;
	cfg->mmio64_base = LAYOUT_HIGHMEM_BASE;		/* no RAM above 4 GiB (--mem <= 3G) */
	cfg->mmio64_size = LAYOUT_PCI_MMIO64_SIZE;
	cfg->pio_base = PORT_PCI_IO_BASE;
	cfg->pio_size = PORT_PCI_IO_SIZE;
	cfg->pm_base = PORT_ACPI_PM_BASE;
	cfg->sci_irq = ACPI_SCI_IRQ;
	cfg->reset_port = PORT_RESET_CTRL;
	cfg->com1_port = PORT_COM1;
	cfg->com1_irq = IRQ_COM1;
	cfg->haw = 48;
	cfg->dmar_base = LAYOUT_VTD_BASE;
}

/*
 * Test configurations "A": 1 vCPU, DMAR off; "B": 4 vCPUs, DMAR on with 4 scopes, and values that
 * differ from the machine's everywhere (so that a hard-coded field shows up).
 */
static inline void acpi_test__config_a(struct acpi_config *cfg)
{
	acpi_test__config(cfg, 1);
}

static inline void acpi_test__config_b(struct acpi_config *cfg)
{
	static const uint16_t b_scopes[] = { 0x0008, 0x001A, 0x0100, 0x0AFF };

	acpi_test__config(cfg, 4);
	cfg->ioapic_id = 3;
	cfg->ecam_base = 0xB0000000;
	cfg->ecam_last_bus = 0x3F;
	cfg->pm_base = 0xB000;
	cfg->sci_irq = 10;
	cfg->reset_port = 0x0CF9;
	cfg->com1_port = 0x2F8;
	cfg->com1_irq = 3;
	cfg->dmar = true;
	cfg->intr_remap = true;		/* interrupt remapping: split irqchip, no 8259 */
	cfg->no_pic = true;
	cfg->ioapic_sid = 0xF0F8;
	cfg->haw = 39;
	cfg->dmar_base = 0xFED91000;
	cfg->nr_scopes = sizeof(b_scopes) / sizeof(b_scopes[0]);
	memcpy(cfg->scopes, b_scopes, sizeof(b_scopes));
}

/* The golden table sets in tests/golden/acpi/<name>/<SIG>.dat. */
struct acpi_golden {
	const char *name;
	int ncpus;
	bool dmar;
	int nr_scopes;
	uint16_t scopes[2];
};

static const struct acpi_golden acpi_goldens[] = {
	/* The reference: 2 vCPUs, VT-d on, endpoints 00:01.0 and 00:02.0. */
	{ "cpus2-dmar", 2, true, 2, { 0x01 << 3, 0x02 << 3 } },
	{ "cpus1-nodmar", 1, false, 0, { 0 } },
};
#define ACPI_NR_GOLDENS (int)(sizeof(acpi_goldens) / sizeof(acpi_goldens[0]))

static inline void acpi_test__golden_config(struct acpi_config *cfg, const struct acpi_golden *g)
{
	acpi_test__config(cfg, g->ncpus);
	cfg->dmar = g->dmar;
	/* As the machine: the vIOMMU remaps interrupts by default, on the split irqchip (no 8259). */
	cfg->intr_remap = cfg->no_pic = g->dmar;
	cfg->nr_scopes = g->nr_scopes;
	for (int i = 0; i < g->nr_scopes; i++)
		cfg->scopes[i] = g->scopes[i];
}

static inline const struct acpi_golden *acpi_test__golden(const char *name)
{
	for (int i = 0; i < ACPI_NR_GOLDENS; i++)
		if (!strcmp(acpi_goldens[i].name, name))
			return &acpi_goldens[i];
	return NULL;
}

/* One table found in a built buffer. */
struct acpi_test_table {
	char sig[5];		/* "RSDP" for the RSDP, else the header signature */
	const uint8_t *p;
	uint32_t len;
	uint64_t gpa;
};

#define ACPI_TEST_MAX_TABLES 16

static inline uint32_t acpi_test__le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t acpi_test__le64(const uint8_t *p)
{
	return acpi_test__le32(p) | (uint64_t)acpi_test__le32(p + 4) << 32;
}

/* A table at @gpa that lies inside the buffer, with a sane length (at least @min bytes). */
static inline bool acpi_test__add(struct acpi_test_table *t, int *n, const uint8_t *buf, uint64_t base,
				  size_t len, uint64_t gpa, uint32_t min)
{
	uint64_t off = gpa - base;
	uint32_t tlen;

	if (*n >= ACPI_TEST_MAX_TABLES || gpa < base || off > len || len - off < 8)
		return false;
	tlen = acpi_test__le32(buf + off + 4);
	if (tlen < min || tlen > len - off)
		return false;
	memcpy(t[*n].sig, buf + off, 4);
	t[*n].sig[4] = '\0';
	t[*n].p = buf + off;
	t[*n].len = tlen;
	t[*n].gpa = gpa;
	(*n)++;
	return true;
}

/*
 * Walk RSDP (at the buffer start) -> XSDT -> tables, and FADT -> DSDT, FACS. Fills @t in the order
 * RSDP, XSDT, XSDT entries, DSDT, FACS. Returns the number of tables or -1 if a pointer or length
 * is out of the buffer.
 */
static inline int acpi_test__walk(const uint8_t *buf, uint64_t base, size_t len, struct acpi_test_table *t)
{
	int n = 0, fadt = -1, xsdt_n;

	if (len < 36 || memcmp(buf, "RSD PTR ", 8))
		return -1;
	strcpy(t[0].sig, "RSDP");
	t[0].p = buf;
	t[0].len = acpi_test__le32(buf + 20);
	t[0].gpa = base;
	if (t[0].len != 36)
		return -1;
	n = 1;
	if (!acpi_test__add(t, &n, buf, base, len, acpi_test__le64(buf + 24), 36))
		return -1;
	xsdt_n = (t[1].len - 36) / 8;
	for (int i = 0; i < xsdt_n; i++) {
		if (!acpi_test__add(t, &n, buf, base, len, acpi_test__le64(t[1].p + 36 + 8 * i), 36))
			return -1;
		if (!strcmp(t[n - 1].sig, "FACP"))
			fadt = n - 1;
	}
	if (fadt >= 0) {
		const uint8_t *f = t[fadt].p;
		uint64_t dsdt = acpi_test__le64(f + 140), facs = acpi_test__le32(f + 36);

		if (t[fadt].len < 148)
			return -1;
		if (!dsdt)
			dsdt = acpi_test__le32(f + 40);
		if (!facs)
			facs = acpi_test__le64(f + 132);
		if (!acpi_test__add(t, &n, buf, base, len, dsdt, 36))
			return -1;
		if (facs && !acpi_test__add(t, &n, buf, base, len, facs, 64))
			return -1;
	}
	return n;
}

#endif
