#!/bin/sh
# Tier 3 driver: run the Linux-guest checks (tests/lab/checks/NN-NAME.sh) against the L2 VMM.
# It runs wherever /dev/kvm can boot a stock kernel: inside the lab's L1 (started by its /init) or
# directly on a VMX/SVM host (started by scripts/lab.sh). Environment: see lib.sh.
#
#   run-checks.sh [NAME...]     all checks, or only those named (e.g. boot viommu)
#
# Prints "PASS: tier3/NAME" or "FAIL: tier3/NAME" after each check's evidence, then
# "lab-summary: passed=N failed=N skipped=N"; exits 1 if a check failed.
LAB_TESTS_DIR=$(cd "$(dirname "$0")" && pwd)
export LAB_TESTS_DIR
. "$LAB_TESTS_DIR/lib.sh"
export LAB_VMM LAB_MINIVMM LAB_QEMU LAB_VMLINUZ LAB_L2_INITRD LAB_WORK LAB_L2_TIMEOUT LAB_L2_TRIES LAB_L2_QUIET

pass=0 fail=0 skip=0

# Is everything an L2 boot needs there? Prints the reason when not.
prereq() {
	[ -c /dev/kvm ] || { echo "/dev/kvm is missing"; return 1; }
	[ -r "$LAB_VMLINUZ" ] || { echo "no kernel at LAB_VMLINUZ='$LAB_VMLINUZ'"; return 1; }
	[ -r "$LAB_L2_INITRD" ] || { echo "no L2 initramfs at LAB_L2_INITRD='$LAB_L2_INITRD'"; return 1; }
	case $LAB_VMM in
	minivmm) command -v "$LAB_MINIVMM" >/dev/null || { echo "no minivmm at '$LAB_MINIVMM'"; return 1; } ;;
	qemu) command -v "$LAB_QEMU" >/dev/null || { echo "no QEMU at '$LAB_QEMU'"; return 1; } ;;
	*) echo "LAB_VMM='$LAB_VMM' is neither minivmm nor qemu"; return 1 ;;
	esac
}

work=$LAB_WORK
mkdir -p "$work"
why=$(prereq)
ok=$?
lab_say "tier 3 driver: L2 VMM $LAB_VMM, kernel $LAB_VMLINUZ, watchdog ${LAB_L2_TIMEOUT} s x $LAB_L2_TRIES boots"
for f in "$LAB_TESTS_DIR"/checks/[0-9]*.sh; do
	name=$(basename "$f" .sh)
	name=${name#*-}
	if [ $# -gt 0 ] && ! echo " $* " | grep -q " $name "; then
		continue
	fi
	echo "=== tier3/$name"
	t0=$(lab_now)
	if [ $ok != 0 ]; then
		echo "    FAIL: cannot boot L2: $why"
		rc=1
	else
		# Each check gets its own scratch directory: its consoles stay for whoever looks later.
		LAB_WORK=$work/$name
		rm -rf "$LAB_WORK"
		mkdir -p "$LAB_WORK"
		sh "$f"
		rc=$?
		# In L1 the consoles die with L1: copy them into the console log (the host shows none
		# of these lines, it keeps them in its log file).
		if [ "${LAB_DUMP_CONSOLES:-0}" = 1 ]; then
			for c in "$LAB_WORK"/*.console "$LAB_WORK"/*.stderr; do
				[ -f "$c" ] || continue
				b=$(basename "$c")
				tr -d '\r' <"$c" | sed "s|^|L2-LOG $name/$b: |"
			done
		fi
	fi
	case $rc in
	0) echo "PASS: tier3/$name ($(lab_since "$t0") s)"; pass=$((pass + 1)) ;;
	77) echo "SKIP: tier3/$name"; skip=$((skip + 1)) ;;
	*) echo "FAIL: tier3/$name ($(lab_since "$t0") s)"; fail=$((fail + 1)) ;;
	esac
done
echo "lab-summary: passed=$pass failed=$fail skipped=$skip"
[ $fail = 0 ]
