# shellcheck shell=bash
# Sourced by scripts/lab.sh: `scripts/lab.sh bench`, minivmm against QEMU 10 as the L2 VMM in L1
# (tests/lab/bench.sh prints one "BENCH run=N vmm=V viommu=M userspace_s=S read_mib_s=M FIO..." line per
# boot).
# L1 dies now and then under TCG's emulated SVM (about 1 bench run in 2 has seen it): the boots it
# finished are kept, the runs it left go to a new L1 (up to LAB_L1_TRIES in all, as for the checks),
# and the medians are of every finished boot, with their counts.

# lab_bench_last_run LOG...: the highest run number both VMMs got to (finished or failed), 0 if none.
lab_bench_last_run() {
	grep -ahoE '^BENCH run=[0-9]+ vmm=qemu viommu=off ' "$@" 2>/dev/null | sed -E 's/BENCH run=([0-9]+).*/\1/' |
		sort -n | tail -n 1 | grep . || echo 0
}

# lab_bench_summary LOG...: medians of the finished boots in the LOGs, per VMM and vIOMMU mode, with
# the minivmm/QEMU ratios (higher is better but for boot time) and minivmm's vIOMMU-on/off ratio.
lab_bench_summary() {
	tr -d '\r' <<<"$(cat "$@" 2>/dev/null)" | awk '
		/^BENCH run=[0-9]+ vmm=[a-z]+ viommu=[a-z]+ userspace_s=/ {
			split($3, v, "="); split($4, m, "="); k = v[2] "/" m[2]
			for (i = 5; i <= NF; i++) {
				split($i, kv, "=")
				if (kv[2] != "-" && kv[2] != "") { n[k, kv[1]]++; val[k, kv[1], n[k, kv[1]]] = kv[2] }
			}
			boots[k]++
		}
		/^BENCH run=[0-9]+ vmm=[a-z]+ viommu=[a-z]+ FAILED/ { split($3, v, "="); split($4, m, "="); failed[v[2] "/" m[2]]++ }
		function median(k, f,    c, i, j, t, x) {
			c = n[k, f]
			if (c == 0) return "-"
			for (i = 1; i <= c; i++) x[i] = val[k, f, i]
			for (i = 2; i <= c; i++) for (j = i; j > 1 && x[j - 1] + 0 > x[j] + 0; j--) { t = x[j]; x[j] = x[j - 1]; x[j - 1] = t }
			return x[int((c + 1) / 2)]
		}
		function ratio(a, b) { return (a + 0 > 0 && b + 0 > 0) ? sprintf("%.2f", a / b) : "-" }
		END {
			split("userspace_s read_mib_s randread-qd1 randread-qd32 seqread seqwrite", fs, " ")
			name["userspace_s"] = "boot to userspace (s, lower is better)"
			name["read_mib_s"] = "dd 1 MiB O_DIRECT reads (MiB/s)"
			name["randread-qd1"] = "fio 4 KiB randread iodepth 1 (IOPS)"
			name["randread-qd32"] = "fio 4 KiB randread iodepth 32 (IOPS)"
			name["seqread"] = "fio 1 MiB sequential read (MiB/s)"
			name["seqwrite"] = "fio 1 MiB sequential write (MiB/s)"
			printf "  summary: medians of the finished boots (minivmm flts %d, off %d; QEMU flts %d, off %d; failed: %d)\n",
				boots["minivmm/flts"], boots["minivmm/off"], boots["qemu/flts"], boots["qemu/off"],
				failed["minivmm/flts"] + failed["minivmm/off"] + failed["qemu/flts"] + failed["qemu/off"]
			for (mi = 1; mi <= 2; mi++) {
				mode = mi == 1 ? "flts" : "off"
				printf "  vIOMMU %s:\n  %-40s %10s %10s %14s%s\n", mode == "flts" ? "on (flts)" : "off", "figure", "minivmm",
					"QEMU 10", "minivmm/QEMU", mode == "flts" ? "   minivmm on/off" : ""
				for (i = 1; i <= 6; i++) {
					f = fs[i]; a = median("minivmm/" mode, f); q = median("qemu/" mode, f)
					printf "  %-40s %10s %10s %14s", name[f], a, q, ratio(a, q)
					if (mode == "flts") printf "   %14s", ratio(a, median("minivmm/off", f))
					printf "\n"
				}
			}
		}'
}

# lab_bench: the bench in L1, retried in a new L1 for the runs a dead one left; its lines and summary.
lab_bench() {
	local log=$LAB_BUILD/logs/l1-bench.log runs=${LAB_BENCH_RUNS:-3} cur try=1 last l
	mkdir -p "$LAB_BUILD/logs"
	lab_minivmm || { echo "BENCH skipped: minivmm does not build"; return 1; }
	lab_build "$LAB_MINIVMM_BIN"
	lab_step fio-tools lab_fio_tools
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
		[ -f "$l" ] && grep -a -E '^BENCH(-PROFILE)? run=' "$l" | tr -d '\r' | sed 's/^BENCH /  /'
	done
	lab_bench_summary "$log" "$log".retry*
	if ! grep -q '^LAB-L1-DONE' "$cur"; then
		lab_say "the bench did not finish: ${LAB_L1_FAILED:-L1 died}; the figures are of the boots that did (log: $log)"
		return 1
	fi
	lab_say "bench log: $log$([ $try -gt 1 ] && echo " (and .retry1-$((try - 1)))")"
}
