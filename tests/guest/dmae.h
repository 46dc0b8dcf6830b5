/*
 * Guest driver for the DMA-engine test device (register layout in devices/dma-engine.h), shared by the
 * tier-2 programs that use it (vtd.c, interrupts.c, dma_bench.c). Header-only: each program is one ELF.
 *
 *	struct dmae e;
 *	if (dmae__find(&e)) {				// device tree: vendor/device ID, requester ID; BAR0
 *		dmae__msix(&e, vector);			// optional: completion interrupt to @vector
 *		st = dmae__run(&e, DMAE_CMD_COPY, src, dst, len, 0);	// DMA addresses (IOVAs with VT-d on)
 *	}
 */
#ifndef TESTS_GUEST_DMAE_H
#define TESTS_GUEST_DMAE_H

#include "test.h"
#include "devices/dma-engine.h"

struct dmae {
	uint16_t bdf;		/* = requester ID (source-id) on bus 0 */
	uint64_t regs;		/* BAR0 */
};

static inline uint32_t dmae__rd32(const struct dmae *e, unsigned off)
{
	return mmio_read32(e->regs + off);
}

static inline uint64_t dmae__rd64(const struct dmae *e, unsigned off)
{
	return mmio_read64(e->regs + off);
}

static inline void dmae__wr32(const struct dmae *e, unsigned off, uint32_t v)
{
	mmio_write32(e->regs + off, v);
}

static inline void dmae__wr64(const struct dmae *e, unsigned off, uint64_t v)
{
	mmio_write64(e->regs + off, v);
}

/* The first DMA engine in the device tree's PCI node, with its BAR0 as the firmware (minivmm) set it. */
static inline bool dmae__find(struct dmae *e)
{
	int host = dtb__find_compatible(-1, "pci-host-ecam-generic");
	struct pci_bar bar;

	for (int n = host >= 0 ? dtb__first_child(host) : -1; n >= 0; n = dtb__next_sibling(n)) {
		uint32_t ven, dev, rid;

		if (!dtb__prop_u32(n, "vendor-id", &ven) || !dtb__prop_u32(n, "device-id", &dev) ||
		    ven != DMAE_VENDOR_ID || dev != DMAE_DEVICE_ID || !dtb__prop_u32(n, "minivmm,requester-id", &rid))
			continue;
		e->bdf = rid;
		TEST_EQ(pci__read16(e->bdf, PCI_VENDOR_ID), DMAE_VENDOR_ID);
		TEST_EQ(pci__read16(e->bdf, PCI_DEVICE_ID), DMAE_DEVICE_ID);
		TEST_EQ(pci__bar_probe(e->bdf, DMAE_REG_BAR, &bar), 1);
		TEST_ASSERT_MSG(bar.addr && !bar.io && bar.size == DMAE_REG_SIZE, "dma engine BAR0 0x%llx size 0x%llx",
				(unsigned long long)bar.addr, (unsigned long long)bar.size);
		e->regs = bar.addr;
		/* The firmware enabled decoding and bus mastering. */
		TEST_EQ(pci__read16(e->bdf, PCI_COMMAND) & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER),
			PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
		TEST_EQ(dmae__rd32(e, DMAE_ID), DMAE_ID_VALUE);
		return true;
	}
	return false;
}

/* Completion interrupts to @vector on this CPU. */
static inline void dmae__msix(const struct dmae *e, uint8_t vector)
{
	TEST_EQ(pci__msix_enable(e->bdf, DMAE_MSIX_VECTOR, msi__address(lapic__id()), msi__data(vector)), 0);
}

/* Ring: 64-bit writes keep it at four exits (SRC, DST, LEN|PASID, CMD|DOORBELL). */
static inline void dmae__start(const struct dmae *e, unsigned op, uint64_t src, uint64_t dst, uint32_t len,
			       uint32_t pasid)
{
	dmae__wr64(e, DMAE_SRC, src);
	dmae__wr64(e, DMAE_DST, dst);
	dmae__wr64(e, DMAE_LEN, len | (uint64_t)pasid << 32);
	dmae__wr64(e, DMAE_CMD, op | 1ULL << 32);
}

/* STATUS once the command ended; a command still running after @ms fails the test. */
static inline uint32_t dmae__wait(const struct dmae *e, unsigned ms)
{
	struct timeout t;
	uint32_t s;

	/* Most commands end before the first poll: start the clock (a port read, an exit) only then. */
	if (!((s = dmae__rd32(e, DMAE_STATUS)) & DMAE_STATUS_BUSY))
		return s;
	timeout__start(&t, ms);
	for (unsigned i = 1; (s = dmae__rd32(e, DMAE_STATUS)) & DMAE_STATUS_BUSY; i++)
		TEST_ASSERT_MSG(i % 16 || !timeout__expired(&t), "dma engine still busy after %u ms", ms);
	return s;
}

static inline uint32_t dmae__run(const struct dmae *e, unsigned op, uint64_t src, uint64_t dst, uint32_t len,
				 uint32_t pasid)
{
	dmae__start(e, op, src, dst, len, pasid);
	return dmae__wait(e, 2000);
}

#endif
