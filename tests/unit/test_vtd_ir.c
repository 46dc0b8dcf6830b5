/*
 * Tier 1 (Check, in-process, no KVM): interrupt remapping (iommu/vtd-ir.c) and the routes the
 * interrupt router rebuilds from it (vmm/irq.c on the fake KVM).
 *
 * Cases: the capability bits; IRTE decoding into the delivered message (xAPIC and x2APIC, every field);
 * every interrupt-remapping fault reason a guest can cause, with its record (index in FI[63:48], the
 * source-id) and FPD; source-id verification (SVT/SQ, bus ranges); compatibility-format interrupts
 * with and without CFI; the interrupt entry cache: a rewritten IRTE stays in use until a global or
 * index-selective IEC invalidation covers it, SIRTP flushes it; 4000 random requests against a
 * reference model written from the spec's field list; and KVM GSI routes that follow the IRTEs.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iommu/vtd-hw.h"
#include "tests/unit/check_main.h"
#include "tests/unit/fake_kvm.h"
#include "tests/unit/vtd_testlib.h"
#include "vmm/irq.h"
#include "vmm/layout.h"
#include "vmm/vm.h"

#define SID		0x0018	/* 00:03.0 */
#define IR_S		7	/* 256 entries: one page */
#define IR_ENTRIES	(2u << IR_S)

static struct vtd_env env;
static uint64_t irt;		/* the interrupt remapping table */
static int nr_changed;

static void changed(void *opaque)
{
	nr_changed++;
}

static void setup(void)
{
	struct vtd_options opt = { .fs1gp = true, .ir = true };

	vtd_env__init(&env, &opt);
	irt = vtd_env__page(&env);
	nr_changed = 0;
	vtd__set_ir_notify(env.vtd, changed, NULL);
}

static void teardown(void)
{
	vtd_env__exit(&env);
}

/* A GCMD command on top of the persistent bits that are on (§1.2: software writes GSTS | command). */
static void gcmd(uint32_t bit, bool on)
{
	uint32_t keep = (uint32_t)vtd_env__rd(&env, VTD_GSTS_REG, 4) &
			(VTD_GCMD_TE | VTD_GCMD_QIE | VTD_GCMD_IRE | VTD_GCMD_CFI);

	vtd_env__wr(&env, VTD_GCMD_REG, on ? keep | bit : keep & ~bit, 4);
}

/* IRTA = table | EIME? | S, SIRTP, IRE. */
static void ir_enable(bool eime)
{
	vtd_env__wr(&env, VTD_IRTA_REG, irt | (eime ? VTD_IRTA_EIME : 0) | IR_S, 8);
	gcmd(VTD_GCMD_SIRTP, true);
	ck_assert(vtd_env__rd(&env, VTD_GSTS_REG, 4) & VTD_GSTS_IRTPS);
	gcmd(VTD_GCMD_IRE, true);
	ck_assert(vtd_env__rd(&env, VTD_GSTS_REG, 4) & VTD_GSTS_IRES);
}

static void irte(uint32_t index, uint64_t lo, uint64_t hi)
{
	vtd_env__q(&env, irt + 16 * index)[0] = lo;
	vtd_env__q(&env, irt + 16 * index)[1] = hi;
}

/* A remapped IRTE: present, @vector, fixed, physical, edge, x2APIC destination @dst (or xAPIC << 8). */
static uint64_t irte_lo(uint8_t vector, uint32_t dst)
{
	return VTD_IRTE_P | (uint64_t)vector << 16 | (uint64_t)dst << 32;
}

/* The remappable-format MSI address of handle @h (SHV clear). */
static uint64_t handle_addr(uint32_t h)
{
	return 0xFEE00000ULL | (h & 0x7FFF) << 5 | VTD_IR_ADDR_FMT | ((h >> 15) & 1) << 2;
}

/* Remap from @sid; returns 0 or the fault reason recorded (-1: blocked but no single record). */
static int remap(uint16_t sid, uint64_t *addr, uint32_t *data)
{
	if (!vtd__remap_msi(env.vtd, sid, addr, data, true))
		return 0;
	return vtd_env__take_fault(&env);
}

static void iec_inv(bool global, uint32_t index, unsigned im)
{
	vtd_env__qi_submit(&env, VTD_DESC_IEC | (global ? 0 : VTD_DESC_IEC_G_INDEX) | (uint64_t)im << 27 |
			   (uint64_t)index << 32, 0);
	ck_assert(vtd_env__qi_wait(&env));
}

START_TEST(caps)
{
	uint64_t ecap = vtd_env__rd(&env, VTD_ECAP_REG, 8);
	struct vtd_env off;

	ck_assert(ecap & VTD_ECAP_IR);
	ck_assert(ecap & VTD_ECAP_EIM);
	ck_assert_uint_eq((ecap >> 20) & 0xF, VTD_IR_MHMV);
	ck_assert(vtd_env__rd(&env, VTD_CAP_REG, 8) & VTD_CAP_ESIRTPS);
	/* ir = false: no IR bits, and GCMD.IRE does nothing. */
	vtd_env__init(&off, NULL);
	ck_assert(!(vtd_env__rd(&off, VTD_ECAP_REG, 8) & (VTD_ECAP_IR | VTD_ECAP_EIM)));
	vtd_env__wr(&off, VTD_GCMD_REG, VTD_GCMD_IRE, 4);
	ck_assert(!(vtd_env__rd(&off, VTD_GSTS_REG, 4) & VTD_GSTS_IRES));
	vtd_env__exit(&off);
}
END_TEST

START_TEST(messages)
{
	uint64_t addr;
	uint32_t data;

	/* Off: everything passes untouched, remappable format included. */
	addr = handle_addr(3);
	data = 0x1234;
	ck_assert_int_eq(remap(SID, &addr, &data), 0);
	ck_assert_uint_eq(addr, handle_addr(3));
	ck_assert_uint_eq(data, 0x1234);

	ir_enable(true);
	/* x2APIC: a 32-bit destination, bits 31:8 in address bits 63:40. */
	irte(3, irte_lo(0x41, 0x12345), 0);
	addr = handle_addr(3);
	ck_assert_int_eq(remap(SID, &addr, &data), 0);
	ck_assert_uint_eq(addr, 0xFEE00000ULL | 0x45 << 12 | 0x123ULL << 40);
	ck_assert_uint_eq(data, 0x41 | 1u << 14);
	/* Every field: logical, redirection hint, level, lowest priority; address bits 1:0 kept. */
	irte(4, irte_lo(0x80, 7) | VTD_IRTE_DM | VTD_IRTE_RH | VTD_IRTE_TM | 1 << 5, 0);
	addr = handle_addr(4) | 3;
	ck_assert_int_eq(remap(SID, &addr, &data), 0);
	ck_assert_uint_eq(addr, 0xFEE00000ULL | 7 << 12 | 1 << 3 | 1 << 2 | 3);
	ck_assert_uint_eq(data, 0x80 | 1 << 8 | 1u << 14 | 1u << 15);
	/* Handle bit 15 sits in address bit 2; SHV adds the subhandle. */
	addr = handle_addr(1) | VTD_IR_ADDR_SHV;
	data = 3;
	ck_assert_int_eq(remap(SID, &addr, &data), 0);
	ck_assert_uint_eq(data, 0x80 | 1 << 8 | 1u << 14 | 1u << 15);
	ck_assert_uint_eq(VTD_IR_HANDLE(handle_addr(0x8001)), 0x8001);
}
END_TEST

START_TEST(xapic_destinations)
{
	uint64_t addr = handle_addr(5);
	uint32_t data = 0;

	ir_enable(false);
	irte(5, irte_lo(0x30, 0x0900), 0);		/* xAPIC: APIC ID in bits 47:40 */
	ck_assert_int_eq(remap(SID, &addr, &data), 0);
	ck_assert_uint_eq(addr, 0xFEE00000ULL | 9 << 12);
	/* In xAPIC mode bits 39:32 and 63:48 are reserved. */
	irte(7, irte_lo(0x30, 0x10900), 0);
	addr = handle_addr(7);
	ck_assert_int_eq(remap(SID, &addr, &data), VTD_FR_IR_IRTE_RSVD);
	irte(6, irte_lo(0x30, 0x0901), 0);
	addr = handle_addr(6);
	ck_assert_int_eq(remap(SID, &addr, &data), VTD_FR_IR_IRTE_RSVD);
}
END_TEST

START_TEST(faults)
{
	static const struct { uint64_t lo, hi; } rsvd[] = {
		{ VTD_IRTE_P | 1ULL << 12, 0 },			/* 14:12 */
		{ VTD_IRTE_P | VTD_IRTE_IM, 0 },		/* posted: no CAP.PI */
		{ VTD_IRTE_P | 1ULL << 24, 0 },			/* 31:24 */
		{ VTD_IRTE_P | 3ULL << 5, 0 },			/* delivery mode 011b */
		{ VTD_IRTE_P | 6ULL << 5, 0 },			/* delivery mode 110b */
		{ VTD_IRTE_P, 1ULL << 20 },			/* 127:84 */
		{ VTD_IRTE_P, 3ULL << 18 },			/* SVT 11b */
	};
	uint64_t addr, lo, hi;
	uint32_t data = 0;

	ir_enable(true);
	/* Index beyond 2^(S+1): the record's FI[63:48] is the index, its SID the requester. */
	addr = handle_addr(IR_ENTRIES);
	ck_assert_int_eq(vtd__remap_msi(env.vtd, SID, &addr, &data, true), -EFAULT);
	ck_assert(vtd_env__pending_fault(&env, &lo, &hi));
	ck_assert_uint_eq(lo, (uint64_t)IR_ENTRIES << 48);
	ck_assert_uint_eq((uint16_t)hi, SID);
	ck_assert_uint_eq((hi >> VTD_FRCD_FR_SHIFT) & 0xFF, VTD_FR_IR_INDEX);
	vtd_env__take_fault(&env);
	/* Not present. */
	addr = handle_addr(9);
	ck_assert_int_eq(remap(SID, &addr, &data), VTD_FR_IR_ENTRY_P);
	/* Each reserved field. */
	for (unsigned i = 0; i < sizeof(rsvd) / sizeof(rsvd[0]); i++) {
		irte(10 + i, rsvd[i].lo, rsvd[i].hi);
		addr = handle_addr(10 + i);
		ck_assert_msg(remap(SID, &addr, &data) == VTD_FR_IR_IRTE_RSVD, "case %u", i);
	}
	/* SHV with data bits 31:16 set. */
	irte(1, irte_lo(0x40, 0), 0);
	addr = handle_addr(1) | VTD_IR_ADDR_SHV;
	data = 0x10000;
	ck_assert_int_eq(remap(SID, &addr, &data), VTD_FR_IR_REQ_RSVD);
	/* Compatibility format: blocked until CFI, then untouched. */
	addr = 0xFEE01000;
	data = 0x31;
	ck_assert_int_eq(remap(SID, &addr, &data), VTD_FR_IR_COMPAT);
	gcmd(VTD_GCMD_CFI, true);
	ck_assert(vtd_env__rd(&env, VTD_GSTS_REG, 4) & VTD_GSTS_CFIS);
	ck_assert_int_eq(remap(SID, &addr, &data), 0);
	ck_assert_uint_eq(addr, 0xFEE01000);
	ck_assert_uint_eq(data, 0x31);
	/* A table outside RAM. */
	vtd_env__wr(&env, VTD_IRTA_REG, (1ULL << 40) | IR_S, 8);
	gcmd(VTD_GCMD_SIRTP, true);
	addr = handle_addr(1);
	ck_assert_int_eq(remap(SID, &addr, &data), VTD_FR_IR_ROOT);
}
END_TEST

START_TEST(fault_processing_disable)
{
	uint64_t addr;
	uint32_t data = 0;

	ir_enable(true);
	/* FPD suppresses the record of faults found in a present entry: reserved bits, SID. */
	irte(1, VTD_IRTE_P | VTD_IRTE_FPD | 1ULL << 12, 0);
	irte(2, irte_lo(0x40, 0) | VTD_IRTE_FPD, (SID + 1) | (uint64_t)VTD_SVT_SID << 18);
	irte(3, VTD_IRTE_FPD, 0);	/* not present: its FPD means nothing */
	addr = handle_addr(1);
	ck_assert_int_eq(vtd__remap_msi(env.vtd, SID, &addr, &data, true), -EFAULT);
	addr = handle_addr(2);
	ck_assert_int_eq(vtd__remap_msi(env.vtd, SID, &addr, &data, true), -EFAULT);
	ck_assert_int_eq(vtd_env__take_fault(&env), -1);	/* nothing recorded */
	addr = handle_addr(3);
	ck_assert_int_eq(remap(SID, &addr, &data), VTD_FR_IR_ENTRY_P);
	/* record = false (route rebuilding) blocks without a record. */
	addr = handle_addr(4);
	ck_assert_int_eq(vtd__remap_msi(env.vtd, SID, &addr, &data, false), -EFAULT);
	ck_assert_int_eq(vtd_env__take_fault(&env), -1);
}
END_TEST

START_TEST(source_id)
{
	uint64_t addr;
	uint32_t data = 0;

	ir_enable(true);
	/* SVT 01b: full requester ID, SQ masking function bits. */
	irte(1, irte_lo(0x40, 0), SID | (uint64_t)VTD_SVT_SID << 18);
	addr = handle_addr(1);
	ck_assert_int_eq(remap(SID, &addr, &data), 0);
	addr = handle_addr(1);
	ck_assert_int_eq(remap(SID | 1, &addr, &data), VTD_FR_IR_SID);
	irte(2, irte_lo(0x40, 0), SID | 3ULL << 16 | (uint64_t)VTD_SVT_SID << 18);	/* SQ 11b: fn ignored */
	addr = handle_addr(2);
	ck_assert_int_eq(remap(SID | 7, &addr, &data), 0);
	addr = handle_addr(2);
	ck_assert_int_eq(remap(SID + 8, &addr, &data), VTD_FR_IR_SID);
	irte(3, irte_lo(0x40, 0), SID | 1ULL << 16 | (uint64_t)VTD_SVT_SID << 18);	/* SQ 01b: bit 2 */
	addr = handle_addr(3);
	ck_assert_int_eq(remap(SID | 4, &addr, &data), 0);
	addr = handle_addr(3);
	ck_assert_int_eq(remap(SID | 1, &addr, &data), VTD_FR_IR_SID);
	/* SVT 10b: the requester's bus within SID[15:8] .. SID[7:0]. */
	irte(4, irte_lo(0x40, 0), 0x0203 | (uint64_t)VTD_SVT_BUS << 18);
	addr = handle_addr(4);
	ck_assert_int_eq(remap(0x0300, &addr, &data), 0);
	addr = handle_addr(4);
	ck_assert_int_eq(remap(0x0100, &addr, &data), VTD_FR_IR_SID);
	addr = handle_addr(4);
	ck_assert_int_eq(remap(0x0400, &addr, &data), VTD_FR_IR_SID);
	/* The IOAPIC's source-id as any other. */
	irte(5, irte_lo(0x40, 0), 0xFF00 | (uint64_t)VTD_SVT_SID << 18);
	addr = handle_addr(5);
	ck_assert_int_eq(remap(SID, &addr, &data), VTD_FR_IR_SID);
}
END_TEST

START_TEST(entry_cache)
{
	uint64_t addr;
	uint32_t data = 0;

	vtd_env__qi_enable(&env);
	ir_enable(true);
	irte(20, irte_lo(0x40, 1), 0);
	addr = handle_addr(20);
	ck_assert_int_eq(remap(SID, &addr, &data), 0);
	/* Rewritten without invalidation: the cached entry stays in use. */
	irte(20, irte_lo(0x50, 2), 0);
	addr = handle_addr(20);
	ck_assert_int_eq(remap(SID, &addr, &data), 0);
	ck_assert_uint_eq(data & 0xFF, 0x40);
	/* An index-selective invalidation of another range does not drop it... */
	nr_changed = 0;
	iec_inv(false, 32, 4);			/* 32..47 */
	ck_assert_int_eq(nr_changed, 1);	/* route keepers are told */
	addr = handle_addr(20);
	remap(SID, &addr, &data);
	ck_assert_uint_eq(data & 0xFF, 0x40);
	/* ...one whose mask covers it does (16..31, given as 17 with IM 4). */
	iec_inv(false, 17, 4);
	addr = handle_addr(20);
	remap(SID, &addr, &data);
	ck_assert_uint_eq(data & 0xFF, 0x50);
	ck_assert_uint_eq(addr, 0xFEE00000ULL | 2 << 12);
	/* Global invalidation; and a removed entry faults after it, not before. */
	irte(20, 0, 0);
	addr = handle_addr(20);
	ck_assert_int_eq(remap(SID, &addr, &data), 0);
	iec_inv(true, 0, 0);
	addr = handle_addr(20);
	ck_assert_int_eq(remap(SID, &addr, &data), VTD_FR_IR_ENTRY_P);
	/* SIRTP flushes it too (CAP.ESIRTPS). */
	irte(20, irte_lo(0x60, 3), 0);
	addr = handle_addr(20);
	remap(SID, &addr, &data);
	irte(20, irte_lo(0x61, 3), 0);
	gcmd(VTD_GCMD_SIRTP, true);
	addr = handle_addr(20);
	remap(SID, &addr, &data);
	ck_assert_uint_eq(data & 0xFF, 0x61);
	/* An IEC descriptor with IM above MHMV is malformed. */
	vtd_env__qi_submit(&env, VTD_DESC_IEC | VTD_DESC_IEC_G_INDEX | 16ULL << 27, 0);
	ck_assert(vtd_env__rd(&env, VTD_FSTS_REG, 4) & VTD_FSTS_IQE);
}
END_TEST

/* The reference: the spec's decoding (§5.1.4, §9.10) written as plainly as possible. */
static int ref_remap(bool eime, bool cfi, const uint64_t *table, uint16_t sid, uint64_t *addr, uint32_t *data,
		     bool *fpd)
{
	uint64_t a = *addr, lo, hi;
	uint32_t idx, dst;
	unsigned svt, sq;

	if (!((a >> 4) & 1))
		return cfi ? 0 : 0x25;
	idx = ((a >> 5) & 0x7FFF) + (((a >> 2) & 1) << 15);
	if ((a >> 3) & 1) {
		if (*data >> 16)
			return 0x20;
		idx += *data & 0xFFFF;
	}
	if (idx >= IR_ENTRIES)
		return 0x21;
	lo = table[2 * idx];
	hi = table[2 * idx + 1];
	if (!(lo & 1))
		return 0x22;
	*fpd = (lo >> 1) & 1;
	if (((lo >> 12) & 0xF) || ((lo >> 24) & 0xFF) || (hi >> 20) || ((lo >> 5) & 7) == 3 || ((lo >> 5) & 7) == 6 ||
	    ((hi >> 18) & 3) == 3 || (!eime && (((lo >> 32) & 0xFF) || (lo >> 48))))
		return 0x24;
	svt = (hi >> 18) & 3;
	sq = (hi >> 16) & 3;
	if (svt == 1) {
		uint16_t ignore = sq == 0 ? 0 : sq == 1 ? 4 : sq == 2 ? 6 : 7;

		if ((sid & ~ignore) != ((uint16_t)hi & ~ignore))
			return 0x26;
	} else if (svt == 2 && ((sid >> 8) < ((hi >> 8) & 0xFF) || (sid >> 8) > (hi & 0xFF))) {
		return 0x26;
	}
	dst = eime ? (uint32_t)(lo >> 32) : (uint32_t)(lo >> 40) & 0xFF;
	*addr = 0xFEE00000ULL | (dst & 0xFF) << 12 | (uint64_t)(dst >> 8) << 40 | ((lo >> 3) & 1) << 3 |
		((lo >> 2) & 1) << 2 | (a & 3);
	*data = (uint8_t)(lo >> 16) | ((lo >> 5) & 7) << 8 | 1u << 14 | ((lo >> 4) & 1) << 15;
	return 0;
}

static uint64_t rnd64(void)
{
	return (uint64_t)random() << 33 ^ (uint64_t)random() << 11 ^ (uint64_t)random();
}

/* Sparse random bits: mostly valid entries, with a rare stray bit anywhere. */
static uint64_t sparse(uint64_t base)
{
	return random() % 4 ? base : base ^ 1ULL << (random() % 64);
}

START_TEST(random_vs_reference)
{
	uint64_t *table = vtd_env__q(&env, irt);
	bool eime = _i & 1;

	srandom(1234 + _i);
	vtd_env__qi_enable(&env);
	ir_enable(eime);
	gcmd(VTD_GCMD_CFI, random() % 2);
	for (unsigned i = 0; i < 2000; i++) {
		unsigned idx = random() % IR_ENTRIES;
		uint16_t sid = random() % 3 ? SID : (uint16_t)random();
		uint64_t lo = irte_lo(random(), eime ? (uint32_t)random() : (random() % 256) << 8) |
			      (random() % 2 ? VTD_IRTE_TM : 0) | (random() % 2 ? VTD_IRTE_DM : 0) |
			      (uint64_t)(random() % 8) << 5 | (random() % 2 ? VTD_IRTE_RH : 0);
		uint64_t hi = (uint64_t)(random() % 3) << 18 | (uint64_t)(random() % 4) << 16 |
			      (random() % 2 ? SID : (uint16_t)random());
		uint64_t addr, raddr;
		uint32_t data, rdata;
		bool fpd = false;
		int want, got;

		irte(idx, sparse(random() % 8 ? lo : rnd64()), sparse(hi));
		/* A fresh entry each time: the IEC may not keep an old copy of this index. */
		iec_inv(true, 0, 0);
		addr = random() % 8 ? handle_addr(random() % 8 ? idx : (uint32_t)random()) : 0xFEE00000 | (random() & 0xFFFFF);
		if (random() % 4 == 0)
			addr |= VTD_IR_ADDR_SHV;
		data = random() % 4 ? random() % 2 : (uint32_t)random();
		raddr = addr;
		rdata = data;
		want = ref_remap(eime, vtd_env__rd(&env, VTD_GSTS_REG, 4) & VTD_GSTS_CFIS, table, sid, &raddr, &rdata,
				 &fpd);
		/* FPD suppresses the records of reserved-field and source-id faults. */
		if (fpd && (want == 0x24 || want == 0x26))
			want = -1;
		got = remap(sid, &addr, &data);
		ck_assert_msg(got == want, "case %u: got %#x, want %#x", i, got, want);
		if (!want) {
			ck_assert_uint_eq(addr, raddr);
			ck_assert_uint_eq(data, rdata);
		}
	}
}
END_TEST

/* KVM routes on the fake host follow the IRTEs: remapped on creation, again on IEC invalidation only. */
static int remap_fn(void *opaque, uint16_t sid, uint64_t *addr, uint32_t *data, bool record)
{
	return vtd__remap_msi(opaque, sid, addr, data, record);
}

static void rebuild(void *opaque)
{
	irq__remap_changed(opaque);
}

static const struct kvm_irq_routing_entry *route_of(unsigned gsi)
{
	for (unsigned i = 0; i < fake_kvm.nr_routes; i++)
		if (fake_kvm.routes[i].gsi == gsi)
			return &fake_kvm.routes[i];
	return NULL;
}

START_TEST(routes_follow_irtes)
{
	struct vm *vm = fake_vm__new(16 << 20);
	const struct kvm_irq_routing_entry *r;
	int gsi;

	vtd_env__qi_enable(&env);
	ir_enable(true);
	vtd__set_ir_notify(env.vtd, rebuild, vm);
	irq__set_remapper(vm, remap_fn, env.vtd);
	irte(7, irte_lo(0x44, 0x301), SID | (uint64_t)VTD_SVT_SID << 18);
	gsi = irq__add_msi_route(vm, SID, handle_addr(7), 0);
	ck_assert_int_ge(gsi, IOAPIC_PINS);
	r = route_of(gsi);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->u.msi.address_lo, 0xFEE01000);
	ck_assert_uint_eq(r->u.msi.address_hi, 3 << 8);
	ck_assert_uint_eq(r->u.msi.data, 0x44 | 1u << 14);
	ck_assert(!irq__route_blocked(vm, gsi));
	/* The guest rewrites the IRTE: the route keeps the old message until the IEC invalidation. */
	irte(7, irte_lo(0x45, 0x2), SID | (uint64_t)VTD_SVT_SID << 18);
	ck_assert_uint_eq(route_of(gsi)->u.msi.data, 0x44 | 1u << 14);
	iec_inv(false, 7, 0);
	ck_assert_uint_eq(route_of(gsi)->u.msi.data, 0x45 | 1u << 14);
	ck_assert_uint_eq(route_of(gsi)->u.msi.address_lo, 0xFEE02000);
	/* An entry naming another SID: no KVM route at all (an irqfd on it delivers nothing). */
	irte(7, irte_lo(0x45, 0x2), (SID + 8) | (uint64_t)VTD_SVT_SID << 18);
	iec_inv(true, 0, 0);
	ck_assert_ptr_null(route_of(gsi));
	ck_assert(irq__route_blocked(vm, gsi));
	ck_assert_int_eq(vtd_env__take_fault(&env), -1);	/* rebuilding records nothing */
	/* ...while a direct send records the fault. */
	ck_assert_int_eq(irq__send_msi_from(vm, SID, handle_addr(7), 0), -EFAULT);
	ck_assert_int_eq(vtd_env__take_fault(&env), VTD_FR_IR_SID);
	/* IRE off: messages as programmed. */
	gcmd(VTD_GCMD_IRE, false);
	ck_assert_uint_eq(route_of(gsi)->u.msi.address_lo, (uint32_t)handle_addr(7));
	irq__set_remapper(vm, NULL, NULL);
	vtd__set_ir_notify(env.vtd, NULL, NULL);
	fake_vm__free(vm);
}
END_TEST

static Suite *vtd_ir_suite(void)
{
	Suite *s = suite_create("vtd_ir");
	TCase *tc = tcase_create("remapping");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, caps);
	tcase_add_test(tc, messages);
	tcase_add_test(tc, xapic_destinations);
	tcase_add_test(tc, faults);
	tcase_add_test(tc, fault_processing_disable);
	tcase_add_test(tc, source_id);
	tcase_add_test(tc, entry_cache);
	tcase_add_loop_test(tc, random_vs_reference, 0, 2);
	tcase_add_test(tc, routes_follow_irtes);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(vtd_ir_suite)
