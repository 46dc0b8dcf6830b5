/*
 * Tier 1 helper for the passthrough unit tests (tests/unit/test_vfio*.c): a fake VFIO-cdev + iommufd host
 * (fake_vfio.h) with one device at BDF, in front of a fake machine (fake_kvm.h) with or without the vIOMMU
 * (vtd_testlib.h), in a temporary directory per test case; the teardown checks that every descriptor and
 * HWPT the passthrough took went away. Helpers find the host calls, reach the guest's MMIO space and drive
 * the device's MSI-X table.
 *
 *	tc = vfx__tcase(s, "viommu_off", vfx__setup_off, vfx__stop_clean);	// nothing refused
 *	tcase_add_test(tc, off_sequence);
 *	...
 *	vfx__create_ok();				// vfx.vp, on the bus as vfx.pdev, BARs assigned
 *	int i = EXPECT(IOMMU_IOAS_MAP, 0);		// the first IOAS_MAP: vfx__call(i)->a.map
 *
 * Linked into every unit test binary: it exports vfx and vfx__*() only.
 */
#ifndef MINIVMM_TESTS_VFIO_TESTLIB_H
#define MINIVMM_TESTS_VFIO_TESTLIB_H

#include <check.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tests/unit/fake_vfio.h"
#include "tests/unit/vtd_testlib.h"
#include "devices/pci.h"
#include "devices/vfio/vfio-pci.h"

#define BDF		"0000:01:00.0"
#define DEVFN		PCI_DEVFN(1, 0)		/* the first free slot */
#define SID		DEVFN
#define DID		5
#define MSI_ADDR	0xfee00000ULL

struct vfio_fixture {
	char root[64];			/* the fake host's directory, one per test case */
	struct vm *vm;
	struct pci_host *pci;
	struct vtd_env env;		/* --viommu flts only */
	struct vfio_host *vh;
	struct fake_vfio_dev *hd;	/* the host device */
	struct vfio_pci *vp;
	struct pci_device *pdev;	/* its guest view */
	char err[512];
};

extern struct vfio_fixture vfx;

/* A test case of @s: its own fake host directory (emptied by each test's setup), @setup and @teardown. */
TCase *vfx__tcase(Suite *s, const char *name, void (*setup)(void), void (*teardown)(void));
/* The host with one device at BDF, and a machine: --viommu flts with @opt when @viommu. */
void vfx__start(bool viommu, const struct vtd_options *opt);
void vfx__setup_off(void);		/* vfx__start(false, NULL) */
void vfx__setup_flts(void);		/* vfx__start(true, NULL) */
/* Destroys the device and the host, checking that no descriptor or HWPT is left; then the machine. */
void vfx__stop(void);
/* The same, for tests where the host refuses nothing it is not told to. */
void vfx__stop_clean(void);

/* Create the device at BDF (vfx.vp, vfx.pdev on success; vfx.err); the error code. */
int vfx__create(void);
/* As the machine does: vfio__open(@bdf) on the fake host, then vfio_pci__create(@h) into *@out. */
int vfx__create_on(struct vfio_host *h, const char *bdf, struct vfio_pci **out);
/* Create it, failing the test if that fails; then give its BARs addresses (as the VMM does before boot). */
void vfx__create_ok(void);

/* Index of the first host call of @req at or after @from; fails the test if there is none. */
int vfx__expect(unsigned long req, int from, const char *name);
#define EXPECT(req, from)	vfx__expect(req, from, #req)
const struct fake_vfio_call *vfx__call(int i);
#define ck_assert_contains(s, part) ck_assert_msg(strstr(s, part) != NULL, "'%s' lacks '%s'", s, part)

/* Guest MMIO, which must reach a device. */
void vfx__mmio(uint64_t addr, void *v, unsigned len, bool is_write);
uint32_t vfx__mmio_rd32(uint64_t addr);
void vfx__mmio_wr32(uint64_t addr, uint32_t v);
/* The last memslot change the fake KVM saw (there must be one). */
const struct kvm_userspace_memory_region *vfx__last_memslot(void);

/* The guest's MSI-X: capability, control word, table entry @v (in BAR 3), mask bit, PBA word. */
unsigned vfx__msix_cap(void);
void vfx__msix_ctrl(uint16_t v);
void vfx__msix_entry(unsigned v, uint64_t addr, uint32_t data, uint32_t ctrl);
void vfx__msix_mask(unsigned v, bool masked);
uint32_t vfx__pba(void);
/* Bounded wait (2 s) for the poller thread to set @bit in the PBA. */
bool vfx__wait_pba(uint32_t bit);
/* The last KVM_IRQFD call for @fd: 1 assigned, 0 deassigned, -1 none; its GSI in *@gsi. */
int vfx__irqfd_state(int fd, unsigned *gsi);
/* The last routing table's MSI entry for @gsi, or NULL. */
const struct kvm_irq_routing_entry *vfx__route(unsigned gsi);

#endif
