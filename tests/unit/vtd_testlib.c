/* Tier 1 helper for the VT-d unit tests: see vtd_testlib.h. Linked into every unit test; small on purpose. */
#include "tests/unit/vtd_testlib.h"

#include <check.h>
#include <string.h>

#include "iommu/vtd-hw.h"

static void capture_msi(void *opaque, uint64_t addr, uint32_t data)
{
	struct vtd_env *e = opaque;

	if (e->nr_msi < VTD_ENV_MAX_MSI) {
		e->msi_addr[e->nr_msi] = addr;
		e->msi_data[e->nr_msi] = data;
	}
	e->nr_msi++;
}

void vtd_env__init(struct vtd_env *e, const struct vtd_options *opt)
{
	memset(e, 0, sizeof(*e));
	ck_assert_int_eq(guest_mem__init(&e->mem, VTD_ENV_RAM), 0);
	e->vtd = vtd__create(&e->mem, opt, capture_msi, e);
	ck_assert_ptr_nonnull(e->vtd);
	e->tr = vtd__translator(e->vtd);
	e->next_page = VTD_ENV_TABLES;
	e->root = vtd_env__page(e);
}

void vtd_env__exit(struct vtd_env *e)
{
	vtd__destroy(e->vtd);
	guest_mem__exit(&e->mem);
}

uint64_t *vtd_env__q(struct vtd_env *e, uint64_t gpa)
{
	uint64_t *p = guest_mem__hva(&e->mem, gpa, 8);

	ck_assert_ptr_nonnull(p);
	return p;
}

uint64_t vtd_env__page(struct vtd_env *e)
{
	uint64_t gpa = e->next_page;

	ck_assert_uint_lt(gpa, VTD_ENV_RAM);
	e->next_page += 4096;
	memset(vtd_env__q(e, gpa), 0, 4096);
	return gpa;
}

uint64_t vtd_env__rd(struct vtd_env *e, unsigned off, unsigned len)
{
	uint64_t v = 0;

	vtd__mmio(e->vtd, off, &v, len, false);
	return v;
}

void vtd_env__wr(struct vtd_env *e, unsigned off, uint64_t val, unsigned len)
{
	vtd__mmio(e->vtd, off, &val, len, true);
}

static void gcmd(struct vtd_env *e, uint32_t cmd)
{
	uint32_t keep = vtd_env__rd(e, VTD_GSTS_REG, 4) & (VTD_GCMD_TE | VTD_GCMD_QIE);

	vtd_env__wr(e, VTD_GCMD_REG, keep | cmd, 4);
}

void vtd_env__enable(struct vtd_env *e)
{
	vtd_env__wr(e, VTD_RTADDR_REG, e->root | 1ULL << 10, 8);
	gcmd(e, VTD_GCMD_SRTP);
	gcmd(e, VTD_GCMD_TE);
	ck_assert_uint_eq(vtd_env__rd(e, VTD_GSTS_REG, 4) & VTD_GSTS_TES, VTD_GSTS_TES);
}

/* The qword at @gpa, allocating a table page behind it (pointer | @bits) if it is zero. */
static uint64_t table_at(struct vtd_env *e, uint64_t gpa, uint64_t bits)
{
	uint64_t *p = vtd_env__q(e, gpa);

	if (!*p)
		*p = vtd_env__page(e) | bits;
	return *p & VTD_ADDR_MASK;
}

uint64_t *vtd_env__ctx(struct vtd_env *e, uint16_t sid)
{
	unsigned devfn = sid & 0xFF;
	uint64_t ct = table_at(e, e->root + (sid >> 8) * 16 + (devfn >= 128 ? 8 : 0), 1);

	return vtd_env__q(e, ct + (devfn & 0x7F) * 32);
}

void vtd_env__set_ctx(struct vtd_env *e, uint16_t sid, uint64_t ce0_bits, uint32_t rid_pasid)
{
	uint64_t *ce = vtd_env__ctx(e, sid);
	uint64_t dir = ce[0] & VTD_ADDR_MASK;

	if (!dir)
		dir = vtd_env__page(e);
	ce[0] = dir | ce0_bits | 1;
	ce[1] = rid_pasid;
}

uint64_t *vtd_env__pasid_entry(struct vtd_env *e, uint16_t sid, uint32_t pasid)
{
	uint64_t dir = vtd_env__ctx(e, sid)[0] & VTD_ADDR_MASK;
	uint64_t pt = table_at(e, dir + (pasid >> 6) * 8, 1);

	return vtd_env__q(e, pt + (pasid & 0x3F) * 64);
}

uint64_t vtd_env__set_pasid_fs(struct vtd_env *e, uint16_t sid, uint32_t pasid, uint16_t did)
{
	uint64_t *pe = vtd_env__pasid_entry(e, sid, pasid), fs = vtd_env__page(e);

	memset(pe, 0, 64);
	pe[1] = did;
	pe[2] = fs;
	pe[0] = 1 | (uint64_t)VTD_PGTT_FS << 6;
	return fs;
}

uint64_t vtd_env__fs_domain(struct vtd_env *e, uint16_t sid, uint32_t pasid, uint16_t did)
{
	vtd_env__set_ctx(e, sid, 0, pasid);
	return vtd_env__set_pasid_fs(e, sid, pasid, did);
}

uint64_t *vtd_env__map_ex(struct vtd_env *e, uint64_t fsroot, unsigned levels, uint64_t iova, uint64_t gpa,
			  unsigned level, uint64_t leaf, uint64_t mid)
{
	uint64_t table = fsroot, *p;

	for (unsigned l = levels; l > level; l--)
		table = table_at(e, table + ((iova >> (12 + 9 * (l - 1))) & 0x1FF) * 8, mid);
	p = vtd_env__q(e, table + ((iova >> (12 + 9 * (level - 1))) & 0x1FF) * 8);
	*p = gpa | leaf | (level > 1 ? FS_PS : 0);
	return p;
}

uint64_t *vtd_env__ss_map(struct vtd_env *e, uint64_t top, unsigned levels, uint64_t iova, uint64_t gpa,
			  unsigned level, uint64_t leaf, uint64_t mid)
{
	/* The same table shape as the first stage; only the bits differ (PS is bit 7 in both). */
	return vtd_env__map_ex(e, top, levels, iova, gpa, level, leaf, mid);
}

uint64_t *vtd_env__map(struct vtd_env *e, uint64_t fsroot, uint64_t iova, uint64_t gpa, unsigned level,
		       uint64_t leaf)
{
	return vtd_env__map_ex(e, fsroot, 4, iova, gpa, level, leaf, FS_RWU);
}

int vtd_env__xlate(struct vtd_env *e, uint16_t sid, const struct dma_attrs *a, uint64_t iova, enum dma_dir dir,
		   uint64_t *gpa)
{
	static const struct dma_attrs none;
	uint64_t g = 0, len = 0;
	int ret = e->tr->translate(e->tr->opaque, sid, a ? a : &none, iova, dir, &g, &len);

	if (gpa)
		*gpa = g;
	return ret;
}

uint64_t vtd_env__xlate_ok(struct vtd_env *e, uint16_t sid, uint64_t iova, enum dma_dir dir)
{
	uint64_t gpa = 0;

	ck_assert_msg(!vtd_env__xlate(e, sid, NULL, iova, dir, &gpa), "iova %#llx faulted (reason %#x)",
		      (unsigned long long)iova, vtd_env__take_fault(e));
	return gpa;
}

int vtd_env__fault_of(struct vtd_env *e, uint16_t sid, const struct dma_attrs *a, uint64_t iova, enum dma_dir dir)
{
	if (!vtd_env__xlate(e, sid, a, iova, dir, NULL))
		return 0;
	return vtd_env__take_fault(e);
}

bool vtd_env__pending_fault(struct vtd_env *e, uint64_t *lo, uint64_t *hi)
{
	unsigned n = 0;

	*lo = *hi = 0;
	for (unsigned i = 0; i < VTD_NR_FRCD; i++) {
		if (vtd_env__frcd(e, i, true) & VTD_FRCD_F) {
			*lo = vtd_env__frcd(e, i, false);
			*hi = vtd_env__frcd(e, i, true);
			n++;
		}
	}
	return n == 1;
}

uint64_t vtd_env__frcd(struct vtd_env *e, unsigned i, bool hi)
{
	return vtd_env__rd(e, VTD_FRCD_REG + 16 * i + (hi ? 8 : 0), 8);
}

int vtd_env__take_fault(struct vtd_env *e)
{
	int found = -1, n = 0;

	for (unsigned i = 0; i < VTD_NR_FRCD; i++) {
		uint64_t hi = vtd_env__frcd(e, i, true);

		if (hi & VTD_FRCD_F) {
			found = (hi >> 32) & 0xFF;
			n++;
			vtd_env__wr(e, VTD_FRCD_REG + 16 * i + 12, VTD_FRCD_F >> 32, 4);
		}
	}
	vtd_env__wr(e, VTD_FSTS_REG, VTD_FSTS_PFO, 4);
	return n == 1 ? found : -1;
}

void vtd_env__qi_enable(struct vtd_env *e)
{
	e->iq = vtd_env__page(e);
	e->iq_tail = 0;
	vtd_env__wr(e, VTD_IQT_REG, 0, 8);
	vtd_env__wr(e, VTD_IQA_REG, e->iq | VTD_IQA_DW, 8);
	gcmd(e, VTD_GCMD_QIE);
	ck_assert_uint_eq(vtd_env__rd(e, VTD_GSTS_REG, 4) & VTD_GSTS_QIES, VTD_GSTS_QIES);
}

void vtd_env__qi_put(struct vtd_env *e, uint64_t q0, uint64_t q1)
{
	uint64_t *d = vtd_env__q(e, e->iq + e->iq_tail * 32);

	d[0] = q0;
	d[1] = q1;
	d[2] = d[3] = 0;
	e->iq_tail = (e->iq_tail + 1) % 128;
}

void vtd_env__qi_kick(struct vtd_env *e)
{
	vtd_env__wr(e, VTD_IQT_REG, e->iq_tail * 32, 8);
}

void vtd_env__qi_submit(struct vtd_env *e, uint64_t q0, uint64_t q1)
{
	vtd_env__qi_put(e, q0, q1);
	vtd_env__qi_kick(e);
}

void vtd_env__pasid_inv(struct vtd_env *e, uint16_t did, uint32_t pasid, bool iotlb)
{
	vtd_env__qi_submit(e, VTD_DESC_PC | VTD_PC_G_PASID << 4 | (uint64_t)did << 16 | (uint64_t)pasid << 32, 0);
	if (iotlb)
		vtd_env__qi_submit(e, VTD_DESC_PIOTLB | VTD_PIOTLB_G_PASID << 4 | (uint64_t)did << 16 |
				   (uint64_t)pasid << 32, 0);
	ck_assert(vtd_env__qi_wait(e));
}

bool vtd_env__qi_wait(struct vtd_env *e)
{
	uint32_t *p;

	if (!e->status)
		e->status = vtd_env__page(e);
	p = guest_mem__hva(&e->mem, e->status, 4);
	*p = 1;
	vtd_env__qi_submit(e, VTD_DESC_WAIT | VTD_WAIT_SW | 2ULL << 32, e->status);
	return *p == 2;
}
