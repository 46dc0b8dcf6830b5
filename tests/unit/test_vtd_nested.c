/*
 * Tier 1 (Check, in-process, no KVM): nested translation (--viommu nested, PGTT = 011b;
 * iommu/vtd-walk.c with iommu/vtd-walk-ss.c underneath).
 *
 * The second stage maps guest-physical to host-physical RAM: identity with 2 MiB pages for the
 * first 32 MiB, except for the pages a case moves. The first-stage tables live at guest-physical
 * addresses; where the second stage moves one, only a walk that translates table pointers finds it.
 * Cases: the output and a table pointer through the second stage; the smaller of the two page sizes
 * in the IOTLB; combined permissions; A/D updates needing second-stage write; second-stage faults
 * during the walk, recorded with the IOVA; type-2 and PASID-based invalidation of nested entries; the
 * capability bits and PASID-entry checks.
 */
#include <check.h>
#include <string.h>

#include "iommu/vtd-hw.h"
#include "tests/unit/check_main.h"
#include "tests/unit/vtd_testlib.h"

#define SID	0x0018
#define DID	9
#define MOVED	0xF00000ULL	/* where the second stage puts the pages it moves (host-physical) */

static struct vtd_env env;
static uint64_t s2top, fsroot;
static uint64_t *pe;

/* Second stage: identity for [0, 32 MiB) with 2 MiB pages, read/write. */
static void s2_identity(void)
{
	for (uint64_t a = 0; a < VTD_ENV_RAM; a += 0x200000)
		vtd_env__ss_map(&env, s2top, 4, a, a, 2, SS_RW, SS_RW);
}

/* Give the 4 KiB guest page @gpa its own second-stage entry: to @hpa with @bits. */
static uint64_t *s2_page(uint64_t gpa, uint64_t hpa, uint64_t bits)
{
	uint64_t *pde = vtd_env__ss_map(&env, s2top, 4, gpa, gpa & ~0x1FFFFFULL, 2, SS_RW, SS_RW), pt;

	if (*pde & SS_PS) {
		/* Split the 2 MiB page into 512 identity 4 KiB pages first. */
		uint64_t base = *pde & GENMASK(47, 21);

		pt = vtd_env__page(&env);
		for (unsigned i = 0; i < 512; i++)
			*vtd_env__q(&env, pt + 8 * i) = (base + i * 0x1000) | SS_RW;
		*pde = pt | SS_RW;
	}
	return vtd_env__ss_map(&env, s2top, 4, gpa, hpa, 1, bits, SS_RW);
}

static void setup(void)
{
	vtd_env__init(&env, &(struct vtd_options){ .nested = true, .fs1gp = true });
	vtd_env__set_ctx(&env, SID, 0, 0);
	pe = vtd_env__pasid_entry(&env, SID, 0);
	s2top = vtd_env__page(&env);
	fsroot = vtd_env__page(&env);
	s2_identity();
	memset(pe, 0, 64);
	pe[1] = DID;
	pe[2] = fsroot;
	pe[0] = 1 | 2 << 2 | (uint64_t)VTD_PGTT_NESTED << 6 | s2top;
}

static void teardown(void)
{
	vtd_env__exit(&env);
}

#define fault_of(iova, dir)	vtd_env__fault_of(&env, SID, NULL, iova, dir)
#define xlate(iova, dir)	vtd_env__xlate_ok(&env, SID, iova, dir)

START_TEST(caps_and_entries)
{
	uint64_t ecap = vtd_env__rd(&env, VTD_ECAP_REG, 8);

	ck_assert(ecap & VTD_ECAP_FSTS);
	ck_assert(ecap & VTD_ECAP_SSTS);
	ck_assert(ecap & VTD_ECAP_NEST);
	vtd_env__map(&env, fsroot, 0x1000, 0x300000, 1, FS_RWU);
	vtd_env__enable(&env);
	ck_assert_uint_eq(xlate(0x1000, DMA_READ), 0x300000);
	/* A nested entry with AW 3 (not in SAGAW), or SSADE: refused. */
	vtd_env__qi_enable(&env);
	pe[0] = (pe[0] & ~(7ULL << 2)) | 3 << 2;
	vtd_env__pasid_inv(&env, DID, 0, false);
	ck_assert_int_eq(fault_of(0x1000, DMA_READ), VTD_FR_SM_PE_INV);
	pe[0] = (pe[0] & ~(7ULL << 2)) | 2 << 2 | 1ULL << 9;
	vtd_env__pasid_inv(&env, DID, 0, false);
	ck_assert_int_eq(fault_of(0x1000, DMA_READ), VTD_FR_SM_PE_RSVD);
}
END_TEST

START_TEST(both_stages)
{
	uint64_t *pde;

	/* The output page: guest-physical 0x300000, moved by the second stage. */
	vtd_env__map(&env, fsroot, 0x1000, 0x300000, 1, FS_RWU);
	s2_page(0x300000, MOVED, SS_RW);
	/* A first-stage page table at guest-physical G whose contents sit at host-physical MOVED + 0x1000. */
	vtd_env__map(&env, fsroot, 0x40000000, 0x400000, 1, FS_RWU);
	pde = vtd_env__q(&env, (*vtd_env__q(&env, (*vtd_env__q(&env, fsroot) & VTD_ADDR_MASK) + 8) & VTD_ADDR_MASK));
	memcpy(vtd_env__q(&env, MOVED + 0x1000), vtd_env__q(&env, *pde & VTD_ADDR_MASK), 4096);
	memset(vtd_env__q(&env, *pde & VTD_ADDR_MASK), 0, 4096);	/* the identity copy is empty */
	s2_page(*pde & VTD_ADDR_MASK, MOVED + 0x1000, SS_RW);
	vtd_env__enable(&env);
	ck_assert_uint_eq(xlate(0x1234, DMA_WRITE), MOVED + 0x234);
	ck_assert_uint_eq(xlate(0x40000010, DMA_READ), 0x400010);
	/* A/D were set in the moved table, through the second stage. */
	ck_assert(*vtd_env__q(&env, MOVED + 0x1000) & FS_A);
}
END_TEST

/* A 2 MiB first-stage page over 4 KiB second-stage pages: the IOTLB holds 4 KiB translations. */
START_TEST(smaller_page_wins)
{
	vtd_env__map(&env, fsroot, 0x80000000ULL, 0x600000, 2, FS_RWU);
	s2_page(0x601000, MOVED + 0x5000, SS_RW);
	vtd_env__enable(&env);
	ck_assert_uint_eq(xlate(0x80000010ULL, DMA_READ), 0x600010);
	ck_assert_uint_eq(xlate(0x80001010ULL, DMA_READ), MOVED + 0x5010);
	ck_assert_uint_eq(xlate(0x80002010ULL, DMA_READ), 0x602010);
	/* Again, from the IOTLB. */
	ck_assert_uint_eq(xlate(0x80001020ULL, DMA_READ), MOVED + 0x5020);
	ck_assert_uint_eq(xlate(0x80000020ULL, DMA_READ), 0x600020);
}
END_TEST

START_TEST(permissions_are_anded)
{
	uint64_t *leaf;

	leaf = vtd_env__map(&env, fsroot, 0x1000, 0x300000, 1, FS_RWU | FS_A | FS_D);
	s2_page(0x300000, MOVED, SS_R);			/* the output read-only in the second stage */
	vtd_env__map(&env, fsroot, 0x2000, 0x301000, 1, FS_P | FS_US | FS_A);	/* read-only in the first */
	vtd_env__enable(&env);
	ck_assert_uint_eq(xlate(0x1000, DMA_READ), MOVED);
	ck_assert_int_eq(fault_of(0x1000, DMA_WRITE), VTD_FR_SS_WRITE);	/* after a read filled the IOTLB */
	ck_assert_int_eq(fault_of(0x2000, DMA_WRITE), VTD_FR_WRITE);
	ck_assert_uint_eq(xlate(0x2000, DMA_READ), 0x301000);
	/* Second-stage write-only output: reads fault. */
	s2_page(0x302000, MOVED + 0x2000, SS_W);
	vtd_env__map(&env, fsroot, 0x3000, 0x302000, 1, FS_RWU | FS_A | FS_D);
	ck_assert_int_eq(fault_of(0x3000, DMA_READ), VTD_FR_SS_READ);
	(void)leaf;
}
END_TEST

/* Setting A/D is a write through the second stage: a read-only table page cannot take it. */
START_TEST(ad_needs_second_stage_write)
{
	uint64_t *leaf = vtd_env__map(&env, fsroot, 0x1000, 0x300000, 1, FS_RWU), pt = (uint64_t)0;

	/* The page table holding @leaf: find its guest-physical address and make it read-only. */
	for (uint64_t t = VTD_ENV_TABLES; t < VTD_ENV_RAM && !pt; t += 0x1000)
		if (vtd_env__q(&env, t) <= leaf && leaf < vtd_env__q(&env, t) + 512)
			pt = t;
	ck_assert_uint_ne(pt, 0);
	s2_page(pt, pt, SS_R);
	vtd_env__enable(&env);
	ck_assert_int_eq(fault_of(0x1000, DMA_READ), VTD_FR_SS_WRITE);
	ck_assert_uint_eq(*leaf & FS_A, 0);
	/* With A already set, a read needs no write; a write needs D and so faults again. */
	*leaf |= FS_A;
	ck_assert_uint_eq(xlate(0x1000, DMA_READ), 0x300000);
	ck_assert_int_eq(fault_of(0x1000, DMA_WRITE), VTD_FR_SS_WRITE);
}
END_TEST

/* A second-stage fault in the middle of the first-stage walk: its reason, and the IOVA in the record. */
START_TEST(second_stage_fault_during_walk)
{
	uint64_t *pml4e, lo, hi;

	vtd_env__map(&env, fsroot, 0x7000, 0x300000, 1, FS_RWU);
	pml4e = vtd_env__q(&env, fsroot);
	s2_page(*pml4e & VTD_ADDR_MASK, 0, 0);		/* the PDPT's guest page: not mapped */
	vtd_env__enable(&env);
	ck_assert_int_ne(vtd_env__xlate(&env, SID, NULL, 0x7000, DMA_READ, NULL), 0);
	ck_assert(vtd_env__pending_fault(&env, &lo, &hi));
	ck_assert_uint_eq(lo, 0x7000);
	ck_assert_uint_eq((hi >> 32) & 0xFF, VTD_FR_SS_READ);
	ck_assert_int_eq(vtd_env__take_fault(&env), VTD_FR_SS_READ);
	/* FSPTPTR where the second stage maps nothing: its read fault. */
	pe[2] = 1ULL << 47;
	vtd_env__qi_enable(&env);
	vtd_env__pasid_inv(&env, DID, 0, false);
	ck_assert_int_eq(fault_of(0x7000, DMA_READ), VTD_FR_SS_READ);
	/* A wild SSPTPTR (outside RAM): the first second-stage read fails, a fault, nothing read outside. */
	pe[2] = fsroot;
	pe[0] = (pe[0] & 0xFFF) | (1ULL << 40);
	vtd_env__pasid_inv(&env, DID, 0, true);
	ck_assert_int_eq(fault_of(0x7000, DMA_READ), VTD_FR_CE_INV);
}
END_TEST

/* Nested entries are tagged with the PASID entry's DID: type-2 and PASID-based invalidations drop them. */
START_TEST(invalidation)
{
	uint64_t *s2;

	vtd_env__map(&env, fsroot, 0x1000, 0x300000, 1, FS_RWU);
	s2 = s2_page(0x300000, MOVED, SS_RW);
	vtd_env__enable(&env);
	vtd_env__qi_enable(&env);
	ck_assert_uint_eq(xlate(0x1000, DMA_READ), MOVED);
	*s2 = (MOVED + 0x1000) | SS_RW;
	ck_assert_uint_eq(xlate(0x1000, DMA_READ), MOVED);		/* cached */
	vtd_env__qi_submit(&env, VTD_DESC_IOTLB | (uint64_t)VTD_INV_DOMAIN << 4 | (uint64_t)(DID + 1) << 16, 0);
	ck_assert(vtd_env__qi_wait(&env));
	ck_assert_uint_eq(xlate(0x1000, DMA_READ), MOVED);		/* another domain's */
	/* The second stage changed: a page-selective type-2 invalidation carries a guest-physical address. */
	vtd_env__qi_submit(&env, VTD_DESC_IOTLB | (uint64_t)VTD_INV_PAGE << 4 | (uint64_t)DID << 16, 0x300000);
	ck_assert(vtd_env__qi_wait(&env));
	ck_assert_uint_eq(xlate(0x1000, DMA_READ), MOVED + 0x1000);
	*s2 = (MOVED + 0x2000) | SS_RW;
	vtd_env__qi_submit(&env, VTD_DESC_PIOTLB | VTD_PIOTLB_G_PASID << 4 | (uint64_t)DID << 16, 0);
	ck_assert(vtd_env__qi_wait(&env));
	ck_assert_uint_eq(xlate(0x1000, DMA_READ), MOVED + 0x2000);
}
END_TEST

static Suite *vtd_nested_suite(void)
{
	Suite *s = suite_create("vtd_nested");
	TCase *tc = tcase_create("nested");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, caps_and_entries);
	tcase_add_test(tc, both_stages);
	tcase_add_test(tc, smaller_page_wins);
	tcase_add_test(tc, permissions_are_anded);
	tcase_add_test(tc, ad_needs_second_stage_write);
	tcase_add_test(tc, second_stage_fault_during_walk);
	tcase_add_test(tc, invalidation);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(vtd_nested_suite)
