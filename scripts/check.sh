#!/bin/bash
# `make check`: every test tier, on this host where it can run and in the nested lab where it cannot,
# then a summary of what ran where (counts per tier), and one closing line "N passed, N failed, N
# skipped" (tests, summed over tiers). Exit 0 only when nothing failed.
#   Set-up: scripts/install-deps.sh, with the lab's packages when the lab will run (one step, first).
#   Tier 1: unit tests (Check), normal build and ASan+UBSan build; the lab selftest; the vIOMMU fuzzer.
#   Tier 2: guest programs and error cases, normal and ASan+UBSan minivmm: on this host's /dev/kvm when
#           it is usable (hardware or PVM), otherwise in the lab's L1, in the same L1 boot as tier 3;
#           then `make run` as on a host without /dev/kvm (scripts/without-kvm.sh).
#   Tier 3: Linux guests: directly when the host KVM can boot Linux (VMX/SVM), else in the nested lab.
# A tier that cannot run is a failure, not a skip, unless asked for:
#   MINIVMM_SKIP_LAB=1     no lab: tier 3 (and tier 2 where it needs the lab) reported skipped
#   MINIVMM_TIER2=host|lab where tier 2 runs (default: host when /dev/kvm is usable, else lab)
set -u
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
LOGDIR=build/check
mkdir -p "$LOGDIR"
PASS=0 FAIL=0 SKIP=0
SUMMARY=()

note() { SUMMARY+=("$(printf '%-46s %s' "$1" "$2")"); }
count() { PASS=$((PASS + $1)); FAIL=$((FAIL + $2)); SKIP=$((SKIP + ${3:-0})); }
# Read "N passed, N failed[, N skipped]" from the last such line of a log.
count_from() {
	local line
	line=$(grep -E '^([A-Za-z0-9-]+: )?[0-9]+ passed, [0-9]+ failed' "$1" 2>/dev/null | tail -n 1)
	if [ -z "$line" ]; then echo "0 0 0"; return; fi
	local p f s
	p=$(sed -E 's/.*\b([0-9]+) passed.*/\1/' <<<"$line")
	f=$(sed -E 's/.*\b([0-9]+) failed.*/\1/' <<<"$line")
	s=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+' || echo 0)
	echo "$p $f ${s:-0}"
}
# The first failure lines of a log, indented, and its name: what a failure shows on the console.
show_failures() { # LOG
	grep -E '^ *(FAIL|SKIP)\b' "$1" | head -n 12 | sed 's/^ */    /'
	echo "    (log: $1)"
}

# Where the tiers run.
KVM=$(bash scripts/host-kvm.sh)
SKIP_LAB=${MINIVMM_SKIP_LAB:-0}
if [ -n "${MINIVMM_TIER2:-}" ]; then T2=$MINIVMM_TIER2
elif bash scripts/host-kvm.sh --usable; then T2=host
else T2=lab
fi
case ${LAB_MODE:-auto}:$KVM in
host:* | auto:vmx | auto:svm) T3=host ;;
*) T3=lab ;;
esac
USE_LAB=0
[ "$SKIP_LAB" != 1 ] && { [ "$T2" = lab ] || [ "$T3" = lab ]; } && USE_LAB=1
echo "== set-up: /dev/kvm here: $KVM; tier 2 runs $([ "$T2" = host ] && echo "on this host" || echo "in the lab's L1");" \
	"tier 3 $([ "$T3" = host ] && echo "on this host" || echo "in the lab")$([ "$SKIP_LAB" = 1 ] && echo " (MINIVMM_SKIP_LAB=1: no lab)")"

# One install step before any tier: every package a tier here needs.
if bash scripts/install-deps.sh $([ $USE_LAB = 1 ] && echo --lab) >"$LOGDIR/install-deps.log" 2>&1; then
	tail -n 1 "$LOGDIR/install-deps.log"
else
	sed 's/^/    /' "$LOGDIR/install-deps.log" | tail -n 15
	count 0 1; note "set-up" "FAILED: scripts/install-deps.sh (log: $LOGDIR/install-deps.log)"
fi

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
			echo "FAIL $label $(basename "$t") (exit $rc, no Check summary; log: $log)"; tail -n 20 "$log"
			f=$((f + 1)); continue
		fi
		p=$((p + checks - fails - errs)); f=$((f + fails + errs))
		if [ $((fails + errs)) != 0 ]; then
			echo "FAIL $label $(basename "$t"): $line (log: $log)"; grep -E ':[EF]:' "$log" | head -n 20
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
	tail -n 30 "$LOGDIR/build-asan.log"; count 0 1; note "tier 1 unit-asan" "FAILED to build (log: $LOGDIR/build-asan.log)"
fi

echo "== tier 1: lab checks against recorded Linux-guest output"
bash scripts/lab.sh selftest >"$LOGDIR/lab-selftest.log" 2>&1
read -r p f s < <(count_from "$LOGDIR/lab-selftest.log")
if [ "$p" = 0 ] && [ "$f" = 0 ]; then f=1; fi
count "$p" "$f" "$s"
why=$(grep -m 1 -oE '^skip: [^ ]+ \(.*\)' "$LOGDIR/lab-selftest.log" | sed 's/^skip: [^ ]* //')
note "tier 1 lab-selftest" "ran: $p passed, $f failed$([ "$s" != 0 ] && echo ", $s skipped $why")"
tail -n 1 "$LOGDIR/lab-selftest.log"
[ "$f" = 0 ] || show_failures "$LOGDIR/lab-selftest.log"

echo "== tier 1: vIOMMU fuzzer (bounded)"
if bash scripts/fuzz.sh >"$LOGDIR/fuzz.log" 2>&1; then
	count 1 0; note "tier 1 fuzz" "ran: no crash"; tail -n 3 "$LOGDIR/fuzz.log"
else
	count 0 1; note "tier 1 fuzz" "FAILED (log: $LOGDIR/fuzz.log)"; tail -n 30 "$LOGDIR/fuzz.log"
fi

# Tier 2: the sets (label, minivmm, script), run here or read from the lab's job logs.
T2_SETS=("guest:minivmm:./minivmm:tests/guest/run.sh" "errors:minivmm:./minivmm:tests/errors/run.sh"
	"guest-asan:minivmm-asan:build/asan/minivmm:tests/guest/run.sh"
	"errors-asan:minivmm-asan:build/asan/minivmm:tests/errors/run.sh")
t2_where() { [ "$T2" = host ] && echo "tier 2 (on this host's /dev/kvm: $KVM)" || echo "tier 2 (in the lab's L1)"; }
# t2_count JOB LABEL LOG: count one set's results into the summary.
t2_count() {
	local job=$1 label=$2 log=$3 p f s what=${1%-asan} st
	read -r p f s < <(count_from "$log")
	st=$(sed -n "s/^lab-job: $job \(.*\)/\1/p" "$log" | tail -n 1)
	count "$p" "$f" "$s"
	if [[ "$st" == "did not"* ]]; then
		count 0 1; note "$(t2_where) $what $label" "FAILED: the job $st; $p passed before (log: $log)"
	elif [ "$p" = 0 ] && [ "$f" = 0 ]; then
		count 0 1; note "$(t2_where) $what $label" "FAILED: no result (log: $log)"
	else
		note "$(t2_where) $what $label" "ran: $p passed, $f failed, $s skipped$([ "$f" != 0 ] && echo " (log: $log)")"
	fi
	[ "$f" = 0 ] || show_failures "$log"
}

LAB_T2_JOBS=""
if [ "$T2" = host ]; then
	echo "== tier 2: guest programs and error cases on this host's /dev/kvm ($KVM)"
	for set in "${T2_SETS[@]}"; do
		IFS=: read -r job label bin script <<<"$set"
		log=$LOGDIR/tier2-$job.log
		MINIVMM=$bin BZIMAGE=${MINIVMM_TEST_BZIMAGE:-} ASAN_OPTIONS=detect_leaks=1 NO_BUILD=1 \
			bash "$script" >"$log" 2>&1
		tail -n 1 "$log"
		t2_count "$job" "$label" "$log"
	done
elif [ "$SKIP_LAB" = 1 ]; then
	count 0 0 4; note "tier 2" "SKIPPED: no usable /dev/kvm here ($KVM) and MINIVMM_SKIP_LAB=1 (no lab)"
else
	echo "== tier 2: no usable /dev/kvm here ($KVM): tier 2 runs in the lab's L1, with tier 3"
	for set in "${T2_SETS[@]}"; do LAB_T2_JOBS+=" ${set%%:*}"; done
fi

# `make run` on a host without /dev/kvm: one line saying so, the default guest in the lab's L1.
echo "== tier 2: make run without /dev/kvm"
if [ "$SKIP_LAB" = 1 ]; then
	count 0 0 1; note "tier 2 make run without /dev/kvm" "SKIPPED: MINIVMM_SKIP_LAB=1 (it needs the lab)"
else
	bash tests/run/without-kvm.sh >"$LOGDIR/run-without-kvm.log" 2>&1
	read -r p f s < <(count_from "$LOGDIR/run-without-kvm.log")
	[ "$p" = 0 ] && [ "$f" = 0 ] && f=1
	count "$p" "$f" "$s"
	note "tier 2 make run without /dev/kvm" "ran: $p passed, $f failed$([ "$f" != 0 ] && echo " (log: $LOGDIR/run-without-kvm.log)")"
	tail -n 1 "$LOGDIR/run-without-kvm.log"
	[ "$f" = 0 ] || show_failures "$LOGDIR/run-without-kvm.log"
fi

# Tier 3: Linux guests (and tier 2 in the same L1 when it runs in the lab).
echo "== tier 3: Linux guests"
if [ "$SKIP_LAB" = 1 ] && [ "$T3" = lab ]; then
	count 0 0 1; note "tier 3" "SKIPPED: MINIVMM_SKIP_LAB=1"
else
	rm -rf "$LOGDIR/lab-jobs"
	# The console gets the lab's own lines, the checks' verdicts and the jobs' ends; the log all of it.
	LAB_JOBS=${LAB_T2_JOBS# } LAB_JOBS_OUT=$PWD/$LOGDIR/lab-jobs bash scripts/lab.sh check 2>&1 |
		tee "$LOGDIR/tier3.log" | grep --line-buffered -E '^(PASS|FAIL|SKIP|JOB-DONE|lab: |[0-9]+ passed)' |
		grep --line-buffered -v '^lab: booting L1'
	read -r p f s < <(count_from "$LOGDIR/tier3.log")
	count "$p" "$f" "$s"
	how=$(grep -m1 -oE 'tier 3 runs (on this host|in the nested lab).*' "$LOGDIR/tier3.log")
	note "tier 3" "${how:-ran}: $p passed, $f failed, $s skipped$([ "$f" != 0 ] && echo " (log: $LOGDIR/tier3.log)")"
	[ "$p" = 0 ] && [ "$f" = 0 ] && [ "$s" = 0 ] && { count 0 1; note "tier 3" "FAILED: no result (log: $LOGDIR/tier3.log)"; }
	[ "$f" = 0 ] || show_failures "$LOGDIR/tier3.log"
	for set in "${T2_SETS[@]}"; do
		IFS=: read -r job label bin script <<<"$set"
		[[ " $LAB_T2_JOBS " == *" $job "* ]] || continue
		log=$LOGDIR/tier2-$job.log
		cp "$LOGDIR/lab-jobs/$job.log" "$log" 2>/dev/null ||
			echo "lab-job: $job did not start (the lab did not run: see $LOGDIR/tier3.log)" >"$log"
		t2_count "$job" "$label" "$log"
	done
fi

echo
echo "== summary"
# In tier order (tier 2 in the lab is counted after tier 3 ran), set-up first.
printf '%s\n' "${SUMMARY[@]}" | awk '{ t = ($1 == "tier") ? $2 : 0; print t "\t" NR "\t" $0 }' |
	sort -t "$(printf '\t')" -k1,1n -k2,2n | cut -f3-
echo "check: $PASS passed, $FAIL failed, $SKIP skipped"
[ "$FAIL" = 0 ]
