/* Tier 1 helper: the fake VFIO-cdev + iommufd host (see fake_vfio.h). No main(): linked into every unit test. */
#include "fake_vfio.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/pci.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/sys.h"
#include "vmm/util.h"

struct fake_vfio fake_vfio = { .lock = PTHREAD_MUTEX_INITIALIZER };

int fake_vfio__ioctl(int fd, unsigned long req, void *arg);	/* sys__ioctl_fn while installed */

#define REGION_OFFSET(i)	(((uint64_t)(i) + 1) << 20)
#define CFG			VFIO_PCI_CONFIG_REGION_INDEX

static void die(const char *what)
{
	fprintf(stderr, "fake_vfio: %s: %s\n", what, strerror(errno));
	abort();
}

/* ---- the host's files ---- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) ? -1 : 0;
}

int fake_vfio__rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) ? -errno : 0;
}

static void mkdir_p(const char *path)
{
	char buf[FAKE_VFIO_PATH];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			die(buf);
		*p = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		die(buf);
}

static void make_file(const char *path, dev_t *st_dev, ino_t *st_ino)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || fstat(fd, &st))
		die(path);
	close(fd);
	*st_dev = st.st_dev;
	*st_ino = st.st_ino;
}

void fake_vfio__init(const char *root)
{
	char sub[FAKE_VFIO_PATH + 16];
	dev_t sd;
	ino_t si;

	mkdir_p(root);
	pthread_mutex_lock(&fake_vfio.lock);
	snprintf(fake_vfio.root, sizeof(fake_vfio.root), "%s", root);
	snprintf(fake_vfio.sysfs, sizeof(fake_vfio.sysfs), "%s/sys", root);
	snprintf(fake_vfio.dev, sizeof(fake_vfio.dev), "%s/dev", root);
	snprintf(fake_vfio.iommu, sizeof(fake_vfio.iommu), "%s/dev/iommu", root);
	pthread_mutex_unlock(&fake_vfio.lock);
	fake_vfio__exit();

	pthread_mutex_lock(&fake_vfio.lock);
	snprintf(sub, sizeof(sub), "%s/bus/pci/devices", fake_vfio.sysfs);
	mkdir_p(sub);
	snprintf(sub, sizeof(sub), "%s/vfio/devices", fake_vfio.dev);
	mkdir_p(sub);
	make_file(fake_vfio.iommu, &sd, &si);
	fake_vfio.iommu_st_dev = sd;
	fake_vfio.iommu_st_ino = si;
	fake_vfio.paths = (struct vfio_paths){ .sysfs = fake_vfio.sysfs, .dev = fake_vfio.dev };
	fake_vfio.ndevs = 0;
	memset(fake_vfio.devs, 0, sizeof(fake_vfio.devs));
	/* A VT-d unit that can run nested first-stage tables: what --viommu flts needs, and more. */
	fake_vfio.hw_type = IOMMU_HW_INFO_TYPE_INTEL_VTD;
	fake_vfio.cap = (48ULL - 1) << 16 | 1ULL << 56 /* FS1GP */ | 1ULL << 10 /* SAGAW 48 */;
	fake_vfio.ecap = 1ULL << 1 /* QI */ | 1ULL << 6 /* PT */ | 1ULL << 26 /* NEST */ | 1ULL << 31 /* SRS */ |
			 1ULL << 43 /* SMTS */ | 1ULL << 46 /* SSTS */ | 1ULL << 47 /* FSTS */ | 1ULL << 48 /* SMPWC */;
	fake_vfio.hw_flags = IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17;
	fake_vfio.nranges = 2;
	fake_vfio.ranges[0] = (struct iommu_iova_range){ 0, 0xfedfffffULL };
	fake_vfio.ranges[1] = (struct iommu_iova_range){ 0xfef00000ULL, (1ULL << 48) - 1 };
	fake_vfio.hw_capabilities = 0;
	fake_vfio.next_id = 1;
	fake_vfio.nobjs = 0;
	fake_vfio.nmaps = 0;
	fake_vfio.ncalls = 0;
	fake_vfio.nrefused = 0;
	fake_vfio.fail_req = 0;
	fake_vfio.fail_errno = 0;
	fake_vfio.fail_skip = fake_vfio.fail_times = 0;
	fake_vfio.inv_refuse_addr = 0;
	fake_vfio.inv_refuse_errno = 0;
	/* Chain in front of whatever is installed (the fake KVM), once. */
	if (sys__ioctl_fn != fake_vfio__ioctl)
		fake_vfio.next = sys__ioctl_fn;
	sys__ioctl_fn = fake_vfio__ioctl;
	pthread_mutex_unlock(&fake_vfio.lock);
}

void fake_vfio__exit(void)
{
	char sub[FAKE_VFIO_PATH + 8];

	if (!fake_vfio.root[0])
		return;
	snprintf(sub, sizeof(sub), "%s/sys", fake_vfio.root);
	fake_vfio__rm_rf(sub);
	snprintf(sub, sizeof(sub), "%s/dev", fake_vfio.root);
	fake_vfio__rm_rf(sub);
}

static void pwrite_all(const char *path, uint64_t off, const void *buf, size_t len)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0 || pwrite(fd, buf, len, off) != (ssize_t)len)
		die(path);
	close(fd);
}

static void pread_all(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || pread(fd, buf, len, off) != (ssize_t)len)
		die(path);
	close(fd);
}

void fake_vfio__region_write(struct fake_vfio_dev *d, unsigned index, uint64_t off, const void *buf, size_t len)
{
	pwrite_all(d->cdev, REGION_OFFSET(index) + off, buf, len);
}

void fake_vfio__region_read(struct fake_vfio_dev *d, unsigned index, uint64_t off, void *buf, size_t len)
{
	pread_all(d->cdev, REGION_OFFSET(index) + off, buf, len);
}

uint32_t fake_vfio__cfg_read(struct fake_vfio_dev *d, unsigned off, unsigned len)
{
	uint32_t v = 0;

	fake_vfio__region_read(d, CFG, off, &v, len);
	return v;
}

void fake_vfio__cfg_write(struct fake_vfio_dev *d, unsigned off, unsigned len, uint32_t val)
{
	fake_vfio__region_write(d, CFG, off, &val, len);
}

static void sysfs_device_dir(const char *bdf)
{
	char path[FAKE_VFIO_PATH + 64];

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", fake_vfio.sysfs, bdf);
	mkdir_p(path);
}

void fake_vfio__add_unbound(const char *bdf)
{
	sysfs_device_dir(bdf);
}

struct fake_vfio_dev *fake_vfio__add_device(const char *bdf)
{
	static const uint64_t bar_size[PCI_STD_NUM_BARS] = { 16384, 0, 32, 0, 4096, 0 };
	static const uint32_t bar_reg[PCI_STD_NUM_BARS] = {
		PCI_BASE_ADDRESS_MEM_TYPE_64, 0, PCI_BASE_ADDRESS_SPACE_IO, 0, PCI_BASE_ADDRESS_MEM_PREFETCH, 0,
	};
	char path[FAKE_VFIO_PATH + 64];
	struct fake_vfio_dev *d;
	int n = fake_vfio.ndevs;

	if (n >= FAKE_VFIO_MAX_DEVS) {
		errno = ENOSPC;
		die("add_device");
	}
	d = &fake_vfio.devs[n];
	memset(d, 0, sizeof(*d));
	snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);
	sysfs_device_dir(bdf);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/vfio-dev/vfio%d", fake_vfio.sysfs, bdf, n);
	mkdir_p(path);
	snprintf(d->cdev, sizeof(d->cdev), "%s/vfio/devices/vfio%d", fake_vfio.dev, n);
	make_file(d->cdev, &d->st_dev, &d->st_ino);

	d->info_flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
	d->num_regions = VFIO_PCI_NUM_REGIONS;
	d->num_irqs = VFIO_PCI_NUM_IRQS;
	for (unsigned i = 0; i < VFIO_PCI_NUM_REGIONS; i++) {
		d->region[i] = (struct vfio_region_info){
			.argsz = sizeof(d->region[i]), .index = i, .offset = REGION_OFFSET(i),
			.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE,
		};
		if (i < PCI_STD_NUM_BARS)
			d->region[i].size = bar_size[i];
	}
	d->region[VFIO_PCI_ROM_REGION_INDEX].flags = VFIO_REGION_INFO_FLAG_READ;
	d->region[CFG].size = 4096;
	d->region_absent[VFIO_PCI_VGA_REGION_INDEX] = true;
	d->irq_count[VFIO_PCI_INTX_IRQ_INDEX] = 1;
	d->irq_count[VFIO_PCI_MSI_IRQ_INDEX] = 1;
	d->irq_count[VFIO_PCI_MSIX_IRQ_INDEX] = 4;
	d->irq_count[VFIO_PCI_ERR_IRQ_INDEX] = 1;
	d->irq_count[VFIO_PCI_REQ_IRQ_INDEX] = 1;
	d->irq_index = -1;
	d->intx_unmask_fd = -1;
	fake_vfio.ndevs++;

	/* Config space as vfio-pci shows it: BARs carry their type bits, addresses are the host's. */
	fake_vfio__cfg_write(d, PCI_VENDOR_ID, 2, 0x144d);
	fake_vfio__cfg_write(d, PCI_DEVICE_ID, 2, 0xa808);
	fake_vfio__cfg_write(d, PCI_COMMAND, 2, 0);
	fake_vfio__cfg_write(d, PCI_STATUS, 2, PCI_STATUS_CAP_LIST);
	fake_vfio__cfg_write(d, PCI_CLASS_REVISION, 4, 0x010802 << 8 | 0x01);
	fake_vfio__cfg_write(d, PCI_HEADER_TYPE, 1, PCI_HEADER_TYPE_NORMAL);
	for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
		uint32_t host_addr = (bar_reg[i] & PCI_BASE_ADDRESS_SPACE_IO) ? 0xe000 : 0xfe000000 + i * 0x10000;

		if (!bar_size[i])
			host_addr = 0;

		fake_vfio__cfg_write(d, PCI_BASE_ADDRESS_0 + 4 * i, 4, bar_reg[i] | host_addr);
	}
	fake_vfio__cfg_write(d, PCI_SUBSYSTEM_VENDOR_ID, 2, 0x144d);
	fake_vfio__cfg_write(d, PCI_SUBSYSTEM_ID, 2, 0xa801);
	fake_vfio__cfg_write(d, PCI_INTERRUPT_PIN, 1, 1);
	fake_vfio__cfg_write(d, PCI_INTERRUPT_LINE, 1, 11);
	/* The host's MSI-X capability: 4 vectors, table and PBA in BAR 0 (its third and fourth pages). */
	fake_vfio__cfg_write(d, PCI_CAPABILITY_LIST, 1, FAKE_VFIO_MSIX_CAP);
	fake_vfio__cfg_write(d, FAKE_VFIO_MSIX_CAP, 1, PCI_CAP_ID_MSIX);
	fake_vfio__cfg_write(d, FAKE_VFIO_MSIX_CAP + 1, 1, 0);
	fake_vfio__cfg_write(d, FAKE_VFIO_MSIX_CAP + PCI_MSIX_FLAGS, 2, 3);
	fake_vfio__cfg_write(d, FAKE_VFIO_MSIX_CAP + PCI_MSIX_TABLE, 4, FAKE_VFIO_MSIX_TABLE | 0);
	fake_vfio__cfg_write(d, FAKE_VFIO_MSIX_CAP + PCI_MSIX_PBA, 4, FAKE_VFIO_MSIX_PBA | 0);
	return d;
}

/* ---- records ---- */

void fake_vfio__fail(unsigned long req, int err, unsigned skip, unsigned times)
{
	pthread_mutex_lock(&fake_vfio.lock);
	fake_vfio.fail_req = req;
	fake_vfio.fail_errno = err;
	fake_vfio.fail_skip = skip;
	fake_vfio.fail_times = times;
	pthread_mutex_unlock(&fake_vfio.lock);
}

int fake_vfio__find(unsigned long req, int from)
{
	int found = -1;

	pthread_mutex_lock(&fake_vfio.lock);
	for (unsigned i = from < 0 ? 0 : from; i < fake_vfio.ncalls && i < FAKE_VFIO_MAX_CALLS; i++) {
		if (!req || fake_vfio.calls[i].req == req) {
			found = i;
			break;
		}
	}
	pthread_mutex_unlock(&fake_vfio.lock);
	return found;
}

unsigned fake_vfio__count(unsigned long req)
{
	unsigned n = 0;

	pthread_mutex_lock(&fake_vfio.lock);
	for (unsigned i = 0; i < fake_vfio.ncalls && i < FAKE_VFIO_MAX_CALLS; i++)
		n += !req || fake_vfio.calls[i].req == req;
	pthread_mutex_unlock(&fake_vfio.lock);
	return n;
}

/* Lock held. */
static struct fake_vfio_obj *obj_of(uint32_t id)
{
	for (unsigned i = 0; i < fake_vfio.nobjs; i++)
		if (fake_vfio.objs[i].id == id && fake_vfio.objs[i].alive)
			return &fake_vfio.objs[i];
	return NULL;
}

struct fake_vfio_obj *fake_vfio__obj(uint32_t id)
{
	struct fake_vfio_obj *o;

	pthread_mutex_lock(&fake_vfio.lock);
	o = obj_of(id);
	pthread_mutex_unlock(&fake_vfio.lock);
	return o;
}

unsigned fake_vfio__live_hwpts(void)
{
	unsigned n = 0;

	pthread_mutex_lock(&fake_vfio.lock);
	for (unsigned i = 0; i < fake_vfio.nobjs; i++)
		n += fake_vfio.objs[i].alive &&
		     (fake_vfio.objs[i].kind == FAKE_OBJ_HWPT_PARENT || fake_vfio.objs[i].kind == FAKE_OBJ_HWPT_S1);
	pthread_mutex_unlock(&fake_vfio.lock);
	return n;
}

void fake_vfio__dump(void)
{
	pthread_mutex_lock(&fake_vfio.lock);
	for (unsigned i = 0; i < fake_vfio.ncalls && i < FAKE_VFIO_MAX_CALLS; i++) {
		const struct fake_vfio_call *c = &fake_vfio.calls[i];

		fprintf(stderr, "fake_vfio: %3u %-30s fd %d -> %s\n", i, c->name, c->fd,
			c->err ? strerror(c->err) : "ok");
	}
	pthread_mutex_unlock(&fake_vfio.lock);
}

/* Lock held. */
static uint32_t obj_new(enum fake_vfio_obj_kind kind, uint32_t pt_id)
{
	struct fake_vfio_obj *o;

	if (fake_vfio.nobjs >= FAKE_VFIO_MAX_OBJS)
		return 0;
	o = &fake_vfio.objs[fake_vfio.nobjs++];
	*o = (struct fake_vfio_obj){ .id = fake_vfio.next_id++, .kind = kind, .pt_id = pt_id, .alive = true };
	return o->id;
}

/* ---- the ioctls ---- */

static int which_fd(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return FAKE_FD_OTHER;
	if (st.st_dev == fake_vfio.iommu_st_dev && st.st_ino == fake_vfio.iommu_st_ino)
		return FAKE_FD_IOMMU;
	for (int i = 0; i < fake_vfio.ndevs; i++)
		if (st.st_dev == fake_vfio.devs[i].st_dev && st.st_ino == fake_vfio.devs[i].st_ino)
			return i;
	return FAKE_FD_OTHER;
}

static struct fake_vfio_dev *dev_by_id(uint32_t dev_id)
{
	for (int i = 0; i < fake_vfio.ndevs; i++)
		if (fake_vfio.devs[i].bound && fake_vfio.devs[i].dev_id == dev_id)
			return &fake_vfio.devs[i];
	return NULL;
}

static bool pt_in_use(uint32_t id)
{
	for (int i = 0; i < fake_vfio.ndevs; i++)
		if (fake_vfio.devs[i].bound && fake_vfio.devs[i].attached == id)
			return true;
	for (unsigned i = 0; i < fake_vfio.nobjs; i++) {
		const struct fake_vfio_obj *o = &fake_vfio.objs[i];

		if (o->alive && o->pt_id == id && o->kind != FAKE_OBJ_HWPT_AUTO)
			return true;
	}
	return false;
}

#define NEED(cond, e)	do { if (!(cond)) return -(e); } while (0)

static int iommu_ioctl(unsigned long req, void *arg, struct fake_vfio_call *c)
{
	switch (req) {
	case IOMMU_IOAS_ALLOC: {
		struct iommu_ioas_alloc *a = arg;

		c->name = "IOMMU_IOAS_ALLOC";
		NEED(a->size >= 12 && !a->flags, EINVAL);
		a->out_ioas_id = obj_new(FAKE_OBJ_IOAS, 0);
		NEED(a->out_ioas_id, ENOMEM);
		c->a.ioas_alloc = *a;
		return 0;
	}
	case IOMMU_IOAS_MAP: {
		struct iommu_ioas_map *m = arg;
		struct fake_vfio_obj *o;

		c->name = "IOMMU_IOAS_MAP";
		c->a.map = *m;
		NEED(m->size >= sizeof(*m), EINVAL);
		o = obj_of(m->ioas_id);
		NEED(o && o->kind == FAKE_OBJ_IOAS, ENOENT);
		NEED(m->length && m->user_va, EINVAL);
		NEED(!(m->flags & ~(uint32_t)(IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)),
		     EINVAL);
		fake_vfio.nmaps++;
		return 0;
	}
	case IOMMU_IOAS_UNMAP: {
		struct iommu_ioas_unmap *u = arg;
		struct fake_vfio_obj *o;

		c->name = "IOMMU_IOAS_UNMAP";
		c->a.unmap = *u;
		NEED(u->size >= sizeof(*u), EINVAL);
		o = obj_of(u->ioas_id);
		NEED(o && o->kind == FAKE_OBJ_IOAS, ENOENT);
		fake_vfio.nunmaps++;
		return 0;
	}
	case IOMMU_IOAS_IOVA_RANGES: {
		struct iommu_ioas_iova_ranges *r = arg;
		struct fake_vfio_obj *o;

		c->name = "IOMMU_IOAS_IOVA_RANGES";
		c->a.ranges = *r;
		NEED(r->size >= sizeof(*r), EINVAL);
		o = obj_of(r->ioas_id);
		NEED(o && o->kind == FAKE_OBJ_IOAS, ENOENT);
		if (r->num_iovas < fake_vfio.nranges) {
			r->num_iovas = fake_vfio.nranges;
			return -EMSGSIZE;
		}
		memcpy((void *)(uintptr_t)r->allowed_iovas, fake_vfio.ranges, fake_vfio.nranges * sizeof(fake_vfio.ranges[0]));
		r->num_iovas = fake_vfio.nranges;
		r->out_iova_alignment = 4096;
		return 0;
	}
	case IOMMU_HWPT_ALLOC: {
		struct iommu_hwpt_alloc *a = arg;
		struct fake_vfio_dev *d;
		struct fake_vfio_obj *pt;
		uint32_t id;

		c->name = "IOMMU_HWPT_ALLOC";
		c->a.hwpt_alloc = *a;
		if (a->data_type == IOMMU_HWPT_DATA_VTD_S1 && a->data_uptr && a->data_len >= sizeof(c->s1))
			memcpy(&c->s1, (void *)(uintptr_t)a->data_uptr, sizeof(c->s1));
		NEED(a->size >= 40, EINVAL);
		d = dev_by_id(a->dev_id);
		NEED(d, ENOENT);
		pt = obj_of(a->pt_id);
		NEED(pt, ENOENT);
		if (a->data_type == IOMMU_HWPT_DATA_NONE) {
			bool nests = (fake_vfio.ecap & (1ULL << 26)) && (fake_vfio.ecap & (1ULL << 43));

			NEED(pt->kind == FAKE_OBJ_IOAS, EINVAL);
			NEED(!(a->flags & IOMMU_HWPT_ALLOC_NEST_PARENT) || nests, EOPNOTSUPP);
			id = obj_new(FAKE_OBJ_HWPT_PARENT, pt->id);
		} else {
			NEED(a->data_type == IOMMU_HWPT_DATA_VTD_S1, EOPNOTSUPP);
			NEED(pt->kind == FAKE_OBJ_HWPT_PARENT && !a->flags, EINVAL);
			NEED(a->data_len >= sizeof(c->s1) && a->data_uptr, EINVAL);
			NEED(c->s1.addr_width == 48 || c->s1.addr_width == 57, EINVAL);
			NEED(!(c->s1.pgtbl_addr & 0xfff), EINVAL);
			id = obj_new(FAKE_OBJ_HWPT_S1, pt->id);
			if (id)
				obj_of(id)->s1 = c->s1;
		}
		NEED(id, ENOMEM);
		a->out_hwpt_id = id;
		c->a.hwpt_alloc.out_hwpt_id = id;
		return 0;
	}
	case IOMMU_GET_HW_INFO: {
		struct iommu_hw_info *h = arg;
		struct iommu_hw_info_vtd vtd = {
			.flags = fake_vfio.hw_flags, .cap_reg = fake_vfio.cap, .ecap_reg = fake_vfio.ecap,
		};

		c->name = "IOMMU_GET_HW_INFO";
		c->a.hw_info = *h;
		NEED(h->size >= 32, EINVAL);
		NEED(dev_by_id(h->dev_id), ENOENT);
		if (h->data_len && h->data_uptr)
			memcpy((void *)(uintptr_t)h->data_uptr, &vtd, MIN(h->data_len, sizeof(vtd)));
		h->data_len = sizeof(vtd);
		h->out_data_type = fake_vfio.hw_type;
		h->out_capabilities = fake_vfio.hw_capabilities;
		c->a.hw_info = *h;
		return 0;
	}
	case IOMMU_HWPT_INVALIDATE: {
		struct iommu_hwpt_invalidate *inv = arg;
		struct fake_vfio_obj *o;
		const struct iommu_hwpt_vtd_s1_invalidate *e;

		c->name = "IOMMU_HWPT_INVALIDATE";
		c->a.inv = *inv;
		if (inv->data_uptr && inv->entry_len == sizeof(c->inv_entry[0]))
			memcpy(c->inv_entry, (void *)(uintptr_t)inv->data_uptr,
			       MIN(inv->entry_num, FAKE_VFIO_MAX_INV) * sizeof(c->inv_entry[0]));
		NEED(inv->size >= 32, EINVAL);
		o = obj_of(inv->hwpt_id);
		NEED(o, ENOENT);
		NEED(o->kind == FAKE_OBJ_HWPT_S1, EINVAL);
		NEED(inv->data_type == IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, EINVAL);
		NEED(inv->entry_len >= sizeof(*e), EINVAL);
		e = (const void *)(uintptr_t)inv->data_uptr;
		for (uint32_t i = 0; i < inv->entry_num; i++, e = (const void *)((const char *)e + inv->entry_len)) {
			if ((e->flags & ~IOMMU_VTD_INV_FLAGS_LEAF) || e->__reserved || (e->addr & 0xfff) ||
			    (e->npages == UINT64_MAX && e->addr)) {
				inv->entry_num = i;
				return e->addr & 0xfff || e->npages == UINT64_MAX ? -EINVAL : -EOPNOTSUPP;
			}
			if (fake_vfio.inv_refuse_errno && e->addr == fake_vfio.inv_refuse_addr) {
				inv->entry_num = i;
				c->a.inv = *inv;
				return -fake_vfio.inv_refuse_errno;
			}
		}
		c->a.inv = *inv;
		return 0;
	}
	case IOMMU_DESTROY: {
		struct iommu_destroy *dd = arg;
		struct fake_vfio_obj *o;

		c->name = "IOMMU_DESTROY";
		c->a.destroy = *dd;
		o = obj_of(dd->id);
		NEED(o && o->kind != FAKE_OBJ_HWPT_AUTO, ENOENT);
		NEED(!pt_in_use(o->id), EBUSY);
		o->alive = false;
		return 0;
	}
	default:
		c->name = "iommufd ioctl (unknown)";
		return -ENOTTY;
	}
}

static int dev_ioctl(struct fake_vfio_dev *d, int fd, unsigned long req, void *arg, struct fake_vfio_call *c)
{
	switch (req) {
	case VFIO_DEVICE_BIND_IOMMUFD: {
		struct vfio_device_bind_iommufd *b = arg;
		struct stat st;

		c->name = "VFIO_DEVICE_BIND_IOMMUFD";
		c->a.bind = *b;
		NEED(b->argsz >= 16 && !b->flags, EINVAL);
		NEED(!fstat(b->iommufd, &st), EBADF);
		NEED(st.st_dev == fake_vfio.iommu_st_dev && st.st_ino == fake_vfio.iommu_st_ino, EBADF);
		/*
		 * Closing the cdev unbinds it in the kernel; the fake cannot see close(), so each binding
		 * holds a shared flock on its open file: if no other open file holds one any more, the one
		 * that was bound is closed (a probe, then a launch, bind the same device in turn).
		 */
		if (d->bound && !flock(fd, LOCK_EX | LOCK_NB))
			d->bound = false;
		NEED(!d->bound, EINVAL);
		flock(fd, LOCK_SH);
		d->bound = true;
		d->dev_id = fake_vfio.next_id++;
		d->attached = 0;
		b->out_devid = d->dev_id;
		c->a.bind = *b;
		return 0;
	}
	case VFIO_DEVICE_ATTACH_IOMMUFD_PT: {
		struct vfio_device_attach_iommufd_pt *a = arg;
		struct fake_vfio_obj *o;

		c->name = "VFIO_DEVICE_ATTACH_IOMMUFD_PT";
		c->a.attach = *a;
		NEED(a->argsz >= 12 && !a->flags, EINVAL);
		NEED(d->bound, EINVAL);
		o = obj_of(a->pt_id);
		NEED(o && o->kind != FAKE_OBJ_HWPT_AUTO, ENOENT);
		d->attached = a->pt_id;
		/* The kernel answers an IOAS with the domain it attached the device to. */
		if (o->kind == FAKE_OBJ_IOAS)
			a->pt_id = obj_new(FAKE_OBJ_HWPT_AUTO, o->id);
		return 0;
	}
	case VFIO_DEVICE_DETACH_IOMMUFD_PT: {
		struct vfio_device_detach_iommufd_pt *dt = arg;

		c->name = "VFIO_DEVICE_DETACH_IOMMUFD_PT";
		c->a.detach = *dt;
		NEED(dt->argsz >= 8 && !dt->flags, EINVAL);
		NEED(d->bound, EINVAL);
		d->attached = 0;
		return 0;
	}
	case VFIO_DEVICE_GET_INFO: {
		struct vfio_device_info *i = arg;

		c->name = "VFIO_DEVICE_GET_INFO";
		NEED(i->argsz >= 16, EINVAL);
		i->flags = d->info_flags;
		i->num_regions = d->num_regions;
		i->num_irqs = d->num_irqs;
		c->a.info = *i;
		return 0;
	}
	case VFIO_DEVICE_GET_REGION_INFO: {
		struct vfio_region_info *r = arg;

		c->name = "VFIO_DEVICE_GET_REGION_INFO";
		c->a.region = *r;
		NEED(r->argsz >= 32, EINVAL);
		NEED(r->index < d->num_regions && r->index < VFIO_PCI_NUM_REGIONS, EINVAL);
		NEED(!d->region_absent[r->index], EINVAL);
		r->flags = d->region[r->index].flags;
		r->size = d->region[r->index].size;
		r->offset = d->region[r->index].offset;
		r->cap_offset = 0;
		c->a.region = *r;
		return 0;
	}
	case VFIO_DEVICE_GET_IRQ_INFO: {
		struct vfio_irq_info *ii = arg;

		c->name = "VFIO_DEVICE_GET_IRQ_INFO";
		c->a.irq_info = *ii;
		NEED(ii->argsz >= 16, EINVAL);
		NEED(ii->index < d->num_irqs && ii->index < VFIO_PCI_NUM_IRQS, EINVAL);
		ii->count = d->irq_count[ii->index];
		ii->flags = VFIO_IRQ_INFO_EVENTFD | (ii->index == VFIO_PCI_INTX_IRQ_INDEX ? VFIO_IRQ_INFO_MASKABLE |
			    VFIO_IRQ_INFO_AUTOMASKED : VFIO_IRQ_INFO_NORESIZE);
		c->a.irq_info = *ii;
		return 0;
	}
	case VFIO_DEVICE_SET_IRQS: {
		struct vfio_irq_set *s = arg;
		unsigned data = s->flags & VFIO_IRQ_SET_DATA_TYPE_MASK;

		c->name = "VFIO_DEVICE_SET_IRQS";
		c->a.irq_set = *s;
		if (data == VFIO_IRQ_SET_DATA_EVENTFD)
			for (unsigned i = 0; i < s->count && i < FAKE_VFIO_MAX_FDS; i++)
				c->irq_fds[i] = ((const int32_t *)s->data)[i];
		NEED(s->argsz >= sizeof(*s) && s->index < VFIO_PCI_NUM_IRQS, EINVAL);
		if ((s->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK) == VFIO_IRQ_SET_ACTION_UNMASK) {
			/* The INTx unmask eventfd (KVM's resample fd), while INTx is enabled. */
			NEED(s->index == VFIO_PCI_INTX_IRQ_INDEX && data == VFIO_IRQ_SET_DATA_EVENTFD && s->count == 1 &&
			     s->argsz >= sizeof(*s) + sizeof(int32_t) && d->irq_index == VFIO_PCI_INTX_IRQ_INDEX, EINVAL);
			d->intx_unmask_fd = ((const int32_t *)s->data)[0];
			return 0;
		}
		NEED((s->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK) == VFIO_IRQ_SET_ACTION_TRIGGER, EINVAL);
		if (data == VFIO_IRQ_SET_DATA_NONE && !s->count) {
			/* Disable every vector of the index. */
			NEED(d->irq_index == (int)s->index, EINVAL);
			d->irq_index = -1;
			d->irq_nvec = 0;
			d->intx_unmask_fd = -1;
			return 0;
		}
		NEED(data == VFIO_IRQ_SET_DATA_EVENTFD, EINVAL);
		NEED(s->argsz >= sizeof(*s) + s->count * sizeof(int32_t), EINVAL);
		NEED(s->count && s->start + s->count <= d->irq_count[s->index], EINVAL);
		NEED(d->irq_index < 0 || d->irq_index == (int)s->index, EINVAL);
		d->irq_index = s->index;
		d->irq_nvec = s->start + s->count;
		return 0;
	}
	case VFIO_DEVICE_RESET:
		c->name = "VFIO_DEVICE_RESET";
		NEED(d->info_flags & VFIO_DEVICE_FLAGS_RESET, ENOTTY);
		d->resets++;
		return 0;
	default:
		c->name = "VFIO ioctl (unknown)";
		return -ENOTTY;
	}
}

static int kvm_vfio_ioctl(unsigned long req, void *arg, struct fake_vfio_call *c)
{
	if (req == KVM_CREATE_DEVICE) {
		struct kvm_create_device *cd = arg;
		int fd;

		c->name = "KVM_CREATE_DEVICE";
		c->a.create_dev = *cd;
		NEED(cd->type == KVM_DEV_TYPE_VFIO, ENODEV);
		fd = eventfd(0, EFD_CLOEXEC);	/* a real descriptor the VMM may close */
		NEED(fd >= 0, EMFILE);
		cd->fd = fd;
		c->a.create_dev = *cd;
		return 0;
	}
	{
		const struct kvm_device_attr *a = arg;

		c->name = "KVM_SET_DEVICE_ATTR";
		c->a.dev_attr = *a;
		if (a->group == KVM_DEV_VFIO_FILE && a->addr)
			c->attr_fd = *(const int32_t *)(uintptr_t)a->addr;
		NEED(a->group == KVM_DEV_VFIO_FILE &&
		     (a->attr == KVM_DEV_VFIO_FILE_ADD || a->attr == KVM_DEV_VFIO_FILE_DEL), ENXIO);
		NEED(which_fd(c->attr_fd) >= 0, EBADF);
		return 0;
	}
}

/* The argument of @req as the caller passed it, for a call the fake refuses without running it. */
static void record_input(struct fake_vfio_call *c, unsigned long req, const void *arg)
{
	static const struct { unsigned long req; const char *name; size_t size; } known[] = {
		{ IOMMU_DESTROY, "IOMMU_DESTROY", sizeof(struct iommu_destroy) },
		{ IOMMU_IOAS_ALLOC, "IOMMU_IOAS_ALLOC", sizeof(struct iommu_ioas_alloc) },
		{ IOMMU_IOAS_MAP, "IOMMU_IOAS_MAP", sizeof(struct iommu_ioas_map) },
		{ IOMMU_HWPT_ALLOC, "IOMMU_HWPT_ALLOC", sizeof(struct iommu_hwpt_alloc) },
		{ IOMMU_GET_HW_INFO, "IOMMU_GET_HW_INFO", sizeof(struct iommu_hw_info) },
		{ IOMMU_HWPT_INVALIDATE, "IOMMU_HWPT_INVALIDATE", sizeof(struct iommu_hwpt_invalidate) },
		{ VFIO_DEVICE_BIND_IOMMUFD, "VFIO_DEVICE_BIND_IOMMUFD", sizeof(struct vfio_device_bind_iommufd) },
		{ VFIO_DEVICE_ATTACH_IOMMUFD_PT, "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
		  sizeof(struct vfio_device_attach_iommufd_pt) },
		{ VFIO_DEVICE_DETACH_IOMMUFD_PT, "VFIO_DEVICE_DETACH_IOMMUFD_PT",
		  sizeof(struct vfio_device_detach_iommufd_pt) },
		{ VFIO_DEVICE_GET_INFO, "VFIO_DEVICE_GET_INFO", sizeof(struct vfio_device_info) },
		{ VFIO_DEVICE_GET_REGION_INFO, "VFIO_DEVICE_GET_REGION_INFO", sizeof(struct vfio_region_info) },
		{ VFIO_DEVICE_GET_IRQ_INFO, "VFIO_DEVICE_GET_IRQ_INFO", sizeof(struct vfio_irq_info) },
		{ VFIO_DEVICE_SET_IRQS, "VFIO_DEVICE_SET_IRQS", sizeof(struct vfio_irq_set) },
		{ VFIO_DEVICE_RESET, "VFIO_DEVICE_RESET", 0 },
		{ KVM_CREATE_DEVICE, "KVM_CREATE_DEVICE", sizeof(struct kvm_create_device) },
		{ KVM_SET_DEVICE_ATTR, "KVM_SET_DEVICE_ATTR", sizeof(struct kvm_device_attr) },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (known[i].req != req)
			continue;
		c->name = known[i].name;
		if (arg && known[i].size)
			memcpy(&c->a, arg, known[i].size);
		if (arg && req == IOMMU_HWPT_ALLOC && c->a.hwpt_alloc.data_type == IOMMU_HWPT_DATA_VTD_S1 &&
		    c->a.hwpt_alloc.data_uptr && c->a.hwpt_alloc.data_len >= sizeof(c->s1))
			memcpy(&c->s1, (void *)(uintptr_t)c->a.hwpt_alloc.data_uptr, sizeof(c->s1));
		return;
	}
}

int fake_vfio__ioctl(int fd, unsigned long req, void *arg)
{
	struct fake_vfio_call call = { .req = req, .fd = FAKE_FD_OTHER }, *c = &call;
	bool kvm_dev = req == KVM_CREATE_DEVICE || req == KVM_SET_DEVICE_ATTR;
	int ret, kind;

	if (_IOC_TYPE(req) != VFIO_TYPE && !kvm_dev)
		return fake_vfio.next(fd, req, arg);
	pthread_mutex_lock(&fake_vfio.lock);
	kind = kvm_dev ? FAKE_FD_KVM : which_fd(fd);
	call.fd = kind;
	if (fake_vfio.ncalls < FAKE_VFIO_MAX_CALLS) {
		c = &fake_vfio.calls[fake_vfio.ncalls];
		*c = call;
	}
	fake_vfio.ncalls++;
	if (fake_vfio.fail_req == req && fake_vfio.fail_skip) {
		fake_vfio.fail_skip--;
	} else if (fake_vfio.fail_req == req) {
		/* An injected failure: nothing happens, as when the kernel refuses. */
		record_input(c, req, arg);
		if (req == IOMMU_HWPT_INVALIDATE)
			((struct iommu_hwpt_invalidate *)arg)->entry_num = 0;	/* none processed */
		ret = -fake_vfio.fail_errno;
		if (fake_vfio.fail_times && !--fake_vfio.fail_times)
			fake_vfio.fail_req = 0;
		goto out;
	}
	if (kind == FAKE_FD_KVM)
		ret = kvm_vfio_ioctl(req, arg, c);
	else if (kind == FAKE_FD_IOMMU)
		ret = iommu_ioctl(req, arg, c);
	else if (kind >= 0)
		ret = dev_ioctl(&fake_vfio.devs[kind], fd, req, arg, c);
	else
		ret = -ENOTTY;
	/* An entry refused on the test's request (inv_refuse_*) is an injected failure too. */
	if (ret < 0 && req != VFIO_DEVICE_GET_REGION_INFO && req != VFIO_DEVICE_GET_IRQ_INFO &&
	    !(req == IOMMU_HWPT_INVALIDATE && fake_vfio.inv_refuse_errno && ret == -fake_vfio.inv_refuse_errno))
		fake_vfio.nrefused++;	/* asking what the device has is allowed to fail */
out:
	if (!c->name)
		record_input(c, req, NULL);
	if (!c->name)
		c->name = "?";
	c->err = ret < 0 ? -ret : 0;
	pthread_mutex_unlock(&fake_vfio.lock);
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}
