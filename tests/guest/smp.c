// Tier 2: the guest starts every other vCPU with INIT + SIPI through its real-mode trampoline; each
// reports its LAPIC ID, runs a job at CPL3 and sends an IPI back to the BSP. Each vCPU's CPUID
// describes one package of all the vCPUs: leaf 1 and 0xB give its APIC ID and the package's size, and
// on AMD leaf 0x80000008 counts the threads of the package and 0x8000001E gives the APIC ID.
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

/* What a vCPU's CPUID says of the topology. */
struct topo {
	uint32_t apic1;		/* leaf 1 EBX[31:24] */
	uint32_t logical1;	/* leaf 1 EBX[23:16] */
	int32_t core_count;	/* leaf 0xB subleaf 1 EBX[15:0], -1 without leaf 0xB */
	int32_t x2apic;		/* leaf 0xB EDX */
	int32_t amd_nc;		/* leaf 0x80000008 ECX[7:0] + 1, -1 if not AMD */
	int32_t amd_ext_apic;	/* leaf 0x8000001E EAX, -1 without it */
};
static struct topo topo_of[GUEST_MAX_CPUS];

static void read_topo(struct topo *t)
{
	uint32_t a, b, c, d, max, maxext, vendor_b;

	cpuid(0, 0, &max, &vendor_b, &c, &d);
	cpuid(0x80000000, 0, &maxext, &b, &c, &d);
	cpuid(1, 0, &a, &b, &c, &d);
	t->apic1 = b >> 24;
	t->logical1 = (b >> 16) & 0xFF;
	t->core_count = t->x2apic = -1;
	if (max >= 0xB) {
		cpuid(0xB, 0, &a, &b, &c, &d);
		if (b & 0xFFFF) {	/* EBX = 0 at level 0: no leaf 0xB (AMD hosts may lack it) */
			cpuid(0xB, 1, &a, &b, &c, &d);
			t->core_count = b & 0xFFFF;
			t->x2apic = d;
		}
	}
	t->amd_nc = t->amd_ext_apic = -1;
	if (vendor_b == 0x68747541 /* "Auth" */ && maxext >= 0x80000008) {
		cpuid(0x80000008, 0, &a, &b, &c, &d);
		t->amd_nc = (c & 0xFF) + 1;
		if (maxext >= 0x8000001E) {
			cpuid(0x8000001E, 0, &a, &b, &c, &d);
			t->amd_ext_apic = a;
		}
	}
}

static void check_topo(int cpu, const struct topo *t, int ncpus)
{
	int64_t id = smp__apic_id(cpu);

	printf("smp: cpu %d CPUID: APIC ID %u, %u logical, 0xB cores %d x2APIC %d, AMD threads %d ext APIC %d\n",
	       cpu, t->apic1, t->logical1, t->core_count, t->x2apic, t->amd_nc, t->amd_ext_apic);
	TEST_EQ(t->apic1, id);
	TEST_ASSERT_MSG(t->logical1 >= (uint32_t)ncpus, "cpu %d: leaf 1 counts %u logical processors", cpu,
			t->logical1);
	if (t->core_count >= 0) {
		TEST_EQ(t->core_count, ncpus);
		TEST_EQ(t->x2apic, id);
	}
	if (t->amd_nc >= 0)
		TEST_EQ(t->amd_nc, ncpus);
	if (t->amd_ext_apic >= 0)
		TEST_EQ(t->amd_ext_apic, id);
}

static void hello_handler(struct intr_frame *f, void *arg)
{
	hello_irqs++;
}

static void job(int cpu, void *arg)
{
	ran_on[cpu] = (uint32_t)smp__cpu_index() + 1;
	ran_cpl[cpu] = read_cpl();
	read_topo(&topo_of[cpu]);
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
	read_topo(&topo_of[0]);
	check_topo(0, &topo_of[0], online);

	for (int c = 1; c < online; c++) {
		uint32_t before = hello_irqs;
		struct timeout w;

		TEST_EQ(smp__run_on(c, job, &bsp_id), 0);
		TEST_ASSERT_MSG(smp__wait_idle(c, 2000), "cpu %d did not finish its job", c);
		TEST_EQ(ran_on[c], c + 1);
		TEST_EQ(ran_cpl[c], 3);
		check_topo(c, &topo_of[c], online);
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
