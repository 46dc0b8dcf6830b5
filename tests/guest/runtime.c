// Tier 2: the runtime's own contract: main() runs at CPL3 with interrupts on (port I/O direct when IOPL
// is 3, through the gate on PVM, which forces IOPL 0), the int $4 gate reaches CPL0 state (CR0/CR3/CR4/EFER), the zero page and device tree are what minivmm promises
// (machine/fdt.h), RAM matches --mem, and the PM timer runs.
// TEST-ARGS:
// TEST-ARGS: --mem 512M --cmdline expect-mem-mib=512
// TEST-ARGS: --mem 4G --cmdline expect-mem-mib=4096
// TEST-EXIT: 0
// TEST-EXPECT: PASS: runtime
#include "test.h"

#define MSR_EFER	0xc0000080
#define MSR_KERNEL_GS_BASE 0xc0000102	/* unused by the runtime (no swapgs): safe to write */

static void check_privilege(void)
{
	uint64_t fl = read_rflags(), cr0, cr4, efer, old;

	TEST_EQ(read_cpl(), 3);
	TEST_EQ(io_direct, ((fl >> 12) & 3) == 3);	/* IOPL 3 asked for; PVM gives 0 */
	TEST_ASSERT(fl & 0x200);	/* IF */
	cr0 = sys__read_cr(0);
	cr4 = sys__read_cr(4);
	efer = sys__rdmsr(MSR_EFER);
	TEST_EQ(cr0 & 0x80000001, 0x80000001);	/* PG, PE */
	TEST_EQ(sys__read_cr(3) & ~0xfffULL, boot_cr3 & ~0xfffULL);
	TEST_ASSERT(cr4 & 0x20);		/* PAE */
	TEST_EQ(cr4 & 0x300000, 0);		/* no SMEP/SMAP: handlers run from user pages */
	TEST_EQ(efer & 0x500, 0x500);		/* LME, LMA */
	old = sys__rdmsr(MSR_KERNEL_GS_BASE);
	sys__wrmsr(MSR_KERNEL_GS_BASE, 0x12345000);
	TEST_EQ(sys__rdmsr(MSR_KERNEL_GS_BASE), 0x12345000);
	sys__wrmsr(MSR_KERNEL_GS_BASE, old);
	printf("runtime: CPL3, port I/O %s, CR0 0x%llx CR4 0x%llx EFER 0x%llx\n", io_direct ? "direct (IOPL 3)" : "through the gate",
	       (unsigned long long)cr0, (unsigned long long)cr4, (unsigned long long)efer);
}

static void check_zero_page(void)
{
	const uint8_t *zp = (const uint8_t *)(uintptr_t)boot_params_addr;

	TEST_ASSERT(boot_params_addr);
	TEST_EQ(get_le16(zp + 0x1fe), 0xaa55);			/* hdr.boot_flag */
	TEST_EQ(get_le32(zp + 0x202), 0x53726448);		/* hdr.header "HdrS" */
	TEST_EQ(get_le64(zp + 0x070), platform.rsdp);		/* acpi_rsdp_addr */
}

static void check_dtb(void)
{
	int root = dtb__root(), chosen = dtb__path("/chosen"), uart;
	const char *stdout_path = dtb__prop_str(chosen, "stdout-path");
	uint32_t ac, sc;

	TEST_ASSERT(dtb__is_compatible(root, "minivmm,machine"));
	TEST_STREQ(dtb__prop_str(root, "model"), "minivmm");
	TEST_ASSERT(dtb__prop_u32(root, "#address-cells", &ac) && ac == 2);
	TEST_ASSERT(dtb__prop_u32(root, "#size-cells", &sc) && sc == 2);
	TEST_ASSERT_MSG(stdout_path, "chosen has no stdout-path");
	uart = dtb__path(stdout_path);
	TEST_ASSERT_MSG(uart >= 0 && dtb__is_compatible(uart, "ns16550a"), "stdout-path %s is not a uart",
			stdout_path);
	TEST_EQ(dtb__path("/cpus") >= 0, 1);
	TEST_EQ(dtb__path("/no-such-node"), -1);
	TEST_EQ(platform.test_exit_port, 0x501);
	TEST_ASSERT(platform.ncpus >= 1 && platform.nmem >= 1);
	TEST_EQ(platform.lapic_base, 0xfee00000);
}

static void check_memory(void)
{
	uint64_t total = 0;
	char want[16];

	for (int i = 0; i < platform.nmem; i++) {
		uint64_t top = platform.mem[i].base + platform.mem[i].size;

		total += platform.mem[i].size;
		/* The last word of each region below 4 GiB is RAM: it keeps what we write. */
		if (top <= (1ULL << 32) && top >= 8) {
			volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)(top - 8);
			uint64_t old = *p;

			*p = 0x5a5aa5a5deadbeefULL;
			TEST_EQ(*p, 0x5a5aa5a5deadbeefULL);
			*p = old;
		}
	}
	printf("runtime: %d memory regions, %llu MiB\n", platform.nmem, (unsigned long long)(total >> 20));
	if (platform__cmdline_get("expect-mem-mib", want, sizeof(want)))
		TEST_EQ(total >> 20, strtoul(want, NULL, 10));
}

static void check_timer(void)
{
	struct timeout t;
	uint64_t tsc0 = rdtsc(), us;

	timeout__start(&t, 20);
	while (!timeout__expired(&t))
		cpu_relax();
	us = timeout__elapsed_us(&t);
	TEST_ASSERT_MSG(t.same < 1000, "the PM timer does not advance");
	TEST_ASSERT(us >= 20000 && us < 1000000);
	TEST_ASSERT(rdtsc() > tsc0);
	printf("runtime: PM timer 20 ms = %llu TSC cycles\n", (unsigned long long)(rdtsc() - tsc0));
}

int main(void)
{
	check_privilege();
	check_zero_page();
	check_dtb();
	check_memory();
	check_timer();
	TEST_EQ(smp__cpu_index(), 0);
	test__pass("runtime");
}
