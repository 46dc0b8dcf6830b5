#!/bin/bash
# `make check`: every test tier this host can run, then a summary of which tiers ran, which could not and
# why, and one closing line "N passed, N failed, N skipped" (tests, summed over tiers).
#   Tier 1: unit tests (Check), normal build and ASan+UBSan build; the vIOMMU fuzzer (bounded).
#   Tier 2: guest programs run by minivmm on /dev/kvm (normal and ASan+UBSan minivmm).
#   Tier 3: Linux guests: directly when the host KVM can boot Linux, else in the nested lab.
# Environment: MINIVMM_SKIP_LAB=1 skips tier 3 (reported as skipped, never as passed).
set -u
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
LOGDIR=build/check
mkdir -p "$LOGDIR"
PASS=0 FAIL=0 SKIP=0
SUMMARY=()

note() { SUMMARY+=("$(printf '%-28s %s' "$1" "$2")"); }
count() { PASS=$((PASS + $1)); FAIL=$((FAIL + $2)); SKIP=$((SKIP + ${3:-0})); }
# Read "N passed, N failed[, N skipped]" from the last such line of a log.
count_from() {
	local line
	line=$(grep -E '^([A-Za-z0-9-]+: )?[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	if [ -z "$line" ]; then echo "0 0 0"; return; fi
	local p f s
	p=$(sed -E 's/.*\b([0-9]+) passed.*/\1/' <<<"$line")
	f=$(sed -E 's/.*\b([0-9]+) failed.*/\1/' <<<"$line")
	s=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+' || echo 0)
	echo "$p $f ${s:-0}"
}

echo "== build"
if ! make -j"$JOBS" all unit guests >"$LOGDIR/build.log" 2>&1; then
	tail -n 40 "$LOGDIR/build.log"
	echo "make check: the build failed (full log: $LOGDIR/build.log)"
	echo "0 passed, 1 failed"
	exit 1
fi

# A stock Debian kernel image for the boot-protocol tests (and the lab).
if BZ=$(bash scripts/fetch-kernel.sh 2>"$LOGDIR/fetch-kernel.log"); then
	export MINIVMM_TEST_BZIMAGE=$BZ
else
	cat "$LOGDIR/fetch-kernel.log"
	echo "make check: could not fetch a Debian kernel image; the bzImage tests will fail"
fi
export MINIVMM_SRCDIR=$PWD

# Tier 1: each unit-test binary; Check prints "NN%: Checks: N, Failures: F, Errors: E".
run_units() { # builddir label
	local dir=$1 label=$2 p=0 f=0 t log
	for t in "$dir"/tests/test_*; do
		[ -x "$t" ] || continue
		log="$LOGDIR/$label-$(basename "$t").log"
		"$t" >"$log" 2>&1
		local rc=$?
		local line checks fails errs
		line=$(grep -E 'Checks: [0-9]+' "$log" | tail -n 1)
		checks=$(grep -oE 'Checks: [0-9]+' <<<"$line" | grep -oE '[0-9]+' || echo 0)
		fails=$(grep -oE 'Failures: [0-9]+' <<<"$line" | grep -oE '[0-9]+' || echo 0)
		errs=$(grep -oE 'Errors: [0-9]+' <<<"$line" | grep -oE '[0-9]+' || echo 0)
		if [ -z "$line" ] || { [ $rc != 0 ] && [ $((fails + errs)) = 0 ]; }; then
			echo "FAIL $label $(basename "$t") (exit $rc, no Check summary)"; tail -n 20 "$log"
			f=$((f + 1)); continue
		fi
		p=$((p + checks - fails - errs)); f=$((f + fails + errs))
		if [ $((fails + errs)) != 0 ]; then
			echo "FAIL $label $(basename "$t"): $line"; grep -E ':[EF]:' "$log" | head -n 20
		else
			echo "ok   $label $(basename "$t"): $line"
		fi
	done
	count $p $f
	note "tier 1 $label" "ran: $p passed, $f failed"
}

echo "== tier 1: unit tests"
run_units build unit
echo "== tier 1: unit tests under ASan+UBSan"
if make -j"$JOBS" unit-asan >"$LOGDIR/build-asan.log" 2>&1; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		run_units build/asan unit-asan
else
	tail -n 30 "$LOGDIR/build-asan.log"; count 0 1; note "tier 1 unit-asan" "FAILED to build"
fi

if [ -f tests/lab/selftest.sh ]; then
	echo "== tier 1: lab checks against recorded Linux-guest output"
	bash scripts/lab.sh selftest >"$LOGDIR/lab-selftest.log" 2>&1
	read -r p f s < <(count_from "$LOGDIR/lab-selftest.log")
	if [ "$p" = 0 ] && [ "$f" = 0 ]; then f=1; fi
	count "$p" "$f"; note "tier 1 lab-selftest" "ran: $p passed, $f failed"
	tail -n 2 "$LOGDIR/lab-selftest.log"
fi

if [ -f scripts/fuzz.sh ]; then
	echo "== tier 1: vIOMMU fuzzer (bounded)"
	if bash scripts/fuzz.sh >"$LOGDIR/fuzz.log" 2>&1; then
		count 1 0; note "tier 1 fuzz" "ran: no crash"; tail -n 3 "$LOGDIR/fuzz.log"
	else
		count 0 1; note "tier 1 fuzz" "FAILED (log: $LOGDIR/fuzz.log)"; tail -n 30 "$LOGDIR/fuzz.log"
	fi
fi

# Tier 2: guest programs on /dev/kvm. tests/guest/run.sh reports skips itself when /dev/kvm is unusable.
echo "== tier 2: guest programs on /dev/kvm"
if [ -f tests/guest/run.sh ]; then
	for v in "minivmm:./minivmm" "minivmm-asan:build/asan/minivmm"; do
		label=${v%%:*}; bin=${v#*:}
		MINIVMM=$bin ASAN_OPTIONS=detect_leaks=1 bash tests/guest/run.sh 2>&1 | tee "$LOGDIR/tier2-$label.log"
		read -r p f s < <(count_from "$LOGDIR/tier2-$label.log")
		count "$p" "$f" "$s"
		MINIVMM=$bin BZIMAGE=${MINIVMM_TEST_BZIMAGE:-} ASAN_OPTIONS=detect_leaks=1 \
			bash tests/errors/run.sh 2>&1 | tee "$LOGDIR/tier2-errors-$label.log"
		read -r p2 f2 s2 < <(count_from "$LOGDIR/tier2-errors-$label.log")
		count "$p2" "$f2" "$s2"
		note "tier 2 errors $label" "ran: $p2 passed, $f2 failed, $s2 skipped"
		if [ "$p" = 0 ] && [ "$f" = 0 ]; then
			note "tier 2 $label" "SKIPPED: $(grep -m1 -i 'skip' "$LOGDIR/tier2-$label.log" | cut -c1-80)"
		else
			note "tier 2 $label" "ran: $p passed, $f failed${s:+, $s skipped}"
		fi
	done
else
	count 0 1; note "tier 2" "FAILED: tests/guest/run.sh is missing"
fi

# Tier 3: Linux guests.
echo "== tier 3: Linux guests"
if [ "${MINIVMM_SKIP_LAB:-0}" = 1 ]; then
	count 0 0 1; note "tier 3" "SKIPPED: MINIVMM_SKIP_LAB=1"
elif [ -f scripts/lab.sh ]; then
	bash scripts/lab.sh check 2>&1 | tee "$LOGDIR/tier3.log"
	read -r p f s < <(count_from "$LOGDIR/tier3.log")
	count "$p" "$f" "$s"
	how=$(grep -m1 -oE 'tier 3 runs (directly on the host|in the nested lab)[^.]*' "$LOGDIR/tier3.log")
	note "tier 3" "${how:-ran}: $p passed, $f failed, $s skipped"
	[ "$p" = 0 ] && [ "$f" = 0 ] && [ "$s" = 0 ] && { count 0 1; note "tier 3" "FAILED: no result"; }
else
	count 0 0 1; note "tier 3" "SKIPPED: scripts/lab.sh is missing"
fi

echo
echo "== summary"
printf '%s\n' "${SUMMARY[@]}"
echo "check: $PASS passed, $FAIL failed, $SKIP skipped"
[ "$FAIL" = 0 ]
