#!/bin/bash
# `make run [ARGS="..."]`, or scripts/run.sh [ARG...]: boot the embedded default guest (or minivmm ARGS).
# With a usable /dev/kvm (hardware or PVM) it is ./minivmm itself. Without one, minivmm cannot run
# here: this says so in one line and runs the same ./minivmm in the nested lab's L1 (a stock Linux on
# QEMU's software emulation of an AMD CPU, whose kvm_amd is a real KVM), prints the guest's output and
# exits with minivmm's status. The first such run sets the lab up (packages, a Debian kernel: about
# 1-3 minutes with a fast mirror, once; later runs about 30 s).
set -u
cd "$(dirname "$0")/.."
# shellcheck disable=SC2206
args=(${ARGS:-} "$@")
kind=$(bash scripts/host-kvm.sh)
usable=1
bash scripts/host-kvm.sh --usable || usable=0
mkdir -p build/lab
bash scripts/install-deps.sh $([ $usable = 0 ] && echo --lab) >build/run-deps.log 2>&1 ||
	{ cat build/run-deps.log >&2; echo "make run: the dependencies are missing (see above)" >&2; exit 1; }
make -s minivmm guests >/dev/null || exit 1
[ $usable = 1 ] && exec ./minivmm "${args[@]}"

case $kind in
none) why="this host has no /dev/kvm" ;;
noaccess) why="/dev/kvm is not readable and writable by $(id -un)" ;;
*) why="/dev/kvm is '$kind'" ;;
esac
first=""
[ -f build/lab/.run-ready ] || first="; the first run sets the lab up (about 1-3 minutes, once)"
echo "make run: $why: minivmm runs in the nested lab's L1 (QEMU software emulation with a real KVM)$first" >&2
t0=$SECONDS
bash scripts/lab.sh run "${args[@]}"
rc=$?
if [ -n "$first" ] && [ $rc != 125 ]; then
	touch build/lab/.run-ready
	echo "make run: the lab was set up and the guest ran in $((SECONDS - t0)) s; later runs take about 30 s" >&2
fi
exit $rc
