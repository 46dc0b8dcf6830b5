/*
 * Tier 1 (Check, in-process, no KVM): the AML encoder in acpi/aml.c — PkgLength, integer, name,
 * EisaId and ToUUID encodings against the byte sequences ACPI 6.5 chapter 20 specifies (and iasl
 * emits), and the latched error on overflow or bad input. The DSDT as a whole is checked with
 * iasl in test_acpi.c.
 */
#include <errno.h>
#include <string.h>

#include "acpi/aml.h"
#include "tests/unit/check_main.h"

static uint8_t buf[0x20000];
static struct aml a;

static void setup(void)
{
	memset(buf, 0xCC, sizeof(buf));
	aml__init(&a, buf, sizeof(buf));
}

#define ck_assert_bytes(p, n, ...)                                                        \
	do {                                                                               \
		static const uint8_t exp_[] = { __VA_ARGS__ };                             \
		ck_assert_uint_eq((n), sizeof(exp_));                                      \
		for (size_t i_ = 0; i_ < sizeof(exp_); i_++)                               \
			ck_assert_msg((p)[i_] == exp_[i_], "byte %zu: %02x, expected %02x", \
				      i_, (p)[i_], exp_[i_]);                                \
	} while (0)

START_TEST(test_int)
{
	aml__int(&a, 0);
	aml__int(&a, 1);
	aml__int(&a, 2);
	aml__int(&a, 0xFF);
	aml__int(&a, 0x100);
	aml__int(&a, 0x10000);
	aml__int(&a, 0x100000000ULL);
	ck_assert_int_eq(a.err, 0);
	ck_assert_bytes(buf, a.len, 0x00, 0x01, 0x0A, 0x02, 0x0A, 0xFF, 0x0B, 0x00, 0x01,
			0x0C, 0x00, 0x00, 0x01, 0x00,
			0x0E, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00);
}
END_TEST

START_TEST(test_namestring)
{
	aml__namestring(&a, "_HID");
	aml__namestring(&a, "\\_SB");
	aml__namestring(&a, "\\_SB.PCI0");
	aml__namestring(&a, "^C1");
	aml__namestring(&a, "A.B.C");
	ck_assert_int_eq(a.err, 0);
	ck_assert_bytes(buf, a.len, '_', 'H', 'I', 'D',
			'\\', '_', 'S', 'B', '_',
			'\\', 0x2E, '_', 'S', 'B', '_', 'P', 'C', 'I', '0',
			'^', 'C', '1', '_', '_',
			0x2F, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_');
}
END_TEST

START_TEST(test_bad_names)
{
	static const char *bad[] = { "0ABC", "ABCDE", "a", "A..B", "AB-C", "A." };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setup();
		aml__namestring(&a, bad[i]);
		ck_assert_msg(a.err == -EINVAL, "name '%s' accepted", bad[i]);
	}
}
END_TEST

START_TEST(test_eisaid)
{
	aml__eisaid(&a, "PNP0A03");
	aml__eisaid(&a, "PNP0A08");
	ck_assert_int_eq(a.err, 0);
	ck_assert_bytes(buf, a.len, 0x0C, 0x41, 0xD0, 0x0A, 0x03, 0x0C, 0x41, 0xD0, 0x0A, 0x08);
	setup();
	aml__eisaid(&a, "pnp0A03");
	ck_assert_int_eq(a.err, -EINVAL);
	setup();
	aml__eisaid(&a, "PNP0A0");
	ck_assert_int_eq(a.err, -EINVAL);
}
END_TEST

START_TEST(test_uuid)
{
	aml__uuid(&a, "33DB4D5B-1FF7-401C-9657-7441C03DD766");
	ck_assert_int_eq(a.err, 0);
	ck_assert_bytes(buf, a.len, 0x11, 0x13, 0x0A, 0x10,
			0x5B, 0x4D, 0xDB, 0x33, 0xF7, 0x1F, 0x1C, 0x40,
			0x96, 0x57, 0x74, 0x41, 0xC0, 0x3D, 0xD7, 0x66);
	setup();
	aml__uuid(&a, "33DB4D5B-1FF7-401C-9657_7441C03DD766");
	ck_assert_int_eq(a.err, -EINVAL);
}
END_TEST

/* A package whose PkgLength (which counts itself) just fits one byte, and one that needs two. */
START_TEST(test_pkglen_boundaries)
{
	size_t m;

	/* Package: 0x12 PkgLength NumElements bytes...: body = 1 + n, total = body + pkglen bytes */
	m = aml__package_begin(&a, 0);
	for (int i = 0; i < 61; i++)		/* body 62 -> total 63: one byte */
		aml__byte(&a, AML_ZERO_OP);
	aml__end(&a, m);
	ck_assert_int_eq(a.err, 0);
	ck_assert_uint_eq(a.len, 1 + 1 + 62);
	ck_assert_uint_eq(buf[1], 63);
	ck_assert_uint_eq(buf[2], 0);

	setup();
	m = aml__package_begin(&a, 0);
	for (int i = 0; i < 62; i++)		/* body 63 -> total 65 with two bytes */
		aml__byte(&a, AML_ZERO_OP);
	aml__end(&a, m);
	ck_assert_uint_eq(a.len, 1 + 2 + 63);
	ck_assert_uint_eq(buf[1], 0x40 | (65 & 0xF));
	ck_assert_uint_eq(buf[2], 65 >> 4);

	setup();
	m = aml__package_begin(&a, 0);
	for (int i = 0; i < 0x1000; i++)	/* body 0x1001 -> three bytes, total 0x1004 */
		aml__byte(&a, AML_ZERO_OP);
	aml__end(&a, m);
	ck_assert_uint_eq(a.len, 1 + 3 + 0x1001);
	ck_assert_uint_eq(buf[1], 0x80 | (0x1004 & 0xF));
	ck_assert_uint_eq(buf[2], (0x1004 >> 4) & 0xFF);
	ck_assert_uint_eq(buf[3], 0x1004 >> 12);
	ck_assert_uint_eq(buf[4], 0);		/* NumElements moved down intact */
}
END_TEST

/* Nested objects: the inner close moves bytes the outer close moves again. */
START_TEST(test_nested)
{
	size_t s, d;

	s = aml__scope_begin(&a, "\\_SB");
	d = aml__device_begin(&a, "DEV");
	aml__name(&a, "_UID");
	aml__int(&a, 7);
	aml__end(&a, d);
	aml__end(&a, s);
	ck_assert_int_eq(a.err, 0);
	ck_assert_bytes(buf, a.len, 0x10, 0x14, '\\', '_', 'S', 'B', '_',
			0x5B, 0x82, 0x0C, 'D', 'E', 'V', '_', 0x08, '_', 'U', 'I', 'D', 0x0A, 0x07);
}
END_TEST

START_TEST(test_resource_template)
{
	size_t rt = aml__rt_begin(&a);

	aml__rs_io(&a, 0x3F8, 8);
	aml__rs_irq_noflags(&a, 4);
	aml__rt_end(&a, rt);
	ck_assert_int_eq(a.err, 0);
	/* Buffer (0x0D) { IO (Decode16, 0x3F8, 0x3F8, 1, 8) IRQNoFlags () {4} EndTag } */
	ck_assert_bytes(buf, a.len, 0x11, 0x10, 0x0A, 0x0D,
			0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x08,
			0x22, 0x10, 0x00, 0x79, 0x00);
}
END_TEST

START_TEST(test_bad_resources)
{
	aml__rs_irq_noflags(&a, 16);
	ck_assert_int_eq(a.err, -EINVAL);
	setup();
	aml__rs_word_io(&a, 0xC000, 0x10000);		/* ends past 0xFFFF */
	ck_assert_int_eq(a.err, -EINVAL);
	setup();
	aml__rs_word_io(&a, 0, 0x10000);		/* length does not fit 16 bits */
	ck_assert_int_eq(a.err, -EINVAL);
	setup();
	aml__rs_dword_memory(&a, 0xF0000000, 0x20000000);
	ck_assert_int_eq(a.err, -EINVAL);
	setup();
	aml__rs_qword_memory(&a, 0xFFFFFFFFFFFFF000ULL, 0x2000);
	ck_assert_int_eq(a.err, -EINVAL);
	setup();
	aml__rs_word_bus_number(&a, 5, 4);
	ck_assert_int_eq(a.err, -EINVAL);
}
END_TEST

/* Running out of room latches -ENOSPC, never writes past the capacity, and stops all output. */
START_TEST(test_overflow)
{
	for (size_t cap = 0; cap < 40; cap++) {
		size_t s;

		memset(buf, 0xCC, sizeof(buf));
		aml__init(&a, buf, cap);
		s = aml__scope_begin(&a, "\\_SB");
		aml__name(&a, "_STR");
		aml__string(&a, "a string of some length");
		aml__end(&a, s);
		if (cap >= 37) {
			ck_assert_int_eq(a.err, 0);
			continue;
		}
		ck_assert_msg(a.err == -ENOSPC, "cap %zu: err %d", cap, a.err);
		for (size_t i = cap; i < 64; i++)
			ck_assert_msg(buf[i] == 0xCC, "cap %zu: byte %zu written", cap, i);
		ck_assert_uint_le(a.len, cap);
	}
}
END_TEST

static Suite *aml_suite(void)
{
	Suite *s = suite_create("aml");
	TCase *tc = tcase_create("encoder");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_int);
	tcase_add_test(tc, test_namestring);
	tcase_add_test(tc, test_bad_names);
	tcase_add_test(tc, test_eisaid);
	tcase_add_test(tc, test_uuid);
	tcase_add_test(tc, test_pkglen_boundaries);
	tcase_add_test(tc, test_nested);
	tcase_add_test(tc, test_resource_template);
	tcase_add_test(tc, test_bad_resources);
	tcase_add_test(tc, test_overflow);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(aml_suite)
