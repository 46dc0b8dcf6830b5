/* The KVM VM object: /dev/kvm, the VM fd, guest RAM and its memslots, the buses, the interrupt router. */
#ifndef MINIVMM_VM_H
#define MINIVMM_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/irq.h"
#include "vmm/memory.h"

struct vm {
	int kvm_fd;
	int vm_fd;
	int vcpu_mmap_size;
	struct kvm_cpuid2 *supported_cpuid;	/* KVM_GET_SUPPORTED_CPUID, malloc'd */
	struct guest_mem mem;
	struct bus pio;
	struct bus mmio;
	struct irq_router irq;
	pthread_mutex_t slot_lock;
	uint64_t slots_used;	/* memslots of vm__add_slot(): bit n = slot VM_FIRST_DEVICE_SLOT + n */
	/*
	 * How devices end the run: poweroff, reset, test-exit. The machine sets it; unit tests set a recorder.
	 * @status is an enum vmm_exit value (vmm/log.h) or a guest program's test-exit code.
	 */
	void (*stop)(struct vm *vm, int status, const char *reason);
	void *owner;	/* the struct machine, for stop() */
	volatile int stopping;	/* set once by stop(); vCPU threads leave their run loops */
};

/*
 * The VM object without KVM ("offline"): guest RAM (@mem_size bytes), both buses and the interrupt
 * router, no ioctl. Enough to build the machine and its firmware tables, e.g. for --dump-dtb on a
 * host without /dev/kvm; what would reach KVM (routes, irqfds, lines, MSIs, memslots) is skipped
 * until vm__attach_kvm(). On failure prints why and returns -errno.
 */
int vm__init(struct vm *vm, uint64_t mem_size);
/*
 * Open @dev (normally "/dev/kvm"), check the API version and the capabilities minivmm needs, create
 * the VM, map its RAM, create the irqchip and PIT and install the router's routes. On failure prints
 * why (naming the ioctl), leaves the object offline and returns -errno.
 */
int vm__attach_kvm(struct vm *vm, const char *dev);
static inline bool vm__offline(const struct vm *vm)
{
	return vm->vm_fd < 0;
}
void vm__exit(struct vm *vm);

/*
 * Map host memory @hva (page aligned, @size bytes, a multiple of the page size) at guest physical @gpa
 * as an extra memslot, e.g. a passthrough device's BAR: the guest then reaches it without exits.
 * Returns the slot for vm__del_slot(), or -errno (-ENOSPC when all 64 device slots are used).
 */
#define VM_FIRST_DEVICE_SLOT 16
int vm__add_slot(struct vm *vm, uint64_t gpa, uint64_t size, void *hva);
void vm__del_slot(struct vm *vm, int slot);

#endif
