#include "vmm/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void bus__init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	pthread_rwlock_init(&bus->lock, NULL);
}

void bus__exit(struct bus *bus)
{
	if (!bus->name)
		return;		/* never initialised, or already torn down */
	free(bus->r);
	bus->r = NULL;
	bus->nr = bus->cap = 0;
	bus->name = NULL;
	pthread_rwlock_destroy(&bus->lock);
}

int bus__register(struct bus *bus, uint64_t base, uint64_t len, bus_io_fn fn, void *opaque, const char *name)
{
	int ret = 0;

	if (!len || base + len - 1 < base)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	for (size_t i = 0; i < bus->nr; i++) {
		if (bus->r[i].base == base && bus->r[i].len == len) {
			ret = -EEXIST;
			goto out;
		}
	}
	if (bus->nr == bus->cap) {
		size_t cap = bus->cap ? bus->cap * 2 : 16;
		struct bus_region *r = realloc(bus->r, cap * sizeof(*r));
		if (!r) {
			ret = -ENOMEM;
			goto out;
		}
		bus->r = r;
		bus->cap = cap;
	}
	bus->r[bus->nr++] = (struct bus_region){ base, len, fn, opaque, name };
out:
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int bus__unregister(struct bus *bus, uint64_t base, void *opaque)
{
	int ret = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	for (size_t i = 0; i < bus->nr; i++) {
		if (bus->r[i].base == base && bus->r[i].opaque == opaque) {
			bus->r[i] = bus->r[--bus->nr];
			ret = 0;
			break;
		}
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

bool bus__access(struct bus *bus, uint64_t addr, void *data, unsigned len, bool is_write)
{
	const struct bus_region *best = NULL;
	struct bus_region hit;

	pthread_rwlock_rdlock(&bus->lock);
	for (size_t i = 0; i < bus->nr; i++) {
		const struct bus_region *r = &bus->r[i];
		if (addr - r->base < r->len && (!best || r->len < best->len))
			best = r;
	}
	if (best)
		hit = *best;
	pthread_rwlock_unlock(&bus->lock);
	/*
	 * The handler runs without the bus lock so that it may move BARs; a region unregistered meanwhile
	 * is still safe to call because devices outlive the bus.
	 */
	if (!best) {
		if (!is_write)
			memset(data, 0xff, len);
		return false;
	}
	hit.fn(hit.opaque, addr - hit.base, data, len, is_write);
	return true;
}
