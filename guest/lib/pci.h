/*
 * PCI configuration access through ECAM (PCI Express Base 6.0 7.2.2) and configuration mechanism #1
 * (ports 0xCF8/0xCFC, PCI Local Bus 3.0 3.2.2.3.2), enumeration, BARs, capabilities, MSI and MSI-X.
 * A device is named by its BDF: bus << 8 | dev << 3 | fn.
 */
#ifndef GUEST_PCI_H
#define GUEST_PCI_H

#include <stdbool.h>
#include <stdint.h>

#define PCI_BDF(b, d, f)	((uint16_t)((b) << 8 | (d) << 3 | (f)))
#define PCI_BUS(bdf)		((bdf) >> 8)
#define PCI_DEV(bdf)		(((bdf) >> 3) & 0x1f)
#define PCI_FN(bdf)		((bdf) & 7)

/* Configuration space header (type 0/1). */
#define PCI_VENDOR_ID		0x00
#define PCI_DEVICE_ID		0x02
#define PCI_COMMAND		0x04
#define  PCI_COMMAND_IO		0x0001
#define  PCI_COMMAND_MEMORY	0x0002
#define  PCI_COMMAND_MASTER	0x0004
#define  PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS		0x06
#define  PCI_STATUS_CAP_LIST	0x0010
#define PCI_CLASS_REVISION	0x08	/* class << 8 | revision */
#define PCI_HEADER_TYPE		0x0e
#define PCI_BAR0		0x10
#define PCI_SECONDARY_BUS	0x19	/* type 1 */
#define PCI_CAPABILITY_LIST	0x34
#define PCI_INTERRUPT_LINE	0x3c

#define PCI_CAP_ID_MSI		0x05
#define PCI_CAP_ID_EXP		0x10
#define PCI_CAP_ID_MSIX		0x11

/* Through ECAM (platform.ecam_base). @reg must be aligned to the access size. */
uint32_t pci__ecam_read(uint16_t bdf, uint16_t reg, int size);
void pci__ecam_write(uint16_t bdf, uint16_t reg, int size, uint32_t v);
/* Through 0xCF8/0xCFC (registers 0-255 only). */
uint32_t pci__cf8_read(uint16_t bdf, uint16_t reg, int size);
void pci__cf8_write(uint16_t bdf, uint16_t reg, int size, uint32_t v);

/* ECAM when the platform has it, else mechanism #1. */
uint32_t pci__read32(uint16_t bdf, uint16_t reg);
uint16_t pci__read16(uint16_t bdf, uint16_t reg);
uint8_t pci__read8(uint16_t bdf, uint16_t reg);
void pci__write32(uint16_t bdf, uint16_t reg, uint32_t v);
void pci__write16(uint16_t bdf, uint16_t reg, uint16_t v);
void pci__write8(uint16_t bdf, uint16_t reg, uint8_t v);

/*
 * Call @fn for every function present, buses platform.bus_first.. following bridges (depth first).
 * Returns the number of functions found.
 */
int pci__enumerate(void (*fn)(uint16_t bdf, void *arg), void *arg);

struct pci_bar {
	uint64_t addr;		/* as programmed (flag bits cleared) */
	uint64_t size;		/* 0: not implemented */
	bool io, mem64, prefetch;
};
/*
 * Read and size BAR @index (0-5) of a type 0 function: writes all-ones with decoding off, reads the
 * mask back and restores (PCI Local Bus 3.0 6.2.5.1). Returns the number of BAR slots used (2 for a
 * 64-bit BAR), or 0 for a bad index.
 */
int pci__bar_probe(uint16_t bdf, int index, struct pci_bar *bar);
/* Give every unassigned memory BAR an address from the platform's 32-bit window; enable decoding. */
void pci__assign_bars(uint16_t bdf);

/* Offset of capability @id in the classic list, or 0. */
uint8_t pci__find_cap(uint16_t bdf, uint8_t id);

/* MSI message for a fixed, edge interrupt at @vector on LAPIC @apic_id (SDM Vol. 3A 11.11). */
uint64_t msi__address(uint32_t apic_id);
uint32_t msi__data(uint8_t vector);
/* Program and enable single-vector MSI; INTx is disabled. 0, or -1 without an MSI capability. */
int pci__msi_enable(uint16_t bdf, uint64_t addr, uint32_t data);
/*
 * Program MSI-X table entry @entry (unmasked) and enable MSI-X. The table's BAR must be assigned.
 * 0, or -1 without the capability / with a bad entry or BAR.
 */
int pci__msix_enable(uint16_t bdf, unsigned entry, uint64_t addr, uint32_t data);

#endif
