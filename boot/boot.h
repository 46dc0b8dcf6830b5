/*
 * Loading a guest: a Linux bzImage (x86 boot protocol, 64-bit entry) or an ELF64 guest program.
 * Both enter in long mode at CPL0 with RSI = the zero page (struct boot_params), a flat GDT at
 * LAYOUT_BOOT_GDT (__BOOT_CS 0x10, __BOOT_DS 0x18) and an identity map of the first 4 GiB.
 * Guest programs also get the device tree as setup_data of type SETUP_DTB.
 */
#ifndef MINIVMM_BOOT_H
#define MINIVMM_BOOT_H

#include <stddef.h>
#include <stdint.h>

struct guest_mem;

/* Boot GDT selectors (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol"). */
#define BOOT_CS			0x10
#define BOOT_DS			0x18
#define BOOT_GDT_ENTRIES	4
/* The descriptors at those selectors: flat 4 GiB, DPL 0; the code segment is 64-bit (L=1). */
#define BOOT_GDT_CODE64		0x00af9b000000ffffULL
#define BOOT_GDT_DATA		0x00cf93000000ffffULL

enum boot_image_kind { BOOT_IMAGE_BZIMAGE, BOOT_IMAGE_ELF };

struct boot_input {
	const uint8_t *image;	/* the whole kernel or ELF file */
	size_t image_len;
	const char *image_name;	/* for messages */
	const uint8_t *initrd;	/* may be NULL */
	size_t initrd_len;
	const char *cmdline;	/* may be NULL */
};

/* Initial vCPU state for the BSP. */
struct boot_entry {
	enum boot_image_kind kind;
	uint64_t rip;
	uint64_t rsi;		/* zero page */
	uint64_t rsp;		/* 0 for bzImage (the kernel sets its own) */
	uint64_t cr3;
	uint64_t gdt_base;
	uint16_t gdt_limit;
	uint64_t kernel_end;	/* first byte after the loaded image (for initrd placement tests) */
	uint64_t initrd_addr;	/* 0 if none */
};

/*
 * Load @in into guest RAM and prepare the zero page, e820 map, command line, page tables and GDT.
 * On failure returns -errno and writes one line saying what is wrong into @err (no trailing newline):
 * "kernel.img: not a bzImage or ELF64 file", "...: boot protocol 2.05 is too old (need 2.12)",
 * "...: needs 64 MiB of RAM, the guest has 32 MiB", "initrd does not fit below 0x37ffffff", ...
 */
int boot__load(struct guest_mem *mem, const struct boot_input *in, struct boot_entry *out, char *err,
	       size_t errlen);
/*
 * After boot__load: hand the firmware tables to the guest, the RSDP address in the zero page and, for
 * a guest program (@e->kind BOOT_IMAGE_ELF), the device tree as setup_data SETUP_DTB (@dtb may be
 * NULL with @dtb_len 0). A step of its own because the tables describe devices that exist only once
 * the VM does, while the image is checked and loaded before /dev/kvm is opened. -errno and @err
 * ("the device tree is 70000 bytes, setup_data holds at most 65520") on failure.
 */
int boot__set_tables(struct guest_mem *mem, const struct boot_entry *e, const void *dtb, size_t dtb_len,
		     uint64_t rsdp_addr, char *err, size_t errlen);

/*
 * The pieces boot__load uses, for callers that need them alone (AP start-up reuses the page tables and
 * GDT; tests check them). Both return 0, or -EFAULT if their area is not RAM.
 */
int boot__setup_gdt(struct guest_mem *mem);
int boot__setup_pgtable(struct guest_mem *mem);

#endif
