/*
 * Micro-benchmarks of the VT-d model (a host program, no KVM): translate() with an IOTLB hit (one and
 * two threads; also with 1024 pages in turn, which miss the per-thread L0 in front of the shared
 * IOTLB), with a miss that walks 4 levels to a 4 KiB page, a 2 MiB page and a 1 GiB page, the same
 * 4 KiB miss nested (PGTT 011b: every first-stage table read and the output through a 4-level second
 * stage of 4 KiB pages, 24 table reads in all), a 4-level second-stage-only miss (PGTT 010b), and
 * the cost of domain-, PASID- and page-selective IOTLB invalidation against the number of cached
 * entries (of the invalidated domain, and of another domain). Each figure is the median of 15 runs.
 *
 *   make build/bench/bench_vtd && build/bench/bench_vtd      (bench/run.sh, `make bench`)
 * Targets: hit <= 10 ns, 4-level miss <= 80 ns.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iommu/vtd-priv.h"
#include "vmm/memory.h"
#include "vmm/util.h"

#define RUNS 15
#define SID 0x0010
#define TABLES (64 * MiB)

static struct guest_mem mem;
static struct vtd *vtd;
static const struct dma_translator *tr;
static uint64_t next_table = TABLES, fsroot;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static uint64_t *q(uint64_t gpa)
{
	uint64_t *p = guest_mem__hva(&mem, gpa, 8);

	if (!p) {
		fprintf(stderr, "bench_vtd: %#llx is not RAM\n", (unsigned long long)gpa);
		exit(1);
	}
	return p;
}

static uint64_t table(uint64_t gpa)
{
	if (!*q(gpa)) {
		memset(q(next_table), 0, 4096);
		*q(gpa) = next_table | 7;
		next_table += 4096;
	}
	return *q(gpa) & VTD_ADDR_MASK;
}

/* Map @iova at @level (A and D preset, as Linux does, so a walk writes nothing). */
static void map(uint64_t iova, uint64_t out, unsigned level)
{
	uint64_t t = fsroot;

	for (unsigned l = 4; l > level; l--)
		t = table(t + ((iova >> (12 + 9 * (l - 1))) & 511) * 8);
	*q(t + ((iova >> (12 + 9 * (level - 1))) & 511) * 8) = out | 0x67 | (level > 1 ? VTD_FS_PS : 0);
}

static void setup(unsigned iotlb_entries)
{
	struct vtd_options opt = { .fs1gp = true, .nested = true, .iotlb_entries = iotlb_entries };
	uint64_t root, ctx, dir, pt, s2root = 0x105000, s2next = 0x106000;

	if (guest_mem__init(&mem, 256 * MiB)) {
		fprintf(stderr, "bench_vtd: cannot map guest RAM\n");
		exit(1);
	}
	vtd = vtd__create(&mem, &opt, NULL, NULL);
	tr = vtd__translator(vtd);
	root = 0x100000, ctx = 0x101000, dir = 0x102000, pt = 0x103000, fsroot = 0x104000;
	*q(root) = ctx | 1;
	q(ctx + (SID & 0x7F) * 32)[0] = dir | 1;
	*q(dir) = pt | 1;
	q(pt)[0] = 1 | (uint64_t)VTD_PGTT_FS << 6;
	q(pt)[1] = 1;		/* DID 1 */
	q(pt)[2] = fsroot;
	/* PASID 1 of the same device, DID 2, same tables: "another domain" for the invalidation figures. */
	q(ctx + (SID & 0x7F) * 32)[0] |= VTD_CE0_PASIDE;
	q(pt + 64)[0] = 1 | (uint64_t)VTD_PGTT_FS << 6;
	q(pt + 64)[1] = 2;
	q(pt + 64)[2] = fsroot;
	/*
	 * PASID 2, DID 3: nested on a second stage that maps [0, 128 MiB) to itself with 4 KiB pages
	 * (4 levels), so each first-stage table read and the output each cost a 4-read second-stage walk.
	 */
	for (uint64_t a = 0; a < 128 * MiB; a += 4096) {
		uint64_t t = s2root;

		for (unsigned l = 4; l > 1; l--) {
			uint64_t *e = q(t + ((a >> (12 + 9 * (l - 1))) & 511) * 8);

			if (!*e) {
				memset(q(s2next), 0, 4096);
				*e = s2next | 3;
				s2next += 4096;
			}
			t = *e & VTD_ADDR_MASK;
		}
		*q(t + ((a >> 12) & 511) * 8) = a | 3;
	}
	if (s2next > TABLES) {
		fprintf(stderr, "bench_vtd: the second-stage tables overran the first stage's\n");
		exit(1);
	}
	q(pt + 128)[0] = 1 | 2 << 2 | (uint64_t)VTD_PGTT_NESTED << 6 | s2root;
	q(pt + 128)[1] = 3;
	q(pt + 128)[2] = fsroot;
	/* PASID 3, DID 4: the same second stage alone (PGTT 010b). */
	q(pt + 192)[0] = 1 | 2 << 2 | (uint64_t)VTD_PGTT_SS << 6 | s2root;
	q(pt + 192)[1] = 4;
	vtd__mmio(vtd, VTD_RTADDR_REG, &(uint64_t){ root | 1 << 10 }, 8, true);
	vtd__mmio(vtd, VTD_GCMD_REG, &(uint64_t){ VTD_GCMD_SRTP }, 4, true);
	vtd__mmio(vtd, VTD_GCMD_REG, &(uint64_t){ VTD_GCMD_TE }, 4, true);
}

static void teardown(void)
{
	vtd__destroy(vtd);
	guest_mem__exit(&mem);
	next_table = TABLES;
}

static void xlate(const struct dma_attrs *a, uint64_t iova)
{
	uint64_t gpa, len;

	if (tr->translate(tr->opaque, SID, a, iova, DMA_READ, &gpa, &len)) {
		fprintf(stderr, "bench_vtd: translation of %#llx failed\n", (unsigned long long)iova);
		exit(1);
	}
}

static const struct dma_attrs no_pasid, pasid1 = { .has_pasid = true, .pasid = 1 },
			       pasid2 = { .has_pasid = true, .pasid = 2 }, pasid3 = { .has_pasid = true, .pasid = 3 };

/* ns per hit, cycling over @pages cached pages (more than 16 do not fit in a thread's L0). */
static double hit_ns(int pages)
{
	const int n = 1 << 20;
	double t = now_ns();

	for (int i = 0; i < n; i++)
		xlate(&no_pasid, (uint64_t)(i & (pages - 1)) << 12);
	return (now_ns() - t) / n;
}

static void *hit_thread(void *arg)
{
	*(double *)arg = hit_ns(16);
	return NULL;
}

/* ns per miss: @n pages of 2^@shift bytes from @base, each translated once after a global IOTLB flush. */
static double miss_ns_as(const struct dma_attrs *a, int n, uint64_t base, unsigned shift)
{
	double t;

	vtd_iotlb__flush_all(vtd);
	t = now_ns();
	for (int i = 0; i < n; i++)
		xlate(a, base + ((uint64_t)i << shift));
	return (now_ns() - t) / n;
}

static double miss_ns(int n, uint64_t base, unsigned shift)
{
	return miss_ns_as(&no_pasid, n, base, shift);
}

enum inv_kind { INV_DOMAIN, INV_PASID, INV_PAGE };

/* Cache @n 4 KiB pages of DID 1 / PASID 0 (@mine) or of DID 2 / PASID 1, then time one invalidation. */
static double inv_ns(enum inv_kind kind, int n, bool mine)
{
	double t;

	vtd_iotlb__flush_all(vtd);
	for (int i = 0; i < n; i++)
		xlate(mine ? &no_pasid : &pasid1, (uint64_t)i << 12);
	t = now_ns();
	switch (kind) {
	case INV_DOMAIN:
		vtd_iotlb__flush_did(vtd, 1);
		break;
	case INV_PASID:
		vtd_iotlb__flush_pasid(vtd, 1, 0);
		break;
	case INV_PAGE:
		vtd_iotlb__flush_range(vtd, 1, 0, (uint64_t)(n / 2) << 12, 0);
		break;
	}
	t = now_ns() - t;
	if (mine && kind != INV_PAGE && vtd_iotlb__count(vtd)) {
		fprintf(stderr, "bench_vtd: invalidation left entries behind\n");
		exit(1);
	}
	return t;
}

int main(void)
{
	static const char *const kind_name[] = { "domain-selective", "PASID-selective", "page-selective" };
	static const int counts[] = { 16, 256, 1024, 4096, 16384 };
	double r[RUNS], thr[2];
	pthread_t th[2];

	setup(0);
	for (uint64_t i = 0; i < 2048; i++) {
		map(i << 12, 0x1000000 + (i << 12), 1);
		map(0x40000000 + (i << 21), 0x200000ULL * (i & 511), 2);
		map(0x10000000000ULL + (i << 30), 0x40000000ULL * (i & 3), 3);
	}
	for (int i = 0; i < 1024; i++)
		xlate(&no_pasid, (uint64_t)i << 12);

	for (int k = 0; k < RUNS; k++)
		r[k] = hit_ns(16);
	printf("vtd: translate, IOTLB hit                          %6.1f ns\n", median(r, RUNS));
	for (int k = 0; k < RUNS; k++)
		r[k] = hit_ns(1024);
	printf("vtd: translate, IOTLB hit, not in the thread's L0  %6.1f ns\n", median(r, RUNS));
	for (int k = 0; k < 2; k++)
		pthread_create(&th[k], NULL, hit_thread, &thr[k]);
	for (int k = 0; k < 2; k++)
		pthread_join(th[k], NULL);
	printf("vtd: translate, IOTLB hit, 2 threads at once      %6.1f ns per thread\n", MAX(thr[0], thr[1]));
	for (int k = 0; k < RUNS; k++)
		r[k] = miss_ns(2048, 0, 12);
	printf("vtd: translate, miss: 4-level walk to 4 KiB page  %6.1f ns\n", median(r, RUNS));
	for (int k = 0; k < RUNS; k++)
		r[k] = miss_ns_as(&pasid2, 2048, 0, 12);
	printf("vtd: translate, miss: nested, 4 KiB over 4 KiB    %6.1f ns (4 first-stage reads, 5 second-stage walks)\n",
	       median(r, RUNS));
	for (int k = 0; k < RUNS; k++)
		r[k] = miss_ns_as(&pasid3, 2048, 0x1000000, 12);
	printf("vtd: translate, miss: second stage, 4 KiB, 4 levels %5.1f ns\n", median(r, RUNS));
	for (int k = 0; k < RUNS; k++)
		r[k] = miss_ns(2048, 0x40000000, 21);
	printf("vtd: translate, miss: walk to a 2 MiB page        %6.1f ns\n", median(r, RUNS));
	for (int k = 0; k < RUNS; k++)
		r[k] = miss_ns(2048, 0x10000000000ULL, 30);
	printf("vtd: translate, miss: walk to a 1 GiB page        %6.1f ns\n", median(r, RUNS));
	teardown();

	/* Invalidation: a 16Ki-entry IOTLB, 4 KiB pages mapped 0..16Ki. */
	setup(16384);
	for (uint64_t i = 0; i < 16384; i++)
		map(i << 12, 0x1000000 + (i << 12), 1);
	printf("vtd: IOTLB invalidation, ns for one, against the number of cached 4 KiB entries:\n");
	printf("vtd:   %-17s %-12s", "granularity", "entries of");
	for (unsigned c = 0; c < ARRAY_SIZE(counts); c++)
		printf(" %7d", counts[c]);
	printf("\n");
	for (int kind = INV_DOMAIN; kind <= INV_PAGE; kind++) {
		for (int mine = 1; mine >= 0; mine--) {
			printf("vtd:   %-17s %-12s", kind_name[kind], mine ? "that domain" : "another one");
			for (unsigned c = 0; c < ARRAY_SIZE(counts); c++) {
				for (int k = 0; k < RUNS; k++)
					r[k] = inv_ns(kind, counts[c], mine);
				printf(" %7.0f", median(r, RUNS));
			}
			printf("\n");
		}
	}
	teardown();
	return 0;
}
