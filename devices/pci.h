/*
 * The PCI device base: one struct pci_device per function, embedded in the device model's own state.
 *
 * A device model fills its config header and resources, then hands the function to the host bridge:
 *
 *	pci__init_dev(&d->pci, "virtio-blk", 0x1af4, 0x1042, 0x010000, 1);
 *	d->pci.ops = &my_ops; d->pci.priv = d;
 *	pci__add_bar(&d->pci, 0, PCI_BAR_MEM64, 16 * KiB, false, my_bar_io, d);
 *	cap = pci__add_cap(&d->pci, PCI_CAP_ID_VNDR, 16);  ...fill it with pci__cfg_set()...
 *	pci__msix_init(&d->pci, nvec, 2);
 *	pci_host__add(host, &d->pci, -1);
 *
 * and raises interrupts with pci__notify(). The base does the rest: config-space write masks, BAR
 * sizing and (re)mapping on vm->mmio / vm->pio when the guest moves a BAR or flips the command
 * register's decode bits, the capability list, MSI and MSI-X (table, PBA, masking, pending bits).
 *
 * Locking: dev->lock guards config space, BAR mappings and MSI/MSI-X state. The base never holds it
 * while calling back into the device (ops), so a device may call pci__notify() and friends while
 * holding its own lock, and its callbacks may take that lock. Register layouts come from
 * <linux/pci_regs.h> (PCI Local Bus 3.0 §6, PCI Express Base 4.0 §7).
 */
#ifndef MINIVMM_DEVICES_PCI_H
#define MINIVMM_DEVICES_PCI_H

#include <linux/pci.h>		/* PCI_DEVFN, PCI_SLOT, PCI_FUNC and <linux/pci_regs.h> */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/dma.h"

struct vm;
struct pci_host;
struct pci_device;

#define PCI_CFG_SIZE		4096	/* PCIe: 4 KiB per function (ECAM) */
#define PCI_CFG_SIZE_LEGACY	256	/* conventional PCI */
#define PCI_CAP_START		0x40	/* first byte after the type 0 header */
#define PCI_MSIX_MAX_VECTORS	2048	/* table size field is 11 bits */

enum pci_bar_type {
	PCI_BAR_NONE,
	PCI_BAR_IO,	/* I/O space, 4..256 bytes */
	PCI_BAR_MEM32,	/* 32-bit memory */
	PCI_BAR_MEM64,	/* 64-bit memory: uses this BAR register and the next one */
};

struct pci_bar {
	enum pci_bar_type type;
	bool prefetch;
	uint64_t size;		/* power of two */
	bus_io_fn fn;		/* called with offsets relative to the BAR's start */
	void *opaque;
	struct pci_device *dev;
	/* Decode state: registered on the bus at @addr (under dev->lock). */
	bool mapped;
	uint64_t addr;
	bool conflict_logged;
};

struct pci_device_ops {
	/* After the base computed a config read (@val holds it; the device may change it). */
	void (*cfg_read)(struct pci_device *dev, unsigned off, unsigned len, uint32_t *val);
	/* After the base applied a config write (masks, side effects); @val is what the guest wrote. */
	void (*cfg_write)(struct pci_device *dev, unsigned off, unsigned len, uint32_t val);
	/*
	 * The message, mask or enable state behind interrupt @vector changed (MSI-X table or control, MSI
	 * capability, bus master bit): a device that signals through irqfd re-reads it with
	 * pci__vector_msg() and updates its route (irq__update_msi_route). While a vector is not
	 * deliverable (pci__vector_msg() returns 0: masked, disabled, bus mastering off) the device must
	 * signal it with pci__notify(), which keeps the pending bit, not through its irqfd, which KVM
	 * would deliver regardless of the mask. May be called for vectors whose state did not change.
	 */
	void (*vector_changed)(struct pci_device *dev, unsigned vector);
};

struct pci_device {
	/* Set by pci__init_dev() and the device model before pci_host__add(). */
	const char *name;
	const struct pci_device_ops *ops;	/* may be NULL */
	void *priv;				/* the device model's state, for its ops */
	bool express;		/* 4 KiB config space (PCIe); else bytes 256..4095 read all-ones */

	/* Set by pci_host__add(). */
	struct vm *vm;
	struct pci_host *host;
	uint8_t bus, devfn;
	struct dma_as dma;	/* requester ID bus << 8 | devfn; through the vIOMMU when there is one */
	int intx_gsi;		/* IOAPIC input of the INTx pin, -1 if none */

	pthread_mutex_t lock;
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];	/* bits the guest may write */
	uint8_t w1cmask[PCI_CFG_SIZE];	/* bits the guest clears by writing 1 */
	unsigned cap_next;		/* where pci__add_cap() puts the next capability */
	uint8_t cap_last;		/* offset of the last capability, 0 if none */
	struct pci_bar bar[PCI_STD_NUM_BARS];

	bool intx_asserted;		/* the device's INTx request (pci__set_intx) */
	bool intx_driven;		/* what we contribute to the shared line */

	uint8_t msi_cap;		/* 0: no MSI capability */
	uint8_t msix_cap;		/* 0: no MSI-X capability */
	int msix_bar;
	unsigned msix_nvec;
	uint64_t msix_pba_off;
	uint8_t *msix_table;		/* msix_nvec entries of PCI_MSIX_ENTRY_SIZE bytes */
	uint8_t *msix_pba;		/* pending bits, rounded up to whole qwords */
	uint64_t msi_lost;		/* messages dropped because bus mastering was off */
};

/* The requester ID (source-id) of the function's DMA and interrupt requests. */
static inline uint16_t pci__sid(const struct pci_device *dev)
{
	return (uint16_t)(dev->bus << 8 | dev->devfn);
}

/* Clear @dev and fill the header: IDs, 24-bit class code (e.g. 0x010000), revision. */
void pci__init_dev(struct pci_device *dev, const char *name, uint16_t vendor, uint16_t device,
		   uint32_t class_code, uint8_t revision);
void pci__set_subsystem(struct pci_device *dev, uint16_t subsys_vendor, uint16_t subsys_id);
/* Release what the base allocated and unmap the BARs. The host must no longer reach @dev. */
void pci__exit_dev(struct pci_device *dev);

/*
 * Declare BAR @bar (0..5; a MEM64 BAR also takes @bar + 1). @size must be a power of two: 4..256 for
 * I/O, at least 16 for memory. Accesses within the BAR go to @fn(@opaque, offset, ...); accesses
 * running past its end read all-ones and drop writes. -EINVAL / -EBUSY on bad or taken slots.
 */
int pci__add_bar(struct pci_device *dev, int bar, enum pci_bar_type type, uint64_t size, bool prefetch,
		 bus_io_fn fn, void *opaque);
/* Where BAR @bar currently decodes (guest physical / port address), or 0 if it does not. */
uint64_t pci__bar_addr(struct pci_device *dev, int bar);

/*
 * Append a capability of @len bytes (ID and next pointer included) to the list in standard config
 * space; returns its offset, or -ENOSPC. Its body is read-only until the device sets a write mask.
 */
int pci__add_cap(struct pci_device *dev, uint8_t id, unsigned len);
/* Offset of the first capability with @id, 0 if none (bounded walk: a loop in the list ends it). */
unsigned pci__find_cap(struct pci_device *dev, uint8_t id);

/* MSI capability: one vector, 64-bit address, per-vector mask. */
int pci__msi_init(struct pci_device *dev);
/*
 * MSI-X capability with @nvec vectors; the table (offset 0) and PBA (second half) fill a dedicated
 * 32-bit non-prefetchable memory BAR @bar of at least 4 KiB.
 */
int pci__msix_init(struct pci_device *dev, unsigned nvec, int bar);

enum pci_notify_result {
	PCI_NOTIFY_SENT,	/* the MSI went to the interrupt controller */
	PCI_NOTIFY_PENDING,	/* masked: pending bit set, sent when unmasked */
	PCI_NOTIFY_INTX,	/* neither MSI-X nor MSI is enabled: use INTx (pci__set_intx) */
	PCI_NOTIFY_DROPPED,	/* bus mastering is off: the message is lost, as on hardware */
};
/*
 * Signal interrupt @vector: MSI-X entry @vector if MSI-X is enabled, else the MSI message (every
 * vector maps to it) if MSI is enabled. Returns an enum pci_notify_result, or -errno (-EINVAL for a
 * vector beyond the table, or the error of irq__send_msi()).
 */
int pci__notify(struct pci_device *dev, unsigned vector);
/*
 * The message for @vector as the guest programmed it (MSI-X entry, or the MSI capability). Returns 1
 * if a message sent now would be delivered, 0 if it would be held pending or no message mechanism is
 * enabled (*@addr / *@data still filled when known, else 0), -EINVAL for a bad vector.
 */
int pci__vector_msg(struct pci_device *dev, unsigned vector, uint64_t *addr, uint32_t *data);
/* Assert or deassert INTx (level). Honours the command register's INTx-disable bit. */
void pci__set_intx(struct pci_device *dev, bool asserted);
/* Is bus mastering (DMA, MSI) enabled? Devices check it before DMA. */
bool pci__bus_master(struct pci_device *dev);

/* Config space as the host bridge sees it: @len 1, 2 or 4 bytes at any offset; bad ranges read ~0. */
uint32_t pci__cfg_read(struct pci_device *dev, unsigned off, unsigned len);
void pci__cfg_write(struct pci_device *dev, unsigned off, unsigned len, uint32_t val);

/* Device-side raw access (no masks, no side effects), little-endian, @len 1, 2 or 4. */
void pci__cfg_set(struct pci_device *dev, unsigned off, unsigned len, uint32_t val);
uint32_t pci__cfg_get(struct pci_device *dev, unsigned off, unsigned len);
/*
 * Which bits of [@off, @off + @len) the guest may write (read-write), and which it clears by writing 1
 * (write-1-to-clear; these need not be in the write mask). Both replace the previous masks.
 */
void pci__set_wmask(struct pci_device *dev, unsigned off, unsigned len, uint32_t mask);
void pci__set_w1cmask(struct pci_device *dev, unsigned off, unsigned len, uint32_t mask);

/* ---- Internal to the PCI base (pci.c, pci-msi.c, pci-host.c); dev->lock held where noted. ---- */
struct pci_vec_change {
	bool all;		/* every vector */
	int one;		/* or this one (-1: none) */
};
/* Snapshot of MSI/MSI-X state before a config write, to detect what it changed. */
struct pci_msi_snap {
	uint8_t msi[24];
	uint16_t msix_ctrl;
	uint16_t cmd;
};
void pci__msi_snapshot(struct pci_device *dev, struct pci_msi_snap *snap);			/* locked */
void pci__msi_cfg_written(struct pci_device *dev, const struct pci_msi_snap *old,
			  struct pci_vec_change *chg);						/* locked */
void pci__vec_notify(struct pci_device *dev, const struct pci_vec_change *chg);		/* unlocked */
void pci__msi_exit(struct pci_device *dev);
void pci__bar_update(struct pci_device *dev, int bar);						/* locked */
void pci__intx_update(struct pci_device *dev);							/* locked */

#endif
