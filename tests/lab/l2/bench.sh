# Tier 3, L2 task "bench" (sourced by tests/lab/l2-init.sh; lab.do=bench): sequential read throughput of
# the first virtio-blk disk: lab.bench=MIB, read with dd bs=1M iflag=direct (no page cache: every byte a
# DMA by the device), timed with the guest's clock.
mib=$(arg bench)
b=""
for d in /sys/block/vd*; do
	[ -e "$d" ] && b=$(basename "$d") && break
done
if [ -z "$b" ]; then
	say bench-error "no virtio-blk disk"
else
	t0=$(now)
	dd if=/dev/$b of=/dev/null bs=1M count=$mib iflag=direct 2>/tmp/dd.err
	rc=$?
	t1=$(now)
	say bench-read disk=$b mib=$mib rc=$rc secs=$(awk -v a=$t0 -v b=$t1 'BEGIN { print b - a }') \
		mib_per_s=$(awk -v a=$t0 -v b=$t1 -v m=$mib 'BEGIN { if (b > a) printf "%.1f", m / (b - a); else print 0 }')
fi
