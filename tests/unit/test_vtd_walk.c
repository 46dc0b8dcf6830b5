/*
 * Tier 1 (Check, in-process, no KVM): the first-stage walk of the VT-d model.
 * Randomly generated tables (fixed seed) are translated through the unit and through an independent
 * reference walker written from the spec rules; translations, page sizes, permissions, faults and A/D
 * updates must agree. Plus directed tests: page sizes, 5-level, A/D bits per level, atomic A/D.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "iommu/vtd-hw.h"
#include "tests/unit/check_main.h"
#include "tests/unit/vtd_testlib.h"

#define SID 0x0010	/* 00:02.0 */

/* ---- reference model ---- */

struct ref {
	int fault;		/* 0 or reason */
	uint64_t gpa, len;
	unsigned n;		/* entries used */
	uint64_t *ent[5];
	uint64_t want[5];	/* expected entry values after the request */
};

static uint64_t bits(unsigned hi, unsigned lo)
{
	return (~0ULL >> (63 - hi)) & (~0ULL << lo);
}

static void ref_walk(struct vtd_env *e, bool fs1gp, uint64_t root, unsigned levels, uint64_t iova, bool write,
		     bool user, bool wpe, struct ref *r)
{
	unsigned width = levels == 5 ? 57 : 48;
	uint64_t top = iova >> (width - 1), table = root;
	int allow_w = 1, allow_u = 1;

	r->fault = 0;
	r->n = 0;
	if (top != 0 && top != (~0ULL >> (width - 1))) {
		r->fault = 0x80;
		return;
	}
	for (unsigned l = levels; l >= 1; l--) {
		uint64_t *p = guest_mem__hva(&e->mem, table + ((iova >> (3 + 9 * l)) & 511) * 8, 8);
		uint64_t v, size;

		if (!p) {
			r->fault = l == levels ? 0x73 : 0x70;
			return;
		}
		v = *p;
		r->ent[r->n] = p;
		r->want[r->n++] = v;
		if (!(v & 1)) {
			r->fault = 0x71;
			return;
		}
		if ((v & bits(51, 48)) || ((v & FS_PS) && (l >= 4 || (l == 3 && !fs1gp))) ||
		    ((v & FS_PS) && l == 3 && (v & bits(29, 13))) || ((v & FS_PS) && l == 2 && (v & bits(20, 13)))) {
			r->fault = 0x72;
			return;
		}
		allow_w &= (v >> 1) & 1;
		allow_u &= (v >> 2) & 1;
		if (l > 1 && !(v & FS_PS)) {
			table = v & bits(47, 12);
			continue;
		}
		size = 1ULL << (12 + 9 * (l - 1));
		if (user && !allow_u) {
			r->fault = 0x81;
			return;
		}
		if (write && !allow_w && (user || wpe)) {
			r->fault = 0x85;
			return;
		}
		r->gpa = (v & bits(47, 12) & ~(size - 1)) | (iova & (size - 1));
		r->len = size - (iova & (size - 1));
		if (r->gpa >= 0xFEE00000 && r->gpa < 0xFEF00000) {
			r->fault = 0x87;
			return;
		}
		if (r->gpa < 0xFEE00000 && r->gpa + r->len > 0xFEE00000)
			r->len = 0xFEE00000 - r->gpa;
		for (unsigned i = 0; i < r->n; i++)
			r->want[i] |= FS_A;
		if (write)
			r->want[r->n - 1] |= FS_D;
		return;
	}
}

/* ---- random tables ---- */

static unsigned rnd(unsigned n)
{
	return (unsigned)(random() % n);
}

static uint64_t random_index(void)
{
	static const unsigned pick[] = { 0, 1, 2, 255, 256, 511 };

	return rnd(3) ? pick[rnd(6)] : rnd(512);
}

static uint64_t random_out(unsigned level)
{
	uint64_t size = 1ULL << (12 + 9 * (level - 1));

	switch (rnd(12)) {
	case 0:
		return 0xFEE00000ULL & ~(size - 1);	/* the interrupt range (or a page around it) */
	case 1:
		return ((uint64_t)random() << 20 ^ random()) & bits(47, 12) & ~(size - 1);
	default:
		return (uint64_t)rnd(VTD_ENV_RAM >> 12) << 12 & ~(size - 1);
	}
}

/* Fill the entry at @p for @level: junk-not-present, leaf, or a table (maybe outside RAM). */
static void random_entry(struct vtd_env *e, uint64_t *p, unsigned level, unsigned levels)
{
	uint64_t flags = FS_P | (rnd(12) ? FS_RW : 0) | (rnd(12) ? FS_US : 0) | (rnd(2) ? FS_A : 0);
	unsigned r = rnd(100);

	if (r < 5) {
		*p = ((uint64_t)random() << 1) & ~FS_P;	/* not present, random other bits */
		return;
	}
	if (r >= 97 && level > 1) {
		*p = 0x40000000ULL | (uint64_t)rnd(1024) << 12 | flags;	/* table beyond RAM */
	} else if (level == 1 || (level <= 3 && r < 35)) {
		*p = random_out(level) | flags | (rnd(2) ? FS_D : 0) | (level > 1 ? FS_PS : 0);
		if (rnd(4) == 0)
			*p |= 1ULL << 63;			/* XD: ignored */
	} else {
		*p = vtd_env__page(e) | flags;
	}
	if (rnd(30) == 0) {
		/* A possibly reserved bit: address bits above HAW, PS in a PML4E, low bits of a large page. */
		static const unsigned cand[] = { 48, 51, 7, 13, 20, 29 };

		*p |= 1ULL << cand[rnd(6)];
	}
	(void)levels;
}

static uint64_t random_iova(struct vtd_env *e, uint64_t root, unsigned levels)
{
	uint64_t iova = 0, table = root;

	for (unsigned l = levels; l >= 1; l--) {
		uint64_t idx = random_index(), *p;

		iova |= idx << (3 + 9 * l);
		p = guest_mem__hva(&e->mem, table + idx * 8, 8);
		if (!p)
			break;
		if (!*p)
			random_entry(e, p, l, levels);
		if (!(*p & FS_P) || l == 1 || (*p & FS_PS))
			break;
		table = *p & bits(47, 12);
	}
	iova |= rnd(4096);
	/* Sign-extend from the top level bit; sometimes break canonicality on purpose. */
	if (iova >> (levels == 5 ? 56 : 47) & 1)
		iova |= ~0ULL << (levels == 5 ? 57 : 48);
	if (rnd(40) == 0)
		iova ^= 1ULL << (50 + rnd(14));
	return iova;
}

START_TEST(random_tables_match_reference)
{
	static const int expect[] = { 0x70, 0x71, 0x72, 0x80, 0x81, 0x85, 0x87 };
	unsigned cases = 0, faults = 0, sizes[4] = { 0 }, reasons[256] = { 0 };

	srandom(20240611);
	for (int round = 0; round < 60; round++) {
		struct vtd_options opt = { .fs1gp = rnd(2), .fs5lp = rnd(3) == 0 };
		unsigned levels = opt.fs5lp && rnd(2) ? 5 : 4;
		bool wpe = rnd(2);
		struct vtd_env e;
		uint64_t root, *pe, iovas[48];

		vtd_env__init(&e, &opt);
		vtd_env__set_ctx(&e, SID, VTD_CE0_PASIDE, 0);
		root = vtd_env__set_pasid_fs(&e, SID, 7, 3);
		pe = vtd_env__pasid_entry(&e, SID, 7);
		pe[2] |= VTD_PE2_SRE | (wpe ? VTD_PE2_WPE : 0) | (levels == 5 ? 1ULL << 2 : 0);
		vtd_env__enable(&e);
		for (unsigned i = 0; i < ARRAY_SIZE(iovas); i++)
			iovas[i] = random_iova(&e, root, levels);

		for (int pass = 0; pass < 2; pass++) {	/* the second pass mostly hits the IOTLB */
			for (unsigned i = 0; i < ARRAY_SIZE(iovas); i++) {
				for (int k = 0; k < 4; k++) {
					struct dma_attrs a = { .has_pasid = true, .pasid = 7, .priv = k & 1 };
					bool write = k & 2;
					uint64_t gpa = 0, len = 0, iova = iovas[i] + (rnd(8) ? 0 : rnd(4096));
					struct ref r;
					int ret;

					ref_walk(&e, opt.fs1gp, root, levels, iova, write, !a.priv, wpe, &r);
					ret = e.tr->translate(e.tr->opaque, SID, &a, iova, write ? DMA_WRITE : DMA_READ,
							      &gpa, &len);
					cases++;
					if (r.fault) {
						faults++;
						reasons[r.fault]++;
						ck_assert_msg(ret == -EFAULT, "iova %#lx: translated, reference faults %#x",
							      (unsigned long)iova, r.fault);
						ck_assert_int_eq(vtd_env__take_fault(&e), r.fault);
						for (unsigned j = 0; j < r.n; j++)	/* a fault updates nothing */
							ck_assert_uint_eq(*r.ent[j], r.want[j]);
						continue;
					}
					ck_assert_msg(ret == 0, "iova %#lx: fault %#x, reference translates to %#lx",
						      (unsigned long)iova, vtd_env__take_fault(&e), (unsigned long)r.gpa);
					ck_assert_uint_eq(gpa, r.gpa);
					ck_assert_uint_eq(len, r.len);
					for (unsigned j = 0; j < r.n; j++)
						ck_assert_uint_eq(*r.ent[j], r.want[j]);
					sizes[levels - r.n + 1]++;	/* leaf level */
				}
			}
		}
		vtd_env__exit(&e);
	}
	/* The generator must exercise every outcome, or the comparison proves little. */
	ck_assert_uint_ge(cases, 10000);
	ck_assert_uint_ge(faults, cases / 10);
	ck_assert_uint_le(faults, cases * 9 / 10);
	ck_assert_uint_gt(sizes[1], 100);
	ck_assert_uint_gt(sizes[2], 100);
	ck_assert_uint_gt(sizes[3], 50);
	for (unsigned i = 0; i < ARRAY_SIZE(expect); i++)
		ck_assert_msg(reasons[expect[i]] > 10, "fault %#x seen %u times", expect[i], reasons[expect[i]]);
	printf("vtd_walk: %u random cases, %u translations by 4K/2M/1G pages %u/%u/%u, %u faults:", cases,
	       cases - faults, sizes[1], sizes[2], sizes[3], faults);
	for (int i = 0; i < 256; i++)
		if (reasons[i])
			printf(" %#x:%u", i, reasons[i]);
	printf("\n");
}
END_TEST

/* ---- directed tests ---- */

static void iotlb_flush_all(struct vtd_env *e)
{
	vtd_env__wr(e, VTD_IOTLB_REG, VTD_IOTLB_IVT | 1ULL << 60, 8);
}

static struct vtd_env env;
static uint64_t fsroot;

static void setup(void)
{
	vtd_env__init(&env, NULL);
	fsroot = vtd_env__fs_domain(&env, SID, 0, 1);
	vtd_env__enable(&env);
}

static void teardown(void)
{
	vtd_env__exit(&env);
}

START_TEST(page_sizes)
{
	uint64_t gpa, len;
	struct dma_attrs none = { 0 };

	vtd_env__map(&env, fsroot, 0x7000, 0x123000, 1, FS_RWU);
	vtd_env__map(&env, fsroot, 0x40000000, 0x600000, 2, FS_RWU);
	vtd_env__map(&env, fsroot, 0x8000000000ULL, 0x40000000, 3, FS_RWU);
	ck_assert_int_eq(env.tr->translate(env.tr->opaque, SID, &none, 0x7abc, DMA_READ, &gpa, &len), 0);
	ck_assert_uint_eq(gpa, 0x123abc);
	ck_assert_uint_eq(len, 0x1000 - 0xabc);
	ck_assert_int_eq(env.tr->translate(env.tr->opaque, SID, &none, 0x40012345, DMA_READ, &gpa, &len), 0);
	ck_assert_uint_eq(gpa, 0x612345);
	ck_assert_uint_eq(len, 0x200000 - 0x12345);
	ck_assert_int_eq(env.tr->translate(env.tr->opaque, SID, &none, 0x8012345678ULL, DMA_WRITE, &gpa, &len), 0);
	ck_assert_uint_eq(gpa, 0x52345678);
	ck_assert_uint_eq(len, 0x40000000 - 0x12345678);
	/* Upper-half canonical addresses are translated through PML4 entries 256-511. */
	vtd_env__map(&env, fsroot, 0xFFFF800000001000ULL, 0x5000, 1, FS_RWU);
	ck_assert_int_eq(vtd_env__xlate(&env, SID, NULL, 0xFFFF800000001008ULL, DMA_READ, &gpa), 0);
	ck_assert_uint_eq(gpa, 0x5008);
}
END_TEST

START_TEST(one_gig_needs_fs1gp)
{
	struct vtd_options opt = { .fs1gp = false };
	struct vtd_env e;
	uint64_t root;

	vtd_env__init(&e, &opt);
	root = vtd_env__fs_domain(&e, SID, 0, 1);
	vtd_env__map(&e, root, 0x40000000, 0x40000000, 3, FS_RWU);
	vtd_env__enable(&e);
	ck_assert_int_eq(vtd_env__xlate(&e, SID, NULL, 0x40000000, DMA_READ, NULL), -EFAULT);
	ck_assert_int_eq(vtd_env__take_fault(&e), VTD_FR_FS_RSVD);
	vtd_env__exit(&e);
}
END_TEST

START_TEST(five_level)
{
	struct vtd_options opt = { .fs1gp = true, .fs5lp = true };
	struct vtd_env e;
	uint64_t root, gpa, iova = 0x00AB000012345000ULL;	/* PML5 index 0x55... needs 57 bits */

	vtd_env__init(&e, &opt);
	ck_assert_uint_eq((vtd_env__rd(&e, VTD_CAP_REG, 8) >> 16) & 0x3F, 56);
	root = vtd_env__fs_domain(&e, SID, 0, 1);
	vtd_env__pasid_entry(&e, SID, 0)[2] |= 1ULL << 2;	/* FSPM = 01 */
	vtd_env__map_ex(&e, root, 5, iova, 0x3000, 1, FS_RWU, FS_RWU);
	vtd_env__enable(&e);
	ck_assert_int_eq(vtd_env__xlate(&e, SID, NULL, iova + 0x10, DMA_READ, &gpa), 0);
	ck_assert_uint_eq(gpa, 0x3010);
	/* The same address is not canonical for a 4-level entry. */
	vtd_env__pasid_entry(&e, SID, 0)[2] &= ~(3ULL << 2);
	vtd_env__wr(&e, VTD_CCMD_REG, VTD_CCMD_ICC | 1ULL << 61, 8);
	iotlb_flush_all(&e);
	ck_assert_int_eq(vtd_env__xlate(&e, SID, NULL, iova, DMA_READ, NULL), -EFAULT);
	ck_assert_int_eq(vtd_env__take_fault(&e), VTD_FR_NON_CANONICAL);
	vtd_env__exit(&e);
}
END_TEST

/* A on every level for a read, D only in the leaf and only for a write. */
START_TEST(accessed_dirty_per_level)
{
	uint64_t *leaf = vtd_env__map(&env, fsroot, 0x200000, 0x400000, 2, FS_RWU);
	uint64_t pml4 = *vtd_env__q(&env, fsroot), *pml4e = vtd_env__q(&env, fsroot);
	uint64_t *pdpte = vtd_env__q(&env, pml4 & VTD_ADDR_MASK);

	ck_assert_uint_eq(*leaf & (FS_A | FS_D), 0);
	ck_assert_int_eq(vtd_env__xlate(&env, SID, NULL, 0x200000, DMA_READ, NULL), 0);
	ck_assert_uint_eq(*pml4e & (FS_A | FS_D), FS_A);
	ck_assert_uint_eq(*pdpte & (FS_A | FS_D), FS_A);
	ck_assert_uint_eq(*leaf & (FS_A | FS_D), FS_A);
	/* The write hits the cached (clean) entry: it must walk again and set D in the leaf only. */
	ck_assert_int_eq(vtd_env__xlate(&env, SID, NULL, 0x200008, DMA_WRITE, NULL), 0);
	ck_assert_uint_eq(*leaf & (FS_A | FS_D), FS_A | FS_D);
	ck_assert_uint_eq(*pml4e & FS_D, 0);
	ck_assert_uint_eq(*pdpte & FS_D, 0);
	/* Once dirty, a write hit does not touch the table: clearing D is not noticed until a flush. */
	*leaf &= ~FS_D;
	ck_assert_int_eq(vtd_env__xlate(&env, SID, NULL, 0x200010, DMA_WRITE, NULL), 0);
	ck_assert_uint_eq(*leaf & FS_D, 0);
	iotlb_flush_all(&env);
	ck_assert_int_eq(vtd_env__xlate(&env, SID, NULL, 0x200010, DMA_WRITE, NULL), 0);
	ck_assert_uint_eq(*leaf & FS_D, FS_D);
}
END_TEST

struct toggler {
	uint64_t *pte;
	bool stop;
	unsigned long n;
};

static void *toggle_bit9(void *arg)
{
	struct toggler *t = arg;

	while (!__atomic_load_n(&t->stop, __ATOMIC_RELAXED)) {
		__atomic_fetch_xor(t->pte, 1ULL << 9, __ATOMIC_SEQ_CST);
		t->n++;
	}
	return NULL;
}

/* The A/D update is a compare-and-swap: a concurrent guest update of the same entry is never lost. */
START_TEST(accessed_dirty_atomic)
{
	uint64_t *leaf = vtd_env__map(&env, fsroot, 0x5000, 0x6000, 1, FS_RWU);
	struct toggler t = { .pte = leaf };
	pthread_t th;

	ck_assert_int_eq(pthread_create(&th, NULL, toggle_bit9, &t), 0);
	for (int i = 0; i < 20000; i++) {
		__atomic_fetch_and(leaf, ~(FS_A | FS_D), __ATOMIC_SEQ_CST);
		iotlb_flush_all(&env);
		ck_assert_int_eq(vtd_env__xlate(&env, SID, NULL, 0x5000, (i & 1) ? DMA_WRITE : DMA_READ, NULL), 0);
		ck_assert_uint_eq(__atomic_load_n(leaf, __ATOMIC_RELAXED) & FS_A, FS_A);
	}
	__atomic_store_n(&t.stop, true, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	ck_assert_uint_eq((*leaf >> 9) & 1, t.n & 1);
}
END_TEST

static Suite *vtd_walk_suite(void)
{
	Suite *s = suite_create("vtd_walk");
	TCase *tc = tcase_create("random");
	TCase *td = tcase_create("directed");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, random_tables_match_reference);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(td, setup, teardown);
	tcase_set_timeout(td, 60);
	tcase_add_test(td, page_sizes);
	tcase_add_test(td, one_gig_needs_fs1gp);
	tcase_add_test(td, five_level);
	tcase_add_test(td, accessed_dirty_per_level);
	tcase_add_test(td, accessed_dirty_atomic);
	suite_add_tcase(s, td);
	return s;
}

CHECK_MAIN(vtd_walk_suite)
