#!/bin/sh
# Tier 3 check "viommu": with the virtual VT-d on (--viommu flts) and intel_iommu=on,sm_on, the stock
# 6.12 kernel parses the DMAR table (host address width 48, one DRHD at 0xfed90000), runs the unit in
# scalable mode with queued invalidation, puts every PCI function in an IOMMU group whose default
# domain translates (DMA or DMA-FQ) with first-stage page tables, and logs no DMAR fault.
. "$LAB_TESTS_DIR/lib.sh"

CPUS=2
MEM=512M

l2_boot viommu $CPUS $MEM flts "intel_iommu=on,sm_on"

if [ "$L2_RC" = 0 ]; then
	ev_ok "poweroff ended $LAB_VMM with exit status 0 (boot to poweroff ${L2_SECS} s)"
else
	ev_fail "$LAB_VMM ended with exit status $L2_RC, want 0"
fi
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

# Every PCI function is in a group with a translating default domain.
l2_fact viommu pci >"$LAB_WORK/viommu.pci"
if [ ! -s "$LAB_WORK/viommu.pci" ]; then
	ev_fail "L2 sees no PCI function"
else
	bad=$(grep -v -E ' group=[0-9]+ type=(DMA|DMA-FQ)$' "$LAB_WORK/viommu.pci")
	if [ -z "$bad" ]; then
		ev_ok "every PCI function is in an IOMMU group with a translated default domain:" \
			"$(awk '{ sub("group=", "", $5); sub("type=", "", $6); printf "%s%s group %s %s", (NR > 1 ? "; " : ""), $1, $5, $6 }' "$LAB_WORK/viommu.pci")"
	else
		ev_fail "PCI functions without a translated default domain: $(echo "$bad" | tr '\n' ';')"
	fi
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

ev_result
