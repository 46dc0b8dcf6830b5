/*
 * Guest-side driver pieces for the virtual VT-d unit, shared by the tier-2 programs that turn
 * translation on (vtd.c, dma_bench.c). Header-only: each program is one ELF. Bit layouts come from
 * iommu/vtd-hw.h (pure definitions); "§n" refers to /work/shared/design/vtd-iommufd.md.
 *
 *	struct gvtd v;
 *	gvtd__init(&v, pool, pool_size);		// table pages come from [pool, pool + size)
 *	uint64_t fs = gvtd__fs_domain(&v, sid, 0, did, 0);	// context + RID_PASID entry, FS root
 *	gvtd__map(&v, fs, iova, gpa, 1, GFS_RWU);	// a 4 KiB leaf
 *	gvtd__enable(&v);				// SRTP (scalable), QI (256-bit), global flushes, TE
 */
#ifndef TESTS_GUEST_GVTD_H
#define TESTS_GUEST_GVTD_H

#include "test.h"
#include "iommu/vtd-hw.h"

#define GFS_RWU		(VTD_FS_P | VTD_FS_RW | VTD_FS_US)
#define GVTD_PERSISTENT	(VTD_GCMD_TE | VTD_GCMD_QIE | VTD_GCMD_IRE | VTD_GCMD_EAFL | VTD_GCMD_CFI)
#define GVTD_IQ_SLOTS	128	/* one 4 KiB page of 256-bit descriptors (IQA.QS = 0) */
#define GVTD_PE0_AW48	(2ULL << 2)	/* PASID entry AW: 4-level, as Linux writes it (§2.4) */

struct gvtd {
	uint64_t base;		/* register page */
	uint64_t cap, ecap;
	uint64_t next, end;	/* page pool */
	uint64_t root;
	uint64_t iq;		/* invalidation queue page, 0 until QI is on */
	unsigned iq_tail;
	uint64_t status;	/* wait-descriptor status dword */
	uint32_t seq;		/* last status value asked for */
};

static inline uint64_t *gvtd__q(uint64_t gpa)
{
	return (uint64_t *)(uintptr_t)gpa;
}

static inline uint32_t gvtd__rd32(const struct gvtd *v, unsigned off)
{
	return mmio_read32(v->base + off);
}

static inline uint64_t gvtd__rd64(const struct gvtd *v, unsigned off)
{
	return mmio_read64(v->base + off);
}

static inline void gvtd__wr32(const struct gvtd *v, unsigned off, uint32_t val)
{
	mmio_write32(v->base + off, val);
}

static inline void gvtd__wr64(const struct gvtd *v, unsigned off, uint64_t val)
{
	mmio_write64(v->base + off, val);
}

static inline uint64_t gvtd__page(struct gvtd *v)
{
	uint64_t p = v->next;

	TEST_ASSERT_MSG(p < v->end, "VT-d table pool exhausted");
	v->next += 4096;
	memset(gvtd__q(p), 0, 4096);
	return p;
}

/* The unit from the device tree; checks what scalable-mode first-stage translation needs. */
static inline void gvtd__init(struct gvtd *v, uint64_t pool, uint64_t pool_size)
{
	memset(v, 0, sizeof(*v));
	TEST_ASSERT_MSG(platform.has_iommu, "no VT-d unit in the device tree (run with --viommu flts)");
	TEST_STREQ(platform.iommu_mode, "flts");
	v->base = platform.iommu_base;
	v->next = pool;
	v->end = pool + pool_size;
	v->cap = gvtd__rd64(v, VTD_CAP_REG);
	v->ecap = gvtd__rd64(v, VTD_ECAP_REG);
	TEST_ASSERT_MSG((v->ecap & (VTD_ECAP_SMTS | VTD_ECAP_FSTS | VTD_ECAP_QI | VTD_ECAP_PASID)) ==
			(VTD_ECAP_SMTS | VTD_ECAP_FSTS | VTD_ECAP_QI | VTD_ECAP_PASID), "ECAP 0x%llx",
			(unsigned long long)v->ecap);
	TEST_EQ(!!(v->cap & VTD_CAP_FS1GP), platform.iommu_fs1gp);
	TEST_EQ(gvtd__rd32(v, VTD_GSTS_REG), 0);	/* out of reset: nothing enabled */
	v->root = gvtd__page(v);
}

/* The qword at @gpa, pointing to a fresh table page (| @bits) if it was zero; returns the table. */
static inline uint64_t gvtd__table_at(struct gvtd *v, uint64_t gpa, uint64_t bits)
{
	uint64_t *p = gvtd__q(gpa);

	if (!*p)
		*p = gvtd__page(v) | bits;
	return *p & VTD_ADDR_MASK;
}

/* Scalable-mode context entry of @sid (4 qwords, §2.2); the root entry's lower or upper half. */
static inline uint64_t *gvtd__ctx(struct gvtd *v, uint16_t sid)
{
	unsigned devfn = sid & 0xff;
	uint64_t ct = gvtd__table_at(v, v->root + (sid >> 8) * 16 + (devfn >= 128 ? 8 : 0), VTD_RE_P);

	return gvtd__q(ct + (devfn & 0x7f) * 32);
}

/* PASID table entry (8 qwords, §2.4) of @sid, allocating the directory entry's table. */
static inline uint64_t *gvtd__pasid_entry(struct gvtd *v, uint16_t sid, uint32_t pasid)
{
	uint64_t dir = gvtd__ctx(v, sid)[0] & VTD_ADDR_MASK;
	uint64_t pt;

	TEST_ASSERT(dir);
	pt = gvtd__table_at(v, dir + (pasid >> 6) * 8, VTD_PDE_P);
	return gvtd__q(pt + (pasid & 0x3f) * 64);
}

/*
 * Context entry for @sid: present, PASIDE, a PASID directory of 128 entries (PDTS 0: PASIDs below
 * 8192), RID_PASID @rid_pasid; then a first-stage PASID entry for @pasid with domain @did and
 * @pe2_bits (SRE, WPE). Returns the new first-stage root table.
 */
static inline uint64_t gvtd__fs_entry(struct gvtd *v, uint16_t sid, uint32_t pasid, uint16_t did,
				      uint64_t pe2_bits)
{
	uint64_t *pe = gvtd__pasid_entry(v, sid, pasid), fs = gvtd__page(v);

	for (int i = 3; i < 8; i++)
		pe[i] = 0;
	pe[1] = did;
	pe[2] = fs | pe2_bits;
	pe[0] = VTD_PE0_P | GVTD_PE0_AW48 | (uint64_t)VTD_PGTT_FS << 6;
	return fs;
}

static inline uint64_t gvtd__fs_domain(struct gvtd *v, uint16_t sid, uint32_t rid_pasid, uint16_t did,
				       uint64_t pe2_bits)
{
	uint64_t *ce = gvtd__ctx(v, sid);

	if (!(ce[0] & VTD_ADDR_MASK))
		ce[0] = gvtd__page(v);
	ce[1] = rid_pasid;
	ce[0] = (ce[0] & VTD_ADDR_MASK) | VTD_CE0_PASIDE | VTD_CE0_P;
	return gvtd__fs_entry(v, sid, rid_pasid, did, pe2_bits);
}

/* The entry for @iova at @level (4 = PML4 .. 1 = PTE) of @fsroot, creating tables above it. */
static inline uint64_t *gvtd__entry(struct gvtd *v, uint64_t fsroot, uint64_t iova, unsigned level)
{
	uint64_t table = fsroot;

	for (unsigned l = 4; l > level; l--)
		table = gvtd__table_at(v, table + ((iova >> (12 + 9 * (l - 1))) & 0x1ff) * 8, GFS_RWU);
	return gvtd__q(table + ((iova >> (12 + 9 * (level - 1))) & 0x1ff) * 8);
}

/* Map @iova -> @gpa with a leaf at @level (1: 4 KiB, 2: 2 MiB, 3: 1 GiB) and @bits; returns the leaf. */
static inline uint64_t *gvtd__map(struct gvtd *v, uint64_t fsroot, uint64_t iova, uint64_t gpa, unsigned level,
				  uint64_t bits)
{
	uint64_t *e = gvtd__entry(v, fsroot, iova, level);

	*e = gpa | bits | (level > 1 ? VTD_FS_PS : 0);
	return e;
}

/* GCMD: the persistent enables that are on, plus @cmd; the status bit must follow at once (§1.2). */
static inline void gvtd__gcmd(const struct gvtd *v, uint32_t cmd, bool on)
{
	uint32_t sts = gvtd__rd32(v, VTD_GSTS_REG) & GVTD_PERSISTENT;

	gvtd__wr32(v, VTD_GCMD_REG, on ? sts | cmd : sts & ~cmd);
	TEST_ASSERT_MSG(!!(gvtd__rd32(v, VTD_GSTS_REG) & cmd) == on, "GCMD 0x%x: GSTS 0x%x", cmd,
			gvtd__rd32(v, VTD_GSTS_REG));
}

/* Queue one 256-bit descriptor (qw2/qw3 zero) and move the tail: the unit runs it right away. */
static inline void gvtd__qi_submit(struct gvtd *v, uint64_t q0, uint64_t q1)
{
	uint64_t *d = gvtd__q(v->iq + v->iq_tail * 32);

	d[0] = q0;
	d[1] = q1;
	d[2] = d[3] = 0;
	v->iq_tail = (v->iq_tail + 1) % GVTD_IQ_SLOTS;
	gvtd__wr64(v, VTD_IQT_REG, (uint64_t)v->iq_tail << 5);
}

/* An invalidation-wait descriptor with status write (§4.2), then check it arrived and the queue drained. */
static inline void gvtd__qi_wait(struct gvtd *v)
{
	volatile uint32_t *st = (volatile uint32_t *)(uintptr_t)v->status;
	struct timeout t;

	v->seq++;
	gvtd__qi_submit(v, VTD_DESC_WAIT | VTD_WAIT_SW | (uint64_t)v->seq << 32, v->status);
	timeout__start(&t, 1000);
	while (*st != v->seq)
		TEST_ASSERT_MSG(!timeout__expired(&t), "invalidation wait: status %u, expected %u", *st, v->seq);
	TEST_EQ(gvtd__rd64(v, VTD_IQH_REG), gvtd__rd64(v, VTD_IQT_REG));
	TEST_EQ(gvtd__rd32(v, VTD_FSTS_REG) & VTD_FSTS_IQE, 0);
}

/* Changes to PASID entries, then IOTLB entries, of one PASID (what Linux sends after a PASID entry change). */
static inline void gvtd__flush_pasid(struct gvtd *v, uint16_t did, uint32_t pasid)
{
	gvtd__qi_submit(v, VTD_DESC_PC | VTD_PC_G_PASID << 4 | (uint64_t)did << 16 | (uint64_t)pasid << 32, 0);
	gvtd__qi_submit(v, VTD_DESC_PIOTLB | VTD_PIOTLB_G_PASID << 4 | (uint64_t)did << 16 | (uint64_t)pasid << 32, 0);
	gvtd__qi_wait(v);
}

/* One page of @pasid in domain @did (P_IOTLB page-selective, AM 0). */
static inline void gvtd__flush_page(struct gvtd *v, uint16_t did, uint32_t pasid, uint64_t iova)
{
	gvtd__qi_submit(v, VTD_DESC_PIOTLB | VTD_PIOTLB_G_PAGE << 4 | (uint64_t)did << 16 | (uint64_t)pasid << 32,
			iova & ~0xfffULL);
	gvtd__qi_wait(v);
}

/*
 * Turn everything on the way Linux does for scalable mode: root table with TTM = 01 and SRTP; the
 * invalidation queue with 256-bit descriptors (IQA.DW, only legal with SMTS) and QIE; global context,
 * PASID-cache and IOTLB invalidations; then TE. GSTS is checked after each command.
 */
static inline void gvtd__enable(struct gvtd *v)
{
	v->iq = gvtd__page(v);
	v->status = gvtd__page(v);
	v->iq_tail = 0;
	gvtd__wr64(v, VTD_RTADDR_REG, v->root | (uint64_t)VTD_TTM_SCALABLE << 10);
	gvtd__gcmd(v, VTD_GCMD_SRTP, true);
	gvtd__wr64(v, VTD_IQT_REG, 0);
	gvtd__wr64(v, VTD_IQA_REG, v->iq | VTD_IQA_DW);
	gvtd__gcmd(v, VTD_GCMD_QIE, true);
	gvtd__qi_submit(v, VTD_DESC_CC | VTD_INV_GLOBAL << 4, 0);
	gvtd__qi_submit(v, VTD_DESC_PC | VTD_PC_G_GLOBAL << 4, 0);
	gvtd__qi_submit(v, VTD_DESC_IOTLB | VTD_INV_GLOBAL << 4, 0);
	gvtd__qi_wait(v);
	gvtd__gcmd(v, VTD_GCMD_TE, true);
	TEST_EQ(gvtd__rd32(v, VTD_GSTS_REG), VTD_GSTS_TES | VTD_GSTS_RTPS | VTD_GSTS_QIES);
}

#endif
