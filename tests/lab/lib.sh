# Tier 3: helpers shared by the lab test driver (run-checks.sh) and the checks in checks/.
# POSIX sh: it runs under busybox ash inside L1 and under bash/dash on a host with VMX/SVM.
#
# The environment (set by run-checks.sh, or by the L1 /init):
#   LAB_VMM          minivmm (default) or qemu: the L2 VMM under test
#   LAB_MINIVMM      the minivmm binary (default: minivmm on the PATH)
#   LAB_QEMU         the QEMU binary for LAB_VMM=qemu (default: qemu-system-x86_64)
#   LAB_VMLINUZ      the stock kernel L2 boots
#   LAB_L2_INITRD    the L2 initramfs (tests/lab/l2-init.sh as /init)
#   LAB_WORK         scratch directory for consoles, stderr and device trees
#   LAB_L2_TIMEOUT   watchdog per L2 boot in seconds (default 90)
#   LAB_L2_TRIES     boots per check when L2 hangs (default 3)
#   LAB_L2_QUIET     1: boot L2 with "quiet" (about 4 s faster a boot under the lab; a hang then shows
#                    nothing of how far L2 got). Default 0.

: "${LAB_VMM:=minivmm}"
: "${LAB_MINIVMM:=minivmm}"
: "${LAB_QEMU:=qemu-system-x86_64}"
: "${LAB_WORK:=/tmp/lab}"
: "${LAB_L2_TIMEOUT:=90}"
: "${LAB_L2_TRIES:=3}"
: "${LAB_L2_QUIET:=0}"

lab_say() { echo "lab: $*"; }

# Seconds since boot with centiseconds: the same clock in L1 and on a host.
lab_now() { cut -d' ' -f1 /proc/uptime; }
lab_since() { awk -v a="$1" -v b="$(lab_now)" 'BEGIN { printf "%.1f", b - a }'; }

# Evidence lines of a check. ev_fail marks the check failed; the check ends with `ev_result`.
EV_FAILED=0
ev_ok() { echo "    ok:   $*"; }
ev_fail() { echo "    FAIL: $*"; EV_FAILED=1; }
ev_info() { echo "    info: $*"; }
ev_result() { [ "$EV_FAILED" = 0 ] && exit 0; exit 1; }
# Show the last lines of a file as evidence, indented.
ev_tail() { # FILE N
	[ -s "$1" ] || { echo "      (empty: $1)"; return; }
	tail -n "$2" "$1" | tr -d '\r' | sed 's/^/      | /'
}

# The L2 size of a "512M" / "1G" argument in bytes.
lab_bytes() {
	case $1 in
	*G) echo $(( ${1%G} << 30 )) ;;
	*M) echo $(( ${1%M} << 20 )) ;;
	*K) echo $(( ${1%K} << 10 )) ;;
	*) echo "$1" ;;
	esac
}

# vmm_exec CPUS MEM VIOMMU APPEND [DEVICES]: become the L2 VMM (exec), console on stdout. VIOMMU: off |
# flts. DEVICES: a space-separated list in the lab's own notation, which each VMM adapter translates:
#   disk:PATH[,readonly][,direct][,aio=io_uring]   virtio-blk on a raw image (in the order given: vda, vdb, ...)
#   net:TAP                         virtio-net on the existing tap TAP
#   rng                             virtio-rng
#   console:PATH                    virtio-console (hvc0) whose output goes to the file PATH
#   dmae                            minivmm's DMA-engine test device (devices/dma-engine.h); see vmm_supports
#   vfio:BDF                        the host's PCI function BDF (bound to vfio-pci) passed through, iommufd
#                                   backend: minivmm --vfio BDF, QEMU -device vfio-pci,host=BDF,iommufd=...
# With the vIOMMU on, every virtio device is modern-only with VIRTIO_F_ACCESS_PLATFORM (minivmm does
# that by itself; QEMU is told iommu_platform=on), so all their DMA is translated.
vmm_exec() {
	_c=$1 _m=$2 _v=$3 _a=$4 _devs=${5:-}
	set --
	case $LAB_VMM in
	minivmm)
		for _d in $_devs; do
			case $_d in
			disk:*) set -- "$@" --disk "${_d#disk:}" ;;
			net:*) set -- "$@" --net "tap=${_d#net:}" ;;
			rng) set -- "$@" --rng ;;
			console:*) set -- "$@" --console "file:${_d#console:}" ;;
			dmae) set -- "$@" --dma-engine ;;
			nestedvirt) set -- "$@" --nested-virt ;;
			vfio:*) set -- "$@" --vfio "${_d#vfio:}" ;;
			*) echo "lab: unknown device '$_d'" >&2; exit 2 ;;
			esac
		done
		# -v: the devices' statistics at exit (requests, frames, bytes) are evidence for the checks.
		exec "$LAB_MINIVMM" -v --kernel "$LAB_VMLINUZ" --initrd "$LAB_L2_INITRD" --cmdline "$_a" \
			--mem "$_m" --cpus "$_c" --viommu "$_v" --serial stdio "$@" ;;
	qemu)
		# The reference VMM: q35 with QEMU's own VT-d model. Interrupt remapping under KVM needs the
		# split irqchip; x-flts=on offers first-stage translation only, like minivmm's --viommu flts.
		# QEMU wants intel-iommu before the devices it translates.
		_vo=",disable-legacy=on"
		if [ "$_v" = flts ]; then
			set -- -M q35,kernel-irqchip=split -device intel-iommu,intremap=on,x-scalable-mode=on,x-flts=on
			_vo="$_vo,iommu_platform=on"
		elif [ "$_v" = slts ]; then
			# Scalable mode with second-stage tables (x-flts=off), like minivmm's --viommu slts.
			set -- -M q35,kernel-irqchip=split -device intel-iommu,intremap=on,x-scalable-mode=on
			_vo="$_vo,iommu_platform=on"
		else
			set -- -M q35
		fi
		_i=0 _fd=""
		for _d in $_devs; do
			_i=$((_i + 1))
			case $_d in
			disk:*)
				_p=${_d#disk:}
				_o=""
				case ,$_p, in *,readonly,*) _o=",readonly=on" ;; esac
				case ,$_p, in *,direct,*) _o="$_o,cache.direct=on" ;; esac
				case ,$_p, in *,aio=io_uring,*) _o="$_o,aio=io_uring" ;; esac
				set -- "$@" -drive "file=${_p%%,*},if=none,id=disk$_i,format=raw$_o" \
					-device "virtio-blk-pci,drive=disk$_i$_vo" ;;
			net:*)
				set -- "$@" -netdev "tap,id=net$_i,ifname=${_d#net:},script=no,downscript=no" \
					-device "virtio-net-pci,netdev=net$_i,romfile=$_vo" ;;
			rng)
				set -- "$@" -object "rng-random,id=rng$_i,filename=/dev/urandom" \
					-device "virtio-rng-pci,rng=rng$_i$_vo" ;;
			console:*)
				set -- "$@" -chardev "file,id=con$_i,path=${_d#console:}" -device "virtio-serial-pci$_vo" \
					-device "virtconsole,chardev=con$_i" ;;
			dmae) echo "lab: QEMU has no DMA-engine device (it is minivmm's own test device)" >&2; exit 2 ;;
			vfio:*)
				# One iommufd object (/dev/iommu) for all the assigned functions.
				[ -n "$_fd" ] || set -- "$@" -object iommufd,id=iommufd0
				_fd=1
				set -- "$@" -device "vfio-pci,host=${_d#vfio:},iommufd=iommufd0" ;;
			*) echo "lab: unknown device '$_d'" >&2; exit 2 ;;
			esac
		done
		exec "$LAB_QEMU" -accel kvm -cpu host -smp "$_c" -m "$_m" "$@" -nodefaults -no-user-config \
			-display none -vga none -serial stdio -monitor none -no-reboot \
			-kernel "$LAB_VMLINUZ" -initrd "$LAB_L2_INITRD" -append "$_a" ;;
	*)
		echo "lab: unknown LAB_VMM '$LAB_VMM' (minivmm or qemu)" >&2
		exit 2 ;;
	esac
}

# vmm_supports DEVICE: whether the VMM under test has that kind of device (the dmae is minivmm's own).
vmm_supports() {
	case $LAB_VMM:$1 in
	qemu:dmae) return 1 ;;
	esac
	return 0
}

# vmm_expected_pci CPUS MEM VIOMMU APPEND: the PCI functions the VMM says it built, one
# "BDF vendor device class" line each (sysfs notation: 0000:00:00.0 0x8086 0x29c0 0x060000).
# minivmm describes its machine in the device tree it writes with --dump-dtb (machine/fdt.h); QEMU's q35
# with -nodefaults always has the same four functions (hw/pci-host/q35.c, hw/i386/pc_q35.c).
# Returns non-zero, with the reason on stderr, when the VMM cannot say.
vmm_expected_pci() {
	case $LAB_VMM in
	minivmm)
		dtb=$LAB_WORK/expected.dtb
		rm -f "$dtb"
		if ! "$LAB_MINIVMM" --kernel "$LAB_VMLINUZ" --initrd "$LAB_L2_INITRD" --cmdline "$4" \
			--mem "$2" --cpus "$1" --viommu "$3" --serial none --dump-dtb "$dtb" \
			>"$LAB_WORK/dump-dtb.out" 2>&1 || [ ! -s "$dtb" ]; then
			echo "minivmm --dump-dtb failed: $(tr '\n' ' ' <"$LAB_WORK/dump-dtb.out")" >&2
			return 1
		fi
		command -v fdtget >/dev/null || { echo "fdtget (device-tree-compiler) is missing" >&2; return 1; }
		host=$(fdtget -l "$dtb" / | grep '^pci@' | head -n 1)
		[ -n "$host" ] || { echo "the device tree has no /pci@... node" >&2; return 1; }
		for n in $(fdtget -l "$dtb" "/$host" 2>/dev/null); do
			p=/$host/$n
			# reg's first cell is the PCI address: bus << 16 | devfn << 8 (IEEE 1275 PCI binding).
			r=$(fdtget -t x "$dtb" "$p" reg | cut -d' ' -f1)
			r=$((0x$r))
			printf '0000:%02x:%02x.%x 0x%04x 0x%04x 0x%06x\n' $(((r >> 16) & 0xff)) \
				$(((r >> 11) & 0x1f)) $(((r >> 8) & 7)) \
				$((0x$(fdtget -t x "$dtb" "$p" vendor-id))) $((0x$(fdtget -t x "$dtb" "$p" device-id))) \
				$((0x$(fdtget -t x "$dtb" "$p" class-code)))
		done | sort ;;
	qemu)
		printf '%s\n' '0000:00:00.0 0x8086 0x29c0 0x060000' '0000:00:1f.0 0x8086 0x2918 0x060100' \
			'0000:00:1f.2 0x8086 0x2922 0x010601' '0000:00:1f.3 0x8086 0x2930 0x0c0500' ;;
	esac
}

# l2_fact NAME KEY: the value(s) of "@@ KEY ..." lines the L2 /init printed in boot NAME.
l2_fact() { tr -d '\r' <"$LAB_WORK/$1.console" | sed -n "s/^@@ $2 //p; s/^@@ $2\$//p"; }
l2_has() { tr -d '\r' <"$LAB_WORK/$1.console" | grep -q "^@@ $2"; }

# l2_stamp STAMPFILE: copy the console from stdin to stdout, line by line as it comes, and write this
# machine's uptime into STAMPFILE when L2's /init announces itself (boot to userspace, wall clock).
l2_stamp() {
	awk -v f="$1" '{ print; fflush() }
		!s && /^@@ L2-USERSPACE/ { getline u < "/proc/uptime"; split(u, t, " "); print t[1] > f; close(f); s = 1 }'
}

# l2_boot NAME CPUS MEM VIOMMU APPEND [DEVICES]
# Boot L2 with the VMM under test (DEVICES: see vmm_exec), a watchdog and up to LAB_L2_TRIES boots when
# L2 hangs. TCG's emulated SVM hangs about 1 L2 boot in 7 (the L2 vCPU loops on nested page faults;
# /work/shared/lab/README.md), so a hang is retried, and every retry is printed; a hang that repeats
# LAB_L2_TRIES times fails. It also corrupts L2 now and then (tests/lab/README.md): a guest that
# triple-faults before reaching userspace (minivmm's status 4) is retried the same way, printed as a
# RETRY with the VMM's words, and fails when it repeats. A crash after userspace (seen once in CI,
# during virtio-blk I/O, in a run whose L1 also died) is retried once per check, printed the same way:
# a second one fails the check, since a VMM that corrupts its guest would crash it again. Anything else
# (an exit with another status) is the VMM's answer and is not retried.
# Optional, set by the check before the call:
#   L2_TIMEOUT   the watchdog of this boot in seconds (default LAB_L2_TIMEOUT): boots with a workload
#                take longer
#   L2_BEFORE    a command run before every boot, retries included (e.g. restoring a disk image that a
#                hung boot may have half written); if it fails, so does the boot (L2_RC 127)
# Sets L2_RC (exit status, 124 = hung every time), L2_SECS, L2_USERSPACE_SECS (VMM start to the L2 /init's
# first line, wall clock; empty if never), L2_HUNG (hangs seen), L2_CMDLINE, and leaves
# $LAB_WORK/NAME.console and NAME.stderr of the last boot (NAME.hangN.* of each hung one).
l2_boot() {
	_n=$1 _c=$2 _m=$3 _v=$4 _devs=${6:-}
	_a="console=ttyS0 panic=-1$([ "$LAB_L2_QUIET" = 1 ] && echo " quiet") $5"
	_out=$LAB_WORK/$_n.console _err=$LAB_WORK/$_n.stderr _fifo=$LAB_WORK/$_n.fifo _stamp=$LAB_WORK/$_n.stamp
	_limit=${L2_TIMEOUT:-$LAB_L2_TIMEOUT}
	mkdir -p "$LAB_WORK"
	L2_HUNG=0
	L2_CMDLINE=$_a
	L2_USERSPACE_SECS=""
	_try=1 _late=0
	lab_say "[$_n] $LAB_VMM: cpus=$_c mem=$_m viommu=$_v cmdline='$_a'${_devs:+ devices='$_devs'}" \
		"(watchdog $_limit s)"
	while :; do
		if [ -n "${L2_BEFORE:-}" ] && ! $L2_BEFORE; then
			lab_say "[$_n] boot $_try: '$L2_BEFORE' failed: not booting"
			L2_RC=127 L2_SECS=0
			: >"$_out"
			: >"$_err"
			return 0
		fi
		rm -f "$_fifo" "$_stamp"
		mkfifo "$_fifo" || { L2_RC=127 L2_SECS=0; return 0; }
		l2_stamp "$_stamp" <"$_fifo" >"$_out" &
		_spid=$!
		_t0=$(lab_now)
		vmm_exec "$_c" "$_m" "$_v" "$_a" "$_devs" >"$_fifo" 2>"$_err" </dev/null &
		_pid=$!
		_why=""
		_end=""
		while kill -0 $_pid 2>/dev/null; do
			sleep 0.5
			_el=$(lab_since "$_t0")
			if tr -d '\r' <"$_out" | grep -q '^@@ L2-POWEROFF-FAILED'; then
				_why=nopoweroff
			elif [ -z "$_end" ] && tr -d '\r' <"$_out" | grep -q '^@@ L2-END'; then
				_end=$_el
			fi
			# L2 finished but the VMM keeps running: the VMM's fault, not a TCG hang.
			[ -n "$_end" ] && [ -z "$_why" ] &&
				awk -v e="$_el" -v s="$_end" 'BEGIN { exit !(e - s > 20) }' && _why=noexit
			[ -z "$_why" ] && awk -v e="$_el" -v t="$_limit" 'BEGIN { exit !(e >= t) }' && _why=hang
			if [ -n "$_why" ]; then
				kill -9 $_pid 2>/dev/null
				break
			fi
		done
		wait $_pid 2>/dev/null
		L2_RC=$?
		L2_SECS=$(lab_since "$_t0")
		wait $_spid 2>/dev/null
		rm -f "$_fifo"
		[ -s "$_stamp" ] && L2_USERSPACE_SECS=$(awk -v a="$_t0" -v b="$(cat "$_stamp")" \
			'BEGIN { printf "%.2f", b - a }')
		if [ -z "$_why" ] && [ "$LAB_VMM" = minivmm ] && [ "$L2_RC" = 4 ]; then
			if [ -z "$L2_USERSPACE_SECS" ]; then
				_why=crash
			elif [ "$_late" = 0 ]; then
				_why=late _late=1
			fi
		fi
		case $_why in
		"")
			lab_say "[$_n] boot $_try: $LAB_VMM exited with status $L2_RC after ${L2_SECS} s" \
				"(userspace after ${L2_USERSPACE_SECS:-never} s)"
			return 0 ;;
		nopoweroff)
			lab_say "[$_n] boot $_try: L2 could not power off (poweroff -f returned); killed $LAB_VMM"
			L2_RC=125
			return 0 ;;
		noexit)
			lab_say "[$_n] boot $_try: L2 powered off but $LAB_VMM did not exit within 20 s; killed it"
			L2_RC=126
			return 0 ;;
		esac
		L2_HUNG=$((L2_HUNG + 1))
		_last=$(tr -d '\r' <"$_out" | grep -v '^[[:space:]]*$' | tail -n 1 | cut -c1-100)
		_what="hung (no exit after $_limit s; last console line: '$_last')"
		_words=$(grep -m 1 -E 'triple fault|error' "$_err" | tr -d '\r' | cut -c1-80)
		case $_why in
		crash) _what="crashed before userspace after ${L2_SECS} s ($_words; last console line: '$_last')" ;;
		late) _what="crashed after userspace, ${L2_SECS} s in (userspace after $L2_USERSPACE_SECS s; $_words; last console line: '$_last'), once in this check" ;;
		esac
		L2_USERSPACE_SECS=""
		# Keep the hung boot's console and stderr beside the final ones.
		mv "$_out" "$LAB_WORK/$_n.hang$_try.console"
		mv "$_err" "$LAB_WORK/$_n.hang$_try.stderr"
		[ $_try -ge "$LAB_L2_TRIES" ] && cp "$LAB_WORK/$_n.hang$_try.console" "$_out" &&
			cp "$LAB_WORK/$_n.hang$_try.stderr" "$_err"
		if [ $_try -ge "$LAB_L2_TRIES" ]; then
			lab_say "[$_n] boot $_try: L2 $_what; $_try of $LAB_L2_TRIES boots went wrong: giving up"
			[ "$_why" = crash ] || [ "$_why" = late ] || L2_RC=124
			return 0
		fi
		lab_say "RETRY [$_n] boot $_try of $LAB_L2_TRIES $_what: booting again"
		_try=$((_try + 1))
	done
}

# l2_require_exit NAME: evidence that boot NAME ended with the guest's poweroff (VMM exit status 0).
l2_require_exit() {
	if [ "$L2_RC" = 0 ]; then
		ev_ok "poweroff ended $LAB_VMM with exit status 0 (boot to poweroff ${L2_SECS} s, userspace" \
			"after ${L2_USERSPACE_SECS:-?} s)"
	else
		ev_fail "$LAB_VMM ended with exit status $L2_RC, want 0 (4: crash, 124: hung every boot, 125: guest" \
			"could not power off, 126: guest powered off but the VMM did not exit, 127: the boot could not" \
			"start)${_err:+: $(grep -m 1 -E 'error|triple fault' "$_err" 2>/dev/null | tr -d '\r' | cut -c1-120)}"
	fi
}

# l2_require_userspace NAME: fail the check (with the console and stderr as evidence) unless boot NAME
# reached the L2 /init and got to its end.
l2_require_userspace() {
	if l2_has "$1" L2-END; then
		ev_ok "L2 reached userspace ($(l2_fact "$1" L2-USERSPACE)) and finished its report ($(l2_fact "$1" L2-END))"
		return 0
	fi
	if l2_has "$1" L2-USERSPACE; then
		ev_fail "L2 reached userspace but its /init did not finish"
	else
		ev_fail "L2 never reached userspace"
	fi
	echo "      last L2 console lines:"
	ev_tail "$LAB_WORK/$1.console" 30
	echo "      $LAB_VMM stderr:"
	ev_tail "$LAB_WORK/$1.stderr" 20
	return 1
}
