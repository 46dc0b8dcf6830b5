#!/bin/sh
# Tier 3 check "faults": DMA the guest programs wrong shows up as DMAR faults in the guest's own kernel
# log, the devices report what they should, and the VMM survives (the guest powers off, exit status 0).
# --viommu flts, intel_iommu=on,sm_on, with the DMA engine and a virtio-blk disk. L2's task
# (tests/lab/l2/faults.sh) drives the engine from userspace through VFIO (tests/lab/l2/dmaetool.c):
#   copy            a 64 KiB copy between good mappings arrives (the tool works: the control)
#   ro-write        a copy into an IOVA mapped read-only: the engine stops with ERRCODE 5 (DMA) at that
#                   IOVA, direction write, the page stays untouched, and L2 logs "DMAR: [DMA Write
#                   NO_PASID] Request device [the engine] fault addr <IOVA> [fault reason 0x85]"
#   unmapped-read   a copy from an IOVA never mapped: ERRCODE 5, direction read, and "[DMA Read NO_PASID]
#                   ... fault addr <IOVA> [fault reason 0x71]" (first-stage entry not present)
#   copy            the engine works again after its faults
#   abandon         a 64 MiB fill whose VFIO user exits with it running: the fill either ends before the
#                   mapping goes (DONE) or stops at an unmapped IOVA (ERRCODE 5), and then L2 must have
#                   logged that fault; either way is reported, only what was seen is claimed
# and unbinds the virtio-pci driver from the disk while a dd reads it, binds it again and reads the disk:
# the label and the first 8 MiB must be what the image holds. DMAR faults from other devices than the
# engine (in-flight DMA of the unbound disk) are reported, not judged.
# lab-budget: boots=1 seconds=60
. "$LAB_TESTS_DIR/lib.sh"

# One vCPU: TCG's emulated SVM corrupted L1 or L2 in 5 of 16 I/O-heavy boots with two L2 vCPUs, in
# none of about 34 with one (tests/lab/README.md); the device paths do not need a second vCPU.
CPUS=1
MEM=512M
DISK_MIB=256
W=$LAB_WORK

# A sparse disk with a label and 8 MiB of random data at its start (a dd over all of it takes seconds).
truncate -s $((DISK_MIB << 20)) "$W/disk.img"
head -c $((8 << 20)) /dev/urandom | dd of="$W/disk.img" conv=notrunc 2>/dev/null
printf 'LAB-FAULTS\n' | dd of="$W/disk.img" conv=notrunc 2>/dev/null
want8=$(dd if="$W/disk.img" bs=1M count=8 2>/dev/null | md5sum | cut -d' ' -f1)

devs="disk:$W/disk.img"
if vmm_supports dmae; then
	devs="$devs dmae"
else
	ev_info "$LAB_VMM has no DMA engine: only the virtio-blk part runs"
fi
l2_boot faults $CPUS $MEM flts "intel_iommu=on,sm_on lab.do=faults" "$devs"

# The VMM's survival first: everything else is the guest's account.
l2_require_exit
l2_require_userspace faults || ev_result
grep -E 'minivmm: (error|warning)|virtio-blk.*stats' "$W/faults.stderr" | head -n 10 | sed 's/^/    info: /'

D=$W/faults.dmesg
l2_fact faults dmesg >"$D"
grep -E 'DMAR: \[|fault reason|DRHD: handling fault' "$D" >"$W/faults.all"
ev_info "DMAR fault lines in L2's kernel log: $(wc -l <"$W/faults.all")"
sed 's/^/      | /' "$W/faults.all" | head -n 20

# dmae_fact STEP [N]: the Nth (default first) "@@ dmae STEP ..." line; kv LINE KEY: one value of it.
dmae_fact() { l2_fact faults dmae | grep "^$1 " | sed -n "${2:-1}p"; }
kv() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }
# fault_logged DIR IOVA: the L2 kernel's record of a fault by the engine at IOVA (page), or nothing.
fault_logged() {
	grep -i -E "\[DMA $1 NO_PASID\] Request device \[$ebdf\] fault addr 0x0*$(printf '%x' $(($2 & ~0xfff)))\b" "$D" | head -n 1
}

if vmm_supports dmae; then
	bind=$(l2_fact faults dmae-bind)
	e=$(kv "$bind" bdf)
	ebdf=${e#0000:}
	case $bind in
	*driver=vfio-pci*vfio_dev=/dev/vfio/*) ev_ok "the engine is bound to vfio-pci: $bind" ;;
	*) ev_fail "the engine could not be given to vfio-pci: '$bind' $(l2_fact faults dmae | grep '^error')" ;;
	esac
	err=$(l2_fact faults dmae | grep '^error')
	[ -n "$err" ] && ev_fail "dmaetool: $err"
	l=$(l2_fact faults pci | grep " 0x1b36 0x0011 " | head -n 1)
	case $l in
	*" type=DMA "* | *" type=DMA-FQ "*) ev_ok "the engine's function is behind the vIOMMU: $l" ;;
	*) ev_fail "the engine is not in a translated IOMMU domain: '$l'" ;;
	esac

	for n in 1 2; do
		c=$(dmae_fact copy $n)
		if [ "$(kv "$c" done)" = 1 ] && [ "$(kv "$c" error)" = 0 ] && [ "$(kv "$c" data)" = ok ]; then
			ev_ok "copy $n between good mappings arrived: $c"
		else
			ev_fail "copy $n between good mappings: '$c'"
		fi
	done

	# check_fault STEP DIR-NAME DIR-CODE REASON: the engine's registers and L2's log agree on a fault.
	check_fault() {
		s=$(dmae_fact "$1")
		case $1 in
		ro-write) iova=$(kv "$s" dst) ;;
		*) iova=$(kv "$s" src) ;;
		esac
		if [ "$(kv "$s" error)" = 1 ] && [ "$(kv "$s" errcode)" = 5 ] && [ -n "$iova" ] &&
			[ $(($(kv "$s" fault_addr))) = $((iova)) ] && [ "$(kv "$s" fault_dir)" = "$3" ]; then
			ev_ok "$1: the engine stopped with ERRCODE 5 (DMA) at $iova, direction $2: $s"
		else
			ev_fail "$1: want ERROR, ERRCODE 5, FAULT_ADDR ${iova:-?}, FAULT_DIR $3; the engine says '$s'"
		fi
		f=$(fault_logged "$2" "${iova:-0}")
		case $f in
		"") ev_fail "$1: L2 logged no '[DMA $2 NO_PASID] Request device [$ebdf] fault addr ${iova:-?}'" ;;
		*"fault reason $4"*) ev_ok "$1: L2 logged '$f'" ;;
		*) ev_fail "$1: L2 logged the fault with another reason than $4: '$f'" ;;
		esac
	}
	check_fault ro-write Write 2 0x85
	s=$(dmae_fact ro-write)
	[ "$(kv "$s" target)" = untouched ] && ev_ok "ro-write: the read-only page kept its bytes" ||
		ev_fail "ro-write: the read-only page was written: '$s'"
	check_fault unmapped-read Read 1 0x71

	# The abandoned fill: report what happened, claim only what was seen.
	a=$(dmae_fact abandon)
	r=$(dmae_fact regs)
	ev_info "abandon: started '$a'"
	if [ -z "$r" ]; then
		ev_fail "abandon: no register read-back after the VFIO user left"
	elif [ "$(kv "$r" errcode)" = 5 ]; then
		fa=$(kv "$r" fault_addr)
		f=$(fault_logged Write "$fa")
		if [ -n "$f" ]; then
			ev_ok "abandon: the fill stopped at IOVA $fa after $(kv "$r" bytes) bytes when the mapping went," \
				"and L2 logged '$f'"
		else
			ev_fail "abandon: the engine reports a DMA error at $fa ($r), but L2 logged no such fault"
		fi
	elif [ "$(kv "$r" done)" = 1 ]; then
		ev_info "abandon: the fill ended before its mapping went ($r): no fault to see, none claimed"
	else
		ev_fail "abandon: the engine is in an unexpected state a second after its user left: '$r'"
	fi
	other=$(grep -v "Request device \[$ebdf\]" "$W/faults.all" | grep 'Request device')
else
	other=$(grep 'Request device' "$W/faults.all")
fi

# virtio-blk under a running dd.
u=$(l2_fact faults blk-unbind)
rb=$(l2_fact faults blk-rebind)
if [ -z "$u" ] || [ "$u" = absent ]; then
	ev_fail "L2 found no virtio-blk disk to unbind"
else
	ev_info "unbind under dd: $u"
	case $u in
	*dd_running=yes*) ;;
	*) ev_info "the dd had already ended when the driver was unbound: no I/O was pending" ;;
	esac
	if [ "$(kv "$rb" label)" = LAB-FAULTS ] && [ "$(kv "$rb" md5_8m)" = "$want8" ]; then
		ev_ok "after unbind and bind the disk reads again: $rb (the image's first 8 MiB: $want8)"
	else
		ev_fail "after unbind and bind: '$rb'; want label=LAB-FAULTS md5_8m=$want8"
	fi
fi
if [ -n "$other" ]; then
	ev_info "DMAR faults of other devices (reported, not judged):"
	echo "$other" | head -n 5 | sed 's/^/      | /'
else
	ev_info "no DMAR fault from any other device (the unbound disk's DMA ended before its mappings went)"
fi
rm -f "$W/disk.img"
ev_result
