/*
 * Tier 1 (Check, in-process, no KVM): range translation (translate_run, iommu/vtd-walk.c vtd_walk__run).
 *
 * A long DMA through 4 KiB IOVA pages is translated a contiguous run at a time. The run must never
 * cover a page the page-by-page path would translate differently or fault on, must set A/D exactly as
 * the walk does, and must leave every fault to the page-by-page path (same reason, same address).
 * Directed cases pin where a run ends; a random case compares runs with the page-by-page path on the
 * same tables, request by request.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iommu/vtd-hw.h"
#include "tests/unit/check_main.h"
#include "tests/unit/vtd_testlib.h"
#include "vmm/dma.h"

#define SID	0x0010
#define DID	3
#define IOVA	0x100000ULL
#define DATA	0x400000ULL	/* output pages start here (below the tables at 16 MiB) */
#define PAGE	0x1000ULL

static struct vtd_env env;
static uint64_t fsroot;

/* A translator that counts the calls into the unit's translate_run (or translate, when @paged). */
static unsigned calls;
static int count_run(void *o, uint16_t sid, const struct dma_attrs *a, uint64_t iova, uint64_t want,
		     enum dma_dir dir, uint64_t *gpa, uint64_t *len)
{
	calls++;
	return env.tr->translate_run(env.tr->opaque, sid, a, iova, want, dir, gpa, len);
}
static int count_page(void *o, uint16_t sid, const struct dma_attrs *a, uint64_t iova, enum dma_dir dir,
		      uint64_t *gpa, uint64_t *len)
{
	calls++;
	return env.tr->translate(env.tr->opaque, sid, a, iova, dir, gpa, len);
}
static const struct dma_translator run_tr = { .translate = count_page, .translate_run = count_run };
static const struct dma_translator page_tr = { .translate = count_page };

static void setup(void)
{
	vtd_env__init(&env, NULL);
	fsroot = vtd_env__fs_domain(&env, SID, 0, DID);
	calls = 0;
}

static void teardown(void)
{
	vtd_env__exit(&env);
}

/* Map @n 4 KiB pages from @iova to consecutive pages from @gpa with @bits. */
static void map_pages(uint64_t iova, uint64_t gpa, unsigned n, uint64_t bits)
{
	for (unsigned i = 0; i < n; i++)
		vtd_env__map(&env, fsroot, iova + i * PAGE, gpa + i * PAGE, 1, bits);
}

/* The entry at @level (4: top) that translates @iova, by walking the test's own tables. */
static uint64_t *entry_at(uint64_t iova, unsigned level)
{
	uint64_t table = fsroot;

	for (unsigned l = 4;; l--) {
		uint64_t *p = vtd_env__q(&env, table + ((iova >> (12 + 9 * (l - 1))) & 0x1FF) * 8);

		if (l == level)
			return p;
		table = *p & GENMASK(51, 12);
	}
}

/* The page address of the only pending fault record (0 if none or several), then take_fault()'s reason. */
static int take_fault_at(uint64_t *addr)
{
	uint64_t hi;

	vtd_env__pending_fault(&env, addr, &hi);
	*addr &= ~0xFFFULL;
	return vtd_env__take_fault(&env);
}

static struct dma_as make_as(const struct dma_translator *tr)
{
	struct dma_as as;

	dma__init_as(&as, &env.mem, tr, SID);
	return as;
}

START_TEST(one_call_per_run)
{
	struct dma_as as = make_as(&run_tr);
	static uint8_t buf[64 * PAGE];

	map_pages(IOVA, DATA, 64, FS_RWU);
	vtd_env__enable(&env);
	memset(buf, 0x5A, sizeof(buf));
	ck_assert_int_eq(dma__write(&as, IOVA, buf, sizeof(buf)), 0);
	ck_assert_uint_eq(calls, 1);
	ck_assert_int_eq(memcmp(guest_mem__hva(&env.mem, DATA, sizeof(buf)), buf, sizeof(buf)), 0);
	/* The walk's A/D rules: A in every entry used, D in each leaf written. */
	for (unsigned i = 0; i < 64; i++)
		ck_assert_uint_eq(*entry_at(IOVA + i * PAGE, 1) & (FS_A | FS_D), FS_A | FS_D);
	for (unsigned l = 2; l <= 4; l++)
		ck_assert(*entry_at(IOVA, l) & FS_A);
	ck_assert_int_eq(vtd_env__take_fault(&env), -1);

	/* A read sets A only, and does not need D. */
	*entry_at(IOVA + 70 * PAGE, 1) = 0;
	map_pages(IOVA + 64 * PAGE, DATA + 64 * PAGE, 4, FS_RWU);
	calls = 0;
	ck_assert_int_eq(dma__read(&as, IOVA + 64 * PAGE, buf, 4 * PAGE), 0);
	ck_assert_uint_eq(calls, 1);
	ck_assert_uint_eq(*entry_at(IOVA + 67 * PAGE, 1) & (FS_A | FS_D), FS_A);
}
END_TEST

START_TEST(run_ends_where_a_page_differs)
{
	struct dma_as as = make_as(&run_tr);
	static uint8_t buf[64 * PAGE];
	size_t n;

	map_pages(IOVA, DATA, 64, FS_RWU);
	vtd_env__map(&env, fsroot, IOVA + 10 * PAGE, DATA + 100 * PAGE, 1, FS_RWU);
	vtd_env__enable(&env);
	ck_assert_ptr_eq(dma__map(&as, NULL, IOVA + 0x800, 64 * PAGE, DMA_READ, &n),
			 guest_mem__hva(&env.mem, DATA + 0x800, 1));
	ck_assert_uint_eq(n, 10 * PAGE - 0x800);
	calls = 0;
	ck_assert_int_eq(dma__read(&as, IOVA, buf, sizeof(buf)), 0);
	ck_assert_uint_eq(calls, 3);	/* pages 0-9, page 10, pages 11-63 */
}
END_TEST

START_TEST(fault_left_to_the_page)
{
	struct dma_as as = make_as(&run_tr);
	static uint8_t buf[16 * PAGE];

	map_pages(IOVA, DATA, 16, FS_RWU);
	*entry_at(IOVA + 5 * PAGE, 1) = 0;
	vtd_env__enable(&env);
	memset(buf, 0xA5, sizeof(buf));
	ck_assert_int_eq(dma__write(&as, IOVA, buf, sizeof(buf)), -EFAULT);
	ck_assert_uint_eq(calls, 2);	/* the run of pages 0-4, then page 5 faults */
	/* One record, for the page that faulted, with the walk's reason. */
	uint64_t at;

	ck_assert_int_eq(take_fault_at(&at), VTD_FR_FS_P);
	ck_assert_uint_eq(at, IOVA + 5 * PAGE);
	ck_assert_int_eq(memcmp(guest_mem__hva(&env.mem, DATA, 5 * PAGE), buf, 5 * PAGE), 0);
	/* Nothing after the fault is touched: no data, no A/D. */
	ck_assert_uint_eq(*(uint8_t *)guest_mem__hva(&env.mem, DATA + 6 * PAGE, 1), 0);
	ck_assert_uint_eq(*entry_at(IOVA + 4 * PAGE, 1) & (FS_A | FS_D), FS_A | FS_D);
	ck_assert_uint_eq(*entry_at(IOVA + 6 * PAGE, 1) & (FS_A | FS_D), 0);
}
END_TEST

START_TEST(permissions_end_a_run)
{
	struct dma_as as = make_as(&run_tr);
	static uint8_t buf[8 * PAGE];
	size_t n;

	map_pages(IOVA, DATA, 8, FS_RWU);
	vtd_env__map(&env, fsroot, IOVA + 3 * PAGE, DATA + 3 * PAGE, 1, FS_P | FS_US);	/* read-only */
	vtd_env__enable(&env);
	ck_assert_ptr_nonnull(dma__map(&as, NULL, IOVA, sizeof(buf), DMA_WRITE, &n));
	ck_assert_uint_eq(n, 3 * PAGE);
	ck_assert_ptr_nonnull(dma__map(&as, NULL, IOVA, sizeof(buf), DMA_READ, &n));
	ck_assert_uint_eq(n, 8 * PAGE);
	ck_assert_int_eq(dma__write(&as, IOVA, buf, sizeof(buf)), -EFAULT);
	ck_assert_int_eq(vtd_env__take_fault(&env), VTD_FR_WRITE);
	/* A user request stops at a supervisor page. */
	vtd_env__map(&env, fsroot, IOVA + 5 * PAGE, DATA + 5 * PAGE, 1, FS_P | FS_RW);
	ck_assert_ptr_nonnull(dma__map(&as, NULL, IOVA, sizeof(buf), DMA_READ, &n));
	ck_assert_uint_eq(n, 5 * PAGE);
}
END_TEST

START_TEST(run_needs_upper_accessed)
{
	struct dma_as as = make_as(&run_tr);
	uint64_t *pde;
	size_t n;

	map_pages(IOVA, DATA, 16, FS_RWU);
	vtd_env__enable(&env);
	ck_assert_ptr_nonnull(dma__map(&as, NULL, IOVA, PAGE, DMA_READ, &n));	/* page 0 cached, A set */
	pde = entry_at(IOVA, 2);
	ck_assert(*pde & FS_A);
	*pde &= ~FS_A;
	/* Page 0 hits the cache; the run does not set A in a table entry: the walk of page 1 does. */
	ck_assert_ptr_nonnull(dma__map(&as, NULL, IOVA, 16 * PAGE, DMA_READ, &n));
	ck_assert_uint_eq(n, PAGE);
	ck_assert_ptr_nonnull(dma__map(&as, NULL, IOVA + PAGE, 15 * PAGE, DMA_READ, &n));
	ck_assert_uint_eq(n, 15 * PAGE);
	ck_assert(*pde & FS_A);
}
END_TEST

START_TEST(run_stops_before_interrupt_range)
{
	uint64_t gpa, len;

	map_pages(IOVA, VTD_INTR_BASE - 2 * PAGE, 4, FS_RWU | FS_A | FS_D);
	vtd_env__enable(&env);
	ck_assert_int_eq(env.tr->translate_run(env.tr->opaque, SID, &(struct dma_attrs){ 0 }, IOVA, 4 * PAGE,
					       DMA_READ, &gpa, &len), 0);
	ck_assert_uint_eq(gpa, VTD_INTR_BASE - 2 * PAGE);
	ck_assert_uint_eq(len, 2 * PAGE);
	ck_assert_int_eq(env.tr->translate_run(env.tr->opaque, SID, &(struct dma_attrs){ 0 }, IOVA + 2 * PAGE,
					       PAGE, DMA_READ, &gpa, &len), -EFAULT);
	ck_assert_int_eq(vtd_env__take_fault(&env), VTD_FR_INTR_ADDR);
}
END_TEST

START_TEST(large_pages_join)
{
	const uint64_t big = 0x40000000ULL, m2 = 0x200000ULL;
	uint64_t gpa, len;

	for (unsigned i = 0; i < 3; i++)
		vtd_env__map(&env, fsroot, big + i * m2, m2 + i * m2, 2, FS_RWU);
	/* After the 2 MiB pages, 4 KiB pages continuing the same output. */
	map_pages(big + 3 * m2, 4 * m2, 4, FS_RWU);
	vtd_env__enable(&env);
	ck_assert_int_eq(env.tr->translate_run(env.tr->opaque, SID, &(struct dma_attrs){ 0 }, big + 0x1000,
					       3 * m2 + 4 * PAGE, DMA_WRITE, &gpa, &len), 0);
	ck_assert_uint_eq(gpa, m2 + 0x1000);
	/* The table entry above the 4 KiB pages has no A yet: setting it is the walk's, so the run ends. */
	ck_assert_uint_eq(len, 3 * m2 - 0x1000);
	*entry_at(big + 3 * m2, 2) |= FS_A;
	ck_assert_int_eq(env.tr->translate_run(env.tr->opaque, SID, &(struct dma_attrs){ 0 }, big + 0x1000,
					       3 * m2 + 4 * PAGE, DMA_WRITE, &gpa, &len), 0);
	ck_assert_uint_eq(len, 3 * m2 + 3 * PAGE);	/* want counted from big + 0x1000 */
	ck_assert_uint_eq(*entry_at(big + 2 * m2, 2) & (FS_A | FS_D), FS_A | FS_D);
	ck_assert_uint_eq(*entry_at(big + 3 * m2 + 3 * PAGE, 1) & (FS_A | FS_D), FS_A | FS_D);
}
END_TEST

/*
 * Random tables (holes, reserved bits, read-only and supervisor pages, non-contiguous outputs, large pages, cleared
 * A bits), random requests: a run-based dma__rw and a page-by-page one on the same unit give the same
 * result, the same bytes and the same fault record; and no run covers a page the page-by-page
 * translation maps elsewhere.
 */
#define RND_PAGES 1536	/* three 2 MiB regions */

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

START_TEST(random_runs_match_pages)
{
	struct dma_as ras = make_as(&run_tr), pas = make_as(&page_tr);
	static uint8_t b1[64 * PAGE], b2[64 * PAGE];
	uint64_t s = 0x9E3779B97F4A7C15ULL + _i;
	uint8_t *data = guest_mem__hva(&env.mem, DATA, 2 * RND_PAGES * PAGE);

	for (uint64_t i = 0; i < 2 * RND_PAGES * PAGE; i++)
		data[i] = (uint8_t)(i * 131 + (i >> 12));
	for (unsigned pg = 0; pg < RND_PAGES; pg++) {
		uint64_t r = rnd(&s), bits = FS_P;

		if (pg % 512 == 0 && r % 4 == 0) {	/* a 2 MiB page for the whole region */
			vtd_env__map(&env, fsroot, IOVA * 2 + pg * PAGE, DATA + pg * PAGE, 2, FS_RWU);
			pg += 511;
			continue;
		}
		if (r % 23 == 0)
			continue;				/* hole */
		bits |= (r >> 8) % 11 ? FS_RW : 0;
		bits |= (r >> 16) % 13 ? FS_US : 0;
		bits |= (r >> 24) % 3 ? FS_A : 0;
		bits |= (r >> 44) % 31 ? 0 : 1ULL << 51;	/* reserved (above the address width) */
		vtd_env__map(&env, fsroot, IOVA * 2 + pg * PAGE,
			     DATA + ((r >> 32) % 9 ? pg : (r >> 40) % (2 * RND_PAGES)) * PAGE, 1, bits);
	}
	vtd_env__enable(&env);

	for (int op = 0; op < 3000; op++) {
		uint64_t r = rnd(&s), iova = IOVA * 2 + (r % RND_PAGES) * PAGE + ((r >> 12) % 2 ? (r >> 16) % PAGE : 0);
		size_t len = 1 + (r >> 28) % sizeof(b1), n;
		enum dma_dir dir = (r >> 50) % 2 ? DMA_WRITE : DMA_READ;
		uint64_t f1, f2;
		int e1, e2, r1, r2;
		uint8_t *hva;

		if ((r >> 52) % 8 == 0)
			*entry_at(iova, 2) &= ~FS_A;		/* now and then an upper A to set again */
		memset(b1, 0xEE, len);
		memset(b2, 0xEE, len);
		e1 = dma__rw(&ras, NULL, iova, b1, len, dir);
		r1 = take_fault_at(&f1);
		e2 = dma__rw(&pas, NULL, iova, b2, len, dir);
		r2 = take_fault_at(&f2);
		ck_assert_msg(e1 == e2 && r1 == r2 && f1 == f2,
			      "op %d: iova %#llx len %zu dir %d: runs %d/fault %#x at %#llx, pages %d/%#x at %#llx", op,
			      (unsigned long long)iova, len, dir, e1, r1, (unsigned long long)f1, e2, r2,
			      (unsigned long long)f2);
		if (dir == DMA_READ)
			ck_assert_int_eq(memcmp(b1, b2, len), 0);

		/* Every page a run covers translates page by page to the same place. */
		hva = dma__map(&ras, NULL, iova, len, dir, &n);
		for (size_t off = 0; hva && off < n; off += PAGE - ((iova + off) & (PAGE - 1))) {
			uint64_t gpa;

			ck_assert_int_eq(vtd_env__xlate(&env, SID, NULL, iova + off, dir, &gpa), 0);
			ck_assert_ptr_eq(guest_mem__hva(&env.mem, gpa, 1), hva + off);
		}
		vtd_env__take_fault(&env);
	}
}
END_TEST

static Suite *vtd_run_suite(void)
{
	Suite *s = suite_create("vtd_run");
	TCase *tc = tcase_create("run");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, one_call_per_run);
	tcase_add_test(tc, run_ends_where_a_page_differs);
	tcase_add_test(tc, fault_left_to_the_page);
	tcase_add_test(tc, permissions_end_a_run);
	tcase_add_test(tc, run_needs_upper_accessed);
	tcase_add_test(tc, run_stops_before_interrupt_range);
	tcase_add_test(tc, large_pages_join);
	tcase_add_loop_test(tc, random_runs_match_pages, 0, 4);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(vtd_run_suite)
