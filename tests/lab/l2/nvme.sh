# Tier 3, L2 task "nvme" (sourced by tests/lab/l2-init.sh; lab.do=nvme): the NVMe controller the VMM
# passed through (tests/lab/checks/60-passthrough.sh). l2-init.sh loaded the nvme driver for it; this
# waits (up to 40 s) for its first namespace and reads the namespace's first MiB with O_DIRECT: one
# read the controller answers by DMA into L2's memory, through the host's IOMMU. Facts only:
#   @@ nvme ctrl=nvme0 pci=BDF model=... serial=... state=live timeouts=ADMIN/IO (seconds, l2-init.sh)
#   @@ nvme-read dev=nvme0n1 sectors=N direct=1|0 rc=0 secs=S sector0=TEXT md5_1m=MD5 err=-|DD-STDERR
#      (sector0: the leading printable characters of sector 0; direct=0: O_DIRECT failed, read cached)
#   @@ nvme-irq chip=CHIP count=N   the admin queue's interrupt (/proc/interrupts): IO-APIC for INTx,
#      PCI-MSIX-... / PCI-MSI-... otherwise; N interrupts so far
#   @@ nvme-dmesg LINE     the kernel's NVMe messages (probe, timeouts, resets), at most 20
n=""
i=0
while [ -z "$n" ] && [ $i -lt 400 ]; do
	# Block devices only: with native multipath the path disks (nvmeXcYnZ) are hidden, without a node.
	for b in /sys/block/nvme*n*; do
		[ -b "/dev/$(basename "$b")" ] && n=$(basename "$b") && break
	done
	[ -n "$n" ] || sleep 0.1
	i=$((i + 1))
done
for c in /sys/class/nvme/nvme*; do
	[ -e "$c" ] || continue
	say nvme "ctrl=$(basename "$c")" "pci=$(basename "$(readlink -f "$c/device")")" \
		"model=$(tr -s ' ' '_' <"$c/model" | sed 's/_*$//')" "serial=$(tr -d ' ' <"$c/serial")" \
		"state=$(cat "$c/state")" \
		"timeouts=$(cat /sys/module/nvme_core/parameters/admin_timeout)/$(cat /sys/module/nvme_core/parameters/io_timeout)"
done
if [ -z "$n" ]; then
	say nvme-read dev=none
else
	t0=$(now)
	direct=1
	if ! dd if="/dev/$n" of=/tmp/nvme.1m bs=1M count=1 iflag=direct 2>/tmp/nvme.err; then
		direct=0
		dd if="/dev/$n" of=/tmp/nvme.1m bs=1M count=1 2>>/tmp/nvme.err
	fi
	rc=$?
	t1=$(now)
	# dd's own report of a good read is no error.
	e=-
	[ "$direct$rc" = 10 ] || e=$(head -c 120 /tmp/nvme.err | tr ' \n' '_;')
	s0=$(head -c 64 /tmp/nvme.1m | tr -c 'A-Za-z0-9=._-' ' ' | sed 's/ .*//')
	say nvme-read "dev=$n" "sectors=$(cat "/sys/block/$n/size")" "direct=$direct" "rc=$rc" \
		"secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "sector0=${s0:-none}" \
		"md5_1m=$(md5sum </tmp/nvme.1m | cut -d' ' -f1)" "err=$e"
	rm -f /tmp/nvme.1m
fi
# (A shared INTx line lists every queue on it: "nvme0q0, nvme0q1".)
awk '/ nvme0q0(,|$)/ {
	n = 0
	for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++)
		n += $i
	print "chip=" $i, "count=" n
	exit
}' /proc/interrupts | while read -r l; do say nvme-irq $l; done
dmesg | grep -i nvme | grep -v -i 'command line' | head -n 20 | while read -r l; do say nvme-dmesg "$l"; done
