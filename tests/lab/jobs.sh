#!/bin/sh
# Jobs in the lab's L1 for a host whose /dev/kvm cannot run them: the tier-2 guest programs and error
# cases (normal and ASan+UBSan minivmm), `make run`'s default guest, the benchmarks that need a guest.
# L1's /init runs it (kernel parameter lab.jobs=NAME,NAME) before any tier-3 check, in the same L1.
# The host's tree is under /lab/src (scripts/lab/initramfs.sh lab_add_src): the scripts, the guest
# programs, ./minivmm and build/asan/minivmm, build/bench/*.
#
#   jobs.sh NAME...
#
# Each job's output lines go to the console as "JOB NAME: LINE", between "JOB-BEGIN NAME" and
# "JOB-DONE NAME status=N secs=S" (scripts/lab.sh splits them out; a job without JOB-DONE ran in an
# L1 that died and runs again in a new one).
#   guest, guest-asan     tests/guest/run.sh with ./minivmm, build/asan/minivmm
#   errors, errors-asan   tests/errors/run.sh with the same two
#   run                   ./minivmm with the arguments in /lab/src/run.args (one per line): make run
#   bench-guest           bench/guest.sh
cd /lab/src || exit 1
now() { cut -d' ' -f1 /proc/uptime; }

job_cmd() {
	case $1 in
	guest) MINIVMM=./minivmm NO_BUILD=1 bash tests/guest/run.sh ;;
	guest-asan) ASAN_OPTIONS=detect_leaks=1 MINIVMM=build/asan/minivmm NO_BUILD=1 bash tests/guest/run.sh ;;
	errors) MINIVMM=./minivmm BZIMAGE=/lab/vmlinuz bash tests/errors/run.sh ;;
	errors-asan) ASAN_OPTIONS=detect_leaks=1 MINIVMM=build/asan/minivmm BZIMAGE=/lab/vmlinuz bash tests/errors/run.sh ;;
	run)
		set --
		if [ -f run.args ]; then
			while IFS= read -r a; do set -- "$@" "$a"; done <run.args
		fi
		./minivmm "$@" </dev/null ;;
	# Fewer and shorter runs than on a host: every exit costs ~100 times more under QEMU's emulated SVM.
	bench-guest) BENCH_RUNS=10 BENCH_DMA_RUNS=3 BENCH_DMA_COUNT=500 BENCH_VIRTIO_RUNS=3 bash bench/guest.sh ;;
	*) echo "jobs.sh: no job '$1'"; return 2 ;;
	esac
}

rc_all=0
for j in "$@"; do
	t0=$(now)
	echo "JOB-BEGIN $j"
	{ job_cmd "$j" 2>&1; echo $? >/tmp/job.rc; } | sed "s/\r\$//; s/^/JOB $j: /"
	rc=$(cat /tmp/job.rc)
	echo "JOB-DONE $j status=$rc secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')"
	[ "$rc" = 0 ] || rc_all=1
done
exit $rc_all
