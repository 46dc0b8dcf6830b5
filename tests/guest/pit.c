// Tier 2: the in-kernel PIT's IRQ 0 reaches the IOAPIC pin the MADT says it does. The MADT has an
// interrupt source override ISA IRQ 0 -> GSI 2 (acpi/madt.c), as on every PC; a guest that believes
// it (Linux does) programs IOAPIC pin 2 for its timer, so the VMM must route the PIT there, not to
// pin 0 (vmm/irq.c). Both pins are armed with their own vector: the PIT's interrupts must all arrive
// on pin 2 and none on pin 0.
// TEST-EXIT: 0
// TEST-EXPECT: PASS: pit
// TEST-TIMEOUT: 30
#include "test.h"

#define VEC_PIN0	0x50
#define VEC_PIN2	0x52
#define WANT_TICKS	50
#define WAIT_MS		3000

/* i8254: channel 0 data port, mode/command port; input clock 1.193182 MHz. */
#define PIT_CH0		0x40
#define PIT_CMD		0x43
#define PIT_HZ		1193182u
#define PIT_RATE	1000u

/* MADT interrupt source override (ACPI 6.5 5.2.12.5): type 2, length 10. */
#define MADT_ENTRIES	44
#define MADT_INT_SRC_OVR	2

static volatile uint32_t hits0, hits2;

static void pin0_handler(struct intr_frame *f, void *arg)
{
	hits0++;
}

static void pin2_handler(struct intr_frame *f, void *arg)
{
	hits2++;
}

/* The GSI of ISA IRQ @irq per the MADT's overrides (identity without one); its MPS INTI flags too. */
static uint32_t madt_isa_gsi(uint8_t irq, uint16_t *flags)
{
	const struct acpi_sdt *t = acpi__find("APIC");
	const uint8_t *p, *end;

	TEST_ASSERT_MSG(t && t->length >= MADT_ENTRIES, "no MADT");
	*flags = 0;
	end = (const uint8_t *)t + t->length;
	for (p = (const uint8_t *)t + MADT_ENTRIES; p + 2 <= end && p[1] >= 2 && p + p[1] <= end; p += p[1]) {
		if (p[0] != MADT_INT_SRC_OVR || p[1] < 10 || p[2] != 0 || p[3] != irq)
			continue;
		*flags = p[8] | p[9] << 8;
		return p[4] | p[5] << 8 | p[6] << 16 | (uint32_t)p[7] << 24;
	}
	return irq;
}

int main(void)
{
	const char *err;
	struct timeout t;
	uint16_t flags, div = PIT_HZ / PIT_RATE;
	uint32_t gsi, gsi_base;
	uint8_t ioapic_id;
	uint32_t ioapic_addr;
	uint64_t us;

	TEST_ASSERT_MSG(acpi__init(platform.rsdp, &err) == 0, "ACPI tables: %s", err);
	TEST_ASSERT(acpi__madt_ioapic(&ioapic_id, &ioapic_addr, &gsi_base));
	TEST_EQ(gsi_base, 0);
	gsi = madt_isa_gsi(0, &flags);
	printf("pit: MADT: ISA IRQ 0 -> GSI %u, flags 0x%x\n", gsi, flags);
	TEST_EQ(gsi, 2);
	/* Edge (trigger 01) or bus default, active high (polarity 01) or bus default: ISA says both. */
	TEST_ASSERT_MSG((flags & 3) != 3 && (flags >> 2 & 3) != 3, "IRQ 0 override is active low or level: 0x%x",
			flags);

	intr__register(VEC_PIN0, pin0_handler, NULL);
	intr__register(VEC_PIN2, pin2_handler, NULL);
	ioapic__route(0, VEC_PIN0, lapic__id(), false, false);
	ioapic__route(2, VEC_PIN2, lapic__id(), false, false);

	/* Channel 0, lobyte/hibyte, mode 2 (rate generator), binary: a periodic IRQ 0 at PIT_RATE Hz. */
	outb(PIT_CMD, 0x34);
	outb(PIT_CH0, div & 0xff);
	outb(PIT_CH0, div >> 8);

	timeout__start(&t, WAIT_MS);
	while (hits2 + hits0 < WANT_TICKS && !timeout__expired(&t))
		cpu_relax();
	us = timeout__elapsed_us(&t);
	ioapic__mask(0, true);
	ioapic__mask(2, true);
	/* Mode 0 (one-shot) with the longest count: the PIT goes quiet. */
	outb(PIT_CMD, 0x30);
	outb(PIT_CH0, 0xff);
	outb(PIT_CH0, 0xff);

	printf("pit: in %llu ms: IOAPIC pin 0 got %u interrupts, pin 2 got %u\n", (unsigned long long)us / 1000,
	       hits0, hits2);
	TEST_ASSERT_MSG(hits0 == 0, "the PIT's IRQ 0 reached IOAPIC pin 0 (%u times); the MADT says GSI 2", hits0);
	TEST_ASSERT_MSG(hits2 >= WANT_TICKS, "IOAPIC pin 2 got %u PIT interrupts in %u ms, expected %u", hits2,
			WAIT_MS, WANT_TICKS);
	test__pass("pit");
}
