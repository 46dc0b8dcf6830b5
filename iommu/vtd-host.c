/*
 * Can the host IOMMU behind a passed-through device take the guest's first-stage tables? The unit
 * answers when the device's host IOMMU description is handed to it, after the device is attached to its
 * nesting-parent HWPT (the order of QEMU's vfio-pci realize, design notes §6.3): the parent's
 * allocation is what fails first on a host that cannot nest at all, and the VMM then explains it with
 * this same check. The checks follow QEMU's vtd_check_hiod_accel (§6.2) plus what the host kernel
 * refuses at attach time (§5.4), so that the user gets one precise line instead of an EINVAL later.
 */
#include <errno.h>
#include <linux/iommufd.h>
#include <stdio.h>
#include <string.h>

#include "iommu/vtd-priv.h"

int vtd__check_host_iommu(struct vtd *vtd, const struct vtd_host_iommu *h, char *err, size_t n)
{
	unsigned want_aw = VTD_CAP_MGAW_OF(vtd->cap), host_aw = VTD_CAP_MGAW_OF(h->cap);

	if (vtd->opt.slts) {
		snprintf(err, n, "second-stage translation (--viommu slts) of a passed-through device is not supported");
		return -EINVAL;		/* the command line refuses it first (machine/cli.c) */
	}
	if (h->backend != VTD_HOST_BACKEND_IOMMUFD) {
		snprintf(err, n, "the passthrough device needs the iommufd backend");
		return -EINVAL;
	}
	if (h->type != IOMMU_HW_INFO_TYPE_INTEL_VTD) {
		snprintf(err, n, "host IOMMU type %u is not Intel VT-d", h->type);
		return -EINVAL;
	}
	if (!(h->ecap & VTD_ECAP_SMTS)) {
		snprintf(err, n, "no scalable mode (VT-d ECAP.SMTS=0)");
		return -EINVAL;
	}
	if (!(h->ecap & VTD_ECAP_NEST)) {
		snprintf(err, n, "no nested translation (VT-d ECAP.NEST=0)");
		return -EINVAL;
	}
	if (!(h->ecap & VTD_ECAP_FSTS) || !(h->ecap & VTD_ECAP_SSTS)) {
		snprintf(err, n, "nesting needs both translation stages (VT-d ECAP.FSTS=%d, ECAP.SSTS=%d)",
			 !!(h->ecap & VTD_ECAP_FSTS), !!(h->ecap & VTD_ECAP_SSTS));
		return -EINVAL;
	}
	if ((vtd->cap & VTD_CAP_FS1GP) && !(h->cap & VTD_CAP_FS1GP)) {
		snprintf(err, n, "first-stage 1 GiB pages are offered to the guest but the host lacks them "
			 "(VT-d CAP.FS1GP=0; use --viommu flts,fs1gp=off)");
		return -EINVAL;
	}
	if ((vtd->cap & VTD_CAP_FS5LP) && !(h->cap & VTD_CAP_FS5LP)) {
		snprintf(err, n, "5-level first-stage tables are offered to the guest but the host lacks them "
			 "(VT-d CAP.FS5LP=0)");
		return -EINVAL;
	}
	if ((vtd->ecap & VTD_ECAP_SRS) && !(h->ecap & VTD_ECAP_SRS)) {
		snprintf(err, n, "supervisor requests are offered to the guest but the host lacks them "
			 "(VT-d ECAP.SRS=0)");
		return -EINVAL;
	}
	/*
	 * ECAP.SMPWC tells the guest that the unit snoops its first-stage tables, so it does not flush
	 * them from the CPU caches; with nesting the host's hardware walks them, so it must snoop too.
	 */
	if ((vtd->ecap & VTD_ECAP_SMPWC) && !(h->ecap & VTD_ECAP_SMPWC)) {
		snprintf(err, n, "the guest is told its first-stage tables need no cache flushes, but the host "
			 "walks them without snooping (VT-d ECAP.SMPWC=0)");
		return -EINVAL;
	}
	if (host_aw < want_aw) {
		snprintf(err, n, "address width: the vIOMMU uses %u bits, the host IOMMU only %u (CAP.MGAW)",
			 want_aw, host_aw);
		return -EINVAL;
	}
	return 0;
}

void vtd__describe_host_iommu(const struct vtd_host_iommu *h, char *buf, size_t n)
{
	uint64_t c = h->cap, e = h->ecap;

	if (h->type != IOMMU_HW_INFO_TYPE_INTEL_VTD) {
		snprintf(buf, n, "IOMMU type %u (not Intel VT-d)", h->type);
		return;
	}
	snprintf(buf, n,
		 "Intel VT-d\n"
		 "CAP  %#018llx: MGAW %u, SAGAW%s%s%s, FS1GP %d, FS5LP %d, CM %d, PSI %d, ESRTPS %d\n"
		 "ECAP %#018llx: SMTS %d, NEST %d, FSTS %d, SSTS %d, PT %d, SRS %d, SMPWC %d, PASID %d (PSS %u), QI %d, C %d",
		 (unsigned long long)c, VTD_CAP_MGAW_OF(c), (c & BIT(8)) ? " 30" : "", (c & VTD_CAP_SAGAW_39) ? " 39" : "",
		 (c & VTD_CAP_SAGAW_48) ? " 48" : "", !!(c & VTD_CAP_FS1GP), !!(c & VTD_CAP_FS5LP), !!(c & VTD_CAP_CM),
		 !!(c & VTD_CAP_PSI), !!(c & VTD_CAP_ESRTPS), (unsigned long long)e, !!(e & VTD_ECAP_SMTS),
		 !!(e & VTD_ECAP_NEST), !!(e & VTD_ECAP_FSTS), !!(e & VTD_ECAP_SSTS), !!(e & VTD_ECAP_PT),
		 !!(e & VTD_ECAP_SRS), !!(e & VTD_ECAP_SMPWC), !!(e & VTD_ECAP_PASID), (unsigned)((e >> 35) & 0x1f) + 1,
		 !!(e & VTD_ECAP_QI), !!(e & VTD_ECAP_C));
}

int vtd__set_host_iommu_device(struct vtd *vtd, uint16_t sid, const struct vtd_host_iommu *host,
			       const struct vtd_dev_ops *ops, void *opaque, char *err, size_t n)
{
	int ret = vtd__check_host_iommu(vtd, host, err, n);

	if (ret)
		return ret;
	ret = vtd__watch_device(vtd, sid, ops, opaque);
	if (ret == -EEXIST)
		snprintf(err, n, "requester ID %02x:%02x.%x already has a host IOMMU device", sid >> 8,
			 (sid >> 3) & 0x1f, sid & 7);
	else if (ret)
		snprintf(err, n, "cannot watch requester ID %#x: %s", sid, strerror(-ret));
	return ret;
}
