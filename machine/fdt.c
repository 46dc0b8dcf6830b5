/* The device tree of the machine (schema in fdt.h), built with libfdt's sequential-write API. */
#include "machine/fdt.h"

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>

#include "vmm/layout.h"
#include "machine/machine.h"
#include "machine/devices.h"
#include "vmm/util.h"
#include "devices/pci-host.h"

#define FDT_MAX_SIZE (64 * 1024)
#define FDT_IOMMU_PHANDLE 1
#define FDT_MAX_PCI 256

/* libfdt calls return 0 or a negative FDT_ERR_*; stop at the first error. */
#define TRY(x) do { int _r = (x); if (_r < 0) return _r; } while (0)

static int prop_u64_pair(void *fdt, const char *name, uint64_t a, uint64_t b)
{
	fdt64_t v[2] = { cpu_to_fdt64(a), cpu_to_fdt64(b) };

	return fdt_property(fdt, name, v, sizeof(v));
}

static int fdt__memory(void *fdt, const struct guest_mem *mem)
{
	fdt64_t reg[2 * GUEST_MEM_MAX_REGIONS];

	for (int i = 0; i < mem->nr; i++) {
		reg[2 * i] = cpu_to_fdt64(mem->r[i].gpa);
		reg[2 * i + 1] = cpu_to_fdt64(mem->r[i].size);
	}
	TRY(fdt_begin_node(fdt, "memory@0"));
	TRY(fdt_property_string(fdt, "device_type", "memory"));
	TRY(fdt_property(fdt, "reg", reg, mem->nr * 2 * sizeof(reg[0])));
	return fdt_end_node(fdt);
}

static int fdt__cpus(void *fdt, int ncpus)
{
	TRY(fdt_begin_node(fdt, "cpus"));
	TRY(fdt_property_u32(fdt, "#address-cells", 1));
	TRY(fdt_property_u32(fdt, "#size-cells", 0));
	for (int i = 0; i < ncpus; i++) {
		char name[16];
		snprintf(name, sizeof(name), "cpu@%d", i);
		TRY(fdt_begin_node(fdt, name));
		TRY(fdt_property_string(fdt, "device_type", "cpu"));
		TRY(fdt_property_u32(fdt, "reg", i));
		TRY(fdt_end_node(fdt));
	}
	return fdt_end_node(fdt);
}

static int fdt__platform(void *fdt, const struct machine *m)
{
	TRY(fdt_begin_node(fdt, "acpi"));
	TRY(fdt_property_string(fdt, "compatible", "minivmm,acpi"));
	TRY(fdt_property_u64(fdt, "minivmm,rsdp", m->rsdp));
	TRY(fdt_end_node(fdt));

	TRY(fdt_begin_node(fdt, "uart@3f8"));
	TRY(fdt_property_string(fdt, "compatible", "ns16550a"));
	TRY(fdt_property_u32(fdt, "minivmm,io-port", PORT_COM1));
	TRY(fdt_property_u32(fdt, "interrupts", IRQ_COM1));
	TRY(fdt_property_u32(fdt, "clock-frequency", 1843200));
	TRY(fdt_end_node(fdt));

	TRY(fdt_begin_node(fdt, "ioapic@fec00000"));
	TRY(fdt_property_string(fdt, "compatible", "intel,ioapic"));
	TRY(prop_u64_pair(fdt, "reg", LAYOUT_IOAPIC_BASE, 0x1000));
	TRY(fdt_property_u32(fdt, "minivmm,id", IOAPIC_ID));
	TRY(fdt_end_node(fdt));

	TRY(fdt_begin_node(fdt, "lapic@fee00000"));
	TRY(fdt_property_string(fdt, "compatible", "intel,lapic"));
	TRY(prop_u64_pair(fdt, "reg", LAYOUT_LAPIC_BASE, 0x1000));
	TRY(fdt_end_node(fdt));

	TRY(fdt_begin_node(fdt, "power@600"));
	TRY(fdt_property_string(fdt, "compatible", "minivmm,acpi-pm"));
	TRY(fdt_property_u32(fdt, "minivmm,io-port", PORT_ACPI_PM_BASE));
	TRY(fdt_property_u32(fdt, "minivmm,s5-slp-typ", ACPI_S5_SLP_TYP));
	TRY(fdt_property_u32(fdt, "minivmm,reset-port", PORT_RESET_CTRL));
	return fdt_end_node(fdt);
}

static int fdt__pci(void *fdt, const struct machine *m)
{
	struct pci_fn_info *fns = calloc(FDT_MAX_PCI, sizeof(*fns));
	int n = fns ? machine_devices__pci_list(m, fns, FDT_MAX_PCI) : 0;
	/* ranges: (child pci address: 3 cells) (parent address: 2 cells) (size: 2 cells) */
	fdt32_t ranges[3][7];
	const uint64_t win[3][3] = {
		{ 0x01000000ULL, PORT_PCI_IO_BASE, PORT_PCI_IO_SIZE },			/* I/O space */
		{ 0x02000000ULL, LAYOUT_PCI_MMIO32_BASE, LAYOUT_PCI_MMIO32_SIZE },	/* 32-bit memory */
		{ 0x03000000ULL, 0, LAYOUT_PCI_MMIO64_SIZE },				/* 64-bit memory */
	};
	struct pci_windows w;
	uint64_t mmio64;
	int ret = 0;

	pci_host__windows(m->pci, &w);
	mmio64 = w.mmio64_base;

	if (!fns)
		return -FDT_ERR_NOSPACE;
	for (int i = 0; i < 3; i++) {
		uint64_t base = i == 2 ? mmio64 : win[i][1];
		ranges[i][0] = cpu_to_fdt32((uint32_t)win[i][0]);
		ranges[i][1] = cpu_to_fdt32(base >> 32);
		ranges[i][2] = cpu_to_fdt32((uint32_t)base);
		ranges[i][3] = cpu_to_fdt32(base >> 32);
		ranges[i][4] = cpu_to_fdt32((uint32_t)base);
		ranges[i][5] = cpu_to_fdt32(win[i][2] >> 32);
		ranges[i][6] = cpu_to_fdt32((uint32_t)win[i][2]);
	}
#define T(x) do { ret = (x); if (ret < 0) goto out; } while (0)
	T(fdt_begin_node(fdt, "pci@e0000000"));
	T(fdt_property_string(fdt, "compatible", "pci-host-ecam-generic"));
	T(fdt_property_string(fdt, "device_type", "pci"));
	/* Like MCFG: only the buses that exist (1 MiB of ECAM per bus). */
	T(prop_u64_pair(fdt, "reg", LAYOUT_PCI_ECAM_BASE, (PCI_HOST_LAST_BUS + 1) * MiB));
	{
		fdt32_t busr[2] = { cpu_to_fdt32(0), cpu_to_fdt32(PCI_HOST_LAST_BUS) };
		T(fdt_property(fdt, "bus-range", busr, sizeof(busr)));
	}
	T(fdt_property_u32(fdt, "minivmm,config-port", PORT_PCI_CONFIG_ADDR));
	T(fdt_property_u32(fdt, "#address-cells", 3));
	T(fdt_property_u32(fdt, "#size-cells", 2));
	T(fdt_property(fdt, "ranges", ranges, sizeof(ranges)));
	if (m->vtd) {
		fdt32_t map[4] = { 0, cpu_to_fdt32(FDT_IOMMU_PHANDLE), 0, cpu_to_fdt32(0x10000) };
		T(fdt_property(fdt, "iommu-map", map, sizeof(map)));
	}
	for (int i = 0; i < n; i++) {
		char name[32];
		uint32_t rid = (uint32_t)fns[i].bus << 8 | fns[i].devfn;
		fdt32_t reg[5] = { cpu_to_fdt32(rid << 8), 0, 0, 0, 0 };

		snprintf(name, sizeof(name), "dev@%x,%x", fns[i].devfn >> 3, fns[i].devfn & 7);
		T(fdt_begin_node(fdt, name));
		T(fdt_property(fdt, "reg", reg, sizeof(reg)));
		T(fdt_property_u32(fdt, "vendor-id", fns[i].vendor));
		T(fdt_property_u32(fdt, "device-id", fns[i].device));
		T(fdt_property_u32(fdt, "class-code", fns[i].class_code));
		T(fdt_property_u32(fdt, "minivmm,requester-id", rid));
		T(fdt_end_node(fdt));
	}
	T(fdt_end_node(fdt));
#undef T
out:
	free(fns);
	return ret;
}

static int fdt__iommu(void *fdt, const struct machine *m)
{
	if (!m->vtd)
		return 0;
	TRY(fdt_begin_node(fdt, "iommu@fed90000"));
	TRY(fdt_property_string(fdt, "compatible", "intel,vtd"));
	TRY(prop_u64_pair(fdt, "reg", LAYOUT_VTD_BASE, LAYOUT_VTD_SIZE));
	TRY(fdt_property_u32(fdt, "phandle", FDT_IOMMU_PHANDLE));
	TRY(fdt_property_string(fdt, "minivmm,mode", m->cfg->viommu.slts ? "slts" : m->cfg->viommu.nested ? "nested" : "flts"));
	if (m->cfg->viommu.fs1gp && !m->cfg->viommu.slts)
		TRY(fdt_property(fdt, "minivmm,fs1gp", NULL, 0));
	return fdt_end_node(fdt);
}

static int fdt__tree(void *fdt, const struct machine *m)
{
	const char *cmdline = m->cfg->cmdline ? m->cfg->cmdline : "";

	TRY(fdt_finish_reservemap(fdt));
	TRY(fdt_begin_node(fdt, ""));
	TRY(fdt_property_string(fdt, "compatible", "minivmm,machine"));
	TRY(fdt_property_string(fdt, "model", "minivmm"));
	TRY(fdt_property_u32(fdt, "#address-cells", 2));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(fdt_begin_node(fdt, "chosen"));
	TRY(fdt_property_string(fdt, "bootargs", cmdline));
	TRY(fdt_property_string(fdt, "stdout-path", "/uart@3f8"));
	TRY(fdt_property_u32(fdt, "minivmm,test-exit-port", PORT_TEST_EXIT));
	TRY(fdt_end_node(fdt));
	TRY(fdt__memory(fdt, &m->vm.mem));
	TRY(fdt__cpus(fdt, m->cfg->ncpus));
	TRY(fdt__platform(fdt, m));
	TRY(fdt__pci(fdt, m));
	TRY(fdt__iommu(fdt, m));
	TRY(fdt_end_node(fdt));
	return fdt_finish(fdt);
}

int fdt__build(const struct machine *m, void **blob, size_t *len)
{
	void *fdt = malloc(FDT_MAX_SIZE);
	int ret;

	if (!fdt)
		return -ENOMEM;
	ret = fdt_create(fdt, FDT_MAX_SIZE);
	if (!ret)
		ret = fdt__tree(fdt, m);
	if (!ret)
		ret = fdt_pack(fdt);
	if (ret < 0) {
		free(fdt);
		return ret == -FDT_ERR_NOSPACE ? -ENOSPC : -EINVAL;
	}
	*blob = fdt;
	*len = fdt_totalsize(fdt);
	return 0;
}
