// Tier 2: the virtual VT-d unit driven by a real DMA master. The program finds the VT-d unit and the
// DMA engine in the device tree, builds scalable-mode root/context/PASID-directory/PASID tables and
// first-stage page tables in its RAM, enables the invalidation queue (256-bit descriptors) and
// translation, and runs engine copies through 4 KiB, 2 MiB and 1 GiB mappings and with a PASID,
// checking the data and the A/D bits. Then it provokes every first-stage fault it can and checks the
// fault record (reason, SID, address, T, PASID), the engine's error registers and the fault-event MSI.
// Last, a PTE changed without invalidation keeps translating to the old page (IOTLB) until a
// page-selective PASID-based IOTLB invalidation with a wait descriptor. The fs1gp=off run expects the
// 1 GiB leaf to fault with the reserved-bit reason. Engine completions arrive as MSI-X interrupts.
// TEST-ARGS: --mem 3G --viommu flts --dma-engine
// TEST-ARGS: --mem 3G --viommu flts,fs1gp=off --dma-engine
// TEST-EXIT: 0
// TEST-EXPECT: PASS: vtd
// TEST-TIMEOUT: 60
#include "dmae.h"
#include "gvtd.h"

#define VEC_DMAE	0x50
#define VEC_FAULT	0x51

/* Guest physical layout (the program itself is at 2 MiB). */
#define POOL		0x02000000ULL	/* VT-d tables: 16 MiB from 32 MiB */
#define POOL_SIZE	0x01000000ULL
#define SRC_GPA		0x04000000ULL	/* 64 KiB of pseudo-random bytes */
#define DST_GPA		0x05000000ULL	/* destination pages */
#define GPA_2M		0x08000000ULL	/* a 2 MiB page */
#define GPA_1G		0x80000000ULL	/* a 1 GiB page: 2..3 GiB, needs --mem 3G */
#define LEN		0x10000U
#define NPAGES		(LEN / 4096)

/* I/O virtual addresses: nothing like the guest physical ones. */
#define IOVA_SRC	0x1000000000ULL
#define IOVA_DST	0x1000100000ULL
#define IOVA_2M		0x2000000000ULL
#define IOVA_1G		0x4000000000ULL
#define IOVA_P		0x5000000000ULL	/* PASID 5's space */
#define IOVA_REMAP	0x6000000000ULL
#define IOVA_FAULT	0x7000000000ULL	/* one fresh 2 MiB region per fault case */

#define DID0		1	/* RID_PASID (requests without PASID) */
#define DID5		2
#define PASID5		5	/* SRE=1 */

static struct dmae eng;
static struct gvtd v;
static uint64_t fs0, fs5;
static volatile uint32_t dmae_irqs, fault_irqs;
static unsigned nfault_region;

static void dmae_handler(struct intr_frame *f, void *arg)
{
	dmae_irqs++;
}

static void fault_handler(struct intr_frame *f, void *arg)
{
	fault_irqs++;
}

static void fill_random(uint64_t gpa, uint64_t len, uint64_t seed)
{
	uint64_t *p = gvtd__q(gpa), x = seed * 0x9e3779b97f4a7c15ULL | 1;

	for (uint64_t i = 0; i < len / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = x;
	}
}

static bool mem_eq(uint64_t a, uint64_t b, uint64_t len)
{
	return !memcmp((const void *)(uintptr_t)a, (const void *)(uintptr_t)b, len);
}

static bool wait_count(volatile uint32_t *c, uint32_t want, unsigned ms)
{
	struct timeout t;

	timeout__start(&t, ms);
	while (*c < want)
		if (timeout__expired(&t))
			return false;
	return true;
}

static void expect_done(uint32_t st, const char *what)
{
	TEST_ASSERT_MSG(st == DMAE_STATUS_DONE, "%s: engine status 0x%x (error %u at 0x%llx)", what, st,
			DMAE_STATUS_ERRCODE(st), (unsigned long long)dmae__rd64(&eng, DMAE_FAULT_ADDR));
}

/* The engine's copy of @len bytes checked by the CPU and by the engine's own COMPARE. */
static void copy_and_check(uint64_t src_iova, uint64_t dst_iova, uint64_t src_gpa, uint64_t dst_gpa, uint32_t len,
			   uint32_t pasid, const char *what)
{
	memset(gvtd__q(dst_gpa), 0, len);
	expect_done(dmae__run(&eng, DMAE_CMD_COPY, src_iova, dst_iova, len, pasid), what);
	TEST_ASSERT_MSG(mem_eq(src_gpa, dst_gpa, len), "%s: data differs", what);
	expect_done(dmae__run(&eng, DMAE_CMD_COMPARE, src_iova, dst_iova, len, pasid), what);
	TEST_EQ(dmae__rd32(&eng, DMAE_RESULT), 0);
	printf("vtd: %s: %u bytes copied and compared\n", what, len);
}

/* A and D bits of the entries that translate @iova, from the top down to the leaf at @level. */
static void check_ad(uint64_t fsroot, uint64_t iova, unsigned level, bool dirty, const char *what)
{
	uint64_t table = fsroot;

	for (unsigned l = 4; l >= level; l--) {
		uint64_t e = *gvtd__q(table + ((iova >> (12 + 9 * (l - 1))) & 0x1ff) * 8);

		TEST_ASSERT_MSG(e & VTD_FS_A, "%s: level %u entry 0x%llx: A clear", what, l, (unsigned long long)e);
		if (l == level) {
			TEST_ASSERT_MSG(!!(e & VTD_FS_D) == dirty, "%s: leaf 0x%llx: D %s", what, (unsigned long long)e,
					dirty ? "clear" : "set");
			break;
		}
		table = e & VTD_ADDR_MASK;
	}
}

/* ---- faults ---- */

/* A fresh IOVA region per case: nothing cached can hide what the case sets up. */
static uint64_t fault_region(void)
{
	return IOVA_FAULT + (uint64_t)nfault_region++ * 0x200000;
}

/*
 * Copy (from @src or to @dst, one of them the bad address, @read says which) with PASID register @pasid
 * and check the engine's error, the fault record (@reason; 0: FPD, nothing recorded) and the event.
 */
static void expect_fault(const char *name, uint8_t reason, bool read, uint32_t pasid, uint64_t src, uint64_t dst)
{
	uint64_t addr = read ? src : dst, lo, hi;
	uint32_t before = fault_irqs, st, fsts;
	unsigned idx;

	st = dmae__run(&eng, DMAE_CMD_COPY, src, dst, 256, pasid);
	TEST_ASSERT_MSG(st == (DMAE_STATUS_ERROR | DMAE_ERR_DMA << 8), "%s: engine status 0x%x", name, st);
	TEST_EQ(dmae__rd64(&eng, DMAE_FAULT_ADDR), addr);
	TEST_EQ(dmae__rd32(&eng, DMAE_FAULT_DIR), read ? DMAE_DIR_READ : DMAE_DIR_WRITE);
	fsts = gvtd__rd32(&v, VTD_FSTS_REG);
	if (!reason) {
		TEST_ASSERT_MSG(!(fsts & VTD_FSTS_PPF), "%s: FPD set, yet FSTS 0x%x", name, fsts);
		TEST_ASSERT(!wait_count(&fault_irqs, before + 1, 50));
		printf("vtd: fault %-34s suppressed by FPD\n", name);
		return;
	}
	TEST_ASSERT_MSG(fsts & VTD_FSTS_PPF, "%s: no fault recorded (FSTS 0x%x)", name, fsts);
	idx = (fsts & VTD_FSTS_FRI_MASK) >> VTD_FSTS_FRI_SHIFT;
	TEST_ASSERT(idx < VTD_NR_FRCD);
	lo = gvtd__rd64(&v, VTD_FRCD_REG + 16 * idx);
	hi = gvtd__rd64(&v, VTD_FRCD_REG + 16 * idx + 8);
	TEST_ASSERT(hi & VTD_FRCD_F);
	TEST_ASSERT_MSG(((hi >> VTD_FRCD_FR_SHIFT) & 0xff) == reason, "%s: reason 0x%llx, expected 0x%x",
			name, (unsigned long long)(hi >> VTD_FRCD_FR_SHIFT) & 0xff, reason);
	TEST_EQ(hi & 0xffff, eng.bdf);
	TEST_EQ(!!(hi & VTD_FRCD_T), read);
	TEST_EQ(!!(hi & VTD_FRCD_PP), !!(pasid & DMAE_PASID_PV));
	if (pasid & DMAE_PASID_PV)
		TEST_EQ((hi >> VTD_FRCD_PV_SHIFT) & 0xfffff, pasid & DMAE_PASID_MASK);
	TEST_EQ(lo, addr & ~0xfffULL);
	TEST_ASSERT_MSG(wait_count(&fault_irqs, before + 1, 1000), "%s: no fault-event interrupt", name);
	TEST_EQ(gvtd__rd32(&v, VTD_FECTL_REG) & VTD_ECTL_IP, 0);
	/* Only this record; then clear it (F is RW1C, bit 31 of the upper dword) and the status. */
	for (unsigned i = 0; i < VTD_NR_FRCD; i++)
		TEST_ASSERT(i == idx || !(gvtd__rd64(&v, VTD_FRCD_REG + 16 * i + 8) & VTD_FRCD_F));
	gvtd__wr32(&v, VTD_FRCD_REG + 16 * idx + 12, VTD_FRCD_F >> 32);
	gvtd__wr32(&v, VTD_FSTS_REG, VTD_FSTS_PFO);
	TEST_EQ(gvtd__rd32(&v, VTD_FSTS_REG) & (VTD_FSTS_PPF | VTD_FSTS_PFO), 0);
	printf("vtd: fault %-34s reason 0x%02x at 0x%llx (%s%s) recorded\n", name, reason,
	       (unsigned long long)lo, read ? "read" : "write", (pasid & DMAE_PASID_PV) ? ", PASID" : "");
}

/* A first-stage PASID entry made after translation is on: PASID-cache and IOTLB invalidation. */
static uint64_t new_pasid_entry(uint32_t pasid, uint16_t did, uint64_t pe2_bits)
{
	uint64_t fs = gvtd__fs_entry(&v, eng.bdf, pasid, did, pe2_bits);

	gvtd__flush_pasid(&v, did, pasid);
	return fs;
}

/* PASID entry @pasid with qwords 0 and 2 as given (DID5), made after translation is on. */
static void raw_pasid_entry(uint32_t pasid, uint64_t q0, uint64_t q2)
{
	uint64_t *pe = gvtd__pasid_entry(&v, eng.bdf, pasid);

	memset(pe, 0, 64);
	pe[1] = DID5;
	pe[2] = q2;
	pe[0] = q0;
	gvtd__flush_pasid(&v, DID5, pasid);
}

/* Map one page for a case and flush it (CM=1: not-present entries may be cached). */
static uint64_t *map_case(uint64_t fsroot, uint16_t did, uint32_t pasid, uint64_t iova, uint64_t gpa, unsigned level,
			  uint64_t bits)
{
	uint64_t *e = gvtd__map(&v, fsroot, iova, gpa, level, bits);

	gvtd__flush_page(&v, did, pasid, iova);
	return e;
}

/* ---- translated copies ---- */

static void test_4k(void)
{
	fill_random(SRC_GPA, LEN, 1);
	copy_and_check(IOVA_SRC, IOVA_DST, SRC_GPA, DST_GPA, LEN, 0, "4 KiB pages");
	for (unsigned i = 0; i < NPAGES; i++) {
		check_ad(fs0, IOVA_SRC + i * 4096, 1, false, "4 KiB source");
		check_ad(fs0, IOVA_DST + i * 4096, 1, true, "4 KiB destination");
	}
	/* A copy that starts and ends inside pages. */
	copy_and_check(IOVA_SRC + 0x123, IOVA_DST + 0x2345, SRC_GPA + 0x123, DST_GPA + 0x2345, 0x5555, 0,
		       "unaligned 4 KiB pages");
}

static void test_2m(void)
{
	/* The last 64 KiB of the page. */
	copy_and_check(IOVA_SRC, IOVA_2M + 0x1f0000, SRC_GPA, GPA_2M + 0x1f0000, LEN, 0, "2 MiB page");
	check_ad(fs0, IOVA_2M, 2, true, "2 MiB leaf");
}

static void test_1g(void)
{
	uint64_t off = 0x3fff0000, top = 0;

	for (int i = 0; i < platform.nmem; i++)
		top = MAX(top, platform.mem[i].base + platform.mem[i].size);
	TEST_ASSERT_MSG(top >= GPA_1G + (1ULL << 30), "the 1 GiB page needs RAM up to 3 GiB (--mem 3G)");
	if (v.cap & VTD_CAP_FS1GP) {
		copy_and_check(IOVA_SRC, IOVA_1G + off, SRC_GPA, GPA_1G + off, LEN, 0, "1 GiB page");
		check_ad(fs0, IOVA_1G, 3, true, "1 GiB leaf");
		return;
	}
	/* Without CAP.FS1GP, PS in a PDPE is a reserved bit (§3.1). */
	expect_fault("1 GiB leaf without FS1GP", VTD_FR_FS_RSVD, false, 0, IOVA_SRC, IOVA_1G + off);
}

static void test_pasid(void)
{
	uint32_t pv5 = DMAE_PASID_PV | PASID5;

	copy_and_check(IOVA_P, IOVA_P + LEN, SRC_GPA, DST_GPA + 0x20000, LEN / 4, pv5, "PASID 5");
	check_ad(fs5, IOVA_P + LEN, 1, true, "PASID 5 destination");
	/* A privileged request may write a supervisor page (SRE=1, the page has no U/S). */
	copy_and_check(IOVA_P, IOVA_P + 2 * LEN, SRC_GPA, DST_GPA + 0x30000, 4096, pv5 | DMAE_PASID_PRIV,
		       "PASID 5 supervisor page");
}

static void test_faults(void)
{
	uint64_t r, *ce, ce0;

	/* Not present: the page after the mapped destination / source. */
	expect_fault("not present (write)", VTD_FR_FS_P, false, 0, IOVA_SRC, IOVA_DST + LEN);
	expect_fault("not present (read)", VTD_FR_FS_P, true, 0, IOVA_SRC + LEN, IOVA_DST);
	/* The source pages are read-only. */
	expect_fault("write to read-only", VTD_FR_WRITE, false, 0, IOVA_DST, IOVA_SRC + 0x800);
	/* A supervisor page and a user request; the same with PRIV but SRE=0 (PASID 6). */
	r = fault_region();
	map_case(fs0, DID0, 0, r, DST_GPA + 0x40000, 1, VTD_FS_P | VTD_FS_RW);
	expect_fault("user request, supervisor page", VTD_FR_US, false, 0, IOVA_SRC, r);
	expect_fault("user request, supervisor page", VTD_FR_US, false, DMAE_PASID_PV | PASID5, IOVA_P,
		     IOVA_P + 2 * LEN);
	new_pasid_entry(6, DID5, 0);
	expect_fault("supervisor request, SRE=0", VTD_FR_SM_SRE, true, DMAE_PASID_PV | DMAE_PASID_PRIV | 6, IOVA_P,
		     IOVA_P + LEN);
	/* Bits 63:48 of a 4-level input address must copy bit 47. */
	expect_fault("non-canonical address", VTD_FR_NON_CANONICAL, false, 0, IOVA_SRC, 0x0000800000000000ULL);
	/* Reserved bits: an address bit above HAW in a leaf, PS in a PML4E. */
	r = fault_region();
	map_case(fs0, DID0, 0, r, DST_GPA | 1ULL << 50, 1, GFS_RWU);
	expect_fault("reserved bit 50 in a PTE", VTD_FR_FS_RSVD, false, 0, IOVA_SRC, r);
	r = 0x7f8000000000ULL;	/* the last PML4 slot */
	map_case(fs0, DID0, 0, r, 0, 4, GFS_RWU);
	expect_fault("PS in a PML4E", VTD_FR_FS_RSVD, false, 0, IOVA_SRC, r + 0x1000);
	/* Output in the interrupt window. */
	r = fault_region();
	map_case(fs0, DID0, 0, r, VTD_INTR_BASE, 1, GFS_RWU);
	expect_fault("output in the interrupt range", VTD_FR_INTR_ADDR, false, 0, IOVA_SRC, r);
	/* A page-table pointer outside RAM (8 GiB), and a first-stage root outside RAM (PASID 8). */
	r = fault_region();
	*gvtd__entry(&v, fs0, r, 2) = 0x200000000ULL | GFS_RWU;
	gvtd__flush_page(&v, DID0, 0, r);
	expect_fault("page table outside RAM", VTD_FR_FS_ACCESS, false, 0, IOVA_SRC, r);
	raw_pasid_entry(8, VTD_PE0_P | GVTD_PE0_AW48 | (uint64_t)VTD_PGTT_FS << 6, 0x200000000ULL);
	expect_fault("FSPTPTR outside RAM", VTD_FR_FS_PTR, true, DMAE_PASID_PV | 8, IOVA_P, IOVA_P + LEN);
	/* PASID entry / directory entry not present, a PASID beyond the directory (PDTS 0: 8192). */
	expect_fault("PASID entry not present", VTD_FR_SM_PE_P, true, DMAE_PASID_PV | 9, IOVA_P, IOVA_P + LEN);
	expect_fault("PASID directory entry not present", VTD_FR_SM_PDE_P, true, DMAE_PASID_PV | 200, IOVA_P,
		     IOVA_P + LEN);
	expect_fault("PASID beyond the directory", VTD_FR_SM_PASID_MAX, true, DMAE_PASID_PV | 0x10000, IOVA_P,
		     IOVA_P + LEN);
	/* Second-stage PGTT: not offered by this unit (ECAP.SSTS = 0). */
	raw_pasid_entry(10, VTD_PE0_P | GVTD_PE0_AW48 | (uint64_t)VTD_PGTT_SS << 6, 0);
	expect_fault("second-stage PGTT", VTD_FR_SM_PE_INV, true, DMAE_PASID_PV | 10, IOVA_P, IOVA_P + LEN);
	/* FPD in the PASID entry: the engine still fails, nothing is recorded. */
	raw_pasid_entry(11, VTD_PE0_P | VTD_PE0_FPD | GVTD_PE0_AW48 | (uint64_t)VTD_PGTT_FS << 6, gvtd__page(&v));
	expect_fault("not present, FPD=1", 0, true, DMAE_PASID_PV | 11, IOVA_P, IOVA_P + LEN);
	/* Context entry not present: device-selective context-cache invalidation around the change. */
	ce = gvtd__ctx(&v, eng.bdf);
	ce0 = ce[0];
	ce[0] = 0;
	gvtd__qi_submit(&v, VTD_DESC_CC | VTD_INV_PAGE << 4 | (uint64_t)eng.bdf << 32, 0);
	gvtd__qi_wait(&v);
	expect_fault("context entry not present", VTD_FR_SM_CE_P, true, 0, IOVA_SRC, IOVA_DST);
	ce[0] = ce0;
	gvtd__qi_submit(&v, VTD_DESC_CC | VTD_INV_PAGE << 4 | (uint64_t)eng.bdf << 32, 0);
	gvtd__flush_pasid(&v, DID0, 0);
	copy_and_check(IOVA_SRC, IOVA_DST, SRC_GPA, DST_GPA, 4096, 0, "context restored");
}

/* ---- IOTLB: a changed PTE is not seen until it is invalidated ---- */

static void test_remap(void)
{
	uint64_t a = DST_GPA + 0x50000, b = DST_GPA + 0x60000, *pte;

	pte = map_case(fs0, DID0, 0, IOVA_REMAP, a, 1, GFS_RWU);
	memset(gvtd__q(b), 0, 4096);
	copy_and_check(IOVA_SRC, IOVA_REMAP, SRC_GPA, a, 4096, 0, "remap: first mapping");
	/* Point the PTE elsewhere, no invalidation: the cached translation still goes to the old page. */
	*pte = b | GFS_RWU;
	expect_done(dmae__run(&eng, DMAE_CMD_COPY, IOVA_SRC + 4096, IOVA_REMAP, 4096, 0), "stale");
	TEST_ASSERT_MSG(mem_eq(SRC_GPA + 4096, a, 4096), "remap: the cached (old) translation was not used");
	TEST_ASSERT(((volatile uint8_t *)gvtd__q(b))[0] == 0 && mem_eq(b, b + 1, 4095));
	printf("vtd: remap without invalidation: the stale IOTLB entry is still used\n");
	/* Page-selective P_IOTLB invalidation + wait descriptor (status write): the new page is used. */
	gvtd__flush_page(&v, DID0, 0, IOVA_REMAP);
	expect_done(dmae__run(&eng, DMAE_CMD_COPY, IOVA_SRC + 8192, IOVA_REMAP, 4096, 0), "after invalidation");
	TEST_ASSERT_MSG(mem_eq(SRC_GPA + 8192, b, 4096), "remap: the new translation was not used");
	TEST_ASSERT(mem_eq(SRC_GPA + 4096, a, 4096));
	TEST_EQ(*pte & (VTD_FS_A | VTD_FS_D), VTD_FS_A | VTD_FS_D);
	printf("vtd: after P_IOTLB invalidation (wait status %u): the new mapping is used\n", v.seq);
}

static void setup_tables(void)
{
	fs0 = gvtd__fs_domain(&v, eng.bdf, 0, DID0, 0);
	fs5 = gvtd__fs_entry(&v, eng.bdf, PASID5, DID5, VTD_PE2_SRE);
	for (unsigned i = 0; i < NPAGES; i++) {
		gvtd__map(&v, fs0, IOVA_SRC + i * 4096, SRC_GPA + i * 4096, 1, VTD_FS_P | VTD_FS_US);
		gvtd__map(&v, fs0, IOVA_DST + i * 4096, DST_GPA + i * 4096, 1, GFS_RWU);
	}
	gvtd__map(&v, fs0, IOVA_2M, GPA_2M, 2, GFS_RWU);
	gvtd__map(&v, fs0, IOVA_1G, GPA_1G, 3, GFS_RWU);
	for (unsigned i = 0; i < 4; i++) {
		gvtd__map(&v, fs5, IOVA_P + i * 4096, SRC_GPA + i * 4096, 1, VTD_FS_P | VTD_FS_US);
		gvtd__map(&v, fs5, IOVA_P + LEN + i * 4096, DST_GPA + 0x20000 + i * 4096, 1, GFS_RWU);
	}
	gvtd__map(&v, fs5, IOVA_P + 2 * LEN, DST_GPA + 0x30000, 1, VTD_FS_P | VTD_FS_RW);
}

int main(void)
{
	uint64_t completed;

	TEST_ASSERT_MSG(dmae__find(&eng), "no DMA engine in the device tree (run with --dma-engine)");
	gvtd__init(&v, POOL, POOL_SIZE);
	printf("vtd: unit at 0x%llx CAP 0x%llx ECAP 0x%llx; engine %02x:%02x.%x regs 0x%llx\n",
	       (unsigned long long)v.base, (unsigned long long)v.cap, (unsigned long long)v.ecap, PCI_BUS(eng.bdf),
	       PCI_DEV(eng.bdf), PCI_FN(eng.bdf), (unsigned long long)eng.regs);
	intr__register(VEC_DMAE, dmae_handler, NULL);
	intr__register(VEC_FAULT, fault_handler, NULL);
	dmae__msix(&eng, VEC_DMAE);
	/* Fault events to VEC_FAULT (FEADDR/FEDATA), then unmask (FECTL.IM resets to 1). */
	gvtd__wr32(&v, VTD_FEDATA_REG, msi__data(VEC_FAULT));
	gvtd__wr32(&v, VTD_FEADDR_REG, (uint32_t)msi__address(lapic__id()));
	gvtd__wr32(&v, VTD_FEUADDR_REG, 0);
	TEST_EQ(gvtd__rd32(&v, VTD_FECTL_REG), VTD_ECTL_IM);
	gvtd__wr32(&v, VTD_FECTL_REG, 0);

	setup_tables();
	gvtd__enable(&v);
	test_4k();
	test_2m();
	test_1g();
	test_pasid();
	test_faults();
	test_remap();

	/* Every command ended with an MSI-X completion interrupt. */
	completed = dmae__rd64(&eng, DMAE_COMPLETED);
	TEST_ASSERT_MSG(wait_count(&dmae_irqs, completed, 1000), "%u completion interrupts for %llu commands", dmae_irqs,
			(unsigned long long)completed);
	TEST_EQ(dmae_irqs, completed);
	printf("vtd: %llu commands, %u completion interrupts, %u fault events\n", (unsigned long long)completed,
	       dmae_irqs, fault_irqs);
	test__pass("vtd");
}
