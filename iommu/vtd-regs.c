/*
 * The register page (§1.2): MMIO dispatch, write masks, and the commands software issues through
 * registers: GCMD (TE, SRTP, QIE, and SIRTP/IRE/CFI in vtd-ir.c; GSTS follows within the same MMIO write, because Linux spins on it
 * and declares the unit broken otherwise), register-based context-cache and IOTLB invalidation, and
 * the W1C status registers of the fault and invalidation-completion events.
 *
 * Registers are kept as 32-bit lanes. A write applies the table's masks to every lane it covers, then
 * runs the side effects, so a 64-bit command register works with one 8-byte write or two 4-byte ones
 * (the command bit lives in the upper lane).
 */
#include <string.h>

#include "iommu/vtd-priv.h"
#include "vmm/log.h"

static const struct vtd_reg_desc vtd_regs[] = {
#define VTD_REG_DESC(n, o, w, r, m, c) { .name = #n, .off = (o), .width = (w), .reset = (r), .rw = (m), .w1c = (c) },
	VTD_REG_TABLE(VTD_REG_DESC)
#undef VTD_REG_DESC
};

void vtd_regs__reset(struct vtd *vtd)
{
	memset(vtd->reg, 0, sizeof(vtd->reg));
	memset(vtd->rw, 0, sizeof(vtd->rw));
	memset(vtd->w1c, 0, sizeof(vtd->w1c));
	for (size_t i = 0; i < ARRAY_SIZE(vtd_regs); i++) {
		const struct vtd_reg_desc *d = &vtd_regs[i];

		for (unsigned k = 0; k < d->width / 32; k++) {
			vtd->reg[d->off / 4 + k] = (uint32_t)(d->reset >> (32 * k));
			vtd->rw[d->off / 4 + k] = (uint32_t)(d->rw >> (32 * k));
			vtd->w1c[d->off / 4 + k] = (uint32_t)(d->w1c >> (32 * k));
		}
	}
	/* Fault recording registers: all read-only except F (bit 127), write-1-to-clear. */
	for (unsigned i = 0; i < VTD_NR_FRCD; i++)
		vtd->w1c[(VTD_FRCD_REG + 16 * i + 12) / 4] = (uint32_t)(VTD_FRCD_F >> 32);
	/* IRTA exists only with interrupt remapping (ECAP.IR). */
	if (!(vtd->ecap & VTD_ECAP_IR))
		vtd->rw[VTD_IRTA_REG / 4] = vtd->rw[VTD_IRTA_REG / 4 + 1] = 0;
	vtd_set_reg64(vtd, VTD_CAP_REG, vtd->cap);
	vtd_set_reg64(vtd, VTD_ECAP_REG, vtd->ecap);
}

static void update_mode(struct vtd *vtd, uint64_t rtaddr)
{
	uint32_t mode;

	if (!(vtd_reg32(vtd, VTD_GSTS_REG) & VTD_GSTS_TES))
		mode = VTD_MODE_OFF;
	else if (VTD_RTADDR_TTM(rtaddr) == VTD_TTM_SCALABLE)
		mode = VTD_MODE_SM;
	else if (VTD_RTADDR_TTM(rtaddr) == VTD_TTM_LEGACY)
		mode = VTD_MODE_LEGACY;
	else
		mode = VTD_MODE_BAD_TTM;
	__atomic_store_n(&vtd->mode, mode, __ATOMIC_RELEASE);
}

/* The RTADDR value latched by the last SRTP: root pointer and TTM. */
static uint64_t latched_rtaddr(struct vtd *vtd)
{
	return __atomic_load_n(&vtd->root, __ATOMIC_RELAXED) | (uint64_t)vtd->ttm << 10;
}

static void gcmd_write(struct vtd *vtd, uint32_t cmd)
{
	uint32_t gsts = vtd_reg32(vtd, VTD_GSTS_REG);

	if (cmd & VTD_GCMD_SRTP) {
		uint64_t rta = vtd_reg64(vtd, VTD_RTADDR_REG);

		__atomic_store_n(&vtd->root, rta & VTD_ADDR_MASK, __ATOMIC_RELEASE);
		vtd->ttm = VTD_RTADDR_TTM(rta);
		vtd_set_reg32(vtd, VTD_GSTS_REG, gsts |= VTD_GSTS_RTPS);
		if (vtd->ttm != VTD_TTM_SCALABLE && vtd->ttm != VTD_TTM_LEGACY && !vtd->warned_legacy) {
			vtd->warned_legacy = true;
			pr_warn("vtd: the guest set RTADDR.TTM=%u (%s), which this VT-d unit does not implement: "
				"DMA will fault", (unsigned)vtd->ttm, vtd->ttm == 3 ? "abort-DMA mode" : "reserved");
		}
		update_mode(vtd, latched_rtaddr(vtd));
		pr_info("vtd: root table %#llx, %s", (unsigned long long)vtd->root,
			vtd->ttm == VTD_TTM_SCALABLE ? "scalable mode" : vtd->ttm == VTD_TTM_LEGACY ? "legacy mode" :
			"unsupported translation table mode");
		/* CAP.ESRTPS: SRTP also invalidates every translation cache. */
		vtd_inv__all_locked(vtd);
	}
	if ((cmd ^ gsts) & VTD_GCMD_TE) {
		vtd_set_reg32(vtd, VTD_GSTS_REG, gsts ^= VTD_GSTS_TES);
		update_mode(vtd, latched_rtaddr(vtd));
		vtd_inv__all_locked(vtd);
	}
	if ((cmd ^ gsts) & VTD_GCMD_QIE)
		vtd_qi__enable_locked(vtd, cmd & VTD_GCMD_QIE);
	/* SIRTP, IRE, CFI (ignored without ECAP.IR). */
	vtd_ir__gcmd_locked(vtd, cmd);
	/*
	 * Nothing else has an effect: SFL/EAFL need CAP.AFL, WBF needs CAP.RWBF (WBFS stays 0, which is
	 * what Linux waits for).
	 */
}

static bool regs_with_qi(struct vtd *vtd)
{
	if (!(vtd_reg32(vtd, VTD_GSTS_REG) & VTD_GSTS_QIES))
		return false;
	if (!vtd->warned_regs_with_qi) {
		vtd->warned_regs_with_qi = true;
		pr_warn("vtd: register-based invalidation while queued invalidation is enabled: ignored");
	}
	return true;
}

/* Register-based context-cache invalidation (CCMD.ICC). CAIG reports what was done; 0 = refused. */
static void ccmd_write(struct vtd *vtd)
{
	uint64_t v = vtd_reg64(vtd, VTD_CCMD_REG);
	unsigned g = VTD_CCMD_CIRG(v), done = 0;

	if (!(v & VTD_CCMD_ICC))
		return;
	if (g && !regs_with_qi(vtd)) {
		vtd_inv__context_locked(vtd, g, VTD_CCMD_SID(v), VTD_CCMD_FM(v));
		done = g == VTD_INV_PAGE ? VTD_INV_PAGE : VTD_INV_GLOBAL;
	}
	v &= ~(VTD_CCMD_ICC | 3ULL << VTD_CCMD_CAIG_SHIFT);
	vtd_set_reg64(vtd, VTD_CCMD_REG, v | (uint64_t)done << VTD_CCMD_CAIG_SHIFT);
}

/* Register-based IOTLB invalidation (IOTLB_REG.IVT); page-selective is done domain-wide (vtd-watch.c). */
static void iotlb_write(struct vtd *vtd)
{
	uint64_t v = vtd_reg64(vtd, VTD_IOTLB_REG);
	unsigned g = VTD_IOTLB_IIRG(v), done = 0;

	if (!(v & VTD_IOTLB_IVT))
		return;
	if (g == VTD_INV_PAGE && VTD_IVA_AM(vtd_reg64(vtd, VTD_IVA_REG)) > VTD_MAMV)
		g = 0;
	if (g && !regs_with_qi(vtd)) {
		vtd_inv__iotlb_locked(vtd, g, VTD_IOTLB_DID(v));
		done = g == VTD_INV_GLOBAL ? VTD_INV_GLOBAL : VTD_INV_DOMAIN;
	}
	v &= ~(VTD_IOTLB_IVT | 3ULL << VTD_IOTLB_IAIG_SHIFT);
	vtd_set_reg64(vtd, VTD_IOTLB_REG, v | (uint64_t)done << VTD_IOTLB_IAIG_SHIFT);
}

/* Side effects of writing @v to the lane at @off (masks already applied; @old is the lane before). */
static void lane_written(struct vtd *vtd, unsigned off, uint32_t v, uint32_t old)
{
	switch (off) {
	case VTD_GCMD_REG:
		gcmd_write(vtd, v);
		return;
	case VTD_CCMD_REG + 4:
		ccmd_write(vtd);
		return;
	case VTD_IOTLB_REG + 4:
		iotlb_write(vtd);
		return;
	case VTD_FSTS_REG:
		vtd_fault__status_written_locked(vtd);
		/* Clearing IQE lets the queue go on from IQH (software may have fixed the descriptor). */
		if ((old & VTD_FSTS_IQE) && !(vtd_reg32(vtd, off) & VTD_FSTS_IQE))
			vtd_qi__run_locked(vtd);
		return;
	case VTD_FECTL_REG:
		vtd_fault__fectl_written_locked(vtd);
		return;
	case VTD_IQT_REG:
		vtd_qi__run_locked(vtd);
		return;
	case VTD_ICS_REG:
		vtd_event__ics_written_locked(vtd);
		return;
	case VTD_IECTL_REG:
		vtd_event__iectl_written_locked(vtd);
		return;
	default:
		if (off >= VTD_FRCD_REG && off < VTD_FRCD_END && (off & 15) == 12 && (v & BIT(31)))
			vtd_fault__status_written_locked(vtd);
		return;
	}
}

void vtd__mmio(void *opaque, uint64_t off, void *data, unsigned len, bool is_write)
{
	struct vtd *vtd = opaque;
	uint32_t lane[2], old[2];

	if ((len != 4 && len != 8) || (off & (len - 1)) || off >= VTD_REG_SIZE) {
		if (!__atomic_exchange_n(&vtd->warned_access, true, __ATOMIC_RELAXED))
			pr_warn("vtd: %u-byte %s at register offset %#llx ignored (4 or 8-byte aligned accesses only)",
				len, is_write ? "write" : "read", (unsigned long long)off);
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	vtd_lock(vtd);
	if (!is_write) {
		vtd->stat_reg_reads++;
		memcpy(data, &vtd->reg[off / 4], len);
	} else {
		vtd->stat_reg_writes++;
		memcpy(lane, data, len);
		if (len == 8)
			pr_debug("vtd: write %#llx <- %#x%08x", (unsigned long long)off, lane[1], lane[0]);
		else
			pr_debug("vtd: write %#llx <- %#x", (unsigned long long)off, lane[0]);
		for (unsigned k = 0; k < len / 4; k++) {
			unsigned i = off / 4 + k;

			old[k] = vtd->reg[i];
			vtd->reg[i] = ((old[k] & ~vtd->rw[i]) | (lane[k] & vtd->rw[i])) & ~(lane[k] & vtd->w1c[i]);
		}
		for (unsigned k = 0; k < len / 4; k++)
			lane_written(vtd, off + 4 * k, lane[k], old[k]);
	}
	vtd_unlock(vtd);
}
