/*
 * PCI device base: config space with per-byte write masks, the type 0 header, BARs and the capability
 * list. MSI and MSI-X live in pci-msi.c, the host bridge (config mechanisms, BAR assignment) in
 * pci-host.c.
 *
 * Config space is three byte arrays: the value, the bits the guest may write (wmask) and the bits it
 * clears by writing 1 (w1cmask; such bits need not be in wmask). A guest write of byte b at o does
 *	rw = wmask[o] & ~w1cmask[o];  cfg[o] = (cfg[o] & ~rw) | (b & rw);  cfg[o] &= ~(b & w1cmask[o]);
 * and then the side effects of the registers it touched. BAR sizing falls out of the masks: the
 * address bits below the BAR's size are read-only 0, so writing all-ones reads back ~(size - 1) plus
 * the read-only type bits (PCI Local Bus 3.0 §6.2.5.1).
 */
#include "devices/pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci-host.h"
#include "vmm/log.h"
#include "vmm/util.h"
#include "vmm/vm.h"

/* Command bits the guest may change; the rest are hardwired 0 on our devices. */
#define PCI_COMMAND_RW	(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | \
			 PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)
/* Status error bits, write-1-to-clear (PCI 3.0 §6.2.3). */
#define PCI_STATUS_W1C	(PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT | \
			 PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)

static unsigned pci_cfg_size(const struct pci_device *dev)
{
	return dev->express ? PCI_CFG_SIZE : PCI_CFG_SIZE_LEGACY;
}

static uint32_t cfg_get(const uint8_t *a, unsigned off, unsigned len)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < len; i++)
		v |= (uint32_t)a[off + i] << (8 * i);
	return v;
}

static void cfg_put(uint8_t *a, unsigned off, unsigned len, uint32_t v)
{
	for (unsigned i = 0; i < len; i++)
		a[off + i] = v >> (8 * i);
}

static bool raw_range_ok(unsigned off, unsigned len)
{
	return len >= 1 && len <= 4 && off < PCI_CFG_SIZE && len <= PCI_CFG_SIZE - off;
}

void pci__cfg_set(struct pci_device *dev, unsigned off, unsigned len, uint32_t val)
{
	if (!raw_range_ok(off, len))
		return;
	pthread_mutex_lock(&dev->lock);
	cfg_put(dev->cfg, off, len, val);
	pthread_mutex_unlock(&dev->lock);
}

uint32_t pci__cfg_get(struct pci_device *dev, unsigned off, unsigned len)
{
	uint32_t v;

	if (!raw_range_ok(off, len))
		return 0;
	pthread_mutex_lock(&dev->lock);
	v = cfg_get(dev->cfg, off, len);
	pthread_mutex_unlock(&dev->lock);
	return v;
}

void pci__set_wmask(struct pci_device *dev, unsigned off, unsigned len, uint32_t mask)
{
	if (!raw_range_ok(off, len))
		return;
	pthread_mutex_lock(&dev->lock);
	cfg_put(dev->wmask, off, len, mask);
	pthread_mutex_unlock(&dev->lock);
}

void pci__set_w1cmask(struct pci_device *dev, unsigned off, unsigned len, uint32_t mask)
{
	if (!raw_range_ok(off, len))
		return;
	pthread_mutex_lock(&dev->lock);
	cfg_put(dev->w1cmask, off, len, mask);
	pthread_mutex_unlock(&dev->lock);
}

void pci__init_dev(struct pci_device *dev, const char *name, uint16_t vendor, uint16_t device,
		   uint32_t class_code, uint8_t revision)
{
	memset(dev, 0, sizeof(*dev));
	pthread_mutex_init(&dev->lock, NULL);
	dev->name = name;
	dev->intx_gsi = -1;
	dev->msix_bar = -1;
	dev->cap_next = PCI_CAP_START;
	for (int i = 0; i < PCI_STD_NUM_BARS; i++)
		dev->bar[i].dev = dev;

	cfg_put(dev->cfg, PCI_VENDOR_ID, 2, vendor);
	cfg_put(dev->cfg, PCI_DEVICE_ID, 2, device);
	cfg_put(dev->cfg, PCI_CLASS_REVISION, 4, class_code << 8 | revision);
	dev->cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;

	cfg_put(dev->wmask, PCI_COMMAND, 2, PCI_COMMAND_RW);
	cfg_put(dev->w1cmask, PCI_STATUS, 2, PCI_STATUS_W1C);
	dev->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	dev->wmask[PCI_INTERRUPT_LINE] = 0xff;	/* scratch for the OS; routing does not depend on it */
}

void pci__set_subsystem(struct pci_device *dev, uint16_t subsys_vendor, uint16_t subsys_id)
{
	pci__cfg_set(dev, PCI_SUBSYSTEM_VENDOR_ID, 2, subsys_vendor);
	pci__cfg_set(dev, PCI_SUBSYSTEM_ID, 2, subsys_id);
}

/* ---- BARs ---- */

static bool pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

int pci__add_bar(struct pci_device *dev, int bar, enum pci_bar_type type, uint64_t size, bool prefetch,
		 bus_io_fn fn, void *opaque)
{
	unsigned reg = PCI_BASE_ADDRESS_0 + 4 * bar;
	uint64_t mask = ~(size - 1);
	uint32_t flags;

	if (bar < 0 || bar >= PCI_STD_NUM_BARS || !fn || !pow2(size))
		return -EINVAL;
	switch (type) {
	case PCI_BAR_IO:
		if (size < 4 || size > 256 || prefetch)
			return -EINVAL;
		flags = PCI_BASE_ADDRESS_SPACE_IO;
		mask &= PCI_BASE_ADDRESS_IO_MASK;
		break;
	case PCI_BAR_MEM32:
		if (size < 16 || size > 2 * GiB)
			return -EINVAL;
		flags = PCI_BASE_ADDRESS_MEM_TYPE_32;
		mask &= PCI_BASE_ADDRESS_MEM_MASK;
		break;
	case PCI_BAR_MEM64:
		if (size < 16 || size > (1ULL << 62) || bar == PCI_STD_NUM_BARS - 1)
			return -EINVAL;
		flags = PCI_BASE_ADDRESS_MEM_TYPE_64;
		mask &= PCI_BASE_ADDRESS_MEM_MASK;
		break;
	default:
		return -EINVAL;
	}
	if (prefetch)
		flags |= PCI_BASE_ADDRESS_MEM_PREFETCH;

	pthread_mutex_lock(&dev->lock);
	if (dev->bar[bar].type != PCI_BAR_NONE || (type == PCI_BAR_MEM64 && dev->bar[bar + 1].type != PCI_BAR_NONE) ||
	    (bar > 0 && dev->bar[bar - 1].type == PCI_BAR_MEM64)) {
		pthread_mutex_unlock(&dev->lock);
		return -EBUSY;
	}
	dev->bar[bar] = (struct pci_bar){ .type = type, .prefetch = prefetch, .size = size, .fn = fn,
					  .opaque = opaque, .dev = dev };
	cfg_put(dev->cfg, reg, 4, flags);
	cfg_put(dev->wmask, reg, 4, (uint32_t)mask);
	if (type == PCI_BAR_MEM64) {
		cfg_put(dev->cfg, reg + 4, 4, 0);
		cfg_put(dev->wmask, reg + 4, 4, mask >> 32);
	}
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

static uint64_t pci_bar_cfg_addr(const struct pci_device *dev, int i)
{
	unsigned reg = PCI_BASE_ADDRESS_0 + 4 * i;
	uint64_t lo = cfg_get(dev->cfg, reg, 4);

	switch (dev->bar[i].type) {
	case PCI_BAR_IO:
		return lo & PCI_BASE_ADDRESS_IO_MASK;
	case PCI_BAR_MEM32:
		return lo & (uint32_t)PCI_BASE_ADDRESS_MEM_MASK;
	case PCI_BAR_MEM64:
		return (lo & (uint32_t)PCI_BASE_ADDRESS_MEM_MASK) | (uint64_t)cfg_get(dev->cfg, reg + 4, 4) << 32;
	default:
		return 0;
	}
}

/*
 * Does BAR @i decode at @addr? Only with its command bit set, and not at 0, at the all-ones sizing
 * pattern, or where it would run past the end of its address space (I/O: 64 KiB on x86). Like QEMU's
 * pci_bar_address(), a BAR half-way through being moved may decode for a moment; OSes clear the
 * decode bits while they size or move BARs.
 */
static bool pci_bar_decodes(const struct pci_device *dev, int i, uint64_t addr)
{
	const struct pci_bar *bar = &dev->bar[i];
	uint16_t cmd = cfg_get(dev->cfg, PCI_COMMAND, 2);
	uint64_t limit;

	switch (bar->type) {
	case PCI_BAR_IO:
		if (!(cmd & PCI_COMMAND_IO))
			return false;
		limit = 0x10000;
		break;
	case PCI_BAR_MEM32:
		if (!(cmd & PCI_COMMAND_MEMORY))
			return false;
		limit = 1ULL << 32;
		break;
	case PCI_BAR_MEM64:
		if (!(cmd & PCI_COMMAND_MEMORY))
			return false;
		limit = 0;	/* the whole 64-bit space; wrap-around is checked below */
		break;
	default:
		return false;
	}
	/* A 32-bit memory BAR holding its sizing pattern ends exactly at 4 GiB: still being sized. */
	if (!addr || (bar->type == PCI_BAR_MEM32 && addr == limit - bar->size))
		return false;
	if (addr + bar->size <= addr)	/* wraps (a 64-bit BAR's sizing pattern does) */
		return false;
	return !limit || addr + bar->size <= limit;
}

/* Accesses reach the device through here, clipped to the BAR. */
static void pci_bar_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write)
{
	struct pci_bar *bar = opaque;

	if (offset >= bar->size || len > bar->size - offset) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	bar->fn(bar->opaque, offset, data, len, is_write);
}

/* Make BAR @i's bus registration match its config register and the command register. Locked. */
void pci__bar_update(struct pci_device *dev, int i)
{
	struct pci_bar *bar = &dev->bar[i];
	struct bus *bus;
	uint64_t addr;
	bool want;
	int ret;

	if (bar->type == PCI_BAR_NONE || !dev->vm)
		return;
	bus = bar->type == PCI_BAR_IO ? &dev->vm->pio : &dev->vm->mmio;
	addr = pci_bar_cfg_addr(dev, i);
	want = pci_bar_decodes(dev, i, addr);
	if (bar->mapped && (!want || addr != bar->addr)) {
		bus__unregister(bus, bar->addr, bar);
		bar->mapped = false;
	}
	if (!want || bar->mapped)
		return;
	ret = bus__register(bus, addr, bar->size, pci_bar_io, bar, dev->name);
	if (ret < 0) {
		/* The guest placed it exactly over another region: it stays dark until moved. */
		if (!bar->conflict_logged)
			pr_warn("%s: BAR %d at %#llx (%#llx bytes) conflicts with another device; not decoded",
				dev->name, i, (unsigned long long)addr, (unsigned long long)bar->size);
		bar->conflict_logged = true;
		return;
	}
	bar->mapped = true;
	bar->addr = addr;
}

uint64_t pci__bar_addr(struct pci_device *dev, int i)
{
	uint64_t a = 0;

	if (i < 0 || i >= PCI_STD_NUM_BARS)
		return 0;
	pthread_mutex_lock(&dev->lock);
	if (dev->bar[i].mapped)
		a = dev->bar[i].addr;
	pthread_mutex_unlock(&dev->lock);
	return a;
}

/* ---- capabilities ---- */

int pci__add_cap(struct pci_device *dev, uint8_t id, unsigned len)
{
	unsigned off;

	pthread_mutex_lock(&dev->lock);
	off = ALIGN_UP(dev->cap_next, 4);	/* capabilities are dword aligned (PCI 3.0 §6.7) */
	if (len < 2 || off + len > PCI_CFG_SIZE_LEGACY) {
		pthread_mutex_unlock(&dev->lock);
		return -ENOSPC;
	}
	dev->cfg[off + PCI_CAP_LIST_ID] = id;
	dev->cfg[off + PCI_CAP_LIST_NEXT] = 0;
	if (dev->cap_last)
		dev->cfg[dev->cap_last + PCI_CAP_LIST_NEXT] = off;
	else
		dev->cfg[PCI_CAPABILITY_LIST] = off;
	dev->cap_last = off;
	dev->cap_next = off + len;
	dev->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	pthread_mutex_unlock(&dev->lock);
	return off;
}

unsigned pci__find_cap(struct pci_device *dev, uint8_t id)
{
	unsigned found = 0, pos;

	pthread_mutex_lock(&dev->lock);
	pos = dev->cfg[PCI_CAPABILITY_LIST] & ~3u;
	/* At most 48 capabilities fit in 192 bytes: more steps than that means a loop. */
	for (int n = 0; pos >= PCI_CAP_START && n < 48; n++) {
		if (dev->cfg[pos + PCI_CAP_LIST_ID] == id) {
			found = pos;
			break;
		}
		pos = dev->cfg[pos + PCI_CAP_LIST_NEXT] & ~3u;
	}
	pthread_mutex_unlock(&dev->lock);
	return found;
}

/* ---- INTx ---- */

/* Drive our share of the INTx line. Locked. */
void pci__intx_update(struct pci_device *dev)
{
	uint16_t cmd = cfg_get(dev->cfg, PCI_COMMAND, 2);
	bool drive = dev->intx_asserted && !(cmd & PCI_COMMAND_INTX_DISABLE) && dev->intx_gsi >= 0 && dev->host;

	/* Interrupt Status shows the device's request whatever INTx Disable says (PCI 3.0 §6.2.3). */
	if (dev->intx_asserted)
		dev->cfg[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
	else
		dev->cfg[PCI_STATUS] &= ~PCI_STATUS_INTERRUPT;
	if (drive == dev->intx_driven)
		return;
	dev->intx_driven = drive;
	pci_host__intx(dev->host, dev->intx_gsi, drive);
}

void pci__set_intx(struct pci_device *dev, bool asserted)
{
	pthread_mutex_lock(&dev->lock);
	dev->intx_asserted = asserted;
	pci__intx_update(dev);
	pthread_mutex_unlock(&dev->lock);
}

bool pci__bus_master(struct pci_device *dev)
{
	bool on;

	pthread_mutex_lock(&dev->lock);
	on = cfg_get(dev->cfg, PCI_COMMAND, 2) & PCI_COMMAND_MASTER;
	pthread_mutex_unlock(&dev->lock);
	return on;
}

/* ---- config access from the host bridge ---- */

static bool overlaps(unsigned off, unsigned len, unsigned reg, unsigned reg_len)
{
	return off < reg + reg_len && reg < off + len;
}

uint32_t pci__cfg_read(struct pci_device *dev, unsigned off, unsigned len)
{
	uint32_t v;

	if (len < 1 || len > 4)
		return ~0u;
	if (off >= pci_cfg_size(dev) || len > pci_cfg_size(dev) - off)
		return ~0u >> (32 - 8 * len);
	pthread_mutex_lock(&dev->lock);
	v = cfg_get(dev->cfg, off, len);
	pthread_mutex_unlock(&dev->lock);
	if (dev->ops && dev->ops->cfg_read)
		dev->ops->cfg_read(dev, off, len, &v);
	return v;
}

void pci__cfg_write(struct pci_device *dev, unsigned off, unsigned len, uint32_t val)
{
	struct pci_vec_change chg = { .all = false, .one = -1 };
	struct pci_msi_snap snap;
	uint16_t old_cmd, cmd;

	if (len < 1 || len > 4 || off >= pci_cfg_size(dev) || len > pci_cfg_size(dev) - off)
		return;
	pthread_mutex_lock(&dev->lock);
	pci__msi_snapshot(dev, &snap);
	old_cmd = snap.cmd;
	for (unsigned i = 0; i < len; i++) {
		unsigned o = off + i;
		uint8_t b = val >> (8 * i);

		uint8_t rw = dev->wmask[o] & ~dev->w1cmask[o];

		dev->cfg[o] = (dev->cfg[o] & ~rw) | (b & rw);
		dev->cfg[o] &= ~(b & dev->w1cmask[o]);
	}
	cmd = cfg_get(dev->cfg, PCI_COMMAND, 2);
	if ((cmd ^ old_cmd) & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY)) {
		for (int i = 0; i < PCI_STD_NUM_BARS; i++)
			pci__bar_update(dev, i);
	} else if (overlaps(off, len, PCI_BASE_ADDRESS_0, 4 * PCI_STD_NUM_BARS)) {
		for (int i = 0; i < PCI_STD_NUM_BARS; i++) {
			/* The upper half of a 64-bit BAR moves the BAR below it. */
			unsigned reg = PCI_BASE_ADDRESS_0 + 4 * i;

			if (overlaps(off, len, reg, 4) ||
			    (dev->bar[i].type == PCI_BAR_MEM64 && overlaps(off, len, reg + 4, 4)))
				pci__bar_update(dev, i);
		}
	}
	if ((cmd ^ old_cmd) & PCI_COMMAND_INTX_DISABLE)
		pci__intx_update(dev);
	pci__msi_cfg_written(dev, &snap, &chg);
	pthread_mutex_unlock(&dev->lock);

	pci__vec_notify(dev, &chg);
	if (dev->ops && dev->ops->cfg_write)
		dev->ops->cfg_write(dev, off, len, val);
}

void pci__exit_dev(struct pci_device *dev)
{
	pthread_mutex_lock(&dev->lock);
	for (int i = 0; i < PCI_STD_NUM_BARS; i++) {
		struct pci_bar *bar = &dev->bar[i];

		if (bar->mapped)
			bus__unregister(bar->type == PCI_BAR_IO ? &dev->vm->pio : &dev->vm->mmio, bar->addr, bar);
		bar->mapped = false;
	}
	if (dev->intx_driven)
		pci_host__intx(dev->host, dev->intx_gsi, false);
	dev->intx_driven = false;
	pthread_mutex_unlock(&dev->lock);
	pci__msi_exit(dev);
	pthread_mutex_destroy(&dev->lock);
}
