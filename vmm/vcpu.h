/* vCPU objects: one KVM vCPU and one host thread each. */
#ifndef MINIVMM_VCPU_H
#define MINIVMM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>

struct vm;
struct boot_entry;

struct vcpu {
	struct vm *vm;
	int id;			/* also its LAPIC ID */
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	uint64_t exits;		/* exits handled in user space, for statistics (-v at exit) */
	uint64_t exits_mmio, exits_io;
};

/* Create vCPU @id of @ncpus and give it the CPUID it should see (before any long-mode SREGS). */
int vcpu__init(struct vcpu *vcpu, struct vm *vm, int id, int ncpus);
void vcpu__exit(struct vcpu *vcpu);
/* Put the BSP in 64-bit mode at the boot entry. APs stay in their reset state, waiting for INIT/SIPI. */
int vcpu__setup_boot(struct vcpu *vcpu, const struct boot_entry *entry);
/* Start the thread running KVM_RUN until the machine stops. */
int vcpu__start(struct vcpu *vcpu);
/* Make a running vCPU leave KVM_RUN (the thread then notices the machine is stopping). */
void vcpu__kick(struct vcpu *vcpu);

/* CPUID for vCPU @id: the host-supported leaves with this vCPU's APIC ID and topology. */
int cpuid__setup(struct vcpu *vcpu, int ncpus);
/*
 * Nested virtualization. KVM_GET_SUPPORTED_CPUID lists VMX (CPUID.1:ECX[5]) or SVM (CPUID.80000001h:
 * ECX[2], with leaf 8000000Ah) when the host's kvm_intel / kvm_amd runs nested guests. virt_ext() names
 * the one @c offers ("VMX", "SVM") or NULL; hide_virt_ext() removes both from @c, so the guest sees
 * no virtualization extension (the default; --nested-virt keeps them).
 */
const char *cpuid__virt_ext(const struct kvm_cpuid2 *c);
void cpuid__hide_virt_ext(struct kvm_cpuid2 *c);
/* What cpuid__setup() changes in one supported-CPUID entry for vCPU @id of @ncpus (topology, APIC IDs). */
void cpuid__adjust(struct kvm_cpuid_entry2 *e, int id, int ncpus);

#endif
