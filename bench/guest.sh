#!/bin/bash
# The benchmarks that need a guest, hence /dev/kvm: minivmm start-up (build/bench/boot_time), the DMA
# engine driven by a guest program (tests/guest/dma_bench.c) through the vIOMMU and untranslated, and
# virtio-blk 4 KiB reads from a polling guest program (tests/guest/virtio_blk_bench.c) with --viommu off
# and flts. bench/run.sh runs it on this host when its /dev/kvm is usable, else in the lab's L1
# (`scripts/lab.sh jobs bench-guest`), where absolute times are slowed by QEMU's software emulation.
#
# Run from the repository root once `make bench` has built ./minivmm, build/guest/tests/*.elf,
# build/bench/* and build/tools/pattern-disk: it builds nothing and needs only bash and coreutils or
# busybox (L1 has no make, compiler, perl or python). Not a test: nothing here fails on a number; a
# broken run is said and the next part runs.
#
# Sizes (medians of runs): BENCH_RUNS start-ups (20); BENCH_DMA_RUNS (7) runs of BENCH_DMA_COUNT (3000)
# 64 KiB copies, a tenth as many 2 MiB ones; BENCH_VIRTIO_RUNS (3) runs of BENCH_VIRTIO_MS (1000) ms
# per read pattern.
set -u
cd "$(dirname "$0")/.." || exit 1
N=${BENCH_RUNS:-20}
DMA_RUNS=${BENCH_DMA_RUNS:-7}
DMA_COUNT=${BENCH_DMA_COUNT:-3000}
VIRTIO_MS=${BENCH_VIRTIO_MS:-1000}
VIRTIO_RUNS=${BENCH_VIRTIO_RUNS:-3}
DMA_ELF=build/guest/tests/dma_bench.elf
BLK_ELF=build/guest/tests/virtio_blk_bench.elf

if [ -f scripts/host-kvm.sh ]; then
	bash scripts/host-kvm.sh --usable || { echo "skipped: /dev/kvm is not usable here ($(bash scripts/host-kvm.sh))"; exit 0; }
elif [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "skipped: /dev/kvm is not usable here"
	exit 0
fi
missing=
for f in ./minivmm build/bench/boot_time build/tools/pattern-disk "$DMA_ELF" "$BLK_ELF"; do
	[ -e "$f" ] || missing="$missing $f"
done
if [ -n "$missing" ]; then
	echo "skipped: missing$missing (\`make bench\` builds them)"
	exit 0
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-guest.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

# The median of the numbers on stdin (0 if none).
median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'
}

# b / a with two decimals, "-" when a is 0.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }'
}

# ---- start-up ----
echo "== minivmm start-up: default guest, $N runs (targets: first instruction <= 10 ms, VMM memory <= 4 MiB)"
build/bench/boot_time "$N" ./minivmm --serial none || echo "the start-up benchmark failed (exit $?)"

# ---- DMA engine from a guest program ----
echo "== DMA engine from a guest program: copies through VT-d (first stage) vs untranslated, median of $DMA_RUNS runs (target: >= 90%)"

# MB/s of one dma_bench run (extra minivmm arguments in "$@"), or nothing and a reason on stderr.
dma_run() {
	local out

	out=$(./minivmm --kernel "$DMA_ELF" --serial stdio --dma-engine "$@" 2>&1 </dev/null) || {
		echo "dma_bench failed ($*):" >&2
		echo "$out" | tail -n 3 >&2
		return 1
	}
	echo "$out" | tr -d '\r' | sed -n 's/^dma_bench: .*: \([0-9]*\) MB\/s.*/\1/p'
}

# dma_compare LABEL CMDLINE [TRANSLATED-ONLY-ARGS]: untranslated vs translated, same guest command line.
dma_compare() {
	local label=$1 cmdline=$2 extra=${3:-} a b i

	: >"$work/dma.off"
	: >"$work/dma.on"
	for ((i = 0; i < DMA_RUNS; i++)); do
		a=$(dma_run --cmdline "$cmdline") && b=$(dma_run --viommu flts --cmdline "$cmdline $extra") || return 1
		echo "$a" >>"$work/dma.off"
		echo "$b" >>"$work/dma.on"
	done
	a=$(median <"$work/dma.off")
	b=$(median <"$work/dma.on")
	awk -v l="$label" -v a="$a" -v b="$b" 'BEGIN { printf "%-44s untranslated %6d MB/s, translated %6d MB/s: %5.1f%%\n",
		l, a, b, (a > 0 ? 100 * b / a : 0) }'
}

dma_compare "64 KiB copies, 4 KiB IOVA pages" "count=$DMA_COUNT"
dma_compare "2 MiB copies, 4 KiB IOVA pages" "count=$((DMA_COUNT / 10)) size=2097152"
dma_compare "2 MiB copies, one 2 MiB IOVA page" "count=$((DMA_COUNT / 10)) size=2097152" "pages=2m"

# ---- virtio-blk from a guest program ----
# The image lives in the page cache: this measures the virtio path, not a disk. The VMM's cost per
# request is the CPU time of the device's I/O thread over the requests it served (`minivmm -v`).
echo "== virtio-blk: 4 KiB reads from a polling guest, ${VIRTIO_MS} ms per pattern, median of $VIRTIO_RUNS, --viommu off vs flts"
virtio_bench() {
	local mode pat a b
	local -a args

	build/tools/pattern-disk 64 "$work/disk.img" || return 1
	for _ in $(seq "$VIRTIO_RUNS"); do
		for mode in off flts; do
			args=(--kernel "$BLK_ELF" --disk "$work/disk.img" --serial stdio -v)
			if [ "$mode" = flts ]; then
				args+=(--viommu flts --cmdline "dma=iommu ms=$VIRTIO_MS")
			else
				args+=(--cmdline "ms=$VIRTIO_MS")
			fi
			if ! ./minivmm "${args[@]}" >"$work/out" 2>"$work/err" </dev/null; then
				echo "$mode: minivmm failed:"
				tail -n 5 "$work/out" "$work/err" | sed 's/^/    /'
				return 1
			fi
			for pat in seq-read rand-read rand-read-qd1; do
				tr -d '\r' <"$work/out" | sed -n "s/^bench: $pat .* \([0-9]*\) IOPS.*/\1/p" >>"$work/$mode.$pat"
			done
			sed -n 's/.*virtio-blk0: stats: .* I\/O thread \([0-9]*\) ns CPU per request.*/\1/p' "$work/err" \
				>>"$work/$mode.cpu"
		done
	done
	printf '%-22s %12s %12s %8s\n' "pattern" "off IOPS" "flts IOPS" "flts/off"
	for pat in seq-read rand-read rand-read-qd1; do
		a=$(median <"$work/off.$pat")
		b=$(median <"$work/flts.$pat")
		printf '%-22s %12s %12s %8s\n' "$pat 4k" "$a" "$b" "$(ratio "$a" "$b")"
	done
	a=$(median <"$work/off.cpu")
	b=$(median <"$work/flts.cpu")
	printf '%-22s %12s %12s %8s\n' "VMM ns/request" "$a" "$b" "$(ratio "$a" "$b")"
}
virtio_bench
exit 0
