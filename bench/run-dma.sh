#!/bin/bash
# DMA-engine throughput through the vIOMMU against --viommu off, as a ratio (target: translated >= 90%).
# The guest half is tests/guest/dma_bench.c (also a tier-2 test): it rings the engine for COUNT copies of
# one buffer and prints MB/s from the PM timer. Both variants run alternately; medians of N runs.
# bench/run.sh runs every bench/run-*.sh. Not a test: nothing here fails on a number, only on a broken run.
set -u
cd "$(dirname "$0")/.."
N=${BENCH_DMA_RUNS:-7}
COUNT=${BENCH_DMA_COUNT:-3000}
ELF=build/guest/tests/dma_bench.elf

echo "== DMA engine: copies through VT-d (first stage) vs untranslated, median of $N runs (target: >= 90%)"
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "skipped: /dev/kvm is not usable here"
	exit 0
fi
make -s minivmm "$ELF" || exit 1

# MB/s of one run (extra minivmm arguments in "$@"), or nothing if it failed.
run() {
	local out

	out=$(./minivmm --kernel "$ELF" --serial stdio --dma-engine "$@" 2>&1) || {
		echo "dma_bench failed ($*):" >&2
		echo "$out" | tail -n 3 >&2
		return 1
	}
	echo "$out" | tr -d '\r' | sed -n 's/^dma_bench: .*: \([0-9]*\) MB\/s.*/\1/p'
}

median() {
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# compare LABEL CMDLINE [TRANSLATED-ONLY-ARGS]: untranslated vs translated with the same guest command line.
compare() {
	local label=$1 cmdline=$2 extra=${3:-}
	local -a off=() on=()
	local a b

	for ((i = 0; i < N; i++)); do
		a=$(run --cmdline "$cmdline") && b=$(run --viommu flts --cmdline "$cmdline $extra") || exit 1
		off+=("$a")
		on+=("$b")
	done
	a=$(median "${off[@]}")
	b=$(median "${on[@]}")
	awk -v l="$label" -v a="$a" -v b="$b" \
		'BEGIN { printf "%-44s untranslated %6d MB/s, translated %6d MB/s: %5.1f%%\n", l, a, b, 100 * b / a }'
}

compare "64 KiB copies, 4 KiB IOVA pages" "count=$COUNT"
compare "2 MiB copies, 4 KiB IOVA pages" "count=$((COUNT / 10)) size=2097152"
compare "2 MiB copies, one 2 MiB IOVA page" "count=$((COUNT / 10)) size=2097152" "pages=2m"
