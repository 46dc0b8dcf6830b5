#!/bin/sh
# Tier 3 check "viommu": with the virtual VT-d on (--viommu flts) and intel_iommu=on,sm_on, the stock
# 6.12 kernel parses the DMAR table (host address width 48, one DRHD at 0xfed90000), runs the unit in
# scalable mode with queued invalidation, puts every PCI function in an IOMMU group whose default
# domain translates (DMA or DMA-FQ) with first-stage page tables, and logs no DMAR fault; interrupt
# remapping is enabled in x2APIC mode, the IOAPIC under the unit, and every device's interrupts work
# through it (the devices below answer).
# The machine has real DMA-capable endpoints, and each moves data through the vIOMMU: a virtio-blk disk
# (L2 reads the label the VMM's side wrote), the DMA engine (minivmm only; no driver, it just has to be
# grouped and translated), a virtio-rng (L2 reads /dev/hwrng) and a virtio-console (L2 writes a marker
# to hvc0 that must arrive in the VMM's output file) (tests/lab/l2/devs.sh).
# lab-budget: boots=1 seconds=0
. "$LAB_TESTS_DIR/lib.sh"

CPUS=2
MEM=512M
W=$LAB_WORK
MARK=LAB-HVC-$$-$(date +%s)

truncate -s 16M "$W/disk.img"
printf 'LAB-VIOMMU\n' | dd of="$W/disk.img" conv=notrunc 2>/dev/null
: >"$W/hvc0.out"
devs="disk:$W/disk.img rng console:$W/hvc0.out"
vmm_supports dmae && devs="$devs dmae"

l2_boot viommu $CPUS $MEM flts "intel_iommu=on,sm_on lab.do=devs lab.hvc=$MARK" "$devs"

l2_require_exit
l2_require_userspace viommu || ev_result

D=$LAB_WORK/viommu.dmesg
l2_fact viommu dmesg >"$D"
# Show the kernel's DMAR lines: they are the evidence for most of what follows.
ev_info "L2 dmesg, DMA remapping lines:"
grep -E 'DMAR|DRHD|iommu' "$D" | head -n 40 | sed 's/^/      | /'

# dmesg_has WHAT REGEX: one evidence line from L2's kernel log.
dmesg_has() {
	l=$(grep -E -m 1 "$2" "$D")
	if [ -n "$l" ]; then ev_ok "$1: '$l'"; else ev_fail "$1: no kernel message matches /$2/"; fi
}

# The ACPI DMAR table (drivers/iommu/intel/dmar.c: parse_dmar_table, dmar_parse_one_drhd).
dmesg_has "ACPI lists a DMAR table" 'ACPI: DMAR 0x'
dmesg_has "DMAR host address width 48" 'DMAR: Host address width 48$'
dmesg_has "DRHD at 0xfed90000" 'DMAR: DRHD base: 0x0*fed90000 '

# The remapping unit as the driver sees it (sysfs /sys/class/iommu/dmarN/intel-iommu/).
unit=$(l2_fact viommu iommu | head -n 1)
if [ -z "$unit" ]; then
	ev_fail "no VT-d unit under /sys/class/iommu: the driver did not take the DRHD"
	# The usual reason: a DRHD without INCLUDE_PCI_ALL (flags bit 0) whose device scope names no PCI
	# function that exists is ignored (drivers/iommu/intel/iommu.c init_no_remapping_devices; IOAPIC
	# scopes do not count, dmar.c dmar_alloc_dev_scope).
	flags=$(sed -n 's/.*DRHD base: 0x0*fed90000 flags: \(0x[0-9a-f]*\).*/\1/p' "$D" | head -n 1)
	if [ -n "$flags" ] && [ $((flags & 1)) = 0 ]; then
		ev_info "the DRHD has flags $flags (INCLUDE_PCI_ALL clear): Linux ignores a unit whose device" \
			"scope holds no present PCI endpoint or bridge; L2's PCI functions:" \
			"$(l2_fact viommu pci | awk '{ printf "%s%s class %s", (NR > 1 ? "; " : ""), $1, $4 }')"
	fi
	ev_info "$(grep -m 1 'reg_base_addr' "$D")"
	ev_result
fi
ev_info "unit: $unit"
name=${unit%% *}
addr=$(echo "$unit" | sed -n 's/.*address=\([0-9a-fx]*\).*/\1/p')
cap=$(echo "$unit" | sed -n 's/.*[^e]cap=\([0-9a-fx]*\).*/\1/p')
ecap=$(echo "$unit" | sed -n 's/.*ecap=\([0-9a-fx]*\).*/\1/p')
[ $((0x${addr#0x})) = $((0xfed90000)) ] && ev_ok "$name registers at $addr" ||
	ev_fail "$name registers at '$addr', want fed90000"
ecap=$((0x${ecap#0x}))
cap=$((0x${cap#0x}))
bit() { echo $((($1 >> $2) & 1)); }
# VT-d 4.1 section 11.4.3 (ECAP): QI bit 1, SMTS bit 43, SLTS bit 46, FLTS bit 47; 11.4.2 (CAP): CM bit 7.
ev_info "ECAP.QI=$(bit $ecap 1) ECAP.SMTS=$(bit $ecap 43) ECAP.FLTS=$(bit $ecap 47) ECAP.SLTS=$(bit $ecap 46)" \
	"CAP.CM=$(bit $cap 7)"

# Scalable mode: the driver runs a unit in scalable mode when intel_iommu_sm is set (sm_on) and the unit
# has ECAP.SMTS (iommu.h sm_supported()).
if grep -q 'Enable scalable mode if hardware supports' "$D" && ! grep -q 'Scalable mode is disallowed' "$D" &&
	[ "$(bit $ecap 43)" = 1 ]; then
	ev_ok "scalable mode: sm_on taken ('Enable scalable mode if hardware supports') and ECAP.SMTS=1"
else
	ev_fail "scalable mode not in use (sm_on message present: $(grep -c 'Enable scalable mode' "$D")," \
		"ECAP.SMTS=$(bit $ecap 43))"
fi
dmesg_has "queued invalidation" "DMAR: $name: Using Queued invalidation"
grep -q 'Using Register based invalidation' "$D" && ev_fail "the driver fell back to register-based invalidation"
# Interrupt remapping (on by default with the vIOMMU; with QEMU as the L2 VMM only with intremap).
if [ "${LAB_VMM:-minivmm}" = minivmm ]; then
	dmesg_has "interrupt remapping in x2APIC mode" 'DMAR-IR: Enabled IRQ remapping in x2apic mode'
	dmesg_has "the IOAPIC under the remapping unit" 'DMAR-IR: IOAPIC id 0 under DRHD base  *0x0*fed90000'
	dmesg_has "x2APIC enabled" 'x2apic enabled$'
	grep -q 'DMAR-IR: .*[Ff]ault\|INTR-REMAP.*fault' "$D" && ev_fail "interrupt remapping faults in L2's log"
fi

# Every PCI function is in a group with a translating default domain.
l2_fact viommu pci >"$LAB_WORK/viommu.pci"
if [ ! -s "$LAB_WORK/viommu.pci" ]; then
	ev_fail "L2 sees no PCI function"
else
	bad=$(grep -v -E ' group=[0-9]+ type=(DMA|DMA-FQ)( |$)' "$LAB_WORK/viommu.pci")
	if [ -z "$bad" ]; then
		ev_ok "every PCI function is in an IOMMU group with a translated default domain:" \
			"$(awk '{ sub("group=", "", $5); sub("type=", "", $6); printf "%s%s group %s %s", (NR > 1 ? "; " : ""), $1, $5, $6 }' "$LAB_WORK/viommu.pci")"
	else
		ev_fail "PCI functions without a translated default domain: $(echo "$bad" | tr '\n' ';')"
	fi
fi

# The DMA-capable endpoints asked for: present, grouped and translated, driven, and moving data.
# endpoint NAME VENDOR DEVICE DRIVER: the function's line, judged.
endpoint() {
	l=$(grep " $2 $3 " "$LAB_WORK/viommu.pci" | head -n 1)
	case $l in
	"") ev_fail "$1 ($2:$3): L2 sees no such PCI function" ;;
	*" group=none "*) ev_fail "$1: not in an IOMMU group: $l" ;;
	*" type=DMA driver=$4" | *" type=DMA-FQ driver=$4") ev_ok "$1: $l" ;;
	*) ev_fail "$1: want a DMA or DMA-FQ default domain and driver $4: $l" ;;
	esac
}
endpoint virtio-blk 0x1af4 0x1042 virtio-pci
endpoint virtio-rng 0x1af4 0x1044 virtio-pci
endpoint virtio-console 0x1af4 0x1043 virtio-pci
if vmm_supports dmae; then
	endpoint "DMA engine" 0x1b36 0x0011 none
else
	ev_info "$LAB_VMM has no DMA engine"
fi
ev_info "virtio devices: $(l2_fact viommu virtio | tr '\n' ';')"
d=$(l2_fact viommu disk | head -n 1)
case $d in
*" ro=0 "*"label=LAB-VIOMMU") ev_ok "virtio-blk read through the vIOMMU: $d" ;;
*) ev_fail "the disk's first sector did not arrive: '$d' (want label=LAB-VIOMMU)" ;;
esac
r=$(l2_fact viommu hwrng)
case $r in
"current=virtio_rng."*" bytes=64") ev_ok "virtio-rng through the vIOMMU: /dev/hwrng $r" ;;
*) ev_fail "virtio-rng: '$r' (want current=virtio_rng.N bytes=64)" ;;
esac
if grep -q "^$MARK" "$W/hvc0.out"; then
	ev_ok "virtio-console through the vIOMMU: L2 wrote '$MARK' to hvc0 and it reached the VMM's file"
else
	ev_fail "virtio-console: '$MARK' did not reach the VMM's file (L2: $(l2_fact viommu hvc0);" \
		"file: '$(head -c 80 "$W/hvc0.out" | tr -d '\r\n')')"
fi

# First-stage tables. The 6.12 driver allocates default DMA domains with alloc_domain(), which sets
# use_first_level = first_level_by_default(IOMMU_DOMAIN_DMA): true whenever scalable mode is in use and
# the units have ECAP.FLTS (drivers/iommu/intel/iommu.c). A kernel with CONFIG_INTEL_IOMMU_DEBUGFS
# shows the PASID-table entries directly: PGTT (bits 8:6 of the first quadword, VT-d 9.6) = 001b.
if l2_has viommu dmar_ts_absent; then
	ev_info "debugfs iommu/intel/dmar_translation_struct is not in this kernel (CONFIG_INTEL_IOMMU_DEBUGFS" \
		"unset): first stage follows from scalable mode + ECAP.FLTS"
	if [ "$(bit $ecap 47)" = 1 ] && [ "$(bit $ecap 43)" = 1 ]; then
		ev_ok "first-stage translation: scalable mode with ECAP.FLTS=1 (SLTS=$(bit $ecap 46)) makes" \
			"first_level_by_default(DMA) true for every DMA domain"
	else
		ev_fail "first-stage translation impossible: ECAP.FLTS=$(bit $ecap 47) ECAP.SMTS=$(bit $ecap 43)"
	fi
	# With caching mode the driver disallows batching (flush queues) only for second-stage DMA domains.
	if [ "$(bit $cap 7)" = 1 ]; then
		if grep -q 'IOMMU batching disallowed due to virtualization' "$D"; then
			ev_fail "'IOMMU batching disallowed due to virtualization': the DMA domains use second stage"
		else
			ev_ok "CAP.CM=1 without 'IOMMU batching disallowed': the DMA domains are first stage"
		fi
	fi
else
	l2_fact viommu dmar_ts >"$LAB_WORK/viommu.ts"
	# Line: BDF root_hi:root_lo ctx_hi:ctx_lo PASID val2:val1:val0
	awk '{ split($5, v, ":"); print $1, $4, v[3] }' "$LAB_WORK/viommu.ts" | while read -r bdf pasid v0; do
		pgtt=$(((v0 >> 6) & 7))
		echo "$bdf pasid $pasid PGTT $pgtt"
	done >"$LAB_WORK/viommu.pgtt"
	if [ -s "$LAB_WORK/viommu.pgtt" ] && ! grep -v -q 'PGTT 1$' "$LAB_WORK/viommu.pgtt"; then
		ev_ok "PASID-table entries are first-stage (PGTT=1): $(tr '\n' ';' <"$LAB_WORK/viommu.pgtt")"
	else
		ev_fail "PASID-table entries not all first-stage: $(tr '\n' ';' <"$LAB_WORK/viommu.pgtt")"
	fi
fi

# No faults (dmar.c dmar_fault_do_one, qi_check_fault).
faults=$(grep -E 'DMAR: \[(DMA|INTR-REMAP|PASID)|DRHD: handling fault|fault reason|Invalidation (Time-out|Queue|Completion) Error' "$D")
if [ -z "$faults" ]; then
	ev_ok "no DMAR fault or invalidation error in L2's kernel log"
else
	ev_fail "DMAR faults: $(echo "$faults" | head -n 5 | tr '\n' ';')"
fi
grep -E 'virtio-(rng|console|blk).*stats' "$W/viommu.stderr" | sed 's/^/    info: /'
rm -f "$W/disk.img"
ev_result
