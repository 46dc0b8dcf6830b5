#include "vmm/irq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/layout.h"
#include "vmm/log.h"
#include "vmm/sys.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define IRQ_MAX_ROUTES 1024
#define PIC_PINS 8

/*
 * Offline (vmm/vm.h: no KVM yet, or none at all for --dump-dtb) nothing reaches KVM: the table waits for
 * irq__attach_kvm(), and lines, MSIs and irqfds have no guest to reach.
 */
static int irq__commit(struct vm *vm)
{
	int ret = vm__offline(vm) ? 0 : sys__kvm_set_gsi_routing(vm->vm_fd, vm->irq.table);

	if (ret < 0)
		pr_err("interrupt routing: %s: %s", sys__last_ioctl(), strerror(-ret));
	return ret;
}

static struct kvm_irq_routing_entry *irq__new_entry(struct irq_router *r)
{
	if (r->table->nr >= IRQ_MAX_ROUTES)
		return NULL;
	return &r->table->entries[r->table->nr++];
}

/*
 * KVM_CREATE_IRQCHIP installs default routes, but KVM_SET_GSI_ROUTING replaces the whole table, so the
 * router keeps its own copy: GSIs 0-15 to the PICs, and the IOAPIC pins as a PC wires them: ISA IRQ 0
 * (the PIT) on pin 2, as the MADT's interrupt source override IRQ0->GSI2 tells the guest (QEMU and
 * kvmtool do the same), IRQs 1-15 on pins 1-15, GSIs 16-23 on pins 16-23. GSI 2 is the PIC cascade and
 * has no IOAPIC route of its own.
 */
static void irq__default_routes(struct irq_router *r)
{
	for (unsigned gsi = 0; gsi < IOAPIC_PINS; gsi++) {
		struct kvm_irq_routing_entry *e;

		if (gsi < 2 * PIC_PINS) {
			e = irq__new_entry(r);
			*e = (struct kvm_irq_routing_entry){
				.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { .irqchip = gsi < PIC_PINS ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
					       .pin = gsi % PIC_PINS },
			};
		}
		if (gsi == 2)
			continue;
		e = irq__new_entry(r);
		*e = (struct kvm_irq_routing_entry){
			.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi ? gsi : 2 },
		};
	}
	r->next_gsi = IOAPIC_PINS;
}

int irq__init(struct vm *vm)
{
	struct irq_router *r = &vm->irq;

	pthread_mutex_init(&r->lock, NULL);
	r->table = calloc(1, sizeof(*r->table) + IRQ_MAX_ROUTES * sizeof(r->table->entries[0]));
	if (!r->table) {
		pr_err("interrupt routing: out of memory");
		return -ENOMEM;
	}
	irq__default_routes(r);
	return 0;
}

int irq__attach_kvm(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int ret;

	ret = sys__kvm_create_irqchip(vm->vm_fd);
	if (ret < 0)
		goto fail;
	ret = sys__kvm_create_pit2(vm->vm_fd, &pit);
	if (ret < 0)
		goto fail;
	pthread_mutex_lock(&vm->irq.lock);
	ret = irq__commit(vm);
	pthread_mutex_unlock(&vm->irq.lock);
	return ret;
fail:
	pr_err("creating the interrupt controllers: %s: %s", sys__last_ioctl(), strerror(-ret));
	return ret;
}

void irq__exit(struct vm *vm)
{
	free(vm->irq.table);
	vm->irq.table = NULL;
}

int irq__set_line(struct vm *vm, unsigned gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };
	int ret = vm__offline(vm) ? 0 : sys__kvm_irq_line(vm->vm_fd, &irq);

	if (ret < 0)
		pr_err("raising GSI %u: %s: %s", gsi, sys__last_ioctl(), strerror(-ret));
	return ret;
}

int irq__pulse(struct vm *vm, unsigned gsi)
{
	int ret = irq__set_line(vm, gsi, 1);

	return ret ? ret : irq__set_line(vm, gsi, 0);
}

static bool msi_addr_ok(uint64_t addr)
{
	return addr - LAYOUT_MSI_BASE < LAYOUT_MSI_SIZE;
}

int irq__send_msi(struct vm *vm, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = { .address_lo = (uint32_t)addr, .address_hi = addr >> 32, .data = data };
	int ret;

	if (!msi_addr_ok(addr)) {
		pr_debug("dropping MSI to 0x%llx (outside the interrupt window)", (unsigned long long)addr);
		return -EINVAL;
	}
	ret = vm__offline(vm) ? 0 : sys__kvm_signal_msi(vm->vm_fd, &msi);
	if (ret < 0)
		pr_err("MSI to 0x%llx: %s: %s", (unsigned long long)addr, sys__last_ioctl(), strerror(-ret));
	return ret < 0 ? ret : 0;
}

static struct kvm_irq_routing_entry *irq__find(struct irq_router *r, unsigned gsi)
{
	for (unsigned i = 0; i < r->table->nr; i++)
		if (r->table->entries[i].gsi == gsi && r->table->entries[i].type == KVM_IRQ_ROUTING_MSI)
			return &r->table->entries[i];
	return NULL;
}

int irq__add_msi_route(struct vm *vm, uint64_t addr, uint32_t data)
{
	struct irq_router *r = &vm->irq;
	struct kvm_irq_routing_entry *e;
	int ret;

	pthread_mutex_lock(&r->lock);
	e = irq__new_entry(r);
	if (!e) {
		pthread_mutex_unlock(&r->lock);
		return -ENOSPC;
	}
	*e = (struct kvm_irq_routing_entry){
		.gsi = r->next_gsi, .type = KVM_IRQ_ROUTING_MSI,
		.u.msi = { .address_lo = (uint32_t)addr, .address_hi = addr >> 32, .data = data },
	};
	ret = irq__commit(vm);
	if (ret < 0)
		r->table->nr--;
	else
		ret = r->next_gsi++;
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int irq__update_msi_route(struct vm *vm, unsigned gsi, uint64_t addr, uint32_t data)
{
	struct irq_router *r = &vm->irq;
	struct kvm_irq_routing_entry *e;
	int ret;

	pthread_mutex_lock(&r->lock);
	e = irq__find(r, gsi);
	if (!e) {
		ret = -ENOENT;
	} else {
		e->u.msi.address_lo = (uint32_t)addr;
		e->u.msi.address_hi = addr >> 32;
		e->u.msi.data = data;
		ret = irq__commit(vm);
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int irq__irqfd_resample(struct vm *vm, unsigned gsi, int fd, int resample_fd, bool assign)
{
	struct kvm_irqfd f = {
		.fd = fd, .gsi = gsi, .resamplefd = resample_fd,
		.flags = assign ? KVM_IRQFD_FLAG_RESAMPLE : KVM_IRQFD_FLAG_DEASSIGN,
	};
	int ret = vm__offline(vm) ? 0 : sys__kvm_irqfd(vm->vm_fd, &f);

	if (ret < 0)
		pr_err("level irqfd for GSI %u: %s: %s", gsi, sys__last_ioctl(), strerror(-ret));
	return ret < 0 ? ret : 0;
}

int irq__irqfd(struct vm *vm, unsigned gsi, int fd, bool assign)
{
	struct kvm_irqfd f = { .fd = fd, .gsi = gsi, .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN };
	int ret = vm__offline(vm) ? 0 : sys__kvm_irqfd(vm->vm_fd, &f);

	if (ret < 0)
		pr_err("irqfd for GSI %u: %s: %s", gsi, sys__last_ioctl(), strerror(-ret));
	return ret < 0 ? ret : 0;
}
