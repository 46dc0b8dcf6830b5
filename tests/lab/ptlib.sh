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
