#!/bin/sh
# Tier 3 benchmark (not a test: nothing here fails on a number), run in L1 by scripts/lab.sh bench:
# minivmm against QEMU 10 (-accel kvm) as the L2 VMM, on the same Linux workload with the vIOMMU on both
# (minivmm --viommu flts; QEMU -device intel-iommu,x-scalable-mode=on,x-flts=on and virtio-blk with
# iommu_platform=on), guest command line intel_iommu=on,sm_on quiet:
#   boot to userspace   wall clock from the VMM's start to the first line of L2's /init (l2_boot)
#   virtio-blk reads    dd of LAB_BENCH_MIB MiB with bs=1M iflag=direct in L2 (tests/lab/l2/bench.sh),
#                       so every byte is DMA through the vIOMMU
# LAB_BENCH_RUNS boots per VMM (default 3), alternating, numbered from LAB_BENCH_FIRST (default 1: an
# L1 that died leaves the remaining runs to a new one). One L2 vCPU: with two, TCG's emulated SVM breaks
# I/O-heavy boots (tests/lab/README.md).
# Prints one "BENCH run=N vmm=V ..." line per boot as it ends; scripts/lab.sh bench (scripts/lab/bench.sh)
# makes the medians and ratios from the boots of every L1 run, so a dead L1 loses no finished boot.
LAB_TESTS_DIR=$(cd "$(dirname "$0")" && pwd)
export LAB_TESTS_DIR
. "$LAB_TESTS_DIR/lib.sh"

RUNS=${LAB_BENCH_RUNS:-3}
FIRST=${LAB_BENCH_FIRST:-1}
MIB=${LAB_BENCH_MIB:-256}
LAB_L2_QUIET=1
LAB_WORK=$LAB_WORK/bench
mkdir -p "$LAB_WORK"
# A disk of real (zero) pages, so that both VMMs copy data rather than read holes.
dd if=/dev/zero of="$LAB_WORK/disk.img" bs=1M count=$((MIB + 16)) 2>/dev/null

echo "BENCH config: runs $FIRST-$((FIRST + RUNS - 1)) per VMM, 1 vCPU, 512M, vIOMMU on, $MIB MiB O_DIRECT reads, L2 quiet"
for r in $(seq "$FIRST" $((FIRST + RUNS - 1))); do
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
	done
done

rm -f "$LAB_WORK/disk.img"
