#!/bin/bash
# `make bench`: benchmark figures (medians over repeated runs). Not tests: nothing here fails on a number.
set -u
cd "$(dirname "$0")/.."
N=${BENCH_RUNS:-20}
echo "== minivmm start-up: default guest, $N runs (targets: first instruction <= 10 ms, VMM memory <= 4 MiB)"
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	make -s build/bench/boot_time && build/bench/boot_time "$N" ./minivmm --serial none
else
	echo "skipped: /dev/kvm is not usable here"
fi
for b in bench/run-*.sh; do
	[ -f "$b" ] && bash "$b"
done
exit 0
