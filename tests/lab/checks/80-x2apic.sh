#!/bin/sh
# Tier 3 check "x2apic": more vCPUs than the xAPIC machine takes (64), through interrupt remapping:
# with --viommu flts (interrupt remapping on) and --cpus 72, the stock kernel enables IRQ remapping in
# x2APIC mode, brings every vCPU online and reaches userspace, and virtio-blk's interrupts work. 72, not
# past 255: L2 runs on L1's two vCPUs under TCG, where each vCPU costs seconds of boot; APIC IDs from 255
# on (x2APIC MADT entries) are checked by iasl and the MADT tests in tier 1.
# lab-budget: boots=1 seconds=120
. "$LAB_TESTS_DIR/lib.sh"

CPUS=${LAB_X2APIC_CPUS:-72}
MEM=768M
W=$LAB_WORK

# With LAB_VMM=qemu (the reference run) this check has nothing to run: it is about minivmm's remapping.
[ "${LAB_VMM:-minivmm}" = minivmm ] || exit 77
truncate -s 8M "$W/x2apic.img"
printf 'LAB-X2APIC\n' | dd of="$W/x2apic.img" conv=notrunc 2>/dev/null
L2_TIMEOUT=240 l2_boot x2apic $CPUS $MEM flts "intel_iommu=on,sm_on lab.do=devs" "disk:$W/x2apic.img"
l2_require_userspace x2apic || ev_result
n=$(l2_fact x2apic cpus)
online=$(l2_fact x2apic cpu_online)
if [ "$n" = "$CPUS" ] && [ "$online" = "0-$((CPUS - 1))" ]; then
	ev_ok "L2 sees $n processors, online $online (--cpus $CPUS, boot ${L2_SECS} s)"
else
	ev_fail "L2 sees '$n' processors, online '$online'; asked for --cpus $CPUS"
fi
D=$W/x2apic.dmesg
l2_fact x2apic dmesg >"$D"
if grep -q 'DMAR-IR: Enabled IRQ remapping in x2apic mode' "$D" && grep -q 'x2apic enabled$' "$D"; then
	ev_ok "interrupt remapping in x2APIC mode, x2APIC enabled"
else
	ev_fail "no interrupt remapping in x2APIC mode: $(grep -m 2 -i 'x2apic\|DMAR-IR' "$D" | tr '\n' ';')"
fi
d=$(l2_fact x2apic disk | head -n 1)
case " $d " in
*" label=LAB-X2APIC "*) ev_ok "virtio-blk read with remapped MSI-X: $d" ;;
*) ev_fail "virtio-blk did not read its label: '$d'" ;;
esac
ev_result
