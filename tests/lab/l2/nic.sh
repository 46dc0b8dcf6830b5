# Tier 3, L2 task "nic" (sourced by tests/lab/l2-init.sh; lab.do=nic; tests/lab/checks/65-nic.sh): a NIC
# passed through to L2 as eth0 (igb on the 82576's PF, igbvf on a VF). The "net" task's traffic first
# (lab.net=ADDR/PREFIX,PEER,KIB: ping, a fetch and a post, checksummed), then the interrupts the NIC
# raised, then its driver unbound and bound again (what a guest does on a driver reload): eth0 must
# go away, come back, get link and answer a ping again.
. /lab/l2/net.sh
if [ -e /sys/class/net/eth0/device ]; then
	fn=$(readlink -f /sys/class/net/eth0/device)
	bdf=$(basename "$fn")
	drv=$(basename "$(readlink "$fn/driver")")
	# The NIC's interrupt lines: how many, through which chip, how many interrupts in all.
	say nic-irq $(grep -E ' eth0' /proc/interrupts | awk '{ n++; for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+$/) c += $i;
		else { chip = $i; break } } END { printf "vectors=%d chip=%s count=%d", n, chip, c }')
	# The driver's own words (link, mailbox, reset), a few lines.
	dmesg | grep -E "$drv|eth0" | tail -n 8 | while read -r l; do say nic-dmesg $l; done
	# A NIC without link gets no reload: the driver's remove path may wait on a function that is not
	# talking to it, and the report would end in a hang instead of the facts above.
	if [ "$(cat /sys/class/net/eth0/operstate)" != up ]; then
		say nic-rebind skipped: no link
		return 0 2>/dev/null
	fi
	echo "$bdf" >"/sys/bus/pci/drivers/$drv/unbind"
	gone=yes
	[ -e /sys/class/net/eth0 ] && gone=no
	echo "$bdf" >"/sys/bus/pci/drivers/$drv/bind"
	for i in $(seq 100); do
		[ -e /sys/class/net/eth0 ] && break
		sleep 0.1
	done
	ip addr add "$addr" dev eth0 2>/dev/null
	ip link set eth0 up 2>/dev/null
	for i in $(seq 200); do
		[ "$(cat /sys/class/net/eth0/operstate 2>/dev/null)" = up ] && break
		sleep 0.1
	done
	ping -c 3 -W 3 "$peer" >/tmp/ping2.out 2>&1
	rc=$?
	say nic-rebind driver=$drv bdf=$bdf gone=$gone rebound=$(basename "$(readlink "$fn/driver" 2>/dev/null)") \
		operstate=$(cat /sys/class/net/eth0/operstate 2>/dev/null) ping_rc=$rc \
		$(grep -E 'packets transmitted' /tmp/ping2.out | tr ' ,' '_ ')
fi
