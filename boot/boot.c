/*
 * boot__load: recognise the image, let its loader put it in guest RAM, then build what both kinds share:
 * command line, initrd, e820 map, GDT and identity page tables. boot__set_tables adds the ACPI RSDP
 * pointer and the device tree once the machine has them.
 */
#include "boot/boot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "boot/internal.h"
#include "vmm/layout.h"
#include "vmm/memory.h"
#include "vmm/util.h"

int boot__fail(struct boot_ctx *c, int ret, const char *fmt, ...)
{
	va_list ap;

	if (c->err && c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

int boot__load(struct guest_mem *mem, const struct boot_input *in, struct boot_entry *out, char *err,
	       size_t errlen)
{
	struct boot_ctx c = { .mem = mem, .in = in, .err = err, .errlen = errlen };
	struct boot_image img = { 0 };
	enum boot_image_kind kind;
	uint64_t initrd_addr = 0;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!mem || !in || !out)
		return boot__fail(&c, -EINVAL, "boot: missing guest memory, input or output");
	c.name = in->image_name ? in->image_name : "kernel";
	memset(out, 0, sizeof(*out));
	if (!in->image && in->image_len)
		return boot__fail(&c, -EINVAL, "%s: no image data", c.name);
	/* Zero page, GDT, page tables, setup_data and command line all live below 1 MiB. */
	if (!guest_mem__hva(mem, 0, LAYOUT_HIGH_LOAD))
		return boot__fail(&c, -ENOMEM, "%s: guest RAM does not cover the boot area below 1 MiB", c.name);
	c.low_end = guest_mem__contig(mem, 0);
	c.zp = guest_mem__hva(mem, LAYOUT_ZERO_PAGE, sizeof(struct boot_params));
	memset(c.zp, 0, sizeof(*c.zp));

	if (elf__probe(in->image, in->image_len)) {
		kind = BOOT_IMAGE_ELF;
		ret = elf__load(&c, &img);
	} else if (bzimage__probe(in->image, in->image_len)) {
		kind = BOOT_IMAGE_BZIMAGE;
		ret = bzimage__load(&c, &img);
	} else {
		return boot__fail(&c, -ENOEXEC, "%s: not a bzImage or ELF64 file", c.name);
	}
	if (ret)
		return ret;

	ret = boot__set_cmdline(&c, &img);
	if (ret)
		return ret;
	ret = boot__place_initrd(&c, &img, &initrd_addr);
	if (ret)
		return ret;
	c.zp->e820_entries = boot__e820(mem, c.zp->e820_table, E820_MAX_ENTRIES_ZEROPAGE);
	if (boot__setup_gdt(mem) || boot__setup_pgtable(mem))
		return boot__fail(&c, -EFAULT, "%s: the boot GDT or page tables are not in RAM", c.name);

	out->kind = kind;
	out->rip = img.entry;
	out->rsi = LAYOUT_ZERO_PAGE;
	out->rsp = 0;
	out->cr3 = LAYOUT_PGTABLE;
	out->gdt_base = LAYOUT_BOOT_GDT;
	out->gdt_limit = BOOT_GDT_ENTRIES * 8 - 1;
	out->kernel_end = img.kernel_end;
	out->initrd_addr = initrd_addr;
	return 0;
}

int boot__set_tables(struct guest_mem *mem, const struct boot_entry *e, const void *dtb, size_t dtb_len,
		     uint64_t rsdp_addr, char *err, size_t errlen)
{
	struct boot_ctx c = { .mem = mem, .err = err, .errlen = errlen };

	if (err && errlen)
		err[0] = '\0';
	c.zp = mem && e ? guest_mem__hva(mem, LAYOUT_ZERO_PAGE, sizeof(struct boot_params)) : NULL;
	if (!c.zp)
		return boot__fail(&c, -EINVAL, "boot: missing guest memory or boot entry");
	/* Boot protocol 2.14 moved this into boot_params; older kernels ignore it and scan for the RSDP. */
	c.zp->acpi_rsdp_addr = rsdp_addr;
	/* A bzImage gets its hardware description from ACPI; only guest programs take the DTB. */
	return e->kind == BOOT_IMAGE_ELF ? boot__setup_dtb(&c, dtb, dtb_len) : 0;
}
