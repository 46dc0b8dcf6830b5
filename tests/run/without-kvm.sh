#!/bin/bash
# Tier 2 (its guest runs in the lab's L1): `make run` on a host without /dev/kvm, simulated here with
# scripts/without-kvm.sh (a private /dev without kvm; root). It must say so in one line on stderr, boot
# the default guest in the lab's L1 with its output on stdout, and exit with minivmm's status; the
# guest's own error path too: `make run ARGS=--bogus` gives minivmm's usage error and status 2. And
# ./minivmm itself keeps its exact error.
# Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { echo "ok:   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
show() { sed 's/^/      | /' "$1" | tail -n "${2:-10}"; }

if ! bash scripts/without-kvm.sh true 2>"$T/err"; then
	bad "cannot simulate a host without /dev/kvm: $(cat "$T/err")"
	echo "$pass passed, $fail failed"
	exit 1
fi

bash scripts/without-kvm.sh ./minivmm >"$T/out" 2>"$T/err"
rc=$?
if [ $rc = 1 ] && [ "$(cat "$T/err")" = "minivmm: error: cannot open /dev/kvm: No such file or directory (is the kvm module loaded?)" ]; then
	ok "./minivmm without /dev/kvm: status 1, the exact error"
else
	bad "./minivmm without /dev/kvm: status $rc, stderr:"; show "$T/err"
fi

t0=$SECONDS
bash scripts/without-kvm.sh make --no-print-directory run >"$T/out" 2>"$T/err"
rc=$?
info="status $rc in $((SECONDS - t0)) s"
if [ $rc = 0 ] && grep -q 'minivmm default guest' "$T/out" && grep -q '^powering off' "$T/out"; then
	ok "make run without /dev/kvm: the default guest ran in the lab's L1 ($info)"
else
	bad "make run without /dev/kvm: $info; stdout:"; show "$T/out" 15; echo "      stderr:"; show "$T/err"
fi
# A first run (no lab set up yet) adds a line with the set-up time.
if [ "$(grep -vc '^make run: the lab was set up and the guest ran in [0-9]* s' "$T/err")" = 1 ] &&
	grep -q "^make run: this host has no /dev/kvm: minivmm runs in the nested lab's L1" "$T/err"; then
	ok "make run without /dev/kvm: one line says so: $(head -n 1 "$T/err")"
else
	bad "make run without /dev/kvm: stderr is not that one line:"; show "$T/err"
fi
if ! grep -qE '^(lab:|LAB-|JOB)' "$T/out"; then
	ok "make run without /dev/kvm: stdout is the guest's output only ($(grep -c . "$T/out") lines)"
else
	bad "make run without /dev/kvm: lab lines in stdout:"; grep -E '^(lab:|LAB-|JOB)' "$T/out" | head -n 5
fi

# make's own status is 2 for any failing recipe: the script under it passes minivmm's on.
bash scripts/without-kvm.sh bash scripts/run.sh --mem lots >"$T/out" 2>"$T/err"
rc=$?
if [ $rc = 2 ] && grep -q "minivmm: error: --mem: 'lots' is not a size" "$T/out"; then
	ok "scripts/run.sh --mem lots (make run ARGS=...) without /dev/kvm: minivmm's status 2 and its error"
else
	bad "scripts/run.sh --mem lots without /dev/kvm: status $rc (want 2); output:"; show "$T/out"; show "$T/err"
fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
