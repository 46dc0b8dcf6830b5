/*
 * Tier 1 (Check, in-process, no KVM): the VT-d register page.
 * Reset values, CAP/ECAP for each option, write masks (read-only bits stay, RW1C bits clear), GCMD
 * with GSTS following within the same write, register-based invalidation, access sizes, the
 * legacy-mode log line, and translation off = untranslated DMA.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "iommu/vtd-hw.h"
#include "tests/unit/check_main.h"
#include "tests/unit/vtd_testlib.h"

static struct vtd_env env;

static void setup(void)
{
	vtd_env__init(&env, NULL);
}

static void teardown(void)
{
	vtd_env__exit(&env);
}

static uint64_t field(uint64_t v, unsigned lo, unsigned width)
{
	return (v >> lo) & ((1ULL << width) - 1);
}

START_TEST(cap_ecap)
{
	uint64_t cap = vtd_env__rd(&env, VTD_CAP_REG, 8), ecap = vtd_env__rd(&env, VTD_ECAP_REG, 8);
	struct vtd_options no1g = { .fs1gp = false };
	struct vtd_env e;

	ck_assert_uint_eq(vtd_env__rd(&env, VTD_VER_REG, 4), 0x30);
	ck_assert_uint_eq(field(cap, 0, 3), 6);		/* ND: 16-bit domain ids */
	ck_assert_uint_eq(field(cap, 7, 1), 1);		/* CM */
	ck_assert_uint_eq(field(cap, 8, 5), 0x6);	/* SAGAW: 39 and 48 bits */
	ck_assert_uint_eq(field(cap, 16, 6), 47);	/* MGAW 48 */
	ck_assert_uint_eq(field(cap, 24, 10), 0x22);	/* FRO */
	ck_assert_uint_eq(field(cap, 39, 1), 1);	/* PSI */
	ck_assert_uint_eq(field(cap, 40, 8), 7);	/* NFR: 8 records */
	ck_assert_uint_eq(field(cap, 48, 6), 18);	/* MAMV */
	ck_assert_uint_eq(field(cap, 54, 2), 3);	/* DWD, DRD */
	ck_assert_uint_eq(field(cap, 56, 1), 1);	/* FS1GP: default on */
	ck_assert_uint_eq(field(cap, 60, 1), 0);	/* FS5LP off */
	ck_assert_uint_eq(field(cap, 63, 1), 1);	/* ESRTPS */
	ck_assert_uint_eq(field(cap, 34, 4), 3);	/* SLLPS: second-stage 2 MiB and 1 GiB pages */
	ck_assert_uint_eq(field(cap, 3, 2), 0);		/* no AFL, no RWBF */
	ck_assert_uint_eq(field(ecap, 1, 1), 1);	/* QI */
	ck_assert_uint_eq(field(ecap, 2, 2), 0);	/* no DT, no IR */
	ck_assert_uint_eq(field(ecap, 6, 1), 1);	/* PT */
	ck_assert_uint_eq(field(ecap, 8, 10), 0xF);	/* IRO */
	ck_assert_uint_eq(field(ecap, 26, 1), 0);	/* no NEST */
	ck_assert_uint_eq(field(ecap, 31, 1), 1);	/* SRS */
	ck_assert_uint_eq(field(ecap, 35, 5), 19);	/* PSS: 20-bit PASIDs */
	ck_assert_uint_eq(field(ecap, 40, 1), 1);	/* PASID */
	ck_assert_uint_eq(field(ecap, 43, 1), 1);	/* SMTS */
	ck_assert_uint_eq(field(ecap, 46, 1), 0);	/* no SSTS */
	ck_assert_uint_eq(field(ecap, 47, 1), 1);	/* FSTS */
	/* fs1gp=off changes exactly FS1GP. */
	vtd_env__init(&e, &no1g);
	ck_assert_uint_eq(vtd_env__rd(&e, VTD_CAP_REG, 8), cap & ~VTD_CAP_FS1GP);
	ck_assert_uint_eq(vtd_env__rd(&e, VTD_ECAP_REG, 8), ecap);
	vtd_env__exit(&e);
}
END_TEST

START_TEST(reset_values)
{
	for (unsigned off = 0; off < VTD_REG_SIZE; off += 4) {
		uint32_t v = vtd_env__rd(&env, off, 4);

		if (off >= VTD_CAP_REG && off < VTD_GCMD_REG)
			continue;
		if (off == VTD_VER_REG)
			ck_assert_uint_eq(v, 0x30);
		else if (off == VTD_FECTL_REG || off == VTD_IECTL_REG)
			ck_assert_uint_eq(v, VTD_ECTL_IM);
		else
			ck_assert_msg(v == 0, "register %#x resets to %#x", off, v);
	}
}
END_TEST

/* Write all-ones, then zeros, to plain registers: only the writable bits follow. */
START_TEST(write_masks)
{
	static const struct { unsigned off, len; uint64_t rw; } regs[] = {
		{ VTD_VER_REG, 4, 0 }, { VTD_CAP_REG, 8, 0 }, { VTD_ECAP_REG, 8, 0 }, { VTD_GSTS_REG, 4, 0 },
		{ VTD_RTADDR_REG, 8, GENMASK(47, 10) }, { VTD_FEDATA_REG, 4, 0xFFFF },
		{ VTD_FEADDR_REG, 4, 0xFFFFFFFC }, { VTD_FEUADDR_REG, 4, 0xFFFFFFFF }, { VTD_AFLOG_REG, 8, 0 },
		{ VTD_PMEN_REG, 4, 0 }, { VTD_IQH_REG, 8, 0 }, { VTD_IQA_REG, 8, GENMASK(47, 11) | 7 },
		{ VTD_IEDATA_REG, 4, 0xFFFF }, { VTD_IEADDR_REG, 4, 0xFFFFFFFC }, { VTD_IEUADDR_REG, 4, 0xFFFFFFFF },
		{ VTD_IQER_REG, 8, 0 }, { VTD_IRTA_REG, 8, 0 }, { VTD_IVA_REG, 8, GENMASK(47, 12) | 0x7F },
		{ 0x100, 8, 0 }, { 0xE00, 8, 0 },
	};

	for (unsigned i = 0; i < ARRAY_SIZE(regs); i++) {
		uint64_t before = vtd_env__rd(&env, regs[i].off, regs[i].len), mask = regs[i].rw;
		uint64_t ones = regs[i].len == 8 ? ~0ULL : 0xFFFFFFFF;

		vtd_env__wr(&env, regs[i].off, ~0ULL, regs[i].len);
		ck_assert_msg(vtd_env__rd(&env, regs[i].off, regs[i].len) == ((before & ~mask) | (ones & mask)),
			      "register %#x", regs[i].off);
		vtd_env__wr(&env, regs[i].off, 0, regs[i].len);
		ck_assert_msg(vtd_env__rd(&env, regs[i].off, regs[i].len) == (before & ~mask), "register %#x",
			      regs[i].off);
	}
	/* Status bits only hardware sets: writing ones to FSTS/ICS/FECTL.IP/fault records sets nothing. */
	vtd_env__wr(&env, VTD_FSTS_REG, ~0u, 4);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FSTS_REG, 4), 0);
	vtd_env__wr(&env, VTD_ICS_REG, ~0u, 4);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_ICS_REG, 4), 0);
	vtd_env__wr(&env, VTD_FECTL_REG, ~0u, 4);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FECTL_REG, 4), VTD_ECTL_IM);
	vtd_env__wr(&env, VTD_IECTL_REG, ~0u, 4);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_IECTL_REG, 4), VTD_ECTL_IM);
	vtd_env__wr(&env, VTD_FRCD_REG, ~0ULL, 8);
	vtd_env__wr(&env, VTD_FRCD_REG + 8, ~0ULL, 8);
	ck_assert_uint_eq(vtd_env__frcd(&env, 0, false) | vtd_env__frcd(&env, 0, true), 0);
	/* 64-bit registers also take two 32-bit halves. */
	vtd_env__wr(&env, VTD_RTADDR_REG, 0x12345000 | 1 << 10, 4);
	vtd_env__wr(&env, VTD_RTADDR_REG + 4, 0xAB, 4);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_RTADDR_REG, 8), 0xAB12345400ULL);
}
END_TEST

START_TEST(rw1c_status)
{
	/* PFO through an overflow: 9 faults from source-ids without root entries. */
	vtd_env__enable(&env);
	for (unsigned bus = 1; bus <= VTD_NR_FRCD + 1; bus++)
		ck_assert_int_eq(vtd_env__xlate(&env, bus << 8, NULL, 0, DMA_READ, NULL), -EFAULT);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FSTS_REG, 4), VTD_FSTS_PFO | VTD_FSTS_PPF);
	vtd_env__wr(&env, VTD_FSTS_REG, VTD_FSTS_PPF, 4);	/* PPF is read-only: no effect */
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FSTS_REG, 4), VTD_FSTS_PFO | VTD_FSTS_PPF);
	vtd_env__wr(&env, VTD_FSTS_REG, VTD_FSTS_PFO, 4);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FSTS_REG, 4), VTD_FSTS_PPF);
	/* F in each record is RW1C; PPF follows the records. Writing 0 to F changes nothing. */
	vtd_env__wr(&env, VTD_FRCD_REG + 12, 0, 4);
	ck_assert_uint_eq(vtd_env__frcd(&env, 0, true) & VTD_FRCD_F, VTD_FRCD_F);
	for (unsigned i = 0; i < VTD_NR_FRCD; i++)
		vtd_env__wr(&env, VTD_FRCD_REG + 16 * i + 12, VTD_FRCD_F >> 32, 4);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FSTS_REG, 4), 0);
	ck_assert_uint_ne(vtd_env__frcd(&env, 0, true), 0);	/* the rest of the record stays readable */
}
END_TEST

START_TEST(gcmd_gsts)
{
	uint64_t fs;

	ck_assert_uint_eq(vtd_env__rd(&env, VTD_GSTS_REG, 4), 0);
	vtd_env__wr(&env, VTD_RTADDR_REG, env.root | 1 << 10, 8);
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_SRTP, 4);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_GSTS_REG, 4), VTD_GSTS_RTPS);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_GCMD_REG, 4), 0);		/* write-only */
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_TE, 4);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_GSTS_REG, 4), VTD_GSTS_RTPS | VTD_GSTS_TES);
	vtd_env__wr(&env, VTD_IQA_REG, vtd_env__page(&env) | VTD_IQA_DW, 8);
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_TE | VTD_GCMD_QIE, 4);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_GSTS_REG, 4), VTD_GSTS_RTPS | VTD_GSTS_TES | VTD_GSTS_QIES);
	/* Unsupported commands change nothing (WBFS stays clear, as Linux waits for). */
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_TE | VTD_GCMD_QIE | VTD_GCMD_WBF | VTD_GCMD_SFL | VTD_GCMD_IRE |
		    VTD_GCMD_SIRTP | VTD_GCMD_CFI | VTD_GCMD_EAFL, 4);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_GSTS_REG, 4), VTD_GSTS_RTPS | VTD_GSTS_TES | VTD_GSTS_QIES);
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_QIE, 4);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_GSTS_REG, 4), VTD_GSTS_RTPS | VTD_GSTS_QIES);
	vtd_env__wr(&env, VTD_GCMD_REG, 0, 4);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_GSTS_REG, 4), VTD_GSTS_RTPS);
	/* TE off: untranslated. On: translated through the tables. */
	fs = vtd_env__fs_domain(&env, 0x10, 0, 1);
	vtd_env__map(&env, fs, 0x1000, 0x9000, 1, FS_RWU);
	uint64_t gpa, len;
	struct dma_attrs none = { 0 };

	ck_assert_int_eq(env.tr->translate(env.tr->opaque, 0x10, &none, 0x1000, DMA_READ, &gpa, &len), 0);
	ck_assert_uint_eq(gpa, 0x1000);
	ck_assert_uint_ge(len, 1ULL << 40);
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_TE, 4);
	ck_assert_int_eq(env.tr->translate(env.tr->opaque, 0x10, &none, 0x1000, DMA_READ, &gpa, &len), 0);
	ck_assert_uint_eq(gpa, 0x9000);
	/* vtd__reset: back to power-on values, translation off. */
	vtd__reset(env.vtd);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_GSTS_REG, 4), 0);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_RTADDR_REG, 8), 0);
	ck_assert_int_eq(env.tr->translate(env.tr->opaque, 0x10, &none, 0x1000, DMA_READ, &gpa, &len), 0);
	ck_assert_uint_eq(gpa, 0x1000);
}
END_TEST

START_TEST(register_invalidation)
{
	uint64_t fs = vtd_env__fs_domain(&env, 0x10, 0, 7), *leaf, gpa;

	leaf = vtd_env__map(&env, fs, 0x1000, 0x9000, 1, FS_RWU);
	vtd_env__enable(&env);
	ck_assert_int_eq(vtd_env__xlate(&env, 0x10, NULL, 0x1000, DMA_READ, &gpa), 0);
	*leaf = 0xA000 | FS_RWU;
	/* CCMD: ICC clears, CAIG reports the granularity (domain-selective is done globally). */
	vtd_env__wr(&env, VTD_CCMD_REG, VTD_CCMD_ICC | 3ULL << 61 | 0x10ULL << 16, 8);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_CCMD_REG, 8) >> 59 & 3, 3);
	vtd_env__wr(&env, VTD_CCMD_REG, VTD_CCMD_ICC | 2ULL << 61 | 7, 8);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_CCMD_REG, 8) >> 59 & 3, 1);
	ck_assert_int_eq(vtd_env__xlate(&env, 0x10, NULL, 0x1000, DMA_READ, &gpa), 0);
	ck_assert_uint_eq(gpa, 0x9000);	/* context invalidation leaves the IOTLB alone */
	/* IOTLB register, two 32-bit writes (command in the upper half): DSI of another domain first. */
	vtd_env__wr(&env, VTD_IOTLB_REG, 0, 4);
	vtd_env__wr(&env, VTD_IOTLB_REG + 4, (uint32_t)((VTD_IOTLB_IVT | 2ULL << 60 | 8ULL << 32) >> 32), 4);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_IOTLB_REG, 8) >> 57 & 3, 2);
	ck_assert_int_eq(vtd_env__xlate(&env, 0x10, NULL, 0x1000, DMA_READ, &gpa), 0);
	ck_assert_uint_eq(gpa, 0x9000);
	vtd_env__wr(&env, VTD_IVA_REG, 0x1000, 8);
	vtd_env__wr(&env, VTD_IOTLB_REG, VTD_IOTLB_IVT | 3ULL << 60 | 7ULL << 32, 8);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_IOTLB_REG, 8), 2ULL << 57 | 3ULL << 60 | 7ULL << 32);
	ck_assert_int_eq(vtd_env__xlate(&env, 0x10, NULL, 0x1000, DMA_READ, &gpa), 0);
	ck_assert_uint_eq(gpa, 0xA000);
	/* AM beyond MAMV: refused (IAIG 0). Granularity 0: refused. */
	vtd_env__wr(&env, VTD_IVA_REG, 0x1000 | 19, 8);
	vtd_env__wr(&env, VTD_IOTLB_REG, VTD_IOTLB_IVT | 3ULL << 60 | 7ULL << 32, 8);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_IOTLB_REG, 8) >> 57 & 3, 0);
	vtd_env__wr(&env, VTD_CCMD_REG, VTD_CCMD_ICC, 8);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_CCMD_REG, 8), 0);
	/* With queued invalidation on, register-based invalidation is refused (and never hangs). */
	vtd_env__qi_enable(&env);
	vtd_env__wr(&env, VTD_CCMD_REG, VTD_CCMD_ICC | 1ULL << 61, 8);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_CCMD_REG, 8), 1ULL << 61);
	vtd_env__wr(&env, VTD_IOTLB_REG, VTD_IOTLB_IVT | 1ULL << 60, 8);
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_IOTLB_REG, 8), 1ULL << 60);
}
END_TEST

START_TEST(access_sizes)
{
	uint64_t v = 0x1234;

	vtd__mmio(env.vtd, VTD_FEDATA_REG, &v, 2, true);	/* 2-byte: ignored */
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FEDATA_REG, 4), 0);
	vtd__mmio(env.vtd, VTD_FEDATA_REG + 1, &v, 4, true);	/* unaligned: ignored */
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_FEDATA_REG, 4), 0);
	vtd__mmio(env.vtd, VTD_RTADDR_REG + 4, &v, 8, true);	/* 8-byte, 4-aligned: ignored */
	ck_assert_uint_eq(vtd_env__rd(&env, VTD_RTADDR_REG, 8), 0);
	v = ~0ULL;
	vtd__mmio(env.vtd, VTD_VER_REG, &v, 1, false);
	ck_assert_uint_eq(v & 0xFF, 0);
	v = ~0ULL;
	vtd__mmio(env.vtd, VTD_REG_SIZE, &v, 4, false);		/* beyond the page */
	ck_assert_uint_eq(v & 0xFFFFFFFF, 0);
}
END_TEST

/* Legacy mode is implemented: nothing to say. A TTM this unit lacks (abort-DMA) is told, once. */
START_TEST(legacy_mode_log)
{
	char buf[512] = "";
	FILE *f = tmpfile();
	int saved = dup(2);

	ck_assert_ptr_nonnull(f);
	dup2(fileno(f), 2);
	vtd_env__wr(&env, VTD_RTADDR_REG, env.root, 8);
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_SRTP, 4);
	fflush(stderr);
	ck_assert_int_eq(ftell(f), 0);
	vtd_env__wr(&env, VTD_RTADDR_REG, env.root | 3 << 10, 8);
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_SRTP, 4);
	vtd_env__wr(&env, VTD_GCMD_REG, VTD_GCMD_SRTP, 4);
	fflush(stderr);
	dup2(saved, 2);
	rewind(f);
	ck_assert_uint_gt(fread(buf, 1, sizeof(buf) - 1, f), 0);
	ck_assert_ptr_nonnull(strstr(buf, "abort-DMA mode"));
	ck_assert_ptr_null(strstr(strstr(buf, "abort-DMA") + 1, "abort-DMA"));	/* once */
	fclose(f);
}
END_TEST

static Suite *vtd_regs_suite(void)
{
	Suite *s = suite_create("vtd_regs");
	TCase *tc = tcase_create("regs");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, cap_ecap);
	tcase_add_test(tc, reset_values);
	tcase_add_test(tc, write_masks);
	tcase_add_test(tc, rw1c_status);
	tcase_add_test(tc, gcmd_gsts);
	tcase_add_test(tc, register_invalidation);
	tcase_add_test(tc, access_sizes);
	tcase_add_test(tc, legacy_mode_log);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(vtd_regs_suite)
