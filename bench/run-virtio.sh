#!/bin/bash
# Benchmark: virtio-blk 4 KiB reads from a guest program (tests/guest/virtio_blk_bench.c), sequential and
# random, queue depth 32 and 1, untranslated (--viommu off) and through the vIOMMU (--viommu flts, the guest
# maps its buffers with VT-d first-stage tables), and the ratio translated / untranslated. Also the VMM's
# cost per request: CPU time of the device's I/O thread divided by the requests it served (from
# `minivmm -v`). The image lives in the host page cache: this measures the virtio path, not a disk.
# Each figure is the median of BENCH_VIRTIO_RUNS runs (default 3), alternating off and flts (this host's
# two cores make single runs noisy). Run by bench/run.sh (`make bench`). BENCH_VIRTIO_MS: milliseconds per
# pattern (default 1000).
set -u
cd "$(dirname "$0")/.."
MS=${BENCH_VIRTIO_MS:-1000}
RUNS=${BENCH_VIRTIO_RUNS:-3}
ELF=build/guest/tests/virtio_blk_bench.elf

echo "== virtio-blk: 4 KiB reads from a polling guest, ${MS} ms per pattern, median of $RUNS, --viommu off vs flts"
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "skipped: /dev/kvm is not usable here"
	exit 0
fi
if [ ! -x ./minivmm ] || [ ! -f "$ELF" ]; then
	echo "skipped: build ./minivmm and the guests first (make minivmm guests)"
	exit 0
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-virtio.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
# 64 MiB with the tests' pattern: word w of sector s is s * 256 + w (the guest checks every read).
perl -e 'for my $s (0 .. 64 * 2048 - 1) { print pack("Q<*", map { $s * 256 + $_ } 0 .. 63) }' >"$work/disk.img"

median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'
}

declare -A iops cpu
for run in $(seq "$RUNS"); do
	for mode in off flts; do
		args=(--kernel "$ELF" --disk "$work/disk.img" --serial stdio -v)
		if [ "$mode" = flts ]; then
			args+=(--viommu flts --cmdline "dma=iommu ms=$MS")
		else
			args+=(--cmdline "ms=$MS")
		fi
		if ! ./minivmm "${args[@]}" >"$work/out" 2>"$work/err" </dev/null; then
			echo "$mode: minivmm failed:"
			tail -n 5 "$work/out" "$work/err" | sed 's/^/    /'
			exit 0
		fi
		for pat in seq-read rand-read rand-read-qd1; do
			tr -d '\r' <"$work/out" | sed -n "s/^bench: $pat .* \([0-9]*\) IOPS.*/\1/p" >>"$work/$mode.$pat"
		done
		sed -n 's/.*virtio-blk0: stats: .* I\/O thread \([0-9]*\) ns CPU per request.*/\1/p' "$work/err" \
			>>"$work/$mode.cpu"
	done
done
for mode in off flts; do
	for pat in seq-read rand-read rand-read-qd1; do
		iops[$mode.$pat]=$(median <"$work/$mode.$pat")
	done
	cpu[$mode]=$(median <"$work/$mode.cpu")
done

printf '%-22s %12s %12s %8s\n' "pattern" "off IOPS" "flts IOPS" "flts/off"
for pat in seq-read rand-read rand-read-qd1; do
	a=${iops[off.$pat]:-0} b=${iops[flts.$pat]:-0}
	ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }')
	printf '%-22s %12s %12s %8s\n' "$pat 4k" "$a" "$b" "$ratio"
done
printf '%-22s %12s %12s %8s\n' "VMM ns/request" "${cpu[off]:--}" "${cpu[flts]:--}" \
	"$(awk -v a="${cpu[off]:-0}" -v b="${cpu[flts]:-0}" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }')"
exit 0
