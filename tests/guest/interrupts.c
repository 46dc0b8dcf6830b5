// Tier 2: interrupt delivery to guest handlers: LAPIC self-IPI (shorthand and physical destination),
// an IOAPIC-routed line (the uart's THR-empty interrupt), and device MSI-X: the DMA engine's
// completion interrupt after an (untranslated) fill, after a failed command, and held pending while
// its MSI-X entry is masked. Without --dma-engine that last part says it found no device.
// TEST-EXIT: 0
// TEST-EXPECT: PASS: interrupts
// TEST-ARGS:
// TEST-ARGS: --dma-engine
// TEST-ARGS: --viommu flts --dma-engine
#include "dmae.h"

#define VEC_TEST	0x40
#define VEC_UART	0x41
#define VEC_DEVICE	0x42
#define ROUNDS		200

static volatile uint32_t hits;

static void count_handler(struct intr_frame *f, void *arg)
{
	hits++;
}

/* THR-empty interrupt: reading IIR clears it (PC16550D, IIR priority 3); IER off stops it for good. */
static void uart_handler(struct intr_frame *f, void *arg)
{
	inb(platform.com1_port + 2);
	outb(platform.com1_port + 1, 0);
	hits++;
}

static bool wait_hits(uint32_t want, unsigned ms)
{
	struct timeout t;

	timeout__start(&t, ms);
	while (hits < want) {
		if (timeout__expired(&t))
			return false;
		cpu_relax();
	}
	return true;
}

static void test_ipi(void)
{
	struct timeout t;
	uint64_t us;

	intr__register(VEC_TEST, count_handler, NULL);
	hits = 0;
	lapic__self_ipi(VEC_TEST);
	TEST_ASSERT_MSG(wait_hits(1, 1000), "self-IPI (shorthand) not delivered");
	lapic__send_ipi(lapic__id(), VEC_TEST);
	TEST_ASSERT_MSG(wait_hits(2, 1000), "IPI to own LAPIC ID %u not delivered", lapic__id());

	/* One at a time (the same vector pending twice in IRR would merge): a round-trip latency. */
	timeout__start(&t, 0);
	for (uint32_t i = 0; i < ROUNDS; i++) {
		lapic__self_ipi(VEC_TEST);
		TEST_ASSERT_MSG(wait_hits(3 + i, 1000), "self-IPI %u of %u lost", i, ROUNDS);
	}
	us = timeout__elapsed_us(&t);
	TEST_EQ(intr__count(VEC_TEST), 2 + ROUNDS);
	printf("interrupts: %u self-IPIs, %llu us each on average\n", ROUNDS, (unsigned long long)us / ROUNDS);
}

static void test_ioapic(void)
{
	unsigned pin = platform.com1_irq;

	TEST_ASSERT(platform.ioapic_base);
	printf("interrupts: IOAPIC at 0x%llx has %u pins\n", (unsigned long long)platform.ioapic_base,
	       ioapic__nr_pins());
	TEST_ASSERT(ioapic__nr_pins() >= 24);
	intr__register(VEC_UART, uart_handler, NULL);
	hits = 0;
	ioapic__route(pin, VEC_UART, lapic__id(), false, false);
	TEST_EQ(ioapic__get_entry(pin), (uint64_t)lapic__id() << 56 | VEC_UART);
	outb(platform.com1_port + 1, 0x02);	/* IER: THR empty */
	TEST_ASSERT_MSG(wait_hits(1, 1000), "uart THRE interrupt through IOAPIC pin %u not delivered", pin);
	ioapic__mask(pin, true);
	printf("interrupts: IOAPIC pin %u -> vector 0x%x delivered\n", pin, VEC_UART);
}

/* The engine's MSI-X table and PBA, from the capability (PCI 3.0 6.8.2): BIR and offset in each dword. */
static void msix_tables(const struct dmae *e, uint64_t *table, uint64_t *pba)
{
	uint8_t cap = pci__find_cap(e->bdf, PCI_CAP_ID_MSIX);
	uint32_t t = pci__read32(e->bdf, cap + 4), p = pci__read32(e->bdf, cap + 8);
	struct pci_bar bar;

	TEST_ASSERT(cap && (t & 7) == DMAE_MSIX_BAR && (p & 7) == DMAE_MSIX_BAR);
	TEST_EQ(pci__bar_probe(e->bdf, DMAE_MSIX_BAR, &bar), 1);
	TEST_ASSERT(bar.addr);
	*table = bar.addr + (t & ~7u);
	*pba = bar.addr + (p & ~7u);
}

static uint8_t fill_buf[256] __attribute__((aligned(64)));

/*
 * Device MSI-X: the DMA engine fills a buffer (guest physical addresses: translation is off even with
 * --viommu flts until a driver enables it) and signals the end of each command.
 */
static void test_device_msi(void)
{
	struct dmae e;
	uint64_t tbl, pba, addr = (uint64_t)(uintptr_t)fill_buf, us;
	struct timeout t;
	uint32_t st;

	if (!dmae__find(&e)) {
		printf("interrupts: no DMA engine (--dma-engine): device MSI-X not exercised\n");
		return;
	}
	intr__register(VEC_DEVICE, count_handler, NULL);
	dmae__msix(&e, VEC_DEVICE);
	hits = 0;
	dmae__wr64(&e, DMAE_PATTERN, 0x0807060504030201ULL);
	st = dmae__run(&e, DMAE_CMD_FILL, 0, addr, sizeof(fill_buf), 0);
	TEST_EQ(st, DMAE_STATUS_DONE);
	TEST_ASSERT_MSG(wait_hits(1, 1000), "DMA engine completion MSI-X not delivered");
	for (unsigned i = 0; i < sizeof(fill_buf); i++)
		TEST_EQ(fill_buf[i], 1 + i % 8);
	/* A failed command (length 0) ends too. */
	st = dmae__run(&e, DMAE_CMD_FILL, 0, addr, 0, 0);
	TEST_EQ(st, DMAE_STATUS_ERROR | DMAE_ERR_LEN << 8);
	TEST_ASSERT_MSG(wait_hits(2, 1000), "no MSI-X after a failed command");
	/* Entry masked: the message waits in the PBA and goes out on unmask (PCI 3.0 6.8.2.9). */
	msix_tables(&e, &tbl, &pba);
	mmio_write32(tbl + 12, 1);
	TEST_EQ(dmae__run(&e, DMAE_CMD_FILL, 0, addr, 8, 0), DMAE_STATUS_DONE);
	TEST_ASSERT_MSG(!wait_hits(3, 20), "MSI-X delivered while its entry was masked");
	TEST_EQ(mmio_read32(pba) & 1, 1);
	mmio_write32(tbl + 12, 0);
	TEST_ASSERT_MSG(wait_hits(3, 1000), "pending MSI-X not delivered on unmask");
	TEST_EQ(mmio_read32(pba) & 1, 0);
	/* Round trips: ring, poll STATUS, take the interrupt. */
	timeout__start(&t, 0);
	for (uint32_t i = 0; i < ROUNDS / 4; i++) {
		TEST_EQ(dmae__run(&e, DMAE_CMD_FILL, 0, addr, 64, 0), DMAE_STATUS_DONE);
		TEST_ASSERT_MSG(wait_hits(4 + i, 1000), "completion %u lost", i);
	}
	us = timeout__elapsed_us(&t);
	TEST_EQ(intr__count(VEC_DEVICE), 3 + ROUNDS / 4);
	printf("interrupts: %02x:%02x.%x DMA engine MSI-X -> vector 0x%x: %u completions, %llu us each\n",
	       PCI_BUS(e.bdf), PCI_DEV(e.bdf), PCI_FN(e.bdf), VEC_DEVICE, 3 + ROUNDS / 4,
	       (unsigned long long)us / (ROUNDS / 4));
}

int main(void)
{
	TEST_ASSERT(platform.lapic_base);
	TEST_EQ(lapic__read(LAPIC_SVR) & 0x1ff, 0x1ff);
	test_ipi();
	test_ioapic();
	test_device_msi();
	test__pass("interrupts");
}
