/*
 * Translation caches of the VT-d model and their lock-free readers (the writers are in vtd-cache.c).
 *
 *  - context cache: direct-mapped by source-id, holds validated scalable-mode context entries;
 *  - PASID cache: direct-mapped by (source-id, PASID), holds the decoded PASID entry a request uses;
 *  - IOTLB: first-stage translations keyed by (DID, PASID, page, level), one preallocated array of
 *    entries chained in hash buckets, plus per-DID and per-(DID, PASID) lists so that invalidations
 *    cost what they match; CLOCK replacement when full.
 *
 * Readers never lock. Every slot and IOTLB bucket is a seqlock (odd sequence = being written); readers
 * copy what they need, then check the sequence did not move. A generation number drops a whole cache
 * at once: slots and buckets of an older generation read as empty. Only successful lookups are cached.
 * In front of all this, vtd.c keeps a per-thread L0 of recent translations, valid while inv_seq stays
 * the same. Every invalidation bumps inv_seq once, at its end, after removing the entries and still
 * under cache_lock: a translation that read the new value can no longer find what was invalidated, so
 * nothing it saves under that value is stale; what was saved under an older value (L0 entries,
 * inserts of walks that began before) is void (vtd-cache.c: inv_done_unlock()).
 */
#ifndef MINIVMM_VTD_CACHE_H
#define MINIVMM_VTD_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/util.h"

/* A decoded PASID entry plus the context-entry bits a request needs (PASID-cache payload). */
struct vtd_pasid_snap {
	uint64_t fsptptr;	/* first-stage root, or the second-stage root for PGTT_SS */
	uint64_t ssptptr;	/* PGTT_NESTED: the second-stage root under the first stage */
	uint32_t pasid;		/* the PASID actually used (RID_PASID for requests without PASID) */
	uint16_t did;
	uint8_t pgtt;		/* VTD_PGTT_FS, VTD_PGTT_SS or VTD_PGTT_PT */
	uint8_t flags;		/* VTD_PS_* */
};
#define VTD_PS_SRE	BIT(0)
#define VTD_PS_WPE	BIT(1)
#define VTD_PS_FPD	BIT(2)	/* fault processing disabled by the context, directory or PASID entry */
#define VTD_PS_5LVL	BIT(3)
#define VTD_PS_RID_PRIV	BIT(4)	/* requests without PASID are supervisor requests */
#define VTD_PS_SS3	BIT(5)	/* PGTT_SS / NESTED: 3-level second stage (AGAW 39), else 4-level */

/* IOTLB output flags, kept in the low bits of the (4 KiB-aligned) output address. */
#define VTD_TLB_W	BIT(0)	/* R/W = 1 at every level */
#define VTD_TLB_U	BIT(1)	/* U/S = 1 at every level */
#define VTD_TLB_D	BIT(2)	/* the leaf's D bit is set: writes need no walk */
#define VTD_TLB_INTR	BIT(3)	/* the page overlaps the interrupt range: check each address */
#define VTD_TLB_NR	BIT(4)	/* second stage: R = 0 somewhere (a write-only page): reads walk, and fault */
#define VTD_TLB_FLAGS	0xFFFULL

#define VTD_CTX_SLOTS	256
#define VTD_PC_SLOTS	1024

struct vtd_slot {
	uint32_t seq;
	uint32_t gen;
	uint64_t key;		/* 0 = empty */
	uint64_t w0, w1, w2;
};

struct vtd_tlb_entry {
	uint64_t tag;		/* VTD_TLB_TAG(did, pasid, level); 0 = unused */
	uint64_t vpn;		/* input address >> page shift */
	uint64_t out;		/* output page | VTD_TLB_* */
	int32_t next;		/* bucket chain, -1 ends */
	uint32_t gen;
	int32_t dnext, dprev;	/* per-DID list */
	int32_t pnext, pprev;	/* per-(DID, PASID) list */
	uint32_t bucket;
	uint8_t ref;		/* CLOCK reference bit */
};

struct vtd_tlb_bucket {
	uint32_t seq;
	uint32_t gen;
	int32_t head;
	uint32_t pad;
};

struct vtd_tlb_list {
	int32_t first;
	uint32_t gen;
	uint32_t count;
};

struct vtd_iotlb {
	struct vtd_tlb_entry *e;
	struct vtd_tlb_bucket *b;
	struct vtd_tlb_list *dl, *pl;
	uint32_t emask, bmask, lmask;	/* sizes - 1 (powers of two) */
	uint32_t hand;			/* CLOCK hand */
	uint32_t gen;
	uint32_t nr_level[4];		/* live entries per page size (index = level) */
	uint32_t nr_live;
};

struct vtd_caches {
	uint64_t inv_seq;		/* bumped at the end of every invalidation (see above) */
	uint32_t ctx_gen, pc_gen;
	struct vtd_slot ctx[VTD_CTX_SLOTS];
	struct vtd_slot pc[VTD_PC_SLOTS];
	struct vtd_iotlb tlb;
};

#define VTD_TLB_TAG(did, pasid, level) \
	(BIT(63) | (uint64_t)(did) | (uint64_t)(pasid) << 16 | (uint64_t)(level) << 36)

/* Page shift of a translation at @level: 12 (4 KiB), 21 (2 MiB), 30 (1 GiB). */
static inline unsigned vtd_level_shift(unsigned level)
{
	return 12 + 9 * (level - 1);
}

static inline uint64_t vtd_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xFF51AFD7ED558CCDULL;
	x ^= x >> 33;
	return x;
}

/* Bucket hash: two independent multiplies (short dependency chain on the hit path). */
static inline uint32_t vtd_tlb_hash(uint64_t tag, uint64_t vpn)
{
	return (uint32_t)((vpn * 0x9E3779B97F4A7C15ULL ^ tag * 0xC2B2AE3D27D4EB4FULL) >> 29);
}

static inline unsigned vtd_ctx_slot(uint16_t sid)
{
	return (sid ^ (sid >> 8) * 37) & (VTD_CTX_SLOTS - 1);
}

static inline uint64_t vtd_pc_key(uint16_t sid, bool has_pasid, uint32_t pasid)
{
	return BIT(63) | (uint64_t)has_pasid << 62 | (uint64_t)pasid << 16 | sid;
}

static inline unsigned vtd_pc_slot(uint64_t key)
{
	return (unsigned)((key * 0x9E3779B97F4A7C15ULL) >> 40) & (VTD_PC_SLOTS - 1);
}

static inline uint32_t vtd_load32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}
static inline uint64_t vtd_load64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Seqlock read of a direct-mapped slot: true and the payload if it holds @key in generation @gen. */
static inline __attribute__((always_inline)) bool vtd_slot_read(const struct vtd_slot *s, uint32_t gen, uint64_t key, uint64_t *w0,
				 uint64_t *w1, uint64_t *w2)
{
	uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
	uint64_t k = vtd_load64(&s->key);
	uint32_t g = vtd_load32(&s->gen);

	*w0 = vtd_load64(&s->w0);
	*w1 = vtd_load64(&s->w1);
	*w2 = vtd_load64(&s->w2);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return !(seq & 1) && vtd_load32(&s->seq) == seq && k == key && g == gen;
}

static inline void vtd_ps_unpack(struct vtd_pasid_snap *ps, uint64_t w0, uint64_t w1, uint64_t w2)
{
	ps->fsptptr = w0 & ~0xFFFULL;
	ps->ssptptr = w2;
	ps->flags = (uint8_t)(w0 & 0xFF);
	ps->did = (uint16_t)w1;
	ps->pasid = (uint32_t)(w1 >> 16) & 0xFFFFF;
	ps->pgtt = (uint8_t)(w1 >> 36) & 7;
}

static inline __attribute__((always_inline)) bool vtd_pc__lookup(struct vtd_caches *c, uint16_t sid, bool has_pasid, uint32_t pasid,
				  struct vtd_pasid_snap *ps)
{
	uint64_t key = vtd_pc_key(sid, has_pasid, pasid), w0, w1, w2;

	if (!vtd_slot_read(&c->pc[vtd_pc_slot(key)], vtd_load32(&c->pc_gen), key, &w0, &w1, &w2))
		return false;
	vtd_ps_unpack(ps, w0, w1, w2);
	return true;
}

/*
 * IOTLB lookup for @iova in (did, pasid): true with the output page | flags and the level. Probes the
 * page sizes that have entries, smallest first. A miss is always safe (the caller walks).
 */
static inline __attribute__((always_inline)) bool vtd_iotlb__lookup(struct vtd_iotlb *t, uint16_t did, uint32_t pasid, uint64_t iova,
				     uint64_t *out, unsigned *level)
{
	uint32_t gen = __atomic_load_n(&t->gen, __ATOMIC_ACQUIRE);

	for (unsigned lvl = 1; lvl <= 3; lvl++) {
		uint64_t tag, vpn, found = 0;
		const struct vtd_tlb_bucket *b;
		struct vtd_tlb_entry *hit = NULL;
		uint32_t seq;
		int32_t i;

		if (!vtd_load32(&t->nr_level[lvl]))
			continue;
		tag = VTD_TLB_TAG(did, pasid, lvl);
		vpn = iova >> vtd_level_shift(lvl);
		b = &t->b[vtd_tlb_hash(tag, vpn) & t->bmask];
		seq = __atomic_load_n(&b->seq, __ATOMIC_ACQUIRE);
		if (seq & 1 || vtd_load32(&b->gen) != gen)
			continue;
		i = __atomic_load_n(&b->head, __ATOMIC_RELAXED);
		/* A racing writer can leave any index here: bound it and the chain length. */
		for (int n = 0; i >= 0 && (uint32_t)i <= t->emask && n < 16; n++) {
			struct vtd_tlb_entry *e = &t->e[i];

			if (vtd_load64(&e->tag) == tag && vtd_load64(&e->vpn) == vpn) {
				found = vtd_load64(&e->out);
				hit = e;
				break;
			}
			i = __atomic_load_n(&e->next, __ATOMIC_RELAXED);
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (vtd_load32(&b->seq) != seq || vtd_load32(&t->gen) != gen)
			return false;
		if (hit) {
			if (!__atomic_load_n(&hit->ref, __ATOMIC_RELAXED))
				__atomic_store_n(&hit->ref, 1, __ATOMIC_RELAXED);
			*out = found;
			*level = lvl;
			return true;
		}
	}
	return false;
}

/* ---- writers (vtd-cache.c); all take the cache lock themselves ---- */
struct vtd;
int vtd_cache__init(struct vtd_caches *c, unsigned iotlb_entries);
void vtd_cache__exit(struct vtd_caches *c);
static inline uint64_t vtd_cache__inv_seq(struct vtd_caches *c)
{
	return __atomic_load_n(&c->inv_seq, __ATOMIC_ACQUIRE);
}

bool vtd_ctx_cache__lookup(struct vtd_caches *c, uint16_t sid, uint64_t ce[2]);
void vtd_ctx_cache__insert(struct vtd *vtd, uint64_t inv, uint16_t sid, const uint64_t ce[2]);
void vtd_pc__insert(struct vtd *vtd, uint64_t inv, uint16_t sid, bool has_pasid, uint32_t pasid,
		    const struct vtd_pasid_snap *ps);
void vtd_iotlb__insert(struct vtd *vtd, uint64_t inv, uint16_t did, uint32_t pasid, uint64_t iova,
		       unsigned level, uint64_t out);

/* Invalidation. fm: function mask (low bits of the source-id ignored), as in CCMD/descriptors. */
void vtd_cache__flush_all(struct vtd *vtd);
void vtd_ctx_cache__flush_sid(struct vtd *vtd, uint16_t sid, unsigned fm);
void vtd_ctx_cache__flush_all(struct vtd *vtd);
#define VTD_PC_MATCH_DID	1
#define VTD_PC_MATCH_PASID	2
void vtd_pc__flush(struct vtd *vtd, unsigned match, uint16_t did, uint32_t pasid);
void vtd_iotlb__flush_all(struct vtd *vtd);
void vtd_iotlb__flush_did(struct vtd *vtd, uint16_t did);
void vtd_iotlb__flush_pasid(struct vtd *vtd, uint16_t did, uint32_t pasid);
void vtd_iotlb__flush_range(struct vtd *vtd, uint16_t did, uint32_t pasid, uint64_t addr, unsigned am);
unsigned vtd_iotlb__count(struct vtd *vtd);	/* live entries (tests, benchmarks) */

#endif
