#!/bin/bash
# VT-d model micro-benchmarks (a host program, no KVM); bench/run.sh runs every bench/run-*.sh.
set -u
cd "$(dirname "$0")/.."
echo "== VT-d: translate() and IOTLB invalidation (targets: IOTLB hit <= 10 ns, 4-level miss <= 80 ns)"
make -s build/bench/bench_vtd && build/bench/bench_vtd
