/*
 * Interrupts: the in-kernel irqchip (PIC, IOAPIC, LAPICs) and PIT, level/edge lines on the IOAPIC, and
 * MSI delivery through KVM: KVM_SIGNAL_MSI for one-off messages, GSI routes + irqfd for devices whose
 * I/O threads signal interrupts without a vCPU exit.
 */
#ifndef MINIVMM_IRQ_H
#define MINIVMM_IRQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;

/*
 * Interrupt remapping (the vIOMMU, iommu/vtd.h vtd__remap_msi): rewrites the message a device with
 * requester ID @sid sent, or blocks it (-errno; the fault recorded if @record).
 */
typedef int (*irq_remap_fn)(void *opaque, uint16_t sid, uint64_t *addr, uint32_t *data, bool record);

/* A userspace IOAPIC (split irqchip): input lines and the guest's EOIs of level-triggered vectors. */
struct irq_ioapic_ops {
	void (*set_line)(void *opaque, unsigned pin, int level);
	void (*eoi)(void *opaque, uint8_t vector);
};

/* A GSI routed to an MSI: the message its device programmed, and what KVM was given for it. */
struct irq_msi_route {
	bool used;
	bool blocked;			/* the remapper refused it: no KVM route, so an irqfd delivers nothing */
	uint16_t sid;
	uint64_t addr, out_addr;
	uint32_t data, out_data;
};

struct irq_router {
	pthread_mutex_t lock;
	struct kvm_irq_routing *table;	/* the whole table: KVM_SET_GSI_ROUTING replaces it each time */
	struct irq_msi_route *msi;	/* by GSI; GSIs below IOAPIC_PINS are the IOAPIC's pins when split */
	unsigned next_gsi;		/* next free GSI for MSI routes (after the IOAPIC pins) */
	/*
	 * Split irqchip (KVM_CAP_SPLIT_IRQCHIP): the LAPICs in KVM, the IOAPIC in userspace, no PIC and no
	 * PIT; set before irq__attach_kvm() by whoever remaps interrupts. Also turns on KVM_CAP_X2APIC_API
	 * (32-bit destinations in MSI address bits 63:40).
	 */
	bool split;
	const struct irq_ioapic_ops *ioapic;
	void *ioapic_opaque;
	irq_remap_fn remap;
	void *remap_opaque;
};

/* The router with the default IOAPIC/PIC routes, no ioctl (the VM may be offline, vmm/vm.h). */
int irq__init(struct vm *vm);
/* Create the irqchip and PIT in the VM and install the router's table (vm__attach_kvm). */
int irq__attach_kvm(struct vm *vm);
void irq__exit(struct vm *vm);

/* Drive IOAPIC/PIC input @gsi to @level. */
int irq__set_line(struct vm *vm, unsigned gsi, int level);
/* Raise then lower an edge-triggered line. */
int irq__pulse(struct vm *vm, unsigned gsi);

/*
 * Deliver one MSI (address, data) that no remapping applies to (the vIOMMU's own events). Addresses
 * outside 0xFEExxxxx are dropped with -EINVAL; with the x2APIC API bits 63:40 carry destination 31:8.
 */
int irq__send_msi(struct vm *vm, uint64_t addr, uint32_t data);
/*
 * Deliver the MSI a device with requester ID @sid wrote: through the remapper when there is one
 * (-EFAULT when it blocks the message, the fault recorded), then as irq__send_msi().
 */
int irq__send_msi_from(struct vm *vm, uint16_t sid, uint64_t addr, uint32_t data);

/* A GSI routed to an MSI of @sid's, for irqfd. Returns the GSI or -errno. */
int irq__add_msi_route(struct vm *vm, uint16_t sid, uint64_t addr, uint32_t data);
int irq__update_msi_route(struct vm *vm, unsigned gsi, uint64_t addr, uint32_t data);
/* True when the remapper blocks @gsi's message: send through irq__send_msi_from() to get the fault. */
bool irq__route_blocked(struct vm *vm, unsigned gsi);

/* Install the remapper; every route is remapped again (as after irq__remap_changed()). */
void irq__set_remapper(struct vm *vm, irq_remap_fn fn, void *opaque);
/* The remapper's answers may have changed (IEC invalidation, IRE toggle...): remap every route. */
void irq__remap_changed(struct vm *vm);

/*
 * Split irqchip: the userspace IOAPIC's hooks, and its pin @pin's message for KVM's EOI tracking (a
 * level-triggered vector gets KVM_EXIT_IOAPIC_EOI when the guest EOIs it); @valid false removes it.
 */
void irq__set_ioapic(struct vm *vm, const struct irq_ioapic_ops *ops, void *opaque);
int irq__set_pin_route(struct vm *vm, unsigned pin, uint16_t sid, uint64_t addr, uint32_t data, bool valid);
/* KVM_EXIT_IOAPIC_EOI (split irqchip). */
void irq__eoi(struct vm *vm, uint8_t vector);
/* Attach/detach an eventfd to a GSI: a write to @fd raises the interrupt from any thread. */
int irq__irqfd(struct vm *vm, unsigned gsi, int fd, bool assign);
/*
 * A level-triggered irqfd (KVM_IRQFD_FLAG_RESAMPLE): a signal on @fd asserts @gsi; when the guest EOIs it,
 * KVM deasserts it and signals @resample_fd (VFIO then unmasks the host's INTx). Deassign with @assign false.
 */
int irq__irqfd_resample(struct vm *vm, unsigned gsi, int fd, int resample_fd, bool assign);

#endif
