/*
 * The IDT, handler registration and the C side of interrupt dispatch. The IDT is filled at CPL3 (the
 * boot map makes it writable there) so the emulated CPL0 start-up stays a few dozen instructions.
 */
#include "guest.h"

/* SDM Vol. 3A 6.14.1 "64-Bit Mode IDT": 16-byte interrupt gate descriptors. */
struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr;	/* P | DPL << 5 | type (0xE: 64-bit interrupt gate) */
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
} __attribute__((packed));

extern struct idt_gate idt[256];
extern const char intr_stubs[];
extern const char gate_entry[];

static struct {
	intr_handler_t fn;
	void *arg;
} handlers[256];
static uint64_t counts[256];

static void set_gate(unsigned vec, const void *fn, unsigned dpl, unsigned ist)
{
	uint64_t a = (uint64_t)(uintptr_t)fn;
	struct idt_gate *g = &idt[vec];

	g->offset_lo = a & 0xffff;
	g->selector = SEL_KCODE;
	g->ist = ist;
	g->type_attr = 0x80 | dpl << 5 | 0xe;
	g->offset_mid = (a >> 16) & 0xffff;
	g->offset_hi = a >> 32;
	g->reserved = 0;
}

void intr__init(void)
{
	for (unsigned v = 0; v < 256; v++)
		set_gate(v, intr_stubs + 16 * v, 0, 0);
	/* NMI and #DF on IST1: reported even when the kernel stack is what broke. */
	set_gate(2, intr_stubs + 16 * 2, 0, 1);
	set_gate(8, intr_stubs + 16 * 8, 0, 1);
	/* int3 from CPL3 raises #BP rather than #GP; int $4 is the gate. */
	set_gate(3, intr_stubs + 16 * 3, 3, 0);
	set_gate(VEC_GATE, gate_entry, 3, 0);
}

int intr__register(unsigned vector, intr_handler_t fn, void *arg)
{
	if (vector >= 256 || vector == VEC_GATE)
		return -1;
	handlers[vector].fn = NULL;
	barrier();
	handlers[vector].arg = arg;
	barrier();
	handlers[vector].fn = fn;
	return 0;
}

uint64_t intr__count(unsigned vector)
{
	return vector < 256 ? READ_ONCE(counts[vector]) : 0;
}

void intr__dispatch(struct intr_frame *f)
{
	unsigned v = f->vector & 0xff;
	intr_handler_t fn = handlers[v].fn;

	__atomic_fetch_add(&counts[v], 1, __ATOMIC_RELAXED);
	if (fn) {
		fn(f, handlers[v].arg);
	} else if (v < 32) {
		exception__report(f);	/* does not return */
	} else if (v != VEC_SPURIOUS) {
		kprintf("guest: interrupt vector %u without a handler (cpu %d)\n", v, smp__cpu_index());
	}
	if (v >= 32 && v != VEC_SPURIOUS)
		lapic__eoi();
}
