/*
 * Fixed ACPI Description Table (ACPI 6.5 5.2.9), revision 6 layout (276 bytes, minor version 0).
 *
 * minivmm is a full (not hardware-reduced) ACPI platform, because Linux powers off through the
 * PM1a control register and \_S5 and takes the SCI, PM timer and reset register from here. The
 * register blocks are all in system I/O space (vmm/layout.h PORT_ACPI_*): every block is given
 * both as the 32-bit ACPI 1.0 field and as the X_ Generic Address Structure, with the same address
 * and a bit width equal to 8 * the legacy length, because ACPICA compares the two and warns on a
 * mismatch ("32/64X address mismatch", "32/64X length mismatch").
 */
#include "acpi/acpi_internal.h"

#define FADT_PM1_EVT_LEN	4	/* PM1a_STS + PM1a_EN, 16 bits each */
#define FADT_PM1_CNT_LEN	2
#define FADT_PM_TMR_LEN		4	/* 32-bit timer (TMR_VAL_EXT) */
#define FADT_RESET_VALUE	0x06	/* 0xCF9: full reset + system reset (vmm/layout.h) */

/*
 * A register block in I/O space. For FADT registers (bit offset 0, width 8/16/32) ACPICA derives
 * the access width from the bit width and ignores Access Size; fill it in anyway with the width
 * of the individual registers, as real firmware does.
 */
static void fadt__io_gas(struct acpi_gas *g, uint16_t port, uint8_t len, uint8_t access)
{
	g->space_id = ACPI_AS_SYSTEM_IO;
	g->bit_width = 8 * len;
	g->bit_offset = 0;
	g->access_size = access;
	g->address = port;
}

uint64_t acpi__build_fadt(struct acpi_builder *b, const struct acpi_config *cfg, uint64_t facs, uint64_t dsdt)
{
	struct acpi_fadt *f = acpi__alloc(b, sizeof(*f), 16);

	if (!f)
		return 0;
	acpi__header(&f->h, "FACP", 6, sizeof(*f));
	f->minor_version = 0;

	/*
	 * FACS and DSDT are below 4 GiB (acpi__build checks). X_FIRMWARE_CTRL must be 0 when
	 * FIRMWARE_CTRL is used (5.2.9, X_FIRMWARE_CTRL); the DSDT has no such rule, give both.
	 */
	f->firmware_ctrl = facs;
	f->x_firmware_ctrl = 0;
	f->dsdt = dsdt;
	f->x_dsdt = dsdt;

	f->preferred_pm_profile = 0;	/* unspecified */
	f->sci_int = cfg->sci_irq;
	/*
	 * SMI_CMD = 0: there is no SMM firmware to hand ACPI mode over; the platform is always in
	 * ACPI mode (SCI_EN reads as 1). ACPI_ENABLE/ACPI_DISABLE must then be 0 too.
	 */
	f->smi_cmd = 0;
	f->acpi_enable = 0;
	f->acpi_disable = 0;

	f->pm1a_evt_blk = cfg->pm_base;
	f->pm1_evt_len = FADT_PM1_EVT_LEN;
	fadt__io_gas(&f->x_pm1a_evt_blk, cfg->pm_base, FADT_PM1_EVT_LEN, ACPI_ACCESS_WORD);
	f->pm1a_cnt_blk = cfg->pm_base + 4;
	f->pm1_cnt_len = FADT_PM1_CNT_LEN;
	fadt__io_gas(&f->x_pm1a_cnt_blk, cfg->pm_base + 4, FADT_PM1_CNT_LEN, ACPI_ACCESS_WORD);
	f->pm_tmr_blk = cfg->pm_base + 8;
	f->pm_tmr_len = FADT_PM_TMR_LEN;
	fadt__io_gas(&f->x_pm_tmr_blk, cfg->pm_base + 8, FADT_PM_TMR_LEN, ACPI_ACCESS_DWORD);
	/* No PM1b, PM2, GPE0 or GPE1 blocks: lengths and addresses stay 0. */

	/* C2/C3 latencies above 100/1000 us mean "not supported" (5.2.9, P_LVL2_LAT/P_LVL3_LAT). */
	f->p_lvl2_lat = 0x0FFF;
	f->p_lvl3_lat = 0x0FFF;
	f->century = 0;			/* no RTC */

	/*
	 * IA-PC boot architecture flags (Table 5.11):
	 * - LEGACY_DEVICES clear: every legacy device we have (COM1) is described in the DSDT.
	 * - 8042 clear: minivmm's i8042 only implements the 0xFE "pulse reset" command on port
	 *   0x64. With the flag set, Linux would probe a keyboard controller that does not answer;
	 *   with it clear Linux marks the i8042 FIRMWARE_ABSENT and skips it. Reboot does not need
	 *   the flag: Linux tries the FADT reset register first (reboot=acpi is the default) and its
	 *   keyboard-controller fallback writes 0xFE to 0x64 regardless of this flag.
	 * - VGA_NOT_PRESENT: no VGA; stops Linux from poking the legacy VGA ranges.
	 * - MSI_NOT_SUPPORTED clear: PCI MSI/MSI-X work (and go through the VT-d unit when on).
	 * - PCIE_ASPM_CONTROLS clear: the OS may manage ASPM (there is none to manage).
	 * - CMOS_RTC_NOT_PRESENT (ACPI 5.0+): there is no RTC at 0x70/0x71; Linux then does not
	 *   register the rtc_cmos platform device.
	 */
	f->iapc_boot_arch = ACPI_IAPC_VGA_NOT_PRESENT | ACPI_IAPC_CMOS_RTC_NOT_PRESENT;

	/*
	 * Flags (Table 5.10): WBINVD works; C1 (HLT) on every CPU; no fixed-feature power or sleep
	 * button (PWR_BUTTON/SLP_BUTTON set mean "control method button or none", and there is
	 * none); 32-bit PM timer; the reset register below is supported.
	 */
	f->flags = ACPI_FADT_WBINVD | ACPI_FADT_PROC_C1 | ACPI_FADT_PWR_BUTTON | ACPI_FADT_SLP_BUTTON |
		   ACPI_FADT_TMR_VAL_EXT | ACPI_FADT_RESET_REG_SUP;

	/* RESET_REG must be 8 bits wide at offset 0 (5.2.9); Linux ignores it otherwise. */
	fadt__io_gas(&f->reset_reg, cfg->reset_port, 1, ACPI_ACCESS_BYTE);
	f->reset_value = FADT_RESET_VALUE;

	acpi__checksum(&f->h);
	return acpi__gpa(b, f);
}
