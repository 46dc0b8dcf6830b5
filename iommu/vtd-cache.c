/*
 * Cache writers: insertion and invalidation for the context cache, the PASID cache and the IOTLB
 * (readers and layout: vtd-cache.h). Everything here runs under vtd->cache_lock and publishes
 * through the slot/bucket seqlocks, so translate() can keep reading without a lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iommu/vtd-priv.h"

static void st32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}
static void st64(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}
static void sti32(int32_t *p, int32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/* Seqlock writer side: odd while the data changes (C11 seqlock, release fence after the odd store). */
static void seq_begin(uint32_t *seq)
{
	st32(seq, *seq + 1);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}
static void seq_end(uint32_t *seq)
{
	__atomic_store_n(seq, *seq + 1, __ATOMIC_RELEASE);
}

static void cache_lock(struct vtd *vtd)
{
	pthread_mutex_lock(&vtd->cache_lock);
}
static void cache_unlock(struct vtd *vtd)
{
	pthread_mutex_unlock(&vtd->cache_lock);
}

/*
 * The end of every invalidation: bump inv_seq once the entries are gone, then drop the lock.
 *
 * After, not before: a translation that reads the new inv_seq (acquire, pairing with this release)
 * then sees the caches without the dropped entries, so whatever it puts in its L0 under that
 * number is current. One that read the old number may still hit an old entry, but its L0 entry
 * (and any insert it tries: inserts compare inv_seq under cache_lock) dies with this bump.
 * Bumping first, a translation could read the new number, hit the entry before its removal and
 * keep it in its L0 under that number, past the end of the invalidation.
 * No bump is needed at the start as well: inserts take cache_lock, so one either runs before the
 * invalidation (and its entry is removed) or after the bump (and is refused).
 */
static void inv_done_unlock(struct vtd *vtd)
{
	struct vtd_caches *c = &vtd->caches;

	__atomic_store_n(&c->inv_seq, c->inv_seq + 1, __ATOMIC_RELEASE);
	cache_unlock(vtd);
}

static void slot_write(struct vtd_slot *s, uint32_t gen, uint64_t key, uint64_t w0, uint64_t w1, uint64_t w2)
{
	seq_begin(&s->seq);
	st32(&s->gen, gen);
	st64(&s->key, key);
	st64(&s->w0, w0);
	st64(&s->w1, w1);
	st64(&s->w2, w2);
	seq_end(&s->seq);
}

/* Drop every slot at once. On wrap-around clear them for real, so no old slot can look current. */
static void slots_gen_bump(struct vtd_slot *s, unsigned n, uint32_t *gen)
{
	if (*gen + 1 == 0) {
		for (unsigned i = 0; i < n; i++)
			slot_write(&s[i], 0, 0, 0, 0, 0);
		__atomic_store_n(gen, 1, __ATOMIC_RELEASE);
		return;
	}
	__atomic_store_n(gen, *gen + 1, __ATOMIC_RELEASE);
}

/* ---- IOTLB ---- */

static uint16_t tag_did(uint64_t tag)
{
	return (uint16_t)tag;
}
static uint32_t tag_pasid(uint64_t tag)
{
	return (uint32_t)(tag >> 16) & 0xFFFFF;
}
static unsigned tag_level(uint64_t tag)
{
	return (tag >> 36) & 3;
}

static struct vtd_tlb_list *dl_head(struct vtd_iotlb *t, uint16_t did)
{
	struct vtd_tlb_list *l = &t->dl[vtd_mix64(did) & t->lmask];

	if (l->gen != t->gen) {
		l->gen = t->gen;
		l->first = -1;
		l->count = 0;
	}
	return l;
}

static struct vtd_tlb_list *pl_head(struct vtd_iotlb *t, uint16_t did, uint32_t pasid)
{
	struct vtd_tlb_list *l = &t->pl[vtd_mix64((uint64_t)pasid << 16 | did) & t->lmask];

	if (l->gen != t->gen) {
		l->gen = t->gen;
		l->first = -1;
		l->count = 0;
	}
	return l;
}

/* The two intrusive lists differ only in which link fields they use. */
static int32_t *lnext(struct vtd_tlb_entry *e, bool p)
{
	return p ? &e->pnext : &e->dnext;
}
static int32_t *lprev(struct vtd_tlb_entry *e, bool p)
{
	return p ? &e->pprev : &e->dprev;
}

static void list_add(struct vtd_iotlb *t, struct vtd_tlb_list *l, int32_t i, bool p)
{
	struct vtd_tlb_entry *e = &t->e[i];

	*lnext(e, p) = l->first;
	*lprev(e, p) = -1;
	if (l->first >= 0)
		*lprev(&t->e[l->first], p) = i;
	l->first = i;
	l->count++;
}

static void list_del(struct vtd_iotlb *t, struct vtd_tlb_list *l, int32_t i, bool p)
{
	struct vtd_tlb_entry *e = &t->e[i];
	int32_t next = *lnext(e, p), prev = *lprev(e, p);

	if (prev >= 0)
		*lnext(&t->e[prev], p) = next;
	else
		l->first = next;
	if (next >= 0)
		*lprev(&t->e[next], p) = prev;
	l->count--;
}

static struct vtd_tlb_bucket *bucket(struct vtd_iotlb *t, uint32_t idx)
{
	struct vtd_tlb_bucket *b = &t->b[idx];

	if (b->gen != t->gen) {
		seq_begin(&b->seq);
		sti32(&b->head, -1);
		st32(&b->gen, t->gen);
		seq_end(&b->seq);
	}
	return b;
}

static void tlb_unlink(struct vtd_iotlb *t, int32_t i)
{
	struct vtd_tlb_entry *e = &t->e[i];
	struct vtd_tlb_bucket *b = &t->b[e->bucket];
	int32_t *pp = &b->head;
	uint64_t tag = e->tag;

	seq_begin(&b->seq);
	while (*pp != i)
		pp = &t->e[*pp].next;
	sti32(pp, e->next);
	st64(&e->tag, 0);
	seq_end(&b->seq);
	list_del(t, dl_head(t, tag_did(tag)), i, false);
	list_del(t, pl_head(t, tag_did(tag), tag_pasid(tag)), i, true);
	st32(&t->nr_level[tag_level(tag)], t->nr_level[tag_level(tag)] - 1);
	t->nr_live--;
}

/* A free entry: unused or of an older generation, else CLOCK's victim (second chance for ref). */
static int32_t tlb_alloc(struct vtd_iotlb *t)
{
	for (uint32_t n = 0;; n++) {
		int32_t i = t->hand;
		struct vtd_tlb_entry *e = &t->e[i];

		t->hand = (t->hand + 1) & t->emask;
		if (!e->tag || e->gen != t->gen)
			return i;
		if (__atomic_load_n(&e->ref, __ATOMIC_RELAXED) && n <= t->emask) {
			__atomic_store_n(&e->ref, 0, __ATOMIC_RELAXED);
			continue;
		}
		tlb_unlink(t, i);
		return i;
	}
}

static void tlb_gen_bump(struct vtd_iotlb *t)
{
	if (t->gen + 1 == 0) {
		/* Wrap-around: empty every bucket under its seqlock, then restart at 1. */
		for (uint32_t i = 0; i <= t->bmask; i++) {
			seq_begin(&t->b[i].seq);
			sti32(&t->b[i].head, -1);
			st32(&t->b[i].gen, 1);
			seq_end(&t->b[i].seq);
		}
		for (uint32_t i = 0; i <= t->emask; i++)
			st64(&t->e[i].tag, 0);
		for (uint32_t i = 0; i <= t->lmask; i++)
			t->dl[i].gen = t->pl[i].gen = 0;
		__atomic_store_n(&t->gen, 1, __ATOMIC_RELEASE);
	} else {
		__atomic_store_n(&t->gen, t->gen + 1, __ATOMIC_RELEASE);
	}
	for (int l = 0; l < 4; l++)
		st32(&t->nr_level[l], 0);
	t->nr_live = 0;
}

void vtd_iotlb__insert(struct vtd *vtd, uint64_t inv, uint16_t did, uint32_t pasid, uint64_t iova,
		       unsigned level, uint64_t out)
{
	struct vtd_caches *c = &vtd->caches;
	struct vtd_iotlb *t = &c->tlb;
	uint64_t tag = VTD_TLB_TAG(did, pasid, level), vpn = iova >> vtd_level_shift(level);
	uint32_t bidx = vtd_tlb_hash(tag, vpn) & t->bmask;
	struct vtd_tlb_bucket *b;
	struct vtd_tlb_entry *e;
	int32_t i;

	cache_lock(vtd);
	if (c->inv_seq != inv)
		goto out;
	b = bucket(t, bidx);
	for (i = b->head; i >= 0; i = t->e[i].next) {
		e = &t->e[i];
		if (e->tag == tag && e->vpn == vpn) {
			/* Refresh (e.g. D is now set): same key, new output. */
			seq_begin(&b->seq);
			st64(&e->out, out);
			seq_end(&b->seq);
			goto out;
		}
	}
	i = tlb_alloc(t);
	e = &t->e[i];
	seq_begin(&b->seq);
	st64(&e->tag, tag);
	st64(&e->vpn, vpn);
	st64(&e->out, out);
	sti32(&e->next, b->head);
	e->gen = t->gen;
	e->bucket = bidx;
	/* A new entry earns its reference bit with a hit: a scan does not push hot entries out. */
	__atomic_store_n(&e->ref, 0, __ATOMIC_RELAXED);
	sti32(&b->head, i);
	seq_end(&b->seq);
	list_add(t, dl_head(t, did), i, false);
	list_add(t, pl_head(t, did, pasid), i, true);
	st32(&t->nr_level[level], t->nr_level[level] + 1);
	t->nr_live++;
out:
	cache_unlock(vtd);
}

void vtd_iotlb__flush_all(struct vtd *vtd)
{
	cache_lock(vtd);
	tlb_gen_bump(&vtd->caches.tlb);
	inv_done_unlock(vtd);
}

void vtd_iotlb__flush_did(struct vtd *vtd, uint16_t did)
{
	struct vtd_iotlb *t = &vtd->caches.tlb;
	struct vtd_tlb_list *l;

	cache_lock(vtd);
	l = dl_head(t, did);
	for (int32_t i = l->first, next; i >= 0; i = next) {
		next = t->e[i].dnext;
		if (tag_did(t->e[i].tag) == did)
			tlb_unlink(t, i);
	}
	inv_done_unlock(vtd);
}

void vtd_iotlb__flush_pasid(struct vtd *vtd, uint16_t did, uint32_t pasid)
{
	struct vtd_iotlb *t = &vtd->caches.tlb;
	struct vtd_tlb_list *l;

	cache_lock(vtd);
	l = pl_head(t, did, pasid);
	for (int32_t i = l->first, next; i >= 0; i = next) {
		uint64_t tag = t->e[i].tag;

		next = t->e[i].pnext;
		if (tag_did(tag) == did && tag_pasid(tag) == pasid)
			tlb_unlink(t, i);
	}
	inv_done_unlock(vtd);
}

/*
 * Page-selective: 2^am pages from @addr (aligned down to that size). Entries of any page size that
 * overlap the range go. Cost: min(pages in the range, entries of the PASID), by probing the buckets of
 * each page or by scanning the (DID, PASID) list, whichever is shorter.
 */
void vtd_iotlb__flush_range(struct vtd *vtd, uint16_t did, uint32_t pasid, uint64_t addr, unsigned am)
{
	struct vtd_iotlb *t = &vtd->caches.tlb;
	uint64_t size = 1ULL << (12 + am), start = addr & ~(size - 1), last = start + size - 1;
	struct vtd_tlb_list *l;

	cache_lock(vtd);
	l = pl_head(t, did, pasid);
	if (l->count <= (1ULL << am)) {
		for (int32_t i = l->first, next; i >= 0; i = next) {
			struct vtd_tlb_entry *e = &t->e[i];
			unsigned shift = vtd_level_shift(tag_level(e->tag));
			uint64_t lo = e->vpn << shift, hi = lo + (1ULL << shift) - 1;

			next = e->pnext;
			if (tag_did(e->tag) == did && tag_pasid(e->tag) == pasid && lo <= last && start <= hi)
				tlb_unlink(t, i);
		}
		goto out;
	}
	for (unsigned lvl = 1; lvl <= 3; lvl++) {
		unsigned shift = vtd_level_shift(lvl);
		uint64_t tag = VTD_TLB_TAG(did, pasid, lvl);

		if (!t->nr_level[lvl])
			continue;
		for (uint64_t vpn = start >> shift; vpn <= last >> shift; vpn++) {
			struct vtd_tlb_bucket *b = bucket(t, vtd_tlb_hash(tag, vpn) & t->bmask);

			for (int32_t i = b->head, next; i >= 0; i = next) {
				next = t->e[i].next;
				if (t->e[i].tag == tag && t->e[i].vpn == vpn)
					tlb_unlink(t, i);
			}
		}
	}
out:
	inv_done_unlock(vtd);
}

unsigned vtd_iotlb__count(struct vtd *vtd)
{
	unsigned n;

	cache_lock(vtd);
	n = vtd->caches.tlb.nr_live;
	cache_unlock(vtd);
	return n;
}

/* ---- context and PASID caches ---- */

bool vtd_ctx_cache__lookup(struct vtd_caches *c, uint16_t sid, uint64_t ce[2])
{
	uint64_t unused;

	return vtd_slot_read(&c->ctx[vtd_ctx_slot(sid)], vtd_load32(&c->ctx_gen), BIT(63) | sid, &ce[0], &ce[1], &unused);
}

void vtd_ctx_cache__insert(struct vtd *vtd, uint64_t inv, uint16_t sid, const uint64_t ce[2])
{
	struct vtd_caches *c = &vtd->caches;

	cache_lock(vtd);
	if (c->inv_seq == inv)
		slot_write(&c->ctx[vtd_ctx_slot(sid)], c->ctx_gen, BIT(63) | sid, ce[0], ce[1], 0);
	cache_unlock(vtd);
}

void vtd_pc__insert(struct vtd *vtd, uint64_t inv, uint16_t sid, bool has_pasid, uint32_t pasid,
		    const struct vtd_pasid_snap *ps)
{
	struct vtd_caches *c = &vtd->caches;
	uint64_t key = vtd_pc_key(sid, has_pasid, pasid);
	uint64_t w0 = ps->fsptptr | ps->flags;
	uint64_t w1 = ps->did | (uint64_t)ps->pasid << 16 | (uint64_t)ps->pgtt << 36;

	cache_lock(vtd);
	if (c->inv_seq == inv)
		slot_write(&c->pc[vtd_pc_slot(key)], c->pc_gen, key, w0, w1, ps->ssptptr);
	cache_unlock(vtd);
}

/* Device-selective context invalidation: the SID's context entry and every PASID entry cached for it. */
void vtd_ctx_cache__flush_sid(struct vtd *vtd, uint16_t sid, unsigned fm)
{
	struct vtd_caches *c = &vtd->caches;
	/* FM masks the top 1, 2 or 3 bits of the function number. */
	uint16_t mask = ~(((1u << fm) - 1) << (3 - fm));

	cache_lock(vtd);
	for (unsigned i = 0; i < VTD_CTX_SLOTS; i++) {
		struct vtd_slot *s = &c->ctx[i];

		if (s->key && s->gen == c->ctx_gen && ((uint16_t)s->key & mask) == (sid & mask))
			slot_write(s, 0, 0, 0, 0, 0);
	}
	for (unsigned i = 0; i < VTD_PC_SLOTS; i++) {
		struct vtd_slot *s = &c->pc[i];

		if (s->key && s->gen == c->pc_gen && ((uint16_t)s->key & mask) == (sid & mask))
			slot_write(s, 0, 0, 0, 0, 0);
	}
	inv_done_unlock(vtd);
}

/* Global context-cache invalidation; the PASID cache holds context bits, so it goes too. */
void vtd_ctx_cache__flush_all(struct vtd *vtd)
{
	struct vtd_caches *c = &vtd->caches;

	cache_lock(vtd);
	slots_gen_bump(c->ctx, VTD_CTX_SLOTS, &c->ctx_gen);
	slots_gen_bump(c->pc, VTD_PC_SLOTS, &c->pc_gen);
	inv_done_unlock(vtd);
}

/* PASID-cache invalidation: @match 0 is global, else by DID (and PASID). */
void vtd_pc__flush(struct vtd *vtd, unsigned match, uint16_t did, uint32_t pasid)
{
	struct vtd_caches *c = &vtd->caches;

	cache_lock(vtd);
	if (!match) {
		slots_gen_bump(c->pc, VTD_PC_SLOTS, &c->pc_gen);
	} else {
		for (unsigned i = 0; i < VTD_PC_SLOTS; i++) {
			struct vtd_slot *s = &c->pc[i];
			struct vtd_pasid_snap ps;

			if (!s->key || s->gen != c->pc_gen)
				continue;
			vtd_ps_unpack(&ps, s->w0, s->w1, s->w2);
			if (ps.did == did && (!(match & VTD_PC_MATCH_PASID) || ps.pasid == pasid))
				slot_write(s, 0, 0, 0, 0, 0);
		}
	}
	inv_done_unlock(vtd);
}

void vtd_cache__flush_all(struct vtd *vtd)
{
	struct vtd_caches *c = &vtd->caches;

	cache_lock(vtd);
	slots_gen_bump(c->ctx, VTD_CTX_SLOTS, &c->ctx_gen);
	slots_gen_bump(c->pc, VTD_PC_SLOTS, &c->pc_gen);
	tlb_gen_bump(&c->tlb);
	inv_done_unlock(vtd);
}

static uint32_t pow2_at_least(unsigned n)
{
	uint32_t p = 64;

	while (p < n && p < (1u << 20))
		p <<= 1;
	return p;
}

int vtd_cache__init(struct vtd_caches *c, unsigned iotlb_entries)
{
	struct vtd_iotlb *t = &c->tlb;
	uint32_t n = pow2_at_least(iotlb_entries ? iotlb_entries : 4096);

	/* Generation 1, everything zeroed (generation 0): all slots, buckets and lists read as empty. */
	c->ctx_gen = c->pc_gen = 1;
	t->gen = 1;
	t->e = calloc(n, sizeof(*t->e));
	t->b = calloc(n, sizeof(*t->b));
	t->dl = calloc(n / 4, sizeof(*t->dl));
	t->pl = calloc(n / 4, sizeof(*t->pl));
	if (!t->e || !t->b || !t->dl || !t->pl) {
		vtd_cache__exit(c);
		return -ENOMEM;
	}
	t->emask = n - 1;
	t->bmask = n - 1;
	t->lmask = n / 4 - 1;
	return 0;
}

void vtd_cache__exit(struct vtd_caches *c)
{
	free(c->tlb.e);
	free(c->tlb.b);
	free(c->tlb.dl);
	free(c->tlb.pl);
	memset(&c->tlb, 0, sizeof(c->tlb));
}
