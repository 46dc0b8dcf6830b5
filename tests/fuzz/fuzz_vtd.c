/*
 * Tier 1: libFuzzer harness for the VT-d model (scripts/fuzz.sh builds and runs it).
 *
 * The input is a program of small operations on a fresh unit with 160 KiB of guest RAM in two
 * exactly-sized malloc'd regions (so ASan sees any host access outside them): guest memory writes
 * (tables, descriptors), register reads and writes, DMA through the unit (dma__rw), shortcuts that
 * build a valid scalable-mode setup or queue a descriptor, resets, watch hooks, and interrupt remapping
 * (IRTA/SIRTP/IRE/CFI from the input, interrupt requests of any shape through vtd__remap_msi()). The model is built
 * with VTD_DEBUG_READS: every guest-table access is checked to lie inside a RAM region (abort if not).
 * At the end the fault status must agree with the fault records.
 *
 * VTD_FUZZ_WRITE_SEEDS=dir ./fuzz_vtd writes the seed corpus into dir and exits.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iommu/vtd-hw.h"
#include "iommu/vtd.h"
#include "vmm/dma.h"
#include "vmm/memory.h"

#define LOW_SIZE	(128 * 1024)
#define HIGH_GPA	0x100000000ULL
#define HIGH_SIZE	(32 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

enum op {
	OP_MEM64, OP_MEM_BLOCK, OP_MMIO_WRITE, OP_MMIO_READ, OP_DMA, OP_SETUP, OP_QI, OP_RESET, OP_WATCH,
	OP_IR_SETUP, OP_IRQ, NR_OPS
};

struct input {
	const uint8_t *p;
	size_t left;
};

static uint64_t get(struct input *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && in->left; i++, in->left--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

static struct guest_mem mem;
static unsigned long msis;

static void count_msi(void *opaque, uint64_t addr, uint32_t data)
{
	msis++;
}

static int on_binding(void *opaque, const struct vtd_binding *b)
{
	if (b->kind > VTD_BIND_FIRST_STAGE)
		abort();
	return 0;
}

static void on_iotlb(void *opaque, uint16_t did, uint32_t pasid, uint64_t addr, uint64_t npages, bool leaf)
{
}

static const struct vtd_dev_ops watch_ops = { .binding_changed = on_binding, .iotlb_invalidate = on_iotlb };

/* A guest physical address that is mostly RAM: low region, high region, or anything. */
static uint64_t pick_gpa(struct input *in)
{
	uint32_t v = get(in, 3);

	switch (v >> 22) {
	case 0:
	case 1:
		return (v % LOW_SIZE) & ~7ULL;
	case 2:
		return HIGH_GPA + ((v % HIGH_SIZE) & ~7ULL);
	default:
		return (uint64_t)v << 12;
	}
}

static void put64(uint64_t gpa, uint64_t v)
{
	uint64_t *p = guest_mem__hva(&mem, gpa, 8);

	if (p)
		*p = v;
}

static void mmio(struct vtd *vtd, unsigned off, uint64_t v, unsigned len)
{
	vtd__mmio(vtd, off, &v, len, true);
}

/*
 * A valid scalable-mode configuration: root 0x1000, context table 0x2000 (device @devfn on bus 0),
 * PASID directory 0x3000, PASID table 0x4000, first-stage tables at 0x5000.. (read as second-stage
 * tables in legacy mode and by a PGTT 010b entry) mapping 2 MiB at iova
 * 0 to @out with 4 KiB pages. Parameter bytes tweak flags so the fuzzer starts near valid states.
 */
static void setup_tables(struct vtd *vtd, struct input *in)
{
	unsigned devfn = get(in, 1) & 0x7F, flags = get(in, 1);
	uint64_t out = (get(in, 1) % 3) * 0x10000;

	put64(0x1000, 0x2000 | 1);
	put64(0x2000 + devfn * 32, 0x3000 | 1 | (flags & 1 ? VTD_CE0_PASIDE : 0));
	put64(0x2000 + devfn * 32 + 8, flags & 2 ? VTD_CE1_RID_PRIV : 0);
	put64(0x3000, 0x4000 | 1);
	/*
	 * Flag 128: a second-stage PASID entry (AW 2) on the same tables, valid with --viommu slts; with
	 * flag 4 too, nested (PGTT 011b) with the same tables as both stages, valid with --viommu nested.
	 */
	put64(0x4000, flags & 128 ? 1 | 2 << 2 | (uint64_t)(flags & 4 ? VTD_PGTT_NESTED : VTD_PGTT_SS) << 6 | 0x5000
				  : 1 | (uint64_t)(flags & 4 ? VTD_PGTT_PT : VTD_PGTT_FS) << 6);
	put64(0x4008, 7);
	put64(0x4010, 0x5000 | (flags & 8 ? VTD_PE2_SRE : 0) | (flags & 16 ? VTD_PE2_WPE : 0));
	put64(0x5000, 0x6000 | 7);	/* PML4 -> PDPT -> PD -> PT */
	put64(0x6000, 0x7000 | 7);
	put64(0x7000, 0x8000 | 7);
	for (unsigned i = 0; i < 32; i++)
		put64(0x8000 + i * 8, (out + i * 0x1000) | (flags & 32 ? 5 : 7));
	/* Flag 64: legacy mode, a legacy context entry (TT 00, AW 2, DID 5) on the same tables. */
	if (flags & 64) {
		put64(0x2000 + devfn * 16, 0x5000 | 1);
		put64(0x2000 + devfn * 16 + 8, 2 | 5 << 8);
	}
	mmio(vtd, VTD_RTADDR_REG, 0x1000 | (flags & 64 ? 0 : 1 << 10), 8);
	mmio(vtd, VTD_GCMD_REG, VTD_GCMD_SRTP, 4);
	mmio(vtd, VTD_GCMD_REG, VTD_GCMD_TE, 4);
	mmio(vtd, VTD_FECTL_REG, 0, 4);
}

/* Queue at 0x9000 (256-bit descriptors, one page); write one descriptor from the input at the tail. */
static void queue_desc(struct vtd *vtd, struct input *in)
{
	uint64_t tail = 0, gsts = 0;

	vtd__mmio(vtd, VTD_GSTS_REG, &gsts, 4, false);
	if (!(gsts & VTD_GSTS_QIES)) {
		mmio(vtd, VTD_IQA_REG, 0x9000 | VTD_IQA_DW, 8);
		mmio(vtd, VTD_IQT_REG, 0, 8);
		mmio(vtd, VTD_GCMD_REG, (gsts & VTD_GCMD_TE) | VTD_GCMD_QIE, 4);
	}
	vtd__mmio(vtd, VTD_IQT_REG, &tail, 8, false);
	tail &= 0xFE0;
	for (int i = 0; i < 4; i++)
		put64(0x9000 + tail + 8 * i, i < 2 ? get(in, 8) : 0);
	mmio(vtd, VTD_IQT_REG, (tail + 32) & 0xFE0, 8);
}

static void dma(struct vtd *vtd, struct input *in)
{
	uint16_t sid = get(in, 2);
	unsigned f = get(in, 1);
	struct dma_attrs a = { .has_pasid = f & 1, .priv = f & 2, .pasid = get(in, 3) & 0x1FFFFF };
	uint64_t iova = get(in, 8), buf[8] = { 0 };
	size_t len = (f >> 4) * 4 + 1, want, n;
	struct dma_as as;

	if (f & 4)
		iova &= 0x3FFFFF;	/* usually where setup_tables maps something */
	dma__init_as(&as, &mem, vtd__translator(vtd), sid);
	dma__rw(&as, &a, iova, buf, len, (f & 8) ? DMA_WRITE : DMA_READ);
	/* A long mapping (range translation): what it returns must lie in one RAM region. */
	want = (size_t)get(in, 2) << 12;
	if (want) {
		uint8_t *h = dma__map(&as, &a, iova, want, (f & 8) ? DMA_WRITE : DMA_READ, &n);
		bool inside = !h;

		for (int i = 0; h && i < mem.nr; i++)
			inside |= h >= mem.r[i].hva && n <= mem.r[i].size && h - mem.r[i].hva <= (ptrdiff_t)(mem.r[i].size - n);
		if (!inside || n > want)
			abort();
	}
}

/* Interrupt remapping on: IRTA (a table anywhere, any size, either format) from the input, SIRTP, IRE, CFI. */
static void ir_setup(struct vtd *vtd, struct input *in)
{
	unsigned f = get(in, 1);
	uint64_t gsts = 0;

	mmio(vtd, VTD_IRTA_REG, (pick_gpa(in) & ~0xFFFULL) | (f & 1 ? VTD_IRTA_EIME : 0) | (f >> 4), 8);
	vtd__mmio(vtd, VTD_GSTS_REG, &gsts, 4, false);
	gsts &= VTD_GCMD_TE | VTD_GCMD_QIE | VTD_GCMD_IRE | VTD_GCMD_CFI;
	mmio(vtd, VTD_GCMD_REG, gsts | VTD_GCMD_SIRTP, 4);
	mmio(vtd, VTD_GCMD_REG, gsts | VTD_GCMD_IRE | (f & 2 ? VTD_GCMD_CFI : 0), 4);
}

/*
 * One interrupt request. With remapping off it passes unchanged; with it on, a delivered request in
 * remappable format must come out as a compatibility-format message in the interrupt window (the
 * callers only pass requests in the window: a write elsewhere is not an interrupt).
 */
static void irq(struct vtd *vtd, struct input *in)
{
	uint16_t sid = get(in, 2);
	unsigned f = get(in, 1);
	uint64_t addr = f & 1 ? 0xFEE00000 | (get(in, 3) & 0xFFFFF) : get(in, 8);
	uint32_t data = get(in, 4), in_data = data;
	uint64_t in_addr = addr, gsts = 0;

	vtd__mmio(vtd, VTD_GSTS_REG, &gsts, 4, false);
	if (vtd__remap_msi(vtd, sid, &addr, &data, f & 2))
		return;
	if (!(gsts & VTD_GSTS_IRES)) {
		if (addr != in_addr || data != in_data)
			abort();
		return;
	}
	if ((in_addr >> 20) == 0xFEE && (in_addr & VTD_IR_ADDR_FMT) &&
	    ((uint32_t)addr - 0xFEE00000u >= 0x100000u || (addr & 0xFF00000000ULL) || (addr & VTD_IR_ADDR_FMT)))
		abort();
}

/* The status register must agree with the fault records. */
static void check_invariants(struct vtd *vtd)
{
	uint64_t fsts = 0, any = 0;

	vtd__mmio(vtd, VTD_FSTS_REG, &fsts, 4, false);
	for (unsigned i = 0; i < VTD_NR_FRCD; i++) {
		uint64_t hi = 0;

		vtd__mmio(vtd, VTD_FRCD_REG + 16 * i + 8, &hi, 8, false);
		any |= hi & VTD_FRCD_F;
	}
	if (!!(fsts & VTD_FSTS_PPF) != !!any)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct vtd_options opt = { .fs1gp = size & 1, .fs5lp = size & 2, .slts = size & 4,
				   .nested = (size & 12) == 8, .iotlb_entries = 64, .ir = !(size & 16) };
	struct vtd *vtd;
	bool watching = false;

	memset(mem.r[0].hva, 0, LOW_SIZE);
	memset(mem.r[1].hva, 0, HIGH_SIZE);
	vtd = vtd__create(&mem, &opt, count_msi, NULL);
	if (!vtd)
		abort();
	while (in.left) {
		switch (get(&in, 1) % NR_OPS) {
		case OP_MEM64:
			put64(pick_gpa(&in), get(&in, 8));
			break;
		case OP_MEM_BLOCK: {
			uint64_t gpa = pick_gpa(&in);

			for (int i = 0; i < 4; i++)
				put64(gpa + 8 * i, get(&in, 8));
			break;
		}
		case OP_MMIO_WRITE: {
			unsigned off = get(&in, 2) & 0x1FFF, len = off & 0x1000 ? 8 : 4;

			mmio(vtd, off & 0xFFF & ~(len - 1), get(&in, len), len);
			break;
		}
		case OP_MMIO_READ: {
			uint64_t v;

			vtd__mmio(vtd, get(&in, 2) & 0xFFC, &v, 4, false);
			break;
		}
		case OP_DMA:
			dma(vtd, &in);
			break;
		case OP_SETUP:
			setup_tables(vtd, &in);
			break;
		case OP_QI:
			queue_desc(vtd, &in);
			break;
		case OP_RESET:
			vtd__reset(vtd);
			break;
		case OP_IR_SETUP:
			ir_setup(vtd, &in);
			break;
		case OP_IRQ:
			irq(vtd, &in);
			break;
		case OP_WATCH:
			if (watching)
				vtd__unwatch_device(vtd, 0);
			else if (vtd__watch_device(vtd, 0, &watch_ops, NULL))
				abort();
			watching = !watching;
			break;
		}
	}
	check_invariants(vtd);
	vtd__destroy(vtd);
	return 0;
}

/* ---- seed corpus ---- */

struct seed {
	uint8_t b[512];
	size_t n;
};

static void op(struct seed *s, unsigned code, unsigned nbytes, uint64_t v)
{
	s->b[s->n++] = code;
	for (unsigned i = 0; i < nbytes; i++)
		s->b[s->n++] = v >> (8 * i);
}

static void arg(struct seed *s, unsigned nbytes, uint64_t v)
{
	for (unsigned i = 0; i < nbytes; i++)
		s->b[s->n++] = v >> (8 * i);
}

static void seed_dma(struct seed *s, uint16_t sid, unsigned f, uint32_t pasid, uint64_t iova)
{
	op(s, OP_DMA, 2, sid);
	arg(s, 1, f);
	arg(s, 3, pasid);
	arg(s, 8, iova);
}

static void write_seed(const char *dir, const char *name, const struct seed *s)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->b, 1, s->n, f) != s->n) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

static void write_seeds(const char *dir)
{
	struct seed s = { .n = 0 };

	/* Valid setup, DMA reads and writes, a fault, invalidations. */
	op(&s, OP_SETUP, 3, 0x08 | 0x8 << 8);
	seed_dma(&s, 0x08, 0x04, 0, 0x1000);
	seed_dma(&s, 0x08, 0x0C | 0xF0, 0, 0x1FF8);
	seed_dma(&s, 0x08, 0x04, 0, 0x30000);
	seed_dma(&s, 0x09, 0x04, 0, 0x1000);
	op(&s, OP_QI, 8, VTD_DESC_PIOTLB | 3 << 4 | 7 << 16);
	arg(&s, 8, 0x1000);
	op(&s, OP_QI, 8, VTD_DESC_PC | 3 << 4);
	arg(&s, 8, 0);
	op(&s, OP_QI, 8, VTD_DESC_WAIT | VTD_WAIT_SW | VTD_WAIT_IF | 2ULL << 32);
	arg(&s, 8, 0x9F00);
	seed_dma(&s, 0x08, 0x0C, 0, 0x2000);
	write_seed(dir, "setup-dma-inval", &s);

	/* A malformed descriptor, then IQE cleared. */
	s.n = 0;
	op(&s, OP_SETUP, 3, 0);
	op(&s, OP_QI, 8, VTD_DESC_CC);
	arg(&s, 8, 0);
	op(&s, OP_MMIO_WRITE, 2, VTD_FSTS_REG);
	arg(&s, 4, VTD_FSTS_IQE);
	op(&s, OP_WATCH, 0, 0);
	op(&s, OP_QI, 8, VTD_DESC_CC | 1 << 4);
	arg(&s, 8, 0);
	write_seed(dir, "qi-error", &s);

	/* Faults from many source-ids: overflow, then status clears. */
	s.n = 0;
	op(&s, OP_SETUP, 3, 0x11);
	for (unsigned i = 1; i < 11; i++)
		seed_dma(&s, i << 8, 0x01, i, 0x5000);
	op(&s, OP_MMIO_WRITE, 2, VTD_FSTS_REG);
	arg(&s, 4, VTD_FSTS_PFO);
	op(&s, OP_MMIO_WRITE, 2, VTD_FRCD_REG + 12);
	arg(&s, 4, 0x80000000);
	op(&s, OP_RESET, 0, 0);
	write_seed(dir, "fault-overflow", &s);

	/* Interrupt remapping: a table at 0xA000 (x2APIC, 256 entries), an IRTE, requests, an IEC flush. */
	s.n = 0;
	op(&s, OP_MEM64, 3, 0xA000 + 16 * 5);
	arg(&s, 8, VTD_IRTE_P | 0x41ULL << 16 | 2ULL << 32);
	op(&s, OP_MEM64, 3, 0xA000 + 16 * 5 + 8);
	arg(&s, 8, 0x08 | (uint64_t)VTD_SVT_SID << 18);
	op(&s, OP_IR_SETUP, 3, 0xA000);
	arg(&s, 1, 1 | 7 << 4);
	op(&s, OP_IRQ, 2, 0x08);
	arg(&s, 1, 3);
	arg(&s, 3, 5 << 5 | VTD_IR_ADDR_FMT);
	arg(&s, 4, 0);
	op(&s, OP_IRQ, 2, 0x09);
	arg(&s, 1, 3);
	arg(&s, 3, 5 << 5 | VTD_IR_ADDR_FMT);
	arg(&s, 4, 0);
	op(&s, OP_QI, 8, VTD_DESC_IEC | VTD_DESC_IEC_G_INDEX | 5ULL << 32);
	arg(&s, 8, 0);
	op(&s, OP_IRQ, 2, 0x08);
	arg(&s, 1, 3);
	arg(&s, 3, 0x1000);
	arg(&s, 4, 0x31);
	write_seed(dir, "interrupt-remapping", &s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *seeds = getenv("VTD_FUZZ_WRITE_SEEDS");

	mem.r[0].gpa = 0;
	mem.r[0].size = LOW_SIZE;
	mem.r[0].hva = malloc(LOW_SIZE);
	mem.r[1].gpa = HIGH_GPA;
	mem.r[1].size = HIGH_SIZE;
	mem.r[1].hva = malloc(HIGH_SIZE);
	mem.nr = 2;
	mem.ram_size = LOW_SIZE + HIGH_SIZE;
	mem.ram_end = HIGH_GPA + HIGH_SIZE;
	if (!mem.r[0].hva || !mem.r[1].hva)
		abort();
	if (seeds) {
		write_seeds(seeds);
		exit(0);
	}
	return 0;
}
