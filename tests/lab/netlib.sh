# Tier 3: the peer of the network checks (checks/40-virtio-net.sh, checks/65-nic.sh) and the judgement
# of what L2's "net" task (tests/lab/l2/net.sh) reported against it. Sourced by a check after lib.sh.
#
#   net_serve IP KIB    busybox httpd on IP:8080, serving $LAB_WORK/www: /blob, KIB KiB of random data
#                       for L2 to fetch, and /cgi-bin/put, which keeps what L2 posts in $LAB_WORK/received
#                       and answers with its size and MD5
#   net_stop            the server away
#   net_judge BOOT IP   L2's link, its pings of IP, the fetched blob's and the posted file's checksums
#                       (the post is cleared afterwards, for the next boot)

net_serve() {
	mkdir -p "$LAB_WORK/www/cgi-bin"
	head -c $(($2 << 10)) /dev/urandom >"$LAB_WORK/www/blob"
	cat >"$LAB_WORK/www/cgi-bin/put" <<EOC
#!/bin/sh
cat >"$LAB_WORK/received"
printf 'Content-Type: text/plain\r\n\r\n'
printf 'bytes=%s,md5=%s\n' "\$(wc -c <"$LAB_WORK/received")" "\$(md5sum <"$LAB_WORK/received" | cut -d' ' -f1)"
EOC
	chmod 755 "$LAB_WORK/www/cgi-bin/put"
	rm -f "$LAB_WORK/received"
	busybox httpd -f -p "$1:8080" -h "$LAB_WORK/www" &
	NET_HPID=$!
}

net_stop() {
	kill "$NET_HPID" 2>/dev/null
	wait "$NET_HPID" 2>/dev/null
}

net_judge() {
	_b=$1 _ip=$2
	if l2_has "$_b" net-error; then
		ev_fail "[$_b] L2's task: $(l2_fact "$_b" net-error)"
		return 0
	fi
	_l=$(l2_fact "$_b" net-link)
	case $_l in
	*operstate=up*) ev_ok "[$_b] link: $_l" ;;
	*) ev_fail "[$_b] eth0 did not come up: '$_l'" ;;
	esac
	_p=$(l2_fact "$_b" net-ping)
	case $_p in
	"rc=0 "*3_packets_transmitted*3_packets_received*) ev_ok "[$_b] ping $_ip: $_p" ;;
	*) ev_fail "[$_b] ping $_ip: '$_p'" ;;
	esac
	_want=$(md5sum <"$LAB_WORK/www/blob" | cut -d' ' -f1)
	_rx=$(l2_fact "$_b" net-rx)
	case $_rx in
	"md5=$_want "*) ev_ok "[$_b] L2 fetched the peer's $(($(wc -c <"$LAB_WORK/www/blob") >> 10)) KiB blob intact" \
		"(md5 $_want; $_rx)" ;;
	*) ev_fail "[$_b] L2 fetched the blob with '$_rx', the peer's has md5 $_want" ;;
	esac
	_tx=$(l2_fact "$_b" net-tx)
	_gb=$(echo "$_tx" | sed -n 's/^bytes=\([0-9]*\) .*/\1/p')
	_gm=$(echo "$_tx" | sed -n 's/.* md5=\([0-9a-f]*\).*/\1/p')
	_hb=0 _hm=none
	if [ -f "$LAB_WORK/received" ]; then
		_hb=$(wc -c <"$LAB_WORK/received")
		_hm=$(md5sum <"$LAB_WORK/received" | cut -d' ' -f1)
	fi
	if [ -n "$_gm" ] && [ "$_gm" = "$_hm" ] && [ "$_gb" = "$_hb" ]; then
		ev_ok "[$_b] the peer received L2's $_gb bytes intact (md5 $_hm; $_tx)"
	else
		ev_fail "[$_b] L2 posted $_gb bytes with md5 '$_gm', the peer received $_hb bytes with md5 $_hm ($_tx)"
	fi
	rm -f "$LAB_WORK/received"
	ev_info "[$_b] L2 eth0: $(l2_fact "$_b" net-stats)"
}
