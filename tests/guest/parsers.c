// Tier 2: the runtime's own parsers on hand-made input, good and damaged: RSDP/XSDT checks with the
// reason for each refusal, MADT/MCFG/DMAR decoding (a zero-length or overlong structure stops the walk
// with an error instead of looping or reading past the table), and the device tree reader (bad
// header fields refused, unit-address path matching, compatible lists, truncated properties).
// TEST-EXIT: 0
// TEST-EXPECT: PASS: parsers
#include "test.h"

/* ---- ACPI ---- */

static uint8_t acpi_area[4096] __attribute__((aligned(16)));

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v);
	put16(p + 2, v >> 16);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, v);
	put32(p + 4, v >> 32);
}

static void fix_checksum(uint8_t *p, size_t len, size_t at)
{
	uint8_t sum = 0;

	p[at] = 0;
	for (size_t i = 0; i < len; i++)
		sum += p[i];
	p[at] = -sum;
}

/* An SDT header with @sig and @len at @t; the checksum is fixed by the caller once the body is in. */
static void sdt(uint8_t *t, const char *sig, uint32_t len)
{
	memset(t, 0, 36);
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = 1;
	memcpy(t + 10, "TEST  ", 6);
}

/* Layout in acpi_area: RSDP @0, XSDT @64 (up to 4 entries), tables from @256, 512 bytes apart. */
#define RSDP_OFF 0
#define XSDT_OFF 64
#define TABLE(n) (256 + 512 * (n))

static uint64_t area(size_t off)
{
	return (uintptr_t)acpi_area + off;
}

static void build_rsdp_xsdt(int ntables, const uint64_t *tables)
{
	uint8_t *r = acpi_area + RSDP_OFF, *x = acpi_area + XSDT_OFF;

	memset(r, 0, 36);
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, "TEST  ", 6);
	r[15] = 2;
	put32(r + 16, 0);
	put32(r + 20, 36);
	put64(r + 24, area(XSDT_OFF));
	fix_checksum(r, 20, 8);
	fix_checksum(r, 36, 32);
	sdt(x, "XSDT", 36 + 8 * ntables);
	for (int i = 0; i < ntables; i++)
		put64(x + 36 + 8 * i, tables[i]);
	fix_checksum(x, 36 + 8 * ntables, 9);
}

static void expect_rsdp_error(const char *what)
{
	const char *err = "";

	TEST_ASSERT_MSG(acpi__init(area(RSDP_OFF), &err) == -1, "damaged RSDP accepted (%s)", what);
	TEST_ASSERT_MSG(strstr(err, what), "RSDP error \"%s\" does not mention \"%s\"", err, what);
}

static void test_rsdp(void)
{
	const char *err;

	build_rsdp_xsdt(0, NULL);
	TEST_EQ(acpi__init(area(RSDP_OFF), &err), 0);
	TEST_EQ(acpi__nr_tables(), 0);
	TEST_ASSERT(acpi__init(0, &err) == -1);

	acpi_area[0] = 'X';
	expect_rsdp_error("signature");
	build_rsdp_xsdt(0, NULL);
	acpi_area[RSDP_OFF + 9] ^= 1;	/* OEM byte: breaks the 20-byte checksum */
	expect_rsdp_error("checksum");
	build_rsdp_xsdt(0, NULL);
	acpi_area[RSDP_OFF + 15] = 0;	/* ACPI 1.0: no XSDT */
	fix_checksum(acpi_area, 20, 8);
	expect_rsdp_error("revision");
	build_rsdp_xsdt(0, NULL);
	acpi_area[RSDP_OFF + 33] = 1;	/* reserved byte: only the extended checksum covers it */
	expect_rsdp_error("extended checksum");
	build_rsdp_xsdt(0, NULL);
	acpi_area[XSDT_OFF + 20] ^= 1;
	expect_rsdp_error("XSDT checksum");
	build_rsdp_xsdt(0, NULL);
	memcpy(acpi_area + XSDT_OFF, "RSDT", 4);
	expect_rsdp_error("XSDT missing");
}

static void test_madt_mcfg(void)
{
	uint8_t *m = acpi_area + TABLE(0), *c = acpi_area + TABLE(1), *e;
	uint64_t tables[3] = { area(TABLE(0)), area(TABLE(1)), 0x100000000ULL };
	uint32_t ids[8], addr, gsi;
	uint64_t base;
	uint8_t id, b0, b1;
	const char *err;

	/* MADT: LAPIC 0 enabled, LAPIC 1 disabled, x2APIC 7 enabled, IOAPIC 2, then a zero-length entry. */
	sdt(m, "APIC", 44 + 8 + 8 + 16 + 12 + 2);
	put32(m + 36, 0xfee00000);
	e = m + 44;
	e[0] = 0, e[1] = 8, e[2] = 0, e[3] = 0, put32(e + 4, 1);
	e += 8;
	e[0] = 0, e[1] = 8, e[2] = 1, e[3] = 1, put32(e + 4, 0);
	e += 8;
	e[0] = 9, e[1] = 16, put32(e + 4, 7), put32(e + 8, 1);
	e += 16;
	e[0] = 1, e[1] = 12, e[2] = 2, put32(e + 4, 0xfec00000), put32(e + 8, 0);
	e += 12;
	e[0] = 0, e[1] = 0;		/* length 0: the walk must stop here */
	fix_checksum(m, 44 + 8 + 8 + 16 + 12 + 2, 9);

	/* MCFG: a segment 1 allocation, then segment 0 buses 0-15. */
	sdt(c, "MCFG", 44 + 32);
	put64(c + 44, 0xd0000000), put16(c + 52, 1), c[54] = 0, c[55] = 0;
	put64(c + 60, 0xe0000000), put16(c + 68, 0), c[70] = 0, c[71] = 15;
	fix_checksum(c, 44 + 32, 9);

	build_rsdp_xsdt(3, tables);
	TEST_EQ(acpi__init(area(RSDP_OFF), &err), 0);
	TEST_EQ(acpi__nr_tables(), 3);
	TEST_ASSERT_MSG(acpi__table(2) == NULL, "an XSDT entry above 4 GiB was dereferenced");
	TEST_EQ(acpi__madt_cpus(ids, 8), 2);
	TEST_EQ(ids[0], 0);
	TEST_EQ(ids[1], 7);
	TEST_EQ(acpi__madt_cpus(ids, 1), 2);	/* counts beyond @max, stores only @max */
	TEST_EQ(acpi__madt_lapic_addr(), 0xfee00000);
	TEST_ASSERT(acpi__madt_ioapic(&id, &addr, &gsi));
	TEST_EQ(id, 2);
	TEST_EQ(addr, 0xfec00000);
	TEST_ASSERT(acpi__mcfg(&base, &b0, &b1));
	TEST_EQ(base, 0xe0000000);
	TEST_EQ(b1, 15);
	TEST_ASSERT(acpi__checksum_ok(m, get_le32(m + 4)));
	m[50] ^= 0xff;
	TEST_ASSERT(!acpi__checksum_ok(m, get_le32(m + 4)));
}

/* DMAR: DRHD at 0xfed90000 with an IOAPIC scope and an endpoint scope; @damage breaks one length. */
static void build_dmar(int damage)
{
	uint8_t *d = acpi_area + TABLE(0), *s;
	uint32_t len = 48 + 16 + 8 + 8;
	uint64_t tables[1] = { area(TABLE(0)) };

	sdt(d, "DMAR", len);
	d[36] = 47;
	d[37] = 1;
	s = d + 48;
	put16(s, 0), put16(s + 2, 32), s[4] = 0, put16(s + 6, 0), put64(s + 8, 0xfed90000);
	s += 16;
	s[0] = 3, s[1] = 8, s[4] = 0, s[5] = 0xff, s[6] = 0, s[7] = 0;	/* IOAPIC 0 at ff:00.0 */
	s += 8;
	s[0] = 1, s[1] = 8, s[4] = 0, s[5] = 0, s[6] = 3, s[7] = 0;	/* endpoint 00:03.0 */
	if (damage == 1)
		put16(d + 48 + 2, 0);		/* zero-length remapping structure */
	if (damage == 2)
		put16(d + 48 + 2, 200);		/* runs past the table */
	if (damage == 3)
		d[48 + 16 + 1] = 3;		/* scope shorter than its 6-byte header */
	if (damage == 4)
		put16(d + 48 + 2, 8);		/* DRHD shorter than 16 bytes */
	fix_checksum(d, len, 9);
	build_rsdp_xsdt(1, tables);
}

static void test_dmar(void)
{
	struct acpi_dmar_info info;
	const char *err;
	static const char *const reasons[] = { "", "bad length", "bad length", "bad length", "shorter" };

	build_dmar(0);
	TEST_EQ(acpi__init(area(RSDP_OFF), &err), 0);
	TEST_ASSERT_MSG(!acpi__dmar(&info, &err), "good DMAR refused: %s", err);
	TEST_EQ(info.haw, 47);
	TEST_EQ(info.flags, 1);
	TEST_EQ(info.nr_units, 1);
	TEST_EQ(info.units[0].base, 0xfed90000);
	TEST_EQ(info.units[0].nr_scopes, 2);
	TEST_EQ(info.units[0].scopes[0].type, 3);
	TEST_EQ(info.units[0].scopes[0].bus, 0xff);
	TEST_EQ(info.units[0].scopes[1].type, 1);
	TEST_EQ(info.units[0].scopes[1].dev, 3);
	for (int dmg = 1; dmg <= 4; dmg++) {
		build_dmar(dmg);
		TEST_EQ(acpi__init(area(RSDP_OFF), &err), 0);
		err = "";
		TEST_ASSERT_MSG(acpi__dmar(&info, &err) == -1, "damaged DMAR (case %d) accepted", dmg);
		TEST_ASSERT_MSG(strstr(err, reasons[dmg]), "case %d: error \"%s\"", dmg, err);
	}
	build_rsdp_xsdt(0, NULL);
	TEST_EQ(acpi__init(area(RSDP_OFF), &err), 0);
	TEST_ASSERT(acpi__dmar(&info, &err) == -1);	/* no table */
}

/* ---- device tree ---- */

struct fdt_builder {
	uint8_t blob[2048];
	uint8_t strings[256];
	uint32_t off, slen;
};

static void be32_put(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void tok(struct fdt_builder *b, uint32_t v)
{
	be32_put(b->blob + 40 + b->off, v);
	b->off += 4;
}

static void bytes(struct fdt_builder *b, const void *p, uint32_t n)
{
	memcpy(b->blob + 40 + b->off, p, n);
	b->off += n;
	while (b->off % 4)
		b->blob[40 + b->off++] = 0;
}

static void begin(struct fdt_builder *b, const char *name)
{
	tok(b, 1);
	bytes(b, name, strlen(name) + 1);
}

static void prop(struct fdt_builder *b, const char *name, const void *val, uint32_t len)
{
	uint32_t nameoff = b->slen;

	memcpy(b->strings + b->slen, name, strlen(name) + 1);
	b->slen += strlen(name) + 1;
	tok(b, 3);
	tok(b, len);
	tok(b, nameoff);
	bytes(b, val, len);
}

static void prop_u32(struct fdt_builder *b, const char *name, uint32_t v)
{
	uint8_t c[4];

	be32_put(c, v);
	prop(b, name, c, 4);
}

/* Header (40 bytes: magic .. size_dt_struct), structure block, then strings. */
static uint32_t finish(struct fdt_builder *b)
{
	uint32_t total;

	tok(b, 9);
	memcpy(b->blob + 40 + b->off, b->strings, b->slen);
	total = 40 + b->off + b->slen;
	be32_put(b->blob, 0xd00dfeed);
	be32_put(b->blob + 4, total);
	be32_put(b->blob + 8, 40);
	be32_put(b->blob + 12, 40 + b->off);
	be32_put(b->blob + 16, 0);
	be32_put(b->blob + 20, 17);
	be32_put(b->blob + 24, 16);
	be32_put(b->blob + 28, 0);
	be32_put(b->blob + 32, b->slen);
	be32_put(b->blob + 36, b->off);
	return total;
}

static struct fdt_builder fb;

static uint32_t build_tree(void)
{
	static const char compat[] = "vendor,old\0vendor,new";
	uint8_t reg[16] = { 0, 0, 0, 0, 0xe0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0 };

	memset(&fb, 0, sizeof(fb));
	begin(&fb, "");
	prop(&fb, "model", "tree", 5);
	begin(&fb, "cpus");
	begin(&fb, "cpu@0");
	prop_u32(&fb, "reg", 0);
	tok(&fb, 2);
	tok(&fb, 4);			/* FDT_NOP between siblings */
	begin(&fb, "cpu@1");
	prop_u32(&fb, "reg", 1);
	tok(&fb, 2);
	tok(&fb, 2);
	begin(&fb, "pci@e0000000");
	prop(&fb, "compatible", compat, sizeof(compat));
	prop(&fb, "reg", reg, sizeof(reg));
	prop(&fb, "unterminated", "abc", 3);
	tok(&fb, 2);
	tok(&fb, 2);
	return finish(&fb);
}

static void test_dtb(void)
{
	uint32_t total = build_tree(), v;
	int cpus, pci, n, len;
	uint64_t a, s;

	TEST_EQ(dtb__init(fb.blob, total), 0);
	TEST_STREQ(dtb__prop_str(dtb__root(), "model"), "tree");
	cpus = dtb__path("/cpus");
	TEST_ASSERT(cpus >= 0);
	n = dtb__first_child(cpus);
	TEST_STREQ(dtb__name(n), "cpu@0");
	n = dtb__next_sibling(n);
	TEST_ASSERT_MSG(n >= 0, "sibling after a NOP not found");
	TEST_STREQ(dtb__name(n), "cpu@1");
	TEST_ASSERT(dtb__prop_u32(n, "reg", &v) && v == 1);
	TEST_EQ(dtb__next_sibling(n), -1);
	TEST_EQ(dtb__path("/cpus/cpu@1"), n);
	TEST_EQ(dtb__path("/cpus/cpu"), dtb__first_child(cpus));	/* no unit address: first match */
	TEST_EQ(dtb__path("/cpus/cpu@2"), -1);
	TEST_EQ(dtb__path("/cpu"), -1);	/* "cpu" is not a prefix match of "cpus" */
	pci = dtb__path("/pci");
	TEST_ASSERT(pci >= 0 && pci == dtb__path("/pci@e0000000"));
	TEST_EQ(dtb__find_compatible(-1, "vendor,new"), pci);
	TEST_EQ(dtb__find_compatible(-1, "vendor,old"), pci);
	TEST_EQ(dtb__find_compatible(-1, "vendor"), -1);	/* whole strings only */
	TEST_EQ(dtb__find_compatible(pci, "vendor,new"), -1);
	TEST_ASSERT(dtb__reg(pci, 0, &a, &s) && a == 0xe0000000 && s == 0x10000000);
	TEST_ASSERT(!dtb__reg(pci, 1, &a, &s));
	TEST_ASSERT(dtb__prop(pci, "unterminated", &len) && len == 3);
	TEST_ASSERT_MSG(dtb__prop_str(pci, "unterminated") == NULL, "a string without its NUL was accepted");
	TEST_ASSERT(dtb__prop(pci, "missing", NULL) == NULL);

	/* Header damage: each refused. */
	be32_put(fb.blob, 0xd00dfeee);
	TEST_EQ(dtb__init(fb.blob, total), -1);
	build_tree();
	be32_put(fb.blob + 20, 16);	/* version 16: no size_dt_struct */
	TEST_EQ(dtb__init(fb.blob, total), -1);
	build_tree();
	TEST_EQ(dtb__init(fb.blob, total - 1), -1);	/* totalsize beyond the buffer */
	be32_put(fb.blob + 36, total);	/* structure block past the end */
	TEST_EQ(dtb__init(fb.blob, total), -1);
	TEST_EQ(dtb__root(), -1);	/* no current tree after a refusal */

	/* A property length running past the structure block: the reader stops, it does not wander. */
	total = build_tree();
	be32_put(fb.blob + 40 + 12, 0x7fffffff);	/* root's "model" length */
	TEST_EQ(dtb__init(fb.blob, total), 0);
	TEST_ASSERT(dtb__prop(dtb__root(), "model", NULL) == NULL);
	TEST_EQ(dtb__path("/cpus"), -1);
	TEST_EQ(dtb__find_compatible(-1, "vendor,new"), -1);
}

int main(void)
{
	const char *err;

	test_rsdp();
	test_madt_mcfg();
	test_dmar();
	test_dtb();
	/* Put the real platform back, for anything printed after this. */
	TEST_EQ(dtb__init(platform.dtb, platform.dtb_size), 0);
	TEST_EQ(acpi__init(platform.rsdp, &err), 0);
	test__pass("parsers");
}
