/*
 * Linux bzImage, entered through the 64-bit boot protocol (Documentation/arch/x86/boot.rst).
 *
 * The file is the real-mode setup (boot sector + setup_sects sectors, holding the setup header at 0x1F1)
 * followed by the protected-mode kernel. With the 64-bit entry the real-mode part never runs: we copy its
 * setup header into a clean zero page, load the protected-mode kernel at its runtime address and enter
 * at that address + 0x200 (startup_64) in long mode.
 */
#include <errno.h>
#include <string.h>

#include "boot/internal.h"
#include "vmm/layout.h"
#include "vmm/memory.h"
#include "vmm/util.h"

#define SETUP_HDR_OFFSET	0x1f1
#define SETUP_HDR_MAGIC		0x53726448	/* "HdrS" at 0x202 */
#define BOOT_PROTO_MIN		0x020c		/* 2.12: xloadflags, XLF_KERNEL_64 */
#define STARTUP_64_OFFSET	0x200		/* 64-bit entry, from the start of the protected-mode kernel */
#define OLD_INITRD_ADDR_MAX	0x37ffffffULL	/* before protocol 2.03 */
#define HEAP_END_PTR		0xfe00		/* what QEMU and GRUB use; unused on the 64-bit path */

bool bzimage__probe(const uint8_t *image, size_t len)
{
	uint32_t magic;

	if (len < 0x206)
		return false;
	memcpy(&magic, image + 0x202, sizeof(magic));
	return magic == SETUP_HDR_MAGIC;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Protocol checks that only need the header. */
static int check_header(struct boot_ctx *c, const struct setup_header *h)
{
	if (h->version < BOOT_PROTO_MIN)
		return boot__fail(c, -ENOEXEC, "%s: boot protocol %u.%02u is too old (need %u.%02u)", c->name,
				  h->version >> 8, h->version & 0xff, BOOT_PROTO_MIN >> 8, BOOT_PROTO_MIN & 0xff);
	if (!(h->xloadflags & XLF_KERNEL_64))
		return boot__fail(c, -ENOEXEC, "%s: no 64-bit entry point (xloadflags 0x%x lacks XLF_KERNEL_64)",
				  c->name, h->xloadflags);
	if (!(h->loadflags & LOADED_HIGH))
		return boot__fail(c, -ENOEXEC, "%s: a zImage (loaded low), not a bzImage", c->name);
	if (h->relocatable_kernel && !is_pow2(h->kernel_alignment))
		return boot__fail(c, -ENOEXEC, "%s: kernel_alignment 0x%x is not a power of two", c->name,
				  h->kernel_alignment);
	return 0;
}

/*
 * Where the protected-mode kernel goes and how far its footprint reaches, following boot.rst's
 * "kernel runtime start address" rule for init_size: a relocatable kernel runs where it is loaded
 * (pref_address or higher, aligned to kernel_alignment), a fixed one decompresses to pref_address.
 */
static int place_kernel(struct boot_ctx *c, const struct setup_header *h, uint64_t pm_len,
			uint64_t *load, uint64_t *end)
{
	uint64_t runtime, align = h->kernel_alignment;
	uint64_t end_pm, end_init;

	if (h->relocatable_kernel) {
		runtime = MAX(h->pref_address, LAYOUT_KERNEL_LOAD);
		if (runtime > UINT64_MAX - (align - 1))
			return boot__fail(c, -ENOEXEC, "%s: pref_address 0x%llx is out of range", c->name,
					  (unsigned long long)h->pref_address);
		runtime = ALIGN_UP(runtime, align);
		*load = runtime;
	} else {
		*load = LAYOUT_HIGH_LOAD;
		runtime = h->pref_address;
		if (runtime < LAYOUT_HIGH_LOAD)
			return boot__fail(c, -ENOEXEC, "%s: pref_address 0x%llx is below 1 MiB", c->name,
					  (unsigned long long)runtime);
	}
	/* load and runtime stay below 3 GiB, init_size is 32-bit and pm_len a file size: no wrap below. */
	if (runtime > LAYOUT_LOWMEM_LIMIT)
		return boot__fail(c, -ENOEXEC, "%s: pref_address 0x%llx is not in low RAM", c->name,
				  (unsigned long long)runtime);
	end_pm = *load + pm_len;
	end_init = runtime + h->init_size;
	*end = MAX(end_pm, end_init);
	if (*end > LAYOUT_LOWMEM_LIMIT)
		return boot__fail(c, -ENOMEM, "%s: reaches 0x%llx once decompressed, past the 0x%llx end of low RAM",
				  c->name, (unsigned long long)*end, LAYOUT_LOWMEM_LIMIT);
	if (*end > c->low_end)
		return boot__fail(c, -ENOMEM, "%s: needs %llu MiB of RAM, the guest has %llu MiB", c->name,
				  (unsigned long long)(ALIGN_UP(*end, MiB) / MiB),
				  (unsigned long long)(c->mem->ram_size / MiB));
	return 0;
}

int bzimage__load(struct boot_ctx *c, struct boot_image *img)
{
	const uint8_t *image = c->in->image;
	size_t len = c->in->image_len;
	struct setup_header h;
	size_t hdr_len, setup_sects, setup_len;
	uint64_t pm_len, load = 0, end = 0;
	void *dst;
	int ret;

	if (len < SETUP_HDR_OFFSET + sizeof(h))
		return boot__fail(c, -ENOEXEC, "%s: truncated: %zu bytes, the setup header alone needs %zu",
				  c->name, len, SETUP_HDR_OFFSET + sizeof(h));
	memcpy(&h, image + SETUP_HDR_OFFSET, sizeof(h));
	ret = check_header(c, &h);
	if (ret)
		return ret;

	setup_sects = h.setup_sects ? h.setup_sects : 4;
	setup_len = (setup_sects + 1) * 512;
	if (setup_len > len)
		return boot__fail(c, -ENOEXEC, "%s: setup_sects %zu points past the end of the file (%zu bytes)",
				  c->name, setup_sects, len);
	if (setup_len == len)
		return boot__fail(c, -ENOEXEC, "%s: no protected-mode kernel after the %zu setup sectors", c->name,
				  setup_sects);
	pm_len = len - setup_len;
	/* syssize counts 16-byte paragraphs of the protected-mode kernel (32 bits since protocol 2.04). */
	if ((uint64_t)h.syssize * 16 > pm_len)
		return boot__fail(c, -ENOEXEC,
				  "%s: truncated: the protected-mode kernel is %llu bytes, the header says %llu",
				  c->name, (unsigned long long)pm_len, (unsigned long long)h.syssize * 16);

	ret = place_kernel(c, &h, pm_len, &load, &end);
	if (ret)
		return ret;
	dst = guest_mem__hva(c->mem, load, pm_len);
	if (!dst)
		return boot__fail(c, -EFAULT, "%s: 0x%llx+0x%llx is not RAM", c->name, (unsigned long long)load,
				  (unsigned long long)pm_len);
	memcpy(dst, image + setup_len, pm_len);

	/*
	 * The header's own length is 0x202 + the byte at 0x201 (the jump's offset); copy only that much so
	 * fields this kernel does not know stay zero in the zero page.
	 */
	hdr_len = MIN(0x202 + (size_t)image[0x201], SETUP_HDR_OFFSET + sizeof(h)) - SETUP_HDR_OFFSET;
	memcpy(&c->zp->hdr, image + SETUP_HDR_OFFSET, hdr_len);
	c->zp->hdr.setup_sects = (uint8_t)setup_sects;
	c->zp->hdr.type_of_loader = 0xff;	/* undefined boot loader: we have no assigned ID */
	c->zp->hdr.loadflags |= CAN_USE_HEAP;
	c->zp->hdr.heap_end_ptr = HEAP_END_PTR;
	c->zp->hdr.code32_start = (uint32_t)load;
	c->zp->hdr.setup_data = 0;
	c->zp->hdr.ramdisk_image = 0;
	c->zp->hdr.ramdisk_size = 0;

	img->entry = load + STARTUP_64_OFFSET;
	img->kernel_end = end;
	img->cmdline_max = h.cmdline_size;	/* protocol 2.06+: length without the NUL */
	img->initrd_top = (h.version >= 0x0203 ? h.initrd_addr_max : OLD_INITRD_ADDR_MAX) + 1ULL;
	return 0;
}
