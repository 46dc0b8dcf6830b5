/*
 * Primary fault logging and the two interrupt events (§1.2): VTD_NR_FRCD fault recording registers
 * filled round-robin, FSTS.PFO/PPF/FRI, the fault event (FECTL, FEDATA, FEADDR/FEUADDR) and the
 * invalidation-completion event (ICS.IWC, IECTL, IEDATA, IEADDR/IEUADDR).
 *
 * Fault recording, as QEMU does it: nothing while PFO is set; a fault from a source-id that already
 * has a pending record collapses into it; if the next record is still pending, set PFO. A fault event
 * is a new interrupt condition only if none of PPF, PFO, IQE was set before; it sets IP and, unless
 * IM masks it, sends the MSI and clears IP. Unmasking with IP set sends the deferred MSI; servicing
 * every status bit clears IP.
 */
#include <errno.h>

#include "iommu/vtd-priv.h"
#include "vmm/log.h"

static void queue_msi(struct vtd *vtd, unsigned addr_reg, unsigned uaddr_reg, unsigned data_reg)
{
	if (vtd->nr_msi == VTD_MAX_PENDING_MSI) {
		pr_warn("vtd: too many interrupt events at once, one dropped");
		return;
	}
	vtd->msi_addr[vtd->nr_msi] = vtd_reg32(vtd, addr_reg) | (uint64_t)vtd_reg32(vtd, uaddr_reg) << 32;
	vtd->msi_data[vtd->nr_msi] = vtd_reg32(vtd, data_reg);
	vtd->nr_msi++;
}

/* A new interrupt condition for the event controlled by @ctl_reg: set IP, send unless masked. */
static void raise_event(struct vtd *vtd, unsigned ctl_reg, unsigned addr_reg, unsigned uaddr_reg,
			unsigned data_reg)
{
	uint32_t ctl = vtd_reg32(vtd, ctl_reg) | VTD_ECTL_IP;

	if (!(ctl & VTD_ECTL_IM)) {
		queue_msi(vtd, addr_reg, uaddr_reg, data_reg);
		ctl &= ~VTD_ECTL_IP;
	}
	vtd_set_reg32(vtd, ctl_reg, ctl);
}

/* Software cleared IM: a held-back message goes out now. */
static void unmask_event(struct vtd *vtd, unsigned ctl_reg, unsigned addr_reg, unsigned uaddr_reg,
			 unsigned data_reg)
{
	uint32_t ctl = vtd_reg32(vtd, ctl_reg);

	if (!(ctl & VTD_ECTL_IM) && (ctl & VTD_ECTL_IP)) {
		queue_msi(vtd, addr_reg, uaddr_reg, data_reg);
		vtd_set_reg32(vtd, ctl_reg, ctl & ~VTD_ECTL_IP);
	}
}

static void fault_event(struct vtd *vtd, uint32_t fsts_before)
{
	if (fsts_before & (VTD_FSTS_PPF | VTD_FSTS_PFO | VTD_FSTS_IQE))
		return;
	raise_event(vtd, VTD_FECTL_REG, VTD_FEADDR_REG, VTD_FEUADDR_REG, VTD_FEDATA_REG);
}

static unsigned frcd_hi(unsigned i)
{
	return VTD_FRCD_REG + 16 * i + 8;
}

/*
 * Faults that FPD cannot suppress: those found before any FPD bit could be read (invalid root table
 * mode, root entry faults, context entry with reserved bits) and failed accesses to the tables.
 */
static bool qualified(uint8_t reason)
{
	switch (reason) {
	case VTD_FR_SM_RTA:
	case VTD_FR_SM_TTM0_PASID:
	case VTD_FR_SM_RE_ACCESS:
	case VTD_FR_SM_RE_P:
	case VTD_FR_SM_RE_RSVD:
	case VTD_FR_SM_CE_ACCESS:
	case VTD_FR_SM_CE_RSVD:
	case VTD_FR_SM_PDE_ACCESS:
	case VTD_FR_SM_PE_ACCESS:
	case VTD_FR_FS_ACCESS:
	case VTD_FR_FS_PTR:
		return false;
	default:
		return true;
	}
}

static void record_locked(struct vtd *vtd, const struct vtd_req *req, uint8_t reason)
{
	uint32_t fsts = vtd_reg32(vtd, VTD_FSTS_REG);
	unsigned i = vtd->next_frcd;
	uint64_t hi;

	if (fsts & VTD_FSTS_PFO)
		return;
	for (unsigned j = 0; j < VTD_NR_FRCD; j++) {
		hi = vtd_reg64(vtd, frcd_hi(j));
		if ((hi & VTD_FRCD_F) && (uint16_t)hi == req->sid)
			return;
	}
	if (vtd_reg64(vtd, frcd_hi(i)) & VTD_FRCD_F) {
		vtd_set_reg32(vtd, VTD_FSTS_REG, fsts | VTD_FSTS_PFO);
		fault_event(vtd, fsts);
		return;
	}
	hi = VTD_FRCD_F | (uint64_t)reason << VTD_FRCD_FR_SHIFT | req->sid;
	if (!req->write)
		hi |= VTD_FRCD_T;
	if (req->has_pasid) {
		hi |= VTD_FRCD_PP | (uint64_t)(req->pasid & 0xFFFFF) << VTD_FRCD_PV_SHIFT;
		if (req->priv)
			hi |= VTD_FRCD_PRIV;
	}
	vtd_set_reg64(vtd, VTD_FRCD_REG + 16 * i, req->iova & ~0xFFFULL);
	vtd_set_reg64(vtd, frcd_hi(i), hi);
	if (!(fsts & VTD_FSTS_PPF))
		vtd_set_reg32(vtd, VTD_FSTS_REG, (fsts & ~VTD_FSTS_FRI_MASK) | VTD_FSTS_PPF | i << VTD_FSTS_FRI_SHIFT);
	vtd->next_frcd = (i + 1) % VTD_NR_FRCD;
	fault_event(vtd, fsts);
}

int vtd_fault__report(struct vtd *vtd, const struct vtd_req *req, uint8_t reason, bool fpd)
{
	if (fpd && qualified(reason))
		return -EFAULT;
	vtd_lock(vtd);
	record_locked(vtd, req, reason);
	vtd_unlock(vtd);
	return -EFAULT;
}

void vtd_fault__iqe_locked(struct vtd *vtd, unsigned iqei)
{
	uint32_t fsts = vtd_reg32(vtd, VTD_FSTS_REG);

	vtd_set_reg32(vtd, VTD_FSTS_REG, fsts | VTD_FSTS_IQE);
	vtd_set_reg64(vtd, VTD_IQER_REG, iqei & 0xF);
	fault_event(vtd, fsts);
}

/* FSTS or a fault record was written (W1C already applied): recompute PPF, maybe clear FECTL.IP. */
void vtd_fault__status_written_locked(struct vtd *vtd)
{
	uint32_t fsts = vtd_reg32(vtd, VTD_FSTS_REG) & ~VTD_FSTS_PPF;

	for (unsigned j = 0; j < VTD_NR_FRCD; j++)
		if (vtd_reg64(vtd, frcd_hi(j)) & VTD_FRCD_F)
			fsts |= VTD_FSTS_PPF;
	if (!(fsts & VTD_FSTS_IQE))
		vtd_set_reg64(vtd, VTD_IQER_REG, 0);
	vtd_set_reg32(vtd, VTD_FSTS_REG, fsts);
	if (!(fsts & (VTD_FSTS_PPF | VTD_FSTS_PFO | VTD_FSTS_IQE)))
		vtd_set_reg32(vtd, VTD_FECTL_REG, vtd_reg32(vtd, VTD_FECTL_REG) & ~VTD_ECTL_IP);
}

void vtd_fault__fectl_written_locked(struct vtd *vtd)
{
	unmask_event(vtd, VTD_FECTL_REG, VTD_FEADDR_REG, VTD_FEUADDR_REG, VTD_FEDATA_REG);
}

void vtd_event__inv_complete_locked(struct vtd *vtd)
{
	uint32_t ics = vtd_reg32(vtd, VTD_ICS_REG);

	if (ics & VTD_ICS_IWC)
		return;		/* already pending: not a new interrupt condition */
	vtd_set_reg32(vtd, VTD_ICS_REG, ics | VTD_ICS_IWC);
	raise_event(vtd, VTD_IECTL_REG, VTD_IEADDR_REG, VTD_IEUADDR_REG, VTD_IEDATA_REG);
}

void vtd_event__ics_written_locked(struct vtd *vtd)
{
	if (!(vtd_reg32(vtd, VTD_ICS_REG) & VTD_ICS_IWC))
		vtd_set_reg32(vtd, VTD_IECTL_REG, vtd_reg32(vtd, VTD_IECTL_REG) & ~VTD_ECTL_IP);
}

void vtd_event__iectl_written_locked(struct vtd *vtd)
{
	unmask_event(vtd, VTD_IECTL_REG, VTD_IEADDR_REG, VTD_IEUADDR_REG, VTD_IEDATA_REG);
}

void vtd_fault__reset_locked(struct vtd *vtd)
{
	vtd->next_frcd = 0;
}
