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

static struct kvm_irq_routing_entry *irq__new_entry(struct irq_router *r)
{
	if (r->table->nr >= IRQ_MAX_ROUTES)
		return NULL;
	return &r->table->entries[r->table->nr++];
}

static void irq__default_routes(struct irq_router *r);

/*
 * The table KVM gets: the irqchip pins (full irqchip only), then every MSI route the remapper lets
 * through, as remapped. A blocked route is left out, so an irqfd bound to it delivers nothing.
 * Offline (vmm/vm.h: no KVM yet, or none at all for --dump-dtb) nothing reaches KVM: the table waits for
 * irq__attach_kvm(), and lines, MSIs and irqfds have no guest to reach. Router lock held.
 */
static int irq__commit(struct vm *vm)
{
	struct irq_router *r = &vm->irq;
	int ret;

	r->table->nr = 0;
	if (!r->split)
		irq__default_routes(r);
	for (unsigned gsi = 0; gsi < IRQ_MAX_ROUTES; gsi++) {
		struct irq_msi_route *m = &r->msi[gsi];
		struct kvm_irq_routing_entry *e;

		if (!m->used || m->blocked || !(e = irq__new_entry(r)))
			continue;
		*e = (struct kvm_irq_routing_entry){
			.gsi = gsi, .type = KVM_IRQ_ROUTING_MSI,
			.u.msi = { .address_lo = (uint32_t)m->out_addr, .address_hi = m->out_addr >> 32,
				   .data = m->out_data },
		};
	}
	ret = vm__offline(vm) ? 0 : sys__kvm_set_gsi_routing(vm->vm_fd, r->table);
	if (ret < 0)
		pr_err("interrupt routing: %s: %s", sys__last_ioctl(), strerror(-ret));
	return ret;
}

/* What KVM should deliver for @m now (router lock held; the remapper records no fault here). */
static void irq__remap_route(struct irq_router *r, struct irq_msi_route *m)
{
	m->out_addr = m->addr;
	m->out_data = m->data;
	m->blocked = r->remap && r->remap(r->remap_opaque, m->sid, &m->out_addr, &m->out_data, false) < 0;
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
}

int irq__init(struct vm *vm)
{
	struct irq_router *r = &vm->irq;

	pthread_mutex_init(&r->lock, NULL);
	r->table = calloc(1, sizeof(*r->table) + IRQ_MAX_ROUTES * sizeof(r->table->entries[0]));
	r->msi = calloc(IRQ_MAX_ROUTES, sizeof(*r->msi));
	if (!r->table || !r->msi) {
		pr_err("interrupt routing: out of memory");
		return -ENOMEM;
	}
	r->next_gsi = IOAPIC_PINS;
	irq__default_routes(r);
	return 0;
}

/*
 * Split irqchip: KVM keeps the LAPICs and reserves the first IOAPIC_PINS GSIs for the userspace
 * IOAPIC's EOI tracking; x2APIC API: 32-bit APIC IDs in MSIs (address bits 63:40), and 0xFF is no
 * broadcast in x2APIC mode. Both must come before any vCPU.
 */
static int irq__attach_split(struct vm *vm)
{
	struct kvm_enable_cap split = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args = { IOAPIC_PINS } };
	struct kvm_enable_cap x2apic = {
		.cap = KVM_CAP_X2APIC_API,
		.args = { KVM_X2APIC_API_USE_32BIT_IDS | KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK },
	};
	int ret = sys__kvm_enable_cap(vm->vm_fd, &split);

	if (ret < 0) {
		pr_err("interrupt remapping needs the IOAPIC in minivmm (KVM_CAP_SPLIT_IRQCHIP): %s: %s "
		       "(turn it off with --viommu MODE,ir=off)", sys__last_ioctl(), strerror(-ret));
		return ret;
	}
	ret = sys__kvm_enable_cap(vm->vm_fd, &x2apic);
	if (ret < 0) {
		pr_err("interrupt remapping with x2APIC destinations needs KVM_CAP_X2APIC_API: %s: %s "
		       "(turn it off with --viommu MODE,ir=off)", sys__last_ioctl(), strerror(-ret));
		return ret;
	}
	pthread_mutex_lock(&vm->irq.lock);
	ret = irq__commit(vm);
	pthread_mutex_unlock(&vm->irq.lock);
	return ret;
}

int irq__attach_kvm(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int ret;

	if (vm->irq.split)
		return irq__attach_split(vm);
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
	free(vm->irq.msi);
	vm->irq.table = NULL;
	vm->irq.msi = NULL;
}

int irq__set_line(struct vm *vm, unsigned gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };
	int ret;

	if (vm->irq.split) {
		if (gsi >= IOAPIC_PINS || !vm->irq.ioapic)
			return -EINVAL;
		vm->irq.ioapic->set_line(vm->irq.ioapic_opaque, gsi, level);
		return 0;
	}
	ret = vm__offline(vm) ? 0 : sys__kvm_irq_line(vm->vm_fd, &irq);

	if (ret < 0)
		pr_err("raising GSI %u: %s: %s", gsi, sys__last_ioctl(), strerror(-ret));
	return ret;
}

int irq__pulse(struct vm *vm, unsigned gsi)
{
	int ret = irq__set_line(vm, gsi, 1);

	return ret ? ret : irq__set_line(vm, gsi, 0);
}

/* In the interrupt window; with the x2APIC API, address bits 63:40 are destination bits 31:8. */
static bool msi_addr_ok(const struct vm *vm, uint64_t addr)
{
	if (vm->irq.split && !(addr & 0xFFULL << 32) && ((uint32_t)addr - LAYOUT_MSI_BASE < LAYOUT_MSI_SIZE))
		return true;
	return addr - LAYOUT_MSI_BASE < LAYOUT_MSI_SIZE;
}

int irq__send_msi(struct vm *vm, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = { .address_lo = (uint32_t)addr, .address_hi = addr >> 32, .data = data };
	int ret;

	if (!msi_addr_ok(vm, addr)) {
		pr_debug("dropping MSI to 0x%llx (outside the interrupt window)", (unsigned long long)addr);
		return -EINVAL;
	}
	ret = vm__offline(vm) ? 0 : sys__kvm_signal_msi(vm->vm_fd, &msi);
	if (ret < 0)
		pr_err("MSI to 0x%llx: %s: %s", (unsigned long long)addr, sys__last_ioctl(), strerror(-ret));
	return ret < 0 ? ret : 0;
}

int irq__send_msi_from(struct vm *vm, uint16_t sid, uint64_t addr, uint32_t data)
{
	struct irq_router *r = &vm->irq;

	/* A write outside the window is not an interrupt request: the remapper never sees it. */
	if (addr - LAYOUT_MSI_BASE >= LAYOUT_MSI_SIZE) {
		pr_debug("dropping MSI to 0x%llx (outside the interrupt window)", (unsigned long long)addr);
		return -EINVAL;
	}
	if (r->remap && r->remap(r->remap_opaque, sid, &addr, &data, true) < 0)
		return -EFAULT;
	return irq__send_msi(vm, addr, data);
}

/* (Re)route @gsi to @sid's message. Router lock held; on failure the previous state is restored. */
static int irq__set_route_locked(struct vm *vm, unsigned gsi, uint16_t sid, uint64_t addr, uint32_t data,
				 bool used)
{
	struct irq_router *r = &vm->irq;
	struct irq_msi_route old = r->msi[gsi];
	int ret;

	r->msi[gsi] = (struct irq_msi_route){ .used = used, .sid = sid, .addr = addr, .data = data };
	irq__remap_route(r, &r->msi[gsi]);
	ret = irq__commit(vm);
	if (ret < 0)
		r->msi[gsi] = old;
	return ret;
}

int irq__add_msi_route(struct vm *vm, uint16_t sid, uint64_t addr, uint32_t data)
{
	struct irq_router *r = &vm->irq;
	int ret = -ENOSPC;

	pthread_mutex_lock(&r->lock);
	if (r->next_gsi < IRQ_MAX_ROUTES && r->table->nr < IRQ_MAX_ROUTES) {
		ret = irq__set_route_locked(vm, r->next_gsi, sid, addr, data, true);
		if (!ret)
			ret = r->next_gsi++;
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int irq__update_msi_route(struct vm *vm, unsigned gsi, uint64_t addr, uint32_t data)
{
	struct irq_router *r = &vm->irq;
	int ret = -ENOENT;

	pthread_mutex_lock(&r->lock);
	if (gsi >= IOAPIC_PINS && gsi < IRQ_MAX_ROUTES && r->msi[gsi].used)
		ret = irq__set_route_locked(vm, gsi, r->msi[gsi].sid, addr, data, true);
	pthread_mutex_unlock(&r->lock);
	return ret;
}

bool irq__route_blocked(struct vm *vm, unsigned gsi)
{
	bool blocked;

	if (gsi >= IRQ_MAX_ROUTES)
		return true;
	pthread_mutex_lock(&vm->irq.lock);
	blocked = vm->irq.msi[gsi].used && vm->irq.msi[gsi].blocked;
	pthread_mutex_unlock(&vm->irq.lock);
	return blocked;
}

void irq__remap_changed(struct vm *vm)
{
	struct irq_router *r = &vm->irq;

	pthread_mutex_lock(&r->lock);
	for (unsigned gsi = 0; gsi < IRQ_MAX_ROUTES; gsi++)
		if (r->msi[gsi].used)
			irq__remap_route(r, &r->msi[gsi]);
	irq__commit(vm);
	pthread_mutex_unlock(&r->lock);
}

void irq__set_remapper(struct vm *vm, irq_remap_fn fn, void *opaque)
{
	pthread_mutex_lock(&vm->irq.lock);
	vm->irq.remap = fn;
	vm->irq.remap_opaque = opaque;
	pthread_mutex_unlock(&vm->irq.lock);
	irq__remap_changed(vm);
}

void irq__set_ioapic(struct vm *vm, const struct irq_ioapic_ops *ops, void *opaque)
{
	vm->irq.ioapic = ops;
	vm->irq.ioapic_opaque = opaque;
}

int irq__set_pin_route(struct vm *vm, unsigned pin, uint16_t sid, uint64_t addr, uint32_t data, bool valid)
{
	struct irq_router *r = &vm->irq;
	struct irq_msi_route *m;
	int ret = 0;

	if (!r->split || pin >= IOAPIC_PINS)
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	m = &r->msi[pin];
	if (m->used != valid || (valid && (m->sid != sid || m->addr != addr || m->data != data)))
		ret = irq__set_route_locked(vm, pin, sid, addr, data, valid);
	pthread_mutex_unlock(&r->lock);
	return ret;
}

void irq__eoi(struct vm *vm, uint8_t vector)
{
	if (vm->irq.split && vm->irq.ioapic)
		vm->irq.ioapic->eoi(vm->irq.ioapic_opaque, vector);
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
