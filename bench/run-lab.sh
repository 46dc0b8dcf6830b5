#!/bin/bash
# Benchmark in the nested lab (scripts/lab.sh bench, tests/lab/bench.sh): the same Linux workload with
# minivmm and with QEMU 10 (-accel kvm) as the L2 VMM, both with the vIOMMU (minivmm --viommu flts; QEMU
# -device intel-iommu,x-scalable-mode=on,x-flts=on, virtio-blk with iommu_platform=on): boot to userspace
# and virtio-blk sequential O_DIRECT reads in L2, medians and ratios from the same run.
# Not a test: nothing here fails on a number. Run by bench/run.sh (`make bench`); it takes minutes
# (QEMU software emulation runs L1). BENCH_LAB=0 skips it; LAB_BENCH_RUNS (boots per VMM, default 3)
# and LAB_BENCH_MIB (MiB read per boot, default 256) size it.
set -u
cd "$(dirname "$0")/.."

echo "== nested lab: minivmm vs QEMU 10 as the L2 VMM (both with the vIOMMU): boot to userspace, virtio-blk reads"
if [ "${BENCH_LAB:-1}" = 0 ]; then
	echo "skipped: BENCH_LAB=0"
	exit 0
fi
if ! why=$(bash scripts/lab.sh available); then
	echo "skipped: the lab is not available here ($why)"
	exit 0
fi
out=$(bash scripts/lab.sh bench 2>&1)
rc=$?
# The figures, the lab's own retries and errors; the rest is in build/lab/logs/l1-bench.log.
echo "$out" | grep -E '^  |RETRY|lab: (error|the bench|bench took)'
[ $rc = 0 ] || echo "the lab bench did not complete (exit $rc); see build/lab/logs/l1-bench.log"
exit 0
