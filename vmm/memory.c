#include "vmm/memory.h"

#include <errno.h>
#include <sys/mman.h>

#include "vmm/layout.h"
#include "vmm/util.h"

static int map_region(struct mem_region *r, uint64_t gpa, uint64_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	/* Transparent huge pages make guest page walks and KVM's own mappings cheaper. */
	madvise(p, size, MADV_HUGEPAGE);
	r->gpa = gpa;
	r->size = size;
	r->hva = p;
	return 0;
}

int guest_mem__init(struct guest_mem *mem, uint64_t size)
{
	uint64_t low = MIN(size, LAYOUT_LOWMEM_LIMIT);
	int ret;

	memset(mem, 0, sizeof(*mem));
	if (size < 2 * MiB || !IS_ALIGNED(size, 4 * KiB))
		return -EINVAL;
	ret = map_region(&mem->r[0], 0, low);
	if (ret)
		return ret;
	mem->nr = 1;
	mem->ram_end = low;
	if (size > low) {
		ret = map_region(&mem->r[1], LAYOUT_HIGHMEM_BASE, size - low);
		if (ret) {
			guest_mem__exit(mem);
			return ret;
		}
		mem->nr = 2;
		mem->ram_end = LAYOUT_HIGHMEM_BASE + size - low;
	}
	mem->ram_size = size;
	return 0;
}

void guest_mem__exit(struct guest_mem *mem)
{
	for (int i = 0; i < mem->nr; i++)
		munmap(mem->r[i].hva, mem->r[i].size);
	mem->nr = 0;
}

uint64_t guest_mem__contig(const struct guest_mem *mem, uint64_t gpa)
{
	for (int i = 0; i < mem->nr; i++) {
		const struct mem_region *r = &mem->r[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r->size - (gpa - r->gpa);
	}
	return 0;
}
