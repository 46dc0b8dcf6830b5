# shellcheck shell=bash
# Sourced by scripts/lab.sh: boot L1 under QEMU's software emulation.
#
# L1 is the stock Debian kernel on QEMU 10 TCG: `-cpu max` (without LA57) models an AMD CPU with SVM
# and nested paging, so L1's kvm_amd gives a real /dev/kvm; an Intel VT-d in scalable mode with
# interrupt remapping, an NVMe controller and an igb NIC with its peer are there for the passthrough
# parts of the lab. Keep -smp 2:
# with one vCPU, an L2 hang (TCG's emulated SVM, about 1 boot in 7) can freeze L1 whole.

LAB_L1_MEM=${LAB_L1_MEM:-4G}
# Extra intel-iommu properties for L1's VT-d (e.g. ",x-flts=on"). Passthrough needs second-stage
# support in L1 (the 6.12 driver refuses a user paging domain without it), so the default has no x-flts.
LAB_L1_IOMMU=${LAB_L1_IOMMU:-}
LAB_L1_BOOT_TIMEOUT=${LAB_L1_BOOT_TIMEOUT:-180}
# The NIC check's pair (tests/lab/checks/65-nic.sh): an igb (82576, SR-IOV with up to 7 VFs) behind a
# PCIe root port, and a virtio-net NIC that L1 keeps as the peer, both on one QEMU hub: what the igb (or
# one of its VFs) sends, the peer receives. The checks find them by IDs and drivers (tests/lab/niclib.sh).
LAB_NIC_MAC=52:54:00:6c:61:01
LAB_NIC_PEER_MAC=52:54:00:6c:61:02

# lab_l1_argv APPEND: the qemu-system-x86_64 command line for L1, into the array LAB_L1_CMD.
lab_l1_argv() {
	local nvme=$LAB_BUILD/nvme.img
	if [ ! -f "$nvme" ]; then
		# A small disk whose first sector the passthrough parts can recognise.
		truncate -s 64M "$nvme"
		printf 'MINIVMM-LAB-NVME-SECTOR0' | dd of="$nvme" conv=notrunc status=none
	fi
	LAB_L1_CMD=(qemu-system-x86_64 -M q35 -accel "${LAB_L1_ACCEL:-tcg,thread=multi}" -cpu max,-la57 -smp 2 -m "$LAB_L1_MEM"
		-device "intel-iommu,intremap=on,x-scalable-mode=on$LAB_L1_IOMMU"
		-drive "file=$nvme,if=none,id=nvme0,format=raw" -device nvme,serial=minivmm-lab0,drive=nvme0
		-device pcie-root-port,id=nicport,chassis=1,slot=1
		-netdev hubport,id=nicpf,hubid=0 -device "igb,bus=nicport,netdev=nicpf,mac=$LAB_NIC_MAC"
		-netdev hubport,id=nicpeer,hubid=0 -device "virtio-net-pci,netdev=nicpeer,mac=$LAB_NIC_PEER_MAC"
		-kernel "$LAB_VMLINUZ_HOST" -initrd "$LAB_L1_CPIO"
		-append "console=ttyS0 intel_iommu=on panic=-1 quiet loglevel=3 ${LAB_L1_APPEND:-} $1"
		-display none -vga none -nodefaults -no-user-config -no-reboot)
	if [ "${LAB_L1_BENCH:-0}" = 1 ]; then
		# The bench's disk on an NVMe of its own (device latency is real; the passthrough checks' NVMe
		# keeps its marker), written with zeros so L0 reads data, not holes; fio on a read-only
		# virtio-blk disk (lab_fio_tools). L1 hands both to L2 (tests/lab/bench.sh).
		local disk=$LAB_BUILD/bench-nvme.img mib=$((${LAB_BENCH_MIB:-256} + 64))
		[ "$(stat -c %s "$disk" 2>/dev/null)" = $((mib << 20)) ] ||
			dd if=/dev/zero of="$disk" bs=1M count=$mib status=none
		LAB_L1_CMD+=(-drive "file=$disk,if=none,id=nvme1,format=raw" -device nvme,serial=minivmm-bench,drive=nvme1
			-drive "file=$LAB_DIR/fio-tools.img,if=none,id=fiotools,format=raw,readonly=on"
			-device virtio-blk-pci,drive=fiotools,serial=minivmm-fio-tools)
	fi
}

# lab_l1_shell: L1 with a shell on the serial console, attached to this terminal (Ctrl-A X quits).
lab_l1_shell() {
	lab_l1_argv "lab.mode=shell lab.vmm=$LAB_VMM"
	lab_say "booting L1 (Ctrl-A X quits, Ctrl-A C is QEMU's monitor)"
	exec "${LAB_L1_CMD[@]}" -serial mon:stdio 8>&-
}

# The checks' own knobs in this environment (LAB_BLK_*, LAB_NET_*: see the checks), as one kernel
# parameter for L1's /init to export: "lab.env=NAME=VALUE,NAME=VALUE" (values without spaces or commas).
lab_env_param() {
	local e
	e=$(env | grep -E '^LAB_(BLK|NET)_[A-Z0-9_]*=[^ ,]*$' | sort | tr '\n' ',')
	[ -n "$e" ] && echo "lab.env=${e%,}"
}

# lab_budget TESTS...: the seconds the checks may take if every L2 boot hangs every time. A check says
# what it needs in a "# lab-budget: boots=N seconds=S" line: N L2 boots, each watched for up to
# LAB_L2_TIMEOUT + S seconds (S also covers the check's own work); without the line, one plain boot.
# Sets LAB_L1_LONGEST to the largest S (call it outside $(...) for that).
lab_budget() {
	local n f b s total=0
	LAB_L1_LONGEST=0
	for n in "$@"; do
		b=1 s=0
		f=$(ls "$LAB_ROOT"/tests/lab/checks/[0-9]*-"$n".sh 2>/dev/null | head -n 1)
		if [ -n "$f" ]; then
			eval "$(sed -n 's/^# lab-budget: boots=\([0-9]*\) seconds=\([0-9]*\).*/b=\1 s=\2/p' "$f")"
		fi
		total=$((total + b * LAB_L2_TRIES * (LAB_L2_TIMEOUT + s + 30)))
		[ $s -gt "$LAB_L1_LONGEST" ] && LAB_L1_LONGEST=$s
	done
	echo $total
}

# lab_l1_check LOG TESTS...: run the jobs of LAB_L1_JOBS (tests/lab/jobs.sh) and then the tier-3 driver
# in L1 (or, with LAB_L1_BENCH=1, tests/lab/bench.sh). L1's console goes to LOG and to stdout (all of it
# but the L2 console copies; with LAB_L1_SHOW=job:NAME only job NAME's own lines). Watchdogs: L1 must
# reach its /init within LAB_L1_BOOT_TIMEOUT, and the whole run must end within LAB_TIMEOUT (default:
# every L2 boot hanging every time, plus the jobs' budgets, plus L1's boot, plus a margin).
lab_l1_check() {
	local log=$1 qpid tpid t0 up=0 why="" limit runs=${LAB_BENCH_RUNS:-3} quiet size=0 last budget j
	local jobs="" mode=check show=${LAB_L1_SHOW:-all}
	shift
	# L1 frozen (TCG's emulated SVM can take L1 down with an L2): its console stays silent although
	# every L2 boot says when it starts and ends. Longer than any boot's watchdog plus its check's work.
	lab_budget "$@" >/dev/null
	quiet=${LAB_L1_SILENCE:-$((LAB_L2_TIMEOUT + LAB_L1_LONGEST + 150))}
	budget=0
	[ $# -gt 0 ] && budget=$(lab_budget "$@")
	for j in ${LAB_L1_JOBS:-}; do
		budget=$((budget + $(lab_job_budget "$j")))
		[ "$(lab_job_silence "$j")" -gt "$quiet" ] && quiet=$(lab_job_silence "$j")
		jobs+=${jobs:+,}$j
	done
	[ $# = 0 ] && [ -n "$jobs" ] && mode=jobs
	if [ "${LAB_L1_BENCH:-0}" = 1 ]; then
		limit=${LAB_TIMEOUT:-$((LAB_L1_BOOT_TIMEOUT + budget + 4 * runs * LAB_L2_TRIES * (LAB_L2_TIMEOUT + 60) + 120))}
		lab_l1_argv "lab.mode=bench lab.jobs=$jobs lab.l2timeout=$LAB_L2_TIMEOUT lab.tries=$LAB_L2_TRIES lab.benchruns=$runs lab.benchfirst=${LAB_BENCH_FIRST:-1} lab.benchmib=${LAB_BENCH_MIB:-256} $(lab_env_param)"
	else
		limit=${LAB_TIMEOUT:-$((LAB_L1_BOOT_TIMEOUT + budget + 120))}
		lab_l1_argv "lab.mode=$mode lab.jobs=$jobs lab.vmm=$LAB_VMM lab.tests=$(echo "$*" | tr ' ' ',') lab.l2timeout=$LAB_L2_TIMEOUT lab.tries=$LAB_L2_TRIES lab.l2quiet=${LAB_L2_QUIET:-0} $(lab_env_param)"
	fi
	LAB_L1_CMD+=(-serial stdio -monitor none)
	if [ "$show" = all ]; then
		lab_say "booting L1: ${LAB_L1_CMD[*]}"
		lab_say "L1 console log: $log (watchdogs: L1 boot ${LAB_L1_BOOT_TIMEOUT} s, whole run $limit s," \
			"L1 silent $quiet s)"
	fi
	: >"$log"
	t0=$SECONDS
	last=$SECONDS
	"${LAB_L1_CMD[@]}" </dev/null >>"$log" 2>&1 &
	qpid=$!
	# The terminal gets L1's console without the L2 console copies (L2-LOG lines: the log keeps them).
	if [ "$show" = all ]; then
		tail -n +1 -f --pid=$qpid "$log" 2>/dev/null | sed -u -e 's/\r$//' -e '/^L2-LOG /d' &
	else
		tail -n +1 -f --pid=$qpid "$log" 2>/dev/null | sed -u -n -e 's/\r$//' -e "s/^JOB ${show#job:}: //p" &
	fi
	tpid=$!
	while kill -0 $qpid 2>/dev/null; do
		sleep 1
		if [ $up = 0 ] && grep -q '^LAB-L1-UP' "$log"; then
			up=1
			[ "$show" = all ] && lab_say "L1 up after $((SECONDS - t0)) s"
		fi
		if [ "$(stat -c %s "$log")" != "$size" ]; then
			size=$(stat -c %s "$log")
			last=$SECONDS
		fi
		if [ $up = 0 ] && [ $((SECONDS - t0)) -ge "$LAB_L1_BOOT_TIMEOUT" ]; then
			why="L1 did not reach its /init within $LAB_L1_BOOT_TIMEOUT s"
		elif [ $((SECONDS - t0)) -ge "$limit" ]; then
			why="the lab run did not end within $limit s"
		elif [ $((SECONDS - last)) -ge "$quiet" ]; then
			why="L1 said nothing for $quiet s (frozen)"
		fi
		if [ -n "$why" ]; then
			kill $qpid 2>/dev/null
			sleep 2
			kill -9 $qpid 2>/dev/null
			break
		fi
	done
	wait $qpid 2>/dev/null
	wait $tpid 2>/dev/null
	LAB_L1_SECS=$((SECONDS - t0))
	if [ -n "$why" ]; then
		LAB_L1_FAILED=$why
		lab_say "$why: stopped QEMU (L1 console log: $log)"
	elif ! grep -q '^LAB-L1-DONE' "$log"; then
		LAB_L1_FAILED="L1 stopped before its driver finished (see $log)"
	else
		LAB_L1_FAILED=""
	fi
	[ "$show" = all ] && lab_say "L1 run: $LAB_L1_SECS s"
	return 0
}
