/*
 * The flat GDT and the identity map both boot kinds enter long mode on.
 *
 * The 64-bit boot protocol (Documentation/arch/x86/boot.rst) asks for paging enabled with an identity
 * map covering the kernel, zero page and command line, and a GDT with flat __BOOT_CS (0x10, execute/read)
 * and __BOOT_DS (0x18, read/write). Mapping all of 0-4 GiB covers the loaded image, the initrd, the
 * ACPI tables and the 32-bit MMIO devices guest programs poke.
 */
#include "boot/boot.h"

#include <errno.h>
#include <string.h>

#include "vmm/layout.h"
#include "vmm/memory.h"
#include "vmm/util.h"

/* Paging-structure entry bits (Intel SDM Vol. 3A, 4.5 "4-Level Paging and 5-Level Paging"). */
#define PTE_P	BIT(0)
#define PTE_RW	BIT(1)
#define PTE_US	BIT(2)	/* user accessible: guest programs may drop to CPL3 on these tables */
#define PTE_PS	BIT(7)	/* in a PD entry: maps a 2 MiB page */

#define PGTABLE_PML4	(LAYOUT_PGTABLE)
#define PGTABLE_PDPT	(LAYOUT_PGTABLE + 0x1000)
#define PGTABLE_PD	(LAYOUT_PGTABLE + 0x2000)	/* four of them, one per GiB */
#define PGTABLE_NR_PD	4

_Static_assert(PGTABLE_PD + PGTABLE_NR_PD * 0x1000 <= LAYOUT_PGTABLE_END, "page tables overflow their area");
_Static_assert(LAYOUT_BOOT_GDT + BOOT_GDT_ENTRIES * 8 <= LAYOUT_ZERO_PAGE, "GDT overlaps the zero page");

int boot__setup_gdt(struct guest_mem *mem)
{
	/* 0 and 8 stay null: Linux's __BOOT_CS is GDT_ENTRY_BOOT_CS (2) * 8. */
	const uint64_t gdt[BOOT_GDT_ENTRIES] = { 0, 0, BOOT_GDT_CODE64, BOOT_GDT_DATA };
	void *p = guest_mem__hva(mem, LAYOUT_BOOT_GDT, sizeof(gdt));

	if (!p)
		return -EFAULT;
	memcpy(p, gdt, sizeof(gdt));
	return 0;
}

int boot__setup_pgtable(struct guest_mem *mem)
{
	uint64_t *pml4 = guest_mem__hva(mem, PGTABLE_PML4, 0x1000);
	uint64_t *pdpt = guest_mem__hva(mem, PGTABLE_PDPT, 0x1000);
	uint64_t *pd = guest_mem__hva(mem, PGTABLE_PD, PGTABLE_NR_PD * 0x1000);
	const uint64_t flags = PTE_P | PTE_RW | PTE_US;

	if (!pml4 || !pdpt || !pd)
		return -EFAULT;
	memset(pml4, 0, 0x1000);
	memset(pdpt, 0, 0x1000);
	pml4[0] = PGTABLE_PDPT | flags;
	for (int i = 0; i < PGTABLE_NR_PD; i++)
		pdpt[i] = (PGTABLE_PD + i * 0x1000ULL) | flags;
	for (uint64_t i = 0; i < PGTABLE_NR_PD * 512ULL; i++)
		pd[i] = (i * 2 * MiB) | flags | PTE_PS;
	return 0;
}
