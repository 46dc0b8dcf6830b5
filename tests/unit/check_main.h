/* Tier 1 (Check, in-process, no KVM). Each tests/unit/test_*.c ends with CHECK_MAIN(its_suite). */
#ifndef MINIVMM_CHECK_MAIN_H
#define MINIVMM_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#define CHECK_MAIN(suite_fn)                                                  \
	int main(void)                                                        \
	{                                                                     \
		SRunner *sr = srunner_create(suite_fn());                     \
		int failed;                                                   \
		srunner_run_all(sr, CK_NORMAL);                               \
		failed = srunner_ntests_failed(sr);                           \
		srunner_free(sr);                                             \
		return failed ? EXIT_FAILURE : EXIT_SUCCESS;                  \
	}

#endif
