/*
 * ELF64 guest programs: static x86-64 executables whose PT_LOAD segments are copied to their physical
 * addresses (p_paddr) and entered at e_entry on the boot identity map (ELF-64 Object File Format 1.5;
 * System V ABI x86-64 supplement for EM_X86_64). Everything is checked before anything is copied, so a
 * bad file leaves guest RAM as it was apart from the zero page.
 */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "boot/internal.h"
#include "vmm/layout.h"
#include "vmm/memory.h"
#include "vmm/util.h"

bool elf__probe(const uint8_t *image, size_t len)
{
	return len >= SELFMAG && !memcmp(image, ELFMAG, SELFMAG);
}

static void read_phdr(const struct boot_ctx *c, const Elf64_Ehdr *eh, unsigned i, Elf64_Phdr *ph)
{
	/* memcpy: the file buffer gives no alignment guarantee for e_phoff. */
	memcpy(ph, c->in->image + eh->e_phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));
}

static int check_ehdr(struct boot_ctx *c, const Elf64_Ehdr *eh)
{
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return boot__fail(c, -ENOEXEC, "%s: not an ELF64 file (ELF class %u)", c->name,
				  eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return boot__fail(c, -ENOEXEC, "%s: not a little-endian ELF file", c->name);
	if (eh->e_machine != EM_X86_64)
		return boot__fail(c, -ENOEXEC, "%s: ELF machine %u is not x86-64 (%u)", c->name, eh->e_machine,
				  EM_X86_64);
	if (eh->e_type != ET_EXEC)
		return boot__fail(c, -ENOEXEC, "%s: ELF type %u is not ET_EXEC (link it static and non-PIE)",
				  c->name, eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return boot__fail(c, -ENOEXEC, "%s: e_phentsize %u is not %zu", c->name, eh->e_phentsize,
				  sizeof(Elf64_Phdr));
	/* PN_XNUM would move the count into section 0; guest programs have a handful of segments. */
	if (eh->e_phnum == 0 || eh->e_phnum == PN_XNUM)
		return boot__fail(c, -ENOEXEC, "%s: no program headers", c->name);
	if (!range_ok(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), c->in->image_len))
		return boot__fail(c, -ENOEXEC, "%s: the program headers run past the end of the file", c->name);
	return 0;
}

/* One PT_LOAD segment: inside the file, inside RAM, above the boot area, under the identity map. */
static int check_segment(struct boot_ctx *c, unsigned i, const Elf64_Phdr *ph)
{
	uint64_t start = ph->p_paddr, end;

	if (ph->p_filesz > ph->p_memsz)
		return boot__fail(c, -ENOEXEC, "%s: segment %u: p_filesz 0x%llx is larger than p_memsz 0x%llx",
				  c->name, i, (unsigned long long)ph->p_filesz, (unsigned long long)ph->p_memsz);
	/* A bss-only segment may carry any p_offset: only bytes actually read must be in the file. */
	if (ph->p_filesz && !range_ok(ph->p_offset, ph->p_filesz, c->in->image_len))
		return boot__fail(c, -ENOEXEC, "%s: segment %u: file bytes 0x%llx+0x%llx run past the end of the file",
				  c->name, i, (unsigned long long)ph->p_offset, (unsigned long long)ph->p_filesz);
	if (!range_ok(start, ph->p_memsz, UINT64_MAX))
		return boot__fail(c, -ENOEXEC, "%s: segment %u: 0x%llx+0x%llx wraps around", c->name, i,
				  (unsigned long long)start, (unsigned long long)ph->p_memsz);
	end = start + ph->p_memsz;
	if (start < LAYOUT_HIGH_LOAD)
		return boot__fail(c, -ENOEXEC, "%s: segment %u at 0x%llx overlaps the boot area below 0x%llx",
				  c->name, i, (unsigned long long)start, LAYOUT_HIGH_LOAD);
	if (end > LAYOUT_HIGHMEM_BASE)
		return boot__fail(c, -ENOEXEC, "%s: segment %u [0x%llx, 0x%llx) is above the 4 GiB identity map",
				  c->name, i, (unsigned long long)start, (unsigned long long)end);
	if (!guest_mem__hva(c->mem, start, ph->p_memsz))
		return boot__fail(c, -ENOMEM, "%s: segment %u [0x%llx, 0x%llx) is outside guest RAM (%llu MiB)",
				  c->name, i, (unsigned long long)start, (unsigned long long)end,
				  (unsigned long long)(c->mem->ram_size / MiB));
	return 0;
}

int elf__load(struct boot_ctx *c, struct boot_image *img)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	bool entry_ok = false;
	unsigned nr_load = 0;
	uint64_t end = 0;
	int ret;

	if (c->in->image_len < sizeof(eh))
		return boot__fail(c, -ENOEXEC, "%s: truncated ELF header (%zu bytes)", c->name, c->in->image_len);
	memcpy(&eh, c->in->image, sizeof(eh));
	ret = check_ehdr(c, &eh);
	if (ret)
		return ret;

	for (unsigned i = 0; i < eh.e_phnum; i++) {
		read_phdr(c, &eh, i, &ph);
		if (ph.p_type != PT_LOAD || !ph.p_memsz)
			continue;
		ret = check_segment(c, i, &ph);
		if (ret)
			return ret;
		nr_load++;
		end = MAX(end, ph.p_paddr + ph.p_memsz);
		/* The boot map is an identity map, so the entry is a physical address. */
		if ((ph.p_flags & PF_X) && eh.e_entry >= ph.p_paddr && eh.e_entry - ph.p_paddr < ph.p_memsz)
			entry_ok = true;
	}
	if (!nr_load)
		return boot__fail(c, -ENOEXEC, "%s: no loadable segments", c->name);
	if (!entry_ok)
		return boot__fail(c, -ENOEXEC, "%s: entry point 0x%llx is not inside a loaded executable segment",
				  c->name, (unsigned long long)eh.e_entry);

	for (unsigned i = 0; i < eh.e_phnum; i++) {
		uint8_t *dst;

		read_phdr(c, &eh, i, &ph);
		if (ph.p_type != PT_LOAD || !ph.p_memsz)
			continue;
		dst = guest_mem__hva(c->mem, ph.p_paddr, ph.p_memsz);
		if (ph.p_filesz)
			memcpy(dst, c->in->image + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
	}

	/*
	 * Guest programs read the same zero page as Linux; fill the header fields a reader checks first so
	 * it looks like one a boot loader wrote (boot.rst: boot_flag, header, version, type_of_loader).
	 */
	c->zp->hdr.boot_flag = 0xaa55;
	c->zp->hdr.header = 0x53726448;		/* "HdrS" */
	c->zp->hdr.version = 0x020f;
	c->zp->hdr.type_of_loader = 0xff;
	c->zp->hdr.cmdline_size = LAYOUT_CMDLINE_MAX - 1;

	img->entry = eh.e_entry;
	img->kernel_end = end;
	img->cmdline_max = LAYOUT_CMDLINE_MAX - 1;
	img->initrd_top = c->low_end;
	return 0;
}
