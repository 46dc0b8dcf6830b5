#!/bin/bash
# Tier 2 (needs /dev/kvm for the cases past argument parsing): every documented user error of minivmm
# gives one clear line on stderr and the documented exit status, and no guest runs.
# Usage: tests/errors/run.sh   (MINIVMM=path overrides ./minivmm; BZIMAGE=a Debian vmlinuz for its cases)
set -u
cd "$(dirname "$0")/../.."
MINIVMM=${MINIVMM:-./minivmm}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0 skip=0

# case NAME STATUS NEEDLE ARGS...: minivmm ARGS must exit with STATUS and print exactly one stderr line
# containing NEEDLE, and nothing on stdout (no guest ran).
case_() {
	local name=$1 want=$2 needle=$3 rc lines
	shift 3
	timeout 30 "$MINIVMM" "$@" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
	lines=$(grep -c . "$T/err")
	if [ "$rc" = "$want" ] && [ "$lines" = 1 ] && grep -qF -- "$needle" "$T/err" && [ ! -s "$T/out" ]; then
		echo "PASS $name"; pass=$((pass + 1))
	else
		echo "FAIL $name: exit $rc (want $want), $lines stderr lines (want 1 with '$needle'), stdout $(wc -c <"$T/out") bytes"
		sed 's/^/    /' "$T/err" | head -n 5
		fail=$((fail + 1))
	fi
}

# Argument errors: no KVM needed.
case_ bad-option 2 "unknown option '--bogus'" --bogus
case_ bad-mem 2 "--mem: 'lots' is not a size" --mem lots
case_ bad-cpus 2 "--cpus: '0' is not a number" --cpus 0
case_ bad-viommu 2 "--viommu: unknown mode 'legacy'" --viommu legacy
case_ missing-kernel 2 "cannot read kernel '$T/none'" --kernel "$T/none"
case_ kernel-is-a-dir 2 "not a regular file" --kernel "$T"
case_ bad-vfio-address 2 "--vfio: '00:04' is not a PCI address" --vfio 00:04
case_ vfio-twice 2 "--vfio: 0000:00:04.0 is given twice" --vfio 00:04.0 --vfio 0000:00:04.0

if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	echo "SKIP the remaining cases: /dev/kvm is not usable here"
	skip=$((skip + 8))
else
	head -c 4096 /dev/urandom >"$T/garbage"
	case_ garbage-kernel 2 "not a bzImage or ELF64 file" --kernel "$T/garbage"
	: >"$T/empty"
	case_ empty-kernel 2 "not a bzImage or ELF64 file" --kernel "$T/empty"
	case_ missing-initrd 2 "cannot read initrd '$T/none'" --kernel build/guest/tests/exitcode.elf --initrd "$T/none"
	case_ serial-file-dir 2 "--serial file:$T/no/such/dir" --serial "file:$T/no/such/dir"
	case_ dump-dtb-unwritable 2 "cannot write the device tree to '$T/no/dir/x.dtb'" --dump-dtb "$T/no/dir/x.dtb"
	# Passthrough: the host checks come after the VM exists (status 1: the host cannot do it).
	case_ vfio-no-device 1 "vfio 0000:ff:1f.7: no such PCI device on this host" --vfio ff:1f.7
	nodrv=
	for d in /sys/bus/pci/devices/*; do
		[ -e "$d" ] && [ ! -e "$d/vfio-dev" ] && { nodrv=${d##*/}; break; }
	done
	if [ -n "$nodrv" ]; then
		case_ vfio-not-on-vfio-pci 1 "vfio $nodrv: not bound to vfio-pci" --vfio "$nodrv"
	else
		echo "SKIP vfio-not-on-vfio-pci: this host has no PCI function outside vfio-pci"
		skip=$((skip + 1))
	fi
	if [ -n "${BZIMAGE:-}" ] && [ -f "$BZIMAGE" ]; then
		head -c 200000 "$BZIMAGE" >"$T/truncated"
		case_ truncated-bzimage 2 "truncated" --kernel "$T/truncated"
		case_ too-little-memory 2 "MiB of RAM, the guest has 16 MiB" --kernel "$BZIMAGE" --mem 16M
	else
		echo "SKIP bzImage cases: set BZIMAGE to a Debian vmlinuz (make check does)"
		skip=$((skip + 2))
	fi
fi
echo "errors: $pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
