/*
 * Tier 1 helper for the PCI unit tests (test_pci.c, test_pci_irq.c): a fake VM with a host bridge, a
 * test function whose BAR handler records the last access, and config/MMIO access through the buses.
 */
#ifndef MINIVMM_TESTS_PCI_TEST_H
#define MINIVMM_TESTS_PCI_TEST_H

#include <errno.h>
#include <string.h>

#include "check_main.h"
#include "fake_kvm.h"
#include "devices/pci-host.h"
#include "devices/pci.h"
#include "vmm/layout.h"
#include "vmm/util.h"
#include "vmm/vm.h"

static struct vm *vm;
static struct pci_host *host;

/* A test function with a handler that records the last access. */
struct tdev {
	struct pci_device pci;
	unsigned calls;
	uint64_t off;
	unsigned len;
	bool write;
	uint64_t val;
	unsigned vec_changed;
};

static inline void tdev_io(void *opaque, uint64_t off, void *data, unsigned len, bool is_write)
{
	struct tdev *t = opaque;

	t->calls++;
	t->off = off;
	t->len = len;
	t->write = is_write;
	if (is_write) {
		t->val = 0;
		memcpy(&t->val, data, len);
	} else {
		memset(data, 0x5a, len);
	}
}

static inline void tdev_vec_changed(struct pci_device *dev, unsigned vector)
{
	struct tdev *t = container_of(dev, struct tdev, pci);

	t->vec_changed++;
}

static const struct pci_device_ops tdev_ops = { .vector_changed = tdev_vec_changed };

static struct tdev devs[4];

static inline struct tdev *tdev_new(int i, uint16_t device)
{
	struct tdev *t = &devs[i];

	pci__init_dev(&t->pci, "tdev", 0x1af4, device, 0x020000, 3);
	t->pci.ops = &tdev_ops;
	return t;
}

static inline void setup(void)
{
	memset(devs, 0, sizeof(devs));
	vm = fake_vm__new(16 * MiB);
	host = pci_host__init(vm);
	ck_assert_ptr_nonnull(host);
}

static inline void teardown(void)
{
	for (int i = 0; i < 4; i++)
		if (devs[i].pci.name)
			pci__exit_dev(&devs[i].pci);
	pci_host__exit(host);
	fake_vm__free(vm);
}

/* ---- config access helpers ---- */

static inline uint32_t cf8_read(unsigned bus, unsigned devfn, unsigned reg, unsigned len)
{
	uint32_t a = 0x80000000u | bus << 16 | devfn << 8 | (reg & 0xfc), v = 0;

	ck_assert(bus__access(&vm->pio, PORT_PCI_CONFIG_ADDR, &a, 4, true));
	ck_assert(bus__access(&vm->pio, PORT_PCI_CONFIG_DATA + (reg & 3), &v, len, false));
	return v;
}

static inline void cf8_write(unsigned bus, unsigned devfn, unsigned reg, unsigned len, uint32_t v)
{
	uint32_t a = 0x80000000u | bus << 16 | devfn << 8 | (reg & 0xfc);

	ck_assert(bus__access(&vm->pio, PORT_PCI_CONFIG_ADDR, &a, 4, true));
	ck_assert(bus__access(&vm->pio, PORT_PCI_CONFIG_DATA + (reg & 3), &v, len, true));
}

static inline uint64_t ecam_addr(unsigned bus, unsigned devfn, unsigned reg)
{
	return LAYOUT_PCI_ECAM_BASE + ((uint64_t)bus << 20) + (devfn << 12) + reg;
}

static inline uint32_t ecam_read(unsigned bus, unsigned devfn, unsigned reg, unsigned len)
{
	uint32_t v = 0;

	ck_assert(bus__access(&vm->mmio, ecam_addr(bus, devfn, reg), &v, len, false));
	return v;
}

static inline void ecam_write(unsigned bus, unsigned devfn, unsigned reg, unsigned len, uint32_t v)
{
	ck_assert(bus__access(&vm->mmio, ecam_addr(bus, devfn, reg), &v, len, true));
}

static inline uint32_t mmio_read32(uint64_t addr, bool *hit)
{
	uint32_t v = 0;

	*hit = bus__access(&vm->mmio, addr, &v, 4, false);
	return v;
}

static inline void mmio_write32(uint64_t addr, uint32_t v)
{
	ck_assert(bus__access(&vm->mmio, addr, &v, 4, true));
}

#endif
