/* Tier 1 helper: the fake KVM host (see fake_kvm.h). No main(): linked into every unit test. */
#include "fake_kvm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/irq.h"
#include "vmm/memory.h"
#include "vmm/sys.h"
#include "vmm/vm.h"

struct fake_kvm fake_kvm = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void record_routing(const struct kvm_irq_routing *r)
{
	unsigned n = r->nr < FAKE_KVM_MAX_ROUTES ? r->nr : FAKE_KVM_MAX_ROUTES;

	fake_kvm.nr_routing_sets++;
	fake_kvm.nr_routes = r->nr;
	memcpy(fake_kvm.routes, r->entries, n * sizeof(r->entries[0]));
}

static int fake_ioctl(int fd, unsigned long req, void *arg)
{
	int ret = 0;

	pthread_mutex_lock(&fake_kvm.lock);
	fake_kvm.nr_ioctls++;
	if (fake_kvm.fail_req && req == fake_kvm.fail_req) {
		errno = fake_kvm.fail_errno;
		ret = -1;
		goto out;
	}
	if (fake_kvm.answer_req && req == fake_kvm.answer_req) {
		ret = fake_kvm.answer_value;
		goto out;
	}
	switch (req) {
	/* What minivmm asks while creating a VM: a host with everything it needs. */
	case KVM_GET_API_VERSION:
		ret = KVM_API_VERSION;
		break;
	case KVM_CHECK_EXTENSION:
		ret = 1;
		break;
	case KVM_GET_VCPU_MMAP_SIZE:
		ret = 4096;
		break;
	case KVM_CREATE_VM:
		ret = FAKE_KVM_VM_FD;
		break;
	case KVM_GET_SUPPORTED_CPUID:
		((struct kvm_cpuid2 *)arg)->nent = 0;
		break;
	case KVM_IRQ_LINE: {
		const struct kvm_irq_level *l = arg;

		if (fake_kvm.nr_lines < FAKE_KVM_MAX_RECORDS)
			fake_kvm.lines[fake_kvm.nr_lines] = (struct fake_irq_line){ l->irq, l->level };
		fake_kvm.nr_lines++;
		break;
	}
	case KVM_SIGNAL_MSI: {
		const struct kvm_msi *m = arg;

		if (fake_kvm.nr_msis < FAKE_KVM_MAX_RECORDS)
			fake_kvm.msis[fake_kvm.nr_msis] =
				(struct fake_msi){ (uint64_t)m->address_hi << 32 | m->address_lo, m->data };
		fake_kvm.nr_msis++;
		ret = 1;	/* KVM: "delivered to one or more vCPUs" */
		break;
	}
	case KVM_IRQFD: {
		const struct kvm_irqfd *f = arg;

		if (fake_kvm.nr_irqfds < sizeof(fake_kvm.irqfds) / sizeof(fake_kvm.irqfds[0]))
			fake_kvm.irqfds[fake_kvm.nr_irqfds] = (struct fake_irqfd){
				(int)f->fd, f->gsi, !(f->flags & KVM_IRQFD_FLAG_DEASSIGN),
				!!(f->flags & KVM_IRQFD_FLAG_RESAMPLE), (int)f->resamplefd };
		fake_kvm.nr_irqfds++;
		break;
	}
	case KVM_SET_USER_MEMORY_REGION:
		if (fake_kvm.nr_memslots < 64)
			fake_kvm.memslots[fake_kvm.nr_memslots] = *(struct kvm_userspace_memory_region *)arg;
		fake_kvm.nr_memslots++;
		break;
	case KVM_SET_GSI_ROUTING:
		record_routing(arg);
		break;
	default:
		break;
	}
out:
	pthread_mutex_unlock(&fake_kvm.lock);
	return ret;
}

void fake_kvm__reset(void)
{
	pthread_mutex_lock(&fake_kvm.lock);
	fake_kvm.nr_ioctls = fake_kvm.nr_lines = fake_kvm.nr_msis = fake_kvm.nr_irqfds = 0;
	fake_kvm.nr_routing_sets = fake_kvm.nr_routes = 0;
	fake_kvm.nr_memslots = 0;
	fake_kvm.fail_req = 0;
	fake_kvm.answer_req = 0;
	fake_kvm.fail_errno = 0;
	fake_kvm.nr_stops = 0;
	fake_kvm.stop_status = -1;
	fake_kvm.stop_reason[0] = '\0';
	sys__ioctl_fn = fake_ioctl;
	pthread_mutex_unlock(&fake_kvm.lock);
}

void fake_kvm__fail(unsigned long req, int err)
{
	pthread_mutex_lock(&fake_kvm.lock);
	fake_kvm.fail_req = req;
	fake_kvm.fail_errno = err;
	pthread_mutex_unlock(&fake_kvm.lock);
}

int fake_kvm__level(unsigned gsi)
{
	int level = -1;

	pthread_mutex_lock(&fake_kvm.lock);
	for (unsigned i = 0; i < fake_kvm.nr_lines && i < FAKE_KVM_MAX_RECORDS; i++)
		if (fake_kvm.lines[i].gsi == gsi)
			level = fake_kvm.lines[i].level;
	pthread_mutex_unlock(&fake_kvm.lock);
	return level;
}

unsigned fake_kvm__line_calls(unsigned gsi)
{
	unsigned n = 0;

	pthread_mutex_lock(&fake_kvm.lock);
	for (unsigned i = 0; i < fake_kvm.nr_lines && i < FAKE_KVM_MAX_RECORDS; i++)
		n += fake_kvm.lines[i].gsi == gsi;
	pthread_mutex_unlock(&fake_kvm.lock);
	return n;
}

static void fake_stop(struct vm *vm, int status, const char *reason)
{
	pthread_mutex_lock(&fake_kvm.lock);
	fake_kvm.nr_stops++;
	fake_kvm.stop_status = status;
	snprintf(fake_kvm.stop_reason, sizeof(fake_kvm.stop_reason), "%s", reason ? reason : "");
	pthread_mutex_unlock(&fake_kvm.lock);
}

static void fake_die(const char *what, int err)
{
	fprintf(stderr, "fake_vm__new: %s: %s\n", what, strerror(err < 0 ? -err : err));
	abort();
}

struct vm *fake_vm__new(uint64_t mem_size)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	int ret;

	if (!vm)
		fake_die("calloc", ENOMEM);
	fake_kvm__reset();
	vm->kvm_fd = FAKE_KVM_KVM_FD;
	vm->vm_fd = FAKE_KVM_VM_FD;
	bus__init(&vm->pio, "pio");
	bus__init(&vm->mmio, "mmio");
	if (mem_size) {
		ret = guest_mem__init(&vm->mem, mem_size);
		if (ret)
			fake_die("guest_mem__init", ret);
	}
	ret = irq__init(vm);
	if (ret)
		fake_die("irq__init", ret);
	ret = irq__attach_kvm(vm);
	if (ret)
		fake_die("irq__attach_kvm", ret);
	vm->stop = fake_stop;
	return vm;
}

void fake_vm__free(struct vm *vm)
{
	if (!vm)
		return;
	irq__exit(vm);
	pthread_mutex_destroy(&vm->irq.lock);
	guest_mem__exit(&vm->mem);
	bus__exit(&vm->pio);
	bus__exit(&vm->mmio);
	free(vm);
}

void fake_kvm__answer(unsigned long req, int value)
{
	pthread_mutex_lock(&fake_kvm.lock);
	fake_kvm.answer_req = req;
	fake_kvm.answer_value = value;
	pthread_mutex_unlock(&fake_kvm.lock);
}
