/*
 * Tier 1 (Check, in-process, no KVM): the VT-d model's caches.
 * For each invalidation granularity a changed mapping stays in use until the invalidation that
 * covers it and never after; invalidations that do not cover it leave it alone. Not-present results
 * are never cached. The IOTLB is bounded and evicts cold entries. Translations racing invalidations
 * from other threads only ever see the old or the new mapping.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>

#include "iommu/vtd-hw.h"
#include "iommu/vtd-priv.h"
#include "tests/unit/check_main.h"
#include "tests/unit/vtd_testlib.h"

#define SID 0x0010

static struct vtd_env env;
static uint64_t fs;

static void setup(void)
{
	vtd_env__init(&env, NULL);
	fs = vtd_env__fs_domain(&env, SID, 0, 1);
	vtd_env__enable(&env);
	vtd_env__qi_enable(&env);
}

static void teardown(void)
{
	vtd_env__exit(&env);
}

static uint64_t xlate(uint64_t iova)
{
	uint64_t gpa = 0;

	ck_assert_int_eq(vtd_env__xlate(&env, SID, NULL, iova, DMA_READ, &gpa), 0);
	return gpa;
}

/* Queue one descriptor and a wait; the queue must not report an error. */
static void inv(uint64_t q0, uint64_t q1)
{
	vtd_env__qi_submit(&env, q0, q1);
	ck_assert(vtd_env__qi_wait(&env));
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FSTS_REG, 4) & VTD_FSTS_IQE, 0);
}

static void inv_iotlb(unsigned g, uint16_t did, uint64_t addr, unsigned am)
{
	inv(VTD_DESC_IOTLB | g << 4 | (uint64_t)did << 16, g == 3 ? addr | am : 0);
}

static void inv_piotlb(unsigned g, uint16_t did, uint32_t pasid, uint64_t addr, unsigned am)
{
	inv(VTD_DESC_PIOTLB | g << 4 | (uint64_t)did << 16 | (uint64_t)pasid << 32, g == 3 ? addr | am : 0);
}

static void inv_cc(unsigned g, uint16_t did, uint16_t sid, unsigned fm)
{
	inv(VTD_DESC_CC | g << 4 | (uint64_t)did << 16 | (uint64_t)sid << 32 | (uint64_t)fm << 48, 0);
}

static void inv_pc(unsigned g, uint16_t did, uint32_t pasid)
{
	inv(VTD_DESC_PC | g << 4 | (uint64_t)did << 16 | (uint64_t)pasid << 32, 0);
}

/* Map 0x1000 -> 0x100000, translate (cached), remap to 0x200000 without telling the unit. */
static void stale_setup(void)
{
	uint64_t *leaf = vtd_env__map(&env, fs, 0x1000, 0x100000, 1, FS_RWU);

	ck_assert_uint_eq(xlate(0x1000), 0x100000);
	*leaf = 0x200000 | FS_RWU | FS_A;
	ck_assert_uint_eq(xlate(0x1000), 0x100000);
}

START_TEST(iotlb_global)
{
	stale_setup();
	inv_iotlb(2, 2, 0, 0);
	inv_piotlb(2, 1, 1, 0, 0);
	inv_pc(3, 0, 0);
	inv_cc(1, 0, 0, 0);
	ck_assert_uint_eq(xlate(0x1000), 0x100000);	/* none of these covers the IOTLB entry */
	inv_iotlb(1, 0, 0, 0);
	ck_assert_uint_eq(xlate(0x1000), 0x200000);
}
END_TEST

START_TEST(iotlb_domain)
{
	stale_setup();
	inv_iotlb(2, 2, 0, 0);
	ck_assert_uint_eq(xlate(0x1000), 0x100000);
	inv_iotlb(2, 1, 0, 0);
	ck_assert_uint_eq(xlate(0x1000), 0x200000);
}
END_TEST

/* Type-2 page-selective invalidation covers first-stage mappings of the whole domain. */
START_TEST(iotlb_page_type2)
{
	stale_setup();
	inv_iotlb(3, 2, 0x1000, 0);
	ck_assert_uint_eq(xlate(0x1000), 0x100000);
	inv_iotlb(3, 1, 0x5000, 0);
	ck_assert_uint_eq(xlate(0x1000), 0x200000);
}
END_TEST

START_TEST(piotlb_pasid)
{
	stale_setup();
	inv_piotlb(2, 1, 3, 0, 0);
	inv_piotlb(2, 2, 0, 0, 0);
	ck_assert_uint_eq(xlate(0x1000), 0x100000);
	inv_piotlb(2, 1, 0, 0, 0);
	ck_assert_uint_eq(xlate(0x1000), 0x200000);
}
END_TEST

/* Page-selective within PASID, by bucket probing (few pages) and by list scan (huge range). */
START_TEST(piotlb_pages)
{
	uint64_t *leaf[16], *big;

	for (int i = 0; i < 16; i++) {
		leaf[i] = vtd_env__map(&env, fs, 0x10000 + i * 0x1000, 0x100000 + i * 0x1000, 1, FS_RWU);
		ck_assert_uint_eq(xlate(0x10000 + i * 0x1000), 0x100000 + i * 0x1000);
		*leaf[i] += 0x100000;
	}
	big = vtd_env__map(&env, fs, 0x400000, 0x800000, 2, FS_RWU);
	ck_assert_uint_eq(xlate(0x400000), 0x800000);
	*big += 0x200000;
	ck_assert_uint_eq(vtd_iotlb__count(env.vtd), 17);

	inv_piotlb(3, 1, 0, 0x14000, 2);		/* 0x14000-0x17fff */
	for (int i = 0; i < 16; i++)
		ck_assert_uint_eq(xlate(0x10000 + i * 0x1000), 0x100000 + i * 0x1000 + (i >= 4 && i < 8) * 0x100000);
	inv_piotlb(3, 1, 0, 0x405000, 0);		/* one 4 KiB page inside the 2 MiB entry */
	ck_assert_uint_eq(xlate(0x400000), 0xA00000);
	inv_piotlb(3, 2, 0, 0x10000, 9);		/* another domain: nothing */
	ck_assert_uint_eq(xlate(0x10000), 0x100000);
	inv_piotlb(3, 1, 0, 0x1000, 9);			/* 0-0x1fffff, list scan: all 4 KiB pages */
	for (int i = 0; i < 16; i++)
		ck_assert_uint_eq(xlate(0x10000 + i * 0x1000), 0x200000 + i * 0x1000);
}
END_TEST

/* Context changes (RID_PASID moves to PASID 4, another domain) need a context-cache invalidation. */
START_TEST(context_cache)
{
	uint64_t fs2 = vtd_env__set_pasid_fs(&env, SID, 4, 2);

	vtd_env__map(&env, fs2, 0x1000, 0x300000, 1, FS_RWU);
	vtd_env__map(&env, fs, 0x1000, 0x100000, 1, FS_RWU);
	ck_assert_uint_eq(xlate(0x1000), 0x100000);
	vtd_env__ctx(&env, SID)[1] = 4;
	inv_cc(3, 0, SID + 8, 0);		/* another device */
	inv_pc(3, 0, 0);			/* the PASID cache alone does not re-read the context entry */
	ck_assert_uint_eq(xlate(0x1000), 0x100000);
	inv_cc(3, 0, SID | 7, 3);		/* function mask 3: every function of device 2 */
	ck_assert_uint_eq(xlate(0x1000), 0x300000);
	vtd_env__ctx(&env, SID)[1] = 0;
	inv_cc(2, 9, 0, 0);			/* domain-selective: done as global */
	ck_assert_uint_eq(xlate(0x1000), 0x100000);
	vtd_env__ctx(&env, SID)[1] = 4;
	inv_cc(1, 0, 0, 0);
	ck_assert_uint_eq(xlate(0x1000), 0x300000);
}
END_TEST

/* PASID entry changes (new DID, new tables) need a PASID-cache invalidation covering it. */
START_TEST(pasid_cache)
{
	uint64_t *pe = vtd_env__pasid_entry(&env, SID, 0), fs2 = vtd_env__page(&env);

	vtd_env__map(&env, fs2, 0x1000, 0x300000, 1, FS_RWU);
	vtd_env__map(&env, fs, 0x1000, 0x100000, 1, FS_RWU);
	ck_assert_uint_eq(xlate(0x1000), 0x100000);
	pe[1] = 2;
	pe[2] = fs2;
	inv_pc(1, 2, 0);	/* (DID 2, PASID 0): the cached entry is DID 1 */
	inv_pc(1, 1, 5);
	inv_pc(0, 3, 0);
	ck_assert_uint_eq(xlate(0x1000), 0x100000);
	inv_pc(1, 1, 0);
	ck_assert_uint_eq(xlate(0x1000), 0x300000);
	pe[1] = 1;
	pe[2] = fs;
	inv_pc(0, 2, 0);	/* domain-selective */
	ck_assert_uint_eq(xlate(0x1000), 0x100000);
	pe[1] = 2;
	pe[2] = fs2;
	inv_pc(3, 0, 0);	/* global */
	ck_assert_uint_eq(xlate(0x1000), 0x300000);
}
END_TEST

/* Linux with caching mode relies on this: what faulted is looked up again, no invalidation needed. */
START_TEST(not_present_not_cached)
{
	uint64_t *pe = vtd_env__pasid_entry(&env, SID, 0), saved = pe[0], *ce = vtd_env__ctx(&env, SID), ce0 = ce[0];

	ck_assert_int_eq(vtd_env__xlate(&env, SID, NULL, 0x7000, DMA_WRITE, NULL), -EFAULT);
	vtd_env__map(&env, fs, 0x7000, 0x107000, 1, FS_RWU);
	ck_assert_uint_eq(xlate(0x7000), 0x107000);
	/* Read-only, then writable: the permission fault is not cached either. */
	vtd_env__map(&env, fs, 0x8000, 0x108000, 1, FS_P | FS_US);
	ck_assert_int_eq(vtd_env__xlate(&env, SID, NULL, 0x8000, DMA_WRITE, NULL), -EFAULT);
	vtd_env__map(&env, fs, 0x8000, 0x108000, 1, FS_RWU);
	ck_assert_int_eq(vtd_env__xlate(&env, SID, NULL, 0x8000, DMA_WRITE, NULL), 0);
	/* Not-present PASID and context entries. */
	pe[0] = 0;
	inv_pc(3, 0, 0);
	ck_assert_int_eq(vtd_env__xlate(&env, SID, NULL, 0x7000, DMA_READ, NULL), -EFAULT);
	pe[0] = saved;
	ck_assert_uint_eq(xlate(0x7000), 0x107000);
	ce[0] = 0;
	inv_cc(1, 0, 0, 0);
	ck_assert_int_eq(vtd_env__xlate(&env, SID, NULL, 0x7000, DMA_READ, NULL), -EFAULT);
	ce[0] = ce0;
	ck_assert_uint_eq(xlate(0x7000), 0x107000);
	vtd_env__take_fault(&env);
}
END_TEST

START_TEST(iotlb_bounded_clock)
{
	struct vtd_options opt = { .fs1gp = true, .iotlb_entries = 64 };
	uint64_t out, *hot;
	unsigned level;

	vtd_env__exit(&env);
	vtd_env__init(&env, &opt);
	fs = vtd_env__fs_domain(&env, SID, 0, 1);
	vtd_env__enable(&env);
	/* Pages 16 apart share a slot of the per-thread L0, so every translation below reaches the IOTLB. */
	hot = vtd_env__map(&env, fs, 0x40000000, 0x1000, 1, FS_RWU);
	for (uint64_t i = 0; i < 1000; i++)
		vtd_env__map(&env, fs, i << 16, 0x100000 + (i << 12), 1, FS_RWU);
	ck_assert_uint_eq(xlate(0x40000000), 0x1000);
	/* Remapped without invalidation: as long as the entry stays cached, the old page is used. */
	*hot = 0x2000 | FS_RWU | FS_A;
	for (int round = 0; round < 2; round++) {
		for (uint64_t i = 0; i < 1000; i++) {
			ck_assert_uint_eq(xlate(i << 16), 0x100000 + (i << 12));
			ck_assert_uint_eq(xlate(0x40000000), 0x1000);
			ck_assert_uint_le(vtd_iotlb__count(env.vtd), 64);
		}
	}
	ck_assert_uint_eq(vtd_iotlb__count(env.vtd), 64);
	/* The hot page survived 2000 insertions; the cold ones were evicted. */
	ck_assert(!vtd_iotlb__lookup(&env.vtd->caches.tlb, 1, 0, 0, &out, &level));
}
END_TEST

/* A walk that raced an invalidation must not insert what it read before it. */
START_TEST(insert_racing_invalidation)
{
	uint64_t inv = vtd_cache__inv_seq(&env.vtd->caches), out;
	unsigned level;

	inv_piotlb(2, 7, 0, 0, 0);	/* any invalidation, even of another domain */
	vtd_iotlb__insert(env.vtd, inv, 1, 0, 0x5000, 1, 0x9000 | VTD_TLB_W | VTD_TLB_U);
	ck_assert(!vtd_iotlb__lookup(&env.vtd->caches.tlb, 1, 0, 0x5000, &out, &level));
	inv = vtd_cache__inv_seq(&env.vtd->caches);
	vtd_iotlb__insert(env.vtd, inv, 1, 0, 0x5000, 1, 0x9000 | VTD_TLB_W | VTD_TLB_U);
	ck_assert(vtd_iotlb__lookup(&env.vtd->caches.tlb, 1, 0, 0x5000, &out, &level));
}
END_TEST

struct racer {
	bool stop;
	unsigned long n, bad;
};

static void *translate_loop(void *arg)
{
	struct racer *r = arg;
	struct dma_attrs none = { 0 };

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		uint64_t gpa, len, iova = (r->n & 1) ? 0x1000 : (r->n % 512) << 12 | 0x200000;
		int ret = env.tr->translate(env.tr->opaque, SID, &none, iova, DMA_WRITE, &gpa, &len);

		if (iova == 0x1000 && (ret || (gpa != 0x100000 && gpa != 0x200000)))
			r->bad++;
		if (iova != 0x1000 && (ret || gpa != iova + 0x400000))
			r->bad++;
		r->n++;
	}
	return NULL;
}

/* Translations on two threads while the guest keeps remapping and invalidating. */
START_TEST(concurrent_invalidation)
{
	struct racer r[2] = { 0 };
	pthread_t th[2];
	uint64_t *leaf = vtd_env__map(&env, fs, 0x1000, 0x100000, 1, FS_RWU);

	for (uint64_t i = 0; i < 512; i++)
		vtd_env__map(&env, fs, 0x200000 + (i << 12), 0x600000 + (i << 12), 1, FS_RWU);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, translate_loop, &r[i]), 0);
	for (int i = 0; i < 3000; i++) {
		__atomic_store_n(leaf, ((i & 1) ? 0x200000ULL : 0x100000ULL) | FS_RWU, __ATOMIC_RELAXED);
		switch (i % 4) {
		case 0: inv_iotlb(1, 0, 0, 0); break;
		case 1: inv_piotlb(3, 1, 0, 0x1000, 0); break;
		case 2: inv_piotlb(2, 1, 0, 0, 0); break;
		default: inv_pc(3, 0, 0); inv_iotlb(2, 1, 0, 0); break;
		}
	}
	for (int i = 0; i < 2; i++) {
		__atomic_store_n(&r[i].stop, true, __ATOMIC_RELAXED);
		pthread_join(th[i], NULL);
		ck_assert_uint_eq(r[i].bad, 0);
		ck_assert_uint_gt(r[i].n, 1000);
	}
}
END_TEST

static Suite *vtd_cache_suite(void)
{
	Suite *s = suite_create("vtd_cache");
	TCase *tc = tcase_create("cache");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, iotlb_global);
	tcase_add_test(tc, iotlb_domain);
	tcase_add_test(tc, iotlb_page_type2);
	tcase_add_test(tc, piotlb_pasid);
	tcase_add_test(tc, piotlb_pages);
	tcase_add_test(tc, context_cache);
	tcase_add_test(tc, pasid_cache);
	tcase_add_test(tc, not_present_not_cached);
	tcase_add_test(tc, iotlb_bounded_clock);
	tcase_add_test(tc, insert_racing_invalidation);
	tcase_add_test(tc, concurrent_invalidation);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(vtd_cache_suite)
