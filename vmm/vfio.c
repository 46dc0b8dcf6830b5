/* The VFIO device object (vmm/vfio.h). */
#include "vmm/vfio.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/sys.h"
#include "vmm/util.h"

const struct vfio_paths vfio__host_paths = { .sysfs = "/sys", .dev = "/dev" };

int vfio__parse_bdf(const char *s, char out[VFIO_BDF_LEN])
{
	unsigned dom = 0, bus, dev, fn;
	size_t end = strlen(s), start;
	char name[VFIO_BDF_LEN], tail;

	/* A sysfs path: its last component. */
	while (end && s[end - 1] == '/')
		end--;
	for (start = end; start && s[start - 1] != '/'; start--)
		;
	if (end - start >= sizeof(name))
		return -EINVAL;
	memcpy(name, s + start, end - start);
	name[end - start] = 0;
	for (size_t i = 0; name[i]; i++)
		if (!isxdigit((unsigned char)name[i]) && name[i] != ':' && name[i] != '.')
			return -EINVAL;
	if (strlen(name) == 12 && sscanf(name, "%4x:%2x:%2x.%1x%c", &dom, &bus, &dev, &fn, &tail) == 4)
		;
	else if (strlen(name) == 7 && sscanf(name, "%2x:%2x.%1x%c", &bus, &dev, &fn, &tail) == 3)
		dom = 0;
	else
		return -EINVAL;
	if (dev > 31 || fn > 7)
		return -EINVAL;
	snprintf(out, VFIO_BDF_LEN, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
	return 0;
}

/* The vfioN name under @sysfs/bus/pci/devices/@bdf/vfio-dev. */
static int find_cdev(const char *bdf, const struct vfio_paths *p, char *name, size_t n, char *err, size_t errlen)
{
	char path[512];
	struct dirent *e;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", p->sysfs, bdf);
	if (access(path, F_OK))
		return errmsg(err, errlen, -ENODEV, "vfio %s: no such PCI device on this host (%s)", bdf, path);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/vfio-dev", p->sysfs, bdf);
	dir = opendir(path);
	if (!dir)
		return errmsg(err, errlen, -ENODEV,
			    "vfio %s: not bound to vfio-pci with the device cdev (no %s): bind it to vfio-pci "
			    "(driver_override) on a kernel with CONFIG_VFIO_DEVICE_CDEV", bdf, path);
	name[0] = 0;
	while ((e = readdir(dir)))
		if (!strncmp(e->d_name, "vfio", 4) && isdigit((unsigned char)e->d_name[4]) &&
		    strlen(e->d_name) < n)
			strcpy(name, e->d_name);
	closedir(dir);
	if (!name[0])
		return errmsg(err, errlen, -ENODEV, "vfio %s: %s holds no vfioN device", bdf, path);
	return 0;
}

/*
 * Which parts of region @index may be mmap'd: the areas of its sparse-mmap capability (vfio-pci leaves
 * out the MSI-X table where the platform needs it trapped), else all of it when FLAG_MMAP says so.
 */
static int read_mmap_areas(struct vfio_device *d, unsigned index, const struct vfio_region_info *ri)
{
	struct vfio_region *r = &d->region[index];
	struct vfio_region_info *full;
	uint32_t off;
	int ret;

	r->nr_mmap = 0;
	if (!(ri->flags & VFIO_REGION_INFO_FLAG_MMAP))
		return 0;
	if (!(ri->flags & VFIO_REGION_INFO_FLAG_CAPS) || ri->argsz <= sizeof(*ri)) {
		r->mmap[r->nr_mmap++] = (typeof(r->mmap[0])){ 0, ri->size };
		return 0;
	}
	full = calloc(1, ri->argsz);
	if (!full)
		return -ENOMEM;
	full->argsz = ri->argsz;
	full->index = index;
	ret = sys__vfio_device_get_region_info(d->fd, full);
	/* Walk the capability chain, bounded by the buffer (a kernel bug must not loop us). */
	for (off = ret < 0 ? 0 : full->cap_offset; !ret && off && off + sizeof(struct vfio_info_cap_header) <= full->argsz;) {
		const struct vfio_info_cap_header *h = (const void *)((const char *)full + off);

		if (h->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP &&
		    off + sizeof(struct vfio_region_info_cap_sparse_mmap) <= full->argsz) {
			const struct vfio_region_info_cap_sparse_mmap *s = (const void *)h;

			for (uint32_t i = 0; i < s->nr_areas && r->nr_mmap < VFIO_MAX_MMAP_AREAS &&
			     off + sizeof(*s) + (i + 1) * sizeof(s->areas[0]) <= full->argsz; i++)
				if (s->areas[i].size)
					r->mmap[r->nr_mmap++] = (typeof(r->mmap[0])){ s->areas[i].offset, s->areas[i].size };
			free(full);
			return 0;
		}
		if (h->next <= off)
			break;
		off = h->next;
	}
	free(full);
	if (ret < 0)
		return ret;
	r->mmap[r->nr_mmap++] = (typeof(r->mmap[0])){ 0, ri->size };
	return 0;
}

static int read_info(struct vfio_device *d)
{
	struct vfio_device_info di = { .argsz = sizeof(di) };
	int ret = sys__vfio_device_get_info(d->fd, &di);

	if (ret < 0)
		return ret;
	if (!(di.flags & VFIO_DEVICE_FLAGS_PCI) || di.num_regions < VFIO_PCI_CONFIG_REGION_INDEX + 1)
		return -ENODEV;
	d->flags = di.flags;
	for (unsigned i = 0; i < VFIO_PCI_NUM_REGIONS && i < di.num_regions; i++) {
		struct vfio_region_info ri = { .argsz = sizeof(ri), .index = i };

		ret = sys__vfio_device_get_region_info(d->fd, &ri);
		if (ret == -EINVAL)	/* a region this device does not have (VGA on most) */
			continue;
		if (ret < 0)
			return ret;
		d->region[i] = (struct vfio_region){ .offset = ri.offset, .size = ri.size, .flags = ri.flags };
		if (i < VFIO_PCI_ROM_REGION_INDEX && (ret = read_mmap_areas(d, i, &ri)) < 0)
			return ret;
	}
	for (unsigned i = 0; i < VFIO_PCI_NUM_IRQS && i < di.num_irqs; i++) {
		struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = i };

		ret = sys__vfio_device_get_irq_info(d->fd, &ii);
		if (ret == -EINVAL)
			continue;
		if (ret < 0)
			return ret;
		d->irq_count[i] = ii.count;
	}
	return 0;
}

int vfio__open(struct vfio_device *d, const char *bdf, const struct vfio_paths *p, char *err, size_t errlen)
{
	char name[64], path[512];
	int ret;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	d->kvm_vfio_fd = -1;
	snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);
	ret = find_cdev(bdf, p, name, sizeof(name), err, errlen);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/vfio/devices/%s", p->dev, name);
	d->fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0) {
		ret = -errno;
		return errmsg(err, errlen, ret, "vfio %s: cannot open %s: %s%s", bdf, path, strerror(-ret),
			      ret == -EACCES || ret == -EPERM ? " (run as root or give this user the device)" :
			      ret == -EBUSY ? " (another process has it)" : "");
	}
	return 0;
}

int vfio__bind(struct vfio_device *d, int iommufd, int vm_fd, int *kvm_vfio_fd, char *err, size_t errlen)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .iommufd = iommufd };
	int ret;

	/* KVM learns of the device before it is bound (QEMU's order, design notes §5.3 step 3). */
	if (vm_fd >= 0 && (ret = vfio__kvm_add(kvm_vfio_fd, vm_fd, d)))
		pr_warn("vfio %s: %s: %s (KVM will not know of the device)", d->bdf, sys__last_ioctl(),
			strerror(-ret));
	ret = sys__vfio_device_bind_iommufd(d->fd, &bind);
	if (ret < 0)
		return errmsg(err, errlen, ret, "vfio %s: VFIO_DEVICE_BIND_IOMMUFD: %s", d->bdf, strerror(-ret));
	d->dev_id = bind.out_devid;
	ret = read_info(d);
	if (ret < 0)
		return errmsg(err, errlen, ret, "vfio %s: %s: %s", d->bdf,
			      ret == -ENODEV ? "not a PCI device" : sys__last_ioctl(), strerror(-ret));
	return 0;
}

/* KVM_DEV_VFIO_FILE_ADD / _DEL of the device's file on the KVM-VFIO device @dev_fd. */
static int kvm_file_attr(int dev_fd, struct vfio_device *d, uint64_t attr)
{
	int32_t fd = d->fd;
	struct kvm_device_attr a = { .group = KVM_DEV_VFIO_FILE, .attr = attr, .addr = (uintptr_t)&fd };

	return sys__kvm_set_device_attr(dev_fd, &a);
}

/* KVM holds a reference to the file until it is deleted from the KVM-VFIO device. */
static void kvm_del(struct vfio_device *d)
{
	int ret;

	if (d->kvm_vfio_fd < 0)
		return;
	ret = kvm_file_attr(d->kvm_vfio_fd, d, KVM_DEV_VFIO_FILE_DEL);
	if (ret < 0)
		pr_warn("vfio %s: KVM_SET_DEVICE_ATTR (KVM_DEV_VFIO_FILE_DEL): %s", d->bdf, strerror(-ret));
	d->kvm_vfio_fd = -1;
}

void vfio__close(struct vfio_device *d)
{
	if (d->fd >= 0) {
		kvm_del(d);
		close(d->fd);
	}
	d->fd = -1;
}

int vfio__attach(struct vfio_device *d, uint32_t pt_id)
{
	struct vfio_device_attach_iommufd_pt a = { .argsz = sizeof(a), .pt_id = pt_id };

	return sys__vfio_device_attach_iommufd_pt(d->fd, &a);
}

int vfio__detach(struct vfio_device *d)
{
	struct vfio_device_detach_iommufd_pt dt = { .argsz = sizeof(dt) };

	return sys__vfio_device_detach_iommufd_pt(d->fd, &dt);
}

static int region_check(struct vfio_device *d, unsigned index, uint64_t off, size_t len)
{
	if (index >= VFIO_PCI_NUM_REGIONS || off > d->region[index].size || len > d->region[index].size - off)
		return -EINVAL;
	return 0;
}

int vfio__region_read(struct vfio_device *d, unsigned index, uint64_t off, void *buf, size_t len)
{
	ssize_t n;

	if (region_check(d, index, off, len))
		return -EINVAL;
	n = pread(d->fd, buf, len, d->region[index].offset + off);
	return n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
}

int vfio__region_write(struct vfio_device *d, unsigned index, uint64_t off, const void *buf, size_t len)
{
	ssize_t n;

	if (region_check(d, index, off, len))
		return -EINVAL;
	n = pwrite(d->fd, buf, len, d->region[index].offset + off);
	return n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
}

void *vfio__region_mmap(struct vfio_device *d, unsigned index, unsigned area)
{
	const struct vfio_region *r = &d->region[index];

	if (index >= VFIO_PCI_NUM_REGIONS || area >= r->nr_mmap) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	return mmap(NULL, r->mmap[area].size, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd,
		    r->offset + r->mmap[area].offset);
}

int vfio__set_irq_eventfds(struct vfio_device *d, unsigned index, unsigned start, unsigned count, const int *fds)
{
	size_t sz = sizeof(struct vfio_irq_set) + count * sizeof(int32_t);
	struct vfio_irq_set *s = calloc(1, sz);
	int ret;

	if (!s)
		return -ENOMEM;
	s->argsz = sz;
	s->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	s->index = index;
	s->start = start;
	s->count = count;
	memcpy(s->data, fds, count * sizeof(int32_t));
	ret = sys__vfio_device_set_irqs(d->fd, s);
	free(s);
	return ret;
}

int vfio__set_irq_unmask_eventfd(struct vfio_device *d, unsigned index, int fd)
{
	struct {
		struct vfio_irq_set s;
		int32_t fd;
	} a = {
		.s = {
			.argsz = sizeof(a),
			.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK,
			.index = index,
			.count = 1,
		},
		.fd = fd,
	};

	return sys__vfio_device_set_irqs(d->fd, &a.s);
}

int vfio__disable_irqs(struct vfio_device *d, unsigned index)
{
	struct vfio_irq_set s = {
		.argsz = sizeof(s),
		.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		.index = index,
	};

	return sys__vfio_device_set_irqs(d->fd, &s);
}

int vfio__reset(struct vfio_device *d)
{
	return (d->flags & VFIO_DEVICE_FLAGS_RESET) ? sys__vfio_device_reset(d->fd) : 0;
}

int vfio__kvm_add(int *kvm_vfio_fd, int vm_fd, struct vfio_device *d)
{
	int ret;

	if (*kvm_vfio_fd < 0) {
		struct kvm_create_device cd = { .type = KVM_DEV_TYPE_VFIO };

		ret = sys__kvm_create_device(vm_fd, &cd);
		if (ret < 0)
			return ret;
		*kvm_vfio_fd = cd.fd;
	}
	ret = kvm_file_attr(*kvm_vfio_fd, d, KVM_DEV_VFIO_FILE_ADD);
	if (!ret)
		d->kvm_vfio_fd = *kvm_vfio_fd;
	return ret;
}
