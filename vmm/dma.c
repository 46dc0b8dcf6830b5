#include "vmm/dma.h"

#include <errno.h>
#include <string.h>

#include "vmm/memory.h"
#include "vmm/util.h"

static const struct dma_attrs no_attrs;

void dma__init_as(struct dma_as *as, struct guest_mem *mem, const struct dma_translator *iommu, uint16_t sid)
{
	as->mem = mem;
	as->iommu = iommu;
	as->sid = sid;
}

void *dma__map(struct dma_as *as, const struct dma_attrs *attrs, uint64_t addr, size_t len, enum dma_dir dir,
	       size_t *contig)
{
	uint64_t gpa = addr, span, ram;
	uint8_t *hva;

	*contig = 0;
	if (!len)
		return NULL;
	if (as->iommu && as->iommu->translate_run) {
		if (as->iommu->translate_run(as->iommu->opaque, as->sid, attrs ? attrs : &no_attrs, addr, len, dir,
					     &gpa, &span))
			return NULL;
	} else if (as->iommu) {
		if (as->iommu->translate(as->iommu->opaque, as->sid, attrs ? attrs : &no_attrs, addr, dir, &gpa,
					 &span))
			return NULL;
	} else {
		span = len;
	}
	hva = guest_mem__hva_contig(as->mem, gpa, &ram);
	span = MIN(MIN(span, ram), (uint64_t)len);
	if (!hva || !span)
		return NULL;
	*contig = span;
	return hva;
}

int dma__rw(struct dma_as *as, const struct dma_attrs *attrs, uint64_t addr, void *buf, size_t len,
	    enum dma_dir dir)
{
	uint8_t *p = buf;

	while (len) {
		size_t n;
		uint8_t *hva = dma__map(as, attrs, addr, len, dir, &n);

		if (!hva)
			return -EFAULT;
		if (dir == DMA_WRITE)
			memcpy(hva, p, n);
		else
			memcpy(p, hva, n);
		p += n;
		addr += n;
		len -= n;
	}
	return 0;
}
