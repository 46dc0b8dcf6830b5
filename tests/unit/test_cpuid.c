/*
 * Tier 1 (Check, in-process, no KVM): nested virtualization in the guest's CPUID (vmm/cpuid.c):
 * cpuid__virt_ext() names the extension a supported-CPUID table offers, cpuid__hide_virt_ext() takes
 * VMX, SVM and SVM's leaf 8000000Ah out and leaves every other bit and leaf as it was.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check_main.h"
#include "vmm/vcpu.h"

static struct kvm_cpuid2 *table(const struct kvm_cpuid_entry2 *e, unsigned n)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

	ck_assert_ptr_nonnull(c);
	memcpy(c->entries, e, n * sizeof(*e));
	c->nent = n;
	return c;
}

START_TEST(svm_host)
{
	const struct kvm_cpuid_entry2 e[] = {
		{ .function = 0, .eax = 0x10, .ebx = 0x68747541 },
		{ .function = 1, .ecx = 0x80000001 | 1 << 5, .edx = 0x178bfbff },	/* VMX bit too: hide both */
		{ .function = 0x80000000, .eax = 0x80000021 },
		{ .function = 0x80000001, .ecx = 0x4 | 0x1, .edx = 0x2fd3fbff },
		{ .function = 0x8000000A, .eax = 1, .ebx = 8 },
		{ .function = 0x80000008, .eax = 0x3030 },
	};
	struct kvm_cpuid2 *c = table(e, 6);

	ck_assert_str_eq(cpuid__virt_ext(c), "VMX");	/* the first one listed */
	cpuid__hide_virt_ext(c);
	ck_assert_uint_eq(c->nent, 5);
	ck_assert_ptr_null(cpuid__virt_ext(c));
	for (unsigned i = 0; i < c->nent; i++)
		ck_assert_uint_ne(c->entries[i].function, 0x8000000A);
	ck_assert_uint_eq(c->entries[1].ecx, 0x80000001);		/* only bit 5 went */
	ck_assert_uint_eq(c->entries[1].edx, 0x178bfbff);
	ck_assert_uint_eq(c->entries[3].ecx, 0x1);			/* only bit 2 went */
	ck_assert_uint_eq(c->entries[3].edx, 0x2fd3fbff);
	ck_assert_uint_eq(c->entries[4].function, 0x80000008);		/* the rest in order */
	ck_assert_uint_eq(c->entries[4].eax, 0x3030);
	free(c);
}
END_TEST

START_TEST(names)
{
	const struct kvm_cpuid_entry2 svm[] = { { .function = 1 }, { .function = 0x80000001, .ecx = 0x4 } };
	const struct kvm_cpuid_entry2 none[] = { { .function = 1, .ecx = ~(1u << 5) }, { .function = 0x80000001, .ecx = ~4u } };
	struct kvm_cpuid2 *a = table(svm, 2), *b = table(none, 2);

	ck_assert_str_eq(cpuid__virt_ext(a), "SVM");
	ck_assert_ptr_null(cpuid__virt_ext(b));
	free(a);
	free(b);
}
END_TEST

static Suite *cpuid_suite(void)
{
	Suite *s = suite_create("cpuid");
	TCase *tc = tcase_create("nested");

	tcase_add_test(tc, svm_host);
	tcase_add_test(tc, names);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(cpuid_suite)
