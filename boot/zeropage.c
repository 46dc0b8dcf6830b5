/*
 * Zero page (struct boot_params) contents shared by both boot kinds: command line, initrd, setup_data
 * with the device tree, and the e820 memory map. Field meanings: Documentation/arch/x86/boot.rst and
 * Documentation/arch/x86/zero-page.rst.
 */
#include <asm/e820.h>
#include <errno.h>
#include <string.h>

#include "boot/internal.h"
#include "vmm/layout.h"
#include "vmm/memory.h"
#include "vmm/util.h"

int boot__set_cmdline(struct boot_ctx *c, const struct boot_image *img)
{
	const char *cmdline = c->in->cmdline ? c->in->cmdline : "";
	size_t len = strlen(cmdline);
	uint64_t max = MIN(img->cmdline_max, LAYOUT_CMDLINE_MAX - 1);
	char *p;

	if (len > max)
		return boot__fail(c, -E2BIG, "%s: the command line is %zu bytes, the kernel accepts at most %llu",
				  c->name, len, (unsigned long long)max);
	p = guest_mem__hva(c->mem, LAYOUT_CMDLINE, len + 1);
	if (!p)
		return boot__fail(c, -EFAULT, "%s: the command line area is not RAM", c->name);
	memcpy(p, cmdline, len + 1);
	c->zp->hdr.cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE;
	c->zp->ext_cmd_line_ptr = (uint32_t)(LAYOUT_CMDLINE >> 32);
	return 0;
}

/*
 * The initrd goes page-aligned as high as allowed in low RAM, like GRUB and QEMU do: below both
 * img->initrd_top (the kernel's initrd_addr_max + 1) and the end of low RAM, above the kernel's
 * init_size footprint, which the decompressor may overwrite.
 */
int boot__place_initrd(struct boot_ctx *c, const struct boot_image *img, uint64_t *addr)
{
	const struct boot_input *in = c->in;
	uint64_t top = MIN(img->initrd_top, c->low_end);
	uint64_t base;
	void *p;

	*addr = 0;
	if (!in->initrd_len)
		return 0;
	if (!in->initrd)
		return boot__fail(c, -EINVAL, "initrd: no data");
	if (in->initrd_len > top || ALIGN_DOWN(top - in->initrd_len, 4 * KiB) < img->kernel_end)
		return boot__fail(c, -ENOSPC,
				  "initrd of %zu bytes does not fit below 0x%llx (the kernel ends at 0x%llx, low RAM at 0x%llx)",
				  in->initrd_len, (unsigned long long)top - 1,
				  (unsigned long long)img->kernel_end, (unsigned long long)c->low_end);
	base = ALIGN_DOWN(top - in->initrd_len, 4 * KiB);
	p = guest_mem__hva(c->mem, base, in->initrd_len);
	if (!p)
		return boot__fail(c, -EFAULT, "initrd: 0x%llx is not RAM", (unsigned long long)base);
	memcpy(p, in->initrd, in->initrd_len);
	/* The ext_ fields carry bits 63:32 (boot protocol 2.12, zero-page.rst offsets 0x0C0/0x0C4). */
	c->zp->hdr.ramdisk_image = (uint32_t)base;
	c->zp->ext_ramdisk_image = (uint32_t)(base >> 32);
	c->zp->hdr.ramdisk_size = (uint32_t)in->initrd_len;
	c->zp->ext_ramdisk_size = (uint32_t)((uint64_t)in->initrd_len >> 32);
	*addr = base;
	return 0;
}

/* One SETUP_DTB node at LAYOUT_SETUP_DATA; hdr.setup_data heads the (one-node) chain. */
int boot__setup_dtb(struct boot_ctx *c, const void *dtb, size_t dtb_len)
{
	struct setup_data *sd;

	if (!dtb_len)
		return 0;
	if (!dtb)
		return boot__fail(c, -EINVAL, "device tree: no data");
	if (dtb_len > LAYOUT_SETUP_DATA_MAX - sizeof(*sd))
		return boot__fail(c, -E2BIG, "the device tree is %zu bytes, setup_data holds at most %zu",
				  dtb_len, (size_t)(LAYOUT_SETUP_DATA_MAX - sizeof(*sd)));
	sd = guest_mem__hva(c->mem, LAYOUT_SETUP_DATA, sizeof(*sd) + dtb_len);
	if (!sd)
		return boot__fail(c, -EFAULT, "device tree: the setup_data area is not RAM");
	sd->next = 0;
	sd->type = SETUP_DTB;
	sd->len = (uint32_t)dtb_len;
	memcpy(sd->data, dtb, dtb_len);
	c->zp->hdr.setup_data = LAYOUT_SETUP_DATA;
	return 0;
}

static int e820_add(struct boot_e820_entry *tbl, int n, int max, uint64_t start, uint64_t end, uint32_t type)
{
	if (n >= max || end <= start)
		return n;
	tbl[n].addr = start;
	tbl[n].size = end - start;
	tbl[n].type = type;
	return n + 1;
}

int boot__e820(const struct guest_mem *mem, struct boot_e820_entry *tbl, int max)
{
	uint64_t low_end = guest_mem__contig(mem, 0);
	int n = 0;

	n = e820_add(tbl, n, max, 0, MIN(LAYOUT_EBDA, low_end), E820_RAM);
	/* EBDA, VGA hole, option ROMs and the BIOS area; the ACPI tables sit inside (0xE0000-0xFFFFF). */
	n = e820_add(tbl, n, max, LAYOUT_EBDA, LAYOUT_HIGH_LOAD, E820_RESERVED);
	n = e820_add(tbl, n, max, LAYOUT_HIGH_LOAD, low_end, E820_RAM);
	n = e820_add(tbl, n, max, LAYOUT_PCI_ECAM_BASE, LAYOUT_PCI_ECAM_BASE + LAYOUT_PCI_ECAM_SIZE,
		     E820_RESERVED);
	for (int i = 0; i < mem->nr; i++)
		if (mem->r[i].gpa >= LAYOUT_HIGHMEM_BASE)
			n = e820_add(tbl, n, max, mem->r[i].gpa, mem->r[i].gpa + mem->r[i].size, E820_RAM);
	return n;
}
