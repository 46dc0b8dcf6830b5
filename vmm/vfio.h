/*
 * The VFIO device object: one host PCI function opened through its device cdev
 * (/dev/vfio/devices/vfioN, Linux 6.6+ with VFIO_DEVICE_CDEV) and bound to an iommufd. Regions are
 * reached with pread/pwrite at the offsets VFIO_DEVICE_GET_REGION_INFO gives; interrupts are eventfds
 * (VFIO_DEVICE_SET_IRQS). The device model on top is devices/vfio/.
 *
 * Where things are found: @sysfs/bus/pci/devices/<BDF>/vfio-dev/vfioN names the cdev, which is
 * @dev/vfio/devices/vfioN. Unit tests point both at a directory of their own.
 */
#ifndef MINIVMM_VFIO_H
#define MINIVMM_VFIO_H

#include <linux/vfio.h>
#include <stddef.h>
#include <stdint.h>

#define VFIO_BDF_LEN 13		/* "0000:00:04.0" and its NUL */

struct vfio_paths {
	const char *sysfs;	/* "/sys" */
	const char *dev;	/* "/dev" */
};
extern const struct vfio_paths vfio__host_paths;

#define VFIO_MAX_MMAP_AREAS 4

struct vfio_region {
	uint64_t offset;	/* in the device fd */
	uint64_t size;
	uint32_t flags;		/* VFIO_REGION_INFO_FLAG_* */
	/* Parts that may be mmap'd (the sparse-mmap capability, else the whole region if FLAG_MMAP). */
	unsigned nr_mmap;
	struct { uint64_t offset, size; } mmap[VFIO_MAX_MMAP_AREAS];	/* offsets within the region */
};

struct vfio_device {
	char bdf[VFIO_BDF_LEN];
	int fd;			/* the cdev, -1 when closed */
	uint32_t dev_id;	/* iommufd device id (VFIO_DEVICE_BIND_IOMMUFD) */
	uint32_t flags;		/* VFIO_DEVICE_FLAGS_* */
	struct vfio_region region[VFIO_PCI_NUM_REGIONS];
	uint32_t irq_count[VFIO_PCI_NUM_IRQS];
	int kvm_vfio_fd;	/* the KVM-VFIO device it was added to, -1 if none */
};

/*
 * "0000:00:04.0", "00:04.0" or a sysfs path ending in one: the canonical "DDDD:BB:DD.F" in @out.
 * -EINVAL if it is none of these.
 */
int vfio__parse_bdf(const char *s, char out[VFIO_BDF_LEN]);

/*
 * Open the cdev of @bdf: the sysfs lookup and open(), no VM needed (minivmm does it before /dev/kvm).
 * On failure writes one line saying why into @err (no such device, not bound to vfio-pci, no
 * permission) and returns -errno.
 */
int vfio__open(struct vfio_device *d, const char *bdf, const struct vfio_paths *paths, char *err, size_t errlen);
/*
 * Add the opened device to the KVM-VFIO device of VM @vm_fd (created in *@kvm_vfio_fd on first use;
 * skipped when @vm_fd < 0; a failure there is only a warning), bind it to @iommufd and read its regions
 * and interrupts; -errno and @err on failure.
 */
int vfio__bind(struct vfio_device *d, int iommufd, int vm_fd, int *kvm_vfio_fd, char *err, size_t errlen);
/* Leave KVM-VFIO and close (which unbinds from the iommufd). */
void vfio__close(struct vfio_device *d);

/* Attach to an IOAS or HWPT (a replace when already attached), or detach (DMA blocked). */
int vfio__attach(struct vfio_device *d, uint32_t pt_id);
int vfio__detach(struct vfio_device *d);

/* Whole access to region @index at @off; -EINVAL past its end, -EIO on a short transfer. */
int vfio__region_read(struct vfio_device *d, unsigned index, uint64_t off, void *buf, size_t len);
int vfio__region_write(struct vfio_device *d, unsigned index, uint64_t off, const void *buf, size_t len);

/* mmap area @area of region @index (shared, read-write); MAP_FAILED with errno on failure. */
void *vfio__region_mmap(struct vfio_device *d, unsigned index, unsigned area);

/* Trigger eventfds @fds[0..count) for vectors [start, start + count) of IRQ @index (-1: none). */
int vfio__set_irq_eventfds(struct vfio_device *d, unsigned index, unsigned start, unsigned count,
			   const int *fds);
/* The eventfd whose signal unmasks IRQ @index (INTx: KVM's resample fd), or -1 to stop that. */
int vfio__set_irq_unmask_eventfd(struct vfio_device *d, unsigned index, int fd);
/* Disable every vector of IRQ @index. */
int vfio__disable_irqs(struct vfio_device *d, unsigned index);
/* Function-level reset, when the device supports one (VFIO_DEVICE_FLAGS_RESET); else 0. */
int vfio__reset(struct vfio_device *d);

/* Tell KVM about the device (the KVM-VFIO pseudo-device: coherency, page tracking), and forget it. */
int vfio__kvm_add(int *kvm_vfio_fd, int vm_fd, struct vfio_device *d);

#endif
