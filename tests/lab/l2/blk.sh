# Tier 3, L2 task "blk" (sourced by tests/lab/l2-init.sh; lab.do=blk): random writes to a virtio-blk
# disk, read back. lab.blk=SEED,OPS,MAXSECT,REGIONMIB. Two disks, told apart by the labels the check
# wrote: LAB-DST (written here) and LAB-SRC (read-only: the data).
#
# OPS copies, from a generator seeded with SEED: each of 1..MAXSECT sectors of 512 bytes, from a random
# sector of the source to a random sector of the target (busybox dd, byte offsets, through the page
# cache: unaligned ones make the kernel read-modify-write pages). Every copy is printed as
# "@@ blk-op N SRC-SECTOR DST-SECTOR SECTORS RC" so that the check can replay the same on the image.
# Then sync, drop the page cache, and read the whole target back with O_DIRECT in REGIONMIB-MiB regions:
# "@@ blk-md5 I MD5". Times in "@@ blk-time".
p=$(arg blk)
seed=${p%%,*}; p=${p#*,}
ops=${p%%,*}; p=${p#*,}
maxs=${p%%,*}; rmib=${p#*,}
dst="" src=""
for b in /sys/block/vd*; do
	[ -e "$b" ] || continue
	n=$(basename "$b")
	case $(dd if=/dev/$n bs=512 count=1 2>/dev/null | head -c 16 | tr -c 'A-Za-z0-9-' ' ' | sed 's/ .*//') in
	LAB-DST) dst=$n ;;
	LAB-SRC) src=$n ;;
	esac
done
if [ -z "$dst" ] || [ -z "$src" ]; then
	say blk-error "no LAB-DST/LAB-SRC disks (dst='$dst' src='$src')"
else
	ssec=$(cat /sys/block/$src/size)
	dsec=$(cat /sys/block/$dst/size)
	say blk-plan seed=$seed ops=$ops max_sectors=$maxs region_mib=$rmib dst=$dst dst_sectors=$dsec src=$src src_sectors=$ssec
	t0=$(now)
	awk -v seed="$seed" -v n="$ops" -v max="$maxs" -v ss="$ssec" -v ds="$dsec" 'BEGIN {
		srand(seed)
		for (i = 1; i <= n; i++) {
			len = 1 + int(rand() * max)
			print i, int(rand() * (ss - len + 1)), int(rand() * (ds - len + 1)), len
		}
	}' >/tmp/plan
	wbytes=0
	while read -r i s d l; do
		dd if=/dev/$src of=/dev/$dst bs=256k iflag=skip_bytes,count_bytes oflag=seek_bytes conv=notrunc \
			skip=$((s * 512)) seek=$((d * 512)) count=$((l * 512)) 2>/dev/null
		say blk-op $i $s $d $l $?
		wbytes=$((wbytes + l * 512))
	done </tmp/plan
	t1=$(now)
	sync
	echo 3 >/proc/sys/vm/drop_caches
	t2=$(now)
	regions=$(( (dsec * 512 + (rmib << 20) - 1) / (rmib << 20) ))
	i=0
	while [ $i -lt $regions ]; do
		say blk-md5 $i $(dd if=/dev/$dst bs=1M skip=$((i * rmib)) count=$rmib iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
		i=$((i + 1))
	done
	t3=$(now)
	say blk-time copy=$(awk -v a=$t0 -v b=$t1 'BEGIN { print b - a }') sync=$(awk -v a=$t1 -v b=$t2 'BEGIN { print b - a }') \
		readback=$(awk -v a=$t2 -v b=$t3 'BEGIN { print b - a }') written_bytes=$wbytes readback_bytes=$((dsec * 512))
fi
