/*
 * ACPI fixed hardware (PM1a event and control blocks, PM timer) at PORT_ACPI_PM_BASE. A guest's S5
 * request (SLP_TYP == ACPI_S5_SLP_TYP with SLP_EN) ends the run with vm->stop(VMM_EXIT_POWEROFF, ...).
 */
#ifndef MINIVMM_DEVICES_ACPI_PM_H
#define MINIVMM_DEVICES_ACPI_PM_H

#include <stdint.h>

struct vm;
struct acpi_pm;

#define ACPI_PM_TMR_HZ	3579545ULL	/* ACPI 6.5 §4.8.3.3: PM timer frequency */

/* Register PM1a_EVT (4 bytes), PM1a_CNT (2, padded to 4) and PM_TMR (4). NULL (after a message) on failure. */
struct acpi_pm *acpi_pm__init(struct vm *vm);
void acpi_pm__exit(struct acpi_pm *pm);

/*
 * Press the fixed-hardware power button (PWRBTN_STS): an SCI on ACPI_SCI_IRQ if the guest enabled it.
 * For a graceful shutdown request from the host (SIGTERM); needs FADT PWR_BUTTON clear.
 */
void acpi_pm__power_button(struct acpi_pm *pm);

/* The PM timer's current 32-bit value (what a guest read of PM_TMR returns now). */
uint32_t acpi_pm__timer(struct acpi_pm *pm);

#endif
