/*
 * Tier 1 helper for the VT-d unit tests (tests/unit/test_vtd_*.c): a VT-d unit on 32 MiB of guest RAM,
 * MSI capture, register access, and builders for scalable-mode tables (root, context, PASID directory
 * and entries, first-stage page tables) allocated from a bump allocator at 16 MiB.
 *
 *	struct vtd_env e;
 *	vtd_env__init(&e, NULL);			// fs1gp on
 *	uint64_t fs = vtd_env__fs_domain(&e, SID, 0, 5);	// context + RID_PASID entry, DID 5
 *	vtd_env__map(&e, fs, 0x1000, 0x200000, 1, FS_RWU);	// 4 KiB iova 0x1000 -> 0x200000
 *	vtd_env__enable(&e);				// SRTP (scalable) + TE
 *	ck_assert_int_eq(vtd_env__xlate(&e, SID, NULL, 0x1000, DMA_READ, &gpa), 0);
 */
#ifndef MINIVMM_TESTS_VTD_TESTLIB_H
#define MINIVMM_TESTS_VTD_TESTLIB_H

#include <stdbool.h>
#include <stdint.h>

#include "iommu/vtd.h"
#include "vmm/memory.h"

#define VTD_ENV_RAM		(32ULL << 20)
#define VTD_ENV_TABLES		(16ULL << 20)	/* table pages are allocated from here up */
#define VTD_ENV_MAX_MSI		64
/* First-stage entry bits */
#define FS_P	(1ULL << 0)
#define FS_RW	(1ULL << 1)
#define FS_US	(1ULL << 2)
#define FS_A	(1ULL << 5)
#define FS_D	(1ULL << 6)
#define FS_PS	(1ULL << 7)
#define FS_RWU	(FS_P | FS_RW | FS_US)

struct vtd_env {
	struct guest_mem mem;
	struct vtd *vtd;
	const struct dma_translator *tr;
	uint64_t root, next_page;
	int nr_msi;
	uint64_t msi_addr[VTD_ENV_MAX_MSI];
	uint32_t msi_data[VTD_ENV_MAX_MSI];
	uint64_t iq;		/* invalidation queue (256-bit descriptors, 1 page) once vtd_env__qi_enable() ran */
	unsigned iq_tail;
	uint64_t status;	/* page for wait-descriptor status writes */
};

void vtd_env__init(struct vtd_env *e, const struct vtd_options *opt);
void vtd_env__exit(struct vtd_env *e);
uint64_t vtd_env__page(struct vtd_env *e);			/* a zeroed 4 KiB page */
uint64_t *vtd_env__q(struct vtd_env *e, uint64_t gpa);	/* host pointer to the qword at @gpa */

uint64_t vtd_env__rd(struct vtd_env *e, unsigned off, unsigned len);
void vtd_env__wr(struct vtd_env *e, unsigned off, uint64_t val, unsigned len);
void vtd_env__enable(struct vtd_env *e);	/* RTADDR = root | TTM 01, SRTP, TE */

/* Context entry for @sid (val0 = P | @ce0_bits | PASID dir, PDTS 0; val1 = @rid_pasid). */
uint64_t *vtd_env__ctx(struct vtd_env *e, uint16_t sid);	/* the 4 qwords, allocating tables */
void vtd_env__set_ctx(struct vtd_env *e, uint16_t sid, uint64_t ce0_bits, uint32_t rid_pasid);
uint64_t *vtd_env__pasid_entry(struct vtd_env *e, uint16_t sid, uint32_t pasid);	/* the 8 qwords */
/* PASID entry: first-stage, @did, fresh FS root (returned), 4-level. */
uint64_t vtd_env__set_pasid_fs(struct vtd_env *e, uint16_t sid, uint32_t pasid, uint16_t did);
/* Context (RID_PASID @pasid) + first-stage PASID entry in one go; returns the FS root. */
uint64_t vtd_env__fs_domain(struct vtd_env *e, uint16_t sid, uint32_t pasid, uint16_t did);
/* Map @iova -> @gpa as a leaf at @level (1: 4K, 2: 2M, 3: 1G) with @leaf bits; tables get @mid bits. */
uint64_t *vtd_env__map_ex(struct vtd_env *e, uint64_t fsroot, unsigned levels, uint64_t iova, uint64_t gpa,
			  unsigned level, uint64_t leaf, uint64_t mid);
uint64_t *vtd_env__map(struct vtd_env *e, uint64_t fsroot, uint64_t iova, uint64_t gpa, unsigned level,
		       uint64_t leaf);

/* Second-stage entry bits, and a second-stage mapping as vtd_env__map_ex (PS set for level > 1). */
#define SS_R	(1ULL << 0)
#define SS_W	(1ULL << 1)
#define SS_RW	(SS_R | SS_W)
#define SS_PS	(1ULL << 7)
uint64_t *vtd_env__ss_map(struct vtd_env *e, uint64_t top, unsigned levels, uint64_t iova, uint64_t gpa,
			  unsigned level, uint64_t leaf, uint64_t mid);

/* translate() through the unit's dma_translator; @a may be NULL (no PASID). */
int vtd_env__xlate(struct vtd_env *e, uint16_t sid, const struct dma_attrs *a, uint64_t iova, enum dma_dir dir,
		   uint64_t *gpa);
/* translate() that must succeed (the test fails with the fault reason otherwise): the output address. */
uint64_t vtd_env__xlate_ok(struct vtd_env *e, uint16_t sid, uint64_t iova, enum dma_dir dir);
/* translate() and the reason it recorded: 0 when it translated, -1 for a failure without exactly one record. */
int vtd_env__fault_of(struct vtd_env *e, uint16_t sid, const struct dma_attrs *a, uint64_t iova, enum dma_dir dir);
/* The only pending fault record (low and high qwords, left pending); false when none or several. */
bool vtd_env__pending_fault(struct vtd_env *e, uint64_t *lo, uint64_t *hi);
/* Fault recording register @i: low / high qwords. */
uint64_t vtd_env__frcd(struct vtd_env *e, unsigned i, bool hi);
/* Fault reason of the only pending record, or -1 if no record or several. Clears it and FSTS. */
int vtd_env__take_fault(struct vtd_env *e);

/* Queued invalidation: 256-bit descriptors in a one-page queue. submit() writes it and moves IQT. */
void vtd_env__qi_enable(struct vtd_env *e);
void vtd_env__qi_submit(struct vtd_env *e, uint64_t q0, uint64_t q1);
/* The same in two steps: put() writes descriptors, kick() moves IQT past all of them (one run). */
void vtd_env__qi_put(struct vtd_env *e, uint64_t q0, uint64_t q1);
void vtd_env__qi_kick(struct vtd_env *e);
/* PASID-cache invalidation of (@did, PASID @pasid), and with @iotlb its PASID-based IOTLB too; then a wait. */
void vtd_env__pasid_inv(struct vtd_env *e, uint16_t did, uint32_t pasid, bool iotlb);
/* A wait descriptor with status write; returns true if the status arrived. */
bool vtd_env__qi_wait(struct vtd_env *e);

#endif
