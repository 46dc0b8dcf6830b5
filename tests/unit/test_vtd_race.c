/*
 * Tier 1 (Check, in-process, no KVM): no translation survives a completed invalidation.
 *
 * One thread (the "guest") flips a first-stage PTE between two pages, invalidates the page through
 * the invalidation queue and waits for the wait descriptor's status write, as a driver does before
 * reusing a page. Another thread (the "device") translates the page in a loop; whenever no flip was
 * in progress for the whole translation, the result must be the page the PTE names. A translation
 * that read the cache while the invalidation ran may hit the old IOTLB entry; it must not keep it
 * (in the per-thread L0) past the end of the invalidation (vtd-cache.h: inv_seq).
 *
 * The race is timing-dependent, so the test runs for a bounded time (RACE_MS; VTD_RACE_MS in the
 * environment overrides it for soak runs) and stops at the first stale result. On the code that
 * bumped inv_seq before removing entries it failed within a few milliseconds.
 *
 * The second case does the same through range translation (translate_run): four pages map to four
 * consecutive pages and the guest flips the third one between its place in the run and PAGE_B; a
 * stable mapping must give a run of exactly four pages, or of two.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "iommu/vtd-hw.h"
#include "tests/unit/check_main.h"
#include "tests/unit/vtd_testlib.h"

#define SID	0x0008
#define DID	1
#define IOVA	0x100000ULL
#define PAGE_A	0x200000ULL
#define PAGE_B	0x300000ULL
#define RACE_MS	2000

static struct vtd_env env;

/*
 * A seqlock over the mapping: odd while the guest changes the PTE and invalidates, even once the
 * invalidation completed. @expected is written before the even store, read after the even load.
 */
static unsigned phase;
static uint64_t expected;
static bool stop;
static bool use_run;	/* the device translates the four-page run, the guest flips its third page */
#define RUN_PAGE	(IOVA + 2 * 0x1000)

struct device_stats {
	unsigned long checks, stale, errors;
	uint64_t got, want;	/* the first stale result */
};

static void *device(void *arg)
{
	struct device_stats *st = arg;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		unsigned p = __atomic_load_n(&phase, __ATOMIC_ACQUIRE);
		uint64_t want = __atomic_load_n(&expected, __ATOMIC_RELAXED), gpa = 0, len = 0;
		int ret;

		if (use_run) {
			ret = env.tr->translate_run(env.tr->opaque, SID, &(struct dma_attrs){ 0 }, IOVA, 0x4000,
						    DMA_READ, &gpa, &len);
			/* Report the run as the output page of its third page, as the PTE would name it. */
			gpa = len == 0x4000 ? PAGE_A + 0x2000 : len == 0x2000 ? PAGE_B : ~0ULL;
		} else {
			ret = vtd_env__xlate(&env, SID, NULL, IOVA, DMA_READ, &gpa);
		}

		/* Translating during the flip too: that is what fills the L0 inside the race window. */
		if (p & 1)
			continue;
		/* Seqlock read side: the translation's loads complete before the re-check. */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&phase, __ATOMIC_RELAXED) != p)
			continue;
		st->checks++;
		if (ret) {
			st->errors++;
		} else if ((gpa & ~0xFFFULL) != want) {
			st->got = gpa;
			st->want = want;
			st->stale++;
			__atomic_store_n(&stop, true, __ATOMIC_RELEASE);
		}
	}
	return NULL;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(no_stale_translation_after_invalidation)
{
	const char *env_ms = getenv("VTD_RACE_MS");
	uint64_t ms = env_ms ? strtoull(env_ms, NULL, 0) : RACE_MS, deadline, fs, *pte;
	struct device_stats st = { 0 };
	unsigned long flips = 0;
	pthread_t t;

	uint64_t iova = _i ? RUN_PAGE : IOVA, page_a = _i ? PAGE_A + 0x2000 : PAGE_A;

	use_run = _i;
	stop = false;
	phase = 0;
	vtd_env__init(&env, NULL);
	fs = vtd_env__fs_domain(&env, SID, 0, DID);
	for (unsigned i = 0; i < 4; i++)
		pte = vtd_env__map(&env, fs, IOVA + i * 0x1000, PAGE_A + i * 0x1000, 1, FS_RWU | FS_A | FS_D);
	pte = vtd_env__map(&env, fs, iova, page_a, 1, FS_RWU | FS_A | FS_D);
	vtd_env__enable(&env);
	vtd_env__qi_enable(&env);
	expected = page_a;
	ck_assert_int_eq(pthread_create(&t, NULL, device, &st), 0);

	deadline = now_ms() + ms;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE) && now_ms() < deadline) {
		for (int i = 0; i < 256 && !__atomic_load_n(&stop, __ATOMIC_RELAXED); i++, flips++) {
			uint64_t next = expected == page_a ? PAGE_B : page_a;

			__atomic_store_n(&phase, phase + 1, __ATOMIC_RELEASE);
			__atomic_store_n(pte, next | FS_RWU | FS_A | FS_D, __ATOMIC_RELEASE);
			/* PASID-based IOTLB invalidation, page-selective (§6.5.2.4), then a wait descriptor. */
			vtd_env__qi_submit(&env, VTD_DESC_PIOTLB | (uint64_t)VTD_PIOTLB_G_PAGE << 4 |
					   (uint64_t)DID << 16, iova);
			ck_assert(vtd_env__qi_wait(&env));
			__atomic_store_n(&expected, next, __ATOMIC_RELAXED);
			__atomic_store_n(&phase, phase + 1, __ATOMIC_RELEASE);
			/* Leave the device a stable window to check the new mapping. */
			for (volatile int k = 0; k < 200; k++)
				;
		}
	}
	__atomic_store_n(&stop, true, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	vtd_env__exit(&env);

	if (st.stale)
		ck_abort_msg("after %lu flips: iova %#llx translated to %#llx, but the invalidated PTE says %#llx",
			     flips, (unsigned long long)iova, (unsigned long long)st.got,
			     (unsigned long long)st.want);
	ck_assert_uint_eq(st.errors, 0);
	/* Not vacuous: both sides made progress (thousands each in practice). */
	ck_assert_uint_gt(flips, 100);
	ck_assert_uint_gt(st.checks, 100);
}
END_TEST

static Suite *vtd_race_suite(void)
{
	Suite *s = suite_create("vtd_race");
	TCase *tc = tcase_create("race");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, no_stale_translation_after_invalidation, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(vtd_race_suite)
