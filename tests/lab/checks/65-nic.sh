#!/bin/sh
# Tier 3 check "nic": a NIC's physical function passed through to L2 (--vfio), with traffic both ways
# (tests/lab/niclib.sh: L1's igb and its peer; L2's task "nic").
#   pf     the PF, from L1's igb to vfio-pci, --viommu off: L2's igb driver takes it (the host's IDs),
#          gets link, the traffic passes with MSI-X, and after a driver reload in L2 it works again;
#          minivmm resets the function on start and on exit (its -v lines say so)
#   flts   the PF with --viommu flts: the precise refusal (L1's VT-d cannot nest; ptlib.sh)
#   probe  minivmm probe on the PF: usable with --viommu off, and with flts the launch's refusal word for
#          word (ptlib.sh)
#   back   the PF back to L1's igb: it comes up with link (minivmm gave it back usable)
# lab-budget: boots=1 seconds=90
. "$LAB_TESTS_DIR/niclib.sh"
nic_setup

# --- pf
nic_to_vfio "$NIC_PF"
l2_boot nic-pf $CPUS $MEM off "$NIC_TASK" "vfio:$NIC_PF"
nic_judge nic-pf igb 0x10c9 "$NIC_PF"

# --- flts, and probe's verdicts on the same function
pt_refusal nic-flts "$NIC_PF" "lab.do=nic"
pt_probe "$NIC_PF" "$PT_REFUSAL"

# --- back: L1's igb again, with link.
nic_host_link "$NIC_PF"
if [ "$(drv "$NIC_PF")" = igb ] && [ "$NIC_LINK" = up ]; then
	ev_ok "afterwards $NIC_PF is back with L1's igb as $NIC_NET, link $NIC_LINK"
else
	ev_fail "afterwards $NIC_PF: driver $(drv "$NIC_PF"), interface '${NIC_NET:-none}', operstate '${NIC_LINK:-none}':" \
		"$(dmesg | grep -iE 'igb' | tail -n 3 | tr '\n' ';')"
fi
ev_result
