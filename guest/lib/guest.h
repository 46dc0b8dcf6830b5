/*
 * The guest-program runtime: include this one header. minivmm enters _start (start.S) at CPL0; the
 * runtime loads its own GDT/TSS/IDT, drops to CPL3, fills the IDT, finds the platform from the device
 * tree, sets up the serial port and the LAPIC, and calls the program's
 *
 *	int main(void);
 *
 * at CPL3. When main returns, its value is the test-exit code (0 = pass).
 *
 * Why CPL3: on PVM (this project's development host) guest CPL0 code is instruction-emulated at about
 * 2 M instructions/s while CPL3 code runs natively. What that costs, measured with minivmm on PVM:
 *   - a gate round trip (int $4, gate.h): ~10 us; port I/O through it: ~34 us (the exit to the VMM)
 *   - MMIO at CPL3: ~2.6 us to the in-kernel LAPIC, ~30 us to a VMM device (ECAM)
 *   - serial output: ~10 us per byte (one exit per byte, even with rep outsb)
 *   - an interrupt round trip (self-IPI to handler to EOI): ~130 us
 * PVM runs guest user mode with IF=1 and IOPL=0 regardless of what iretq asked for, and lets CPL3
 * execute only int 3 / int 4 (int 0x80 becomes #UD). So: CPL3 code cannot mask interrupts, port I/O
 * goes through the gate (io.h decides), and the gate is vector 4. On hardware KVM, IOPL=3 holds and
 * port I/O runs directly.
 */
#ifndef GUEST_GUEST_H
#define GUEST_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch.h"
#include "io.h"
#include "mem.h"
#include "console.h"
#include "intr.h"
#include "dtb.h"
#include "acpitab.h"
#include "pci.h"
#include "apic.h"
#include "smp.h"
#include "timer.h"

/* Test-exit codes the runtime itself uses (0 = pass; minivmm uses 1-4 for its own exits). */
#define GUEST_EXIT_FAIL		0x21	/* a TEST_ASSERT failed */
#define GUEST_EXIT_EXCEPTION	0x22	/* unexpected CPU exception */
#define GUEST_EXIT_NO_PLATFORM	0x23	/* no usable device tree */

#define PLATFORM_MAX_MEM	8

/* What the device tree says about the machine (machine/fdt.h has the schema). */
struct platform {
	const void *dtb;
	uint32_t dtb_size;
	const char *bootargs;		/* chosen/bootargs, "" if none */
	uint16_t test_exit_port;
	uint16_t com1_port;
	uint8_t com1_irq;
	uint64_t rsdp;
	uint64_t lapic_base;
	uint64_t ioapic_base;
	uint32_t ioapic_id;
	/* PCI host bridge */
	bool has_pci;
	uint64_t ecam_base, ecam_size;
	uint32_t bus_first, bus_last;
	uint16_t pci_config_port;	/* 0xCF8 mechanism #1, 0 if absent */
	uint64_t pci_io_base, pci_io_size;
	uint64_t pci_mmio32_base, pci_mmio32_size;
	uint64_t pci_mmio64_base, pci_mmio64_size;
	/* ACPI PM */
	uint16_t pm_port;		/* PM1a_EVT; PM1a_CNT = +4, PM_TMR = +8 */
	uint32_t s5_slp_typ;
	uint16_t reset_port;
	/* vIOMMU */
	bool has_iommu;
	uint64_t iommu_base, iommu_size;
	const char *iommu_mode;		/* "flts" */
	bool iommu_fs1gp;
	/* CPUs (LAPIC IDs, in device tree order) and RAM */
	int ncpus;
	uint32_t cpu_apic_id[GUEST_MAX_CPUS];
	int nmem;
	struct {
		uint64_t base, size;
	} mem[PLATFORM_MAX_MEM];
};

extern struct platform platform;
extern uint64_t boot_params_addr;	/* the zero page minivmm passed in RSI */
extern uint64_t boot_cr3;

int main(void);

/* Fill @p from the device tree in the zero page's setup_data chain. Returns 0 or prints why not. */
int platform__init(struct platform *p, uint64_t zero_page);
/* The value of "key=value" in the command line (bootargs), copied into @buf; false if absent. */
bool platform__cmdline_get(const char *key, char *buf, size_t len);

/* Entry points (start.S jumps to them at CPL3). */
void runtime__bsp_main(void);

/* Ending the run. Each one reports and test-exits with GUEST_EXIT_FAIL if the machine keeps running. */
__attribute__((noreturn)) void test_exit(int code);
__attribute__((noreturn)) void poweroff(void);
__attribute__((noreturn)) void reset(void);

/* Print the exception and test-exit with GUEST_EXIT_EXCEPTION (CPL0 only). */
__attribute__((noreturn)) void exception__report(const struct intr_frame *f);

#endif
