/*
 * MSI and MSI-X for the PCI device base (PCI Local Bus 3.0 §6.8).
 *
 * MSI: one vector, 64-bit message address, per-vector masking (§6.8.1: capability layout with the
 * Mask Bits and Pending Bits registers at +0x10 / +0x14). A message signalled while masked sets the
 * pending bit and goes out when the vector is unmasked.
 *
 * MSI-X (§6.8.2): the table and the Pending Bit Array sit in a BAR of their own (table at offset 0, PBA
 * in the second half). A vector is masked by its entry's Vector Control bit 0 (1 at reset) or by the
 * Function Mask; a message signalled while masked sets its PBA bit and is delivered when the vector
 * becomes unmasked with MSI-X enabled (§6.8.2.9). The table and PBA accept any access size; §6.8.2
 * only requires aligned dword and qword accesses to work.
 *
 * Messages are memory writes by the device, so they need Bus Master Enable like any DMA; with BME clear
 * they are lost, as on hardware. They reach KVM through irq__send_msi_from() (vmm/irq.h), which
 * applies the vIOMMU's interrupt remapping.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci.h"
#include "vmm/irq.h"
#include "vmm/log.h"
#include "vmm/util.h"

#define MSI_CAP_LEN	24	/* 64-bit address and per-vector masking */
#define MSIX_CAP_LEN	12

static uint32_t get(const uint8_t *p, unsigned len)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < len; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static void put(uint8_t *p, unsigned len, uint32_t v)
{
	for (unsigned i = 0; i < len; i++)
		p[i] = v >> (8 * i);
}

static uint16_t cmd_of(const struct pci_device *dev)
{
	return get(dev->cfg + PCI_COMMAND, 2);
}

static bool msi_enabled(const struct pci_device *dev)
{
	return dev->msi_cap && (get(dev->cfg + dev->msi_cap + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_ENABLE);
}

static uint16_t msix_ctrl(const struct pci_device *dev)
{
	return dev->msix_cap ? get(dev->cfg + dev->msix_cap + PCI_MSIX_FLAGS, 2) : 0;
}

static bool msix_enabled(const struct pci_device *dev)
{
	return msix_ctrl(dev) & PCI_MSIX_FLAGS_ENABLE;
}

static uint8_t *msix_entry(const struct pci_device *dev, unsigned v)
{
	return dev->msix_table + v * PCI_MSIX_ENTRY_SIZE;
}

static bool msix_masked(const struct pci_device *dev, unsigned v)
{
	return (msix_ctrl(dev) & PCI_MSIX_FLAGS_MASKALL) ||
	       (msix_entry(dev, v)[PCI_MSIX_ENTRY_VECTOR_CTRL] & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

static void msix_entry_msg(const struct pci_device *dev, unsigned v, uint64_t *addr, uint32_t *data)
{
	const uint8_t *e = msix_entry(dev, v);

	*addr = get(e + PCI_MSIX_ENTRY_LOWER_ADDR, 4) | (uint64_t)get(e + PCI_MSIX_ENTRY_UPPER_ADDR, 4) << 32;
	*data = get(e + PCI_MSIX_ENTRY_DATA, 4);
}

static void msi_msg(const struct pci_device *dev, uint64_t *addr, uint32_t *data)
{
	const uint8_t *c = dev->cfg + dev->msi_cap;

	*addr = get(c + PCI_MSI_ADDRESS_LO, 4) | (uint64_t)get(c + PCI_MSI_ADDRESS_HI, 4) << 32;
	*data = get(c + PCI_MSI_DATA_64, 2);
}

static bool pba_test(const struct pci_device *dev, unsigned v)
{
	return dev->msix_pba[v / 8] & (1u << (v % 8));
}

static void pba_set(struct pci_device *dev, unsigned v, bool on)
{
	if (on)
		dev->msix_pba[v / 8] |= 1u << (v % 8);
	else
		dev->msix_pba[v / 8] &= ~(1u << (v % 8));
}

/* Send one message now. Locked. */
static int msi_send(struct pci_device *dev, uint64_t addr, uint32_t data)
{
	int ret;

	if (!(cmd_of(dev) & PCI_COMMAND_MASTER)) {
		dev->msi_lost++;
		return PCI_NOTIFY_DROPPED;
	}
	ret = irq__send_msi_from(dev->vm, pci__sid(dev), addr, data);
	if (ret < 0) {
		/* The guest programmed a bad message (or KVM refused it): nothing else we can do. */
		pr_debug("%s: MSI %#llx/%#x not delivered: %s", dev->name, (unsigned long long)addr, data,
			 strerror(-ret));
		return ret;
	}
	return PCI_NOTIFY_SENT;
}

/* Deliver MSI-X vector @v's pending message if it may go now. Locked. */
static void msix_flush_pending(struct pci_device *dev, unsigned v)
{
	uint64_t addr;
	uint32_t data;

	if (!msix_enabled(dev) || msix_masked(dev, v) || !pba_test(dev, v))
		return;
	pba_set(dev, v, false);
	msix_entry_msg(dev, v, &addr, &data);
	msi_send(dev, addr, data);
}

static void msi_flush_pending(struct pci_device *dev)
{
	uint8_t *c = dev->cfg + dev->msi_cap;
	uint64_t addr;
	uint32_t data;

	if (!msi_enabled(dev) || msix_enabled(dev) || (c[PCI_MSI_MASK_64] & 1) || !(c[PCI_MSI_PENDING_64] & 1))
		return;
	c[PCI_MSI_PENDING_64] &= ~1;
	msi_msg(dev, &addr, &data);
	msi_send(dev, addr, data);
}

int pci__notify(struct pci_device *dev, unsigned vector)
{
	int ret;

	pthread_mutex_lock(&dev->lock);
	if (!dev->vm) {
		ret = -ENODEV;
	} else if (msix_enabled(dev)) {
		if (vector >= dev->msix_nvec) {
			ret = -EINVAL;
		} else if (msix_masked(dev, vector)) {
			pba_set(dev, vector, true);
			ret = PCI_NOTIFY_PENDING;
		} else {
			uint64_t addr;
			uint32_t data;

			msix_entry_msg(dev, vector, &addr, &data);
			ret = msi_send(dev, addr, data);
		}
	} else if (msi_enabled(dev)) {
		uint8_t *c = dev->cfg + dev->msi_cap;

		if (c[PCI_MSI_MASK_64] & 1) {
			c[PCI_MSI_PENDING_64] |= 1;
			ret = PCI_NOTIFY_PENDING;
		} else {
			uint64_t addr;
			uint32_t data;

			msi_msg(dev, &addr, &data);
			ret = msi_send(dev, addr, data);
		}
	} else {
		ret = PCI_NOTIFY_INTX;
	}
	pthread_mutex_unlock(&dev->lock);
	return ret;
}

int pci__vector_msg(struct pci_device *dev, unsigned vector, uint64_t *addr, uint32_t *data)
{
	int ret = 0;

	*addr = 0;
	*data = 0;
	pthread_mutex_lock(&dev->lock);
	if (msix_enabled(dev)) {
		if (vector >= dev->msix_nvec) {
			ret = -EINVAL;
		} else {
			msix_entry_msg(dev, vector, addr, data);
			ret = !msix_masked(dev, vector);
		}
	} else if (msi_enabled(dev)) {
		msi_msg(dev, addr, data);
		ret = !(dev->cfg[dev->msi_cap + PCI_MSI_MASK_64] & 1);
	}
	if (ret > 0 && !(cmd_of(dev) & PCI_COMMAND_MASTER))
		ret = 0;
	pthread_mutex_unlock(&dev->lock);
	return ret;
}

/* ---- config-space side ---- */

void pci__msi_snapshot(struct pci_device *dev, struct pci_msi_snap *snap)
{
	snap->cmd = cmd_of(dev);
	if (dev->msi_cap)
		memcpy(snap->msi, dev->cfg + dev->msi_cap, MSI_CAP_LEN);
	snap->msix_ctrl = msix_ctrl(dev);
}

void pci__msi_cfg_written(struct pci_device *dev, const struct pci_msi_snap *old, struct pci_vec_change *chg)
{
	if ((cmd_of(dev) ^ old->cmd) & PCI_COMMAND_MASTER)
		chg->all = true;
	/* Everything but the pending bits (the last dword) is state a device's irqfd route depends on. */
	if (dev->msi_cap && memcmp(old->msi, dev->cfg + dev->msi_cap, PCI_MSI_PENDING_64)) {
		chg->all = true;
		msi_flush_pending(dev);
	}
	if (dev->msix_cap && old->msix_ctrl != msix_ctrl(dev)) {
		chg->all = true;
		for (unsigned v = 0; v < dev->msix_nvec; v++)
			msix_flush_pending(dev, v);
	}
}

void pci__vec_notify(struct pci_device *dev, const struct pci_vec_change *chg)
{
	if (!dev->ops || !dev->ops->vector_changed)
		return;
	if (chg->all) {
		unsigned n = dev->msix_cap ? dev->msix_nvec : 1;

		for (unsigned v = 0; v < n; v++)
			dev->ops->vector_changed(dev, v);
	} else if (chg->one >= 0) {
		dev->ops->vector_changed(dev, chg->one);
	}
}

int pci__msi_init(struct pci_device *dev)
{
	int off;

	if (dev->msi_cap)
		return -EBUSY;
	off = pci__add_cap(dev, PCI_CAP_ID_MSI, MSI_CAP_LEN);
	if (off < 0)
		return off;
	pthread_mutex_lock(&dev->lock);
	dev->msi_cap = off;
	/* Multiple Message Capable = 0 (one vector), so Multiple Message Enable stays read-only 0. */
	put(dev->cfg + off + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT);
	put(dev->wmask + off + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE);
	put(dev->wmask + off + PCI_MSI_ADDRESS_LO, 4, 0xfffffffc);	/* dword-aligned address */
	put(dev->wmask + off + PCI_MSI_ADDRESS_HI, 4, 0xffffffff);
	put(dev->wmask + off + PCI_MSI_DATA_64, 2, 0xffff);
	put(dev->wmask + off + PCI_MSI_MASK_64, 4, 0x1);
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

/* The MSI-X BAR. Byte by byte: any width and alignment works, holes read 0. */
static void pci_msix_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write)
{
	struct pci_device *dev = opaque;
	struct pci_vec_change chg = { .all = false, .one = -1 };
	uint64_t table_len = (uint64_t)dev->msix_nvec * PCI_MSIX_ENTRY_SIZE;
	uint64_t pba_len = ALIGN_UP(dev->msix_nvec, 64) / 8;
	uint8_t old[2][PCI_MSIX_ENTRY_SIZE];
	uint8_t *p = data;
	unsigned first = offset / PCI_MSIX_ENTRY_SIZE, last = (offset + len - 1) / PCI_MSIX_ENTRY_SIZE;

	if (!len)
		return;
	pthread_mutex_lock(&dev->lock);
	if (is_write && last - first < 2) {
		for (unsigned e = first; e <= last && e < dev->msix_nvec; e++)
			memcpy(old[e - first], msix_entry(dev, e), PCI_MSIX_ENTRY_SIZE);
	}
	for (unsigned i = 0; i < len; i++) {
		uint64_t o = offset + i;

		if (o < table_len) {
			unsigned field = o % PCI_MSIX_ENTRY_SIZE;

			if (!is_write)
				p[i] = dev->msix_table[o];
			else if (field < PCI_MSIX_ENTRY_VECTOR_CTRL)
				dev->msix_table[o] = p[i];
			else if (field == PCI_MSIX_ENTRY_VECTOR_CTRL)	/* only the mask bit is writable */
				dev->msix_table[o] = p[i] & PCI_MSIX_ENTRY_CTRL_MASKBIT;
		} else if (o >= dev->msix_pba_off && o - dev->msix_pba_off < pba_len) {
			if (!is_write)
				p[i] = dev->msix_pba[o - dev->msix_pba_off];	/* read-only */
		} else if (!is_write) {
			p[i] = 0;
		}
	}
	if (is_write && last - first < 2) {
		for (unsigned e = first; e <= last && e < dev->msix_nvec; e++) {
			if (!memcmp(old[e - first], msix_entry(dev, e), PCI_MSIX_ENTRY_SIZE))
				continue;
			if (chg.one >= 0)
				chg.all = true;
			chg.one = e;
			msix_flush_pending(dev, e);
		}
	}
	pthread_mutex_unlock(&dev->lock);
	pci__vec_notify(dev, &chg);
}

int pci__msix_init(struct pci_device *dev, unsigned nvec, int bar)
{
	uint64_t table_len = (uint64_t)nvec * PCI_MSIX_ENTRY_SIZE, pba_len = ALIGN_UP(nvec, 64) / 8;
	uint64_t size = 4096;
	int off, ret;

	if (!nvec || nvec > PCI_MSIX_MAX_VECTORS || bar < 0 || bar >= PCI_STD_NUM_BARS)
		return -EINVAL;
	if (dev->msix_cap)
		return -EBUSY;
	while (size / 2 < table_len || size / 2 < pba_len)
		size *= 2;
	dev->msix_table = calloc(nvec, PCI_MSIX_ENTRY_SIZE);
	dev->msix_pba = calloc(pba_len, 1);
	if (!dev->msix_table || !dev->msix_pba) {
		ret = -ENOMEM;
		goto fail;
	}
	for (unsigned v = 0; v < nvec; v++)
		msix_entry(dev, v)[PCI_MSIX_ENTRY_VECTOR_CTRL] = PCI_MSIX_ENTRY_CTRL_MASKBIT;	/* reset: masked */
	ret = pci__add_bar(dev, bar, PCI_BAR_MEM32, size, false, pci_msix_io, dev);
	if (ret < 0)
		goto fail;
	off = pci__add_cap(dev, PCI_CAP_ID_MSIX, MSIX_CAP_LEN);
	if (off < 0) {
		ret = off;
		pthread_mutex_lock(&dev->lock);
		dev->bar[bar].type = PCI_BAR_NONE;
		put(dev->cfg + PCI_BASE_ADDRESS_0 + 4 * bar, 4, 0);
		put(dev->wmask + PCI_BASE_ADDRESS_0 + 4 * bar, 4, 0);
		pthread_mutex_unlock(&dev->lock);
		goto fail;
	}
	pthread_mutex_lock(&dev->lock);
	dev->msix_cap = off;
	dev->msix_bar = bar;
	dev->msix_nvec = nvec;
	dev->msix_pba_off = size / 2;
	put(dev->cfg + off + PCI_MSIX_FLAGS, 2, nvec - 1);
	put(dev->wmask + off + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	put(dev->cfg + off + PCI_MSIX_TABLE, 4, 0 | bar);
	put(dev->cfg + off + PCI_MSIX_PBA, 4, (uint32_t)dev->msix_pba_off | bar);
	pthread_mutex_unlock(&dev->lock);
	return 0;
fail:
	free(dev->msix_table);
	free(dev->msix_pba);
	dev->msix_table = NULL;
	dev->msix_pba = NULL;
	return ret;
}

void pci__msi_exit(struct pci_device *dev)
{
	free(dev->msix_table);
	free(dev->msix_pba);
	dev->msix_table = NULL;
	dev->msix_pba = NULL;
}
