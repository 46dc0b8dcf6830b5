/*
 * Lays the ACPI tables out in the caller's buffer (normally the BIOS area at 0xE0000, see
 * vmm/layout.h), links them and checksums them.
 *
 *   +0x00  RSDP (36 bytes): at the start so that a guest scanning 0xE0000-0xFFFFF for "RSD PTR "
 *          on 16-byte boundaries (ACPI 6.5 5.2.5.1) finds it even without boot_params.acpi_rsdp_addr
 *   +0x40  FACS (64 bytes, 64-byte aligned, 5.2.10)
 *          DSDT, FADT, MADT, MCFG, [DMAR], XSDT: each 16-byte aligned, in this order, so that
 *          every table is finished before the one pointing at it is written.
 */
#include <errno.h>
#include <string.h>

#include "acpi/acpi_internal.h"
#include "vmm/util.h"

#define ACPI_TABLE_ALIGN	16

void *acpi__claim(struct acpi_builder *b, size_t size, size_t align)
{
	size_t off = ALIGN_UP(b->off, align);
	void *p;

	if (off > b->len || size > b->len - off)
		return NULL;
	p = b->buf + off;
	b->off = off + size;
	return p;
}

void *acpi__alloc(struct acpi_builder *b, size_t size, size_t align)
{
	void *p = acpi__claim(b, size, align);

	if (p)
		memset(p, 0, size);
	return p;
}

uint8_t *acpi__tail(struct acpi_builder *b, size_t align, size_t *room)
{
	size_t off = ALIGN_UP(b->off, align);

	if (off > b->len) {
		*room = 0;
		return b->buf + b->len;
	}
	*room = b->len - off;
	return b->buf + off;
}

uint64_t acpi__gpa(const struct acpi_builder *b, const void *p)
{
	return b->gpa + (uint64_t)((const uint8_t *)p - b->buf);
}

static void acpi__copy_id(char *dst, const char *src, size_t n)
{
	memcpy(dst, src, n);	/* fixed-width, not NUL-terminated */
}

void acpi__header(struct acpi_table_header *h, const char *sig, uint8_t rev, uint32_t len)
{
	acpi__copy_id(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	h->checksum = 0;
	acpi__copy_id(h->oem_id, ACPI_OEM_ID, 6);
	acpi__copy_id(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
	h->oem_revision = ACPI_OEM_REVISION;
	acpi__copy_id(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = ACPI_CREATOR_REVISION;
}

uint8_t acpi__sum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return sum;
}

void acpi__checksum(struct acpi_table_header *h)
{
	h->checksum = 0;
	h->checksum = -acpi__sum(h, h->length);
}

/*
 * Reject configurations the tables cannot describe. They come from the VMM, not the guest, but a
 * bad one would give the guest silently wrong tables, so fail loudly instead.
 */
static bool acpi__config_ok(const struct acpi_config *cfg)
{
	/* APIC IDs 0..254 in type 0 MADT entries, the rest in x2APIC ones; DSDT names C000..CFFF. */
	if (cfg->ncpus < 1 || cfg->ncpus > ACPI_MAX_CPUS)
		return false;
	if (cfg->lapic_addr > UINT32_MAX || cfg->ioapic_addr > UINT32_MAX)
		return false;
	if (cfg->ecam_base + ((uint64_t)cfg->ecam_last_bus + 1) * (1 << 20) < cfg->ecam_base)
		return false;
	if (cfg->mmio32_size && (cfg->mmio32_base > UINT32_MAX ||
				 !range_ok(cfg->mmio32_base, cfg->mmio32_size, 1ULL << 32)))
		return false;
	if (cfg->mmio64_size && cfg->mmio64_base + cfg->mmio64_size - 1 < cfg->mmio64_base)
		return false;
	if (cfg->pio_size && !range_ok(cfg->pio_base, cfg->pio_size, 0x10000))
		return false;
	/* Not hardware-reduced: PM1a_EVT/PM1a_CNT are mandatory, and RESET_REG_SUP is always set. */
	if (!cfg->pm_base || cfg->pm_base > 0x10000 - 12 || !cfg->reset_port)
		return false;
	if (cfg->sci_irq > 15 || cfg->com1_irq > 15)	/* ISA IRQs */
		return false;
	if (cfg->dmar) {
		/* Linux rejects HAW - 1 < PAGE_SHIFT - 1 ("Invalid DMAR haw"), design §7.3 */
		if (cfg->haw < 12 || cfg->haw > 64 || !cfg->dmar_base)
			return false;
		if (cfg->nr_scopes < 0 || cfg->nr_scopes > ACPI_MAX_DMAR_SCOPES)
			return false;
	}
	return true;
}

int64_t acpi__build(const struct acpi_config *cfg, uint8_t *buf, uint64_t gpa, size_t len)
{
	struct acpi_builder b = { .buf = buf, .gpa = gpa, .len = len, .off = 0 };
	uint64_t tables[4], facs, xsdt;
	struct acpi_rsdp *rsdp;
	int64_t dsdt;
	int n = 0;

	/* RSDT/FADT/FACS pointers are 32-bit and the RSDP must sit on a 16-byte boundary. */
	if (!acpi__config_ok(cfg) || !IS_ALIGNED(gpa, 16) || !range_ok(gpa, len, 1ULL << 32))
		return -EINVAL;
	if (len)
		memset(buf, 0, len);	/* deterministic padding; tables are zero-filled before use */

	rsdp = acpi__alloc(&b, sizeof(*rsdp), ACPI_TABLE_ALIGN);
	if (!rsdp)
		return -ENOSPC;
	facs = acpi__build_facs(&b);
	if (!facs)
		return -ENOSPC;
	dsdt = acpi__build_dsdt(&b, cfg);
	if (dsdt < 0)
		return dsdt;
	tables[n] = acpi__build_fadt(&b, cfg, facs, dsdt);
	if (!tables[n++])
		return -ENOSPC;
	tables[n] = acpi__build_madt(&b, cfg);
	if (!tables[n++])
		return -ENOSPC;
	tables[n] = acpi__build_mcfg(&b, cfg);
	if (!tables[n++])
		return -ENOSPC;
	if (cfg->dmar) {
		tables[n] = acpi__build_dmar(&b, cfg);
		if (!tables[n++])
			return -ENOSPC;
	}
	xsdt = acpi__build_xsdt(&b, tables, n);
	if (!xsdt)
		return -ENOSPC;
	acpi__build_rsdp(rsdp, xsdt);
	return gpa;
}
