/* CPUID seen by the guest: KVM_GET_SUPPORTED_CPUID, adjusted per vCPU (APIC IDs, topology, hypervisor bit). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/log.h"
#include "vmm/sys.h"
#include "vmm/util.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define CPUID_1_ECX_HYPERVISOR BIT(31)
#define CPUID_1_EDX_HTT BIT(28)

/* Bits to hold a core number below @ncpus (the APIC ID field width of the core level). */
static unsigned core_bits(int ncpus)
{
	unsigned shift = 0;

	while ((1 << shift) < ncpus)
		shift++;
	return shift;
}

void cpuid__adjust(struct kvm_cpuid_entry2 *e, int id, int ncpus)
{
	switch (e->function) {
	case 1:
		/* EBX[31:24] initial APIC ID, EBX[23:16] logical processors per package. */
		e->ebx = (e->ebx & 0xFFFF) | ((uint32_t)id << 24) | ((uint32_t)(ncpus > 255 ? 255 : ncpus) << 16);
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
			e->eax = core_bits(ncpus);
			e->ebx = ncpus;
			e->ecx = (2 << 8) | 1;	/* level 1: core */
		} else {
			e->eax = e->ebx = 0;
			e->ecx = e->index;	/* invalid level terminates the list */
		}
		break;
	case 0x80000008:
		/*
		 * AMD: ECX[7:0] threads per package - 1, ECX[15:12] APIC ID bits for them (AMD APM vol. 3,
		 * CPUID Fn8000_0008). The host's values would make each vCPU a package of its own.
		 */
		e->ecx = (e->ecx & ~0xF0FFu) | (core_bits(ncpus) << 12) | (uint32_t)((ncpus > 256 ? 256 : ncpus) - 1);
		break;
	case 0x8000001E:
		/*
		 * AMD TOPOEXT (Fn8000_001E): EAX extended APIC ID, EBX[7:0] core ID and [15:8] threads per
		 * core - 1, ECX[7:0] node ID and [10:8] nodes per package - 1. KVM reports zeros, which
		 * would give every vCPU APIC ID 0: one thread per core, one node.
		 */
		e->eax = id;
		e->ebx = id & 0xFF;
		e->ecx = 0;
		break;
	default:
		break;
	}
}

/*
 * The extended-topology leaves (0xB, 0x1F) as a whole: levels SMT and core, then the invalid level that
 * ends the list. KVM may list only some subleaves (on this AMD PVM host, level 0 alone), and a guest
 * reading zeros at level 1 takes every vCPU for a package of its own.
 */
static unsigned add_topology_leaf(struct kvm_cpuid_entry2 *out, unsigned n, uint32_t fn, int id, int ncpus)
{
	for (uint32_t i = 0; i < 3; i++) {
		out[n] = (struct kvm_cpuid_entry2){ .function = fn, .index = i, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX };
		cpuid__adjust(&out[n], id, ncpus);
		n++;
	}
	return n;
}

#define CPUID_1_ECX_VMX		BIT(5)
#define CPUID_80000001_ECX_SVM	BIT(2)

const char *cpuid__virt_ext(const struct kvm_cpuid2 *c)
{
	for (unsigned i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 1 && (e->ecx & CPUID_1_ECX_VMX))
			return "VMX";
		if (e->function == 0x80000001 && (e->ecx & CPUID_80000001_ECX_SVM))
			return "SVM";
	}
	return NULL;
}

void cpuid__hide_virt_ext(struct kvm_cpuid2 *c)
{
	unsigned n = 0;

	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 e = c->entries[i];

		if (e.function == 0x8000000A)
			continue;	/* SVM's own leaf (revision, ASIDs, features): gone with SVM */
		if (e.function == 1)
			e.ecx &= ~CPUID_1_ECX_VMX;
		if (e.function == 0x80000001)
			e.ecx &= ~CPUID_80000001_ECX_SVM;
		c->entries[n++] = e;
	}
	c->nent = n;
}

int cpuid__setup(struct vcpu *vcpu, int ncpus)
{
	const struct kvm_cpuid2 *sup = vcpu->vm->supported_cpuid;
	struct kvm_cpuid2 *c = malloc(sizeof(*c) + (sup->nent + 6) * sizeof(c->entries[0]));
	bool has_b = false, has_1f = false;
	unsigned n = 0;
	int ret;

	if (!c)
		return -ENOMEM;
	for (unsigned i = 0; i < sup->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &sup->entries[i];

		if (e->function == 0xB || e->function == 0x1F) {
			has_b |= e->function == 0xB;
			has_1f |= e->function == 0x1F;
			continue;
		}
		c->entries[n] = *e;
		cpuid__adjust(&c->entries[n], vcpu->id, ncpus);
		n++;
	}
	if (has_b)
		n = add_topology_leaf(c->entries, n, 0xB, vcpu->id, ncpus);
	if (has_1f)
		n = add_topology_leaf(c->entries, n, 0x1F, vcpu->id, ncpus);
	c->nent = n;
	c->padding = 0;
	ret = sys__kvm_set_cpuid2(vcpu->fd, c);
	if (ret < 0)
		pr_err("vCPU %d: %s: %s", vcpu->id, sys__last_ioctl(), strerror(-ret));
	free(c);
	return ret < 0 ? ret : 0;
}
