/*
 * The second-stage page walk (VT-d spec §3.7, §9.8): legacy mode (TT = 00) and scalable-mode PASID
 * entries with PGTT = 010b. 3 or 4 levels (AGAW 39 or 48 bits), 4 KiB pages and, as CAP.SLLPS says,
 * 2 MiB and 1 GiB pages.
 *
 * Order per level, as QEMU's second-stage walk: table readable (0x03 "invalid context" at the top,
 * 0x07 below), then the access right of the request at this level (a write needs W, a read R: 0x05 /
 * 0x06; an entry with neither is not present and faults so), then reserved bits (0x0C): bits above
 * the host address width, PS where no large page is allowed, the low address bits of a large page, and
 * SNP in legacy mode (no ECAP.SC; scalable mode must not treat it as reserved). Before the walk the
 * input must be below 2^AGAW (0x04); after it, the output must be outside the interrupt range (0x0E,
 * 0x87 in scalable mode). No A/D bits: ECAP.SSADS is not reported, so second-stage entries are only read.
 * Legacy fault reasons are used in both modes, as QEMU does.
 */
#include "iommu/vtd-priv.h"

static uint64_t ss_rsvd(const struct vtd *vtd, unsigned level, uint64_t e, bool legacy)
{
	uint64_t r = VTD_SS_RSVD_ADDR | (legacy ? VTD_SS_SNP : 0);

	if (!(e & VTD_SS_PS))
		return r;
	switch (level) {
	case 2:
		return r | ((vtd->cap & VTD_CAP_SLLPS_2M) ? VTD_SS_RSVD_2M : VTD_SS_PS);
	case 3:
		return r | ((vtd->cap & VTD_CAP_SLLPS_1G) ? VTD_SS_RSVD_1G : VTD_SS_PS);
	case 1:
		return r;	/* bit 7 of a 4 KiB entry: ignored */
	default:
		return r | VTD_SS_PS;
	}
}

uint8_t vtd_walk__ss(struct vtd *vtd, const struct vtd_walk *w, bool legacy, struct vtd_walk_out *out)
{
	uint64_t table = w->fsptptr, need = w->write ? VTD_SS_W : VTD_SS_R, v = 0, page, gpa;
	unsigned level = w->levels, width = 12 + 9 * w->levels;
	bool r = true, wr = true;

	if (w->iova >> width)
		return VTD_FR_ADDR_WIDTH;
	for (;;) {
		unsigned idx = (w->iova >> vtd_level_shift(level)) & 0x1FF;

		if (!vtd_read64(vtd, table + idx * 8, &v))
			return level == w->levels ? VTD_FR_CE_INV : VTD_FR_SS_ACCESS;
		r &= !!(v & VTD_SS_R);
		wr &= !!(v & VTD_SS_W);
		if (!(v & need))
			return w->write ? VTD_FR_SS_WRITE : VTD_FR_SS_READ;
		if (v & ss_rsvd(vtd, level, v, legacy))
			return VTD_FR_SS_RSVD;
		if (level == 1 || (level <= 3 && (v & VTD_SS_PS)))
			break;
		table = v & VTD_ADDR_MASK;
		level--;
	}
	page = v & VTD_ADDR_MASK & ~((1ULL << vtd_level_shift(level)) - 1);
	gpa = page | (w->iova & ((1ULL << vtd_level_shift(level)) - 1));
	if (gpa >= VTD_INTR_BASE && gpa < VTD_INTR_END)
		return legacy ? VTD_FR_INTR_LEGACY : VTD_FR_INTR_ADDR;
	out->level = level;
	out->page = page;
	/* No U/S and no dirty tracking in the second stage; a write-only page must fault on reads. */
	out->flags = VTD_TLB_U | VTD_TLB_D | (wr ? VTD_TLB_W : 0) | (r ? 0 : VTD_TLB_NR);
	return 0;
}
