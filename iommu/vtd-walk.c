/*
 * The first-stage page walk (§3): IA-32e-format tables, 4 or 5 levels, 4 KiB / 2 MiB / 1 GiB pages.
 *
 * Order of checks per level: table readable (0x73 at the top, 0x70 below), present (0x71), reserved
 * bits (0x72); permissions are the AND over all levels and are checked after the leaf: a user request
 * needs U/S=1 everywhere (0x81); a write needs R/W=1 everywhere (0x85), except a supervisor write with
 * WPE=0 (the CR0.WP=0 rule); reads need no permission bit. XD (bit 63) and bits 62:52 are ignored.
 * Last, the output address must not be in the interrupt range (0x87).
 *
 * Only a request that passes every check updates the tables: A in each entry used and D in the leaf
 * of a write, each with a compare-and-swap on the host mapping of the guest qword. If the guest
 * changed what the entry translates to since it was read, the walk restarts on the new contents.
 */
#include "iommu/vtd-priv.h"

#define MAX_LEVELS 5
#define MAX_RESTARTS 8
#define MAX_CAS_TRIES 1000
/* The bits of an entry the translation depends on (not A/D, not the ignored or cache-type bits). */
#define VTD_FS_TRANSLATION (VTD_FS_P | VTD_FS_RW | VTD_FS_US | VTD_FS_PS | GENMASK(51, 12))

/* Reserved bits of a present entry at @level (§3.1); a set PS where it is not allowed is one. */
static uint64_t rsvd_bits(const struct vtd *vtd, unsigned level, uint64_t pte)
{
	uint64_t rsvd = VTD_FS_RSVD_ADDR;

	switch (level) {
	case 5:
	case 4:
		return rsvd | VTD_FS_PS;
	case 3:
		if (!(pte & VTD_FS_PS))
			return rsvd;
		return rsvd | (vtd->opt.fs1gp ? VTD_FS_RSVD_1G : VTD_FS_PS);
	case 2:
		return rsvd | ((pte & VTD_FS_PS) ? VTD_FS_RSVD_2M : 0);
	default:
		return rsvd;	/* bit 7 of a 4 KiB entry is PAT */
	}
}

uint8_t vtd_walk__fs(struct vtd *vtd, const struct vtd_walk *w, struct vtd_walk_out *out)
{
	for (int attempt = 0; attempt < MAX_RESTARTS; attempt++) {
		uint64_t *hva[MAX_LEVELS], pte[MAX_LEVELS], table = w->fsptptr, page, gpa;
		unsigned level = w->levels, n = 0;
		bool rw = true, us = true, restart = false;

		for (;;) {
			unsigned idx = (w->iova >> vtd_level_shift(level)) & 0x1FF;
			uint64_t *p = vtd_qword(vtd, table + idx * 8), v;

			if (!p)
				return level == w->levels ? VTD_FR_FS_PTR : VTD_FR_FS_ACCESS;
			v = __atomic_load_n(p, __ATOMIC_RELAXED);
			if (!(v & VTD_FS_P))
				return VTD_FR_FS_P;
			if (v & rsvd_bits(vtd, level, v))
				return VTD_FR_FS_RSVD;
			rw &= !!(v & VTD_FS_RW);
			us &= !!(v & VTD_FS_US);
			hva[n] = p;
			pte[n++] = v;
			if (level == 1 || (level <= 3 && (v & VTD_FS_PS)))
				break;
			table = v & VTD_FS_ADDR;
			level--;
		}

		if (w->user && !us)
			return VTD_FR_US;
		if (w->write && !rw && (w->user || w->wpe))
			return VTD_FR_WRITE;
		page = pte[n - 1] & VTD_FS_ADDR & ~((1ULL << vtd_level_shift(level)) - 1);
		gpa = page | (w->iova & ((1ULL << vtd_level_shift(level)) - 1));
		if (gpa >= VTD_INTR_BASE && gpa < VTD_INTR_END)
			return VTD_FR_INTR_ADDR;

		/*
		 * Accessed in every entry used, dirty in the leaf of a write: atomically, top down. If the
		 * guest changed only bits that do not affect the translation (A/D, ignored bits), retry on
		 * the new value; otherwise walk again.
		 */
		for (unsigned i = 0; i < n && !restart; i++) {
			uint64_t set = VTD_FS_A | (i == n - 1 && w->write ? VTD_FS_D : 0), cur = pte[i];

			for (unsigned tries = 0; (cur & set) != set; tries++) {
				if (__atomic_compare_exchange_n(hva[i], &cur, cur | set, false, __ATOMIC_SEQ_CST,
								__ATOMIC_RELAXED))
					break;
				if (((cur ^ pte[i]) & VTD_FS_TRANSLATION) || tries == MAX_CAS_TRIES) {
					restart = true;
					break;
				}
			}
			pte[i] = cur | set;
		}
		if (restart)
			continue;

		out->level = level;
		out->page = page;
		out->flags = (rw ? VTD_TLB_W : 0) | (us ? VTD_TLB_U : 0) | ((pte[n - 1] & VTD_FS_D) ? VTD_TLB_D : 0);
		return 0;
	}
	return VTD_FR_AD_UPDATE;
}
