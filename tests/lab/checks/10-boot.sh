#!/bin/sh
# Tier 3 check "boot": the VMM boots the stock Debian kernel with the busybox initramfs to userspace
# (no vIOMMU); the guest sees the vCPUs, the memory and the PCI functions the VMM was asked for; the
# guest's poweroff ends the VMM with status 0.
. "$LAB_TESTS_DIR/lib.sh"

CPUS=2
MEM=512M
VIOMMU=off
APPEND=""

l2_boot boot $CPUS $MEM $VIOMMU "$APPEND"

if [ "$L2_RC" = 0 ]; then
	ev_ok "poweroff ended $LAB_VMM with exit status 0 (boot to poweroff ${L2_SECS} s)"
else
	ev_fail "$LAB_VMM ended with exit status $L2_RC, want 0 (124: hung every boot, 125: guest could not" \
		"power off, 126: guest powered off but the VMM did not exit)"
fi
l2_require_userspace boot || ev_result

# vCPUs: every one the VMM was asked for is up.
n=$(l2_fact boot cpus)
online=$(l2_fact boot cpu_online)
if [ "$n" = $CPUS ] && [ "$online" = "0-$((CPUS - 1))" ]; then
	ev_ok "L2 sees $n processors, online $online (asked for --cpus $CPUS)"
else
	ev_fail "L2 sees '$n' processors, online '$online'; asked for --cpus $CPUS"
fi

# Memory: the firmware map holds the RAM asked for, less the legacy holes below 1 MiB (at most 1 MiB)
# and whatever the VMM reserves at the top (allow 1 MiB more); MemTotal is that less what the kernel
# keeps for itself (its image, page structures: well under a quarter at this size).
want=$(lab_bytes $MEM)
ram=$(l2_fact boot e820_ram_bytes)
kb=$(l2_fact boot memtotal_kb)
if [ -n "$ram" ] && [ "$ram" -le "$want" ] && [ "$ram" -ge $((want - (2 << 20))) ]; then
	ev_ok "E820 System RAM $ram bytes (asked for --mem $MEM = $want bytes; $(((want - ram) >> 10)) KiB in holes)"
else
	ev_fail "E820 System RAM '$ram' bytes, want $((want - (2 << 20))) to $want (--mem $MEM)"
fi
if [ -n "$kb" ] && [ $((kb * 1024)) -le "$want" ] && [ $((kb * 1024)) -ge $((want / 4 * 3)) ]; then
	ev_ok "MemTotal $kb kB"
else
	ev_fail "MemTotal '$kb' kB, want 3/4 to all of $want bytes"
fi

# PCI: the functions the VMM says it built, and no others, with the same IDs and classes.
l2_fact boot pci | awk '{ print $1, $2, $3, $4 }' | sort >"$LAB_WORK/boot.pci-seen"
if vmm_expected_pci $CPUS $MEM $VIOMMU "$L2_CMDLINE" \
	>"$LAB_WORK/boot.pci-want" 2>"$LAB_WORK/boot.pci-why"; then
	if [ ! -s "$LAB_WORK/boot.pci-want" ] && [ ! -s "$LAB_WORK/boot.pci-seen" ]; then
		ev_ok "no PCI function: $LAB_VMM built none and L2 sees none"
	elif cmp -s "$LAB_WORK/boot.pci-want" "$LAB_WORK/boot.pci-seen"; then
		ev_ok "L2 sees the $(wc -l <"$LAB_WORK/boot.pci-seen") PCI functions $LAB_VMM built:" \
			"$(awk '{ printf "%s%s %s:%s class %s", (NR > 1 ? "; " : ""), $1, $2, $3, $4 }' "$LAB_WORK/boot.pci-seen")"
	else
		ev_fail "the PCI functions L2 sees differ from what $LAB_VMM built (- built, + seen):"
		diff "$LAB_WORK/boot.pci-want" "$LAB_WORK/boot.pci-seen" | grep '^[-+][^-+]' | sed 's/^/      /'
	fi
else
	ev_fail "cannot tell which PCI functions $LAB_VMM built: $(cat "$LAB_WORK/boot.pci-why")"
	ev_info "L2 sees: $(tr '\n' ';' <"$LAB_WORK/boot.pci-seen")"
fi

ev_result
