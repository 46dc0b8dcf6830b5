#!/bin/bash
# Tier 3 (a stock Linux kernel booted by minivmm) and the nested lab it runs in on hosts whose /dev/kvm
# cannot boot one (PVM: guest ring 0 emulated at ~2 M instructions/s). See /work/shared/lab/README.md
# for what was measured.
#
#   scripts/lab.sh check      tier 3 the way this host can: directly when /dev/kvm is hardware
#                             virtualization (kvm_intel/kvm_amd), otherwise in the lab
#   scripts/lab.sh lab        tier 3 in the lab, whatever the host      (make lab)
#   scripts/lab.sh lab-shell  a shell in L1 with minivmm on the PATH    (make lab-shell)
#   scripts/lab.sh build      fetch and build everything the lab needs, run nothing
#   scripts/lab.sh selftest   the checks' judgement on canned L2 consoles (no KVM, no lab; ~1 min)
#   scripts/lab.sh bench      minivmm against QEMU 10 as the L2 VMM in the lab: boot to userspace and
#                             virtio-blk reads through the vIOMMU (tests/lab/bench.sh; bench/run-lab.sh)
#   scripts/lab.sh jobs NAME...  only these jobs in L1 (tests/lab/jobs.sh: guest, guest-asan, errors,
#                             errors-asan, run, bench-guest): tier 2 for a host without /dev/kvm
#   scripts/lab.sh run [ARGS] ./minivmm ARGS in L1, its output and exit status (make run without KVM)
#   scripts/lab.sh available  exit 0 if this host has what the lab needs, else say what is missing
#
# The lab: this host runs QEMU 10 in software emulation (TCG) with an AMD CPU model (SVM + NPT), an
# emulated Intel VT-d and an NVMe; it boots the stock Debian 6.12 kernel as L1, whose kvm_amd gives a
# real /dev/kvm; minivmm runs in L1 and boots the same kernel as L2 with a busybox initramfs.
# Everything comes from Debian packages and is cached under build/lab/<kernel release>/.
#
# Environment:
#   LAB_VMM=minivmm|qemu   the L2 VMM under test (qemu: the reference, to prove the lab itself)
#   LAB_TESTS="boot ..."   only these checks (tests/lab/checks/NN-NAME.sh)
#   LAB_L2_TIMEOUT=90      watchdog per L2 boot, seconds;  LAB_L2_TRIES=3  boots when L2 hangs
#   LAB_L2_QUIET=1         boot L2 with "quiet": faster, but a hang shows less of how far L2 got
#   LAB_TIMEOUT            the whole L1 run, seconds (default: derived from the checks' lab-budget lines)
#   LAB_L1_SILENCE         L1 counts as frozen when its console says nothing this long (default: the
#                          longest boot watchdog of the checks plus 150 s)
#   LAB_BLK_*, LAB_NET_*   the checks' knobs (see tests/lab/checks/), passed on into L1
#   LAB_L1_IOMMU=",x-flts=on"  extra properties of L1's intel-iommu;  LAB_L1_MEM=4G
#   LAB_L1_APPEND="..."    extra L1 kernel parameters;  LAB_L1_ACCEL=tcg,thread=multi  L1's accelerator
#   LAB_L1_TRIES=3         L1 runs when L1 itself dies (a kernel panic under TCG's emulated SVM): the
#                          checks left without a result run again in a new L1, and every retry is printed
#   LAB_BENCH_RUNS=3 LAB_BENCH_MIB=256   for `bench`: boots per VMM, MiB read per boot
#   LAB_MODE=auto|host|lab for `check`
#   LAB_MINIVMM=PATH       use this minivmm binary instead of building ./minivmm
#   LAB_JOBS="NAME ..."    for `check` and `lab`: also these jobs, in the same L1 before the checks;
#                          each job's output goes to LAB_JOBS_OUT/NAME.log (default build/lab/jobs)
#
# `check` and `lab` end with the line "N passed, N failed[, N skipped]" and exit 1 if a check failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
LAB_ROOT=$PWD
LAB_BUILD=$LAB_ROOT/build/lab
LAB_VMM=${LAB_VMM:-minivmm}
LAB_L2_TIMEOUT=${LAB_L2_TIMEOUT:-90}
LAB_L2_TRIES=${LAB_L2_TRIES:-3}

exec 9>&2
lab_say() { echo "lab: $*"; }
# lab_die MESSAGE: stop. While checks are due (LAB_CHECKING), each of them fails with the reason.
lab_die() {
	local n c=0
	echo "lab: error: $*" >&9	# the terminal's stderr, even inside a quiet build (fd 9: see below)
	for n in ${LAB_CHECKING:-}; do
		echo "FAIL: tier3/$n (the lab could not be built or run: $*)"
		c=$((c + 1))
	done
	[ $c = 0 ] || echo "0 passed, $c failed"
	exit 1
}

. scripts/lab/packages.sh
. scripts/lab/modules.sh
. scripts/lab/initramfs.sh
. scripts/lab/l1.sh
. scripts/lab/jobs.sh
. scripts/lab/bench.sh

# lab_step NAME COMMAND...: run a build step and say how long it took.
lab_step() {
	local name=$1 t0=$EPOCHREALTIME
	shift
	"$@" || lab_die "$name failed"
	lab_say "step $name: $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
}

# What /dev/kvm is here: vmx, svm, pvm, unknown, noaccess or none.
host_kvm() { bash scripts/host-kvm.sh; }

# The checks to run: names of tests/lab/checks/NN-NAME.sh, filtered by LAB_TESTS.
lab_tests() {
	local f n
	for f in tests/lab/checks/[0-9]*-*.sh; do
		n=$(basename "$f" .sh)
		n=${n#*-}
		if [ -z "${LAB_TESTS:-}" ] || [[ " $LAB_TESTS " == *" $n "* ]]; then echo "$n"; fi
	done
}

# The tools the lab needs that this host lacks (nothing: it has them all).
lab_missing() {
	local missing=""
	qemu-system-x86_64 --version 2>/dev/null | grep -qE 'version (1[0-9]|[2-9][0-9])\.' || missing+=" qemu-10"
	[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || missing+=" busybox-static"
	for t in depmod cpio xz fdtget dpkg-deb apt-get make gcc; do
		command -v $t >/dev/null || missing+=" $t"
	done
	[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || missing+=" libc6-dev(libc.a)"
	echo "$missing"
}

# Tools the lab needs on this host; install-deps.sh --lab installs them (or says how).
lab_deps() {
	local missing
	missing=$(lab_missing)
	[ -z "$missing" ] && return 0
	lab_say "missing:$missing; running scripts/install-deps.sh --lab"
	bash scripts/install-deps.sh --lab || lab_die "the lab's dependencies are missing (see above)"
}

# lab_minivmm: build ./minivmm; sets LAB_MINIVMM_BIN. Returns 1 (after showing why) if it does not build.
lab_minivmm() {
	local t0=$SECONDS
	LAB_MINIVMM_BIN=""
	if [ -n "${LAB_MINIVMM:-}" ]; then
		[ -x "$LAB_MINIVMM" ] || { lab_say "LAB_MINIVMM=$LAB_MINIVMM is not an executable"; return 1; }
		LAB_MINIVMM_BIN=$(realpath "$LAB_MINIVMM")
		lab_say "minivmm: $LAB_MINIVMM_BIN (LAB_MINIVMM; not rebuilt)"
		return 0
	fi
	# With the guest program the nesting check runs as L3 (tests/guest/vtd_nest.c).
	if ! make --no-print-directory minivmm build/guest/tests/vtd_nest.elf >"$LAB_BUILD/make-minivmm.log" 2>&1; then
		tail -n 25 "$LAB_BUILD/make-minivmm.log" | sed 's/^/  make> /'
		lab_say "minivmm does not build (log: $LAB_BUILD/make-minivmm.log)"
		return 1
	fi
	LAB_MINIVMM_BIN=$LAB_ROOT/minivmm
	lab_say "step minivmm: $((SECONDS - t0)) s"
}

# Everything L1 boots from. Sets LAB_REL, LAB_VMLINUZ_HOST, LAB_DIR, LAB_L1_CPIO, LAB_L2_CPIO.
# One lab build at a time: it rewrites the initramfs images in place. The lock (fd 8) is held until
# this script ends (lab-shell lets go of it before it starts L1).
lab_build() {
	exec 8>"$LAB_BUILD/.lock"
	flock -n 8 || { lab_say "waiting for another lab run to finish"; flock 8; }
	lab_step deps lab_deps
	lab_step kernel lab_kernel
	lab_say "kernel $LAB_REL: $LAB_VMLINUZ_HOST"
	# LAB_LIGHT=1 (make run): no iommufd/vfio module build, nothing in L1 needs them.
	if [ "${LAB_LIGHT:-0}" != 1 ]; then
		lab_step headers lab_headers
		lab_step source lab_source
		lab_step modules lab_modules
	fi
	lab_step module-index lab_kmods
	lab_step initramfs-l2 lab_initramfs_l2 "$1"
	lab_step initramfs-l1 lab_initramfs_l1 "$1"
	lab_say "L1 initramfs $(du -h "$LAB_L1_CPIO" | cut -f1), L2 initramfs $(du -h "$LAB_L2_CPIO" | cut -f1)"
}

# lab_summary LOG TESTS...: count the driver's PASS/FAIL/SKIP lines in LOG; a check with no line
# (L1 died, a watchdog fired) fails. Prints the closing line; returns 1 if anything failed.
lab_summary() {
	local log=$1 n p=0 f=0 s=0
	shift
	# The checks that a dead L1 left to a second one: their results are in the retry logs.
	if ls "$log".retry* >/dev/null 2>&1; then
		cat "$log" "$log".retry* >"$log.all"
		log=$log.all
	fi
	for n in "$@"; do
		if grep -q "^PASS: tier3/$n\b" "$log"; then p=$((p + 1))
		elif grep -q "^SKIP: tier3/$n\b" "$log"; then s=$((s + 1))
		elif grep -q "^FAIL: tier3/$n\b" "$log"; then f=$((f + 1))
		else
			echo "FAIL: tier3/$n (no result: ${LAB_L1_FAILED:-the driver did not run it})"
			f=$((f + 1))
		fi
	done
	# Retries are part of the result: a flaky lab shows.
	local r
	r=$(grep -c '^lab: RETRY \[' "$log")
	[ "$r" -gt 0 ] && lab_say "$r L2 boot(s) hung or crashed and were retried (TCG's emulated SVM; see the" \
		"RETRY lines$(c=$(grep -c '^lab: RETRY \[.*crashed after userspace' "$log"); [ "$c" -gt 0 ] &&
			echo "; $c crashed after userspace"))"
	[ "${LAB_L1_RETRIES:-0}" -gt 0 ] &&
		lab_say "$LAB_L1_RETRIES L1 run(s) died and the checks left without a result ran again (RETRY L1 lines)"
	echo "$p passed, $f failed$([ $s -gt 0 ] && echo ", $s skipped")"
	[ $f = 0 ]
}

# All checks fail for one reason (nothing could run).
lab_all_fail() { # REASON TESTS...
	local why=$1 n
	shift
	for n in "$@"; do echo "FAIL: tier3/$n ($why)"; done
	echo "0 passed, $# failed"
	exit 1
}

lab_check_lab() {
	local tests bin="" log
	mapfile -t tests < <(lab_tests)
	LAB_CHECKING="${tests[*]}"
	lab_say "tier 3 runs in the nested lab (L1 = stock kernel on QEMU TCG with emulated SVM; L2 VMM: $LAB_VMM)"
	mkdir -p "$LAB_BUILD/logs"
	if [ "$LAB_VMM" = minivmm ]; then
		lab_minivmm || lab_all_fail "minivmm does not build" "${tests[@]}"
		bin=$LAB_MINIVMM_BIN
	elif [ -x "$LAB_ROOT/minivmm" ]; then
		bin=$LAB_ROOT/minivmm	# on L1's PATH for the developer, even when QEMU is under test
	fi
	if [ -n "${LAB_JOBS:-}" ] && ! lab_jobs_build; then
		lab_all_fail "the jobs' programs do not build" "${tests[@]}"
	fi
	lab_build "$bin"
	log=$LAB_BUILD/logs/l1-check-$LAB_VMM.log
	rm -f "$log".retry* "$log.all"
	LAB_L1_JOBS=${LAB_JOBS:-} lab_l1_check "$log" "${tests[@]}"
	lab_l1_retry "$log" "${tests[@]}"
	[ -n "${LAB_JOBS:-}" ] && lab_jobs_split "$log" "$LAB_JOBS_OUT"
	lab_summary "$log" "${tests[@]}"
}

# lab_l1_retry LOG TESTS...: when L1 died (its kernel panicked: TCG's emulated SVM has corrupted L1
# under heavy L2 I/O, see tests/lab/README.md), run the checks it left without a result in a new L1,
# up to LAB_L1_TRIES runs in all. Says so, with L1's last words. Sets LAB_L1_RETRIES.
lab_l1_retry() {
	local log=$1 run=1 cur=$1 left n words jobs_left
	shift
	LAB_L1_RETRIES=0
	while [ $run -lt "${LAB_L1_TRIES:-3}" ] && ! grep -q '^LAB-L1-DONE' "$cur"; do
		left=()
		for n in "$@"; do
			grep -qE "^(PASS|FAIL|SKIP): tier3/$n\b" "$log" "$log".retry* 2>/dev/null || left+=("$n")
		done
		jobs_left=$(lab_jobs_left "$log" "$log".retry* | tr '\n' ' ')
		[ ${#left[@]} = 0 ] && [ -z "${jobs_left// /}" ] && return 0
		words=$(grep -a -E 'Kernel panic|BUG:|Oops' "$cur" | head -n 1 | tr -d '\r' | cut -c1-120)
		lab_say "RETRY L1 (run $run of ${LAB_L1_TRIES:-3}: ${LAB_L1_FAILED:-L1 died};" \
			"L1's last words: ${words:-no panic message}); running again: ${jobs_left}${left[*]}"
		LAB_L1_RETRIES=$((LAB_L1_RETRIES + 1))
		cur=$log.retry$run
		LAB_L1_JOBS=$jobs_left lab_l1_check "$cur" "${left[@]}"
		run=$((run + 1))
	done
}

lab_check_host() {
	local tests log kind=$1
	mapfile -t tests < <(lab_tests)
	LAB_CHECKING="${tests[*]}"
	case $kind in
	vmx | svm) lab_say "tier 3 runs on this host: /dev/kvm is hardware virtualization ($kind); L2 VMM: $LAB_VMM" ;;
	*) lab_say "tier 3 runs on this host (LAB_MODE=host) although its /dev/kvm is '$kind'; L2 VMM: $LAB_VMM" ;;
	esac
	mkdir -p "$LAB_BUILD/logs"
	if [ "$LAB_VMM" = minivmm ]; then
		lab_minivmm || lab_all_fail "minivmm does not build" "${tests[@]}"
	fi
	exec 8>"$LAB_BUILD/.lock"
	flock -n 8 || { lab_say "waiting for another lab run to finish"; flock 8; }
	lab_step kernel lab_kernel
	lab_step module-index lab_kmods
	lab_step initramfs-l2 lab_initramfs_l2
	log=$LAB_BUILD/logs/host-check-$LAB_VMM.log
	LAB_VMLINUZ=$LAB_VMLINUZ_HOST LAB_L2_INITRD=$LAB_L2_CPIO LAB_WORK=$LAB_BUILD/host-run \
		LAB_MINIVMM=${LAB_MINIVMM_BIN:-minivmm} LAB_VMM=$LAB_VMM LAB_L2_TIMEOUT=$LAB_L2_TIMEOUT \
		LAB_L2_TRIES=$LAB_L2_TRIES LAB_L2_QUIET=${LAB_L2_QUIET:-0} sh tests/lab/run-checks.sh "${tests[@]}" 2>&1 | tee "$log"
	lab_summary "$log" "${tests[@]}"
}

# lab_run_jobs: the jobs of LAB_JOBS alone in L1 (retried like the checks when L1 dies). With
# LAB_QUIET_BUILD=1 the build steps' lines go to $LAB_BUILD/logs/jobs-build.log instead of stdout.
lab_run_jobs() {
	local log=$LAB_BUILD/logs/l1-jobs.log j rc=0 blog=$LAB_BUILD/logs/jobs-build.log
	mkdir -p "$LAB_BUILD/logs"
	if [ "${LAB_QUIET_BUILD:-0}" = 1 ]; then
		{ lab_jobs_build && lab_build "$LAB_ROOT/minivmm"; } >"$blog" 2>&1 ||
			{ tail -n 20 "$blog"; lab_say "the lab could not be built (log: $blog)"; return 1; }
	else
		lab_jobs_build || return 1
		lab_build "$LAB_ROOT/minivmm"
	fi
	rm -f "$log".retry*
	LAB_L1_JOBS=$LAB_JOBS lab_l1_check "$log"
	lab_l1_retry "$log"
	lab_jobs_split "$log" "$LAB_JOBS_OUT"
	for j in $LAB_JOBS; do
		[ "${LAB_L1_SHOW:-all}" = all ] || continue
		lab_say "job $j: $(tail -n 1 "$LAB_JOBS_OUT/$j.log")"
	done
	for j in $LAB_JOBS; do
		rc=$(lab_job_status "$LAB_JOBS_OUT" "$j")
		[ "$rc" = 0 ] || break
	done
	if [ "$rc" = 125 ]; then
		lab_say "the lab's L1 did not finish: ${LAB_L1_FAILED:-see $log} (log: $log)" >&2
	fi
	return "$rc"
}

cmd=${1:-check}
LAB_JOBS_OUT=${LAB_JOBS_OUT:-$LAB_BUILD/jobs}
LAB_RUN_ARGS=()
mkdir -p "$LAB_BUILD"
case $cmd in
check)
	kind=$(host_kvm)
	mode=${LAB_MODE:-auto}
	if [ "$mode" = auto ]; then
		case $kind in
		vmx | svm) mode=host ;;
		*) mode=lab ;;
		esac
		[ "$mode" = lab ] && lab_say "this host's /dev/kvm is '$kind', which cannot boot a stock kernel in useful time"
	fi
	t0=$SECONDS
	if [ "$mode" = host ]; then
		jrc=0
		[ -z "${LAB_JOBS:-}" ] || { lab_run_jobs; jrc=$?; }
		lab_check_host "$kind"
	else
		jrc=0
		lab_check_lab
	fi
	rc=$?
	[ $jrc = 0 ] || rc=1
	lab_say "tier 3 took $((SECONDS - t0)) s ($mode)"
	exit $rc ;;
lab)
	t0=$SECONDS
	lab_check_lab
	rc=$?
	lab_say "tier 3 took $((SECONDS - t0)) s (lab)"
	exit $rc ;;
lab-shell)
	bin=""
	lab_minivmm && bin=$LAB_MINIVMM_BIN
	[ -n "$bin" ] || lab_say "L1 will have no minivmm (it does not build); QEMU is there"
	lab_build "$bin"
	lab_l1_shell ;;
selftest)
	exec sh tests/lab/selftest.sh ;;
bench)
	t0=$SECONDS
	lab_bench
	rc=$?
	lab_say "bench took $((SECONDS - t0)) s"
	exit $rc ;;
jobs)
	# jobs NAME...: only these jobs (tests/lab/jobs.sh) in one L1; their output, prefix removed, on
	# stdout and in $LAB_JOBS_OUT/NAME.log. Exit status: 0 if every job exited 0.
	shift
	[ $# -gt 0 ] || { echo "usage: $0 jobs NAME..." >&2; exit 2; }
	LAB_JOBS="$*"
	lab_run_jobs
	exit $? ;;
run)
	# run [MINIVMM-ARGS...]: `make run` on a host without a usable /dev/kvm (scripts/run.sh): ./minivmm
	# with these arguments in L1, its output here, its exit status ours.
	shift
	LAB_RUN_ARGS=("$@")
	LAB_JOBS=run LAB_LIGHT=1 LAB_L1_SHOW=job:run LAB_QUIET_BUILD=1 lab_run_jobs
	exit $? ;;
available)
	missing=$(lab_missing)
	[ -z "$missing" ] && exit 0
	echo "missing:$missing (scripts/install-deps.sh --lab)"
	exit 1 ;;
build)
	bin=""
	lab_minivmm && bin=$LAB_MINIVMM_BIN
	lab_build "$bin" ;;
*)
	sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 2 ;;
esac
