#!/bin/sh
# Tier 3: /init of the L2 guest (the stock Debian kernel booted by the VMM under test inside L1).
#
# It judges nothing: it prints what the guest sees as "@@ KEY VALUE..." lines on the serial console and
# powers off. The checks in tests/lab/checks/ run on the VMM's side and compare these facts with what
# the VMM was asked for, so one L2 image serves every check. Keep the output short: under nested
# emulation every byte on the 16550A is several exits.
#
# Kernel parameters it reads: lab.do=TASK,TASK runs /lab/l2/TASK.sh (tests/lab/l2/) after the common
# facts and before the kernel log is dumped, so faults a task provokes are in the dump; the tasks read
# their own lab.* parameters.
/bin/busybox --install -s /bin
export PATH=/lab/bin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
# From here on only this script writes to the console: kernel messages would break "@@" lines.
echo 1 >/proc/sys/kernel/printk

say() { echo "@@ $*"; }
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^lab\.$1=//p" | tail -n 1; }
now() { cut -d' ' -f1 /proc/uptime; }
# The PCI function (BDF) a sysfs device hangs off.
pci_of() { basename "$(dirname "$(readlink -f "$1")")"; }

say L2-USERSPACE uptime=$(now)
say kernel $(uname -r)
say cmdline $(cat /proc/cmdline)
say cpus $(grep -c '^processor' /proc/cpuinfo)
say cpu_online $(cat /sys/devices/system/cpu/online)
say memtotal_kb $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)

# RAM the firmware map (the VMM's E820 table) reports, in bytes.
ram=0
for e in /sys/firmware/memmap/*; do
	[ "$(cat "$e/type" 2>/dev/null)" = "System RAM" ] || continue
	s=$(cat "$e/start"); t=$(cat "$e/end")
	ram=$((ram + t - s + 1))
done
say e820_ram_bytes $ram

# virtio drivers: virtio_pci and virtio_console are built into Debian's kernel, virtio_blk, virtio_net
# and virtio_rng are modules (in this initramfs). Load the one each virtio device needs (device IDs:
# virtio 1.2 section 5) and say which driver took it.
for v in /sys/bus/virtio/devices/*; do
	[ -e "$v/device" ] || continue
	case $(cat "$v/device") in
	0x0001) modprobe virtio_net ;;
	0x0002) modprobe virtio_blk ;;
	0x0004) modprobe virtio_rng ;;
	esac
done
for v in /sys/bus/virtio/devices/*; do
	[ -e "$v/device" ] || continue
	dr=none
	[ -e "$v/driver" ] && dr=$(basename "$(readlink "$v/driver")")
	say virtio $(basename "$v") id=$(cat "$v/device") pci=$(pci_of "$v") driver=$dr
done

# PCI drivers that are modules (in this initramfs) for the functions the checks pass through: an NVMe
# controller (class 0x010802) gets nvme. Short command timeouts (nvme_core's defaults are 60 s for admin
# and 30 s for I/O commands): a controller whose completions never arrive shows within the L2 watchdog.
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/class" 2>/dev/null)" = 0x010802 ] || continue
	modprobe nvme_core admin_timeout=15 io_timeout=15 && modprobe nvme
	break
done
# A NIC passed through (tests/lab/checks/65-nic.sh): the 82576's physical function (8086:10c9) gets igb,
# its SR-IOV virtual function (8086:10ca) igbvf.
for d in /sys/bus/pci/devices/*; do
	case "$(cat "$d/vendor" 2>/dev/null):$(cat "$d/device" 2>/dev/null)" in
	0x8086:0x10c9) modprobe igb ;;
	0x8086:0x10ca) modprobe igbvf ;;
	esac
done

# One line per PCI function: BDF vendor device class iommu-group default-domain-type driver.
for d in /sys/bus/pci/devices/*; do
	[ -e "$d" ] || continue
	g=none; t=none; dr=none
	if [ -e "$d/iommu_group" ]; then
		g=$(basename "$(readlink "$d/iommu_group")")
		t=$(cat "$d/iommu_group/type" 2>/dev/null || echo unknown)
	fi
	[ -e "$d/driver" ] && dr=$(basename "$(readlink "$d/driver")")
	say pci $(basename "$d") $(cat "$d/vendor") $(cat "$d/device") $(cat "$d/class") group=$g type=$t driver=$dr
done
say pci_count $(ls /sys/bus/pci/devices | wc -l)

# Disks: size in 512-byte sectors, read-only flag, the PCI function, and the label the lab writes at
# the start of each image it makes ("LAB-..."): reading it is a DMA by the disk.
for b in /sys/block/vd*; do
	[ -e "$b" ] || continue
	n=$(basename "$b")
	l=$(dd if=/dev/$n bs=512 count=1 2>/dev/null | head -c 32 | tr -c 'A-Za-z0-9=._-' ' ' | sed 's/ .*//')
	say disk $n sectors=$(cat "$b/size") ro=$(cat "$b/ro") pci=$(pci_of "$b/device") label=${l:-none}
done

# VT-d units as the intel-iommu driver registered them (drivers/iommu/intel/iommu.c, *_show()).
for u in /sys/class/iommu/*; do
	[ -d "$u/intel-iommu" ] || continue
	i=$u/intel-iommu
	say iommu $(basename "$u") address=$(cat $i/address) version=$(cat $i/version) \
		cap=$(cat $i/cap) ecap=$(cat $i/ecap) domains_used=$(cat $i/domains_used)
done

# The PASID-table entries the driver programmed (needs CONFIG_INTEL_IOMMU_DEBUGFS: Debian's 6.12 does
# not have it, so this is usually absent and the check says so).
ts=/sys/kernel/debug/iommu/intel/dmar_translation_struct
if [ -r $ts ]; then
	grep -E '^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]' $ts | while read -r l; do say dmar_ts $l; done
else
	say dmar_ts_absent
fi

# The tasks the check asked for.
for t in $(arg do | tr ',' ' '); do
	if [ -r "/lab/l2/$t.sh" ]; then
		say TASK-BEGIN $t uptime=$(now)
		. "/lab/l2/$t.sh"
		say TASK-END $t uptime=$(now)
	else
		say TASK-MISSING $t
	fi
done

# Everything the kernel said about DMA remapping and IOMMUs (faults included).
dmesg | grep -iE 'DMAR|iommu|DRHD|remapping|ACPI: DMAR|x2apic' | while read -r l; do say dmesg $l; done

say L2-END uptime=$(now)
poweroff -f
# poweroff -f only returns if the kernel could not power off (no ACPI S5): say so, then stop here.
say L2-POWEROFF-FAILED
sleep 100000
