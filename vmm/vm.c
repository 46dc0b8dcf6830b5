#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/sys.h"
#include "vmm/util.h"

/* KVM wants three pages for the real-mode TSS and one for the EPT identity map, outside RAM and MMIO. */
#define VM_TSS_ADDR		0xFFFBD000ULL
#define VM_IDENTITY_MAP_ADDR	0xFFFBC000ULL
#define VM_MAX_CPUID_ENTRIES	256

static const struct { long cap; const char *name; } required_caps[] = {
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
	{ KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
};

static int vm__fail(const char *what, int err)
{
	pr_err("%s: %s: %s", what, sys__last_ioctl(), strerror(-err));
	return err;
}

static int vm__get_cpuid(struct vm *vm)
{
	size_t sz = sizeof(struct kvm_cpuid2) + VM_MAX_CPUID_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	int ret;

	vm->supported_cpuid = calloc(1, sz);
	if (!vm->supported_cpuid) {
		pr_err("reading the supported CPUID: out of memory");
		return -ENOMEM;
	}
	vm->supported_cpuid->nent = VM_MAX_CPUID_ENTRIES;
	ret = sys__kvm_get_supported_cpuid(vm->kvm_fd, vm->supported_cpuid);
	return ret < 0 ? vm__fail("reading the supported CPUID", ret) : 0;
}

static int vm__map_ram(struct vm *vm)
{
	for (int i = 0; i < vm->mem.nr; i++) {
		struct kvm_userspace_memory_region r = {
			.slot = i,
			.guest_phys_addr = vm->mem.r[i].gpa,
			.memory_size = vm->mem.r[i].size,
			.userspace_addr = (uintptr_t)vm->mem.r[i].hva,
		};
		int ret = sys__kvm_set_user_memory_region(vm->vm_fd, &r);
		if (ret < 0)
			return vm__fail("mapping guest RAM", ret);
	}
	return 0;
}

int vm__add_slot(struct vm *vm, uint64_t gpa, uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region r = {
		.guest_phys_addr = gpa, .memory_size = size, .userspace_addr = (uintptr_t)hva,
	};
	int n, ret;

	pthread_mutex_lock(&vm->slot_lock);
	n = vm->slots_used == UINT64_MAX ? -1 : __builtin_ctzll(~vm->slots_used);
	if (n < 0) {
		pthread_mutex_unlock(&vm->slot_lock);
		return -ENOSPC;
	}
	r.slot = VM_FIRST_DEVICE_SLOT + n;
	/* Offline (no KVM: --dump-dtb) the slot is only booked: no guest will run to reach it. */
	ret = vm__offline(vm) ? 0 : sys__kvm_set_user_memory_region(vm->vm_fd, &r);
	if (!ret)
		vm->slots_used |= 1ULL << n;
	pthread_mutex_unlock(&vm->slot_lock);
	return ret < 0 ? ret : (int)r.slot;
}

void vm__del_slot(struct vm *vm, int slot)
{
	struct kvm_userspace_memory_region r = { .slot = slot };	/* size 0 deletes it */
	int n = slot - VM_FIRST_DEVICE_SLOT, ret;

	if (n < 0 || n >= 64)
		return;
	pthread_mutex_lock(&vm->slot_lock);
	ret = vm__offline(vm) ? 0 : sys__kvm_set_user_memory_region(vm->vm_fd, &r);
	if (ret < 0)
		pr_warn("removing memslot %d: %s: %s", slot, sys__last_ioctl(), strerror(-ret));
	vm->slots_used &= ~(1ULL << n);
	pthread_mutex_unlock(&vm->slot_lock);
}

int vm__init(struct vm *vm, uint64_t mem_size)
{
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = -1;
	pthread_mutex_init(&vm->slot_lock, NULL);
	bus__init(&vm->pio, "pio");
	bus__init(&vm->mmio, "mmio");
	ret = guest_mem__init(&vm->mem, mem_size);
	if (ret) {
		pr_err("cannot allocate %llu MiB of guest RAM: %s", (unsigned long long)(mem_size >> 20),
		       strerror(-ret));
		goto fail;
	}
	ret = irq__init(vm);
	if (!ret)
		return 0;
fail:
	vm__exit(vm);	/* a failed init leaves nothing behind */
	return ret;
}

static int vm__check_host(struct vm *vm, const char *dev)
{
	int ret = sys__kvm_get_api_version(vm->kvm_fd);

	if (ret < 0)
		return vm__fail(dev, ret);
	if (ret != KVM_API_VERSION) {
		pr_err("%s: KVM API version %d, minivmm needs %d", dev, ret, KVM_API_VERSION);
		return -EINVAL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(required_caps); i++) {
		ret = sys__kvm_check_extension(vm->kvm_fd, required_caps[i].cap);
		if (ret < 0)
			return vm__fail(dev, ret);
		if (ret == 0) {
			pr_err("%s: the host KVM lacks %s", dev, required_caps[i].name);
			return -EOPNOTSUPP;
		}
	}
	ret = sys__kvm_get_vcpu_mmap_size(vm->kvm_fd);
	if (ret < 0)
		return vm__fail(dev, ret);
	vm->vcpu_mmap_size = ret;
	return vm__get_cpuid(vm);
}

static int vm__do_attach(struct vm *vm, const char *dev)
{
	int ret;

	vm->kvm_fd = open(dev, O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		ret = -errno;
		pr_err("cannot open %s: %s%s", dev, strerror(errno),
		       errno == ENOENT ? " (is the kvm module loaded?)" :
		       errno == EACCES ? " (add yourself to the kvm group)" : "");
		return ret;
	}
	ret = vm__check_host(vm, dev);
	if (ret)
		return ret;
	ret = sys__kvm_create_vm(vm->kvm_fd);
	if (ret < 0)
		return vm__fail("creating the VM", ret);
	vm->vm_fd = ret;
	ret = sys__kvm_set_tss_addr(vm->vm_fd, VM_TSS_ADDR);
	if (ret < 0)
		return vm__fail("creating the VM", ret);
	ret = sys__kvm_set_identity_map_addr(vm->vm_fd, VM_IDENTITY_MAP_ADDR);
	if (ret < 0)
		return vm__fail("creating the VM", ret);
	ret = vm__map_ram(vm);
	if (ret)
		return ret;
	return irq__attach_kvm(vm);
}

/* Closing the VM fd drops its memslots, irqchip and routes in KVM; the offline object stays whole. */
static void vm__detach_kvm(struct vm *vm)
{
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
	free(vm->supported_cpuid);
	vm->supported_cpuid = NULL;
}

int vm__attach_kvm(struct vm *vm, const char *dev)
{
	int ret = vm__do_attach(vm, dev);

	if (ret)
		vm__detach_kvm(vm);	/* back to an offline object, which the caller still owns */
	return ret;
}

/* Idempotent: safe after a failed vm__init() and when called twice. */
void vm__exit(struct vm *vm)
{
	vm__detach_kvm(vm);
	irq__exit(vm);
	guest_mem__exit(&vm->mem);
	bus__exit(&vm->pio);
	bus__exit(&vm->mmio);
}
