# shellcheck shell=bash
# Sourced by scripts/lab.sh: `scripts/lab.sh bench`, minivmm against QEMU 10 as the L2 VMM in L1
# (tests/lab/bench.sh prints one "BENCH run=N vmm=V userspace_s=S read_mib_s=M" line per boot).
# L1 dies now and then under TCG's emulated SVM (about 1 bench run in 2 has seen it): the boots it
# finished are kept, the runs it left go to a new L1 (up to LAB_L1_TRIES in all, as for the checks),
# and the medians are of every finished boot, with their counts.

# lab_bench_last_run LOG...: the highest run number both VMMs got to (finished or failed), 0 if none.
lab_bench_last_run() {
	grep -ahoE '^BENCH run=[0-9]+ vmm=qemu ' "$@" 2>/dev/null | sed -E 's/BENCH run=([0-9]+).*/\1/' |
		sort -n | tail -n 1 | grep . || echo 0
}

# lab_bench_summary LOG...: medians and minivmm/QEMU ratios of the finished boots in the LOGs.
lab_bench_summary() {
	tr -d '\r' <<<"$(cat "$@" 2>/dev/null)" | awk '
		/^BENCH run=[0-9]+ vmm=[a-z]+ userspace_s=/ {
			split($3, v, "="); vmm = v[2]
			for (i = 4; i <= NF; i++) {
				split($i, kv, "=")
				if (kv[1] == "userspace_s") boot[vmm, ++nb[vmm]] = kv[2]
				if (kv[1] == "read_mib_s") rd[vmm, ++nr[vmm]] = kv[2]
			}
		}
		/^BENCH run=[0-9]+ vmm=[a-z]+ FAILED/ { split($3, v, "="); failed[v[2]]++ }
		function median(a, vmm, n,    i, j, t, x) {
			if (n == 0) return "-"
			for (i = 1; i <= n; i++) x[i] = a[vmm, i]
			for (i = 2; i <= n; i++) for (j = i; j > 1 && x[j - 1] + 0 > x[j] + 0; j--) { t = x[j]; x[j] = x[j - 1]; x[j - 1] = t }
			return x[int((n + 1) / 2)]
		}
		function ratio(a, b) { return (a + 0 > 0 && b + 0 > 0) ? sprintf("%.2f", a / b) : "-" }
		END {
			mb = median(boot, "minivmm", nb["minivmm"]); qb = median(boot, "qemu", nb["qemu"])
			mr = median(rd, "minivmm", nr["minivmm"]); qr = median(rd, "qemu", nr["qemu"])
			printf "  summary: medians of minivmm %d boot(s), QEMU %d boot(s) (failed boots: minivmm %d, QEMU %d)\n",
				nb["minivmm"], nb["qemu"], failed["minivmm"], failed["qemu"]
			printf "  %-38s %10s %10s %14s\n", "figure", "minivmm", "QEMU 10", "minivmm/QEMU"
			printf "  %-38s %10s %10s %14s\n", "boot to userspace (s, lower is better)", mb, qb, ratio(mb, qb)
			printf "  %-38s %10s %10s %14s\n", "virtio-blk read via vIOMMU (MiB/s)", mr, qr, ratio(mr, qr)
		}'
}

# lab_bench: the bench in L1, retried in a new L1 for the runs a dead one left; its lines and summary.
lab_bench() {
	local log=$LAB_BUILD/logs/l1-bench.log runs=${LAB_BENCH_RUNS:-3} cur try=1 last l
	mkdir -p "$LAB_BUILD/logs"
	lab_minivmm || { echo "BENCH skipped: minivmm does not build"; return 1; }
	lab_build "$LAB_MINIVMM_BIN"
	rm -f "$log".retry*
	cur=$log
	LAB_L1_BENCH=1 lab_l1_check "$cur"
	while ! grep -q '^LAB-L1-DONE' "$cur" && [ $try -lt "${LAB_L1_TRIES:-3}" ]; do
		last=$(lab_bench_last_run "$log" "$log".retry*)
		[ "$last" -ge "$runs" ] && break
		lab_say "RETRY L1 (bench run $try of ${LAB_L1_TRIES:-3}: ${LAB_L1_FAILED:-L1 died}); runs $((last + 1))-$runs in a new L1"
		cur=$log.retry$try
		LAB_BENCH_FIRST=$((last + 1)) LAB_BENCH_RUNS=$((runs - last)) LAB_L1_BENCH=1 lab_l1_check "$cur"
		try=$((try + 1))
	done
	for l in "$log" "$log".retry*; do
		[ -f "$l" ] && grep -a '^BENCH run=' "$l" | tr -d '\r' | sed 's/^BENCH /  /'
	done
	lab_bench_summary "$log" "$log".retry*
	if ! grep -q '^LAB-L1-DONE' "$cur"; then
		lab_say "the bench did not finish: ${LAB_L1_FAILED:-L1 died}; the figures are of the boots that did (log: $log)"
		return 1
	fi
	lab_say "bench log: $log$([ $try -gt 1 ] && echo " (and .retry1-$((try - 1)))")"
}
