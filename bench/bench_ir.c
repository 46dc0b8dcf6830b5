/*
 * Micro-benchmark of interrupt remapping (a host program, no KVM): what the VMM adds to one interrupt
 * when the vIOMMU remaps it. vtd__remap_msi() for a device's MSI in remappable format (IEC hit, with
 * source-id verification), for an IOAPIC redirection entry's message, and for the same messages with
 * remapping off (GSTS.IRES = 0, the unremapped path); plus an IEC miss (the IRTE read from guest RAM).
 * The delivery itself (KVM_SIGNAL_MSI or an irqfd) is the same ioctl either way. Median of 15 runs.
 *
 *   make build/bench/bench_ir && build/bench/bench_ir      (bench/run.sh, `make bench`)
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench/bench.h"
#include "iommu/vtd-hw.h"
#include "iommu/vtd.h"
#include "vmm/memory.h"
#include "vmm/util.h"

#define RUNS	15
#define N	200000
#define SID	0x0018
#define IRT	(1 * MiB)
#define IOAPIC_SID 0xFF00

static struct guest_mem mem;
static struct vtd *vtd;

static void wr(unsigned off, uint64_t v, unsigned len)
{
	vtd__mmio(vtd, off, &v, len, true);
}

static uint64_t rd(unsigned off)
{
	uint64_t v = 0;

	vtd__mmio(vtd, off, &v, 4, false);
	return v;
}

static double run(uint16_t sid, uint64_t addr, uint32_t data, bool miss)
{
	double t[RUNS];

	for (int r = 0; r < RUNS; r++) {
		double t0 = bench__now_ns();

		for (int i = 0; i < N; i++) {
			uint64_t a = addr;
			uint32_t d = data;

			if (miss)
				wr(VTD_GCMD_REG, (rd(VTD_GSTS_REG) & VTD_GCMD_IRE) | VTD_GCMD_SIRTP, 4);
			if (vtd__remap_msi(vtd, sid, &a, &d, true))
				bench__die("bench_ir: remapping failed");
		}
		t[r] = (bench__now_ns() - t0) / N;
	}
	return bench__median(t, RUNS);
}

int main(void)
{
	struct vtd_options opt = { .fs1gp = true, .ir = true };
	uint64_t *irte, dev = 0xFEE00000 | 5 << 5 | VTD_IR_ADDR_FMT, io = 0xFEE00000 | 6 << 5 | VTD_IR_ADDR_FMT;
	double on_dev, on_io, off_dev, off_io, miss;

	if (guest_mem__init(&mem, 16 * MiB))
		bench__die("bench_ir: no memory");
	vtd = vtd__create(&mem, &opt, NULL, NULL);
	if (!vtd)
		bench__die("bench_ir: no VT-d unit");
	irte = guest_mem__hva(&mem, IRT, 4096);
	irte[10] = VTD_IRTE_P | 0x41ULL << 16 | 3ULL << 32;
	irte[11] = SID | (uint64_t)VTD_SVT_SID << 18;
	irte[12] = VTD_IRTE_P | VTD_IRTE_TM | 0x42ULL << 16;
	irte[13] = IOAPIC_SID | (uint64_t)VTD_SVT_SID << 18;
	wr(VTD_IRTA_REG, IRT | VTD_IRTA_EIME | 7, 8);
	wr(VTD_GCMD_REG, VTD_GCMD_SIRTP, 4);
	off_dev = run(SID, 0xFEE03000, 0x41, false);
	off_io = run(IOAPIC_SID, 0xFEE00000, 0x8042, false);
	wr(VTD_GCMD_REG, VTD_GCMD_IRE, 4);
	on_dev = run(SID, dev, 0, false);
	on_io = run(IOAPIC_SID, io, 0x8042, false);
	/* An IEC miss: SIRTP (which flushes the IEC) before each, minus the SIRTP alone. */
	miss = run(SID, dev, 0, true);
	{
		double t[RUNS];

		for (int r = 0; r < RUNS; r++) {
			double t0 = bench__now_ns();

			for (int i = 0; i < N; i++)
				wr(VTD_GCMD_REG, VTD_GCMD_IRE | VTD_GCMD_SIRTP, 4);
			t[r] = (bench__now_ns() - t0) / N;
		}
		miss -= bench__median(t, RUNS);
	}
	printf("interrupt remapping, VMM time per interrupt (delivery ioctl not included, the same either way):\n");
	printf("  device MSI   unremapped (IRES=0) %6.1f ns   remapped, IEC hit %6.1f ns   (+%.1f ns)\n", off_dev,
	       on_dev, on_dev - off_dev);
	printf("  IOAPIC entry unremapped (IRES=0) %6.1f ns   remapped, IEC hit %6.1f ns   (+%.1f ns)\n", off_io,
	       on_io, on_io - off_io);
	printf("  device MSI   remapped, IEC miss (IRTE read from guest RAM) %6.1f ns\n", miss);
	vtd__destroy(vtd);
	return 0;
}
