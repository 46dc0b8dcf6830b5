/*
 * Intel VT-d architecture facts used by the model: register offsets and bits, table formats, fault
 * reasons, invalidation descriptors. Numbers follow the VT-d specification (3.x, scalable mode); the
 * section references "§n" point into design/vtd-iommufd.md, which cites its sources.
 * Nothing here has state: the model's own structures are in vtd-priv.h.
 */
#ifndef MINIVMM_VTD_HW_H
#define MINIVMM_VTD_HW_H

#include <stdint.h>

#include "vmm/util.h"

/* Host address width: output addresses and table pointers above 2^48 are reserved bits (DMAR HAW 47). */
#define VTD_HAW			48
#define VTD_HAW_MASK		GENMASK(VTD_HAW - 1, 0)
#define VTD_ADDR_MASK		GENMASK(VTD_HAW - 1, 12)	/* a 4 KiB-aligned pointer below HAW */
#define VTD_PAGE_SHIFT		12

/* ---- Registers (§1.2). Offsets are exact; VTD_REG_SIZE is the 4 KiB MMIO page Linux maps. ---- */
#define VTD_VER_REG		0x000
#define VTD_CAP_REG		0x008
#define VTD_ECAP_REG		0x010
#define VTD_GCMD_REG		0x018
#define VTD_GSTS_REG		0x01C
#define VTD_RTADDR_REG		0x020
#define VTD_CCMD_REG		0x028
#define VTD_FSTS_REG		0x034
#define VTD_FECTL_REG		0x038
#define VTD_FEDATA_REG		0x03C
#define VTD_FEADDR_REG		0x040
#define VTD_FEUADDR_REG		0x044
#define VTD_AFLOG_REG		0x058
#define VTD_PMEN_REG		0x064
#define VTD_IQH_REG		0x080
#define VTD_IQT_REG		0x088
#define VTD_IQA_REG		0x090
#define VTD_ICS_REG		0x09C
#define VTD_IECTL_REG		0x0A0
#define VTD_IEDATA_REG		0x0A4
#define VTD_IEADDR_REG		0x0A8
#define VTD_IEUADDR_REG		0x0AC
#define VTD_IQER_REG		0x0B0
#define VTD_IRTA_REG		0x0B8
#define VTD_IVA_REG		0x0F0	/* ECAP.IRO = 0xF: IOTLB registers at 0xF0 */
#define VTD_IOTLB_REG		0x0F8
#define VTD_FRCD_REG		0x220	/* CAP.FRO = 0x22 */
#define VTD_NR_FRCD		8	/* fault recording registers (CAP.NFR = 7), §9 asks for more than one */
#define VTD_FRCD_END		(VTD_FRCD_REG + 16 * VTD_NR_FRCD)
#define VTD_REG_SIZE		0x1000

/* VER: scalable mode is a VT-d 3.0 feature, so report major 3 (Linux only prints it). */
#define VTD_VER_VALUE		0x30

/* CAP (§1.3) */
#define VTD_CAP_ND(n)		((uint64_t)(n) << 0)	/* 2^(4+2n) domains: 6 = 16-bit DIDs */
#define VTD_CAP_CM		BIT(7)
#define VTD_CAP_SAGAW_39	BIT(9)
#define VTD_CAP_SAGAW_48	BIT(10)
#define VTD_CAP_MGAW(w)		((uint64_t)((w) - 1) << 16)
#define VTD_CAP_MGAW_OF(cap)	((unsigned)(((cap) >> 16) & 0x3f) + 1)	/* in bits */
#define VTD_CAP_FRO(off)	((uint64_t)((off) >> 4) << 24)
#define VTD_CAP_PSI		BIT(39)
#define VTD_CAP_NFR(n)		((uint64_t)((n) - 1) << 40)
#define VTD_CAP_MAMV(v)		((uint64_t)(v) << 48)
#define VTD_CAP_DWD		BIT(54)
#define VTD_CAP_DRD		BIT(55)
#define VTD_CAP_SLLPS_2M	BIT(34)	/* second-stage 2 MiB pages */
#define VTD_CAP_SLLPS_1G	BIT(35)
#define VTD_CAP_FS1GP		BIT(56)
#define VTD_CAP_FS5LP		BIT(60)
#define VTD_CAP_ESRTPS		BIT(63)	/* SRTP also invalidates every translation cache */
#define VTD_MAMV		18	/* largest address mask (AM) of a page-selective invalidation */

/* ECAP (§1.3) */
#define VTD_ECAP_C		BIT(0)
#define VTD_ECAP_QI		BIT(1)
#define VTD_ECAP_PT		BIT(6)
#define VTD_ECAP_IRO(off)	((uint64_t)((off) >> 4) << 8)
#define VTD_ECAP_NEST		BIT(26)	/* nested translation */
#define VTD_ECAP_SRS		BIT(31)
#define VTD_ECAP_PSS(bits)	((uint64_t)((bits) - 1) << 35)
#define VTD_ECAP_PASID		BIT(40)
#define VTD_ECAP_SMTS		BIT(43)
#define VTD_ECAP_SSTS		BIT(46)	/* second-stage translation */
#define VTD_ECAP_FSTS		BIT(47)
#define VTD_ECAP_SMPWC		BIT(48)
#define VTD_PASID_BITS		20

/* GCMD / GSTS: the same bit positions (command bit -> status bit). */
#define VTD_GCMD_TE		BIT(31)
#define VTD_GCMD_SRTP		BIT(30)
#define VTD_GCMD_SFL		BIT(29)
#define VTD_GCMD_EAFL		BIT(28)
#define VTD_GCMD_WBF		BIT(27)
#define VTD_GCMD_QIE		BIT(26)
#define VTD_GCMD_IRE		BIT(25)
#define VTD_GCMD_SIRTP		BIT(24)
#define VTD_GCMD_CFI		BIT(23)
#define VTD_GSTS_TES		VTD_GCMD_TE
#define VTD_GSTS_RTPS		VTD_GCMD_SRTP
#define VTD_GSTS_QIES		VTD_GCMD_QIE

/* RTADDR: bits 11:10 TTM (translation table mode) */
#define VTD_RTADDR_TTM(v)	(((v) >> 10) & 3)
#define VTD_TTM_LEGACY		0
#define VTD_TTM_SCALABLE	1
#define VTD_TTM_ADM		3	/* abort-DMA mode: needs ECAP.ADMS, which this unit lacks */

/* CCMD (64-bit) */
#define VTD_CCMD_ICC		BIT(63)
#define VTD_CCMD_CIRG(v)	(((v) >> 61) & 3)
#define VTD_CCMD_CAIG_SHIFT	59
#define VTD_CCMD_FM(v)		(((v) >> 32) & 3)
#define VTD_CCMD_SID(v)		(((v) >> 16) & 0xFFFF)
#define VTD_CCMD_DID(v)		((v) & 0xFFFF)

/* IOTLB register (64-bit) and IVA */
#define VTD_IOTLB_IVT		BIT(63)
#define VTD_IOTLB_IIRG(v)	(((v) >> 60) & 3)
#define VTD_IOTLB_IAIG_SHIFT	57
#define VTD_IOTLB_DID(v)	(((v) >> 32) & 0xFFFF)
#define VTD_IVA_AM(v)		((v) & 0x3F)
#define VTD_IVA_IH		BIT(6)

/* Invalidation granularities shared by CCMD/IOTLB registers and descriptors. */
#define VTD_INV_GLOBAL		1
#define VTD_INV_DOMAIN		2
#define VTD_INV_PAGE		3	/* IOTLB: page-selective; context: device-selective */

/* FSTS / FECTL / ICS / IECTL */
#define VTD_FSTS_PFO		BIT(0)
#define VTD_FSTS_PPF		BIT(1)
#define VTD_FSTS_IQE		BIT(4)
#define VTD_FSTS_ICE		BIT(5)
#define VTD_FSTS_ITE		BIT(6)
#define VTD_FSTS_FRI_SHIFT	8
#define VTD_FSTS_FRI_MASK	GENMASK(15, 8)
#define VTD_ECTL_IM		BIT(31)	/* FECTL and IECTL: interrupt mask */
#define VTD_ECTL_IP		BIT(30)	/* interrupt pending */
#define VTD_ICS_IWC		BIT(0)

/* IQA / IQH / IQT */
#define VTD_IQA_DW		BIT(11)	/* 256-bit descriptors */
#define VTD_IQA_QS(v)		((v) & 7)
#define VTD_IQ_OFF_MASK		GENMASK(18, 4)

/* IQER: 3:0 IQEI (why the queue stopped). Codes are [spec recollection], Linux only prints them. */
#define VTD_IQEI_TAIL		1	/* IQT not valid (beyond the queue, or bit 4 with 256-bit descriptors) */
#define VTD_IQEI_FETCH		2	/* descriptor fetch failed (queue outside RAM) */
#define VTD_IQEI_TYPE		3	/* unknown / unsupported descriptor type */
#define VTD_IQEI_RSVD		4	/* reserved field set, or invalid granularity/mask */
#define VTD_IQEI_STATUS		2	/* wait status write failed (not RAM): reported like a fetch error */

/* Fault recording register, high qword (§1.2) */
#define VTD_FRCD_F		BIT(63)
#define VTD_FRCD_T		BIT(62)	/* 1 = read request */
#define VTD_FRCD_PV_SHIFT	40
#define VTD_FRCD_FR_SHIFT	32
#define VTD_FRCD_PP		BIT(31)
#define VTD_FRCD_PRIV		BIT(29)	/* [spec recollection]; Linux ignores it */

/* ---- Scalable-mode tables (§2) ---- */
/* Root entry: two halves (lower: devfn 0-127, upper: devfn 128-255), each bit 0 present, 63:12 pointer. */
#define VTD_RE_P		BIT(0)
#define VTD_RE_RSVD		(GENMASK(11, 1) | GENMASK(63, VTD_HAW))

/* Context entry (256 bits) */
#define VTD_CE0_P		BIT(0)
#define VTD_CE0_FPD		BIT(1)
#define VTD_CE0_DTE		BIT(2)
#define VTD_CE0_PASIDE		BIT(3)
#define VTD_CE0_PRE		BIT(4)
#define VTD_CE0_PDTS(v)		(((v) >> 9) & 7)	/* directory has 2^(PDTS+7) entries */
/* DTE/PRE need ECAP.DT/PRS, which this unit does not report: reserved here. */
#define VTD_CE0_RSVD		(VTD_CE0_DTE | VTD_CE0_PRE | GENMASK(8, 5) | GENMASK(63, VTD_HAW))
#define VTD_CE1_RID_PASID(v)	((uint32_t)((v) & GENMASK(19, 0)))
#define VTD_CE1_RID_PRIV	BIT(20)
#define VTD_CE1_RSVD		GENMASK(63, 21)

/* PASID directory entry */
#define VTD_PDE_P		BIT(0)
#define VTD_PDE_FPD		BIT(1)
#define VTD_PDE_RSVD		(GENMASK(11, 2) | GENMASK(63, VTD_HAW))

/* PASID table entry (512 bits, §2.4) */
#define VTD_PE0_P		BIT(0)
#define VTD_PE0_FPD		BIT(1)
#define VTD_PE0_PGTT(v)		(((v) >> 6) & 7)
#define VTD_PE0_RSVD		GENMASK(11, 10)	/* AW/SSADE/SSPTPTR are second-stage fields: ignored */
#define VTD_PE1_DID(v)		((uint16_t)(v))
#define VTD_PE1_PWSNP		BIT(23)
#define VTD_PE1_PGSNP		BIT(24)
/* 22:16 reserved; 63:25 are memory-type fields that need ECAP.MTS (not reported). */
#define VTD_PE1_RSVD		(GENMASK(22, 16) | GENMASK(63, 25))
#define VTD_PE2_SRE		BIT(0)
#define VTD_PE2_ERE		BIT(1)
#define VTD_PE2_FSPM(v)		(((v) >> 2) & 3)	/* 0: 4-level, 1: 5-level */
#define VTD_PE2_WPE		BIT(4)
#define VTD_PE2_EAFE		BIT(7)
/* ERE needs ECAP.ERS, EAFE needs ECAP.EAFS: neither is reported. */
#define VTD_PE2_RSVD		(VTD_PE2_ERE | GENMASK(11, 5) | GENMASK(63, VTD_HAW))
#define VTD_PGTT_FS		1
#define VTD_PGTT_SS		2
#define VTD_PGTT_NESTED		3
#define VTD_PGTT_PT		4

/* First-stage paging entries (§3.1, IA-32e format). Bits 62:52 and 63 (XD) are ignored. */
#define VTD_FS_P		BIT(0)
#define VTD_FS_RW		BIT(1)
#define VTD_FS_US		BIT(2)
#define VTD_FS_A		BIT(5)
#define VTD_FS_D		BIT(6)
#define VTD_FS_PS		BIT(7)
#define VTD_FS_ADDR		VTD_ADDR_MASK
#define VTD_FS_RSVD_ADDR	GENMASK(51, VTD_HAW)
#define VTD_FS_RSVD_2M		GENMASK(20, 13)		/* in a 2 MiB leaf (bit 12 is PAT) */
#define VTD_FS_RSVD_1G		GENMASK(29, 13)		/* in a 1 GiB leaf */

/* ---- Legacy-mode tables (RTADDR.TTM = 00; VT-d spec §9.1, §9.3) ---- */
/* Root entry: bit 0 P, 63:12 context-table pointer; the upper qword is reserved. */
#define VTD_LRE_RSVD		VTD_RE_RSVD
/* Context entry (128 bits, 256 per table, index = devfn). */
#define VTD_LCE0_P		BIT(0)
#define VTD_LCE0_FPD		BIT(1)
#define VTD_LCE0_TT(v)		(((v) >> 2) & 3)	/* 00 second stage, 01 + device-TLB, 10 pass-through */
#define VTD_LCE0_RSVD		(GENMASK(11, 4) | GENMASK(63, VTD_HAW))
#define VTD_LCE1_AW(v)		((unsigned)((v) & 7))	/* 1: 39-bit 3-level, 2: 48-bit 4-level */
#define VTD_LCE1_DID(v)		((uint16_t)((v) >> 8))
#define VTD_LCE1_RSVD		(BIT(7) | GENMASK(63, 24))	/* bits 6:3 are ignored (AVAIL) */
#define VTD_LCE_TT_SS		0
#define VTD_LCE_TT_PT		2
/* The PASID entry's second-stage fields (scalable mode, PGTT = 010b). */
#define VTD_PE0_AW(v)		((unsigned)(((v) >> 2) & 7))

/* Second-stage paging entries (§9.8). Bits 6:3 (EMT/IPAT without ECAP.MTS), 10:8, 62:52 and 63 ignored. */
#define VTD_SS_R		BIT(0)
#define VTD_SS_W		BIT(1)
#define VTD_SS_PS		BIT(7)
#define VTD_SS_SNP		BIT(11)	/* reserved in legacy mode without ECAP.SC; not in scalable mode */
#define VTD_SS_RSVD_ADDR	GENMASK(51, VTD_HAW)
#define VTD_SS_RSVD_2M		GENMASK(20, 12)
#define VTD_SS_RSVD_1G		GENMASK(29, 12)

/* The interrupt address range (§3.2 step 4): translated output there is refused. */
#define VTD_INTR_BASE		0xFEE00000ULL
#define VTD_INTR_END		0xFEF00000ULL

/* ---- Fault reasons of the scalable-mode path (§3.3; codes as Linux's dma_remap_sm_fault_reasons) ---- */
enum vtd_fault_reason {
	/* Legacy mode and the second stage (QEMU reports these for second-stage faults in scalable mode too). */
	VTD_FR_RE_P		= 0x01,	/* root entry not present */
	VTD_FR_CE_P		= 0x02,	/* context entry not present */
	VTD_FR_CE_INV		= 0x03,	/* context entry: AW not in SAGAW, TT not supported, or SS root unreadable */
	VTD_FR_ADDR_WIDTH	= 0x04,	/* input address beyond the AGAW of the context/PASID entry */
	VTD_FR_SS_WRITE		= 0x05,	/* write without W in a second-stage entry */
	VTD_FR_SS_READ		= 0x06,	/* read without R (or a not-present entry) */
	VTD_FR_SS_ACCESS	= 0x07,	/* second-stage table outside RAM */
	VTD_FR_RE_ACCESS	= 0x08,
	VTD_FR_CE_ACCESS	= 0x09,
	VTD_FR_RE_RSVD		= 0x0A,
	VTD_FR_CE_RSVD		= 0x0B,
	VTD_FR_SS_RSVD		= 0x0C,
	VTD_FR_INTR_LEGACY	= 0x0E,	/* output in the interrupt range, legacy mode */
	/* Interrupt remapping (§5.1.4) */
	VTD_FR_IR_REQ_RSVD	= 0x20,	/* reserved bits in the interrupt request (SHV with data[31:16]) */
	VTD_FR_IR_INDEX		= 0x21,	/* index beyond the table (2^(IRTA.S+1) entries) */
	VTD_FR_IR_ENTRY_P	= 0x22,	/* IRTE not present */
	VTD_FR_IR_ROOT		= 0x23,	/* IRTE outside RAM */
	VTD_FR_IR_IRTE_RSVD	= 0x24,	/* reserved bits or values in a present IRTE */
	VTD_FR_IR_COMPAT	= 0x25,	/* compatibility-format interrupt while GSTS.CFIS = 0 */
	VTD_FR_IR_SID		= 0x26,	/* source-id verification failed */
	VTD_FR_SM_RTA		= 0x30,	/* invalid root table address: TTM not scalable (legacy/ADM unsupported) */
	VTD_FR_SM_TTM0_PASID	= 0x31,	/* request with PASID while TTM = 00 */
	VTD_FR_SM_RE_ACCESS	= 0x38,
	VTD_FR_SM_RE_P		= 0x39,
	VTD_FR_SM_RE_RSVD	= 0x3A,
	VTD_FR_SM_CE_ACCESS	= 0x40,
	VTD_FR_SM_CE_P		= 0x41,
	VTD_FR_SM_CE_RSVD	= 0x42,
	VTD_FR_SM_PASIDE	= 0x45,	/* request with PASID, PASIDE clear */
	VTD_FR_SM_PASID_MAX	= 0x46,	/* PASID beyond the PASID directory (PDTS) */
	VTD_FR_SM_RID_PASID	= 0x48,	/* RID_PASID beyond the PASID directory */
	VTD_FR_SM_PDE_ACCESS	= 0x50,
	VTD_FR_SM_PDE_P		= 0x51,
	VTD_FR_SM_PDE_RSVD	= 0x52,
	VTD_FR_SM_PE_ACCESS	= 0x58,
	VTD_FR_SM_PE_P		= 0x59,
	VTD_FR_SM_PE_RSVD	= 0x5A,
	VTD_FR_SM_PE_INV	= 0x5B,	/* unsupported PGTT or paging mode */
	VTD_FR_SM_SRE		= 0x5D,	/* supervisor request, SRE clear */
	VTD_FR_FS_ACCESS	= 0x70,	/* first-stage table (below the top) outside RAM */
	VTD_FR_FS_P		= 0x71,
	VTD_FR_FS_RSVD		= 0x72,
	VTD_FR_FS_PTR		= 0x73,	/* FSPTPTR outside RAM */
	VTD_FR_NON_CANONICAL	= 0x80,
	VTD_FR_US		= 0x81,	/* user request to a supervisor page */
	VTD_FR_MGAW		= 0x83,	/* address beyond the hardware maximum (pass-through) */
	VTD_FR_WRITE		= 0x85,
	VTD_FR_INTR_ADDR	= 0x87,	/* output in the interrupt address range */
	VTD_FR_AD_UPDATE	= 0x91,	/* A/D update lost the race against the guest too often (QEMU's SFS.10) */
};

/* ---- Invalidation descriptors (§4.2). Type = bits 3:0 | bits 11:9 << 4. ---- */
#define VTD_DESC_TYPE(q0)	(((q0) & 0xF) | (((q0) >> 5) & 0x70))
#define VTD_DESC_CC		0x1
#define VTD_DESC_IOTLB		0x2
#define VTD_DESC_DEVTLB		0x3
#define VTD_DESC_IEC		0x4
#define VTD_DESC_WAIT		0x5
#define VTD_DESC_PIOTLB		0x6
#define VTD_DESC_PC		0x7
#define VTD_DESC_PDEVTLB	0x8
#define VTD_DESC_G(q0)		(((q0) >> 4) & 3)
#define VTD_DESC_DID(q0)	((uint16_t)((q0) >> 16))
#define VTD_DESC_PASID(q0)	((uint32_t)(((q0) >> 32) & GENMASK(19, 0)))
#define VTD_DESC_CC_SID(q0)	((uint16_t)((q0) >> 32))
#define VTD_DESC_CC_FM(q0)	(((q0) >> 48) & 3)
#define VTD_DESC_ADDR(q1)	((q1) & ~0xFFFULL)
#define VTD_DESC_AM(q1)		((q1) & 0x3F)
#define VTD_DESC_IH		BIT(6)
#define VTD_WAIT_IF		BIT(4)
#define VTD_WAIT_SW		BIT(5)
#define VTD_WAIT_FN		BIT(6)
/* Reserved bits (QEMU's masks, §4.2). The device-TLB masks leave PFSID alone (Linux may fill it). */
#define VTD_DESC_CC_RSVD0	0xFFFC00000000F1C0ULL
#define VTD_DESC_IOTLB_RSVD0	0xFFFFFFFF0000F100ULL
#define VTD_DESC_ADDR_RSVD1	0xF80ULL		/* IOTLB and P_IOTLB qw1 */
#define VTD_DESC_PIOTLB_RSVD0	0xFFF000000000F1C0ULL
#define VTD_DESC_PC_RSVD0	0xFFF000000000F1C0ULL
#define VTD_DESC_WAIT_RSVD0	0xFFFFF180ULL		/* bit 7 (PD) needs page requests */
#define VTD_DESC_WAIT_RSVD1	0x3ULL
#define VTD_DESC_IEC_RSVD0	0xFFFF000007FFF1E0ULL
#define VTD_DESC_DEVTLB_RSVD0	0x000F0000FFE001F0ULL	/* QEMU's mask minus PFSID */
#define VTD_DESC_DEVTLB_RSVD1	0xFFEULL
#define VTD_DESC_PDEVTLB_RSVD1	0x7FEULL
/* PASID-cache granularity */
#define VTD_PC_G_DOMAIN		0
#define VTD_PC_G_PASID		1
#define VTD_PC_G_GLOBAL		3
/* P_IOTLB granularity */
#define VTD_PIOTLB_G_PASID	2
#define VTD_PIOTLB_G_PAGE	3

/* ---- Interrupt remapping (§5.1, §9.10; design/vtd-nesting.md §4, checked against QEMU's model) ---- */
#define VTD_CAP_ESIRTPS		BIT(62)	/* SIRTP also invalidates the interrupt entry cache */
#define VTD_ECAP_IR		BIT(3)
#define VTD_ECAP_EIM		BIT(4)	/* x2APIC: 32-bit destinations (IRTA.EIME) */
#define VTD_ECAP_MHMV(v)	((uint64_t)(v) << 20)	/* handle mask maximum (IEC index-selective IM) */
#define VTD_IR_MHMV		15
#define VTD_GSTS_IRES		VTD_GCMD_IRE
#define VTD_GSTS_IRTPS		VTD_GCMD_SIRTP
#define VTD_GSTS_CFIS		VTD_GCMD_CFI
/* IRTA: 63:12 table base, 11 EIME, 3:0 S (2^(S+1) entries); 10:4 reserved. */
#define VTD_IRTA_EIME		BIT(11)
#define VTD_IRTA_S(v)		((unsigned)(v) & 0xF)
#define VTD_IRTA_RW		(VTD_ADDR_MASK | VTD_IRTA_EIME | 0xFULL)
/* Interrupt request (MSI address): 31:20 0xFEE, 19:5 handle[14:0], 4 format, 3 SHV, 2 handle[15]. */
#define VTD_IR_ADDR_FMT		BIT(4)
#define VTD_IR_ADDR_SHV		BIT(3)
#define VTD_IR_HANDLE(a)	((uint32_t)((((a) >> 5) & 0x7FFF) | (((a) >> 2) & 1) << 15))
/* Remapped IRTE, low qword (§9.10): the rest of 31:0 and, in xAPIC mode, 39:32 and 63:48 reserved. */
#define VTD_IRTE_P		BIT(0)
#define VTD_IRTE_FPD		BIT(1)
#define VTD_IRTE_DM		BIT(2)	/* destination mode: 1 = logical */
#define VTD_IRTE_RH		BIT(3)	/* redirection hint */
#define VTD_IRTE_TM		BIT(4)	/* trigger mode: 1 = level */
#define VTD_IRTE_DLM(lo)	((unsigned)((lo) >> 5) & 7)
#define VTD_IRTE_IM		BIT(15)	/* 1 = posted: needs CAP.PI, which this unit lacks */
#define VTD_IRTE_VECTOR(lo)	((uint8_t)((lo) >> 16))
#define VTD_IRTE_DST(lo)	((uint32_t)((lo) >> 32))
#define VTD_IRTE_LO_RSVD	(GENMASK(14, 12) | VTD_IRTE_IM | GENMASK(31, 24))
#define VTD_IRTE_LO_RSVD_XAPIC	(GENMASK(39, 32) | GENMASK(63, 48))
/* High qword: 15:0 SID, 17:16 SQ, 19:18 SVT, 63:20 reserved. */
#define VTD_IRTE_SID(hi)	((uint16_t)(hi))
#define VTD_IRTE_SQ(hi)		((unsigned)((hi) >> 16) & 3)
#define VTD_IRTE_SVT(hi)	((unsigned)((hi) >> 18) & 3)
#define VTD_IRTE_HI_RSVD	GENMASK(63, 20)
#define VTD_SVT_NONE		0
#define VTD_SVT_SID		1	/* requester ID, SQ says which function bits to ignore */
#define VTD_SVT_BUS		2	/* bus within SID[15:8] (start) .. SID[7:0] (end) */
/* IEC invalidation descriptor: 4 G (1 = index-selective), 31:27 IM, 47:32 IIDX. */
#define VTD_DESC_IEC_IDX(q0)	((uint32_t)((q0) >> 32) & 0xFFFF)
#define VTD_DESC_IEC_IM(q0)	((unsigned)((q0) >> 27) & 0x1F)
#define VTD_DESC_IEC_G_INDEX	BIT(4)

#endif
