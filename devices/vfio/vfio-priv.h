/* Internal to devices/vfio/: the passthrough device's state, shared by its config, DMA and IRQ parts. */
#ifndef MINIVMM_DEVICES_VFIO_PRIV_H
#define MINIVMM_DEVICES_VFIO_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/pci.h"
#include "devices/vfio/vfio-pci.h"
#include "iommu/vtd.h"
#include "vmm/iommufd.h"
#include "vmm/vfio.h"

struct vfio_host {
	struct vm *vm;
	struct pci_host *pci;
	struct vtd *vtd;		/* NULL with --viommu off */
	const char *iommu_path;
	struct iommufd iommufd;		/* opened by the first device */
	int kvm_vfio_fd;		/* the KVM-VFIO pseudo-device, -1 until the first device */
};

struct vfio_bar {
	struct vfio_pci *vp;
	unsigned index;			/* VFIO region = BAR number */
	/* The region's mmap-able areas, mapped into the guest as memslots while the BAR decodes. */
	void *hva[VFIO_MAX_MMAP_AREAS];	/* NULL: not mapped, trapped */
	int slot[VFIO_MAX_MMAP_AREAS];	/* -1: none */
	uint64_t slots_at;		/* guest address the memslots are at, 0 if none */
	bool warned;			/* a slot could not be added (logged once) */
};

/* One guest interrupt vector backed by a host vector's eventfd. */
struct vfio_vec {
	int efd;
	int gsi;			/* KVM MSI route, -1 until first routed */
	uint64_t addr;
	uint32_t data;
	bool irqfd;			/* KVM delivers it (deliverable) */
	bool polled;			/* else the poller sets the pending bit (masked) */
};

struct vfio_pci {
	struct pci_device pci;
	struct vfio_host *host;
	struct vfio_device dev;
	struct vfio_bar bar[PCI_STD_NUM_BARS];

	pthread_mutex_t bar_lock;	/* the memslots of bar[] */

	/* DMA (vfio-dma.c); changed only under the vIOMMU's lock or before the guest runs. */
	struct iommufd_hw_info hw;
	uint32_t parent_hwpt;		/* nesting parent (--viommu flts), 0 if none */
	uint32_t s1_hwpt;		/* the guest's first-stage tables nested on it, 0 if none */
	uint32_t attached;		/* IOAS or HWPT the device is attached to, 0 = detached (blocked) */
	bool watched;
	bool bind_failed;		/* the last stage-1 bind failed (logged once) */
	/* Stage-1 invalidations held for one IOMMU_HWPT_INVALIDATE (vtd.h: iotlb_flush). */
#define VFIO_INV_BATCH	32
	struct iommu_hwpt_vtd_s1_invalidate inv[VFIO_INV_BATCH];
	unsigned nr_inv;

	/* Interrupts (vfio-irq.c). */
	pthread_mutex_t irq_lock;
	unsigned irq_index;		/* VFIO_PCI_MSIX/MSI_IRQ_INDEX enabled on the host, or VFIO_PCI_NUM_IRQS */
	unsigned irq_refused;		/* the index the host refused to enable, not retried until the guest changes */
#define VFIO_IRQ_NONE_REFUSED	(~0u)
	unsigned nvec;
	struct vfio_vec *vec;
	int epfd, stop_efd;
	bool has_intx;			/* the host function has an INTx pin; the guest's Interrupt Pin is it */
	int intx_efd, intx_unmask_efd;	/* VFIO's INTx trigger, and KVM's resample -> VFIO's unmask */
	pthread_t poller;
	bool poller_started;
};

/* The host function's config space as VFIO shows it (0 if it cannot be read). */
uint32_t vfio_pci__host_cfg(struct vfio_pci *vp, unsigned off, unsigned len);

/* BARs (vfio-bar.c). add_all returns the first BAR slot left free (for MSI-X) or -ENOSPC / -errno. */
int vfio_bar__add_all(struct vfio_pci *vp, char *err, size_t errlen);
void vfio_bar__sync(struct vfio_pci *vp);		/* bar_lock held: memslots follow the guest's BARs */
void vfio_bar__exit(struct vfio_pci *vp);

int vfio_dma__attach(struct vfio_pci *vp, char *err, size_t errlen);		/* before pci_host__add */
int vfio_dma__join_viommu(struct vfio_pci *vp, char *err, size_t errlen);	/* after: has a requester ID */
void vfio_dma__detach(struct vfio_pci *vp);

int vfio_irq__init(struct vfio_pci *vp, unsigned nvec, bool intx);
void vfio_irq__start(struct vfio_pci *vp);	/* once on the bus (the INTx GSI is known) */
void vfio_irq__vector_changed(struct pci_device *dev, unsigned vector);
void vfio_irq__exit(struct vfio_pci *vp);

#endif
