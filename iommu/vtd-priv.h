/*
 * Internal state of the VT-d model, shared by iommu/vtd*.c. Not for device models (they use vtd.h).
 *
 * Locking: @lock protects the registers, queued invalidation, fault recording and the watch list;
 * MMIO runs entirely under it. @cache_lock serialises cache writers (lock -> cache_lock order).
 * translate() takes neither on an IOTLB hit: it reads @mode/@root atomically and the caches through
 * their seqlocks (vtd-cache.h); misses walk guest tables without locks and insert under @cache_lock.
 */
#ifndef MINIVMM_VTD_PRIV_H
#define MINIVMM_VTD_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "iommu/vtd-cache.h"
#include "iommu/vtd-hw.h"
#include "iommu/vtd.h"
#include "vmm/memory.h"

/*
 * The register table: name, offset, width, reset value, writable bits, write-1-to-clear bits.
 * CAP/ECAP are filled from the options at creation; the fault recording registers are set up in
 * vtd-regs.c. Offsets not listed read as 0 and ignore writes.
 */
#define VTD_REG_TABLE(X)									\
	X(VER,     VTD_VER_REG,     32, VTD_VER_VALUE, 0, 0)					\
	X(CAP,     VTD_CAP_REG,     64, 0, 0, 0)						\
	X(ECAP,    VTD_ECAP_REG,    64, 0, 0, 0)						\
	X(GCMD,    VTD_GCMD_REG,    32, 0, 0, 0)	/* write-only: acted on, reads 0 */	\
	X(GSTS,    VTD_GSTS_REG,    32, 0, 0, 0)						\
	X(RTADDR,  VTD_RTADDR_REG,  64, 0, VTD_ADDR_MASK | GENMASK(11, 10), 0)			\
	X(CCMD,    VTD_CCMD_REG,    64, 0, VTD_CCMD_ICC | GENMASK(62, 61) | GENMASK(33, 0), 0)	\
	X(FSTS,    VTD_FSTS_REG,    32, 0, 0, VTD_FSTS_PFO | VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE) \
	X(FECTL,   VTD_FECTL_REG,   32, VTD_ECTL_IM, VTD_ECTL_IM, 0)				\
	X(FEDATA,  VTD_FEDATA_REG,  32, 0, 0xFFFF, 0)						\
	X(FEADDR,  VTD_FEADDR_REG,  32, 0, GENMASK(31, 2), 0)					\
	X(FEUADDR, VTD_FEUADDR_REG, 32, 0, GENMASK(31, 0), 0)					\
	X(AFLOG,   VTD_AFLOG_REG,   64, 0, 0, 0)						\
	X(PMEN,    VTD_PMEN_REG,    32, 0, 0, 0)						\
	X(IQH,     VTD_IQH_REG,     64, 0, 0, 0)						\
	X(IQT,     VTD_IQT_REG,     64, 0, VTD_IQ_OFF_MASK, 0)					\
	X(IQA,     VTD_IQA_REG,     64, 0, VTD_ADDR_MASK | VTD_IQA_DW | 7, 0)			\
	X(ICS,     VTD_ICS_REG,     32, 0, 0, VTD_ICS_IWC)					\
	X(IECTL,   VTD_IECTL_REG,   32, VTD_ECTL_IM, VTD_ECTL_IM, 0)				\
	X(IEDATA,  VTD_IEDATA_REG,  32, 0, 0xFFFF, 0)						\
	X(IEADDR,  VTD_IEADDR_REG,  32, 0, GENMASK(31, 2), 0)					\
	X(IEUADDR, VTD_IEUADDR_REG, 32, 0, GENMASK(31, 0), 0)					\
	X(IQER,    VTD_IQER_REG,    64, 0, 0, 0)						\
	X(IVA,     VTD_IVA_REG,     64, 0, VTD_ADDR_MASK | VTD_IVA_IH | 0x3F, 0)		\
	X(IOTLB,   VTD_IOTLB_REG,   64, 0, VTD_IOTLB_IVT | GENMASK(61, 60) | GENMASK(49, 32), 0)	\
	X(IRTA,    VTD_IRTA_REG,    64, 0, VTD_IRTA_RW, 0)

struct vtd_reg_desc {
	const char *name;
	uint16_t off;
	uint8_t width;
	uint64_t reset, rw, w1c;
};

/* What translate() does, from GSTS.TES and the latched RTADDR.TTM. */
enum vtd_mode {
	VTD_MODE_OFF,		/* TES = 0: untranslated */
	VTD_MODE_SM,		/* scalable mode */
	VTD_MODE_LEGACY,	/* TTM = 00: legacy root and context entries, second stage (vtd-legacy.c) */
	VTD_MODE_BAD_TTM,	/* TTM = 10 (reserved) or 11 (ADM, not supported) */
};

/* One DMA request, as the fault path needs it. */
struct vtd_req {
	uint64_t iova;
	uint32_t pasid;
	uint16_t sid;
	bool has_pasid;
	bool priv;
	bool write;
};

/*
 * Interrupt remapping state (vtd-ir.c). @ir.lock (taken after @lock, never before) guards the latched
 * table and the interrupt entry cache: remap() runs on device and vCPU threads without @lock.
 */
#define VTD_IEC_CHUNK 256	/* entries per lazily allocated cache chunk (65536 indices at most) */
struct vtd_iec_entry {
	uint64_t lo, hi;	/* the IRTE as read when it was cached */
	uint32_t gen;		/* == iec_gen: valid */
};
struct vtd_ir {
	pthread_mutex_t lock;
	uint64_t base;		/* IRTA latched by SIRTP */
	uint32_t entries;	/* 2^(S+1) */
	bool eime;
	bool enabled, cfi;	/* GSTS.IRES, GSTS.CFIS (mirrored for remap() under @ir.lock) */
	uint32_t iec_gen;
	struct vtd_iec_entry *iec[65536 / VTD_IEC_CHUNK];
	vtd_ir_changed_fn changed;
	void *changed_opaque;
};

struct vtd_watch {
	uint16_t sid;
	const struct vtd_dev_ops *ops;
	void *opaque;
	struct vtd_binding cur;
	bool retry;		/* binding_changed() failed: call it again even if nothing changed */
};

#define VTD_MAX_PENDING_MSI 4

struct vtd {
	struct guest_mem *mem;
	struct vtd_options opt;
	vtd_msi_fn msi;
	void *msi_opaque;
	struct dma_translator xlate;
	uint64_t id;		/* unique per unit created (the per-thread L0 in vtd.c tells units apart) */
	uint64_t cap, ecap;

	pthread_mutex_t lock;
	pthread_mutex_t cache_lock;

	/* Read by translate() without locks (__atomic). */
	uint32_t mode;		/* enum vtd_mode */
	uint64_t root;		/* latched root table address */
	struct vtd_caches caches;

	/* Register file as 32-bit lanes (little-endian halves of the 64-bit registers). */
	uint32_t reg[VTD_REG_SIZE / 4];
	uint32_t rw[VTD_REG_SIZE / 4];
	uint32_t w1c[VTD_REG_SIZE / 4];
	unsigned ttm;		/* RTADDR.TTM latched by SRTP */
	uint64_t iqa;		/* IQA latched when QI was enabled */
	unsigned next_frcd;	/* next fault recording register to fill */
	bool warned_legacy, warned_regs_with_qi, warned_access;

	/* MSIs raised under @lock; vtd_unlock() sends them after dropping it. */
	int nr_msi;
	uint64_t msi_addr[VTD_MAX_PENDING_MSI];
	uint32_t msi_data[VTD_MAX_PENDING_MSI];

	struct vtd_ir ir;

	struct vtd_watch *watch;
	int nr_watch;
	bool inv_batch;		/* in a queued-invalidation run: watchers' iotlb_flush() waits for its end */
	/* For -v at exit (under @lock): what the guest asked of the unit, the cost a vIOMMU adds in exits. */
	uint64_t stat_reg_reads, stat_reg_writes;
	uint64_t stat_desc[16];	/* queued-invalidation descriptors executed, by type (VTD_DESC_TYPE) */
};

void vtd_lock(struct vtd *vtd);
void vtd_unlock(struct vtd *vtd);	/* and send the MSIs queued meanwhile */

/* ---- guest memory: every table read goes through here (64-bit atomic loads, bounds-checked) ---- */
#ifdef VTD_DEBUG_READS
void vtd_debug_check_read(const struct vtd *vtd, uint64_t gpa, const void *hva, uint64_t len);
#else
static inline void vtd_debug_check_read(const struct vtd *vtd, uint64_t gpa, const void *hva, uint64_t len)
{
}
#endif

/* Host pointer to the naturally aligned qword at @gpa, or NULL if it is not RAM. */
static inline uint64_t *vtd_qword(const struct vtd *vtd, uint64_t gpa)
{
	uint64_t *p;

	if (unlikely(gpa & 7))
		return NULL;
	p = guest_mem__hva(vtd->mem, gpa, 8);
	vtd_debug_check_read(vtd, gpa, p, 8);
	return p;
}

static inline bool vtd_read64(const struct vtd *vtd, uint64_t gpa, uint64_t *val)
{
	const uint64_t *p = vtd_qword(vtd, gpa);

	if (!p)
		return false;
	/* The guest may rewrite its tables at any time: read each qword once, atomically. */
	*val = __atomic_load_n(p, __ATOMIC_RELAXED);
	return true;
}

/* Read @n consecutive qwords (a context, PASID or descriptor entry). All-or-nothing. */
static inline bool vtd_read_qwords(const struct vtd *vtd, uint64_t gpa, uint64_t *val, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!vtd_read64(vtd, gpa + 8 * i, &val[i]))
			return false;
	return true;
}

/* ---- registers (vtd-regs.c) ---- */
void vtd_regs__reset(struct vtd *vtd);
static inline uint32_t vtd_reg32(const struct vtd *vtd, unsigned off)
{
	return vtd->reg[off / 4];
}
static inline uint64_t vtd_reg64(const struct vtd *vtd, unsigned off)
{
	return vtd->reg[off / 4] | (uint64_t)vtd->reg[off / 4 + 1] << 32;
}
static inline void vtd_set_reg32(struct vtd *vtd, unsigned off, uint32_t v)
{
	vtd->reg[off / 4] = v;
}
static inline void vtd_set_reg64(struct vtd *vtd, unsigned off, uint64_t v)
{
	vtd->reg[off / 4] = (uint32_t)v;
	vtd->reg[off / 4 + 1] = (uint32_t)(v >> 32);
}

/* ---- fault recording and interrupt events (vtd-fault.c); *_locked: caller holds @lock ---- */
/* Record a translation fault (unless @fpd suppresses it). Always returns -EFAULT. */
int vtd_fault__report(struct vtd *vtd, const struct vtd_req *req, uint8_t reason, bool fpd);
void vtd_fault__iqe_locked(struct vtd *vtd, unsigned iqei);
void vtd_fault__status_written_locked(struct vtd *vtd);	/* after FSTS or FRCD W1C */
void vtd_fault__fectl_written_locked(struct vtd *vtd);
void vtd_event__inv_complete_locked(struct vtd *vtd);	/* wait descriptor with IF */
void vtd_event__ics_written_locked(struct vtd *vtd);
void vtd_event__iectl_written_locked(struct vtd *vtd);
void vtd_fault__reset_locked(struct vtd *vtd);

/* ---- interrupt remapping (vtd-ir.c); *_locked: caller holds @lock ---- */
void vtd_ir__init(struct vtd *vtd);
void vtd_ir__exit(struct vtd *vtd);
void vtd_ir__reset_locked(struct vtd *vtd);
void vtd_ir__gcmd_locked(struct vtd *vtd, uint32_t cmd);	/* SIRTP, IRE, CFI */
void vtd_ir__iec_inv_locked(struct vtd *vtd, bool global, uint32_t index, unsigned im);

/* ---- queued invalidation (vtd-qi.c) ---- */
void vtd_qi__enable_locked(struct vtd *vtd, bool enable);
void vtd_qi__run_locked(struct vtd *vtd);	/* process IQH..IQT (IQT written, IQE cleared) */

/* ---- table lookup (vtd-tables.c) ---- */
/*
 * Resolve (sid, pasid) through the root, context, PASID directory and PASID entries (and the context
 * cache). Returns 0, or a fault reason with *@fpd telling whether fault processing is disabled.
 * For a request without PASID, @pasid is ignored and the context entry's RID_PASID is used.
 */
uint8_t vtd_tables__lookup(struct vtd *vtd, uint64_t inv, uint16_t sid, bool has_pasid, uint32_t pasid,
			   struct vtd_pasid_snap *ps, bool *fpd);

/* ---- first-stage walk (vtd-walk.c) ---- */
struct vtd_walk {
	uint64_t iova;
	uint64_t fsptptr;
	unsigned levels;	/* 4 or 5 */
	bool write, user, wpe;
	/* Nested translation (PGTT 011b): the second stage under the first; s2_levels 0 = none. */
	uint64_t s2_root;
	unsigned s2_levels;
};
struct vtd_walk_out {
	uint64_t page;		/* output page base */
	unsigned level;		/* 1: 4 KiB, 2: 2 MiB, 3: 1 GiB */
	uint64_t flags;		/* VTD_TLB_W/U/D */
};
uint8_t vtd_walk__fs(struct vtd *vtd, const struct vtd_walk *w, struct vtd_walk_out *out);
/* Second stage (vtd-walk-ss.c): w->fsptptr is the second-stage root, w->levels 3 or 4; user/wpe unused. */
uint8_t vtd_walk__ss(struct vtd *vtd, const struct vtd_walk *w, bool legacy, struct vtd_walk_out *out);

/* ---- legacy-mode tables (vtd-legacy.c) ---- */
uint8_t vtd_legacy__lookup(struct vtd *vtd, uint64_t inv, uint16_t sid, struct vtd_pasid_snap *ps, bool *fpd);
bool vtd_legacy__aw_ok(const struct vtd *vtd, unsigned aw);	/* AW in CAP.SAGAW */
/* The contiguous run from w->iova whose output continues @gpa: bytes covered, <= @want (vtd-walk.c). */
uint64_t vtd_walk__run(struct vtd *vtd, const struct vtd_walk *w, uint64_t gpa, uint64_t want);

/* ---- invalidation fan-out to caches and watchers (vtd-watch.c), called with @lock held ---- */
void vtd_inv__all_locked(struct vtd *vtd);			/* SRTP, TE toggle, reset */
void vtd_inv__context_locked(struct vtd *vtd, unsigned g, uint16_t sid, unsigned fm);
void vtd_inv__pasid_cache_locked(struct vtd *vtd, unsigned g, uint16_t did, uint32_t pasid);
void vtd_inv__iotlb_locked(struct vtd *vtd, unsigned g, uint16_t did);
void vtd_inv__piotlb_locked(struct vtd *vtd, unsigned g, uint16_t did, uint32_t pasid, uint64_t addr,
			    unsigned am, bool ih);
void vtd_inv__flush_locked(struct vtd *vtd);		/* watchers send held IOTLB invalidations */
void vtd_watch__free(struct vtd *vtd);

#endif
