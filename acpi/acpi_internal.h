/*
 * Packed layouts of the ACPI tables minivmm generates and the helpers the per-table files share.
 * Section numbers are those of the ACPI 6.5 specification unless marked otherwise; the DMAR layout is
 * from the Intel VT-d specification, chapter 8 (summarised in design/vtd-iommufd.md §7.1).
 *
 * Every multi-byte field is little-endian. The structures are filled with plain stores, which is right
 * because minivmm only runs on x86-64 hosts (checked below).
 */
#ifndef MINIVMM_ACPI_INTERNAL_H
#define MINIVMM_ACPI_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "acpi/acpi.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ACPI tables are built with native stores");

#ifndef __packed
#define __packed __attribute__((packed))
#endif

/* OEM identification written into every table (and the RSDP). */
#define ACPI_OEM_ID		"MINVMM"	/* 6 bytes */
#define ACPI_OEM_TABLE_ID	"MINIVMM "	/* 8 bytes */
#define ACPI_OEM_REVISION	1
#define ACPI_CREATOR_ID		"MVMM"		/* 4 bytes */
#define ACPI_CREATOR_REVISION	1

/* 5.2.5.3 Root System Description Pointer, revision 2 (36 bytes). */
struct acpi_rsdp {
	char signature[8];		/* "RSD PTR " */
	uint8_t checksum;		/* first 20 bytes sum to 0 */
	char oem_id[6];
	uint8_t revision;		/* 2: ACPI 2.0+, XSDT valid */
	uint32_t rsdt_address;
	uint32_t length;		/* of this structure */
	uint64_t xsdt_address;
	uint8_t extended_checksum;	/* all 36 bytes sum to 0 */
	uint8_t reserved[3];
} __packed;
#define ACPI_RSDP_V1_LEN	20

/* 5.2.6 System Description Table Header (36 bytes). */
struct acpi_table_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;		/* whole table sums to 0 */
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __packed;

/* 5.2.3.2 Generic Address Structure (12 bytes). */
struct acpi_gas {
	uint8_t space_id;		/* ACPI_AS_* */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;		/* ACPI_ACCESS_* */
	uint64_t address;
} __packed;
#define ACPI_AS_SYSTEM_MEMORY	0
#define ACPI_AS_SYSTEM_IO	1
#define ACPI_ACCESS_UNDEFINED	0
#define ACPI_ACCESS_BYTE	1
#define ACPI_ACCESS_WORD	2
#define ACPI_ACCESS_DWORD	3

/* 5.2.8 Extended System Description Table: header + 64-bit table pointers. */
struct acpi_xsdt {
	struct acpi_table_header h;
	uint64_t entry[];
} __packed;

/* 5.2.9 Fixed ACPI Description Table, revision 6 (276 bytes). */
struct acpi_fadt {
	struct acpi_table_header h;
	uint32_t firmware_ctrl;		/* FACS */
	uint32_t dsdt;
	uint8_t reserved0;		/* INT_MODEL in ACPI 1.0 */
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat;
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk;
	struct acpi_gas x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk;
	struct acpi_gas x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk;
	struct acpi_gas x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk;
	struct acpi_gas x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} __packed;
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6 is 276 bytes");

/* FADT Flags (Table 5.10). */
#define ACPI_FADT_WBINVD		(1u << 0)
#define ACPI_FADT_PROC_C1		(1u << 2)
#define ACPI_FADT_PWR_BUTTON		(1u << 4)
#define ACPI_FADT_SLP_BUTTON		(1u << 5)
#define ACPI_FADT_TMR_VAL_EXT		(1u << 8)
#define ACPI_FADT_RESET_REG_SUP		(1u << 10)
#define ACPI_FADT_HW_REDUCED_ACPI	(1u << 20)

/* FADT IA-PC Boot Architecture Flags (Table 5.11). */
#define ACPI_IAPC_LEGACY_DEVICES	(1u << 0)
#define ACPI_IAPC_8042			(1u << 1)
#define ACPI_IAPC_VGA_NOT_PRESENT	(1u << 2)
#define ACPI_IAPC_MSI_NOT_SUPPORTED	(1u << 3)
#define ACPI_IAPC_PCIE_ASPM_CONTROLS	(1u << 4)
#define ACPI_IAPC_CMOS_RTC_NOT_PRESENT	(1u << 5)

/* 5.2.10 Firmware ACPI Control Structure (64 bytes, 64-byte aligned, no checksum). */
struct acpi_facs {
	char signature[4];		/* "FACS" */
	uint32_t length;
	uint32_t hardware_signature;
	uint32_t firmware_waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_firmware_waking_vector;
	uint8_t version;
	uint8_t reserved0[3];
	uint32_t ospm_flags;
	uint8_t reserved1[24];
} __packed;
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS is 64 bytes");

/* 5.2.12 Multiple APIC Description Table. */
struct acpi_madt {
	struct acpi_table_header h;
	uint32_t lapic_address;
	uint32_t flags;
} __packed;
#define ACPI_MADT_PCAT_COMPAT		(1u << 0)

struct acpi_madt_sub {
	uint8_t type;
	uint8_t length;
} __packed;

#define ACPI_MADT_TYPE_LAPIC		0
#define ACPI_MADT_TYPE_IOAPIC		1
#define ACPI_MADT_TYPE_INT_SRC_OVR	2
#define ACPI_MADT_TYPE_LAPIC_NMI	4
#define ACPI_MADT_TYPE_X2APIC		9
#define ACPI_MADT_TYPE_X2APIC_NMI	10
/* The first APIC ID a type 0 entry cannot carry (0xFF is the xAPIC broadcast). */
#define ACPI_MADT_FIRST_X2APIC_ID	255

/* 5.2.12.2 Processor Local APIC (8 bytes). */
struct acpi_madt_lapic {
	struct acpi_madt_sub sub;
	uint8_t processor_uid;		/* matches the ACPI0007 device's _UID */
	uint8_t apic_id;
	uint32_t flags;
} __packed;
#define ACPI_MADT_LAPIC_ENABLED		(1u << 0)

/* 5.2.12.3 I/O APIC (12 bytes). */
struct acpi_madt_ioapic {
	struct acpi_madt_sub sub;
	uint8_t ioapic_id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __packed;

/* 5.2.12.5 Interrupt Source Override (10 bytes). */
struct acpi_madt_int_src_ovr {
	struct acpi_madt_sub sub;
	uint8_t bus;			/* 0: ISA */
	uint8_t source;			/* ISA IRQ */
	uint32_t gsi;
	uint16_t flags;			/* MPS INTI flags */
} __packed;

/* 5.2.12.7 Local APIC NMI (6 bytes). */
struct acpi_madt_lapic_nmi {
	struct acpi_madt_sub sub;
	uint8_t processor_uid;		/* 0xFF: all processors */
	uint16_t flags;
	uint8_t lint;
} __packed;

/* 5.2.12.12 Processor Local x2APIC (16 bytes), for APIC IDs from 255 on. */
struct acpi_madt_x2apic {
	struct acpi_madt_sub sub;
	uint16_t reserved;
	uint32_t x2apic_id;
	uint32_t flags;			/* ACPI_MADT_LAPIC_ENABLED */
	uint32_t processor_uid;
} __packed;

/* 5.2.12.13 Local x2APIC NMI (12 bytes). */
struct acpi_madt_x2apic_nmi {
	struct acpi_madt_sub sub;
	uint16_t flags;
	uint32_t processor_uid;		/* 0xFFFFFFFF: all processors */
	uint8_t lint;
	uint8_t reserved[3];
} __packed;

/* MPS INTI flags (Table 5.26). */
#define ACPI_MPS_POLARITY_CONFORMS	0x0
#define ACPI_MPS_POLARITY_HIGH		0x1
#define ACPI_MPS_POLARITY_LOW		0x3
#define ACPI_MPS_TRIGGER_CONFORMS	(0x0 << 2)
#define ACPI_MPS_TRIGGER_EDGE		(0x1 << 2)
#define ACPI_MPS_TRIGGER_LEVEL		(0x3 << 2)

/* PCI Firmware Specification 3.3, 4.1.2: MCFG. */
struct acpi_mcfg {
	struct acpi_table_header h;
	uint8_t reserved[8];
} __packed;

struct acpi_mcfg_alloc {
	uint64_t base;
	uint16_t segment;
	uint8_t start_bus;
	uint8_t end_bus;
	uint32_t reserved;
} __packed;

/* VT-d 8.1 DMA Remapping Reporting Structure (48 bytes). */
struct acpi_dmar {
	struct acpi_table_header h;
	uint8_t haw;			/* host address width - 1 */
	uint8_t flags;
	uint8_t reserved[10];
} __packed;
#define ACPI_DMAR_INTR_REMAP		(1u << 0)
#define ACPI_DMAR_X2APIC_OPT_OUT	(1u << 1)

/* VT-d 8.3 DMA Remapping Hardware Unit Definition (16 bytes + device scopes). */
struct acpi_dmar_drhd {
	uint16_t type;			/* 0 */
	uint16_t length;
	uint8_t flags;			/* bit 0: INCLUDE_PCI_ALL */
	uint8_t size;			/* register set: 2^size 4 KiB pages */
	uint16_t segment;
	uint64_t address;
} __packed;
#define ACPI_DMAR_TYPE_DRHD		0

/* VT-d 8.3.1 Device Scope with one path entry (8 bytes). */
struct acpi_dmar_scope {
	uint8_t type;
	uint8_t length;
	uint16_t reserved;
	uint8_t enumeration_id;
	uint8_t start_bus;
	uint8_t dev;
	uint8_t fn;
} __packed;
#define ACPI_DMAR_SCOPE_PCI_ENDPOINT	1
#define ACPI_DMAR_SCOPE_PCI_BRIDGE	2
#define ACPI_DMAR_SCOPE_IOAPIC		3

/*
 * The tables are placed one after the other in the caller's buffer. Allocation fails (NULL) when the
 * buffer is full; acpi__build turns that into -ENOSPC.
 */
struct acpi_builder {
	uint8_t *buf;
	uint64_t gpa;
	size_t len;
	size_t off;
};

/* @size zeroed bytes at the next @align-aligned offset (align: power of two), or NULL. */
void *acpi__alloc(struct acpi_builder *b, size_t size, size_t align);
/* The same without zeroing: for a table already written in place (acpi__tail). */
void *acpi__claim(struct acpi_builder *b, size_t size, size_t align);
/* Bytes left after aligning the current offset to @align, and where they start. */
uint8_t *acpi__tail(struct acpi_builder *b, size_t align, size_t *room);
uint64_t acpi__gpa(const struct acpi_builder *b, const void *p);
/* Fill a table header (length and checksum are set by acpi__checksum). */
void acpi__header(struct acpi_table_header *h, const char *sig, uint8_t rev, uint32_t len);
/* Byte sum of @len bytes. */
uint8_t acpi__sum(const void *p, size_t len);
/* Set the header checksum of a finished table so that its bytes sum to 0. */
void acpi__checksum(struct acpi_table_header *h);

/*
 * One function per table. Each returns the table's guest physical address (> 0), or 0 when the buffer
 * is full (the DSDT: -ENOSPC, or -EINVAL for a configuration AML cannot express). They run in
 * acpi__build's order: FACS, DSDT, FADT, MADT, MCFG, DMAR, XSDT, and the RSDP at the start of the
 * buffer last.
 */
uint64_t acpi__build_facs(struct acpi_builder *b);
int64_t acpi__build_dsdt(struct acpi_builder *b, const struct acpi_config *cfg);
uint64_t acpi__build_fadt(struct acpi_builder *b, const struct acpi_config *cfg, uint64_t facs, uint64_t dsdt);
uint64_t acpi__build_madt(struct acpi_builder *b, const struct acpi_config *cfg);
uint64_t acpi__build_mcfg(struct acpi_builder *b, const struct acpi_config *cfg);
uint64_t acpi__build_dmar(struct acpi_builder *b, const struct acpi_config *cfg);
uint64_t acpi__build_xsdt(struct acpi_builder *b, const uint64_t *tables, int n);
void acpi__build_rsdp(struct acpi_rsdp *rsdp, uint64_t xsdt);

#endif
