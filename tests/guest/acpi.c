// Tier 2: the ACPI tables as the guest sees them: RSDP/XSDT/table checksums, MADT CPUs == device
// tree CPUs == --cpus, MCFG == the device tree ECAM, FADT PM and reset registers == the device tree,
// DSDT present, and DMAR present exactly when --viommu flts, with its DRHD at the device tree's iommu.
// TEST-ARGS: --cpus 1 --cmdline "expect-cpus=1 expect-dmar=0"
// TEST-ARGS: --cpus 3 --cmdline "expect-cpus=3 expect-dmar=0"
// TEST-ARGS: --cpus 2 --viommu flts --cmdline "expect-cpus=2 expect-dmar=1"
// TEST-EXIT: 0
// TEST-EXPECT: PASS: acpi
#include "test.h"

#define ZP_ACPI_RSDP_ADDR 0x070

static void check_tables(void)
{
	const char *required[] = { "FACP", "APIC", "MCFG" };

	for (int i = 0; i < acpi__nr_tables(); i++) {
		const struct acpi_sdt *t = acpi__table(i);

		TEST_ASSERT_MSG(t, "XSDT entry %d points outside RAM or at a short table", i);
		printf("acpi: %.4s at %p, %u bytes, revision %u, OEM \"%.6s\"\n", t->signature, (void *)t, t->length,
		       t->revision, t->oem_id);
		TEST_ASSERT_MSG(acpi__checksum_ok(t, t->length), "%.4s checksum is wrong", t->signature);
		for (int j = 0; j < i; j++)
			TEST_ASSERT_MSG(memcmp(acpi__table(j)->signature, t->signature, 4),
					"two %.4s tables", t->signature);
	}
	for (unsigned i = 0; i < ARRAY_SIZE(required); i++)
		TEST_ASSERT_MSG(acpi__find(required[i]), "no %s table", required[i]);
}

static void check_madt(void)
{
	uint32_t ids[GUEST_MAX_CPUS];
	int n = acpi__madt_cpus(ids, GUEST_MAX_CPUS);
	char want[16];
	uint8_t ioapic_id;
	uint32_t ioapic_addr, gsi;

	TEST_EQ(n, platform.ncpus);
	if (platform__cmdline_get("expect-cpus", want, sizeof(want)))
		TEST_EQ(n, strtoul(want, NULL, 10));
	for (int i = 0; i < n; i++)
		TEST_EQ(ids[i], platform.cpu_apic_id[i]);
	TEST_EQ(acpi__madt_lapic_addr(), platform.lapic_base);
	TEST_ASSERT_MSG(acpi__madt_ioapic(&ioapic_id, &ioapic_addr, &gsi), "no IOAPIC in the MADT");
	TEST_EQ(ioapic_id, platform.ioapic_id);
	TEST_EQ(ioapic_addr, platform.ioapic_base);
	TEST_EQ(gsi, 0);
	printf("acpi: MADT %d CPUs, IOAPIC %u at 0x%x\n", n, ioapic_id, ioapic_addr);
}

static void check_mcfg(void)
{
	uint64_t base;
	uint8_t b0, b1;

	TEST_ASSERT_MSG(acpi__mcfg(&base, &b0, &b1), "no segment 0 allocation in the MCFG");
	TEST_EQ(base, platform.ecam_base);
	TEST_EQ(b0, platform.bus_first);
	TEST_EQ(b1, platform.bus_last);
}

static void check_fadt(void)
{
	struct acpi_fadt_info f;
	const struct acpi_sdt *dsdt;

	TEST_ASSERT_MSG(acpi__fadt(&f), "FADT missing or too short");
	TEST_ASSERT(platform.pm_port);
	TEST_EQ(f.pm1a_evt, platform.pm_port);
	TEST_EQ(f.pm1a_cnt, platform.pm_port + 4);
	TEST_EQ(f.pm_tmr, platform.pm_port + 8);
	TEST_EQ(f.reset_space, 1);	/* system I/O */
	TEST_EQ(f.reset_addr, platform.reset_port);
	TEST_EQ(f.reset_value, 6);
	TEST_ASSERT(f.flags & (1u << 10));	/* RESET_REG_SUP */
	dsdt = (const struct acpi_sdt *)(uintptr_t)f.dsdt;
	TEST_ASSERT_MSG(f.dsdt && f.dsdt < (1ULL << 32), "FADT has no DSDT address");
	TEST_ASSERT_MSG(!memcmp(dsdt->signature, "DSDT", 4), "FADT DSDT pointer does not point at a DSDT");
	TEST_ASSERT(dsdt->length > sizeof(*dsdt));
	TEST_ASSERT_MSG(acpi__checksum_ok(dsdt, dsdt->length), "DSDT checksum is wrong");
	printf("acpi: FADT PM1a_CNT 0x%x, PM_TMR 0x%x, SCI %u; DSDT %u bytes\n", f.pm1a_cnt, f.pm_tmr, f.sci_int,
	       dsdt->length);
}

static void check_dmar(void)
{
	struct acpi_dmar_info d;
	const char *err;
	char want[8];
	bool has = acpi__find("DMAR") != NULL, ioapic_scope = false;
	const struct acpi_dmar_unit *u;

	if (platform__cmdline_get("expect-dmar", want, sizeof(want)))
		TEST_EQ(has, want[0] == '1');
	TEST_EQ(has, platform.has_iommu);
	if (!has) {
		printf("acpi: no DMAR, no iommu node: as expected\n");
		return;
	}
	TEST_ASSERT_MSG(!acpi__dmar(&d, &err), "DMAR: %s", err);
	TEST_ASSERT_MSG(d.haw + 1 >= 39 && d.haw + 1 <= 52, "DMAR host address width %u bits", d.haw + 1);
	TEST_EQ(d.nr_units, 1);
	u = &d.units[0];
	TEST_EQ(u->base, platform.iommu_base);
	TEST_EQ(u->segment, 0);
	for (int s = 0; s < u->nr_scopes; s++) {
		const struct acpi_dmar_scope *sc = &u->scopes[s];

		TEST_ASSERT_MSG(sc->path_len >= 1, "scope %d has no path", s);
		if (sc->type == 3 && sc->enum_id == platform.ioapic_id)
			ioapic_scope = true;
		if (sc->type == 1)
			TEST_ASSERT_MSG(pci__read16(PCI_BDF(sc->bus, sc->dev, sc->fn), PCI_VENDOR_ID) != 0xffff,
					"DMAR endpoint scope %02x:%02x.%x: no such PCI function", sc->bus, sc->dev,
					sc->fn);
	}
	/* Interrupt remapping needs every MADT IOAPIC under a DRHD (vtd-iommufd.md 7.3). */
	TEST_ASSERT_MSG(ioapic_scope, "no IOAPIC scope with enumeration ID %u", platform.ioapic_id);
	printf("acpi: DMAR HAW %u bits, flags 0x%x, DRHD 0x%llx with %d scopes\n", d.haw + 1, d.flags,
	       (unsigned long long)u->base, u->nr_scopes);
}

int main(void)
{
	const char *err;
	uint64_t zp_rsdp = *(volatile uint64_t *)(uintptr_t)(boot_params_addr + ZP_ACPI_RSDP_ADDR);

	TEST_ASSERT_MSG(platform.rsdp, "no minivmm,rsdp in the device tree");
	TEST_EQ(zp_rsdp, platform.rsdp);
	TEST_ASSERT_MSG(!acpi__init(platform.rsdp, &err), "RSDP 0x%llx: %s", (unsigned long long)platform.rsdp,
			err);
	check_tables();
	check_madt();
	check_mcfg();
	check_fadt();
	check_dmar();
	test__pass("acpi");
}
