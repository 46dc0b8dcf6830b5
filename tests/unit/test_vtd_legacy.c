/*
 * Tier 1 (Check, in-process, no KVM): second-stage translation (iommu/vtd-walk-ss.c) in legacy mode
 * (RTADDR.TTM = 00, iommu/vtd-legacy.c) and in scalable mode with --viommu slts (PGTT = 010b).
 *
 * Legacy tables are built here: root entry (P | context table), context entry (P, FPD, TT, SLPTPTR;
 * AW, DID), second-stage entries (R, W, PS). Cases: 4 KiB / 2 MiB / 1 GiB pages with 3 and 4 levels;
 * per-level R/W; every legacy fault reason a guest can cause, with its record; FPD; pass-through;
 * what the IOTLB and the context cache keep until the guest invalidates (register and queued); the
 * capability bits; and the scalable-mode PGTT = 010b entries of --viommu slts.
 */
#include <check.h>
#include <string.h>

#include "iommu/vtd-hw.h"
#include "tests/unit/check_main.h"
#include "tests/unit/vtd_testlib.h"

#define SID	0x0010
#define DID	7

static struct vtd_env env;
static uint64_t lroot;		/* legacy root table */

static void setup_opts(const struct vtd_options *opt)
{
	vtd_env__init(&env, opt);
	lroot = vtd_env__page(&env);
}

static void setup(void)
{
	setup_opts(NULL);
}

static void teardown(void)
{
	vtd_env__exit(&env);
}

/* SRTP with TTM = 00, then TE. */
static void enable_legacy(void)
{
	vtd_env__wr(&env, VTD_RTADDR_REG, lroot, 8);
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_SRTP, 4);
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_TE, 4);
	ck_assert(vtd_env__rd(&env, VTD_GSTS_REG, 4) & VTD_GSTS_TES);
}

/* The legacy context entry of @sid (two qwords), allocating the context table. */
static uint64_t *lctx(uint16_t sid)
{
	uint64_t *re = vtd_env__q(&env, lroot + (sid >> 8) * 16);

	if (!*re)
		*re = vtd_env__page(&env) | 1;
	return vtd_env__q(&env, (*re & VTD_ADDR_MASK) + (sid & 0xFF) * 16);
}

/* Context entry: second stage (TT 00) with @aw, DID, a fresh top table (returned). */
static uint64_t set_ctx_ss(uint16_t sid, unsigned aw, uint16_t did)
{
	uint64_t *ce = lctx(sid), top = vtd_env__page(&env);

	ce[1] = aw | (uint64_t)did << 8;
	ce[0] = top | 1;
	return top;
}

#define fault_of(sid, a, iova, dir)	vtd_env__fault_of(&env, sid, a, iova, dir)
#define xlate(iova, dir)		vtd_env__xlate_ok(&env, SID, iova, dir)

START_TEST(caps_offer_second_stage)
{
	uint64_t cap = vtd_env__rd(&env, VTD_CAP_REG, 8), ecap = vtd_env__rd(&env, VTD_ECAP_REG, 8);

	ck_assert_uint_eq((cap >> 8) & 0x1F, 0x6);	/* SAGAW 39 and 48 */
	ck_assert_uint_eq((cap >> 34) & 0xF, 0x3);	/* SLLPS 2 MiB, 1 GiB */
	ck_assert(ecap & VTD_ECAP_FSTS);
	ck_assert(!(ecap & VTD_ECAP_SSTS));		/* flts: scalable mode has only the first stage */
	teardown();
	setup_opts(&(struct vtd_options){ .slts = true });
	cap = vtd_env__rd(&env, VTD_CAP_REG, 8);
	ecap = vtd_env__rd(&env, VTD_ECAP_REG, 8);
	ck_assert(ecap & VTD_ECAP_SSTS);
	ck_assert(!(ecap & VTD_ECAP_FSTS));
	ck_assert(!(cap & VTD_CAP_FS1GP));
	ck_assert(!(cap & VTD_CAP_CM));		/* no passthrough: no caching mode needed */
}
END_TEST

START_TEST(legacy_pages)
{
	uint64_t top4 = set_ctx_ss(SID, 2, DID), top3 = set_ctx_ss(SID + 1, 1, DID + 1);

	vtd_env__ss_map(&env, top4, 4, 0x1000, 0x300000, 1, SS_RW, SS_RW);
	vtd_env__ss_map(&env, top4, 4, 0x40200000, 0x600000, 2, SS_RW, SS_RW);
	vtd_env__ss_map(&env, top4, 4, 0x80000000ULL, 0x40000000, 3, SS_R, SS_RW);
	vtd_env__ss_map(&env, top4, 4, 0x7F0000000000ULL, 0x500000, 1, SS_RW, SS_RW);	/* needs the 4th level */
	vtd_env__ss_map(&env, top3, 3, 0x5000, 0x301000, 1, SS_RW, SS_RW);
	enable_legacy();
	ck_assert_uint_eq(xlate(0x1234, DMA_READ), 0x300234);
	ck_assert_uint_eq(xlate(0x1234, DMA_WRITE), 0x300234);
	ck_assert_uint_eq(xlate(0x40212345, DMA_WRITE), 0x612345);
	ck_assert_uint_eq(xlate(0x80123456ULL, DMA_READ), 0x40123456);
	ck_assert_uint_eq(xlate(0x7F0000000010ULL, DMA_READ), 0x500010);
	ck_assert_uint_eq(vtd_env__xlate(&env, SID + 1, NULL, 0x5008, DMA_READ, NULL), 0);
	/* 3-level: 39 bits of input, no more. */
	ck_assert_int_eq(fault_of(SID + 1, NULL, 1ULL << 39, DMA_READ), VTD_FR_ADDR_WIDTH);
	ck_assert_int_eq(fault_of(SID, NULL, 1ULL << 48, DMA_READ), VTD_FR_ADDR_WIDTH);
}
END_TEST

START_TEST(legacy_permissions)
{
	uint64_t top = set_ctx_ss(SID, 2, DID);

	vtd_env__ss_map(&env, top, 4, 0x1000, 0x300000, 1, SS_R, SS_RW);	/* read-only */
	vtd_env__ss_map(&env, top, 4, 0x2000, 0x301000, 1, SS_W, SS_RW);	/* write-only */
	vtd_env__ss_map(&env, top, 4, 0x40000000, 0x302000, 1, SS_RW, SS_R);	/* tables read-only: W is the AND */
	enable_legacy();
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), 0);
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_WRITE), VTD_FR_SS_WRITE);
	/* A write-only page: the write fills the IOTLB, a read after it still faults. */
	ck_assert_int_eq(fault_of(SID, NULL, 0x2000, DMA_WRITE), 0);
	ck_assert_int_eq(fault_of(SID, NULL, 0x2000, DMA_READ), VTD_FR_SS_READ);
	ck_assert_int_eq(fault_of(SID, NULL, 0x40000000, DMA_READ), 0);
	ck_assert_int_eq(fault_of(SID, NULL, 0x40000000, DMA_WRITE), VTD_FR_SS_WRITE);
	/* Not present (neither R nor W): the request's own right is missing. */
	ck_assert_int_eq(fault_of(SID, NULL, 0x3000, DMA_READ), VTD_FR_SS_READ);
	ck_assert_int_eq(fault_of(SID, NULL, 0x3000, DMA_WRITE), VTD_FR_SS_WRITE);
	ck_assert_int_eq(fault_of(SID, NULL, 0x100000000000ULL, DMA_READ), VTD_FR_SS_READ);
}
END_TEST

START_TEST(legacy_faults)
{
	struct dma_attrs pasid = { .has_pasid = true, .pasid = 1 };
	uint64_t top = set_ctx_ss(SID, 2, DID), *ce, *re, lo, hi;

	vtd_env__ss_map(&env, top, 4, 0x1000, 0x300000, 1, SS_RW, SS_RW);
	vtd_env__ss_map(&env, top, 4, 0x200000, 0xFEE00000ULL, 1, SS_RW, SS_RW);
	enable_legacy();
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), 0);
	ck_assert_int_eq(fault_of(SID, &pasid, 0x1000, DMA_READ), VTD_FR_SM_TTM0_PASID);
	ck_assert_int_eq(fault_of(SID, NULL, 0x200000, DMA_READ), VTD_FR_INTR_LEGACY);

	/* The record: source-id, address, read/write; no PASID. */
	ck_assert_int_ne(vtd_env__xlate(&env, SID, NULL, 0x3000, DMA_WRITE, NULL), 0);
	ck_assert(vtd_env__pending_fault(&env, &lo, &hi));
	ck_assert_uint_eq(lo, 0x3000);
	ck_assert_uint_eq(hi & 0xFFFF, SID);
	ck_assert_uint_eq((hi >> 32) & 0xFF, VTD_FR_SS_WRITE);
	ck_assert(!(hi & VTD_FRCD_T));		/* a write */
	ck_assert(!(hi & VTD_FRCD_PP));
	vtd_env__take_fault(&env);

	/* Second-stage entries: reserved bits. SNP is reserved in legacy mode without ECAP.SC. */
	vtd_env__ss_map(&env, top, 4, 0x5000, 0x305000 | 1ULL << 11, 1, SS_RW, SS_RW);
	ck_assert_int_eq(fault_of(SID, NULL, 0x5000, DMA_READ), VTD_FR_SS_RSVD);
	vtd_env__ss_map(&env, top, 4, 0x6000, 0x306000 | 1ULL << 50, 1, SS_RW, SS_RW);	/* above the address width */
	ck_assert_int_eq(fault_of(SID, NULL, 0x6000, DMA_READ), VTD_FR_SS_RSVD);
	vtd_env__ss_map(&env, top, 4, 0x1000000000ULL, 0x600000 | 0x1000, 2, SS_RW, SS_RW);	/* 2 MiB leaf, low bits */
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000000000ULL, DMA_READ), VTD_FR_SS_RSVD);
	*vtd_env__q(&env, top + 8 * 5) = vtd_env__page(&env) | SS_RW | SS_PS;	/* PS in level 4 */
	ck_assert_int_eq(fault_of(SID, NULL, 5ULL << 39, DMA_READ), VTD_FR_SS_RSVD);
	*vtd_env__q(&env, top + 8 * 6) = (64ULL << 20) | SS_RW;	/* a table outside RAM */
	ck_assert_int_eq(fault_of(SID, NULL, 6ULL << 39, DMA_READ), VTD_FR_SS_ACCESS);

	/* Context entries. */
	ce = lctx(SID + 1);
	ck_assert_int_eq(fault_of(SID + 1, NULL, 0x1000, DMA_READ), VTD_FR_CE_P);
	ce[0] = 2;				/* not present, FPD: no record */
	ck_assert_int_ne(vtd_env__xlate(&env, SID + 1, NULL, 0x1000, DMA_READ, NULL), 0);
	ck_assert_int_eq(vtd_env__take_fault(&env), -1);
	static const struct { uint64_t ce0, ce1; int fr; } bad[] = {
		{ 1 | 1 << 2, 2, VTD_FR_CE_INV },		/* TT 01: device-TLB, no ECAP.DT */
		{ 1 | 3 << 2, 2, VTD_FR_CE_INV },		/* TT 11: reserved */
		{ 1, 3, VTD_FR_CE_INV },			/* AW 3 (57-bit): not in SAGAW */
		{ 1, 0, VTD_FR_CE_INV },			/* AW 0 */
		{ 1 | 1 << 4, 2, VTD_FR_CE_RSVD },		/* bit 4 */
		{ 1, 2 | 1ULL << 40, VTD_FR_CE_RSVD },		/* above the DID */
		{ 1 | 1ULL << 50, 2, VTD_FR_CE_RSVD },		/* pointer above the address width */
		{ 1 | (64ULL << 20), 2, VTD_FR_CE_INV },	/* top table outside RAM */
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t t = vtd_env__page(&env);

		ce[1] = bad[i].ce1;
		ce[0] = bad[i].ce0 | ((bad[i].ce0 & GENMASK(47, 12)) ? 0 : t);
		/* A device-selective context-cache invalidation: the entry is read again. */
		vtd_env__wr(&env, VTD_CCMD_REG, VTD_CCMD_ICC | 3ULL << 61 | (uint64_t)(SID + 1) << 16, 8);
		ck_assert_msg(fault_of(SID + 1, NULL, 0x1000, DMA_READ) == bad[i].fr, "case %u: reason %#x", i,
			      fault_of(SID + 1, NULL, 0x1000, DMA_READ));
	}

	/* Root entries: other bus. */
	re = vtd_env__q(&env, lroot + 2 * 16);
	ck_assert_int_eq(fault_of(0x0200, NULL, 0x1000, DMA_READ), VTD_FR_RE_P);
	re[0] = vtd_env__page(&env) | 1 | 1 << 3;
	ck_assert_int_eq(fault_of(0x0200, NULL, 0x1000, DMA_READ), VTD_FR_RE_RSVD);
	re[0] = (64ULL << 20) | 1;		/* context table outside RAM */
	ck_assert_int_eq(fault_of(0x0200, NULL, 0x1000, DMA_READ), VTD_FR_CE_ACCESS);
	re[0] = 0;
	re[1] = 1;
	ck_assert_int_eq(fault_of(0x0200, NULL, 0x1000, DMA_READ), VTD_FR_RE_P);
	re[0] = vtd_env__page(&env) | 1;
	ck_assert_int_eq(fault_of(0x0200, NULL, 0x1000, DMA_READ), VTD_FR_RE_RSVD);	/* upper qword */
	/* The root table outside RAM. */
	vtd_env__wr(&env, VTD_RTADDR_REG, 64ULL << 20, 8);
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_SRTP | VTD_GCMD_TE, 4);
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_RE_ACCESS);
}
END_TEST

/* A cyclic second stage (an entry naming its own table) is walked once per level, no more. */
START_TEST(legacy_cyclic_tables)
{
	uint64_t top = set_ctx_ss(SID, 2, DID);

	*vtd_env__q(&env, top) = top | SS_RW;		/* every level is the same table */
	enable_legacy();
	ck_assert_uint_eq(xlate(0x123, DMA_READ), top + 0x123);	/* bounded: 4 reads, the table as the page */
	*vtd_env__q(&env, top) = top | SS_RW | SS_PS;	/* PS in level 4: reserved, not a loop */
	vtd_env__wr(&env, VTD_IOTLB_REG, VTD_IOTLB_IVT | 1ULL << 60, 8);
	ck_assert_int_eq(fault_of(SID, NULL, 0x123, DMA_READ), VTD_FR_SS_RSVD);
}
END_TEST

START_TEST(legacy_pass_through)
{
	uint64_t *ce = lctx(SID);

	ce[1] = 2 | (uint64_t)DID << 8;
	ce[0] = 1 | 2 << 2;			/* TT 10 */
	enable_legacy();
	ck_assert_uint_eq(xlate(0x12345678, DMA_WRITE), 0x12345678);
	ck_assert_int_eq(fault_of(SID, NULL, 0xFEE00000ULL, DMA_WRITE), VTD_FR_INTR_LEGACY);
}
END_TEST

/* The IOTLB keeps a translation until the guest invalidates the domain, by register or by queue. */
START_TEST(legacy_invalidation)
{
	uint64_t top = set_ctx_ss(SID, 2, DID), *pte, *ce;

	pte = vtd_env__ss_map(&env, top, 4, 0x1000, 0x300000, 1, SS_RW, SS_RW);
	enable_legacy();
	ck_assert_uint_eq(xlate(0x1000, DMA_READ), 0x300000);
	*pte = 0x400000 | SS_RW;
	ck_assert_uint_eq(xlate(0x1000, DMA_READ), 0x300000);	/* cached */
	/* Another domain's invalidation changes nothing; this domain's does. */
	vtd_env__wr(&env, VTD_IOTLB_REG, VTD_IOTLB_IVT | 2ULL << 60 | (uint64_t)(DID + 1) << 32, 8);
	ck_assert_uint_eq(xlate(0x1000, DMA_READ), 0x300000);
	vtd_env__wr(&env, VTD_IOTLB_REG, VTD_IOTLB_IVT | 2ULL << 60 | (uint64_t)DID << 32, 8);
	ck_assert_uint_eq(xlate(0x1000, DMA_READ), 0x400000);

	/* Queued: a page-selective type-2 invalidation. */
	vtd_env__qi_enable(&env);
	*pte = 0x500000 | SS_RW;
	ck_assert_uint_eq(xlate(0x1000, DMA_READ), 0x400000);
	vtd_env__qi_submit(&env, VTD_DESC_IOTLB | (uint64_t)VTD_INV_PAGE << 4 | (uint64_t)DID << 16, 0x1000);
	ck_assert(vtd_env__qi_wait(&env));
	ck_assert_uint_eq(xlate(0x1000, DMA_READ), 0x500000);

	/* The context entry is cached until a context-cache invalidation (queued, device-selective). */
	ce = lctx(SID);
	ce[0] = 1 | 2 << 2;			/* now pass-through */
	ck_assert_uint_eq(xlate(0x1000, DMA_READ), 0x500000);
	vtd_env__qi_submit(&env, VTD_DESC_CC | (uint64_t)VTD_INV_PAGE << 4 | (uint64_t)SID << 32, 0);
	vtd_env__qi_submit(&env, VTD_DESC_IOTLB | (uint64_t)VTD_INV_GLOBAL << 4, 0);
	ck_assert(vtd_env__qi_wait(&env));
	ck_assert_uint_eq(xlate(0x1000, DMA_READ), 0x1000);
}
END_TEST

/* --viommu slts: scalable-mode PASID entries with PGTT = 010b. */
START_TEST(slts_pasid_entries)
{
	uint64_t *pe, top, *pte;

	teardown();
	setup_opts(&(struct vtd_options){ .slts = true });
	vtd_env__set_ctx(&env, SID, 0, 0);
	pe = vtd_env__pasid_entry(&env, SID, 0);
	top = vtd_env__page(&env);
	pe[1] = DID;
	pe[0] = 1 | 2 << 2 | (uint64_t)VTD_PGTT_SS << 6 | top;	/* AW 2: 4 levels */
	pte = vtd_env__ss_map(&env, top, 4, 0x1000, 0x300000 | 1ULL << 11, 1, SS_RW, SS_RW);	/* SNP allowed here */
	vtd_env__ss_map(&env, top, 4, 0x40000000, 0x600000, 2, SS_R, SS_RW);
	vtd_env__enable(&env);
	ck_assert_uint_eq(xlate(0x1010, DMA_WRITE), 0x300010);
	ck_assert_uint_eq(xlate(0x40000010, DMA_READ), 0x600010);
	ck_assert_int_eq(fault_of(SID, NULL, 0x40000010, DMA_WRITE), VTD_FR_SS_WRITE);
	ck_assert_int_eq(fault_of(SID, NULL, 0xFFFFF000ULL, DMA_READ), VTD_FR_SS_READ);
	(void)pte;

	/* SSADE without ECAP.SSADS: reserved. AW 3: not in SAGAW. First stage: not offered. */
	pe[0] |= 1ULL << 9;
	vtd_env__qi_enable(&env);
	vtd_env__pasid_inv(&env, DID, 0, false);
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_PE_RSVD);
	pe[0] = (pe[0] & ~(1ULL << 9) & ~(7ULL << 2)) | 3 << 2;
	vtd_env__pasid_inv(&env, DID, 0, false);
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_PE_INV);
	vtd_env__set_pasid_fs(&env, SID, 0, DID);
	vtd_env__pasid_inv(&env, DID, 0, false);
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_PE_INV);
}
END_TEST

/* Without slts, a PGTT = 010b entry is invalid (ECAP.SSTS is not reported). */
START_TEST(flts_refuses_second_stage_entries)
{
	uint64_t *pe;

	vtd_env__set_ctx(&env, SID, 0, 0);
	pe = vtd_env__pasid_entry(&env, SID, 0);
	pe[1] = DID;
	pe[0] = 1 | 2 << 2 | (uint64_t)VTD_PGTT_SS << 6 | vtd_env__page(&env);
	vtd_env__enable(&env);
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_PE_INV);
}
END_TEST

static Suite *vtd_legacy_suite(void)
{
	Suite *s = suite_create("vtd_legacy");
	TCase *tc = tcase_create("second_stage");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, caps_offer_second_stage);
	tcase_add_test(tc, legacy_pages);
	tcase_add_test(tc, legacy_permissions);
	tcase_add_test(tc, legacy_faults);
	tcase_add_test(tc, legacy_pass_through);
	tcase_add_test(tc, legacy_cyclic_tables);
	tcase_add_test(tc, legacy_invalidation);
	tcase_add_test(tc, slts_pasid_entries);
	tcase_add_test(tc, flts_refuses_second_stage_entries);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(vtd_legacy_suite)
