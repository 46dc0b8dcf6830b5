/*
 * Tier 3: dmaetool, a Linux userspace driver for minivmm's DMA engine (devices/dma-engine.h), run by the
 * L2 guest of the nested lab (tests/lab/l2/faults.sh). Built static on the host by scripts/lab/
 * initramfs.sh and put into the L2 initramfs as /lab/bin/dmaetool.
 *
 * It drives the engine through VFIO's legacy container/group interface with the type1 IOMMU backend
 * (Debian's 6.12 kernel has no iommufd): the IOVAs it programs are mapped, or deliberately not, in an
 * unmanaged domain of the guest's VT-d driver, i.e. in first-stage tables of minivmm's virtual VT-d.
 *
 *   dmaetool vfio BDF GROUP-DEV STEP...   STEP: copy | ro-write | unmapped-read | abandon
 *   dmaetool iommufd BDF CDEV STEP...     the same through iommufd and the VFIO device cdev (the lab's
 *                                         modules, tests/lab/l2/nest.sh): an IOAS the device is attached
 *                                         to, i.e. a second-stage domain of the guest's VT-d driver
 *   dmaetool regs BDF                     the registers, through sysfs resource0 (no driver bound)
 *
 * copy           64 KiB from a read-only mapping to a writable one; the data must arrive
 * ro-write       a copy whose destination is mapped read-only (VFIO_DMA_MAP_FLAG_READ only)
 * unmapped-read  a copy whose source IOVA was never mapped
 * abandon        a 64 MiB fill of a mapped buffer, and exit while it runs: the VFIO user goes away
 *                (device closed, domain detached, buffer unmapped) with the DMA pending
 *
 * Every step prints one "@@ dmae STEP key=value..." line: what the engine reports (STATUS, ERRCODE,
 * FAULT_ADDR, FAULT_DIR, BYTES, COMPLETED) and, for copies, whether the data arrived. It judges
 * nothing: tests/lab/checks/50-faults.sh does. Exit status: 0 when every step could be run, 1 when the
 * setup or a step could not (the reason in an "@@ dmae error" line).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/iommufd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "devices/dma-engine.h"

/* IOVAs of the steps: distinct, so each DMAR fault in the guest's log names its step. */
#define IOVA_SRC	0x00100000ull
#define IOVA_DST	0x00200000ull
#define IOVA_RO		0x00300000ull
#define IOVA_UNMAPPED	0x7e000000ull	/* never mapped */
#define IOVA_BIG	0x10000000ull
#define COPY_LEN	(64u << 10)
#define BIG_LEN		DMAE_MAX_LEN

struct engine {
	int container, group, dev;
	int iommufd;			/* >= 0: iommufd instead of the container */
	uint32_t ioas;
	off_t bar0, cfg;		/* region offsets in the device fd */
	volatile uint8_t *mmio;		/* regs: sysfs resource0 instead of the device fd */
};

static void fail(const char *fmt, ...)
{
	va_list ap;

	printf("@@ dmae error ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(1);
}

static uint32_t rd32(struct engine *e, unsigned off)
{
	uint32_t v;

	if (e->mmio)
		return *(volatile uint32_t *)(e->mmio + off);
	if (pread(e->dev, &v, 4, e->bar0 + off) != 4)
		fail("reading register %#x: %s", off, strerror(errno));
	return v;
}

static uint64_t rd64(struct engine *e, unsigned off)
{
	return rd32(e, off) | (uint64_t)rd32(e, off + 4) << 32;
}

static void wr32(struct engine *e, unsigned off, uint32_t v)
{
	if (pwrite(e->dev, &v, 4, e->bar0 + off) != 4)
		fail("writing register %#x: %s", off, strerror(errno));
}

/* A 64-bit register as two 32-bit halves, low first (allowed by dma-engine.h). */
static void wr64(struct engine *e, unsigned off, uint64_t v)
{
	wr32(e, off, (uint32_t)v);
	wr32(e, off + 4, (uint32_t)(v >> 32));
}

static void report(struct engine *e, const char *step, const char *extra)
{
	uint32_t st = rd32(e, DMAE_STATUS);

	printf("@@ dmae %s status=%#x busy=%u done=%u error=%u errcode=%u fault_addr=%#" PRIx64
	       " fault_dir=%u bytes=%" PRIu64 " completed=%" PRIu64 "%s%s\n", step, st, st & DMAE_STATUS_BUSY ? 1 : 0,
	       st & DMAE_STATUS_DONE ? 1 : 0, st & DMAE_STATUS_ERROR ? 1 : 0, DMAE_STATUS_ERRCODE(st),
	       rd64(e, DMAE_FAULT_ADDR), rd32(e, DMAE_FAULT_DIR), rd64(e, DMAE_BYTES), rd64(e, DMAE_COMPLETED),
	       extra ? " " : "", extra ? extra : "");
	fflush(stdout);
}

static void start(struct engine *e, unsigned op, uint64_t src, uint64_t dst, uint32_t len, uint64_t pattern)
{
	wr64(e, DMAE_SRC, src);
	wr64(e, DMAE_DST, dst);
	wr32(e, DMAE_LEN, len);
	wr32(e, DMAE_PASID, 0);
	wr64(e, DMAE_PATTERN, pattern);
	wr32(e, DMAE_CMD, op);
	wr32(e, DMAE_DOORBELL, 1);
}

/* Poll STATUS until BUSY clears (the engine's thread runs the command); false after 10 s. */
static bool wait_idle(struct engine *e)
{
	struct timespec ts = { 0, 1000000 };

	for (int i = 0; i < 10000; i++) {
		if (!(rd32(e, DMAE_STATUS) & DMAE_STATUS_BUSY))
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

static void *buffer(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED)
		fail("mmap of %zu bytes: %s", len, strerror(errno));
	return p;
}

/* Map @len bytes at @va to @iova for the device: VFIO_DMA_MAP_FLAG_READ = the device may read. */
static void map(struct engine *e, void *va, uint64_t iova, uint64_t len, uint32_t flags)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m), .flags = flags, .vaddr = (uintptr_t)va, .iova = iova, .size = len,
	};

	if (e->iommufd >= 0) {
		struct iommu_ioas_map im = {
			.size = sizeof(im), .ioas_id = e->ioas, .user_va = (uintptr_t)va, .length = len, .iova = iova,
			.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
				 (flags & VFIO_DMA_MAP_FLAG_WRITE ? IOMMU_IOAS_MAP_WRITEABLE : 0),
		};

		if (ioctl(e->iommufd, IOMMU_IOAS_MAP, &im))
			fail("IOMMU_IOAS_MAP iova %#" PRIx64 " size %#" PRIx64 ": %s", iova, len, strerror(errno));
		return;
	}
	if (ioctl(e->container, VFIO_IOMMU_MAP_DMA, &m))
		fail("VFIO_IOMMU_MAP_DMA iova %#" PRIx64 " size %#" PRIx64 ": %s", iova, len, strerror(errno));
}

static void unmap(struct engine *e, uint64_t iova, uint64_t len)
{
	struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .iova = iova, .size = len };

	if (e->iommufd >= 0) {
		struct iommu_ioas_unmap iu = { .size = sizeof(iu), .ioas_id = e->ioas, .iova = iova, .length = len };

		if (ioctl(e->iommufd, IOMMU_IOAS_UNMAP, &iu))
			fail("IOMMU_IOAS_UNMAP iova %#" PRIx64 ": %s", iova, strerror(errno));
		return;
	}
	if (ioctl(e->container, VFIO_IOMMU_UNMAP_DMA, &u))
		fail("VFIO_IOMMU_UNMAP_DMA iova %#" PRIx64 ": %s", iova, strerror(errno));
}

static off_t region(struct engine *e, unsigned index, uint64_t min_size)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = index };

	if (ioctl(e->dev, VFIO_DEVICE_GET_REGION_INFO, &ri))
		fail("VFIO_DEVICE_GET_REGION_INFO %u: %s", index, strerror(errno));
	if (ri.size < min_size)
		fail("region %u has %" PRIu64 " bytes, want %" PRIu64, index, (uint64_t)ri.size, min_size);
	return (off_t)ri.offset;
}

/* Bus mastering on, the engine's ID checked: the common end of both ways in. */
static void enable(struct engine *e, const char *bdf, const char *how)
{
	uint16_t cmd;

	e->bar0 = region(e, VFIO_PCI_BAR0_REGION_INDEX, DMAE_REG_SIZE);
	e->cfg = region(e, VFIO_PCI_CONFIG_REGION_INDEX, 64);
	if (pread(e->dev, &cmd, 2, e->cfg + PCI_COMMAND) != 2)
		fail("reading the command register: %s", strerror(errno));
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	if (pwrite(e->dev, &cmd, 2, e->cfg + PCI_COMMAND) != 2)
		fail("writing the command register: %s", strerror(errno));
	if (rd32(e, DMAE_ID) != DMAE_ID_VALUE)
		fail("register ID reads %#x, not the DMA engine's %#x", rd32(e, DMAE_ID), DMAE_ID_VALUE);
	printf("@@ dmae open bdf=%s %s id=%#x max_len=%u completed=%" PRIu64 "\n", bdf, how, rd32(e, DMAE_ID),
	       rd32(e, DMAE_MAX_LEN_REG), rd64(e, DMAE_COMPLETED));
	fflush(stdout);
}

static void vfio_open(struct engine *e, const char *bdf, const char *group_dev)
{
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	char how[96];

	e->container = open("/dev/vfio/vfio", O_RDWR);
	if (e->container < 0)
		fail("/dev/vfio/vfio: %s", strerror(errno));
	if (ioctl(e->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		fail("VFIO API version is not %d", VFIO_API_VERSION);
	if (ioctl(e->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1)
		fail("the VFIO container has no type1v2 IOMMU backend");
	e->group = open(group_dev, O_RDWR);
	if (e->group < 0)
		fail("%s: %s", group_dev, strerror(errno));
	if (ioctl(e->group, VFIO_GROUP_GET_STATUS, &gs))
		fail("VFIO_GROUP_GET_STATUS: %s", strerror(errno));
	if (!(gs.flags & VFIO_GROUP_FLAGS_VIABLE))
		fail("group %s is not viable (another device of the group is bound to a host driver)", group_dev);
	if (ioctl(e->group, VFIO_GROUP_SET_CONTAINER, &e->container))
		fail("VFIO_GROUP_SET_CONTAINER: %s", strerror(errno));
	/* The guest's VT-d driver allocates the unmanaged domain here (first-stage tables). */
	if (ioctl(e->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		fail("VFIO_SET_IOMMU type1v2: %s", strerror(errno));
	e->dev = ioctl(e->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (e->dev < 0)
		fail("VFIO_GROUP_GET_DEVICE_FD %s: %s", bdf, strerror(errno));
	/* vfio-pci enables the device but leaves bus mastering to its user. */
	snprintf(how, sizeof(how), "group=%s", group_dev);
	enable(e, bdf, how);
}

/* iommufd: bind the cdev, attach it to a fresh IOAS (the guest's VT-d driver makes its domain). */
static void iommufd_open(struct engine *e, const char *bdf, const char *cdev)
{
	struct iommu_ioas_alloc ia = { .size = sizeof(ia) };
	struct vfio_device_bind_iommufd b = { .argsz = sizeof(b) };
	struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at) };
	char how[96];

	e->iommufd = open("/dev/iommu", O_RDWR);
	if (e->iommufd < 0)
		fail("/dev/iommu: %s", strerror(errno));
	e->dev = open(cdev, O_RDWR);
	if (e->dev < 0)
		fail("%s: %s", cdev, strerror(errno));
	b.iommufd = e->iommufd;
	if (ioctl(e->dev, VFIO_DEVICE_BIND_IOMMUFD, &b))
		fail("VFIO_DEVICE_BIND_IOMMUFD: %s", strerror(errno));
	if (ioctl(e->iommufd, IOMMU_IOAS_ALLOC, &ia))
		fail("IOMMU_IOAS_ALLOC: %s", strerror(errno));
	e->ioas = ia.out_ioas_id;
	at.pt_id = e->ioas;
	if (ioctl(e->dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at))
		fail("VFIO_DEVICE_ATTACH_IOMMUFD_PT: %s", strerror(errno));
	snprintf(how, sizeof(how), "cdev=%s ioas=%u hwpt=%u", cdev, e->ioas, at.pt_id);
	enable(e, bdf, how);
}

/* A 64 KiB copy between two good mappings: the data must arrive. */
static void step_copy(struct engine *e, const char *name)
{
	uint8_t *src = buffer(COPY_LEN), *dst = buffer(COPY_LEN);
	char extra[64];
	bool idle, same;

	for (unsigned i = 0; i < COPY_LEN; i++)
		src[i] = (uint8_t)(i * 7 + (i >> 8) + 1);
	memset(dst, 0, COPY_LEN);
	map(e, src, IOVA_SRC, COPY_LEN, VFIO_DMA_MAP_FLAG_READ);
	map(e, dst, IOVA_DST, COPY_LEN, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	start(e, DMAE_CMD_COPY, IOVA_SRC, IOVA_DST, COPY_LEN, 0);
	idle = wait_idle(e);
	same = !memcmp(src, dst, COPY_LEN);
	snprintf(extra, sizeof(extra), "src=%#llx dst=%#llx len=%u data=%s%s", IOVA_SRC, IOVA_DST, COPY_LEN,
		 same ? "ok" : "wrong", idle ? "" : " timeout=1");
	report(e, name, extra);
	unmap(e, IOVA_SRC, COPY_LEN);
	unmap(e, IOVA_DST, COPY_LEN);
	munmap(src, COPY_LEN);
	munmap(dst, COPY_LEN);
}

/* A copy into a page the device may only read: the write must fault, the buffer stay untouched. */
static void step_ro_write(struct engine *e)
{
	uint8_t *src = buffer(COPY_LEN), *ro = buffer(COPY_LEN);
	char extra[96];
	bool idle, untouched = true;

	memset(src, 0xa5, COPY_LEN);
	memset(ro, 0x5a, COPY_LEN);
	map(e, src, IOVA_SRC, COPY_LEN, VFIO_DMA_MAP_FLAG_READ);
	map(e, ro, IOVA_RO, COPY_LEN, VFIO_DMA_MAP_FLAG_READ);
	start(e, DMAE_CMD_COPY, IOVA_SRC, IOVA_RO, COPY_LEN, 0);
	idle = wait_idle(e);
	for (unsigned i = 0; i < COPY_LEN; i++)
		untouched &= ro[i] == 0x5a;
	snprintf(extra, sizeof(extra), "src=%#llx dst=%#llx len=%u target=%s%s", IOVA_SRC, IOVA_RO, COPY_LEN,
		 untouched ? "untouched" : "written", idle ? "" : " timeout=1");
	report(e, "ro-write", extra);
	unmap(e, IOVA_SRC, COPY_LEN);
	unmap(e, IOVA_RO, COPY_LEN);
	munmap(src, COPY_LEN);
	munmap(ro, COPY_LEN);
}

/* A copy from an IOVA nobody mapped. */
static void step_unmapped_read(struct engine *e)
{
	uint8_t *dst = buffer(COPY_LEN);
	char extra[96];
	bool idle;

	map(e, dst, IOVA_DST, COPY_LEN, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	start(e, DMAE_CMD_COPY, IOVA_UNMAPPED, IOVA_DST, COPY_LEN, 0);
	idle = wait_idle(e);
	snprintf(extra, sizeof(extra), "src=%#llx dst=%#llx len=%u%s", IOVA_UNMAPPED, IOVA_DST, COPY_LEN,
		 idle ? "" : " timeout=1");
	report(e, "unmapped-read", extra);
	unmap(e, IOVA_DST, COPY_LEN);
	munmap(dst, COPY_LEN);
}

/*
 * A 64 MiB fill, then exit with it running: closing the device (vfio-pci disables it), the group and
 * the container (type1 detaches the group, the guest driver unmaps the buffer and flushes the IOTLB)
 * while the engine still writes. Whatever the engine does next is read back by `dmaetool regs`.
 */
static void step_abandon(struct engine *e)
{
	uint8_t *big = buffer(BIG_LEN);
	char extra[96];

	map(e, big, IOVA_BIG, BIG_LEN, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	start(e, DMAE_CMD_FILL, 0, IOVA_BIG, BIG_LEN, 0x0123456789abcdefull);
	snprintf(extra, sizeof(extra), "dst=%#llx len=%u leaving=1", IOVA_BIG, BIG_LEN);
	report(e, "abandon", extra);
	exit(0);
}

static int cmd_vfio(int argc, char **argv)
{
	struct engine e = { .iommufd = -1 };

	if (!strcmp(argv[1], "iommufd"))
		iommufd_open(&e, argv[2], argv[3]);
	else
		vfio_open(&e, argv[2], argv[3]);
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "copy"))
			step_copy(&e, "copy");
		else if (!strcmp(argv[i], "ro-write"))
			step_ro_write(&e);
		else if (!strcmp(argv[i], "unmapped-read"))
			step_unmapped_read(&e);
		else if (!strcmp(argv[i], "abandon"))
			step_abandon(&e);
		else
			fail("unknown step '%s'", argv[i]);
		/* Let the guest's DMAR fault handler log this step's fault before the next one. */
		usleep(200000);
	}
	return 0;
}

/* The registers through sysfs (the function must have no driver: IO_STRICT_DEVMEM). */
static int cmd_regs(const char *bdf)
{
	struct engine e = { .dev = -1 };
	char path[128];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", bdf);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0)
		fail("%s: %s", path, strerror(errno));
	p = mmap(NULL, DMAE_REG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		fail("mmap %s: %s", path, strerror(errno));
	e.mmio = p;
	if (rd32(&e, DMAE_ID) != DMAE_ID_VALUE)
		fail("register ID reads %#x through %s", rd32(&e, DMAE_ID), path);
	report(&e, "regs", NULL);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && (!strcmp(argv[1], "vfio") || !strcmp(argv[1], "iommufd")))
		return cmd_vfio(argc, argv);
	if (argc == 3 && !strcmp(argv[1], "regs"))
		return cmd_regs(argv[2]);
	fprintf(stderr, "usage: dmaetool vfio BDF /dev/vfio/GROUP STEP... | dmaetool iommufd BDF CDEV STEP... | "
			"dmaetool regs BDF\n"
			"  STEP: copy | ro-write | unmapped-read | abandon\n");
	return 2;
}
