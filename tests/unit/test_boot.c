/*
 * Tier 1 (Check, in-process, no KVM): the bzImage loader against a real Debian kernel, plus the e820
 * map, page tables and GDT every boot builds.
 *
 * The kernel comes from MINIVMM_TEST_BZIMAGE (scripts/check.sh sets it from scripts/fetch-kernel.sh).
 * Without it every bzImage test fails and says how to get one: a missing kernel is not a pass.
 */
#include <asm/bootparam.h>
#include <asm/e820.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "boot/boot.h"
#include "boot/internal.h"
#include "tests/unit/check_main.h"
#include "vmm/layout.h"
#include "vmm/memory.h"
#include "vmm/util.h"

#define NAME "vmlinuz"

/* Header offsets in the file (boot.rst, "The real-mode kernel header"). */
#define OFF_SETUP_SECTS		0x1f1
#define OFF_HEADER		0x202
#define OFF_VERSION		0x206
#define OFF_INITRD_ADDR_MAX	0x22c
#define OFF_KERNEL_ALIGNMENT	0x230
#define OFF_RELOCATABLE		0x234
#define OFF_XLOADFLAGS		0x236
#define OFF_CMDLINE_SIZE	0x238
#define OFF_PREF_ADDRESS	0x258
#define OFF_INIT_SIZE		0x260

static uint8_t *kimg;
static size_t klen;
static struct guest_mem mem;
static char err[256];
static struct boot_entry out;

/* Load the test kernel, or fail the test with what to do. */
static void need_kernel(void)
{
	const char *path = getenv("MINIVMM_TEST_BZIMAGE");
	struct stat st;
	int ret;

	if (kimg)
		return;
	ck_assert_msg(path && *path,
		      "MINIVMM_TEST_BZIMAGE is not set: run scripts/fetch-kernel.sh and set MINIVMM_TEST_BZIMAGE "
		      "to the vmlinuz path it prints (make check does this)");
	ck_assert_msg(stat(path, &st) == 0,
		      "MINIVMM_TEST_BZIMAGE=%s does not exist: run scripts/fetch-kernel.sh for a kernel image", path);
	ret = read_file(path, &kimg, &klen);
	ck_assert_msg(ret == 0, "reading %s: %s", path, strerror(-ret));
}

static uint32_t rd32(const uint8_t *p, size_t off)
{
	uint32_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static uint64_t rd64(const uint8_t *p, size_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static void wr16(uint8_t *p, size_t off, uint16_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

static void wr32(uint8_t *p, size_t off, uint32_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

static void wr64(uint8_t *p, size_t off, uint64_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

/* A private copy of the first @len bytes of the kernel (0: all of it) to break. */
static uint8_t *copy_kernel(size_t len)
{
	uint8_t *p;

	need_kernel();
	if (!len)
		len = klen;
	p = malloc(len);
	ck_assert_ptr_nonnull(p);
	memcpy(p, kimg, MIN(len, klen));
	return p;
}

static void mem_init(uint64_t size)
{
	ck_assert_int_eq(guest_mem__init(&mem, size), 0);
}

static void *gpa(uint64_t addr, uint64_t len)
{
	void *p = guest_mem__hva(&mem, addr, len);

	ck_assert_ptr_nonnull(p);
	return p;
}

static struct boot_params *zero_page(void)
{
	return gpa(LAYOUT_ZERO_PAGE, sizeof(struct boot_params));
}

static struct boot_input bz_input(const uint8_t *image, size_t len)
{
	return (struct boot_input){ .image = image, .image_len = len, .image_name = NAME };
}

/* As the machine does: the image, then the tables (a bzImage takes no DTB: the one offered stays out). */
static int load(const struct boot_input *in)
{
	static const uint8_t dtb[16] = { 0xd0, 0x0d, 0xfe, 0xed };
	int ret;

	memset(&out, 0, sizeof(out));
	ret = boot__load(&mem, in, &out, err, sizeof(err));
	return ret ? ret : boot__set_tables(&mem, &out, dtb, sizeof(dtb), LAYOUT_ACPI_BASE, err, sizeof(err));
}

static void load_ok(const struct boot_input *in)
{
	int ret = load(in);

	ck_assert_msg(ret == 0, "boot__load: %d (%s)", ret, err);
}

static void load_fails(const struct boot_input *in, int want, const char *msg)
{
	int ret = load(in);

	ck_assert_msg(ret == want, "boot__load returned %d, want %d (err \"%s\")", ret, want, err);
	ck_assert_msg(strstr(err, msg), "error \"%s\" lacks \"%s\"", err, msg);
	ck_assert_msg(!strchr(err, '\n'), "error \"%s\" is not one line", err);
}

/* What the kernel's own header says it needs, worked out independently of the loader. */
static size_t setup_len(const uint8_t *k)
{
	return ((k[OFF_SETUP_SECTS] ? k[OFF_SETUP_SECTS] : 4) + 1) * 512;
}

static uint64_t expected_load(const uint8_t *k)
{
	uint64_t pref = rd64(k, OFF_PREF_ADDRESS), align = rd32(k, OFF_KERNEL_ALIGNMENT);

	return ALIGN_UP(MAX(pref, LAYOUT_KERNEL_LOAD), align);
}

static uint64_t expected_end(const uint8_t *k, size_t len)
{
	return expected_load(k) + MAX(rd32(k, OFF_INIT_SIZE), len - setup_len(k));
}

START_TEST(bz_header_and_entry)
{
	struct boot_input in;
	struct boot_params *zp;
	uint64_t load_addr;
	const char *cmd = "console=ttyS0 earlyprintk=serial panic=-1";

	need_kernel();
	/* Sanity of the test image itself: a relocatable 64-bit kernel with protocol >= 2.12. */
	ck_assert_uint_eq(rd32(kimg, OFF_HEADER), 0x53726448);
	ck_assert_uint_ge(kimg[OFF_VERSION] | kimg[OFF_VERSION + 1] << 8, 0x20c);
	ck_assert_uint_eq(kimg[OFF_RELOCATABLE], 1);

	mem_init(512 * MiB);
	in = bz_input(kimg, klen);
	in.cmdline = cmd;
	load_ok(&in);
	zp = zero_page();
	load_addr = expected_load(kimg);

	ck_assert_int_eq(out.kind, BOOT_IMAGE_BZIMAGE);
	ck_assert_uint_eq(load_addr, LAYOUT_KERNEL_LOAD);	/* Debian: pref_address 16 MiB, 2 MiB aligned */
	ck_assert_uint_eq(out.rip, load_addr + 0x200);
	ck_assert_uint_eq(out.rsi, LAYOUT_ZERO_PAGE);
	ck_assert_uint_eq(out.rsp, 0);
	ck_assert_uint_eq(out.cr3, LAYOUT_PGTABLE);
	ck_assert_uint_eq(out.gdt_base, LAYOUT_BOOT_GDT);
	ck_assert_uint_eq(out.gdt_limit, 31);
	ck_assert_uint_eq(out.kernel_end, expected_end(kimg, klen));
	ck_assert_uint_eq(out.initrd_addr, 0);

	/* startup_64 (arch/x86/boot/compressed/head_64.S) starts with cld; cli: the entry is right. */
	ck_assert_uint_eq(((uint8_t *)gpa(out.rip, 2))[0], 0xfc);
	ck_assert_uint_eq(((uint8_t *)gpa(out.rip, 2))[1], 0xfa);
	/* The protected-mode kernel is loaded byte for byte. */
	ck_assert(memcmp(gpa(load_addr, klen - setup_len(kimg)), kimg + setup_len(kimg),
			 klen - setup_len(kimg)) == 0);

	/* Zero page: the kernel's setup header plus what a boot loader must fill in. */
	ck_assert(memcmp(&zp->hdr.header, kimg + OFF_HEADER, 4) == 0);
	ck_assert_uint_eq(zp->hdr.version, kimg[OFF_VERSION] | kimg[OFF_VERSION + 1] << 8);
	ck_assert_uint_eq(zp->hdr.boot_flag, 0xaa55);
	ck_assert_uint_eq(zp->hdr.init_size, rd32(kimg, OFF_INIT_SIZE));
	ck_assert_uint_eq(zp->hdr.type_of_loader, 0xff);
	ck_assert(zp->hdr.loadflags & LOADED_HIGH);
	ck_assert(zp->hdr.loadflags & CAN_USE_HEAP);
	ck_assert_uint_eq(zp->hdr.heap_end_ptr, 0xfe00);
	ck_assert_uint_eq(zp->hdr.code32_start, load_addr);
	ck_assert_uint_eq(zp->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	ck_assert_uint_eq(zp->ext_cmd_line_ptr, 0);
	ck_assert_str_eq(gpa(LAYOUT_CMDLINE, strlen(cmd) + 1), cmd);
	ck_assert_uint_eq(zp->hdr.ramdisk_image, 0);
	ck_assert_uint_eq(zp->hdr.ramdisk_size, 0);
	ck_assert_uint_eq(zp->hdr.setup_data, 0);
	ck_assert_uint_eq(zp->acpi_rsdp_addr, LAYOUT_ACPI_BASE);
	ck_assert_uint_eq(zp->sentinel, 0);
	ck_assert_uint_eq(zp->e820_entries, 4);
	guest_mem__exit(&mem);
}
END_TEST

START_TEST(bz_no_cmdline)
{
	struct boot_input in;

	need_kernel();
	mem_init(512 * MiB);
	memset(gpa(LAYOUT_CMDLINE, 16), 'x', 16);
	in = bz_input(kimg, klen);
	load_ok(&in);
	ck_assert_uint_eq(zero_page()->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	ck_assert_str_eq(gpa(LAYOUT_CMDLINE, 1), "");
	guest_mem__exit(&mem);
}
END_TEST

START_TEST(bz_cmdline_limit)
{
	uint32_t max;
	char *cmd, want[96];
	struct boot_input in;

	need_kernel();
	max = rd32(kimg, OFF_CMDLINE_SIZE);
	ck_assert_uint_lt(max, LAYOUT_CMDLINE_MAX);
	cmd = malloc(max + 2);
	memset(cmd, 'a', max + 1);
	cmd[max + 1] = '\0';
	mem_init(512 * MiB);
	in = bz_input(kimg, klen);
	in.cmdline = cmd;
	snprintf(want, sizeof(want), NAME ": the command line is %u bytes, the kernel accepts at most %u", max + 1, max);
	load_fails(&in, -E2BIG, want);
	cmd[max] = '\0';	/* exactly cmdline_size bytes is fine */
	load_ok(&in);
	ck_assert_uint_eq(strlen(gpa(LAYOUT_CMDLINE, max + 1)), max);
	free(cmd);
	guest_mem__exit(&mem);
}
END_TEST

static uint8_t *pattern(size_t len, unsigned seed)
{
	uint8_t *p = malloc(len);

	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 31 + seed + (i >> 12));
	return p;
}

static void check_initrd(uint64_t want, const uint8_t *data, size_t len)
{
	struct boot_params *zp = zero_page();

	ck_assert_uint_eq(out.initrd_addr, want);
	ck_assert(IS_ALIGNED(out.initrd_addr, 4096));
	ck_assert_uint_ge(out.initrd_addr, out.kernel_end);
	ck_assert_uint_eq(zp->hdr.ramdisk_image, (uint32_t)want);
	ck_assert_uint_eq(zp->ext_ramdisk_image, want >> 32);
	ck_assert_uint_eq(zp->hdr.ramdisk_size, len);
	ck_assert_uint_eq(zp->ext_ramdisk_size, 0);
	ck_assert(memcmp(gpa(want, len), data, len) == 0);
}

START_TEST(bz_initrd_top_of_ram)
{
	size_t len = MiB + 123;
	uint8_t *rd = pattern(len, 7);
	struct boot_input in;

	need_kernel();
	ck_assert_uint_eq(rd32(kimg, OFF_INITRD_ADDR_MAX), 0x7fffffff);
	mem_init(512 * MiB);
	in = bz_input(kimg, klen);
	in.initrd = rd;
	in.initrd_len = len;
	load_ok(&in);
	check_initrd(ALIGN_DOWN(512 * MiB - len, 4096), rd, len);
	guest_mem__exit(&mem);

	/* 5 GiB: low RAM ends at 3 GiB, so initrd_addr_max (2 GiB - 1) is the limit. */
	mem_init(5 * GiB);
	load_ok(&in);
	check_initrd(ALIGN_DOWN(2 * GiB - len, 4096), rd, len);
	guest_mem__exit(&mem);
	free(rd);
}
END_TEST

START_TEST(bz_initrd_addr_max)
{
	size_t len = 3 * MiB + 5;
	uint8_t *rd = pattern(len, 3);
	uint8_t *k = copy_kernel(0);
	struct boot_input in = bz_input(k, klen);

	wr32(k, OFF_INITRD_ADDR_MAX, 0x0fffffff);
	mem_init(512 * MiB);
	in.initrd = rd;
	in.initrd_len = len;
	load_ok(&in);
	check_initrd(ALIGN_DOWN(0x10000000 - len, 4096), rd, len);

	/* A limit below the kernel's init_size footprint leaves no room at all. */
	wr32(k, OFF_INITRD_ADDR_MAX, 0x01ffffff);
	load_fails(&in, -ENOSPC, "initrd of 3145733 bytes does not fit below 0x1ffffff");
	guest_mem__exit(&mem);
	free(k);
	free(rd);
}
END_TEST

START_TEST(bz_initrd_too_big)
{
	size_t len = 64 * MiB;
	uint8_t *rd = calloc(1, len);
	struct boot_input in;

	need_kernel();
	/* 128 MiB guest: the kernel's footprint ends near 72 MiB, 56 MiB remain. */
	mem_init(128 * MiB);
	in = bz_input(kimg, klen);
	in.initrd = rd;
	in.initrd_len = len;
	load_fails(&in, -ENOSPC, "initrd of 67108864 bytes does not fit below 0x7ffffff");
	/* One that fits exactly between the kernel and the end of RAM. */
	in.initrd_len = 128 * MiB - ALIGN_UP(expected_end(kimg, klen), 4096);
	load_ok(&in);
	ck_assert_uint_eq(out.initrd_addr, ALIGN_UP(expected_end(kimg, klen), 4096));
	in.initrd_len += 4096;
	load_fails(&in, -ENOSPC, "does not fit");
	guest_mem__exit(&mem);
	free(rd);
}
END_TEST

START_TEST(bz_too_little_ram)
{
	struct boot_input in;
	char want[128];
	uint64_t need;

	need_kernel();
	need = ALIGN_UP(expected_end(kimg, klen), MiB) / MiB;
	mem_init(64 * MiB);
	ck_assert_uint_gt(need, 64);
	in = bz_input(kimg, klen);
	snprintf(want, sizeof(want), NAME ": needs %llu MiB of RAM, the guest has 64 MiB", (unsigned long long)need);
	load_fails(&in, -ENOMEM, want);
	ck_assert_str_eq(err, want);
	guest_mem__exit(&mem);
	/* Exactly enough. */
	mem_init(need * MiB);
	load_ok(&in);
	guest_mem__exit(&mem);
}
END_TEST

START_TEST(bz_not_relocatable)
{
	uint8_t *k = copy_kernel(0);
	struct boot_input in = bz_input(k, klen);
	uint64_t pm_len = klen - setup_len(k);

	k[OFF_RELOCATABLE] = 0;
	mem_init(512 * MiB);
	load_ok(&in);
	/* Loaded at 1 MiB; init_size counts from pref_address, where it decompresses itself. */
	ck_assert_uint_eq(out.rip, LAYOUT_HIGH_LOAD + 0x200);
	ck_assert_uint_eq(zero_page()->hdr.code32_start, LAYOUT_HIGH_LOAD);
	ck_assert_uint_eq(out.kernel_end, MAX(LAYOUT_HIGH_LOAD + pm_len, rd64(k, OFF_PREF_ADDRESS) + rd32(k, OFF_INIT_SIZE)));
	ck_assert(memcmp(gpa(LAYOUT_HIGH_LOAD, pm_len), k + setup_len(k), pm_len) == 0);
	guest_mem__exit(&mem);
	free(k);
}
END_TEST

START_TEST(bz_pref_address_alignment)
{
	uint8_t *k = copy_kernel(0);
	struct boot_input in = bz_input(k, klen);

	mem_init(512 * MiB);
	/* Above 16 MiB and unaligned: rounded up to kernel_alignment (2 MiB). */
	wr64(k, OFF_PREF_ADDRESS, 0x2345678);
	load_ok(&in);
	ck_assert_uint_eq(out.rip, 0x2400000 + 0x200);
	ck_assert_uint_eq(out.kernel_end, 0x2400000 + rd32(k, OFF_INIT_SIZE));
	/* Below 16 MiB: moved up to LAYOUT_KERNEL_LOAD. */
	wr64(k, OFF_PREF_ADDRESS, 0x200000);
	load_ok(&in);
	ck_assert_uint_eq(out.rip, LAYOUT_KERNEL_LOAD + 0x200);
	/* Garbage: alignment not a power of two, pref_address far outside RAM. */
	wr32(k, OFF_KERNEL_ALIGNMENT, 0x300000);
	load_fails(&in, -ENOEXEC, "kernel_alignment 0x300000 is not a power of two");
	wr32(k, OFF_KERNEL_ALIGNMENT, 0x200000);
	wr64(k, OFF_PREF_ADDRESS, ~0ULL);
	load_fails(&in, -ENOEXEC, "pref_address");
	wr64(k, OFF_PREF_ADDRESS, 0x100000000ULL);
	load_fails(&in, -ENOEXEC, "pref_address");
	guest_mem__exit(&mem);
	free(k);
}
END_TEST

START_TEST(bz_bad_magic)
{
	uint8_t *k = copy_kernel(0);
	struct boot_input in = bz_input(k, klen);

	mem_init(512 * MiB);
	k[OFF_HEADER] = 'X';
	load_fails(&in, -ENOEXEC, "");
	ck_assert_str_eq(err, NAME ": not a bzImage or ELF64 file");
	guest_mem__exit(&mem);
	free(k);
}
END_TEST

START_TEST(bz_old_version)
{
	uint8_t *k = copy_kernel(0);
	struct boot_input in = bz_input(k, klen);

	mem_init(512 * MiB);
	wr16(k, OFF_VERSION, 0x0205);
	load_fails(&in, -ENOEXEC, "");
	ck_assert_str_eq(err, NAME ": boot protocol 2.05 is too old (need 2.12)");
	wr16(k, OFF_VERSION, 0x020b);
	load_fails(&in, -ENOEXEC, "boot protocol 2.11 is too old");
	wr16(k, OFF_VERSION, 0x020c);
	load_ok(&in);
	guest_mem__exit(&mem);
	free(k);
}
END_TEST

START_TEST(bz_no_kernel_64)
{
	uint8_t *k = copy_kernel(0);
	struct boot_input in = bz_input(k, klen);

	mem_init(512 * MiB);
	wr16(k, OFF_XLOADFLAGS, 0x7e);
	load_fails(&in, -ENOEXEC, "lacks XLF_KERNEL_64");
	guest_mem__exit(&mem);
	free(k);
}
END_TEST

START_TEST(bz_zimage)
{
	uint8_t *k = copy_kernel(0);
	struct boot_input in = bz_input(k, klen);

	mem_init(512 * MiB);
	k[0x211] &= ~LOADED_HIGH;
	load_fails(&in, -ENOEXEC, "zImage");
	guest_mem__exit(&mem);
	free(k);
}
END_TEST

START_TEST(bz_setup_sects_past_end)
{
	size_t len = 64 * KiB;
	uint8_t *k = copy_kernel(len);
	struct boot_input in = bz_input(k, len);

	mem_init(512 * MiB);
	k[OFF_SETUP_SECTS] = 200;	/* 100.5 KiB of setup in a 64 KiB file */
	load_fails(&in, -ENOEXEC, "setup_sects 200 points past the end of the file (65536 bytes)");
	/* setup_sects 0 means 4: 2.5 KiB of setup, then a payload shorter than syssize says. */
	k[OFF_SETUP_SECTS] = 0;
	load_fails(&in, -ENOEXEC, "truncated");
	/* Setup sectors and nothing after them. */
	in.image_len = 5 * 512;
	load_fails(&in, -ENOEXEC, "no protected-mode kernel after the 4 setup sectors");
	in.image_len = len;
	/* ... and when syssize agrees, it loads from 2.5 KiB on. */
	wr32(k, 0x1f4, (len - 5 * 512) / 16);
	load_ok(&in);
	ck_assert(memcmp(gpa(LAYOUT_KERNEL_LOAD, len - 5 * 512), k + 5 * 512, len - 5 * 512) == 0);
	ck_assert_uint_eq(zero_page()->hdr.setup_sects, 4);
	guest_mem__exit(&mem);
	free(k);
}
END_TEST

START_TEST(bz_truncated)
{
	uint8_t *k = copy_kernel(0);
	struct boot_input in = bz_input(k, klen / 2);

	mem_init(512 * MiB);
	load_fails(&in, -ENOEXEC, "truncated: the protected-mode kernel is");
	in.image_len = klen - 1;
	load_fails(&in, -ENOEXEC, "truncated");
	/* Every short prefix fails with one line (and never reads past its end: see the ASan build). */
	for (size_t len = 0; len < 0x2000; len++) {
		uint8_t *p = malloc(len ? len : 1);

		memcpy(p, k, len);
		in = bz_input(p, len);
		ck_assert_int_lt(load(&in), 0);
		ck_assert_msg(err[0] && !strchr(err, '\n'), "len %zu: \"%s\"", len, err);
		free(p);
	}
	in = bz_input(k, 0x210);
	load_fails(&in, -ENOEXEC, "truncated: 528 bytes, the setup header alone needs");
	in = bz_input(k, 0x100);
	load_fails(&in, -ENOEXEC, "not a bzImage or ELF64 file");
	guest_mem__exit(&mem);
	free(k);
}
END_TEST

/* Random setup headers on a short image: errors or loads, never a crash or an out-of-bounds access. */
START_TEST(bz_fuzz_header)
{
	size_t len = 48 * KiB;
	uint8_t *k = copy_kernel(len);
	uint8_t *p = malloc(len);
	struct boot_input in = bz_input(p, len);
	unsigned seed = 12345;
	size_t hdr_len = sizeof(struct setup_header);
	int loaded = 0;

	mem_init(256 * MiB);
	in.cmdline = "x";
	in.initrd = k;
	in.initrd_len = 4096;
	for (int it = 0; it < 20000; it++) {
		memcpy(p, k, len);
		/* Keep the magic and a plausible version most of the time so the deeper checks run. */
		for (int n = rand_r(&seed) % 6; n >= 0; n--) {
			size_t off = OFF_SETUP_SECTS + rand_r(&seed) % hdr_len;
			p[off] = (uint8_t)rand_r(&seed);
		}
		if (rand_r(&seed) % 2)
			wr32(p, 0x1f4, (len - setup_len(p)) / 16 - rand_r(&seed) % 2);
		if (load(&in) == 0) {
			loaded++;
			ck_assert(guest_mem__hva(&mem, out.rip, 1));
			ck_assert_uint_le(out.kernel_end, 256 * MiB);
			ck_assert(out.initrd_addr >= out.kernel_end);
		} else {
			ck_assert(err[0] && !strchr(err, '\n'));
		}
	}
	/* Enough mutants must load for the fuzzing to reach past the header checks. */
	ck_assert_int_gt(loaded, 1000);
	guest_mem__exit(&mem);
	free(p);
	free(k);
}
END_TEST

static void check_e820(const struct boot_e820_entry *e, uint64_t addr, uint64_t size, uint32_t type)
{
	ck_assert_uint_eq(e->addr, addr);
	ck_assert_uint_eq(e->size, size);
	ck_assert_uint_eq(e->type, type);
}

START_TEST(e820_low_only)
{
	struct boot_input in;
	struct boot_params *zp;

	need_kernel();
	mem_init(512 * MiB);
	in = bz_input(kimg, klen);
	load_ok(&in);
	zp = zero_page();
	ck_assert_uint_eq(zp->e820_entries, 4);
	check_e820(&zp->e820_table[0], 0, LAYOUT_EBDA, E820_RAM);
	check_e820(&zp->e820_table[1], LAYOUT_EBDA, 1 * MiB - LAYOUT_EBDA, E820_RESERVED);
	check_e820(&zp->e820_table[2], 1 * MiB, 511 * MiB, E820_RAM);
	check_e820(&zp->e820_table[3], LAYOUT_PCI_ECAM_BASE, LAYOUT_PCI_ECAM_SIZE, E820_RESERVED);
	check_e820(&zp->e820_table[4], 0, 0, 0);
	/* The ACPI tables' home is inside the reserved range. */
	ck_assert_uint_ge(LAYOUT_ACPI_BASE, LAYOUT_EBDA);
	ck_assert_uint_le(LAYOUT_ACPI_BASE + LAYOUT_ACPI_SIZE, 1 * MiB);
	guest_mem__exit(&mem);
}
END_TEST

START_TEST(e820_high_ram)
{
	struct boot_input in;
	struct boot_params *zp;

	need_kernel();
	mem_init(5 * GiB);
	in = bz_input(kimg, klen);
	load_ok(&in);
	zp = zero_page();
	ck_assert_uint_eq(zp->e820_entries, 5);
	check_e820(&zp->e820_table[0], 0, LAYOUT_EBDA, E820_RAM);
	check_e820(&zp->e820_table[1], LAYOUT_EBDA, 1 * MiB - LAYOUT_EBDA, E820_RESERVED);
	check_e820(&zp->e820_table[2], 1 * MiB, LAYOUT_LOWMEM_LIMIT - 1 * MiB, E820_RAM);
	check_e820(&zp->e820_table[3], LAYOUT_PCI_ECAM_BASE, LAYOUT_PCI_ECAM_SIZE, E820_RESERVED);
	check_e820(&zp->e820_table[4], LAYOUT_HIGHMEM_BASE, 5 * GiB - LAYOUT_LOWMEM_LIMIT, E820_RAM);
	guest_mem__exit(&mem);
}
END_TEST

START_TEST(e820_direct)
{
	struct boot_e820_entry t[8];

	mem_init(2 * MiB);
	ck_assert_int_eq(boot__e820(&mem, t, 8), 4);
	check_e820(&t[2], 1 * MiB, 1 * MiB, E820_RAM);
	/* A short table is filled as far as it goes. */
	ck_assert_int_eq(boot__e820(&mem, t, 2), 2);
	guest_mem__exit(&mem);
}
END_TEST

START_TEST(pgtable_and_gdt)
{
	const uint64_t *pml4, *pdpt, *pd, *gdt;
	struct boot_input in;

	need_kernel();
	mem_init(512 * MiB);
	/* Garbage first: the builder must clear what it does not set. */
	memset(gpa(0, LAYOUT_HIGH_LOAD), 0xa5, LAYOUT_HIGH_LOAD);
	in = bz_input(kimg, klen);
	load_ok(&in);
	pml4 = gpa(LAYOUT_PGTABLE, 4096);
	pdpt = gpa(LAYOUT_PGTABLE + 0x1000, 4096);
	pd = gpa(LAYOUT_PGTABLE + 0x2000, 4 * 4096);
	/* P | RW | U/S on the tables, plus PS on the 2 MiB leaves. */
	ck_assert_uint_eq(pml4[0], (LAYOUT_PGTABLE + 0x1000) | 0x7);
	for (int i = 1; i < 512; i++)
		ck_assert_uint_eq(pml4[i], 0);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(pdpt[i], (LAYOUT_PGTABLE + 0x2000 + i * 0x1000) | 0x7);
	for (int i = 4; i < 512; i++)
		ck_assert_uint_eq(pdpt[i], 0);
	for (uint64_t i = 0; i < 2048; i++)
		ck_assert_uint_eq(pd[i], i * 2 * MiB | 0x87);
	ck_assert_uint_le(LAYOUT_PGTABLE + 0x2000 + 4 * 0x1000, LAYOUT_PGTABLE_END);

	gdt = gpa(LAYOUT_BOOT_GDT, 32);
	ck_assert_uint_eq(gdt[0], 0);
	ck_assert_uint_eq(gdt[1], 0);
	/* 0x10: base 0, limit 0xfffff pages, P, DPL 0, code execute/read accessed, L=1, D=0, G=1. */
	ck_assert_uint_eq(gdt[BOOT_CS / 8], 0x00af9b000000ffffULL);
	/* 0x18: base 0, limit 0xfffff pages, P, DPL 0, data read/write accessed, D/B=1, G=1. */
	ck_assert_uint_eq(gdt[BOOT_DS / 8], 0x00cf93000000ffffULL);
	ck_assert_uint_eq(out.gdt_limit + 1, 4 * 8);
	guest_mem__exit(&mem);
}
END_TEST

START_TEST(bad_arguments)
{
	struct boot_input in = { .image_name = NAME };

	mem_init(2 * MiB);
	ck_assert_int_eq(load(&in), -ENOEXEC);
	ck_assert_str_eq(err, NAME ": not a bzImage or ELF64 file");
	in.image_len = 100;
	ck_assert_int_eq(load(&in), -EINVAL);
	ck_assert_int_eq(boot__load(&mem, NULL, &out, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(boot__load(NULL, &in, &out, NULL, 0), -EINVAL);
	ck_assert_int_eq(boot__set_tables(NULL, &out, NULL, 0, 0, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(boot__set_tables(&mem, NULL, NULL, 0, 0, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "boot: missing guest memory or boot entry");
	/* A short error buffer is still a terminated string. */
	in.image_len = 0;
	ck_assert_int_eq(boot__load(&mem, &in, &out, err, 8), -ENOEXEC);
	ck_assert_str_eq(err, "vmlinuz");
	guest_mem__exit(&mem);
}
END_TEST

static Suite *boot_suite(void)
{
	Suite *s = suite_create("boot");
	TCase *bz = tcase_create("bzimage");
	TCase *bad = tcase_create("bzimage-broken");
	TCase *common = tcase_create("common");

	/* The fuzz loops and the ASan build take a few seconds. */
	tcase_set_timeout(bz, 60);
	tcase_set_timeout(bad, 120);
	tcase_set_timeout(common, 60);
	tcase_add_test(bz, bz_header_and_entry);
	tcase_add_test(bz, bz_no_cmdline);
	tcase_add_test(bz, bz_cmdline_limit);
	tcase_add_test(bz, bz_initrd_top_of_ram);
	tcase_add_test(bz, bz_initrd_addr_max);
	tcase_add_test(bz, bz_initrd_too_big);
	tcase_add_test(bz, bz_too_little_ram);
	tcase_add_test(bz, bz_not_relocatable);
	tcase_add_test(bz, bz_pref_address_alignment);
	tcase_add_test(bad, bz_bad_magic);
	tcase_add_test(bad, bz_old_version);
	tcase_add_test(bad, bz_no_kernel_64);
	tcase_add_test(bad, bz_zimage);
	tcase_add_test(bad, bz_setup_sects_past_end);
	tcase_add_test(bad, bz_truncated);
	tcase_add_test(bad, bz_fuzz_header);
	tcase_add_test(common, e820_low_only);
	tcase_add_test(common, e820_high_ram);
	tcase_add_test(common, e820_direct);
	tcase_add_test(common, pgtable_and_gdt);
	tcase_add_test(common, bad_arguments);
	suite_add_tcase(s, bz);
	suite_add_tcase(s, bad);
	suite_add_tcase(s, common);
	return s;
}

CHECK_MAIN(boot_suite)
