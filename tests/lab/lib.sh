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

# vmm_exec CPUS MEM VIOMMU APPEND: become the L2 VMM (exec), console on stdout. VIOMMU: off | flts.
vmm_exec() {
	case $LAB_VMM in
	minivmm)
		exec "$LAB_MINIVMM" --kernel "$LAB_VMLINUZ" --initrd "$LAB_L2_INITRD" --cmdline "$4" \
			--mem "$2" --cpus "$1" --viommu "$3" --serial stdio ;;
	qemu)
		# The reference VMM: q35 with QEMU's own VT-d model. Interrupt remapping under KVM needs the
		# split irqchip; x-flts=on offers first-stage translation only, like minivmm's --viommu flts.
		if [ "$3" = flts ]; then
			set -- "$1" "$2" "$3" "$4" -M q35,kernel-irqchip=split \
				-device intel-iommu,intremap=on,x-scalable-mode=on,x-flts=on
		else
			set -- "$1" "$2" "$3" "$4" -M q35
		fi
		c=$1 m=$2 a=$4
		shift 4
		exec "$LAB_QEMU" -accel kvm -cpu host -smp "$c" -m "$m" "$@" -nodefaults -no-user-config \
			-display none -vga none -serial stdio -monitor none -no-reboot \
			-kernel "$LAB_VMLINUZ" -initrd "$LAB_L2_INITRD" -append "$a" ;;
	*)
		echo "lab: unknown LAB_VMM '$LAB_VMM' (minivmm or qemu)" >&2
		exit 2 ;;
	esac
}

# vmm_expected_pci CPUS MEM VIOMMU APPEND: the PCI functions the VMM says it built, one
# "BDF vendor device class" line each (sysfs notation: 0000:00:00.0 0x8086 0x29c0 0x060000).
# minivmm describes its machine in the device tree it writes with --dump-dtb (vmm/fdt.h); QEMU's q35
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

# l2_boot NAME CPUS MEM VIOMMU APPEND
# Boot L2 with the VMM under test, a watchdog (LAB_L2_TIMEOUT) and up to LAB_L2_TRIES boots when L2
# hangs. TCG's emulated SVM hangs about 1 L2 boot in 7 (the L2 vCPU loops on nested page faults;
# /work/shared/lab/README.md), so a hang is retried, and every retry is printed; a hang that repeats
# LAB_L2_TRIES times fails. Anything else (an exit, a crash) is the VMM's answer and is not retried.
# Sets L2_RC (exit status, 124 = hung every time), L2_SECS, L2_HUNG (hangs seen), L2_CMDLINE, and leaves
# $LAB_WORK/NAME.console and NAME.stderr of the last boot (NAME.hangN.* of each hung one).
l2_boot() {
	_n=$1 _c=$2 _m=$3 _v=$4
	_a="console=ttyS0 panic=-1$([ "$LAB_L2_QUIET" = 1 ] && echo " quiet") $5"
	_out=$LAB_WORK/$_n.console _err=$LAB_WORK/$_n.stderr
	mkdir -p "$LAB_WORK"
	L2_HUNG=0
	L2_CMDLINE=$_a
	_try=1
	lab_say "[$_n] $LAB_VMM: cpus=$_c mem=$_m viommu=$_v cmdline='$_a'"
	while :; do
		_t0=$(lab_now)
		vmm_exec "$_c" "$_m" "$_v" "$_a" >"$_out" 2>"$_err" </dev/null &
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
			[ -z "$_why" ] && awk -v e="$_el" -v t="$LAB_L2_TIMEOUT" 'BEGIN { exit !(e >= t) }' && _why=hang
			if [ -n "$_why" ]; then
				kill -9 $_pid 2>/dev/null
				break
			fi
		done
		wait $_pid 2>/dev/null
		L2_RC=$?
		L2_SECS=$(lab_since "$_t0")
		case $_why in
		"")
			lab_say "[$_n] boot $_try: $LAB_VMM exited with status $L2_RC after ${L2_SECS} s"
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
		# Keep the hung boot's console and stderr beside the final ones.
		mv "$_out" "$LAB_WORK/$_n.hang$_try.console"
		mv "$_err" "$LAB_WORK/$_n.hang$_try.stderr"
		[ $_try -ge "$LAB_L2_TRIES" ] && cp "$LAB_WORK/$_n.hang$_try.console" "$_out" &&
			cp "$LAB_WORK/$_n.hang$_try.stderr" "$_err"
		if [ $_try -ge "$LAB_L2_TRIES" ]; then
			lab_say "[$_n] boot $_try: L2 hung (no exit after $LAB_L2_TIMEOUT s; last console line: '$_last');" \
				"$_try of $LAB_L2_TRIES boots hung: giving up"
			L2_RC=124
			return 0
		fi
		lab_say "RETRY [$_n] boot $_try of $LAB_L2_TRIES hung (no exit after $LAB_L2_TIMEOUT s;" \
			"last console line: '$_last'): booting again"
		_try=$((_try + 1))
	done
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
