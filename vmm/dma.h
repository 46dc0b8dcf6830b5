/*
 * The DMA interface: the one way device models reach guest memory.
 *
 * Each PCI function owns a struct dma_as (its requester ID's address space). With the vIOMMU off, a DMA
 * address is a guest physical address and is only bounds-checked against RAM. With the vIOMMU on, the
 * address is an IOVA and every access is translated by the remapping unit with the permission of its
 * direction, a contiguous run of pages at a time where the translator offers translate_run(); a translation fault is recorded by the vIOMMU (fault registers, fault
 * event) and the access fails with -EFAULT. MSI writes do not go through here (devices signal MSIs
 * with irq__send_msi / irqfd).
 */
#ifndef MINIVMM_DMA_H
#define MINIVMM_DMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guest_mem;

/* Direction from the device's point of view. */
enum dma_dir {
	DMA_READ = 1,	/* device reads guest memory (memory -> device) */
	DMA_WRITE = 2,	/* device writes guest memory (device -> memory) */
};

/* Per-request attributes (VT-d: PASID TLP prefix and privileged-mode request). */
struct dma_attrs {
	uint32_t pasid;
	bool has_pasid;
	bool priv;	/* supervisor request (VT-d: needs SRE in the PASID entry) */
};

/*
 * A translator (the vIOMMU). translate() maps @iova for requester @sid into a guest physical address;
 * *@len_out is how many bytes from @iova share that translation (to the end of the page). Returns 0, or
 * -EFAULT after recording the fault.
 */
struct dma_translator {
	int (*translate)(void *opaque, uint16_t sid, const struct dma_attrs *attrs, uint64_t iova,
			 enum dma_dir dir, uint64_t *gpa_out, uint64_t *len_out);
	/*
	 * Optional: as translate(), but *@len_out may reach past the page, up to @want bytes, where the
	 * following pages translate to the contiguous guest-physical range (a long DMA then costs one call
	 * per run, not per page). Same faults as translate(): only the first page can fault.
	 */
	int (*translate_run)(void *opaque, uint16_t sid, const struct dma_attrs *attrs, uint64_t iova,
			     uint64_t want, enum dma_dir dir, uint64_t *gpa_out, uint64_t *len_out);
	void *opaque;
};

struct dma_as {
	struct guest_mem *mem;
	const struct dma_translator *iommu;	/* NULL: untranslated */
	uint16_t sid;				/* requester ID: bus << 8 | devfn */
};

void dma__init_as(struct dma_as *as, struct guest_mem *mem, const struct dma_translator *iommu, uint16_t sid);

/* Copy between guest memory and @buf. 0, or -EFAULT (nothing beyond the faulting page is touched). */
int dma__rw(struct dma_as *as, const struct dma_attrs *attrs, uint64_t addr, void *buf, size_t len,
	    enum dma_dir dir);
static inline int dma__read(struct dma_as *as, uint64_t addr, void *buf, size_t len)
{
	return dma__rw(as, NULL, addr, buf, len, DMA_READ);
}
static inline int dma__write(struct dma_as *as, uint64_t addr, const void *buf, size_t len)
{
	return dma__rw(as, NULL, addr, (void *)buf, len, DMA_WRITE);
}

/*
 * Zero-copy access: host pointer to guest memory at @addr, valid for *@contig bytes (<= @len; the
 * translation is contiguous that far). NULL with *@contig = 0 on a fault. The pointer stays valid while
 * the guest does not change its mappings; callers use it for one request only.
 */
void *dma__map(struct dma_as *as, const struct dma_attrs *attrs, uint64_t addr, size_t len, enum dma_dir dir,
	       size_t *contig);

#endif
