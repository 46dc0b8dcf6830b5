/*
 * Tier 1 (Check, in-process, no KVM): VT-d fault reasons and fault recording.
 * Every fault reason of the scalable-mode path, checked in the fault recording register; FPD; the
 * record's fields; several records, collapse, overflow (PFO), masking and the deferred fault event.
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "iommu/vtd-hw.h"
#include "tests/unit/check_main.h"
#include "tests/unit/vtd_testlib.h"

#define SID 0x0018	/* 00:03.0 */

static struct vtd_env env;
static uint64_t fs;

static void setup(void)
{
	vtd_env__init(&env, NULL);
	fs = vtd_env__fs_domain(&env, SID, 0, 1);
	vtd_env__map(&env, fs, 0x1000, 0x100000, 1, FS_RWU);
	vtd_env__enable(&env);
}

static void teardown(void)
{
	vtd_env__exit(&env);
}

/* Global context-cache invalidation: drops cached context and PASID entries (not the IOTLB). */
static void ctx_flush(void)
{
	vtd_env__wr(&env, VTD_CCMD_REG, VTD_CCMD_ICC | 1ULL << 61, 8);
}

/*
 * Translate and return the recorded fault reason (0 if the request translated). The tests edit
 * context and PASID entries in place, so cached ones are dropped first.
 */
static int fault_of(uint16_t sid, const struct dma_attrs *a, uint64_t iova, enum dma_dir dir)
{
	int ret;

	ctx_flush();
	ret = vtd_env__xlate(&env, sid, a, iova, dir, NULL);

	if (!ret)
		return 0;
	ck_assert_int_eq(ret, -EFAULT);
	return vtd_env__take_fault(&env);
}

static const struct dma_attrs pasid5 = { .has_pasid = true, .pasid = 5 };

START_TEST(root_entry)
{
	uint64_t *re = vtd_env__q(&env, env.root);

	ck_assert_int_eq(fault_of(0x0300, NULL, 0x1000, DMA_READ), VTD_FR_SM_RE_P);	/* bus 3: empty */
	*re |= 1ULL << 5;
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_RE_RSVD);
	*re &= ~(1ULL << 5);
	*re |= 1ULL << 50;	/* beyond HAW */
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_RE_RSVD);
	*re &= ~(1ULL << 50);
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), 0);
	/* Upper half (devfn >= 128) has its own present bit. */
	ck_assert_int_eq(fault_of(0x0080, NULL, 0x1000, DMA_READ), VTD_FR_SM_RE_P);
	/* A root table outside RAM is an access fault, not a host read. */
	vtd_env__wr(&env, VTD_RTADDR_REG, 0x80000000ULL | 1 << 10, 8);
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_TE | VTD_GCMD_SRTP, 4);
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_RE_ACCESS);
}
END_TEST

START_TEST(context_entry)
{
	uint64_t *ce = vtd_env__ctx(&env, SID), *re = vtd_env__q(&env, env.root);
	uint64_t saved = ce[0];

	ck_assert_int_eq(fault_of(SID + 1, NULL, 0x1000, DMA_READ), VTD_FR_SM_CE_P);
	ce[2] = 1;
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_CE_RSVD);
	ce[2] = 0;
	ce[0] |= 1ULL << 6;
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_CE_RSVD);
	ce[0] = saved | VTD_CE0_DTE;	/* needs ECAP.DT */
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_CE_RSVD);
	ce[0] = saved;
	ce[1] |= 1ULL << 21;
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_CE_RSVD);
	ce[1] &= ~(1ULL << 21);
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), 0);
	/* Context table outside RAM. */
	vtd_env__wr(&env, VTD_CCMD_REG, VTD_CCMD_ICC | 1ULL << 61, 8);
	*re = 0x7F000000ULL | 1;
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_CE_ACCESS);
}
END_TEST

START_TEST(pasid_selection)
{
	uint64_t *ce = vtd_env__ctx(&env, SID);

	/* A request with PASID needs PASIDE. */
	ck_assert_int_eq(fault_of(SID, &pasid5, 0x1000, DMA_READ), VTD_FR_SM_PASIDE);
	ce[0] |= VTD_CE0_PASIDE;
	ck_assert_int_eq(fault_of(SID, &pasid5, 0x1000, DMA_READ), VTD_FR_SM_PE_P);	/* table exists, entry not */
	vtd_env__set_pasid_fs(&env, SID, 5, 9);
	ck_assert_int_eq(fault_of(SID, &pasid5, 0x1000, DMA_READ), VTD_FR_FS_P);	/* its own empty tables */
	/* PDTS 0: 128 directory entries of 64 PASIDs, so PASID 8192 is out of range; PDTS 1 takes it. */
	struct dma_attrs big = { .has_pasid = true, .pasid = 8192 };

	ck_assert_int_eq(fault_of(SID, &big, 0x1000, DMA_READ), VTD_FR_SM_PASID_MAX);
	big.pasid = 1 << 20;
	ck_assert_int_eq(fault_of(SID, &big, 0x1000, DMA_READ), VTD_FR_SM_PASID_MAX);
	ce[0] |= 1ULL << 9;
	big.pasid = 8192;
	ck_assert_int_eq(fault_of(SID, &big, 0x1000, DMA_READ), VTD_FR_SM_PDE_P);
	/* Requests without PASID use RID_PASID, which must be in range too. */
	ce[0] &= ~(7ULL << 9);
	ce[1] = 8192;
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_RID_PASID);
	ce[1] = 5;
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_FS_P);	/* now PASID 5's tables */
}
END_TEST

START_TEST(pasid_directory)
{
	uint64_t *ce = vtd_env__ctx(&env, SID), dir = ce[0] & VTD_ADDR_MASK, *pde = vtd_env__q(&env, dir);
	uint64_t saved = *pde;

	*pde |= 1ULL << 5;
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_PDE_RSVD);
	*pde = 0;
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_PDE_P);
	*pde = 0x7E000000ULL | 1;	/* PASID table beyond RAM */
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_PE_ACCESS);
	*pde = saved;
	ce[0] = (ce[0] & 0xFFF) | 0x7D000000ULL;	/* directory beyond RAM */
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_PDE_ACCESS);
}
END_TEST

START_TEST(pasid_entry)
{
	uint64_t *pe = vtd_env__pasid_entry(&env, SID, 0), saved[8];
	static const uint64_t rsvd[][2] = {
		{ 0, 1ULL << 10 }, { 1, 1ULL << 16 }, { 1, 1ULL << 30 }, { 2, VTD_PE2_ERE },
		{ 2, VTD_PE2_EAFE }, { 2, 1ULL << 9 }, { 2, 1ULL << 50 }, { 3, 1 }, { 7, 1ULL << 63 },
	};

	memcpy(saved, pe, sizeof(saved));
	for (unsigned i = 0; i < ARRAY_SIZE(rsvd); i++) {
		pe[rsvd[i][0]] |= rsvd[i][1];
		ck_assert_msg(fault_of(SID, NULL, 0x1000, DMA_READ) == VTD_FR_SM_PE_RSVD, "qword %d bit %#lx",
			      (int)rsvd[i][0], (unsigned long)rsvd[i][1]);
		memcpy(pe, saved, sizeof(saved));
	}
	/* PWSNP/PGSNP are accepted (coherency hints); AW/SSPTPTR are ignored for first-stage. */
	pe[1] |= VTD_PE1_PWSNP | VTD_PE1_PGSNP;
	pe[0] |= 2ULL << 2 | 0xABC000ULL;
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), 0);
	/* Translation types other than first-stage and pass-through, and 5-level without FS5LP. */
	for (unsigned pgtt = 0; pgtt < 8; pgtt++) {
		if (pgtt == VTD_PGTT_FS || pgtt == VTD_PGTT_PT)
			continue;
		pe[0] = (saved[0] & ~(7ULL << 6)) | (uint64_t)pgtt << 6;
		ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_PE_INV);
	}
	memcpy(pe, saved, sizeof(saved));
	pe[2] |= 1ULL << 2;
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_PE_INV);
	pe[2] = saved[2] | 2ULL << 2;
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_PE_INV);
	pe[2] = saved[2];
	pe[0] &= ~1ULL;
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_PE_P);
}
END_TEST

START_TEST(first_stage_entries)
{
	uint64_t *pe = vtd_env__pasid_entry(&env, SID, 0), *leaf, pml4e;

	ck_assert_int_eq(fault_of(SID, NULL, 0x2000, DMA_READ), VTD_FR_FS_P);
	leaf = vtd_env__map(&env, fs, 0x2000, 0x1000000000000ULL, 1, FS_RWU);	/* bit 48: above HAW */
	ck_assert_int_eq(fault_of(SID, NULL, 0x2000, DMA_READ), VTD_FR_FS_RSVD);
	*leaf = 0x300000 | FS_RWU | 1ULL << 63 | 0x7FFULL << 52;	/* XD and 62:52 are ignored */
	ck_assert_int_eq(fault_of(SID, NULL, 0x2000, DMA_READ), 0);
	pml4e = *vtd_env__q(&env, fs);
	*vtd_env__q(&env, fs) = pml4e | FS_PS;				/* PS in a PML4E */
	ck_assert_int_eq(fault_of(SID, NULL, 0x3000, DMA_READ), VTD_FR_FS_RSVD);
	*vtd_env__q(&env, fs) = pml4e;
	vtd_env__map(&env, fs, 0x40000000, 0x600000 | 1 << 13, 2, FS_RWU);	/* 2 MiB leaf, bit 13 */
	ck_assert_int_eq(fault_of(SID, NULL, 0x40000000, DMA_READ), VTD_FR_FS_RSVD);
	vtd_env__map(&env, fs, 0x80000000, 0x40000000 | 1 << 29, 3, FS_RWU);	/* 1 GiB leaf, bit 29 */
	ck_assert_int_eq(fault_of(SID, NULL, 0x80000000, DMA_READ), VTD_FR_FS_RSVD);
	/* A lower-level table outside RAM, then the first-stage root itself. */
	*vtd_env__q(&env, fs + 8) = 0x70000000ULL | FS_RWU;			/* PML4E 1 */
	ck_assert_int_eq(fault_of(SID, NULL, 1ULL << 39, DMA_READ), VTD_FR_FS_ACCESS);
	pe[2] = 0x71000000ULL;
	vtd_env__wr(&env, VTD_CCMD_REG, VTD_CCMD_ICC | 1ULL << 61, 8);
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_FS_PTR);
}
END_TEST

START_TEST(permissions)
{
	uint64_t *pe = vtd_env__pasid_entry(&env, SID, 0), *ce = vtd_env__ctx(&env, SID);
	struct dma_attrs sup = { .has_pasid = true, .pasid = 0, .priv = true };

	vtd_env__map(&env, fs, 0x4000, 0x104000, 1, FS_P | FS_US);	/* read-only user page */
	vtd_env__map(&env, fs, 0x5000, 0x105000, 1, FS_P | FS_RW);	/* supervisor page */
	ck_assert_int_eq(fault_of(SID, NULL, 0x4000, DMA_READ), 0);
	ck_assert_int_eq(fault_of(SID, NULL, 0x4000, DMA_WRITE), VTD_FR_WRITE);
	ck_assert_int_eq(fault_of(SID, NULL, 0x5000, DMA_READ), VTD_FR_US);
	/* A non-leaf entry with R/W = 0 makes everything below it read-only. */
	vtd_env__map_ex(&env, fs, 4, 0x8000000000ULL, 0x106000, 1, FS_RWU, FS_P | FS_US);
	ck_assert_int_eq(fault_of(SID, NULL, 0x8000000000ULL, DMA_WRITE), VTD_FR_WRITE);
	/* Supervisor requests need SRE (and PASIDE to carry a PASID). */
	ce[0] |= VTD_CE0_PASIDE;
	ck_assert_int_eq(fault_of(SID, &sup, 0x5000, DMA_READ), VTD_FR_SM_SRE);
	pe[2] |= VTD_PE2_SRE;
	vtd_env__wr(&env, VTD_CCMD_REG, VTD_CCMD_ICC | 1ULL << 61, 8);
	ck_assert_int_eq(fault_of(SID, &sup, 0x5000, DMA_WRITE), 0);
	ck_assert_int_eq(fault_of(SID, &sup, 0x4000, DMA_READ), 0);	/* supervisor may read user pages */
	ck_assert_int_eq(fault_of(SID, &sup, 0x4000, DMA_WRITE), 0);	/* WPE = 0: and write read-only ones */
	pe[2] |= VTD_PE2_WPE;
	vtd_env__wr(&env, VTD_CCMD_REG, VTD_CCMD_ICC | 1ULL << 61, 8);
	ck_assert_int_eq(fault_of(SID, &sup, 0x4000, DMA_WRITE), VTD_FR_WRITE);
	/* Requests without PASID are supervisor requests when RID_PRIV is set. */
	ce[1] |= VTD_CE1_RID_PRIV;
	vtd_env__wr(&env, VTD_CCMD_REG, VTD_CCMD_ICC | 1ULL << 61, 8);
	ck_assert_int_eq(fault_of(SID, NULL, 0x5000, DMA_READ), 0);
}
END_TEST

START_TEST(addresses)
{
	uint64_t *pe = vtd_env__pasid_entry(&env, SID, 0);

	ck_assert_int_eq(fault_of(SID, NULL, 0x0000800000000000ULL, DMA_READ), VTD_FR_NON_CANONICAL);
	ck_assert_int_eq(fault_of(SID, NULL, 0xFFFF000000001000ULL, DMA_READ), VTD_FR_NON_CANONICAL);
	/* Output in the interrupt range: a 4 KiB page there, and one address of a 2 MiB page over it. */
	vtd_env__map(&env, fs, 0x6000, 0xFEE00000, 1, FS_RWU);
	ck_assert_int_eq(fault_of(SID, NULL, 0x6000, DMA_WRITE), VTD_FR_INTR_ADDR);
	vtd_env__map(&env, fs, 0xC0000000, 0xFEE00000, 2, FS_RWU);
	ck_assert_int_eq(fault_of(SID, NULL, 0xC0001000, DMA_READ), VTD_FR_INTR_ADDR);
	vtd_env__map(&env, fs, 0xC0200000, 0xFEC00000, 2, FS_RWU);	/* 0xFEC00000-0xFEDFFFFF: fine */
	ck_assert_int_eq(fault_of(SID, NULL, 0xC0200000, DMA_READ), 0);
	vtd_env__map(&env, fs, 0x40000000, 0xC0000000, 3, FS_RWU);	/* 1 GiB over the range */
	ck_assert_int_eq(fault_of(SID, NULL, 0x40000000, DMA_READ), 0);
	ck_assert_int_eq(fault_of(SID, NULL, 0x7EE00000, DMA_READ), VTD_FR_INTR_ADDR);	/* also on a hit */
	ck_assert_int_eq(fault_of(SID, NULL, 0x7EF00000, DMA_READ), 0);
	/* Pass-through: identity below the host address width, never into the interrupt range. */
	pe[0] = (pe[0] & ~(7ULL << 6)) | (uint64_t)VTD_PGTT_PT << 6;
	vtd_env__wr(&env, VTD_CCMD_REG, VTD_CCMD_ICC | 1ULL << 61, 8);
	ck_assert_int_eq(fault_of(SID, NULL, 1ULL << 48, DMA_READ), VTD_FR_MGAW);
	ck_assert_int_eq(fault_of(SID, NULL, 0xFEE00010, DMA_WRITE), VTD_FR_INTR_ADDR);
	ck_assert_int_eq(fault_of(SID, NULL, 0x12345678, DMA_WRITE), 0);
}
END_TEST

START_TEST(pass_through_len)
{
	uint64_t *pe = vtd_env__pasid_entry(&env, SID, 0), gpa, len;
	struct dma_attrs none = { 0 };

	pe[0] = (pe[0] & ~(7ULL << 6)) | (uint64_t)VTD_PGTT_PT << 6;
	vtd_env__wr(&env, VTD_CCMD_REG, VTD_CCMD_ICC | 1ULL << 61, 8);
	ck_assert_int_eq(env.tr->translate(env.tr->opaque, SID, &none, 0xFED00000, DMA_READ, &gpa, &len), 0);
	ck_assert_uint_eq(gpa, 0xFED00000);
	ck_assert_uint_eq(len, 0x100000);
}
END_TEST

START_TEST(legacy_and_reserved_ttm)
{
	struct dma_attrs p = { .has_pasid = true, .pasid = 1 };

	/* TTM = 00 on a table built for scalable mode: read as legacy entries (tests/unit/test_vtd_legacy.c). */
	vtd_env__wr(&env, VTD_RTADDR_REG, env.root, 8);
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_TE | VTD_GCMD_SRTP, 4);
	ck_assert_int_ne(fault_of(SID, NULL, 0x1000, DMA_READ), 0);
	ck_assert_int_eq(fault_of(SID, &p, 0x1000, DMA_READ), VTD_FR_SM_TTM0_PASID);
	vtd_env__wr(&env, VTD_RTADDR_REG, env.root | 3 << 10, 8);	/* abort-DMA mode: not supported */
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_TE | VTD_GCMD_SRTP, 4);
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_RTA);
	vtd_env__wr(&env, VTD_RTADDR_REG, env.root | 1 << 10, 8);
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_TE | VTD_GCMD_SRTP, 4);
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), 0);
}
END_TEST

START_TEST(record_fields)
{
	uint64_t *ce = vtd_env__ctx(&env, SID), lo, hi;
	struct dma_attrs p = { .has_pasid = true, .pasid = 0x2A, .priv = true };

	ck_assert_int_eq(vtd_env__xlate(&env, SID, NULL, 0x7123, DMA_WRITE, NULL), -EFAULT);
	lo = vtd_env__frcd(&env, 0, false);
	hi = vtd_env__frcd(&env, 0, true);
	ck_assert_uint_eq(lo, 0x7000);
	ck_assert_uint_eq(hi & VTD_FRCD_F, VTD_FRCD_F);
	ck_assert_uint_eq(hi & VTD_FRCD_T, 0);				/* write */
	ck_assert_uint_eq((hi >> 32) & 0xFF, VTD_FR_FS_P);
	ck_assert_uint_eq(hi & 0xFFFF, SID);
	ck_assert_uint_eq(hi & VTD_FRCD_PP, 0);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FSTS_REG, 4), VTD_FSTS_PPF);	/* FRI 0 */
	vtd_env__take_fault(&env);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FSTS_REG, 4), 0);

	ce[0] |= VTD_CE0_PASIDE;
	ctx_flush();
	ck_assert_int_eq(vtd_env__xlate(&env, SID, &p, 0xABCDE000, DMA_READ, NULL), -EFAULT);
	hi = vtd_env__frcd(&env, 1, true);					/* the next record */
	ck_assert_uint_eq(hi & VTD_FRCD_T, VTD_FRCD_T);
	ck_assert_uint_eq(hi & VTD_FRCD_PP, VTD_FRCD_PP);
	ck_assert_uint_eq((hi >> 40) & 0xFFFFF, 0x2A);
	ck_assert_uint_eq(hi & VTD_FRCD_PRIV, VTD_FRCD_PRIV);
	ck_assert_uint_eq(vtd_env__frcd(&env, 1, false), 0xABCDE000);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FSTS_REG, 4), VTD_FSTS_PPF | 1 << 8);	/* FRI 1 */
}
END_TEST

/* FPD suppresses recording of qualified faults; the request still fails. */
START_TEST(fault_processing_disable)
{
	uint64_t *pe = vtd_env__pasid_entry(&env, SID, 0), *ce = vtd_env__ctx(&env, SID);

	pe[0] |= VTD_PE0_FPD;
	ck_assert_int_eq(vtd_env__xlate(&env, SID, NULL, 0x9000, DMA_READ, NULL), -EFAULT);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FSTS_REG, 4), 0);
	ck_assert_int_eq(env.nr_msi, 0);
	/* Linux clears torn-down PASID entries to "not present, FPD=1". */
	pe[0] = VTD_PE0_FPD;
	ctx_flush();
	ck_assert_int_eq(vtd_env__xlate(&env, SID, NULL, 0x1000, DMA_READ, NULL), -EFAULT);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FSTS_REG, 4), 0);
	pe[0] = 0;
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_PE_P);
	/* The context entry's FPD covers everything below it... */
	ce[0] |= VTD_CE0_FPD;
	ctx_flush();
	ck_assert_int_eq(vtd_env__xlate(&env, SID, NULL, 0x1000, DMA_READ, NULL), -EFAULT);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FSTS_REG, 4), 0);
	/* ...but not failed table accesses, which are always reported. */
	*vtd_env__q(&env, ce[0] & VTD_ADDR_MASK) = 0x7E000000ULL | 1;
	ck_assert_int_eq(fault_of(SID, NULL, 0x1000, DMA_READ), VTD_FR_SM_PE_ACCESS);
}
END_TEST

/* Faults from 8 other source-ids: one per record, then overflow. bus N has no root entry. */
static void fault_from_bus(unsigned bus)
{
	ck_assert_int_eq(vtd_env__xlate(&env, bus << 8, NULL, 0x1000, DMA_READ, NULL), -EFAULT);
}

START_TEST(records_collapse_overflow)
{
	vtd_env__wr(&env, VTD_FEDATA_REG, 0x4041, 4);
	vtd_env__wr(&env, VTD_FEADDR_REG, 0xFEE01000, 4);
	vtd_env__wr(&env, VTD_FECTL_REG, 0, 4);
	fault_from_bus(1);
	ck_assert_int_eq(env.nr_msi, 1);
	ck_assert_uint_eq(env.msi_addr[0], 0xFEE01000);
	ck_assert_uint_eq(env.msi_data[0], 0x4041);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FECTL_REG, 4), 0);	/* sent: IP clear */
	fault_from_bus(1);	/* same source-id while pending: collapsed */
	ck_assert_uint_eq(vtd_env__frcd(&env, 1, true), 0);
	for (unsigned bus = 2; bus <= 8; bus++)
		fault_from_bus(bus);
	ck_assert_int_eq(env.nr_msi, 1);	/* PPF was already set: no new interrupt condition */
	for (unsigned i = 0; i < VTD_NR_FRCD; i++)
		ck_assert_uint_eq(vtd_env__frcd(&env, i, true) & 0xFFFF, (i + 1) << 8);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FSTS_REG, 4) & VTD_FSTS_PFO, 0);
	fault_from_bus(9);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FSTS_REG, 4), VTD_FSTS_PFO | VTD_FSTS_PPF);
	/* Software drains records 0 and 1 but leaves PFO: still nothing is recorded. */
	vtd_env__wr(&env, VTD_FRCD_REG + 12, VTD_FRCD_F >> 32, 4);
	vtd_env__wr(&env, VTD_FRCD_REG + 16 + 8, VTD_FRCD_F, 8);
	ck_assert_uint_eq(vtd_env__frcd(&env, 1, true) & VTD_FRCD_F, 0);
	fault_from_bus(10);
	ck_assert_uint_eq(vtd_env__frcd(&env, 0, true) & VTD_FRCD_F, 0);
	/* Clearing PFO: the next fault takes the next free record in turn (record 0). */
	vtd_env__wr(&env, VTD_FSTS_REG, VTD_FSTS_PFO, 4);
	fault_from_bus(11);
	ck_assert_uint_eq(vtd_env__frcd(&env, 0, true) & 0xFFFF, 11 << 8);
	ck_assert_int_eq(env.nr_msi, 1);	/* PPF still set by records 2..7 */
	vtd_env__take_fault(&env);
	fault_from_bus(12);
	ck_assert_int_eq(env.nr_msi, 2);
}
END_TEST

START_TEST(masking_and_deferred_event)
{
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FECTL_REG, 4), VTD_ECTL_IM);	/* masked after reset */
	vtd_env__wr(&env, VTD_FEDATA_REG, 0x55, 4);
	vtd_env__wr(&env, VTD_FEADDR_REG, 0xFEE00000, 4);
	vtd_env__wr(&env, VTD_FEUADDR_REG, 0x1, 4);
	fault_from_bus(1);
	ck_assert_int_eq(env.nr_msi, 0);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FECTL_REG, 4), VTD_ECTL_IM | VTD_ECTL_IP);
	vtd_env__wr(&env, VTD_FECTL_REG, 0, 4);	/* unmask: the held-back message goes out */
	ck_assert_int_eq(env.nr_msi, 1);
	ck_assert_uint_eq(env.msi_addr[0], 0x1FEE00000ULL);
	ck_assert_uint_eq(env.msi_data[0], 0x55);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FECTL_REG, 4), 0);
	/* Masked again; software services the fault before unmasking: IP clears, nothing is sent. */
	vtd_env__take_fault(&env);
	vtd_env__wr(&env, VTD_FECTL_REG, VTD_ECTL_IM, 4);
	fault_from_bus(2);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FECTL_REG, 4), VTD_ECTL_IM | VTD_ECTL_IP);
	vtd_env__take_fault(&env);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FECTL_REG, 4), VTD_ECTL_IM);
	vtd_env__wr(&env, VTD_FECTL_REG, 0, 4);
	ck_assert_int_eq(env.nr_msi, 1);
	/* Xen writes FEADDR with a 64-bit access covering FEUADDR. */
	vtd_env__wr(&env, VTD_FEADDR_REG, 0x00000002FEE0F00CULL, 8);
	fault_from_bus(3);
	ck_assert_int_eq(env.nr_msi, 2);
	ck_assert_uint_eq(env.msi_addr[1], 0x2FEE0F00CULL);
}
END_TEST

static Suite *vtd_faults_suite(void)
{
	Suite *s = suite_create("vtd_faults");
	TCase *tc = tcase_create("faults");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, root_entry);
	tcase_add_test(tc, context_entry);
	tcase_add_test(tc, pasid_selection);
	tcase_add_test(tc, pasid_directory);
	tcase_add_test(tc, pasid_entry);
	tcase_add_test(tc, first_stage_entries);
	tcase_add_test(tc, permissions);
	tcase_add_test(tc, addresses);
	tcase_add_test(tc, pass_through_len);
	tcase_add_test(tc, legacy_and_reserved_ttm);
	tcase_add_test(tc, record_fields);
	tcase_add_test(tc, fault_processing_disable);
	tcase_add_test(tc, records_collapse_overflow);
	tcase_add_test(tc, masking_and_deferred_event);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(vtd_faults_suite)
