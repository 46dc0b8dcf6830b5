// Tier 2 (and a guest half of bench/guest.sh): DMA-engine throughput. The engine copies the same
// 64 KiB buffer COUNT times, each command rung and polled to its end; the PM timer gives MB/s. With a
// VT-d unit (--viommu flts) the buffers are mapped at IOVAs far from their guest physical addresses,
// with 4 KiB pages (pages=2m: one 2 MiB page each) and translation on; without one the engine gets
// guest physical addresses. Every command must end DONE and the data must arrive, so the run is also a
// test. Command line (--cmdline): count=N (default 200), size=BYTES (default 65536), pages=4k|2m.
// TEST-ARGS: --dma-engine
// TEST-ARGS: --viommu flts --dma-engine
// TEST-ARGS: --viommu flts --dma-engine --cmdline "pages=2m count=100 size=1048576"
// TEST-EXIT: 0
// TEST-EXPECT: PASS: dma_bench
#include "dmae.h"
#include "gvtd.h"

#define SRC_GPA		0x02000000ULL	/* 32 MiB */
#define DST_GPA		0x02400000ULL	/* 36 MiB: both 2 MiB aligned */
#define POOL		0x03000000ULL	/* VT-d tables */
#define POOL_SIZE	0x00100000ULL
#define IOVA_SRC	0x0000123400000000ULL
#define IOVA_DST	0x0000567800000000ULL
#define MAX_SIZE	(2u << 20)

static unsigned arg(const char *key, unsigned def)
{
	char buf[16];

	return platform__cmdline_get(key, buf, sizeof(buf)) ? strtoul(buf, NULL, 0) : def;
}

/* Map [iova, iova + size) -> [gpa, ...) with 4 KiB leaves or one 2 MiB leaf. */
static void map_range(struct gvtd *v, uint64_t fs, uint64_t iova, uint64_t gpa, uint32_t size, bool huge, uint64_t bits)
{
	if (huge) {
		gvtd__map(v, fs, iova, gpa, 2, bits);
		return;
	}
	for (uint32_t off = 0; off < size; off += 4096)
		gvtd__map(v, fs, iova + off, gpa + off, 1, bits);
}

int main(void)
{
	unsigned count = arg("count", 200), size = arg("size", 65536);
	char pages[8] = "4k";
	bool huge, translated = platform.has_iommu;
	uint64_t src = SRC_GPA, dst = DST_GPA, us;
	struct timeout t;
	struct dmae e;
	struct gvtd v;

	platform__cmdline_get("pages", pages, sizeof(pages));
	huge = !strcmp(pages, "2m");
	TEST_ASSERT_MSG(huge || !strcmp(pages, "4k"), "pages=%s: expected 4k or 2m", pages);
	TEST_ASSERT_MSG(size >= 4096 && size <= MAX_SIZE && !(size & 4095), "size=%u: 4 KiB .. 2 MiB, whole pages",
			size);
	TEST_ASSERT(count > 0);
	TEST_ASSERT_MSG(dmae__find(&e), "no DMA engine in the device tree (run with --dma-engine)");
	for (uint32_t i = 0; i < size / 8; i++)
		gvtd__q(SRC_GPA)[i] = 0x0123456789abcdefULL * (i + 1);
	memset(gvtd__q(DST_GPA), 0, size);

	if (translated) {
		uint64_t fs;

		gvtd__init(&v, POOL, POOL_SIZE);
		fs = gvtd__fs_domain(&v, e.bdf, 0, 1, 0);
		map_range(&v, fs, IOVA_SRC, SRC_GPA, size, huge, VTD_FS_P | VTD_FS_US);
		map_range(&v, fs, IOVA_DST, DST_GPA, size, huge, GFS_RWU);
		gvtd__enable(&v);
		src = IOVA_SRC;
		dst = IOVA_DST;
	}

	/* One command sets the registers; after that each copy is one doorbell write and the polls. */
	TEST_EQ(dmae__run(&e, DMAE_CMD_COPY, src, dst, size, 0), DMAE_STATUS_DONE);
	TEST_ASSERT_MSG(!memcmp(gvtd__q(SRC_GPA), gvtd__q(DST_GPA), size), "the first copy did not arrive");
	memset(gvtd__q(DST_GPA), 0, size);
	timeout__start(&t, 0);
	for (unsigned i = 0; i < count; i++) {
		uint32_t st;

		dmae__wr64(&e, DMAE_CMD, DMAE_CMD_COPY | 1ULL << 32);
		st = dmae__wait(&e, 2000);
		TEST_ASSERT_MSG(st == DMAE_STATUS_DONE, "copy %u: status 0x%x", i, st);
		if (i % 32 == 31)
			timeout__elapsed_us(&t);	/* poll the 24-bit PM timer before it wraps */
	}
	us = timeout__elapsed_us(&t);
	TEST_ASSERT_MSG(!memcmp(gvtd__q(SRC_GPA), gvtd__q(DST_GPA), size), "copied data differs");
	TEST_EQ(dmae__rd64(&e, DMAE_COMPLETED), count + 1);
	if (!us)
		us = 1;
	printf("dma_bench: %s, %s pages: %u copies of %u bytes in %llu us: %llu MB/s, %llu us per copy\n",
	       translated ? "translated" : "untranslated", translated ? pages : "no", count, size,
	       (unsigned long long)us, (unsigned long long)((uint64_t)count * size / us),
	       (unsigned long long)(us / count));
	test__pass("dma_bench");
}
