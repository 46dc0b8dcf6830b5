/*
 * Tier 1 (Check, in-process, no KVM): the ELF64 guest-program loader, on small ELF files written by
 * hand here: segment loading and checks, entry point, zero page, setup_data chain with the DTB.
 */
#include <asm/bootparam.h>
#include <asm/e820.h>
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/boot.h"
#include "tests/unit/check_main.h"
#include "vmm/layout.h"
#include "vmm/memory.h"
#include "vmm/util.h"

#define NAME "prog.elf"

/*
 * The test program: ELF header, two program headers, then
 *   text at file 0x1000, 0x40 bytes -> 0x100000 (R X), entry at +0x10
 *   data at file 0x1040, 0x20 bytes -> 0x200000 (R W), p_memsz 0x3000 (the rest is bss)
 */
#define TEXT_OFF	0x1000
#define TEXT_LEN	0x40
#define TEXT_ADDR	0x100000ULL
#define DATA_OFF	0x1040
#define DATA_LEN	0x20
#define DATA_ADDR	0x200000ULL
#define DATA_MEMSZ	0x3000
#define FILE_LEN	0x1060
#define ENTRY		(TEXT_ADDR + 0x10)

struct prog {
	uint8_t buf[FILE_LEN];
	size_t len;
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
};

static struct guest_mem mem;
static struct boot_entry out;
static char err[256];

static void prog_init(struct prog *p)
{
	memset(p, 0, sizeof(*p));
	p->len = FILE_LEN;
	memcpy(p->eh.e_ident, ELFMAG, SELFMAG);
	p->eh.e_ident[EI_CLASS] = ELFCLASS64;
	p->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	p->eh.e_ident[EI_VERSION] = EV_CURRENT;
	p->eh.e_type = ET_EXEC;
	p->eh.e_machine = EM_X86_64;
	p->eh.e_version = EV_CURRENT;
	p->eh.e_entry = ENTRY;
	p->eh.e_phoff = sizeof(Elf64_Ehdr);
	p->eh.e_ehsize = sizeof(Elf64_Ehdr);
	p->eh.e_phentsize = sizeof(Elf64_Phdr);
	p->eh.e_phnum = 2;
	p->ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = TEXT_OFF,
				 .p_vaddr = TEXT_ADDR, .p_paddr = TEXT_ADDR, .p_filesz = TEXT_LEN,
				 .p_memsz = TEXT_LEN, .p_align = 0x1000 };
	p->ph[1] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_offset = DATA_OFF,
				 .p_vaddr = DATA_ADDR, .p_paddr = DATA_ADDR, .p_filesz = DATA_LEN,
				 .p_memsz = DATA_MEMSZ, .p_align = 0x1000 };
	for (int i = TEXT_OFF; i < FILE_LEN; i++)
		p->buf[i] = (uint8_t)(i * 7 + 1);
}

/* Write the headers into the file image (after the test changed them). */
static const uint8_t *prog_bytes(struct prog *p)
{
	memcpy(p->buf, &p->eh, sizeof(p->eh));
	memcpy(p->buf + sizeof(p->eh), p->ph, sizeof(p->ph));
	return p->buf;
}

static struct boot_input prog_input(struct prog *p)
{
	return (struct boot_input){ .image = prog_bytes(p), .image_len = p->len, .image_name = NAME };
}

/* The device tree load() hands over after the image (boot__set_tables). */
static const uint8_t *dtb_in;
static size_t dtb_in_len;

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

static int load(const struct boot_input *in)
{
	int ret;

	memset(&out, 0, sizeof(out));
	ret = boot__load(&mem, in, &out, err, sizeof(err));
	return ret ? ret : boot__set_tables(&mem, &out, dtb_in, dtb_in_len, LAYOUT_ACPI_BASE, err, sizeof(err));
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

/* Build @p, load it into a fresh 512 MiB guest and expect @msg. */
static void prog_fails(struct prog *p, int want, const char *msg)
{
	struct boot_input in = prog_input(p);

	mem_init(512 * MiB);
	load_fails(&in, want, msg);
	guest_mem__exit(&mem);
}

START_TEST(elf_good)
{
	struct prog p;
	struct boot_input in;
	struct boot_params *zp;
	const uint8_t *data;

	prog_init(&p);
	in = prog_input(&p);
	in.cmdline = "hello=1 world";
	mem_init(512 * MiB);
	/* Leftovers in RAM: bss must come out zero. */
	memset(gpa(DATA_ADDR, 2 * DATA_MEMSZ), 0xcc, 2 * DATA_MEMSZ);
	load_ok(&in);

	ck_assert_int_eq(out.kind, BOOT_IMAGE_ELF);
	ck_assert_uint_eq(out.rip, ENTRY);
	ck_assert_uint_eq(out.rsi, LAYOUT_ZERO_PAGE);
	ck_assert_uint_eq(out.rsp, 0);
	ck_assert_uint_eq(out.cr3, LAYOUT_PGTABLE);
	ck_assert_uint_eq(out.gdt_base, LAYOUT_BOOT_GDT);
	ck_assert_uint_eq(out.gdt_limit, 31);
	ck_assert_uint_eq(out.kernel_end, DATA_ADDR + DATA_MEMSZ);
	ck_assert_uint_eq(out.initrd_addr, 0);

	ck_assert(memcmp(gpa(TEXT_ADDR, TEXT_LEN), p.buf + TEXT_OFF, TEXT_LEN) == 0);
	data = gpa(DATA_ADDR, 2 * DATA_MEMSZ);
	ck_assert(memcmp(data, p.buf + DATA_OFF, DATA_LEN) == 0);
	for (int i = DATA_LEN; i < DATA_MEMSZ; i++)
		ck_assert_uint_eq(data[i], 0);
	ck_assert_uint_eq(data[DATA_MEMSZ], 0xcc);	/* nothing past p_memsz */

	zp = zero_page();
	ck_assert_uint_eq(zp->hdr.boot_flag, 0xaa55);
	ck_assert_uint_eq(zp->hdr.header, 0x53726448);
	ck_assert_uint_ge(zp->hdr.version, 0x020c);
	ck_assert_uint_eq(zp->hdr.type_of_loader, 0xff);
	ck_assert_uint_eq(zp->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	ck_assert_uint_eq(zp->hdr.cmdline_size, LAYOUT_CMDLINE_MAX - 1);
	ck_assert_str_eq(gpa(LAYOUT_CMDLINE, 14), "hello=1 world");
	ck_assert_uint_eq(zp->acpi_rsdp_addr, LAYOUT_ACPI_BASE);
	ck_assert_uint_eq(zp->hdr.setup_data, 0);	/* no DTB given */
	ck_assert_uint_eq(zp->e820_entries, 4);
	ck_assert_uint_eq(zp->e820_table[2].addr, 1 * MiB);
	ck_assert_uint_eq(zp->e820_table[2].size, 511 * MiB);
	ck_assert_uint_eq(zp->e820_table[2].type, E820_RAM);
	/* Identity map and GDT as for Linux. */
	ck_assert_uint_eq(*(uint64_t *)gpa(LAYOUT_PGTABLE, 8), (LAYOUT_PGTABLE + 0x1000) | 7);
	ck_assert_uint_eq(((uint64_t *)gpa(LAYOUT_BOOT_GDT, 32))[2], BOOT_GDT_CODE64);
	guest_mem__exit(&mem);
}
END_TEST

START_TEST(elf_dtb_setup_data)
{
	struct prog p;
	struct boot_input in;
	struct setup_data *sd;
	size_t max = LAYOUT_SETUP_DATA_MAX - sizeof(struct setup_data);
	uint8_t *dtb = malloc(max + 1);

	for (size_t i = 0; i < max + 1; i++)
		dtb[i] = (uint8_t)(i ^ (i >> 8));
	prog_init(&p);
	in = prog_input(&p);
	dtb_in = dtb;
	dtb_in_len = 1234;
	mem_init(512 * MiB);
	load_ok(&in);
	ck_assert_uint_eq(zero_page()->hdr.setup_data, LAYOUT_SETUP_DATA);
	sd = gpa(LAYOUT_SETUP_DATA, sizeof(*sd) + 1234);
	ck_assert_uint_eq(sd->next, 0);
	ck_assert_uint_eq(sd->type, SETUP_DTB);
	ck_assert_uint_eq(sd->len, 1234);
	ck_assert(memcmp(sd->data, dtb, 1234) == 0);

	/* The largest DTB that fits, then one byte more. */
	dtb_in_len = max;
	load_ok(&in);
	ck_assert_uint_eq(sd->len, max);
	ck_assert(memcmp(sd->data, dtb, max) == 0);
	ck_assert_uint_le(LAYOUT_SETUP_DATA + sizeof(*sd) + max, LAYOUT_CMDLINE);
	dtb_in_len = max + 1;
	load_fails(&in, -E2BIG, "the device tree is 65521 bytes, setup_data holds at most 65520");
	dtb_in_len = SIZE_MAX;
	load_fails(&in, -E2BIG, "device tree");
	dtb_in = NULL;
	dtb_in_len = 10;
	load_fails(&in, -EINVAL, "device tree");
	dtb_in_len = 0;
	guest_mem__exit(&mem);
	free(dtb);
}
END_TEST

START_TEST(elf_initrd_and_high_ram)
{
	struct prog p;
	struct boot_input in;
	uint8_t rd[5000];
	struct boot_params *zp;

	memset(rd, 0x5a, sizeof(rd));
	prog_init(&p);
	in = prog_input(&p);
	in.initrd = rd;
	in.initrd_len = sizeof(rd);
	mem_init(5 * GiB);
	load_ok(&in);
	/* Guest programs have no initrd_addr_max: the top of low RAM (3 GiB). */
	ck_assert_uint_eq(out.initrd_addr, LAYOUT_LOWMEM_LIMIT - 8192);
	zp = zero_page();
	ck_assert_uint_eq(zp->hdr.ramdisk_image, LAYOUT_LOWMEM_LIMIT - 8192);
	ck_assert_uint_eq(zp->hdr.ramdisk_size, sizeof(rd));
	ck_assert(memcmp(gpa(out.initrd_addr, sizeof(rd)), rd, sizeof(rd)) == 0);
	ck_assert_uint_eq(zp->e820_entries, 5);
	ck_assert_uint_eq(zp->e820_table[4].addr, LAYOUT_HIGHMEM_BASE);
	ck_assert_uint_eq(zp->e820_table[4].size, 2 * GiB);
	guest_mem__exit(&mem);
}
END_TEST

START_TEST(elf_cmdline_too_long)
{
	struct prog p;
	struct boot_input in;
	char *cmd = malloc(LAYOUT_CMDLINE_MAX + 1);

	memset(cmd, 'c', LAYOUT_CMDLINE_MAX);
	cmd[LAYOUT_CMDLINE_MAX] = '\0';
	prog_init(&p);
	in = prog_input(&p);
	in.cmdline = cmd;
	mem_init(512 * MiB);
	load_fails(&in, -E2BIG, NAME ": the command line is 65536 bytes, the kernel accepts at most 65535");
	cmd[LAYOUT_CMDLINE_MAX - 1] = '\0';
	load_ok(&in);
	guest_mem__exit(&mem);
	free(cmd);
}
END_TEST

START_TEST(elf_segment_outside_ram)
{
	struct prog p;

	prog_init(&p);
	p.ph[1].p_paddr = 0x30000000;		/* 768 MiB in a 512 MiB guest */
	prog_fails(&p, -ENOMEM, NAME ": segment 1 [0x30000000, 0x30003000) is outside guest RAM (512 MiB)");
	prog_init(&p);
	p.ph[1].p_paddr = 512 * MiB - 0x1000;	/* straddles the end of RAM */
	prog_fails(&p, -ENOMEM, "is outside guest RAM");
	prog_init(&p);
	p.ph[1].p_paddr = LAYOUT_PCI_ECAM_BASE;	/* the PCI hole */
	prog_fails(&p, -ENOMEM, "is outside guest RAM");
}
END_TEST

START_TEST(elf_segment_above_4g)
{
	struct prog p;
	struct boot_input in;

	prog_init(&p);
	p.ph[1].p_paddr = LAYOUT_HIGHMEM_BASE;	/* RAM in a 5 GiB guest, but not on the boot map */
	in = prog_input(&p);
	mem_init(5 * GiB);
	load_fails(&in, -ENOEXEC, "segment 1 [0x100000000, 0x100003000) is above the 4 GiB identity map");
	guest_mem__exit(&mem);
}
END_TEST

START_TEST(elf_segment_in_boot_area)
{
	struct prog p;

	prog_init(&p);
	p.ph[1].p_paddr = LAYOUT_ZERO_PAGE;
	prog_fails(&p, -ENOEXEC, NAME ": segment 1 at 0x7000 overlaps the boot area below 0x100000");
	prog_init(&p);
	p.ph[0].p_paddr = LAYOUT_HIGH_LOAD - 0x10;	/* ends above 1 MiB but starts below */
	p.eh.e_entry = LAYOUT_HIGH_LOAD;
	prog_fails(&p, -ENOEXEC, "segment 0 at 0xffff0 overlaps the boot area");
}
END_TEST

START_TEST(elf_size_checks)
{
	struct prog p;

	prog_init(&p);
	p.ph[1].p_filesz = DATA_MEMSZ + 1;
	prog_fails(&p, -ENOEXEC, "segment 1: p_filesz 0x3001 is larger than p_memsz 0x3000");
	/* File bytes past the end, with and without wrap-around of offset + size. */
	prog_init(&p);
	p.ph[1].p_offset = FILE_LEN - 0x10;
	prog_fails(&p, -ENOEXEC, "segment 1: file bytes 0x1050+0x20 run past the end of the file");
	prog_init(&p);
	p.ph[1].p_offset = UINT64_MAX - 8;
	prog_fails(&p, -ENOEXEC, "run past the end of the file");
	prog_init(&p);
	p.ph[1].p_filesz = p.ph[1].p_memsz = UINT64_MAX;
	prog_fails(&p, -ENOEXEC, "run past the end of the file");
	/* Address + size wrapping, and a huge bss. */
	prog_init(&p);
	p.ph[1].p_paddr = 0xfffffffffffff000ULL;
	prog_fails(&p, -ENOEXEC, "segment 1: 0xfffffffffffff000+0x3000 wraps around");
	prog_init(&p);
	p.ph[1].p_memsz = UINT64_MAX - DATA_ADDR + 1;
	prog_fails(&p, -ENOEXEC, "wraps around");
	prog_init(&p);
	p.ph[1].p_memsz = 0x7fffffffffffULL;
	prog_fails(&p, -ENOEXEC, "above the 4 GiB identity map");
	/* Program headers past the end of the file. */
	prog_init(&p);
	p.eh.e_phoff = FILE_LEN - sizeof(Elf64_Phdr);
	prog_fails(&p, -ENOEXEC, "the program headers run past the end of the file");
	prog_init(&p);
	p.eh.e_phoff = UINT64_MAX - 0x10;
	prog_fails(&p, -ENOEXEC, "the program headers run past the end of the file");
	prog_init(&p);
	p.eh.e_phnum = 0xfff0;
	prog_fails(&p, -ENOEXEC, "the program headers run past the end of the file");
	prog_init(&p);
	p.eh.e_phnum = 0;
	prog_fails(&p, -ENOEXEC, "no program headers");
	prog_init(&p);
	p.eh.e_phentsize = 32;
	prog_fails(&p, -ENOEXEC, "e_phentsize 32 is not 56");
}
END_TEST

START_TEST(elf_bss_only_segment)
{
	struct prog p;
	struct boot_input in;

	/* A bss-only segment's p_offset does not matter: nothing is read from the file. */
	prog_init(&p);
	p.ph[1].p_filesz = 0;
	p.ph[1].p_offset = 0x7fffffffffffffffULL;
	in = prog_input(&p);
	mem_init(512 * MiB);
	memset(gpa(DATA_ADDR, DATA_MEMSZ), 0xcc, DATA_MEMSZ);
	load_ok(&in);
	for (int i = 0; i < DATA_MEMSZ; i++)
		ck_assert_uint_eq(((uint8_t *)gpa(DATA_ADDR, DATA_MEMSZ))[i], 0);
	/* Empty segments and non-PT_LOAD headers are ignored entirely. */
	p.ph[1].p_memsz = 0;
	p.ph[1].p_paddr = 0x10;
	in = prog_input(&p);
	load_ok(&in);
	ck_assert_uint_eq(out.kernel_end, TEXT_ADDR + TEXT_LEN);
	p.ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = ~0ULL, .p_filesz = ~0ULL, .p_paddr = 1 };
	in = prog_input(&p);
	load_ok(&in);
	guest_mem__exit(&mem);
}
END_TEST

START_TEST(elf_wrong_kind)
{
	struct prog p;

	prog_init(&p);
	p.eh.e_ident[EI_CLASS] = ELFCLASS32;
	prog_fails(&p, -ENOEXEC, NAME ": not an ELF64 file (ELF class 1)");
	prog_init(&p);
	p.eh.e_ident[EI_DATA] = ELFDATA2MSB;
	prog_fails(&p, -ENOEXEC, "not a little-endian ELF file");
	prog_init(&p);
	p.eh.e_machine = EM_386;
	prog_fails(&p, -ENOEXEC, "ELF machine 3 is not x86-64 (62)");
	prog_init(&p);
	p.eh.e_machine = EM_AARCH64;
	prog_fails(&p, -ENOEXEC, "ELF machine 183 is not x86-64");
	prog_init(&p);
	p.eh.e_type = ET_DYN;
	prog_fails(&p, -ENOEXEC, "ELF type 3 is not ET_EXEC");
	prog_init(&p);
	p.eh.e_type = ET_REL;
	prog_fails(&p, -ENOEXEC, "ELF type 1 is not ET_EXEC");
}
END_TEST

START_TEST(elf_entry_checks)
{
	struct prog p;

	prog_init(&p);
	p.eh.e_entry = 0x400000;
	prog_fails(&p, -ENOEXEC, NAME ": entry point 0x400000 is not inside a loaded executable segment");
	prog_init(&p);
	p.eh.e_entry = TEXT_ADDR + TEXT_LEN;	/* one past the end */
	prog_fails(&p, -ENOEXEC, "entry point 0x100040 is not inside");
	prog_init(&p);
	p.eh.e_entry = DATA_ADDR + 4;		/* loaded, but not executable */
	prog_fails(&p, -ENOEXEC, "entry point 0x200004 is not inside");
	prog_init(&p);
	p.eh.e_entry = TEXT_ADDR;		/* first byte is fine */
	{
		struct boot_input in = prog_input(&p);

		mem_init(512 * MiB);
		load_ok(&in);
		ck_assert_uint_eq(out.rip, TEXT_ADDR);
		guest_mem__exit(&mem);
	}
	prog_init(&p);
	p.ph[0].p_type = PT_NOTE;
	p.ph[1].p_type = PT_DYNAMIC;
	prog_fails(&p, -ENOEXEC, "no loadable segments");
}
END_TEST

START_TEST(elf_truncated)
{
	struct prog p;
	struct boot_input in;

	prog_init(&p);
	in = prog_input(&p);
	mem_init(512 * MiB);
	in.image_len = 10;
	load_fails(&in, -ENOEXEC, NAME ": truncated ELF header (10 bytes)");
	in.image_len = 3;
	load_fails(&in, -ENOEXEC, NAME ": not a bzImage or ELF64 file");
	for (size_t len = 0; len < FILE_LEN; len++) {
		uint8_t *buf = malloc(len ? len : 1);

		memcpy(buf, prog_bytes(&p), len);
		in.image = buf;
		in.image_len = len;
		ck_assert_int_lt(load(&in), 0);
		ck_assert_msg(err[0] && !strchr(err, '\n'), "len %zu: \"%s\"", len, err);
		free(buf);
	}
	guest_mem__exit(&mem);
}
END_TEST

/* Random bytes in the headers: an error or a load that stays inside RAM, never a crash. */
START_TEST(elf_fuzz_headers)
{
	struct prog p;
	struct boot_input in;
	unsigned seed = 4242;
	size_t hdrs = sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr);
	int loaded = 0;

	mem_init(64 * MiB);
	for (int it = 0; it < 50000; it++) {
		prog_init(&p);
		prog_bytes(&p);
		for (int n = rand_r(&seed) % 4; n >= 0; n--)
			p.buf[SELFMAG + rand_r(&seed) % (hdrs - SELFMAG)] = (uint8_t)rand_r(&seed);
		in = (struct boot_input){ .image = p.buf, .image_len = rand_r(&seed) % 8 ? FILE_LEN : rand_r(&seed) % FILE_LEN,
					  .image_name = NAME };
		if (load(&in) == 0) {
			loaded++;
			ck_assert_int_eq(out.kind, BOOT_IMAGE_ELF);
			ck_assert(guest_mem__hva(&mem, out.rip, 1));
			ck_assert_uint_ge(out.rip, LAYOUT_HIGH_LOAD);
			ck_assert_uint_le(out.kernel_end, 64 * MiB);
		} else {
			ck_assert(err[0] && !strchr(err, '\n'));
		}
	}
	/* The mutations must leave plenty of loadable files, or the fuzzing tests nothing deep. */
	ck_assert_int_gt(loaded, 1000);
	guest_mem__exit(&mem);
}
END_TEST

static Suite *boot_elf_suite(void)
{
	Suite *s = suite_create("boot-elf");
	TCase *good = tcase_create("load");
	TCase *bad = tcase_create("reject");

	tcase_set_timeout(good, 60);
	tcase_set_timeout(bad, 120);
	tcase_add_test(good, elf_good);
	tcase_add_test(good, elf_dtb_setup_data);
	tcase_add_test(good, elf_initrd_and_high_ram);
	tcase_add_test(good, elf_cmdline_too_long);
	tcase_add_test(good, elf_bss_only_segment);
	tcase_add_test(bad, elf_segment_outside_ram);
	tcase_add_test(bad, elf_segment_above_4g);
	tcase_add_test(bad, elf_segment_in_boot_area);
	tcase_add_test(bad, elf_size_checks);
	tcase_add_test(bad, elf_wrong_kind);
	tcase_add_test(bad, elf_entry_checks);
	tcase_add_test(bad, elf_truncated);
	tcase_add_test(bad, elf_fuzz_headers);
	suite_add_tcase(s, good);
	suite_add_tcase(s, bad);
	return s;
}

CHECK_MAIN(boot_elf_suite)
