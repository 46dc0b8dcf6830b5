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

struct vfio_host *vfio_host__create(struct vm *vm, struct pci_host *pci, struct vtd *vtd, const char *iommu_path)
{
	struct vfio_host *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->vm = vm;
	h->pci = pci;
	h->vtd = vtd;
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

uint32_t vfio_pci__host_cfg(struct vfio_pci *vp, unsigned off, unsigned len)
{
	uint32_t v = 0;

	if (vfio__region_read(&vp->dev, VFIO_PCI_CONFIG_REGION_INDEX, off, &v, len))
		return 0;
	return v;	/* little-endian host, as everything in minivmm */
}

static bool overlaps(unsigned off, unsigned len, unsigned start, unsigned n)
{
	return off < start + n && start < off + len;
}

/*
 * After the base applied a config write: the command bits the host must see, and the BAR memslots.
 * Under bar_lock, so that concurrent writes from two vCPUs cannot leave the host's command register
 * and the memslots disagreeing; memory decode goes on at the host before the slots appear and off
 * after they are gone (a slot over a host BAR that does not decode faults the vCPU: SIGBUS in VFIO).
 */
static void cfg_write(struct pci_device *dev, unsigned off, unsigned len, uint32_t val)
{
	struct vfio_pci *vp = dev->priv;
	bool cmd_written = overlaps(off, len, PCI_COMMAND, 2);
	uint16_t cmd;
	int ret = 0;

	if (!cmd_written && !overlaps(off, len, PCI_BASE_ADDRESS_0, 4 * PCI_STD_NUM_BARS))
		return;
	pthread_mutex_lock(&vp->bar_lock);
	cmd = (pci__cfg_get(dev, PCI_COMMAND, 2) & HOST_CMD_BITS) | (vfio_pci__host_cfg(vp, PCI_COMMAND, 2) & ~HOST_CMD_BITS);
	if (cmd_written && (cmd & PCI_COMMAND_MEMORY))
		ret = vfio__region_write(&vp->dev, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND, &cmd, 2);
	vfio_bar__sync(vp);
	if (cmd_written && !(cmd & PCI_COMMAND_MEMORY))
		ret = vfio__region_write(&vp->dev, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND, &cmd, 2);
	pthread_mutex_unlock(&vp->bar_lock);
	if (ret)
		pr_warn("vfio %s: cannot write the host command register: %s", vp->dev.bdf, strerror(-ret));
}

/* The Interrupt Status bit is the host's (guests that share INTx read it to know the line is theirs). */
static void cfg_read(struct pci_device *dev, unsigned off, unsigned len, uint32_t *val)
{
	struct vfio_pci *vp = dev->priv;

	if (vp->has_intx && overlaps(off, len, PCI_STATUS, 1) && (vfio_pci__host_cfg(vp, PCI_STATUS, 1) & PCI_STATUS_INTERRUPT))
		*val |= (uint32_t)PCI_STATUS_INTERRUPT << (8 * (PCI_STATUS - off));
}

static const struct pci_device_ops vfio_pci_ops = {
	.cfg_read = cfg_read,
	.cfg_write = cfg_write,
	.vector_changed = vfio_irq__vector_changed,
};

/* The header, BARs and interrupt capability of the guest's view. */
static int build_config(struct vfio_pci *vp, char *err, size_t n)
{
	struct pci_device *pci = &vp->pci;
	uint8_t hdr = vfio_pci__host_cfg(vp, PCI_HEADER_TYPE, 1) & 0x7f;
	unsigned nmsix = vp->dev.irq_count[VFIO_PCI_MSIX_IRQ_INDEX];
	unsigned pin = vfio_pci__host_cfg(vp, PCI_INTERRUPT_PIN, 1);
	bool intx;
	int slot, ret;

	if (vp->dev.region[VFIO_PCI_CONFIG_REGION_INDEX].size < PCI_CFG_SIZE_LEGACY)
		return errmsg(err, n, -ENODEV, "vfio %s: config space region too small", vp->dev.bdf);
	if (hdr != PCI_HEADER_TYPE_NORMAL)
		return errmsg(err, n, -ENOTSUP, "vfio %s: header type %u (a bridge?): only endpoints can be passed through",
			    vp->dev.bdf, hdr);
	pci__init_dev(pci, "vfio-pci", vfio_pci__host_cfg(vp, PCI_VENDOR_ID, 2), vfio_pci__host_cfg(vp, PCI_DEVICE_ID, 2),
		      vfio_pci__host_cfg(vp, PCI_CLASS_REVISION, 4) >> 8, vfio_pci__host_cfg(vp, PCI_REVISION_ID, 1));
	pci__set_subsystem(pci, vfio_pci__host_cfg(vp, PCI_SUBSYSTEM_VENDOR_ID, 2), vfio_pci__host_cfg(vp, PCI_SUBSYSTEM_ID, 2));
	pci->ops = &vfio_pci_ops;
	pci->priv = vp;
	slot = vfio_bar__add_all(vp, err, n);
	if (slot < 0 && slot != -ENOSPC)
		return slot;
	/* INTx: the host's pin (the host bridge picks the GSI); MSI-X or MSI: minivmm's capability. */
	intx = vp->dev.irq_count[VFIO_PCI_INTX_IRQ_INDEX] && pin >= 1 && pin <= 4;
	if (intx)
		pci__cfg_set(pci, PCI_INTERRUPT_PIN, 1, pin);
	if (nmsix) {
		if (slot < 0)
			return errmsg(err, n, -ENOSPC, "vfio %s: every BAR slot is used: no room for the MSI-X table",
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
		return errmsg(err, n, -ENOTSUP, "vfio %s: has no interrupt (no MSI-X, MSI or INTx pin)", vp->dev.bdf);
	}
	if (ret)
		return errmsg(err, n, ret, "vfio %s: cannot set up its interrupts: %s", vp->dev.bdf, strerror(-ret));
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
		return errmsg(err, n, ret, "vfio %s: %s does not exist (needs a host kernel with CONFIG_IOMMUFD and an IOMMU)",
			    bdf, h->iommu_path);
	if (ret)
		return errmsg(err, n, ret, "vfio %s: %s: %s: %s", bdf, h->iommu_path, what, strerror(-ret));
	return 0;
}

/*
 * VFIO_DEVICE_RESET (vfio-pci picks the method: FLR, PM reset or a bus reset, as the host's
 * reset_method allows): on start, so the guest finds the function as after power-on whatever its last
 * user left (a NIC's queues, a controller's admin queue); on guest reset; and on exit, so the host gets
 * it back quiet, its DMA and interrupts stopped before the IOAS goes away.
 */
static void vfio_pci__reset_at(struct vfio_pci *vp, const char *when)
{
	int ret;

	if (!(vp->dev.flags & VFIO_DEVICE_FLAGS_RESET)) {
		pr_info("vfio %s: no reset on %s: VFIO offers none for this function", vp->dev.bdf, when);
		return;
	}
	ret = vfio__reset(&vp->dev);
	if (ret)
		pr_warn("vfio %s: reset on %s: VFIO_DEVICE_RESET: %s", vp->dev.bdf, when, strerror(-ret));
	else
		pr_info("vfio %s: reset on %s (VFIO_DEVICE_RESET)", vp->dev.bdf, when);
}

int vfio_pci__create(struct vfio_host *h, struct vfio_device *dev, struct vfio_pci **out, char *err, size_t n)
{
	const char *bdf = dev->bdf;
	struct vfio_pci *vp;
	int ret;

	*out = NULL;
	vp = calloc(1, sizeof(*vp));
	if (!vp) {
		ret = errmsg(err, n, -ENOMEM, "vfio %s: out of memory", bdf);
		vfio__close(dev);
		return ret;
	}
	vp->dev = *dev;		/* ours now: closed with vp */
	dev->fd = -1;
	bdf = vp->dev.bdf;
	vp->host = h;
	vp->irq_index = VFIO_PCI_NUM_IRQS;
	vp->irq_refused = VFIO_IRQ_NONE_REFUSED;
	vp->epfd = vp->stop_efd = -1;
	vp->intx_efd = vp->intx_unmask_efd = -1;
	pthread_mutex_init(&vp->irq_lock, NULL);
	pthread_mutex_init(&vp->bar_lock, NULL);
	ret = open_iommufd(h, bdf, err, n);
	if (!ret)
		ret = vfio__bind(&vp->dev, h->iommufd.fd, h->vm ? h->vm->vm_fd : -1, &h->kvm_vfio_fd, err, n);
	if (ret)
		goto fail_close;
	vfio_pci__reset_at(vp, "start");
	ret = vfio_dma__attach(vp, err, n);
	if (ret)
		goto fail_close;
	ret = build_config(vp, err, n);
	if (ret)
		goto fail_close;
	ret = pci_host__add(h->pci, &vp->pci, -1);
	if (ret) {
		errmsg(err, n, ret, "vfio %s: no room on the PCI bus: %s", bdf, strerror(-ret));
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
	vfio_bar__exit(vp);
	pci__exit_dev(&vp->pci);
	vfio_dma__detach(vp);
	vfio__close(&vp->dev);
	pthread_mutex_destroy(&vp->irq_lock);
	pthread_mutex_destroy(&vp->bar_lock);
	free(vp);
	return ret;
}

int vfio_pci__host_iommu(const char *bdf, const struct vfio_paths *paths, const char *iommu_path,
			 struct iommufd_hw_info *hw, char *err, size_t n)
{
	struct vfio_host h = { .iommu_path = iommu_path, .iommufd.fd = -1, .kvm_vfio_fd = -1 };
	struct vfio_device d = { .fd = -1, .kvm_vfio_fd = -1 };
	int ret = vfio__open(&d, bdf, paths, err, n);

	if (!ret)
		ret = open_iommufd(&h, bdf, err, n);
	if (!ret)
		ret = vfio__bind(&d, h.iommufd.fd, -1, &h.kvm_vfio_fd, err, n);
	if (!ret) {
		ret = iommufd__hw_info(&h.iommufd, d.dev_id, hw);
		if (ret)
			errmsg(err, n, ret, "vfio %s: IOMMU_GET_HW_INFO: %s", bdf, strerror(-ret));
	}
	vfio__close(&d);
	iommufd__close(&h.iommufd);
	return ret;
}

void vfio_pci__reset(struct vfio_pci *vp)
{
	vfio_pci__reset_at(vp, "guest reset");
}

void vfio_pci__destroy(struct vfio_pci *vp)
{
	if (!vp)
		return;
	vfio_irq__exit(vp);
	if (vp->dev.fd >= 0)
		vfio_pci__reset_at(vp, "exit");
	vfio_dma__detach(vp);
	vfio_bar__exit(vp);
	pci__exit_dev(&vp->pci);
	vfio__close(&vp->dev);
	pthread_mutex_destroy(&vp->irq_lock);
	pthread_mutex_destroy(&vp->bar_lock);
	free(vp);
}
