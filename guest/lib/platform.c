/*
 * Finding the machine: the device tree minivmm passes as setup_data SETUP_DTB (Linux boot protocol,
 * Documentation/arch/x86/boot.rst "Details of Header Fields": setup_data) is the one source of
 * addresses and ports; its schema is in machine/fdt.h.
 */
#include "guest.h"

#define ZP_SETUP_DATA	0x250	/* struct boot_params.hdr.setup_data */
#define SETUP_DTB	2
#define SETUP_MAX_NODES	32

/* Only the serial port and test-exit port have values before the tree is read: to report its absence. */
struct platform platform = {
	.com1_port = 0x3f8,
	.test_exit_port = 0x501,
	.bootargs = "",
};

static bool below_4g(uint64_t addr, uint64_t len)
{
	return addr < (1ULL << 32) && len <= (1ULL << 32) - addr;
}

static const void *find_dtb(uint64_t zero_page, uint32_t *len)
{
	uint64_t sd;

	if (!zero_page || !below_4g(zero_page, 4096))
		return NULL;
	sd = *(const volatile uint64_t *)(zero_page + ZP_SETUP_DATA);
	for (int i = 0; sd && i < SETUP_MAX_NODES; i++) {
		const uint8_t *n = (const uint8_t *)(uintptr_t)sd;

		if (!below_4g(sd, 16) || !below_4g(sd + 16, get_le32(n + 12)))
			return NULL;
		if (get_le32(n + 8) == SETUP_DTB) {
			*len = get_le32(n + 12);
			return n + 16;
		}
		sd = get_le64(n);
	}
	return NULL;
}

static void read_cpus(struct platform *p)
{
	int cpus = dtb__path("/cpus");

	for (int n = dtb__first_child(cpus); n >= 0; n = dtb__next_sibling(n)) {
		const char *type = dtb__prop_str(n, "device_type");
		uint32_t id;

		if (!type || strcmp(type, "cpu") || !dtb__prop_u32(n, "reg", &id))
			continue;
		if (p->ncpus < GUEST_MAX_CPUS)
			p->cpu_apic_id[p->ncpus++] = id;
	}
}

static void read_memory(struct platform *p)
{
	for (int n = dtb__first_child(dtb__root()); n >= 0; n = dtb__next_sibling(n)) {
		const char *type = dtb__prop_str(n, "device_type");

		if (!type || strcmp(type, "memory"))
			continue;
		for (int i = 0; p->nmem < PLATFORM_MAX_MEM; i++) {
			if (!dtb__reg(n, i, &p->mem[p->nmem].base, &p->mem[p->nmem].size))
				break;
			p->nmem++;
		}
	}
}

/*
 * PCI ranges (IEEE 1275 PCI bus binding, 2.2.1.1): child phys.hi phys.mid phys.lo, parent address
 * (2 cells), size (2 cells). Space code in phys.hi bits 24-25: 1 I/O, 2 32-bit memory, 3 64-bit memory.
 */
static void read_pci_ranges(struct platform *p, int node)
{
	int len;
	const uint8_t *r = dtb__prop(node, "ranges", &len);

	for (; r && len >= 28; r += 28, len -= 28) {
		uint32_t space = (be32(r) >> 24) & 3;
		uint64_t base = dtb__cells(r + 12, 2), size = dtb__cells(r + 20, 2);

		if (space == 1) {
			p->pci_io_base = base;
			p->pci_io_size = size;
		} else if (space == 2) {
			p->pci_mmio32_base = base;
			p->pci_mmio32_size = size;
		} else if (space == 3) {
			p->pci_mmio64_base = base;
			p->pci_mmio64_size = size;
		}
	}
}

static void read_pci(struct platform *p)
{
	int n = dtb__find_compatible(-1, "pci-host-ecam-generic");
	uint32_t v;
	int len;
	const uint8_t *br;

	if (n < 0 || !dtb__reg(n, 0, &p->ecam_base, &p->ecam_size))
		return;
	p->has_pci = true;
	p->bus_first = 0;
	p->bus_last = (uint32_t)(p->ecam_size >> 20) - 1;
	br = dtb__prop(n, "bus-range", &len);
	if (br && len >= 8) {
		p->bus_first = be32(br);
		p->bus_last = be32(br + 4);
	}
	if (p->bus_last > 255)
		p->bus_last = 255;
	if (dtb__prop_u32(n, "minivmm,config-port", &v))
		p->pci_config_port = v;
	read_pci_ranges(p, n);
}

int platform__init(struct platform *p, uint64_t zero_page)
{
	uint32_t len = 0, v;
	uint64_t size;
	const void *dtb = find_dtb(zero_page, &len);
	const char *s;
	int n;

	if (!dtb || dtb__init(dtb, len)) {
		kprintf("guest: no usable device tree in setup_data (zero page 0x%lx)\n", zero_page);
		return -1;
	}
	p->dtb = dtb;
	p->dtb_size = dtb__size();

	n = dtb__path("/chosen");
	s = dtb__prop_str(n, "bootargs");
	p->bootargs = s ? s : "";
	if (dtb__prop_u32(n, "minivmm,test-exit-port", &v))
		p->test_exit_port = v;

	n = dtb__find_compatible(-1, "ns16550a");
	if (n >= 0) {
		if (dtb__prop_u32(n, "minivmm,io-port", &v))
			p->com1_port = v;
		if (dtb__prop_u32(n, "interrupts", &v))
			p->com1_irq = v;
	}
	n = dtb__find_compatible(-1, "minivmm,acpi");
	if (n >= 0) {
		const void *r = dtb__prop(n, "minivmm,rsdp", (int *)&len);

		if (r && len >= 8)
			p->rsdp = dtb__cells(r, 2);
	}
	n = dtb__find_compatible(-1, "intel,lapic");
	dtb__reg(n, 0, &p->lapic_base, &size);
	n = dtb__find_compatible(-1, "intel,ioapic");
	dtb__reg(n, 0, &p->ioapic_base, &size);
	dtb__prop_u32(n, "minivmm,id", &p->ioapic_id);
	n = dtb__find_compatible(-1, "minivmm,acpi-pm");
	if (n >= 0) {
		if (dtb__prop_u32(n, "minivmm,io-port", &v))
			p->pm_port = v;
		dtb__prop_u32(n, "minivmm,s5-slp-typ", &p->s5_slp_typ);
		if (dtb__prop_u32(n, "minivmm,reset-port", &v))
			p->reset_port = v;
	}
	n = dtb__find_compatible(-1, "intel,vtd");
	if (n >= 0 && dtb__reg(n, 0, &p->iommu_base, &p->iommu_size)) {
		p->has_iommu = true;
		p->iommu_mode = dtb__prop_str(n, "minivmm,mode");
		p->iommu_fs1gp = dtb__prop(n, "minivmm,fs1gp", NULL) != NULL;
	}
	read_pci(p);
	read_cpus(p);
	read_memory(p);
	return 0;
}

bool platform__cmdline_get(const char *key, char *buf, size_t len)
{
	const char *s = platform.bootargs;
	size_t klen = strlen(key);

	while (*s) {
		const char *tok = s, *end;

		while (*s && *s != ' ')
			s++;
		end = s;
		while (*s == ' ')
			s++;
		if ((size_t)(end - tok) < klen || strncmp(tok, key, klen))
			continue;
		if (tok + klen == end || tok[klen] == '=') {
			const char *val = tok + klen + (tok + klen < end);
			size_t n = end - val;

			if (len) {
				if (n >= len)
					n = len - 1;
				memcpy(buf, val, n);
				buf[n] = '\0';
			}
			return true;
		}
	}
	return false;
}
