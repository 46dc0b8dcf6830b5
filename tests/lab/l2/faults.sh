# Tier 3, L2 task "faults" (sourced by tests/lab/l2-init.sh; lab.do=faults): DMA the guest gets wrong on
# purpose. Prints facts only; tests/lab/checks/50-faults.sh judges them.
#
# 1. The DMA engine under VFIO (legacy container/group API, type1 backend: Debian's kernel has no
#    iommufd): a good copy, a copy into a read-only mapping, a copy from an unmapped IOVA, a good copy
#    again, then a 64 MiB fill abandoned by its user (the process exits with the DMA running), then the
#    engine's registers through sysfs once vfio-pci has let go of it (dmaetool, tests/lab/l2/dmaetool.c).
# 2. virtio-blk: the virtio-pci driver unbound from the disk while a dd reads it, then bound again, and
#    the disk's label read once more.

# The DMA engine: vendor 0x1b36, device 0x0011 (devices/dma-engine.h).
e=""
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor" 2>/dev/null) $(cat "$d/device" 2>/dev/null)" = "0x1b36 0x0011" ] && e=$(basename "$d")
done
if [ -z "$e" ]; then
	say dmae absent
else
	g=$(basename "$(readlink "/sys/bus/pci/devices/$e/iommu_group")")
	# No interrupt remapping in the vIOMMU (ECAP.IR = 0): type1 refuses such a platform unless told to
	# (the tool polls STATUS and never enables MSI-X).
	modprobe vfio_iommu_type1 allow_unsafe_interrupts=1 2>/tmp/mod.err && modprobe vfio-pci 2>>/tmp/mod.err ||
		say dmae modprobe-failed $(tr '\n' ' ' </tmp/mod.err)
	echo vfio-pci >"/sys/bus/pci/devices/$e/driver_override"
	echo "$e" >/sys/bus/pci/drivers_probe 2>/dev/null
	dr=none
	[ -e "/sys/bus/pci/devices/$e/driver" ] && dr=$(basename "$(readlink "/sys/bus/pci/devices/$e/driver")")
	say dmae-bind bdf=$e group=$g driver=$dr vfio_dev=$([ -c /dev/vfio/$g ] && echo /dev/vfio/$g || echo none)
	dmaetool vfio "$e" "/dev/vfio/$g" copy ro-write unmapped-read copy
	say dmae-tool rc=$?
	dmaetool vfio "$e" "/dev/vfio/$g" abandon
	say dmae-tool rc=$?
	sleep 1
	echo "$e" >/sys/bus/pci/drivers/vfio-pci/unbind
	echo >"/sys/bus/pci/devices/$e/driver_override"
	dmaetool regs "$e"
	say dmae-tool rc=$?
fi

# virtio-blk: the virtio-pci driver goes away under a running dd.
disk=""
for b in /sys/block/vd*; do
	[ -e "$b" ] && disk=$(basename "$b") && break
done
if [ -z "$disk" ]; then
	say blk-unbind absent
else
	p=$(pci_of "/sys/block/$disk/device")
	dd if=/dev/$disk of=/dev/null bs=1M iflag=direct 2>/tmp/dd.err &
	ddpid=$!
	sleep 1
	running=no
	kill -0 $ddpid 2>/dev/null && running=yes
	t0=$(now)
	echo "$p" >/sys/bus/pci/drivers/virtio-pci/unbind
	t1=$(now)
	wait $ddpid
	ddrc=$?
	say blk-unbind disk=$disk pci=$p dd_running=$running unbind_secs=$(awk -v a=$t0 -v b=$t1 'BEGIN { print b - a }') \
		dd_rc=$ddrc dd_err=$(head -c 80 /tmp/dd.err | tr ' \n' '_ ') \
		disk_after=$([ -e /sys/block/$disk ] && echo present || echo gone)
	echo "$p" >/sys/bus/pci/drivers/virtio-pci/bind
	# The disk comes back as a new virtio device; its driver probes it asynchronously.
	n=""
	for i in $(seq 50); do
		for b in /sys/block/vd*; do
			[ -e "$b" ] && [ "$(pci_of "$b/device")" = "$p" ] && n=$(basename "$b")
		done
		[ -n "$n" ] && break
		sleep 0.1
	done
	if [ -n "$n" ]; then
		l=$(dd if=/dev/$n bs=512 count=1 iflag=direct 2>/dev/null | head -c 32 | tr -c 'A-Za-z0-9=._-' ' ' | sed 's/ .*//')
		s=$(dd if=/dev/$n bs=1M count=8 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
		say blk-rebind disk=$n pci=$p label=${l:-none} md5_8m=$s
	else
		say blk-rebind disk=none pci=$p
	fi
fi
