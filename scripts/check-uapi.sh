#!/bin/bash
# Compile test: do the kernel UAPI headers have iommufd nesting (Linux 6.8+)?
# Exit 0 if yes. Used by config.mk and install-deps.sh.
CC=${CC:-cc}
printf '%s\n' '#include <linux/iommufd.h>' '#include <linux/vfio.h>' \
  'int main(void){ struct iommu_hwpt_vtd_s1 s = {0}; struct iommu_hwpt_invalidate i = {0};' \
  ' struct vfio_device_bind_iommufd b = {0}; (void)s; (void)i; (void)b;' \
  ' return IOMMU_HWPT_ALLOC_NEST_PARENT + IOMMU_HWPT_DATA_VTD_S1 + IOMMU_HW_INFO_TYPE_INTEL_VTD; }' |
  $CC -x c -o /dev/null - 2>/dev/null
