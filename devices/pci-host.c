/*
 * PCI host bridge: configuration mechanism #1 (PCI Local Bus 3.0 §3.2.2.3.2), ECAM (PCI Express Base
 * 4.0 §7.2.2, PCI Firmware 3.2 §4.1: bus << 20 | device << 15 | function << 12 | register), BAR
 * assignment as firmware would do it, and the INTx wired-OR.
 */
#include "devices/pci-host.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/irq.h"
#include "vmm/layout.h"
#include "vmm/log.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define PCI_CONF1_ENABLE	0x80000000u
/* Bus, device, function and dword register; bits 30:24 are reserved, 1:0 select type 0/1. */
#define PCI_CONF1_ADDR_MASK	0x80fffffcu

struct pci_host {
	struct vm *vm;
	pthread_mutex_t lock;		/* config address, device table; taken before a device's lock */
	pthread_mutex_t intx_lock;	/* INTx counts; taken with a device's lock held */
	uint32_t conf1_addr;
	struct pci_device *dev[256];	/* bus 0, by devfn */
	const struct dma_translator *iommu;
	unsigned intx_count[PCI_INTX_NR_GSI];
	struct pci_windows win;
	struct pci_device bridge;
};

void pci_host__windows(const struct pci_host *host, struct pci_windows *w)
{
	*w = host->win;
}

struct pci_device *pci_host__find(struct pci_host *host, unsigned bus, unsigned devfn)
{
	struct pci_device *dev = NULL;

	if (bus > PCI_HOST_LAST_BUS || devfn > 255)
		return NULL;
	pthread_mutex_lock(&host->lock);
	dev = host->dev[devfn];
	pthread_mutex_unlock(&host->lock);
	return dev;
}

/* Absent functions and other buses: reads are all-ones (master abort), writes vanish. */
static uint32_t host_cfg_read(struct pci_host *host, unsigned bus, unsigned devfn, unsigned reg, unsigned len)
{
	struct pci_device *dev = pci_host__find(host, bus, devfn);

	if (!dev)
		return ~0u >> (32 - 8 * len);
	return pci__cfg_read(dev, reg, len);
}

static void host_cfg_write(struct pci_host *host, unsigned bus, unsigned devfn, unsigned reg, unsigned len,
			   uint32_t val)
{
	struct pci_device *dev = pci_host__find(host, bus, devfn);

	if (dev)
		pci__cfg_write(dev, reg, len, val);
}

static uint32_t load(const void *data, unsigned len)
{
	uint32_t v = 0;

	memcpy(&v, data, len);	/* little-endian host */
	return v;
}

/* 0xCF8: CONFIG_ADDRESS. Only a dword write latches it (byte writes to 0xCFB are mechanism #2's). */
static void conf1_addr_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write)
{
	struct pci_host *host = opaque;
	uint8_t *p = data;

	pthread_mutex_lock(&host->lock);
	if (is_write) {
		if (offset == 0 && len == 4)
			host->conf1_addr = load(data, 4) & PCI_CONF1_ADDR_MASK;
	} else {
		for (unsigned i = 0; i < len; i++)
			p[i] = offset + i < 4 ? host->conf1_addr >> (8 * (offset + i)) : 0xff;
	}
	pthread_mutex_unlock(&host->lock);
}

/* 0xCFC-0xCFF: CONFIG_DATA, any width at any of the four ports, within the dword. */
static void conf1_data_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write)
{
	struct pci_host *host = opaque;
	unsigned n = offset < 4 ? MIN(len, 4 - (unsigned)offset) : 0;
	uint32_t addr;

	pthread_mutex_lock(&host->lock);
	addr = host->conf1_addr;
	pthread_mutex_unlock(&host->lock);
	if (!is_write)
		memset(data, 0xff, len);
	if (!n || !(addr & PCI_CONF1_ENABLE))
		return;
	if (is_write) {
		host_cfg_write(host, (addr >> 16) & 0xff, (addr >> 8) & 0xff, (addr & 0xfc) + offset, n,
			       load(data, n));
	} else {
		uint32_t v = host_cfg_read(host, (addr >> 16) & 0xff, (addr >> 8) & 0xff, (addr & 0xfc) + offset, n);

		memcpy(data, &v, n);
	}
}

static void ecam_access(struct pci_host *host, uint64_t offset, uint8_t *p, unsigned len, bool is_write)
{
	unsigned bus = offset >> 20, devfn = (offset >> 12) & 0xff, reg = offset & 0xfff;

	if ((len != 1 && len != 2 && len != 4) || reg + len > PCI_CFG_SIZE) {
		if (!is_write)
			memset(p, 0xff, len);
		return;
	}
	if (is_write) {
		host_cfg_write(host, bus, devfn, reg, len, load(p, len));
	} else {
		uint32_t v = host_cfg_read(host, bus, devfn, reg, len);

		memcpy(p, &v, len);
	}
}

/* ECAM: 1, 2 and 4-byte accesses; an 8-byte access is two dwords. */
static void ecam_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write)
{
	if (len == 8) {
		ecam_access(opaque, offset, data, 4, is_write);
		ecam_access(opaque, offset + 4, (uint8_t *)data + 4, 4, is_write);
	} else {
		ecam_access(opaque, offset, data, len, is_write);
	}
}

void pci_host__intx(struct pci_host *host, int gsi, bool level)
{
	unsigned i = gsi - PCI_INTX_GSI_BASE;
	bool change;

	if (gsi < PCI_INTX_GSI_BASE || i >= PCI_INTX_NR_GSI)
		return;
	pthread_mutex_lock(&host->intx_lock);
	if (level)
		change = host->intx_count[i]++ == 0;
	else
		change = host->intx_count[i] && --host->intx_count[i] == 0;
	if (change && irq__set_line(host->vm, gsi, level) < 0)
		pr_debug("pci: cannot drive INTx GSI %d", gsi);
	pthread_mutex_unlock(&host->intx_lock);
}

static bool slot_free(struct pci_host *host, unsigned slot)
{
	for (unsigned fn = 0; fn < 8; fn++)
		if (host->dev[PCI_DEVFN(slot, fn)])
			return false;
	return true;
}

int pci_host__add(struct pci_host *host, struct pci_device *dev, int devfn)
{
	struct pci_device *fn0;
	uint8_t pin;

	pthread_mutex_lock(&host->lock);
	if (devfn < 0) {
		for (unsigned slot = 1; slot < 32 && devfn < 0; slot++)
			if (slot_free(host, slot))
				devfn = PCI_DEVFN(slot, 0);
		if (devfn < 0) {
			pthread_mutex_unlock(&host->lock);
			return -ENOSPC;
		}
	} else if (devfn > 255) {
		pthread_mutex_unlock(&host->lock);
		return -EINVAL;
	} else if (host->dev[devfn]) {
		pthread_mutex_unlock(&host->lock);
		return -EEXIST;
	}
	dev->vm = host->vm;
	dev->host = host;
	dev->bus = 0;
	dev->devfn = devfn;
	dma__init_as(&dev->dma, &host->vm->mem, host->iommu, dev->bus << 8 | dev->devfn);
	pin = pci__cfg_get(dev, PCI_INTERRUPT_PIN, 1);
	dev->intx_gsi = pin >= 1 && pin <= 4 ? (int)pci_host__intx_gsi(PCI_SLOT(devfn), pin) : -1;
	host->dev[devfn] = dev;
	/* Header Type bit 7 on function 0 tells the OS to scan functions 1-7 (PCI 3.0 §6.2.1). */
	fn0 = host->dev[PCI_DEVFN(PCI_SLOT(devfn), 0)];
	for (unsigned fn = 1; fn0 && fn < 8; fn++) {
		if (host->dev[PCI_DEVFN(PCI_SLOT(devfn), fn)]) {
			uint8_t ht = pci__cfg_get(fn0, PCI_HEADER_TYPE, 1);

			pci__cfg_set(fn0, PCI_HEADER_TYPE, 1, ht | PCI_HEADER_TYPE_MFD);
			break;
		}
	}
	pthread_mutex_unlock(&host->lock);
	return 0;
}

void pci_host__set_translator(struct pci_host *host, const struct dma_translator *tr)
{
	pthread_mutex_lock(&host->lock);
	host->iommu = tr;
	for (unsigned i = 0; i < 256; i++)
		if (host->dev[i])
			host->dev[i]->dma.iommu = tr;
	pthread_mutex_unlock(&host->lock);
}

int pci_host__for_each(struct pci_host *host, int (*fn)(struct pci_device *dev, void *arg), void *arg)
{
	for (unsigned devfn = 0; devfn < 256; devfn++) {
		struct pci_device *dev = pci_host__find(host, 0, devfn);
		int ret;

		if (dev && (ret = fn(dev, arg)))
			return ret;
	}
	return 0;
}

/* ---- firmware-style resource assignment ---- */

struct bar_req {
	struct pci_device *dev;
	int bar;
	enum pci_bar_type type;
	uint64_t size;
};

static int bar_req_cmp(const void *a, const void *b)
{
	const struct bar_req *x = a, *y = b;

	if (x->size != y->size)
		return x->size < y->size ? 1 : -1;	/* biggest first: no alignment holes */
	if (x->dev->devfn != y->dev->devfn)
		return x->dev->devfn - y->dev->devfn;
	return x->bar - y->bar;
}

/* Bump allocator over [*next, end) with natural alignment. 0 when it does not fit. */
static uint64_t window_alloc(uint64_t *next, uint64_t end, uint64_t size)
{
	uint64_t a = ALIGN_UP(*next, size);

	if (a < *next || a > end || size > end - a)
		return 0;
	*next = a + size;
	return a;
}

int pci_host__assign_resources(struct pci_host *host)
{
	struct bar_req req[256 * PCI_STD_NUM_BARS];
	uint64_t io = host->win.io_base, io_end = host->win.io_base + host->win.io_size;
	uint64_t m32 = host->win.mmio32_base, m32_end = host->win.mmio32_base + host->win.mmio32_size;
	uint64_t m64 = host->win.mmio64_base, m64_end = host->win.mmio64_base + host->win.mmio64_size;
	unsigned n = 0;
	int ret = 0;

	for (unsigned devfn = 0; devfn < 256; devfn++) {
		struct pci_device *dev = pci_host__find(host, 0, devfn);

		if (!dev)
			continue;
		for (int b = 0; b < PCI_STD_NUM_BARS; b++)
			if (dev->bar[b].type != PCI_BAR_NONE)
				req[n++] = (struct bar_req){ dev, b, dev->bar[b].type, dev->bar[b].size };
	}
	qsort(req, n, sizeof(req[0]), bar_req_cmp);

	/*
	 * 64-bit BARs go below 4 GiB while there is room, like SeaBIOS: guest programs identity-map only
	 * the first 4 GiB, and OSes need no 64-bit window in their _CRS for them.
	 */
	for (unsigned i = 0; i < n; i++) {
		struct bar_req *r = &req[i];
		unsigned reg = PCI_BASE_ADDRESS_0 + 4 * r->bar;
		uint64_t a;

		if (r->type == PCI_BAR_IO)
			a = window_alloc(&io, io_end, r->size);
		else
			a = window_alloc(&m32, m32_end, r->size);
		if (!a && r->type == PCI_BAR_MEM64)
			a = window_alloc(&m64, m64_end, r->size);
		if (!a) {
			pr_warn("%s: no room for BAR %d (%#llx bytes); left unassigned", r->dev->name, r->bar,
				(unsigned long long)r->size);
			ret = -ENOSPC;
			continue;
		}
		pci__cfg_write(r->dev, reg, 4, (uint32_t)a);
		if (r->type == PCI_BAR_MEM64)
			pci__cfg_write(r->dev, reg + 4, 4, a >> 32);
	}

	for (unsigned devfn = 0; devfn < 256; devfn++) {
		struct pci_device *dev = pci_host__find(host, 0, devfn);
		uint16_t cmd;

		if (!dev)
			continue;
		cmd = pci__cfg_get(dev, PCI_COMMAND, 2) | PCI_COMMAND_MASTER;
		for (int b = 0; b < PCI_STD_NUM_BARS; b++) {
			if (dev->bar[b].type == PCI_BAR_IO)
				cmd |= PCI_COMMAND_IO;
			else if (dev->bar[b].type != PCI_BAR_NONE)
				cmd |= PCI_COMMAND_MEMORY;
		}
		pci__cfg_write(dev, PCI_COMMAND, 2, cmd);
		if (dev->intx_gsi >= 0)
			pci__cfg_write(dev, PCI_INTERRUPT_LINE, 1, dev->intx_gsi);
	}
	return ret;
}

struct pci_host *pci_host__init(struct vm *vm)
{
	struct pci_host *host = calloc(1, sizeof(*host));
	int ret;

	if (!host) {
		pr_err("pci: out of memory");
		return NULL;
	}
	pthread_mutex_init(&host->lock, NULL);
	pthread_mutex_init(&host->intx_lock, NULL);
	host->vm = vm;
	host->win = (struct pci_windows){
		.mmio32_base = LAYOUT_PCI_MMIO32_BASE,
		.mmio32_size = LAYOUT_PCI_MMIO32_SIZE,
		.mmio64_base = ALIGN_UP(MAX(vm->mem.ram_end, LAYOUT_HIGHMEM_BASE), GiB),
		.mmio64_size = LAYOUT_PCI_MMIO64_SIZE,
		.io_base = PORT_PCI_IO_BASE,
		.io_size = PORT_PCI_IO_SIZE,
	};

	ret = bus__register(&vm->pio, PORT_PCI_CONFIG_ADDR, 4, conf1_addr_io, host, "pci-conf1-addr");
	if (ret < 0)
		goto fail;
	ret = bus__register(&vm->pio, PORT_PCI_CONFIG_DATA, 4, conf1_data_io, host, "pci-conf1-data");
	if (ret < 0)
		goto fail_addr;
	ret = bus__register(&vm->mmio, LAYOUT_PCI_ECAM_BASE, LAYOUT_PCI_ECAM_SIZE, ecam_io, host, "pci-ecam");
	if (ret < 0)
		goto fail_data;

	pci__init_dev(&host->bridge, "host-bridge", PCI_HOST_VENDOR_ID, PCI_HOST_DEVICE_ID,
		      PCI_CLASS_CODE_HOST_BRIDGE, 0);
	pci__set_subsystem(&host->bridge, PCI_HOST_SUBSYS_VENDOR, PCI_HOST_SUBSYS_ID);
	pci_host__add(host, &host->bridge, PCI_DEVFN(0, 0));
	return host;

fail_data:
	bus__unregister(&vm->pio, PORT_PCI_CONFIG_DATA, host);
fail_addr:
	bus__unregister(&vm->pio, PORT_PCI_CONFIG_ADDR, host);
fail:
	pr_err("pci: cannot register the host bridge: %s", strerror(-ret));
	pthread_mutex_destroy(&host->intx_lock);
	pthread_mutex_destroy(&host->lock);
	free(host);
	return NULL;
}

void pci_host__exit(struct pci_host *host)
{
	if (!host)
		return;
	bus__unregister(&host->vm->pio, PORT_PCI_CONFIG_ADDR, host);
	bus__unregister(&host->vm->pio, PORT_PCI_CONFIG_DATA, host);
	bus__unregister(&host->vm->mmio, LAYOUT_PCI_ECAM_BASE, host);
	pci__exit_dev(&host->bridge);
	pthread_mutex_destroy(&host->intx_lock);
	pthread_mutex_destroy(&host->lock);
	free(host);
}
