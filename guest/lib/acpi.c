/* ACPI table walk and decoders (see acpitab.h). */
#include "guest.h"

#define TABLE_MAX_LEN	(1u << 20)	/* anything longer is not a table minivmm made */

static const struct acpi_sdt *xsdt;

bool acpi__checksum_ok(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return sum == 0;
}

static bool mapped(uint64_t addr, uint64_t len)
{
	return addr && addr < (1ULL << 32) && len <= (1ULL << 32) - addr;
}

static const struct acpi_sdt *table_at(uint64_t addr)
{
	const struct acpi_sdt *t = (const struct acpi_sdt *)(uintptr_t)addr;

	if (!mapped(addr, sizeof(*t)) || t->length < sizeof(*t) || t->length > TABLE_MAX_LEN ||
	    !mapped(addr, t->length))
		return NULL;
	return t;
}

/* RSDP (ACPI 6.5 5.2.5.3): "RSD PTR ", checksum over 20 bytes, revision, length @20, XSDT @24. */
int acpi__init(uint64_t rsdp, const char **err)
{
	const uint8_t *r = (const uint8_t *)(uintptr_t)rsdp;

	xsdt = NULL;
	if (!mapped(rsdp, 36)) {
		*err = "RSDP address is 0 or above 4 GiB";
		return -1;
	}
	if (memcmp(r, "RSD PTR ", 8)) {
		*err = "no \"RSD PTR \" signature at the RSDP address";
		return -1;
	}
	if (!acpi__checksum_ok(r, 20)) {
		*err = "RSDP checksum (first 20 bytes) is wrong";
		return -1;
	}
	if (r[15] < 2) {
		*err = "RSDP revision < 2: no XSDT";
		return -1;
	}
	if (get_le32(r + 20) < 36 || !acpi__checksum_ok(r, get_le32(r + 20))) {
		*err = "RSDP extended checksum is wrong";
		return -1;
	}
	xsdt = table_at(get_le64(r + 24));
	if (!xsdt || memcmp(xsdt->signature, "XSDT", 4)) {
		xsdt = NULL;
		*err = "XSDT missing or not signed \"XSDT\"";
		return -1;
	}
	if (!acpi__checksum_ok(xsdt, xsdt->length)) {
		xsdt = NULL;
		*err = "XSDT checksum is wrong";
		return -1;
	}
	return 0;
}

uint64_t acpi__xsdt_addr(void)
{
	return (uintptr_t)xsdt;
}

int acpi__nr_tables(void)
{
	return xsdt ? (int)((xsdt->length - sizeof(*xsdt)) / 8) : 0;
}

const struct acpi_sdt *acpi__table(int i)
{
	if (i < 0 || i >= acpi__nr_tables())
		return NULL;
	return table_at(get_le64((const uint8_t *)(xsdt + 1) + 8 * i));
}

const struct acpi_sdt *acpi__find(const char *sig)
{
	for (int i = 0; i < acpi__nr_tables(); i++) {
		const struct acpi_sdt *t = acpi__table(i);

		if (t && !memcmp(t->signature, sig, 4))
			return t;
	}
	return NULL;
}

/* MADT (ACPI 6.5 5.2.12): u32 LAPIC address, u32 flags, then (type, length) structures. */
#define MADT_ENTRIES	44
#define MADT_LAPIC	0
#define MADT_IOAPIC	1
#define MADT_X2APIC	9

#define for_each_madt_entry(t, e)                                                               \
	for (const uint8_t *e = (const uint8_t *)(t) + MADT_ENTRIES;                            \
	     e + 2 <= (const uint8_t *)(t) + (t)->length && e[1] >= 2 &&                       \
	     e + e[1] <= (const uint8_t *)(t) + (t)->length;                                    \
	     e += e[1])

int acpi__madt_cpus(uint32_t *ids, int max)
{
	const struct acpi_sdt *t = acpi__find("APIC");
	int n = 0;

	if (!t || t->length < MADT_ENTRIES)
		return 0;
	for_each_madt_entry(t, e) {
		uint32_t id, flags;

		if (e[0] == MADT_LAPIC && e[1] >= 8) {
			id = e[3];
			flags = get_le32(e + 4);
		} else if (e[0] == MADT_X2APIC && e[1] >= 16) {
			id = get_le32(e + 4);
			flags = get_le32(e + 8);
		} else {
			continue;
		}
		if (!(flags & 1))	/* Enabled */
			continue;
		if (n < max)
			ids[n] = id;
		n++;
	}
	return n;
}

bool acpi__madt_ioapic(uint8_t *id, uint32_t *addr, uint32_t *gsi_base)
{
	const struct acpi_sdt *t = acpi__find("APIC");

	if (!t || t->length < MADT_ENTRIES)
		return false;
	for_each_madt_entry(t, e) {
		if (e[0] == MADT_IOAPIC && e[1] >= 12) {
			*id = e[2];
			*addr = get_le32(e + 4);
			*gsi_base = get_le32(e + 8);
			return true;
		}
	}
	return false;
}

uint32_t acpi__madt_lapic_addr(void)
{
	const struct acpi_sdt *t = acpi__find("APIC");

	return t && t->length >= MADT_ENTRIES ? get_le32((const uint8_t *)t + 36) : 0;
}

/* MCFG (PCI Firmware spec 3.2, 4.1.2): 8 reserved bytes, then 16-byte allocations. */
bool acpi__mcfg(uint64_t *base, uint8_t *bus_start, uint8_t *bus_end)
{
	const struct acpi_sdt *t = acpi__find("MCFG");

	if (!t)
		return false;
	for (uint32_t off = 44; off + 16 <= t->length; off += 16) {
		const uint8_t *a = (const uint8_t *)t + off;

		if (get_le16(a + 8) != 0)
			continue;
		*base = get_le64(a);
		*bus_start = a[10];
		*bus_end = a[11];
		return true;
	}
	return false;
}

bool acpi__fadt(struct acpi_fadt_info *f)
{
	const struct acpi_sdt *t = acpi__find("FACP");
	const uint8_t *b = (const uint8_t *)t;

	memset(f, 0, sizeof(*f));
	if (!t || t->length < 116)
		return false;
	f->dsdt = get_le32(b + 40);
	f->sci_int = get_le16(b + 46);
	f->pm1a_evt = get_le32(b + 56);
	f->pm1a_cnt = get_le32(b + 64);
	f->pm_tmr = get_le32(b + 76);
	f->flags = get_le32(b + 112);
	if (t->length >= 129) {
		f->reset_space = b[116];
		f->reset_addr = get_le64(b + 120);
		f->reset_value = b[128];
	}
	if (t->length >= 148 && get_le64(b + 140))
		f->dsdt = get_le64(b + 140);
	return true;
}

/* DMAR: HAW @36, flags @37, 10 reserved, remapping structures from 48 (type u16, length u16). */
static int dmar_drhd(const uint8_t *s, uint16_t len, struct acpi_dmar_unit *u, const char **err)
{
	u->flags = s[4];
	u->segment = get_le16(s + 6);
	u->base = get_le64(s + 8);
	u->nr_scopes = 0;
	for (uint16_t off = 16; off < len;) {
		const uint8_t *d = s + off;
		struct acpi_dmar_scope *sc;

		if (off + 6 > len || d[1] < 6 || off + d[1] > len || (d[1] - 6) % 2) {
			*err = "DRHD device scope with a bad length";
			return -1;
		}
		if (u->nr_scopes < ACPI_DMAR_MAX_SCOPES) {
			sc = &u->scopes[u->nr_scopes++];
			sc->type = d[0];
			sc->enum_id = d[4];
			sc->bus = d[5];
			sc->path_len = (d[1] - 6) / 2;
			sc->dev = sc->path_len ? d[6] : 0;
			sc->fn = sc->path_len ? d[7] : 0;
		}
		off += d[1];
	}
	return 0;
}

int acpi__dmar(struct acpi_dmar_info *out, const char **err)
{
	const struct acpi_sdt *t = acpi__find("DMAR");
	const uint8_t *b = (const uint8_t *)t;

	memset(out, 0, sizeof(*out));
	if (!t) {
		*err = "no DMAR table";
		return -1;
	}
	if (t->length < 48) {
		*err = "DMAR shorter than its 48-byte header";
		return -1;
	}
	out->haw = b[36];
	out->flags = b[37];
	for (uint32_t off = 48; off < t->length;) {
		uint16_t type, len;

		if (off + 4 > t->length) {
			*err = "DMAR remapping structure header runs past the table";
			return -1;
		}
		type = get_le16(b + off);
		len = get_le16(b + off + 2);
		if (len < 4 || off + len > t->length) {
			*err = "DMAR remapping structure with a bad length";
			return -1;
		}
		if (type == 0) {
			if (len < 16) {
				*err = "DRHD shorter than 16 bytes";
				return -1;
			}
			if (out->nr_units < ACPI_DMAR_MAX_UNITS &&
			    dmar_drhd(b + off, len, &out->units[out->nr_units++], err))
				return -1;
		} else {
			out->nr_other++;
		}
		off += len;
	}
	return 0;
}
