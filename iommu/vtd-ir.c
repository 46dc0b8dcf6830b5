/*
 * Interrupt remapping (VT-d §5.1, §9.10): the interrupt remapping table at IRTA, GCMD.SIRTP/IRE/CFI,
 * the interrupt entry cache (IEC) and its invalidation, and the remapping of one interrupt request.
 *
 * A remappable request (MSI address bit 4) names an IRTE by its handle (plus the subhandle in the
 * data when SHV is set). The unit checks the request, reads the IRTE (or takes it from the IEC),
 * checks it and the requester's source-id, and produces the compatibility-format message the IRTE
 * describes. Posted interrupts (IRTE.IM = 1) need CAP.PI, which the unit does not report: such an
 * entry is a reserved-field fault.
 *
 * The IEC holds every present, well-formed IRTE used since the last invalidation of its index, in
 * chunks allocated on first use (Linux sizes the table for 65536 entries but uses a few). A guest
 * that rewrites an IRTE without invalidating keeps getting the old one, as on hardware; the
 * "changed" callback tells route keepers when results may differ (vtd.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iommu/vtd-priv.h"
#include "vmm/log.h"

#define MSI_BASE	0xFEE00000ULL
#define MSI_DATA_LEVEL	BIT(14)		/* level asserted */
#define MSI_DATA_TM	BIT(15)		/* trigger mode: level */

void vtd_ir__init(struct vtd *vtd)
{
	pthread_mutex_init(&vtd->ir.lock, NULL);
	vtd->ir.iec_gen = 1;
}

void vtd_ir__exit(struct vtd *vtd)
{
	for (size_t i = 0; i < ARRAY_SIZE(vtd->ir.iec); i++)
		free(vtd->ir.iec[i]);
	pthread_mutex_destroy(&vtd->ir.lock);
}

static void notify(struct vtd *vtd)
{
	if (vtd->ir.changed)
		vtd->ir.changed(vtd->ir.changed_opaque);
}

/* Drop every cached entry. ir.lock held. */
static void iec_flush_all(struct vtd_ir *ir)
{
	if (++ir->iec_gen == 0) {
		/* Wrapped: entries stamped long ago would look valid again. */
		for (size_t i = 0; i < ARRAY_SIZE(ir->iec); i++)
			free(ir->iec[i]);
		memset(ir->iec, 0, sizeof(ir->iec));
		ir->iec_gen = 1;
	}
}

void vtd_ir__reset_locked(struct vtd *vtd)
{
	struct vtd_ir *ir = &vtd->ir;

	pthread_mutex_lock(&ir->lock);
	ir->base = 0;
	ir->entries = 0;
	ir->eime = false;
	ir->enabled = ir->cfi = false;
	iec_flush_all(ir);
	pthread_mutex_unlock(&ir->lock);
	notify(vtd);
}

void vtd__set_ir_notify(struct vtd *vtd, vtd_ir_changed_fn fn, void *opaque)
{
	vtd_lock(vtd);
	vtd->ir.changed = fn;
	vtd->ir.changed_opaque = opaque;
	vtd_unlock(vtd);
}

/* GCMD (§1.2): SIRTP latches IRTA (and, CAP.ESIRTPS, flushes the IEC); IRE and CFI are persistent bits. */
void vtd_ir__gcmd_locked(struct vtd *vtd, uint32_t cmd)
{
	struct vtd_ir *ir = &vtd->ir;
	uint32_t gsts = vtd_reg32(vtd, VTD_GSTS_REG);
	bool changed = false;

	if (!(vtd->ecap & VTD_ECAP_IR))
		return;
	pthread_mutex_lock(&ir->lock);
	if (cmd & VTD_GCMD_SIRTP) {
		uint64_t irta = vtd_reg64(vtd, VTD_IRTA_REG);

		ir->base = irta & VTD_ADDR_MASK;
		ir->entries = 2u << VTD_IRTA_S(irta);
		ir->eime = irta & VTD_IRTA_EIME;
		iec_flush_all(ir);
		gsts |= VTD_GSTS_IRTPS;
		changed = true;
		pr_info("vtd: interrupt remapping table %#llx, %u entries, %s", (unsigned long long)ir->base,
			ir->entries, ir->eime ? "x2APIC" : "xAPIC");
	}
	if ((cmd ^ gsts) & VTD_GCMD_IRE) {
		gsts ^= VTD_GSTS_IRES;
		ir->enabled = gsts & VTD_GSTS_IRES;
		changed = true;
		pr_info("vtd: interrupt remapping %s", ir->enabled ? "enabled" : "disabled");
	}
	if ((cmd ^ gsts) & VTD_GCMD_CFI) {
		gsts ^= VTD_GSTS_CFIS;
		ir->cfi = gsts & VTD_GSTS_CFIS;
		changed = true;
	}
	vtd_set_reg32(vtd, VTD_GSTS_REG, gsts);
	pthread_mutex_unlock(&ir->lock);
	if (changed)
		notify(vtd);
}

/* IEC invalidation (§6.5.2.7): all, or the 2^IM entries from @index (aligned down). */
void vtd_ir__iec_inv_locked(struct vtd *vtd, bool global, uint32_t index, unsigned im)
{
	struct vtd_ir *ir = &vtd->ir;

	pthread_mutex_lock(&ir->lock);
	if (global) {
		iec_flush_all(ir);
	} else {
		uint32_t n = 1u << im, first = index & ~(n - 1);

		for (uint32_t i = first; i < first + n && i < 65536; i++) {
			struct vtd_iec_entry *c = ir->iec[i / VTD_IEC_CHUNK];

			if (c)
				c[i % VTD_IEC_CHUNK].gen = 0;
		}
	}
	pthread_mutex_unlock(&ir->lock);
	notify(vtd);
}

/* Reserved bits and values of a present remapped IRTE (§9.10). */
static bool irte_reserved(const struct vtd_ir *ir, uint64_t lo, uint64_t hi)
{
	unsigned dlm = VTD_IRTE_DLM(lo);

	if ((lo & VTD_IRTE_LO_RSVD) || (hi & VTD_IRTE_HI_RSVD))
		return true;
	if (!ir->eime && (lo & VTD_IRTE_LO_RSVD_XAPIC))
		return true;
	/* Delivery modes 011b and 110b are reserved; SVT 11b is reserved. */
	return dlm == 3 || dlm == 6 || VTD_IRTE_SVT(hi) == 3;
}

/* Source-id verification (§9.10 SVT/SQ/SID). */
static bool sid_ok(uint64_t hi, uint16_t sid)
{
	/* SQ: which low bits of the function number are not compared (none, bit 2, bits 2:1, bits 2:0). */
	static const uint16_t sq_mask[4] = { 0xFFFF, 0xFFFB, 0xFFF9, 0xFFF8 };
	uint16_t want = VTD_IRTE_SID(hi);

	switch (VTD_IRTE_SVT(hi)) {
	case VTD_SVT_SID:
		return !((want ^ sid) & sq_mask[VTD_IRTE_SQ(hi)]);
	case VTD_SVT_BUS:
		return (sid >> 8) >= (want >> 8) && (sid >> 8) <= (want & 0xFF);
	default:
		return true;
	}
}

/*
 * The IRTE at @index from the IEC or the table, checked. 0 or a fault reason; *@fpd tells whether the
 * entry disables fault recording. ir.lock held.
 */
static uint8_t irte_get(struct vtd *vtd, uint32_t index, uint64_t *lo, uint64_t *hi, bool *fpd)
{
	struct vtd_ir *ir = &vtd->ir;
	struct vtd_iec_entry **chunk = &ir->iec[index / VTD_IEC_CHUNK], *e;
	uint64_t q[2];

	*fpd = false;
	if (*chunk && (*chunk)[index % VTD_IEC_CHUNK].gen == ir->iec_gen) {
		e = &(*chunk)[index % VTD_IEC_CHUNK];
		*lo = e->lo;
		*hi = e->hi;
		*fpd = *lo & VTD_IRTE_FPD;
		return 0;
	}
	if (!vtd_read_qwords(vtd, ir->base + 16ULL * index, q, 2))
		return VTD_FR_IR_ROOT;
	if (!(q[0] & VTD_IRTE_P))
		return VTD_FR_IR_ENTRY_P;
	*fpd = q[0] & VTD_IRTE_FPD;
	if (irte_reserved(ir, q[0], q[1]))
		return VTD_FR_IR_IRTE_RSVD;
	if (!*chunk)
		*chunk = calloc(VTD_IEC_CHUNK, sizeof(**chunk));
	if (*chunk) {	/* out of memory: the entry is simply not cached */
		e = &(*chunk)[index % VTD_IEC_CHUNK];
		e->lo = q[0];
		e->hi = q[1];
		e->gen = ir->iec_gen;
	}
	*lo = q[0];
	*hi = q[1];
	return 0;
}

/* The message an IRTE describes (QEMU's vtd_generate_msi_message: address bits 1:0 kept). */
static void irte_message(const struct vtd_ir *ir, uint64_t lo, uint64_t in_addr, uint64_t *addr, uint32_t *data)
{
	uint32_t dst = ir->eime ? VTD_IRTE_DST(lo) : (uint32_t)(lo >> 40) & 0xFF;

	*addr = MSI_BASE | (uint64_t)(dst & 0xFF) << 12 | (uint64_t)(dst & 0xFFFFFF00) << 32 | (in_addr & 3);
	if (lo & VTD_IRTE_RH)
		*addr |= BIT(3);
	if (lo & VTD_IRTE_DM)
		*addr |= BIT(2);
	*data = VTD_IRTE_VECTOR(lo) | VTD_IRTE_DLM(lo) << 8 | MSI_DATA_LEVEL | ((lo & VTD_IRTE_TM) ? MSI_DATA_TM : 0);
}

int vtd__remap_msi(struct vtd *vtd, uint16_t sid, uint64_t *addr, uint32_t *data, bool record)
{
	struct vtd_ir *ir = &vtd->ir;
	struct vtd_req req = { .sid = sid, .write = true };
	uint64_t lo = 0, hi = 0;
	uint32_t index = 0;
	uint8_t fr = 0;
	bool fpd = false;

	pthread_mutex_lock(&ir->lock);
	if (!ir->enabled) {
		pthread_mutex_unlock(&ir->lock);
		return 0;
	}
	if (!(*addr & VTD_IR_ADDR_FMT)) {
		/* Compatibility format: through untouched when CFIS allows it (§5.1.2.1). */
		fr = ir->cfi ? 0 : VTD_FR_IR_COMPAT;
		goto out;
	}
	index = VTD_IR_HANDLE(*addr);
	if (*addr & VTD_IR_ADDR_SHV) {
		if (*data & 0xFFFF0000u) {
			fr = VTD_FR_IR_REQ_RSVD;
			goto out;
		}
		index += *data & 0xFFFF;
	}
	if (index >= ir->entries) {
		fr = VTD_FR_IR_INDEX;
		goto out;
	}
	fr = irte_get(vtd, index, &lo, &hi, &fpd);
	if (!fr && !sid_ok(hi, sid))
		fr = VTD_FR_IR_SID;
	if (!fr)
		irte_message(ir, lo, *addr, addr, data);
out:
	pthread_mutex_unlock(&ir->lock);
	if (!fr)
		return 0;
	/* FI[63:48] = the interrupt index (§10.4.14); FPD only covers faults found in a present entry. */
	req.iova = (uint64_t)(index & 0xFFFF) << 48;
	if (record)
		vtd_fault__report(vtd, &req, fr, fpd && (fr == VTD_FR_IR_IRTE_RSVD || fr == VTD_FR_IR_SID));
	return -EFAULT;
}
