#!/bin/sh
# Tier 3 benchmark (not a test: nothing here fails on a number), run in L1 by scripts/lab.sh bench:
# minivmm against QEMU 10 (-accel kvm) as the L2 VMM, on the same Linux workload with the vIOMMU on both
# (minivmm --viommu flts; QEMU -device intel-iommu,x-scalable-mode=on,x-flts=on and virtio-blk with
# iommu_platform=on), guest command line intel_iommu=on,sm_on quiet:
#   boot to userspace   wall clock from the VMM's start to the first line of L2's /init (l2_boot)
#   virtio-blk reads    dd of LAB_BENCH_MIB MiB with bs=1M iflag=direct in L2 (tests/lab/l2/bench.sh),
#                       so every byte is DMA through the vIOMMU
# LAB_BENCH_RUNS boots per VMM (default 3), alternating; medians, and minivmm / QEMU as ratios. One L2
# vCPU: with two, TCG's emulated SVM breaks I/O-heavy boots (tests/lab/README.md).
# Prints "BENCH ..." lines (one per boot, then the summary) that scripts/lab.sh bench shows.
LAB_TESTS_DIR=$(cd "$(dirname "$0")" && pwd)
export LAB_TESTS_DIR
. "$LAB_TESTS_DIR/lib.sh"

RUNS=${LAB_BENCH_RUNS:-3}
MIB=${LAB_BENCH_MIB:-256}
LAB_L2_QUIET=1
LAB_WORK=$LAB_WORK/bench
mkdir -p "$LAB_WORK"
# A disk of real (zero) pages, so that both VMMs copy data rather than read holes.
dd if=/dev/zero of="$LAB_WORK/disk.img" bs=1M count=$((MIB + 16)) 2>/dev/null

for vmm in minivmm qemu; do : >"$LAB_WORK/$vmm.boot"; : >"$LAB_WORK/$vmm.read"; done
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }

echo "BENCH config: $RUNS boots per VMM, 1 vCPU, 512M, vIOMMU on, $MIB MiB O_DIRECT reads, L2 quiet"
for r in $(seq "$RUNS"); do
	for vmm in minivmm qemu; do
		LAB_VMM=$vmm
		l2_boot bench-$vmm-$r 1 512M flts "intel_iommu=on,sm_on lab.do=bench lab.bench=$MIB" "disk:$LAB_WORK/disk.img"
		b=$(l2_fact bench-$vmm-$r bench-read)
		mbs=$(echo "$b" | sed -n 's/.*rc=0 .*mib_per_s=\([0-9.]*\).*/\1/p')
		if [ "$L2_RC" != 0 ] || [ -z "$L2_USERSPACE_SECS" ] || [ -z "$mbs" ]; then
			echo "BENCH run=$r vmm=$vmm FAILED: exit $L2_RC, userspace '${L2_USERSPACE_SECS}', read '$b'"
			tr -d '\r' <"$LAB_WORK/bench-$vmm-$r.console" | tail -n 5 | sed 's/^/    | /'
			continue
		fi
		echo "BENCH run=$r vmm=$vmm userspace_s=$L2_USERSPACE_SECS read_mib_s=$mbs ($b)"
		echo "$L2_USERSPACE_SECS" >>"$LAB_WORK/$vmm.boot"
		echo "$mbs" >>"$LAB_WORK/$vmm.read"
	done
done

minivmm_boot=$(median <"$LAB_WORK/minivmm.boot") qemu_boot=$(median <"$LAB_WORK/qemu.boot")
minivmm_read=$(median <"$LAB_WORK/minivmm.read") qemu_read=$(median <"$LAB_WORK/qemu.read")
minivmm_n=$(wc -l <"$LAB_WORK/minivmm.boot") qemu_n=$(wc -l <"$LAB_WORK/qemu.boot")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }'; }
echo "BENCH summary (medians; minivmm $minivmm_n boots, QEMU $qemu_n boots)"
printf 'BENCH %-36s %10s %10s %16s\n' "figure" "minivmm" "QEMU 10" "minivmm/QEMU"
printf 'BENCH %-36s %10s %10s %16s\n' "boot to userspace (s, lower is better)" "${minivmm_boot:--}" "${qemu_boot:--}" \
	"$(ratio "$minivmm_boot" "$qemu_boot")"
printf 'BENCH %-36s %10s %10s %16s\n' "virtio-blk read via vIOMMU (MiB/s)" "${minivmm_read:--}" "${qemu_read:--}" \
	"$(ratio "$minivmm_read" "$qemu_read")"
rm -f "$LAB_WORK/disk.img"
