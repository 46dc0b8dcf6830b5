#!/bin/bash
# Tier 2: every documented user error of minivmm gives one clear line on stderr and the documented exit
# status, and no guest runs. None of these errors needs a VM, so each is checked twice: on this host
# and on a host without /dev/kvm (scripts/without-kvm.sh, needs root), where it must still be its own
# error and not "cannot open /dev/kvm". --dump-dtb works on both and writes the same device tree.
# Usage: tests/errors/run.sh   (MINIVMM=path overrides ./minivmm; BZIMAGE=a Debian vmlinuz for its cases)
set -u
cd "$(dirname "$0")/../.."
MINIVMM=${MINIVMM:-./minivmm}
# A vmlinuz scripts/fetch-kernel.sh cached, unless BZIMAGE names one.
BZIMAGE=${BZIMAGE:-$(ls build/cache/linux-image/*/boot/vmlinuz-* 2>/dev/null | tail -n 1)}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0 skip=0

ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; sed 's/^/    /' "$T/err" | head -n 5; fail=$((fail + 1)); }

# A host without /dev/kvm, simulated; without root each case that needs it is skipped.
if scripts/without-kvm.sh true 2>"$T/nokvm"; then nokvm_why=; else nokvm_why=$(cat "$T/nokvm"); fi
skipped_() {
	[ "${NOKVM:-0}" = 1 ] && [ -n "$nokvm_why" ] || return 1
	echo "SKIP $1: $nokvm_why"
	skip=$((skip + 1))
}

# run_ ARGS...: minivmm ARGS, on this host or (NOKVM=1) without /dev/kvm; stdout, stderr to $T/out, $T/err.
run_() {
	if [ "${NOKVM:-0}" = 1 ]; then
		timeout 30 scripts/without-kvm.sh "$MINIVMM" "$@" >"$T/out" 2>"$T/err" </dev/null
	else
		timeout 30 "$MINIVMM" "$@" >"$T/out" 2>"$T/err" </dev/null
	fi
}

# case_ NAME STATUS NEEDLE ARGS...: minivmm ARGS must exit with STATUS and print exactly one stderr line
# containing NEEDLE, and nothing on stdout (no guest ran); with GONE=FILE, FILE must not exist after.
case_() {
	local name=$1 want=$2 needle=$3 rc lines
	shift 3
	skipped_ "$name" && return
	run_ "$@"
	rc=$?
	lines=$(grep -c . "$T/err")
	if [ "$rc" = "$want" ] && [ "$lines" = 1 ] && grep -qF -- "$needle" "$T/err" && [ ! -s "$T/out" ] &&
	   { [ -z "${GONE:-}" ] || [ ! -e "$GONE" ]; }; then
		ok "$name"
	else
		bad "$name" "exit $rc (want $want), $lines stderr lines (want 1 with '$needle'), stdout $(wc -c <"$T/out") bytes${GONE:+, $GONE left behind: $([ -e "$GONE" ] && echo yes || echo no)}"
	fi
}

# put FILE OFFSET BYTE...: write hex bytes into FILE at OFFSET (little-endian fields, byte by byte).
put() {
	local f=$1 off=$2
	shift 2
	printf "$(printf '\\x%s' "$@")" | dd of="$f" bs=1 seek=$((off)) conv=notrunc status=none
}

# Images that are wrong in one way each (boot/bzimage.c's checks; offsets from boot.rst's setup header).
head -c 4096 /dev/urandom >"$T/garbage"
: >"$T/empty"
head -c $((0x220)) /dev/zero >"$T/short-bz"		# "HdrS", but the file ends inside the setup header
put "$T/short-bz" 0x202 48 64 72 53
head -c $((5 * 512 + 4096)) /dev/zero >"$T/big-bz"	# 4 setup sectors, 4 KiB kernel wanting 64 MiB at 16 MiB
put "$T/big-bz" 0x1f1 04			# setup_sects
put "$T/big-bz" 0x1f4 00 01 00 00		# syssize: 256 paragraphs = the 4 KiB present
put "$T/big-bz" 0x202 48 64 72 53 0f 02		# "HdrS", protocol 2.15
put "$T/big-bz" 0x211 01			# loadflags: LOADED_HIGH
put "$T/big-bz" 0x230 00 00 20 00 01		# kernel_alignment 2 MiB, relocatable
put "$T/big-bz" 0x236 01 00			# xloadflags: XLF_KERNEL_64
put "$T/big-bz" 0x258 00 00 00 01 00 00 00 00 00 00 00 04	# pref_address 16 MiB, init_size 64 MiB
nodrv=
for d in /sys/bus/pci/devices/*; do
	[ -e "$d" ] && [ ! -e "$d/vfio-dev" ] && { nodrv=${d##*/}; break; }
done

# The errors that need no VM, each on this host and without /dev/kvm.
no_vm_cases() {
	local at=$1
	case_ "bad-option$at" 2 "unknown option '--bogus'" --bogus
	case_ "bad-mem$at" 2 "--mem: 'lots' is not a size" --mem lots
	case_ "bad-cpus$at" 2 "--cpus: '0' is not a number" --cpus 0
	case_ "bad-viommu$at" 2 "--viommu: unknown mode 'legacy'" --viommu legacy
	case_ "bad-vfio-address$at" 2 "--vfio: '00:04' is not a PCI address" --vfio 00:04
	case_ "vfio-twice$at" 2 "--vfio: 0000:00:04.0 is given twice" --vfio 00:04.0 --vfio 0000:00:04.0
	case_ "missing-kernel$at" 2 "cannot read kernel '$T/none'" --kernel "$T/none"
	case_ "kernel-is-a-dir$at" 2 "not a regular file" --kernel "$T"
	case_ "garbage-kernel$at" 2 "not a bzImage or ELF64 file" --kernel "$T/garbage"
	case_ "empty-kernel$at" 2 "not a bzImage or ELF64 file" --kernel "$T/empty"
	case_ "short-bzimage$at" 2 "truncated: 544 bytes, the setup header alone needs 620" --kernel "$T/short-bz"
	case_ "too-little-memory$at" 2 "needs 80 MiB of RAM, the guest has 16 MiB" --kernel "$T/big-bz" --mem 16M
	case_ "missing-initrd$at" 2 "cannot read initrd '$T/none'" --kernel build/guest/tests/exitcode.elf --initrd "$T/none"
	case_ "serial-file-dir$at" 2 "--serial file:$T/no/such/dir" --serial "file:$T/no/such/dir"
	case_ "dump-dtb-unwritable$at" 2 "cannot write the device tree to '$T/no/dir/x.dtb'" --dump-dtb "$T/no/dir/x.dtb"
	# Passthrough: status 1, the host cannot do it.
	case_ "vfio-no-device$at" 1 "vfio 0000:ff:1f.7: no such PCI device on this host" --vfio ff:1f.7
	# A --dump-dtb whose machine cannot be built leaves no file behind.
	GONE=$T/failed.dtb case_ "dump-dtb-build-fails$at" 1 "vfio 0000:ff:1f.7: no such PCI device" \
		--vfio ff:1f.7 --dump-dtb "$T/failed.dtb"
	if [ -n "$nodrv" ]; then
		case_ "vfio-not-on-vfio-pci$at" 1 "vfio $nodrv: not bound to vfio-pci" --vfio "$nodrv"
	else
		echo "SKIP vfio-not-on-vfio-pci$at: this host has no PCI function outside vfio-pci"
		skip=$((skip + 1))
	fi
	if [ -n "${BZIMAGE:-}" ] && [ -f "$BZIMAGE" ]; then
		head -c 200000 "$BZIMAGE" >"$T/truncated"
		case_ "truncated-bzimage$at" 2 "truncated" --kernel "$T/truncated"
		case_ "too-little-memory-vmlinuz$at" 2 "MiB of RAM, the guest has 16 MiB" --kernel "$BZIMAGE" --mem 16M
	else
		echo "SKIP vmlinuz cases$at: set BZIMAGE to a Debian vmlinuz (make check does)"
		skip=$((skip + 2))
	fi
}

# dump_ NAME FILE ARGS...: minivmm --dump-dtb FILE ARGS exits 0, says nothing, and FILE is a device tree
# with the machine's memory and serial port.
dump_() {
	local name=$1 f=$2 rc
	shift 2
	skipped_ "$name" && return
	rm -f "$f"
	run_ --dump-dtb "$f" "$@"
	rc=$?
	if [ "$rc" != 0 ] || [ -s "$T/err" ] || [ -s "$T/out" ]; then
		bad "$name" "exit $rc (want 0), stderr $(wc -c <"$T/err") bytes, stdout $(wc -c <"$T/out") bytes (want none)"
	elif ! dtc -q -I dtb -O dts -o "$T/dts" "$f" 2>"$T/err"; then
		bad "$name" "dtc cannot read $f"
	elif ! grep -q 'memory@0 {' "$T/dts" || ! grep -q 'device_type = "memory"' "$T/dts" ||
	     ! grep -q 'uart@3f8 {' "$T/dts" || ! grep -q 'compatible = "ns16550a"' "$T/dts"; then
		cp "$T/dts" "$T/err"
		bad "$name" "no /memory@0 or /uart@3f8 node in the tree"
	else
		ok "$name"
	fi
}

# same_ NAME A B: the offline machine is the one a run builds: the same tree, byte for byte.
same_() {
	if [ ! -f "$2" ] || [ ! -f "$3" ]; then
		echo "SKIP $1: no tree from both hosts to compare"
		skip=$((skip + 1))
	elif cmp -s "$2" "$3"; then
		ok "$1"
	else
		: >"$T/err"
		bad "$1" "the trees with and without /dev/kvm differ"
	fi
}

DEVICES=(--cpus 2 --mem 5G --viommu flts --dma-engine --rng --cmdline hello)
NOKVM=0 no_vm_cases ""
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	dump_ dump-dtb "$T/kvm.dtb"
	dump_ dump-dtb-devices "$T/kvm-devices.dtb" "${DEVICES[@]}"
else
	echo "SKIP dump-dtb, dump-dtb-devices: /dev/kvm is not usable here (they run without it below)"
	skip=$((skip + 2))
fi
# --nested-virt needs a VM: where the host's KVM nests (a CPU with VMX or SVM and kvm_intel/kvm_amd
# nested=1, as the lab's L1) the guest sees that extension (tests/guest/nested_virt.c, "nested=shown");
# elsewhere one clear line and status 1.
host_nests() {
	grep -qwE 'vmx|svm' /proc/cpuinfo &&
		grep -qsE '^(Y|1)$' /sys/module/kvm_intel/parameters/nested /sys/module/kvm_amd/parameters/nested
}
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	if host_nests; then
		run_ --nested-virt --kernel build/guest/tests/nested_virt.elf --cmdline nested=shown
		rc=$?
		if [ $rc = 0 ] && grep -q "PASS: nested_virt" "$T/out"; then
			ok "nested-virt (this host nests; the guest saw: $(grep -m 1 'nested_virt: VMX' "$T/out" | tr -d '\r'))"
		else
			bad nested-virt "exit $rc, want 0 and PASS: nested_virt (this host's KVM nests): $(tail -n 2 "$T/out" | tr '\n' ' ')"
		fi
	else
		case_ nested-virt-refused 1 "--nested-virt: the host KVM cannot run nested guests" --nested-virt \
			--kernel build/guest/tests/exitcode.elf
	fi
else
	echo "SKIP nested-virt: /dev/kvm is not usable here (it runs where tier 2 runs on a KVM)"
	skip=$((skip + 1))
fi
NOKVM=1 case_ no-kvm 1 "cannot open /dev/kvm: No such file or directory" --kernel build/guest/tests/exitcode.elf
NOKVM=1 no_vm_cases "@no-kvm"
NOKVM=1 dump_ dump-dtb@no-kvm "$T/off.dtb"
NOKVM=1 dump_ dump-dtb-devices@no-kvm "$T/off-devices.dtb" "${DEVICES[@]}"
same_ dump-dtb-same "$T/kvm.dtb" "$T/off.dtb"
same_ dump-dtb-devices-same "$T/kvm-devices.dtb" "$T/off-devices.dtb"
echo "errors: $pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
