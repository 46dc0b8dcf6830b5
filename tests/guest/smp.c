// Tier 2: the guest starts every other vCPU with INIT + SIPI through its real-mode trampoline; each
// reports its LAPIC ID, runs a job at CPL3 and sends an IPI back to the BSP.
// TEST-ARGS: --cpus 2 --cmdline expect-cpus=2
// TEST-ARGS: --cpus 4 --cmdline expect-cpus=4
// TEST-ARGS: --cpus 1 --cmdline expect-cpus=1
// TEST-EXIT: 0
// TEST-EXPECT: PASS: smp
// TEST-TIMEOUT: 60
#include "test.h"

#define VEC_HELLO 0x50

static volatile uint32_t hello_irqs;
static volatile uint32_t ran_on[GUEST_MAX_CPUS];
static volatile uint32_t ran_cpl[GUEST_MAX_CPUS];

static void hello_handler(struct intr_frame *f, void *arg)
{
	hello_irqs++;
}

static void job(int cpu, void *arg)
{
	ran_on[cpu] = (uint32_t)smp__cpu_index() + 1;
	ran_cpl[cpu] = read_cpl();
	lapic__send_ipi(*(uint32_t *)arg, VEC_HELLO);
}

int main(void)
{
	char want[16];
	uint32_t bsp_id = lapic__id();
	struct timeout t;
	int online;

	TEST_ASSERT(platform.ncpus >= 1);
	if (platform__cmdline_get("expect-cpus", want, sizeof(want)))
		TEST_EQ(platform.ncpus, strtoul(want, NULL, 10));
	intr__register(VEC_HELLO, hello_handler, NULL);

	timeout__start(&t, 0);
	online = smp__start_aps(2000);
	printf("smp: %d of %d CPUs online after %llu us\n", online, platform.ncpus,
	       (unsigned long long)timeout__elapsed_us(&t));
	TEST_EQ(online, platform.ncpus);

	for (int c = 0; c < online; c++) {
		int64_t id = smp__apic_id(c);
		bool in_dtb = false;

		TEST_ASSERT_MSG(id >= 0, "cpu %d not online", c);
		for (int i = 0; i < platform.ncpus; i++)
			in_dtb |= platform.cpu_apic_id[i] == id;
		TEST_ASSERT_MSG(in_dtb, "cpu %d reports LAPIC ID %lld, not in the device tree", c, (long long)id);
		for (int o = 0; o < c; o++)
			TEST_ASSERT_MSG(smp__apic_id(o) != id, "cpus %d and %d both have LAPIC ID %lld", o, c,
					(long long)id);
	}
	TEST_EQ(smp__apic_id(0), bsp_id);
	TEST_EQ(smp__cpu_index(), 0);

	for (int c = 1; c < online; c++) {
		uint32_t before = hello_irqs;
		struct timeout w;

		TEST_EQ(smp__run_on(c, job, &bsp_id), 0);
		TEST_ASSERT_MSG(smp__wait_idle(c, 2000), "cpu %d did not finish its job", c);
		TEST_EQ(ran_on[c], c + 1);
		TEST_EQ(ran_cpl[c], 3);
		timeout__start(&w, 1000);
		while (hello_irqs == before && !timeout__expired(&w))
			cpu_relax();
		TEST_ASSERT_MSG(hello_irqs == before + 1, "IPI from cpu %d to the BSP not delivered", c);
		printf("smp: cpu %d (LAPIC ID %lld) ran its job and sent an IPI\n", c, (long long)smp__apic_id(c));
	}
	/* A second round: parked APs wake up again. */
	for (int c = 1; c < online; c++) {
		ran_on[c] = 0;
		TEST_EQ(smp__run_on(c, job, &bsp_id), 0);
		TEST_ASSERT_MSG(smp__wait_idle(c, 2000), "cpu %d did not run a second job", c);
		TEST_EQ(ran_on[c], c + 1);
	}
	test__pass("smp");
}
