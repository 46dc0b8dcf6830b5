/*
 * The PCI host bridge: segment 0, bus 0 only. Configuration mechanism #1 (0xCF8/0xCFC) and ECAM at
 * LAYOUT_PCI_ECAM_BASE reach the same config space. Function 00:00.0 is the host bridge itself.
 *
 * The VMM acts as the firmware: pci_host__assign_resources() gives every BAR an address (natural
 * alignment) from the windows below and turns on I/O / memory decoding and bus mastering, so guests
 * that keep the firmware's assignment (Linux by default) need not touch BARs.
 *
 * What the lead's ACPI tables must say (see pci_host__windows()):
 *   MCFG: base LAYOUT_PCI_ECAM_BASE, segment 0, buses 0..PCI_HOST_LAST_BUS (= 0).
 *   E820 or a PNP0C02 _CRS: reserve [LAYOUT_PCI_ECAM_BASE, +1 MiB), or Linux refuses MMCONFIG.
 *   PCI0 _CRS: bus 0..0, I/O 0xCF8-0xCFF, the I/O window, the 32-bit and 64-bit memory windows.
 *   PCI0 _PRT: slot s, _PRT pin p (0 = INTA .. 3 = INTD, ACPI's numbering) -> GSI
 *   pci_host__intx_gsi(s, p + 1) = PCI_INTX_GSI_BASE + ((s + p) & 3), level; active high as far as
 *   KVM is concerned (KVM's IOAPIC ignores polarity). acpi/dsdt.c writes it.
 */
#ifndef MINIVMM_DEVICES_PCI_HOST_H
#define MINIVMM_DEVICES_PCI_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/pci.h"

struct vm;
struct dma_translator;
struct pci_host;

#define PCI_HOST_LAST_BUS	0		/* MCFG end bus; bus 0 only */
/*
 * Host bridge IDs: Red Hat's "QEMU PCIe Host bridge" (1b36:0008), a generic ECAM host bridge with no
 * chipset registers. No Linux driver or quirk binds to it, whereas an Intel chipset ID (Q35 8086:29c0,
 * i440FX 8086:1237) invites drivers (intel-agp, EDAC, early quirks) that expect chipset registers we
 * do not have. Subsystem 1af4:1100 as QEMU's devices use.
 */
#define PCI_HOST_VENDOR_ID	0x1b36
#define PCI_HOST_DEVICE_ID	0x0008
#define PCI_HOST_SUBSYS_VENDOR	0x1af4
#define PCI_HOST_SUBSYS_ID	0x1100
#define PCI_CLASS_CODE_HOST_BRIDGE 0x060000

/* INTx: four IOAPIC inputs shared by the slots with the usual swizzle. */
#define PCI_INTX_GSI_BASE	16
#define PCI_INTX_NR_GSI		4
/* @pin as in the Interrupt Pin register: 1 = INTA .. 4 = INTD (a _PRT pin + 1). */
static inline unsigned pci_host__intx_gsi(unsigned slot, unsigned pin)
{
	return PCI_INTX_GSI_BASE + ((slot + pin - 1) & 3);
}

struct pci_windows {
	uint64_t mmio32_base, mmio32_size;	/* LAYOUT_PCI_MMIO32_BASE / _SIZE */
	uint64_t mmio64_base, mmio64_size;	/* after RAM, 1 GiB aligned / LAYOUT_PCI_MMIO64_SIZE */
	uint32_t io_base, io_size;		/* PORT_PCI_IO_BASE / _SIZE */
};

/* Register 0xCF8, 0xCFC and the ECAM window, and add the host bridge at 00:00.0. NULL on failure. */
struct pci_host *pci_host__init(struct vm *vm);
/* Unregister everything. Devices added by models are theirs to pci__exit_dev(), before this. */
void pci_host__exit(struct pci_host *host);

/*
 * Put @dev on bus 0 at @devfn, or (@devfn = -1) at function 0 of the lowest free slot from 1. Sets
 * dev->vm, bus, devfn, intx_gsi (from its Interrupt Pin) and its DMA address space. -EEXIST if taken,
 * -ENOSPC if no slot is free, -EINVAL for a bad devfn.
 */
int pci_host__add(struct pci_host *host, struct pci_device *dev, int devfn);

/* Route every device's DMA through @tr (the vIOMMU), or untranslated with NULL; also later devices. */
void pci_host__set_translator(struct pci_host *host, const struct dma_translator *tr);

/* Firmware-style BAR assignment and command register set-up; call once all devices are added. */
int pci_host__assign_resources(struct pci_host *host);
void pci_host__windows(const struct pci_host *host, struct pci_windows *w);

/*
 * Call @fn for each function in bus/devfn order (the host bridge first) until it returns non-zero,
 * which is returned. Use dev->bus, dev->devfn and pci__cfg_get() for IDs and class.
 */
int pci_host__for_each(struct pci_host *host, int (*fn)(struct pci_device *dev, void *arg), void *arg);
struct pci_device *pci_host__find(struct pci_host *host, unsigned bus, unsigned devfn);

/* Internal: one device's contribution to a shared INTx line (wired OR). */
void pci_host__intx(struct pci_host *host, int gsi, bool level);

#endif
