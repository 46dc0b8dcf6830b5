/* Guest RAM: one anonymous mapping per region, below and above the 32-bit PCI hole. */
#ifndef MINIVMM_MEMORY_H
#define MINIVMM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 2

struct mem_region {
	uint64_t gpa;		/* guest physical base */
	uint64_t size;
	uint8_t *hva;		/* host mapping */
};

struct guest_mem {
	struct mem_region r[GUEST_MEM_MAX_REGIONS];
	int nr;
	uint64_t ram_size;	/* total bytes of RAM */
	uint64_t ram_end;	/* highest guest physical address of RAM + 1 */
};

/* Lay out @size bytes of RAM (low part up to LAYOUT_LOWMEM_LIMIT, the rest from 4 GiB) and mmap it. */
int guest_mem__init(struct guest_mem *mem, uint64_t size);
void guest_mem__exit(struct guest_mem *mem);

/*
 * Host pointer for [gpa, gpa+len) if the whole range is RAM inside one region, else NULL.
 * This is the only gpa->hva translation; devices reach it through the DMA interface (vmm/dma.h).
 */
static inline void *guest_mem__hva(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < mem->nr; i++) {
		const struct mem_region *r = &mem->r[i];
		uint64_t off = gpa - r->gpa;
		if (gpa >= r->gpa && off < r->size && len <= r->size - off)
			return r->hva + off;
	}
	return NULL;
}

/*
 * Host pointer for @gpa and, in *@avail, the bytes of RAM from there to the end of its region; NULL and
 * 0 if @gpa is not RAM. One scan of the regions: the DMA path uses it for every page.
 */
static inline void *guest_mem__hva_contig(const struct guest_mem *mem, uint64_t gpa, uint64_t *avail)
{
	for (int i = 0; i < mem->nr; i++) {
		const struct mem_region *r = &mem->r[i];
		uint64_t off = gpa - r->gpa;
		if (gpa >= r->gpa && off < r->size) {
			*avail = r->size - off;
			return r->hva + off;
		}
	}
	*avail = 0;
	return NULL;
}

/* Bytes of RAM available from @gpa to the end of its region (0 if @gpa is not RAM). */
uint64_t guest_mem__contig(const struct guest_mem *mem, uint64_t gpa);

#endif
