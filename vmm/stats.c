#include "vmm/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/memory.h"

bool stats__enabled;
static int64_t t0_ns;
static int64_t first_exit_ns = -1;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void stats__init(void)
{
	const char *t0 = getenv("MINIVMM_BENCH_T0_NS");

	if (!t0)
		return;
	t0_ns = strtoll(t0, NULL, 10);
	stats__enabled = t0_ns > 0;
}

void stats__first_exit_slow(void)
{
	int64_t expected = -1;

	__atomic_compare_exchange_n(&first_exit_ns, &expected, now_ns(), false, __ATOMIC_RELAXED,
				    __ATOMIC_RELAXED);
}

static long vm_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Resident pages of guest RAM, counted with mincore(2). */
static long guest_resident_kib(const struct guest_mem *mem)
{
	long page = sysconf(_SC_PAGESIZE), pages = 0;
	unsigned char vec[4096];

	for (int i = 0; i < mem->nr; i++) {
		for (uint64_t off = 0; off < mem->r[i].size; off += sizeof(vec) * page) {
			uint64_t len = mem->r[i].size - off;
			if (len > sizeof(vec) * page)
				len = sizeof(vec) * page;
			if (mincore(mem->r[i].hva + off, len, vec))
				return -1;
			for (uint64_t k = 0; k < (len + page - 1) / page; k++)
				pages += vec[k] & 1;
		}
	}
	return pages * page / 1024;
}

void stats__report(const struct guest_mem *mem)
{
	long rss, guest;

	if (!stats__enabled)
		return;
	rss = vm_rss_kib();
	guest = guest_resident_kib(mem);
	fprintf(stderr, "minivmm: stats: first_exit_us=%lld end_us=%lld rss_kib=%ld guest_ram_kib=%ld vmm_kib=%ld\n",
		first_exit_ns < 0 ? -1LL : (long long)(first_exit_ns - t0_ns) / 1000,
		(long long)(now_ns() - t0_ns) / 1000, rss, guest, rss - guest);
}
