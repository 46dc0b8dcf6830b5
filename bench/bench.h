/*
 * Helpers of the in-process benchmarks (bench/bench_*.c): device models driven directly on the host, at
 * native speed, with no KVM. They link with the VMM library and bench/bench-lib.c.
 *
 *	struct vm *vm = bench_vm__new(256 * MiB);	// RAM and both buses, no VM file descriptor
 *	struct bench_iommu io;
 *	bench_iommu__init(&io, &vm->mem, 16 * MiB, sid);	// VT-d unit, tables from 16 MiB up
 *	bench_iommu__map(&io, iova, gpa, len, 4 * KiB);		// first-stage 4 KiB (or 2 MiB) pages
 *	bench_iommu__enable(&io);				// SRTP (scalable mode) + TE
 *	pci_host__set_translator(host, vtd__translator(io.vtd));
 */
#ifndef MINIVMM_BENCH_BENCH_H
#define MINIVMM_BENCH_BENCH_H

#include <stdint.h>
#include <stdnoreturn.h>

struct guest_mem;
struct vm;
struct vtd;

/* Print "NAME: message" and exit 1: a broken run, not a slow one. */
noreturn void bench__die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
double bench__now_ns(void);
/* The median of @v (sorts it). */
double bench__median(double *v, int n);

/*
 * A struct vm without KVM: guest RAM (@ram bytes), the PIO and MMIO buses, and -1 for the KVM and VM
 * file descriptors, so a device model's KVM calls (ioeventfd, irqfd routes) fail and it takes its
 * fallbacks (a notify write reaches the MMIO handler, which signals the queue's eventfd). The benches
 * leave interrupts off (no MSI-X, VRING_AVAIL_F_NO_INTERRUPT) and poll, as the guest-side benches do.
 */
struct vm *bench_vm__new(uint64_t ram);
void bench_vm__free(struct vm *vm);

/* A VT-d unit in scalable mode translating requester @sid (RID_PASID 0, DID 1) with first-stage tables. */
struct bench_iommu {
	struct guest_mem *mem;
	struct vtd *vtd;
	uint64_t next_table, table_end, fsroot;
};

void bench_iommu__init(struct bench_iommu *io, struct guest_mem *mem, uint64_t tables, uint16_t sid);
/* Map [@iova, @iova + @len) to @gpa with @page-sized (4 KiB or 2 MiB) read/write pages, A and D set. */
void bench_iommu__map(struct bench_iommu *io, uint64_t iova, uint64_t gpa, uint64_t len, uint64_t page);
void bench_iommu__enable(struct bench_iommu *io);
void bench_iommu__exit(struct bench_iommu *io);

#endif
