/*
 * Userspace IOAPIC (devices/ioapic.h). Registers through IOREGSEL (0x00) and IOWIN (0x10): 0x00 ID,
 * 0x01 version (0x20, 24 entries), 0x02 arbitration, 0x10 + 2n / 0x11 + 2n redirection entry n. The
 * EOI register (0x40) and KVM_EXIT_IOAPIC_EOI both end a level-triggered interrupt.
 *
 * An entry becomes a message the way QEMU's IOAPIC builds it: address 0xFEE00000 | RTE[63:48] << 4 |
 * RTE[11] << 2, data = vector | delivery mode << 8 | trigger mode << 15. In compatibility format
 * RTE[63:56] is the destination (address bits 19:12) and RTE[11] the destination mode; in remappable
 * format RTE[48] lands on the address's format bit and RTE[63:49], RTE[11] on the interrupt handle.
 *
 * Level-triggered entries set Remote IRR when their message is delivered and wait for the EOI; their
 * messages are also given to KVM as routes on GSIs 0..23, which is how KVM knows which vectors need
 * an EOI exit (the split irqchip's contract, kvm_scan_ioapic_routes).
 */
#include "devices/ioapic.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/bus.h"
#include "vmm/irq.h"
#include "vmm/layout.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#define IOAPIC_MMIO_SIZE	0x1000
#define IOREGSEL		0x00
#define IOWIN			0x10
#define IOEOI			0x40
#define IOAPIC_VERSION		0x20

#define RTE_VECTOR(r)		((uint8_t)(r))
#define RTE_DELIVS		(1ULL << 12)	/* read-only */
#define RTE_REMOTE_IRR		(1ULL << 14)	/* read-only */
#define RTE_LEVEL		(1ULL << 15)
#define RTE_MASK		(1ULL << 16)
/* Writable: vector, delivery mode, destination mode, polarity, trigger, mask; 63:48. */
#define RTE_RW			(0x1AFFFULL | 0xFFFFULL << 48)

struct ioapic {
	struct vm *vm;
	pthread_mutex_t lock;
	uint32_t regsel;
	uint32_t id;
	uint64_t rte[IOAPIC_PINS];
	uint32_t lines;		/* input levels */
};

static void rte_message(uint64_t rte, uint64_t *addr, uint32_t *data)
{
	*addr = LAYOUT_MSI_BASE | ((rte >> 48) & 0xFFFF) << 4 | ((rte >> 11) & 1) << 2;
	*data = RTE_VECTOR(rte) | ((rte >> 8) & 7) << 8 | 1u << 14 | ((rte & RTE_LEVEL) ? 1u << 15 : 0);
}

/* Send @pin's message if its state asks for it. Locked. */
static void service(struct ioapic *io, unsigned pin)
{
	uint64_t rte = io->rte[pin], addr;
	uint32_t data;

	if ((rte & RTE_MASK) || !(io->lines & 1u << pin))
		return;
	if ((rte & RTE_LEVEL) && (rte & RTE_REMOTE_IRR))
		return;
	rte_message(rte, &addr, &data);
	/* A message the vIOMMU blocks is gone (its fault recorded): no EOI will come for it. */
	if (irq__send_msi_from(io->vm, IOAPIC_SID, addr, data) == 0 && (rte & RTE_LEVEL))
		io->rte[pin] |= RTE_REMOTE_IRR;
}

/* KVM's copy of a level-triggered entry's message (for its EOI exits). Locked. */
static void update_route(struct ioapic *io, unsigned pin)
{
	uint64_t rte = io->rte[pin], addr;
	uint32_t data;
	bool level = (rte & RTE_LEVEL) && !(rte & RTE_MASK);

	rte_message(rte, &addr, &data);
	if (irq__set_pin_route(io->vm, pin, IOAPIC_SID, addr, data, level))
		pr_warn("ioapic: pin %u: KVM has no route for its EOI", pin);
}

static void ioapic_set_line(void *opaque, unsigned pin, int level)
{
	struct ioapic *io = opaque;
	bool was;

	pthread_mutex_lock(&io->lock);
	was = io->lines & 1u << pin;
	if (level)
		io->lines |= 1u << pin;
	else
		io->lines &= ~(1u << pin);
	/* Edge entries fire on the rising edge; level entries whenever the line is high and IRR clear. */
	if (level && (!was || (io->rte[pin] & RTE_LEVEL)))
		service(io, pin);
	pthread_mutex_unlock(&io->lock);
}

static void eoi_locked(struct ioapic *io, uint8_t vector)
{
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t *r = &io->rte[pin];

		if (!(*r & RTE_REMOTE_IRR) || RTE_VECTOR(*r) != vector)
			continue;
		*r &= ~RTE_REMOTE_IRR;
		service(io, pin);	/* still asserted: again */
	}
}

static void ioapic_eoi(void *opaque, uint8_t vector)
{
	struct ioapic *io = opaque;

	pthread_mutex_lock(&io->lock);
	eoi_locked(io, vector);
	pthread_mutex_unlock(&io->lock);
}

static uint32_t reg_read(struct ioapic *io, uint32_t reg)
{
	switch (reg) {
	case 0x00:
		return io->id << 24;
	case 0x01:
		return (IOAPIC_PINS - 1) << 16 | IOAPIC_VERSION;
	case 0x02:
		return io->id << 24;
	default:
		if (reg >= 0x10 && reg < 0x10 + 2 * IOAPIC_PINS)
			return (uint32_t)(io->rte[(reg - 0x10) / 2] >> (reg & 1 ? 32 : 0));
		return 0;
	}
}

static void reg_write(struct ioapic *io, uint32_t reg, uint32_t val)
{
	unsigned pin;
	uint64_t *r, v;

	if (reg == 0x00) {
		io->id = (val >> 24) & 0xF;
		return;
	}
	if (reg < 0x10 || reg >= 0x10 + 2 * IOAPIC_PINS)
		return;
	pin = (reg - 0x10) / 2;
	r = &io->rte[pin];
	v = reg & 1 ? (*r & 0xFFFFFFFFULL) | (uint64_t)val << 32 : (*r & ~0xFFFFFFFFULL) | val;
	*r = (*r & ~RTE_RW) | (v & RTE_RW);
	/* An entry switched to edge has no interrupt in service. */
	if (!(*r & RTE_LEVEL))
		*r &= ~RTE_REMOTE_IRR;
	update_route(io, pin);
	service(io, pin);	/* unmasked with the line high (level), or reprogrammed */
}

static void ioapic_mmio(void *opaque, uint64_t off, void *data, unsigned len, bool is_write)
{
	struct ioapic *io = opaque;
	uint32_t v = 0;

	if (len != 4) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (is_write)
		memcpy(&v, data, 4);
	pthread_mutex_lock(&io->lock);
	switch (off) {
	case IOREGSEL:
		if (is_write)
			io->regsel = v & 0xFF;
		else
			v = io->regsel;
		break;
	case IOWIN:
		if (is_write)
			reg_write(io, io->regsel, v);
		else
			v = reg_read(io, io->regsel);
		break;
	case IOEOI:
		if (is_write)
			eoi_locked(io, (uint8_t)v);
		v = 0;
		break;
	default:
		v = 0;
		break;
	}
	pthread_mutex_unlock(&io->lock);
	if (!is_write)
		memcpy(data, &v, 4);
}

static const struct irq_ioapic_ops ioapic_ops = { .set_line = ioapic_set_line, .eoi = ioapic_eoi };

struct ioapic *ioapic__init(struct vm *vm)
{
	struct ioapic *io = calloc(1, sizeof(*io));

	if (!io) {
		pr_err("ioapic: out of memory");
		return NULL;
	}
	io->vm = vm;
	io->id = IOAPIC_ID;
	pthread_mutex_init(&io->lock, NULL);
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		io->rte[i] = RTE_MASK;
	if (bus__register(&vm->mmio, LAYOUT_IOAPIC_BASE, IOAPIC_MMIO_SIZE, ioapic_mmio, io, "ioapic")) {
		pr_err("cannot register the IOAPIC");
		free(io);
		return NULL;
	}
	irq__set_ioapic(vm, &ioapic_ops, io);
	return io;
}

void ioapic__exit(struct ioapic *io)
{
	if (!io)
		return;
	irq__set_ioapic(io->vm, NULL, NULL);
	bus__unregister(&io->vm->mmio, LAYOUT_IOAPIC_BASE, io);
	pthread_mutex_destroy(&io->lock);
	free(io);
}

uint64_t ioapic__rte(struct ioapic *io, unsigned pin)
{
	uint64_t v;

	pthread_mutex_lock(&io->lock);
	v = pin < IOAPIC_PINS ? io->rte[pin] : 0;
	pthread_mutex_unlock(&io->lock);
	return v;
}
