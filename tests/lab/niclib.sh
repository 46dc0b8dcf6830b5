# Tier 3: what the NIC checks (checks/65-nic.sh: the physical function, checks/66-nic-vf.sh: an SR-IOV
# virtual function) share. A check sources this one file (it brings lib.sh, ptlib.sh and netlib.sh) and
# calls nic_setup.
#
# In the lab: L1's igb (QEMU's 82576 model, PF 8086:10c9, VF 8086:10ca, behind a PCIe root port) and
# its peer, L1's virtio-net NIC on the same QEMU hub (scripts/lab/l1.sh), which gets NIC_PEER_IP and
# serves HTTP (netlib.sh). L2's task "nic" (tests/lab/l2/nic.sh) runs the "net" task's traffic on eth0
# (3 pings, a fetch and a post, both checksummed), counts the NIC's interrupts, then unbinds and rebinds
# its driver and pings again. Only in the lab's L1 (a NIC is taken away from the host), or on a host
# where LAB_NIC_PF (the PF's BDF) and LAB_NIC_PEER (an interface on the PF's wire) say what to use.
#
#   nic_setup            find the PF (NIC_PF) and the peer (NIC_PEER), check /dev/iommu and vfio-pci,
#                        give the peer its address, start the server; nic_cleanup (at exit) undoes it
#                        and takes away the VF in NIC_VF, if any
#   nic_to_vfio BDF      from whatever driver to vfio-pci, with its VFIO cdev; else the check fails here
#   from_vfio BDF [none] back to the host's own driver (none: to no driver)
#   nic_host_link BDF    the function with the host's own driver, its interface up: NIC_NET, NIC_LINK
#                        (its operstate, "up" once it has carrier; waits up to 30 s)
#   group BDF            its IOMMU group, or none
#   nic_judge BOOT DRIVER DEVICE-ID BDF   L2's view of the function, its traffic, interrupts (MSI-X),
#                        the driver reload, and (minivmm) the reset on start and on exit in its -v lines

S=/sys/bus/pci
NIC_PEER_IP=10.238.0.1
NIC_GUEST_IP=10.238.0.2
NIC_RX_KIB=2048
NIC_TX_KIB=1024
NIC_TASK="lab.do=nic lab.net=$NIC_GUEST_IP/24,$NIC_PEER_IP,$NIC_TX_KIB"
# One L2 vCPU, as in the other I/O checks (TCG's emulated SVM and two L2 vCPUs: tests/lab/README.md).
CPUS=1
MEM=512M

. "$LAB_TESTS_DIR/lib.sh"
. "$LAB_TESTS_DIR/ptlib.sh"
. "$LAB_TESTS_DIR/netlib.sh"

skip() { echo "    skip: $*"; exit 77; }
absent() {
	[ "${LAB_L1:-0}" = 1 ] || skip "$*"
	ev_fail "$* (the lab's L1 is built to have it: scripts/lab/l1.sh, scripts/lab/initramfs.sh)"
	ev_result
}

group() { if [ -e "$S/devices/$1/iommu_group" ]; then basename "$(readlink "$S/devices/$1/iommu_group")"; else echo none; fi; }
netdev() {
	for _i in $(seq 20); do
		_n=$(ls "$S/devices/$1/net" 2>/dev/null | head -n 1)
		[ -n "$_n" ] && { echo "$_n"; return; }
		sleep 0.5
	done
}
link_up() {
	ip link set "$1" up 2>/dev/null
	for _i in $(seq 40); do
		[ "$(cat "/sys/class/net/$1/operstate" 2>/dev/null)" = up ] && break
		sleep 0.5
	done
	cat "/sys/class/net/$1/operstate" 2>/dev/null || echo gone
}
nic_to_vfio() {
	[ -e "$S/devices/$1/driver" ] && echo "$1" >"$S/devices/$1/driver/unbind"
	echo vfio-pci >"$S/devices/$1/driver_override"
	echo "$1" >"$S/drivers_probe" 2>/dev/null
	_v=$(ls "$S/devices/$1/vfio-dev" 2>/dev/null | head -n 1)
	[ "$(drv "$1")" = vfio-pci ] && [ -n "$_v" ] && [ -c "/dev/vfio/devices/$_v" ] && return 0
	ev_fail "$1 did not go to vfio-pci: driver $(drv "$1"), $(dmesg | grep -iE 'vfio' | tail -n 2 | tr '\n' ';')"
	ev_result
}
from_vfio() {
	[ "$(drv "$1")" = vfio-pci ] && echo "$1" >"$S/drivers/vfio-pci/unbind"
	echo >"$S/devices/$1/driver_override"
	[ "${2:-}" = none ] || echo "$1" >"$S/drivers_probe" 2>/dev/null
}
nic_host_link() {
	[ "$(drv "$1")" = igb ] || from_vfio "$1"
	NIC_NET=$(netdev "$1")
	NIC_LINK=$([ -n "$NIC_NET" ] && link_up "$NIC_NET")
}

nic_setup() {
	NIC_PF=${LAB_NIC_PF:-}
	NIC_PEER=${LAB_NIC_PEER:-}
	if [ -z "$NIC_PF" ]; then
		[ "${LAB_L1:-0}" = 1 ] || skip "not in the lab's L1 and no LAB_NIC_PF/LAB_NIC_PEER: no host NIC is taken away"
		for d in "$S"/devices/*; do
			[ "$(cat "$d/vendor" 2>/dev/null):$(cat "$d/device" 2>/dev/null)" = 0x8086:0x10c9 ] && NIC_PF=$(basename "$d") && break
		done
		for n in /sys/class/net/*; do
			[ "$(basename "$(readlink "$n/device/driver" 2>/dev/null)")" = virtio_net ] && NIC_PEER=$(basename "$n") && break
		done
	fi
	[ -n "$NIC_PF" ] || absent "no igb (8086:10c9) among the host's PCI functions"
	[ -n "$NIC_PEER" ] || absent "no peer interface (L1's virtio-net NIC on the igb's hub)"
	[ -c /dev/iommu ] || absent "no /dev/iommu (iommufd)"
	[ -d "$S/drivers/vfio-pci" ] || modprobe vfio-pci 2>/dev/null
	[ -d "$S/drivers/vfio-pci" ] || absent "no vfio-pci driver"
	[ -d "$S/drivers/igb" ] || modprobe igb 2>/dev/null
	NIC_PF_GROUP=$(group "$NIC_PF")
	[ "$NIC_PF_GROUP" != none ] || absent "$NIC_PF is in no IOMMU group: the host runs without an IOMMU"
	ev_info "the host's NIC: PF $NIC_PF $(cat "$S/devices/$NIC_PF/vendor"):$(cat "$S/devices/$NIC_PF/device") driver=$(drv "$NIC_PF")" \
		"iommu_group=$NIC_PF_GROUP sriov_totalvfs=$(cat "$S/devices/$NIC_PF/sriov_totalvfs" 2>/dev/null); peer $NIC_PEER"
	ip addr flush dev "$NIC_PEER" 2>/dev/null
	ip addr add "$NIC_PEER_IP/24" dev "$NIC_PEER"
	ev_info "peer $NIC_PEER $NIC_PEER_IP: $(link_up "$NIC_PEER")"
	# Only the peer answers for its address (L1's igb, when up, is on the same wire).
	NIC_ARP_IGNORE=$(cat /proc/sys/net/ipv4/conf/all/arp_ignore)
	echo 1 >/proc/sys/net/ipv4/conf/all/arp_ignore
	net_serve $NIC_PEER_IP $NIC_RX_KIB
	NIC_VF=""
	trap nic_cleanup EXIT
}

# The host as it was: no server, no VF, the PF with its own driver, the peer without its address.
nic_cleanup() {
	net_stop
	[ -n "$NIC_VF" ] && from_vfio "$NIC_VF" none
	echo 0 >"$S/devices/$NIC_PF/sriov_numvfs" 2>/dev/null
	[ "$(drv "$NIC_PF")" = vfio-pci ] && from_vfio "$NIC_PF"
	ip addr flush dev "$NIC_PEER" 2>/dev/null
	echo "$NIC_ARP_IGNORE" >/proc/sys/net/ipv4/conf/all/arp_ignore
}

nic_judge() {
	_b=$1
	l2_require_exit
	l2_require_userspace "$_b" || return 0
	_l=$(l2_fact "$_b" pci | grep " 0x8086 $3 " | head -n 1)
	case $_l in
	*" driver=$2") ev_ok "[$_b] L2 sees the host's function with its IDs, driven by $2: $_l" ;;
	*) ev_fail "[$_b] want an 8086:${3#0x} function driven by $2 in L2: '${_l:-none}'; its PCI functions:" \
		"$(l2_fact "$_b" pci | awk '{ printf "%s%s %s:%s %s", (NR > 1 ? "; " : ""), $1, $2, $3, $7 }')" ;;
	esac
	_d=$(l2_fact "$_b" net-dev)
	case $_d in
	*"driver=$2"*) ev_ok "[$_b] eth0: $_d" ;;
	*) ev_fail "[$_b] eth0 is not driven by $2: '$_d'" ;;
	esac
	net_judge "$_b" $NIC_PEER_IP
	_q=$(l2_fact "$_b" nic-irq)
	case " $_q " in
	*" count=0 "*) ev_fail "[$_b] the NIC never interrupted: '$_q'" ;;
	*" chip="*MSIX*) ev_ok "[$_b] the NIC interrupts by MSI-X: $_q" ;;
	*) ev_fail "[$_b] want the NIC's interrupts by MSI-X: '${_q:-no eth0 in /proc/interrupts}'" ;;
	esac
	case $(l2_fact "$_b" net-link) in
	*operstate=up*) ;;
	*) l2_fact "$_b" nic-dmesg | sed 's/^/      L2 | /'
		dmesg | grep -E 'igb' | tail -n 8 | sed 's/^/      L1 | /' ;;
	esac
	_r=$(l2_fact "$_b" nic-rebind)
	case " $_r " in
	*" gone=yes rebound=$2 operstate=up ping_rc=0 "*3_packets_received*) ev_ok "[$_b] driver reload in L2: $_r" ;;
	*) ev_fail "[$_b] after unbinding and rebinding $2 in L2: '${_r:-no report}'" ;;
	esac
	if [ "$LAB_VMM" = minivmm ]; then
		_s=$(grep -c "vfio $4: reset on start (VFIO_DEVICE_RESET)" "$LAB_WORK/$_b.stderr")
		_e=$(grep -c "vfio $4: reset on exit (VFIO_DEVICE_RESET)" "$LAB_WORK/$_b.stderr")
		if [ "$_s" = 1 ] && [ "$_e" = 1 ]; then
			ev_ok "[$_b] minivmm -v: the function was reset on start and on exit"
		else
			ev_fail "[$_b] minivmm -v: $_s 'reset on start' and $_e 'reset on exit' lines for $4, want one each:" \
				"$(grep -i reset "$LAB_WORK/$_b.stderr" | head -n 3 | tr '\n' ';')"
		fi
	fi
}

