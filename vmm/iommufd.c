/* The iommufd object (vmm/iommufd.h): thin layer over the IOMMU_* wrappers of the sys layer. */
#include "vmm/iommufd.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/memory.h"
#include "vmm/sys.h"

int iommufd__open(struct iommufd *ifd, const char *path, const char **what)
{
	struct iommu_ioas_alloc a = { .size = sizeof(a) };
	int ret;

	memset(ifd, 0, sizeof(*ifd));
	*what = "open";
	ifd->fd = open(path, O_RDWR | O_CLOEXEC);
	if (ifd->fd < 0)
		return -errno;
	ret = sys__iommu_ioas_alloc(ifd->fd, &a);
	if (ret < 0) {
		*what = sys__last_ioctl();
		close(ifd->fd);
		ifd->fd = -1;
		return ret;
	}
	ifd->ioas_id = a.out_ioas_id;
	return 0;
}

void iommufd__close(struct iommufd *ifd)
{
	if (ifd->fd < 0)
		return;
	/* Closing the fd drops the IOAS, its mappings and every HWPT left. */
	close(ifd->fd);
	ifd->fd = -1;
}

static int unmap(struct iommufd *ifd, uint64_t iova, uint64_t length)
{
	struct iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = ifd->ioas_id, .iova = iova, .length = length };

	return sys__iommu_ioas_unmap(ifd->fd, &u);
}

int iommufd__map_ram(struct iommufd *ifd, const struct guest_mem *mem)
{
	if (ifd->ram_mapped)
		return 0;
	for (int i = 0; i < mem->nr; i++) {
		struct iommu_ioas_map m = {
			.size = sizeof(m),
			.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
			.ioas_id = ifd->ioas_id,
			.user_va = (uintptr_t)mem->r[i].hva,
			.length = mem->r[i].size,
			.iova = mem->r[i].gpa,
		};
		int ret = sys__iommu_ioas_map(ifd->fd, &m);

		if (ret < 0) {
			/* All or nothing: a later device would find the first regions mapped (EEXIST). */
			while (i-- > 0)
				unmap(ifd, mem->r[i].gpa, mem->r[i].size);
			return ret;
		}
	}
	ifd->ram_mapped = true;
	return 0;
}

int iommufd__check_ram(struct iommufd *ifd, const struct guest_mem *mem, uint64_t *bad_start, uint64_t *bad_end)
{
	struct iommu_iova_range ranges[16];
	struct iommu_ioas_iova_ranges r = {
		.size = sizeof(r),
		.ioas_id = ifd->ioas_id,
		.num_iovas = 16,
		.allowed_iovas = (uintptr_t)ranges,
	};
	int ret = sys__iommu_ioas_iova_ranges(ifd->fd, &r);

	if (ret == -EMSGSIZE)	/* more holes than we ask for: let the map say what it thinks */
		return 0;
	if (ret < 0)
		return ret;
	for (int i = 0; i < mem->nr; i++) {
		uint64_t s = mem->r[i].gpa, e = s + mem->r[i].size - 1;
		bool inside = false;

		for (unsigned k = 0; k < r.num_iovas && k < 16; k++)
			inside |= s >= ranges[k].start && e <= ranges[k].last;
		if (!inside) {
			*bad_start = s;
			*bad_end = e;
			return -EADDRNOTAVAIL;
		}
	}
	return 0;
}

int iommufd__hw_info(struct iommufd *ifd, uint32_t dev_id, struct iommufd_hw_info *info)
{
	struct iommu_hw_info_vtd vtd = { 0 };
	struct iommu_hw_info hi = {
		.size = sizeof(hi),
		.dev_id = dev_id,
		.data_len = sizeof(vtd),
		.data_uptr = (uintptr_t)&vtd,
	};
	int ret = sys__iommu_get_hw_info(ifd->fd, &hi);

	if (ret < 0)
		return ret;
	memset(info, 0, sizeof(*info));
	info->type = hi.out_data_type;
	info->capabilities = hi.out_capabilities;
	if (hi.out_data_type == IOMMU_HW_INFO_TYPE_INTEL_VTD) {
		info->cap = vtd.cap_reg;
		info->ecap = vtd.ecap_reg;
		info->flags = vtd.flags;
	}
	return 0;
}

static int hwpt_alloc(struct iommufd *ifd, struct iommu_hwpt_alloc *a, uint32_t *hwpt_id)
{
	int ret = sys__iommu_hwpt_alloc(ifd->fd, a);

	if (ret < 0)
		return ret;
	*hwpt_id = a->out_hwpt_id;
	return 0;
}

int iommufd__alloc_nest_parent(struct iommufd *ifd, uint32_t dev_id, uint32_t *hwpt_id)
{
	struct iommu_hwpt_alloc a = {
		.size = sizeof(a),
		.flags = IOMMU_HWPT_ALLOC_NEST_PARENT,
		.dev_id = dev_id,
		.pt_id = ifd->ioas_id,
		.data_type = IOMMU_HWPT_DATA_NONE,
	};

	return hwpt_alloc(ifd, &a, hwpt_id);
}

int iommufd__alloc_vtd_s1(struct iommufd *ifd, uint32_t dev_id, uint32_t parent_id,
			  const struct iommufd_vtd_s1 *s1, uint32_t *hwpt_id)
{
	struct iommu_hwpt_vtd_s1 data = {
		.flags = (s1->sre ? IOMMU_VTD_S1_SRE : 0) | (s1->wpe ? IOMMU_VTD_S1_WPE : 0),
		.pgtbl_addr = s1->pgtbl_addr,
		.addr_width = s1->addr_width,
	};
	struct iommu_hwpt_alloc a = {
		.size = sizeof(a),
		.dev_id = dev_id,
		.pt_id = parent_id,
		.data_type = IOMMU_HWPT_DATA_VTD_S1,
		.data_len = sizeof(data),
		.data_uptr = (uintptr_t)&data,
	};

	return hwpt_alloc(ifd, &a, hwpt_id);
}

struct iommu_hwpt_vtd_s1_invalidate iommufd__s1_inv_entry(uint64_t addr, uint64_t npages, bool leaf)
{
	return (struct iommu_hwpt_vtd_s1_invalidate){
		.addr = npages == UINT64_MAX ? 0 : addr,
		.npages = npages,
		.flags = leaf ? IOMMU_VTD_INV_FLAGS_LEAF : 0,
	};
}

int iommufd__invalidate_s1(struct iommufd *ifd, uint32_t hwpt_id, const struct iommu_hwpt_vtd_s1_invalidate *e,
			   uint32_t *num)
{
	struct iommu_hwpt_invalidate inv = {
		.size = sizeof(inv),
		.hwpt_id = hwpt_id,
		.data_uptr = (uintptr_t)e,
		.data_type = IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
		.entry_len = sizeof(*e),
		.entry_num = *num,
	};
	int ret = sys__iommu_hwpt_invalidate(ifd->fd, &inv);

	*num = inv.entry_num;
	return ret < 0 ? ret : 0;
}

int iommufd__destroy(struct iommufd *ifd, uint32_t id)
{
	return sys__iommu_destroy(ifd->fd, id);
}
