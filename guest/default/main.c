/*
 * The default guest, embedded in ./minivmm and booted when no --kernel is given: it shows what the
 * machine looks like from inside (device tree, ACPI tables, PCI) and powers off through ACPI PM.
 */
#include "guest.h"

static const char *const scope_types[] = { "?", "endpoint", "bridge", "IOAPIC", "HPET", "ACPI" };

static void show_platform(void)
{
	printf("platform: device tree %u bytes, serial 0x%x irq %u, test-exit port 0x%x\n", platform.dtb_size,
	       platform.com1_port, platform.com1_irq, platform.test_exit_port);
	if (platform.bootargs[0])
		printf("platform: bootargs \"%s\"\n", platform.bootargs);
	for (int i = 0; i < platform.nmem; i++)
		printf("memory: 0x%09llx-0x%09llx (%llu MiB)\n", (unsigned long long)platform.mem[i].base,
		       (unsigned long long)(platform.mem[i].base + platform.mem[i].size - 1),
		       (unsigned long long)(platform.mem[i].size >> 20));
	printf("cpus: %d in the device tree, LAPIC IDs", platform.ncpus);
	for (int i = 0; i < platform.ncpus; i++)
		printf(" %u", platform.cpu_apic_id[i]);
	printf("\n");
	if (platform.has_iommu)
		printf("iommu: VT-d at 0x%llx, mode %s%s\n", (unsigned long long)platform.iommu_base,
		       platform.iommu_mode ? platform.iommu_mode : "?", platform.iommu_fs1gp ? ", fs1gp" : "");
}

static void show_dmar(void)
{
	struct acpi_dmar_info d;
	const char *err;

	if (acpi__dmar(&d, &err)) {
		if (acpi__find("DMAR"))
			printf("dmar: %s\n", err);
		return;
	}
	printf("dmar: host address width %u bits, flags 0x%x\n", d.haw + 1, d.flags);
	for (int u = 0; u < d.nr_units; u++) {
		const struct acpi_dmar_unit *unit = &d.units[u];

		printf("dmar: DRHD at 0x%llx segment %u flags 0x%x, %d scopes:", (unsigned long long)unit->base,
		       unit->segment, unit->flags, unit->nr_scopes);
		for (int s = 0; s < unit->nr_scopes; s++) {
			const struct acpi_dmar_scope *sc = &unit->scopes[s];

			printf(" %s", sc->type < ARRAY_SIZE(scope_types) ? scope_types[sc->type] : "?");
			if (sc->type == 3 || sc->type == 4)
				printf("#%u", sc->enum_id);
			printf("(%02x:%02x.%x)", sc->bus, sc->dev, sc->fn);
		}
		printf("\n");
	}
}

static void show_acpi(void)
{
	const char *err;
	uint32_t ids[GUEST_MAX_CPUS];
	uint64_t ecam;
	uint8_t b0, b1, ioapic_id;
	uint32_t ioapic_addr, gsi;
	int n;

	if (acpi__init(platform.rsdp, &err)) {
		printf("acpi: %s (RSDP 0x%llx)\n", err, (unsigned long long)platform.rsdp);
		return;
	}
	printf("acpi: RSDP 0x%llx, XSDT 0x%llx:", (unsigned long long)platform.rsdp,
	       (unsigned long long)acpi__xsdt_addr());
	for (int i = 0; i < acpi__nr_tables(); i++) {
		const struct acpi_sdt *t = acpi__table(i);

		if (!t)
			printf(" (bad entry %d)", i);
		else
			printf(" %.4s%s", t->signature, acpi__checksum_ok(t, t->length) ? "" : "(bad checksum)");
	}
	printf("\n");
	n = acpi__madt_cpus(ids, GUEST_MAX_CPUS);
	printf("madt: %d CPUs, LAPIC IDs", n);
	for (int i = 0; i < n && i < GUEST_MAX_CPUS; i++)
		printf(" %u", ids[i]);
	if (acpi__madt_ioapic(&ioapic_id, &ioapic_addr, &gsi))
		printf("; IOAPIC %u at 0x%x GSI %u", ioapic_id, ioapic_addr, gsi);
	printf("\n");
	if (acpi__mcfg(&ecam, &b0, &b1))
		printf("mcfg: ECAM 0x%llx buses %u-%u\n", (unsigned long long)ecam, b0, b1);
	show_dmar();
}

static void show_pci_function(uint16_t bdf, void *arg)
{
	uint32_t id = pci__read32(bdf, PCI_VENDOR_ID);
	uint32_t cls = pci__read32(bdf, PCI_CLASS_REVISION) >> 8;

	printf("pci: %02x:%02x.%x %04x:%04x class %06x\n", PCI_BUS(bdf), PCI_DEV(bdf), PCI_FN(bdf), id & 0xffff,
	       id >> 16, cls);
}

int main(void)
{
	printf("minivmm default guest\n");
	show_platform();
	show_acpi();
	if (platform.has_pci) {
		printf("pci: ECAM 0x%llx, buses %u-%u\n", (unsigned long long)platform.ecam_base, platform.bus_first,
		       platform.bus_last);
		pci__enumerate(show_pci_function, NULL);
	}
	printf("powering off\n");
	poweroff();
}
