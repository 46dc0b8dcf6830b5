/*
 * Tier 1 (Check, in-process, no KVM): VT-d queued invalidation and the passthrough hooks.
 * Wait descriptors (status write, completion interrupt, masking), malformed descriptors (IQE, IQER,
 * IQH left at the bad descriptor, fault event, resuming once software clears IQE), tail and fetch
 * errors, 128-bit queues, the Windows enable-with-tail quirk, and vtd__watch_device() notifications.
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "iommu/vtd-hw.h"
#include "tests/unit/check_main.h"
#include "tests/unit/vtd_testlib.h"

static struct vtd_env env;

static void setup(void)
{
	vtd_env__init(&env, NULL);
	vtd_env__enable(&env);
	vtd_env__qi_enable(&env);
}

static void teardown(void)
{
	vtd_env__exit(&env);
}

START_TEST(wait_status_and_interrupt)
{
	ck_assert(vtd_env__qi_wait(&env));
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_IQH_REG, 8), vtd_env__rd(&env, VTD_IQT_REG, 8));
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_ICS_REG, 4), 0);
	vtd_env__wr(&env, VTD_IEDATA_REG, 0x77, 4);
	vtd_env__wr(&env, VTD_IEADDR_REG, 0xFEE02000, 4);
	vtd_env__wr(&env, VTD_IECTL_REG, 0, 4);
	vtd_env__qi_submit(&env, VTD_DESC_WAIT | VTD_WAIT_IF | VTD_WAIT_FN, 0);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_ICS_REG, 4), VTD_ICS_IWC);
	ck_assert_int_eq(env.nr_msi, 1);
	ck_assert_uint_eq(env.msi_addr[0], 0xFEE02000);
	ck_assert_uint_eq(env.msi_data[0], 0x77);
	/* IWC still set: not a new interrupt condition. */
	vtd_env__qi_submit(&env, VTD_DESC_WAIT | VTD_WAIT_IF, 0);
	ck_assert_int_eq(env.nr_msi, 1);
	vtd_env__wr(&env, VTD_ICS_REG, VTD_ICS_IWC, 4);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_ICS_REG, 4), 0);
	/* Masked: pending until unmasked. */
	vtd_env__wr(&env, VTD_IECTL_REG, VTD_ECTL_IM, 4);
	vtd_env__qi_submit(&env, VTD_DESC_WAIT | VTD_WAIT_IF | VTD_WAIT_SW | 5ULL << 32, env.status);
	ck_assert_uint_eq(*(uint32_t *)guest_mem__hva(&env.mem, env.status, 4), 5);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_IECTL_REG, 4), VTD_ECTL_IM | VTD_ECTL_IP);
	ck_assert_int_eq(env.nr_msi, 1);
	vtd_env__wr(&env, VTD_IECTL_REG, 0, 4);
	ck_assert_int_eq(env.nr_msi, 2);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_IECTL_REG, 4), 0);
	/* Masked, then serviced (IWC cleared) before unmasking: IP clears, nothing is sent. */
	vtd_env__wr(&env, VTD_ICS_REG, VTD_ICS_IWC, 4);
	vtd_env__wr(&env, VTD_IECTL_REG, VTD_ECTL_IM, 4);
	vtd_env__qi_submit(&env, VTD_DESC_WAIT | VTD_WAIT_IF, 0);
	vtd_env__wr(&env, VTD_ICS_REG, VTD_ICS_IWC, 4);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_IECTL_REG, 4), VTD_ECTL_IM);
	vtd_env__wr(&env, VTD_IECTL_REG, 0, 4);
	ck_assert_int_eq(env.nr_msi, 2);
}
END_TEST

static const struct bad_desc {
	const char *what;
	uint64_t q[4];
	unsigned iqei;
} bad[] = {
	{ "type 0", { 0, 0 }, VTD_IQEI_TYPE },
	{ "page group response", { 0x9, 0 }, VTD_IQEI_TYPE },
	{ "type 0x15 (bits 11:9)", { 0x5 | 1 << 9, 0 }, VTD_IQEI_TYPE },
	{ "context G=0", { VTD_DESC_CC, 0 }, VTD_IQEI_RSVD },
	{ "context reserved bit 6", { VTD_DESC_CC | 1 << 4 | 1 << 6, 0 }, VTD_IQEI_RSVD },
	{ "context qw1", { VTD_DESC_CC | 1 << 4, 1 }, VTD_IQEI_RSVD },
	{ "iotlb G=0", { VTD_DESC_IOTLB, 0 }, VTD_IQEI_RSVD },
	{ "iotlb AM 19", { VTD_DESC_IOTLB | 3 << 4, 19 }, VTD_IQEI_RSVD },
	{ "iotlb reserved bit 40", { VTD_DESC_IOTLB | 1 << 4 | 1ULL << 40, 0 }, VTD_IQEI_RSVD },
	{ "p_iotlb G=1", { VTD_DESC_PIOTLB | 1 << 4, 0 }, VTD_IQEI_RSVD },
	{ "p_iotlb AM 19", { VTD_DESC_PIOTLB | 3 << 4, 19 }, VTD_IQEI_RSVD },
	{ "p_iotlb qw1 bit 7", { VTD_DESC_PIOTLB | 3 << 4, 1 << 7 }, VTD_IQEI_RSVD },
	{ "pasid-cache G=2", { VTD_DESC_PC | 2 << 4, 0 }, VTD_IQEI_RSVD },
	{ "pasid-cache qw1", { VTD_DESC_PC | 3 << 4, 4 }, VTD_IQEI_RSVD },
	{ "wait PD", { VTD_DESC_WAIT | 1 << 7, 0 }, VTD_IQEI_RSVD },
	{ "wait address bits 1:0", { VTD_DESC_WAIT | VTD_WAIT_SW, 0x1001 }, VTD_IQEI_RSVD },
	{ "wait status outside RAM", { VTD_DESC_WAIT | VTD_WAIT_SW, 0x7F000000 }, VTD_IQEI_STATUS },
	{ "upper half of a 256-bit slot", { VTD_DESC_IOTLB | 1 << 4, 0, 0, 1 }, VTD_IQEI_RSVD },
	{ "device-TLB reserved", { VTD_DESC_DEVTLB | 1ULL << 25, 0 }, VTD_IQEI_RSVD },
	{ "IEC reserved", { VTD_DESC_IEC | 1ULL << 5, 0 }, VTD_IQEI_RSVD },
};

/* A bad descriptor stops the queue at itself; fixing it and clearing IQE lets the rest run. */
START_TEST(malformed_descriptor)
{
	const struct bad_desc *b = &bad[_i];
	uint32_t *status;
	uint64_t *slot, head;

	vtd_env__wr(&env, VTD_FECTL_REG, 0, 4);
	vtd_env__wr(&env, VTD_FEADDR_REG, 0xFEE03000, 4);
	ck_assert(vtd_env__qi_wait(&env));
	status = guest_mem__hva(&env.mem, env.status, 4);
	head = env.iq_tail * 32;
	slot = vtd_env__q(&env, env.iq + head);
	memcpy(slot, b->q, 32);
	env.iq_tail++;
	*status = 1;
	vtd_env__qi_submit(&env, VTD_DESC_WAIT | VTD_WAIT_SW | 2ULL << 32, env.status);	/* queued behind it */
	ck_assert_msg(vtd_env__rd(&env, VTD_FSTS_REG, 4) == VTD_FSTS_IQE, "%s", b->what);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_IQER_REG, 8) & 0xF, b->iqei);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_IQH_REG, 8), head);
	ck_assert_uint_eq(*status, 1);
	ck_assert_int_eq(env.nr_msi, 1);
	ck_assert_uint_eq(env.msi_addr[0], 0xFEE03000);
	/* More tail writes do nothing while IQE is set. */
	vtd_env__wr(&env, VTD_IQT_REG, env.iq_tail * 32, 8);
	ck_assert_uint_eq(*status, 1);
	/* Linux's recovery: overwrite the bad descriptor with a wait, clear IQE; the queue goes on. */
	memset(slot, 0, 32);
	slot[0] = VTD_DESC_WAIT | VTD_WAIT_FN;
	vtd_env__wr(&env, VTD_FSTS_REG, VTD_FSTS_IQE, 4);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FSTS_REG, 4), 0);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_IQER_REG, 8), 0);
	ck_assert_uint_eq(*status, 2);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_IQH_REG, 8), env.iq_tail * 32);
	ck_assert_int_eq(env.nr_msi, 1);
}
END_TEST

START_TEST(valid_descriptors_accepted)
{
	static const uint64_t ok[][2] = {
		{ VTD_DESC_CC | 1 << 4, 0 }, { VTD_DESC_CC | 3 << 4 | 0x10ULL << 32 | 3ULL << 48, 0 },
		{ VTD_DESC_IOTLB | 1 << 4 | 1 << 6 | 1 << 7, 0 }, { VTD_DESC_IOTLB | 3 << 4 | 5 << 16, 0x1000 | 18 | 1 << 6 },
		{ VTD_DESC_PIOTLB | 2 << 4 | 0xFFFFFULL << 32, 0 }, { VTD_DESC_PIOTLB | 3 << 4, 0x2000 | 1 << 6 },
		{ VTD_DESC_PC | 0 << 4 | 9 << 16, 0 }, { VTD_DESC_PC | 1 << 4 | 7ULL << 32, 0 }, { VTD_DESC_PC | 3 << 4, 0 },
		/* Device-TLB with a PFSID (Linux fills it), PASID-based device-TLB, IEC. */
		{ VTD_DESC_DEVTLB | 0x10ULL << 32 | 0xABCULL << 52 | 0xF << 12, 0x1000 },
		{ VTD_DESC_PDEVTLB | 0x10ULL << 16 | 5ULL << 32 | 0xFFFULL << 52, 0x3000 | 1 << 11 | 1 },
		{ VTD_DESC_IEC | 1 << 4, 0 }, { VTD_DESC_WAIT, 0 },
	};

	for (unsigned i = 0; i < ARRAY_SIZE(ok); i++) {
		vtd_env__qi_submit(&env, ok[i][0], ok[i][1]);
		ck_assert_msg(vtd_env__rd(&env, VTD_FSTS_REG, 4) == 0, "descriptor %u refused", i);
	}
	ck_assert(vtd_env__qi_wait(&env));
}
END_TEST

START_TEST(tail_and_fetch_errors)
{
	/* 256-bit descriptors: IQT bit 4 set is an invalid tail. */
	vtd_env__wr(&env, VTD_IQT_REG, 0x30, 8);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FSTS_REG, 4), VTD_FSTS_IQE);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_IQER_REG, 8), VTD_IQEI_TAIL);
	vtd_env__wr(&env, VTD_IQT_REG, 0, 8);
	vtd_env__wr(&env, VTD_FSTS_REG, VTD_FSTS_IQE, 4);
	/* Beyond a one-page queue. */
	vtd_env__wr(&env, VTD_IQT_REG, 0x1000, 8);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_IQER_REG, 8), VTD_IQEI_TAIL);
	vtd_env__wr(&env, VTD_IQT_REG, 0, 8);
	vtd_env__wr(&env, VTD_FSTS_REG, VTD_FSTS_IQE, 4);
	/* A queue outside RAM: the descriptor cannot be fetched. */
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_TE, 4);
	vtd_env__wr(&env, VTD_IQA_REG, 0x7FFF0000ULL | VTD_IQA_DW, 8);
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_TE | VTD_GCMD_QIE, 4);
	vtd_env__wr(&env, VTD_IQT_REG, 0x20, 8);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FSTS_REG, 4), VTD_FSTS_IQE);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_IQER_REG, 8), VTD_IQEI_FETCH);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_IQH_REG, 8), 0);
}
END_TEST

START_TEST(narrow_descriptors_and_enable_quirk)
{
	uint64_t q = vtd_env__page(&env), st = vtd_env__page(&env), *d = vtd_env__q(&env, q);
	uint32_t *status = guest_mem__hva(&env.mem, st, 4);

	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_TE, 4);	/* QI off */
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_GSTS_REG, 4) & VTD_GSTS_QIES, 0);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_IQH_REG, 8), 0);
	/* 128-bit descriptors (DW=0), and the tail written before QI is enabled (Windows does this). */
	d[0] = VTD_DESC_IOTLB | 1 << 4;
	d[1] = 0;
	d[2] = VTD_DESC_WAIT | VTD_WAIT_SW | 3ULL << 32;
	d[3] = st;
	vtd_env__wr(&env, VTD_IQA_REG, q, 8);
	vtd_env__wr(&env, VTD_IQT_REG, 0x20, 8);
	ck_assert_uint_eq(*status, 0);
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_TE | VTD_GCMD_QIE, 4);
	ck_assert_uint_eq(*status, 3);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_IQH_REG, 8), 0x20);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FSTS_REG, 4), 0);
}
END_TEST

/* ---- passthrough hooks ---- */

#define WSID 0x0020

static struct {
	int nr_bind, nr_inv;
	struct vtd_binding b;
	uint16_t did;
	uint32_t pasid;
	uint64_t addr, npages;
	bool leaf;
} seen;

static int on_binding(void *opaque, const struct vtd_binding *b)
{
	ck_assert_ptr_eq(opaque, &seen);
	seen.nr_bind++;
	seen.b = *b;
	return 0;
}

static void on_iotlb(void *opaque, uint16_t did, uint32_t pasid, uint64_t addr, uint64_t npages, bool leaf)
{
	seen.nr_inv++;
	seen.did = did;
	seen.pasid = pasid;
	seen.addr = addr;
	seen.npages = npages;
	seen.leaf = leaf;
}

static const struct vtd_dev_ops watch_ops = { .binding_changed = on_binding, .iotlb_invalidate = on_iotlb };

START_TEST(watch_device)
{
	uint64_t fs, *pe;

	memset(&seen, 0, sizeof(seen));
	ck_assert_int_eq(vtd__watch_device(env.vtd, WSID, &watch_ops, &seen), 0);
	ck_assert_int_eq(vtd__watch_device(env.vtd, WSID, &watch_ops, &seen), -EEXIST);
	ck_assert_int_eq(seen.nr_bind, 1);
	ck_assert_int_eq(seen.b.kind, VTD_BIND_BLOCKED);	/* translation on, no context entry */

	/* The guest programs a first-stage RID_PASID entry, then flushes the PASID cache (CM=1). */
	fs = vtd_env__fs_domain(&env, WSID, 0, 42);
	pe = vtd_env__pasid_entry(&env, WSID, 0);
	pe[2] |= VTD_PE2_WPE;
	ck_assert_int_eq(seen.nr_bind, 1);
	vtd_env__qi_submit(&env, VTD_DESC_CC | 3 << 4 | (uint64_t)WSID << 32, 0);
	ck_assert_int_eq(seen.nr_bind, 2);
	ck_assert_int_eq(seen.b.kind, VTD_BIND_FIRST_STAGE);
	ck_assert_uint_eq(seen.b.did, 42);
	ck_assert_uint_eq(seen.b.pasid, 0);
	ck_assert_uint_eq(seen.b.fsptptr, fs);
	ck_assert_uint_eq(seen.b.addr_width, 48);
	ck_assert(seen.b.wpe && !seen.b.sre);
	/* An unrelated PASID-cache flush: nothing changed, no call. */
	vtd_env__qi_submit(&env, VTD_DESC_PC | 3 << 4, 0);
	ck_assert_int_eq(seen.nr_bind, 2);

	/* IOTLB invalidations for its DID/PASID are forwarded; others are not. */
	vtd_env__qi_submit(&env, VTD_DESC_PIOTLB | 3 << 4 | 42 << 16, 0x5000 | 2 | 1 << 6);
	ck_assert_int_eq(seen.nr_inv, 1);
	ck_assert_uint_eq(seen.addr, 0x4000);
	ck_assert_uint_eq(seen.npages, 4);
	ck_assert(seen.leaf);
	vtd_env__qi_submit(&env, VTD_DESC_PIOTLB | 2 << 4 | 43 << 16, 0);
	vtd_env__qi_submit(&env, VTD_DESC_PIOTLB | 2 << 4 | 42 << 16 | 1ULL << 32, 0);
	ck_assert_int_eq(seen.nr_inv, 1);
	vtd_env__qi_submit(&env, VTD_DESC_PIOTLB | 2 << 4 | 42 << 16, 0);
	ck_assert_int_eq(seen.nr_inv, 2);
	ck_assert_uint_eq(seen.addr, 0);
	ck_assert_uint_eq(seen.npages, UINT64_MAX);
	vtd_env__qi_submit(&env, VTD_DESC_IOTLB | 2 << 4 | 42 << 16, 0);
	vtd_env__qi_submit(&env, VTD_DESC_IOTLB | 1 << 4, 0);
	ck_assert_int_eq(seen.nr_inv, 4);

	/* Pass-through, then torn down, then translation off. */
	pe[0] = (pe[0] & ~(7ULL << 6)) | (uint64_t)VTD_PGTT_PT << 6;
	vtd_env__qi_submit(&env, VTD_DESC_PC | 1 << 4 | 42 << 16, 0);
	ck_assert_int_eq(seen.b.kind, VTD_BIND_PASSTHROUGH);
	pe[0] = VTD_PE0_FPD;
	vtd_env__qi_submit(&env, VTD_DESC_PC | 1 << 4 | 42 << 16, 0);
	ck_assert_int_eq(seen.b.kind, VTD_BIND_BLOCKED);
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_QIE, 4);
	ck_assert_int_eq(seen.b.kind, VTD_BIND_UNTRANSLATED);
	ck_assert_int_eq(seen.nr_bind, 5);
	vtd__unwatch_device(env.vtd, WSID);
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_QIE | VTD_GCMD_TE, 4);
	ck_assert_int_eq(seen.nr_bind, 5);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FSTS_REG, 4), 0);
}
END_TEST

static Suite *vtd_qi_suite(void)
{
	Suite *s = suite_create("vtd_qi");
	TCase *tc = tcase_create("qi");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, wait_status_and_interrupt);
	tcase_add_loop_test(tc, malformed_descriptor, 0, ARRAY_SIZE(bad));
	tcase_add_test(tc, valid_descriptors_accepted);
	tcase_add_test(tc, tail_and_fetch_errors);
	tcase_add_test(tc, narrow_descriptors_and_enable_quirk);
	tcase_add_test(tc, watch_device);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(vtd_qi_suite)
