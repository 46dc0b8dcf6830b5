#!/bin/sh
# Tier 3 check "nic-vf": an SR-IOV virtual function of the NIC passed through to L2 (--vfio), with
# traffic both ways (tests/lab/niclib.sh: L1's igb and its peer; L2's task "nic").
#   vf     sriov_numvfs=1 on the PF (driven by L1's igb, up). First L1's own igbvf must bring the VF up:
#          if it cannot, the lab's VF does not work at all and the check is SKIPPED with what igbvf said
#          (seen with QEMU 10.0's igb: the VF's BARs read as zeros, igbvf reports "PF still in reset
#          state"). Otherwise the VF goes to vfio-pci, --viommu off: L2's igbvf takes it, gets link, the
#          traffic passes with MSI-X, the driver reload works; the PF keeps its driver, its IOMMU group
#          and its link, and the VF has a group of its own. Afterwards sriov_numvfs=0.
# lab-budget: boots=1 seconds=90
. "$LAB_TESTS_DIR/niclib.sh"
nic_setup
nic_host_link "$NIC_PF"
pfnet=$NIC_NET
[ "$NIC_LINK" = up ] || { ev_fail "the PF $NIC_PF has no link with L1's igb: '${pfnet:-no interface}' '$NIC_LINK'"; ev_result; }
echo 0 >"$S/devices/$NIC_PF/sriov_drivers_autoprobe"
if ! echo 1 >"$S/devices/$NIC_PF/sriov_numvfs" || [ ! -e "$S/devices/$NIC_PF/virtfn0" ]; then
	ev_fail "sriov_numvfs=1 on $NIC_PF made no VF: $(dmesg | grep -iE 'igb|sr-iov|iov' | tail -n 3 | tr '\n' ';')"
	ev_result
fi
NIC_VF=$(basename "$(readlink "$S/devices/$NIC_PF/virtfn0")")
vf_group=$(group "$NIC_VF")
ev_info "VF $NIC_VF $(cat "$S/devices/$NIC_VF/vendor"):$(cat "$S/devices/$NIC_VF/device") iommu_group=$vf_group"

# Does the VF work for L1's own driver? If not, nothing a VMM does can make it work in L2.
modprobe igbvf 2>/dev/null
echo igbvf >"$S/devices/$NIC_VF/driver_override"
echo "$NIC_VF" >"$S/drivers_probe" 2>/dev/null
vfnet=$(netdev "$NIC_VF")
vst=$([ -n "$vfnet" ] && link_up "$vfnet")
if [ "$vst" != up ]; then
	skip "the lab's VF does not work for L1's own igbvf (interface '${vfnet:-none}', operstate '${vst:-none}':" \
		"$(dmesg | grep igbvf | tail -n 3 | sed 's/^\[[ 0-9.]*\] //' | tr '\n' ';')): the emulated NIC's SR-IOV, not the VMM"
fi
ev_ok "L1's igbvf brings the VF up as $vfnet (link $vst): the VF works on this host"

if [ "$vf_group" != none ] && [ "$vf_group" != "$NIC_PF_GROUP" ]; then
	ev_ok "the VF $NIC_VF has an IOMMU group of its own ($vf_group; the PF's is $NIC_PF_GROUP)"
else
	ev_fail "the VF $NIC_VF's IOMMU group is '$vf_group', the PF's $NIC_PF_GROUP: it cannot be passed alone"
fi
nic_to_vfio "$NIC_VF"
l2_boot nic-vf $CPUS $MEM off "$NIC_TASK" "vfio:$NIC_VF"
nic_judge nic-vf igbvf 0x10ca "$NIC_VF"
st=$(cat "/sys/class/net/$pfnet/operstate" 2>/dev/null)
if [ "$(drv "$NIC_PF")" = igb ] && [ "$(group "$NIC_PF")" = "$NIC_PF_GROUP" ] && [ "$st" = up ]; then
	ev_ok "the PF stayed with L1's igb, in group $NIC_PF_GROUP, link $st, while its VF was in L2"
else
	ev_fail "the PF after its VF's run: driver $(drv "$NIC_PF"), group $(group "$NIC_PF") (was $NIC_PF_GROUP), operstate '$st'"
fi
ev_result
