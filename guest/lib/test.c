/* Test assertion back end (see test.h). */
#include "test.h"

void test__fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	test_exit(GUEST_EXIT_FAIL);
}

void test__pass(const char *name)
{
	printf("PASS: %s\n", name);
	test_exit(0);
}
