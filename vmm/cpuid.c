/* CPUID seen by the guest: KVM_GET_SUPPORTED_CPUID, adjusted per vCPU (APIC IDs, topology, hypervisor bit). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/log.h"
#include "vmm/sys.h"
#include "vmm/util.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define CPUID_1_ECX_HYPERVISOR BIT(31)
#define CPUID_1_EDX_HTT BIT(28)

static void cpuid__fix_entry(struct kvm_cpuid_entry2 *e, int id, int ncpus)
{
	switch (e->function) {
	case 1:
		/* EBX[31:24] initial APIC ID, EBX[23:16] logical processors per package. */
		e->ebx = (e->ebx & 0xFFFF) | ((uint32_t)id << 24) | ((uint32_t)(ncpus & 0xFF) << 16);
		e->ecx |= CPUID_1_ECX_HYPERVISOR;
		if (ncpus > 1)
			e->edx |= CPUID_1_EDX_HTT;
		break;
	case 0xB:
	case 0x1F:
		/* Extended topology: every vCPU is a core of one package; EDX = x2APIC ID. */
		e->edx = id;
		if (e->index == 0) {
			e->eax = 0;		/* no SMT level bits */
			e->ebx = 1;
			e->ecx = (1 << 8) | 0;	/* level 0: SMT */
		} else if (e->index == 1) {
			int shift = 0;
			while ((1 << shift) < ncpus)
				shift++;
			e->eax = shift;
			e->ebx = ncpus;
			e->ecx = (2 << 8) | 1;	/* level 1: core */
		} else {
			e->eax = e->ebx = 0;
			e->ecx = e->index;	/* invalid level terminates the list */
		}
		break;
	default:
		break;
	}
}

int cpuid__setup(struct vcpu *vcpu, int ncpus)
{
	const struct kvm_cpuid2 *sup = vcpu->vm->supported_cpuid;
	size_t sz = sizeof(*sup) + sup->nent * sizeof(sup->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	int ret;

	if (!c)
		return -ENOMEM;
	memcpy(c, sup, sz);
	for (unsigned i = 0; i < c->nent; i++)
		cpuid__fix_entry(&c->entries[i], vcpu->id, ncpus);
	ret = sys__kvm_set_cpuid2(vcpu->fd, c);
	if (ret < 0)
		pr_err("vCPU %d: %s: %s", vcpu->id, sys__last_ioctl(), strerror(-ret));
	free(c);
	return ret < 0 ? ret : 0;
}
