#!/bin/sh
# Tier 1 (no KVM, no lab): self-test of the tier-3 checks' judgement. A fake VMM replays canned L2
# consoles, good ones and ones with one thing wrong, through tests/lab/checks/*.sh: each good console
# must pass and each bad one must fail, so every tier-3 check is shown able to fail.
#
#   sh tests/lab/selftest.sh       (scripts/lab.sh selftest)   ends with "N passed, N failed"
LAB_TESTS_DIR=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/lab-selftest.XXXXXX")
trap 'rm -rf "$T"' EXIT

# The fake VMM pretends to be QEMU (whose expected PCI functions lib.sh knows without asking it).
cat >"$T/fake-vmm" <<'EOF'
#!/bin/sh
[ "$FAKE_RC" = hang ] && exec sleep 1000
cat "$FAKE_CONSOLE"
exit "$FAKE_RC"
EOF
chmod +x "$T/fake-vmm"
export LAB_TESTS_DIR LAB_VMM=qemu LAB_QEMU="$T/fake-vmm" LAB_VMLINUZ=/dev/null LAB_L2_INITRD=/dev/null
export LAB_L2_TIMEOUT=2 LAB_L2_TRIES=2

# A console as the L2 /init prints it (CRLF, as a 16550 console delivers it), for q35's four functions.
good_boot() {
	printf '%s\r\n' '[    0.000000] Linux version 6.12.0' '@@ L2-USERSPACE uptime=3.1' '@@ cpus 2' \
		'@@ cpu_online 0-1' '@@ memtotal_kb 475172' '@@ e820_ram_bytes 536345600' \
		"@@ pci 0000:00:00.0 0x8086 0x29c0 0x060000 group=$1" "@@ pci 0000:00:1f.0 0x8086 0x2918 0x060100 group=$2" \
		"@@ pci 0000:00:1f.2 0x8086 0x2922 0x010601 group=$2" "@@ pci 0000:00:1f.3 0x8086 0x2930 0x0c0500 group=$2"
}
good_viommu_tail() {
	printf '%s\r\n' '@@ iommu dmar0 address=fed90000 version=1:0 cap=1d2008c222f0606 ecap=880000f00f5a domains_used=4' \
		'@@ dmar_ts_absent' \
		'@@ dmesg [ 0.040596] ACPI: DMAR 0x000000001FFE2313 000068 (v01 BOCHS BXPC 00000001 BXPC 00000001)' \
		'@@ dmesg [ 0.129824] DMAR: Enable scalable mode if hardware supports' \
		'@@ dmesg [ 0.310914] DMAR: Host address width 48' \
		'@@ dmesg [ 0.311107] DMAR: DRHD base: 0x000000fed90000 flags: 0x0' \
		'@@ dmesg [ 0.312334] DMAR: dmar0: reg_base_addr fed90000 ver 1:0 cap 1d2008c222f0606 ecap 880000f00f5a' \
		'@@ dmesg [ 2.767597] DMAR: dmar0: Using Queued invalidation'
}
good_boot 'none type=none' 'none type=none' >"$T/boot.ok"
printf '@@ L2-END uptime=3.5\r\n' >>"$T/boot.ok"
{ good_boot '0 type=DMA-FQ' '1 type=DMA-FQ'; good_viommu_tail; printf '@@ L2-END uptime=3.5\r\n'; } >"$T/viommu.ok"

pass=0 fail=0
# case NAME CHECK WANT(pass|fail) RC CONSOLE-FILTER: run CHECK on the good console through FILTER.
case_() {
	name=$1 check=$2 want=$3
	export FAKE_RC=$4 FAKE_CONSOLE="$T/$name.console"
	sed "$5" "$T/$check.ok" >"$FAKE_CONSOLE"
	export LAB_WORK="$T/work-$name"
	mkdir -p "$LAB_WORK"
	sh "$LAB_TESTS_DIR"/checks/[0-9]*-"$check".sh >"$T/$name.out" 2>&1
	rc=$?
	got=pass
	[ $rc = 0 ] || got=fail
	if [ $got = "$want" ]; then
		echo "ok:   $check/$name ($want$([ $got = fail ] && echo ": $(grep -m 1 'FAIL:' "$T/$name.out" | sed 's/^ *FAIL: //' | cut -c1-90)"))"
		pass=$((pass + 1))
	else
		echo "FAIL: $check/$name: want $want, got $got"
		sed 's/^/      /' "$T/$name.out"
		fail=$((fail + 1))
	fi
}

case_ good boot pass 0 ''
case_ exit-status boot fail 1 ''
case_ reset boot fail 3 ''
case_ hang boot fail hang ''
case_ no-userspace boot fail 0 '/^@@/d'
case_ no-report-end boot fail 0 '/L2-END/d'
case_ one-cpu boot fail 0 's/^@@ cpus 2/@@ cpus 1/'
case_ cpu-offline boot fail 0 's/^@@ cpu_online 0-1/@@ cpu_online 0/'
case_ ram-short boot fail 0 's/^@@ e820_ram_bytes .*/@@ e820_ram_bytes 268435456\r/'
case_ memtotal-big boot fail 0 's/^@@ memtotal_kb .*/@@ memtotal_kb 600000\r/'
case_ pci-missing boot fail 0 '/1f\.3/d'
case_ pci-class boot fail 0 's/0x010601/0x010802/'
case_ good viommu pass 0 ''
case_ no-dmar viommu fail 0 '/ACPI: DMAR/d'
case_ haw-39 viommu fail 0 's/Host address width 48/Host address width 39/'
case_ drhd-elsewhere viommu fail 0 's/DRHD base: 0x000000fed90000/DRHD base: 0x000000fed91000/'
case_ no-unit viommu fail 0 '/^@@ iommu /d'
case_ no-smts viommu fail 0 's/ecap=880000f00f5a/ecap=800000f00f5a/'
case_ sm-off viommu fail 0 's/Enable scalable mode if hardware supports/Scalable mode is disallowed/'
case_ no-qi viommu fail 0 's/Using Queued invalidation/Using Register based invalidation/'
case_ no-flts viommu fail 0 's/ecap=880000f00f5a/ecap=080000f00f5a/'
case_ identity viommu fail 0 's/type=DMA-FQ/type=identity/'
case_ no-group viommu fail 0 '0,/group=0 type=DMA-FQ/s//group=none type=none/'
case_ cm-second-stage viommu fail 0 's/cap=1d2008c222f0606/cap=1d2008c222f0686/; $a @@ dmesg DMAR: IOMMU batching disallowed due to virtualization\r'
case_ pgtt-second viommu fail 0 's/^@@ dmar_ts_absent.*/@@ dmar_ts 00:00.0\t0x0:0x1\t0x0:0x2\t0     \t0x0:0x0:0x0000000000000089\r/'
case_ pgtt-first viommu pass 0 's/^@@ dmar_ts_absent.*/@@ dmar_ts 00:00.0\t0x0:0x1\t0x0:0x2\t0     \t0x0:0x0:0x0000000000000049\r/'
case_ fault viommu fail 0 '$a @@ dmesg DMAR: [DMA Read NO_PASID] Request device [00:1f.2] fault addr 0x1000 [fault reason 0x71] SM: Present bit in first-level paging entry is clear\r'

echo "$pass passed, $fail failed"
[ $fail = 0 ]
