/*
 * BARs of a passthrough function: the guest's BARs mirror the host BARs' types and sizes. Accesses are
 * forwarded to the host BAR through the VFIO region (pread/pwrite) by default; the parts VFIO lets us
 * mmap become KVM memslots wherever the guest places the BAR, so the guest reaches the device's
 * registers without an exit. The pages of the host's MSI-X table and PBA are never mapped: VFIO may
 * offer them (VFIO_REGION_INFO_CAP_MSIX_MAPPABLE), but the guest programs minivmm's own MSI-X
 * capability, and direct writes to the physical table would let it aim the device's messages anywhere
 * (QEMU and kvmtool keep them trapped too; VFIO drops trapped writes there).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/vfio/vfio-priv.h"
#include "vmm/log.h"
#include "vmm/util.h"
#include "vmm/vm.h"

/* Guest access to a trapped part of a BAR: straight to the host BAR (doorbells, registers). */
static void bar_io(void *opaque, uint64_t off, void *data, unsigned len, bool is_write)
{
	struct vfio_bar *b = opaque;
	int ret;

	if (is_write)
		ret = vfio__region_write(&b->vp->dev, b->index, off, data, len);
	else
		ret = vfio__region_read(&b->vp->dev, b->index, off, data, len);
	if (ret) {
		pr_debug("vfio %s: BAR %u %s at %#llx (%u bytes): %s", b->vp->dev.bdf, b->index,
			 is_write ? "write" : "read", (unsigned long long)off, len, strerror(-ret));
		if (!is_write)
			memset(data, 0xff, len);
	}
}

/* Remove [start, end) from region @r's mmap areas (splitting one if needed; pieces past the limit stay trapped). */
static void mmap_exclude(struct vfio_region *r, uint64_t start, uint64_t end)
{
	typeof(r->mmap[0]) keep[2 * VFIO_MAX_MMAP_AREAS];
	unsigned n = 0;

	for (unsigned a = 0; a < r->nr_mmap; a++) {
		uint64_t s = r->mmap[a].offset, e = s + r->mmap[a].size;

		if (e <= start || s >= end) {
			keep[n++] = r->mmap[a];
			continue;
		}
		if (s < start)
			keep[n++] = (typeof(keep[0])){ s, start - s };
		if (e > end)
			keep[n++] = (typeof(keep[0])){ end, e - end };
	}
	r->nr_mmap = n < VFIO_MAX_MMAP_AREAS ? n : VFIO_MAX_MMAP_AREAS;
	memcpy(r->mmap, keep, r->nr_mmap * sizeof(keep[0]));
}

/* Keep the host MSI-X table and PBA pages out of the mmap areas (bounded walk of the host's capabilities). */
static void exclude_msix(struct vfio_pci *vp)
{
	uint64_t page = sysconf(_SC_PAGESIZE);
	unsigned pos, n;

	if (!(vfio_pci__host_cfg(vp, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return;
	pos = vfio_pci__host_cfg(vp, PCI_CAPABILITY_LIST, 1) & ~3u;
	for (n = 0; pos >= PCI_CAP_START && n < 48; n++, pos = vfio_pci__host_cfg(vp, pos + 1, 1) & ~3u) {
		uint32_t table, pba, nvec;

		if (vfio_pci__host_cfg(vp, pos, 1) != PCI_CAP_ID_MSIX)
			continue;
		nvec = (vfio_pci__host_cfg(vp, pos + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE) + 1;
		table = vfio_pci__host_cfg(vp, pos + PCI_MSIX_TABLE, 4);
		pba = vfio_pci__host_cfg(vp, pos + PCI_MSIX_PBA, 4);
		if ((table & PCI_MSIX_TABLE_BIR) < PCI_STD_NUM_BARS)
			mmap_exclude(&vp->dev.region[table & PCI_MSIX_TABLE_BIR], (table & ~7u) & ~(page - 1),
				     ALIGN_UP((uint64_t)(table & ~7u) + nvec * PCI_MSIX_ENTRY_SIZE, page));
		if ((pba & PCI_MSIX_PBA_BIR) < PCI_STD_NUM_BARS)
			mmap_exclude(&vp->dev.region[pba & PCI_MSIX_PBA_BIR], (pba & ~7u) & ~(page - 1),
				     ALIGN_UP((uint64_t)(pba & ~7u) + ALIGN_UP(nvec, 64) / 8, page));
		return;
	}
}

int vfio_bar__add_all(struct vfio_pci *vp, char *err, size_t n)
{
	int free_slot = -ENOSPC;

	exclude_msix(vp);
	for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
		uint64_t size = vp->dev.region[i].size;
		uint32_t reg = vfio_pci__host_cfg(vp, PCI_BASE_ADDRESS_0 + 4 * i, 4);
		enum pci_bar_type type;
		int ret;

		if (!size) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (reg & PCI_BASE_ADDRESS_SPACE_IO)
			type = PCI_BAR_IO;
		else if ((reg & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64)
			type = PCI_BAR_MEM64;
		else
			type = PCI_BAR_MEM32;
		if (type != PCI_BAR_IO && size < 16)
			size = 16;	/* the smallest memory BAR; accesses past the region fail and read ~0 */
		vp->bar[i] = (struct vfio_bar){ .vp = vp, .index = i, .slot = { -1, -1, -1, -1 } };
		ret = pci__add_bar(&vp->pci, i, type, size, !!(reg & PCI_BASE_ADDRESS_MEM_PREFETCH), bar_io,
				   &vp->bar[i]);
		if (ret)
			return errmsg(err, n, ret, "vfio %s: BAR %u (%s, %llu bytes) cannot be mirrored: %s", vp->dev.bdf,
				      i, type == PCI_BAR_IO ? "I/O" : "memory", (unsigned long long)size, strerror(-ret));
		for (unsigned a = 0; type != PCI_BAR_IO && a < vp->dev.region[i].nr_mmap; a++) {
			void *p = vfio__region_mmap(&vp->dev, i, a);

			if (p == MAP_FAILED)
				pr_debug("vfio %s: BAR %u area %u cannot be mmap'd (%s): trapped", vp->dev.bdf, i, a,
					 strerror(errno));
			else
				vp->bar[i].hva[a] = p;
		}
		if (type == PCI_BAR_MEM64)
			i++;
	}
	return free_slot;
}

/* bar_lock held. */
static void unmap_slots(struct vfio_pci *vp, struct vfio_bar *b)
{
	for (unsigned a = 0; a < VFIO_MAX_MMAP_AREAS; a++) {
		if (b->slot[a] >= 0)
			vm__del_slot(vp->pci.vm, b->slot[a]);
		b->slot[a] = -1;
	}
	b->slots_at = 0;
}

void vfio_bar__sync(struct vfio_pci *vp)
{
	long page = sysconf(_SC_PAGESIZE);

	for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
		struct vfio_bar *b = &vp->bar[i];
		uint64_t addr = b->vp ? pci__bar_addr(&vp->pci, i) : 0;

		if (addr == b->slots_at || vp->pci.bar[i].type == PCI_BAR_IO)
			continue;
		unmap_slots(vp, b);
		if (!addr)
			continue;
		for (unsigned a = 0; a < vp->dev.region[i].nr_mmap; a++) {
			uint64_t gpa = addr + vp->dev.region[i].mmap[a].offset, size = vp->dev.region[i].mmap[a].size;
			int slot;

			if (!b->hva[a] || (gpa | size) & (page - 1))
				continue;	/* stays trapped */
			slot = vm__add_slot(vp->pci.vm, gpa, size, b->hva[a]);
			/* The guest chooses where BARs go (over RAM, say): say it once, not at every move. */
			if (slot < 0 && !b->warned)
				pr_warn("vfio %s: BAR %u at %#llx stays trapped: %s", vp->dev.bdf, i,
					(unsigned long long)gpa, strerror(-slot));
			b->warned |= slot < 0;
			b->slot[a] = slot < 0 ? -1 : slot;
			if (slot >= 0)
				pr_info("vfio %s: BAR %u bytes %#llx-%#llx mapped at %#llx (memslot %d)", vp->dev.bdf, i,
					(unsigned long long)vp->dev.region[i].mmap[a].offset,
					(unsigned long long)(vp->dev.region[i].mmap[a].offset + size - 1),
					(unsigned long long)gpa, slot);
		}
		b->slots_at = addr;
	}
}

void vfio_bar__exit(struct vfio_pci *vp)
{
	for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
		struct vfio_bar *b = &vp->bar[i];

		if (!b->vp)
			continue;
		unmap_slots(vp, b);
		for (unsigned a = 0; a < VFIO_MAX_MMAP_AREAS; a++)
			if (b->hva[a])
				munmap(b->hva[a], vp->dev.region[i].mmap[a].size);
		memset(b, 0, sizeof(*b));
	}
}
