/* PCI configuration access and enumeration (see pci.h). */
#include "guest.h"

#define CF8_ENABLE	0x80000000u

static uint64_t ecam_addr(uint16_t bdf, uint16_t reg)
{
	/* ECAM: bus << 20 | dev << 15 | fn << 12 | reg == bdf << 12 | reg. */
	return platform.ecam_base + ((uint64_t)bdf << 12) + (reg & 0xfff);
}

uint32_t pci__ecam_read(uint16_t bdf, uint16_t reg, int size)
{
	uint64_t a = ecam_addr(bdf, reg);

	if (size == 1)
		return mmio_read8(a);
	if (size == 2)
		return mmio_read16(a);
	return mmio_read32(a);
}

void pci__ecam_write(uint16_t bdf, uint16_t reg, int size, uint32_t v)
{
	uint64_t a = ecam_addr(bdf, reg);

	if (size == 1)
		mmio_write8(a, v);
	else if (size == 2)
		mmio_write16(a, v);
	else
		mmio_write32(a, v);
}

/*
 * Mechanism #1: the address selects a dword; the data port offset picks the byte lane. The two port
 * accesses are not atomic between CPUs: callers on several CPUs must serialize.
 */
static uint16_t cf8_select(uint16_t bdf, uint16_t reg)
{
	uint16_t port = platform.pci_config_port ? platform.pci_config_port : 0xcf8;

	outl(port, CF8_ENABLE | (uint32_t)bdf << 8 | (reg & 0xfc));
	return port + 4 + (reg & 3);
}

uint32_t pci__cf8_read(uint16_t bdf, uint16_t reg, int size)
{
	uint16_t data = cf8_select(bdf, reg);

	if (size == 1)
		return inb(data);
	if (size == 2)
		return inw(data);
	return inl(data);
}

void pci__cf8_write(uint16_t bdf, uint16_t reg, int size, uint32_t v)
{
	uint16_t data = cf8_select(bdf, reg);

	if (size == 1)
		outb(data, v);
	else if (size == 2)
		outw(data, v);
	else
		outl(data, v);
}

static uint32_t cfg_read(uint16_t bdf, uint16_t reg, int size)
{
	return platform.has_pci ? pci__ecam_read(bdf, reg, size) : pci__cf8_read(bdf, reg, size);
}

static void cfg_write(uint16_t bdf, uint16_t reg, int size, uint32_t v)
{
	if (platform.has_pci)
		pci__ecam_write(bdf, reg, size, v);
	else
		pci__cf8_write(bdf, reg, size, v);
}

uint32_t pci__read32(uint16_t bdf, uint16_t reg)
{
	return cfg_read(bdf, reg, 4);
}

uint16_t pci__read16(uint16_t bdf, uint16_t reg)
{
	return cfg_read(bdf, reg, 2);
}

uint8_t pci__read8(uint16_t bdf, uint16_t reg)
{
	return cfg_read(bdf, reg, 1);
}

void pci__write32(uint16_t bdf, uint16_t reg, uint32_t v)
{
	cfg_write(bdf, reg, 4, v);
}

void pci__write16(uint16_t bdf, uint16_t reg, uint16_t v)
{
	cfg_write(bdf, reg, 2, v);
}

void pci__write8(uint16_t bdf, uint16_t reg, uint8_t v)
{
	cfg_write(bdf, reg, 1, v);
}

static int scan_bus(unsigned bus, int depth, void (*fn)(uint16_t, void *), void *arg)
{
	int found = 0;

	for (unsigned dev = 0; dev < 32; dev++) {
		unsigned nfn = 1;

		for (unsigned f = 0; f < nfn; f++) {
			uint16_t bdf = PCI_BDF(bus, dev, f);
			uint8_t hdr;

			if (pci__read16(bdf, PCI_VENDOR_ID) == 0xffff)
				continue;
			hdr = pci__read8(bdf, PCI_HEADER_TYPE);
			if (f == 0 && (hdr & 0x80))
				nfn = 8;
			found++;
			if (fn)
				fn(bdf, arg);
			/* A bridge: its secondary bus, if the bridge was given one beyond ours. */
			if ((hdr & 0x7f) == 1 && depth < 8) {
				unsigned sec = pci__read8(bdf, PCI_SECONDARY_BUS);

				if (sec > bus && sec <= platform.bus_last)
					found += scan_bus(sec, depth + 1, fn, arg);
			}
		}
	}
	return found;
}

int pci__enumerate(void (*fn)(uint16_t bdf, void *arg), void *arg)
{
	return scan_bus(platform.bus_first, 0, fn, arg);
}

int pci__bar_probe(uint16_t bdf, int index, struct pci_bar *bar)
{
	uint16_t reg = PCI_BAR0 + 4 * index, cmd;
	uint32_t lo, mask_lo, hi = 0, mask_hi = 0xffffffff;
	int slots = 1;

	memset(bar, 0, sizeof(*bar));
	if (index < 0 || index > 5)
		return 0;
	cmd = pci__read16(bdf, PCI_COMMAND);
	pci__write16(bdf, PCI_COMMAND, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
	lo = pci__read32(bdf, reg);
	pci__write32(bdf, reg, 0xffffffff);
	mask_lo = pci__read32(bdf, reg);
	pci__write32(bdf, reg, lo);
	bar->io = lo & 1;
	if (!bar->io && ((lo >> 1) & 3) == 2 && index < 5) {
		bar->mem64 = true;
		slots = 2;
		hi = pci__read32(bdf, reg + 4);
		pci__write32(bdf, reg + 4, 0xffffffff);
		mask_hi = pci__read32(bdf, reg + 4);
		pci__write32(bdf, reg + 4, hi);
	}
	pci__write16(bdf, PCI_COMMAND, cmd);

	if (bar->io) {
		uint32_t m = mask_lo & ~3u;

		bar->addr = lo & ~3u;
		/* I/O BARs may implement only 16 bits: the upper bits read back as 0. */
		if (m && !(m & 0xffff0000))
			m |= 0xffff0000;
		bar->size = m ? (uint32_t)(~m + 1) : 0;
	} else {
		uint64_t m = (uint64_t)mask_hi << 32 | (mask_lo & ~0xfu);

		bar->prefetch = lo & 8;
		bar->addr = (uint64_t)hi << 32 | (lo & ~0xfu);
		if (!bar->mem64)
			m = (uint32_t)m ? m | 0xffffffff00000000ull : 0;
		bar->size = m ? ~m + 1 : 0;
	}
	return slots;
}

static uint64_t mmio32_next;

void pci__assign_bars(uint16_t bdf)
{
	uint16_t cmd = pci__read16(bdf, PCI_COMMAND);

	if ((pci__read8(bdf, PCI_HEADER_TYPE) & 0x7f) != 0)
		return;
	if (!mmio32_next)
		mmio32_next = platform.pci_mmio32_base;
	for (int i = 0; i < 6;) {
		struct pci_bar bar;
		int n = pci__bar_probe(bdf, i, &bar);
		uint64_t a;

		if (!n)
			break;
		if (bar.size && bar.io)
			cmd |= PCI_COMMAND_IO;
		if (bar.size && !bar.io) {
			cmd |= PCI_COMMAND_MEMORY;
			a = (mmio32_next + bar.size - 1) & ~(bar.size - 1);
			if (!bar.addr && a + bar.size <= platform.pci_mmio32_base + platform.pci_mmio32_size) {
				pci__write32(bdf, PCI_BAR0 + 4 * i, (uint32_t)a);
				if (bar.mem64)
					pci__write32(bdf, PCI_BAR0 + 4 * i + 4, 0);
				mmio32_next = a + bar.size;
			}
		}
		i += n;
	}
	pci__write16(bdf, PCI_COMMAND, cmd);
}

uint8_t pci__find_cap(uint16_t bdf, uint8_t id)
{
	uint8_t off;

	if (!(pci__read16(bdf, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	off = pci__read8(bdf, PCI_CAPABILITY_LIST) & 0xfc;
	/* At most 48 capabilities fit in 192 bytes: a longer chain is a loop. */
	for (int i = 0; off >= 0x40 && i < 48; i++) {
		if (pci__read8(bdf, off) == id)
			return off;
		off = pci__read8(bdf, off + 1) & 0xfc;
	}
	return 0;
}

uint64_t msi__address(uint32_t apic_id)
{
	return 0xfee00000u | (apic_id & 0xff) << 12;
}

uint32_t msi__data(uint8_t vector)
{
	return vector;	/* fixed delivery, edge */
}

/* MSI capability (PCI Local Bus 3.0 6.8.1): control @2, address @4, [upper @8], data @8 or @12. */
int pci__msi_enable(uint16_t bdf, uint64_t addr, uint32_t data)
{
	uint8_t cap = pci__find_cap(bdf, PCI_CAP_ID_MSI);
	uint16_t ctrl;

	if (!cap)
		return -1;
	ctrl = pci__read16(bdf, cap + 2);
	pci__write32(bdf, cap + 4, (uint32_t)addr);
	if (ctrl & 0x80) {	/* 64-bit address capable */
		pci__write32(bdf, cap + 8, addr >> 32);
		pci__write16(bdf, cap + 12, data);
	} else {
		pci__write16(bdf, cap + 8, data);
	}
	ctrl &= ~0x70;		/* Multiple Message Enable = 1 vector */
	pci__write16(bdf, cap + 2, ctrl | 1);
	pci__write16(bdf, PCI_COMMAND, pci__read16(bdf, PCI_COMMAND) | PCI_COMMAND_INTX_DISABLE);
	return 0;
}

/* MSI-X (PCI Local Bus 3.0 6.8.2): table size - 1 in control[10:0], BIR/offset @4; 16-byte entries. */
int pci__msix_enable(uint16_t bdf, unsigned entry, uint64_t addr, uint32_t data)
{
	uint8_t cap = pci__find_cap(bdf, PCI_CAP_ID_MSIX);
	uint16_t ctrl;
	uint32_t tbl;
	struct pci_bar bar;
	uint64_t e;

	if (!cap)
		return -1;
	ctrl = pci__read16(bdf, cap + 2);
	tbl = pci__read32(bdf, cap + 4);
	if (entry > (ctrl & 0x7ffu) || (tbl & 7) > 5 || !pci__bar_probe(bdf, tbl & 7, &bar) || bar.io ||
	    !bar.addr || (tbl & ~7u) + (entry + 1) * 16 > bar.size)
		return -1;
	/* Function Mask while the entry changes, then enable with the mask off. */
	pci__write16(bdf, cap + 2, ctrl | 0x4000);
	pci__write16(bdf, PCI_COMMAND, pci__read16(bdf, PCI_COMMAND) | PCI_COMMAND_MEMORY |
		     PCI_COMMAND_INTX_DISABLE);
	e = bar.addr + (tbl & ~7u) + entry * 16;
	mmio_write32(e + 0, (uint32_t)addr);
	mmio_write32(e + 4, addr >> 32);
	mmio_write32(e + 8, data);
	mmio_write32(e + 12, 0);	/* vector control: unmasked */
	pci__write16(bdf, cap + 2, (ctrl & ~0x4000) | 0x8000);
	return 0;
}
