# shellcheck shell=bash
# Sourced by scripts/lab.sh: iommufd and VFIO (with the device cdev) built out of tree for L1.
#
# Debian's 6.12 kernel has CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV unset, so it has neither
# /dev/iommu nor /dev/vfio/devices/vfioN. Its VFIO is modular, though, so iommufd.ko, vfio.ko (built
# with the cdev) and the modules that link against vfio.ko are rebuilt from linux-source of the same
# version against its linux-headers. L1 loads these instead of the stock vfio modules.
# Result: $LAB_DIR/modules/*.ko, rebuilt when the release or this recipe changes.

LAB_MODULES="iova_bitmap iommufd vfio vfio_iommu_type1 vfio-pci-core vfio-pci"

lab_modules() {
	local out=$LAB_DIR/modules b=$LAB_DIR/modbuild key s=$LAB_SRC
	key="$LAB_REL $(sha256sum "$LAB_ROOT/scripts/lab/modules.sh" | cut -d' ' -f1)"
	[ -f "$out/.done" ] && [ "$(cat "$out/.done")" = "$key" ] && return 0
	rm -rf "$b" "$out"
	mkdir -p "$b/iommu/iommufd" "$b/vfio/pci" "$out"
	cp "$s/drivers/iommu/iommu-priv.h" "$b/iommu/"
	cp "$s"/drivers/iommu/iommufd/*.[ch] "$b/iommu/iommufd/"
	cp "$s"/drivers/vfio/*.[ch] "$b/vfio/"
	cp "$s"/drivers/vfio/pci/*.[ch] "$b/vfio/pci/"
	# iommufd's io_pagetable uses the interval-tree span iterator, which this vmlinux lacks
	# (CONFIG_INTERVAL_TREE_SPAN_ITER unset): build that part of lib/interval_tree.c into iommufd.ko.
	{
		echo '#include <linux/interval_tree.h>'
		echo '#include <linux/export.h>'
		sed -n '/^#ifdef CONFIG_INTERVAL_TREE_SPAN_ITER/,$p' "$s/lib/interval_tree.c"
	} >"$b/iommu/iommufd/span_iter.c"
	# iova_bitmap.c is built-in upstream (obj-y): as a module it needs a licence.
	sed -i '1a #include <linux/module.h>' "$b/iommu/iommufd/iova_bitmap.c"
	echo 'MODULE_LICENSE("GPL");' >>"$b/iommu/iommufd/iova_bitmap.c"
	cat >"$b/Kbuild" <<'EOF'
# The options Debian's config lacks, as the in-tree Kconfig would set them.
ccflags-y += -DCONFIG_IOMMUFD_MODULE=1 -DCONFIG_IOMMUFD_DRIVER=1 -DCONFIG_VFIO_DEVICE_CDEV=1 \
	-DCONFIG_INTERVAL_TREE_SPAN_ITER=1
obj-m += iova_bitmap.o iommufd.o vfio.o vfio_iommu_type1.o vfio-pci-core.o vfio-pci.o
iova_bitmap-y := iommu/iommufd/iova_bitmap.o
iommufd-y := iommu/iommufd/device.o iommu/iommufd/fault.o iommu/iommufd/hw_pagetable.o \
	iommu/iommufd/io_pagetable.o iommu/iommufd/ioas.o iommu/iommufd/main.o iommu/iommufd/pages.o \
	iommu/iommufd/vfio_compat.o iommu/iommufd/span_iter.o
vfio-y := vfio/vfio_main.o vfio/device_cdev.o vfio/group.o vfio/iommufd.o vfio/container.o vfio/virqfd.o
vfio_iommu_type1-y := vfio/vfio_iommu_type1.o
vfio-pci-core-y := vfio/pci/vfio_pci_core.o vfio/pci/vfio_pci_intrs.o vfio/pci/vfio_pci_rdwr.o \
	vfio/pci/vfio_pci_config.o
vfio-pci-y := vfio/pci/vfio_pci.o vfio/pci/vfio_pci_igd.o
CFLAGS_vfio/pci/vfio_pci_core.o += -I$(src)/vfio/pci
EOF
	# The compiler the kernel was built with (Debian's kbuild insists on it).
	local cc
	cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="*\([^ "]*\).*/\1/p' "$LAB_KDIR/include/config/auto.conf")
	[ -z "$cc" ] || command -v "$cc" >/dev/null ||
		lab_die "$LAB_REL was built with $cc, which is not installed (scripts/install-deps.sh --lab)"
	# No BTF for these modules: it needs pahole, and nothing in the lab reads module BTF.
	if ! make -C "$LAB_KDIR" M="$b" -j"$(nproc)" CONFIG_DEBUG_INFO_BTF_MODULES= modules \
		>"$b/build.log" 2>&1; then
		tail -n 30 "$b/build.log" >&2
		lab_die "the iommufd/vfio module build failed (log: $b/build.log)"
	fi
	for m in $LAB_MODULES; do
		[ -f "$b/$m.ko" ] || lab_die "the module build made no $m.ko"
		# Debug info is most of their size, and L1 unpacks its initramfs under emulation.
		strip --strip-debug -o "$out/$m.ko" "$b/$m.ko"
	done
	cp "$b/build.log" "$out/"
	rm -rf "$b"
	echo "$key" >"$out/.done"
}
