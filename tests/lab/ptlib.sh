# Tier 3: what the passthrough checks (checks/60-passthrough.sh, checks/65-nic.sh) share. Sourced by a
# check after lib.sh; uses the check's CPUS and MEM.
#
#   drv BDF                     the driver bound to the host's function BDF, or none
#   pt_refusal NAME BDF APPEND  the VMM with --viommu flts and the function: L1's emulated VT-d cannot
#                               nest (no ECAP.NEST, no IOMMU_HWPT_ALLOC_NEST_PARENT), so minivmm must
#                               refuse before the guest runs: status 1 within LAB_PT_REFUSE_TIMEOUT (60 s)
#                               and one stderr line with "host IOMMU incompatible with --viommu flts" and
#                               "nested translation" (left in PT_REFUSAL). A hang, a signal, status 0 or
#                               another message fails. With LAB_VMM=qemu only reported (QEMU's VT-d has
#                               its own rules and words).
#   pt_probe BDF REFUSAL        minivmm probe's verdicts on the function (below)

drv() { if [ -e "/sys/bus/pci/devices/$1/driver" ]; then basename "$(readlink "/sys/bus/pci/devices/$1/driver")"; else echo none; fi; }

pt_refusal() {
	_n=$1 _bdf=$2 _w=$LAB_WORK
	( vmm_exec $CPUS $MEM flts "console=ttyS0 panic=-1 intel_iommu=on,sm_on $3" "vfio:$_bdf" ) \
		>"$_w/$_n.console" 2>"$_w/$_n.stderr" </dev/null &
	_pid=$!
	_t0=$(lab_now)
	_hung=0
	while kill -0 $_pid 2>/dev/null; do
		sleep 0.2
		if awk -v e="$(lab_since "$_t0")" -v t="${LAB_PT_REFUSE_TIMEOUT:-60}" 'BEGIN { exit !(e >= t) }'; then
			kill -9 $_pid 2>/dev/null
			_hung=1
			break
		fi
	done
	wait $_pid 2>/dev/null
	_rc=$?
	_secs=$(lab_since "$_t0")
	PT_REFUSAL=$(tr -d '\r' <"$_w/$_n.stderr" | grep 'host IOMMU incompatible with --viommu flts' |
		grep 'nested translation' | head -n 1)
	_ran=$(tr -d '\r' <"$_w/$_n.console" | grep -m 1 -E 'Linux version|^@@ L2-USERSPACE')
	_seen="status $_rc after $_secs s; stderr: '$(tr -d '\r' <"$_w/$_n.stderr" | head -n 3 | tr '\n' ';')'"
	_what="[$_n] --viommu flts --vfio $_bdf"
	if [ "$LAB_VMM" != minivmm ]; then
		ev_info "$LAB_VMM with its vIOMMU (flts) and $_bdf (not judged): $([ $_hung = 1 ] && echo "still running," \
			"killed; ")$_seen$([ -n "$_ran" ] && echo "; the guest ran")"
	elif [ $_hung = 1 ]; then
		ev_fail "$_what: minivmm still ran after ${LAB_PT_REFUSE_TIMEOUT:-60} s (killed); want status 1 at once;" \
			"$_seen; console: '$(tr -d '\r' <"$_w/$_n.console" | grep -v '^[[:space:]]*$' | tail -n 1 | cut -c1-100)'"
	elif [ $_rc -gt 128 ]; then
		ev_fail "$_what: minivmm died of signal $((_rc - 128)); $_seen"
	elif [ $_rc = 0 ]; then
		ev_fail "$_what: minivmm took the device (status 0) although the host IOMMU cannot" \
			"nest; $_seen$([ -n "$_ran" ] && echo "; the guest ran")"
	elif [ $_rc != 1 ]; then
		ev_fail "$_what: status $_rc, want 1 (a run-time refusal of the host); $_seen"
	elif [ -n "$_ran" ]; then
		ev_fail "$_what: the guest ran before minivmm refused ('$_ran'); $_seen"
	elif [ -z "$PT_REFUSAL" ]; then
		ev_fail "$_what: status 1 but no stderr line with 'host IOMMU incompatible with" \
			"--viommu flts' and 'nested translation'; $_seen"
	else
		ev_ok "$_what: minivmm refused in $_secs s with status 1, before the guest ran: '$PT_REFUSAL'"
		[ "$(grep -c . "$_w/$_n.stderr")" -gt 1 ] &&
			ev_info "stderr had $(grep -c . "$_w/$_n.stderr") lines: $(tr -d '\r' <"$_w/$_n.stderr" | head -n 5 | tr '\n' ';')"
	fi
	return 0
}

# pt_probe BDF REFUSAL: minivmm only: `minivmm probe --viommu off BDF` says "BDF: usable with --viommu
# off" (status 0); `minivmm probe -v --viommu flts BDF` says "BDF: not usable with --viommu flts: WHY"
# (status 1), WHY word for word the launch's refusal REFUSAL (pt_refusal's PT_REFUSAL), and -v shows the
# host's ECAP with NEST 0.
pt_probe() {
	_bdf=$1 _msg=$2 _n=$(echo "$1" | tr ':.' '--')
	[ "$LAB_VMM" = minivmm ] || return 0
	"$LAB_MINIVMM" probe --mem $MEM --viommu off "$_bdf" >"$LAB_WORK/$_n-probe-off.out" 2>&1
	_rc=$?
	_l=$(tr -d '\r' <"$LAB_WORK/$_n-probe-off.out" | head -n 1)
	if [ $_rc = 0 ] && [ "$_l" = "$_bdf: usable with --viommu off" ]; then
		ev_ok "minivmm probe --viommu off $_bdf: '$_l' (status 0), as the off boot showed"
	else
		ev_fail "minivmm probe --viommu off $_bdf: status $_rc, '$(tr -d '\r' <"$LAB_WORK/$_n-probe-off.out" | head -n 3 | tr '\n' ';')';" \
			"want status 0 and '$_bdf: usable with --viommu off'"
	fi
	"$LAB_MINIVMM" probe -v --mem $MEM --viommu flts "$_bdf" >"$LAB_WORK/$_n-probe-flts.out" 2>&1
	_rc=$?
	# The verdict line (with -v, minivmm's own messages such as the reset come too, on stderr).
	_l=$(tr -d '\r' <"$LAB_WORK/$_n-probe-flts.out" | grep -m 1 "^$_bdf: ")
	_why=$(printf '%s\n' "$_msg" | sed "s/^.*vfio $_bdf: //")
	if [ -z "$_msg" ]; then
		ev_fail "minivmm probe --viommu flts $_bdf: no launch refusal to compare with; probe said '$_l' (status $_rc)"
	elif [ $_rc = 1 ] && [ "$_l" = "$_bdf: not usable with --viommu flts: $_why" ]; then
		ev_ok "minivmm probe --viommu flts $_bdf: status 1 and the launch's reason word for word: '$_l'"
	else
		ev_fail "minivmm probe --viommu flts $_bdf: status $_rc, '$_l'; want status 1 and" \
			"'$_bdf: not usable with --viommu flts: $_why' (the launch's refusal)"
	fi
	_e=$(tr -d '\r' <"$LAB_WORK/$_n-probe-flts.out" | grep -m 1 '^ *ECAP ')
	case "$_e" in
	*"NEST 0"*) ev_ok "minivmm probe -v shows the host IOMMU: '$(tr -d '\r' <"$LAB_WORK/$_n-probe-flts.out" | sed -n 2,4p | tr '\n' ';')'" ;;
	*) ev_fail "minivmm probe -v: no ECAP line with NEST 0 (L1's VT-d cannot nest): '$(tr -d '\r' <"$LAB_WORK/$_n-probe-flts.out" | tr '\n' ';')'" ;;
	esac
}
