#!/bin/sh
# Tier 3 check "virtio-blk": the guest writes and reads back a virtio-blk disk and the checksums match
# those computed on the host image, through the vIOMMU and without it:
#   flts    --viommu flts, intel_iommu=on,sm_on: scalable mode, first-stage tables
#   legacy  --viommu flts, intel_iommu=on,sm_off: the guest picks legacy mode (second-stage tables)
#   slts    --viommu slts, intel_iommu=on,sm_on: scalable mode, second-stage tables (PGTT 010b)
#   off     --viommu off
#
# The VMM's side makes two images: LAB-DST (the disk written, LAB_BLK_MIB MiB of a random background
# whose period is not a power of two, so a misplaced block shows) and LAB-SRC (read-only, random data).
# L2's task (tests/lab/l2/blk.sh) copies LAB_BLK_OPS runs of up to LAB_BLK_MAX_SECT sectors from random
# sectors of the source to random sectors of the target (a generator seeded with LAB_BLK_SEED, default
# the clock, printed), syncs, drops its page cache and reads the whole target back with O_DIRECT, one
# MD5 per 16 MiB region. Here, after the VMM exits: the same regions of the image file, and of a replay
# of the copies L2 reported on a copy of the background. All three must agree.
# lab-budget: boots=4 seconds=150
. "$LAB_TESTS_DIR/lib.sh"

# One vCPU: TCG's emulated SVM corrupted L1 or L2 in 5 of 16 I/O-heavy boots with two L2 vCPUs, in
# none of about 34 with one (tests/lab/README.md); the device paths do not need a second vCPU.
CPUS=1
MEM=512M
DST_MIB=${LAB_BLK_MIB:-256}
SRC_MIB=${LAB_BLK_SRC_MIB:-64}
OPS=${LAB_BLK_OPS:-64}
MAXS=${LAB_BLK_MAX_SECT:-8192}
RMIB=16
SEED=${LAB_BLK_SEED:-$(date +%s)}
W=$LAB_WORK

# region_md5s FILE: "I MD5" per RMIB-MiB region, as L2 prints them.
region_md5s() {
	_sz=$(wc -c <"$1")
	_r=$(((_sz + (RMIB << 20) - 1) / (RMIB << 20)))
	_i=0
	while [ $_i -lt $_r ]; do
		echo "$_i $(dd if="$1" bs=1M skip=$((_i * RMIB)) count=$RMIB 2>/dev/null | md5sum | cut -d' ' -f1)"
		_i=$((_i + 1))
	done
}

# replay OPS-FILE OUT: the copies L2 reported ("I SRC DST SECTORS RC"), applied to a copy of the background.
replay() {
	cp "$W/dst.base" "$2" || return 1
	while read -r _i _s _d _l _rc; do
		dd if="$W/src.img" of="$2" bs=256k iflag=skip_bytes,count_bytes oflag=seek_bytes conv=notrunc \
			skip=$((_s * 512)) seek=$((_d * 512)) count=$((_l * 512)) 2>/dev/null || return 1
	done <"$1"
}

t0=$(lab_now)
head -c $((SRC_MIB << 20)) /dev/urandom >"$W/src.img"
printf 'LAB-SRC\n' | dd of="$W/src.img" conv=notrunc 2>/dev/null
# Background: 4 MiB + 4 KiB of random bytes, repeated.
head -c $(((4 << 20) + 4096)) /dev/urandom >"$W/chunk"
: >"$W/dst.base"
i=0
while [ $i -lt $((DST_MIB / 4)) ]; do cat "$W/chunk" >>"$W/dst.base"; i=$((i + 1)); done
truncate -s $((DST_MIB << 20)) "$W/dst.base"
printf 'LAB-DST\n' | dd of="$W/dst.base" conv=notrunc 2>/dev/null
rm -f "$W/chunk"
ev_info "images: target $DST_MIB MiB (random background), source $SRC_MIB MiB (random), made in $(lab_since "$t0") s;" \
	"seed $SEED, $OPS copies of 1 to $MAXS sectors"

# Every boot, retries included, starts from the background.
restore() { cp "$W/dst.base" "$W/dst.img"; }
L2_BEFORE=restore
L2_TIMEOUT=${LAB_BLK_WATCHDOG:-$((LAB_L2_TIMEOUT + 150))}
want_ops=""
for mode in flts legacy slts off; do
	b=blk-$mode
	append="lab.do=blk lab.blk=$SEED,$OPS,$MAXS,$RMIB"
	viommu=$mode
	case $mode in
	flts | slts) append="intel_iommu=on,sm_on $append" ;;
	legacy) append="intel_iommu=on,sm_off $append" viommu=flts ;;
	esac
	echo "  -- --viommu $viommu ($mode)"
	l2_boot $b $CPUS $MEM $viommu "$append" "disk:$W/dst.img disk:$W/src.img,readonly"
	l2_require_exit
	l2_require_userspace $b || continue
	if l2_has $b blk-error || ! l2_has $b blk-plan; then
		ev_fail "L2's task did not run: $(l2_fact $b blk-error) $(l2_has $b blk-plan || echo "(no blk-plan line)")"
		continue
	fi
	ev_info "L2: $(l2_fact $b blk-plan)"
	ev_info "L2 times (s): $(l2_fact $b blk-time)"
	grep 'virtio-blk.*stats' "$W/$b.stderr" | sed 's/^/    info: /'

	# Through the vIOMMU: the disk must be in a translated domain, and nothing may fault.
	if [ $mode != off ]; then
		l=$(l2_fact $b pci | grep ' 0x1af4 0x1042 ' | head -n 1)
		case $l in
		*" type=DMA "* | *" type=DMA-FQ "*) ev_ok "the target disk's function is behind the vIOMMU: $l" ;;
		*) ev_fail "the virtio-blk function is not in a translated IOMMU domain: '$l'" ;;
		esac
		if [ "$LAB_VMM" = minivmm ]; then
			want="scalable mode"
			[ $mode = legacy ] && want="legacy mode"
			t=$(grep -o 'vtd: root table [^,]*, [a-z ]*' "$W/$b.stderr" | tail -n 1)
			case $t in
			*"$want") ev_ok "the guest's kernel set up the vIOMMU in $want: '$t'" ;;
			*) ev_fail "want the vIOMMU in $want, minivmm says '${t:-nothing (no SRTP)}'" ;;
			esac
		fi
		f=$(l2_fact $b dmesg | grep -E 'DMAR: \[(DMA|INTR-REMAP)|fault reason')
		[ -z "$f" ] && ev_ok "no DMAR fault in L2's kernel log" || ev_fail "DMAR faults: $(echo "$f" | head -n 3 | tr '\n' ';')"
	fi

	# The copies L2 made: all of them, each one successful.
	l2_fact $b blk-op >"$W/$b.ops"
	n=$(wc -l <"$W/$b.ops")
	bad=$(awk '$5 != 0' "$W/$b.ops" | head -n 3 | tr '\n' ';')
	bytes=$(awk '{ s += $4 * 512 } END { print s + 0 }' "$W/$b.ops")
	if [ "$n" = "$OPS" ] && [ -z "$bad" ]; then
		ev_ok "L2 made $n copies, $((bytes >> 20)) MiB in all, each dd exiting 0"
	else
		ev_fail "L2 reported $n of $OPS copies; failed ones: ${bad:-none}"
	fi

	# Three views of the target.
	# The image and the replay are summed side by side (L1 has two CPUs).
	l2_fact $b blk-md5 >"$W/$b.guest"
	t0=$(lab_now)
	region_md5s "$W/dst.img" >"$W/$b.image" &
	sum=$!
	if [ -z "$want_ops" ] || ! cmp -s "$want_ops" "$W/$b.ops"; then
		replay "$W/$b.ops" "$W/expected.img" || ev_fail "replaying the copies on the host failed"
		region_md5s "$W/expected.img" >"$W/expected.md5"
		rm -f "$W/expected.img"
		want_ops=$W/$b.ops
		what="replayed the $n copies on the background and summed both"
	else
		what="summed the image (the replay of the same copies is summed already)"
	fi
	wait $sum
	ev_info "$what in $(lab_since "$t0") s"
	r=$(wc -l <"$W/expected.md5")
	if cmp -s "$W/$b.guest" "$W/$b.image" && cmp -s "$W/$b.image" "$W/expected.md5" && [ "$r" -gt 0 ]; then
		ev_ok "all $r regions of $RMIB MiB agree: L2's O_DIRECT readback = the image file after exit =" \
			"the replay ($(head -n 1 "$W/expected.md5" | cut -d' ' -f2) ...)"
	else
		ev_fail "the three views of the target differ (region: L2 readback / image file / replay):"
		awk 'FILENAME == ARGV[1] { g[$1] = $2; next } FILENAME == ARGV[2] { m[$1] = $2; next }
			g[$1] != m[$1] || m[$1] != $2 { print $1 ": " (g[$1] == "" ? "-" : g[$1]) " / " (m[$1] == "" ? "-" : m[$1]) " / " $2 }' \
			"$W/$b.guest" "$W/$b.image" "$W/expected.md5" | head -n 8 | sed 's/^/      /'
		ev_info "regions: L2 printed $(wc -l <"$W/$b.guest"), image $(wc -l <"$W/$b.image"), replay $r"
	fi
done
rm -f "$W/dst.img" "$W/dst.base" "$W/src.img"
ev_result
