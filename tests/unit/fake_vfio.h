/*
 * Tier 1 helper: a fake VFIO-cdev + iommufd host for unit tests (linked into every unit test binary).
 *
 *	struct vm *vm = fake_vm__new(16 * MiB);		// the fake KVM first
 *	fake_vfio__init(root);				// then this fake, chained in front of it
 *	struct fake_vfio_dev *d = fake_vfio__add_device("0000:01:00.0");
 *	...vfio_host__create(vm, pci, vtd, &fake_vfio.paths, fake_vfio.iommu)...
 *	int i = fake_vfio__find(IOMMU_IOAS_MAP, 0);	// first IOAS_MAP: fake_vfio.calls[i].a.map
 *	fake_vfio__exit();
 *
 * The host lives in a directory @root (which must exist and is emptied first): @root/sys is the sysfs
 * (bus/pci/devices/<BDF>/vfio-dev/vfioN), @root/dev the /dev (vfio/devices/vfioN and iommu, regular
 * files). A device's cdev file holds its regions at the offsets VFIO_DEVICE_GET_REGION_INFO reports
 * (region i at (i + 1) MiB), so config space and BAR contents are plain bytes that pread/pwrite reach
 * and the test reads and writes with fake_vfio__cfg_*() / fake_vfio__region_*().
 *
 * Ioctls of type ';' (iommufd and VFIO) and the KVM-VFIO device ones (KVM_CREATE_DEVICE, which gets a
 * real descriptor, and KVM_SET_DEVICE_ATTR) are answered here, like the kernel would (ids, ENOENT for
 * unknown ids, EBUSY for destroying an attached HWPT or a parent with children, EOPNOTSUPP for a
 * NEST_PARENT alloc without host ECAP.NEST/SMTS, EINVAL for a bad data type or address width, ENOTTY
 * on the wrong descriptor); every other ioctl goes to the fake KVM. Each of them is recorded in calls[]
 * with a copy of its argument (and its variable data: stage-1 table data, the first invalidation
 * entry, SET_IRQS eventfds). fake_vfio__fail() makes one ioctl fail with a chosen errno.
 */
#ifndef MINIVMM_TESTS_FAKE_VFIO_H
#define MINIVMM_TESTS_FAKE_VFIO_H

#include <linux/iommufd.h>
#include <linux/kvm.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmm/vfio.h"

#define FAKE_VFIO_MAX_DEVS	4
#define FAKE_VFIO_MAX_CALLS	1024
#define FAKE_VFIO_MAX_INV	32	/* HWPT_INVALIDATE entries recorded per call */
#define FAKE_VFIO_MAX_OBJS	256
#define FAKE_VFIO_MAX_FDS	64	/* SET_IRQS eventfds kept per record */
#define FAKE_VFIO_PATH		512
#define FAKE_VFIO_MSIX_CAP	0x40	/* the host's MSI-X capability: table and PBA in BAR 0 at */
#define FAKE_VFIO_MSIX_TABLE	0x2000
#define FAKE_VFIO_MSIX_PBA	0x3000

/* Which descriptor a call was made on. */
enum fake_vfio_fd {
	FAKE_FD_OTHER = -1,
	FAKE_FD_IOMMU = -2,
	FAKE_FD_KVM = -3,	/* KVM_CREATE_DEVICE / KVM_SET_DEVICE_ATTR */
	/* >= 0: the device cdev of devs[n] */
};

struct fake_vfio_dev {
	char bdf[VFIO_BDF_LEN];
	char cdev[FAKE_VFIO_PATH + 64];	/* the cdev file */
	dev_t st_dev;
	ino_t st_ino;
	/* What the device reports; a test may change these before opening it. */
	uint32_t info_flags;		/* VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET */
	uint32_t num_regions, num_irqs;
	struct vfio_region_info region[VFIO_PCI_NUM_REGIONS];	/* size 0 + absent: EINVAL */
	bool region_absent[VFIO_PCI_NUM_REGIONS];
	uint32_t irq_count[VFIO_PCI_NUM_IRQS];
	/* State */
	bool bound;
	uint32_t dev_id;
	uint32_t attached;		/* pt_id given to the last successful ATTACH, 0 = detached */
	int irq_index;			/* index enabled by SET_IRQS, -1 none */
	int intx_unmask_fd;		/* ACTION_UNMASK eventfd of INTx, -1 none */
	unsigned irq_nvec;
	unsigned resets;
};

enum fake_vfio_obj_kind { FAKE_OBJ_IOAS = 1, FAKE_OBJ_HWPT_AUTO, FAKE_OBJ_HWPT_PARENT, FAKE_OBJ_HWPT_S1 };

struct fake_vfio_obj {
	uint32_t id;
	enum fake_vfio_obj_kind kind;
	uint32_t pt_id;			/* what it was allocated on */
	bool alive;
	struct iommu_hwpt_vtd_s1 s1;
};

struct fake_vfio_call {
	unsigned long req;
	const char *name;
	int fd;				/* enum fake_vfio_fd, or the device index */
	int err;			/* errno the fake answered with, 0 = success */
	union {
		struct iommu_destroy destroy;
		struct iommu_ioas_alloc ioas_alloc;
		struct iommu_ioas_map map;
		struct iommu_ioas_unmap unmap;
		struct iommu_ioas_iova_ranges ranges;
		struct iommu_hwpt_alloc hwpt_alloc;
		struct iommu_hw_info hw_info;
		struct iommu_hwpt_invalidate inv;
		struct vfio_device_bind_iommufd bind;
		struct vfio_device_attach_iommufd_pt attach;
		struct vfio_device_detach_iommufd_pt detach;
		struct vfio_device_info info;
		struct vfio_region_info region;
		struct vfio_irq_info irq_info;
		struct vfio_irq_set irq_set;
		struct kvm_create_device create_dev;
		struct kvm_device_attr dev_attr;
	} a;				/* the argument as the caller passed it (outputs filled in) */
	struct iommu_hwpt_vtd_s1 s1;			/* HWPT_ALLOC with VTD_S1 data */
	struct iommu_hwpt_vtd_s1_invalidate inv_entry[FAKE_VFIO_MAX_INV];	/* HWPT_INVALIDATE: the entries */
	int32_t irq_fds[FAKE_VFIO_MAX_FDS];		/* SET_IRQS with DATA_EVENTFD */
	int32_t attr_fd;				/* KVM_SET_DEVICE_ATTR: the descriptor added */
};

struct fake_vfio {
	pthread_mutex_t lock;
	char root[FAKE_VFIO_PATH], sysfs[FAKE_VFIO_PATH], dev[FAKE_VFIO_PATH], iommu[FAKE_VFIO_PATH];
	struct vfio_paths paths;	/* { sysfs, dev } */
	dev_t iommu_st_dev;
	ino_t iommu_st_ino;
	int ndevs;
	struct fake_vfio_dev devs[FAKE_VFIO_MAX_DEVS];

	/* The host IOMMU as IOMMU_GET_HW_INFO describes it (default: a VT-d that can nest). */
	uint32_t hw_type;
	uint64_t cap, ecap;
	uint32_t hw_flags;
	uint64_t hw_capabilities;

	/* iommufd objects: ids are handed out from 1 up, never reused. */
	uint32_t next_id;
	unsigned nobjs;
	struct fake_vfio_obj objs[FAKE_VFIO_MAX_OBJS];
	unsigned nmaps;			/* successful IOAS_MAPs */
	unsigned nunmaps;		/* successful IOAS_UNMAPs */
	/* IOMMU_IOAS_IOVA_RANGES answers these: by default all of 48 bits but the MSI window. */
	unsigned nranges;
	struct iommu_iova_range ranges[4];

	unsigned ncalls;		/* keeps counting past FAKE_VFIO_MAX_CALLS */
	unsigned nrefused;		/* calls the fake refused on its own (not injected; not info queries) */
	struct fake_vfio_call calls[FAKE_VFIO_MAX_CALLS];

	unsigned long fail_req;		/* this ioctl fails with fail_errno ... */
	int fail_errno;
	unsigned fail_skip;		/* ... after this many calls of it went through */
	unsigned fail_times;		/* ... this many times (0: every time) */
	/* HWPT_INVALIDATE refuses an entry with this addr (if inv_refuse_errno), as the kernel stops at a bad one. */
	uint64_t inv_refuse_addr;
	int inv_refuse_errno;

	int (*next)(int fd, unsigned long req, void *arg);	/* the fake KVM */
};

extern struct fake_vfio fake_vfio;

/* Build an empty host in @root (created if missing, emptied) and chain in front of sys__ioctl_fn. */
void fake_vfio__init(const char *root);
/* Remove what fake_vfio__init() and add_device() created under the root (not the root itself). */
void fake_vfio__exit(void);
/* Remove @path and everything below it (0 if it does not exist). */
int fake_vfio__rm_rf(const char *path);

/*
 * A function at @bdf bound to vfio-pci (cdev vfioN, N = its index): an NVMe-like endpoint 144d:a808,
 * class 010802 rev 01, subsystem 144d:a801, PCIe config space (4 KiB) with header type 0 and
 * Interrupt Pin 1, BAR0 64-bit memory 16 KiB, BAR2 I/O 32 bytes, BAR4 32-bit prefetchable 4 KiB,
 * BARs 1/3/5 and the ROM empty, no VGA region; MSI-X 4 vectors, MSI 1, INTx 1; FLR-capable.
 */
struct fake_vfio_dev *fake_vfio__add_device(const char *bdf);
/* The device sysfs knows of, but not bound to vfio-pci (no vfio-dev directory). */
void fake_vfio__add_unbound(const char *bdf);

/* The cdev file's bytes of region @index. */
void fake_vfio__region_write(struct fake_vfio_dev *d, unsigned index, uint64_t off, const void *buf, size_t len);
void fake_vfio__region_read(struct fake_vfio_dev *d, unsigned index, uint64_t off, void *buf, size_t len);
uint32_t fake_vfio__cfg_read(struct fake_vfio_dev *d, unsigned off, unsigned len);
void fake_vfio__cfg_write(struct fake_vfio_dev *d, unsigned off, unsigned len, uint32_t val);

/*
 * Make the ioctl @req fail with @err: after @skip calls of it succeeded, @times times (0: from then
 * on every time). @req 0 stops that.
 */
void fake_vfio__fail(unsigned long req, int err, unsigned skip, unsigned times);

/* Index in calls[] of the first call of @req at or after @from (any request if @req is 0), or -1. */
int fake_vfio__find(unsigned long req, int from);
/* How many calls of @req (0: all) are recorded. */
unsigned fake_vfio__count(unsigned long req);
/* The object with @id, or NULL. */
struct fake_vfio_obj *fake_vfio__obj(uint32_t id);
/* Live HWPTs that user space allocated (auto domains not counted). */
unsigned fake_vfio__live_hwpts(void);
/* Print the recorded calls on stderr (debugging a failing test). */
void fake_vfio__dump(void);

#endif
