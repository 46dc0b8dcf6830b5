#!/bin/bash
# `make bench`: benchmark figures (medians over repeated runs). Not tests: nothing here fails on a number.
#
#  1. In-process benchmarks of the VMM's own code, at native speed and with no KVM, on any host: the
#     VT-d model (bench_vtd), the DMA engine untranslated and through the vIOMMU (bench_dma), the
#     virtio-blk backend's cost per request (bench_blk).
#  2. What needs a guest (bench/guest.sh: start-up, the DMA engine and virtio-blk driven by guest
#     programs): on this host when its /dev/kvm is usable, else in the lab's L1, whose KVM runs on
#     QEMU's software-emulated SVM (absolute times there are slowed by the emulation).
#  3. The nested lab's Linux benchmark, minivmm against QEMU as the L2 VMM (bench/run-lab.sh).
#
# `make bench` builds everything first (bench-build); run directly, this builds it when make is here.
set -u
cd "$(dirname "$0")/.." || exit 1
if command -v make >/dev/null; then
	make -s bench-build || exit 1
fi

# inproc NAME HEADING: run build/bench/NAME under a heading.
inproc() {
	echo "== $2"
	if [ ! -x "build/bench/$1" ]; then
		echo "skipped: build/bench/$1 is not built (make bench builds it)"
	elif ! "build/bench/$1"; then
		echo "$1 failed"
	fi
}
inproc bench_vtd "VT-d: translate() and IOTLB invalidation, in-process (targets: IOTLB hit <= 10 ns, 4-level miss <= 80 ns)"
inproc bench_dma "DMA engine, in-process: copies through the vIOMMU vs untranslated (target: 2 MiB copies through 4 KiB pages >= 90%)"
inproc bench_ir "interrupt remapping, in-process: a remapped MSI (device, IOAPIC) vs an unremapped one"
inproc bench_blk "virtio-blk backend, in-process: ns per request, --viommu off vs through the vIOMMU"

if bash scripts/host-kvm.sh --usable; then
	echo "==== benchmarks with a guest, on this host's /dev/kvm ($(bash scripts/host-kvm.sh))"
	bash bench/guest.sh
else
	echo "==== benchmarks with a guest, in the lab's L1 (KVM on QEMU's software-emulated SVM: absolute times are slowed by emulation)"
	why="this host has no usable /dev/kvm ($(bash scripts/host-kvm.sh))"
	if ! lab=$(bash scripts/lab.sh available 2>&1); then
		echo "not run: $why and the lab is not available here ($lab)"
	else
		out=$(bash scripts/lab.sh jobs bench-guest 2>&1)
		rc=$?
		if [ $rc = 0 ]; then
			echo "$out"
		else
			# The lab's own messages say how far it got; the rest is in build/lab/logs/.
			echo "$out" | grep '^lab: ' | tail -n 5
			echo "not run: $why, and \`scripts/lab.sh jobs bench-guest\` failed (exit $rc)"
		fi
	fi
fi

[ -f bench/run-lab.sh ] && bash bench/run-lab.sh
exit 0
