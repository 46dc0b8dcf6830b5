#!/bin/sh
# Tier 3: /init of L1, the stock Debian kernel that scripts/lab.sh boots under QEMU TCG (emulated AMD
# SVM + NPT, emulated VT-d, an emulated NVMe). It loads kvm_amd, which gives a real /dev/kvm, and the
# lab's own iommufd/vfio modules, then either runs the tier-3 checks and powers off (lab.mode=check)
# or runs the lab benchmark (lab.mode=bench, tests/lab/bench.sh) and powers off, or gives the developer a
# shell (lab.mode=shell), or runs only jobs (lab.mode=jobs). Jobs (lab.jobs=NAME,NAME: tests/lab/jobs.sh,
# e.g. tier 2 for a host without /dev/kvm) run first in every mode but shell, in the same L1.
#
# Kernel parameters (from scripts/lab.sh): lab.mode=check|bench|jobs|shell lab.vmm=minivmm|qemu
# lab.jobs=NAME,NAME
# lab.tests=NAME,NAME lab.l2timeout=SECONDS lab.tries=N lab.l2quiet=0|1 lab.benchruns=N lab.benchfirst=N lab.benchmib=MIB
# lab.env=NAME=VALUE,... (the checks' LAB_BLK_*/LAB_NET_* knobs)
/bin/busybox --install -s /bin
export PATH=/lab/bin:/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
# devtmpfs has no /dev/fd: bash's process substitution (the tier-2 scripts) needs it.
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd

arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^lab\.$1=//p" | tail -n 1; }
MODE=$(arg mode)
LAB_VMM=$(arg vmm)
LAB_L2_TIMEOUT=$(arg l2timeout)
LAB_L2_TRIES=$(arg tries)
LAB_L2_QUIET=$(arg l2quiet)
[ -n "$LAB_VMM" ] || LAB_VMM=minivmm
[ -n "$LAB_L2_TIMEOUT" ] || LAB_L2_TIMEOUT=90
[ -n "$LAB_L2_TRIES" ] || LAB_L2_TRIES=3
export LAB_VMM LAB_L2_TIMEOUT LAB_L2_TRIES LAB_L2_QUIET
export LAB_VMLINUZ=/lab/vmlinuz LAB_L2_INITRD=/lab/l2.cpio LAB_WORK=/tmp/lab LAB_MINIVMM=minivmm
# The checks run in the lab's L1: what the lab is built to provide (/dev/iommu, vfio-pci, the NVMe) is
# a failure when missing, not a skip (checks/60-passthrough.sh).
export LAB_L1=1
TESTS=$(arg tests | tr ',' ' ')
# The checks' knobs from the host's environment (scripts/lab/l1.sh lab_env_param).
for kv in $(arg env | tr ',' ' '); do export "$kv"; done

echo "LAB-L1-UP kernel $(uname -r), uptime $(cut -d' ' -f1 /proc/uptime) s"

# /dev/kvm: kvm_amd on the SVM that QEMU emulates. Its nested paging is what makes L2 fast.
if modprobe kvm_amd 2>/tmp/kvm.err && [ -c /dev/kvm ]; then
	echo "lab: L1 setup: /dev/kvm from kvm_amd (nested paging: $(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null))"
else
	echo "lab: L1 setup: FAILED to get /dev/kvm: $(cat /tmp/kvm.err) $(dmesg | grep -iE 'kvm|svm' | tail -n 3)"
fi
# The lab's iommufd + vfio (with VFIO_DEVICE_CDEV), built out of tree: Debian's kernel has no IOMMUFD.
modprobe nvme 2>/dev/null
# The NIC check's pair (scripts/lab/l1.sh): the igb PF and its peer, L1's virtio-net NIC.
modprobe igb 2>/dev/null
modprobe virtio_net 2>/dev/null
# The bench's fio disk (scripts/lab/l1.sh, LAB_L1_BENCH).
[ "$MODE" = bench ] && modprobe virtio_blk 2>/dev/null
if modprobe iommufd 2>/tmp/mod.err && modprobe vfio-pci 2>>/tmp/mod.err && [ -c /dev/iommu ]; then
	echo "lab: L1 setup: /dev/iommu from the lab's iommufd.ko; vfio-pci loaded"
else
	echo "lab: L1 setup: iommufd/vfio-pci did not load: $(tr '\n' ' ' </tmp/mod.err)"
fi

JOBS=$(arg jobs | tr ',' ' ')
if [ -n "$JOBS" ] && [ "$MODE" != shell ]; then
	sh /lab/tests/jobs.sh $JOBS
	rc=$?
	[ "$MODE" = jobs ] && echo "LAB-L1-DONE status=$rc uptime $(cut -d' ' -f1 /proc/uptime) s"
fi

case $MODE in
jobs)
	poweroff -f ;;
check)
	LAB_DUMP_CONSOLES=1 sh /lab/tests/run-checks.sh $TESTS
	echo "LAB-L1-DONE status=$? uptime $(cut -d' ' -f1 /proc/uptime) s"
	poweroff -f ;;
bench)
	LAB_BENCH_RUNS=$(arg benchruns) LAB_BENCH_FIRST=$(arg benchfirst) LAB_BENCH_MIB=$(arg benchmib) \
		sh /lab/tests/bench.sh
	echo "LAB-L1-DONE status=$? uptime $(cut -d' ' -f1 /proc/uptime) s"
	poweroff -f ;;
*)
	cat <<'EOF'

  The minivmm nested lab: this is L1 (stock Debian kernel under QEMU TCG) with a real /dev/kvm.
    minivmm --kernel /lab/vmlinuz --initrd /lab/l2.cpio --cmdline "console=ttyS0" --mem 512M --cpus 2 \
            [--viommu flts] --serial stdio      boot L2 (its /init reports and powers off)
    qemu-system-x86_64 -accel kvm ...             the reference VMM, for comparison
    sh /lab/tests/run-checks.sh [boot viommu virtio-blk virtio-net faults passthrough]
                                                  the tier-3 checks (LAB_VMM=qemu for QEMU)
    sh /lab/tests/bench.sh                        minivmm against QEMU as the L2 VMM
    poweroff -f                                   leave the lab (or Ctrl-A X)
  L2 boots hang about 1 time in 7 (TCG's emulated SVM): Ctrl-C and boot again.

EOF
	cd /lab || exit 1
	exec setsid cttyhack sh -l ;;
esac
