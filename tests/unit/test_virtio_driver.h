/*
 * Tier 1 helper for the virtio unit tests (test_virtio_pci.c, test_virtio_net.c, test_virtio_devices.c):
 * a fake VM with a PCI host, and a small virtio driver that talks to a function through the buses as a
 * guest would (ECAM, BAR 4, MSI-X table) and builds split rings in guest RAM. Header-only, like
 * pci_test.h.
 */
#ifndef MINIVMM_TESTS_VIRTIO_DRIVER_H
#define MINIVMM_TESTS_VIRTIO_DRIVER_H

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <string.h>
#include <time.h>

#include "check_main.h"
#include "fake_kvm.h"
#include "devices/pci-host.h"
#include "devices/virtio/virtio.h"
#include "vmm/layout.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define TD_RAM		(16 * MiB)
#define TD_RING(q)	(0x10000ULL + 0x4000ULL * (q))	/* desc +0, avail +0x1000, used +0x2000 */
#define TD_BUF		0x100000ULL

static struct vm *vm;
static struct pci_host *host;

struct tdrv {
	struct pci_device *pci;
	uint64_t bar;		/* BAR 4 */
	uint64_t msix;		/* MSI-X table */
	uint16_t num[VIRTIO_MAX_QUEUES];
	uint16_t avail_idx[VIRTIO_MAX_QUEUES];
	uint16_t used_seen[VIRTIO_MAX_QUEUES];
};

static inline void td_setup_vm(void)
{
	vm = fake_vm__new(TD_RAM);
	host = pci_host__init(vm);
	ck_assert_ptr_nonnull(host);
}

static inline void *td_hva(uint64_t gpa)
{
	void *p = guest_mem__hva(&vm->mem, gpa, 1);

	ck_assert_ptr_nonnull(p);
	return p;
}

static inline uint32_t td_cfg_read(struct tdrv *d, unsigned reg, unsigned len)
{
	uint32_t v = 0;

	bus__access(&vm->mmio, LAYOUT_PCI_ECAM_BASE + ((uint64_t)d->pci->devfn << 12) + reg, &v, len, false);
	return v;
}

static inline void td_cfg_write(struct tdrv *d, unsigned reg, unsigned len, uint32_t v)
{
	bus__access(&vm->mmio, LAYOUT_PCI_ECAM_BASE + ((uint64_t)d->pci->devfn << 12) + reg, &v, len, true);
}

static inline uint64_t td_read(uint64_t addr, unsigned len)
{
	uint64_t v = 0;

	ck_assert(bus__access(&vm->mmio, addr, &v, len, false));
	return v;
}

static inline void td_write(uint64_t addr, unsigned len, uint64_t v)
{
	ck_assert(bus__access(&vm->mmio, addr, &v, len, true));
}

static inline uint64_t td_cc(struct tdrv *d, unsigned off, unsigned len)
{
	return td_read(d->bar + VIRTIO_COMMON_OFF + off, len);
}

static inline void td_cc_write(struct tdrv *d, unsigned off, unsigned len, uint64_t v)
{
	td_write(d->bar + VIRTIO_COMMON_OFF + off, len, v);
}

static inline uint8_t td_status(struct tdrv *d)
{
	return td_cc(d, VIRTIO_PCI_COMMON_STATUS, 1);
}

/* Attach to the function at @devfn after BAR assignment. */
static inline void td_attach(struct tdrv *d, unsigned devfn)
{
	memset(d, 0, sizeof(*d));
	d->pci = pci_host__find(host, 0, devfn);
	ck_assert_ptr_nonnull(d->pci);
	d->bar = pci__bar_addr(d->pci, VIRTIO_BAR);
	d->msix = pci__bar_addr(d->pci, VIRTIO_MSIX_BAR);
	ck_assert_uint_ne(d->bar, 0);
	ck_assert_uint_ne(d->msix, 0);
}

static inline uint64_t td_device_features(struct tdrv *d)
{
	td_cc_write(d, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	uint64_t lo = td_cc(d, VIRTIO_PCI_COMMON_DF, 4);
	td_cc_write(d, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	return lo | td_cc(d, VIRTIO_PCI_COMMON_DF, 4) << 32;
}

/* Reset, ACKNOWLEDGE | DRIVER, @features, FEATURES_OK: true if the device kept FEATURES_OK. */
static inline bool td_negotiate(struct tdrv *d, uint64_t features)
{
	td_cc_write(d, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	ck_assert_uint_eq(td_status(d), 0);
	td_cc_write(d, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	td_cc_write(d, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	td_cc_write(d, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)features);
	td_cc_write(d, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	td_cc_write(d, VIRTIO_PCI_COMMON_GF, 4, features >> 32);
	td_cc_write(d, VIRTIO_PCI_COMMON_STATUS, 1,
		    VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	return td_status(d) & VIRTIO_CONFIG_S_FEATURES_OK;
}

/* Queue @q of @num entries at TD_RING(q), vector @vec, enabled. */
static inline void td_queue(struct tdrv *d, unsigned q, uint16_t num, uint16_t vec)
{
	memset(td_hva(TD_RING(q)), 0, 0x4000);
	td_cc_write(d, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
	td_cc_write(d, VIRTIO_PCI_COMMON_Q_SIZE, 2, num);
	td_cc_write(d, VIRTIO_PCI_COMMON_Q_MSIX, 2, vec);
	td_cc_write(d, VIRTIO_PCI_COMMON_Q_DESCLO, 8, TD_RING(q));
	td_cc_write(d, VIRTIO_PCI_COMMON_Q_AVAILLO, 8, TD_RING(q) + 0x1000);
	td_cc_write(d, VIRTIO_PCI_COMMON_Q_USEDLO, 8, TD_RING(q) + 0x2000);
	td_cc_write(d, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	d->num[q] = num;
	d->avail_idx[q] = d->used_seen[q] = 0;
}

static inline void td_driver_ok(struct tdrv *d)
{
	td_cc_write(d, VIRTIO_PCI_COMMON_STATUS, 1, td_status(d) | VIRTIO_CONFIG_S_DRIVER_OK);
}

static inline void td_desc(unsigned q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc desc = { addr, len, flags, next };

	memcpy(td_hva(TD_RING(q) + 16 * i), &desc, sizeof(desc));
}

/* Make @head available on @q and kick it through the notify area (2-byte write). */
static inline void td_publish(struct tdrv *d, unsigned q, uint16_t head, bool kick)
{
	uint16_t *avail = td_hva(TD_RING(q) + 0x1000);

	avail[2 + d->avail_idx[q] % d->num[q]] = head;
	__atomic_store_n(&avail[1], ++d->avail_idx[q], __ATOMIC_RELEASE);
	if (kick)
		td_write(d->bar + VIRTIO_NOTIFY_OFF + VIRTIO_NOTIFY_MULT * q, 2, q);
}

static inline uint16_t td_used_idx(unsigned q)
{
	uint16_t *used = td_hva(TD_RING(q) + 0x2000);

	return __atomic_load_n(&used[1], __ATOMIC_ACQUIRE);
}

static inline bool td_wait(bool (*cond)(void *), void *arg, unsigned ms)
{
	struct timespec ts = { 0, 1000000 };

	for (unsigned i = 0; i < ms; i++) {
		if (cond(arg))
			return true;
		nanosleep(&ts, NULL);
	}
	return cond(arg);
}

struct td_used_wait {
	unsigned q;
	uint16_t idx;
};

static inline bool td_used_reached(void *arg)
{
	struct td_used_wait *w = arg;

	return (uint16_t)(td_used_idx(w->q) - w->idx) < 0x8000;
}

/* Wait for the next used entry of @q (the I/O thread runs asynchronously); its length in *@len. */
static inline bool td_wait_used(struct tdrv *d, unsigned q, uint32_t *id, uint32_t *len)
{
	struct td_used_wait w = { q, d->used_seen[q] + 1 };
	struct vring_used_elem *e;

	if (!td_wait(td_used_reached, &w, 2000))
		return false;
	e = td_hva(TD_RING(q) + 0x2000 + 4 + 8 * (d->used_seen[q] % d->num[q]));
	if (id)
		*id = e->id;
	if (len)
		*len = e->len;
	d->used_seen[q]++;
	return true;
}

static inline bool td_needs_reset(void *arg)
{
	return td_status(arg) & VIRTIO_CONFIG_S_NEEDS_RESET;
}

/* MSI-X entry @v: message (0xfee00000 | v << 12, 0x40 + v), unmasked or masked; MSI-X enabled. */
static inline void td_msix(struct tdrv *d, unsigned v, bool masked)
{
	unsigned cap = d->pci->msix_cap;

	td_write(d->msix + 16 * v, 4, 0xfee00000u | v << 12);
	td_write(d->msix + 16 * v + 4, 4, 0);
	td_write(d->msix + 16 * v + 8, 4, 0x40 + v);
	td_write(d->msix + 16 * v + 12, 4, masked);
	td_cfg_write(d, cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
}

#endif
