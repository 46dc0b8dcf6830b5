/* The BSP's first CPL3 code, and the ways a program ends. */
#include "guest.h"

#define PIC1_DATA	0x21
#define PIC2_DATA	0xa1
#define PM1_CNT_OFFSET	4
#define PM1_SLP_EN	(1 << 13)	/* ACPI 6.5 4.8.3.2.1 PM1 Control Registers */
#define PM1_SLP_TYP_SHIFT 10
#define RESET_VALUE	0x06		/* 0xCF9: system reset + CPU reset */

bool io_direct;

void runtime__bsp_main(void)
{
	intr__init();
	io_direct = ((read_rflags() >> 12) & 3) == 3;
	serial__init(platform.com1_port);
	if (platform__init(&platform, boot_params_addr))
		test_exit(GUEST_EXIT_NO_PLATFORM);
	if (platform.com1_port != 0x3f8)
		serial__init(platform.com1_port);
	/*
	 * The 8259 pair comes out of reset unmasked and the BSP's LINT0 is ExtINT: mask the PICs so ISA
	 * lines (the uart's IRQ 4 is wired to both PIC and IOAPIC) arrive only through the IOAPIC.
	 */
	outb(PIC1_DATA, 0xff);
	outb(PIC2_DATA, 0xff);
	lapic__init();
	smp__init_bsp();
	test_exit(main());
}

void test_exit(int code)
{
	outl(platform.test_exit_port, (uint32_t)code);
	printf("guest: test-exit %d through port 0x%x did not stop the machine\n", code,
	       platform.test_exit_port);
	sys__stop();
}

void poweroff(void)
{
	uint16_t v = (uint16_t)(platform.s5_slp_typ << PM1_SLP_TYP_SHIFT | PM1_SLP_EN);

	if (!platform.pm_port) {
		printf("guest: poweroff: no minivmm,acpi-pm node in the device tree\n");
		test_exit(GUEST_EXIT_FAIL);
	}
	outw(platform.pm_port + PM1_CNT_OFFSET, v);
	printf("guest: poweroff (0x%x to port 0x%x) did not stop the machine\n", v,
	       platform.pm_port + PM1_CNT_OFFSET);
	test_exit(GUEST_EXIT_FAIL);
}

void reset(void)
{
	if (!platform.reset_port) {
		printf("guest: reset: no minivmm,reset-port in the device tree\n");
		test_exit(GUEST_EXIT_FAIL);
	}
	outb(platform.reset_port, RESET_VALUE);
	printf("guest: reset (0x%x to port 0x%x) did not stop the machine\n", RESET_VALUE, platform.reset_port);
	test_exit(GUEST_EXIT_FAIL);
}
