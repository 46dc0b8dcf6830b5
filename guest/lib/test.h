/* Assertions for tier-2 test programs: on failure print file:line and test-exit GUEST_EXIT_FAIL. */
#ifndef GUEST_TEST_H
#define GUEST_TEST_H

#include "guest.h"

__attribute__((noreturn, format(printf, 3, 4))) void test__fail(const char *file, int line, const char *fmt, ...);

#define TEST_ASSERT(cond)                                                        \
	do {                                                                     \
		if (!(cond))                                                     \
			test__fail(__FILE__, __LINE__, "assertion failed: %s", #cond); \
	} while (0)

#define TEST_ASSERT_MSG(cond, ...)                                               \
	do {                                                                     \
		if (!(cond))                                                     \
			test__fail(__FILE__, __LINE__, __VA_ARGS__);             \
	} while (0)

#define TEST_EQ(a, b)                                                                            \
	do {                                                                                     \
		unsigned long long test_a_ = (unsigned long long)(a), test_b_ = (unsigned long long)(b);  \
		if (test_a_ != test_b_)                                                                    \
			test__fail(__FILE__, __LINE__, "%s == %s: 0x%llx != 0x%llx", #a, #b, test_a_, test_b_); \
	} while (0)

#define TEST_STREQ(a, b)                                                                         \
	do {                                                                                     \
		const char *test_a_ = (a), *test_b_ = (b);                                                 \
		if (strcmp(test_a_, test_b_))                                                              \
			test__fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, test_a_, test_b_); \
	} while (0)

#define TEST_FAIL(...) test__fail(__FILE__, __LINE__, __VA_ARGS__)

/* Print "PASS: name" and test-exit 0. */
__attribute__((noreturn)) void test__pass(const char *name);

#endif
