/*
 * Differentiated System Description Table (ACPI 6.5 5.2.11.1): the AML namespace. What it holds,
 * in ASL (values from the reference configuration):
 *
 *   DefinitionBlock ("", "DSDT", 2, "MINVMM", "MINIVMM ", 1) {
 *     Scope (\_SB) {
 *       Device (PCI0) {                          // PCIe host bridge, segment 0
 *         Name (_HID, EisaId ("PNP0A08"))  Name (_CID, EisaId ("PNP0A03"))
 *         Name (_SEG, 0)  Name (_BBN, 0)  Name (_UID, 0)
 *         Name (_CRS, ResourceTemplate () {
 *           WordBusNumber (... 0x00, 0xFF ...)               // buses 0..ecam_last_bus
 *           IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)       // config address/data ports
 *           WordIO (... 0xC000, 0xFFFF ...)                  // I/O BAR window
 *           DWordMemory (... 0xC0000000, 0xDFFFFFFF ...)     // 32-bit BAR window
 *           QWordMemory (... 0x100000000, 0x40FFFFFFFF ...)  // 64-bit BAR window
 *         })
 *         Method (_OSC, 4) { ... grant every requested PCIe feature ... }
 *         Name (_PRT, Package (124) {                      // slots 1..31 x INTA..INTD
 *           Package (4) { 0x0001FFFF, Zero, Zero, 0x11 }   // slot 1 INTA -> GSI 17
 *           ...
 *           Package (4) { 0x001FFFFF, 0x03, Zero, 0x12 }   // slot 31 INTD -> GSI 18
 *         })
 *       }
 *       Device (MRES) {                          // motherboard resources: the ECAM
 *         Name (_HID, EisaId ("PNP0C02"))
 *         Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, 0xE0000000, 0x10000000) })
 *       }
 *       Device (COM1) {
 *         Name (_HID, EisaId ("PNP0501"))  Name (_UID, 1)  Name (_STA, 0x0F)
 *         Name (_CRS, ResourceTemplate () { IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08)
 *                                           IRQNoFlags () {4} })
 *       }
 *       Device (C000) { Name (_HID, "ACPI0007")  Name (_UID, 0) }   // one per vCPU
 *       ...
 *     }
 *     Name (_S5, Package (4) { 5, 0, 0, 0 })
 *   }
 *
 * Decisions (the guest is Linux):
 * - Processors are declared as ACPI0007 Device objects, _UID = vCPU index = the MADT Processor
 *   UID. Linux would boot from the MADT alone (CPUs are enumerated from it), but ACPI expects every
 *   processor in the namespace (8.4), and Linux's ACPI processor driver binds only to these
 *   objects (it matches _UID against the MADT's processor UID). The Processor () operator is
 *   deprecated since ACPI 6.0, hence Device objects.
 * - Root bridge I/O windows: only the PCI I/O BAR window. A window tells the OS which ports the
 *   host bridge forwards to PCI devices; Linux puts device I/O BARs only inside a window (and
 *   reassigns those outside). The legacy ports (COM1, PM block, 0xCF9, i8042) are platform
 *   devices, not behind the bridge, and are claimed through their own ACPI/PNP descriptions, so
 *   there is no need for QEMU-style 0x0000-0x0CF7 / 0x0D00-0xFFFF windows.
 * - The ECAM is reserved in a PNP0C02 device because Linux's pci_mmcfg_reserved() only trusts the
 *   MCFG region if it is reserved there ("MMCONFIG at ... reserved as ACPI motherboard resource");
 *   it accepts a Memory32Fixed or a memory address-space descriptor covering the whole region.
 * - The MMIO windows are NonCacheable (not prefetchable): Linux never places a non-prefetchable
 *   BAR in a prefetchable window, while any BAR may go in a non-prefetchable one.
 * - _PRT maps every slot's INTA..INTD straight to a GSI (Source Zero, 6.2.13), no PCI interrupt
 *   link devices: the four INTx lines are wired to IOAPIC inputs 16..19 with the swizzle of
 *   pci_host__intx_gsi(), which also fills each device's Interrupt Line, so _PRT and the config
 *   space agree. Without a _PRT Linux cannot route INTx ("can't derive routing for PCI INT A") and
 *   drivers that do not use MSI get no interrupt. The table lists all 31 device slots, not only the
 *   populated ones: it is fixed AML (about 1.5 KiB), and a device added later still routes. With a
 *   GSI source the interrupt is level-triggered, active-low (6.2.13); KVM's IOAPIC ignores the
 *   polarity, so the active-high line the device models drive works.
 * - _OSC grants every control the OS requests (native PCIe hotplug, PME, AER, PCIe capability,
 *   LTR, DPC): there is no firmware that wants to keep any. Without _OSC Linux logs "_OSC failed
 *   (AE_NOT_FOUND); disabling ASPM" and keeps PCIe services off.
 */
#include <errno.h>
#include <stdio.h>

#include "acpi/acpi_internal.h"
#include "acpi/aml.h"
#include "devices/pci-host.h"
#include "vmm/layout.h"

/* PCI Firmware Specification 3.3, 4.5.1: _OSC for PCI host bridges. */
#define PCI_HOST_BRIDGE_OSC_UUID	"33DB4D5B-1FF7-401C-9657-7441C03DD766"
#define OSC_CDW1_UNKNOWN_UUID		0x04
#define OSC_CDW1_UNKNOWN_REVISION	0x08

static void dsdt__pci_crs(struct aml *a, const struct acpi_config *cfg)
{
	size_t rt;

	aml__name(a, "_CRS");
	rt = aml__rt_begin(a);
	aml__rs_word_bus_number(a, 0, cfg->ecam_last_bus);
	aml__rs_io(a, PORT_PCI_CONFIG_ADDR, 8);
	if (cfg->pio_size)
		aml__rs_word_io(a, cfg->pio_base, cfg->pio_size);
	if (cfg->mmio32_size)
		aml__rs_dword_memory(a, cfg->mmio32_base, cfg->mmio32_size);
	if (cfg->mmio64_size)
		aml__rs_qword_memory(a, cfg->mmio64_base, cfg->mmio64_size);
	aml__rt_end(a, rt);
}

/* CDW1 |= bit, as "Or (CDW1, bit, CDW1)". */
static void dsdt__or_cdw1(struct aml *a, uint8_t bit)
{
	aml__byte(a, AML_OR_OP);
	aml__namestring(a, "CDW1");
	aml__int(a, bit);
	aml__namestring(a, "CDW1");
}

/*
 * Method (_OSC, 4, NotSerialized) {
 *   CreateDWordField (Arg3, 0, CDW1)
 *   If (LEqual (Arg0, ToUUID (PCI_HOST_BRIDGE_OSC_UUID))) {
 *     If (LNot (LEqual (Arg1, One))) { Or (CDW1, 0x08, CDW1) }   // unknown revision
 *   } Else { Or (CDW1, 0x04, CDW1) }                              // unknown UUID
 *   Return (Arg3)           // control field (CDW3) returned as requested: all granted
 * }
 */
static void dsdt__pci_osc(struct aml *a)
{
	size_t method, ifm, inner, elsem;

	method = aml__method_begin(a, "_OSC", 4, false);
	aml__byte(a, AML_CREATE_DWORD_FIELD_OP);
	aml__arg(a, 3);
	aml__int(a, 0);
	aml__namestring(a, "CDW1");

	ifm = aml__if_begin(a);
	aml__byte(a, AML_LEQUAL_OP);
	aml__arg(a, 0);
	aml__uuid(a, PCI_HOST_BRIDGE_OSC_UUID);
	inner = aml__if_begin(a);
	aml__byte(a, AML_LNOT_OP);
	aml__byte(a, AML_LEQUAL_OP);
	aml__arg(a, 1);
	aml__int(a, 1);
	dsdt__or_cdw1(a, OSC_CDW1_UNKNOWN_REVISION);
	aml__end(a, inner);
	aml__end(a, ifm);
	elsem = aml__else_begin(a);
	dsdt__or_cdw1(a, OSC_CDW1_UNKNOWN_UUID);
	aml__end(a, elsem);

	aml__byte(a, AML_RETURN_OP);
	aml__arg(a, 3);
	aml__end(a, method);
}

/* _PRT entries: device slots 1..31 (slot 0 is the host bridge, which has no interrupt pin) x 4 pins. */
#define PRT_FIRST_SLOT	1
#define PRT_NR_SLOTS	31
#define PRT_PINS	4

/*
 * Name (_PRT, Package { Package { Address, Pin, Source, Source Index } ... }) (ACPI 6.5 6.2.13):
 * Address 0xSSSSFFFF = slot SSSS, any function; Pin 0 = INTA .. 3 = INTD (the Interrupt Pin
 * register minus 1); Source Zero: Source Index is the GSI.
 */
static void dsdt__pci_prt(struct aml *a)
{
	size_t prt, ent;

	aml__name(a, "_PRT");
	prt = aml__package_begin(a, PRT_NR_SLOTS * PRT_PINS);
	for (unsigned slot = PRT_FIRST_SLOT; slot < PRT_FIRST_SLOT + PRT_NR_SLOTS; slot++) {
		for (unsigned pin = 0; pin < PRT_PINS; pin++) {
			ent = aml__package_begin(a, 4);
			aml__int(a, (uint64_t)slot << 16 | 0xFFFF);
			aml__int(a, pin);
			aml__int(a, 0);
			aml__int(a, pci_host__intx_gsi(slot, pin + 1));
			aml__end(a, ent);
		}
	}
	aml__end(a, prt);
}

static void dsdt__pci0(struct aml *a, const struct acpi_config *cfg)
{
	size_t dev = aml__device_begin(a, "PCI0");

	aml__name(a, "_HID");
	aml__eisaid(a, "PNP0A08");	/* PCI Express root bridge */
	aml__name(a, "_CID");
	aml__eisaid(a, "PNP0A03");	/* PCI root bridge, for older OSes */
	aml__name(a, "_SEG");
	aml__int(a, 0);
	aml__name(a, "_BBN");
	aml__int(a, 0);
	aml__name(a, "_UID");
	aml__int(a, 0);
	dsdt__pci_crs(a, cfg);
	dsdt__pci_osc(a);
	dsdt__pci_prt(a);
	aml__end(a, dev);
}

static void dsdt__mres(struct aml *a, const struct acpi_config *cfg)
{
	uint64_t ecam_size = ((uint64_t)cfg->ecam_last_bus + 1) << 20;	/* 1 MiB per bus */
	size_t dev = aml__device_begin(a, "MRES");
	size_t rt;

	aml__name(a, "_HID");
	aml__eisaid(a, "PNP0C02");
	aml__name(a, "_CRS");
	rt = aml__rt_begin(a);
	if (cfg->ecam_base + ecam_size <= (1ULL << 32))
		aml__rs_memory32_fixed(a, cfg->ecam_base, ecam_size);
	else
		aml__rs_qword_memory(a, cfg->ecam_base, ecam_size);
	aml__rt_end(a, rt);
	aml__end(a, dev);
}

static void dsdt__com1(struct aml *a, const struct acpi_config *cfg)
{
	size_t dev = aml__device_begin(a, "COM1");
	size_t rt;

	aml__name(a, "_HID");
	aml__eisaid(a, "PNP0501");	/* 16550A-compatible UART */
	aml__name(a, "_UID");
	aml__int(a, 1);
	aml__name(a, "_STA");
	aml__int(a, 0x0F);		/* present, enabled, shown, functioning */
	aml__name(a, "_CRS");
	rt = aml__rt_begin(a);
	aml__rs_io(a, cfg->com1_port, 8);
	aml__rs_irq_noflags(a, cfg->com1_irq);
	aml__rt_end(a, rt);
	aml__end(a, dev);
}

static void dsdt__cpus(struct aml *a, const struct acpi_config *cfg)
{
	for (int i = 0; i < cfg->ncpus; i++) {
		char name[5];
		size_t dev;

		snprintf(name, sizeof(name), "C%03X", i & 0xFFF);	/* ncpus <= ACPI_MAX_CPUS */
		dev = aml__device_begin(a, name);
		aml__name(a, "_HID");
		aml__string(a, "ACPI0007");
		aml__name(a, "_UID");
		aml__int(a, i);
		aml__end(a, dev);
	}
}

/* \_S5: SLP_TYPa, SLP_TYPb, reserved, reserved (7.4.2). Linux writes SLP_TYPa to PM1a_CNT. */
static void dsdt__s5(struct aml *a)
{
	size_t pkg;

	aml__name(a, "_S5_");
	pkg = aml__package_begin(a, 4);
	aml__int(a, ACPI_S5_SLP_TYP);
	aml__int(a, 0);
	aml__int(a, 0);
	aml__int(a, 0);
	aml__end(a, pkg);
}

int64_t acpi__build_dsdt(struct acpi_builder *b, const struct acpi_config *cfg)
{
	struct acpi_table_header *h;
	struct aml a;
	size_t room, sb;
	uint8_t *p;

	/* Encode straight into the free space after the header, then claim what was used. */
	p = acpi__tail(b, 16, &room);
	if (room < sizeof(*h))
		return -ENOSPC;
	aml__init(&a, p + sizeof(*h), room - sizeof(*h));

	sb = aml__scope_begin(&a, "\\_SB");
	dsdt__pci0(&a, cfg);
	dsdt__mres(&a, cfg);
	if (cfg->com1_port)
		dsdt__com1(&a, cfg);
	dsdt__cpus(&a, cfg);
	aml__end(&a, sb);
	dsdt__s5(&a);
	if (a.err)
		return a.err;

	h = acpi__claim(b, sizeof(*h) + a.len, 16);
	if ((uint8_t *)h != p)	/* cannot happen: same alignment, and the AML fitted */
		return -ENOSPC;
	acpi__header(h, "DSDT", 2, sizeof(*h) + a.len);	/* revision 2: 64-bit integers */
	acpi__checksum(h);
	return acpi__gpa(b, h);
}
