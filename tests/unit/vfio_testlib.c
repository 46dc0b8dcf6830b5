/* Tier 1 helper for the passthrough unit tests: see vfio_testlib.h. Linked into every unit test. */
#include "tests/unit/vfio_testlib.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/unit/fake_kvm.h"
#include "devices/pci-host.h"
#include "vmm/layout.h"
#include "vmm/util.h"
#include "vmm/vm.h"

struct vfio_fixture vfx;
static bool with_vtd;
static int fds_before;

/* ---- fixtures ---- */

static void make_root(void)
{
	snprintf(vfx.root, sizeof(vfx.root), "/tmp/minivmm-vfio-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(vfx.root));
}

static void remove_root(void)
{
	fake_vfio__rm_rf(vfx.root);
}

TCase *vfx__tcase(Suite *s, const char *name, void (*setup)(void), void (*teardown)(void))
{
	TCase *tc = tcase_create(name);

	tcase_add_unchecked_fixture(tc, make_root, remove_root);
	tcase_add_checked_fixture(tc, setup, teardown);
	suite_add_tcase(s, tc);
	return tc;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

void vfx__start(bool viommu, const struct vtd_options *opt)
{
	with_vtd = viommu;
	if (viommu) {
		vtd_env__init(&vfx.env, opt);
		vfx.vm = fake_vm__new(0);
		vfx.vm->mem = vfx.env.mem;	/* shared with the vtd_env: not ours to unmap */
	} else {
		/* RAM below and above the PCI hole: two regions to map (never touched, so never allocated). */
		vfx.vm = fake_vm__new(LAYOUT_LOWMEM_LIMIT + 8 * MiB);
		ck_assert_int_eq(vfx.vm->mem.nr, 2);
	}
	vfx.pci = pci_host__init(vfx.vm);
	ck_assert_ptr_nonnull(vfx.pci);
	if (viommu)
		pci_host__set_translator(vfx.pci, vfx.env.tr);
	fake_vfio__init(vfx.root);
	vfx.hd = fake_vfio__add_device(BDF);
	fds_before = count_fds();
	vfx.vh = vfio_host__create(vfx.vm, vfx.pci, viommu ? vfx.env.vtd : NULL, fake_vfio.iommu);
	ck_assert_ptr_nonnull(vfx.vh);
	vfx.vp = NULL;
	vfx.pdev = NULL;
	vfx.err[0] = 0;
}

void vfx__setup_off(void)
{
	vfx__start(false, NULL);
}

void vfx__setup_flts(void)
{
	vfx__start(true, NULL);
}

void vfx__stop(void)
{
	if (!vfx.vm)
		return;
	vfio_pci__destroy(vfx.vp);
	vfx.vp = NULL;
	vfio_host__destroy(vfx.vh);
	vfx.vh = NULL;
	/* Every descriptor the passthrough opened (cdev, iommufd, KVM-VFIO, eventfds, epoll) is closed... */
	ck_assert_int_eq(count_fds(), fds_before);
	/* ...and every HWPT it allocated destroyed (the IOAS goes with the iommufd). */
	ck_assert_uint_eq(fake_vfio__live_hwpts(), 0);
	pci_host__exit(vfx.pci);
	if (with_vtd)
		memset(&vfx.vm->mem, 0, sizeof(vfx.vm->mem));
	fake_vm__free(vfx.vm);
	vfx.vm = NULL;
	if (with_vtd)
		vtd_env__exit(&vfx.env);
	fake_vfio__exit();
}

void vfx__stop_clean(void)
{
	if (vfx.vm)
		ck_assert_uint_eq(fake_vfio.nrefused, 0);
	vfx__stop();
}

int vfx__create_on(struct vfio_host *h, const char *bdf, struct vfio_pci **out)
{
	struct vfio_device d;
	int ret = vfio__open(&d, bdf, &fake_vfio.paths, vfx.err, sizeof(vfx.err));

	*out = NULL;
	return ret ? ret : vfio_pci__create(h, &d, out, vfx.err, sizeof(vfx.err));
}

int vfx__create(void)
{
	int ret = vfx__create_on(vfx.vh, BDF, &vfx.vp);

	if (!ret) {
		ck_assert_str_eq(vfx.err, "");
		ck_assert_ptr_nonnull(vfx.vp);
		vfx.pdev = pci_host__find(vfx.pci, 0, DEVFN);
		ck_assert_ptr_nonnull(vfx.pdev);
	}
	return ret;
}

void vfx__create_ok(void)
{
	int ret = vfx__create();

	if (ret)
		fake_vfio__dump();
	ck_assert_msg(ret == 0, "vfio_pci__create: %d (%s)", ret, vfx.err);
	ck_assert_int_eq(pci_host__assign_resources(vfx.pci), 0);
}

/* ---- host calls ---- */

int vfx__expect(unsigned long req, int from, const char *name)
{
	int i = fake_vfio__find(req, from);

	if (i < 0)
		fake_vfio__dump();
	ck_assert_msg(i >= 0, "no %s at or after call %d", name, from);
	return i;
}

const struct fake_vfio_call *vfx__call(int i)
{
	return &fake_vfio.calls[i];
}

/* ---- guest MMIO and memslots ---- */

void vfx__mmio(uint64_t addr, void *v, unsigned len, bool is_write)
{
	ck_assert(bus__access(&vfx.vm->mmio, addr, v, len, is_write));
}

uint32_t vfx__mmio_rd32(uint64_t addr)
{
	uint32_t v = 0;

	vfx__mmio(addr, &v, 4, false);
	return v;
}

void vfx__mmio_wr32(uint64_t addr, uint32_t v)
{
	vfx__mmio(addr, &v, 4, true);
}

const struct kvm_userspace_memory_region *vfx__last_memslot(void)
{
	ck_assert_uint_gt(fake_kvm.nr_memslots, 0);
	return &fake_kvm.memslots[fake_kvm.nr_memslots - 1];
}

/* ---- MSI-X ---- */

unsigned vfx__msix_cap(void)
{
	unsigned cap = pci__find_cap(vfx.pdev, PCI_CAP_ID_MSIX);

	ck_assert_uint_ne(cap, 0);
	return cap;
}

void vfx__msix_ctrl(uint16_t v)
{
	pci__cfg_write(vfx.pdev, vfx__msix_cap() + PCI_MSIX_FLAGS, 2, v);
}

void vfx__msix_entry(unsigned v, uint64_t addr, uint32_t data, uint32_t ctrl)
{
	uint64_t e = pci__bar_addr(vfx.pdev, 3) + v * PCI_MSIX_ENTRY_SIZE;

	vfx__mmio_wr32(e + PCI_MSIX_ENTRY_LOWER_ADDR, (uint32_t)addr);
	vfx__mmio_wr32(e + PCI_MSIX_ENTRY_UPPER_ADDR, addr >> 32);
	vfx__mmio_wr32(e + PCI_MSIX_ENTRY_DATA, data);
	vfx__mmio_wr32(e + PCI_MSIX_ENTRY_VECTOR_CTRL, ctrl);
}

void vfx__msix_mask(unsigned v, bool masked)
{
	vfx__mmio_wr32(pci__bar_addr(vfx.pdev, 3) + v * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL,
		       masked ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0);
}

uint32_t vfx__pba(void)
{
	return vfx__mmio_rd32(pci__bar_addr(vfx.pdev, 3) + 2048);
}

bool vfx__wait_pba(uint32_t bit)
{
	for (int i = 0; i < 2000; i++) {
		if (vfx__pba() & bit)
			return true;
		usleep(1000);
	}
	return vfx__pba() & bit;
}

int vfx__irqfd_state(int fd, unsigned *gsi)
{
	int state = -1;

	pthread_mutex_lock(&fake_kvm.lock);
	for (unsigned i = 0; i < fake_kvm.nr_irqfds && i < ARRAY_SIZE(fake_kvm.irqfds); i++) {
		if (fake_kvm.irqfds[i].fd == fd) {
			state = fake_kvm.irqfds[i].assign;
			if (gsi)
				*gsi = fake_kvm.irqfds[i].gsi;
		}
	}
	pthread_mutex_unlock(&fake_kvm.lock);
	return state;
}

const struct kvm_irq_routing_entry *vfx__route(unsigned gsi)
{
	for (unsigned i = 0; i < fake_kvm.nr_routes && i < FAKE_KVM_MAX_ROUTES; i++)
		if (fake_kvm.routes[i].gsi == gsi && fake_kvm.routes[i].type == KVM_IRQ_ROUTING_MSI)
			return &fake_kvm.routes[i];
	return NULL;
}
