/*
 * Scalable-mode table lookup (§2): root entry -> 256-bit context entry -> PASID directory entry ->
 * 512-bit PASID entry (first stage, second stage with --viommu slts, or pass-through), decoded into
 * a struct vtd_pasid_snap (legacy mode: vtd-legacy.c). Every malformed or missing entry gives the
 * spec's fault reason (§3.3). Context entries are cached (vtd-cache.c); the caller caches the result.
 *
 * Fault processing disable: FPD is honoured in the context, PASID-directory and PASID entries, also in
 * a not-present entry (Linux tears PASID entries down to "not present, FPD=1" to silence faults), but
 * not in an entry with reserved bits set: its fields cannot be trusted.
 */
#include "iommu/vtd-priv.h"

/* Root entry half and context entry for @sid; on success ce[0..1] hold the validated entry. */
static uint8_t read_context(struct vtd *vtd, uint16_t sid, uint64_t ce[4], bool *fpd)
{
	uint64_t root = __atomic_load_n(&vtd->root, __ATOMIC_ACQUIRE);
	unsigned bus = sid >> 8, devfn = sid & 0xFF;
	uint64_t re;

	/* Lower half (bits 63:0) serves devfn 0-127, upper half (bits 127:64) devfn 128-255. */
	if (!vtd_read64(vtd, root + bus * 16 + (devfn >= 128 ? 8 : 0), &re))
		return VTD_FR_SM_RE_ACCESS;
	if (!(re & VTD_RE_P))
		return VTD_FR_SM_RE_P;
	if (re & VTD_RE_RSVD)
		return VTD_FR_SM_RE_RSVD;
	if (!vtd_read_qwords(vtd, (re & VTD_ADDR_MASK) + (devfn & 0x7F) * 32, ce, 4))
		return VTD_FR_SM_CE_ACCESS;
	if (!(ce[0] & VTD_CE0_P)) {
		*fpd = ce[0] & VTD_CE0_FPD;
		return VTD_FR_SM_CE_P;
	}
	if ((ce[0] & VTD_CE0_RSVD) || (ce[1] & VTD_CE1_RSVD) || ce[2] || ce[3])
		return VTD_FR_SM_CE_RSVD;
	return 0;
}

/* The PASID entry itself: reserved bits, PGTT and paging mode this unit implements. */
static uint8_t check_pasid_entry(const struct vtd *vtd, const uint64_t pe[8])
{
	uint8_t pgtt = VTD_PE0_PGTT(pe[0]);
	bool fs = pgtt == VTD_PGTT_FS || pgtt == VTD_PGTT_NESTED, ss = pgtt == VTD_PGTT_SS || pgtt == VTD_PGTT_NESTED;

	for (int i = 3; i < 8; i++)
		if (pe[i])
			return VTD_FR_SM_PE_RSVD;
	if ((pe[0] & VTD_PE0_RSVD) || (pe[1] & VTD_PE1_RSVD))
		return VTD_FR_SM_PE_RSVD;
	/* The PGTTs the unit reports: FSTS (flts, nested), SSTS (slts, nested), NEST, PT (always). */
	if ((pgtt == VTD_PGTT_FS && vtd->opt.slts) || (pgtt == VTD_PGTT_SS && !vtd->opt.slts && !vtd->opt.nested) ||
	    (pgtt == VTD_PGTT_NESTED && !vtd->opt.nested) || (!fs && !ss && pgtt != VTD_PGTT_PT))
		return VTD_FR_SM_PE_INV;
	if (fs) {
		if (pe[2] & VTD_PE2_RSVD)
			return VTD_FR_SM_PE_RSVD;
		/* FSPM 01 (5-level) needs CAP.FS5LP; 10 and 11 are reserved. */
		if (VTD_PE2_FSPM(pe[2]) > (vtd->opt.fs5lp ? 1u : 0u))
			return VTD_FR_SM_PE_INV;
	}
	if (ss) {
		/* AW in SAGAW, SSPTPTR below HAW, no SSADE (no ECAP.SSADS). */
		if (pe[0] & (GENMASK(63, VTD_HAW) | BIT(9)))
			return VTD_FR_SM_PE_RSVD;
		if (!vtd_legacy__aw_ok(vtd, VTD_PE0_AW(pe[0])))
			return VTD_FR_SM_PE_INV;
	}
	return 0;
}

uint8_t vtd_tables__lookup(struct vtd *vtd, uint64_t inv, uint16_t sid, bool has_pasid, uint32_t pasid,
			   struct vtd_pasid_snap *ps, bool *fpd)
{
	uint64_t ce[4], pde, pe[8], dir_entries;
	uint8_t fr;
	bool fs;

	*fpd = false;
	if (!vtd_ctx_cache__lookup(&vtd->caches, sid, ce)) {
		fr = read_context(vtd, sid, ce, fpd);
		if (fr)
			return fr;
		vtd_ctx_cache__insert(vtd, inv, sid, ce);
	}
	*fpd = ce[0] & VTD_CE0_FPD;

	/* Requests without PASID use RID_PASID; the directory has 2^(PDTS+7) entries of 64 PASIDs. */
	dir_entries = 1ULL << (VTD_CE0_PDTS(ce[0]) + 7);
	if (has_pasid) {
		if (!(ce[0] & VTD_CE0_PASIDE))
			return VTD_FR_SM_PASIDE;
		if (pasid >= (1u << VTD_PASID_BITS) || (pasid >> 6) >= dir_entries)
			return VTD_FR_SM_PASID_MAX;
	} else {
		pasid = VTD_CE1_RID_PASID(ce[1]);
		if ((pasid >> 6) >= dir_entries)
			return VTD_FR_SM_RID_PASID;
	}

	if (!vtd_read64(vtd, (ce[0] & VTD_ADDR_MASK) + (pasid >> 6) * 8, &pde))
		return VTD_FR_SM_PDE_ACCESS;
	if (!(pde & VTD_PDE_P)) {
		*fpd |= pde & VTD_PDE_FPD;
		return VTD_FR_SM_PDE_P;
	}
	if (pde & VTD_PDE_RSVD)
		return VTD_FR_SM_PDE_RSVD;
	*fpd |= pde & VTD_PDE_FPD;

	if (!vtd_read_qwords(vtd, (pde & VTD_ADDR_MASK) + (pasid & 0x3F) * 64, pe, 8))
		return VTD_FR_SM_PE_ACCESS;
	if (!(pe[0] & VTD_PE0_P)) {
		*fpd |= pe[0] & VTD_PE0_FPD;
		return VTD_FR_SM_PE_P;
	}
	fr = check_pasid_entry(vtd, pe);
	if (fr)
		return fr;
	*fpd |= pe[0] & VTD_PE0_FPD;

	ps->pasid = pasid;
	ps->did = VTD_PE1_DID(pe[1]);
	ps->pgtt = VTD_PE0_PGTT(pe[0]);
	fs = ps->pgtt == VTD_PGTT_FS || ps->pgtt == VTD_PGTT_NESTED;
	ps->fsptptr = fs ? pe[2] & VTD_ADDR_MASK : ps->pgtt == VTD_PGTT_SS ? pe[0] & VTD_ADDR_MASK : 0;
	ps->ssptptr = ps->pgtt == VTD_PGTT_NESTED ? pe[0] & VTD_ADDR_MASK : 0;
	ps->flags = 0;
	if (ps->pgtt != VTD_PGTT_SS && (pe[2] & VTD_PE2_SRE))
		ps->flags |= VTD_PS_SRE;
	if ((ps->pgtt == VTD_PGTT_SS || ps->pgtt == VTD_PGTT_NESTED) && VTD_PE0_AW(pe[0]) == 1)
		ps->flags |= VTD_PS_SS3;
	if (fs && (pe[2] & VTD_PE2_WPE))
		ps->flags |= VTD_PS_WPE;
	if (fs && VTD_PE2_FSPM(pe[2]) == 1)
		ps->flags |= VTD_PS_5LVL;
	if (!has_pasid && (ce[1] & VTD_CE1_RID_PRIV))
		ps->flags |= VTD_PS_RID_PRIV;
	if (*fpd)
		ps->flags |= VTD_PS_FPD;
	return 0;
}
