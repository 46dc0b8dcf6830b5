/*
 * The iommufd object: /dev/iommu with one IOAS (I/O address space) per VM, shared by every passed-through
 * device, into which all guest RAM is mapped at its guest physical address (IOVA = GPA). Devices attach
 * to the IOAS itself (--viommu off) or to a nesting-parent HWPT allocated on it (--viommu flts), whose
 * second stage is then this GPA -> HVA map; the guest's first-stage tables are nested on top of it as
 * VT-d stage-1 HWPTs (IOMMU_HWPT_DATA_VTD_S1). Every call returns 0 / an id, or -errno, and names the
 * failing ioctl through sys__last_ioctl().
 */
#ifndef MINIVMM_IOMMUFD_H
#define MINIVMM_IOMMUFD_H

#include <linux/iommufd.h>
#include <stdbool.h>
#include <stdint.h>

struct guest_mem;

struct iommufd {
	int fd;			/* /dev/iommu, -1 when closed */
	uint32_t ioas_id;
	bool ram_mapped;
};

/* What IOMMU_GET_HW_INFO says of the IOMMU in front of a bound device (§5.2 of the design notes). */
struct iommufd_hw_info {
	uint32_t type;		/* IOMMU_HW_INFO_TYPE_* (1 = Intel VT-d) */
	uint64_t cap, ecap;	/* the host unit's raw CAP_REG / ECAP_REG (VT-d only) */
	uint32_t flags;		/* iommu_hw_info_vtd flags (ERRATA_772415_SPR17) */
	uint64_t capabilities;	/* IOMMU_HW_CAP_* */
};

/* Open @path ("/dev/iommu") and allocate the IOAS. On failure *@what names the step: "open" or the ioctl. */
int iommufd__open(struct iommufd *ifd, const char *path, const char **what);
void iommufd__close(struct iommufd *ifd);

/* Map every RAM region read-write at IOVA = GPA (once; later calls do nothing; all or nothing). */
int iommufd__map_ram(struct iommufd *ifd, const struct guest_mem *mem);
/*
 * Is all RAM inside the IOAS's allowed IOVA ranges (IOMMU_IOAS_IOVA_RANGES: what the attached devices'
 * IOMMUs leave usable, without reserved regions such as the MSI window or an RMRR)? 0, or
 * -EADDRNOTAVAIL with the first RAM region that is not in [*@bad_start, *@bad_end], or the ioctl's error.
 */
int iommufd__check_ram(struct iommufd *ifd, const struct guest_mem *mem, uint64_t *bad_start, uint64_t *bad_end);

int iommufd__hw_info(struct iommufd *ifd, uint32_t dev_id, struct iommufd_hw_info *info);

/* A nesting-parent HWPT on the IOAS for @dev_id; its id in *@hwpt_id. */
int iommufd__alloc_nest_parent(struct iommufd *ifd, uint32_t dev_id, uint32_t *hwpt_id);

/* A VT-d stage-1 HWPT nested on @parent_id: the guest's first-stage tables at @pgtbl_addr (a GPA). */
struct iommufd_vtd_s1 {
	uint64_t pgtbl_addr;
	unsigned addr_width;	/* 48 or 57 */
	bool sre, wpe;
};
int iommufd__alloc_vtd_s1(struct iommufd *ifd, uint32_t dev_id, uint32_t parent_id,
			  const struct iommufd_vtd_s1 *s1, uint32_t *hwpt_id);

/* One stage-1 invalidation: [addr, addr + npages * 4 KiB); npages = UINT64_MAX (addr 0): all. */
struct iommu_hwpt_vtd_s1_invalidate iommufd__s1_inv_entry(uint64_t addr, uint64_t npages, bool leaf);
/*
 * The @*num entries at @e in one IOMMU_HWPT_INVALIDATE of a stage-1 HWPT. 0 or -errno; either way
 * *@num is then how many entries the host processed (the kernel's contract: on a failure, the index
 * of the entry that failed; the ones after it were not looked at).
 */
int iommufd__invalidate_s1(struct iommufd *ifd, uint32_t hwpt_id, const struct iommu_hwpt_vtd_s1_invalidate *e,
			   uint32_t *num);

int iommufd__destroy(struct iommufd *ifd, uint32_t id);

#endif
