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

struct irq_router {
	pthread_mutex_t lock;
	struct kvm_irq_routing *table;	/* the whole table: KVM_SET_GSI_ROUTING replaces it each time */
	unsigned next_gsi;		/* next free GSI for MSI routes (after the IOAPIC pins) */
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

/* Deliver one MSI (address, data). Addresses outside 0xFEExxxxx are dropped with -EINVAL. */
int irq__send_msi(struct vm *vm, uint64_t addr, uint32_t data);

/* A GSI routed to an MSI, for irqfd. Returns the GSI or -errno. */
int irq__add_msi_route(struct vm *vm, uint64_t addr, uint32_t data);
int irq__update_msi_route(struct vm *vm, unsigned gsi, uint64_t addr, uint32_t data);
/* Attach/detach an eventfd to a GSI: a write to @fd raises the interrupt from any thread. */
int irq__irqfd(struct vm *vm, unsigned gsi, int fd, bool assign);
/*
 * A level-triggered irqfd (KVM_IRQFD_FLAG_RESAMPLE): a signal on @fd asserts @gsi; when the guest EOIs it,
 * KVM deasserts it and signals @resample_fd (VFIO then unmasks the host's INTx). Deassign with @assign false.
 */
int irq__irqfd_resample(struct vm *vm, unsigned gsi, int fd, int resample_fd, bool assign);

#endif
