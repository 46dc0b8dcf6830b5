/*
 * ACPI fixed hardware, the "PM1a" blocks and the PM timer (ACPI 6.5 §4.8.3), at PORT_ACPI_PM_BASE:
 *
 *   +0  PM1_STS  (16 bits, write 1 to clear)   §4.8.3.1.1
 *   +2  PM1_EN   (16 bits)                     §4.8.3.1.2
 *   +4  PM1_CNT  (16 bits; +6..+7 reserved)    §4.8.3.2.1
 *   +8  PM_TMR   (32 bits, read-only)          §4.8.3.3
 *
 * There is no SMI_CMD port (FADT SMI_CMD = 0), so the machine is always in ACPI mode: SCI_EN reads 1
 * and cannot be cleared. Registers are decoded byte by byte, so any access width works. The SCI
 * (ACPI_SCI_IRQ) is a level: asserted while an enabled status bit is set.
 *
 * Not modelled: TMR_STS (the timer's carry out of bit 31 would need a host timer to raise an SCI while
 * no vCPU touches us; Linux never enables TMR_EN), GPE blocks, and sleep states other than S5.
 */
#include "devices/acpi-pm.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm/irq.h"
#include "vmm/layout.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#define PM1_STS			0
#define PM1_EN			2
#define PM1_CNT			4
#define PM_TMR			8
#define ACPI_PM_LEN		12

/* PM1_STS / PM1_EN bits (ACPI 6.5 tables 4.16 and 4.17) */
#define PM1_TMR			0x0001
#define PM1_BM_STS		0x0010
#define PM1_GBL			0x0020
#define PM1_PWRBTN		0x0100
#define PM1_SLPBTN		0x0200
#define PM1_RTC			0x0400
#define PM1_PCIEXP_WAKE		0x4000
#define PM1_WAK_STS		0x8000
#define PM1_STS_W1C		(PM1_TMR | PM1_BM_STS | PM1_GBL | PM1_PWRBTN | PM1_SLPBTN | PM1_RTC | \
				 PM1_PCIEXP_WAKE | PM1_WAK_STS)
#define PM1_EN_RW		(PM1_TMR | PM1_GBL | PM1_PWRBTN | PM1_SLPBTN | PM1_RTC | PM1_PCIEXP_WAKE)
/* Status bits that raise an SCI when enabled (PCIEXP_WAKE_DIS is a disable bit, WAK_STS has no enable). */
#define PM1_SCI_SOURCES		(PM1_TMR | PM1_GBL | PM1_PWRBTN | PM1_SLPBTN | PM1_RTC)

/* PM1_CNT bits (ACPI 6.5 table 4.18) */
#define PM1_CNT_SCI_EN		0x0001
#define PM1_CNT_BM_RLD		0x0002
#define PM1_CNT_GBL_RLS		0x0004	/* write-only */
#define PM1_CNT_SLP_TYP_SHIFT	10
#define PM1_CNT_SLP_TYP		0x1c00
#define PM1_CNT_SLP_EN		0x2000	/* write-only */

struct acpi_pm {
	pthread_mutex_t lock;
	struct vm *vm;
	uint16_t sts, en, cnt;
	bool sci_level;
	uint64_t tmr_epoch;	/* timer ticks at init: the guest's timer starts near 0 */
	char reason[64];
};

static uint64_t pm_ticks_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* Monotonic in (sec, nsec) and free of overflow for ~160 000 years of uptime. */
	return (uint64_t)ts.tv_sec * ACPI_PM_TMR_HZ + (uint64_t)ts.tv_nsec * ACPI_PM_TMR_HZ / 1000000000ULL;
}

uint32_t acpi_pm__timer(struct acpi_pm *pm)
{
	return (uint32_t)(pm_ticks_now() - pm->tmr_epoch);	/* FADT TMR_VAL_EXT: all 32 bits count */
}

static void pm_update_sci(struct acpi_pm *pm)
{
	bool level = (pm->cnt & PM1_CNT_SCI_EN) && (pm->sts & pm->en & PM1_SCI_SOURCES);

	if (level == pm->sci_level)
		return;
	pm->sci_level = level;
	if (irq__set_line(pm->vm, ACPI_SCI_IRQ, level) < 0)
		pr_debug("acpi-pm: cannot drive the SCI");
}

static uint8_t pm_read_byte(struct acpi_pm *pm, unsigned off, uint32_t tmr)
{
	unsigned sh = (off & 1) * 8;

	switch (off) {
	case PM1_STS ... PM1_STS + 1:
		return pm->sts >> sh;
	case PM1_EN ... PM1_EN + 1:
		return pm->en >> sh;
	case PM1_CNT ... PM1_CNT + 1:
		return pm->cnt >> sh;
	case PM_TMR ... PM_TMR + 3:
		return tmr >> ((off - PM_TMR) * 8);
	default:
		return 0;
	}
}

/* A sleep request: S5 ends the run (returns true); others are not supported. */
static bool pm_sleep(struct acpi_pm *pm, unsigned slp_typ)
{
	if (slp_typ == ACPI_S5_SLP_TYP) {
		snprintf(pm->reason, sizeof(pm->reason), "guest powered off");
		return true;
	}
	/*
	 * Only \_S5 is in the DSDT, so an OS should not ask for anything else. If one does, report an
	 * immediate wake-up (WAK_STS) so that its "wait for WAK_STS" loop ends instead of spinning forever.
	 */
	pr_warn("acpi-pm: guest asked for sleep type %u, which is not supported; waking it at once", slp_typ);
	pm->sts |= PM1_WAK_STS;
	return false;
}

static bool pm_write_byte(struct acpi_pm *pm, unsigned off, uint8_t v)
{
	unsigned sh = (off & 1) * 8;
	uint16_t byte_mask = 0xff << sh, val = (uint16_t)v << sh;

	switch (off) {
	case PM1_STS ... PM1_STS + 1:
		pm->sts &= ~(val & PM1_STS_W1C);
		break;
	case PM1_EN ... PM1_EN + 1:
		pm->en = (pm->en & ~byte_mask) | (val & PM1_EN_RW);
		break;
	case PM1_CNT ... PM1_CNT + 1:
		pm->cnt = (pm->cnt & ~byte_mask) | (val & (PM1_CNT_BM_RLD | PM1_CNT_SLP_TYP));
		pm->cnt |= PM1_CNT_SCI_EN;
		if (val & PM1_CNT_SLP_EN)
			return pm_sleep(pm, (val & PM1_CNT_SLP_TYP) >> PM1_CNT_SLP_TYP_SHIFT);
		break;
	default:
		break;	/* reserved bytes and the read-only timer */
	}
	return false;
}

static void pm_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write)
{
	struct acpi_pm *pm = opaque;
	char why[sizeof(pm->reason)];
	uint8_t *p = data;
	uint32_t tmr = 0;
	bool poweroff = false;

	if (!is_write && offset < PM_TMR + 4 && offset + len > PM_TMR)
		tmr = acpi_pm__timer(pm);
	pthread_mutex_lock(&pm->lock);
	for (unsigned i = 0; i < len; i++) {
		uint64_t o = offset + i;

		if (is_write)
			poweroff |= o < ACPI_PM_LEN && pm_write_byte(pm, o, p[i]);
		else
			p[i] = o < ACPI_PM_LEN ? pm_read_byte(pm, o, tmr) : 0xff;
	}
	pm_update_sci(pm);
	/* A copy made under the lock: another vCPU may write the reason again once it is dropped. */
	if (poweroff)
		memcpy(why, pm->reason, sizeof(why));
	pthread_mutex_unlock(&pm->lock);
	if (poweroff)
		pm->vm->stop(pm->vm, VMM_EXIT_POWEROFF, why);
}

void acpi_pm__power_button(struct acpi_pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm->sts |= PM1_PWRBTN;
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

struct acpi_pm *acpi_pm__init(struct vm *vm)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));
	int ret;

	if (!pm) {
		pr_err("acpi-pm: out of memory");
		return NULL;
	}
	pthread_mutex_init(&pm->lock, NULL);
	pm->vm = vm;
	pm->cnt = PM1_CNT_SCI_EN;
	pm->tmr_epoch = pm_ticks_now();
	ret = bus__register(&vm->pio, PORT_ACPI_PM_BASE, ACPI_PM_LEN, pm_io, pm, "acpi-pm");
	if (ret < 0) {
		pr_err("acpi-pm: cannot register ports %#x-%#x: %s", PORT_ACPI_PM_BASE,
		       PORT_ACPI_PM_BASE + ACPI_PM_LEN - 1, strerror(-ret));
		pthread_mutex_destroy(&pm->lock);
		free(pm);
		return NULL;
	}
	return pm;
}

void acpi_pm__exit(struct acpi_pm *pm)
{
	if (!pm)
		return;
	bus__unregister(&pm->vm->pio, PORT_ACPI_PM_BASE, pm);
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}
