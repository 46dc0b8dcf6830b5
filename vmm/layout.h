/*
 * The guest physical address map and fixed I/O ports of the minivmm machine. Everything that places
 * something in the guest (boot, ACPI, device tree, devices) takes its address from here.
 *
 *   0x0000_0000  real-mode IVT/BDA
 *   0x0000_1000  free for guest programs (AP start-up trampoline: SIPI vector 0x01..0x04)
 *   0x0000_5000  boot GDT
 *   0x0000_7000  zero page (struct boot_params)
 *   0x0000_9000  boot page tables: PML4, PDPT, 4 PDs (identity map of the first 4 GiB, 2 MiB pages)
 *   0x0001_0000  setup_data chain (SETUP_DTB for guest programs), at most 64 KiB
 *   0x0002_0000  kernel command line
 *   0x0009_FC00  reserved: EBDA, then 0xE0000-0xFFFFF the ACPI tables (RSDP at 0xE0000)
 *   0x0010_0000  RAM: kernel / guest program, initrd at the top of low RAM
 *   0xC000_0000  32-bit PCI MMIO window (BARs)       ┐
 *   0xE000_0000  PCI ECAM (bus 0..255, 256 MiB)       │ the 32-bit PCI hole, no RAM
 *   0xFEC0_0000  IOAPIC                                │
 *   0xFED9_0000  VT-d remapping unit (--viommu)        │
 *   0xFEE0_0000  LAPIC / MSI window                    ┘
 *   0x1_0000_0000 RAM above 4 GiB (when --mem > 3 GiB)
 *   after high RAM, 1 GiB aligned: 64-bit PCI MMIO window
 */
#ifndef MINIVMM_LAYOUT_H
#define MINIVMM_LAYOUT_H

#define LAYOUT_AP_TRAMPOLINE	0x1000ULL
#define LAYOUT_BOOT_GDT		0x5000ULL
#define LAYOUT_ZERO_PAGE	0x7000ULL
#define LAYOUT_PGTABLE		0x9000ULL	/* PML4 at +0, PDPT at +0x1000, PDs at +0x2000.. */
#define LAYOUT_PGTABLE_END	0xF000ULL
#define LAYOUT_SETUP_DATA	0x10000ULL
#define LAYOUT_SETUP_DATA_MAX	0x10000ULL
#define LAYOUT_CMDLINE		0x20000ULL
#define LAYOUT_CMDLINE_MAX	0x10000ULL
#define LAYOUT_EBDA		0x9FC00ULL
#define LAYOUT_ACPI_BASE	0xE0000ULL	/* RSDP here: Linux also scans 0xE0000-0xFFFFF */
#define LAYOUT_ACPI_SIZE	0x20000ULL
#define LAYOUT_HIGH_LOAD	0x100000ULL	/* 1 MiB: where protected-mode code may start */
#define LAYOUT_KERNEL_LOAD	0x1000000ULL	/* 16 MiB: bzImage default load address */

#define LAYOUT_LOWMEM_LIMIT	0xC0000000ULL	/* RAM below the PCI hole ends here */
#define LAYOUT_PCI_MMIO32_BASE	0xC0000000ULL
#define LAYOUT_PCI_MMIO32_SIZE	0x20000000ULL
#define LAYOUT_PCI_ECAM_BASE	0xE0000000ULL
#define LAYOUT_PCI_ECAM_SIZE	0x10000000ULL	/* 256 buses x 32 devices x 8 functions x 4 KiB */
#define LAYOUT_IOAPIC_BASE	0xFEC00000ULL
#define LAYOUT_VTD_BASE		0xFED90000ULL
#define LAYOUT_VTD_SIZE		0x1000ULL
#define LAYOUT_LAPIC_BASE	0xFEE00000ULL
#define LAYOUT_MSI_BASE		0xFEE00000ULL	/* interrupt window: 0xFEE00000-0xFEEFFFFF */
#define LAYOUT_MSI_SIZE		0x100000ULL
#define LAYOUT_HIGHMEM_BASE	0x100000000ULL
#define LAYOUT_PCI_MMIO64_SIZE	0x4000000000ULL	/* 256 GiB */

/* I/O ports */
#define PORT_COM1		0x3F8		/* 16550A, IRQ 4 */
#define IRQ_COM1		4
#define PORT_I8042		0x60		/* data 0x60, status/command 0x64: 0xFE on 0x64 resets */
#define PORT_TEST_EXIT		0x501		/* guest programs: outl(code) exits minivmm with status code & 0xff */
#define PORT_ACPI_PM_BASE	0x600		/* PM1a_EVT 0x600 (4), PM1a_CNT 0x604 (2), PM_TMR 0x608 (4) */
#define PORT_ACPI_PM1A_EVT	0x600
#define PORT_ACPI_PM1A_CNT	0x604
#define PORT_ACPI_PM_TMR	0x608
#define ACPI_SCI_IRQ		9
#define ACPI_S5_SLP_TYP		5		/* \_S5 package value written to PM1a_CNT.SLP_TYP */
#define PORT_PCI_CONFIG_ADDR	0xCF8
#define PORT_RESET_CTRL		0xCF9		/* write 0x06 (or 0x0E): reset; FADT RESET_REG points here */
#define PORT_PCI_CONFIG_DATA	0xCFC
#define PORT_PCI_IO_BASE	0xC000		/* PCI I/O BAR window 0xC000-0xFFFF */
#define PORT_PCI_IO_SIZE	0x4000

#define IOAPIC_ID		0		/* also the DMAR IOAPIC scope enumeration ID */
#define IOAPIC_PINS		24
#define IOAPIC_SID		0xFF00		/* its source-id: bus 0xFF, device 0, function 0 (QEMU's; DMAR scope) */

#endif
