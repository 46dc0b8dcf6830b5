/*
 * Invalidation fan-out: what each kind of invalidation (register-based or queued) drops from the
 * caches, and the passthrough hooks of vtd.h that it drives (§4.3, §5.3 steps 11 and 12).
 *
 *  - context-cache: device-selective drops the context entry and every PASID entry cached for the
 *    source-id(s) (this also covers guests that forget the PASID-cache flush after a context flush);
 *    domain-selective drops everything, as scalable-mode context entries carry no DID;
 *  - PASID-cache: global, by DID, or by (DID, PASID);
 *  - IOTLB (type 2 / IOTLB_REG): global or by DID. Page-selective drops the whole DID too: the spec
 *    has type-2 invalidations cover first-stage mappings of the domain wholesale;
 *  - PASID-based IOTLB: by (DID, PASID), or page-selective within it.
 * IOTLB invalidations reach passthrough devices through iotlb_invalidate(); within a queued run they
 * may be held and sent as one batch (iotlb_flush(), issue 13.3), never past a wait descriptor.
 * After context/PASID-cache invalidations, SRTP and TE toggles, every watched device's binding is
 * recomputed (through the caches, so an entry the guest changed but did not invalidate stays in
 * effect, as in hardware) and reported if it changed, or if the device failed to follow it last time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iommu/vtd-priv.h"

static void binding_of(struct vtd *vtd, uint16_t sid, struct vtd_binding *b)
{
	uint32_t mode = __atomic_load_n(&vtd->mode, __ATOMIC_ACQUIRE);
	uint64_t inv = vtd_cache__inv_seq(&vtd->caches);
	struct vtd_pasid_snap ps;
	bool fpd;

	memset(b, 0, sizeof(*b));
	if (mode == VTD_MODE_OFF) {
		b->kind = VTD_BIND_UNTRANSLATED;
		return;
	}
	b->kind = VTD_BIND_BLOCKED;
	if (mode != VTD_MODE_SM)
		return;
	if (!vtd_pc__lookup(&vtd->caches, sid, false, 0, &ps)) {
		if (vtd_tables__lookup(vtd, inv, sid, false, 0, &ps, &fpd))
			return;
		vtd_pc__insert(vtd, inv, sid, false, 0, &ps);
	}
	b->did = ps.did;
	b->pasid = ps.pasid;
	if (ps.pgtt == VTD_PGTT_PT) {
		b->kind = VTD_BIND_PASSTHROUGH;
		return;
	}
	/* A host device can follow first-stage tables (nested on the host), not second-stage ones. */
	if (ps.pgtt != VTD_PGTT_FS)
		return;
	b->kind = VTD_BIND_FIRST_STAGE;
	b->fsptptr = ps.fsptptr;
	b->addr_width = (ps.flags & VTD_PS_5LVL) ? 57 : 48;
	b->sre = ps.flags & VTD_PS_SRE;
	b->wpe = ps.flags & VTD_PS_WPE;
}

void vtd_inv__flush_locked(struct vtd *vtd)
{
	for (int i = 0; i < vtd->nr_watch; i++)
		if (vtd->watch[i].ops->iotlb_flush)
			vtd->watch[i].ops->iotlb_flush(vtd->watch[i].opaque);
}

/* Held invalidations go first: they are for the stage-1 tables a binding change may replace. */
static void reevaluate(struct vtd *vtd)
{
	vtd_inv__flush_locked(vtd);
	for (int i = 0; i < vtd->nr_watch; i++) {
		struct vtd_watch *w = &vtd->watch[i];
		struct vtd_binding b;

		binding_of(vtd, w->sid, &b);
		if (memcmp(&b, &w->cur, sizeof(b)) || w->retry) {
			w->cur = b;
			w->retry = w->ops->binding_changed && w->ops->binding_changed(w->opaque, &b);
		}
	}
}

static void notify_iotlb(struct vtd *vtd, bool any_did, uint16_t did, bool any_pasid, uint32_t pasid,
			 uint64_t addr, uint64_t npages, bool leaf)
{
	for (int i = 0; i < vtd->nr_watch; i++) {
		struct vtd_watch *w = &vtd->watch[i];

		if (w->cur.kind != VTD_BIND_FIRST_STAGE || !w->ops->iotlb_invalidate)
			continue;
		if ((any_did || w->cur.did == did) && (any_pasid || w->cur.pasid == pasid))
			w->ops->iotlb_invalidate(w->opaque, w->cur.did, w->cur.pasid, addr, npages, leaf);
	}
	if (!vtd->inv_batch)
		vtd_inv__flush_locked(vtd);
}

void vtd_inv__all_locked(struct vtd *vtd)
{
	vtd_cache__flush_all(vtd);
	reevaluate(vtd);
}

void vtd_inv__context_locked(struct vtd *vtd, unsigned g, uint16_t sid, unsigned fm)
{
	if (g == VTD_INV_PAGE)
		vtd_ctx_cache__flush_sid(vtd, sid, fm);
	else
		vtd_ctx_cache__flush_all(vtd);
	reevaluate(vtd);
}

void vtd_inv__pasid_cache_locked(struct vtd *vtd, unsigned g, uint16_t did, uint32_t pasid)
{
	if (g == VTD_PC_G_GLOBAL)
		vtd_pc__flush(vtd, 0, 0, 0);
	else if (g == VTD_PC_G_DOMAIN)
		vtd_pc__flush(vtd, VTD_PC_MATCH_DID, did, 0);
	else
		vtd_pc__flush(vtd, VTD_PC_MATCH_DID | VTD_PC_MATCH_PASID, did, pasid);
	reevaluate(vtd);
}

void vtd_inv__iotlb_locked(struct vtd *vtd, unsigned g, uint16_t did)
{
	if (g == VTD_INV_GLOBAL)
		vtd_iotlb__flush_all(vtd);
	else
		vtd_iotlb__flush_did(vtd, did);
	notify_iotlb(vtd, g == VTD_INV_GLOBAL, did, true, 0, 0, UINT64_MAX, false);
}

void vtd_inv__piotlb_locked(struct vtd *vtd, unsigned g, uint16_t did, uint32_t pasid, uint64_t addr,
			    unsigned am, bool ih)
{
	if (g == VTD_PIOTLB_G_PAGE) {
		uint64_t size = 1ULL << (12 + am);

		vtd_iotlb__flush_range(vtd, did, pasid, addr, am);
		notify_iotlb(vtd, false, did, false, pasid, addr & ~(size - 1), 1ULL << am, ih);
	} else {
		vtd_iotlb__flush_pasid(vtd, did, pasid);
		notify_iotlb(vtd, false, did, false, pasid, 0, UINT64_MAX, false);
	}
}

int vtd__watch_device(struct vtd *vtd, uint16_t sid, const struct vtd_dev_ops *ops, void *opaque)
{
	struct vtd_watch *w;

	vtd_lock(vtd);
	for (int i = 0; i < vtd->nr_watch; i++) {
		if (vtd->watch[i].sid == sid) {
			vtd_unlock(vtd);
			return -EEXIST;
		}
	}
	w = realloc(vtd->watch, (vtd->nr_watch + 1) * sizeof(*w));
	if (!w) {
		vtd_unlock(vtd);
		return -ENOMEM;
	}
	vtd->watch = w;
	w = &vtd->watch[vtd->nr_watch++];
	w->sid = sid;
	w->ops = ops;
	w->opaque = opaque;
	binding_of(vtd, sid, &w->cur);
	w->retry = ops->binding_changed && ops->binding_changed(opaque, &w->cur);
	vtd_unlock(vtd);
	return 0;
}

void vtd__unwatch_device(struct vtd *vtd, uint16_t sid)
{
	vtd_lock(vtd);
	for (int i = 0; i < vtd->nr_watch; i++) {
		if (vtd->watch[i].sid == sid) {
			vtd->watch[i] = vtd->watch[--vtd->nr_watch];
			break;
		}
	}
	vtd_unlock(vtd);
}

void vtd_watch__free(struct vtd *vtd)
{
	free(vtd->watch);
	vtd->watch = NULL;
	vtd->nr_watch = 0;
}
