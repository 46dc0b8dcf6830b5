/*
 * Queued invalidation (§4): descriptors between IQH and IQT of the queue at IQA, processed in order,
 * synchronously, when software writes IQT (or enables QI with a non-zero tail: Windows does that), or
 * clears FSTS.IQE. 256-bit (IQA.DW=1, what Linux uses in scalable mode) and 128-bit slots are both
 * accepted: every descriptor type this unit implements fits in 128 bits, and in a 256-bit slot the
 * upper half must then be zero.
 *
 * A malformed descriptor (unknown type, reserved bits, invalid granularity, AM > MAMV), an invalid
 * tail or a descriptor the unit cannot read stops processing with IQH pointing at it, sets FSTS.IQE,
 * records the cause in IQER and raises the fault event. Device-TLB invalidations are accepted and do
 * nothing (no ATS); interrupt-entry invalidations go to the IEC (vtd-ir.c).
 */
#include "iommu/vtd-priv.h"

/* Invalidation wait: status write (not translated: a guest physical address) and completion event. */
static unsigned wait_desc(struct vtd *vtd, const uint64_t d[2])
{
	if ((d[0] & VTD_DESC_WAIT_RSVD0) || (d[1] & VTD_DESC_WAIT_RSVD1))
		return VTD_IQEI_RSVD;
	if (d[0] & VTD_WAIT_SW) {
		uint32_t *p = guest_mem__hva(vtd->mem, d[1] & ~3ULL, 4);

		vtd_debug_check_read(vtd, d[1] & ~3ULL, p, 4);
		if (!p)
			return VTD_IQEI_STATUS;
		/* Release: the guest sees the status only after everything before it took effect. */
		__atomic_store_n(p, (uint32_t)(d[0] >> 32), __ATOMIC_RELEASE);
	}
	if (d[0] & VTD_WAIT_IF)
		vtd_event__inv_complete_locked(vtd);
	/* FN (fence) holds trivially: descriptors complete in order. */
	return 0;
}

/* Execute one descriptor. 0, or the IQEI code of why it is malformed. */
static unsigned run_desc(struct vtd *vtd, const uint64_t d[4])
{
	unsigned g = VTD_DESC_G(d[0]);

	if (d[2] || d[3])
		return VTD_IQEI_RSVD;
	switch (VTD_DESC_TYPE(d[0])) {
	case VTD_DESC_CC:
		if ((d[0] & VTD_DESC_CC_RSVD0) || d[1] || !g)
			return VTD_IQEI_RSVD;
		vtd_inv__context_locked(vtd, g, VTD_DESC_CC_SID(d[0]), VTD_DESC_CC_FM(d[0]));
		return 0;
	case VTD_DESC_IOTLB:
		if ((d[0] & VTD_DESC_IOTLB_RSVD0) || (d[1] & VTD_DESC_ADDR_RSVD1) || !g)
			return VTD_IQEI_RSVD;
		if (g == VTD_INV_PAGE && VTD_DESC_AM(d[1]) > VTD_MAMV)
			return VTD_IQEI_RSVD;
		vtd_inv__iotlb_locked(vtd, g, VTD_DESC_DID(d[0]));
		return 0;
	case VTD_DESC_PIOTLB:
		if ((d[0] & VTD_DESC_PIOTLB_RSVD0) || (d[1] & VTD_DESC_ADDR_RSVD1))
			return VTD_IQEI_RSVD;
		if (g != VTD_PIOTLB_G_PASID && g != VTD_PIOTLB_G_PAGE)
			return VTD_IQEI_RSVD;
		if (g == VTD_PIOTLB_G_PAGE && VTD_DESC_AM(d[1]) > VTD_MAMV)
			return VTD_IQEI_RSVD;
		vtd_inv__piotlb_locked(vtd, g, VTD_DESC_DID(d[0]), VTD_DESC_PASID(d[0]), VTD_DESC_ADDR(d[1]),
				       VTD_DESC_AM(d[1]), d[1] & VTD_DESC_IH);
		return 0;
	case VTD_DESC_PC:
		if ((d[0] & VTD_DESC_PC_RSVD0) || d[1] || g == 2)
			return VTD_IQEI_RSVD;
		vtd_inv__pasid_cache_locked(vtd, g, VTD_DESC_DID(d[0]), VTD_DESC_PASID(d[0]));
		return 0;
	case VTD_DESC_WAIT:
		return wait_desc(vtd, d);
	case VTD_DESC_DEVTLB:
		if ((d[0] & VTD_DESC_DEVTLB_RSVD0) || (d[1] & VTD_DESC_DEVTLB_RSVD1))
			return VTD_IQEI_RSVD;
		return 0;
	case VTD_DESC_PDEVTLB:
		if (d[1] & VTD_DESC_PDEVTLB_RSVD1)
			return VTD_IQEI_RSVD;
		return 0;
	case VTD_DESC_IEC:
		if ((d[0] & VTD_DESC_IEC_RSVD0) || d[1] || VTD_DESC_IEC_IM(d[0]) > VTD_IR_MHMV)
			return VTD_IQEI_RSVD;
		if (vtd->ecap & VTD_ECAP_IR)
			vtd_ir__iec_inv_locked(vtd, !(d[0] & VTD_DESC_IEC_G_INDEX), VTD_DESC_IEC_IDX(d[0]),
					       VTD_DESC_IEC_IM(d[0]));
		return 0;
	default:
		return VTD_IQEI_TYPE;	/* includes page-group responses: no page requests here */
	}
}

void vtd_qi__run_locked(struct vtd *vtd)
{
	bool wide = vtd->iqa & VTD_IQA_DW;
	uint64_t size = 4096ULL << VTD_IQA_QS(vtd->iqa), step = wide ? 32 : 16;
	uint64_t base = vtd->iqa & VTD_ADDR_MASK;
	uint64_t tail = vtd_reg64(vtd, VTD_IQT_REG) & VTD_IQ_OFF_MASK;
	uint64_t head = vtd_reg64(vtd, VTD_IQH_REG) & VTD_IQ_OFF_MASK;

	if (!(vtd_reg32(vtd, VTD_GSTS_REG) & VTD_GSTS_QIES) || (vtd_reg32(vtd, VTD_FSTS_REG) & VTD_FSTS_IQE))
		return;
	if (tail >= size || (tail & (step - 1))) {
		vtd_fault__iqe_locked(vtd, VTD_IQEI_TAIL);
		return;
	}
	/* A head left unaligned or beyond the queue by a DW/QS change restarts at the slot it lies in. */
	head = (head & ~(step - 1)) % size;
	vtd->inv_batch = true;
	while (head != tail) {
		uint64_t d[4] = { 0 };
		unsigned iqei, type;

		if (!vtd_read_qwords(vtd, base + head, d, step / 8)) {
			vtd_fault__iqe_locked(vtd, VTD_IQEI_FETCH);
			break;
		}
		/* A run of IOTLB invalidations goes to passthrough hosts as one batch (vtd.h: iotlb_flush). */
		type = VTD_DESC_TYPE(d[0]);
		if (type != VTD_DESC_IOTLB && type != VTD_DESC_PIOTLB)
			vtd_inv__flush_locked(vtd);
		iqei = run_desc(vtd, d);
		if (iqei) {
			vtd_fault__iqe_locked(vtd, iqei);
			break;
		}
		vtd->stat_desc[VTD_DESC_TYPE(d[0])]++;	/* a type run_desc took is below 16 */
		head = (head + step) % size;
	}
	vtd->inv_batch = false;
	vtd_inv__flush_locked(vtd);
	vtd_set_reg64(vtd, VTD_IQH_REG, head);
}

void vtd_qi__enable_locked(struct vtd *vtd, bool enable)
{
	uint32_t gsts = vtd_reg32(vtd, VTD_GSTS_REG);

	/*
	 * The queue starts at slot 0; IQA is latched here, as it may not change while QI is on. Disabling
	 * takes effect at once: descriptors run synchronously, so nothing is ever in flight.
	 */
	vtd_set_reg64(vtd, VTD_IQH_REG, 0);
	if (!enable) {
		vtd_set_reg32(vtd, VTD_GSTS_REG, gsts & ~VTD_GSTS_QIES);
		return;
	}
	vtd->iqa = vtd_reg64(vtd, VTD_IQA_REG);
	vtd_set_reg32(vtd, VTD_GSTS_REG, gsts | VTD_GSTS_QIES);
	vtd_qi__run_locked(vtd);
}
