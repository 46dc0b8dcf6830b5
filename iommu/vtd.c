/*
 * The VT-d unit: creation, capabilities, and translate(), the DMA hot path (vmm/dma.h).
 *
 * translate(): first a per-thread L0 of recent translations (below); then the shared caches: the
 * mode, a PASID-cache probe, an IOTLB probe, a permission check; no lock, no write to shared memory
 * (but the CLOCK bit of a cold entry). Anything else (miss, fault, pass-through, a write to a clean
 * page, a page overlapping the interrupt range) goes to translate_slow(), which resolves the tables,
 * walks, records faults and fills the caches.
 *
 * A walk may race with an invalidation: it reads the invalidation sequence before touching guest
 * tables and only inserts if no invalidation happened meanwhile, so nothing stale survives one.
 */
#include <errno.h>
#include <stdlib.h>

#include "iommu/vtd-priv.h"
#include "vmm/log.h"

void vtd_lock(struct vtd *vtd)
{
	pthread_mutex_lock(&vtd->lock);
}

void vtd_unlock(struct vtd *vtd)
{
	uint64_t addr[VTD_MAX_PENDING_MSI];
	uint32_t data[VTD_MAX_PENDING_MSI];
	int n = vtd->nr_msi;

	for (int i = 0; i < n; i++) {
		addr[i] = vtd->msi_addr[i];
		data[i] = vtd->msi_data[i];
	}
	vtd->nr_msi = 0;
	pthread_mutex_unlock(&vtd->lock);
	for (int i = 0; i < n; i++)
		if (vtd->msi)
			vtd->msi(vtd->msi_opaque, addr[i], data[i]);
}

#ifdef VTD_DEBUG_READS
/* Fuzzing builds: prove that every guest-table access lands inside a RAM region's host mapping. */
void vtd_debug_check_read(const struct vtd *vtd, uint64_t gpa, const void *hva, uint64_t len)
{
	if (!hva)
		return;
	for (int i = 0; i < vtd->mem->nr; i++) {
		const struct mem_region *r = &vtd->mem->r[i];

		if (gpa >= r->gpa && gpa - r->gpa <= r->size - len && (const uint8_t *)hva == r->hva + (gpa - r->gpa))
			return;
	}
	abort();
}
#endif

static bool canonical(uint64_t iova, unsigned levels)
{
	unsigned unused = 64 - (levels == 5 ? 57 : 48);

	return (uint64_t)((int64_t)(iova << unused) >> unused) == iova;
}

/* Requests without PASID take their privilege from the context entry's RID_PRIV. */
static bool user_request(const struct dma_attrs *a, const struct vtd_pasid_snap *ps)
{
	return a->has_pasid ? !a->priv : !(ps->flags & VTD_PS_RID_PRIV);
}

/* May a request use a cached translation? (the walk's rules, vtd-walk.c, on the summary bits) */
static inline bool perm_ok(uint64_t out, bool user, bool write, uint8_t psflags)
{
	if (user && !(out & VTD_TLB_U))
		return false;
	if (!user && !(psflags & VTD_PS_SRE))
		return false;
	if (write && !(out & VTD_TLB_D))
		return false;	/* walk again to set D */
	if (!write && (out & VTD_TLB_NR))
		return false;	/* a write-only second-stage page: the walk faults the read */
	if (write && !(out & VTD_TLB_W) && (user || (psflags & VTD_PS_WPE)))
		return false;
	return true;
}

/* Output for @iova in page @page of 2^@shift bytes, stopping short of the interrupt range. */
static void output(uint64_t page, unsigned shift, uint64_t iova, uint64_t *gpa, uint64_t *len)
{
	uint64_t off = iova & ((1ULL << shift) - 1), g = page + off, l = (1ULL << shift) - off;

	if (g < VTD_INTR_BASE && l > VTD_INTR_BASE - g)
		l = VTD_INTR_BASE - g;
	*gpa = g;
	*len = l;
}

/*
 * L0: a few recent translations per thread, in front of the shared caches. An entry is usable only
 * while the unit's invalidation sequence has not moved since it was filled, so every invalidation
 * (and SRTP, TE, reset) empties the L0 of every thread at once. Filled only from IOTLB hits and
 * successful walks, never for pages that overlap the interrupt range.
 */
struct vtd_l0 {
	uint64_t id;		/* vtd->id: units are created and freed, pointers get reused */
	uint64_t inv;
	uint64_t key;		/* vtd_pc_key(sid, has_pasid, pasid) */
	uint64_t vpn;		/* iova >> 12 */
	uint64_t out;		/* output page | VTD_TLB_* */
	uint8_t shift;
	uint8_t psflags;
};
#define VTD_L0_SIZE 16
static __thread struct vtd_l0 vtd_l0[VTD_L0_SIZE];
static uint64_t vtd_next_id;

static void l0_fill(const struct vtd *vtd, uint64_t inv, uint64_t key, uint64_t iova, uint64_t out,
		    unsigned level, uint8_t psflags)
{
	struct vtd_l0 *e = &vtd_l0[(iova >> 12) & (VTD_L0_SIZE - 1)];

	if (out & VTD_TLB_INTR)
		return;
	e->id = vtd->id;
	e->inv = inv;
	e->key = key;
	e->vpn = iova >> 12;
	e->out = out;
	e->shift = vtd_level_shift(level);
	e->psflags = psflags;
}

static int translate_slow(struct vtd *vtd, uint64_t inv, uint16_t sid, const struct dma_attrs *a, uint64_t iova,
			  bool write, uint64_t *gpa, uint64_t *len)
{
	uint32_t pasid = a->has_pasid ? a->pasid : 0;
	struct vtd_req req = {
		.iova = iova, .pasid = pasid, .sid = sid, .has_pasid = a->has_pasid,
		.priv = a->has_pasid && a->priv, .write = write,
	};
	struct vtd_pasid_snap ps;
	struct vtd_walk_out wo;
	struct vtd_walk w;
	bool fpd = false, user, legacy = false;
	uint8_t fr;
	uint64_t out;

	switch (__atomic_load_n(&vtd->mode, __ATOMIC_ACQUIRE)) {
	case VTD_MODE_OFF:
		*gpa = iova;
		*len = iova ? 0 - iova : UINT64_MAX;
		return 0;
	case VTD_MODE_SM:
		break;
	case VTD_MODE_LEGACY:
		/* No PASIDs in legacy mode: a request with one is the spec's own fault. */
		if (a->has_pasid)
			return vtd_fault__report(vtd, &req, VTD_FR_SM_TTM0_PASID, false);
		legacy = true;
		break;
	default:
		return vtd_fault__report(vtd, &req, VTD_FR_SM_RTA, false);
	}

	if (!vtd_pc__lookup(&vtd->caches, sid, a->has_pasid, pasid, &ps)) {
		fr = legacy ? vtd_legacy__lookup(vtd, inv, sid, &ps, &fpd)
			    : vtd_tables__lookup(vtd, inv, sid, a->has_pasid, pasid, &ps, &fpd);
		if (fr)
			return vtd_fault__report(vtd, &req, fr, fpd);
		vtd_pc__insert(vtd, inv, sid, a->has_pasid, pasid, &ps);
	}
	fpd = ps.flags & VTD_PS_FPD;
	user = user_request(a, &ps);
	/* Supervisor requests need SRE (first stage and pass-through); the second stage has no privilege. */
	if (!user && ps.pgtt != VTD_PGTT_SS && !(ps.flags & VTD_PS_SRE))
		return vtd_fault__report(vtd, &req, VTD_FR_SM_SRE, fpd);

	if (ps.pgtt == VTD_PGTT_PT) {
		/* Identity, up to the interrupt range or the host address width. */
		if (iova >= 1ULL << VTD_HAW)
			return vtd_fault__report(vtd, &req, legacy ? VTD_FR_ADDR_WIDTH : VTD_FR_MGAW, fpd);
		if (iova >= VTD_INTR_BASE && iova < VTD_INTR_END)
			return vtd_fault__report(vtd, &req, legacy ? VTD_FR_INTR_LEGACY : VTD_FR_INTR_ADDR, fpd);
		*gpa = iova;
		*len = (iova < VTD_INTR_BASE ? VTD_INTR_BASE : 1ULL << VTD_HAW) - iova;
		return 0;
	}

	w.iova = iova;
	w.fsptptr = ps.fsptptr;
	w.write = write;
	w.user = user;
	w.wpe = ps.flags & VTD_PS_WPE;
	w.s2_root = ps.ssptptr;
	w.s2_levels = ps.pgtt == VTD_PGTT_NESTED ? ((ps.flags & VTD_PS_SS3) ? 3 : 4) : 0;
	if (ps.pgtt == VTD_PGTT_SS) {
		w.levels = (ps.flags & VTD_PS_SS3) ? 3 : 4;
	} else {
		w.levels = (ps.flags & VTD_PS_5LVL) ? 5 : 4;
		if (!canonical(iova, w.levels))
			return vtd_fault__report(vtd, &req, VTD_FR_NON_CANONICAL, fpd);
	}
	/* The PASID entry was not cached, but the translation may be. */
	if (!vtd_iotlb__lookup(&vtd->caches.tlb, ps.did, ps.pasid, iova, &out, &wo.level) ||
	    !perm_ok(out, user, write, ps.flags) || (out & VTD_TLB_INTR)) {
		fr = ps.pgtt == VTD_PGTT_SS ? vtd_walk__ss(vtd, &w, legacy, &wo) : vtd_walk__fs(vtd, &w, &wo);
		if (fr)
			return vtd_fault__report(vtd, &req, fr, fpd);
		out = wo.page | wo.flags;
		if (wo.page < VTD_INTR_END && wo.page + (1ULL << vtd_level_shift(wo.level)) > VTD_INTR_BASE)
			out |= VTD_TLB_INTR;
		vtd_iotlb__insert(vtd, inv, ps.did, ps.pasid, iova, wo.level, out);
	}
	output(out & ~VTD_TLB_FLAGS, vtd_level_shift(wo.level), iova, gpa, len);
	l0_fill(vtd, inv, vtd_pc_key(sid, a->has_pasid, pasid), iova, out, wo.level, ps.flags);
	return 0;
}

static int vtd_translate(void *opaque, uint16_t sid, const struct dma_attrs *attrs, uint64_t iova,
			 enum dma_dir dir, uint64_t *gpa, uint64_t *len)
{
	struct vtd *vtd = opaque;
	uint64_t inv = vtd_cache__inv_seq(&vtd->caches), out;
	uint64_t key = vtd_pc_key(sid, attrs->has_pasid, attrs->has_pasid ? attrs->pasid : 0);
	const struct vtd_l0 *e = &vtd_l0[(iova >> 12) & (VTD_L0_SIZE - 1)];
	bool write = dir == DMA_WRITE;
	struct vtd_pasid_snap ps;
	unsigned level;
	uint32_t mode;

	if (likely(e->id == vtd->id && e->inv == inv && e->key == key && e->vpn == iova >> 12) &&
	    likely(perm_ok(e->out, user_request(attrs, &(struct vtd_pasid_snap){ .flags = e->psflags }), write,
			   e->psflags))) {
		uint64_t off = iova & ((1ULL << e->shift) - 1);

		*gpa = (e->out & ~VTD_TLB_FLAGS) + off;
		*len = (1ULL << e->shift) - off;
		return 0;
	}
	/*
	 * A non-canonical address cannot hit: entries are keyed by the whole input address. Legacy mode
	 * has only entries without PASID in the PASID cache, made from its context entries. Every PGTT
	 * but pass-through (first, second stage, nested) has its translations in the IOTLB.
	 */
	mode = __atomic_load_n(&vtd->mode, __ATOMIC_ACQUIRE);
	if (likely(mode == VTD_MODE_SM || mode == VTD_MODE_LEGACY) &&
	    likely(vtd_pc__lookup(&vtd->caches, sid, attrs->has_pasid, attrs->has_pasid ? attrs->pasid : 0, &ps)) &&
	    likely(ps.pgtt != VTD_PGTT_PT) &&
	    vtd_iotlb__lookup(&vtd->caches.tlb, ps.did, ps.pasid, iova, &out, &level) &&
	    likely(perm_ok(out, user_request(attrs, &ps), write, ps.flags)) &&
	    likely(!(out & VTD_TLB_INTR))) {
		output(out & ~VTD_TLB_FLAGS, vtd_level_shift(level), iova, gpa, len);
		l0_fill(vtd, inv, key, iova, out, level, ps.flags);
		return 0;
	}
	return translate_slow(vtd, inv, sid, attrs, iova, write, gpa, len);
}

/*
 * translate_run(): the first page as translate() does it (caches, faults), then the pages after it
 * straight from the first-stage tables (vtd_walk__run) while their output stays contiguous. Runs stay
 * in the lower canonical half, so the IOVA never wraps and never becomes non-canonical. They read
 * the tables, not the IOTLB: a walk is always allowed to see the guest's current entries, and what
 * the IOTLB would add (entries the guest changed without invalidating yet) only ends a run early.
 */
static int vtd_translate_run(void *opaque, uint16_t sid, const struct dma_attrs *attrs, uint64_t iova,
			     uint64_t want, enum dma_dir dir, uint64_t *gpa, uint64_t *len)
{
	struct vtd *vtd = opaque;
	struct vtd_pasid_snap ps;
	struct vtd_walk w = { 0 };
	uint64_t lim;
	int ret = vtd_translate(opaque, sid, attrs, iova, dir, gpa, len);

	if (ret || *len >= want)
		return ret;
	if (__atomic_load_n(&vtd->mode, __ATOMIC_ACQUIRE) != VTD_MODE_SM ||
	    !vtd_pc__lookup(&vtd->caches, sid, attrs->has_pasid, attrs->has_pasid ? attrs->pasid : 0, &ps) ||
	    ps.pgtt != VTD_PGTT_FS)
		return 0;
	w.iova = iova + *len;
	w.fsptptr = ps.fsptptr;
	w.levels = (ps.flags & VTD_PS_5LVL) ? 5 : 4;
	w.write = dir == DMA_WRITE;
	w.user = user_request(attrs, &ps);
	w.wpe = ps.flags & VTD_PS_WPE;
	lim = 1ULL << (w.levels == 5 ? 56 : 47);
	if (w.iova >= lim)
		return 0;
	*len += vtd_walk__run(vtd, &w, *gpa + *len, MIN(want - *len, lim - w.iova));
	return 0;
}

const struct dma_translator *vtd__translator(struct vtd *vtd)
{
	return &vtd->xlate;
}

/* CAP/ECAP depend on the options only (§1.3, §9), never on the host. */
static void init_caps(struct vtd *vtd)
{
	/* SAGAW and SLLPS: the second stage of legacy mode (always) and of --viommu slts. */
	vtd->cap = VTD_CAP_ND(6) | VTD_CAP_CM | VTD_CAP_SAGAW_39 | VTD_CAP_SAGAW_48 |
		   VTD_CAP_MGAW(vtd->opt.fs5lp ? 57 : 48) | VTD_CAP_FRO(VTD_FRCD_REG) | VTD_CAP_PSI |
		   VTD_CAP_SLLPS_2M | VTD_CAP_SLLPS_1G |
		   VTD_CAP_NFR(VTD_NR_FRCD) | VTD_CAP_MAMV(VTD_MAMV) | VTD_CAP_DWD | VTD_CAP_DRD | VTD_CAP_ESRTPS;
	/*
	 * CM (caching mode): the guest then invalidates after making entries present too, which is what
	 * lets a passed-through device follow its PASID entries. --viommu slts takes no passthrough, and
	 * the unit never caches not-present entries: without CM a second-stage guest skips an
	 * invalidation per map (Linux flushes on map only for second-stage domains with CM).
	 */
	if (vtd->opt.slts)
		vtd->cap &= ~VTD_CAP_CM;
	if (vtd->opt.fs1gp && !vtd->opt.slts)
		vtd->cap |= VTD_CAP_FS1GP;
	if (vtd->opt.fs5lp && !vtd->opt.slts)
		vtd->cap |= VTD_CAP_FS5LP;
	/*
	 * C and SMPWC: the model reads guest tables straight from RAM, so walks are coherent and the guest
	 * can skip cache flushes. SRS: supervisor requests (SRE/WPE) are implemented.
	 */
	vtd->ecap = VTD_ECAP_C | VTD_ECAP_QI | VTD_ECAP_PT | VTD_ECAP_IRO(VTD_IVA_REG) | VTD_ECAP_SRS |
		    VTD_ECAP_PSS(VTD_PASID_BITS) | VTD_ECAP_PASID | VTD_ECAP_SMTS | VTD_ECAP_SMPWC |
		    (vtd->opt.slts ? VTD_ECAP_SSTS : VTD_ECAP_FSTS);
	if (vtd->opt.nested)
		vtd->ecap |= VTD_ECAP_SSTS | VTD_ECAP_NEST;
	/* Interrupt remapping: x2APIC destinations always (EIM), and SIRTP flushes the IEC (ESIRTPS). */
	if (vtd->opt.ir) {
		vtd->ecap |= VTD_ECAP_IR | VTD_ECAP_EIM | VTD_ECAP_MHMV(VTD_IR_MHMV);
		vtd->cap |= VTD_CAP_ESIRTPS;
	}
}

struct vtd *vtd__create(struct guest_mem *mem, const struct vtd_options *opt, vtd_msi_fn msi, void *opaque)
{
	static const struct vtd_options defaults = { .fs1gp = true };
	struct vtd *vtd = calloc(1, sizeof(*vtd));

	if (!vtd)
		return NULL;
	vtd->mem = mem;
	vtd->opt = opt ? *opt : defaults;
	vtd->msi = msi;
	vtd->msi_opaque = opaque;
	if (vtd_cache__init(&vtd->caches, vtd->opt.iotlb_entries)) {
		free(vtd);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&vtd->lock, NULL);
	pthread_mutex_init(&vtd->cache_lock, NULL);
	init_caps(vtd);
	vtd_ir__init(vtd);
	vtd->id = __atomic_add_fetch(&vtd_next_id, 1, __ATOMIC_RELAXED);
	vtd->xlate.translate = vtd_translate;
	vtd->xlate.translate_run = vtd_translate_run;
	vtd->xlate.opaque = vtd;
	vtd__reset(vtd);
	return vtd;
}

void vtd__reset(struct vtd *vtd)
{
	vtd_lock(vtd);
	vtd_regs__reset(vtd);
	__atomic_store_n(&vtd->root, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&vtd->mode, VTD_MODE_OFF, __ATOMIC_RELEASE);
	vtd->ttm = 0;
	vtd->iqa = 0;
	vtd_fault__reset_locked(vtd);
	vtd_inv__all_locked(vtd);
	vtd_ir__reset_locked(vtd);
	vtd_unlock(vtd);
}

void vtd__destroy(struct vtd *vtd)
{
	if (!vtd)
		return;
	pr_info("vtd: stats: %llu register reads, %llu writes; queued invalidations: %llu context, %llu IOTLB, "
		"%llu PASID-IOTLB, %llu PASID cache, %llu IEC, %llu wait", (unsigned long long)vtd->stat_reg_reads,
		(unsigned long long)vtd->stat_reg_writes, (unsigned long long)vtd->stat_desc[VTD_DESC_CC],
		(unsigned long long)vtd->stat_desc[VTD_DESC_IOTLB], (unsigned long long)vtd->stat_desc[VTD_DESC_PIOTLB],
		(unsigned long long)vtd->stat_desc[VTD_DESC_PC], (unsigned long long)vtd->stat_desc[VTD_DESC_IEC],
		(unsigned long long)vtd->stat_desc[VTD_DESC_WAIT]);
	vtd_watch__free(vtd);
	vtd_cache__exit(&vtd->caches);
	vtd_ir__exit(vtd);
	pthread_mutex_destroy(&vtd->cache_lock);
	pthread_mutex_destroy(&vtd->lock);
	free(vtd);
}
