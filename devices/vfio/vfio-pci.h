/*
 * PCI passthrough of a host function through VFIO (device cdev) and iommufd (--vfio BDF).
 *
 *   ret = vfio__open(&d, "0000:01:00.0", &vfio__host_paths, err, sizeof(err));   // no VM needed yet
 *   h = vfio_host__create(vm, pci_host, vtd, "/dev/iommu");                      // one per machine
 *   ret = vfio_pci__create(h, &d, &dev, err, sizeof(err));
 *
 * The guest sees the host function's IDs and class, its BARs (mmap'd into the guest where VFIO allows,
 * else each access forwarded to the host BAR through the VFIO region), and MSI-X (or MSI) emulated by minivmm's PCI base and backed by host
 * vectors whose eventfds KVM turns into the guest's messages. DMA: with --viommu off the device is
 * attached to an IOAS holding all guest RAM at its guest physical address. With --viommu flts it is
 * attached to a nesting-parent HWPT on that IOAS, and its host IOMMU description is handed to the
 * vIOMMU, which refuses a host that cannot run the guest's first-stage tables; the guest's RID_PASID
 * entry then decides what the host does (vfio-dma.c).
 */
#ifndef MINIVMM_DEVICES_VFIO_PCI_H
#define MINIVMM_DEVICES_VFIO_PCI_H

#include <stddef.h>

#include "vmm/iommufd.h"
#include "vmm/vfio.h"

struct vm;
struct pci_host;
struct vtd;
struct vfio_host;
struct vfio_pci;

/* @vm may be offline (vmm/vm.h): the devices are then not added to KVM-VFIO, nothing else changes. */
struct vfio_host *vfio_host__create(struct vm *vm, struct pci_host *pci, struct vtd *vtd, const char *iommu_path);
/* After every device of the host is destroyed. */
void vfio_host__destroy(struct vfio_host *h);

/*
 * The guest's view of host function @dev, opened with vfio__open() (the sysfs checks are done there,
 * before the VM exists). Takes @dev over whatever the outcome: it belongs to *@out or is closed.
 * 0, or -errno with one line in @err that says why ("vfio 0000:01:00.0: ..."). On failure *@out is
 * the partly built device when it already sits on the PCI bus (destroy it with the others), else NULL.
 */
int vfio_pci__create(struct vfio_host *h, struct vfio_device *dev, struct vfio_pci **out, char *err, size_t errlen);
void vfio_pci__destroy(struct vfio_pci *vp);
/*
 * What iommufd says of the IOMMU in front of host function @bdf, without a VM (`minivmm probe -v`):
 * opens and binds the device on its own iommufd, asks (IOMMU_GET_HW_INFO), closes both.
 */
int vfio_pci__host_iommu(const char *bdf, const struct vfio_paths *paths, const char *iommu_path,
			 struct iommufd_hw_info *hw, char *err, size_t errlen);
/* Function-level reset of the host device (machine reset). */
void vfio_pci__reset(struct vfio_pci *vp);

#endif
