# shellcheck shell=bash
# Sourced by scripts/lab.sh: jobs in L1 (tests/lab/jobs.sh) for a host whose /dev/kvm cannot run them:
# tier 2 (guest, guest-asan, errors, errors-asan), `make run` (run), the guest benchmarks (bench-guest).
# They share the L1 boot of the tier-3 checks when both are due. LAB_JOBS="NAME ..." names them.
#
# L1 prints each job's lines as "JOB NAME: LINE" and ends it with "JOB-DONE NAME status=N secs=S". A
# job without JOB-DONE (its L1 died) runs again in the next L1 (lab_l1_retry), and its output is that
# of the run where it finished.

# Seconds a job may take in L1, every run hanging to its own watchdog included (part of LAB_TIMEOUT).
lab_job_budget() {
	case $1 in
	guest) echo 1500 ;;
	guest-asan) echo 2000 ;;
	errors) echo 400 ;;
	errors-asan) echo 500 ;;
	run) echo 300 ;;
	bench-guest) echo 2400 ;;
	*) echo 300 ;;
	esac
}

# lab_job_silence NAME: how long the job may print nothing (the L1-frozen watchdog; 0: the default).
lab_job_silence() {
	case $1 in
	bench-guest) echo 900 ;;	# a benchmark's runs print once they are all done
	*) echo 0 ;;
	esac
}

# lab_jobs_build: what the jobs run, built on this host (L1 has no compiler). Returns 1 on failure.
lab_jobs_build() {
	local t0=$SECONDS asan=0
	[[ " $LAB_JOBS " == *-asan\ * ]] && asan=1
	if ! make --no-print-directory -j"$(nproc)" minivmm guests >"$LAB_BUILD/make-jobs.log" 2>&1; then
		tail -n 25 "$LAB_BUILD/make-jobs.log" | sed 's/^/  make> /'
		lab_say "the jobs' programs do not build (log: $LAB_BUILD/make-jobs.log)"
		return 1
	fi
	if [ $asan = 1 ] && ! make --no-print-directory -j"$(nproc)" BUILD=build/asan SAN=1 OPT="-O1 -g" \
		build/asan/minivmm >>"$LAB_BUILD/make-jobs.log" 2>&1; then
		tail -n 25 "$LAB_BUILD/make-jobs.log" | sed 's/^/  make> /'
		lab_say "the ASan+UBSan minivmm does not build (log: $LAB_BUILD/make-jobs.log)"
		return 1
	fi
	lab_say "step jobs-build: $((SECONDS - t0)) s"
}

# lab_add_src ROOT: the host's tree as the jobs need it, under ROOT/lab/src, and bash (the tier-2
# scripts are bash; L1's shell is busybox ash).
lab_add_src() {
	local d=$1/lab/src f
	lab_add_program "$1" /bin/bash /bin/bash
	lab_add_program "$1" "$(command -v dtc)" /usr/bin/dtc	# the --dump-dtb error cases read the tree
	mkdir -p "$d/tests/guest" "$d/tests/errors" "$d/scripts" "$d/bench" "$d/build/guest/tests" "$d/build/tools"
	cp "$LAB_ROOT"/tests/guest/*.c "$LAB_ROOT"/tests/guest/run.sh "$d/tests/guest/"
	cp "$LAB_ROOT"/tests/errors/*.sh "$d/tests/errors/"
	cp "$LAB_ROOT"/scripts/host-kvm.sh "$LAB_ROOT"/scripts/without-kvm.sh "$d/scripts/"
	cp "$LAB_ROOT"/bench/*.sh "$d/bench/"
	cp "$LAB_ROOT"/build/guest/tests/*.elf "$d/build/guest/tests/"
	[ -f "$LAB_ROOT/build/guest/default.elf" ] && cp "$LAB_ROOT/build/guest/default.elf" "$d/build/guest/"
	lab_add_program "$1" "$LAB_ROOT/build/tools/pattern-disk" /lab/src/build/tools/pattern-disk
	lab_add_program "$1" "$LAB_ROOT/minivmm" /lab/src/minivmm
	[[ " $LAB_JOBS " == *-asan\ * ]] && lab_add_program "$1" "$LAB_ROOT/build/asan/minivmm" /lab/src/build/asan/minivmm
	if [[ " $LAB_JOBS " == *" bench-guest "* ]] && [ -d "$LAB_ROOT/build/bench" ]; then
		for f in "$LAB_ROOT"/build/bench/*; do
			[ -x "$f" ] && [ -f "$f" ] && lab_add_program "$1" "$f" "/lab/src/build/bench/${f##*/}"
		done
	fi
	: >"$d/run.args"
	[ ${#LAB_RUN_ARGS[@]} = 0 ] || printf '%s\n' "${LAB_RUN_ARGS[@]}" >"$d/run.args"
	return 0
}

# lab_jobs_left LOG...: the jobs of LAB_JOBS that no LOG shows finished.
lab_jobs_left() {
	local j
	for j in $LAB_JOBS; do
		grep -aqs "^JOB-DONE $j " "$@" || echo "$j"
	done
}

# lab_jobs_split LOG OUTDIR: each job's lines into OUTDIR/NAME.log, from the (retry) log where it
# finished (else the last one where it began), ending in "lab-job: NAME status=N secs=S" or
# "lab-job: NAME did not finish (WHY)".
lab_jobs_split() {
	local log=$1 out=$2 j l src done_line
	mkdir -p "$out"
	for j in $LAB_JOBS; do
		src=""
		for l in "$log" "$log".retry*; do
			[ -f "$l" ] || continue
			if grep -aq "^JOB-DONE $j " "$l"; then src=$l; break; fi
			grep -aqE "^JOB-BEGIN $j[[:space:]]*\$" "$l" && src=$l
		done
		if [ -z "$src" ]; then
			echo "lab-job: $j did not start (${LAB_L1_FAILED:-no L1 ran it})" >"$out/$j.log"
			continue
		fi
		grep -a "^JOB $j: " "$src" | tr -d '\r' | sed "s/^JOB $j: //" >"$out/$j.log"
		done_line=$(grep -a "^JOB-DONE $j " "$src" | tr -d '\r' | tail -n 1)
		if [ -n "$done_line" ]; then
			echo "lab-job: $j ${done_line#JOB-DONE "$j" }" >>"$out/$j.log"
		else
			echo "lab-job: $j did not finish (${LAB_L1_FAILED:-L1 stopped})" >>"$out/$j.log"
		fi
	done
}

# lab_job_status OUTDIR NAME: the job's exit status, or 125 when it did not finish.
lab_job_status() {
	local s
	s=$(sed -n "s/^lab-job: $2 status=\([0-9]*\).*/\1/p" "$1/$2.log" 2>/dev/null | tail -n 1)
	echo "${s:-125}"
}
