#!/bin/bash
# Tier 2 runner: boots each guest test program (tests/guest/NAME.c -> build/guest/tests/NAME.elf) in
# minivmm on /dev/kvm and checks its exit status and serial output, then boots the embedded default
# guest. Header comment lines of a test program say what to do:
#
#   // TEST-ARGS: --cpus 2 --cmdline "a=1 b=2"   extra minivmm arguments (shell quoting); one run per
#                                                 line, an empty value is a run without extras
#   // TEST-EXIT: 0                               expected exit status (default 0)
#   // TEST-STDIN: hello                          a line on stdin from the start
#   // TEST-STDIN-AFTER: some output              ...or only once the serial output has this line (a
#                                                 guest that resets its UART FIFOs would drop earlier input)
#   // TEST-STDIN-TRIGGER: some output            wait until the serial output has this line, then
#   // TEST-STDIN-LATE: more input                feed these lines
#   // TEST-EXPECT: some output                   text that must appear in a line of the serial output
#   // TEST-TIMEOUT: 30                           seconds (default 60); running out is a failure
#   // TEST-DISK: 8M pattern                      a fresh disk image for each run, named disk.img, whose
#                                                 64-bit little-endian word w of sector s is s * 256 + w;
#                                                 @DISK@ in TEST-ARGS is its path
#   // TEST-DISK-CHECK: SECTOR WORD HEX           after the run, that word of the image must be HEX
#
# Usage: tests/guest/run.sh [NAME...]   (from anywhere; NAME selects programs, "default" the default
# guest). MINIVMM overrides ./minivmm; KVM_DEV (default /dev/kvm) is the device whose absence means skip.
# The ELFs are built with `make guests` first unless NO_BUILD=1 (inside the lab's L1: tests/lab/jobs.sh).
# Prints one PASS/FAIL/SKIP line per run and a last line "N passed, N failed[, N skipped]"; exits 0 only
# when no run failed. Without a usable /dev/kvm every run is reported skipped, never passed (make check
# then runs this script in the lab's L1).
set -u
cd "$(dirname "$0")/../.." || exit 1

MINIVMM=${MINIVMM:-./minivmm}
PATTERN_DISK=${PATTERN_DISK:-build/tools/pattern-disk}
TESTDIR=tests/guest
ELFDIR=build/guest/tests
TAIL_LINES=15

passed=0 failed=0 skipped=0
skip_reason=''
work=$(mktemp -d "${TMPDIR:-/tmp}/guest-tests.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

KVM_DEV=${KVM_DEV:-/dev/kvm}
if [ ! -e "$KVM_DEV" ]; then
	skip_reason="$KVM_DEV does not exist"
elif [ ! -r "$KVM_DEV" ] || [ ! -w "$KVM_DEV" ]; then
	skip_reason="$KVM_DEV is not readable and writable by $(id -un)"
fi

if [ -z "$skip_reason" ] && [ "${NO_BUILD:-0}" != 1 ]; then
	if ! make -s guests >"$work/build.log" 2>&1; then
		echo "FAIL build: make guests"
		tail -n "$TAIL_LINES" "$work/build.log" | sed 's/^/    /'
		echo "0 passed, 1 failed"
		exit 1
	fi
fi

# The values of header key $2 in file $1, one per line (the text after "// KEY:", one space trimmed).
header() {
	sed -n "s|^// $2:[[:space:]]\{0,1\}||p" "$1"
}

# Milliseconds, from bash's own clock (busybox date, in the lab's L1, has no %N).
now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((10#$t / 1000))
}

# make_disk SIZE FILE: the TEST-DISK image (SIZE in MiB with an M suffix), by tests/tools/pattern-disk.c
# (built with the guests; no perl: this script also runs inside the lab's L1).
make_disk() {
	[[ "$1" =~ ^[0-9]+M$ ]] || return 1
	"$PATTERN_DISK" "${1%M}" "$2"
}

# check_disk FILE: every TEST-DISK-CHECK line of $src holds in FILE; prints the first that does not.
check_disk() {
	local sector word want got

	while read -r sector word want; do
		got=$(od -An -tx8 -v -j $((sector * 512 + word * 8)) -N 8 "$1" | tr -d ' ')
		if [ "$got" != "$(printf '%016x' "0x$want")" ]; then
			echo "sector $sector word $word is $got, expected $want"
			return 1
		fi
	done < <(header "$src" TEST-DISK-CHECK)
}

# Wait (up to $3 seconds) until file $2 has a line containing $1 (carriage returns ignored).
wait_for_line() {
	local end=$(($(date +%s) + $3))

	while [ "$(date +%s)" -le "$end" ]; do
		tr -d '\r' <"$2" 2>/dev/null | grep -qF -- "$1" && return 0
		sleep 0.05
	done
	return 1
}

report_fail() {
	local label=$1 reason=$2 out=$3 err=$4

	failed=$((failed + 1))
	echo "FAIL $label: $reason"
	if [ -s "$out" ]; then
		echo "    --- serial output (last $TAIL_LINES lines)"
		tr -d '\r' <"$out" | tail -n "$TAIL_LINES" | sed 's/^/    /'
	fi
	if [ -s "$err" ]; then
		echo "    --- minivmm stderr"
		tail -n 5 "$err" | sed 's/^/    /'
	fi
}

# run_one LABEL SRC ELF ARGS-LINE: one boot. SRC is the test source with the headers ("" for none),
# ELF the program ("" for the embedded default guest).
run_one() {
	local label=$1 src=$2 elf=$3 argline=$4
	local out="$work/out" err="$work/err" fifo="$work/stdin"
	local expect_exit=0 tmo=60 trigger='' stdin_after='' rc t0 t1 feeder='' disk='' why
	local -a args=() stdin=() late=() expects=() cmd=()

	if [ -n "$skip_reason" ]; then
		skipped=$((skipped + 1))
		echo "SKIP $label: $skip_reason"
		return
	fi
	if [ -n "$src" ] && [ -n "$(header "$src" TEST-DISK)" ]; then
		disk="$work/disk.img"
		if ! make_disk "$(header "$src" TEST-DISK | awk '{print $1}')" "$disk"; then
			report_fail "$label" "cannot make the TEST-DISK image" /dev/null /dev/null
			return
		fi
		argline=${argline//@DISK@/$disk}
	fi
	if [ -n "$argline" ]; then
		# xargs splits with shell-like quoting, without eval.
		if ! printf '%s' "$argline" | xargs -r -n1 printf '%s\n' >"$work/args" 2>"$work/args.err"; then
			report_fail "$label" "cannot parse TEST-ARGS ($(head -n 1 "$work/args.err"))" /dev/null /dev/null
			return
		fi
		mapfile -t args <"$work/args"
	fi
	if [ -n "$src" ]; then
		expect_exit=$(header "$src" TEST-EXIT | tail -n 1)
		expect_exit=${expect_exit:-0}
		tmo=$(header "$src" TEST-TIMEOUT | tail -n 1)
		tmo=${tmo:-60}
		trigger=$(header "$src" TEST-STDIN-TRIGGER | tail -n 1)
		stdin_after=$(header "$src" TEST-STDIN-AFTER | tail -n 1)
		mapfile -t stdin < <(header "$src" TEST-STDIN)
		mapfile -t late < <(header "$src" TEST-STDIN-LATE)
		mapfile -t expects < <(header "$src" TEST-EXPECT)
	else
		expects=("minivmm default guest")
	fi
	if [ -n "$elf" ] && [ ! -f "$elf" ]; then
		report_fail "$label" "$elf is missing (make guests)" /dev/null /dev/null
		return
	fi
	if [ ! -x "$MINIVMM" ]; then
		report_fail "$label" "$MINIVMM is missing (make)" /dev/null /dev/null
		return
	fi

	cmd=("$MINIVMM")
	[ -n "$elf" ] && cmd+=(--kernel "$elf")
	cmd+=(--serial stdio "${args[@]}")
	: >"$out"
	: >"$err"
	rm -f "$fifo"
	mkfifo "$fifo" || exit 1
	# The feeder holds the pipe open until the program ends, so minivmm never sees an early EOF.
	(
		if [ ${#stdin[@]} -gt 0 ] && { [ -z "$stdin_after" ] || wait_for_line "$stdin_after" "$out" "$tmo"; }; then
			printf '%s\n' "${stdin[@]}"
		fi
		if [ ${#late[@]} -gt 0 ] && wait_for_line "$trigger" "$out" "$tmo"; then
			printf '%s\n' "${late[@]}"
		fi
		exec sleep "$tmo"
	) >"$fifo" 2>/dev/null &
	feeder=$!
	t0=$(now_ms)
	timeout -k 5 "$tmo" "${cmd[@]}" <"$fifo" >"$out" 2>"$err"
	rc=$?
	t1=$(now_ms)
	kill "$feeder" 2>/dev/null
	wait "$feeder" 2>/dev/null

	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		report_fail "$label" "timed out after ${tmo}s" "$out" "$err"
		return
	fi
	if [ "$rc" -ne "$expect_exit" ]; then
		report_fail "$label" "exit status $rc, expected $expect_exit" "$out" "$err"
		return
	fi
	for e in "${expects[@]}"; do
		if ! tr -d '\r' <"$out" | grep -qF -- "$e"; then
			report_fail "$label" "no line with \"$e\" in the serial output" "$out" "$err"
			return
		fi
	done
	if [ -n "$disk" ] && ! why=$(check_disk "$disk"); then
		report_fail "$label" "disk image: $why" "$out" "$err"
		return
	fi
	passed=$((passed + 1))
	echo "PASS $label ($((t1 - t0)) ms)"
}

FILTER=("$@")
selected() {
	[ ${#FILTER[@]} -eq 0 ] && return 0
	for f in "${FILTER[@]}"; do
		[ "$f" = "$1" ] && return 0
	done
	return 1
}

for src in "$TESTDIR"/*.c; do
	name=$(basename "$src" .c)
	selected "$name" || continue
	mapfile -t runs < <(header "$src" TEST-ARGS)
	[ ${#runs[@]} -eq 0 ] && runs=("")
	for argline in "${runs[@]}"; do
		run_one "$name${argline:+ $argline}" "$src" "$ELFDIR/$name.elf" "$argline"
	done
done
if selected default; then
	run_one "default guest" "" "" ""
	run_one "default guest --cpus 2 --viommu flts" "" "" "--cpus 2 --viommu flts"
fi

summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary+=", $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
