// Tier 2 here with the emulated DMA engine, and tier 3 as L3 of the lab's nesting check, where the
// engine is passed through (--vfio) to a minivmm inside L2 and this program's first-stage tables are
// nested on L2's kernel, walked by L1's minivmm (tests/lab/checks/70-nesting.sh). The program:
//  1. maps a source and a destination with first-stage tables (RID_PASID entry), copies with the
//     engine, checks the bytes;
//  2. remaps the destination to another page, invalidates (PASID-based IOTLB, page-selective), and
//     checks the next copy lands at the new place and not the old one;
//  3. clears its PASID entry, invalidates, and checks the next copy is refused (the engine's error);
//  4. makes the entry pass-through (PGTT 100b) and checks the engine reaches guest-physical addresses.
// TEST-ARGS: --mem 64M --viommu flts --dma-engine
// TEST-EXIT: 0
// TEST-EXPECT: PASS: vtd_nest
#include "dmae.h"
#include "gvtd.h"

#define POOL		0x03000000ULL	/* VT-d tables */
#define POOL_SIZE	0x00100000ULL
#define BUF_A		0x02000000ULL	/* source */
#define BUF_B		0x02100000ULL	/* first destination */
#define BUF_C		0x02200000ULL	/* the destination after the remap */
#define BUF_D		0x02300000ULL	/* pass-through destination */
#define IOVA_SRC	0x0000123400000000ULL
#define IOVA_DST	0x0000567800000000ULL
#define LEN		0x4000u		/* 4 pages */
#define DID		1

static struct dmae eng;
static struct gvtd v;

static void fill(uint64_t gpa, uint8_t seed)
{
	uint8_t *p = (uint8_t *)gvtd__q(gpa);

	for (unsigned i = 0; i < LEN; i++)
		p[i] = (uint8_t)(i * 13 + seed);
}

static bool same(uint64_t a, uint64_t b)
{
	return !memcmp((const void *)(uintptr_t)a, (const void *)(uintptr_t)b, LEN);
}

static uint32_t copy(uint64_t src, uint64_t dst)
{
	return dmae__run(&eng, DMAE_CMD_COPY, src, dst, LEN, 0);
}

int main(void)
{
	uint64_t fs, *pe;
	uint32_t st;

	TEST_ASSERT_MSG(dmae__find(&eng), "no DMA engine (run with --dma-engine, or --vfio the engine)");
	gvtd__init(&v, POOL, POOL_SIZE);
	fs = gvtd__fs_domain(&v, eng.bdf, 0, DID, 0);
	for (unsigned i = 0; i < LEN / 4096; i++) {
		gvtd__map(&v, fs, IOVA_SRC + i * 4096, BUF_A + i * 4096, 1, GFS_RWU);
		gvtd__map(&v, fs, IOVA_DST + i * 4096, BUF_B + i * 4096, 1, GFS_RWU);
	}
	gvtd__enable(&v);

	/* 1. Through the first stage. */
	fill(BUF_A, 1);
	memset(gvtd__q(BUF_B), 0, LEN);
	st = copy(IOVA_SRC, IOVA_DST);
	TEST_ASSERT_MSG(st == DMAE_STATUS_DONE, "copy: status 0x%x", st);
	TEST_ASSERT_MSG(same(BUF_A, BUF_B), "copy: the destination differs");
	printf("vtd_nest: copy through first-stage tables: ok\n");

	/* 2. Remapped and invalidated: the next copy goes to the new page only. */
	for (unsigned i = 0; i < LEN / 4096; i++) {
		gvtd__map(&v, fs, IOVA_DST + i * 4096, BUF_C + i * 4096, 1, GFS_RWU);
		gvtd__flush_page(&v, DID, 0, IOVA_DST + i * 4096);
	}
	fill(BUF_A, 2);
	memset(gvtd__q(BUF_C), 0, LEN);
	st = copy(IOVA_SRC, IOVA_DST);
	TEST_ASSERT_MSG(st == DMAE_STATUS_DONE, "copy after the remap: status 0x%x", st);
	TEST_ASSERT_MSG(same(BUF_A, BUF_C), "copy after the remap: the new destination differs");
	TEST_ASSERT_MSG(!same(BUF_A, BUF_B), "copy after the remap: it also reached the old page");
	printf("vtd_nest: remap + invalidation: the copy lands at the new place\n");

	/* 3. No PASID entry: DMA is blocked. */
	pe = gvtd__pasid_entry(&v, eng.bdf, 0);
	pe[0] = 0;
	gvtd__flush_pasid(&v, DID, 0);
	st = copy(IOVA_SRC, IOVA_DST);
	TEST_ASSERT_MSG(st & DMAE_STATUS_ERROR, "copy without a PASID entry: status 0x%x, want an error", st);
	printf("vtd_nest: without a PASID entry the copy is refused (status 0x%x, error %u)\n", st,
	       DMAE_STATUS_ERRCODE(st));

	/* 4. Pass-through: guest-physical addresses as they are. */
	memset(pe, 0, 64);
	pe[1] = DID;
	pe[0] = VTD_PE0_P | (uint64_t)VTD_PGTT_PT << 6 | GVTD_PE0_AW48;
	gvtd__flush_pasid(&v, DID, 0);
	fill(BUF_A, 3);
	memset(gvtd__q(BUF_D), 0, LEN);
	st = copy(BUF_A, BUF_D);
	TEST_ASSERT_MSG(st == DMAE_STATUS_DONE, "pass-through copy: status 0x%x", st);
	TEST_ASSERT_MSG(same(BUF_A, BUF_D), "pass-through copy: the destination differs");
	printf("vtd_nest: pass-through copy: ok\n");
	test__pass("vtd_nest");
}
