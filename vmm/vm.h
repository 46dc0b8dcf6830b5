/* The KVM VM object: /dev/kvm, the VM fd, guest RAM and its memslots, the buses, the interrupt router. */
#ifndef MINIVMM_VM_H
#define MINIVMM_VM_H

#include <linux/kvm.h>
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
	/*
	 * How devices end the run: poweroff, reset, test-exit. The machine sets it; unit tests set a recorder.
	 * @status is an enum vmm_exit value (vmm/log.h) or a guest program's test-exit code.
	 */
	void (*stop)(struct vm *vm, int status, const char *reason);
	void *owner;	/* the struct machine, for stop() */
	volatile int stopping;	/* set once by stop(); vCPU threads leave their run loops */
};

/*
 * Open @dev (normally "/dev/kvm"), check the API version and the capabilities minivmm needs, create
 * the VM and its RAM (@mem_size bytes). On failure prints why (naming the ioctl) and returns -errno.
 */
int vm__init(struct vm *vm, const char *dev, uint64_t mem_size);
void vm__exit(struct vm *vm);

#endif
