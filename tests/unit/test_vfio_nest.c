/*
 * Tier 1 (Check, in-process, no KVM, no VFIO): PCI passthrough behind the vIOMMU, --viommu flts
 * (vmm/iommufd.c, devices/vfio/, iommu/vtd-host.c, iommu/vtd-watch.c), on the fake VFIO-cdev + iommufd host
 * of vfio_testlib.h with a VT-d unit from vtd_testlib.h. --viommu off, errors, interrupts: test_vfio.c.
 *
 * - joining: the nesting parent on the IOAS, attached before GET_HW_INFO; the host check's every refusal
 *   and its message (type, SMTS, NEST, FSTS/SSTS, FS1GP, SRS, MGAW, 5-level), fs1gp=off;
 * - binding: the guest's RID_PASID entry driving stage-1 HWPTs (alloc, replace, destroy, pass-through,
 *   blocked, TE off), PASID-based and domain IOTLB invalidations reaching IOMMU_HWPT_INVALIDATE, queued
 *   and register-based; the host refusing the HWPT, the attach or an invalidation.
 */
#include <errno.h>
#include <stdio.h>

#include "check_main.h"
#include "fake_vfio.h"
#include "vfio_testlib.h"
#include "vtd_testlib.h"
#include "devices/pci-host.h"
#include "devices/vfio/vfio-pci.h"
#include "iommu/vtd-hw.h"
#include "vmm/util.h"

#define PREFIX		"vfio " BDF ": host IOMMU incompatible with --viommu flts: "

/* ================================================================================================ */
/* --viommu flts: joining the vIOMMU                                                                */

START_TEST(flts_sequence)
{
	int map, hwpt, attach, info, bind;
	uint32_t ioas, parent, dev_id;
	const struct iommu_hwpt_alloc *a;
	const struct iommu_hw_info *hi;

	vfx__create_ok();
	ioas = vfx__call(EXPECT(IOMMU_IOAS_ALLOC, 0))->a.ioas_alloc.out_ioas_id;
	bind = EXPECT(VFIO_DEVICE_BIND_IOMMUFD, 0);
	dev_id = vfx__call(bind)->a.bind.out_devid;
	/* The nesting parent on the IOAS, and the device attached to it... */
	hwpt = EXPECT(IOMMU_HWPT_ALLOC, bind);
	a = &vfx__call(hwpt)->a.hwpt_alloc;
	ck_assert_int_eq(vfx__call(hwpt)->err, 0);
	ck_assert_uint_eq(a->flags, IOMMU_HWPT_ALLOC_NEST_PARENT);
	ck_assert_uint_eq(a->pt_id, ioas);
	ck_assert_uint_eq(a->dev_id, dev_id);
	ck_assert_uint_eq(a->data_type, IOMMU_HWPT_DATA_NONE);
	parent = a->out_hwpt_id;
	attach = EXPECT(VFIO_DEVICE_ATTACH_IOMMUFD_PT, hwpt);
	ck_assert_uint_eq(vfx__call(attach)->a.attach.pt_id, parent);
	/* ...then RAM into the IOAS under it (the parent's second stage: GPA -> host memory)... */
	map = EXPECT(IOMMU_IOAS_MAP, attach);
	ck_assert_uint_eq(vfx__call(map)->a.map.length, VTD_ENV_RAM);
	ck_assert_uint_eq(vfx__call(map)->a.map.user_va, (uintptr_t)vfx.env.mem.r[0].hva);
	ck_assert_uint_eq(vfx__call(map)->a.map.iova, 0);
	/* ...before the host IOMMU's description is asked for (and only then). */
	info = EXPECT(IOMMU_GET_HW_INFO, 0);
	ck_assert_int_gt(info, attach);
	hi = &vfx__call(info)->a.hw_info;
	ck_assert_uint_eq(hi->dev_id, dev_id);
	ck_assert_uint_eq(hi->data_len, sizeof(struct iommu_hw_info_vtd));
	ck_assert_uint_eq(fake_vfio__count(IOMMU_GET_HW_INFO), 1);
	/* Translation is off: the device stays on the parent, nothing else happens. */
	ck_assert_uint_eq(vfx.hd->attached, parent);
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 1);
	ck_assert_uint_eq(fake_vfio__count(IOMMU_HWPT_ALLOC), 1);
	ck_assert_uint_eq(fake_vfio__live_hwpts(), 1);
}
END_TEST

START_TEST(flts_no_nesting)
{
	fake_vfio.ecap &= ~VTD_ECAP_NEST;
	ck_assert_int_eq(vfx__create(), -EOPNOTSUPP);
	ck_assert_ptr_null(vfx.vp);
	ck_assert_str_eq(vfx.err, PREFIX "no nested translation (VT-d ECAP.NEST=0); IOMMU_HWPT_ALLOC(NEST_PARENT): "
			 "Operation not supported");
	ck_assert_int_gt(EXPECT(IOMMU_GET_HW_INFO, 0), EXPECT(IOMMU_HWPT_ALLOC, 0));
	ck_assert_uint_eq(fake_vfio__count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 0);
	ck_assert_ptr_null(pci_host__find(vfx.pci, 0, DEVFN));
}
END_TEST

/* The parent refused although the description looks fine (or cannot be had): the generic reason. */
START_TEST(flts_parent_refused)
{
	fake_vfio__fail(IOMMU_HWPT_ALLOC, EINVAL, 0, 0);
	ck_assert_int_eq(vfx__create(), -EINVAL);
	ck_assert_ptr_null(vfx.vp);
	ck_assert_str_eq(vfx.err, PREFIX "no nested translation (IOMMU_HWPT_ALLOC(NEST_PARENT): Invalid argument)");
	/* A fresh host (the close unbound the device), without nesting and without a description. */
	vfio_host__destroy(vfx.vh);
	fake_vfio__init(vfx.root);
	vfx.hd = fake_vfio__add_device(BDF);
	vfx.vh = vfio_host__create(vfx.vm, vfx.pci, vfx.env.vtd, fake_vfio.iommu);
	fake_vfio.ecap &= ~VTD_ECAP_NEST;
	fake_vfio__fail(IOMMU_GET_HW_INFO, ENOTTY, 0, 0);
	ck_assert_int_eq(vfx__create(), -EOPNOTSUPP);
	ck_assert_ptr_null(vfx.vp);
	ck_assert_str_eq(vfx.err,
			 PREFIX "no nested translation (IOMMU_HWPT_ALLOC(NEST_PARENT): Operation not supported)");
}
END_TEST

START_TEST(flts_attach_refused)
{
	fake_vfio__fail(VFIO_DEVICE_ATTACH_IOMMUFD_PT, ENODEV, 0, 0);
	ck_assert_int_eq(vfx__create(), -ENODEV);
	ck_assert_ptr_null(vfx.vp);
	ck_assert_str_eq(vfx.err, "vfio " BDF ": VFIO_DEVICE_ATTACH_IOMMUFD_PT (nesting parent): No such device");
	/* vfx__stop(): the parent was destroyed */
}
END_TEST

START_TEST(flts_hw_info_fails)
{
	fake_vfio__fail(IOMMU_GET_HW_INFO, EIO, 0, 0);
	ck_assert_int_eq(vfx__create(), -EIO);
	ck_assert_str_eq(vfx.err, "vfio " BDF ": IOMMU_GET_HW_INFO: Input/output error");
	ck_assert_ptr_nonnull(vfx.vp);	/* on the bus already: the machine destroys it with the others */
	ck_assert_ptr_nonnull(pci_host__find(vfx.pci, 0, DEVFN));
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
	{ 1, 0, VTD_ECAP_SMPWC, 0, -EINVAL,
	  "the guest is told its first-stage tables need no cache flushes, but the host walks them without "
	  "snooping (VT-d ECAP.SMPWC=0)" },
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
	ret = vfx__create();
	snprintf(want, sizeof(want), PREFIX "%s", r->why);
	ck_assert_str_eq(vfx.err, want);
	ck_assert_int_eq(ret, r->ret);
	if (r->ret == -EINVAL) {
		/* Refused at the join, after the parent and the attach: on the bus, not watched. */
		ck_assert_ptr_nonnull(vfx.vp);
		ck_assert_int_lt(EXPECT(VFIO_DEVICE_ATTACH_IOMMUFD_PT, 0), EXPECT(IOMMU_GET_HW_INFO, 0));
		vtd_env__fs_domain(&vfx.env, SID, 0, DID);
		vtd_env__enable(&vfx.env);
		ck_assert_uint_eq(fake_vfio__count(IOMMU_HWPT_ALLOC), 1);
	} else {
		ck_assert_ptr_null(vfx.vp);
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

	ck_assert_int_eq(vtd__check_host_iommu(vfx.env.vtd, &h, vfx.err, sizeof(vfx.err)), 0);
	h.backend = VTD_HOST_BACKEND_VFIO_LEGACY;
	ck_assert_int_eq(vtd__check_host_iommu(vfx.env.vtd, &h, vfx.err, sizeof(vfx.err)), -EINVAL);
	ck_assert_str_eq(vfx.err, "the passthrough device needs the iommufd backend");
	h.backend = VTD_HOST_BACKEND_IOMMUFD;
	h.cap &= ~VTD_CAP_FS1GP;
	ck_assert_int_eq(vtd__check_host_iommu(vfx.env.vtd, &h, vfx.err, sizeof(vfx.err)), -EINVAL);

	vtd_env__init(&e2, &no1g);
	ck_assert_int_eq(vtd__check_host_iommu(e2.vtd, &h, vfx.err, sizeof(vfx.err)), 0);
	vtd_env__exit(&e2);

	vtd_env__init(&e2, &five);
	h.cap |= VTD_CAP_FS1GP;
	ck_assert_int_eq(vtd__check_host_iommu(e2.vtd, &h, vfx.err, sizeof(vfx.err)), -EINVAL);
	ck_assert_str_eq(vfx.err, "5-level first-stage tables are offered to the guest but the host lacks them "
			 "(VT-d CAP.FS5LP=0)");
	h.cap |= VTD_CAP_FS5LP;
	ck_assert_int_eq(vtd__check_host_iommu(e2.vtd, &h, vfx.err, sizeof(vfx.err)), -EINVAL);
	ck_assert_str_eq(vfx.err, "address width: the vIOMMU uses 57 bits, the host IOMMU only 48 (CAP.MGAW)");
	h.cap = (h.cap & ~VTD_CAP_MGAW(64)) | VTD_CAP_MGAW(57);
	ck_assert_int_eq(vtd__check_host_iommu(e2.vtd, &h, vfx.err, sizeof(vfx.err)), 0);
	vtd_env__exit(&e2);
}
END_TEST

/* --viommu flts,fs1gp=off: a host without FS1GP is good enough. */
static void setup_flts_no1g(void)
{
	struct vtd_options no1g = { .fs1gp = false };

	vfx__start(true, &no1g);
}

START_TEST(flts_fs1gp_off_accepts)
{
	fake_vfio.cap &= ~VTD_CAP_FS1GP;
	vfx__create_ok();
	ck_assert_uint_eq(vfx.hd->attached, vfx__call(EXPECT(IOMMU_HWPT_ALLOC, 0))->a.hwpt_alloc.out_hwpt_id);
}
END_TEST

/* ================================================================================================ */
/* --viommu flts: the guest's RID_PASID entry on the host                                           */

static uint32_t parent_id(void)
{
	return vfx__call(EXPECT(IOMMU_HWPT_ALLOC, 0))->a.hwpt_alloc.out_hwpt_id;
}

/*
 * The next stage-1 HWPT_ALLOC at or after @from: checks it against @fsptptr and @flags, the parent and
 * the device; its index in *@at, the HWPT id returned.
 */
static uint32_t expect_s1(int from, uint64_t fsptptr, uint64_t flags, int *at)
{
	int i = EXPECT(IOMMU_HWPT_ALLOC, from);
	const struct fake_vfio_call *c = vfx__call(i);

	ck_assert_int_eq(c->err, 0);
	ck_assert_uint_eq(c->a.hwpt_alloc.data_type, IOMMU_HWPT_DATA_VTD_S1);
	ck_assert_uint_eq(c->a.hwpt_alloc.data_len, sizeof(struct iommu_hwpt_vtd_s1));
	ck_assert_uint_eq(c->a.hwpt_alloc.flags, 0);
	ck_assert_uint_eq(c->a.hwpt_alloc.pt_id, parent_id());
	ck_assert_uint_eq(c->a.hwpt_alloc.dev_id, vfx.hd->dev_id);
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

	ck_assert_uint_eq(vfx__call(i)->a.attach.pt_id, pt);
	ck_assert_int_eq(vfx__call(i)->err, 0);
	return i;
}

/* The one IOMMU_DESTROY of @id, after @from (the attach that replaced it). Its index. */
static int expect_destroy(int from, uint32_t id)
{
	int i = EXPECT(IOMMU_DESTROY, from);

	ck_assert_uint_eq(vfx__call(i)->a.destroy.id, id);
	ck_assert_int_eq(vfx__call(i)->err, 0);
	ck_assert_ptr_null(fake_vfio__obj(id));
	for (int j = fake_vfio__find(IOMMU_DESTROY, 0); j >= 0; j = fake_vfio__find(IOMMU_DESTROY, j + 1))
		ck_assert_msg(j == i || vfx__call(j)->a.destroy.id != id, "HWPT %u destroyed at call %d and %d",
			      id, j, i);
	return i;
}

static void pc_inv(void)
{
	vtd_env__qi_submit(&vfx.env, VTD_DESC_PC | VTD_PC_G_PASID << 4 | (uint64_t)DID << 16, 0);
	ck_assert(vtd_env__qi_wait(&vfx.env));
}

static void set_pgtt(uint64_t *pe, unsigned pgtt)
{
	pe[0] = (pe[0] & ~(7ULL << 6)) | (uint64_t)pgtt << 6;
}

/* The only IOMMU_HWPT_INVALIDATE at or after @from: one VT-d entry on @hwpt. */
static void expect_inv(int from, uint32_t hwpt, uint64_t addr, uint64_t npages, uint32_t flags)
{
	int i = EXPECT(IOMMU_HWPT_INVALIDATE, from);
	const struct fake_vfio_call *c = vfx__call(i);

	ck_assert_int_eq(c->err, 0);
	ck_assert_uint_eq(c->a.inv.hwpt_id, hwpt);
	ck_assert_uint_eq(c->a.inv.data_type, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1);
	ck_assert_uint_eq(c->a.inv.entry_len, sizeof(struct iommu_hwpt_vtd_s1_invalidate));
	ck_assert_uint_eq(c->a.inv.entry_num, 1);
	ck_assert_uint_eq(c->inv_entry[0].addr, addr);
	ck_assert_uint_eq(c->inv_entry[0].npages, npages);
	ck_assert_uint_eq(c->inv_entry[0].flags, flags);
	ck_assert_int_eq(fake_vfio__find(IOMMU_HWPT_INVALIDATE, i + 1), -1);
}

START_TEST(bind_with_queued_invalidation)
{
	uint64_t fs, fs2, *pe;
	uint32_t parent, s1, s2, s3;
	int at, n;

	vfx__create_ok();
	parent = parent_id();
	fs = vtd_env__fs_domain(&vfx.env, SID, 0, DID);
	pe = vtd_env__pasid_entry(&vfx.env, SID, 0);

	/* TE on with a first-stage RID_PASID entry: its tables nested on the parent, then attached. */
	n = fake_vfio.ncalls;
	vtd_env__enable(&vfx.env);
	s1 = expect_s1(n, fs, 0, &at);
	expect_attach(at, s1);
	ck_assert_uint_eq(vfx.hd->attached, s1);
	ck_assert_uint_eq(fake_vfio__obj(s1)->pt_id, parent);
	vtd_env__qi_enable(&vfx.env);

	/* New tables, SRE and WPE: a new HWPT replaces the old one, which is destroyed after the attach. */
	fs2 = vtd_env__page(&vfx.env);
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
	vtd_env__qi_submit(&vfx.env, VTD_DESC_PIOTLB | VTD_PIOTLB_G_PAGE << 4 | (uint64_t)DID << 16,
			   0x7003000 | 2 | VTD_DESC_IH);
	expect_inv(n, s2, 0x7000000, 4, IOMMU_VTD_INV_FLAGS_LEAF);
	n = fake_vfio.ncalls;
	vtd_env__qi_submit(&vfx.env, VTD_DESC_PIOTLB | VTD_PIOTLB_G_PAGE << 4 | (uint64_t)DID << 16, 0x200000);
	expect_inv(n, s2, 0x200000, 1, 0);
	/* Whole PASID. */
	n = fake_vfio.ncalls;
	vtd_env__qi_submit(&vfx.env, VTD_DESC_PIOTLB | VTD_PIOTLB_G_PASID << 4 | (uint64_t)DID << 16, 0);
	expect_inv(n, s2, 0, UINT64_MAX, 0);
	/* Domain-selective and global IOTLB invalidations cover it too. */
	n = fake_vfio.ncalls;
	vtd_env__qi_submit(&vfx.env, VTD_DESC_IOTLB | VTD_INV_DOMAIN << 4 | (uint64_t)DID << 16, 0);
	expect_inv(n, s2, 0, UINT64_MAX, 0);
	n = fake_vfio.ncalls;
	vtd_env__qi_submit(&vfx.env, VTD_DESC_IOTLB | VTD_INV_GLOBAL << 4, 0);
	expect_inv(n, s2, 0, UINT64_MAX, 0);
	/* Other domains, other PASIDs: not this device's. */
	n = fake_vfio.ncalls;
	vtd_env__qi_submit(&vfx.env, VTD_DESC_PIOTLB | VTD_PIOTLB_G_PASID << 4 | (uint64_t)(DID + 1) << 16, 0);
	vtd_env__qi_submit(&vfx.env, VTD_DESC_PIOTLB | VTD_PIOTLB_G_PAGE << 4 | (uint64_t)DID << 16 | 1ULL << 32, 0);
	vtd_env__qi_submit(&vfx.env, VTD_DESC_IOTLB | VTD_INV_DOMAIN << 4 | (uint64_t)(DID + 1) << 16, 0);
	ck_assert(vtd_env__qi_wait(&vfx.env));
	ck_assert_uint_eq(fake_vfio.ncalls, n);

	/* Pass-through: back on the parent, the stage-1 HWPT destroyed after the attach. */
	set_pgtt(pe, VTD_PGTT_PT);
	pc_inv();
	at = expect_attach(n, parent);
	expect_destroy(at, s2);
	ck_assert_uint_eq(vfx.hd->attached, parent);
	ck_assert_uint_eq(fake_vfio__live_hwpts(), 1);
	/* No stage-1 HWPT: IOTLB invalidations stay in the vIOMMU. */
	n = fake_vfio.ncalls;
	vtd_env__qi_submit(&vfx.env, VTD_DESC_PIOTLB | VTD_PIOTLB_G_PASID << 4 | (uint64_t)DID << 16, 0);
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
	ck_assert_int_eq(vfx__call(at)->err, 0);
	expect_destroy(at, s3);
	ck_assert_uint_eq(vfx.hd->attached, 0);
	ck_assert_uint_eq(fake_vfio__live_hwpts(), 1);

	/* Translation off: the parent (guest physical addresses) again. */
	n = fake_vfio.ncalls;
	vtd_env__wr(&vfx.env, VTD_GCMD_REG, VTD_GCMD_QIE, 4);
	expect_attach(n, parent);
	ck_assert_uint_eq(vfx.hd->attached, parent);
	/* vfx__stop(): unwatch, detach, parent destroyed. */
}
END_TEST

/* Register-based invalidation (no queue): context-cache and IOTLB registers, TE toggles. */
START_TEST(bind_with_register_invalidation)
{
	uint64_t fs, fs2, *pe;
	uint32_t parent, s1, s2;
	int at, n;

	vfx__create_ok();
	parent = parent_id();
	fs = vtd_env__fs_domain(&vfx.env, SID, 0, DID);
	pe = vtd_env__pasid_entry(&vfx.env, SID, 0);
	n = fake_vfio.ncalls;
	vtd_env__enable(&vfx.env);
	s1 = expect_s1(n, fs, 0, &at);
	expect_attach(at, s1);

	/* Device-selective context-cache invalidation (CCMD) drops the cached PASID entry too. */
	fs2 = vtd_env__page(&vfx.env);
	pe[2] = fs2;
	n = fake_vfio.ncalls;
	vtd_env__wr(&vfx.env, VTD_CCMD_REG, VTD_CCMD_ICC | (uint64_t)VTD_INV_PAGE << 61 | (uint64_t)SID << 16, 8);
	s2 = expect_s1(n, fs2, 0, &at);
	at = expect_attach(at, s2);
	expect_destroy(at, s1);

	/* Domain-selective IOTLB register invalidation: all of the stage-1 HWPT. */
	n = fake_vfio.ncalls;
	vtd_env__wr(&vfx.env, VTD_IOTLB_REG, VTD_IOTLB_IVT | (uint64_t)VTD_INV_DOMAIN << 60 | (uint64_t)DID << 32, 8);
	expect_inv(n, s2, 0, UINT64_MAX, 0);

	/* TE off: the parent; TE on again: a fresh stage-1 HWPT on the same tables. */
	n = fake_vfio.ncalls;
	vtd_env__wr(&vfx.env, VTD_GCMD_REG, 0, 4);
	at = expect_attach(n, parent);
	expect_destroy(at, s2);
	n = fake_vfio.ncalls;
	vtd_env__wr(&vfx.env, VTD_GCMD_REG, VTD_GCMD_TE, 4);
	expect_attach(n, expect_s1(n, fs2, 0, &at));
	/* vfx__stop() with a stage-1 HWPT attached: detach, then both HWPTs destroyed. */
}
END_TEST

/* A device that joins while the guest's translation is already on gets its binding at once. */
START_TEST(bind_at_join)
{
	uint64_t fs = vtd_env__fs_domain(&vfx.env, SID, 0, DID);
	uint32_t s1;
	int at;

	vtd_env__enable(&vfx.env);
	vfx__create_ok();
	s1 = expect_s1(EXPECT(IOMMU_GET_HW_INFO, 0), fs, 0, &at);
	expect_attach(at, s1);
	ck_assert_uint_eq(vfx.hd->attached, s1);
}
END_TEST

/* The host refusing the stage-1 HWPT: the device is detached (its DMA blocked), nothing crashes. */
START_TEST(bind_s1_alloc_fails)
{
	uint64_t fs, *pe;
	uint32_t s1;
	int n, at;

	vfx__create_ok();
	fs = vtd_env__fs_domain(&vfx.env, SID, 0, DID);
	pe = vtd_env__pasid_entry(&vfx.env, SID, 0);
	fake_vfio__fail(IOMMU_HWPT_ALLOC, EINVAL, 0, 1);
	n = fake_vfio.ncalls;
	vtd_env__enable(&vfx.env);
	at = EXPECT(IOMMU_HWPT_ALLOC, n);
	ck_assert_int_eq(vfx__call(at)->err, EINVAL);
	ck_assert_uint_eq(vfx__call(at)->s1.pgtbl_addr, fs);
	ck_assert_int_eq(vfx__call(EXPECT(VFIO_DEVICE_DETACH_IOMMUFD_PT, n))->err, 0);
	ck_assert_uint_eq(vfx.hd->attached, 0);
	ck_assert_uint_eq(fake_vfio__live_hwpts(), 1);
	/* IOTLB invalidations have nothing to go to. */
	vtd_env__qi_enable(&vfx.env);
	n = fake_vfio.ncalls;
	vtd_env__qi_submit(&vfx.env, VTD_DESC_PIOTLB | VTD_PIOTLB_G_PASID << 4 | (uint64_t)DID << 16, 0);
	ck_assert_uint_eq(fake_vfio.ncalls, n);
	/* The same entry is tried again at the guest's next PASID-cache flush (the failure may be transient). */
	pc_inv();
	s1 = expect_s1(n, fs, 0, &at);
	expect_attach(at, s1);
	ck_assert_uint_eq(vfx.hd->attached, s1);
	/* And a change of entry as usual. */
	n = fake_vfio.ncalls;
	pe[2] = vtd_env__page(&vfx.env);
	pc_inv();
	s1 = expect_s1(n, pe[2], 0, &at);
	expect_attach(at, s1);
	ck_assert_uint_eq(vfx.hd->attached, s1);

	/* Refused with a stage-1 HWPT in place: detached first, then the old one destroyed (not EBUSY). */
	fake_vfio__fail(IOMMU_HWPT_ALLOC, ENOMEM, 0, 1);
	pe[2] = vtd_env__page(&vfx.env);
	n = fake_vfio.ncalls;
	pc_inv();
	at = EXPECT(VFIO_DEVICE_DETACH_IOMMUFD_PT, n);
	expect_destroy(at, s1);
	ck_assert_uint_eq(vfx.hd->attached, 0);
	ck_assert_uint_eq(fake_vfio__live_hwpts(), 1);
}
END_TEST

/* The host refusing to attach the new stage-1 HWPT: it is destroyed, the device detached. */
START_TEST(bind_s1_attach_fails)
{
	uint64_t fs;
	uint32_t s1;
	int n, at;

	vfx__create_ok();
	fs = vtd_env__fs_domain(&vfx.env, SID, 0, DID);
	fake_vfio__fail(VFIO_DEVICE_ATTACH_IOMMUFD_PT, EINVAL, 0, 1);
	n = fake_vfio.ncalls;
	vtd_env__enable(&vfx.env);
	s1 = expect_s1(n, fs, 0, &at);
	at = EXPECT(VFIO_DEVICE_ATTACH_IOMMUFD_PT, at);
	ck_assert_int_eq(vfx__call(at)->err, EINVAL);
	expect_destroy(at, s1);
	ck_assert_int_ge(fake_vfio__find(VFIO_DEVICE_DETACH_IOMMUFD_PT, at), 0);
	ck_assert_uint_eq(vfx.hd->attached, 0);
	ck_assert_uint_eq(fake_vfio__live_hwpts(), 1);
	/* Translation off: back on the parent. */
	n = fake_vfio.ncalls;
	vtd_env__wr(&vfx.env, VTD_GCMD_REG, 0, 4);
	expect_attach(n, parent_id());
}
END_TEST

/* The host refusing an invalidation: logged, the binding stays. */
START_TEST(bind_invalidate_fails)
{
	uint64_t fs;
	uint32_t s1;
	int n, at;

	vfx__create_ok();
	fs = vtd_env__fs_domain(&vfx.env, SID, 0, DID);
	vtd_env__enable(&vfx.env);
	vtd_env__qi_enable(&vfx.env);
	s1 = expect_s1(EXPECT(IOMMU_HWPT_ALLOC, 0) + 1, fs, 0, &at);
	fake_vfio__fail(IOMMU_HWPT_INVALIDATE, EINVAL, 0, 0);
	n = fake_vfio.ncalls;
	vtd_env__qi_submit(&vfx.env, VTD_DESC_PIOTLB | VTD_PIOTLB_G_PASID << 4 | (uint64_t)DID << 16, 0);
	ck_assert(vtd_env__qi_wait(&vfx.env));
	ck_assert_int_eq(vfx__call(EXPECT(IOMMU_HWPT_INVALIDATE, n))->err, EINVAL);
	ck_assert_uint_eq(vfx.hd->attached, s1);
	ck_assert_uint_eq(vtd_env__rd(&vfx.env, VTD_FSTS_REG, 4), 0);	/* the guest's queue is fine */
}
END_TEST

/* ---- batched host invalidation (issue 13.3): one IOMMU_HWPT_INVALIDATE per queued run ---- */

#define PIOTLB_PAGE	(VTD_DESC_PIOTLB | VTD_PIOTLB_G_PAGE << 4 | (uint64_t)DID << 16)

/* A bound device with QI on; its stage-1 HWPT. */
static uint32_t batch_setup(void)
{
	uint64_t fs;
	int at;

	vfx__create_ok();
	fs = vtd_env__fs_domain(&vfx.env, SID, 0, DID);
	vtd_env__enable(&vfx.env);
	vtd_env__qi_enable(&vfx.env);
	return expect_s1(EXPECT(IOMMU_HWPT_ALLOC, 0) + 1, fs, 0, &at);
}

/* Put a wait descriptor with a status write and return where the status lands (set to 1 now). */
static uint32_t *put_wait(void)
{
	uint64_t page = vtd_env__page(&vfx.env);
	uint32_t *p = guest_mem__hva(&vfx.env.mem, page, 4);

	*p = 1;
	vtd_env__qi_put(&vfx.env, VTD_DESC_WAIT | VTD_WAIT_SW | 2ULL << 32, page);
	return p;
}

/* The HWPT_INVALIDATE at or after @from: on @hwpt, @num entries asked for, answered with @err. */
static const struct fake_vfio_call *expect_batch(int from, uint32_t hwpt, unsigned num, int err, int *at)
{
	int i = EXPECT(IOMMU_HWPT_INVALIDATE, from);
	const struct fake_vfio_call *c = vfx__call(i);

	ck_assert_int_eq(c->err, err);
	ck_assert_uint_eq(c->a.inv.hwpt_id, hwpt);
	ck_assert_uint_eq(c->a.inv.entry_len, sizeof(struct iommu_hwpt_vtd_s1_invalidate));
	if (!err)
		ck_assert_uint_eq(c->a.inv.entry_num, num);
	for (unsigned k = 0; k < num; k++)
		ck_assert_uint_ne(c->inv_entry[k].npages, 0);
	*at = i;
	return c;
}

/* Three page-selective invalidations and a wait in one run: one call, three entries, before the wait. */
START_TEST(batch_one_call_per_run)
{
	uint32_t s1 = batch_setup(), *status;
	const struct fake_vfio_call *c;
	int n = fake_vfio.ncalls, at;

	vtd_env__qi_put(&vfx.env, PIOTLB_PAGE, 0x1000);
	vtd_env__qi_put(&vfx.env, PIOTLB_PAGE, 0x8000 | 1 | VTD_DESC_IH);
	vtd_env__qi_put(&vfx.env, PIOTLB_PAGE, 0x20000);
	status = put_wait();
	vtd_env__qi_kick(&vfx.env);
	ck_assert_uint_eq(*status, 2);
	c = expect_batch(n, s1, 3, 0, &at);
	ck_assert_uint_eq(c->inv_entry[0].addr, 0x1000);
	ck_assert_uint_eq(c->inv_entry[0].npages, 1);
	ck_assert_uint_eq(c->inv_entry[1].addr, 0x8000);
	ck_assert_uint_eq(c->inv_entry[1].npages, 2);
	ck_assert_uint_eq(c->inv_entry[1].flags, IOMMU_VTD_INV_FLAGS_LEAF);
	ck_assert_uint_eq(c->inv_entry[2].addr, 0x20000);
	ck_assert_int_eq(fake_vfio__find(IOMMU_HWPT_INVALIDATE, at + 1), -1);
}
END_TEST

/* A wait descriptor ends a batch: what the guest waits for reached the host before its status write. */
START_TEST(batch_ends_at_wait)
{
	uint32_t s1 = batch_setup(), *status;
	const struct fake_vfio_call *c;
	int n = fake_vfio.ncalls, at;

	vtd_env__qi_put(&vfx.env, PIOTLB_PAGE, 0x1000);
	status = put_wait();
	vtd_env__qi_put(&vfx.env, PIOTLB_PAGE, 0x2000);
	vtd_env__qi_put(&vfx.env, PIOTLB_PAGE, 0x3000);
	vtd_env__qi_kick(&vfx.env);
	ck_assert_uint_eq(*status, 2);
	c = expect_batch(n, s1, 1, 0, &at);
	ck_assert_uint_eq(c->inv_entry[0].addr, 0x1000);
	c = expect_batch(at + 1, s1, 2, 0, &at);
	ck_assert_uint_eq(c->inv_entry[0].addr, 0x2000);
	ck_assert_uint_eq(c->inv_entry[1].addr, 0x3000);
	ck_assert_int_eq(fake_vfio__find(IOMMU_HWPT_INVALIDATE, at + 1), -1);
}
END_TEST

/* A whole-PASID invalidation covers the pages held before it and after it in the run. */
START_TEST(batch_everything_covers_pages)
{
	uint32_t s1 = batch_setup();
	const struct fake_vfio_call *c;
	int n = fake_vfio.ncalls, at;

	vtd_env__qi_put(&vfx.env, PIOTLB_PAGE, 0x1000);
	vtd_env__qi_put(&vfx.env, VTD_DESC_PIOTLB | VTD_PIOTLB_G_PASID << 4 | (uint64_t)DID << 16, 0);
	vtd_env__qi_put(&vfx.env, PIOTLB_PAGE, 0x2000);
	vtd_env__qi_kick(&vfx.env);
	c = expect_batch(n, s1, 1, 0, &at);
	ck_assert_uint_eq(c->inv_entry[0].addr, 0);
	ck_assert_uint_eq(c->inv_entry[0].npages, UINT64_MAX);
	ck_assert_int_eq(fake_vfio__find(IOMMU_HWPT_INVALIDATE, at + 1), -1);
}
END_TEST

/*
 * The host refuses the second of three entries (it processed one): that one is logged, the third is
 * sent again on its own, and the guest's queue and binding are untouched.
 */
START_TEST(batch_partial_failure)
{
	uint32_t s1 = batch_setup(), *status;
	const struct fake_vfio_call *c;
	int n = fake_vfio.ncalls, at;

	fake_vfio.inv_refuse_addr = 0x8000;
	fake_vfio.inv_refuse_errno = EINVAL;
	vtd_env__qi_put(&vfx.env, PIOTLB_PAGE, 0x1000);
	vtd_env__qi_put(&vfx.env, PIOTLB_PAGE, 0x8000);
	vtd_env__qi_put(&vfx.env, PIOTLB_PAGE, 0x20000);
	status = put_wait();
	vtd_env__qi_kick(&vfx.env);
	ck_assert_uint_eq(*status, 2);
	c = expect_batch(n, s1, 3, EINVAL, &at);
	ck_assert_uint_eq(c->a.inv.entry_num, 1);	/* the kernel's count: entry 1 done, entry 2 refused */
	c = expect_batch(at + 1, s1, 1, 0, &at);
	ck_assert_uint_eq(c->inv_entry[0].addr, 0x20000);
	ck_assert_int_eq(fake_vfio__find(IOMMU_HWPT_INVALIDATE, at + 1), -1);
	ck_assert_uint_eq(vfx.hd->attached, s1);
	ck_assert_uint_eq(vtd_env__rd(&vfx.env, VTD_FSTS_REG, 4), 0);
}
END_TEST

/* More than a batch holds: sent as it fills, nothing lost, in order. */
START_TEST(batch_overflow)
{
	uint32_t s1 = batch_setup();
	const struct fake_vfio_call *c;
	int n = fake_vfio.ncalls, at;

	for (unsigned k = 0; k < 40; k++)
		vtd_env__qi_put(&vfx.env, PIOTLB_PAGE, 0x100000 + k * 0x1000);
	vtd_env__qi_kick(&vfx.env);
	c = expect_batch(n, s1, 32, 0, &at);
	ck_assert_uint_eq(c->inv_entry[31].addr, 0x100000 + 31 * 0x1000);
	c = expect_batch(at + 1, s1, 8, 0, &at);
	ck_assert_uint_eq(c->inv_entry[0].addr, 0x100000 + 32 * 0x1000);
	ck_assert_uint_eq(c->inv_entry[7].addr, 0x100000 + 39 * 0x1000);
	ck_assert_int_eq(fake_vfio__find(IOMMU_HWPT_INVALIDATE, at + 1), -1);
}
END_TEST

/* Held invalidations reach the old stage-1 HWPT before a PASID-cache invalidation replaces it. */
START_TEST(batch_sent_before_rebind)
{
	uint32_t s1 = batch_setup();
	uint64_t *pe = vtd_env__pasid_entry(&vfx.env, SID, 0);
	int n = fake_vfio.ncalls, at, alloc;

	pe[2] = vtd_env__page(&vfx.env);
	vtd_env__qi_put(&vfx.env, PIOTLB_PAGE, 0x1000);
	vtd_env__qi_put(&vfx.env, VTD_DESC_PC | VTD_PC_G_PASID << 4 | (uint64_t)DID << 16, 0);
	vtd_env__qi_kick(&vfx.env);
	expect_batch(n, s1, 1, 0, &at);
	alloc = EXPECT(IOMMU_HWPT_ALLOC, n);
	ck_assert_int_lt(at, alloc);
	ck_assert_uint_ne(vfx.hd->attached, s1);
}
END_TEST

/* ================================================================================================ */

static Suite *vfio_nest_suite(void)
{
	Suite *s = suite_create("vfio_nest");
	TCase *tc;

	tc = vfx__tcase(s, "viommu_flts", vfx__setup_flts, vfx__stop);
	tcase_add_test(tc, flts_sequence);
	tcase_add_test(tc, flts_no_nesting);
	tcase_add_test(tc, flts_parent_refused);
	tcase_add_test(tc, flts_attach_refused);
	tcase_add_test(tc, flts_hw_info_fails);
	tcase_add_loop_test(tc, flts_host_refused, 0, ARRAY_SIZE(refusals));
	tcase_add_test(tc, flts_check_host_iommu);

	tc = vfx__tcase(s, "viommu_flts_fs1gp_off", setup_flts_no1g, vfx__stop_clean);
	tcase_add_test(tc, flts_fs1gp_off_accepts);

	tc = vfx__tcase(s, "binding", vfx__setup_flts, vfx__stop_clean);
	tcase_add_test(tc, bind_with_queued_invalidation);
	tcase_add_test(tc, bind_with_register_invalidation);
	tcase_add_test(tc, bind_at_join);
	tcase_add_test(tc, bind_s1_alloc_fails);
	tcase_add_test(tc, bind_s1_attach_fails);
	tcase_add_test(tc, bind_invalidate_fails);
	tcase_add_test(tc, batch_one_call_per_run);
	tcase_add_test(tc, batch_ends_at_wait);
	tcase_add_test(tc, batch_everything_covers_pages);
	tcase_add_test(tc, batch_partial_failure);
	tcase_add_test(tc, batch_overflow);
	tcase_add_test(tc, batch_sent_before_rebind);
	return s;
}

CHECK_MAIN(vfio_nest_suite)
