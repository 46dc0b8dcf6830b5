#!/bin/sh
# Tier 3 benchmark (not a test: nothing here fails on a number), run in L1 by scripts/lab.sh bench:
# minivmm against QEMU 10 (-accel kvm) as the L2 VMM, on the same Linux workload, with the vIOMMU on
# (minivmm --viommu flts; QEMU -device intel-iommu,x-scalable-mode=on,x-flts=on and virtio-blk with
# iommu_platform=on; guest intel_iommu=on,sm_on) and off. The disk is L1's bench NVMe (its own device,
# scripts/lab/l1.sh), opened with O_DIRECT and io_uring by both VMMs; guest command line quiet.
#   boot to userspace   wall clock from the VMM's start to the first line of L2's /init (l2_boot)
#   virtio-blk reads    dd of LAB_BENCH_MIB MiB with bs=1M iflag=direct in L2 (tests/lab/l2/bench.sh)
#   fio                 4 KiB random reads at iodepth 1 and 32 (IOPS), 1 MiB sequential reads and
#                       writes (MiB/s), LAB_BENCH_FIO_SECS (default 5) seconds each, in L2
# LAB_BENCH_RUNS runs (default 3), each booting every VMM in both modes, numbered from LAB_BENCH_FIRST
# (default 1: an L1 that died leaves the remaining runs to a new one). One L2 vCPU: with two, TCG's
# emulated SVM breaks I/O-heavy boots (tests/lab/README.md).
# Prints one "BENCH run=N vmm=V viommu=M ..." line per boot as it ends; scripts/lab.sh bench
# (scripts/lab/bench.sh) makes the medians and ratios from the boots of every L1 run, so a dead L1
# loses no finished boot.
LAB_TESTS_DIR=$(cd "$(dirname "$0")" && pwd)
export LAB_TESTS_DIR
. "$LAB_TESTS_DIR/lib.sh"

RUNS=${LAB_BENCH_RUNS:-3}
FIRST=${LAB_BENCH_FIRST:-1}
MIB=${LAB_BENCH_MIB:-256}
LAB_L2_QUIET=1
SECS=${LAB_BENCH_FIO_SECS:-5}
LAB_WORK=$LAB_WORK/bench
mkdir -p "$LAB_WORK"
# The bench NVMe and the fio disk, by their serials (scripts/lab/l1.sh).
DISK="" TOOLS=""
for c in /sys/class/nvme/nvme*; do
	[ "$(tr -d ' ' <"$c/serial" 2>/dev/null)" = minivmm-bench ] || continue
	for n in "$c"/nvme*n*; do [ -e "$n" ] && DISK=/dev/$(basename "$n" | sed 's/c[0-9]*n/n/') && break; done
done
for d in /sys/block/vd*; do
	[ "$(cat "$d/serial" 2>/dev/null)" = minivmm-fio-tools ] && TOOLS=/dev/$(basename "$d")
done
if [ ! -b "$DISK" ] || [ ! -b "$TOOLS" ]; then
	echo "BENCH error: no bench NVMe ('$DISK') or fio disk ('$TOOLS') in L1 (scripts/lab/l1.sh)"
	exit 1
fi

echo "BENCH config: runs $FIRST-$((FIRST + RUNS - 1)), 1 vCPU, 512M, vIOMMU flts and off, disk $DISK (L1's NVMe," \
	"O_DIRECT, io_uring), $MIB MiB O_DIRECT reads, fio ${SECS} s per job, L2 quiet"
for r in $(seq "$FIRST" $((FIRST + RUNS - 1))); do
	for mode in flts off; do
		for vmm in minivmm qemu; do
			LAB_VMM=$vmm
			n=bench-$vmm-$mode-$r
			a="lab.do=bench lab.bench=$MIB lab.fio=$SECS"
			[ $mode = flts ] && a="intel_iommu=on,sm_on $a"
			l2_boot $n 1 512M $mode "$a" "disk:$DISK,direct,aio=io_uring disk:$TOOLS,readonly"
			b=$(l2_fact $n bench-read)
			mbs=$(echo "$b" | sed -n 's/.*rc=0 .*mib_per_s=\([0-9.]*\).*/\1/p')
			if [ "$L2_RC" != 0 ] || [ -z "$L2_USERSPACE_SECS" ] || [ -z "$mbs" ]; then
				echo "BENCH run=$r vmm=$vmm viommu=$mode FAILED: exit $L2_RC, userspace '${L2_USERSPACE_SECS}', read '$b'"
				tr -d '\r' <"$LAB_WORK/$n.console" | tail -n 5 | sed 's/^/    | /'
				continue
			fi
			f=""
			for j in randread-qd1:read_iops randread-qd32:read_iops seqread:read_kib_s seqwrite:write_kib_s; do
				v=$(l2_fact $n fio-${j%%:*} | sed -n "s/^rc=0 .*${j#*:}=\([0-9.]*\).*/\1/p")
				case ${j#*:} in *kib_s) v=$(awk -v k="$v" 'BEGIN { if (k != "") printf "%.1f", k / 1024 }') ;; esac
				f="$f ${j%%:*}=${v:--}"
			done
			echo "BENCH run=$r vmm=$vmm viommu=$mode userspace_s=$L2_USERSPACE_SECS read_mib_s=$mbs$f"
			l2_fact $n bench-error | sed 's/^/    bench-error: /'
			# Where minivmm's time goes: its exits, what the guest asked of the vIOMMU, the disk's requests.
			[ $vmm = minivmm ] && echo "BENCH-PROFILE run=$r viommu=$mode $(grep -hE 'vcpu0: stats|vtd: stats|virtio-blk.*: stats' \
				"$LAB_WORK/$n.stderr" | tr -d '\r' | sed 's/^minivmm: //' | tr '\n' ';')"
		done
	done
done
