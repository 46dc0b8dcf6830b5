// Tier 2: an unexpected exception is reported (vector, RIP) and test-exits with GUEST_EXIT_EXCEPTION
// (0x22 = 34); a handler registered for an exception vector takes it over instead.
// TEST-EXIT: 34
// TEST-EXPECT: exception: #BP handled
// TEST-EXPECT: unexpected exception 6 (#UD invalid opcode)
#include "test.h"

static void bp_handler(struct intr_frame *f, void *arg)
{
	(*(volatile int *)arg)++;	/* int3 is a trap: RIP already points after it */
}

int main(void)
{
	volatile int hits = 0;

	intr__register(3, bp_handler, (void *)&hits);
	asm volatile("int3");
	TEST_EQ(hits, 1);
	printf("exception: #BP handled\n");
	intr__register(3, NULL, NULL);
	asm volatile("ud2");
	TEST_FAIL("ud2 returned");
}
