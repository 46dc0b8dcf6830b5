/*
 * Legacy-mode table lookup (RTADDR.TTM = 00; VT-d spec §9.1, §9.3): the 128-bit root entry of the
 * bus, then the 128-bit context entry of the devfn, decoded into the same struct vtd_pasid_snap the
 * scalable-mode path makes, so translate(), the PASID cache and the IOTLB serve both modes alike:
 * TT = 00 gives a second-stage snapshot (PGTT_SS, DID, SLPTPTR, AGAW), TT = 10 pass-through.
 * Entries are tagged with PASID 0: legacy mode has no PASIDs, and SRTP (the only way from one mode
 * to the other) empties every cache.
 *
 * Faults (legacy reasons, §7.1): root entry unreadable 0x08, not present 0x01, reserved 0x0A;
 * context entry unreadable 0x09, not present 0x02, reserved 0x0B; an AW outside SAGAW or a TT this
 * unit does not implement (01: device-TLB, 11: reserved) 0x03. FPD of a context entry is honoured,
 * present or not (but not in one with reserved bits set).
 */
#include "iommu/vtd-priv.h"

/* The AGAWs this unit implements (CAP.SAGAW bits 1 and 2): 39-bit 3-level and 48-bit 4-level. */
static bool aw_supported(const struct vtd *vtd, unsigned aw)
{
	return (aw == 1 && (vtd->cap & VTD_CAP_SAGAW_39)) || (aw == 2 && (vtd->cap & VTD_CAP_SAGAW_48));
}

static uint8_t read_context(struct vtd *vtd, uint16_t sid, uint64_t ce[2], bool *fpd)
{
	uint64_t root = __atomic_load_n(&vtd->root, __ATOMIC_ACQUIRE), re[2];

	if (!vtd_read_qwords(vtd, root + (sid >> 8) * 16, re, 2))
		return VTD_FR_RE_ACCESS;
	if (!(re[0] & VTD_RE_P))
		return VTD_FR_RE_P;
	if ((re[0] & VTD_LRE_RSVD) || re[1])
		return VTD_FR_RE_RSVD;
	if (!vtd_read_qwords(vtd, (re[0] & VTD_ADDR_MASK) + (sid & 0xFF) * 16, ce, 2))
		return VTD_FR_CE_ACCESS;
	if (!(ce[0] & VTD_LCE0_P)) {
		*fpd = ce[0] & VTD_LCE0_FPD;
		return VTD_FR_CE_P;
	}
	if ((ce[0] & VTD_LCE0_RSVD) || (ce[1] & VTD_LCE1_RSVD))
		return VTD_FR_CE_RSVD;
	return 0;
}

uint8_t vtd_legacy__lookup(struct vtd *vtd, uint64_t inv, uint16_t sid, struct vtd_pasid_snap *ps, bool *fpd)
{
	uint64_t ce[2];
	uint8_t fr;

	*fpd = false;
	if (!vtd_ctx_cache__lookup(&vtd->caches, sid, ce)) {
		fr = read_context(vtd, sid, ce, fpd);
		if (fr)
			return fr;
		vtd_ctx_cache__insert(vtd, inv, sid, ce);
	}
	*fpd = ce[0] & VTD_LCE0_FPD;
	ps->pasid = 0;
	ps->did = VTD_LCE1_DID(ce[1]);
	ps->flags = *fpd ? VTD_PS_FPD : 0;
	ps->fsptptr = 0;
	ps->ssptptr = 0;
	switch (VTD_LCE0_TT(ce[0])) {
	case VTD_LCE_TT_SS:
		if (!aw_supported(vtd, VTD_LCE1_AW(ce[1])))
			return VTD_FR_CE_INV;
		ps->pgtt = VTD_PGTT_SS;
		ps->fsptptr = ce[0] & VTD_ADDR_MASK;
		if (VTD_LCE1_AW(ce[1]) == 1)
			ps->flags |= VTD_PS_SS3;
		return 0;
	case VTD_LCE_TT_PT:
		ps->pgtt = VTD_PGTT_PT;		/* ECAP.PT is reported */
		return 0;
	default:
		return VTD_FR_CE_INV;		/* 01 needs ECAP.DT (no device-TLB here), 11 is reserved */
	}
}

bool vtd_legacy__aw_ok(const struct vtd *vtd, unsigned aw)
{
	return aw_supported(vtd, aw);
}
