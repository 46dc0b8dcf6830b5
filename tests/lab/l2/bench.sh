# Tier 3, L2 task "bench" (sourced by tests/lab/l2-init.sh; lab.do=bench) on the first virtio-blk disk:
#   lab.bench=MIB   sequential read throughput: MIB MiB with dd bs=1M iflag=direct (no page cache:
#                   every byte a DMA by the device), timed with the guest's clock
#   lab.fio=SECS    then fio (from the second disk, an ext4 image with fio and its libraries, chrooted
#                   into: scripts/lab/initramfs.sh lab_fio_tools), io_uring, O_DIRECT, SECS seconds
#                   each, over the first MIB MiB: 4 KiB random reads at iodepth 1 and 32, 1 MiB
#                   sequential reads and writes (iodepth 4)
mib=$(arg bench)
secs=$(arg fio)
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
if [ -n "$secs" ] && [ -n "$b" ]; then
	t=/tmp/fio-root
	mkdir -p $t
	# ext4 wants crc32c from the crypto API, which no module dependency names.
	modprobe crc32c_generic 2>/dev/null
	modprobe ext4 2>/dev/null
	f=""
	for d in /sys/block/vd*; do
		[ "$(basename "$d")" != "$b" ] && f=$(basename "$d") && break
	done
	if [ -z "$f" ] || ! mount -t ext4 -o ro /dev/$f $t 2>/tmp/mount.err; then
		say bench-error "fio disk '$f' (block devices: $(ls /sys/block | tr '\n' ' ')): $(cat /tmp/mount.err 2>/dev/null); $(dmesg | grep -iE 'ext4|vdb|crc' | tail -n 3 | tr '\n' ';')"
	else
		mount -t devtmpfs devtmpfs $t/dev
		mount -t proc proc $t/proc
		# fio_job NAME RW BS DEPTH: one job; its terse v3 line gives read KiB/s and IOPS (fields 7, 8) and
		# write KiB/s and IOPS (48, 49).
		fio_job() {
			chroot $t /usr/bin/fio --name=$1 --filename=/dev/$b --rw=$2 --bs=$3 --iodepth=$4 \
				--ioengine=io_uring --direct=1 --size=${mib}M --runtime=$secs --time_based --ramp_time=1 \
				--output-format=terse --terse-version=3 >/tmp/fio.out 2>/tmp/fio.err
			_rc=$?
			l=$(grep '^3;' /tmp/fio.out | head -n 1)
			say fio-$1 rc=$_rc $(echo "$l" | awk -F';' '{ printf "read_kib_s=%s read_iops=%s write_kib_s=%s write_iops=%s", $7, $8, $48, $49 }') \
				$([ $_rc = 0 ] || head -c 200 /tmp/fio.err | tr '\n' ' ')
		}
		fio_job randread-qd1 randread 4k 1
		fio_job randread-qd32 randread 4k 32
		fio_job seqread read 1M 4
		fio_job seqwrite write 1M 4
		umount $t/proc $t/dev $t
	fi
fi
