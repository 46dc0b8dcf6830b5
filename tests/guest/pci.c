// Tier 2: PCI configuration space through 0xCF8/0xCFC and through ECAM agree (reads of every width,
// writes one way read back the other), the host bridge is at 00:00.0, the device tree lists exactly
// the functions enumeration finds, and every implemented BAR sizes to a power of two inside the
// host bridge's windows.
// TEST-ARGS:
// TEST-ARGS: --viommu flts
// TEST-EXIT: 0
// TEST-EXPECT: PASS: pci
#include "test.h"

#define MAX_FUNCS 64

static uint16_t funcs[MAX_FUNCS];
static int nfuncs;

static void collect(uint16_t bdf, void *arg)
{
	TEST_ASSERT(nfuncs < MAX_FUNCS);
	funcs[nfuncs++] = bdf;
}

/* Compare the first 64 bytes of @bdf through both mechanisms, at every width. */
static void compare_config(uint16_t bdf)
{
	for (uint16_t reg = 0; reg < 64; reg += 4) {
		uint32_t e = pci__ecam_read(bdf, reg, 4), c = pci__cf8_read(bdf, reg, 4);

		TEST_ASSERT_MSG(e == c, "%02x:%02x.%x reg 0x%x: ECAM 0x%08x, CF8 0x%08x", PCI_BUS(bdf), PCI_DEV(bdf),
				PCI_FN(bdf), reg, e, c);
		for (int b = 0; b < 4; b++) {
			TEST_EQ(pci__ecam_read(bdf, reg + b, 1), (e >> (8 * b)) & 0xff);
			TEST_EQ(pci__cf8_read(bdf, reg + b, 1), (e >> (8 * b)) & 0xff);
		}
		TEST_EQ(pci__ecam_read(bdf, reg + 2, 2), e >> 16);
		TEST_EQ(pci__cf8_read(bdf, reg + 2, 2), e >> 16);
	}
}

/* Interrupt Line (0x3c) is a read/write scratch byte for software (PCI Local Bus 3.0 6.2.4). */
static void cross_write(uint16_t bdf)
{
	uint8_t old = pci__ecam_read(bdf, PCI_INTERRUPT_LINE, 1);

	pci__cf8_write(bdf, PCI_INTERRUPT_LINE, 1, 0x5a);
	TEST_EQ(pci__ecam_read(bdf, PCI_INTERRUPT_LINE, 1), 0x5a);
	pci__ecam_write(bdf, PCI_INTERRUPT_LINE, 1, 0xa5);
	TEST_EQ(pci__cf8_read(bdf, PCI_INTERRUPT_LINE, 1), 0xa5);
	pci__ecam_write(bdf, PCI_INTERRUPT_LINE, 1, old);
}

static bool in_window(uint64_t a, uint64_t size, uint64_t base, uint64_t wsize)
{
	return wsize && a >= base && a - base <= wsize && size <= wsize - (a - base);
}

static int check_bars(uint16_t bdf)
{
	int sized = 0;

	if ((pci__read8(bdf, PCI_HEADER_TYPE) & 0x7f) != 0)
		return 0;
	for (int i = 0; i < 6;) {
		struct pci_bar bar;
		uint32_t before = pci__read32(bdf, PCI_BAR0 + 4 * i);
		int n = pci__bar_probe(bdf, i, &bar);

		TEST_ASSERT(n == 1 || n == 2);
		TEST_EQ(pci__read32(bdf, PCI_BAR0 + 4 * i), before);	/* restored */
		if (bar.size) {
			bool ok;

			TEST_ASSERT_MSG(!(bar.size & (bar.size - 1)), "BAR%d size 0x%llx is not a power of two", i,
					(unsigned long long)bar.size);
			printf("pci: %02x:%02x.%x BAR%d %s%s addr 0x%llx size 0x%llx\n", PCI_BUS(bdf), PCI_DEV(bdf),
			       PCI_FN(bdf), i, bar.io ? "io" : "mem", bar.mem64 ? "64" : "32",
			       (unsigned long long)bar.addr, (unsigned long long)bar.size);
			if (bar.addr) {
				TEST_EQ(bar.addr & (bar.size - 1), 0);
				if (bar.io)
					ok = in_window(bar.addr, bar.size, platform.pci_io_base, platform.pci_io_size);
				else
					ok = in_window(bar.addr, bar.size, platform.pci_mmio32_base,
						       platform.pci_mmio32_size) ||
					     in_window(bar.addr, bar.size, platform.pci_mmio64_base,
						       platform.pci_mmio64_size);
				TEST_ASSERT_MSG(ok, "BAR%d 0x%llx+0x%llx is outside the host bridge windows", i,
						(unsigned long long)bar.addr, (unsigned long long)bar.size);
			}
			sized++;
		}
		i += n;
	}
	TEST_ASSERT(pci__find_cap(bdf, 0xff) == 0);	/* the walk ends */
	return sized;
}

/* Every dev@D,F child of the host bridge node is a function with the same IDs, and vice versa. */
static void check_dtb(void)
{
	int host = dtb__find_compatible(-1, "pci-host-ecam-generic"), ndtb = 0;

	TEST_ASSERT(host >= 0);
	TEST_EQ(dtb__prop(host, "iommu-map", NULL) != NULL, platform.has_iommu);
	for (int n = dtb__first_child(host); n >= 0; n = dtb__next_sibling(n)) {
		int len;
		const uint8_t *reg = dtb__prop(n, "reg", &len);
		uint32_t vendor, device, cls, rid;
		uint16_t bdf;

		TEST_ASSERT_MSG(reg && len == 20, "%s: reg is not 5 cells", dtb__name(n));
		bdf = (be32(reg) >> 8) & 0xffff;
		TEST_ASSERT(dtb__prop_u32(n, "vendor-id", &vendor));
		TEST_ASSERT(dtb__prop_u32(n, "device-id", &device));
		TEST_ASSERT(dtb__prop_u32(n, "class-code", &cls));
		TEST_ASSERT(dtb__prop_u32(n, "minivmm,requester-id", &rid));
		TEST_EQ(rid, bdf);
		TEST_EQ(pci__read16(bdf, PCI_VENDOR_ID), vendor);
		TEST_EQ(pci__read16(bdf, PCI_DEVICE_ID), device);
		TEST_EQ(pci__read32(bdf, PCI_CLASS_REVISION) >> 8, cls);
		ndtb++;
	}
	TEST_EQ(ndtb, nfuncs);
}

int main(void)
{
	int bars = 0;
	uint16_t absent = PCI_BDF(0, 31, 7);

	TEST_ASSERT_MSG(platform.has_pci, "no pci-host-ecam-generic node in the device tree");
	TEST_ASSERT(platform.pci_config_port == 0xcf8);
	printf("pci: ECAM 0x%llx size 0x%llx buses %u-%u\n", (unsigned long long)platform.ecam_base,
	       (unsigned long long)platform.ecam_size, platform.bus_first, platform.bus_last);
	TEST_EQ(platform.ecam_size, (uint64_t)(platform.bus_last - platform.bus_first + 1) << 20);

	pci__enumerate(collect, NULL);
	TEST_ASSERT(nfuncs >= 1);
	TEST_EQ(funcs[0], PCI_BDF(0, 0, 0));
	TEST_EQ(pci__read32(0, PCI_CLASS_REVISION) >> 16, 0x0600);	/* host bridge */
	for (int i = 0; i < nfuncs; i++) {
		uint32_t id = pci__read32(funcs[i], 0);

		printf("pci: %02x:%02x.%x %04x:%04x class %06x\n", PCI_BUS(funcs[i]), PCI_DEV(funcs[i]),
		       PCI_FN(funcs[i]), id & 0xffff, id >> 16, pci__read32(funcs[i], PCI_CLASS_REVISION) >> 8);
		compare_config(funcs[i]);
		cross_write(funcs[i]);
		bars += check_bars(funcs[i]);
		if (funcs[i] == absent)
			absent = 0;
	}
	/* An empty slot reads all-ones both ways (when 00:1f.7 is not a device). */
	if (absent) {
		TEST_EQ(pci__ecam_read(absent, 0, 4), 0xffffffff);
		TEST_EQ(pci__cf8_read(absent, 0, 4), 0xffffffff);
	}
	/* Mechanism #1 without the enable bit reads nothing: all-ones (PCI Local Bus 3.0 3.2.2.3.2). */
	outl(0xcf8, 0);
	TEST_EQ(inl(0xcfc), 0xffffffff);
	check_dtb();
	printf("pci: %d functions, %d BARs sized\n", nfuncs, bars);
	test__pass("pci");
}
