/*
 * DMA of a passthrough function: what the host IOMMU does with the device's requests.
 *
 * --viommu off: the device is attached to the machine's IOAS, where all guest RAM is mapped at its guest
 * physical address.
 *
 * --viommu flts (design notes §5.3, §6.3): the device is attached to a nesting-parent HWPT allocated on
 * that IOAS as soon as it is bound, before its host IOMMU description exists; a host that cannot nest
 * fails right there (EOPNOTSUPP), and the vIOMMU's own check then names the reason. Once the function
 * has its requester ID, the description is handed to the vIOMMU (vtd__set_host_iommu_device), which
 * checks the host and from then on reports the guest's RID_PASID entry:
 *   translation off, or PGTT = pass-through -> the parent (guest physical = IOVA);
 *   PGTT = first-stage -> a VT-d stage-1 HWPT on the guest's FSPTPTR, nested on the parent (attach
 *                         replaces the old one without a window; the old one is destroyed after);
 *   no valid entry     -> detached: the host blocks the device's DMA.
 * PASID-based IOTLB invalidations of the entry's (DID, PASID) go to the stage-1 HWPT
 * (IOMMU_HWPT_INVALIDATE), those of one queued-invalidation run in one call (up to VFIO_INV_BATCH
 * entries; a run's "everything" replaces what it held). Caching mode is not needed: the host hardware walks the guest's tables
 * itself and, like the emulated unit, caches no not-present entries. Faults of the host's first-stage
 * walk are not reported to the guest (no iommufd fault path for VT-d nesting yet; they show in the
 * host's log).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/vfio/vfio-priv.h"
#include "vmm/log.h"
#include "vmm/sys.h"
#include "vmm/vm.h"

#define PREFIX "host IOMMU incompatible with --viommu flts: "

static int attach(struct vfio_pci *vp, uint32_t pt)
{
	int ret;

	if (vp->attached == pt)
		return 0;
	ret = vfio__attach(&vp->dev, pt);
	if (!ret)
		vp->attached = pt;
	return ret;
}

static void host_iommu_of(struct vfio_pci *vp, struct vtd_host_iommu *h)
{
	*h = (struct vtd_host_iommu){
		.backend = VTD_HOST_BACKEND_IOMMUFD,
		.type = vp->hw.type,
		.cap = vp->hw.cap,
		.ecap = vp->hw.ecap,
	};
}

/* After the attach (design notes §5.3 steps 8-10): the host's usable IOVA ranges, then guest RAM. */
static int map_ram(struct vfio_pci *vp, char *err, size_t n)
{
	struct vfio_host *h = vp->host;
	uint64_t s, e;
	int ret;

	if (h->iommufd.ram_mapped)
		return 0;
	ret = iommufd__check_ram(&h->iommufd, &h->vm->mem, &s, &e);
	if (ret == -EADDRNOTAVAIL) {
		snprintf(err, n, "vfio %s: guest RAM %#llx-%#llx is not all usable for DMA: the host IOMMU reserves "
			 "part of it (IOMMU_IOAS_IOVA_RANGES; an RMRR, say): try another --mem", vp->dev.bdf,
			 (unsigned long long)s, (unsigned long long)e);
		return ret;
	}
	if (ret == 0)
		ret = iommufd__map_ram(&h->iommufd, &h->vm->mem);
	if (ret) {
		/* iommufd pins what it maps and counts it against RLIMIT_MEMLOCK unless CAP_IPC_LOCK. */
		snprintf(err, n, "vfio %s: mapping guest RAM for DMA: %s: %s%s", vp->dev.bdf, sys__last_ioctl(),
			 strerror(-ret), ret == -ENOMEM ? " (guest RAM is pinned: raise the locked-memory limit, "
							  "ulimit -l, or run with CAP_IPC_LOCK)" : "");
	}
	return ret;
}

int vfio_dma__attach(struct vfio_pci *vp, char *err, size_t n)
{
	struct vfio_host *h = vp->host;
	struct iommufd *ifd = &h->iommufd;
	const char *bdf = vp->dev.bdf;
	int ret;

	if (!h->vtd) {
		ret = attach(vp, ifd->ioas_id);
		if (ret) {
			snprintf(err, n, "vfio %s: VFIO_DEVICE_ATTACH_IOMMUFD_PT (IOAS): %s", bdf, strerror(-ret));
			return ret;
		}
		return map_ram(vp, err, n);
	}
	ret = iommufd__alloc_nest_parent(ifd, vp->dev.dev_id, &vp->parent_hwpt);
	if (ret) {
		struct vtd_host_iommu hi;
		char why[200];

		/* Say why, with the vIOMMU's check, when the host's description tells. */
		if (iommufd__hw_info(ifd, vp->dev.dev_id, &vp->hw) == 0) {
			host_iommu_of(vp, &hi);
			if (vtd__check_host_iommu(h->vtd, &hi, why, sizeof(why))) {
				snprintf(err, n, "vfio %s: " PREFIX "%s; IOMMU_HWPT_ALLOC(NEST_PARENT): %s", bdf, why,
					 strerror(-ret));
				return ret;
			}
		}
		snprintf(err, n, "vfio %s: " PREFIX "no nested translation (IOMMU_HWPT_ALLOC(NEST_PARENT): %s)", bdf,
			 strerror(-ret));
		vp->parent_hwpt = 0;
		return ret;
	}
	ret = attach(vp, vp->parent_hwpt);
	if (ret) {
		snprintf(err, n, "vfio %s: VFIO_DEVICE_ATTACH_IOMMUFD_PT (nesting parent): %s", bdf, strerror(-ret));
		return ret;
	}
	/* -v: the order of the seed (design notes §6.3), which the lab's nesting check reads. */
	pr_info("vfio %s: nesting parent HWPT %u allocated and attached", bdf, vp->parent_hwpt);
	return map_ram(vp, err, n);
}

static int bind_first_stage(struct vfio_pci *vp, const struct vtd_binding *b)
{
	struct iommufd *ifd = &vp->host->iommufd;
	struct iommufd_vtd_s1 s1 = {
		.pgtbl_addr = b->fsptptr, .addr_width = b->addr_width, .sre = b->sre, .wpe = b->wpe,
	};
	uint32_t old = vp->s1_hwpt, id;
	int ret;

	ret = iommufd__alloc_vtd_s1(ifd, vp->dev.dev_id, vp->parent_hwpt, &s1, &id);
	if (!ret) {
		ret = attach(vp, id);
		if (ret)
			iommufd__destroy(ifd, id);
	}
	if (ret) {
		/* Retried at each PASID-cache flush: said once until it works again (a guest could repeat it). */
		if (!vp->bind_failed)
			pr_err("vfio %s: cannot nest the guest's first-stage tables at %#llx (DID %u): %s: %s; "
			       "the device's DMA is blocked", vp->dev.bdf, (unsigned long long)b->fsptptr, b->did,
			       sys__last_ioctl(), strerror(-ret));
		vp->bind_failed = true;
		if (!vfio__detach(&vp->dev)) {
			vp->attached = 0;
			id = 0;
		} else {
			id = old;	/* still attached to the old one: keep it (and its invalidations) */
		}
	}
	vp->s1_hwpt = id;
	if (old && old != id)
		iommufd__destroy(ifd, old);
	if (!ret)
		vp->bind_failed = false;
	return ret;
}

/* vIOMMU callback (its lock held, on the vCPU that programs it). */
static void iotlb_flush(void *opaque);

static int binding_changed(void *opaque, const struct vtd_binding *b)
{
	struct vfio_pci *vp = opaque;
	struct iommufd *ifd = &vp->host->iommufd;
	int ret = 0;

	iotlb_flush(vp);	/* held invalidations are for the stage-1 HWPT this may replace */
	switch (b->kind) {
	case VTD_BIND_FIRST_STAGE:
		return bind_first_stage(vp, b);
	case VTD_BIND_UNTRANSLATED:
	case VTD_BIND_PASSTHROUGH:
		ret = attach(vp, vp->parent_hwpt);
		break;
	case VTD_BIND_BLOCKED:
		if (vp->attached && !(ret = vfio__detach(&vp->dev)))
			vp->attached = 0;
		break;
	}
	if (ret)
		pr_err("vfio %s: %s: %s", vp->dev.bdf, sys__last_ioctl(), strerror(-ret));
	if (vp->s1_hwpt && vp->attached != vp->s1_hwpt) {
		iommufd__destroy(ifd, vp->s1_hwpt);
		vp->s1_hwpt = 0;
	}
	return ret;
}

/*
 * Send the held invalidations to the stage-1 HWPT in one IOMMU_HWPT_INVALIDATE. The kernel stops at
 * the first entry it refuses and says how many it processed: that entry is logged and the ones after
 * it are sent again, so one refusal loses no other invalidation. Each round moves past one entry.
 */
static void iotlb_flush(void *opaque)
{
	struct vfio_pci *vp = opaque;
	unsigned i = 0, n = vp->nr_inv;

	vp->nr_inv = 0;
	while (i < n && vp->s1_hwpt) {
		uint32_t num = n - i;
		int ret = iommufd__invalidate_s1(&vp->host->iommufd, vp->s1_hwpt, &vp->inv[i], &num);
		const struct iommu_hwpt_vtd_s1_invalidate *e;

		if (!ret && num == n - i)
			return;
		if (!ret)
			ret = -EIO;	/* fewer processed without an error: what the kernel never does */
		if (num >= n - i) {
			pr_err("vfio %s: invalidating the host's first-stage cache (%u entries): %s", vp->dev.bdf,
			       n - i, strerror(-ret));
			return;
		}
		e = &vp->inv[i + num];
		if (e->npages == UINT64_MAX)
			pr_err("vfio %s: invalidating the host's first-stage cache (all of it, entry %u of %u): %s",
			       vp->dev.bdf, i + num + 1, n, strerror(-ret));
		else
			pr_err("vfio %s: invalidating the host's first-stage cache (%#llx + %llu pages, entry %u of %u): %s",
			       vp->dev.bdf, (unsigned long long)e->addr, (unsigned long long)e->npages, i + num + 1,
			       n, strerror(-ret));
		i += num + 1;
	}
}

/* Held until iotlb_flush(): the unit calls it before the guest's wait descriptor completes. */
static void iotlb_invalidate(void *opaque, uint16_t did, uint32_t pasid, uint64_t addr, uint64_t npages, bool leaf)
{
	struct vfio_pci *vp = opaque;

	if (!vp->s1_hwpt)
		return;
	if (npages == UINT64_MAX)
		vp->nr_inv = 0;		/* everything: what was held is covered */
	else if (vp->nr_inv && vp->inv[vp->nr_inv - 1].npages == UINT64_MAX)
		return;			/* ...and so is what comes after it in the batch */
	if (vp->nr_inv == VFIO_INV_BATCH)
		iotlb_flush(vp);
	vp->inv[vp->nr_inv++] = iommufd__s1_inv_entry(addr, npages, leaf);
}

static const struct vtd_dev_ops vfio_vtd_ops = {
	.binding_changed = binding_changed,
	.iotlb_invalidate = iotlb_invalidate,
	.iotlb_flush = iotlb_flush,
};

int vfio_dma__join_viommu(struct vfio_pci *vp, char *err, size_t n)
{
	struct vtd *vtd = vp->host->vtd;
	struct vtd_host_iommu hi;
	char why[200];
	int ret;

	if (!vtd)
		return 0;
	/* The host IOMMU device object: created after the attach, as nesting needs the HWPT ids. */
	ret = iommufd__hw_info(&vp->host->iommufd, vp->dev.dev_id, &vp->hw);
	if (ret) {
		snprintf(err, n, "vfio %s: IOMMU_GET_HW_INFO: %s", vp->dev.bdf, strerror(-ret));
		return ret;
	}
	host_iommu_of(vp, &hi);
	ret = vtd__set_host_iommu_device(vtd, (uint16_t)vp->pci.bus << 8 | vp->pci.devfn, &hi, &vfio_vtd_ops, vp,
					 why, sizeof(why));
	if (ret) {
		snprintf(err, n, "vfio %s: %s%s", vp->dev.bdf, ret == -EINVAL ? PREFIX : "", why);
		return ret;
	}
	vp->watched = true;
	pr_info("vfio %s: host IOMMU device handed to the vIOMMU: its checks passed (VT-d CAP %#llx ECAP %#llx)",
		vp->dev.bdf, (unsigned long long)vp->hw.cap, (unsigned long long)vp->hw.ecap);
	return 0;
}

void vfio_dma__detach(struct vfio_pci *vp)
{
	struct iommufd *ifd = &vp->host->iommufd;

	if (vp->watched)
		vtd__unwatch_device(vp->host->vtd, (uint16_t)vp->pci.bus << 8 | vp->pci.devfn);
	vp->watched = false;
	if (vp->attached && !vfio__detach(&vp->dev))
		vp->attached = 0;
	if (vp->s1_hwpt)
		iommufd__destroy(ifd, vp->s1_hwpt);
	if (vp->parent_hwpt)
		iommufd__destroy(ifd, vp->parent_hwpt);
	vp->s1_hwpt = vp->parent_hwpt = 0;
}
