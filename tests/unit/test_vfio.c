/*
 * Tier 1 (Check, in-process, no KVM, no VFIO): PCI passthrough (vmm/vfio.c, vmm/iommufd.c,
 * devices/vfio/, iommu/vtd-host.c) on a fake VFIO-cdev + iommufd host (fake_vfio.h) chained to the fake
 * KVM, in a temporary directory that stands for sysfs and /dev.
 *
 * - the BDF parser and --vfio;
 * - every documented error and its message (no such device, not on vfio-pci, no /dev/iommu, BIND,
 *   the failing ioctls, a bridge, no MSI-X/MSI);
 * - --viommu off: the ioctl sequence (IOAS, BIND, RAM maps, ATTACH, KVM-VFIO device, reset), the guest's
 *   view (IDs, BARs, MSI-X slot, no INTx), BAR and command-register forwarding, two devices sharing;
 * - --viommu flts: nesting parent before GET_HW_INFO, the host check's every refusal and message;
 *   the guest's RID_PASID entry driving stage-1 HWPTs (alloc, replace, destroy, pass-through, detach),
 *   PASID-based and domain IOTLB invalidations reaching IOMMU_HWPT_INVALIDATE, failing host calls;
 * - interrupts: MSI-X and MSI enable (SET_IRQS), irqfd per unmasked vector, pending bits set by the
 *   poller thread for masked vectors, disable; teardown releasing every HWPT, descriptor and vector.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "fake_kvm.h"
#include "fake_vfio.h"
#include "vtd_testlib.h"
#include "devices/pci-host.h"
#include "devices/pci.h"
#include "devices/vfio/vfio-pci.h"
#include "iommu/vtd-hw.h"
#include "vmm/cli.h"
#include "vmm/layout.h"
#include "vmm/util.h"
#include "vmm/vfio.h"
#include "vmm/vm.h"

#define BDF		"0000:01:00.0"
#define DEVFN		PCI_DEVFN(1, 0)		/* the first free slot */
#define SID		DEVFN
#define DID		5
#define MSI_ADDR	0xfee00000ULL
#define PREFIX		"vfio " BDF ": host IOMMU incompatible with --viommu flts: "

static char root[64];		/* the fake host's directory, one per test case */

static struct vm *vm;
static struct pci_host *pci;
static struct vtd_env env;
static bool with_vtd;
static struct vfio_host *vh;
static struct fake_vfio_dev *hd;	/* the host device */
static struct vfio_pci *vp;
static struct pci_device *pdev;	/* its guest view */
static char err[512];
static int fds_before;

/* ---- fixtures ---- */

static void make_root(void)
{
	snprintf(root, sizeof(root), "/tmp/minivmm-vfio-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
}

static void remove_root(void)
{
	fake_vfio__rm_rf(root);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* The host with one device at BDF, and a machine: --viommu flts with @opt when @viommu. */
static void start(bool viommu, const struct vtd_options *opt)
{
	with_vtd = viommu;
	if (viommu) {
		vtd_env__init(&env, opt);
		vm = fake_vm__new(0);
		vm->mem = env.mem;	/* shared with the vtd_env: not ours to unmap */
	} else {
		/* RAM below and above the PCI hole: two regions to map (never touched, so never allocated). */
		vm = fake_vm__new(LAYOUT_LOWMEM_LIMIT + 8 * MiB);
		ck_assert_int_eq(vm->mem.nr, 2);
	}
	pci = pci_host__init(vm);
	ck_assert_ptr_nonnull(pci);
	if (viommu)
		pci_host__set_translator(pci, env.tr);
	fake_vfio__init(root);
	hd = fake_vfio__add_device(BDF);
	fds_before = count_fds();
	vh = vfio_host__create(vm, pci, viommu ? env.vtd : NULL, &fake_vfio.paths, fake_vfio.iommu);
	ck_assert_ptr_nonnull(vh);
	vp = NULL;
	pdev = NULL;
	err[0] = 0;
}

static void stop(void)
{
	if (!vm)
		return;
	vfio_pci__destroy(vp);
	vp = NULL;
	vfio_host__destroy(vh);
	vh = NULL;
	/* Every descriptor the passthrough opened (cdev, iommufd, KVM-VFIO, eventfds, epoll) is closed... */
	ck_assert_int_eq(count_fds(), fds_before);
	/* ...and every HWPT it allocated destroyed (the IOAS goes with the iommufd). */
	ck_assert_uint_eq(fake_vfio__live_hwpts(), 0);
	pci_host__exit(pci);
	if (with_vtd)
		memset(&vm->mem, 0, sizeof(vm->mem));
	fake_vm__free(vm);
	vm = NULL;
	if (with_vtd)
		vtd_env__exit(&env);
	fake_vfio__exit();
}

/* For tests where the host refuses nothing it is not told to. */
static void stop_clean(void)
{
	if (vm)
		ck_assert_uint_eq(fake_vfio.nrefused, 0);
	stop();
}

static void setup_off(void)
{
	start(false, NULL);
}

static void setup_flts(void)
{
	start(true, NULL);
}

/* Create the device at BDF; on success give its BARs addresses (as the VMM does before the guest runs). */
static int create(void)
{
	int ret = vfio_pci__create(vh, BDF, &vp, err, sizeof(err));

	if (!ret) {
		ck_assert_str_eq(err, "");
		ck_assert_ptr_nonnull(vp);
		pdev = pci_host__find(pci, 0, DEVFN);
		ck_assert_ptr_nonnull(pdev);
	}
	return ret;
}

static void create_ok(void)
{
	int ret = create();

	if (ret)
		fake_vfio__dump();
	ck_assert_msg(ret == 0, "vfio_pci__create: %d (%s)", ret, err);
	ck_assert_int_eq(pci_host__assign_resources(pci), 0);
}

/* ---- helpers ---- */

/* Index of the first call of @req at or after @from; fails the test if there is none. */
static int expect(unsigned long req, int from, const char *name)
{
	int i = fake_vfio__find(req, from);

	if (i < 0)
		fake_vfio__dump();
	ck_assert_msg(i >= 0, "no %s at or after call %d", name, from);
	return i;
}
#define EXPECT(req, from)	expect(req, from, #req)

static const struct fake_vfio_call *call(int i)
{
	return &fake_vfio.calls[i];
}

static bool contains(const char *s, const char *part)
{
	return strstr(s, part) != NULL;
}
#define ck_assert_contains(s, part) ck_assert_msg(contains(s, part), "'%s' lacks '%s'", s, part)

static void mmio(uint64_t addr, void *v, unsigned len, bool is_write)
{
	ck_assert(bus__access(&vm->mmio, addr, v, len, is_write));
}

static uint32_t mmio_rd32(uint64_t addr)
{
	uint32_t v = 0;

	mmio(addr, &v, 4, false);
	return v;
}

static void mmio_wr32(uint64_t addr, uint32_t v)
{
	mmio(addr, &v, 4, true);
}

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
	err[0] = 0;
	r = cli__parse(n + 1, argv, cfg, err, sizeof(err), devnull);
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
	ck_assert_str_eq(err, "--vfio: 0000:01:00.0 is given twice");
	ck_assert_int_eq(parse_cli(&cfg, bad, 2), CLI_ERROR);
	ck_assert_str_eq(err, "--vfio: '01:00.9' is not a PCI address (DDDD:BB:DD.F or BB:DD.F)");
	ck_assert_int_eq(parse_cli(&cfg, many, 2), CLI_ERROR);	/* "1:0.0" is not a BDF */
	ck_assert_int_eq(parse_cli(&cfg, many + 2, 10), CLI_ERROR);
	ck_assert_str_eq(err, "--vfio: at most 4 passthrough devices");
	ck_assert_int_eq(parse_cli(&cfg, many + 2, 8), CLI_RUN);
	ck_assert_int_eq(cfg.nvfio, 4);
}
END_TEST

/* ================================================================================================ */
/* Errors, with their messages                                                                      */

START_TEST(error_no_such_device)
{
	int ret = vfio_pci__create(vh, "0000:09:00.0", &vp, err, sizeof(err));

	ck_assert_int_eq(ret, -ENODEV);
	ck_assert_ptr_null(vp);
	ck_assert_contains(err, "vfio 0000:09:00.0: no such PCI device on this host (");
	ck_assert_contains(err, "/sys/bus/pci/devices/0000:09:00.0)");
	ck_assert_uint_eq(fake_vfio.ncalls, 0);	/* checked before /dev/iommu is even opened */
}
END_TEST

START_TEST(error_not_on_vfio_pci)
{
	char path[FAKE_VFIO_PATH + 64], want[FAKE_VFIO_PATH + 128];
	int ret;

	fake_vfio__add_unbound("0000:02:00.0");
	ret = vfio_pci__create(vh, "0000:02:00.0", &vp, err, sizeof(err));
	ck_assert_int_eq(ret, -ENODEV);
	ck_assert_ptr_null(vp);
	ck_assert_contains(err, "vfio 0000:02:00.0: not bound to vfio-pci with the device cdev (no ");
	ck_assert_contains(err, "/sys/bus/pci/devices/0000:02:00.0/vfio-dev): bind it to vfio-pci");
	ck_assert_contains(err, "CONFIG_VFIO_DEVICE_CDEV");
	ck_assert_uint_eq(fake_vfio.ncalls, 0);

	/* A vfio-dev directory without a vfioN in it. */
	snprintf(path, sizeof(path), "%s/bus/pci/devices/0000:02:00.0/vfio-dev", fake_vfio.sysfs);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	ret = vfio_pci__create(vh, "0000:02:00.0", &vp, err, sizeof(err));
	ck_assert_int_eq(ret, -ENODEV);
	snprintf(want, sizeof(want), "vfio 0000:02:00.0: %s holds no vfioN device", path);
	ck_assert_str_eq(err, want);
}
END_TEST

/* The cdev named by sysfs cannot be opened. */
START_TEST(error_cdev_open)
{
	char want[FAKE_VFIO_PATH + 128];

	ck_assert_int_eq(unlink(hd->cdev), 0);
	ck_assert_int_eq(create(), -ENOENT);
	ck_assert_ptr_null(vp);
	snprintf(want, sizeof(want), "vfio " BDF ": cannot open %s: No such file or directory", hd->cdev);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(mkdir(hd->cdev, 0755), 0);
	ck_assert_int_eq(create(), -EISDIR);
	snprintf(want, sizeof(want), "vfio " BDF ": cannot open %s: Is a directory", hd->cdev);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(error_no_dev_iommu)
{
	char path[FAKE_VFIO_PATH + 16], want[FAKE_VFIO_PATH + 128];
	struct vfio_host *h2;
	int ret;

	snprintf(path, sizeof(path), "%s/nothing", fake_vfio.dev);
	h2 = vfio_host__create(vm, pci, NULL, &fake_vfio.paths, path);
	ck_assert_ptr_nonnull(h2);
	ret = vfio_pci__create(h2, BDF, &vp, err, sizeof(err));
	ck_assert_int_eq(ret, -ENOENT);
	ck_assert_ptr_null(vp);
	snprintf(want, sizeof(want), "vfio " BDF ": %s does not exist (needs a host kernel with CONFIG_IOMMUFD "
		 "and an IOMMU)", path);
	ck_assert_str_eq(err, want);
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
	ck_assert_int_eq(create(), -EBUSY);
	h2 = vfio_host__create(vm, pci, NULL, &fake_vfio.paths, fake_vfio.dev);	/* a directory */
	ck_assert_ptr_nonnull(h2);
	ret = vfio_pci__create(h2, BDF, &vp, err, sizeof(err));
	ck_assert_int_eq(ret, -EISDIR);
	snprintf(want, sizeof(want), "vfio " BDF ": %s: open: Is a directory", fake_vfio.dev);
	ck_assert_str_eq(err, want);
	vfio_host__destroy(h2);
}
END_TEST

START_TEST(error_ioas_alloc)
{
	fake_vfio__fail(IOMMU_IOAS_ALLOC, ENOMEM, 0, 0);
	ck_assert_int_eq(create(), -ENOMEM);
	ck_assert_ptr_null(vp);
	ck_assert_contains(err, "vfio " BDF ": ");
	ck_assert_contains(err, "/dev/iommu: IOMMU_IOAS_ALLOC: Cannot allocate memory");
}
END_TEST

START_TEST(error_bind)
{
	fake_vfio__fail(VFIO_DEVICE_BIND_IOMMUFD, EBUSY, 0, 0);
	ck_assert_int_eq(create(), -EBUSY);
	ck_assert_ptr_null(vp);
	ck_assert_str_eq(err, "vfio " BDF ": VFIO_DEVICE_BIND_IOMMUFD: Device or resource busy");
	/* Nothing after the bind: no region info, no map, no attach. */
	ck_assert_int_eq(fake_vfio__find(VFIO_DEVICE_GET_INFO, 0), -1);
	ck_assert_int_eq(fake_vfio__find(IOMMU_IOAS_MAP, 0), -1);
	ck_assert_int_eq(fake_vfio__find(VFIO_DEVICE_ATTACH_IOMMUFD_PT, 0), -1);
}
END_TEST

START_TEST(error_region_info)
{
	fake_vfio__fail(VFIO_DEVICE_GET_REGION_INFO, EIO, 2, 1);
	ck_assert_int_eq(create(), -EIO);
	ck_assert_ptr_null(vp);
	ck_assert_str_eq(err, "vfio " BDF ": VFIO_DEVICE_GET_REGION_INFO: Input/output error");
}
END_TEST

START_TEST(error_not_pci)
{
	hd->info_flags &= ~VFIO_DEVICE_FLAGS_PCI;
	ck_assert_int_eq(create(), -ENODEV);
	ck_assert_contains(err, "vfio " BDF ": not a PCI device");
}
END_TEST

START_TEST(error_map)
{
	fake_vfio__fail(IOMMU_IOAS_MAP, EFAULT, 1, 0);
	ck_assert_int_eq(create(), -EFAULT);
	ck_assert_ptr_null(vp);
	ck_assert_str_eq(err, "vfio " BDF ": mapping guest RAM for DMA: IOMMU_IOAS_MAP: Bad address");
	ck_assert_int_eq(fake_vfio__find(VFIO_DEVICE_ATTACH_IOMMUFD_PT, 0), -1);
}
END_TEST

START_TEST(error_attach)
{
	fake_vfio__fail(VFIO_DEVICE_ATTACH_IOMMUFD_PT, EINVAL, 0, 0);
	ck_assert_int_eq(create(), -EINVAL);
	ck_assert_ptr_null(vp);
	ck_assert_str_eq(err, "vfio " BDF ": VFIO_DEVICE_ATTACH_IOMMUFD_PT (IOAS): Invalid argument");
}
END_TEST

START_TEST(error_bridge)
{
	fake_vfio__cfg_write(hd, PCI_HEADER_TYPE, 1, 0x80 | PCI_HEADER_TYPE_BRIDGE);
	ck_assert_int_eq(create(), -ENOTSUP);
	ck_assert_ptr_null(vp);
	ck_assert_str_eq(err, "vfio " BDF ": header type 1 (a bridge?): only endpoints can be passed through");
	ck_assert_ptr_null(pci_host__find(pci, 0, DEVFN));
	/* It had been attached for DMA: detached again before the cdev closed. */
	ck_assert_uint_eq(hd->attached, 0);
}
END_TEST

START_TEST(error_small_config)
{
	hd->region[VFIO_PCI_CONFIG_REGION_INDEX].size = 64;
	ck_assert_int_eq(create(), -ENODEV);
	ck_assert_ptr_null(vp);
	ck_assert_str_eq(err, "vfio " BDF ": config space region too small");
}
END_TEST

START_TEST(error_no_msi)
{
	hd->irq_count[VFIO_PCI_MSIX_IRQ_INDEX] = 0;
	hd->irq_count[VFIO_PCI_MSI_IRQ_INDEX] = 0;
	ck_assert_int_eq(create(), -ENOTSUP);
	ck_assert_ptr_null(vp);
	ck_assert_str_eq(err, "vfio " BDF ": has neither MSI-X nor MSI (INTx passthrough is not supported)");
	ck_assert_ptr_null(pci_host__find(pci, 0, DEVFN));
	ck_assert_uint_eq(hd->attached, 0);
}
END_TEST

START_TEST(error_no_bar_slot_for_msix)
{
	for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
		hd->region[i].size = 4096;
		fake_vfio__cfg_write(hd, PCI_BASE_ADDRESS_0 + 4 * i, 4, 0xfe000000 + i * 0x1000);
	}
	ck_assert_int_eq(create(), -ENOSPC);
	ck_assert_ptr_null(vp);
	ck_assert_str_eq(err, "vfio " BDF ": every BAR slot is used: no room for the MSI-X table");
}
END_TEST

/* KVM not knowing the device is worth a warning, not a failure; neither is a failing reset. */
START_TEST(kvm_vfio_and_reset_failures_are_warnings)
{
	fake_vfio__fail(KVM_CREATE_DEVICE, ENODEV, 0, 0);
	create_ok();
	ck_assert_uint_eq(fake_vfio__count(KVM_SET_DEVICE_ATTR), 0);
	vfio_pci__destroy(vp);
	vp = NULL;
	fake_vfio__init(root);
	hd = fake_vfio__add_device(BDF);
	vfio_host__destroy(vh);
	vh = vfio_host__create(vm, pci, NULL, &fake_vfio.paths, fake_vfio.iommu);
	fake_vfio__fail(VFIO_DEVICE_RESET, EIO, 0, 0);
	ck_assert_int_eq(vfio_pci__create(vh, BDF, &vp, err, sizeof(err)), 0);
	vfio_pci__reset(vp);
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_RESET), 2);
}
END_TEST

/* ================================================================================================ */
/* --viommu off                                                                                      */

START_TEST(off_sequence)
{
	int alloc, bind, map0, map1, attach, info;
	uint32_t ioas, flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
	struct stat a, b;

	create_ok();
	alloc = EXPECT(IOMMU_IOAS_ALLOC, 0);
	ck_assert_int_eq(call(alloc)->fd, FAKE_FD_IOMMU);
	ioas = call(alloc)->a.ioas_alloc.out_ioas_id;
	ck_assert_ptr_nonnull(fake_vfio__obj(ioas));

	bind = EXPECT(VFIO_DEVICE_BIND_IOMMUFD, alloc);
	ck_assert_int_eq(call(bind)->fd, 0);	/* on the cdev of devs[0] */
	ck_assert_int_eq(call(bind)->err, 0);
	ck_assert(hd->bound);
	info = EXPECT(VFIO_DEVICE_GET_INFO, bind);

	/* Every RAM region at IOVA = GPA, read-write, from its host mapping. */
	map0 = EXPECT(IOMMU_IOAS_MAP, bind);
	map1 = EXPECT(IOMMU_IOAS_MAP, map0 + 1);
	for (int r = 0; r < 2; r++) {
		const struct iommu_ioas_map *m = &call(r ? map1 : map0)->a.map;

		ck_assert_uint_eq(m->size, sizeof(*m));
		ck_assert_uint_eq(m->flags, flags);
		ck_assert_uint_eq(m->ioas_id, ioas);
		ck_assert_uint_eq(m->iova, vm->mem.r[r].gpa);
		ck_assert_uint_eq(m->user_va, (uintptr_t)vm->mem.r[r].hva);
		ck_assert_uint_eq(m->length, vm->mem.r[r].size);
	}
	ck_assert_uint_eq(call(map0)->a.map.iova, 0);
	ck_assert_uint_eq(call(map1)->a.map.iova, LAYOUT_HIGHMEM_BASE);
	ck_assert_uint_eq(fake_vfio__count(IOMMU_IOAS_MAP), 2);

	attach = EXPECT(VFIO_DEVICE_ATTACH_IOMMUFD_PT, map1);
	ck_assert_int_eq(call(attach)->fd, 0);
	ck_assert_uint_eq(call(attach)->a.attach.pt_id, ioas);
	ck_assert_uint_eq(hd->attached, ioas);
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 1);

	/* No nesting without the vIOMMU. */
	ck_assert_uint_eq(fake_vfio__count(IOMMU_HWPT_ALLOC), 0);
	ck_assert_uint_eq(fake_vfio__count(IOMMU_GET_HW_INFO), 0);

	/* KVM is told of the device (KVM-VFIO pseudo-device, the cdev's descriptor), and it is reset. */
	ck_assert_int_eq(call(EXPECT(KVM_CREATE_DEVICE, 0))->a.create_dev.type, KVM_DEV_TYPE_VFIO);
	ck_assert_int_eq(call(EXPECT(KVM_SET_DEVICE_ATTR, 0))->err, 0);
	ck_assert_int_eq(fstat(call(EXPECT(KVM_SET_DEVICE_ATTR, 0))->attr_fd, &a), 0);
	ck_assert_int_eq(stat(hd->cdev, &b), 0);
	ck_assert(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	ck_assert_int_gt(EXPECT(VFIO_DEVICE_RESET, info), bind);
	ck_assert_uint_eq(hd->resets, 1);
	vfio_pci__reset(vp);
	ck_assert_uint_eq(hd->resets, 2);
}
END_TEST

START_TEST(off_no_reset_without_flr)
{
	hd->info_flags &= ~VFIO_DEVICE_FLAGS_RESET;
	create_ok();
	vfio_pci__reset(vp);
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_RESET), 0);
}
END_TEST

START_TEST(off_guest_view)
{
	unsigned cap;

	fake_vfio__cfg_write(hd, PCI_HEADER_TYPE, 1, 0x80);	/* multi-function bit: still an endpoint */
	ck_assert_int_eq(create(), 0);
	ck_assert_uint_eq(pci__cfg_read(pdev, PCI_VENDOR_ID, 2), 0x144d);
	ck_assert_uint_eq(pci__cfg_read(pdev, PCI_DEVICE_ID, 2), 0xa808);
	ck_assert_uint_eq(pci__cfg_read(pdev, PCI_CLASS_REVISION, 4), 0x01080201);
	ck_assert_uint_eq(pci__cfg_read(pdev, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x144d);
	ck_assert_uint_eq(pci__cfg_read(pdev, PCI_SUBSYSTEM_ID, 2), 0xa801);
	ck_assert_uint_eq(pci__cfg_read(pdev, PCI_HEADER_TYPE, 1), PCI_HEADER_TYPE_NORMAL);
	ck_assert_uint_eq(pci__cfg_read(pdev, PCI_INTERRUPT_PIN, 1), 0);	/* no INTx */

	/* BAR sizing: the host's sizes and types, not its addresses. */
	ck_assert_uint_eq(pci__cfg_read(pdev, PCI_BASE_ADDRESS_0, 4), PCI_BASE_ADDRESS_MEM_TYPE_64);
	for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++)
		pci__cfg_write(pdev, PCI_BASE_ADDRESS_0 + 4 * i, 4, 0xffffffff);
	ck_assert_uint_eq(pci__cfg_read(pdev, PCI_BASE_ADDRESS_0, 4),
			  (uint32_t)~(16384 - 1) | PCI_BASE_ADDRESS_MEM_TYPE_64);
	ck_assert_uint_eq(pci__cfg_read(pdev, PCI_BASE_ADDRESS_1, 4), 0xffffffff);
	ck_assert_uint_eq(pci__cfg_read(pdev, PCI_BASE_ADDRESS_2, 4) & 0xffff,
			  (uint16_t)~(32 - 1) | PCI_BASE_ADDRESS_SPACE_IO);
	/* BAR 3, the first free slot: the MSI-X table, 32-bit memory, at least 4 KiB. */
	ck_assert_uint_eq(pci__cfg_read(pdev, PCI_BASE_ADDRESS_3, 4), (uint32_t)~(4096 - 1));
	ck_assert_uint_eq(pci__cfg_read(pdev, PCI_BASE_ADDRESS_4, 4),
			  (uint32_t)~(4096 - 1) | PCI_BASE_ADDRESS_MEM_PREFETCH);
	ck_assert_uint_eq(pci__cfg_read(pdev, PCI_BASE_ADDRESS_5, 4), 0);

	cap = pci__find_cap(pdev, PCI_CAP_ID_MSIX);
	ck_assert_uint_ne(cap, 0);
	ck_assert_uint_eq(pci__cfg_read(pdev, cap + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE, 4 - 1);
	ck_assert_uint_eq(pci__cfg_read(pdev, cap + PCI_MSIX_TABLE, 4), 0 | 3);
	ck_assert_uint_eq(pci__cfg_read(pdev, cap + PCI_MSIX_PBA, 4), 2048 | 3);
	ck_assert_uint_eq(pci__find_cap(pdev, PCI_CAP_ID_MSI), 0);	/* MSI-X wins */
	ck_assert_uint_eq(pci__find_cap(pdev, PCI_CAP_ID_EXP), 0);	/* nothing else of the host's */

	/* Nothing of this reached the host's config space. */
	ck_assert_uint_eq(fake_vfio__cfg_read(hd, PCI_BASE_ADDRESS_0, 4), 0xfe000000 | PCI_BASE_ADDRESS_MEM_TYPE_64);
	ck_assert_uint_eq(fake_vfio__cfg_read(hd, PCI_BASE_ADDRESS_3, 4), 0);
}
END_TEST

START_TEST(off_guest_view_msi_only_and_many_vectors)
{
	hd->irq_count[VFIO_PCI_MSIX_IRQ_INDEX] = 0;
	ck_assert_int_eq(create(), 0);
	ck_assert_uint_ne(pci__find_cap(pdev, PCI_CAP_ID_MSI), 0);
	ck_assert_uint_eq(pci__find_cap(pdev, PCI_CAP_ID_MSIX), 0);
	ck_assert_uint_eq(pci__cfg_read(pdev, PCI_BASE_ADDRESS_3, 4), 0);	/* no table BAR */
}
END_TEST

START_TEST(off_bar_access)
{
	uint64_t bar0, bar4, q = 0x1122334455667788ULL, v = 0;
	uint32_t io, w;
	uint16_t h = 0x1234, hv = 0;

	fake_vfio__region_write(hd, 0, 0x100, &q, 8);
	fake_vfio__region_write(hd, 4, 0xffc, "\xaa\xbb\xcc\xdd", 4);
	create_ok();
	bar0 = pci__bar_addr(pdev, 0);
	bar4 = pci__bar_addr(pdev, 4);
	io = pci__bar_addr(pdev, 2);
	ck_assert_uint_ne(bar0, 0);
	ck_assert_uint_ne(bar4, 0);
	ck_assert_uint_ne(io, 0);

	/* Reads come from the right offset of the cdev (the region's offset + the BAR offset). */
	mmio(bar0 + 0x100, &v, 8, false);
	ck_assert_uint_eq(v, q);
	ck_assert_uint_eq(mmio_rd32(bar0 + 0x104), 0x11223344);
	ck_assert_uint_eq(mmio_rd32(bar4 + 0xffc), 0xddccbbaa);
	/* Writes land there. */
	mmio_wr32(bar0 + 0x3ffc, 0xdeadbeef);
	fake_vfio__region_read(hd, 0, 0x3ffc, &w, 4);
	ck_assert_uint_eq(w, 0xdeadbeef);
	fake_vfio__region_read(hd, 4, 0x3ffc, &w, 4);	/* not in another BAR */
	ck_assert_uint_eq(w, 0);
	ck_assert(bus__access(&vm->pio, io + 6, &h, 2, true));
	fake_vfio__region_read(hd, 2, 6, &hv, 2);
	ck_assert_uint_eq(hv, 0x1234);
	hv = 0;
	ck_assert(bus__access(&vm->pio, io + 6, &hv, 2, false));
	ck_assert_uint_eq(hv, 0x1234);
	/* The host config space was not written by BAR traffic. */
	ck_assert_uint_eq(fake_vfio__cfg_read(hd, PCI_VENDOR_ID, 2), 0x144d);
}
END_TEST

/* A host BAR smaller than the smallest memory BAR: accesses past the region fail and read all-ones. */
/* A BAR region the host lets us mmap becomes a memslot that follows the guest's BAR placement. */
static const struct kvm_userspace_memory_region *last_memslot(void)
{
	ck_assert_uint_gt(fake_kvm.nr_memslots, 0);
	return &fake_kvm.memslots[fake_kvm.nr_memslots - 1];
}

START_TEST(off_bar_mmap)
{
	const struct kvm_userspace_memory_region *m;
	uint64_t bar0, q = 0x5566778899aabbccULL;
	unsigned n, slot;

	hd->region[0].flags |= VFIO_REGION_INFO_FLAG_MMAP;
	fake_vfio__region_write(hd, 0, 0x200, &q, 8);
	create_ok();
	bar0 = pci__bar_addr(pdev, 0);
	m = last_memslot();
	ck_assert_uint_ge(m->slot, VM_FIRST_DEVICE_SLOT);
	ck_assert_uint_eq(m->guest_phys_addr, bar0);
	ck_assert_uint_eq(m->memory_size, 16384);
	/* The slot's memory is the device's region (the cdev file here, shared). */
	ck_assert_uint_eq(*(uint64_t *)(uintptr_t)(m->userspace_addr + 0x200), q);
	slot = m->slot;

	/* Memory decode off: the slot goes (size 0); on again: back at the same place. */
	n = fake_kvm.nr_memslots;
	pci__cfg_write(pdev, PCI_COMMAND, 2, pci__cfg_get(pdev, PCI_COMMAND, 2) & ~PCI_COMMAND_MEMORY);
	ck_assert_uint_eq(fake_kvm.nr_memslots, n + 1);
	ck_assert_uint_eq(last_memslot()->slot, slot);
	ck_assert_uint_eq(last_memslot()->memory_size, 0);
	/* Moved while decoding is off, then decoded again: a slot at the new address. */
	pci__cfg_write(pdev, PCI_BASE_ADDRESS_0, 4, (uint32_t)(bar0 + 0x100000));
	pci__cfg_write(pdev, PCI_COMMAND, 2, pci__cfg_get(pdev, PCI_COMMAND, 2) | PCI_COMMAND_MEMORY);
	m = last_memslot();
	ck_assert_uint_eq(m->guest_phys_addr, pci__bar_addr(pdev, 0));
	ck_assert_uint_eq(m->guest_phys_addr, bar0 + 0x100000);
	ck_assert_uint_eq(m->memory_size, 16384);

	/* Teardown removes it. */
	n = fake_kvm.nr_memslots;
	vfio_pci__destroy(vp);
	vp = NULL;
	ck_assert_uint_eq(fake_kvm.nr_memslots, n + 1);
	ck_assert_uint_eq(last_memslot()->memory_size, 0);
}
END_TEST

/* A BAR smaller than a page cannot be a memslot: it stays trapped. */
START_TEST(off_bar_mmap_small_stays_trapped)
{
	hd->region[4].size = 2048;
	hd->region[4].flags |= VFIO_REGION_INFO_FLAG_MMAP;
	create_ok();
	ck_assert_uint_eq(fake_kvm.nr_memslots, 0);
}
END_TEST

START_TEST(off_small_bar)
{
	uint64_t bar4;

	hd->region[4].size = 8;
	fake_vfio__region_write(hd, 4, 0, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	create_ok();
	bar4 = pci__bar_addr(pdev, 4);
	ck_assert_uint_eq(mmio_rd32(bar4 + 4), 0x08070605);
	ck_assert_uint_eq(mmio_rd32(bar4 + 8), 0xffffffff);
	ck_assert_uint_eq(mmio_rd32(bar4 + 6), 0xffffffff);	/* crosses the end: nothing read */
}
END_TEST

START_TEST(off_command_register)
{
	fake_vfio__cfg_write(hd, PCI_COMMAND, 2, PCI_COMMAND_SERR);
	fake_vfio__cfg_write(hd, PCI_CACHE_LINE_SIZE, 1, 0x10);
	create_ok();
	/* The VMM's BAR assignment enabled decoding and bus mastering: on the host too, SERR kept. */
	ck_assert_uint_eq(fake_vfio__cfg_read(hd, PCI_COMMAND, 2),
			  PCI_COMMAND_SERR | PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	/* The guest turns I/O decoding off: only the forwarded bits change on the host. */
	pci__cfg_write(pdev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	ck_assert_uint_eq(fake_vfio__cfg_read(hd, PCI_COMMAND, 2),
			  PCI_COMMAND_SERR | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	pci__cfg_write(pdev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	ck_assert_uint_eq(fake_vfio__cfg_read(hd, PCI_COMMAND, 2),
			  PCI_COMMAND_SERR | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	/* A 4-byte write covering command and status, and one to the low byte alone. */
	pci__cfg_write(pdev, PCI_COMMAND, 4, PCI_COMMAND_MEMORY);
	ck_assert_uint_eq(fake_vfio__cfg_read(hd, PCI_COMMAND, 2), PCI_COMMAND_SERR | PCI_COMMAND_MEMORY);
	pci__cfg_write(pdev, PCI_COMMAND, 1, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	ck_assert_uint_eq(fake_vfio__cfg_read(hd, PCI_COMMAND, 2),
			  PCI_COMMAND_SERR | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	/* Other registers stay the guest's own. */
	pci__cfg_write(pdev, PCI_CACHE_LINE_SIZE, 1, 0x20);
	ck_assert_uint_eq(fake_vfio__cfg_read(hd, PCI_CACHE_LINE_SIZE, 1), 0x10);
	ck_assert_uint_eq(pci__cfg_read(pdev, PCI_CACHE_LINE_SIZE, 1), 0x20);
}
END_TEST

/* Two devices: one iommufd, one IOAS, RAM mapped once, one KVM-VFIO device, two slots. */
START_TEST(off_two_devices)
{
	struct fake_vfio_dev *hd2 = fake_vfio__add_device("0000:02:00.0");
	struct vfio_pci *vp2 = NULL;
	uint32_t ioas;

	create_ok();
	ck_assert_int_eq(vfio_pci__create(vh, "0000:02:00.0", &vp2, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(pci_host__find(pci, 0, PCI_DEVFN(2, 0)));
	ck_assert_uint_eq(fake_vfio__count(IOMMU_IOAS_ALLOC), 1);
	ck_assert_uint_eq(fake_vfio__count(IOMMU_IOAS_MAP), 2);
	ck_assert_uint_eq(fake_vfio__count(KVM_CREATE_DEVICE), 1);
	ck_assert_uint_eq(fake_vfio__count(KVM_SET_DEVICE_ATTR), 2);
	ioas = call(EXPECT(IOMMU_IOAS_ALLOC, 0))->a.ioas_alloc.out_ioas_id;
	ck_assert_uint_eq(hd->attached, ioas);
	ck_assert_uint_eq(hd2->attached, ioas);
	ck_assert(hd2->bound && hd2->dev_id != hd->dev_id);
	vfio_pci__destroy(vp2);
	ck_assert_uint_eq(hd2->attached, 0);
	ck_assert_uint_eq(hd->attached, ioas);
}
END_TEST

/* ================================================================================================ */
/* Interrupts                                                                                        */

static unsigned msix_cap(void)
{
	unsigned cap = pci__find_cap(pdev, PCI_CAP_ID_MSIX);

	ck_assert_uint_ne(cap, 0);
	return cap;
}

static void msix_ctrl(uint16_t v)
{
	pci__cfg_write(pdev, msix_cap() + PCI_MSIX_FLAGS, 2, v);
}

static void msix_entry(unsigned v, uint64_t addr, uint32_t data, uint32_t ctrl)
{
	uint64_t e = pci__bar_addr(pdev, 3) + v * PCI_MSIX_ENTRY_SIZE;

	mmio_wr32(e + PCI_MSIX_ENTRY_LOWER_ADDR, (uint32_t)addr);
	mmio_wr32(e + PCI_MSIX_ENTRY_UPPER_ADDR, addr >> 32);
	mmio_wr32(e + PCI_MSIX_ENTRY_DATA, data);
	mmio_wr32(e + PCI_MSIX_ENTRY_VECTOR_CTRL, ctrl);
}

static void msix_mask(unsigned v, bool masked)
{
	mmio_wr32(pci__bar_addr(pdev, 3) + v * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL,
		  masked ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0);
}

static uint32_t pba(void)
{
	return mmio_rd32(pci__bar_addr(pdev, 3) + 2048);
}

/* The last KVM_IRQFD call for @fd: 1 assigned, 0 deassigned, -1 none; its GSI in *@gsi. */
static int irqfd_state(int fd, unsigned *gsi)
{
	int state = -1;

	pthread_mutex_lock(&fake_kvm.lock);
	for (unsigned i = 0; i < fake_kvm.nr_irqfds && i < ARRAY_SIZE(fake_kvm.irqfds); i++) {
		if (fake_kvm.irqfds[i].fd == fd) {
			state = fake_kvm.irqfds[i].assign;
			if (gsi)
				*gsi = fake_kvm.irqfds[i].gsi;
		}
	}
	pthread_mutex_unlock(&fake_kvm.lock);
	return state;
}

/* The last routing table's MSI entry for @gsi. */
static const struct kvm_irq_routing_entry *route(unsigned gsi)
{
	for (unsigned i = 0; i < fake_kvm.nr_routes && i < FAKE_KVM_MAX_ROUTES; i++)
		if (fake_kvm.routes[i].gsi == gsi && fake_kvm.routes[i].type == KVM_IRQ_ROUTING_MSI)
			return &fake_kvm.routes[i];
	return NULL;
}

/* Bounded wait (2 s) for the poller thread to set @bit in the PBA. */
static bool wait_pba(uint32_t bit)
{
	for (int i = 0; i < 2000; i++) {
		if (pba() & bit)
			return true;
		usleep(1000);
	}
	return pba() & bit;
}

START_TEST(msix_vectors)
{
	const struct fake_vfio_call *c;
	int set, fds[4];
	unsigned gsi = ~0u, gsi2 = ~0u, nirqfds;
	uint64_t one = 1;

	create_ok();
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_SET_IRQS), 0);	/* nothing until the guest enables */

	/* Enable: the host's four vectors, each on an eventfd; all still masked, so no irqfd. */
	msix_ctrl(PCI_MSIX_FLAGS_ENABLE);
	set = EXPECT(VFIO_DEVICE_SET_IRQS, 0);
	c = call(set);
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
	ck_assert_int_eq(hd->irq_index, VFIO_PCI_MSIX_IRQ_INDEX);
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_SET_IRQS), 1);
	ck_assert_uint_eq(fake_kvm.nr_irqfds, 0);

	/* Unmask vector 1: routed to its message, and its eventfd handed to KVM. */
	msix_entry(1, MSI_ADDR | 0x1000, 0x4041, 0);
	ck_assert_int_eq(irqfd_state(fds[1], &gsi), 1);
	ck_assert_ptr_nonnull(route(gsi));
	ck_assert_uint_eq(route(gsi)->u.msi.address_lo, MSI_ADDR | 0x1000);
	ck_assert_uint_eq(route(gsi)->u.msi.address_hi, 0);
	ck_assert_uint_eq(route(gsi)->u.msi.data, 0x4041);
	ck_assert_int_eq(irqfd_state(fds[0], NULL), -1);
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_SET_IRQS), 1);	/* the host side is not touched */

	/* Masked: taken back from KVM. */
	msix_mask(1, true);
	ck_assert_int_eq(irqfd_state(fds[1], &gsi2), 0);
	ck_assert_uint_eq(gsi2, gsi);
	nirqfds = fake_kvm.nr_irqfds;

	/* A host interrupt while masked: the poller sets the pending bit, nothing is sent. */
	ck_assert_int_eq(write(fds[1], &one, sizeof(one)), sizeof(one));
	ck_assert_msg(wait_pba(1u << 1), "PBA bit 1 never set (PBA %#x)", pba());
	ck_assert_uint_eq(pba(), 1u << 1);
	ck_assert_uint_eq(fake_kvm.nr_msis, 0);

	/* Unmask: the pending message goes out once, the vector is KVM's again, same GSI. */
	msix_mask(1, false);
	ck_assert_uint_eq(pba(), 0);
	ck_assert_uint_eq(fake_kvm.nr_msis, 1);
	ck_assert_uint_eq(fake_kvm.msis[0].addr, MSI_ADDR | 0x1000);
	ck_assert_uint_eq(fake_kvm.msis[0].data, 0x4041);
	ck_assert_int_eq(irqfd_state(fds[1], &gsi2), 1);
	ck_assert_uint_eq(gsi2, gsi);
	ck_assert_uint_eq(fake_kvm.nr_irqfds, nirqfds + 1);

	/* A new message for a routed vector: the route changes, the irqfd stays. */
	msix_entry(1, MSI_ADDR | 0x2000, 0x4042, 0);
	ck_assert_uint_eq(route(gsi)->u.msi.address_lo, MSI_ADDR | 0x2000);
	ck_assert_uint_eq(route(gsi)->u.msi.data, 0x4042);
	ck_assert_uint_eq(fake_kvm.nr_irqfds, nirqfds + 1);

	/* Function mask: every vector masked, so taken from KVM. */
	msix_ctrl(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	ck_assert_int_eq(irqfd_state(fds[1], NULL), 0);
	msix_ctrl(PCI_MSIX_FLAGS_ENABLE);
	ck_assert_int_eq(irqfd_state(fds[1], NULL), 1);
	/* A message outside the interrupt window cannot be an irqfd route: polled instead. */
	msix_entry(2, 0x12345000, 0x1, 0);
	ck_assert_int_eq(irqfd_state(fds[2], NULL), -1);

	/* Disable: host vectors off (DATA_NONE, count 0), the vector taken from KVM. */
	msix_ctrl(0);
	set = EXPECT(VFIO_DEVICE_SET_IRQS, set + 1);
	c = call(set);
	ck_assert_int_eq(c->err, 0);
	ck_assert_uint_eq(c->a.irq_set.index, VFIO_PCI_MSIX_IRQ_INDEX);
	ck_assert_uint_eq(c->a.irq_set.flags, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER);
	ck_assert_uint_eq(c->a.irq_set.count, 0);
	ck_assert_int_eq(hd->irq_index, -1);
	ck_assert_int_eq(irqfd_state(fds[1], NULL), 0);
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_SET_IRQS), 2);

	/* Enabled again with vector 1 unmasked: the same eventfds, vector 1 straight to KVM. */
	msix_ctrl(PCI_MSIX_FLAGS_ENABLE);
	c = call(EXPECT(VFIO_DEVICE_SET_IRQS, set + 1));
	ck_assert_uint_eq(c->a.irq_set.count, 4);
	ck_assert_int_eq(c->irq_fds[1], fds[1]);
	ck_assert_int_eq(irqfd_state(fds[1], NULL), 1);
}
END_TEST

/* Bus mastering off: MSI-X messages are memory writes, so vectors leave KVM. */
START_TEST(msix_bus_master)
{
	int fd;

	create_ok();
	msix_ctrl(PCI_MSIX_FLAGS_ENABLE);
	msix_entry(0, MSI_ADDR, 0x30, 0);
	fd = call(EXPECT(VFIO_DEVICE_SET_IRQS, 0))->irq_fds[0];
	ck_assert_int_eq(irqfd_state(fd, NULL), 1);
	pci__cfg_write(pdev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ck_assert_int_eq(irqfd_state(fd, NULL), 0);
	pci__cfg_write(pdev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	ck_assert_int_eq(irqfd_state(fd, NULL), 1);
}
END_TEST

START_TEST(msi_vector)
{
	const struct fake_vfio_call *c;
	unsigned cap, gsi = ~0u;
	int fd;

	hd->irq_count[VFIO_PCI_MSIX_IRQ_INDEX] = 0;
	create_ok();
	cap = pci__find_cap(pdev, PCI_CAP_ID_MSI);
	ck_assert_uint_ne(cap, 0);
	pci__cfg_write(pdev, cap + PCI_MSI_ADDRESS_LO, 4, MSI_ADDR | 0x3000);
	pci__cfg_write(pdev, cap + PCI_MSI_ADDRESS_HI, 4, 0);
	pci__cfg_write(pdev, cap + PCI_MSI_DATA_64, 2, 0x4050);
	pci__cfg_write(pdev, cap + PCI_MSI_MASK_64, 4, 1);
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_SET_IRQS), 0);
	pci__cfg_write(pdev, cap + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE);
	c = call(EXPECT(VFIO_DEVICE_SET_IRQS, 0));
	ck_assert_uint_eq(c->a.irq_set.index, VFIO_PCI_MSI_IRQ_INDEX);
	ck_assert_uint_eq(c->a.irq_set.flags, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER);
	ck_assert_uint_eq(c->a.irq_set.count, 1);
	fd = c->irq_fds[0];
	ck_assert_int_eq(irqfd_state(fd, NULL), -1);	/* masked */
	pci__cfg_write(pdev, cap + PCI_MSI_MASK_64, 4, 0);
	ck_assert_int_eq(irqfd_state(fd, &gsi), 1);
	ck_assert_uint_eq(route(gsi)->u.msi.address_lo, MSI_ADDR | 0x3000);
	ck_assert_uint_eq(route(gsi)->u.msi.data, 0x4050);
	pci__cfg_write(pdev, cap + PCI_MSI_FLAGS, 2, 0);
	c = call(EXPECT(VFIO_DEVICE_SET_IRQS, EXPECT(VFIO_DEVICE_SET_IRQS, 0) + 1));
	ck_assert_uint_eq(c->a.irq_set.index, VFIO_PCI_MSI_IRQ_INDEX);
	ck_assert_uint_eq(c->a.irq_set.flags, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER);
	ck_assert_int_eq(irqfd_state(fd, NULL), 0);
}
END_TEST

/* The host refusing the vectors: logged, the device goes on without them, nothing to disable later. */
START_TEST(msix_host_refuses)
{
	unsigned n;

	create_ok();
	fake_vfio__fail(VFIO_DEVICE_SET_IRQS, EINVAL, 0, 0);
	msix_ctrl(PCI_MSIX_FLAGS_ENABLE);
	ck_assert_int_eq(hd->irq_index, -1);
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_SET_IRQS), 1);	/* once, not once per vector */
	msix_entry(0, MSI_ADDR, 0x4040, 0);
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_SET_IRQS), 1);	/* not retried on each change */
	fake_vfio__fail(0, 0, 0, 0);
	n = fake_vfio__count(VFIO_DEVICE_SET_IRQS);
	msix_ctrl(0);		/* nothing was enabled on the host: nothing to disable */
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_SET_IRQS), n);
	msix_ctrl(PCI_MSIX_FLAGS_ENABLE);
	ck_assert_int_eq(hd->irq_index, VFIO_PCI_MSIX_IRQ_INDEX);
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_SET_IRQS), n + 1);
}
END_TEST

/* Teardown with vectors enabled and routed: host vectors off, irqfds deassigned, device detached. */
START_TEST(teardown_releases_everything)
{
	int fd;
	unsigned n;

	create_ok();
	msix_ctrl(PCI_MSIX_FLAGS_ENABLE);
	msix_entry(3, MSI_ADDR, 0x4043, 0);
	fd = call(EXPECT(VFIO_DEVICE_SET_IRQS, 0))->irq_fds[3];
	ck_assert_int_eq(irqfd_state(fd, NULL), 1);
	n = fake_vfio.ncalls;
	vfio_pci__destroy(vp);
	vp = NULL;
	ck_assert_int_eq(irqfd_state(fd, NULL), 0);
	ck_assert_int_eq(hd->irq_index, -1);
	ck_assert_uint_eq(hd->attached, 0);
	ck_assert_int_ge(fake_vfio__find(VFIO_DEVICE_SET_IRQS, n), 0);
	ck_assert_int_ge(fake_vfio__find(VFIO_DEVICE_DETACH_IOMMUFD_PT, n), 0);
	/* stop() checks the descriptors and HWPTs. */
}
END_TEST

/* ================================================================================================ */
/* --viommu flts: joining the vIOMMU                                                                */

START_TEST(flts_sequence)
{
	int map, hwpt, attach, info, bind;
	uint32_t ioas, parent, dev_id;
	const struct iommu_hwpt_alloc *a;
	const struct iommu_hw_info *hi;

	create_ok();
	ioas = call(EXPECT(IOMMU_IOAS_ALLOC, 0))->a.ioas_alloc.out_ioas_id;
	bind = EXPECT(VFIO_DEVICE_BIND_IOMMUFD, 0);
	dev_id = call(bind)->a.bind.out_devid;
	map = EXPECT(IOMMU_IOAS_MAP, bind);
	ck_assert_uint_eq(call(map)->a.map.length, VTD_ENV_RAM);
	ck_assert_uint_eq(call(map)->a.map.user_va, (uintptr_t)env.mem.r[0].hva);
	ck_assert_uint_eq(call(map)->a.map.iova, 0);

	/* The nesting parent on the IOAS, and the device attached to it... */
	hwpt = EXPECT(IOMMU_HWPT_ALLOC, map);
	a = &call(hwpt)->a.hwpt_alloc;
	ck_assert_int_eq(call(hwpt)->err, 0);
	ck_assert_uint_eq(a->flags, IOMMU_HWPT_ALLOC_NEST_PARENT);
	ck_assert_uint_eq(a->pt_id, ioas);
	ck_assert_uint_eq(a->dev_id, dev_id);
	ck_assert_uint_eq(a->data_type, IOMMU_HWPT_DATA_NONE);
	parent = a->out_hwpt_id;
	attach = EXPECT(VFIO_DEVICE_ATTACH_IOMMUFD_PT, hwpt);
	ck_assert_uint_eq(call(attach)->a.attach.pt_id, parent);
	/* ...before the host IOMMU's description is asked for (and only then). */
	info = EXPECT(IOMMU_GET_HW_INFO, 0);
	ck_assert_int_gt(info, attach);
	hi = &call(info)->a.hw_info;
	ck_assert_uint_eq(hi->dev_id, dev_id);
	ck_assert_uint_eq(hi->data_len, sizeof(struct iommu_hw_info_vtd));
	ck_assert_uint_eq(fake_vfio__count(IOMMU_GET_HW_INFO), 1);
	/* Translation is off: the device stays on the parent, nothing else happens. */
	ck_assert_uint_eq(hd->attached, parent);
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 1);
	ck_assert_uint_eq(fake_vfio__count(IOMMU_HWPT_ALLOC), 1);
	ck_assert_uint_eq(fake_vfio__live_hwpts(), 1);
}
END_TEST

START_TEST(flts_no_nesting)
{
	fake_vfio.ecap &= ~VTD_ECAP_NEST;
	ck_assert_int_eq(create(), -EOPNOTSUPP);
	ck_assert_ptr_null(vp);
	ck_assert_str_eq(err, PREFIX "no nested translation (VT-d ECAP.NEST=0); IOMMU_HWPT_ALLOC(NEST_PARENT): "
			 "Operation not supported");
	ck_assert_int_gt(EXPECT(IOMMU_GET_HW_INFO, 0), EXPECT(IOMMU_HWPT_ALLOC, 0));
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 0);
	ck_assert_ptr_null(pci_host__find(pci, 0, DEVFN));
}
END_TEST

/* The parent refused although the description looks fine (or cannot be had): the generic reason. */
START_TEST(flts_parent_refused)
{
	fake_vfio__fail(IOMMU_HWPT_ALLOC, EINVAL, 0, 0);
	ck_assert_int_eq(create(), -EINVAL);
	ck_assert_ptr_null(vp);
	ck_assert_str_eq(err, PREFIX "no nested translation (IOMMU_HWPT_ALLOC(NEST_PARENT): Invalid argument)");
	/* A fresh host (the close unbound the device), without nesting and without a description. */
	vfio_host__destroy(vh);
	fake_vfio__init(root);
	hd = fake_vfio__add_device(BDF);
	vh = vfio_host__create(vm, pci, env.vtd, &fake_vfio.paths, fake_vfio.iommu);
	fake_vfio.ecap &= ~VTD_ECAP_NEST;
	fake_vfio__fail(IOMMU_GET_HW_INFO, ENOTTY, 0, 0);
	ck_assert_int_eq(create(), -EOPNOTSUPP);
	ck_assert_ptr_null(vp);
	ck_assert_str_eq(err, PREFIX "no nested translation (IOMMU_HWPT_ALLOC(NEST_PARENT): Operation not supported)");
}
END_TEST

START_TEST(flts_attach_refused)
{
	fake_vfio__fail(VFIO_DEVICE_ATTACH_IOMMUFD_PT, ENODEV, 0, 0);
	ck_assert_int_eq(create(), -ENODEV);
	ck_assert_ptr_null(vp);
	ck_assert_str_eq(err, "vfio " BDF ": VFIO_DEVICE_ATTACH_IOMMUFD_PT (nesting parent): No such device");
	/* stop(): the parent was destroyed */
}
END_TEST

START_TEST(flts_hw_info_fails)
{
	fake_vfio__fail(IOMMU_GET_HW_INFO, EIO, 0, 0);
	ck_assert_int_eq(create(), -EIO);
	ck_assert_str_eq(err, "vfio " BDF ": IOMMU_GET_HW_INFO: Input/output error");
	ck_assert_ptr_nonnull(vp);	/* on the bus already: the machine destroys it with the others */
	ck_assert_ptr_nonnull(pci_host__find(pci, 0, DEVFN));
}
END_TEST

/* What the host lacks, and what the user is told. */
static const struct refusal {
	uint32_t type;
	uint64_t cap_clear, ecap_clear, cap_set;
	int ret;		/* -EOPNOTSUPP: the parent's allocation failed; -EINVAL: the join refused */
	const char *why;
} refusals[] = {
	{ 2, 0, 0, 0, -EINVAL, "host IOMMU type 2 is not Intel VT-d" },
	{ 0, 0, 0, 0, -EINVAL, "host IOMMU type 0 is not Intel VT-d" },
	{ 1, 0, VTD_ECAP_SMTS, 0, -EOPNOTSUPP,
	  "no scalable mode (VT-d ECAP.SMTS=0); IOMMU_HWPT_ALLOC(NEST_PARENT): Operation not supported" },
	{ 1, 0, VTD_ECAP_NEST, 0, -EOPNOTSUPP,
	  "no nested translation (VT-d ECAP.NEST=0); IOMMU_HWPT_ALLOC(NEST_PARENT): Operation not supported" },
	{ 1, 0, VTD_ECAP_FSTS, 0, -EINVAL, "nesting needs both translation stages (VT-d ECAP.FSTS=0, ECAP.SSTS=1)" },
	{ 1, 0, VTD_ECAP_SSTS, 0, -EINVAL, "nesting needs both translation stages (VT-d ECAP.FSTS=1, ECAP.SSTS=0)" },
	{ 1, VTD_CAP_FS1GP, 0, 0, -EINVAL, "first-stage 1 GiB pages are offered to the guest but the host lacks them "
					  "(VT-d CAP.FS1GP=0; use --viommu flts,fs1gp=off)" },
	{ 1, 0, VTD_ECAP_SRS, 0, -EINVAL,
	  "supervisor requests are offered to the guest but the host lacks them (VT-d ECAP.SRS=0)" },
	{ 1, VTD_CAP_MGAW(64), 0, VTD_CAP_MGAW(39), -EINVAL,
	  "address width: the vIOMMU uses 48 bits, the host IOMMU only 39 (CAP.MGAW)" },
};

START_TEST(flts_host_refused)
{
	const struct refusal *r = &refusals[_i];
	char want[512];
	int ret;

	fake_vfio.hw_type = r->type;
	fake_vfio.cap = (fake_vfio.cap & ~r->cap_clear) | r->cap_set;
	fake_vfio.ecap &= ~r->ecap_clear;
	ret = create();
	snprintf(want, sizeof(want), PREFIX "%s", r->why);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(ret, r->ret);
	if (r->ret == -EINVAL) {
		/* Refused at the join, after the parent and the attach: on the bus, not watched. */
		ck_assert_ptr_nonnull(vp);
		ck_assert_int_lt(EXPECT(VFIO_DEVICE_ATTACH_IOMMUFD_PT, 0), EXPECT(IOMMU_GET_HW_INFO, 0));
		vtd_env__fs_domain(&env, SID, 0, DID);
		vtd_env__enable(&env);
		ck_assert_uint_eq(fake_vfio__count(IOMMU_HWPT_ALLOC), 1);
	} else {
		ck_assert_ptr_null(vp);
	}
}
END_TEST

/* The same checks, directly: the backend, FS1GP withdrawn, 5-level. */
START_TEST(flts_check_host_iommu)
{
	struct vtd_host_iommu h = {
		.backend = VTD_HOST_BACKEND_IOMMUFD, .type = IOMMU_HW_INFO_TYPE_INTEL_VTD,
		.cap = fake_vfio.cap, .ecap = fake_vfio.ecap,
	};
	struct vtd_options no1g = { .fs1gp = false }, five = { .fs1gp = true, .fs5lp = true };
	struct vtd_env e2;

	ck_assert_int_eq(vtd__check_host_iommu(env.vtd, &h, err, sizeof(err)), 0);
	h.backend = VTD_HOST_BACKEND_VFIO_LEGACY;
	ck_assert_int_eq(vtd__check_host_iommu(env.vtd, &h, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "the passthrough device needs the iommufd backend");
	h.backend = VTD_HOST_BACKEND_IOMMUFD;
	h.cap &= ~VTD_CAP_FS1GP;
	ck_assert_int_eq(vtd__check_host_iommu(env.vtd, &h, err, sizeof(err)), -EINVAL);

	vtd_env__init(&e2, &no1g);
	ck_assert_int_eq(vtd__check_host_iommu(e2.vtd, &h, err, sizeof(err)), 0);
	vtd_env__exit(&e2);

	vtd_env__init(&e2, &five);
	h.cap |= VTD_CAP_FS1GP;
	ck_assert_int_eq(vtd__check_host_iommu(e2.vtd, &h, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "5-level first-stage tables are offered to the guest but the host lacks them "
			 "(VT-d CAP.FS5LP=0)");
	h.cap |= VTD_CAP_FS5LP;
	ck_assert_int_eq(vtd__check_host_iommu(e2.vtd, &h, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "address width: the vIOMMU uses 57 bits, the host IOMMU only 48 (CAP.MGAW)");
	h.cap = (h.cap & ~VTD_CAP_MGAW(64)) | VTD_CAP_MGAW(57);
	ck_assert_int_eq(vtd__check_host_iommu(e2.vtd, &h, err, sizeof(err)), 0);
	vtd_env__exit(&e2);
}
END_TEST

/* --viommu flts,fs1gp=off: a host without FS1GP is good enough. */
static void setup_flts_no1g(void)
{
	struct vtd_options no1g = { .fs1gp = false };

	start(true, &no1g);
}

START_TEST(flts_fs1gp_off_accepts)
{
	fake_vfio.cap &= ~VTD_CAP_FS1GP;
	create_ok();
	ck_assert_uint_eq(hd->attached, call(EXPECT(IOMMU_HWPT_ALLOC, 0))->a.hwpt_alloc.out_hwpt_id);
}
END_TEST

/* ================================================================================================ */
/* --viommu flts: the guest's RID_PASID entry on the host                                           */

static uint32_t parent_id(void)
{
	return call(EXPECT(IOMMU_HWPT_ALLOC, 0))->a.hwpt_alloc.out_hwpt_id;
}

/*
 * The next stage-1 HWPT_ALLOC at or after @from: checks it against @fsptptr and @flags, the parent and
 * the device; its index in *@at, the HWPT id returned.
 */
static uint32_t expect_s1(int from, uint64_t fsptptr, uint64_t flags, int *at)
{
	int i = EXPECT(IOMMU_HWPT_ALLOC, from);
	const struct fake_vfio_call *c = call(i);

	ck_assert_int_eq(c->err, 0);
	ck_assert_uint_eq(c->a.hwpt_alloc.data_type, IOMMU_HWPT_DATA_VTD_S1);
	ck_assert_uint_eq(c->a.hwpt_alloc.data_len, sizeof(struct iommu_hwpt_vtd_s1));
	ck_assert_uint_eq(c->a.hwpt_alloc.flags, 0);
	ck_assert_uint_eq(c->a.hwpt_alloc.pt_id, parent_id());
	ck_assert_uint_eq(c->a.hwpt_alloc.dev_id, hd->dev_id);
	ck_assert_uint_eq(c->s1.pgtbl_addr, fsptptr);
	ck_assert_uint_eq(c->s1.addr_width, 48);
	ck_assert_uint_eq(c->s1.flags, flags);
	*at = i;
	return c->a.hwpt_alloc.out_hwpt_id;
}

/* The ATTACH at or after @from, to @pt. Its index. */
static int expect_attach(int from, uint32_t pt)
{
	int i = EXPECT(VFIO_DEVICE_ATTACH_IOMMUFD_PT, from);

	ck_assert_uint_eq(call(i)->a.attach.pt_id, pt);
	ck_assert_int_eq(call(i)->err, 0);
	return i;
}

/* The one IOMMU_DESTROY of @id, after @from (the attach that replaced it). Its index. */
static int expect_destroy(int from, uint32_t id)
{
	int i = EXPECT(IOMMU_DESTROY, from);

	ck_assert_uint_eq(call(i)->a.destroy.id, id);
	ck_assert_int_eq(call(i)->err, 0);
	ck_assert_ptr_null(fake_vfio__obj(id));
	for (int j = fake_vfio__find(IOMMU_DESTROY, 0); j >= 0; j = fake_vfio__find(IOMMU_DESTROY, j + 1))
		ck_assert_msg(j == i || call(j)->a.destroy.id != id, "HWPT %u destroyed at call %d and %d", id, j, i);
	return i;
}

static void pc_inv(void)
{
	vtd_env__qi_submit(&env, VTD_DESC_PC | VTD_PC_G_PASID << 4 | (uint64_t)DID << 16, 0);
	ck_assert(vtd_env__qi_wait(&env));
}

static void set_pgtt(uint64_t *pe, unsigned pgtt)
{
	pe[0] = (pe[0] & ~(7ULL << 6)) | (uint64_t)pgtt << 6;
}

/* The only IOMMU_HWPT_INVALIDATE at or after @from: one VT-d entry on @hwpt. */
static void expect_inv(int from, uint32_t hwpt, uint64_t addr, uint64_t npages, uint32_t flags)
{
	int i = EXPECT(IOMMU_HWPT_INVALIDATE, from);
	const struct fake_vfio_call *c = call(i);

	ck_assert_int_eq(c->err, 0);
	ck_assert_uint_eq(c->a.inv.hwpt_id, hwpt);
	ck_assert_uint_eq(c->a.inv.data_type, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1);
	ck_assert_uint_eq(c->a.inv.entry_len, sizeof(struct iommu_hwpt_vtd_s1_invalidate));
	ck_assert_uint_eq(c->a.inv.entry_num, 1);
	ck_assert_uint_eq(c->inv_entry.addr, addr);
	ck_assert_uint_eq(c->inv_entry.npages, npages);
	ck_assert_uint_eq(c->inv_entry.flags, flags);
	ck_assert_int_eq(fake_vfio__find(IOMMU_HWPT_INVALIDATE, i + 1), -1);
}

START_TEST(bind_with_queued_invalidation)
{
	uint64_t fs, fs2, *pe;
	uint32_t parent, s1, s2, s3;
	int at, n;

	create_ok();
	parent = parent_id();
	fs = vtd_env__fs_domain(&env, SID, 0, DID);
	pe = vtd_env__pasid_entry(&env, SID, 0);

	/* TE on with a first-stage RID_PASID entry: its tables nested on the parent, then attached. */
	n = fake_vfio.ncalls;
	vtd_env__enable(&env);
	s1 = expect_s1(n, fs, 0, &at);
	expect_attach(at, s1);
	ck_assert_uint_eq(hd->attached, s1);
	ck_assert_uint_eq(fake_vfio__obj(s1)->pt_id, parent);
	vtd_env__qi_enable(&env);

	/* New tables, SRE and WPE: a new HWPT replaces the old one, which is destroyed after the attach. */
	fs2 = vtd_env__page(&env);
	pe[2] = fs2 | VTD_PE2_SRE | VTD_PE2_WPE;
	n = fake_vfio.ncalls;
	pc_inv();
	s2 = expect_s1(n, fs2, IOMMU_VTD_S1_SRE | IOMMU_VTD_S1_WPE, &at);
	ck_assert_uint_ne(s2, s1);
	at = expect_attach(at, s2);
	expect_destroy(at, s1);
	ck_assert_int_eq(fake_vfio__find(VFIO_DEVICE_DETACH_IOMMUFD_PT, n), -1);	/* no window without translation */
	ck_assert_uint_eq(fake_vfio__live_hwpts(), 2);

	/* An invalidation that changes nothing does nothing on the host. */
	n = fake_vfio.ncalls;
	pc_inv();
	ck_assert_uint_eq(fake_vfio.ncalls, n);

	/* PASID-based IOTLB invalidation, page-selective (AM 2, IH): 4 pages from the aligned address. */
	vtd_env__qi_submit(&env, VTD_DESC_PIOTLB | VTD_PIOTLB_G_PAGE << 4 | (uint64_t)DID << 16,
			   0x7003000 | 2 | VTD_DESC_IH);
	expect_inv(n, s2, 0x7000000, 4, IOMMU_VTD_INV_FLAGS_LEAF);
	n = fake_vfio.ncalls;
	vtd_env__qi_submit(&env, VTD_DESC_PIOTLB | VTD_PIOTLB_G_PAGE << 4 | (uint64_t)DID << 16, 0x200000);
	expect_inv(n, s2, 0x200000, 1, 0);
	/* Whole PASID. */
	n = fake_vfio.ncalls;
	vtd_env__qi_submit(&env, VTD_DESC_PIOTLB | VTD_PIOTLB_G_PASID << 4 | (uint64_t)DID << 16, 0);
	expect_inv(n, s2, 0, UINT64_MAX, 0);
	/* Domain-selective and global IOTLB invalidations cover it too. */
	n = fake_vfio.ncalls;
	vtd_env__qi_submit(&env, VTD_DESC_IOTLB | VTD_INV_DOMAIN << 4 | (uint64_t)DID << 16, 0);
	expect_inv(n, s2, 0, UINT64_MAX, 0);
	n = fake_vfio.ncalls;
	vtd_env__qi_submit(&env, VTD_DESC_IOTLB | VTD_INV_GLOBAL << 4, 0);
	expect_inv(n, s2, 0, UINT64_MAX, 0);
	/* Other domains, other PASIDs: not this device's. */
	n = fake_vfio.ncalls;
	vtd_env__qi_submit(&env, VTD_DESC_PIOTLB | VTD_PIOTLB_G_PASID << 4 | (uint64_t)(DID + 1) << 16, 0);
	vtd_env__qi_submit(&env, VTD_DESC_PIOTLB | VTD_PIOTLB_G_PAGE << 4 | (uint64_t)DID << 16 | 1ULL << 32, 0);
	vtd_env__qi_submit(&env, VTD_DESC_IOTLB | VTD_INV_DOMAIN << 4 | (uint64_t)(DID + 1) << 16, 0);
	ck_assert(vtd_env__qi_wait(&env));
	ck_assert_uint_eq(fake_vfio.ncalls, n);

	/* Pass-through: back on the parent, the stage-1 HWPT destroyed after the attach. */
	set_pgtt(pe, VTD_PGTT_PT);
	pc_inv();
	at = expect_attach(n, parent);
	expect_destroy(at, s2);
	ck_assert_uint_eq(hd->attached, parent);
	ck_assert_uint_eq(fake_vfio__live_hwpts(), 1);
	/* No stage-1 HWPT: IOTLB invalidations stay in the vIOMMU. */
	n = fake_vfio.ncalls;
	vtd_env__qi_submit(&env, VTD_DESC_PIOTLB | VTD_PIOTLB_G_PASID << 4 | (uint64_t)DID << 16, 0);
	ck_assert_uint_eq(fake_vfio.ncalls, n);

	/* First stage again, then the entry goes away: detached (DMA blocked), the HWPT destroyed after. */
	set_pgtt(pe, VTD_PGTT_FS);
	pc_inv();
	s3 = expect_s1(n, fs2, IOMMU_VTD_S1_SRE | IOMMU_VTD_S1_WPE, &at);
	expect_attach(at, s3);
	n = fake_vfio.ncalls;
	pe[0] = 0;
	pc_inv();
	at = EXPECT(VFIO_DEVICE_DETACH_IOMMUFD_PT, n);
	ck_assert_int_eq(call(at)->err, 0);
	expect_destroy(at, s3);
	ck_assert_uint_eq(hd->attached, 0);
	ck_assert_uint_eq(fake_vfio__live_hwpts(), 1);

	/* Translation off: the parent (guest physical addresses) again. */
	n = fake_vfio.ncalls;
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_QIE, 4);
	expect_attach(n, parent);
	ck_assert_uint_eq(hd->attached, parent);
	/* stop(): unwatch, detach, parent destroyed. */
}
END_TEST

/* Register-based invalidation (no queue): context-cache and IOTLB registers, TE toggles. */
START_TEST(bind_with_register_invalidation)
{
	uint64_t fs, fs2, *pe;
	uint32_t parent, s1, s2;
	int at, n;

	create_ok();
	parent = parent_id();
	fs = vtd_env__fs_domain(&env, SID, 0, DID);
	pe = vtd_env__pasid_entry(&env, SID, 0);
	n = fake_vfio.ncalls;
	vtd_env__enable(&env);
	s1 = expect_s1(n, fs, 0, &at);
	expect_attach(at, s1);

	/* Device-selective context-cache invalidation (CCMD) drops the cached PASID entry too. */
	fs2 = vtd_env__page(&env);
	pe[2] = fs2;
	n = fake_vfio.ncalls;
	vtd_env__wr(&env, VTD_CCMD_REG, VTD_CCMD_ICC | (uint64_t)VTD_INV_PAGE << 61 | (uint64_t)SID << 16, 8);
	s2 = expect_s1(n, fs2, 0, &at);
	at = expect_attach(at, s2);
	expect_destroy(at, s1);

	/* Domain-selective IOTLB register invalidation: all of the stage-1 HWPT. */
	n = fake_vfio.ncalls;
	vtd_env__wr(&env, VTD_IOTLB_REG, VTD_IOTLB_IVT | (uint64_t)VTD_INV_DOMAIN << 60 | (uint64_t)DID << 32, 8);
	expect_inv(n, s2, 0, UINT64_MAX, 0);

	/* TE off: the parent; TE on again: a fresh stage-1 HWPT on the same tables. */
	n = fake_vfio.ncalls;
	vtd_env__wr(&env, VTD_GCMD_REG, 0, 4);
	at = expect_attach(n, parent);
	expect_destroy(at, s2);
	n = fake_vfio.ncalls;
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_TE, 4);
	expect_attach(n, expect_s1(n, fs2, 0, &at));
	/* stop() with a stage-1 HWPT attached: detach, then both HWPTs destroyed. */
}
END_TEST

/* A device that joins while the guest's translation is already on gets its binding at once. */
START_TEST(bind_at_join)
{
	uint64_t fs = vtd_env__fs_domain(&env, SID, 0, DID);
	uint32_t s1;
	int at;

	vtd_env__enable(&env);
	create_ok();
	s1 = expect_s1(EXPECT(IOMMU_GET_HW_INFO, 0), fs, 0, &at);
	expect_attach(at, s1);
	ck_assert_uint_eq(hd->attached, s1);
}
END_TEST

/* The host refusing the stage-1 HWPT: the device is detached (its DMA blocked), nothing crashes. */
START_TEST(bind_s1_alloc_fails)
{
	uint64_t fs, *pe;
	uint32_t s1;
	int n, at;

	create_ok();
	fs = vtd_env__fs_domain(&env, SID, 0, DID);
	pe = vtd_env__pasid_entry(&env, SID, 0);
	fake_vfio__fail(IOMMU_HWPT_ALLOC, EINVAL, 0, 1);
	n = fake_vfio.ncalls;
	vtd_env__enable(&env);
	at = EXPECT(IOMMU_HWPT_ALLOC, n);
	ck_assert_int_eq(call(at)->err, EINVAL);
	ck_assert_uint_eq(call(at)->s1.pgtbl_addr, fs);
	ck_assert_int_eq(call(EXPECT(VFIO_DEVICE_DETACH_IOMMUFD_PT, n))->err, 0);
	ck_assert_uint_eq(hd->attached, 0);
	ck_assert_uint_eq(fake_vfio__live_hwpts(), 1);
	/* IOTLB invalidations have nothing to go to. */
	vtd_env__qi_enable(&env);
	n = fake_vfio.ncalls;
	vtd_env__qi_submit(&env, VTD_DESC_PIOTLB | VTD_PIOTLB_G_PASID << 4 | (uint64_t)DID << 16, 0);
	ck_assert_uint_eq(fake_vfio.ncalls, n);
	/* The guest's next change is tried again. */
	pe[2] = vtd_env__page(&env);
	pc_inv();
	s1 = expect_s1(n, pe[2], 0, &at);
	expect_attach(at, s1);
	ck_assert_uint_eq(hd->attached, s1);

	/* Refused with a stage-1 HWPT in place: detached first, then the old one destroyed (not EBUSY). */
	fake_vfio__fail(IOMMU_HWPT_ALLOC, ENOMEM, 0, 1);
	pe[2] = vtd_env__page(&env);
	n = fake_vfio.ncalls;
	pc_inv();
	at = EXPECT(VFIO_DEVICE_DETACH_IOMMUFD_PT, n);
	expect_destroy(at, s1);
	ck_assert_uint_eq(hd->attached, 0);
	ck_assert_uint_eq(fake_vfio__live_hwpts(), 1);
}
END_TEST

/* The host refusing to attach the new stage-1 HWPT: it is destroyed, the device detached. */
START_TEST(bind_s1_attach_fails)
{
	uint64_t fs;
	uint32_t s1;
	int n, at;

	create_ok();
	fs = vtd_env__fs_domain(&env, SID, 0, DID);
	fake_vfio__fail(VFIO_DEVICE_ATTACH_IOMMUFD_PT, EINVAL, 0, 1);
	n = fake_vfio.ncalls;
	vtd_env__enable(&env);
	s1 = expect_s1(n, fs, 0, &at);
	at = EXPECT(VFIO_DEVICE_ATTACH_IOMMUFD_PT, at);
	ck_assert_int_eq(call(at)->err, EINVAL);
	expect_destroy(at, s1);
	ck_assert_int_ge(fake_vfio__find(VFIO_DEVICE_DETACH_IOMMUFD_PT, at), 0);
	ck_assert_uint_eq(hd->attached, 0);
	ck_assert_uint_eq(fake_vfio__live_hwpts(), 1);
	/* Translation off: back on the parent. */
	n = fake_vfio.ncalls;
	vtd_env__wr(&env, VTD_GCMD_REG, 0, 4);
	expect_attach(n, parent_id());
}
END_TEST

/* The host refusing an invalidation: logged, the binding stays. */
START_TEST(bind_invalidate_fails)
{
	uint64_t fs;
	uint32_t s1;
	int n, at;

	create_ok();
	fs = vtd_env__fs_domain(&env, SID, 0, DID);
	vtd_env__enable(&env);
	vtd_env__qi_enable(&env);
	s1 = expect_s1(EXPECT(IOMMU_HWPT_ALLOC, 0) + 1, fs, 0, &at);
	fake_vfio__fail(IOMMU_HWPT_INVALIDATE, EINVAL, 0, 0);
	n = fake_vfio.ncalls;
	vtd_env__qi_submit(&env, VTD_DESC_PIOTLB | VTD_PIOTLB_G_PASID << 4 | (uint64_t)DID << 16, 0);
	ck_assert(vtd_env__qi_wait(&env));
	ck_assert_int_eq(call(EXPECT(IOMMU_HWPT_INVALIDATE, n))->err, EINVAL);
	ck_assert_uint_eq(hd->attached, s1);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FSTS_REG, 4), 0);	/* the guest's queue is fine */
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

	tc = tcase_create("errors");
	tcase_add_unchecked_fixture(tc, make_root, remove_root);
	tcase_add_checked_fixture(tc, setup_off, stop);
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
	tcase_add_test(tc, error_attach);
	tcase_add_test(tc, error_bridge);
	tcase_add_test(tc, error_small_config);
	tcase_add_test(tc, error_no_msi);
	tcase_add_test(tc, error_no_bar_slot_for_msix);
	tcase_add_test(tc, kvm_vfio_and_reset_failures_are_warnings);
	suite_add_tcase(s, tc);

	tc = tcase_create("viommu_off");
	tcase_add_unchecked_fixture(tc, make_root, remove_root);
	tcase_add_checked_fixture(tc, setup_off, stop_clean);
	tcase_add_test(tc, off_sequence);
	tcase_add_test(tc, off_no_reset_without_flr);
	tcase_add_test(tc, off_guest_view);
	tcase_add_test(tc, off_guest_view_msi_only_and_many_vectors);
	tcase_add_test(tc, off_bar_access);
	tcase_add_test(tc, off_small_bar);
	tcase_add_test(tc, off_bar_mmap);
	tcase_add_test(tc, off_bar_mmap_small_stays_trapped);
	tcase_add_test(tc, off_command_register);
	tcase_add_test(tc, off_two_devices);
	suite_add_tcase(s, tc);

	tc = tcase_create("interrupts");
	tcase_add_unchecked_fixture(tc, make_root, remove_root);
	tcase_add_checked_fixture(tc, setup_off, stop_clean);
	tcase_add_test(tc, msix_vectors);
	tcase_add_test(tc, msix_bus_master);
	tcase_add_test(tc, msi_vector);
	tcase_add_test(tc, msix_host_refuses);
	tcase_add_test(tc, teardown_releases_everything);
	suite_add_tcase(s, tc);

	tc = tcase_create("viommu_flts");
	tcase_add_unchecked_fixture(tc, make_root, remove_root);
	tcase_add_checked_fixture(tc, setup_flts, stop);
	tcase_add_test(tc, flts_sequence);
	tcase_add_test(tc, flts_no_nesting);
	tcase_add_test(tc, flts_parent_refused);
	tcase_add_test(tc, flts_attach_refused);
	tcase_add_test(tc, flts_hw_info_fails);
	tcase_add_loop_test(tc, flts_host_refused, 0, ARRAY_SIZE(refusals));
	tcase_add_test(tc, flts_check_host_iommu);
	suite_add_tcase(s, tc);

	tc = tcase_create("viommu_flts_fs1gp_off");
	tcase_add_unchecked_fixture(tc, make_root, remove_root);
	tcase_add_checked_fixture(tc, setup_flts_no1g, stop_clean);
	tcase_add_test(tc, flts_fs1gp_off_accepts);
	suite_add_tcase(s, tc);

	tc = tcase_create("binding");
	tcase_add_unchecked_fixture(tc, make_root, remove_root);
	tcase_add_checked_fixture(tc, setup_flts, stop_clean);
	tcase_add_test(tc, bind_with_queued_invalidation);
	tcase_add_test(tc, bind_with_register_invalidation);
	tcase_add_test(tc, bind_at_join);
	tcase_add_test(tc, bind_s1_alloc_fails);
	tcase_add_test(tc, bind_s1_attach_fails);
	tcase_add_test(tc, bind_invalidate_fails);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(vfio_suite)
