# shellcheck shell=bash
# Sourced by scripts/lab.sh: the L2 and L1 initramfs images (uncompressed newc cpio: L1 unpacks them
# under emulation, where decompressing costs more than the bytes).
#
#   $LAB_DIR/l2.cpio  busybox-static, tests/lab/l2-init.sh as /init, its tasks (tests/lab/l2/*.sh) under
#                     /lab/l2, dmaetool (tests/lab/l2/dmaetool.c, static) and minivmm (+ libraries: the
#                     "nest" task's probes) under /lab/bin, the modules of Debian's virtio drivers that
#                     are not built in (virtio_blk, virtio_net, virtio_rng; virtio_pci and virtio_console
#                     are), VFIO (vfio-pci, vfio_iommu_type1) and iommufd as the lab builds them for L1
#                     (with the device cdev), nvme
#   $LAB_DIR/l1.cpio  busybox-static, tests/lab/l1-init.sh as /init, kvm_amd, nvme, tun, the lab's
#                     iommufd/vfio modules, QEMU 10 (+ libraries and firmware), minivmm (+ libraries),
#                     fdtget, the tier-3 driver and checks under /lab/tests, /lab/vmlinuz, /lab/l2.cpio,
#                     and with LAB_JOBS bash and the host's tree for the jobs (scripts/lab/jobs.sh)
# Both are rebuilt on every run (about a second): they hold the minivmm and tests of the work tree.

# lab_add_modules ROOT MODULE...: the modules and what they depend on, decompressed (busybox's
# modprobe reads plain .ko).
lab_add_modules() {
	local root=$1 m f rel dst deps
	shift
	for m in "$@"; do
		deps=$(modprobe -d "$LAB_KMODS" -S "$LAB_REL" --show-depends "$m") ||
			lab_die "no module $m in linux-image-$LAB_REL"
		echo "$deps" | awk '$1 == "insmod" { print $2 }' | while read -r f; do
			rel=${f#"$LAB_KMODS"/lib/modules/"$LAB_REL"/}
			dst=$root/lib/modules/$LAB_REL/${rel%.xz}
			mkdir -p "$(dirname "$dst")"
			case $f in
			*.xz) xz -dc "$f" >"$dst" ;;
			*) cp "$f" "$dst" ;;
			esac
		done
	done
}

# lab_depmod ROOT: the module index busybox's modprobe needs.
lab_depmod() {
	local m=$1/lib/modules/$LAB_REL f
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		[ -f "$LAB_IMGROOT/lib/modules/$LAB_REL/$f" ] && cp "$LAB_IMGROOT/lib/modules/$LAB_REL/$f" "$m/"
	done
	depmod -b "$1" "$LAB_REL" || lab_die "depmod for $1 failed"
}

# lab_add_program ROOT FILE [DEST]: a dynamically linked program and the libraries ldd names, at
# the same paths.
lab_add_program() {
	local root=$1 src=$2 dst=${3:-$2} l
	mkdir -p "$root$(dirname "$dst")"
	cp -L "$src" "$root$dst"
	ldd "$src" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
		while read -r l; do
			[ -e "$root$l" ] && continue
			mkdir -p "$root$(dirname "$l")"
			cp -L "$l" "$root$l"
		done
}

lab_base_root() {
	rm -rf "$1"
	mkdir -p "$1"/bin "$1"/sbin "$1"/dev "$1"/proc "$1"/sys "$1"/tmp "$1"/run "$1"/etc "$1"/lab
	cp /bin/busybox "$1/bin/busybox"
	ln -s busybox "$1/bin/sh"
}

# lab_cpio ROOT OUT: pack ROOT into OUT and remove ROOT.
lab_cpio() {
	(cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$2.tmp" && mv "$2.tmp" "$2" &&
		rm -rf "$1"
}

# lab_dmaetool: the L2 guest's DMA-engine driver, static (L2 has no libc but busybox's).
lab_dmaetool() {
	local src=$LAB_ROOT/tests/lab/l2/dmaetool.c out=$LAB_DIR/dmaetool
	[ -x "$out" ] && [ "$out" -nt "$src" ] && [ "$out" -nt "$LAB_ROOT/devices/dma-engine.h" ] && return 0
	gcc -O2 -static -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
		-I"$LAB_ROOT" -o "$out.tmp" "$src" || lab_die "tests/lab/l2/dmaetool.c does not build (gcc -static: libc6-dev)"
	mv "$out.tmp" "$out"
}

# lab_fio_tools: $LAB_DIR/fio-tools.img, an ext4 image (mke2fs -d, no mount needed) with Debian's fio
# and the libraries it links at their own paths, for the bench's L2 to chroot into. Not in the L2
# initramfs: fio links ~80 MB of libraries (ceph, gluster, ...) every check's boot would unpack.
# The bench gives it to L1 as a read-only virtio-blk disk, which L1 passes on to L2 the same way.
lab_fio_tools() {
	local r=$LAB_DIR/root-fio img=$LAB_DIR/fio-tools.img
	command -v fio >/dev/null || lab_die "no fio (Debian's fio package: scripts/install-deps.sh --lab)"
	[ -f "$img" ] && [ "$img" -nt "$(command -v fio)" ] && return 0
	rm -rf "$r"
	mkdir -p "$r/dev" "$r/proc" "$r/sys" "$r/tmp"
	lab_add_program "$r" "$(command -v fio)" /usr/bin/fio
	# No metadata checksums (they would need the crc32c crypto module in L2) and no journal (read-only).
	mke2fs -q -F -t ext4 -O ^metadata_csum,^has_journal -L fio-tools -d "$r" "$img.tmp" $(($(du -sm "$r" | cut -f1) + 64))M ||
		lab_die "mke2fs -d could not make $img (e2fsprogs)"
	mv "$img.tmp" "$img"
	rm -rf "$r"
}

# lab_initramfs_l2 [MINIVMM]: MINIVMM, if given, goes to /lab/bin for the "nest" task.
lab_initramfs_l2() {
	local r=$LAB_DIR/root-l2 m
	lab_base_root "$r"
	# kvm_amd: the "nest" task's check that the guest can run guests of its own (--nested-virt).
	lab_add_modules "$r" virtio_blk virtio_net virtio_rng vfio-pci vfio_iommu_type1 nvme kvm_amd igb igbvf ext4 crc32c_generic
	# The lab's iommufd/VFIO override the stock ones (depmod prefers updates/), as in L1.
	mkdir -p "$r/lib/modules/$LAB_REL/updates"
	if [ "${LAB_LIGHT:-0}" != 1 ] && [ -f "$LAB_DIR/modules/.done" ]; then
		for m in $LAB_MODULES; do
			cp "$LAB_DIR/modules/$m.ko" "$r/lib/modules/$LAB_REL/updates/"
		done
	fi
	lab_depmod "$r"
	lab_dmaetool
	mkdir -p "$r/lab/bin" "$r/lab/l2"
	install -m 755 "$LAB_DIR/dmaetool" "$r/lab/bin/dmaetool"
	[ -z "${1:-}" ] || lab_add_program "$r" "$1" /lab/bin/minivmm
	# L3 of the nesting check: the guest program minivmm runs inside L2 (tests/guest/vtd_nest.c).
	mkdir -p "$r/lab/l3"
	[ ! -f "$LAB_ROOT/build/guest/tests/vtd_nest.elf" ] || cp "$LAB_ROOT/build/guest/tests/vtd_nest.elf" "$r/lab/l3/"
	cp "$LAB_ROOT"/tests/lab/l2/*.sh "$r/lab/l2/"
	install -m 755 "$LAB_ROOT/tests/lab/l2-init.sh" "$r/init"
	lab_cpio "$r" "$LAB_DIR/l2.cpio"
	LAB_L2_CPIO=$LAB_DIR/l2.cpio
}

# lab_initramfs_l1 MINIVMM: MINIVMM is the binary to put on L1's PATH (may be empty: QEMU only).
lab_initramfs_l1() {
	local r=$LAB_DIR/root-l1 m f
	lab_base_root "$r"
	lab_add_modules "$r" kvm_amd nvme irqbypass tun igb igbvf virtio_net virtio_blk
	mkdir -p "$r/lib/modules/$LAB_REL/updates"
	if [ "${LAB_LIGHT:-0}" != 1 ]; then
		for m in $LAB_MODULES; do
			cp "$LAB_DIR/modules/$m.ko" "$r/lib/modules/$LAB_REL/updates/"
		done
	fi
	lab_depmod "$r"
	# QEMU as L1's reference VMM, with the firmware a -kernel boot of q35 reads.
	lab_add_program "$r" "$(command -v qemu-system-x86_64)" /usr/bin/qemu-system-x86_64
	mkdir -p "$r/usr/share/qemu" "$r/usr/share/seabios"
	for f in kvmvapic.bin linuxboot.bin linuxboot_dma.bin; do
		cp -L "/usr/share/qemu/$f" "$r/usr/share/qemu/"
	done
	cp -L /usr/share/seabios/bios-256k.bin "$r/usr/share/seabios/"
	lab_add_program "$r" "$(command -v fdtget)" /usr/bin/fdtget
	if [ -n "$1" ]; then
		lab_add_program "$r" "$1" /lab/bin/minivmm
	fi
	mkdir -p "$r/lab/tests"
	cp -r "$LAB_ROOT/tests/lab/." "$r/lab/tests/"
	[ -z "${LAB_JOBS:-}" ] || lab_add_src "$r"
	cp "$LAB_VMLINUZ_HOST" "$r/lab/vmlinuz"
	cp "$LAB_DIR/l2.cpio" "$r/lab/l2.cpio"
	install -m 755 "$LAB_ROOT/tests/lab/l1-init.sh" "$r/init"
	lab_cpio "$r" "$LAB_DIR/l1.cpio"
	LAB_L1_CPIO=$LAB_DIR/l1.cpio
}
