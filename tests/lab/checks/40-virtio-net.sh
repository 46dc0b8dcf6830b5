#!/bin/sh
# Tier 3 check "virtio-net": IP between L2 and the VMM's host over virtio-net on a tap, through the vIOMMU
# (--viommu flts, intel_iommu=on,sm_on). The host side makes a persistent tap (mvtap0) with an address
# and serves HTTP on it (netlib.sh: a random blob to fetch, a CGI that keeps what is posted); L2's task
# (tests/lab/l2/net.sh) configures eth0, pings the host, fetches the blob and posts a file. The checksums
# of both transfers must match on both sides, the pings must all come back, nothing may fault.
# lab-budget: boots=1 seconds=60
. "$LAB_TESTS_DIR/lib.sh"
. "$LAB_TESTS_DIR/netlib.sh"

# One vCPU: TCG's emulated SVM corrupted L1 or L2 in 5 of 16 I/O-heavy boots with two L2 vCPUs, in
# none of about 34 with one (tests/lab/README.md); the device paths do not need a second vCPU.
CPUS=1
MEM=512M
TAP=${LAB_NET_TAP:-mvtap0}
HOST_IP=10.237.0.1
GUEST_IP=10.237.0.2
RX_KIB=4096	# the blob L2 fetches
TX_KIB=2048	# what L2 posts (as base64: 4/3 of that)
W=$LAB_WORK

skip() { echo "    skip: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "a tap needs root"
[ -c /dev/net/tun ] || modprobe tun 2>/dev/null
[ -c /dev/net/tun ] || skip "no /dev/net/tun (the tun module is missing)"
command -v busybox >/dev/null || skip "busybox (httpd) is missing"

# The tap, persistent so that its address is there before the VMM opens it and after it closes it.
ip link del "$TAP" 2>/dev/null
if ! busybox tunctl -t "$TAP" >"$W/tunctl.out" 2>&1 || ! ip addr add "$HOST_IP/24" dev "$TAP" ||
	! ip link set "$TAP" up; then
	ev_fail "could not make tap $TAP with $HOST_IP/24: $(tr '\n' ' ' <"$W/tunctl.out")"
	ev_result
fi

net_serve $HOST_IP $RX_KIB

l2_boot net $CPUS $MEM flts "intel_iommu=on,sm_on lab.do=net lab.net=$GUEST_IP/24,$HOST_IP,$TX_KIB" "net:$TAP"

net_stop
ev_info "host side of $TAP: $(for f in rx_packets tx_packets rx_bytes tx_bytes rx_dropped tx_dropped; do
	printf '%s=%s ' $f "$(cat "/sys/class/net/$TAP/statistics/$f" 2>/dev/null)"; done)"
ip link del "$TAP" 2>/dev/null

l2_require_exit
l2_require_userspace net || ev_result
grep 'virtio-net.*\(stats\|tap\)' "$W/net.stderr" | sed 's/^/    info: /'

dev=$(l2_fact net net-dev)
case $dev in
*driver=virtio_net*) ev_ok "L2's eth0 is virtio-net: $dev" ;;
*) ev_fail "L2's eth0 is not driven by virtio_net: '$dev'" ;;
esac
l=$(l2_fact net pci | grep ' 0x1af4 0x1041 ' | head -n 1)
case $l in
*" type=DMA "* | *" type=DMA-FQ "*) ev_ok "the NIC's function is behind the vIOMMU: $l" ;;
*) ev_fail "the virtio-net function is not in a translated IOMMU domain: '$l'" ;;
esac
net_judge net $HOST_IP

f=$(l2_fact net dmesg | grep -E 'DMAR: \[(DMA|INTR-REMAP)|fault reason')
[ -z "$f" ] && ev_ok "no DMAR fault in L2's kernel log" || ev_fail "DMAR faults: $(echo "$f" | head -n 3 | tr '\n' ';')"
ev_result
