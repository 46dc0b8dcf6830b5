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
 *
 * Nested (PGTT 011b, §3.8): every table address (FSPTPTR and each next-table pointer) and the output
 * are guest-physical, translated by the second stage (vtd-walk-ss.c) of the same PASID entry: the
 * table reads need its R, their A/D updates its W, the output the request's right. Its faults keep
 * their second-stage reasons (0x03-0x0C); the permissions are the AND of both stages.
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

/*
 * Set @set in the entry at @p that was read as *@v, by compare-and-swap. If the guest changed only bits
 * the translation does not depend on, try again on the new value; false if it changed the translation
 * (or kept the qword busy for MAX_CAS_TRIES): the caller must not use what it read.
 */
static bool set_ad(uint64_t *p, uint64_t *v, uint64_t set)
{
	uint64_t cur = *v;

	for (unsigned tries = 0; (cur & set) != set; tries++) {
		if (__atomic_compare_exchange_n(p, &cur, cur | set, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			break;
		if (((cur ^ *v) & VTD_FS_TRANSLATION) || tries == MAX_CAS_TRIES)
			return false;
	}
	*v = cur | set;
	return true;
}

/* The A/D bits the walk sets in entry @i of @n: A everywhere, D in the leaf of a write. */
static uint64_t ad_bits(unsigned i, unsigned n, bool write)
{
	return VTD_FS_A | (i == n - 1 && write ? VTD_FS_D : 0);
}

static bool is_leaf(unsigned level, uint64_t pte)
{
	return level == 1 || (level <= 3 && (pte & VTD_FS_PS));
}

/* Nested translation (§3.8): guest-physical @gpa of the first stage through the second stage. */
static uint8_t s2(struct vtd *vtd, const struct vtd_walk *w, uint64_t gpa, bool write, struct vtd_walk_out *o)
{
	struct vtd_walk s = { .iova = gpa, .fsptptr = w->s2_root, .levels = w->s2_levels, .write = write };

	return vtd_walk__ss(vtd, &s, false, o);
}

/*
 * Host pointer to the first-stage entry at @gpa, or NULL with the fault in *@fr. Nested, the entry's
 * address goes through the second stage first, for a read; *@s2w tells whether the second stage also
 * lets the unit write it (setting A/D is a write, and needs that).
 */
static uint64_t *fs_entry(struct vtd *vtd, const struct vtd_walk *w, uint64_t gpa, bool top, uint8_t *fr, bool *s2w)
{
	struct vtd_walk_out o;
	uint64_t *p;

	*s2w = true;
	if (w->s2_levels) {
		*fr = s2(vtd, w, gpa, false, &o);
		if (*fr)
			return NULL;
		*s2w = o.flags & VTD_TLB_W;
		gpa = o.page | (gpa & ((1ULL << vtd_level_shift(o.level)) - 1));
	}
	p = vtd_qword(vtd, gpa);
	if (!p)
		*fr = top ? VTD_FR_FS_PTR : VTD_FR_FS_ACCESS;
	return p;
}

uint8_t vtd_walk__fs(struct vtd *vtd, const struct vtd_walk *w, struct vtd_walk_out *out)
{
	for (int attempt = 0; attempt < MAX_RESTARTS; attempt++) {
		uint64_t *hva[MAX_LEVELS], pte[MAX_LEVELS], table = w->fsptptr, page, gpa;
		unsigned level = w->levels, n = 0;
		bool rw = true, us = true, restart = false, s2w[MAX_LEVELS];
		struct vtd_walk_out o2 = { 0 };
		uint8_t fr;

		for (;;) {
			unsigned idx = (w->iova >> vtd_level_shift(level)) & 0x1FF;
			uint64_t *p = fs_entry(vtd, w, table + idx * 8, level == w->levels, &fr, &s2w[n]), v;

			if (!p)
				return fr;
			v = __atomic_load_n(p, __ATOMIC_RELAXED);
			if (!(v & VTD_FS_P))
				return VTD_FR_FS_P;
			if (v & rsvd_bits(vtd, level, v))
				return VTD_FR_FS_RSVD;
			rw &= !!(v & VTD_FS_RW);
			us &= !!(v & VTD_FS_US);
			hva[n] = p;
			pte[n++] = v;
			if (is_leaf(level, v))
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
		if (w->s2_levels) {
			/* The output, through the second stage with the request's own right. */
			fr = s2(vtd, w, gpa, w->write, &o2);
			if (fr)
				return fr;
		} else if (gpa >= VTD_INTR_BASE && gpa < VTD_INTR_END) {
			return VTD_FR_INTR_ADDR;
		}

		/*
		 * Accessed in every entry used, dirty in the leaf of a write: atomically, top down. If the
		 * guest changed only bits that do not affect the translation (A/D, ignored bits), retry on
		 * the new value; otherwise walk again. Nested, an entry the second stage does not let the
		 * unit write cannot get its A/D bits: a second-stage write fault.
		 */
		for (unsigned i = 0; i < n; i++)
			if ((pte[i] & ad_bits(i, n, w->write)) != ad_bits(i, n, w->write) && !s2w[i])
				return VTD_FR_SS_WRITE;
		for (unsigned i = 0; i < n && !restart; i++)
			restart = !set_ad(hva[i], &pte[i], ad_bits(i, n, w->write));
		if (restart)
			continue;

		out->level = level;
		out->page = page;
		out->flags = (rw ? VTD_TLB_W : 0) | (us ? VTD_TLB_U : 0) | ((pte[n - 1] & VTD_FS_D) ? VTD_TLB_D : 0);
		if (w->s2_levels) {
			/*
			 * One translation for both stages, of the smaller page: within it both are linear.
			 * Writes need the second stage's W too; where it lacks it, D stays clear so that a
			 * write always walks (and faults) instead of using an entry a read made.
			 */
			unsigned lvl = MIN(level, o2.level);
			uint64_t final = o2.page | (gpa & ((1ULL << vtd_level_shift(o2.level)) - 1));

			out->level = lvl;
			out->page = final & ~((1ULL << vtd_level_shift(lvl)) - 1);
			if (!(o2.flags & VTD_TLB_W))
				out->flags &= ~(VTD_TLB_W | VTD_TLB_D);
			out->flags |= o2.flags & VTD_TLB_NR;
		}
		return 0;
	}
	return VTD_FR_AD_UPDATE;
}

/*
 * Range translation: the pages from @w->iova on, while each one translates exactly as vtd_walk__fs()
 * would and the output continues @gpa. The leaf entries of one table are read in a row, one qword per
 * page, so a long DMA costs a descent per table rather than an IOTLB probe per page. Each page passes
 * the walk's checks (present, reserved bits, the AND of U/S and R/W over its levels, the interrupt
 * range) and gets A (and D for a write) by compare-and-swap before it counts. The entries above the
 * leaf must already have A: setting it is left to the walk, as is everything that is not plainly
 * valid, so the run never records a fault. The caller's next translation of the page where the run
 * stopped does the full walk and reports what is wrong there.
 *
 * Returns how many bytes from @w->iova the run covers (at most @want; 0: none). Terminates on any
 * table contents: each descent is bounded by the levels and covers at least one page or ends the run.
 */
uint64_t vtd_walk__run(struct vtd *vtd, const struct vtd_walk *w, uint64_t gpa, uint64_t want)
{
	uint64_t done = 0;

	while (done < want) {
		uint64_t iova = w->iova + done, table = w->fsptptr, *p, v;
		unsigned level = w->levels, idx;
		bool rw = true, us = true;

		/* Descend to the table holding the leaf for @iova; the upper entries as the walk checks them. */
		for (;;) {
			idx = (iova >> vtd_level_shift(level)) & 0x1FF;
			p = vtd_qword(vtd, table + idx * 8);
			if (!p)
				return done;
			v = __atomic_load_n(p, __ATOMIC_RELAXED);
			if (!(v & VTD_FS_P) || (v & rsvd_bits(vtd, level, v)))
				return done;
			if (is_leaf(level, v))
				break;
			if (!(v & VTD_FS_A))
				return done;
			rw &= !!(v & VTD_FS_RW);
			us &= !!(v & VTD_FS_US);
			table = v & VTD_FS_ADDR;
			level--;
		}

		/* The leaves that follow in this table; a table entry among them means descending again. */
		for (unsigned shift = vtd_level_shift(level);; ) {
			uint64_t size = 1ULL << shift, off = iova & (size - 1), out, seg;
			bool lrw = rw && (v & VTD_FS_RW), lus = us && (v & VTD_FS_US);

			if ((w->user && !lus) || (w->write && !lrw && (w->user || w->wpe)))
				return done;
			out = (v & VTD_FS_ADDR & ~(size - 1)) + off;
			seg = MIN(size - off, want - done);
			if (out != gpa + done || (out < VTD_INTR_END && out + seg > VTD_INTR_BASE))
				return done;
			if (!set_ad(p, &v, VTD_FS_A | (w->write ? VTD_FS_D : 0)))
				return done;
			done += seg;
			iova += seg;
			if (done == want || ++idx == 512)
				break;
			p++;
			v = __atomic_load_n(p, __ATOMIC_RELAXED);
			if (!(v & VTD_FS_P) || (v & rsvd_bits(vtd, level, v)))
				return done;
			if (!is_leaf(level, v))
				break;
		}
	}
	return done;
}
