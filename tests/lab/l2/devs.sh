# Tier 3, L2 task "devs" (sourced by tests/lab/l2-init.sh; lab.do=devs): move data through the small
# virtio devices. virtio-rng: the hw_random core's current source and 64 bytes read from /dev/hwrng.
# virtio-console: the marker given as lab.hvc=TEXT written to /dev/hvc0 (the VMM writes it to a file the
# check reads back).
rc=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)
if [ -c /dev/hwrng ] && [ -n "$rc" ] && [ "$rc" != none ]; then
	n=$(timeout 10 dd if=/dev/hwrng bs=64 count=1 2>/dev/null | wc -c)
	say hwrng current=$rc bytes=$n
else
	say hwrng current=${rc:-absent} bytes=0
fi
m=$(arg hvc)
if [ -c /dev/hvc0 ] && [ -n "$m" ]; then
	echo "$m" >/dev/hvc0 && say hvc0 wrote=$m
else
	say hvc0 absent
fi
