/*
 * Tier 1: machine control devices through the PIO bus on the fake KVM host: ACPI PM1 blocks and PM
 * timer (devices/acpi-pm.c), the reset paths (devices/reset.c: i8042, 0xCF9 next to the PCI
 * config-address register) and the test-exit port (devices/test-exit.c). stop() is the fake's recorder.
 */
#include <string.h>
#include <time.h>

#include "check_main.h"
#include "fake_kvm.h"
#include "devices/acpi-pm.h"
#include "devices/pci-host.h"
#include "devices/reset.h"
#include "devices/test-exit.h"
#include "vmm/layout.h"
#include "vmm/log.h"
#include "vmm/vm.h"

static struct vm *vm;

static void out(unsigned port, unsigned len, uint32_t v)
{
	ck_assert(bus__access(&vm->pio, port, &v, len, true));
}

static uint32_t in(unsigned port, unsigned len)
{
	uint32_t v = 0;

	ck_assert(bus__access(&vm->pio, port, &v, len, false));
	return v;
}

static void setup(void)
{
	vm = fake_vm__new(0);
}

static void teardown(void)
{
	fake_vm__free(vm);
}

/* ---- ACPI PM ---- */

#define PM1_STS		PORT_ACPI_PM1A_EVT
#define PM1_EN		(PORT_ACPI_PM1A_EVT + 2)
#define PM1_CNT		PORT_ACPI_PM1A_CNT
#define PWRBTN		0x0100
#define WAK_STS		0x8000
#define SCI_EN		0x0001
#define SLP_EN		0x2000
#define SLP_TYP(t)	((t) << 10)

START_TEST(pm_s5_powers_off)
{
	struct acpi_pm *pm = acpi_pm__init(vm);

	ck_assert_ptr_nonnull(pm);
	ck_assert_uint_eq(in(PM1_CNT, 2), SCI_EN);	/* always in ACPI mode */
	out(PM1_CNT, 2, SLP_TYP(ACPI_S5_SLP_TYP));	/* type alone: nothing happens */
	ck_assert_uint_eq(fake_kvm.nr_stops, 0);
	ck_assert_uint_eq(in(PM1_CNT, 2), SCI_EN | SLP_TYP(ACPI_S5_SLP_TYP));
	out(PM1_CNT, 2, SLP_TYP(ACPI_S5_SLP_TYP) | SLP_EN | SCI_EN);
	ck_assert_uint_eq(fake_kvm.nr_stops, 1);
	ck_assert_int_eq(fake_kvm.stop_status, VMM_EXIT_POWEROFF);
	ck_assert_str_eq(fake_kvm.stop_reason, "guest powered off");
	ck_assert_uint_eq(in(PM1_CNT, 2) & SLP_EN, 0);	/* write-only */
	acpi_pm__exit(pm);
}
END_TEST

START_TEST(pm_s5_by_byte_write)
{
	struct acpi_pm *pm = acpi_pm__init(vm);

	out(PM1_CNT + 1, 1, (SLP_TYP(ACPI_S5_SLP_TYP) | SLP_EN) >> 8);
	ck_assert_uint_eq(fake_kvm.nr_stops, 1);
	ck_assert_int_eq(fake_kvm.stop_status, VMM_EXIT_POWEROFF);
	acpi_pm__exit(pm);
}
END_TEST

START_TEST(pm_other_sleep_types_wake_at_once)
{
	struct acpi_pm *pm = acpi_pm__init(vm);

	for (unsigned t = 0; t < 8; t++) {
		if (t == ACPI_S5_SLP_TYP)
			continue;
		out(PM1_CNT, 2, SLP_TYP(t) | SLP_EN);
		ck_assert_uint_eq(fake_kvm.nr_stops, 0);
		ck_assert_uint_eq(in(PM1_STS, 2) & WAK_STS, WAK_STS);
		out(PM1_STS, 2, WAK_STS);	/* write 1 to clear */
		ck_assert_uint_eq(in(PM1_STS, 2) & WAK_STS, 0);
	}
	/* SCI_EN cannot be cleared. */
	out(PM1_CNT, 2, 0);
	ck_assert_uint_eq(in(PM1_CNT, 2), SCI_EN);
	acpi_pm__exit(pm);
}
END_TEST

START_TEST(pm_power_button_sci)
{
	struct acpi_pm *pm = acpi_pm__init(vm);

	acpi_pm__power_button(pm);	/* not enabled: status only */
	ck_assert_uint_eq(in(PM1_STS, 2), PWRBTN);
	ck_assert_int_ne(fake_kvm__level(ACPI_SCI_IRQ), 1);
	out(PM1_EN, 2, 0xffff);
	ck_assert_uint_eq(in(PM1_EN, 2), 0x4721);	/* only defined enable bits stick */
	ck_assert_int_eq(fake_kvm__level(ACPI_SCI_IRQ), 1);
	out(PM1_STS, 2, 0);		/* writing 0 clears nothing */
	ck_assert_uint_eq(in(PM1_STS, 2), PWRBTN);
	out(PM1_STS, 2, PWRBTN);
	ck_assert_uint_eq(in(PM1_STS, 2), 0);
	ck_assert_int_eq(fake_kvm__level(ACPI_SCI_IRQ), 0);
	/* A 4-byte access at PM1a_EVT reaches status and enable together. */
	acpi_pm__power_button(pm);
	ck_assert_uint_eq(in(PM1_STS, 4), 0x4721u << 16 | PWRBTN);
	out(PM1_STS, 4, PWRBTN);	/* clears status, zeroes enable */
	ck_assert_uint_eq(in(PM1_STS, 4), 0);
	acpi_pm__exit(pm);
}
END_TEST

START_TEST(pm_timer_counts_at_3_58_mhz)
{
	struct acpi_pm *pm = acpi_pm__init(vm);
	struct timespec d = { 0, 20 * 1000 * 1000 };
	uint32_t prev, t0, t1;

	prev = in(PORT_ACPI_PM_TMR, 4);
	for (int i = 0; i < 10000; i++) {
		uint32_t t = in(PORT_ACPI_PM_TMR, 4);

		ck_assert_int_ge((int32_t)(t - prev), 0);	/* monotonic (modulo 2^32) */
		prev = t;
	}
	t0 = in(PORT_ACPI_PM_TMR, 4);
	nanosleep(&d, NULL);
	t1 = in(PORT_ACPI_PM_TMR, 4);
	/* 20 ms is 71591 ticks; allow for a slow, loaded host. */
	ck_assert_uint_ge(t1 - t0, 71000);
	ck_assert_uint_lt(t1 - t0, ACPI_PM_TMR_HZ);
	/* Read-only; byte reads see the same counter. */
	out(PORT_ACPI_PM_TMR, 4, 0);
	ck_assert_int_ge((int32_t)(in(PORT_ACPI_PM_TMR, 4) - t1), 0);	/* not reset to 0 */
	ck_assert_uint_eq(in(PORT_ACPI_PM_TMR + 3, 1), in(PORT_ACPI_PM_TMR, 4) >> 24);
	ck_assert_int_ge((int32_t)(acpi_pm__timer(pm) - t1), 0);
	acpi_pm__exit(pm);
}
END_TEST

/* ---- reset ---- */

START_TEST(i8042_status_and_commands)
{
	struct reset_dev *r = reset__init(vm);

	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(in(PORT_I8042 + 4, 1), 0x1c);	/* no data, input buffer empty */
	out(PORT_I8042 + 4, 1, 0x20);			/* read the command byte */
	ck_assert_uint_eq(in(PORT_I8042 + 4, 1) & 1, 1);
	ck_assert_uint_eq(in(PORT_I8042, 1), 0x70);
	ck_assert_uint_eq(in(PORT_I8042 + 4, 1) & 1, 0);
	out(PORT_I8042 + 4, 1, 0x60);			/* write the command byte */
	out(PORT_I8042, 1, 0x45);
	out(PORT_I8042 + 4, 1, 0x20);
	ck_assert_uint_eq(in(PORT_I8042, 1), 0x45);
	out(PORT_I8042 + 4, 1, 0xaa);			/* self test */
	ck_assert_uint_eq(in(PORT_I8042, 1), 0x55);
	out(PORT_I8042 + 4, 1, 0xd4);			/* to the (absent) mouse: no answer */
	out(PORT_I8042, 1, 0xff);
	ck_assert_uint_eq(in(PORT_I8042 + 4, 1) & 3, 0);
	out(PORT_I8042 + 4, 1, 0xff);			/* pulse nothing */
	ck_assert_uint_eq(fake_kvm.nr_stops, 0);
	out(PORT_I8042 + 4, 1, 0xfe);
	ck_assert_uint_eq(fake_kvm.nr_stops, 1);
	ck_assert_int_eq(fake_kvm.stop_status, VMM_EXIT_RESET);
	ck_assert_ptr_nonnull(strstr(fake_kvm.stop_reason, "reset"));
	reset__exit(r);
}
END_TEST

START_TEST(i8042_output_port_reset)
{
	struct reset_dev *r = reset__init(vm);

	out(PORT_I8042 + 4, 1, 0xd1);
	out(PORT_I8042, 1, 0xdf);	/* bit 0 (reset line, active low) high: nothing */
	ck_assert_uint_eq(fake_kvm.nr_stops, 0);
	out(PORT_I8042 + 4, 1, 0xd1);
	out(PORT_I8042, 1, 0xde);
	ck_assert_uint_eq(fake_kvm.nr_stops, 1);
	ck_assert_int_eq(fake_kvm.stop_status, VMM_EXIT_RESET);
	reset__exit(r);
}
END_TEST

START_TEST(cf9_reset_next_to_pci_config_address)
{
	struct pci_host *host = pci_host__init(vm);
	struct reset_dev *r = reset__init(vm);

	ck_assert_ptr_nonnull(host);
	ck_assert_ptr_nonnull(r);
	/* Linux's type 1 probe: a byte at 0xCFB, then dwords at 0xCF8. */
	out(0xcfb, 1, 0x01);
	out(PORT_PCI_CONFIG_ADDR, 4, 0x80000000);
	ck_assert_uint_eq(in(PORT_PCI_CONFIG_ADDR, 4), 0x80000000);
	/* reboot=pci: read, SYS_RST, then SYS_RST | RST_CPU. */
	ck_assert_uint_eq(in(PORT_RESET_CTRL, 1), 0);
	out(PORT_RESET_CTRL, 1, 0x02);
	ck_assert_uint_eq(fake_kvm.nr_stops, 0);
	ck_assert_uint_eq(in(PORT_RESET_CTRL, 1), 0x02);
	ck_assert_uint_eq(in(PORT_PCI_CONFIG_ADDR, 4), 0x80000000);	/* untouched */
	out(PORT_RESET_CTRL, 1, 0x06);
	ck_assert_uint_eq(fake_kvm.nr_stops, 1);
	ck_assert_int_eq(fake_kvm.stop_status, VMM_EXIT_RESET);
	out(PORT_RESET_CTRL, 1, 0x0e);
	ck_assert_uint_eq(fake_kvm.nr_stops, 2);
	ck_assert_uint_eq(in(PORT_RESET_CTRL, 1), 0x0a);	/* RST_CPU is self-clearing */
	reset__exit(r);
	pci_host__exit(host);
}
END_TEST

/* ---- test-exit ---- */

START_TEST(test_exit_port)
{
	struct test_exit *t = test_exit__init(vm);

	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(in(PORT_TEST_EXIT, 4), 0);
	out(PORT_TEST_EXIT, 4, 0x1234);
	ck_assert_uint_eq(fake_kvm.nr_stops, 1);
	ck_assert_int_eq(fake_kvm.stop_status, 0x34);
	ck_assert_str_eq(fake_kvm.stop_reason, "guest test-exit 4660");
	out(PORT_TEST_EXIT, 1, 3);
	ck_assert_int_eq(fake_kvm.stop_status, 3);
	ck_assert_str_eq(fake_kvm.stop_reason, "guest test-exit 3");
	out(PORT_TEST_EXIT + 1, 1, 7);	/* not the port's first byte: ignored */
	ck_assert_uint_eq(fake_kvm.nr_stops, 2);
	test_exit__exit(t);
}
END_TEST

START_TEST(double_registration_fails_cleanly)
{
	struct test_exit *t = test_exit__init(vm);
	struct acpi_pm *pm = acpi_pm__init(vm);
	struct reset_dev *r = reset__init(vm);

	ck_assert_ptr_null(test_exit__init(vm));
	ck_assert_ptr_null(acpi_pm__init(vm));
	ck_assert_ptr_null(reset__init(vm));
	/* The originals still work. */
	out(PORT_TEST_EXIT, 1, 9);
	ck_assert_int_eq(fake_kvm.stop_status, 9);
	test_exit__exit(t);
	acpi_pm__exit(pm);
	reset__exit(r);
}
END_TEST

static Suite *pm_suite(void)
{
	Suite *s = suite_create("pm");
	TCase *tc = tcase_create("pm");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, pm_s5_powers_off);
	tcase_add_test(tc, pm_s5_by_byte_write);
	tcase_add_test(tc, pm_other_sleep_types_wake_at_once);
	tcase_add_test(tc, pm_power_button_sci);
	tcase_add_test(tc, pm_timer_counts_at_3_58_mhz);
	tcase_add_test(tc, i8042_status_and_commands);
	tcase_add_test(tc, i8042_output_port_reset);
	tcase_add_test(tc, cf9_reset_next_to_pci_config_address);
	tcase_add_test(tc, test_exit_port);
	tcase_add_test(tc, double_registration_fails_cleanly);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(pm_suite)
