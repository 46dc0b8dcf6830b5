#!/bin/sh
# Tier 3 check "nesting" (minivmm only): the passthrough nesting path of a minivmm inside the guest,
# against L2's real Linux kernel (intel-iommu, iommufd, VFIO cdev) on L1's minivmm vIOMMU. In L2 the DMA
# engine is bound to vfio-pci and `minivmm probe` asks what a launch with `--vfio` would get: it opens
# /dev/iommu and the cdev, binds, allocates the nesting parent (IOMMU_HWPT_ALLOC_NEST_PARENT: the
# kernel's own checks of the emulated CAP/ECAP), runs the vIOMMU's host checks on IOMMU_GET_HW_INFO, and
# maps its guest RAM (second-stage tables the guest kernel writes into the outer unit) (tests/lab/l2/nest.sh).
#   nested        outer --viommu nested: inner --viommu off, flts and flts,fs1gp=off are all usable,
#                 and -v shows the host (outer) ECAP with NEST 1
#   nested-slts   outer --viommu slts: inner off is usable; inner flts is refused for want of nesting
#                 (VT-d ECAP.NEST=0), as a real VT-d without nesting makes it
#   nested-no1g   outer --viommu nested,fs1gp=off: inner flts is refused with the FS1GP message, inner
#                 flts,fs1gp=off is usable
# In each boot L2 then drives the engine itself through iommufd (dmaetool: IOAS, attach, IOAS_MAP): two
# 64 KiB copies arrive, and one from an unmapped IOVA stops with the engine's fault (ERRCODE 5) there:
# DMA through the second-stage tables L2's intel-iommu writes into the outer unit.
# The nested boot also has --nested-virt: L2 sees SVM, its kvm_amd loads and /dev/kvm appears (the
# others do not: SVM stays hidden).
# L2 runs WITHOUT iommufd.allow_unsafe_interrupts: the outer vIOMMU remaps interrupts (ir=on, the
# default), so L2's MSIs are isolated and iommufd binds the device (it refuses with EPERM otherwise);
# the check also asks that L2 never warned about unsafe MSIs. No KVM is needed in L2 for the probes.
# With LAB_VMM=qemu this check has nothing to run.
# lab-budget: boots=3 seconds=60
. "$LAB_TESTS_DIR/lib.sh"

CPUS=1
MEM=512M

if [ "$LAB_VMM" != minivmm ]; then
	echo "    skip: the nesting check runs minivmm inside minivmm (LAB_VMM=$LAB_VMM)"
	exit 77
fi

# probe BOOT MODE: the inner probe's status and first line for --viommu MODE.
probe_rc() { l2_fact "$1" nest-probe | sed -n "s/^mode=$2 rc=//p" | head -n 1; }
probe_line() { l2_fact "$1" nest-probe-out | sed -n "s/^$2 //p" | head -n 1; }

# expect BOOT MODE usable|REASON-PART
expect() {
	rc=$(probe_rc "$1" "$2")
	l=$(probe_line "$1" "$2")
	case $3 in
	usable)
		if [ "$rc" = 0 ] && [ "$l" = "$bdf: usable with --viommu $2" ]; then
			ev_ok "[$1] inner minivmm probe --viommu $2: '$l'"
		else
			ev_fail "[$1] inner minivmm probe --viommu $2: status ${rc:-none}, '$l'; want usable"
			l2_fact "$1" nest-probe-out | grep "^$2 " | head -n 4 | sed 's/^/      | /'
		fi ;;
	*)
		case "$rc $l" in
		"1 $bdf: not usable with --viommu $2: "*"$3"*) ev_ok "[$1] inner minivmm probe --viommu $2 refuses: '$l'" ;;
		*) ev_fail "[$1] inner minivmm probe --viommu $2: status ${rc:-none}, '$l'; want status 1 and '$3'" ;;
		esac ;;
	esac
}

# dma BOOT: the iommufd user's copies.
dma() {
	o=$(l2_fact "$1" dmae | grep -m 1 '^open ')
	case $o in
	*" cdev="*) ev_ok "[$1] L2's iommufd user has the engine: $o" ;;
	*) ev_fail "[$1] L2's iommufd user could not open the engine: '$(l2_fact "$1" dmae | head -n 1)'"; return ;;
	esac
	n=$(l2_fact "$1" dmae | grep -c '^copy .* data=ok')
	[ "$n" = 2 ] && ev_ok "[$1] both copies through iommufd arrived: $(l2_fact "$1" dmae | grep -m 1 '^copy ')" ||
		ev_fail "[$1] $n of 2 copies through iommufd arrived: $(l2_fact "$1" dmae | grep '^copy ' | tr '\n' ';')"
	u=$(l2_fact "$1" dmae | grep -m 1 '^unmapped-read ')
	case " $u " in
	*" error=1 errcode=5 fault_addr=0x7e000000 "*) ev_ok "[$1] the copy from an unmapped IOVA faulted there: $u" ;;
	*) ev_fail "[$1] the copy from an unmapped IOVA: '$u'; want error=1 errcode=5 fault_addr=0x7e000000" ;;
	esac
}

# boot NAME OUTER-MODE INNER-MODES [DEVICE...]: L2 on --viommu OUTER-MODE, its probes for INNER-MODES
# (':' for ',').
boot() {
	l2_boot "$1" $CPUS $MEM "$2" \
		"intel_iommu=on,sm_on lab.do=nest lab.nest=$3 lab.l3=1" "dmae ${4:-}"
	l2_require_exit
	l2_require_userspace "$1" || return 1
	b=$(l2_fact "$1" nest-bind | head -n 1)
	bdf=$(echo "$b" | sed -n 's/.*bdf=\([^ ]*\).*/\1/p')
	m=$(l2_fact "$1" nest-modules | head -n 1)
	[ "$m" = ok ] || ev_fail "[$1] L2 could not load iommufd and vfio-pci: $m"
	case " $b " in
	*" driver=vfio-pci cdev=vfio"*" iommu=yes "*) ev_ok "[$1] L2 bound the DMA engine to vfio-pci with its cdev: $b" ;;
	*) ev_fail "[$1] L2 did not get the DMA engine to vfio-pci with a cdev and /dev/iommu: '${b:-no nest-bind fact}'"
		return 1 ;;
	esac
	# Isolated MSIs: L2 remaps its interrupts on the outer unit, so iommufd needed no unsafe-interrupt pass.
	d=$(l2_fact "$1" dmesg)
	if echo "$d" | grep -q 'MSI interrupts are not secure'; then
		ev_fail "[$1] L2's iommufd warned that MSIs are not isolated: $(echo "$d" | grep -m 1 'not secure')"
	elif echo "$d" | grep -q 'Enabled IRQ remapping in x2apic mode'; then
		ev_ok "[$1] L2 remaps interrupts on the outer unit (x2APIC mode): iommufd bound without allow_unsafe_interrupts"
	else
		ev_fail "[$1] L2 did not enable interrupt remapping on the outer unit"
	fi
}

if boot nested nested off,flts,flts:fs1gp=off nestedvirt; then
	k=$(l2_fact nested nest-kvm | head -n 1)
	case " $k " in
	*" svm=0 "*) ev_fail "[nested] --nested-virt: L2 sees no SVM: '$k'" ;;
	*" modprobe=ok dev_kvm=yes "*) ev_ok "[nested] --nested-virt: L2's own KVM is up (kvm_amd, /dev/kvm): $k" ;;
	*) ev_fail "[nested] --nested-virt: L2 sees SVM but its KVM did not come up: '$k'" ;;
	esac
	# minivmm inside minivmm: the inner one's default guest (L3) on L2's KVM.
	l=$(l2_fact nested nest-l3 | head -n 1)
	case " $l $(l2_fact nested nest-l3-out | tail -n 1) " in
	*" rc=0 "*"powering off"*) ev_ok "[nested] minivmm in L2 ran its default guest (L3) on L2's KVM: $l" ;;
	*) ev_fail "[nested] minivmm in L2 did not run its default guest: '$l'; $(l2_fact nested nest-l3-out | tr '\n' ';')" ;;
	esac
	# ...and passed the DMA engine through to it with its own vIOMMU, nested on L2's kernel.
	l=$(l2_fact nested nest-l3-vfio | head -n 1)
	g=$(l2_fact nested nest-l3-vfio-out | grep -m 1 'pci: .*1b36:0011')
	case " $l " in
	*" rc=0 "*) [ -n "$g" ] && ev_ok "[nested] minivmm in L2 launched with --vfio (the engine) --viommu flts; L3 lists it: '$g'" ||
		ev_fail "[nested] the inner launch ran but L3 did not list the engine: $(l2_fact nested nest-l3-vfio-out | tr '\n' ';')" ;;
	*) ev_fail "[nested] minivmm in L2 with --vfio --viommu flts: '$l'; $(l2_fact nested nest-l3-vfio-out | tr '\n' ';')" ;;
	esac
	# The seed's order in the inner minivmm's own log: the nesting parent before the host IOMMU device.
	p=$(l2_fact nested nest-l3-vfio-out | grep -n 'nesting parent HWPT .* allocated and attached' | head -n 1 | cut -d: -f1)
	q=$(l2_fact nested nest-l3-vfio-out | grep -n 'host IOMMU device handed to the vIOMMU' | head -n 1 | cut -d: -f1)
	if [ -n "$p" ] && [ -n "$q" ] && [ "$p" -lt "$q" ]; then
		ev_ok "[nested] the inner minivmm attached the nesting parent before handing the host IOMMU device to" \
			"its vIOMMU, whose checks passed on L2's kernel: $(l2_fact nested nest-l3-vfio-out | grep -E 'nesting parent|handed' | tr '\n' ';')"
	else
		ev_fail "[nested] the inner minivmm's log does not show the nesting parent before the host IOMMU device:" \
			"$(l2_fact nested nest-l3-vfio-out | tr '\n' ';')"
	fi
	# L3 drives the engine through its first-stage tables (tests/guest/vtd_nest.c).
	l=$(l2_fact nested nest-l3-dma | head -n 1)
	o=$(l2_fact nested nest-l3-dma-out | tr '\n' ';')
	case " $l $o " in
	*" rc=0 "*"PASS: vtd_nest"*) ev_ok "[nested] L3's DMA through its first-stage tables, nested on L2's kernel, walked by L1's unit: $l; $o" ;;
	*) ev_fail "[nested] L3's DMA program (tests/guest/vtd_nest.c) did not pass: '$l'; $o" ;;
	esac
	# Its blocked copy (no PASID entry) is a fault of L1's unit, which L2's kernel logs: the IOVA is L3's.
	f=$(l2_fact nested dmesg | grep -m 1 -i 'fault addr 0x123400000000')
	if [ -n "$f" ]; then
		ev_ok "[nested] L1's unit recorded L3's blocked copy, L2's kernel logged it: '$f'"
	else
		ev_fail "[nested] no DMAR fault at L3's IOVA 0x123400000000 in L2's kernel log"
	fi
	expect nested off usable
	expect nested flts usable
	expect nested flts,fs1gp=off usable
	e=$(l2_fact nested nest-probe-out | grep -m 1 '^flts  *ECAP ')
	case $e in
	*"NEST 1"*) ev_ok "[nested] the inner probe saw the outer unit's nesting: '$(echo "$e" | sed 's/^flts *//')'" ;;
	*) ev_fail "[nested] the inner probe -v shows no ECAP line with NEST 1: '$e'" ;;
	esac
	dma nested
fi
if boot nested-slts slts off,flts; then
	k=$(l2_fact nested-slts nest-kvm | head -n 1)
	case " $k " in
	*" svm=0 vmx=0 "*) ev_ok "[nested-slts] without --nested-virt L2 sees no virtualization extension: $k" ;;
	*) ev_fail "[nested-slts] without --nested-virt L2 sees one: '$k'" ;;
	esac
	expect nested-slts off usable
	expect nested-slts flts "no nested translation (VT-d ECAP.NEST=0"
	dma nested-slts
fi
if boot nested-no1g nested,fs1gp=off flts,flts:fs1gp=off; then
	expect nested-no1g flts "(VT-d CAP.FS1GP=0; use --viommu flts,fs1gp=off)"
	expect nested-no1g flts,fs1gp=off usable
fi
ev_result
