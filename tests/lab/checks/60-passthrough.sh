#!/bin/sh
# Tier 3 check "passthrough": a PCI function of the VMM's host, bound to vfio-pci, passed through to L2
# with the iommufd backend (minivmm --vfio BDF; QEMU -device vfio-pci,iommufd=...).
# In the lab the function is L1's emulated NVMe (QEMU's nvme, 1b36:0010, scripts/lab/l1.sh), whose
# first sector holds MINIVMM-LAB-NVME-SECTOR0. Here, in L1: the controller's first MiB gets random data
# after that sector (its namespace, through L1's own nvme driver: the truth L2 is compared with), then
# the function goes from nvme to vfio-pci (driver_override), and afterwards back to nvme.
#   off    --viommu off: L2 sees the function with the host's vendor/device IDs and class, its nvme
#          driver brings the controller up, and the first MiB read with O_DIRECT (DMA into L2's RAM
#          through the iommufd IOAS; tests/lab/l2/nvme.sh) holds the marker and L1's bytes; the guest's
#          poweroff ends the VMM with status 0
#   intx   the same with "pci=nomsi" on L2's command line: the controller interrupts through INTx
#          (level irqfd with KVM's resample eventfd as VFIO's unmask), IO-APIC in L2's /proc/interrupts
#   flts   --viommu flts with the same function: the emulated VT-d of L1 cannot nest (no ECAP.NEST, no
#          IOMMU_HWPT_ALLOC_NEST_PARENT), so minivmm must refuse before the guest runs: status 1 within
#          LAB_PT_REFUSE_TIMEOUT (60 s) and one stderr line with "host IOMMU incompatible with --viommu
#          flts" and "nested translation". A hang, a signal, status 0 or another message fails.
#          With LAB_VMM=qemu this part is only reported (QEMU's VT-d has its own rules and words).
#   probe  minivmm only: `minivmm probe --viommu off BDF` says "BDF: usable with --viommu off" (status 0);
#          `minivmm probe -v --viommu flts BDF` says "BDF: not usable with --viommu flts: WHY" (status 1)
#          where WHY is word for word the launch's refusal above, and -v shows the host's ECAP with NEST 0.
# No /dev/iommu, no vfio-pci or no IOMMU group fails in the lab's L1 (it is built to have them) and is
# a skip elsewhere. On a host other than L1 only QEMU's NVMe (1b36:0010) whose sector 0 holds the marker
# is taken from its driver, nothing else.
# LAB_PT_BDF=BDF: a function that someone already bound to vfio-pci: the check neither looks for the
# NVMe nor binds it, and judges L2's data against LAB_PT_MD5 (MD5 of its first MiB) when set (the
# selftest's way in; tests/lab/selftest.sh).
# lab-budget: boots=2 seconds=120
. "$LAB_TESTS_DIR/lib.sh"
. "$LAB_TESTS_DIR/ptlib.sh"

# One vCPU: TCG's emulated SVM breaks I/O-heavy boots with two L2 vCPUs (tests/lab/README.md).
CPUS=1
MEM=512M
MARK=MINIVMM-LAB-NVME-SECTOR0
S=/sys/bus/pci
W=$LAB_WORK

skip() { echo "    skip: $*"; exit 77; }
# absent WHAT: what the passthrough needs from the host is not there.
absent() {
	if [ "${LAB_L1:-0}" = 1 ]; then
		ev_fail "$* (the lab's L1 is built to have it: scripts/lab/modules.sh, tests/lab/l1-init.sh)"
		ev_result
	fi
	skip "$*"
}
# pt_ns BDF: the block device of the controller's first namespace, if its driver made one. With native
# NVMe multipath (Debian's kernel) the disk under the function is the hidden path nvmeXcYnZ and the
# block device is its head, nvmeXnZ.
pt_ns() {
	for b in /sys/block/nvme*n*; do
		[ -e "$b" ] || continue
		case $(readlink -f "$b") in
		*/"$1"/*)
			_b=$(basename "$b" | sed 's/c[0-9]*n/n/')
			[ -b "/dev/$_b" ] && echo "$_b" && return ;;
		esac
	done
}
# pt_wait_ns BDF: pt_ns, waiting up to 20 s for the driver's asynchronous probe.
pt_wait_ns() {
	_i=0
	while [ $_i -lt 40 ]; do
		_n=$(pt_ns "$1")
		[ -n "$_n" ] && { echo "$_n"; return; }
		sleep 0.5
		_i=$((_i + 1))
	done
}
# lead FILE: the leading printable characters of FILE (the marker, or 'none').
lead() { _l=$(head -c 64 "$1" 2>/dev/null | tr -c 'A-Za-z0-9=._-' ' ' | sed 's/ .*//'); echo "${_l:-none}"; }

# --- The host side: the function, away from its driver, to vfio-pci.
HOST_MD5=${LAB_PT_MD5:-}
HOST_SERIAL=""
BOUND=0
if [ -n "${LAB_PT_BDF:-}" ]; then
	BDF=$LAB_PT_BDF
	ev_info "LAB_PT_BDF=$BDF: passed through as someone bound it; its driver is left alone"
else
	BDF=""
	for d in "$S"/devices/*; do
		[ "$(cat "$d/vendor" 2>/dev/null) $(cat "$d/device" 2>/dev/null)" = "0x1b36 0x0010" ] &&
			BDF=$(basename "$d") && break
	done
	# In L1 another NVMe controller will do as well (by class); on any other host only QEMU's.
	if [ -z "$BDF" ] && [ "${LAB_L1:-0}" = 1 ]; then
		for d in "$S"/devices/*; do
			[ "$(cat "$d/class" 2>/dev/null)" = 0x010802 ] && BDF=$(basename "$d") && break
		done
	fi
	[ -n "$BDF" ] || absent "no emulated NVMe (1b36:0010) among this host's PCI functions:" \
		"$(cd "$S/devices" && for d in *; do printf '%s %s:%s; ' "$d" "$(cat "$d/vendor")" "$(cat "$d/device")"; done)"
	d=$S/devices/$BDF
	d0=$(drv "$BDF")
	g=none
	[ -e "$d/iommu_group" ] && g=$(basename "$(readlink "$d/iommu_group")")
	ev_info "the host's NVMe: $BDF $(cat "$d/vendor"):$(cat "$d/device") class $(cat "$d/class") driver=$d0" \
		"iommu_group=$g (group members: $(ls "$d/iommu_group/devices" 2>/dev/null | tr '\n' ' '))"
	[ -c /dev/iommu ] || absent "no /dev/iommu (iommufd): the VMMs open it for the device's DMA"
	[ -d "$S/drivers/vfio-pci" ] || modprobe vfio-pci 2>/dev/null
	[ -d "$S/drivers/vfio-pci" ] || absent "no vfio-pci driver ($(modprobe vfio-pci 2>&1 | head -n 1))"
	[ "$g" != none ] || absent "$BDF is in no IOMMU group: the host runs without an IOMMU (intel_iommu=on?)"

	# The truth L2 must read: sector 0 (the marker) and random bytes after it, from L1's own driver.
	case $d0 in
	nvme)
		ns=$(pt_wait_ns "$BDF")
		c=$(ls -d "$d"/nvme/nvme* 2>/dev/null | head -n 1)
		[ -n "$c" ] && HOST_SERIAL=$(tr -d ' ' <"$c/serial")
		if [ -z "$ns" ]; then
			[ "${LAB_L1:-0}" = 1 ] || skip "$BDF has no namespace to tell whether it is the lab's disk: leaving it alone"
			ev_fail "L1's nvme driver made no namespace of $BDF in 20 s"
			ev_result
		fi
		dd if="/dev/$ns" of="$W/host.1m" bs=1M count=1 iflag=direct 2>/dev/null
		m=$(lead "$W/host.1m")
		if [ "$m" != $MARK ]; then
			[ "${LAB_L1:-0}" = 1 ] || skip "$BDF ($ns) does not start with $MARK: not the lab's disk, left alone"
			ev_fail "L1's $ns starts with '$m', want $MARK (the lab's image build/lab/nvme.img)"
			ev_result
		fi
		head -c $((1020 << 10)) /dev/urandom >"$W/rand"
		dd if="$W/rand" of="/dev/$ns" bs=4096 seek=1 conv=notrunc,fsync 2>/dev/null
		dd if="/dev/$ns" of="$W/host.1m" bs=1M count=1 iflag=direct 2>/dev/null
		HOST_MD5=$(md5sum <"$W/host.1m" | cut -d' ' -f1)
		if [ "$(dd if="$W/host.1m" bs=4096 skip=1 2>/dev/null | md5sum)" = "$(md5sum <"$W/rand")" ]; then
			ev_ok "L1's nvme reads $MARK from $ns (serial $HOST_SERIAL); 1020 KiB of random data" \
				"written after the first 4 KiB: the first MiB has MD5 $HOST_MD5"
		else
			ev_fail "L1 could not write and read back random data on $ns"
			ev_result
		fi
		rm -f "$W/rand" "$W/host.1m"
		echo "$BDF" >"$d/driver/unbind" ;;
	vfio-pci) ev_info "$BDF is already bound to vfio-pci: its data is not known here (not judged)" ;;
	none) ev_info "$BDF has no driver: its data is not known here (not judged)" ;;
	*)
		[ "${LAB_L1:-0}" = 1 ] || skip "$BDF is driven by $d0: left alone"
		echo "$BDF" >"$d/driver/unbind" ;;
	esac
	if [ "$d0" != vfio-pci ]; then
		BOUND=1
		echo vfio-pci >"$d/driver_override"
		echo "$BDF" >"$S/drivers_probe" 2>/dev/null
	fi
fi

# pt_restore: the function back to the host's driver, and what that driver then reads (information:
# resetting the function is vfio-pci's business more than the VMM's).
pt_restore() {
	[ "$BOUND" = 1 ] || return 0
	BOUND=0
	echo "$BDF" >"$S/drivers/vfio-pci/unbind" 2>/dev/null
	echo >"$S/devices/$BDF/driver_override"
	echo "$BDF" >"$S/drivers_probe" 2>/dev/null
	_ns=$(pt_wait_ns "$BDF")
	if [ -n "$_ns" ]; then
		dd if="/dev/$_ns" of="$W/after.1m" bs=1M count=1 iflag=direct 2>/dev/null
		ev_info "afterwards $BDF is back with $(drv "$BDF"): $_ns starts with '$(lead "$W/after.1m")'," \
			"first MiB MD5 $(md5sum <"$W/after.1m" | cut -d' ' -f1)"
		rm -f "$W/after.1m"
	else
		ev_info "afterwards $BDF is back with driver $(drv "$BDF") but has no namespace after 20 s:" \
			"$(dmesg | grep -i nvme | tail -n 3 | tr '\n' ';')"
	fi
}
trap pt_restore EXIT

vdev=$(ls "$S/devices/$BDF/vfio-dev" 2>/dev/null | head -n 1)
if [ "$(drv "$BDF")" = vfio-pci ] && [ -n "$vdev" ] && [ -c "/dev/vfio/devices/$vdev" ]; then
	ev_ok "$BDF is bound to vfio-pci, device cdev /dev/vfio/devices/$vdev, /dev/iommu present"
elif [ -z "${LAB_PT_BDF:-}" ]; then
	ev_fail "$BDF did not go to vfio-pci: driver $(drv "$BDF"), vfio-dev '${vdev:-none}'," \
		"kernel: $(dmesg | grep -iE 'vfio|iommufd' | tail -n 3 | tr '\n' ';')"
	ev_result
fi

# judge BOOT IRQ-PATTERN WHAT: L2's view of the function, its data, and the kind of interrupt it used.
judge() {
	b=$1
	l2_require_exit
	grep -i -E 'vfio|iommufd' "$W/$b.stderr" | head -n 10 | sed 's/^/    info: /'
	l2_require_userspace "$b" || return 0
	l=$(l2_fact "$b" pci | grep ' 0x1b36 0x0010 ' | head -n 1)
	case $l in
	"") ev_fail "[$b] L2 sees no 1b36:0010 function; its PCI functions:" \
		"$(l2_fact "$b" pci | awk '{ printf "%s%s %s:%s class %s %s", (NR > 1 ? "; " : ""), $1, $2, $3, $4, $7 }')" ;;
	*" 0x010802 "*" driver=nvme") ev_ok "[$b] L2 sees the host's NVMe with its IDs and class, driven by nvme: $l" ;;
	*) ev_fail "[$b] L2's 1b36:0010 function: want class 0x010802 and driver nvme: $l" ;;
	esac
	c=$(l2_fact "$b" nvme | head -n 1)
	if [ -n "$HOST_SERIAL" ]; then
		case "$c " in
		*" serial=$HOST_SERIAL "*) ev_ok "[$b] L2's controller is the host's (serial $HOST_SERIAL): $c" ;;
		*) ev_fail "[$b] L2's controller: '$c'; want the host's serial $HOST_SERIAL" ;;
		esac
	else
		ev_info "[$b] L2's controller: ${c:-none}"
	fi
	r=$(l2_fact "$b" nvme-read)
	case " $r " in
	*" rc=0 "*" sector0=$MARK"*) ev_ok "[$b] L2 read sector 0 of the namespace: $r" ;;
	*) ev_fail "[$b] L2 did not read $MARK from the namespace: '$r'"
		l2_fact "$b" nvme-dmesg | tail -n 12 | sed 's/^/      | /' ;;
	esac
	case " $r " in *" direct=0 "*) ev_info "[$b] O_DIRECT failed in L2: the read went through the page cache" ;; esac
	if [ -n "$HOST_MD5" ]; then
		case " $r " in
		*" md5_1m=$HOST_MD5 "*) ev_ok "[$b] L2's first MiB is the host's (MD5 $HOST_MD5)" ;;
		*) ev_fail "[$b] L2's first MiB differs from the host's (MD5 $HOST_MD5): '$r'" ;;
		esac
	fi
	q=$(l2_fact "$b" nvme-irq | head -n 1 | tr -d '\r')
	case " $q " in
	*" chip="$2" count=0 "*) ev_fail "[$b] the controller's admin queue never interrupted: '$q'" ;;
	*" chip="$2" "*) ev_ok "[$b] the controller interrupts by $3: $q" ;;
	*) ev_fail "[$b] want the admin queue's interrupt by $3 (chip $2): '${q:-no nvme0q0 in /proc/interrupts}'" ;;
	esac
}

# --- off: L2 drives the controller, with MSI-X.
l2_boot passthrough $CPUS $MEM off "lab.do=nvme" "vfio:$BDF"
judge passthrough '*MSI*' "MSI-X or MSI"

# --- intx: the same without MSI in L2, so through the host's INTx.
l2_boot passthrough-intx $CPUS $MEM off "lab.do=nvme pci=nomsi" "vfio:$BDF"
judge passthrough-intx 'IO-APIC' "INTx (IO-APIC)"

# --- flts: the host's IOMMU cannot nest, so the VMM must refuse the function with the vIOMMU on.
pt_refusal flts "$BDF" "lab.do=nvme"
msg=$PT_REFUSAL
[ -n "${LAB_PT_BDF:-}" ] || ev_info "after the refusal $BDF is bound to $(drv "$BDF")"

# --- probe: the same two verdicts before any launch, without a VM (minivmm probe).
pt_probe "$BDF" "$msg"
ev_result
