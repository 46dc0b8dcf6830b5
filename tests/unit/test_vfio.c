/*
 * Tier 1 (Check, in-process, no KVM, no VFIO): PCI passthrough (vmm/vfio.c, vmm/iommufd.c, devices/vfio/)
 * without the vIOMMU, on the fake VFIO-cdev + iommufd host of vfio_testlib.h (fake_vfio.h chained to the
 * fake KVM, in a temporary directory that stands for sysfs and /dev). --viommu flts: test_vfio_nest.c.
 *
 * - the BDF parser and --vfio;
 * - every documented error and its message (no such device, not on vfio-pci, no /dev/iommu, BIND,
 *   the failing ioctls, a bridge, no MSI-X/MSI);
 * - --viommu off: the ioctl sequence (IOAS, BIND, RAM maps, ATTACH, KVM-VFIO device, reset), the guest's
 *   view (IDs, BARs, MSI-X slot, no INTx), BAR forwarding, mmap'able BARs as memslots that follow the
 *   guest's placement, command-register forwarding, two devices sharing;
 * - interrupts: MSI-X and MSI enable (SET_IRQS), irqfd per unmasked vector, pending bits set by the
 *   poller thread for masked vectors, disable; teardown releasing every vector and descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "fake_kvm.h"
#include "fake_vfio.h"
#include "vfio_testlib.h"
#include "devices/pci-host.h"
#include "devices/pci.h"
#include "devices/vfio/vfio-pci.h"
#include "machine/cli.h"
#include "vmm/layout.h"
#include "vmm/util.h"
#include "vmm/vfio.h"
#include "vmm/vm.h"

/* ================================================================================================ */
/* BDF parsing and --vfio                                                                            */

static const struct { const char *in, *out; } good_bdfs[] = {
	{ "0000:00:04.0", "0000:00:04.0" },
	{ "00:04.0", "0000:00:04.0" },
	{ "0001:3A:1f.7", "0001:3a:1f.7" },
	{ "ff:1F.7", "0000:ff:1f.7" },
	{ "/sys/bus/pci/devices/0000:65:00.1", "0000:65:00.1" },
	{ "/sys/bus/pci/devices/0000:65:00.1/", "0000:65:00.1" },
	{ "/sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0//", "0000:02:00.0" },
	{ "02:00.0/", "0000:02:00.0" },
};

START_TEST(parse_bdf_good)
{
	char out[VFIO_BDF_LEN];

	memset(out, 'x', sizeof(out));
	ck_assert_int_eq(vfio__parse_bdf(good_bdfs[_i].in, out), 0);
	ck_assert_str_eq(out, good_bdfs[_i].out);
}
END_TEST

static const char *const bad_bdfs[] = {
	"", "/", "junk", "0000:00:04", "00:04", "0000:00:20.0" /* dev 32 */, "00:3f.0", "00:04.8" /* fn 8 */,
	"00:04.f", "00000:00:04.0" /* too long */, "0000:000:04.0", "0000:00:004.0", "0000:00:04.00",
	"0:0:04.0", "0x00:04.0", "00:04.0 ", " 00:04.0", "00-04.0", "0000:00:04:0", "00:04.0x",
	"/sys/bus/pci/devices/", "/sys/bus/pci/devices/0000:00:04.0/vfio-dev", "0000:00:04.0.0",
	"0000:00:0g.0", "+000:00:04.0", "00:4.00", "1:04.0",
};

START_TEST(parse_bdf_bad)
{
	char out[VFIO_BDF_LEN] = "unchanged";

	ck_assert_msg(vfio__parse_bdf(bad_bdfs[_i], out) == -EINVAL, "'%s' accepted as %s", bad_bdfs[_i], out);
}
END_TEST

static enum cli_result parse_cli(struct vmm_config *cfg, const char *const *args, int n)
{
	char *argv[16];
	FILE *devnull = fopen("/dev/null", "w");
	enum cli_result r;

	ck_assert_ptr_nonnull(devnull);
	argv[0] = (char *)"minivmm";
	for (int i = 0; i < n; i++)
		argv[i + 1] = (char *)args[i];
	argv[n + 1] = NULL;
	vfx.err[0] = 0;
	r = cli__parse(n + 1, argv, cfg, vfx.err, sizeof(vfx.err), devnull);
	fclose(devnull);
	return r;
}

START_TEST(cli_vfio)
{
	static struct vmm_config cfg;
	static const char *const two[] = { "--vfio", "01:00.0", "--vfio=/sys/bus/pci/devices/0000:02:00.1/" };
	static const char *const twice[] = { "--vfio", "01:00.0", "--vfio", "0000:01:00.0" };
	static const char *const bad[] = { "--vfio", "01:00.9" };
	static const char *const many[] = { "--vfio", "1:0.0", "--vfio", "01:00.0", "--vfio", "02:00.0", "--vfio",
					    "03:00.0", "--vfio", "04:00.0", "--vfio", "05:00.0" };

	ck_assert_int_eq(parse_cli(&cfg, two, 3), CLI_RUN);
	ck_assert_int_eq(cfg.nvfio, 2);
	ck_assert_str_eq(cfg.vfio[0], "0000:01:00.0");
	ck_assert_str_eq(cfg.vfio[1], "0000:02:00.1");
	ck_assert_int_eq(parse_cli(&cfg, twice, 4), CLI_ERROR);
	ck_assert_str_eq(vfx.err, "--vfio: 0000:01:00.0 is given twice");
	ck_assert_int_eq(parse_cli(&cfg, bad, 2), CLI_ERROR);
	ck_assert_str_eq(vfx.err, "--vfio: '01:00.9' is not a PCI address (DDDD:BB:DD.F or BB:DD.F)");
	ck_assert_int_eq(parse_cli(&cfg, many, 2), CLI_ERROR);	/* "1:0.0" is not a BDF */
	ck_assert_int_eq(parse_cli(&cfg, many + 2, 10), CLI_ERROR);
	ck_assert_str_eq(vfx.err, "--vfio: at most 4 passthrough devices");
	ck_assert_int_eq(parse_cli(&cfg, many + 2, 8), CLI_RUN);
	ck_assert_int_eq(cfg.nvfio, 4);
}
END_TEST

/* ================================================================================================ */
/* Errors, with their messages                                                                      */

START_TEST(error_no_such_device)
{
	int ret = vfx__create_on(vfx.vh, "0000:09:00.0", &vfx.vp);

	ck_assert_int_eq(ret, -ENODEV);
	ck_assert_ptr_null(vfx.vp);
	ck_assert_contains(vfx.err, "vfio 0000:09:00.0: no such PCI device on this host (");
	ck_assert_contains(vfx.err, "/sys/bus/pci/devices/0000:09:00.0)");
	ck_assert_uint_eq(fake_vfio.ncalls, 0);	/* checked before /dev/iommu is even opened */
}
END_TEST

START_TEST(error_not_on_vfio_pci)
{
	char path[FAKE_VFIO_PATH + 64], want[FAKE_VFIO_PATH + 128];
	int ret;

	fake_vfio__add_unbound("0000:02:00.0");
	ret = vfx__create_on(vfx.vh, "0000:02:00.0", &vfx.vp);
	ck_assert_int_eq(ret, -ENODEV);
	ck_assert_ptr_null(vfx.vp);
	ck_assert_contains(vfx.err, "vfio 0000:02:00.0: not bound to vfio-pci with the device cdev (no ");
	ck_assert_contains(vfx.err, "/sys/bus/pci/devices/0000:02:00.0/vfio-dev): bind it to vfio-pci");
	ck_assert_contains(vfx.err, "CONFIG_VFIO_DEVICE_CDEV");
	ck_assert_uint_eq(fake_vfio.ncalls, 0);

	/* A vfio-dev directory without a vfioN in it. */
	snprintf(path, sizeof(path), "%s/bus/pci/devices/0000:02:00.0/vfio-dev", fake_vfio.sysfs);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	ret = vfx__create_on(vfx.vh, "0000:02:00.0", &vfx.vp);
	ck_assert_int_eq(ret, -ENODEV);
	snprintf(want, sizeof(want), "vfio 0000:02:00.0: %s holds no vfioN device", path);
	ck_assert_str_eq(vfx.err, want);
}
END_TEST

/* The cdev named by sysfs cannot be opened. */
START_TEST(error_cdev_open)
{
	char want[FAKE_VFIO_PATH + 128];

	ck_assert_int_eq(unlink(vfx.hd->cdev), 0);
	ck_assert_int_eq(vfx__create(), -ENOENT);
	ck_assert_ptr_null(vfx.vp);
	snprintf(want, sizeof(want), "vfio " BDF ": cannot open %s: No such file or directory", vfx.hd->cdev);
	ck_assert_str_eq(vfx.err, want);
	ck_assert_int_eq(mkdir(vfx.hd->cdev, 0755), 0);
	ck_assert_int_eq(vfx__create(), -EISDIR);
	snprintf(want, sizeof(want), "vfio " BDF ": cannot open %s: Is a directory", vfx.hd->cdev);
	ck_assert_str_eq(vfx.err, want);
}
END_TEST

START_TEST(error_no_dev_iommu)
{
	char path[FAKE_VFIO_PATH + 16], want[FAKE_VFIO_PATH + 128];
	struct vfio_host *h2;
	int ret;

	snprintf(path, sizeof(path), "%s/nothing", fake_vfio.dev);
	h2 = vfio_host__create(vfx.vm, vfx.pci, NULL, path);
	ck_assert_ptr_nonnull(h2);
	ret = vfx__create_on(h2, BDF, &vfx.vp);
	ck_assert_int_eq(ret, -ENOENT);
	ck_assert_ptr_null(vfx.vp);
	snprintf(want, sizeof(want), "vfio " BDF ": %s does not exist (needs a host kernel with CONFIG_IOMMUFD "
		 "and an IOMMU)", path);
	ck_assert_str_eq(vfx.err, want);
	vfio_host__destroy(h2);
	ck_assert_uint_eq(fake_vfio.ncalls, 0);
}
END_TEST

/* /dev/iommu that cannot be opened: the message names open(), not some earlier failed ioctl. */
START_TEST(error_dev_iommu_open)
{
	char want[FAKE_VFIO_PATH + 128];
	struct vfio_host *h2;
	int ret;

	fake_vfio__fail(VFIO_DEVICE_BIND_IOMMUFD, EBUSY, 0, 1);
	ck_assert_int_eq(vfx__create(), -EBUSY);
	h2 = vfio_host__create(vfx.vm, vfx.pci, NULL, fake_vfio.dev);	/* a directory */
	ck_assert_ptr_nonnull(h2);
	ret = vfx__create_on(h2, BDF, &vfx.vp);
	ck_assert_int_eq(ret, -EISDIR);
	snprintf(want, sizeof(want), "vfio " BDF ": %s: open: Is a directory", fake_vfio.dev);
	ck_assert_str_eq(vfx.err, want);
	vfio_host__destroy(h2);
}
END_TEST

START_TEST(error_ioas_alloc)
{
	fake_vfio__fail(IOMMU_IOAS_ALLOC, ENOMEM, 0, 0);
	ck_assert_int_eq(vfx__create(), -ENOMEM);
	ck_assert_ptr_null(vfx.vp);
	ck_assert_contains(vfx.err, "vfio " BDF ": ");
	ck_assert_contains(vfx.err, "/dev/iommu: IOMMU_IOAS_ALLOC: Cannot allocate memory");
}
END_TEST

START_TEST(error_bind)
{
	fake_vfio__fail(VFIO_DEVICE_BIND_IOMMUFD, EBUSY, 0, 0);
	ck_assert_int_eq(vfx__create(), -EBUSY);
	ck_assert_ptr_null(vfx.vp);
	ck_assert_str_eq(vfx.err, "vfio " BDF ": VFIO_DEVICE_BIND_IOMMUFD: Device or resource busy");
	/* Nothing after the bind: no region info, no map, no attach. */
	ck_assert_int_eq(fake_vfio__find(VFIO_DEVICE_GET_INFO, 0), -1);
	ck_assert_int_eq(fake_vfio__find(IOMMU_IOAS_MAP, 0), -1);
	ck_assert_int_eq(fake_vfio__find(VFIO_DEVICE_ATTACH_IOMMUFD_PT, 0), -1);
}
END_TEST

/* Pinning over RLIMIT_MEMLOCK: the message says what to raise. */
START_TEST(error_map_memlock)
{
	fake_vfio__fail(IOMMU_IOAS_MAP, ENOMEM, 0, 0);
	ck_assert_int_eq(vfx__create(), -ENOMEM);
	ck_assert_contains(vfx.err, "IOMMU_IOAS_MAP: Cannot allocate memory (guest RAM is pinned: raise the "
			   "locked-memory limit");
}
END_TEST

START_TEST(error_region_info)
{
	fake_vfio__fail(VFIO_DEVICE_GET_REGION_INFO, EIO, 2, 1);
	ck_assert_int_eq(vfx__create(), -EIO);
	ck_assert_ptr_null(vfx.vp);
	ck_assert_str_eq(vfx.err, "vfio " BDF ": VFIO_DEVICE_GET_REGION_INFO: Input/output error");
}
END_TEST

START_TEST(error_not_pci)
{
	vfx.hd->info_flags &= ~VFIO_DEVICE_FLAGS_PCI;
	ck_assert_int_eq(vfx__create(), -ENODEV);
	ck_assert_contains(vfx.err, "vfio " BDF ": not a PCI device");
}
END_TEST

START_TEST(error_map)
{
	int unmap;

	fake_vfio__fail(IOMMU_IOAS_MAP, EFAULT, 1, 0);
	ck_assert_int_eq(vfx__create(), -EFAULT);
	ck_assert_ptr_null(vfx.vp);
	ck_assert_str_eq(vfx.err, "vfio " BDF ": mapping guest RAM for DMA: IOMMU_IOAS_MAP: Bad address");
	/* The second region failed: the first is unmapped again (all or nothing), the device detached. */
	unmap = EXPECT(IOMMU_IOAS_UNMAP, EXPECT(IOMMU_IOAS_MAP, 0));
	ck_assert_uint_eq(vfx__call(unmap)->a.unmap.iova, 0);
	ck_assert_uint_eq(vfx__call(unmap)->a.unmap.length, vfx.vm->mem.r[0].size);
	ck_assert_uint_eq(fake_vfio.nunmaps, 1);
	ck_assert_uint_eq(vfx.hd->attached, 0);
}
END_TEST

/* Guest RAM over a range the host IOMMU reserves: said before anything is mapped. */
START_TEST(error_ram_reserved)
{
	fake_vfio.nranges = 2;
	fake_vfio.ranges[0] = (struct iommu_iova_range){ 0, 0x7fffffULL };	/* an RMRR at 8 MiB */
	fake_vfio.ranges[1] = (struct iommu_iova_range){ 0x900000ULL, (1ULL << 48) - 1 };
	ck_assert_int_eq(vfx__create(), -EADDRNOTAVAIL);
	ck_assert_str_eq(vfx.err, "vfio " BDF ": guest RAM 0-0xbfffffff is not all usable for DMA: the host IOMMU "
			 "reserves part of it (IOMMU_IOAS_IOVA_RANGES; an RMRR, say): try another --mem");
	ck_assert_uint_eq(fake_vfio__count(IOMMU_IOAS_MAP), 0);
	ck_assert_uint_eq(vfx.hd->attached, 0);
}
END_TEST

START_TEST(error_attach)
{
	fake_vfio__fail(VFIO_DEVICE_ATTACH_IOMMUFD_PT, EINVAL, 0, 0);
	ck_assert_int_eq(vfx__create(), -EINVAL);
	ck_assert_ptr_null(vfx.vp);
	ck_assert_str_eq(vfx.err, "vfio " BDF ": VFIO_DEVICE_ATTACH_IOMMUFD_PT (IOAS): Invalid argument");
}
END_TEST

START_TEST(error_bridge)
{
	fake_vfio__cfg_write(vfx.hd, PCI_HEADER_TYPE, 1, 0x80 | PCI_HEADER_TYPE_BRIDGE);
	ck_assert_int_eq(vfx__create(), -ENOTSUP);
	ck_assert_ptr_null(vfx.vp);
	ck_assert_str_eq(vfx.err, "vfio " BDF ": header type 1 (a bridge?): only endpoints can be passed through");
	ck_assert_ptr_null(pci_host__find(vfx.pci, 0, DEVFN));
	/* It had been attached for DMA: detached again before the cdev closed. */
	ck_assert_uint_eq(vfx.hd->attached, 0);
}
END_TEST

START_TEST(error_small_config)
{
	vfx.hd->region[VFIO_PCI_CONFIG_REGION_INDEX].size = 64;
	ck_assert_int_eq(vfx__create(), -ENODEV);
	ck_assert_ptr_null(vfx.vp);
	ck_assert_str_eq(vfx.err, "vfio " BDF ": config space region too small");
}
END_TEST

START_TEST(error_no_msi)
{
	vfx.hd->irq_count[VFIO_PCI_MSIX_IRQ_INDEX] = 0;
	vfx.hd->irq_count[VFIO_PCI_MSI_IRQ_INDEX] = 0;
	fake_vfio__cfg_write(vfx.hd, PCI_INTERRUPT_PIN, 1, 0);
	ck_assert_int_eq(vfx__create(), -ENOTSUP);
	ck_assert_ptr_null(vfx.vp);
	ck_assert_str_eq(vfx.err, "vfio " BDF ": has no interrupt (no MSI-X, MSI or INTx pin)");
	ck_assert_ptr_null(pci_host__find(vfx.pci, 0, DEVFN));
	ck_assert_uint_eq(vfx.hd->attached, 0);
}
END_TEST

START_TEST(error_no_bar_slot_for_msix)
{
	for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
		vfx.hd->region[i].size = 4096;
		fake_vfio__cfg_write(vfx.hd, PCI_BASE_ADDRESS_0 + 4 * i, 4, 0xfe000000 + i * 0x1000);
	}
	ck_assert_int_eq(vfx__create(), -ENOSPC);
	ck_assert_ptr_null(vfx.vp);
	ck_assert_str_eq(vfx.err, "vfio " BDF ": every BAR slot is used: no room for the MSI-X table");
}
END_TEST

/* KVM not knowing the device is worth a warning, not a failure; neither is a failing reset. */
START_TEST(kvm_vfio_and_reset_failures_are_warnings)
{
	fake_vfio__fail(KVM_CREATE_DEVICE, ENODEV, 0, 0);
	vfx__create_ok();
	ck_assert_uint_eq(fake_vfio__count(KVM_SET_DEVICE_ATTR), 0);
	vfio_pci__destroy(vfx.vp);
	vfx.vp = NULL;
	fake_vfio__init(vfx.root);
	vfx.hd = fake_vfio__add_device(BDF);
	vfio_host__destroy(vfx.vh);
	vfx.vh = vfio_host__create(vfx.vm, vfx.pci, NULL, fake_vfio.iommu);
	fake_vfio__fail(VFIO_DEVICE_RESET, EIO, 0, 0);
	ck_assert_int_eq(vfx__create_on(vfx.vh, BDF, &vfx.vp), 0);
	vfio_pci__reset(vfx.vp);
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_RESET), 2);
}
END_TEST

/* ================================================================================================ */
/* --viommu off                                                                                      */

START_TEST(off_sequence)
{
	int alloc, bind, map0, map1, attach, info, n;
	uint32_t ioas, flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
	struct stat a, b;

	vfx__create_ok();
	alloc = EXPECT(IOMMU_IOAS_ALLOC, 0);
	ck_assert_int_eq(vfx__call(alloc)->fd, FAKE_FD_IOMMU);
	ioas = vfx__call(alloc)->a.ioas_alloc.out_ioas_id;
	ck_assert_ptr_nonnull(fake_vfio__obj(ioas));

	bind = EXPECT(VFIO_DEVICE_BIND_IOMMUFD, alloc);
	ck_assert_int_eq(vfx__call(bind)->fd, 0);	/* on the cdev of devs[0] */
	ck_assert_int_eq(vfx__call(bind)->err, 0);
	ck_assert(vfx.hd->bound);
	info = EXPECT(VFIO_DEVICE_GET_INFO, bind);

	/* Attached to the IOAS first; then its usable ranges are read, then RAM is mapped (§5.3 steps 8-10). */
	attach = EXPECT(VFIO_DEVICE_ATTACH_IOMMUFD_PT, bind);
	ck_assert_int_gt(EXPECT(IOMMU_IOAS_IOVA_RANGES, attach), attach);

	/* Every RAM region at IOVA = GPA, read-write, from its host mapping. */
	map0 = EXPECT(IOMMU_IOAS_MAP, EXPECT(IOMMU_IOAS_IOVA_RANGES, attach));
	map1 = EXPECT(IOMMU_IOAS_MAP, map0 + 1);
	for (int r = 0; r < 2; r++) {
		const struct iommu_ioas_map *m = &vfx__call(r ? map1 : map0)->a.map;

		ck_assert_uint_eq(m->size, sizeof(*m));
		ck_assert_uint_eq(m->flags, flags);
		ck_assert_uint_eq(m->ioas_id, ioas);
		ck_assert_uint_eq(m->iova, vfx.vm->mem.r[r].gpa);
		ck_assert_uint_eq(m->user_va, (uintptr_t)vfx.vm->mem.r[r].hva);
		ck_assert_uint_eq(m->length, vfx.vm->mem.r[r].size);
	}
	ck_assert_uint_eq(vfx__call(map0)->a.map.iova, 0);
	ck_assert_uint_eq(vfx__call(map1)->a.map.iova, LAYOUT_HIGHMEM_BASE);
	ck_assert_uint_eq(fake_vfio__count(IOMMU_IOAS_MAP), 2);

	ck_assert_int_eq(vfx__call(attach)->fd, 0);
	ck_assert_uint_eq(vfx__call(attach)->a.attach.pt_id, ioas);
	ck_assert_uint_eq(vfx.hd->attached, ioas);
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 1);

	/* No nesting without the vIOMMU. */
	ck_assert_uint_eq(fake_vfio__count(IOMMU_HWPT_ALLOC), 0);
	ck_assert_uint_eq(fake_vfio__count(IOMMU_GET_HW_INFO), 0);

	/* KVM is told of the device (KVM-VFIO pseudo-device, the cdev's descriptor), and it is reset. */
	ck_assert_int_eq(vfx__call(EXPECT(KVM_CREATE_DEVICE, 0))->a.create_dev.type, KVM_DEV_TYPE_VFIO);
	ck_assert_int_eq(vfx__call(EXPECT(KVM_SET_DEVICE_ATTR, 0))->err, 0);
	ck_assert_int_eq(fstat(vfx__call(EXPECT(KVM_SET_DEVICE_ATTR, 0))->attr_fd, &a), 0);
	ck_assert_int_eq(stat(vfx.hd->cdev, &b), 0);
	ck_assert(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	ck_assert_int_gt(EXPECT(VFIO_DEVICE_RESET, info), bind);
	ck_assert_uint_eq(vfx.hd->resets, 1);
	vfio_pci__reset(vfx.vp);
	ck_assert_uint_eq(vfx.hd->resets, 2);
	/* And on exit: after its interrupts are off, before it leaves the IOAS (the host gets it quiet). */
	n = (int)fake_vfio.ncalls;
	vfio_pci__destroy(vfx.vp);
	vfx.vp = NULL;
	ck_assert_uint_eq(vfx.hd->resets, 3);
	ck_assert_int_ge(fake_vfio__find(VFIO_DEVICE_RESET, n), 0);
	ck_assert_int_lt(fake_vfio__find(VFIO_DEVICE_RESET, n), fake_vfio__find(VFIO_DEVICE_DETACH_IOMMUFD_PT, n));
}
END_TEST

START_TEST(off_no_reset_without_flr)
{
	vfx.hd->info_flags &= ~VFIO_DEVICE_FLAGS_RESET;
	vfx__create_ok();
	vfio_pci__reset(vfx.vp);
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_RESET), 0);
}
END_TEST

START_TEST(off_guest_view)
{
	unsigned cap;

	fake_vfio__cfg_write(vfx.hd, PCI_HEADER_TYPE, 1, 0x80);	/* multi-function bit: still an endpoint */
	ck_assert_int_eq(vfx__create(), 0);
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, PCI_VENDOR_ID, 2), 0x144d);
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, PCI_DEVICE_ID, 2), 0xa808);
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, PCI_CLASS_REVISION, 4), 0x01080201);
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x144d);
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, PCI_SUBSYSTEM_ID, 2), 0xa801);
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, PCI_HEADER_TYPE, 1), PCI_HEADER_TYPE_NORMAL);
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, PCI_INTERRUPT_PIN, 1), 1);	/* the host's INTA */

	/* BAR sizing: the host's sizes and types, not its addresses. */
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, PCI_BASE_ADDRESS_0, 4), PCI_BASE_ADDRESS_MEM_TYPE_64);
	for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++)
		pci__cfg_write(vfx.pdev, PCI_BASE_ADDRESS_0 + 4 * i, 4, 0xffffffff);
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, PCI_BASE_ADDRESS_0, 4),
			  (uint32_t)~(16384 - 1) | PCI_BASE_ADDRESS_MEM_TYPE_64);
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, PCI_BASE_ADDRESS_1, 4), 0xffffffff);
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, PCI_BASE_ADDRESS_2, 4) & 0xffff,
			  (uint16_t)~(32 - 1) | PCI_BASE_ADDRESS_SPACE_IO);
	/* BAR 3, the first free slot: the MSI-X table, 32-bit memory, at least 4 KiB. */
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, PCI_BASE_ADDRESS_3, 4), (uint32_t)~(4096 - 1));
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, PCI_BASE_ADDRESS_4, 4),
			  (uint32_t)~(4096 - 1) | PCI_BASE_ADDRESS_MEM_PREFETCH);
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, PCI_BASE_ADDRESS_5, 4), 0);

	cap = pci__find_cap(vfx.pdev, PCI_CAP_ID_MSIX);
	ck_assert_uint_ne(cap, 0);
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, cap + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE, 4 - 1);
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, cap + PCI_MSIX_TABLE, 4), 0 | 3);
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, cap + PCI_MSIX_PBA, 4), 2048 | 3);
	ck_assert_uint_eq(pci__find_cap(vfx.pdev, PCI_CAP_ID_MSI), 0);	/* MSI-X wins */
	ck_assert_uint_eq(pci__find_cap(vfx.pdev, PCI_CAP_ID_EXP), 0);	/* nothing else of the host's */

	/* Nothing of this reached the host's config space. */
	ck_assert_uint_eq(fake_vfio__cfg_read(vfx.hd, PCI_BASE_ADDRESS_0, 4),
			  0xfe000000 | PCI_BASE_ADDRESS_MEM_TYPE_64);
	ck_assert_uint_eq(fake_vfio__cfg_read(vfx.hd, PCI_BASE_ADDRESS_3, 4), 0);
}
END_TEST

START_TEST(off_guest_view_msi_only_and_many_vectors)
{
	vfx.hd->irq_count[VFIO_PCI_MSIX_IRQ_INDEX] = 0;
	ck_assert_int_eq(vfx__create(), 0);
	ck_assert_uint_ne(pci__find_cap(vfx.pdev, PCI_CAP_ID_MSI), 0);
	ck_assert_uint_eq(pci__find_cap(vfx.pdev, PCI_CAP_ID_MSIX), 0);
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, PCI_BASE_ADDRESS_3, 4), 0);	/* no table BAR */
}
END_TEST

START_TEST(off_bar_access)
{
	uint64_t bar0, bar4, q = 0x1122334455667788ULL, v = 0;
	uint32_t io, w;
	uint16_t h = 0x1234, hv = 0;

	fake_vfio__region_write(vfx.hd, 0, 0x100, &q, 8);
	fake_vfio__region_write(vfx.hd, 4, 0xffc, "\xaa\xbb\xcc\xdd", 4);
	vfx__create_ok();
	bar0 = pci__bar_addr(vfx.pdev, 0);
	bar4 = pci__bar_addr(vfx.pdev, 4);
	io = pci__bar_addr(vfx.pdev, 2);
	ck_assert_uint_ne(bar0, 0);
	ck_assert_uint_ne(bar4, 0);
	ck_assert_uint_ne(io, 0);

	/* Reads come from the right offset of the cdev (the region's offset + the BAR offset). */
	vfx__mmio(bar0 + 0x100, &v, 8, false);
	ck_assert_uint_eq(v, q);
	ck_assert_uint_eq(vfx__mmio_rd32(bar0 + 0x104), 0x11223344);
	ck_assert_uint_eq(vfx__mmio_rd32(bar4 + 0xffc), 0xddccbbaa);
	/* Writes land there. */
	vfx__mmio_wr32(bar0 + 0x3ffc, 0xdeadbeef);
	fake_vfio__region_read(vfx.hd, 0, 0x3ffc, &w, 4);
	ck_assert_uint_eq(w, 0xdeadbeef);
	fake_vfio__region_read(vfx.hd, 4, 0x3ffc, &w, 4);	/* not in another BAR */
	ck_assert_uint_eq(w, 0);
	ck_assert(bus__access(&vfx.vm->pio, io + 6, &h, 2, true));
	fake_vfio__region_read(vfx.hd, 2, 6, &hv, 2);
	ck_assert_uint_eq(hv, 0x1234);
	hv = 0;
	ck_assert(bus__access(&vfx.vm->pio, io + 6, &hv, 2, false));
	ck_assert_uint_eq(hv, 0x1234);
	/* The host config space was not written by BAR traffic. */
	ck_assert_uint_eq(fake_vfio__cfg_read(vfx.hd, PCI_VENDOR_ID, 2), 0x144d);
}
END_TEST

/* A BAR region the host lets us mmap becomes a memslot that follows the guest's BAR placement. */
START_TEST(off_bar_mmap)
{
	const struct kvm_userspace_memory_region *m;
	uint64_t bar0, q = 0x5566778899aabbccULL;
	unsigned n, slot;

	vfx.hd->region[0].flags |= VFIO_REGION_INFO_FLAG_MMAP;
	fake_vfio__region_write(vfx.hd, 0, 0x200, &q, 8);
	vfx__create_ok();
	bar0 = pci__bar_addr(vfx.pdev, 0);
	m = vfx__last_memslot();
	ck_assert_uint_ge(m->slot, VM_FIRST_DEVICE_SLOT);
	ck_assert_uint_eq(m->guest_phys_addr, bar0);
	/* Up to the host's MSI-X table page: the table and PBA pages stay trapped. */
	ck_assert_uint_eq(m->memory_size, FAKE_VFIO_MSIX_TABLE);
	ck_assert_uint_eq(fake_kvm.nr_memslots, 1);
	/* Memory decode was on at the host before the slot appeared. */
	ck_assert(fake_vfio__cfg_read(vfx.hd, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY);
	/* The slot's memory is the device's region (the cdev file here, shared). */
	ck_assert_uint_eq(*(uint64_t *)(uintptr_t)(m->userspace_addr + 0x200), q);
	slot = m->slot;

	/* Memory decode off: the slot goes (size 0); on again: back at the same place. */
	n = fake_kvm.nr_memslots;
	pci__cfg_write(vfx.pdev, PCI_COMMAND, 2, pci__cfg_get(vfx.pdev, PCI_COMMAND, 2) & ~PCI_COMMAND_MEMORY);
	ck_assert_uint_eq(fake_kvm.nr_memslots, n + 1);
	ck_assert_uint_eq(vfx__last_memslot()->slot, slot);
	ck_assert_uint_eq(vfx__last_memslot()->memory_size, 0);
	/* Moved while decoding is off, then decoded again: a slot at the new address. */
	pci__cfg_write(vfx.pdev, PCI_BASE_ADDRESS_0, 4, (uint32_t)(bar0 + 0x100000));
	pci__cfg_write(vfx.pdev, PCI_COMMAND, 2, pci__cfg_get(vfx.pdev, PCI_COMMAND, 2) | PCI_COMMAND_MEMORY);
	m = vfx__last_memslot();
	ck_assert_uint_eq(m->guest_phys_addr, pci__bar_addr(vfx.pdev, 0));
	ck_assert_uint_eq(m->guest_phys_addr, bar0 + 0x100000);
	ck_assert_uint_eq(m->memory_size, FAKE_VFIO_MSIX_TABLE);

	/* Teardown removes it. */
	n = fake_kvm.nr_memslots;
	vfio_pci__destroy(vfx.vp);
	vfx.vp = NULL;
	ck_assert_uint_eq(fake_kvm.nr_memslots, n + 1);
	ck_assert_uint_eq(vfx__last_memslot()->memory_size, 0);
}
END_TEST

/* An MSI-X table in the middle of a BAR splits its mmap area in two memslots around it. */
START_TEST(off_bar_mmap_msix_hole)
{
	unsigned n;

	vfx.hd->region[0].flags |= VFIO_REGION_INFO_FLAG_MMAP;
	fake_vfio__cfg_write(vfx.hd, FAKE_VFIO_MSIX_CAP + PCI_MSIX_TABLE, 4, 0x1000 | 0);
	vfx__create_ok();
	n = fake_kvm.nr_memslots;
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(fake_kvm.memslots[0].guest_phys_addr, pci__bar_addr(vfx.pdev, 0));
	ck_assert_uint_eq(fake_kvm.memslots[0].memory_size, 0x1000);
	ck_assert_uint_eq(fake_kvm.memslots[1].guest_phys_addr, pci__bar_addr(vfx.pdev, 0) + 0x2000);
	ck_assert_uint_eq(fake_kvm.memslots[1].memory_size, 0x1000);
}
END_TEST

/* A BAR smaller than a page cannot be a memslot: it stays trapped. */
START_TEST(off_bar_mmap_small_stays_trapped)
{
	vfx.hd->region[4].size = 2048;
	vfx.hd->region[4].flags |= VFIO_REGION_INFO_FLAG_MMAP;
	vfx__create_ok();
	ck_assert_uint_eq(fake_kvm.nr_memslots, 0);
}
END_TEST

/* A host BAR smaller than the smallest memory BAR: accesses past the region fail and read all-ones. */
START_TEST(off_small_bar)
{
	uint64_t bar4;

	vfx.hd->region[4].size = 8;
	fake_vfio__region_write(vfx.hd, 4, 0, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	vfx__create_ok();
	bar4 = pci__bar_addr(vfx.pdev, 4);
	ck_assert_uint_eq(vfx__mmio_rd32(bar4 + 4), 0x08070605);
	ck_assert_uint_eq(vfx__mmio_rd32(bar4 + 8), 0xffffffff);
	ck_assert_uint_eq(vfx__mmio_rd32(bar4 + 6), 0xffffffff);	/* crosses the end: nothing read */
}
END_TEST

START_TEST(off_command_register)
{
	fake_vfio__cfg_write(vfx.hd, PCI_COMMAND, 2, PCI_COMMAND_SERR);
	fake_vfio__cfg_write(vfx.hd, PCI_CACHE_LINE_SIZE, 1, 0x10);
	vfx__create_ok();
	/* The VMM's BAR assignment enabled decoding and bus mastering: on the host too, SERR kept. */
	ck_assert_uint_eq(fake_vfio__cfg_read(vfx.hd, PCI_COMMAND, 2),
			  PCI_COMMAND_SERR | PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	/* The guest turns I/O decoding off: only the forwarded bits change on the host. */
	pci__cfg_write(vfx.pdev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	ck_assert_uint_eq(fake_vfio__cfg_read(vfx.hd, PCI_COMMAND, 2),
			  PCI_COMMAND_SERR | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	pci__cfg_write(vfx.pdev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	ck_assert_uint_eq(fake_vfio__cfg_read(vfx.hd, PCI_COMMAND, 2),
			  PCI_COMMAND_SERR | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	/* A 4-byte write covering command and status, and one to the low byte alone. */
	pci__cfg_write(vfx.pdev, PCI_COMMAND, 4, PCI_COMMAND_MEMORY);
	ck_assert_uint_eq(fake_vfio__cfg_read(vfx.hd, PCI_COMMAND, 2), PCI_COMMAND_SERR | PCI_COMMAND_MEMORY);
	pci__cfg_write(vfx.pdev, PCI_COMMAND, 1, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	ck_assert_uint_eq(fake_vfio__cfg_read(vfx.hd, PCI_COMMAND, 2),
			  PCI_COMMAND_SERR | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	/* Other registers stay the guest's own. */
	pci__cfg_write(vfx.pdev, PCI_CACHE_LINE_SIZE, 1, 0x20);
	ck_assert_uint_eq(fake_vfio__cfg_read(vfx.hd, PCI_CACHE_LINE_SIZE, 1), 0x10);
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, PCI_CACHE_LINE_SIZE, 1), 0x20);
}
END_TEST

/*
 * On an offline VM (--dump-dtb without /dev/kvm) the device is built as on a real one, BAR slots
 * included, but KVM learns nothing: no KVM-VFIO device, no memslot.
 */
START_TEST(off_offline_vm)
{
	unsigned kvm_calls = fake_kvm.nr_ioctls;	/* those of fake_vm__new() */

	vfx.vm->vm_fd = -1;
	vfx.hd->region[0].flags |= VFIO_REGION_INFO_FLAG_MMAP;
	vfx__create_ok();
	ck_assert(vfx.hd->bound);
	ck_assert_uint_ne(vfx.hd->attached, 0);
	ck_assert_uint_eq(fake_vfio__count(KVM_CREATE_DEVICE), 0);
	ck_assert_uint_eq(fake_vfio__count(KVM_SET_DEVICE_ATTR), 0);
	ck_assert_uint_ne(pci__bar_addr(vfx.pdev, 0), 0);
	ck_assert_uint_eq(fake_kvm.nr_memslots, 0);
	ck_assert_uint_eq(fake_kvm.nr_ioctls, kvm_calls);
	ck_assert_ptr_eq(pci_host__find(vfx.pci, 0, DEVFN), vfx.pdev);
}
END_TEST

/* Two devices: one iommufd, one IOAS, RAM mapped once, one KVM-VFIO device, two slots. */
START_TEST(off_two_devices)
{
	struct fake_vfio_dev *hd2 = fake_vfio__add_device("0000:02:00.0");
	struct vfio_pci *vp2 = NULL;
	uint32_t ioas;

	vfx__create_ok();
	ck_assert_int_eq(vfx__create_on(vfx.vh, "0000:02:00.0", &vp2), 0);
	ck_assert_ptr_nonnull(pci_host__find(vfx.pci, 0, PCI_DEVFN(2, 0)));
	ck_assert_uint_eq(fake_vfio__count(IOMMU_IOAS_ALLOC), 1);
	ck_assert_uint_eq(fake_vfio__count(IOMMU_IOAS_MAP), 2);
	ck_assert_uint_eq(fake_vfio__count(KVM_CREATE_DEVICE), 1);
	ck_assert_uint_eq(fake_vfio__count(KVM_SET_DEVICE_ATTR), 2);
	ioas = vfx__call(EXPECT(IOMMU_IOAS_ALLOC, 0))->a.ioas_alloc.out_ioas_id;
	ck_assert_uint_eq(vfx.hd->attached, ioas);
	ck_assert_uint_eq(hd2->attached, ioas);
	ck_assert(hd2->bound && hd2->dev_id != vfx.hd->dev_id);
	vfio_pci__destroy(vp2);
	ck_assert_uint_eq(hd2->attached, 0);
	ck_assert_uint_eq(vfx.hd->attached, ioas);
	/* KVM let go of the file before it was closed (else KVM keeps the device bound). */
	ck_assert_uint_eq(fake_vfio__count(KVM_SET_DEVICE_ATTR), 3);
	ck_assert_uint_eq(vfx__call(EXPECT(KVM_SET_DEVICE_ATTR, EXPECT(KVM_SET_DEVICE_ATTR, EXPECT(KVM_SET_DEVICE_ATTR,
			  0) + 1) + 1))->a.dev_attr.attr, KVM_DEV_VFIO_FILE_DEL);
}
END_TEST

/* ================================================================================================ */
/* Interrupts                                                                                        */

/* Latest KVM_IRQFD record of @fd. */
static const struct fake_irqfd *irqfd_of(int fd)
{
	const struct fake_irqfd *r = NULL;

	for (unsigned i = 0; i < fake_kvm.nr_irqfds && i < ARRAY_SIZE(fake_kvm.irqfds); i++)
		if (fake_kvm.irqfds[i].fd == fd)
			r = &fake_kvm.irqfds[i];
	ck_assert_ptr_nonnull(r);
	return r;
}

/*
 * INTx: enabled on the host from the start (trigger eventfd), asserted in KVM by a level irqfd on the
 * function's GSI whose resample eventfd is VFIO's unmask; MSI-X takes over when the guest enables it,
 * and INTx comes back when it disables it.
 */
START_TEST(intx_level_irqfd)
{
	const struct fake_vfio_call *trig, *unmask;
	const struct fake_irqfd *r;
	int t, u, m;

	vfx__create_ok();
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, PCI_INTERRUPT_PIN, 1), 1);
	ck_assert_int_ge(vfx.pdev->intx_gsi, 16);
	t = EXPECT(VFIO_DEVICE_SET_IRQS, 0);
	trig = vfx__call(t);
	ck_assert_uint_eq(trig->a.irq_set.index, VFIO_PCI_INTX_IRQ_INDEX);
	ck_assert_uint_eq(trig->a.irq_set.flags, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER);
	ck_assert_uint_eq(trig->a.irq_set.count, 1);
	u = EXPECT(VFIO_DEVICE_SET_IRQS, t + 1);
	unmask = vfx__call(u);
	ck_assert_uint_eq(unmask->a.irq_set.flags, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK);
	ck_assert_int_eq(vfx.hd->irq_index, VFIO_PCI_INTX_IRQ_INDEX);
	r = irqfd_of(trig->irq_fds[0]);
	ck_assert(r->assign && r->resample);
	ck_assert_uint_eq(r->gsi, vfx.pdev->intx_gsi);
	ck_assert_int_eq(r->resamplefd, unmask->irq_fds[0]);
	ck_assert_int_eq(vfx.hd->intx_unmask_fd, unmask->irq_fds[0]);
	/* The Interrupt Status bit is the host's. */
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, 0);
	fake_vfio__cfg_write(vfx.hd, PCI_STATUS, 2, PCI_STATUS_CAP_LIST | PCI_STATUS_INTERRUPT);
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
	ck_assert_uint_eq(pci__cfg_read(vfx.pdev, PCI_COMMAND, 4) >> 16 & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);

	/* MSI-X on: INTx off first (irqfd gone, host INTx disabled), then the vectors. */
	vfx__msix_ctrl(PCI_MSIX_FLAGS_ENABLE);
	ck_assert_int_eq(irqfd_of(trig->irq_fds[0])->assign, 0);
	m = EXPECT(VFIO_DEVICE_SET_IRQS, u + 1);
	ck_assert_uint_eq(vfx__call(m)->a.irq_set.index, VFIO_PCI_INTX_IRQ_INDEX);
	ck_assert_uint_eq(vfx__call(m)->a.irq_set.flags, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER);
	ck_assert_int_eq(vfx.hd->irq_index, VFIO_PCI_MSIX_IRQ_INDEX);

	/* MSI-X off: INTx again. */
	vfx__msix_ctrl(0);
	ck_assert_int_eq(vfx.hd->irq_index, VFIO_PCI_INTX_IRQ_INDEX);
	ck_assert_int_eq(irqfd_of(trig->irq_fds[0])->assign, 1);
}
END_TEST

START_TEST(msix_vectors)
{
	const struct fake_vfio_call *c;
	int set, fds[4];
	unsigned gsi = ~0u, gsi2 = ~0u, nirqfds;
	uint64_t one = 1;

	/* MSI-X/MSI alone: without an INTx pin, nothing is enabled on the host before the guest asks. */
	vfx.hd->irq_count[VFIO_PCI_INTX_IRQ_INDEX] = 0;

	vfx__create_ok();
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_SET_IRQS), 0);	/* nothing until the guest enables */

	/* Enable: the host's four vectors, each on an eventfd; all still masked, so no irqfd. */
	vfx__msix_ctrl(PCI_MSIX_FLAGS_ENABLE);
	set = EXPECT(VFIO_DEVICE_SET_IRQS, 0);
	c = vfx__call(set);
	ck_assert_int_eq(c->err, 0);
	ck_assert_int_eq(c->fd, 0);
	ck_assert_uint_eq(c->a.irq_set.index, VFIO_PCI_MSIX_IRQ_INDEX);
	ck_assert_uint_eq(c->a.irq_set.flags, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER);
	ck_assert_uint_eq(c->a.irq_set.start, 0);
	ck_assert_uint_eq(c->a.irq_set.count, 4);
	ck_assert_uint_eq(c->a.irq_set.argsz, sizeof(struct vfio_irq_set) + 4 * sizeof(int32_t));
	for (int i = 0; i < 4; i++) {
		fds[i] = c->irq_fds[i];
		ck_assert_int_ge(fcntl(fds[i], F_GETFD), 0);	/* a live descriptor */
		for (int j = 0; j < i; j++)
			ck_assert_int_ne(fds[i], fds[j]);
	}
	ck_assert_int_eq(vfx.hd->irq_index, VFIO_PCI_MSIX_IRQ_INDEX);
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_SET_IRQS), 1);
	ck_assert_uint_eq(fake_kvm.nr_irqfds, 0);

	/* Unmask vector 1: routed to its message, and its eventfd handed to KVM. */
	vfx__msix_entry(1, MSI_ADDR | 0x1000, 0x4041, 0);
	ck_assert_int_eq(vfx__irqfd_state(fds[1], &gsi), 1);
	ck_assert_ptr_nonnull(vfx__route(gsi));
	ck_assert_uint_eq(vfx__route(gsi)->u.msi.address_lo, MSI_ADDR | 0x1000);
	ck_assert_uint_eq(vfx__route(gsi)->u.msi.address_hi, 0);
	ck_assert_uint_eq(vfx__route(gsi)->u.msi.data, 0x4041);
	ck_assert_int_eq(vfx__irqfd_state(fds[0], NULL), -1);
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_SET_IRQS), 1);	/* the host side is not touched */

	/* Masked: taken back from KVM. */
	vfx__msix_mask(1, true);
	ck_assert_int_eq(vfx__irqfd_state(fds[1], &gsi2), 0);
	ck_assert_uint_eq(gsi2, gsi);
	nirqfds = fake_kvm.nr_irqfds;

	/* A host interrupt while masked: the poller sets the pending bit, nothing is sent. */
	ck_assert_int_eq(write(fds[1], &one, sizeof(one)), sizeof(one));
	ck_assert_msg(vfx__wait_pba(1u << 1), "PBA bit 1 never set (PBA %#x)", vfx__pba());
	ck_assert_uint_eq(vfx__pba(), 1u << 1);
	ck_assert_uint_eq(fake_kvm.nr_msis, 0);

	/* Unmask: the pending message goes out once, the vector is KVM's again, same GSI. */
	vfx__msix_mask(1, false);
	ck_assert_uint_eq(vfx__pba(), 0);
	ck_assert_uint_eq(fake_kvm.nr_msis, 1);
	ck_assert_uint_eq(fake_kvm.msis[0].addr, MSI_ADDR | 0x1000);
	ck_assert_uint_eq(fake_kvm.msis[0].data, 0x4041);
	ck_assert_int_eq(vfx__irqfd_state(fds[1], &gsi2), 1);
	ck_assert_uint_eq(gsi2, gsi);
	ck_assert_uint_eq(fake_kvm.nr_irqfds, nirqfds + 1);

	/* A new message for a routed vector: the route changes, the irqfd stays. */
	vfx__msix_entry(1, MSI_ADDR | 0x2000, 0x4042, 0);
	ck_assert_uint_eq(vfx__route(gsi)->u.msi.address_lo, MSI_ADDR | 0x2000);
	ck_assert_uint_eq(vfx__route(gsi)->u.msi.data, 0x4042);
	ck_assert_uint_eq(fake_kvm.nr_irqfds, nirqfds + 1);

	/* Function mask: every vector masked, so taken from KVM. */
	vfx__msix_ctrl(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	ck_assert_int_eq(vfx__irqfd_state(fds[1], NULL), 0);
	vfx__msix_ctrl(PCI_MSIX_FLAGS_ENABLE);
	ck_assert_int_eq(vfx__irqfd_state(fds[1], NULL), 1);
	/* A message outside the interrupt window cannot be an irqfd route: polled instead. */
	vfx__msix_entry(2, 0x12345000, 0x1, 0);
	ck_assert_int_eq(vfx__irqfd_state(fds[2], NULL), -1);

	/* Disable: host vectors off (DATA_NONE, count 0), the vector taken from KVM. */
	vfx__msix_ctrl(0);
	set = EXPECT(VFIO_DEVICE_SET_IRQS, set + 1);
	c = vfx__call(set);
	ck_assert_int_eq(c->err, 0);
	ck_assert_uint_eq(c->a.irq_set.index, VFIO_PCI_MSIX_IRQ_INDEX);
	ck_assert_uint_eq(c->a.irq_set.flags, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER);
	ck_assert_uint_eq(c->a.irq_set.count, 0);
	ck_assert_int_eq(vfx.hd->irq_index, -1);
	ck_assert_int_eq(vfx__irqfd_state(fds[1], NULL), 0);
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_SET_IRQS), 2);

	/* Enabled again with vector 1 unmasked: the same eventfds, vector 1 straight to KVM. */
	vfx__msix_ctrl(PCI_MSIX_FLAGS_ENABLE);
	c = vfx__call(EXPECT(VFIO_DEVICE_SET_IRQS, set + 1));
	ck_assert_uint_eq(c->a.irq_set.count, 4);
	ck_assert_int_eq(c->irq_fds[1], fds[1]);
	ck_assert_int_eq(vfx__irqfd_state(fds[1], NULL), 1);
}
END_TEST

/* Bus mastering off: MSI-X messages are memory writes, so vectors leave KVM. */
START_TEST(msix_bus_master)
{
	int fd;

	/* MSI-X/MSI alone: without an INTx pin, nothing is enabled on the host before the guest asks. */
	vfx.hd->irq_count[VFIO_PCI_INTX_IRQ_INDEX] = 0;

	vfx__create_ok();
	vfx__msix_ctrl(PCI_MSIX_FLAGS_ENABLE);
	vfx__msix_entry(0, MSI_ADDR, 0x30, 0);
	fd = vfx__call(EXPECT(VFIO_DEVICE_SET_IRQS, 0))->irq_fds[0];
	ck_assert_int_eq(vfx__irqfd_state(fd, NULL), 1);
	pci__cfg_write(vfx.pdev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ck_assert_int_eq(vfx__irqfd_state(fd, NULL), 0);
	pci__cfg_write(vfx.pdev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	ck_assert_int_eq(vfx__irqfd_state(fd, NULL), 1);
}
END_TEST

START_TEST(msi_vector)
{
	const struct fake_vfio_call *c;
	unsigned cap, gsi = ~0u;
	int fd;

	/* MSI-X/MSI alone: without an INTx pin, nothing is enabled on the host before the guest asks. */
	vfx.hd->irq_count[VFIO_PCI_INTX_IRQ_INDEX] = 0;

	vfx.hd->irq_count[VFIO_PCI_MSIX_IRQ_INDEX] = 0;
	vfx__create_ok();
	cap = pci__find_cap(vfx.pdev, PCI_CAP_ID_MSI);
	ck_assert_uint_ne(cap, 0);
	pci__cfg_write(vfx.pdev, cap + PCI_MSI_ADDRESS_LO, 4, MSI_ADDR | 0x3000);
	pci__cfg_write(vfx.pdev, cap + PCI_MSI_ADDRESS_HI, 4, 0);
	pci__cfg_write(vfx.pdev, cap + PCI_MSI_DATA_64, 2, 0x4050);
	pci__cfg_write(vfx.pdev, cap + PCI_MSI_MASK_64, 4, 1);
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_SET_IRQS), 0);
	pci__cfg_write(vfx.pdev, cap + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE);
	c = vfx__call(EXPECT(VFIO_DEVICE_SET_IRQS, 0));
	ck_assert_uint_eq(c->a.irq_set.index, VFIO_PCI_MSI_IRQ_INDEX);
	ck_assert_uint_eq(c->a.irq_set.flags, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER);
	ck_assert_uint_eq(c->a.irq_set.count, 1);
	fd = c->irq_fds[0];
	ck_assert_int_eq(vfx__irqfd_state(fd, NULL), -1);	/* masked */
	pci__cfg_write(vfx.pdev, cap + PCI_MSI_MASK_64, 4, 0);
	ck_assert_int_eq(vfx__irqfd_state(fd, &gsi), 1);
	ck_assert_uint_eq(vfx__route(gsi)->u.msi.address_lo, MSI_ADDR | 0x3000);
	ck_assert_uint_eq(vfx__route(gsi)->u.msi.data, 0x4050);
	pci__cfg_write(vfx.pdev, cap + PCI_MSI_FLAGS, 2, 0);
	c = vfx__call(EXPECT(VFIO_DEVICE_SET_IRQS, EXPECT(VFIO_DEVICE_SET_IRQS, 0) + 1));
	ck_assert_uint_eq(c->a.irq_set.index, VFIO_PCI_MSI_IRQ_INDEX);
	ck_assert_uint_eq(c->a.irq_set.flags, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER);
	ck_assert_int_eq(vfx__irqfd_state(fd, NULL), 0);
}
END_TEST

/* The host refusing the vectors: logged, the device goes on without them, nothing to disable later. */
START_TEST(msix_host_refuses)
{
	unsigned n;

	/* MSI-X/MSI alone: without an INTx pin, nothing is enabled on the host before the guest asks. */
	vfx.hd->irq_count[VFIO_PCI_INTX_IRQ_INDEX] = 0;

	vfx__create_ok();
	fake_vfio__fail(VFIO_DEVICE_SET_IRQS, EINVAL, 0, 0);
	vfx__msix_ctrl(PCI_MSIX_FLAGS_ENABLE);
	ck_assert_int_eq(vfx.hd->irq_index, -1);
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_SET_IRQS), 1);	/* once, not once per vector */
	vfx__msix_entry(0, MSI_ADDR, 0x4040, 0);
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_SET_IRQS), 1);	/* not retried on each change */
	fake_vfio__fail(0, 0, 0, 0);
	n = fake_vfio__count(VFIO_DEVICE_SET_IRQS);
	vfx__msix_ctrl(0);		/* nothing was enabled on the host: nothing to disable */
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_SET_IRQS), n);
	vfx__msix_ctrl(PCI_MSIX_FLAGS_ENABLE);
	ck_assert_int_eq(vfx.hd->irq_index, VFIO_PCI_MSIX_IRQ_INDEX);
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_SET_IRQS), n + 1);
}
END_TEST

/* Teardown with vectors enabled and routed: host vectors off, irqfds deassigned, device detached. */
START_TEST(teardown_releases_everything)
{
	int fd;
	unsigned n;

	/* MSI-X/MSI alone: without an INTx pin, nothing is enabled on the host before the guest asks. */
	vfx.hd->irq_count[VFIO_PCI_INTX_IRQ_INDEX] = 0;

	vfx__create_ok();
	vfx__msix_ctrl(PCI_MSIX_FLAGS_ENABLE);
	vfx__msix_entry(3, MSI_ADDR, 0x4043, 0);
	fd = vfx__call(EXPECT(VFIO_DEVICE_SET_IRQS, 0))->irq_fds[3];
	ck_assert_int_eq(vfx__irqfd_state(fd, NULL), 1);
	n = fake_vfio.ncalls;
	vfio_pci__destroy(vfx.vp);
	vfx.vp = NULL;
	ck_assert_int_eq(vfx__irqfd_state(fd, NULL), 0);
	ck_assert_int_eq(vfx.hd->irq_index, -1);
	ck_assert_uint_eq(vfx.hd->attached, 0);
	ck_assert_int_ge(fake_vfio__find(VFIO_DEVICE_SET_IRQS, n), 0);
	ck_assert_int_ge(fake_vfio__find(VFIO_DEVICE_DETACH_IOMMUFD_PT, n), 0);
	/* vfx__stop() checks the descriptors and HWPTs. */
}
END_TEST

/* ================================================================================================ */

static Suite *vfio_suite(void)
{
	Suite *s = suite_create("vfio");
	TCase *tc;

	tc = tcase_create("bdf");
	tcase_add_loop_test(tc, parse_bdf_good, 0, ARRAY_SIZE(good_bdfs));
	tcase_add_loop_test(tc, parse_bdf_bad, 0, ARRAY_SIZE(bad_bdfs));
	tcase_add_test(tc, cli_vfio);
	suite_add_tcase(s, tc);

	tc = vfx__tcase(s, "errors", vfx__setup_off, vfx__stop);
	tcase_add_test(tc, error_no_such_device);
	tcase_add_test(tc, error_not_on_vfio_pci);
	tcase_add_test(tc, error_no_dev_iommu);
	tcase_add_test(tc, error_dev_iommu_open);
	tcase_add_test(tc, error_cdev_open);
	tcase_add_test(tc, error_ioas_alloc);
	tcase_add_test(tc, error_bind);
	tcase_add_test(tc, error_region_info);
	tcase_add_test(tc, error_not_pci);
	tcase_add_test(tc, error_map);
	tcase_add_test(tc, error_ram_reserved);
	tcase_add_test(tc, error_map_memlock);
	tcase_add_test(tc, error_attach);
	tcase_add_test(tc, error_bridge);
	tcase_add_test(tc, error_small_config);
	tcase_add_test(tc, error_no_msi);
	tcase_add_test(tc, error_no_bar_slot_for_msix);
	tcase_add_test(tc, kvm_vfio_and_reset_failures_are_warnings);

	tc = vfx__tcase(s, "viommu_off", vfx__setup_off, vfx__stop_clean);
	tcase_add_test(tc, off_sequence);
	tcase_add_test(tc, off_no_reset_without_flr);
	tcase_add_test(tc, off_guest_view);
	tcase_add_test(tc, off_guest_view_msi_only_and_many_vectors);
	tcase_add_test(tc, off_bar_access);
	tcase_add_test(tc, off_small_bar);
	tcase_add_test(tc, off_bar_mmap);
	tcase_add_test(tc, off_bar_mmap_msix_hole);
	tcase_add_test(tc, off_bar_mmap_small_stays_trapped);
	tcase_add_test(tc, off_command_register);
	tcase_add_test(tc, off_two_devices);
	tcase_add_test(tc, off_offline_vm);

	tc = vfx__tcase(s, "interrupts", vfx__setup_off, vfx__stop_clean);
	tcase_add_test(tc, msix_vectors);
	tcase_add_test(tc, msix_bus_master);
	tcase_add_test(tc, msi_vector);
	tcase_add_test(tc, intx_level_irqfd);
	tcase_add_test(tc, msix_host_refuses);
	tcase_add_test(tc, teardown_releases_everything);
	return s;
}

CHECK_MAIN(vfio_suite)
