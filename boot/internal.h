/* Shared between the boot/ files: the loading context and the per-format loaders. Not for other layers. */
#ifndef MINIVMM_BOOT_INTERNAL_H
#define MINIVMM_BOOT_INTERNAL_H

#include <asm/bootparam.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"

struct boot_ctx {
	struct guest_mem *mem;
	const struct boot_input *in;
	const char *name;	/* image name for messages */
	struct boot_params *zp;	/* host view of the zero page at LAYOUT_ZERO_PAGE */
	uint64_t low_end;	/* end of the RAM region at guest physical 0 */
	char *err;
	size_t errlen;
};

/* What a format loader leaves for the common code (boot.c) to place the rest around. */
struct boot_image {
	uint64_t entry;		/* 64-bit entry point (RIP) */
	uint64_t kernel_end;	/* first byte after everything the image occupies once running */
	uint64_t cmdline_max;	/* longest command line accepted, not counting the NUL */
	uint64_t initrd_top;	/* the initrd must end at or below this address */
};

/* Format the one-line error into c->err and return @ret (a -errno). */
int boot__fail(struct boot_ctx *c, int ret, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

bool bzimage__probe(const uint8_t *image, size_t len);
int bzimage__load(struct boot_ctx *c, struct boot_image *img);

bool elf__probe(const uint8_t *image, size_t len);
int elf__load(struct boot_ctx *c, struct boot_image *img);

/* Zero page pieces (zeropage.c). */
int boot__set_cmdline(struct boot_ctx *c, const struct boot_image *img);
int boot__place_initrd(struct boot_ctx *c, const struct boot_image *img, uint64_t *addr);
int boot__setup_dtb(struct boot_ctx *c, const void *dtb, size_t dtb_len);

/*
 * The e820 map of @mem into @tbl (at most @max entries, 5 suffice); returns the number of entries.
 * [0, EBDA) RAM, [EBDA, 1 MiB) reserved (EBDA, BIOS area, ACPI tables), [1 MiB, low end) RAM,
 * the PCI ECAM reserved (Linux uses the MCFG window early only if E820 reserves it, see
 * arch/x86/pci/mmconfig-shared.c is_mmconf_reserved()), RAM from 4 GiB.
 */
int boot__e820(const struct guest_mem *mem, struct boot_e820_entry *tbl, int max);

#endif
