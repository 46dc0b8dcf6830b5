# Tier 3, L2 task "nest" (sourced by tests/lab/l2-init.sh; lab.do=nest): minivmm inside the guest asks,
# as a launch with --vfio would, whether the DMA engine can be passed through: `minivmm probe` opens
# /dev/iommu and the VFIO cdev, binds, allocates the nesting parent and runs the vIOMMU's host checks
# on what L2's kernel reports of L1's minivmm vIOMMU (IOMMU_GET_HW_INFO), maps its guest RAM, and undoes
# it all. It needs no KVM, so this runs where nested virtualization does not. Then dmaetool drives the
# engine through iommufd itself: DMA through the second-stage tables L2's kernel writes into L1's unit.
# lab.nest=MODE,MODE...: the --viommu modes of the inner probes, ':' for ',' (flts:fs1gp=off).
# Prints facts only; tests/lab/checks/70-nesting.sh judges them.
# With --nested-virt the guest's own KVM: SVM in its CPU flags, kvm_amd loads, /dev/kvm appears.
say nest-kvm svm=$(grep -c -w svm /proc/cpuinfo) vmx=$(grep -c -w vmx /proc/cpuinfo) \
	modprobe=$(modprobe kvm_amd 2>/tmp/kvm.err && echo ok || echo "failed:$(head -c 80 /tmp/kvm.err | tr ' ' _)") \
	dev_kvm=$([ -c /dev/kvm ] && echo yes || echo no)
# minivmm inside minivmm: the inner one runs its embedded default guest (L3) on L2's KVM, within 40 s.
if [ -c /dev/kvm ] && [ "$(arg l3)" = 1 ]; then
	t0=$(now)
	timeout 40 minivmm >/tmp/l3.out 2>&1
	say nest-l3 rc=$? secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') lines=$(grep -c . /tmp/l3.out)
	tail -n 3 /tmp/l3.out | sed 's/^/@@ nest-l3-out /'
fi
e=""
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor" 2>/dev/null) $(cat "$d/device" 2>/dev/null)" = "0x1b36 0x0011" ] && e=$(basename "$d")
done
if [ -z "$e" ]; then
	say nest-dmae absent
else
	# The lab's iommufd and VFIO with the device cdev (scripts/lab/modules.sh), as in L1.
	if modprobe iommufd 2>/tmp/mod.err && modprobe vfio-pci 2>>/tmp/mod.err; then
		say nest-modules ok
	else
		say nest-modules failed $(tr '\n' ' ' </tmp/mod.err)
	fi
	echo vfio-pci >"/sys/bus/pci/devices/$e/driver_override"
	echo "$e" >/sys/bus/pci/drivers_probe 2>/dev/null
	dr=none
	[ -e "/sys/bus/pci/devices/$e/driver" ] && dr=$(basename "$(readlink "/sys/bus/pci/devices/$e/driver")")
	say nest-bind bdf=$e driver=$dr cdev=$(ls "/sys/bus/pci/devices/$e/vfio-dev" 2>/dev/null | head -n 1) \
		iommu=$([ -c /dev/iommu ] && echo yes || echo no)
	for m in $(arg nest | tr ',' ' '); do
		m=$(echo "$m" | tr ':' ',')
		minivmm probe -v --mem 32M --viommu "$m" "$e" >/tmp/probe.out 2>/tmp/probe.err
		say nest-probe mode=$m rc=$?
		sed "s/^/@@ nest-probe-out $m /" /tmp/probe.out | head -n 8
		sed "s/^/@@ nest-probe-log $m /" /tmp/probe.err | head -n 6
	done
	# Then a plain iommufd user of the engine: its IOAS is a second-stage domain of L2's VT-d driver in
	# L1's unit; two good copies around one from an unmapped IOVA (dmaetool, tests/lab/l2/dmaetool.c).
	c=$(ls "/sys/bus/pci/devices/$e/vfio-dev" 2>/dev/null | head -n 1)
	if [ -n "$c" ] && [ -c "/dev/vfio/devices/$c" ]; then
		dmaetool iommufd "$e" "/dev/vfio/devices/$c" copy unmapped-read copy
		say nest-dmae-tool rc=$?
	fi
	# A launch, not a probe: the inner minivmm passes the engine through to its default guest (L3) with
	# its own vIOMMU (flts), nested on L2's kernel: the guest must list the engine on its PCI bus.
	if [ -c /dev/kvm ] && [ "$(arg l3)" = 1 ]; then
		timeout 60 minivmm -v --vfio "$e" --viommu flts >/tmp/l3v.out 2>&1
		say nest-l3-vfio rc=$? lines=$(grep -c . /tmp/l3v.out)
		grep -E '1b36:0011|vfio|error' /tmp/l3v.out | head -n 8 | sed 's/^/@@ nest-l3-vfio-out /'
		# L3 drives the engine: DMA through its first-stage tables, nested on L2's kernel, walked by L1.
		if [ -f /lab/l3/vtd_nest.elf ]; then
			t0=$(now)
			timeout 90 minivmm --vfio "$e" --viommu flts --mem 64M --kernel /lab/l3/vtd_nest.elf >/tmp/l3d.out 2>&1
			say nest-l3-dma rc=$? secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
			grep -E 'vtd_nest|error|FAIL|PASS' /tmp/l3d.out | head -n 8 | sed 's/^/@@ nest-l3-dma-out /'
		else
			say nest-l3-dma absent
		fi
	fi
fi
