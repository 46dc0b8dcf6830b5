/*
 * PIO and MMIO buses. Devices register an address range and a handler; a vCPU exit is dispatched to the
 * smallest registered range that contains the access's first byte (so the 1-byte reset register at 0xCF9
 * can sit inside the 4-byte PCI config-address register at 0xCF8). Registration may happen while vCPUs
 * run (PCI BAR moves): the bus is guarded by a reader/writer lock.
 */
#ifndef MINIVMM_BUS_H
#define MINIVMM_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* @offset is relative to the registered base. @data holds @len bytes (1, 2, 4 or 8), little-endian. */
typedef void (*bus_io_fn)(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write);

struct bus_region {
	uint64_t base, len;
	bus_io_fn fn;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name;		/* "pio" or "mmio" */
	pthread_rwlock_t lock;
	struct bus_region *r;
	size_t nr, cap;
};

void bus__init(struct bus *bus, const char *name);
void bus__exit(struct bus *bus);
/* -EEXIST if exactly this range is taken, -EINVAL for an empty or wrapping range. */
int bus__register(struct bus *bus, uint64_t base, uint64_t len, bus_io_fn fn, void *opaque, const char *name);
/* Remove the region at @base owned by @opaque. -ENOENT if there is none. */
int bus__unregister(struct bus *bus, uint64_t base, void *opaque);
/* Dispatch an access. Returns false if nothing is there (reads then return all-ones). */
bool bus__access(struct bus *bus, uint64_t addr, void *data, unsigned len, bool is_write);

#endif
