/*
 * The passthrough function as the guest sees it (devices/vfio/vfio-pci.h): config space is minivmm's
 * own (the PCI base), filled from the host function's header; BARs mirror the host BARs' types and
 * sizes. The parts of a BAR that VFIO lets us mmap become KVM memslots wherever the guest places the
 * BAR (no exit per access); the rest, and BARs smaller than a page, are trapped and forwarded with
 * pread/pwrite. MSI-X sits in a BAR slot the host function does not use.
 * Only the command register's decode, bus-master and INTx-disable bits reach the host's config space:
 * the host kernel keeps the real BAR addresses, and interrupts are configured through VFIO_DEVICE_SET_IRQS.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/pci-host.h"
#include "devices/vfio/vfio-priv.h"
#include "vmm/log.h"
#include "vmm/sys.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define HOST_CMD_BITS (PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE)

static int fail(char *err, size_t n, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return ret;
}

struct vfio_host *vfio_host__create(struct vm *vm, struct pci_host *pci, struct vtd *vtd,
				    const struct vfio_paths *paths, const char *iommu_path)
{
	struct vfio_host *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->vm = vm;
	h->pci = pci;
	h->vtd = vtd;
	h->paths = *paths;
	h->iommu_path = iommu_path;
	h->iommufd.fd = -1;
	h->kvm_vfio_fd = -1;
	return h;
}

void vfio_host__destroy(struct vfio_host *h)
{
	if (!h)
		return;
	iommufd__close(&h->iommufd);
	if (h->kvm_vfio_fd >= 0)
		close(h->kvm_vfio_fd);
	free(h);
}

static uint32_t host_cfg(struct vfio_pci *vp, unsigned off, unsigned len)
{
	uint32_t v = 0;

	if (vfio__region_read(&vp->dev, VFIO_PCI_CONFIG_REGION_INDEX, off, &v, len))
		return 0;
	return v;	/* little-endian host, as everything in minivmm */
}

/* Guest access to a BAR: straight to the host BAR (doorbells, registers). */
static void bar_io(void *opaque, uint64_t off, void *data, unsigned len, bool is_write)
{
	struct vfio_bar *b = opaque;
	int ret;

	if (is_write)
		ret = vfio__region_write(&b->vp->dev, b->index, off, data, len);
	else
		ret = vfio__region_read(&b->vp->dev, b->index, off, data, len);
	if (ret) {
		pr_debug("vfio %s: BAR %u %s at %#llx (%u bytes): %s", b->vp->dev.bdf, b->index,
			 is_write ? "write" : "read", (unsigned long long)off, len, strerror(-ret));
		if (!is_write)
			memset(data, 0xff, len);
	}
}

static bool overlaps(unsigned off, unsigned len, unsigned start, unsigned n)
{
	return off < start + n && start < off + len;
}

/* bar_lock held. */
static void bar_unmap_slots(struct vfio_pci *vp, struct vfio_bar *b)
{
	for (unsigned a = 0; a < VFIO_MAX_MMAP_AREAS; a++) {
		if (b->slot[a] >= 0)
			vm__del_slot(vp->pci.vm, b->slot[a]);
		b->slot[a] = -1;
	}
	b->slots_at = 0;
}

/*
 * Follow the guest's BAR placement with the memslots of the mmap'd areas, so that the guest reaches
 * the device's registers without an exit (what the PCI base has on the MMIO bus stays there for the
 * parts that are not mapped, such as a trapped MSI-X table, and while slots change).
 */
static void sync_bar_slots(struct vfio_pci *vp)
{
	long page = sysconf(_SC_PAGESIZE);

	pthread_mutex_lock(&vp->bar_lock);
	for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
		struct vfio_bar *b = &vp->bar[i];
		uint64_t addr = b->vp ? pci__bar_addr(&vp->pci, i) : 0;

		if (addr == b->slots_at || vp->pci.bar[i].type == PCI_BAR_IO)
			continue;
		bar_unmap_slots(vp, b);
		if (!addr)
			continue;
		for (unsigned a = 0; a < vp->dev.region[i].nr_mmap; a++) {
			uint64_t gpa = addr + vp->dev.region[i].mmap[a].offset, size = vp->dev.region[i].mmap[a].size;
			int slot;

			if (!b->hva[a] || (gpa | size) & (page - 1))
				continue;	/* stays trapped */
			slot = vm__add_slot(vp->pci.vm, gpa, size, b->hva[a]);
			if (slot < 0)
				pr_warn("vfio %s: BAR %u at %#llx stays trapped: %s", vp->dev.bdf, i,
					(unsigned long long)gpa, strerror(-slot));
			b->slot[a] = slot < 0 ? -1 : slot;
		}
		b->slots_at = addr;
	}
	pthread_mutex_unlock(&vp->bar_lock);
}

static void bars_exit(struct vfio_pci *vp)
{
	for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
		struct vfio_bar *b = &vp->bar[i];

		if (!b->vp)
			continue;
		bar_unmap_slots(vp, b);
		for (unsigned a = 0; a < VFIO_MAX_MMAP_AREAS; a++)
			if (b->hva[a])
				munmap(b->hva[a], vp->dev.region[i].mmap[a].size);
		memset(b, 0, sizeof(*b));
	}
}

static void cfg_write(struct pci_device *dev, unsigned off, unsigned len, uint32_t val)
{
	struct vfio_pci *vp = dev->priv;
	uint16_t cmd;
	int ret;

	if (overlaps(off, len, PCI_COMMAND, 2) || overlaps(off, len, PCI_BASE_ADDRESS_0, 4 * PCI_STD_NUM_BARS))
		sync_bar_slots(vp);
	if (!overlaps(off, len, PCI_COMMAND, 2))
		return;
	cmd = (pci__cfg_get(dev, PCI_COMMAND, 2) & HOST_CMD_BITS) |
	      (host_cfg(vp, PCI_COMMAND, 2) & ~HOST_CMD_BITS);
	ret = vfio__region_write(&vp->dev, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND, &cmd, 2);
	if (ret)
		pr_warn("vfio %s: cannot write the host command register: %s", vp->dev.bdf, strerror(-ret));
}

static const struct pci_device_ops vfio_pci_ops = {
	.cfg_write = cfg_write,
	.vector_changed = vfio_irq__vector_changed,
};

/* Mirror the host BARs. Returns the first BAR slot left free (for MSI-X), or -ENOSPC if none. */
static int add_bars(struct vfio_pci *vp, char *err, size_t n)
{
	int free_slot = -ENOSPC;

	for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
		uint64_t size = vp->dev.region[i].size;
		uint32_t reg = host_cfg(vp, PCI_BASE_ADDRESS_0 + 4 * i, 4);
		enum pci_bar_type type;
		int ret;

		if (!size) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (reg & PCI_BASE_ADDRESS_SPACE_IO)
			type = PCI_BAR_IO;
		else if ((reg & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64)
			type = PCI_BAR_MEM64;
		else
			type = PCI_BAR_MEM32;
		if (type != PCI_BAR_IO && size < 16)
			size = 16;	/* the smallest memory BAR; accesses past the region fail and read ~0 */
		vp->bar[i] = (struct vfio_bar){ .vp = vp, .index = i, .slot = { -1, -1, -1, -1 } };
		ret = pci__add_bar(&vp->pci, i, type, size, !!(reg & PCI_BASE_ADDRESS_MEM_PREFETCH), bar_io,
				   &vp->bar[i]);
		if (ret)
			return fail(err, n, ret, "vfio %s: BAR %u (%s, %llu bytes) cannot be mirrored: %s", vp->dev.bdf,
				    i, type == PCI_BAR_IO ? "I/O" : "memory", (unsigned long long)size, strerror(-ret));
		for (unsigned a = 0; type != PCI_BAR_IO && a < vp->dev.region[i].nr_mmap; a++) {
			void *p = vfio__region_mmap(&vp->dev, i, a);

			if (p == MAP_FAILED)
				pr_debug("vfio %s: BAR %u area %u cannot be mmap'd (%s): trapped", vp->dev.bdf, i, a,
					 strerror(errno));
			else
				vp->bar[i].hva[a] = p;
		}
		if (type == PCI_BAR_MEM64)
			i++;
	}
	return free_slot;
}

/* The header, BARs and interrupt capability of the guest's view. */
static int build_config(struct vfio_pci *vp, char *err, size_t n)
{
	struct pci_device *pci = &vp->pci;
	uint8_t hdr = host_cfg(vp, PCI_HEADER_TYPE, 1) & 0x7f;
	unsigned nmsix = vp->dev.irq_count[VFIO_PCI_MSIX_IRQ_INDEX];
	unsigned pin = host_cfg(vp, PCI_INTERRUPT_PIN, 1);
	bool intx;
	int slot, ret;

	if (vp->dev.region[VFIO_PCI_CONFIG_REGION_INDEX].size < PCI_CFG_SIZE_LEGACY)
		return fail(err, n, -ENODEV, "vfio %s: config space region too small", vp->dev.bdf);
	if (hdr != PCI_HEADER_TYPE_NORMAL)
		return fail(err, n, -ENOTSUP, "vfio %s: header type %u (a bridge?): only endpoints can be passed through",
			    vp->dev.bdf, hdr);
	pci__init_dev(pci, "vfio-pci", host_cfg(vp, PCI_VENDOR_ID, 2), host_cfg(vp, PCI_DEVICE_ID, 2),
		      host_cfg(vp, PCI_CLASS_REVISION, 4) >> 8, host_cfg(vp, PCI_REVISION_ID, 1));
	pci__set_subsystem(pci, host_cfg(vp, PCI_SUBSYSTEM_VENDOR_ID, 2), host_cfg(vp, PCI_SUBSYSTEM_ID, 2));
	pci->ops = &vfio_pci_ops;
	pci->priv = vp;
	slot = add_bars(vp, err, n);
	if (slot < 0 && slot != -ENOSPC)
		return slot;
	/* INTx: the host's pin (the host bridge picks the GSI); MSI-X or MSI: minivmm's capability. */
	intx = vp->dev.irq_count[VFIO_PCI_INTX_IRQ_INDEX] && pin >= 1 && pin <= 4;
	if (intx)
		pci__cfg_set(pci, PCI_INTERRUPT_PIN, 1, pin);
	if (nmsix) {
		if (slot < 0)
			return fail(err, n, -ENOSPC, "vfio %s: every BAR slot is used: no room for the MSI-X table",
				    vp->dev.bdf);
		ret = pci__msix_init(pci, nmsix, slot);
		if (!ret)
			ret = vfio_irq__init(vp, nmsix, intx);
	} else if (vp->dev.irq_count[VFIO_PCI_MSI_IRQ_INDEX]) {
		ret = pci__msi_init(pci);
		if (!ret)
			ret = vfio_irq__init(vp, 1, intx);
	} else if (intx) {
		ret = vfio_irq__init(vp, 0, intx);
	} else {
		return fail(err, n, -ENOTSUP, "vfio %s: has no interrupt (no MSI-X, MSI or INTx pin)", vp->dev.bdf);
	}
	if (ret)
		return fail(err, n, ret, "vfio %s: cannot set up its interrupts: %s", vp->dev.bdf, strerror(-ret));
	return 0;
}

static int open_iommufd(struct vfio_host *h, const char *bdf, char *err, size_t n)
{
	const char *what;
	int ret;

	if (h->iommufd.fd >= 0)
		return 0;
	ret = iommufd__open(&h->iommufd, h->iommu_path, &what);
	if (ret == -ENOENT)
		return fail(err, n, ret, "vfio %s: %s does not exist (needs a host kernel with CONFIG_IOMMUFD and an IOMMU)",
			    bdf, h->iommu_path);
	if (ret)
		return fail(err, n, ret, "vfio %s: %s: %s: %s", bdf, h->iommu_path, what, strerror(-ret));
	return 0;
}

int vfio_pci__create(struct vfio_host *h, const char *bdf, struct vfio_pci **out, char *err, size_t n)
{
	struct vfio_pci *vp;
	char cdev[64];
	int ret;

	*out = NULL;
	/* The device first: a wrong BDF is the likelier mistake, and says more than a missing /dev/iommu. */
	ret = vfio__find_cdev(bdf, &h->paths, cdev, sizeof(cdev), err, n);
	if (!ret)
		ret = open_iommufd(h, bdf, err, n);
	if (ret)
		return ret;
	vp = calloc(1, sizeof(*vp));
	if (!vp)
		return fail(err, n, -ENOMEM, "vfio %s: out of memory", bdf);
	vp->host = h;
	vp->irq_index = VFIO_PCI_NUM_IRQS;
	vp->irq_refused = VFIO_IRQ_NONE_REFUSED;
	vp->epfd = vp->stop_efd = -1;
	vp->intx_efd = vp->intx_unmask_efd = -1;
	pthread_mutex_init(&vp->irq_lock, NULL);
	pthread_mutex_init(&vp->bar_lock, NULL);
	ret = vfio__open(&vp->dev, bdf, h->iommufd.fd, &h->paths, h->vm ? h->vm->vm_fd : -1, &h->kvm_vfio_fd, err, n);
	if (ret)
		goto fail_free;
	ret = vfio__reset(&vp->dev);
	if (ret)
		pr_warn("vfio %s: VFIO_DEVICE_RESET: %s", bdf, strerror(-ret));
	ret = vfio_dma__attach(vp, err, n);
	if (ret)
		goto fail_close;
	ret = build_config(vp, err, n);
	if (ret)
		goto fail_close;
	ret = pci_host__add(h->pci, &vp->pci, -1);
	if (ret) {
		fail(err, n, ret, "vfio %s: no room on the PCI bus: %s", bdf, strerror(-ret));
		goto fail_close;
	}
	*out = vp;
	vfio_irq__start(vp);
	ret = vfio_dma__join_viommu(vp, err, n);
	if (ret)
		return ret;
	pr_info("vfio %s: %04x:%04x at 00:%02x.%x", bdf, pci__cfg_get(&vp->pci, PCI_VENDOR_ID, 2),
		pci__cfg_get(&vp->pci, PCI_DEVICE_ID, 2), PCI_SLOT(vp->pci.devfn), PCI_FUNC(vp->pci.devfn));
	return 0;
fail_close:
	vfio_irq__exit(vp);
	bars_exit(vp);
	pci__exit_dev(&vp->pci);
	vfio_dma__detach(vp);
	vfio__close(&vp->dev);
fail_free:
	pthread_mutex_destroy(&vp->irq_lock);
	pthread_mutex_destroy(&vp->bar_lock);
	free(vp);
	return ret;
}

void vfio_pci__reset(struct vfio_pci *vp)
{
	int ret = vfio__reset(&vp->dev);

	if (ret)
		pr_warn("vfio %s: VFIO_DEVICE_RESET: %s", vp->dev.bdf, strerror(-ret));
}

void vfio_pci__destroy(struct vfio_pci *vp)
{
	if (!vp)
		return;
	vfio_irq__exit(vp);
	vfio_dma__detach(vp);
	bars_exit(vp);
	pci__exit_dev(&vp->pci);
	vfio__close(&vp->dev);
	pthread_mutex_destroy(&vp->irq_lock);
	pthread_mutex_destroy(&vp->bar_lock);
	free(vp);
}
