/*
 * The virtual Intel VT-d remapping unit (--viommu flts): one unit in front of every PCI device, in
 * scalable mode with first-stage translation. What the machine and device models use:
 *
 *   vtd = vtd__create(&vm->mem, &opt, msi_fn, vm);            // CAP/ECAP from @opt only
 *   bus__register(&vm->mmio, LAYOUT_VTD_BASE, LAYOUT_VTD_SIZE, vtd__mmio, vtd, "vtd");
 *   dma__init_as(&dev->dma, &vm->mem, vtd__translator(vtd), sid);
 *
 * translate() may be called from any thread (vCPUs, device I/O threads) while a vCPU programs the
 * registers. With translation disabled (GSTS.TES=0) DMA addresses pass through untranslated.
 * Fault and invalidation-completion events are signalled through the msi callback.
 */
#ifndef MINIVMM_IOMMU_VTD_H
#define MINIVMM_IOMMU_VTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/dma.h"

struct guest_mem;
struct vtd;

/* Host address width reported by the DMAR table (HAW - 1 = 47) and used for reserved-bit checks. */
#define VTD_HOST_ADDR_WIDTH 48

struct vtd_options {
	bool fs1gp;		/* CAP.FS1GP: first-stage 1 GiB pages (--viommu flts,fs1gp=on, the default) */
	bool fs5lp;		/* CAP.FS5LP: 5-level first-stage tables, MGAW 57 (not on the command line) */
	bool slts;		/* --viommu slts: second-stage translation in scalable mode (ECAP.SSTS), no first stage */
	bool nested;		/* --viommu nested: both stages and nested translation (ECAP.FSTS, SSTS, NEST) */
	unsigned iotlb_entries;	/* IOTLB capacity, rounded up to a power of two; 0 = 4096 */
	bool ir;		/* interrupt remapping with x2APIC destinations (ECAP.IR, EIM): --viommu ...,ir=on */
};

/* Deliver an MSI (normally irq__send_msi). Called without the unit's locks held. */
typedef void (*vtd_msi_fn)(void *opaque, uint64_t addr, uint32_t data);

/* NULL with errno set on failure. @mem must outlive the unit. */
struct vtd *vtd__create(struct guest_mem *mem, const struct vtd_options *opt, vtd_msi_fn msi, void *opaque);
void vtd__destroy(struct vtd *vtd);
/* Power-on state: registers to reset values, translation off, caches empty (machine reset). */
void vtd__reset(struct vtd *vtd);

/* The register page: a bus_io_fn for LAYOUT_VTD_BASE, 4 or 8-byte accesses. */
void vtd__mmio(void *vtd, uint64_t offset, void *data, unsigned len, bool is_write);

/*
 * Interrupt remapping (ECAP.IR, §5.1). Every interrupt a PCI function or the IOAPIC sends goes through
 * vtd__remap_msi() with its source-id: on 0, *@addr and *@data hold the compatibility-format message to
 * deliver (x2APIC destination bits 31:8 in @addr's upper half, as KVM_X2APIC_API takes them); on
 * -EFAULT the interrupt is blocked and, if @record, the fault is recorded (unless the IRTE's FPD says
 * not to). With remapping off (GSTS.IRES = 0) messages pass unchanged. Entries are cached (the
 * interrupt entry cache): a guest's change to an IRTE takes effect after an IEC invalidation.
 * Callable from any thread without the unit's locks.
 */
int vtd__remap_msi(struct vtd *vtd, uint16_t sid, uint64_t *addr, uint32_t *data, bool record);
/*
 * Told after anything that may change a remapping result: IEC invalidation, SIRTP, IRE or CFI toggle,
 * reset. Whoever keeps remapped routes (KVM GSI routes for irqfds) remaps them again then, with
 * record = false. Runs on the vCPU thread that programs the unit, with its lock held: it may call
 * vtd__remap_msi() but nothing else of the unit.
 */
typedef void (*vtd_ir_changed_fn)(void *opaque);
void vtd__set_ir_notify(struct vtd *vtd, vtd_ir_changed_fn fn, void *opaque);

/* The DMA translator for every device behind the unit (vmm/dma.h). */
const struct dma_translator *vtd__translator(struct vtd *vtd);

/*
 * Passthrough hooks. A device registers its requester ID and is told how requests without PASID
 * (its RID_PASID entry) are translated now: once at registration, then whenever that changes after a
 * PASID-cache or context-cache invalidation, an SRTP or a TE toggle. It is also told of IOTLB
 * invalidations that hit the DID/PASID of a first-stage binding. Callbacks run on the vCPU thread that
 * programs the unit, with the unit's lock held: they must not call back into the unit.
 */
enum vtd_bind_kind {
	VTD_BIND_UNTRANSLATED,	/* translation disabled: DMA addresses are guest physical */
	VTD_BIND_BLOCKED,	/* no valid entry (not present, reserved bits, legacy mode): DMA faults */
	VTD_BIND_PASSTHROUGH,	/* PGTT = pass-through: identity */
	VTD_BIND_FIRST_STAGE,	/* PGTT = first-stage: the guest's tables at @fsptptr */
};

struct vtd_binding {
	enum vtd_bind_kind kind;
	uint16_t did;
	uint32_t pasid;		/* the RID_PASID value */
	uint64_t fsptptr;	/* first-stage root table (guest physical) */
	unsigned addr_width;	/* 48 (4-level) or 57 (5-level) */
	bool sre, wpe;		/* supervisor requests enabled, write-protect enable */
};

struct vtd_dev_ops {
	/* 0, or -errno when the host could not follow: called again at the next re-evaluation. */
	int (*binding_changed)(void *opaque, const struct vtd_binding *b);
	/* [addr, addr + npages * 4 KiB) of (did, pasid); npages = UINT64_MAX (addr 0): everything. */
	void (*iotlb_invalidate)(void *opaque, uint16_t did, uint32_t pasid, uint64_t addr, uint64_t npages,
				 bool leaf);
	/*
	 * Optional: the invalidations given to iotlb_invalidate() since the last call may have been held
	 * to be sent together; send them now. The unit calls it after a register-based invalidation, and
	 * in a queued-invalidation run before a wait descriptor, before any descriptor that is not an
	 * IOTLB invalidation (binding changes come after it) and at the end of the run; so everything a
	 * guest waits for has reached the host when its wait completes.
	 */
	void (*iotlb_flush)(void *opaque);
};

/* -EEXIST if @sid is already watched, -ENOMEM. binding_changed() runs once before this returns. */
int vtd__watch_device(struct vtd *vtd, uint16_t sid, const struct vtd_dev_ops *ops, void *opaque);
void vtd__unwatch_device(struct vtd *vtd, uint16_t sid);


/*
 * The host IOMMU behind a passed-through device (QEMU calls it the host IOMMU device), as its backend
 * describes it once the device is attached. Handing it to the unit is how a passthrough device joins
 * the vIOMMU: vtd__set_host_iommu_device() checks that the host can run the guest's first-stage tables
 * nested on the VMM's second stage (§6.2 of the design notes), then watches the device (above).
 */
enum vtd_host_backend { VTD_HOST_BACKEND_IOMMUFD, VTD_HOST_BACKEND_VFIO_LEGACY };

struct vtd_host_iommu {
	enum vtd_host_backend backend;
	uint32_t type;		/* IOMMU_HW_INFO_TYPE_* of IOMMU_GET_HW_INFO; 1 = Intel VT-d */
	uint64_t cap, ecap;	/* the host unit's CAP_REG / ECAP_REG */
};

/*
 * 0, or -EINVAL with the reason in @err ("no nested translation (VT-d ECAP.NEST=0)"), or -EEXIST
 * when @sid already has one. The checks: iommufd backend, Intel VT-d, scalable mode with nesting and
 * both stages, 1 GiB first-stage pages if the unit offers them (CAP.FS1GP: the host kernel does not
 * check it, the device would fault), 5-level if offered, supervisor requests (ECAP.SRS, offered to
 * the guest), page-walk snooping (ECAP.SMPWC, promised to the guest), and a host address width
 * covering the unit's.
 */
int vtd__check_host_iommu(struct vtd *vtd, const struct vtd_host_iommu *host, char *err, size_t errlen);
/*
 * The host IOMMU in words, for `minivmm probe -v`: its type and, for VT-d, the CAP/ECAP fields the
 * checks above read (one line each: "CAP 0x...: MGAW 48, SAGAW 39/48, FS1GP 1, FS5LP 0, ...").
 */
void vtd__describe_host_iommu(const struct vtd_host_iommu *host, char *buf, size_t n);
int vtd__set_host_iommu_device(struct vtd *vtd, uint16_t sid, const struct vtd_host_iommu *host,
			       const struct vtd_dev_ops *ops, void *opaque, char *err, size_t errlen);

#endif
