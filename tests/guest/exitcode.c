// Tier 2: the test-exit port passes the guest's code through as minivmm's exit status.
// TEST-EXIT: 42
// TEST-EXPECT: exitcode: sending 42
#include "guest.h"

int main(void)
{
	printf("exitcode: sending 42\n");
	test_exit(42);
}
