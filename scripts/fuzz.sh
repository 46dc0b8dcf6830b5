#!/bin/bash
# Build the VT-d fuzzer (tests/fuzz/fuzz_vtd.c: libFuzzer + ASan + UBSan, clang) and run it for a bounded
# number of inputs from the seed corpus tests/fuzz/corpus-vtd (written by the harness if missing).
# New inputs go to build/fuzz/corpus, crash reproducers to build/fuzz/. Exits non-zero on a crash.
#   scripts/fuzz.sh [RUNS]        RUNS defaults to 200000; FUZZ_SECONDS (default 90) caps the wall time.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-200000}
SECONDS_MAX=${FUZZ_SECONDS:-90}
CLANG=${CLANG:-clang}
OUT=build/fuzz
SEEDS=tests/fuzz/corpus-vtd
BIN=$OUT/fuzz_vtd
mkdir -p "$OUT/corpus"

# The model is compiled with VTD_DEBUG_READS: every guest-table access is checked against the RAM map.
SRCS="tests/fuzz/fuzz_vtd.c $(echo iommu/*.c) vmm/dma.c vmm/memory.c vmm/log.c"
echo "fuzz: building $BIN"
"$CLANG" -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-DVTD_DEBUG_READS -D_GNU_SOURCE -I. -Wall -Wextra -Werror -Wno-unused-parameter -pthread \
	$SRCS -o "$BIN"

if [ ! -d "$SEEDS" ] || [ -z "$(ls -A "$SEEDS" 2>/dev/null)" ]; then
	echo "fuzz: writing the seed corpus to $SEEDS"
	mkdir -p "$SEEDS"
	VTD_FUZZ_WRITE_SEEDS=$SEEDS "$BIN"
fi

echo "fuzz: $RUNS runs (at most ${SECONDS_MAX}s)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	"$BIN" -runs="$RUNS" -max_total_time="$SECONDS_MAX" -max_len=2048 -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$OUT/" -print_final_stats=1 "$OUT/corpus" "$SEEDS"
echo "fuzz: fuzz_vtd ran without a crash"
