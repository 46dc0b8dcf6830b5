/*
 * Tier 1 (Check, in-process, no KVM): the ACPI tables from acpi__build.
 *
 * - structure: checksums, RSDP -> XSDT -> tables -> DSDT/FACS links, alignment, no overlaps;
 * - field values of FADT, MADT, MCFG, DMAR for two configurations (acpi_test.h "A" and "B") and
 *   the largest one (255 vCPUs, 256 DMAR scopes);
 * - -ENOSPC for every too-small buffer (exact-size heap buffers: ASan catches overruns), -EINVAL
 *   for configurations the tables cannot describe;
 * - byte-for-byte equality with tests/golden/acpi/<config>/<SIG>.dat (regenerate with
 *   `make golden`); the repository is found from $MINIVMM_SRCDIR or the current directory up;
 * - the DSDT's \_SB.PCI0._PRT, decoded from the AML, against the host bridge's INTx swizzle.
 *
 * test_acpi_iasl.c checks the same tables with iasl and acpiexec.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/pci-host.h"
#include "tests/unit/acpi_test.h"
#include "tests/unit/check_main.h"
#include "vmm/util.h"

#define BASE LAYOUT_ACPI_BASE
#define SIZE LAYOUT_ACPI_SIZE

struct built {
	uint8_t buf[SIZE];
	struct acpi_test_table t[ACPI_TEST_MAX_TABLES];
	int n;
};

static struct built B;

static void build(const struct acpi_config *cfg, struct built *b)
{
	int64_t r = acpi__build(cfg, b->buf, BASE, SIZE);

	ck_assert_msg(r == (int64_t)BASE, "acpi__build: %lld", (long long)r);
	b->n = acpi_test__walk(b->buf, BASE, SIZE, b->t);
	ck_assert_msg(b->n > 0, "tables do not link up");
}

static const struct acpi_test_table *find(const struct built *b, const char *sig)
{
	const struct acpi_test_table *found = NULL;

	for (int i = 0; i < b->n; i++) {
		if (!strcmp(b->t[i].sig, sig)) {
			ck_assert_msg(!found, "two %s tables", sig);
			found = &b->t[i];
		}
	}
	return found;
}

static const uint8_t *table(const struct built *b, const char *sig)
{
	const struct acpi_test_table *t = find(b, sig);

	ck_assert_msg(t, "no %s table", sig);
	return t->p;
}

static uint8_t sum8(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return sum;
}

static uint16_t le16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

#define le32 acpi_test__le32
#define le64 acpi_test__le64

static void check_header(const uint8_t *p, const char *sig, uint8_t rev)
{
	ck_assert_msg(!memcmp(p, sig, 4), "signature %.4s, expected %s", (const char *)p, sig);
	ck_assert_uint_eq(p[8], rev);
	ck_assert(!memcmp(p + 10, "MINVMM", 6));
	ck_assert(!memcmp(p + 16, "MINIVMM ", 8));
	ck_assert_uint_eq(le32(p + 24), 1);
	ck_assert(!memcmp(p + 28, "MVMM", 4));
	ck_assert_uint_eq(le32(p + 32), 1);
}

static void check_structure(const struct acpi_config *cfg)
{
	const char *expect[] = { "RSDP", "XSDT", "FACP", "APIC", "MCFG", "DMAR", "DSDT", "FACS" };
	const uint8_t *rsdp = B.buf, *xsdt;
	int nexp = 0;

	build(cfg, &B);
	/* RSDP: at the start, rev 2, no RSDT, both checksums. */
	ck_assert(!memcmp(rsdp, "RSD PTR ", 8));
	ck_assert_uint_eq(rsdp[15], 2);
	ck_assert_uint_eq(le32(rsdp + 16), 0);
	ck_assert_uint_eq(le32(rsdp + 20), 36);
	ck_assert(!memcmp(rsdp + 9, "MINVMM", 6));
	ck_assert_uint_eq(sum8(rsdp, 20), 0);
	ck_assert_uint_eq(sum8(rsdp, 36), 0);

	/* Exactly the expected tables, in XSDT order. */
	for (size_t i = 0; i < ARRAY_SIZE(expect); i++) {
		if (!cfg->dmar && !strcmp(expect[i], "DMAR"))
			continue;
		ck_assert_msg(nexp < B.n && !strcmp(B.t[nexp].sig, expect[i]), "table %d: %s, expected %s",
			      nexp, nexp < B.n ? B.t[nexp].sig : "(none)", expect[i]);
		nexp++;
	}
	ck_assert_int_eq(B.n, nexp);
	xsdt = table(&B, "XSDT");
	check_header(xsdt, "XSDT", 1);
	ck_assert_uint_eq(le32(xsdt + 4), 36 + 8 * (cfg->dmar ? 4 : 3));

	for (int i = 0; i < B.n; i++) {
		const struct acpi_test_table *t = &B.t[i];

		/* Every table checksummed (the FACS has no checksum), 16-byte aligned, disjoint. */
		if (strcmp(t->sig, "FACS") && strcmp(t->sig, "RSDP"))
			ck_assert_msg(sum8(t->p, t->len) == 0, "%s checksum", t->sig);
		ck_assert_msg(IS_ALIGNED(t->gpa, 16), "%s at %#llx", t->sig, (unsigned long long)t->gpa);
		for (int j = 0; j < i; j++)
			ck_assert_msg(t->gpa >= B.t[j].gpa + B.t[j].len || B.t[j].gpa >= t->gpa + t->len,
				      "%s overlaps %s", t->sig, B.t[j].sig);
	}
	ck_assert(IS_ALIGNED(find(&B, "FACS")->gpa, 64));
}

START_TEST(test_structure_a)
{
	struct acpi_config cfg;

	acpi_test__config_a(&cfg);
	check_structure(&cfg);
}
END_TEST

START_TEST(test_structure_b)
{
	struct acpi_config cfg;

	acpi_test__config_b(&cfg);
	check_structure(&cfg);
}
END_TEST

/* A Generic Address Structure in system I/O space. */
static void check_gas(const uint8_t *g, uint64_t addr, uint8_t bits, uint8_t access)
{
	ck_assert_uint_eq(g[0], 1);
	ck_assert_uint_eq(g[1], bits);
	ck_assert_uint_eq(g[2], 0);
	ck_assert_uint_eq(g[3], access);
	ck_assert_uint_eq(le64(g + 4), addr);
}

static void check_fadt(const struct acpi_config *cfg)
{
	const uint8_t *f;
	uint64_t dsdt, facs;

	build(cfg, &B);
	f = table(&B, "FACP");
	dsdt = find(&B, "DSDT")->gpa;
	facs = find(&B, "FACS")->gpa;
	check_header(f, "FACP", 6);
	ck_assert_uint_eq(le32(f + 4), 276);
	ck_assert_uint_eq(le32(f + 36), facs);			/* FIRMWARE_CTRL */
	ck_assert_uint_eq(le64(f + 132), 0);			/* X_FIRMWARE_CTRL */
	ck_assert_uint_eq(le32(f + 40), dsdt);
	ck_assert_uint_eq(le64(f + 140), dsdt);
	ck_assert_uint_eq(le16(f + 46), cfg->sci_irq);
	ck_assert_uint_eq(le32(f + 48), 0);			/* SMI_CMD */
	ck_assert_uint_eq(f[52] | f[53], 0);			/* ACPI_ENABLE/DISABLE */
	ck_assert_uint_eq(le32(f + 56), cfg->pm_base);		/* PM1a_EVT_BLK */
	ck_assert_uint_eq(le32(f + 60), 0);
	ck_assert_uint_eq(le32(f + 64), cfg->pm_base + 4);	/* PM1a_CNT_BLK */
	ck_assert_uint_eq(le32(f + 68) | le32(f + 72), 0);	/* PM1b_CNT, PM2_CNT */
	ck_assert_uint_eq(le32(f + 76), cfg->pm_base + 8);	/* PM_TMR_BLK */
	ck_assert_uint_eq(le32(f + 80) | le32(f + 84), 0);	/* no GPE blocks */
	ck_assert_uint_eq(f[88], 4);
	ck_assert_uint_eq(f[89], 2);
	ck_assert_uint_eq(f[90], 0);
	ck_assert_uint_eq(f[91], 4);
	ck_assert_uint_eq(f[92] | f[93], 0);
	ck_assert_uint_eq(le16(f + 109), 0x24);		/* VGA_NOT_PRESENT | CMOS_RTC_NOT_PRESENT */
	ck_assert_uint_eq(le16(f + 109) & 0x0B, 0);		/* no LEGACY_DEVICES, 8042, MSI_NOT_SUPPORTED */
	/* WBINVD | PROC_C1 | PWR_BUTTON | SLP_BUTTON | TMR_VAL_EXT | RESET_REG_SUP, not HW_REDUCED */
	ck_assert_uint_eq(le32(f + 112), 0x535);
	check_gas(f + 116, cfg->reset_port, 8, 1);
	ck_assert_uint_eq(f[128], 0x06);
	ck_assert_uint_eq(f[131], 0);				/* minor version */
	check_gas(f + 148, cfg->pm_base, 32, 2);
	check_gas(f + 172, cfg->pm_base + 4, 16, 2);
	check_gas(f + 208, cfg->pm_base + 8, 32, 3);
	for (int off = 160; off < 276; off++)		/* PM1b.. after PM1a_CNT, except PM_TMR */
		if ((off < 172 || off >= 184) && (off < 208 || off >= 220))
			ck_assert_msg(f[off] == 0, "FADT byte %d = %#x", off, f[off]);
}

START_TEST(test_fadt_a)
{
	struct acpi_config cfg;

	acpi_test__config_a(&cfg);
	check_fadt(&cfg);
}
END_TEST

START_TEST(test_fadt_b)
{
	struct acpi_config cfg;

	acpi_test__config_b(&cfg);
	check_fadt(&cfg);
}
END_TEST

static void check_madt(const struct acpi_config *cfg)
{
	const uint8_t *m, *p, *end;
	int lapics = 0, ioapics = 0, ovr = 0, nmis = 0, x2nmis = 0;
	int nx = cfg->ncpus > 255 ? cfg->ncpus - 255 : 0;	/* APIC IDs from 255 on: x2APIC entries */

	build(cfg, &B);
	m = table(&B, "APIC");
	check_header(m, "APIC", 5);
	ck_assert_uint_eq(le32(m + 4), 44 + 8 * (cfg->ncpus - nx) + 16 * nx + 12 + 2 * 10 + 6 + (nx ? 12 : 0));
	ck_assert_uint_eq(le32(m + 36), cfg->lapic_addr);
	ck_assert_uint_eq(le32(m + 40), cfg->no_pic ? 0 : 1);	/* PCAT_COMPAT unless split irqchip */
	end = m + le32(m + 4);
	for (p = m + 44; p < end; p += p[1]) {
		ck_assert_uint_ge(p[1], 2);
		ck_assert(p + p[1] <= end);
		switch (p[0]) {
		case 0:
			ck_assert_uint_eq(p[1], 8);
			ck_assert_uint_eq(p[2], lapics);	/* processor UID */
			ck_assert_uint_eq(p[3], lapics);	/* APIC ID */
			ck_assert_uint_eq(le32(p + 4), 1);	/* enabled */
			lapics++;
			break;
		case 1:
			ck_assert_uint_eq(p[1], 12);
			ck_assert_uint_eq(p[2], cfg->ioapic_id);
			ck_assert_uint_eq(le32(p + 4), cfg->ioapic_addr);
			ck_assert_uint_eq(le32(p + 8), 0);
			ioapics++;
			break;
		case 2:
			ck_assert_uint_eq(p[1], 10);
			ck_assert_uint_eq(p[2], 0);
			if (ovr == 0) {
				ck_assert_uint_eq(p[3], 0);
				ck_assert_uint_eq(le32(p + 4), 2);
				ck_assert_uint_eq(le16(p + 8), 0x5);	/* edge, high */
			} else {
				ck_assert_uint_eq(p[3], cfg->sci_irq);
				ck_assert_uint_eq(le32(p + 4), cfg->sci_irq);
				ck_assert_uint_eq(le16(p + 8), 0xD);	/* level, high */
			}
			ovr++;
			break;
		case 4:
			ck_assert_uint_eq(p[1], 6);
			ck_assert_uint_eq(p[2], 0xFF);
			ck_assert_uint_eq(le16(p + 3), 0);
			ck_assert_uint_eq(p[5], 1);		/* LINT1 */
			nmis++;
			break;
		case 9:
			ck_assert_uint_eq(p[1], 16);
			ck_assert_int_ge(lapics, 255);		/* only where a type 0 entry cannot go */
			ck_assert_uint_eq(le32(p + 4), lapics);	/* x2APIC ID */
			ck_assert_uint_eq(le32(p + 8), 1);	/* enabled */
			ck_assert_uint_eq(le32(p + 12), lapics);	/* processor UID */
			lapics++;
			break;
		case 10:
			ck_assert_uint_eq(p[1], 12);
			ck_assert_uint_eq(le32(p + 4), 0xFFFFFFFF);
			ck_assert_uint_eq(p[8], 1);		/* LINT1 */
			x2nmis++;
			break;
		default:
			ck_abort_msg("unexpected MADT entry type %d", p[0]);
		}
	}
	ck_assert(p == end);
	ck_assert_int_eq(lapics, cfg->ncpus);
	ck_assert_int_eq(ioapics, 1);
	ck_assert_int_eq(ovr, 2);
	ck_assert_int_eq(nmis, 1);
	ck_assert_int_eq(x2nmis, nx ? 1 : 0);
}

START_TEST(test_madt_a)
{
	struct acpi_config cfg;

	acpi_test__config_a(&cfg);
	check_madt(&cfg);
}
END_TEST

START_TEST(test_madt_b)
{
	struct acpi_config cfg;

	acpi_test__config_b(&cfg);
	check_madt(&cfg);
}
END_TEST

static void check_mcfg(const struct acpi_config *cfg)
{
	const uint8_t *m;

	build(cfg, &B);
	m = table(&B, "MCFG");
	check_header(m, "MCFG", 1);
	ck_assert_uint_eq(le32(m + 4), 60);
	ck_assert_uint_eq(le64(m + 36), 0);
	ck_assert_uint_eq(le64(m + 44), cfg->ecam_base);
	ck_assert_uint_eq(le16(m + 52), 0);
	ck_assert_uint_eq(m[54], 0);
	ck_assert_uint_eq(m[55], cfg->ecam_last_bus);
	ck_assert_uint_eq(le32(m + 56), 0);
}

START_TEST(test_mcfg_a)
{
	struct acpi_config cfg;

	acpi_test__config_a(&cfg);
	check_mcfg(&cfg);
}
END_TEST

START_TEST(test_mcfg_b)
{
	struct acpi_config cfg;

	acpi_test__config_b(&cfg);
	check_mcfg(&cfg);
}
END_TEST

static void check_scope(const uint8_t *s, uint8_t type, uint8_t enum_id, uint8_t bus, uint8_t devfn)
{
	ck_assert_uint_eq(s[0], type);
	ck_assert_uint_eq(s[1], 8);
	ck_assert_uint_eq(le16(s + 2), 0);
	ck_assert_uint_eq(s[4], enum_id);
	ck_assert_uint_eq(s[5], bus);
	ck_assert_uint_eq(s[6], devfn >> 3);
	ck_assert_uint_eq(s[7], devfn & 7);
}

static void check_dmar(const struct acpi_config *cfg)
{
	const uint8_t *d, *drhd;

	build(cfg, &B);
	if (!cfg->dmar) {
		ck_assert(find(&B, "DMAR") == NULL);
		return;
	}
	d = table(&B, "DMAR");
	check_header(d, "DMAR", 1);
	ck_assert_uint_eq(le32(d + 4), 48 + 16 + 8 * (1 + cfg->nr_scopes));
	ck_assert_uint_eq(d[36], cfg->haw - 1);
	ck_assert_uint_eq(d[37], cfg->intr_remap ? 1 : 0);	/* INTR_REMAP as asked, no opt-outs */
	for (int i = 38; i < 48; i++)
		ck_assert_uint_eq(d[i], 0);
	drhd = d + 48;
	ck_assert_uint_eq(le16(drhd), 0);
	ck_assert_uint_eq(le16(drhd + 2), 16 + 8 * (1 + cfg->nr_scopes));
	ck_assert_uint_eq(drhd[4], 0);				/* not INCLUDE_PCI_ALL */
	ck_assert_uint_eq(drhd[5], 0);
	ck_assert_uint_eq(le16(drhd + 6), 0);
	ck_assert_uint_eq(le64(drhd + 8), cfg->dmar_base);
	check_scope(drhd + 16, 3, cfg->ioapic_id, cfg->ioapic_sid >> 8, cfg->ioapic_sid & 0xFF);
	for (int i = 0; i < cfg->nr_scopes; i++)
		check_scope(drhd + 24 + 8 * i, 1, 0, cfg->scopes[i] >> 8, cfg->scopes[i] & 0xFF);
}

START_TEST(test_dmar_a)
{
	struct acpi_config cfg;

	acpi_test__config_a(&cfg);
	check_dmar(&cfg);
}
END_TEST

START_TEST(test_dmar_b)
{
	struct acpi_config cfg;

	acpi_test__config_b(&cfg);
	check_dmar(&cfg);
}
END_TEST

/* The largest configurations: 255 vCPUs (the last in type 0 MADT entries), then 288, and 256 DMAR scopes. */
START_TEST(test_max_config)
{
	struct acpi_config cfg;

	acpi_test__config_b(&cfg);
	cfg.ncpus = _i ? 288 : 255;
	cfg.nr_scopes = ACPI_MAX_DMAR_SCOPES;
	for (int i = 0; i < cfg.nr_scopes; i++)
		cfg.scopes[i] = i;
	check_structure(&cfg);
	check_madt(&cfg);
	check_dmar(&cfg);
}
END_TEST

/* The DSDT names what the configuration asks for (COM1 only when com1_port != 0). */
START_TEST(test_dsdt_content)
{
	static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x04, 0x0A, 0x05, 0, 0, 0 };
	struct acpi_config cfg;
	const struct acpi_test_table *d;
	int cpus = 0;

	acpi_test__config_b(&cfg);
	build(&cfg, &B);
	d = find(&B, "DSDT");
	check_header(d->p, "DSDT", 2);
	ck_assert(memmem(d->p, d->len, s5, sizeof(s5)));
	ck_assert(memmem(d->p, d->len, "COM1", 4));
	for (const uint8_t *p = d->p; (p = memmem(p, d->p + d->len - p, "ACPI0007", 8)); p++)
		cpus++;
	ck_assert_int_eq(cpus, 4);

	cfg.com1_port = 0;
	build(&cfg, &B);
	d = find(&B, "DSDT");
	ck_assert(!memmem(d->p, d->len, "COM1", 4));
}
END_TEST

/* AML PkgLength (ACPI 6.5 20.2.4) at @p, at most @room bytes: its size in bytes (0 if malformed). */
static size_t aml_pkglen(const uint8_t *p, size_t room, uint32_t *len)
{
	size_t n = (p[0] >> 6) + 1;

	if (!room || n > room || (n > 1 && (p[0] & 0x30)))
		return 0;
	*len = n == 1 ? p[0] & 0x3F : p[0] & 0x0F;
	for (size_t i = 1; i < n; i++)
		*len |= (uint32_t)p[i] << (4 + 8 * (i - 1));
	return n;
}

/* AML integer (Zero, One, Byte/Word/DWord/QWord Const, 20.2.3) at @p: its size (0 if not one). */
static size_t aml_integer(const uint8_t *p, size_t room, uint64_t *v)
{
	static const uint8_t sizes[] = { [0x0A] = 1, [0x0B] = 2, [0x0C] = 4, [0x0E] = 8 };
	size_t n;

	if (!room)
		return 0;
	if (p[0] == 0x00 || p[0] == 0x01) {
		*v = p[0];
		return 1;
	}
	if (p[0] >= sizeof(sizes) || !sizes[p[0]] || 1 + (size_t)sizes[p[0]] > room)
		return 0;
	n = sizes[p[0]];
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v |= (uint64_t)p[1 + i] << (8 * i);
	return 1 + n;
}

/*
 * \_SB.PCI0._PRT (ACPI 6.5 6.2.13), decoded from the AML: inside Device (PCI0), a Package of 124
 * Packages { slot << 16 | 0xFFFF, pin, Zero, GSI } for slots 1..31 and pins 0..3 (INTA..INTD), in
 * that order, each GSI 16 + ((slot + pin) & 3) and equal to what the host bridge writes to the
 * device's Interrupt Line (pci_host__intx_gsi, which counts pins from 1).
 */
static void check_prt(const struct acpi_test_table *d)
{
	static const uint8_t pci0[] = { 0x5B, 0x82 }, prt[] = { 0x08, '_', 'P', 'R', 'T', 0x12 };
	const uint8_t *p, *end = d->p + d->len, *dev = NULL, *dev_end = NULL, *pkg_end;
	uint32_t len;
	size_t n;

	/* Device (PCI0): ExtOp DeviceOp PkgLength "PCI0". */
	for (p = d->p + 36; (p = memmem(p, end - p, pci0, sizeof(pci0))); p++) {
		n = aml_pkglen(p + 2, end - p - 2, &len);
		if (n && p + 2 + n + 4 <= end && !memcmp(p + 2 + n, "PCI0", 4)) {
			dev = p;
			dev_end = p + 2 + len;
			break;
		}
	}
	ck_assert_msg(dev && dev_end <= end, "no Device (PCI0) in the DSDT");
	p = memmem(dev, dev_end - dev, prt, sizeof(prt));
	ck_assert_msg(p, "no Name (_PRT, Package) in Device (PCI0)");
	ck_assert_msg(!memmem(p + 1, end - p - 1, prt, sizeof(prt)), "two _PRT packages");

	p += sizeof(prt);
	n = aml_pkglen(p, dev_end - p, &len);
	ck_assert(n);
	pkg_end = p + len;
	ck_assert(pkg_end <= dev_end);
	p += n;
	ck_assert_uint_eq(*p++, 124);				/* NumElements */
	for (unsigned slot = 1; slot <= 31; slot++) {
		for (unsigned pin = 0; pin < 4; pin++) {
			uint64_t want[4] = { slot << 16 | 0xFFFF, pin, 0, 16 + ((slot + pin) & 3) }, v;
			const uint8_t *e_end;

			ck_assert_msg(p < pkg_end && *p == 0x12, "_PRT entry %u.%u: not a Package", slot, pin);
			n = aml_pkglen(p + 1, pkg_end - p - 1, &len);
			ck_assert(n);
			e_end = p + 1 + len;
			ck_assert(e_end <= pkg_end);
			p += 1 + n;
			ck_assert_uint_eq(*p++, 4);
			for (int i = 0; i < 4; i++) {
				n = aml_integer(p, e_end - p, &v);
				ck_assert_msg(n, "_PRT entry %u.%u field %d: not an integer", slot, pin, i);
				ck_assert_msg(v == want[i], "_PRT entry %u.%u field %d: 0x%llx, expected 0x%llx", slot,
					      pin, i, (unsigned long long)v, (unsigned long long)want[i]);
				p += n;
			}
			ck_assert_uint_eq(want[3], pci_host__intx_gsi(slot, pin + 1));
			ck_assert(p == e_end);
		}
	}
	ck_assert_msg(p == pkg_end, "_PRT has bytes after its 124 entries");
}

START_TEST(test_dsdt_prt)
{
	struct acpi_config cfg;

	acpi_test__config_a(&cfg);
	build(&cfg, &B);
	check_prt(find(&B, "DSDT"));
	acpi_test__config_b(&cfg);
	build(&cfg, &B);
	check_prt(find(&B, "DSDT"));
}
END_TEST

/* Every buffer shorter than the tables gives -ENOSPC and is not overrun; the exact size works. */
static void check_enospc(const struct acpi_config *cfg)
{
	size_t need = 0;

	build(cfg, &B);
	for (int i = 0; i < B.n; i++)
		need = MAX(need, B.t[i].gpa - BASE + B.t[i].len);
	for (size_t len = 0; len <= need; len++) {
		uint8_t *buf = malloc(len ? len : 1);	/* exact size: ASan reports any overrun */
		int64_t r;

		ck_assert(buf);
		r = acpi__build(cfg, buf, BASE, len);
		if (len < need)
			ck_assert_msg(r == -ENOSPC, "len %zu of %zu: %lld", len, need, (long long)r);
		else
			ck_assert_msg(r == (int64_t)BASE && !memcmp(buf, B.buf, len), "exact size failed");
		free(buf);
	}
}

START_TEST(test_enospc_a)
{
	struct acpi_config cfg;

	acpi_test__config_a(&cfg);
	check_enospc(&cfg);
}
END_TEST

START_TEST(test_enospc_b)
{
	struct acpi_config cfg;

	acpi_test__config_b(&cfg);
	check_enospc(&cfg);
}
END_TEST

START_TEST(test_einval)
{
	struct acpi_config good, cfg;

	acpi_test__config_b(&good);
#define BAD(stmt)                                                                    \
	do {                                                                         \
		cfg = good;                                                          \
		stmt;                                                                \
		ck_assert_msg(acpi__build(&cfg, B.buf, BASE, SIZE) == -EINVAL, #stmt); \
	} while (0)
	BAD(cfg.ncpus = 0);
	BAD(cfg.ncpus = ACPI_MAX_CPUS + 1);
	BAD(cfg.ncpus = -1);
	BAD(cfg.lapic_addr = 1ULL << 32);
	BAD(cfg.ioapic_addr = 1ULL << 32);
	BAD(cfg.mmio32_base = 0xF0000000);			/* window crosses 4 GiB */
	BAD(cfg.mmio64_base = ~0ULL - 0x1000);
	BAD(cfg.pio_base = 0xF000);				/* 0xF000 + 0x4000 > 64 KiB */
	BAD(cfg.pm_base = 0);
	BAD(cfg.pm_base = 0xFFF8);
	BAD(cfg.reset_port = 0);
	BAD(cfg.sci_irq = 16);
	BAD(cfg.com1_irq = 16);
	BAD(cfg.haw = 11);
	BAD(cfg.haw = 65);
	BAD(cfg.dmar_base = 0);
	BAD(cfg.nr_scopes = -1);
	BAD(cfg.nr_scopes = ACPI_MAX_DMAR_SCOPES + 1);
	BAD(cfg.ecam_base = ~0ULL - 0x100000);
#undef BAD
	/* The buffer: RSDP alignment and 32-bit table pointers. */
	ck_assert_int_eq(acpi__build(&good, B.buf, BASE + 8, SIZE), -EINVAL);
	ck_assert_int_eq(acpi__build(&good, B.buf, 0xFFFFF000, SIZE), -EINVAL);
	/* DMAR fields are not checked when DMAR is off. */
	cfg = good;
	cfg.dmar = false;
	cfg.haw = 0;
	ck_assert_int_eq(acpi__build(&cfg, B.buf, BASE, SIZE), (int64_t)BASE);
}
END_TEST

/* ---- goldens ---- */

/* The repository root: $MINIVMM_SRCDIR, else the current directory or the nearest parent with
 * acpi/acpi.h in it. */
static const char *srcdir(void)
{
	static char dir[4096];
	const char *env = getenv("MINIVMM_SRCDIR");
	char probe[4200];

	if (env && *env)
		return env;
	ck_assert(getcwd(dir, sizeof(dir)));
	for (;;) {
		char *slash;

		snprintf(probe, sizeof(probe), "%s/acpi/acpi.h", dir);
		if (!access(probe, F_OK))
			return dir;
		slash = strrchr(dir, '/');
		ck_assert_msg(slash && slash != dir,
			      "cannot find the minivmm source tree from the current directory: set MINIVMM_SRCDIR");
		*slash = '\0';
	}
}

static void golden_compare(const struct acpi_golden *g)
{
	struct acpi_config cfg;
	char dir[4300], path[4400];
	struct dirent *de;
	int files = 0;
	DIR *dp;

	acpi_test__golden_config(&cfg, g);
	build(&cfg, &B);
	snprintf(dir, sizeof(dir), "%s/tests/golden/acpi/%s", srcdir(), g->name);
	ck_assert_msg(!access(dir, F_OK), "golden tables missing: %s (run `make golden`)", dir);
	for (int i = 0; i < B.n; i++) {
		uint8_t *gold;
		size_t len;

		snprintf(path, sizeof(path), "%s/%s.dat", dir, B.t[i].sig);
		ck_assert_msg(!read_file(path, &gold, &len), "golden table missing: %s (run `make golden`)", path);
		ck_assert_msg(len == B.t[i].len && !memcmp(gold, B.t[i].p, len),
			      "%s differs from %s: run `make golden` to see the iasl diff and update it",
			      B.t[i].sig, path);
		free(gold);
	}
	/* No stale golden for a table that is no longer built. */
	dp = opendir(dir);
	ck_assert(dp);
	while ((de = readdir(dp))) {
		char sig[5] = "";
		size_t n = strlen(de->d_name);

		if (n < 4 || strcmp(de->d_name + n - 4, ".dat"))
			continue;
		snprintf(sig, sizeof(sig), "%.*s", (int)(n - 4), de->d_name);
		ck_assert_msg(n == 8 && find(&B, sig), "stale golden %s/%s (run `make golden`)", dir, de->d_name);
		files++;
	}
	closedir(dp);
	ck_assert_int_eq(files, B.n);
}

START_TEST(test_golden)
{
	golden_compare(&acpi_goldens[_i]);
}
END_TEST


static Suite *acpi_suite(void)
{
	Suite *s = suite_create("acpi");
	TCase *tc = tcase_create("tables");

	tcase_add_test(tc, test_structure_a);
	tcase_add_test(tc, test_structure_b);
	tcase_add_test(tc, test_fadt_a);
	tcase_add_test(tc, test_fadt_b);
	tcase_add_test(tc, test_madt_a);
	tcase_add_test(tc, test_madt_b);
	tcase_add_test(tc, test_mcfg_a);
	tcase_add_test(tc, test_mcfg_b);
	tcase_add_test(tc, test_dmar_a);
	tcase_add_test(tc, test_dmar_b);
	tcase_add_loop_test(tc, test_max_config, 0, 2);
	tcase_add_test(tc, test_dsdt_content);
	tcase_add_test(tc, test_dsdt_prt);
	tcase_add_test(tc, test_enospc_a);
	tcase_add_test(tc, test_enospc_b);
	tcase_add_test(tc, test_einval);
	tcase_add_loop_test(tc, test_golden, 0, ACPI_NR_GOLDENS);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(acpi_suite)

