// Tier 2: VT-d interrupt remapping from a guest. The program builds an interrupt remapping table,
// turns remapping on (SIRTP, IRE; queued invalidation for the IEC), and checks: the DMA engine's
// MSI-X in remappable format arrives with the IRTE's vector (xAPIC and x2APIC table formats, handle
// plus subhandle); an IRTE naming another CPU does not reach this one; a rewritten IRTE stays in use
// until an index-selective IEC invalidation; an IOAPIC redirection entry in remappable format (the
// uart's THR-empty interrupt) is remapped with the IOAPIC's source-id; and each interrupt-remapping
// fault a guest can cause is recorded with its reason, the requester's source-id and the index, and
// delivers nothing: index beyond the table, entry not present, reserved bits (posted mode), source-id
// mismatch (device and IOAPIC), compatibility format while CFI is clear, SHV with data bits 31:16,
// and a table outside RAM. With more than one vCPU (the second run: 288, APIC IDs past 255) the BSP
// turns x2APIC mode on, starts every AP, and each vCPU in turn is the one destination of an x2APIC-format
// IRTE (32-bit destination): it gets the interrupt and no other vCPU does.
// TEST-ARGS: --viommu flts --dma-engine
// TEST-ARGS: --cpus 288 --viommu flts --dma-engine
// TEST-EXPECT: PASS: ir
#include "dmae.h"
#include "gvtd.h"

#define POOL		0x02000000ULL
#define POOL_SIZE	0x00400000ULL
#define VEC_A		0x51
#define VEC_B		0x52
#define VEC_UART	0x53
#define VEC_CPU		0x54
#define IR_S		7		/* 256 entries */
#define IOAPIC_SID	0xFF00		/* the IOAPIC's source-id, as minivmm's DMAR scope gives it */

static struct gvtd v;
static struct dmae e;
static uint64_t irt;
static volatile uint32_t hits[256];
static volatile uint32_t hit_on[GUEST_MAX_CPUS];	/* VEC_CPU, per vCPU index */

static void handler(struct intr_frame *f, void *arg)
{
	hits[(uintptr_t)arg]++;
}

static void uart_handler(struct intr_frame *f, void *arg)
{
	inb(platform.com1_port + 2);
	outb(platform.com1_port + 1, 0);
	hits[VEC_UART]++;
}

static void cpu_handler(struct intr_frame *f, void *arg)
{
	int c = smp__cpu_index();

	if (c >= 0)
		hit_on[c]++;
}

static bool wait_hit(uint8_t vec, uint32_t want, unsigned ms)
{
	struct timeout t;

	timeout__start(&t, ms);
	while (hits[vec] < want) {
		if (timeout__expired(&t))
			return false;
		cpu_relax();
	}
	return true;
}

static void irte(unsigned idx, uint64_t lo, uint64_t hi)
{
	gvtd__q(irt + 16 * idx)[1] = hi;
	gvtd__q(irt + 16 * idx)[0] = lo;
}

static uint64_t remappable(unsigned handle, bool shv)
{
	return 0xFEE00000ULL | (handle & 0x7FFF) << 5 | VTD_IR_ADDR_FMT | (shv ? VTD_IR_ADDR_SHV : 0) |
	       ((handle >> 15) & 1) << 2;
}

/* The DMA engine's MSI-X entry, then one (failing, DMA-free) command: its completion interrupt. */
static void device_irq(uint64_t addr, uint32_t data)
{
	TEST_EQ(pci__msix_enable(e.bdf, DMAE_MSIX_VECTOR, addr, data), 0);
	TEST_EQ(dmae__run(&e, DMAE_CMD_FILL, 0, 0x100000, 0, 0), DMAE_STATUS_ERROR | DMAE_ERR_LEN << 8);
}

static void iec_inv(bool global, unsigned idx)
{
	gvtd__qi_submit(&v, VTD_DESC_IEC | (global ? 0 : VTD_DESC_IEC_G_INDEX) | (uint64_t)idx << 32, 0);
	gvtd__qi_wait(&v);
}

/* The one pending fault record: reason, source-id and index (FI[63:48]); cleared afterwards. */
static void expect_fault(const char *what, uint8_t reason, uint16_t sid, unsigned idx)
{
	unsigned n = 0, at = 0;
	uint64_t lo, hi;

	for (unsigned i = 0; i < VTD_NR_FRCD; i++)
		if (gvtd__rd64(&v, VTD_FRCD_REG + 16 * i + 8) & VTD_FRCD_F)
			n++, at = i;
	TEST_ASSERT_MSG(n == 1, "%s: %u fault records, expected one", what, n);
	lo = gvtd__rd64(&v, VTD_FRCD_REG + 16 * at);
	hi = gvtd__rd64(&v, VTD_FRCD_REG + 16 * at + 8);
	TEST_ASSERT_MSG(((hi >> VTD_FRCD_FR_SHIFT) & 0xFF) == reason, "%s: reason 0x%llx, expected 0x%x", what,
			(unsigned long long)(hi >> VTD_FRCD_FR_SHIFT) & 0xFF, reason);
	TEST_EQ((uint16_t)hi, sid);
	TEST_EQ(lo >> 48, idx);
	gvtd__wr32(&v, VTD_FRCD_REG + 16 * at + 12, VTD_FRCD_F >> 32);
	gvtd__wr32(&v, VTD_FSTS_REG, gvtd__rd32(&v, VTD_FSTS_REG));
	printf("ir: %s -> fault 0x%x recorded\n", what, reason);
}

static void set_irta(uint64_t base, bool eime)
{
	gvtd__wr64(&v, VTD_IRTA_REG, base | (eime ? VTD_IRTA_EIME : 0) | IR_S);
	gvtd__gcmd(&v, VTD_GCMD_SIRTP, true);
}

static void test_device(void)
{
	uint32_t me = lapic__id(), n, nobody;
	uint64_t sid_check = e.bdf | (uint64_t)VTD_SVT_SID << 18;

	/* xAPIC format: APIC ID in bits 47:40. Handle 8 + subhandle 2 = index 10. */
	irte(10, VTD_IRTE_P | (uint64_t)VEC_A << 16 | (uint64_t)me << 40, sid_check);
	device_irq(remappable(8, true), 2);
	TEST_ASSERT_MSG(wait_hit(VEC_A, 1, 1000), "remapped MSI-X (index 10) not delivered to vector 0x%x", VEC_A);
	TEST_EQ(hits[VEC_B], 0);
	printf("ir: DMA engine MSI-X, handle 8 + subhandle 2 -> vector 0x%x on APIC %u\n", VEC_A, me);

	/* Rewritten without invalidation: still the cached entry. Then invalidated: the new vector. */
	irte(10, VTD_IRTE_P | (uint64_t)VEC_B << 16 | (uint64_t)me << 40, sid_check);
	device_irq(remappable(8, true), 2);
	TEST_ASSERT(wait_hit(VEC_A, 2, 1000));
	TEST_EQ(hits[VEC_B], 0);
	iec_inv(false, 10);
	device_irq(remappable(8, true), 2);
	TEST_ASSERT_MSG(wait_hit(VEC_B, 1, 1000), "the invalidated IRTE's new vector not used");
	TEST_EQ(hits[VEC_A], 2);
	printf("ir: a rewritten IRTE stayed in use until its IEC invalidation\n");

	/* x2APIC format: the 32-bit destination in bits 63:32. */
	set_irta(irt, true);
	irte(12, VTD_IRTE_P | (uint64_t)VEC_A << 16 | (uint64_t)me << 32, sid_check);
	n = hits[VEC_A];
	device_irq(remappable(12, false), 0);
	TEST_ASSERT_MSG(wait_hit(VEC_A, n + 1, 1000), "x2APIC-format IRTE not delivered");
	printf("ir: x2APIC-format IRTE (EIME=1) delivered\n");

	/* Another destination (no such CPU: past the highest APIC ID): nothing arrives. */
	nobody = platform.cpu_apic_id[platform.ncpus - 1] + 7;
	irte(11, VTD_IRTE_P | (uint64_t)VEC_A << 16 | (uint64_t)nobody << 32, sid_check);
	device_irq(remappable(11, false), 0);
	TEST_ASSERT_MSG(!wait_hit(VEC_A, n + 2, 50), "an interrupt for APIC %u was delivered", nobody);
}

static void test_faults(void)
{
	uint32_t before = hits[VEC_A] + hits[VEC_B], a0 = hits[VEC_A], n;

	device_irq(remappable(300, false), 0);
	expect_fault("index 300 beyond 256 entries", VTD_FR_IR_INDEX, e.bdf, 300);
	device_irq(remappable(20, false), 0);
	expect_fault("IRTE not present", VTD_FR_IR_ENTRY_P, e.bdf, 20);
	irte(21, VTD_IRTE_P | VTD_IRTE_IM | (uint64_t)VEC_A << 16, 0);
	device_irq(remappable(21, false), 0);
	expect_fault("posted-format IRTE (reserved without CAP.PI)", VTD_FR_IR_IRTE_RSVD, e.bdf, 21);
	irte(22, VTD_IRTE_P | (uint64_t)VEC_A << 16, (e.bdf + 1) | (uint64_t)VTD_SVT_SID << 18);
	device_irq(remappable(22, false), 0);
	expect_fault("IRTE for another source-id", VTD_FR_IR_SID, e.bdf, 22);
	device_irq(msi__address(lapic__id()), msi__data(VEC_A));
	expect_fault("compatibility format with CFI clear", VTD_FR_IR_COMPAT, e.bdf, 0);
	device_irq(remappable(8, true), 0x10002);
	expect_fault("SHV with data bits 31:16", VTD_FR_IR_REQ_RSVD, e.bdf, 8);	/* the handle */
	set_irta(1ULL << 40, true);
	device_irq(remappable(12, false), 0);
	expect_fault("table outside RAM", VTD_FR_IR_ROOT, e.bdf, 12);
	set_irta(irt, true);
	TEST_ASSERT_MSG(!wait_hit(VEC_A, a0 + 1, 50), "a faulting interrupt was delivered");
	TEST_EQ(hits[VEC_A] + hits[VEC_B], before);
	/* CFI set: compatibility-format interrupts pass. The count is read before the request: on a fast
	 * host the interrupt arrives before device_irq() returns. */
	gvtd__gcmd(&v, VTD_GCMD_CFI, true);
	n = hits[VEC_B];
	device_irq(msi__address(lapic__id()), msi__data(VEC_B));
	TEST_ASSERT_MSG(wait_hit(VEC_B, n + 1, 1000), "compatibility format with CFI set not delivered");
	gvtd__gcmd(&v, VTD_GCMD_CFI, false);
}

static void test_ioapic(void)
{
	unsigned pin = platform.com1_irq, idx = 30;
	uint64_t rte = VEC_UART | 1ULL << 48 | (uint64_t)idx << 49;	/* remappable: index in 63:49 */

	intr__register(VEC_UART, uart_handler, NULL);
	irte(idx, VTD_IRTE_P | (uint64_t)VEC_UART << 16 | (uint64_t)lapic__id() << 32,
	     IOAPIC_SID | (uint64_t)VTD_SVT_SID << 18);
	ioapic__set_entry(pin, rte);
	outb(platform.com1_port + 1, 0x02);	/* IER: THR empty */
	TEST_ASSERT_MSG(wait_hit(VEC_UART, 1, 1000), "remapped IOAPIC pin %u not delivered", pin);
	printf("ir: IOAPIC pin %u in remappable format (index %u) -> vector 0x%x\n", pin, idx, VEC_UART);
	/* The entry names a device's source-id instead of the IOAPIC's: a fault from 0xFF00. */
	irte(idx, VTD_IRTE_P | (uint64_t)VEC_UART << 16 | (uint64_t)lapic__id() << 32,
	     e.bdf | (uint64_t)VTD_SVT_SID << 18);
	iec_inv(true, 0);
	outb(platform.com1_port + 1, 0x02);
	TEST_ASSERT(!wait_hit(VEC_UART, 2, 50));
	expect_fault("IOAPIC interrupt, IRTE for another source-id", VTD_FR_IR_SID, IOAPIC_SID, idx);
	outb(platform.com1_port + 1, 0);
	ioapic__mask(pin, true);
}

/*
 * Every vCPU in turn is the only destination of IRTE 40 (x2APIC format, the 32-bit APIC ID in 63:32):
 * it counts one interrupt and the others none, so a destination above 255 is neither truncated to
 * 8 bits (which would hit APIC ID & 0xFF) nor lost.
 */
static void test_cpus(void)
{
	uint64_t sid_check = e.bdf | (uint64_t)VTD_SVT_SID << 18;
	uint32_t max_id = 0;
	int online;

	if (platform.ncpus == 1)
		return;
	online = smp__start_aps(2000);
	TEST_EQ(online, platform.ncpus);
	intr__register(VEC_CPU, cpu_handler, NULL);
	set_irta(irt, true);
	for (int c = 0; c < online; c++) {
		uint32_t id = (uint32_t)smp__apic_id(c), sum = 0;
		struct timeout t;

		irte(40, VTD_IRTE_P | (uint64_t)VEC_CPU << 16 | (uint64_t)id << 32, sid_check);
		iec_inv(false, 40);
		device_irq(remappable(40, false), 0);
		timeout__start(&t, 1000);
		while (!hit_on[c] && !timeout__expired(&t))
			cpu_relax();
		TEST_ASSERT_MSG(hit_on[c] == 1, "cpu %d (APIC ID %u): %u interrupts, expected one", c, id, hit_on[c]);
		for (int o = 0; o < online; o++)
			sum += hit_on[o];
		TEST_ASSERT_MSG(sum == (uint32_t)c + 1, "the interrupt for APIC ID %u also reached another vCPU", id);
		max_id = id > max_id ? id : max_id;
	}
	printf("ir: %d vCPUs in x2APIC mode, APIC IDs up to %u: each reached by its own remapped interrupt\n",
	       online, max_id);
}

int main(void)
{
	TEST_ASSERT(dmae__find(&e));
	gvtd__init(&v, POOL, POOL_SIZE);
	TEST_ASSERT_MSG(v.ecap & VTD_ECAP_IR, "ECAP 0x%llx without IR", (unsigned long long)v.ecap);
	TEST_ASSERT(v.ecap & VTD_ECAP_EIM);
	/* Before any AP starts: an AP above APIC ID 255 can only be named by an x2APIC ICR. */
	if (platform.ncpus > 1)
		TEST_ASSERT_MSG(lapic__enable_x2apic(), "no x2APIC in CPUID");
	intr__register(VEC_A, handler, (void *)(uintptr_t)VEC_A);
	intr__register(VEC_B, handler, (void *)(uintptr_t)VEC_B);
	/* Queued invalidation (for the IEC), no DMA translation: the engine's DMA is not the point here. */
	v.iq = gvtd__page(&v);
	v.status = gvtd__page(&v);
	gvtd__wr64(&v, VTD_IQT_REG, 0);
	gvtd__wr64(&v, VTD_IQA_REG, v.iq | VTD_IQA_DW);
	gvtd__gcmd(&v, VTD_GCMD_QIE, true);
	irt = gvtd__page(&v);
	set_irta(irt, false);
	gvtd__gcmd(&v, VTD_GCMD_IRE, true);
	test_device();
	test_faults();
	test_ioapic();
	test_cpus();
	test__pass("ir");
}
