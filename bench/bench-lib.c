/* Helpers of the in-process benchmarks: see bench.h. */
#include "bench/bench.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iommu/vtd-hw.h"
#include "iommu/vtd.h"
#include "vmm/memory.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define TABLE_SPACE	(4 * MiB)	/* 1023 page-table pages: 2 GiB of 4 KiB mappings */

void bench__die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

double bench__now_ns(void)
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

double bench__median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void no_stop(struct vm *vm, int status, const char *reason)
{
	bench__die("a device stopped the machine (%d): %s", status, reason ? reason : "");
}

struct vm *bench_vm__new(uint64_t ram)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		bench__die("out of memory");
	vm->kvm_fd = vm->vm_fd = -1;
	bus__init(&vm->pio, "pio");
	bus__init(&vm->mmio, "mmio");
	pthread_mutex_init(&vm->irq.lock, NULL);
	pthread_mutex_init(&vm->slot_lock, NULL);
	vm->stop = no_stop;
	if (guest_mem__init(&vm->mem, ram))
		bench__die("cannot map %llu MiB of guest RAM", (unsigned long long)(ram / MiB));
	return vm;
}

void bench_vm__free(struct vm *vm)
{
	guest_mem__exit(&vm->mem);
	bus__exit(&vm->pio);
	bus__exit(&vm->mmio);
	pthread_mutex_destroy(&vm->irq.lock);
	pthread_mutex_destroy(&vm->slot_lock);
	free(vm);
}

static uint64_t *qword(struct bench_iommu *io, uint64_t gpa)
{
	uint64_t *p = guest_mem__hva(io->mem, gpa, 8);

	if (!p)
		bench__die("table address %#llx is not RAM", (unsigned long long)gpa);
	return p;
}

static uint64_t new_table(struct bench_iommu *io)
{
	uint64_t t = io->next_table;

	if (t >= io->table_end)
		bench__die("out of VT-d table space");
	io->next_table += 4096;
	memset(qword(io, t), 0, 4096);
	return t;
}

void bench_iommu__init(struct bench_iommu *io, struct guest_mem *mem, uint64_t tables, uint16_t sid)
{
	struct vtd_options opt = { .fs1gp = true };
	uint64_t root, ctx, dir, pt;

	memset(io, 0, sizeof(*io));
	io->mem = mem;
	io->next_table = tables;
	io->table_end = tables + TABLE_SPACE;
	io->vtd = vtd__create(mem, &opt, NULL, NULL);
	if (!io->vtd)
		bench__die("cannot create the VT-d unit");
	/* Scalable mode (§9.2-9.6): root entry of bus 0 -> lower context table -> PASID directory -> table. */
	root = new_table(io), ctx = new_table(io), dir = new_table(io), pt = new_table(io);
	io->fsroot = new_table(io);
	*qword(io, root + 16 * (sid >> 8)) = ctx | 1;
	*qword(io, ctx + 32 * (sid & 0x7F)) = dir | 1;	/* devfn < 128: the lower table */
	*qword(io, dir) = pt | 1;
	/* PASID entry 0 (RID_PASID): present, PGTT first-stage, DID 1, 4-level tables at fsroot. */
	*qword(io, pt) = 1 | (uint64_t)VTD_PGTT_FS << 6;
	*qword(io, pt + 8) = 1;
	*qword(io, pt + 16) = io->fsroot;
	vtd__mmio(io->vtd, VTD_RTADDR_REG, &(uint64_t){ root | 1 << 10 }, 8, true);	/* TTM 01: scalable */
}

void bench_iommu__map(struct bench_iommu *io, uint64_t iova, uint64_t gpa, uint64_t len, uint64_t page)
{
	const uint64_t rw = VTD_FS_P | VTD_FS_RW | VTD_FS_US | VTD_FS_A | VTD_FS_D;
	unsigned leaf = page == 2 * MiB ? 2 : 1;

	if ((page != 4 * KiB && page != 2 * MiB) || !IS_ALIGNED(iova | gpa | len, page))
		bench__die("bad mapping %#llx -> %#llx", (unsigned long long)iova, (unsigned long long)gpa);
	for (uint64_t off = 0; off < len; off += page) {
		uint64_t t = io->fsroot, va = iova + off;

		for (unsigned l = 4; l > leaf; l--) {
			uint64_t *e = qword(io, t + ((va >> (12 + 9 * (l - 1))) & 511) * 8);

			if (!*e)
				*e = new_table(io) | VTD_FS_P | VTD_FS_RW | VTD_FS_US | VTD_FS_A;
			t = *e & VTD_ADDR_MASK;
		}
		*qword(io, t + ((va >> (12 + 9 * (leaf - 1))) & 511) * 8) =
			(gpa + off) | rw | (leaf > 1 ? VTD_FS_PS : 0);
	}
}

void bench_iommu__enable(struct bench_iommu *io)
{
	uint32_t sts = 0;

	vtd__mmio(io->vtd, VTD_GCMD_REG, &(uint32_t){ VTD_GCMD_SRTP }, 4, true);
	vtd__mmio(io->vtd, VTD_GCMD_REG, &(uint32_t){ VTD_GCMD_TE }, 4, true);
	vtd__mmio(io->vtd, VTD_GSTS_REG, &sts, 4, false);
	if (!(sts & VTD_GSTS_TES))
		bench__die("the VT-d unit did not enable translation (GSTS %#x)", sts);
}

void bench_iommu__exit(struct bench_iommu *io)
{
	vtd__destroy(io->vtd);
	io->vtd = NULL;
}
