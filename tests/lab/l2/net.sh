# Tier 3, L2 task "net" (sourced by tests/lab/l2-init.sh; lab.do=net): IP over eth0 (virtio-net to the
# tap on the VMM's side; or a passed-through NIC, tests/lab/l2/nic.sh). lab.net=ADDR/PREFIX,PEER,KIB. Configures eth0, pings PEER, fetches http://PEER:8080/blob
# (received through the device) and posts KIB KiB of base64 text to http://PEER:8080/cgi-bin/put (sent
# through it: busybox wget posts a file as a C string, hence text). The check compares the checksums.
p=$(arg net)
addr=${p%%,*}; p=${p#*,}
peer=${p%%,*}; kib=${p#*,}
if [ ! -e /sys/class/net/eth0 ]; then
	say net-error "no eth0"
else
	say net-dev eth0 mac=$(cat /sys/class/net/eth0/address) pci=$(pci_of /sys/class/net/eth0/device) \
		driver=$(basename "$(readlink /sys/class/net/eth0/device/driver)")
	ip link set lo up
	ip addr add "$addr" dev eth0
	ip link set eth0 up
	# The link is up when the device says so (VIRTIO_NET_S_LINK_UP, or always without F_STATUS; a
	# passed-through igb after its PHY's autonegotiation and the driver's next watchdog run, seconds).
	for i in $(seq 200); do
		[ "$(cat /sys/class/net/eth0/operstate)" = up ] && break
		sleep 0.1
	done
	say net-link operstate=$(cat /sys/class/net/eth0/operstate) addr=$addr
	ping -c 3 -W 3 "$peer" >/tmp/ping.out 2>&1
	say net-ping rc=$? $(grep -E 'packets transmitted' /tmp/ping.out | tr ' ,' '_ ') $(grep -E 'min/avg/max' /tmp/ping.out | sed 's/.*= //;s/ /_/g')
	t0=$(now)
	rx=$(timeout 60 wget -q -O - "http://$peer:8080/blob" | md5sum | cut -d' ' -f1)
	t1=$(now)
	say net-rx md5=$rx secs=$(awk -v a=$t0 -v b=$t1 'BEGIN { print b - a }')
	head -c $((kib * 768)) /dev/urandom | base64 >/tmp/tx
	t0=$(now)
	reply=$(timeout 60 wget -q -O - --post-file /tmp/tx "http://$peer:8080/cgi-bin/put" | tr -d '\r\n')
	t1=$(now)
	say net-tx bytes=$(wc -c </tmp/tx) md5=$(md5sum </tmp/tx | cut -d' ' -f1) reply=${reply:-none} \
		secs=$(awk -v a=$t0 -v b=$t1 'BEGIN { print b - a }')
	say net-stats $(for f in rx_packets tx_packets rx_errors tx_errors rx_dropped tx_dropped; do
		printf '%s=%s ' $f "$(cat /sys/class/net/eth0/statistics/$f)"; done)
fi
